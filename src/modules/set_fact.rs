//! `set_fact`: set variables on the host for the rest of the run.

use super::args::ArgError;
use super::ModuleResult;
use crate::vars::{self, Value, Vars};

/// Every argument becomes a host variable (`cacheable` is accepted and ignored).
pub fn run(args: &Value) -> Result<ModuleResult, ArgError> {
    let serde_json::Value::Object(map) = vars::to_json(args) else {
        return Err(ArgError::Invalid(
            "set_fact needs a mapping of names to values".into(),
        ));
    };
    let facts: Vars = map
        .iter()
        .filter(|(name, _)| name.as_str() != "cacheable")
        .map(|(name, value)| (name.clone(), vars::from_json(value)))
        .collect();
    if facts.is_empty() {
        return Err(ArgError::Invalid(
            "set_fact needs at least one variable".into(),
        ));
    }
    Ok(ModuleResult {
        facts: Some(facts),
        ..ModuleResult::ok()
    })
}
