//! Jinja tests (`x is name`) Ansible adds: task-result tests, regex tests, truthiness and
//! `version` comparison.

use std::cmp::Ordering;

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, Value};

use super::filters_text::{regex, regex_flags};

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// The registered task result a result test looks at; an error if it is not a dict.
fn result_dict<'a>(value: &'a Value, test: &str) -> Result<&'a Value, Error> {
    if value.kind() != ValueKind::Map {
        return Err(invalid(format!(
            "the '{test}' test expects a dictionary (a registered task result)"
        )));
    }
    Ok(value)
}

fn flag(result: &Value, key: &str) -> bool {
    result.get_attr(key).is_ok_and(|v| v.is_true())
}

/// `failed` / `failure`: the result's `failed` key is true.
pub fn failed(value: &Value) -> Result<bool, Error> {
    Ok(flag(result_dict(value, "failed")?, "failed"))
}

/// `succeeded` / `success`: the result did not fail.
pub fn succeeded(value: &Value) -> Result<bool, Error> {
    Ok(!flag(result_dict(value, "succeeded")?, "failed"))
}

/// `changed` / `change`: the result (or, for a loop, any of its `results`) changed.
pub fn changed(value: &Value) -> Result<bool, Error> {
    let result = result_dict(value, "changed")?;
    let own = result.get_attr("changed")?;
    if !own.is_undefined() {
        return Ok(flag(result, "changed"));
    }
    let results = result.get_attr("results")?;
    if results.kind() == ValueKind::Seq {
        return Ok(results
            .try_iter()?
            .any(|r| r.kind() == ValueKind::Map && flag(&r, "changed")));
    }
    Ok(false)
}

/// `skipped` / `skip`: the result's `skipped` key is true.
pub fn skipped(value: &Value) -> Result<bool, Error> {
    Ok(flag(result_dict(value, "skipped")?, "skipped"))
}

/// `match(pattern)`: the pattern matches at the start of the string.
pub fn is_match(value: &str, pattern: &str, kwargs: Kwargs) -> Result<bool, Error> {
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let re = regex(&format!("^(?:{pattern})"), ignorecase, multiline)?;
    Ok(re.is_match(value))
}

/// `search(pattern)`: the pattern matches anywhere in the string.
pub fn is_search(value: &str, pattern: &str, kwargs: Kwargs) -> Result<bool, Error> {
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    kwargs.assert_all_used()?;
    Ok(regex(pattern, ignorecase, multiline)?.is_match(value))
}

/// `regex(pattern, match_type='search')`.
pub fn is_regex(value: &str, pattern: &str, kwargs: Kwargs) -> Result<bool, Error> {
    let match_type = kwargs
        .get::<Option<String>>("match_type")?
        .unwrap_or_else(|| "search".to_string());
    match match_type.as_str() {
        "match" => is_match(value, pattern, kwargs),
        "search" => is_search(value, pattern, kwargs),
        "fullmatch" => {
            let (ignorecase, multiline) = regex_flags(&kwargs)?;
            kwargs.assert_all_used()?;
            Ok(regex(&format!("^(?:{pattern})$"), ignorecase, multiline)?.is_match(value))
        }
        other => Err(invalid(format!(
            "regex test: match_type must be match, search or fullmatch, got {other:?}"
        ))),
    }
}

/// `truthy(convert_bool=False)`: Python truthiness (or Ansible `bool` with `convert_bool`).
pub fn truthy(value: &Value, kwargs: Kwargs) -> Result<bool, Error> {
    let convert = kwargs.get::<Option<bool>>("convert_bool")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    if convert && matches!(value.kind(), ValueKind::String | ValueKind::Number) {
        return Ok(super::filters_convert::to_bool(value));
    }
    Ok(value.is_true())
}

/// `falsy(convert_bool=False)`: the opposite of `truthy`.
pub fn falsy(value: &Value, kwargs: Kwargs) -> Result<bool, Error> {
    truthy(value, kwargs).map(|t| !t)
}

/// One piece of a loosely parsed version: numbers compare numerically, words lexically.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Word(String),
    Number(u64),
}

/// Splits a version like Python's `LooseVersion`: runs of digits, runs of letters and any
/// other separator text (`-`, `~`), dropping dots.
fn loose_parts(version: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut chars = version.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == '.' {
            chars.next();
        } else if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            parts.push(Part::Number(digits.parse().unwrap_or(u64::MAX)));
        } else if c.is_ascii_alphabetic() {
            let mut word = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_alphabetic) {
                word.push(d);
                chars.next();
            }
            parts.push(Part::Word(word));
        } else {
            let mut other = String::new();
            while let Some(d) = chars
                .peek()
                .copied()
                .filter(|d| !d.is_ascii_alphanumeric() && *d != '.')
            {
                other.push(d);
                chars.next();
            }
            parts.push(Part::Word(other));
        }
    }
    parts
}

/// Compares two versions loosely (`5.15.0-91-generic` > `5.15` > `5.4.2`).
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    loose_parts(a).cmp(&loose_parts(b))
}

/// Strict versions: only dotted numbers (with an optional `a`/`b` pre-release), like Python's
/// `StrictVersion`.
fn check_strict(version: &str) -> Result<(), Error> {
    let ok = regex(r"^\d+\.\d+(\.\d+)?([ab]\d+)?$", false, false)?.is_match(version.trim());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("invalid strict version {version:?}")))
    }
}

