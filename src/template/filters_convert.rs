//! Conversion filters with Ansible's semantics: `bool`, `int`, `string`, `type_debug` and the
//! JSON / YAML serialisers and parsers.

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, Value};

use super::python_json::{self, DumpOptions};
use super::repr;

/// Strings Ansible's `bool` filter takes as true (compared lower-case and trimmed).
const TRUE_STRINGS: [&str; 6] = ["y", "yes", "on", "1", "true", "t"];

/// `bool`: Ansible's `boolean()`: `yes`/`on`/`true`/`1`/`y`/`t` and the number 1 are true,
/// everything else false.
pub fn to_bool(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Bool => value.is_true(),
        ValueKind::Number => {
            value.as_i64() == Some(1) || f64::try_from(value.clone()).is_ok_and(|f| f == 1.0)
        }
        ValueKind::String => {
            let text = value.as_str().unwrap_or("").trim().to_ascii_lowercase();
            TRUE_STRINGS.contains(&text.as_str())
        }
        _ => false,
    }
}

/// `int(default=0, base=10)`: Jinja's `int`: numbers truncate, numeric strings parse (also
/// `"3.7"` → 3), anything else gives the default.
pub fn to_int(
    value: &Value,
    default: Option<Value>,
    base: Option<u32>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let default = match default {
        Some(d) => d,
        None => kwargs
            .get::<Option<Value>>("default")?
            .unwrap_or(Value::from(0)),
    };
    let base = match base {
        Some(b) => b,
        None => kwargs.get::<Option<u32>>("base")?.unwrap_or(10),
    };
    kwargs.assert_all_used()?;
    Ok(match value.kind() {
        ValueKind::Bool => Value::from(i64::from(value.is_true())),
        ValueKind::Number if value.is_integer() => value.clone(),
        ValueKind::Number => f64::try_from(value.clone())
            .map(|f| Value::from(f.trunc() as i64))
            .unwrap_or(default),
        ValueKind::String => parse_int(value.as_str().unwrap_or(""), base).unwrap_or(default),
        _ => default,
    })
}

fn parse_int(text: &str, base: u32) -> Option<Value> {
    let text = text.trim().replace('_', "");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    let digits = match base {
        16 => digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
            .unwrap_or(digits),
        8 => digits
            .strip_prefix("0o")
            .or_else(|| digits.strip_prefix("0O"))
            .unwrap_or(digits),
        2 => digits
            .strip_prefix("0b")
            .or_else(|| digits.strip_prefix("0B"))
            .unwrap_or(digits),
        _ => digits,
    };
    let sign = if negative { -1 } else { 1 };
    if let Ok(n) = i64::from_str_radix(digits, base) {
        return Some(Value::from(sign * n));
    }
    if base == 10 {
        if let Ok(f) = digits.parse::<f64>() {
            if f.is_finite() {
                return Some(Value::from(sign * f.trunc() as i64));
            }
        }
    }
    None
}

/// `string`: Python's `str()`: `True`, `None`, `['a', 1]`; strings unchanged.
pub fn to_string(value: &Value) -> Value {
    if value.kind() == ValueKind::String {
        return value.clone();
    }
    Value::from(repr::python_str(value))
}

/// `type_debug`: the Python type name of a value, as Ansible reports it.
pub fn type_debug(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

fn json_error(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::BadSerialization, e.to_string())
}

/// Serialises as Python's `json.dumps` with the filter's keyword arguments (`indent`,
/// `sort_keys`, `ensure_ascii`), defaults given by the filter.
fn json_string(value: &Value, kwargs: &Kwargs, defaults: DumpOptions) -> Result<String, Error> {
    let json = serde_json::to_value(value).map_err(json_error)?;
    let options = DumpOptions {
        indent: kwargs.get::<Option<usize>>("indent")?.or(defaults.indent),
        sort_keys: kwargs
            .get::<Option<bool>>("sort_keys")?
            .unwrap_or(defaults.sort_keys),
        ensure_ascii: kwargs
            .get::<Option<bool>>("ensure_ascii")?
            .unwrap_or(defaults.ensure_ascii),
    };
    kwargs.assert_all_used()?;
    Ok(python_json::dumps(&json, options))
}

/// `to_json(indent=None, sort_keys=False, ensure_ascii=True)`: Python's `json.dumps`.
pub fn to_json(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    let defaults = DumpOptions {
        indent: None,
        sort_keys: false,
        ensure_ascii: true,
    };
    json_string(value, &kwargs, defaults)
}

