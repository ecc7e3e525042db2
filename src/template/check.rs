//! Static checks for `rpatch check`: which filters and tests a template uses.
//!
//! minijinja resolves filter and test names only when it renders, and does not expose its AST
//! without an unstable feature, so this module scans the (already syntax-checked) text with a
//! small tokenizer: a name after `|` is a filter, a name after `is` / `is not` is a test, and the
//! string arguments of `select`/`reject`/`selectattr`/`rejectattr`/`map` name tests or filters.

/// A filter or test name found in a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Used {
    /// `x | name`, `map('name')`, `{% filter name %}`.
    Filter(String),
    /// `x is name`, `select('name')`.
    Test(String),
    /// `lookup('name', ...)`, `query('name')`, `q('name')`.
    Lookup(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Pipe,
    Dot,
    ParenOpen,
    Comma,
    Other,
}

/// Splits an expression into the few token kinds the scan needs.
fn tokenize(expr: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '\'' | '"' => {
                let mut text = String::new();
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            if let Some(e) = chars.next() {
                                text.push(e);
                            }
                        }
                        d if d == c => break,
                        d => text.push(d),
                    }
                }
                tokens.push(Token::Str(text));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut ident = String::from(c);
                while let Some(d) = chars.peek().copied() {
                    if d.is_alphanumeric() || d == '_' {
                        ident.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Ident(ident));
            }
            c if c.is_ascii_digit() => {
                while chars
                    .peek()
                    .is_some_and(|d| d.is_ascii_alphanumeric() || *d == '.' || *d == '_')
                {
                    chars.next();
                }
                tokens.push(Token::Other);
            }
            '|' => tokens.push(Token::Pipe),
            '.' => tokens.push(Token::Dot),
            '(' => tokens.push(Token::ParenOpen),
            ',' => tokens.push(Token::Comma),
            _ => tokens.push(Token::Other),
        }
    }
    tokens
}

/// Reads a possibly dotted name (`ansible.builtin.to_json`) starting at `i`.
fn dotted_name(tokens: &[Token], mut i: usize) -> Option<(String, usize)> {
    let Some(Token::Ident(first)) = tokens.get(i) else {
        return None;
    };
    let mut name = first.clone();
    i += 1;
    while let (Some(Token::Dot), Some(Token::Ident(next))) = (tokens.get(i), tokens.get(i + 1)) {
        name.push('.');
        name.push_str(next);
        i += 2;
    }
    Some((name, i))
}

/// The filters and tests used in a bare expression (or a `{% %}` block body).
pub(crate) fn used_in_expression(expr: &str) -> Vec<Used> {
    let tokens = tokenize(expr);
    let mut used = Vec::new();
    if let Some(Token::Ident(first)) = tokens.first() {
        if first == "filter" {
            if let Some((name, _)) = dotted_name(&tokens, 1) {
                used.push(Used::Filter(name));
            }
        }
    }
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Pipe => {
                if let Some((name, next)) = dotted_name(&tokens, i + 1) {
                    used_in_arguments(&name, &tokens[next..], &mut used);
                    used.push(Used::Filter(name));
                    i = next;
                    continue;
                }
            }
            Token::Ident(word)
                if matches!(word.as_str(), "lookup" | "query" | "q")
                    && tokens.get(i + 1) == Some(&Token::ParenOpen)
                    && (i == 0 || tokens[i - 1] != Token::Dot) =>
            {
                if let Some(Token::Str(name)) = tokens.get(i + 2) {
                    used.push(Used::Lookup(name.clone()));
                }
            }
            Token::Ident(word) if word == "is" => {
                let mut next = i + 1;
                if tokens.get(next) == Some(&Token::Ident("not".into())) {
                    next += 1;
                }
                if let Some((name, after)) = dotted_name(&tokens, next) {
                    used.push(Used::Test(name));
                    i = after;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    used
}

/// Test and filter names passed as strings to the higher-order filters.
fn used_in_arguments(filter: &str, rest: &[Token], used: &mut Vec<Used>) {
    let filter = filter.strip_prefix("ansible.builtin.").unwrap_or(filter);
    let string_arg = |index: usize| match rest.get(index) {
        Some(Token::Str(s)) => Some(s.clone()),
        _ => None,
    };
    if rest.first() != Some(&Token::ParenOpen) {
        return;
    }
    match filter {
        "select" | "reject" => used.extend(string_arg(1).map(Used::Test)),
        "selectattr" | "rejectattr" if rest.get(2) == Some(&Token::Comma) => {
            used.extend(string_arg(3).map(Used::Test));
        }
        "map" => used.extend(string_arg(1).map(Used::Filter)),
        _ => {}
    }
}

/// The filters and tests used in a template's `{{ }}` and `{% %}` blocks (comments and
/// `{% raw %}` sections are skipped).
pub(crate) fn used_in_template(text: &str) -> Vec<Used> {
    let mut used = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            Some('#') => "#}",
            _ => {
                rest = after;
                continue;
            }
        };
        let body_start = &after[1..];
        let Some(end) = find_close(body_start, close) else {
            break;
        };
        let body = &body_start[..end];
        rest = &body_start[end + 2..];
        if close == "#}" {
            continue;
        }
        let inner = body.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        if close == "%}" && (inner == "raw") {
            match rest.find("endraw") {
                Some(i) => {
                    rest = &rest[i..];
                    continue;
                }
                None => break,
            }
        }
        used.extend(used_in_expression(inner));
    }
    used
}