/// `version(other, operator='eq', strict=False, version_type='loose')`.
pub fn version(
    value: &Value,
    other: &Value,
    operator: Option<&str>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    let operator = match operator {
        Some(op) => op.to_string(),
        None => kwargs
            .get::<Option<String>>("operator")?
            .unwrap_or_else(|| "eq".to_string()),
    };
    let strict = kwargs.get::<Option<bool>>("strict")?.unwrap_or(false);
    let version_type = kwargs.get::<Option<String>>("version_type")?;
    kwargs.assert_all_used()?;
    let (a, b) = (value.to_string(), other.to_string());
    if strict || version_type.as_deref() == Some("strict") {
        check_strict(&a)?;
        check_strict(&b)?;
    }
    let ord = compare_versions(&a, &b);
    Ok(match operator.as_str() {
        "==" | "=" | "eq" => ord == Ordering::Equal,
        "!=" | "<>" | "ne" => ord != Ordering::Equal,
        "<" | "lt" => ord == Ordering::Less,
        "<=" | "le" => ord != Ordering::Greater,
        ">" | "gt" => ord == Ordering::Greater,
        ">=" | "ge" => ord != Ordering::Less,
        other => {
            return Err(invalid(format!(
                "version test: unknown operator {other:?} (use <, <=, >, >=, ==, !=)"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_versions_compare_numerically() {
        assert_eq!(compare_versions("5.15", "5.4"), Ordering::Greater);
        assert_eq!(
            compare_versions("5.15.0-91-generic", "5.15"),
            Ordering::Greater
        );
        assert_eq!(compare_versions("1.10", "1.9"), Ordering::Greater);
        assert_eq!(compare_versions("2.0", "2.0"), Ordering::Equal);
        assert_eq!(compare_versions("1.0rc1", "1.0.1"), Ordering::Less);
    }

    use crate::template::testing::{eval, eval_err, eval_with};
    use serde_json::json;

    #[test]
    fn result_tests_read_registered_results() {
        let vars = json!({
            "ok": {"changed": false, "failed": false},
            "bad": {"failed": true, "msg": "x"},
            "chg": {"changed": true},
            "skip": {"skipped": true, "changed": false},
            "looped": {"results": [{"changed": false}, {"changed": true}]},
        });
        let check = |expr: &str| eval_with(expr, vars.clone()).expect(expr);
        assert_eq!(check("ok is succeeded"), json!(true));
        assert_eq!(check("ok is success"), json!(true));
        assert_eq!(check("bad is failed"), json!(true));
        assert_eq!(check("bad is failure"), json!(true));
        assert_eq!(check("bad is succeeded"), json!(false));
        assert_eq!(check("chg is changed"), json!(true));
        assert_eq!(check("ok is change"), json!(false));
        assert_eq!(check("looped is changed"), json!(true));
        assert_eq!(check("skip is skipped"), json!(true));
        assert_eq!(check("ok is skip"), json!(false));
        assert_eq!(check("ok is not failed"), json!(true));
        assert!(eval_err("'text' is failed").contains("dictionary"));
    }

    #[test]
    fn regex_tests() {
        assert_eq!(eval("'foobar' is match('foo')"), json!(true));
        assert_eq!(eval("'foobar' is match('bar')"), json!(false));
        assert_eq!(eval("'foobar' is search('bar')"), json!(true));
        assert_eq!(eval("'FOO' is search('foo', ignorecase=true)"), json!(true));
        assert_eq!(eval("'foobar' is regex('bar')"), json!(true));
        assert_eq!(
            eval("'foobar' is regex('bar', match_type='match')"),
            json!(false)
        );
    }

    #[test]
    fn builtin_type_and_membership_tests() {
        assert_eq!(eval("2 is in [1, 2]"), json!(true));
        assert_eq!(eval("'a' is string"), json!(true));
        assert_eq!(eval("1.5 is number"), json!(true));
        assert_eq!(eval("{} is mapping"), json!(true));
        assert_eq!(eval("[] is sequence"), json!(true));
        assert_eq!(eval("none is none"), json!(true));
    }

    #[test]
    fn truthy_and_falsy() {
        assert_eq!(eval("'x' is truthy"), json!(true));
        assert_eq!(eval("[] is falsy"), json!(true));
        assert_eq!(eval("'no' is truthy"), json!(true));
        assert_eq!(eval("'no' is truthy(convert_bool=true)"), json!(false));
    }

    #[test]
    fn version_test_compares_like_ansible() {
        let vars = json!({"ansible_kernel": "5.4.0-150-generic"});
        let check = |expr: &str| eval_with(expr, vars.clone()).expect(expr);
        assert_eq!(check("ansible_kernel is version('5.15', '<')"), json!(true));
        assert_eq!(check("ansible_kernel is version('5.4', '>=')"), json!(true));
        assert_eq!(check("'2.0' is version('2.0')"), json!(true));
        assert_eq!(check("'1.10' is version('1.9', 'gt')"), json!(true));
        assert_eq!(
            check("'1.2.3' is version('1.2.3', operator='ne')"),
            json!(false)
        );
        assert_eq!(check("'1.2' is version_compare('1.3', '<')"), json!(true));
        assert_eq!(
            check("'1.2.3' is version('1.2.4', '<', strict=true)"),
            json!(true)
        );
        assert!(eval_err("'1.2-x' is version('1.2', '<', strict=true)").contains("strict version"));
        assert!(eval_err("'1' is version('2', '~')").contains("operator"));
    }
}