/// `to_nice_json(indent=4, sort_keys=True, ensure_ascii=True)`.
pub fn to_nice_json(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    let defaults = DumpOptions {
        indent: Some(4),
        sort_keys: true,
        ensure_ascii: true,
    };
    json_string(value, &kwargs, defaults)
}

/// `from_json`: parses JSON text.
pub fn from_json(text: &str) -> Result<Value, Error> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("from_json: invalid JSON: {e}"),
        )
    })?;
    Ok(crate::vars::from_json(&json))
}

/// `to_yaml`: `yaml.dump` as Ansible calls it (flow style for collections of scalars).
pub fn to_yaml(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    dump_yaml(value, &kwargs, None, 2)
}

/// `to_nice_yaml`: block style, indented by four.
pub fn to_nice_yaml(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    dump_yaml(value, &kwargs, Some(false), 4)
}

fn dump_yaml(
    value: &Value,
    kwargs: &Kwargs,
    flow: Option<bool>,
    indent: usize,
) -> Result<String, Error> {
    let options = super::python_yaml::DumpOptions {
        default_flow_style: match kwargs.get::<Option<Value>>("default_flow_style")? {
            Some(v) if v.is_none() => None,
            Some(v) => Some(v.is_true()),
            None => flow,
        },
        indent: kwargs.get::<Option<usize>>("indent")?.unwrap_or(indent),
        width: kwargs.get::<Option<usize>>("width")?.unwrap_or(80),
        sort_keys: kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true),
        explicit_start: kwargs
            .get::<Option<bool>>("explicit_start")?
            .unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    let json = serde_json::to_value(value).map_err(json_error)?;
    Ok(super::python_yaml::dump(&json, &options))
}

/// `from_yaml`: parses YAML text with the same loader (YAML 1.1, as Ansible's PyYAML) and the
/// same limits on aliases and nesting as playbooks, so templated data cannot be an alias bomb.
pub fn from_yaml(text: &str) -> Result<Value, Error> {
    let source = crate::diagnostic::Source::new("<from_yaml>", text);
    let node = crate::yaml::parse(&source).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("from_yaml: invalid YAML: {e} at line {}", e.at.span.line),
        )
    })?;
    Ok(crate::vars::from_node(&node))
}

/// `mandatory(msg=None)`: fails when the value is undefined.
pub fn mandatory(value: &Value, msg: Option<&str>) -> Result<Value, Error> {
    if value.is_undefined() {
        let msg = msg.unwrap_or("mandatory variable not defined");
        return Err(Error::new(ErrorKind::UndefinedError, msg.to_string()));
    }
    Ok(value.clone())
}