/// Finds `close` in `text`, ignoring occurrences inside string literals. It walks bytes, so
/// comparisons are on bytes too: `i` may fall inside a multi-byte character (`{# café #}`).
fn find_close(text: &str, close: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if bytes[i..].starts_with(close.as_bytes()) => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(used: &[Used]) -> Vec<&str> {
        used.iter()
            .filter_map(|u| match u {
                Used::Filter(f) => Some(f.as_str()),
                _ => None,
            })
            .collect()
    }

    fn tests(used: &[Used]) -> Vec<&str> {
        used.iter()
            .filter_map(|u| match u {
                Used::Test(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn finds_filters_after_pipes_and_tests_after_is() {
        let used = used_in_expression(
            "x | default('a|b') | ansible.builtin.to_json and y is not version('1', '<')",
        );
        assert_eq!(filters(&used), ["default", "ansible.builtin.to_json"]);
        assert_eq!(tests(&used), ["version"]);
    }

    #[test]
    fn finds_lookup_plugin_names() {
        let used =
            used_in_expression("lookup('file', 'x') ~ query('nope') ~ q(\"env\") ~ d.lookup('no')");
        let lookups: Vec<&str> = used
            .iter()
            .filter_map(|u| match u {
                Used::Lookup(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(lookups, ["file", "nope", "env"]);
    }

    #[test]
    fn finds_names_passed_to_higher_order_filters() {
        let used = used_in_expression(
            "xs | select('match', 'a') | selectattr('k', 'defined') | map('upper') | map(attribute='x')",
        );
        assert_eq!(
            filters(&used),
            ["select", "selectattr", "upper", "map", "map"]
        );
        assert_eq!(tests(&used), ["match", "defined"]);
    }

    #[test]
    fn scans_blocks_but_not_comments_raw_or_text() {
        let used = used_in_template(
            "a | b {# x | c #}{{ y | d }}{% if z is e %}{% raw %}{{ w | f }}{% endraw %}{% endif %}\
             {% filter upper %}t{% endfilter %}{{ '}}' | g }}",
        );
        assert_eq!(filters(&used), ["d", "upper", "g"]);
        assert_eq!(tests(&used), ["e"]);
    }

    #[test]
    fn non_ascii_text_in_comments_and_blocks_is_scanned_without_panicking() {
        // Found by the template_check fuzz target: the scan sliced the text at a byte inside
        // a multi-byte character.
        let used = used_in_template("{# café #}{{ x | d }}{# c{ \u{702}o #}{ nt{ }+}o #}{}");
        assert_eq!(filters(&used), ["d"]);
        let used = used_in_template("{{ 'naïve' | upper }}{% if é is défini %}{% endif %}");
        assert_eq!(filters(&used), ["upper"]);
        assert_eq!(tests(&used), ["défini"]);
    }
}
