//! `set_fact`: set variables on the host for the rest of the run.

use async_trait::async_trait;

use super::args::ArgError;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::{self, Value, Vars};

/// `set_fact`: set host variables.
pub(crate) struct SetFact;

#[async_trait]
impl Module for SetFact {
    fn names(&self) -> &'static [&'static str] {
        &["set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact"]
    }

    /// Any names will do; whether there is at least one is known once rendered.
    fn validate(&self, _args: &Value, _templated: bool) -> Result<(), ArgError> {
        Ok(())
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    fn sets_variables(&self) -> bool {
        true
    }

    async fn run(&self, args: &Value, _: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        Ok(run(args)?)
    }
}

/// Every argument becomes a host variable (`cacheable` is accepted and ignored).
fn run(args: &Value) -> Result<ModuleResult, ArgError> {
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