/// `ternary(true_val, false_val, none_val=None)`.
pub fn ternary(
    value: &Value,
    if_true: Value,
    if_false: Value,
    if_none: Option<Value>,
) -> Result<Value, Error> {
    if value.is_none() {
        if let Some(none) = if_none {
            return Ok(none);
        }
    }
    Ok(if value.is_true() { if_true } else { if_false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bool_follows_ansible_boolean() {
        for yes in ["yes", "Yes", "true", "True", "on", "1", "y", " t "] {
            assert!(to_bool(&Value::from(yes)), "{yes}");
        }
        for no in ["no", "false", "off", "0", "", "maybe"] {
            assert!(!to_bool(&Value::from(no)), "{no}");
        }
        assert!(to_bool(&Value::from(1)));
        assert!(!to_bool(&Value::from(2)));
        assert!(!to_bool(&Value::from(())));
        assert!(to_bool(&Value::from(true)));
    }

    #[test]
    fn int_parses_like_jinja() {
        assert_eq!(parse_int("42", 10), Some(Value::from(42)));
        assert_eq!(parse_int(" -3.7 ", 10), Some(Value::from(-3)));
        assert_eq!(parse_int("0x1f", 16), Some(Value::from(31)));
        assert_eq!(parse_int("abc", 10), None);
    }

    #[test]
    fn nice_json_sorts_keys_and_indents_four() {
        assert_eq!(
            eval("{'b': 1, 'a': [1]} | to_nice_json"),
            json!("{\n    \"a\": [\n        1\n    ],\n    \"b\": 1\n}")
        );
    }

    use crate::template::testing::{eval, eval_err, render};
    use serde_json::json;

    #[test]
    fn bool_filter_accepts_ansible_spellings() {
        assert_eq!(eval("'yes' | bool"), json!(true));
        assert_eq!(eval("'off' | bool"), json!(false));
        assert_eq!(eval("1 | bool"), json!(true));
        assert_eq!(eval("'false' | bool"), json!(false));
    }

    #[test]
    fn int_and_float_filters() {
        assert_eq!(eval("'42' | int"), json!(42));
        assert_eq!(eval("'3.7' | int"), json!(3));
        assert_eq!(eval("'abc' | int"), json!(0));
        assert_eq!(eval("'abc' | int(7)"), json!(7));
        assert_eq!(eval("'0x1A' | int(base=16)"), json!(26));
        assert_eq!(eval("true | int"), json!(1));
        assert_eq!(eval("'1.5' | float"), json!(1.5));
        assert_eq!(eval("-3 | abs"), json!(3));
        assert_eq!(eval("2.567 | round(2)"), json!(2.57));
        assert_eq!(eval("3.5 | round"), json!(4.0));
        assert_eq!(
            eval("2.5 | round"),
            json!(2.0),
            "Python rounds half to even"
        );
    }

    #[test]
    fn string_filter_and_printing_use_python_spelling() {
        assert_eq!(eval("true | string"), json!("True"));
        assert_eq!(eval("none | string"), json!("None"));
        assert_eq!(eval("5 | string"), json!("5"));
        assert_eq!(
            render("{{ true }} {{ none }} {{ ['a', 1] }} {{ {'k': false, 'n': none} }}"),
            "True  ['a', 1] {'k': False, 'n': None}",
            "None prints as nothing in text, as Ansible's (recorded in tests/compat)"
        );
    }

    #[test]
    fn type_debug_names_python_types() {
        assert_eq!(eval("'a' | type_debug"), json!("str"));
        assert_eq!(eval("1 | type_debug"), json!("int"));
        assert_eq!(eval("1.0 | type_debug"), json!("float"));
        assert_eq!(eval("[] | type_debug"), json!("list"));
        assert_eq!(eval("{} | type_debug"), json!("dict"));
        assert_eq!(eval("none | type_debug"), json!("NoneType"));
        assert_eq!(eval("true | type_debug"), json!("bool"));
    }

    #[test]
    fn json_filters() {
        assert_eq!(
            eval("{'b': 1, 'a': [1, 2]} | to_json"),
            json!(r#"{"b": 1, "a": [1, 2]}"#)
        );
        assert_eq!(
            eval("{'b': 1, 'a': 2} | to_json(sort_keys=true)"),
            json!(r#"{"a": 2, "b": 1}"#)
        );
        assert_eq!(
            eval("{'b': 1, 'a': 2} | to_nice_json"),
            json!("{\n    \"a\": 2,\n    \"b\": 1\n}")
        );
        assert_eq!(eval("[1] | to_nice_json(indent=2)"), json!("[\n  1\n]"));
        assert_eq!(
            eval("'{\"a\": [1, null]}' | from_json"),
            json!({"a": [1, null]})
        );
        assert!(eval_err("'{' | from_json").contains("invalid JSON"));
    }

    #[test]
    fn yaml_filters() {
        assert_eq!(eval("{'a': [1, 'x']} | to_yaml"), json!("a: [1, x]\n"));
        assert_eq!(eval("{'a': 1} | to_nice_yaml"), json!("a: 1\n"));
        assert_eq!(
            eval("'a: [1, b]\nc: yes\nd: 0644' | from_yaml"),
            json!({"a": [1, "b"], "c": true, "d": 420})
        );
        assert!(eval_err("'a: [' | from_yaml").contains("invalid YAML"));
        let bomb = crate::yaml::tests::alias_bomb()
            .replace('"', "'")
            .replace('\n', "\\n");
        let error = eval_err(&format!("\"{bomb}\" | from_yaml"));
        assert!(error.contains("more than 1000000 nodes"), "{error}");
    }

    #[test]
    fn mandatory_fails_only_when_undefined() {
        assert_eq!(eval("1 | mandatory"), json!(1));
        let err = eval_err("nope | mandatory");
        assert!(err.contains("nope"), "{err}");
        assert!(eval_err("nope | mandatory('set nope')").contains("nope"));
    }

    #[test]
    fn ternary_picks_by_truthiness_and_none() {
        assert_eq!(eval("true | ternary('y', 'n')"), json!("y"));
        assert_eq!(eval("'' | ternary('y', 'n')"), json!("n"));
        assert_eq!(eval("none | ternary('y', 'n', 'null')"), json!("null"));
        assert_eq!(eval("none | ternary('y', 'n')"), json!("n"));
    }
}
