//! Python-style text of values, so `"{{ flag }}"` renders `True` and `"{{ pkgs }}"` renders
//! `['a', 'b']` exactly as Ansible (Python's `str()`) would.

use std::fmt::Write as _;

use minijinja::value::ValueKind;
use minijinja::Value;

/// Python's `str(value)`: strings as-is, containers in `repr` form.
pub fn python_str(value: &Value) -> String {
    match value.kind() {
        ValueKind::String => value.as_str().unwrap_or("").to_string(),
        _ => {
            let mut out = String::new();
            write_repr(&mut out, value);
            out
        }
    }
}

/// Python's `repr(value)`.
fn write_repr(out: &mut String, value: &Value) {
    match value.kind() {
        ValueKind::Undefined => out.push_str(""),
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::String => write_str_repr(out, value.as_str().unwrap_or("")),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            if let Ok(items) = value.try_iter() {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &item);
                }
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = value.try_iter() {
                for (i, key) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &key);
                    out.push_str(": ");
                    let item = value.get_item(&key).unwrap_or_default();
                    write_repr(out, &item);
                }
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{value}");
        }
    }
}

/// Python's string repr: single quotes unless the text contains one and no double quote.
fn write_str_repr(out: &mut String, text: &str) {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: serde_json::Value) -> Value {
        crate::vars::from_json(&json)
    }

    #[test]
    fn scalars_print_like_python() {
        assert_eq!(python_str(&Value::from(true)), "True");
        assert_eq!(python_str(&Value::from(())), "None");
        assert_eq!(python_str(&Value::from(1.5)), "1.5");
        assert_eq!(python_str(&Value::from("it's")), "it's");
    }

    #[test]
    fn containers_print_like_python_repr() {
        assert_eq!(
            python_str(&v(serde_json::json!(["a", 1, null]))),
            "['a', 1, None]"
        );
        assert_eq!(
            python_str(&v(serde_json::json!({"k": "it's", "b": false}))),
            "{'k': \"it's\", 'b': False}"
        );
    }
}
