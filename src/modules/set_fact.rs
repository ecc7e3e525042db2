//! `set_fact`: set variables on the host for the rest of the run.

use async_trait::async_trait;

use super::args::ArgError;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::{Value, Vars};

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
    let invalid = || ArgError::Invalid("set_fact needs a mapping of names to values".into());
    if args.kind() != minijinja::value::ValueKind::Map {
        return Err(invalid());
    }
    // Values are kept as they are (not round-tripped through JSON), so text marked as never to
    // be templated again (from `{% raw %}` or `!unsafe`) stays marked.
    let mut facts = Vars::new();
    for key in args.try_iter().map_err(|_| invalid())? {
        let name = key.as_str().map_or_else(|| key.to_string(), str::to_string);
        if name == "cacheable" {
            continue;
        }
        let value = args.get_item(&key).unwrap_or_default();
        let value = if value.is_undefined() {
            Value::from(())
        } else {
            value
        };
        facts.insert(name, value);
    }
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
