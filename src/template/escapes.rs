//! Jinja string literals read as Ansible reads them: a backslash before a digit stays a
//! backslash, so `regex_replace('(\d+)\.(\d+)', '\1.\2')` gets its backreferences, where
//! minijinja would read `\1` as an octal escape (a control character that prints as nothing).

use std::borrow::Cow;

/// Where the scanner is.
#[derive(Clone, Copy)]
enum State {
    /// Template text outside any tag.
    Text,
    /// Inside a tag ending with `close` (`None`: a bare expression, which never ends).
    Tag(Option<&'static str>),
    /// Inside a string literal opened by `quote` within a tag.
    Str(char, Option<&'static str>),
}

/// A template with `\<digit>` inside the string literals of its tags written `\\<digit>`.
/// Comments and `{% raw %}` blocks are left alone.
pub fn template(text: &str) -> Cow<'_, str> {
    rewrite(text, State::Text)
}

/// A bare expression (`when:`, `that:`) treated as [`template`] treats a tag's inside.
pub fn expression(expr: &str) -> Cow<'_, str> {
    rewrite(expr, State::Tag(None))
}

fn rewrite(text: &str, start: State) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut state = start;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match state {
            State::Text => {
                if let Some(skip) = verbatim_len(rest) {
                    out.push_str(&rest[..skip]);
                    rest = &rest[skip..];
                    continue;
                }
                if rest.starts_with("{{") || rest.starts_with("{%") {
                    state = State::Tag(Some(if rest.starts_with("{{") { "}}" } else { "%}" }));
                    out.push_str(&rest[..2]);
                    rest = &rest[2..];
                    continue;
                }
            }
            State::Tag(close) => {
                if let Some(close) = close.filter(|close| rest.starts_with(close)) {
                    out.push_str(close);
                    rest = &rest[close.len()..];
                    state = State::Text;
                    continue;
                }
                if c == '\'' || c == '"' {
                    state = State::Str(c, close);
                }
            }
            State::Str(quote, close) => {
                if c == '\\' {
                    match rest[1..].chars().next() {
                        // The digit itself is copied by the next round.
                        Some(d) if d.is_ascii_digit() => {
                            out.push_str("\\\\");
                            rest = &rest[1..];
                        }
                        Some(d) => {
                            out.push('\\');
                            out.push(d);
                            rest = &rest[1 + d.len_utf8()..];
                        }
                        None => {
                            out.push('\\');
                            rest = &rest[1..];
                        }
                    }
                    continue;
                }
                if c == quote {
                    state = State::Tag(close);
                }
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// The length of a comment or `{% raw %}...{% endraw %}` block at the start of `text`.
fn verbatim_len(text: &str) -> Option<usize> {
    if text.starts_with("{#") {
        return Some(text.find("#}").map_or(text.len(), |end| end + 2));
    }
    let inner = text.strip_prefix("{%")?;
    if !inner
        .trim_start_matches(['-', '+'])
        .trim_start()
        .starts_with("raw")
    {
        return None;
    }
    let end = text.find("endraw")?;
    Some(
        text[end..]
            .find("%}")
            .map_or(text.len(), |close| end + close + 2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backslash_digit_in_a_string_literal_stays_a_backslash() {
        assert_eq!(
            template(r"{{ v | regex_replace('(\d)', '\1-\g<1>') }} \1"),
            r"{{ v | regex_replace('(\d)', '\\1-\g<1>') }} \1"
        );
        assert_eq!(expression(r#"x == "\2""#), r#"x == "\\2""#);
        assert_eq!(expression(r"'\\1'"), r"'\\1'");
        assert_eq!(expression(r"'\n'"), r"'\n'");
    }

    #[test]
    fn raw_blocks_and_comments_are_left_alone() {
        let text = r"{% raw %}{{ '\1' }}{% endraw %}{# '\1' #}{{ '\1' }}";
        assert_eq!(
            template(text),
            r"{% raw %}{{ '\1' }}{% endraw %}{# '\1' #}{{ '\\1' }}"
        );
    }

    #[test]
    fn regex_replace_backreferences_render() {
        use crate::template::testing::eval;
        assert_eq!(
            eval(r"'1.2.3-4' | regex_replace('^(\d+)\.(\d+).*$', '\1.\2')"),
            serde_json::json!("1.2")
        );
    }
}
