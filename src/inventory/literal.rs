//! INI inventory values, read as Ansible reads them: with Python's `ast.literal_eval`, falling
//! back to the raw text.
//!
//! So `8080` is a number, `True`/`False` booleans, `None` null, `'x'` and `"x"` strings,
//! `[1, 2]` a list and `{'a': 1}` a mapping; anything else (`true`, `0644`, `a b`) stays a
//! string, exactly as written.

use serde_json::{Map, Number, Value};

/// Parses an INI value the way Ansible's INI plugin does.
pub fn parse(text: &str) -> Value {
    let mut parser = Parser { text, pos: 0 };
    parser.skip_space();
    match parser.value() {
        Some(value) if parser.at_end() => value,
        _ => Value::String(text.to_string()),
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Only whitespace and a `#` comment remain.
    fn at_end(&mut self) -> bool {
        self.skip_space();
        self.rest().is_empty() || self.rest().starts_with('#')
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_space();
        match self.peek()? {
            '\'' | '"' => self.string().map(Value::String),
            '[' => self.sequence('[', ']'),
            '(' => self.sequence('(', ')'),
            '{' => self.mapping(),
            '-' | '+' => {
                let negative = self.peek() == Some('-');
                self.pos += 1;
                self.skip_space();
                match self.number()? {
                    Value::Number(n) if negative => negate(&n),
                    other => Some(other),
                }
            }
            c if c.is_ascii_digit() || c == '.' => self.number(),
            _ => self.keyword(),
        }
    }

    fn keyword(&mut self) -> Option<Value> {
        let word: String = self
            .rest()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let value = match word.as_str() {
            "True" => Value::Bool(true),
            "False" => Value::Bool(false),
            "None" => Value::Null,
            _ => return None,
        };
        self.pos += word.len();
        Some(value)
    }

    fn number(&mut self) -> Option<Value> {
        let token: String = self
            .rest()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
            .collect();
        // A sign is only part of the number right after an exponent marker.
        let mut len = 0;
        let mut previous = ' ';
        for c in token.chars() {
            if matches!(c, '+' | '-') && !matches!(previous, 'e' | 'E') {
                break;
            }
            len += 1;
            previous = c;
        }
        let token = &token[..len];
        if token.starts_with('_') || token.ends_with('_') || token.contains("__") {
            return None;
        }
        let clean = token.replace('_', "");
        let lower = clean.to_ascii_lowercase();
        let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
            .into_iter()
            .find(|(prefix, _)| lower.starts_with(prefix));
        let value = if let Some((prefix, radix)) = radix {
            Value::from(i64::from_str_radix(&lower[prefix.len()..], radix).ok()?)
        } else if clean.bytes().all(|b| b.is_ascii_digit()) {
            // Python rejects leading zeros in decimal integers (`0644`), except zero itself.
            if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|b| b != b'0') {
                return None;
            }
            Value::from(clean.parse::<i64>().ok()?)
        } else {
            let float: f64 = lower.parse().ok()?;
            if lower.contains("inf") || lower.contains("nan") {
                return None;
            }
            Value::Number(Number::from_f64(float)?)
        };
        self.pos += token.len();
        Some(value)
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos += offset + 1;
                    return Some(out);
                }
                '\\' => {
                    let (_, escaped) = chars.next()?;
                    match escaped {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        '\\' | '\'' | '"' => out.push(escaped),
                        '\n' => {}
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
                '\n' => return None,
                c => out.push(c),
            }
        }
        None
    }

    fn sequence(&mut self, open: char, close: char) -> Option<Value> {
        self.eat(open);
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(Value::Array(items));
            }
            items.push(self.value()?);
            if !self.eat(',') {
                return self.eat(close).then_some(Value::Array(items));
            }
        }
    }

    fn mapping(&mut self) -> Option<Value> {
        self.eat('{');
        let mut map = Map::new();
        loop {
            if self.eat('}') {
                return Some(Value::Object(map));
            }
            let key = match self.value()? {
                Value::String(s) => s,
                Value::Null => "None".to_string(),
                other @ (Value::Bool(_) | Value::Number(_)) => match other {
                    Value::Bool(true) => "True".to_string(),
                    Value::Bool(false) => "False".to_string(),
                    other => other.to_string(),
                },
                Value::Array(_) | Value::Object(_) => return None,
            };
            if !self.eat(':') {
                return None;
            }
            let value = self.value()?;
            map.insert(key, value);
            if !self.eat(',') {
                return self.eat('}').then_some(Value::Object(map));
            }
        }
    }
}

fn negate(number: &Number) -> Option<Value> {
    if let Some(int) = number.as_i64() {
        return Some(Value::from(-int));
    }
    Number::from_f64(-number.as_f64()?).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_become_numbers() {
        assert_eq!(parse("8080"), json!(8080));
        assert_eq!(parse("-3"), json!(-3));
        assert_eq!(parse("1.5"), json!(1.5));
        assert_eq!(parse("1_000"), json!(1000));
        assert_eq!(parse("0x1f"), json!(31));
    }

    #[test]
    fn leading_zero_numbers_stay_strings() {
        assert_eq!(parse("0644"), json!("0644"));
        assert_eq!(parse("0"), json!(0));
    }

    #[test]
    fn python_keywords_are_booleans_and_null_but_lowercase_stays_text() {
        assert_eq!(parse("True"), json!(true));
        assert_eq!(parse("False"), json!(false));
        assert_eq!(parse("None"), json!(null));
        assert_eq!(parse("true"), json!("true"));
        assert_eq!(parse("yes"), json!("yes"));
    }

    #[test]
    fn quoted_strings_lose_their_quotes() {
        assert_eq!(parse("'a b'"), json!("a b"));
        assert_eq!(parse(r#""x\"y""#), json!("x\"y"));
    }

    #[test]
    fn containers_parse_recursively() {
        assert_eq!(parse("[1, 'a', True]"), json!([1, "a", true]));
        assert_eq!(parse("{'k': [1], 'j': None}"), json!({"k": [1], "j": null}));
        assert_eq!(parse("(1, 2)"), json!([1, 2]));
    }

    #[test]
    fn a_trailing_comment_after_a_literal_is_ignored() {
        assert_eq!(parse("42 # the answer"), json!(42));
        assert_eq!(
            parse("hello # not a literal"),
            json!("hello # not a literal")
        );
    }

    #[test]
    fn anything_else_is_kept_verbatim() {
        assert_eq!(parse("10.0.0.1"), json!("10.0.0.1"));
        assert_eq!(parse("/usr/bin/python3"), json!("/usr/bin/python3"));
        assert_eq!(parse("{{ x }}"), json!("{{ x }}"));
        assert_eq!(parse("[1, 2"), json!("[1, 2"));
    }
}
