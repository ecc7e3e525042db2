//! JSON text byte-identical to Python's `json.dumps`, which Ansible's `to_json` and
//! `to_nice_json` call: `", "`/`": "` separators when compact, `","` plus newline and indent when
//! indented, non-ASCII escaped as `\uXXXX` (`ensure_ascii`), floats as Python's `repr`.

use std::fmt::Write as _;

/// How to lay the text out, as `json.dumps`' keyword arguments.
#[derive(Debug, Clone, Copy)]
pub struct DumpOptions {
    /// `indent=`: `None` is one line; `Some(n)` puts every item on its own line.
    pub indent: Option<usize>,
    /// `sort_keys=`.
    pub sort_keys: bool,
    /// `ensure_ascii=` (Python's default is true).
    pub ensure_ascii: bool,
}

/// `json.dumps(value, **options)`.
pub fn dumps(value: &serde_json::Value, options: DumpOptions) -> String {
    let mut out = String::new();
    write_value(&mut out, value, options, 0);
    out
}

fn newline(out: &mut String, options: DumpOptions, level: usize) {
    if let Some(indent) = options.indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', indent * level));
    }
}

fn separator(out: &mut String, options: DumpOptions) {
    out.push_str(if options.indent.is_some() { "," } else { ", " });
}

fn write_value(out: &mut String, value: &serde_json::Value, options: DumpOptions, level: usize) {
    match value {
        serde_json::Value::Null => out.push_str("null"),
        serde_json::Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        serde_json::Value::Number(n) => write_number(out, n),
        serde_json::Value::String(s) => write_string(out, s, options.ensure_ascii),
        serde_json::Value::Array(items) if items.is_empty() => out.push_str("[]"),
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    separator(out, options);
                }
                newline(out, options, level + 1);
                write_value(out, item, options, level + 1);
            }
            newline(out, options, level);
            out.push(']');
        }
        serde_json::Value::Object(map) if map.is_empty() => out.push_str("{}"),
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            if options.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    separator(out, options);
                }
                newline(out, options, level + 1);
                write_string(out, key, options.ensure_ascii);
                out.push_str(": ");
                write_value(out, item, options, level + 1);
            }
            newline(out, options, level);
            out.push('}');
        }
    }
}

/// Integers as they are; floats as Python's `repr` (`1.0`, `1e+20`, `1.5e-07`).
fn write_number(out: &mut String, n: &serde_json::Number) {
    if n.is_f64() {
        if let Some(f) = n.as_f64() {
            out.push_str(&python_float(f));
            return;
        }
    }
    let _ = write!(out, "{n}");
}

/// Python's `repr(float)`: shortest round-trip digits, exponent form outside 1e-4..1e16.
pub(crate) fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let exp = if f == 0.0 {
        0
    } else {
        f.abs().log10().floor() as i32
    };
    if (-4..16).contains(&exp) {
        let text = format!("{f}");
        if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        }
    } else {
        // Rust prints `1e20` / `1.5e-7`; Python `1e+20` / `1.5e-07`.
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(digits) => ('-', digits),
            None => ('+', exponent),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    }
}

fn write_string(out: &mut String, text: &str, ensure_ascii: bool) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const COMPACT: DumpOptions = DumpOptions {
        indent: None,
        sort_keys: false,
        ensure_ascii: true,
    };

    #[test]
    fn compact_output_uses_pythons_default_separators() {
        assert_eq!(
            dumps(&json!({"b": 1, "a": [1, "x", null, true]}), COMPACT),
            r#"{"b": 1, "a": [1, "x", null, true]}"#
        );
    }

    #[test]
    fn indented_output_matches_json_dumps_indent_4() {
        let options = DumpOptions {
            indent: Some(4),
            sort_keys: true,
            ..COMPACT
        };
        assert_eq!(
            dumps(&json!({"b": [1, {}], "a": []}), options),
            "{\n    \"a\": [],\n    \"b\": [\n        1,\n        {}\n    ]\n}"
        );
    }

    #[test]
    fn non_ascii_is_escaped_unless_asked_not_to() {
        assert_eq!(
            dumps(&json!("é😀\u{1}"), COMPACT),
            r#""\u00e9\ud83d\ude00\u0001""#
        );
        let raw = DumpOptions {
            ensure_ascii: false,
            ..COMPACT
        };
        assert_eq!(dumps(&json!("é"), raw), "\"é\"");
    }

    #[test]
    fn floats_print_like_python_repr() {
        assert_eq!(
            dumps(&json!([1.5, 100.0, 1e20, 1.5e-7, 0.0001]), COMPACT),
            "[1.5, 100.0, 1e+20, 1.5e-07, 0.0001]"
        );
    }
}
