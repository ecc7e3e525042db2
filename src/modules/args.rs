//! Parsing module arguments into typed structs, and splitting Ansible's `k=v` syntax.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

use crate::diagnostic::did_you_mean;
use crate::vars::{self, Value};

/// Module arguments that do not fit the module.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ArgError {
    /// An argument the module does not have.
    #[error("unsupported argument `{name}`")]
    Unknown {
        /// The argument as written.
        name: String,
        /// The closest real argument, if any.
        suggestion: Option<String>,
    },
    /// An argument of the wrong type, a missing required one, a bad combination.
    #[error("{0}")]
    Invalid(String),
}

/// Warnings for arguments Ansible accepts that rpatch takes and ignores (SELinux contexts,
/// deprecated hashes): one per argument given, naming the module and the argument.
pub(crate) fn ignored(module: &str, given: &[(&str, bool)]) -> Vec<String> {
    given
        .iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| format!("{module}: `{name}` is accepted for compatibility and ignored"))
        .collect()
}

/// Parses rendered arguments into a module's typed arguments.
///
/// A non-finite number (`.inf`, `.nan`) is an error: JSON, through which arguments pass, would
/// silently turn it into null.
pub fn parse<T: DeserializeOwned>(args: &Value) -> Result<T, ArgError> {
    if let Some(path) = non_finite(args) {
        return Err(ArgError::Invalid(format!(
            "argument `{path}` must be a finite number"
        )));
    }
    let json = match vars::to_json(args) {
        serde_json::Value::Null => serde_json::Value::Object(serde_json::Map::new()),
        other => other,
    };
    check_unknown::<T>(&json)?;
    serde_json::from_value(json).map_err(|error| ArgError::Invalid(error.to_string()))
}

/// Checks arguments at load, for [`super::Module::validate`]: unknown names always, types
/// too unless some value is templated (then the types are only known once rendered per host).
pub(crate) fn validate<T: DeserializeOwned>(args: &Value, templated: bool) -> Result<(), ArgError> {
    if templated {
        check_unknown::<T>(&vars::to_json(args))
    } else {
        parse::<T>(args).map(|_| ())
    }
}

/// The path (`a.b`) of the first infinite or NaN number in `value`, if any.
fn non_finite(value: &Value) -> Option<String> {
    use minijinja::value::ValueKind;
    match value.kind() {
        ValueKind::Number => f64::try_from(value.clone())
            .ok()
            .filter(|number| !number.is_finite())
            .map(|_| String::new()),
        ValueKind::Map | ValueKind::Seq => {
            let is_map = value.kind() == ValueKind::Map;
            value.try_iter().ok()?.enumerate().find_map(|(index, key)| {
                let item = if is_map {
                    value.get_item(&key).ok()?
                } else {
                    key.clone()
                };
                let name = if is_map {
                    key.to_string()
                } else {
                    index.to_string()
                };
                non_finite(&item).map(|inner| {
                    if inner.is_empty() {
                        name
                    } else {
                        format!("{name}.{inner}")
                    }
                })
            })
        }
        _ => None,
    }
}

/// Fails on the first argument name the struct `T` does not declare.
pub fn check_unknown<T: DeserializeOwned>(json: &serde_json::Value) -> Result<(), ArgError> {
    let Some(map) = json.as_object() else {
        return Err(ArgError::Invalid(
            "arguments must be a mapping or a `key=value` string".into(),
        ));
    };
    let fields = struct_fields::<T>();
    if fields.is_empty() {
        return Ok(());
    }
    match map.keys().find(|key| !fields.contains(&key.as_str())) {
        Some(name) => Err(ArgError::Unknown {
            name: name.clone(),
            suggestion: did_you_mean(name, fields.iter().copied().filter(|f| !f.starts_with('_'))),
        }),
        None => Ok(()),
    }
}

