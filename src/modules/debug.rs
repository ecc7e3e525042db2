//! `debug`: show a message or a variable.

use async_trait::async_trait;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `debug`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugArgs {
    /// The message to show.
    msg: Option<serde_json::Value>,
    /// A variable (or expression) to show.
    var: Option<String>,
    /// Only show at this `-v` level or above.
    #[serde(default)]
    verbosity: u8,
}

/// `debug`: show a message or a variable.
pub(crate) struct Debug;

#[async_trait]
impl Module for Debug {
    fn names(&self) -> &'static [&'static str] {
        &["debug", "ansible.builtin.debug", "ansible.legacy.debug"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<DebugArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    fn shows_result(&self) -> bool {
        true
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        Ok(run(args, ctx)?)
    }
}

/// Returns the message or the variable's value; never changes anything.
fn run(args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ArgError> {
    let args: DebugArgs = args::parse(args)?;
    let mut result = ModuleResult::ok();
    if let Some(var) = &args.var {
        let value = match ctx.templar.eval_expression(var, ctx.scope) {
            Ok(value) => crate::vars::to_json(&value),
            Err(error) => serde_json::Value::String(format!("VARIABLE IS NOT DEFINED! ({error})")),
        };
        result
            .data
            .insert(var.clone(), crate::vars::from_json(&value));
    } else {
        let msg = args
            .msg
            .unwrap_or_else(|| serde_json::Value::String("Hello world!".into()));
        result
            .data
            .insert("msg".into(), crate::vars::from_json(&msg));
    }
    result
        .data
        .insert("_verbosity".into(), Value::from(args.verbosity));
    result
        .data
        .insert(super::VERBOSE_ALWAYS.into(), Value::from(true));
    Ok(result)
}
