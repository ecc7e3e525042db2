//! Parsing `-e/--extra-vars`: `k=v` pairs, inline JSON/YAML mappings, or `@file`.

use std::path::Path;

use super::error::CliError;
use crate::diagnostic::Source;
use crate::modules::args::split_key_values;
use crate::vars::{self, Value, Vars};

/// Merges every `-e` argument, later ones winning.
pub fn parse_all(args: &[String]) -> Result<Vars, CliError> {
    let mut merged = Vars::new();
    for arg in args {
        merged.extend(parse_one(arg)?);
    }
    Ok(merged)
}

fn parse_one(arg: &str) -> Result<Vars, CliError> {
    let bad = |reason: &str| CliError::ExtraVars {
        text: arg.to_string(),
        reason: reason.to_string(),
    };
    if let Some(file) = arg.strip_prefix('@') {
        let path = Path::new(file);
        let source = Source::read(path)?;
        let node = crate::yaml::parse(&source)?;
        return vars::vars_from_node(&node).ok_or_else(|| bad("the file must hold a mapping"));
    }
    let trimmed = arg.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let node = crate::yaml::parse(&Source::new("<extra-vars>", arg.to_string()))?;
        return vars::vars_from_node(&node).ok_or_else(|| bad("expected a mapping"));
    }
    let (pairs, free) = split_key_values(arg);
    if let Some(word) = free.first() {
        return Err(bad(&format!("`{word}` is not `key=value`")));
    }
    Ok(pairs
        .into_iter()
        .map(|(key, value)| (key, Value::from(value)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_json_and_later_wins() {
        let vars = parse_all(&["a=1 b='two words'".into(), r#"{"a": 2, "c": [1]}"#.into()])
            .expect("valid");
        assert_eq!(vars::to_json(&vars["a"]), serde_json::json!(2));
        assert_eq!(vars::to_json(&vars["b"]), serde_json::json!("two words"));
        assert_eq!(vars::to_json(&vars["c"]), serde_json::json!([1]));
    }

    #[test]
    fn garbage_is_a_bad_option() {
        let error = parse_all(&["justaword".into()]).expect_err("invalid");
        assert_eq!(error.exit_code(), crate::runner::exit::BAD_OPTIONS);
    }
}