/// The field names a serde struct declares (empty for non-structs).
pub fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    struct FieldSpy(&'static [&'static str]);
    impl<'de> Deserializer<'de> for &mut FieldSpy {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("spy"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            Err(de::Error::custom("spy"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }
    let mut spy = FieldSpy(&[]);
    let _ = T::deserialize(&mut spy);
    spy.0
}

/// Splits Ansible's `k=v k2="v 2"` syntax; words without `=` are returned as free text.
pub fn split_key_values(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut pairs = Vec::new();
    let mut free = Vec::new();
    for word in split_words(text) {
        match word.split_once('=') {
            Some((key, value)) if is_identifier(key) => {
                pairs.push((key.to_string(), unquote(&decode_escapes(value))));
            }
            _ => free.push(word),
        }
    }
    (pairs, free)
}

/// Decodes the backslash escapes Ansible's `parse_kv` decodes in `k=v` values
/// (`\\n`, `\\t`, `\\\\`, `\\"`, `\\xHH`, `\\uHHHH`, `\\UHHHHHHHH`...); anything else is kept.
fn decode_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let simple = match after.chars().next() {
            Some('n') => Some('\n'),
            Some('t') => Some('\t'),
            Some('r') => Some('\r'),
            Some('a') => Some('\u{7}'),
            Some('b') => Some('\u{8}'),
            Some('f') => Some('\u{c}'),
            Some('v') => Some('\u{b}'),
            Some(c @ ('\\' | '\'' | '"')) => Some(c),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            rest = &after[1..];
            continue;
        }
        let width = match after.chars().next() {
            Some('x') => 2,
            Some('u') => 4,
            Some('U') => 8,
            _ => 0,
        };
        let code = after
            .get(1..1 + width)
            .filter(|hex| width > 0 && hex.chars().all(|c| c.is_ascii_hexdigit()))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32);
        match code {
            Some(c) => {
                out.push(c);
                rest = &after[1 + width..];
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits on whitespace outside quotes and outside `{{ }}`/`{% %}`, keeping quotes.
pub fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), _) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), '\\') => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            (Some(_), _) => current.push(c),
            (None, '\'' | '"') if depth == 0 => {
                quote = Some(c);
                current.push(c);
            }
            (None, '{') if matches!(chars.peek(), Some('{' | '%')) => {
                depth += 1;
                current.push(c);
            }
            (None, '}' | '%') if depth > 0 && chars.peek() == Some(&'}') => {
                depth -= 1;
                current.push(c);
            }
            (None, c) if c.is_whitespace() && depth == 0 => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            (None, c) => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn is_identifier(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2
        && (bytes[0] == b'"' || bytes[0] == b'\'')
        && bytes[bytes.len() - 1] == bytes[0]
    {
        value[1..value.len() - 1].to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn key_value_strings_decode_backslash_escapes_as_ansible_parse_kv() {
        let (pairs, _) = split_key_values(r#"content="act\n" tab=a\tb q="x\"y" u=\u00e9 keep=\d"#);
        let values: Vec<&str> = pairs.iter().map(|(_, value)| value.as_str()).collect();
        assert_eq!(values, ["act\n", "a\tb", "x\"y", "\u{e9}", "\\d"]);
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        path: String,
        mode: Option<String>,
    }

    #[test]
    fn infinite_or_nan_arguments_are_errors_not_nulls() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Timed {
            seconds: Option<f64>,
            nested: Option<serde_json::Value>,
        }
        let args = |json: &str| {
            let node =
                crate::yaml::parse(&crate::diagnostic::Source::new("a.yml", json)).expect("yaml");
            vars::from_node(&node)
        };
        for (text, path) in [
            ("{seconds: .inf}", "seconds"),
            ("{seconds: .nan}", "seconds"),
            ("{nested: {a: [1, -.inf]}}", "nested.a.1"),
        ] {
            let error = parse::<Timed>(&args(text)).expect_err(text);
            assert_eq!(
                error,
                ArgError::Invalid(format!("argument `{path}` must be a finite number")),
                "{text}"
            );
        }
        assert!(parse::<Timed>(&args("{seconds: 1.5}")).is_ok());
    }

    #[test]
    fn unknown_arguments_are_named_with_a_suggestion() {
        let args = vars::from_json(&serde_json::json!({"path": "/x", "mdoe": "0644"}));
        let error = parse::<Sample>(&args).expect_err("unknown");
        assert_eq!(
            error,
            ArgError::Unknown {
                name: "mdoe".into(),
                suggestion: Some("mode".into())
            }
        );
    }

    #[test]
    fn wrong_types_are_reported() {
        let args = vars::from_json(&serde_json::json!({"path": [1]}));
        assert!(matches!(parse::<Sample>(&args), Err(ArgError::Invalid(_))));
    }

    #[test]
    fn struct_fields_lists_declared_names() {
        assert_eq!(struct_fields::<Sample>(), ["path", "mode"]);
    }

    #[test]
    fn key_values_respect_quotes_and_templates() {
        let (pairs, free) =
            split_key_values(r#"msg="hello world" var={{ a | default('x y') }} echo hi"#);
        assert_eq!(
            pairs,
            [
                ("msg".to_string(), "hello world".to_string()),
                ("var".to_string(), "{{ a | default('x y') }}".to_string())
            ]
        );
        assert_eq!(free, ["echo", "hi"]);
    }
}
