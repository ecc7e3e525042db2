//! `assert` and `fail`: stop a host when something is not as expected.

use async_trait::async_trait;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::{self, Value};

/// Arguments of `assert`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertArgs {
    /// One condition, or a list of conditions that must all hold. Kept as raw JSON so that a
    /// list is always read as a list: an untagged enum whose first variant takes any value
    /// would swallow the list as one (truthy) condition.
    that: serde_json::Value,
    fail_msg: Option<String>,
    msg: Option<String>,
    success_msg: Option<String>,
    #[serde(default)]
    quiet: bool,
}

/// Arguments of `fail`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailArgs {
    msg: Option<serde_json::Value>,
}

/// Fails on the first condition that is false.
pub fn run_assert(raw: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ArgError> {
    let args: AssertArgs = args::parse(raw)?;
    let conditions = match args.that {
        serde_json::Value::Array(list) => list,
        single => vec![single],
    };
    for condition in &conditions {
        let holds = match condition {
            serde_json::Value::String(expr) => ctx
                .templar
                .eval_condition(expr, ctx.scope)
                .map_err(|error| ArgError::Invalid(format!("cannot evaluate `{expr}`: {error}")))?,
            other => vars::from_json(other).is_true(),
        };
        if !holds {
            let msg = args
                .fail_msg
                .clone()
                .or(args.msg.clone())
                .unwrap_or_else(|| "Assertion failed".into());
            let assertion = match condition {
                serde_json::Value::String(expr) => expr.clone(),
                other => other.to_string(),
            };
            let result = ModuleResult::failed(msg)
                .with_data(&serde_json::json!({"assertion": assertion, "evaluated_to": false}));
            return Ok(if args.quiet {
                result
            } else {
                verbose_always(result)
            });
        }
    }
    if args.quiet {
        return Ok(ModuleResult::ok());
    }
    let msg = args
        .success_msg
        .unwrap_or_else(|| "All assertions passed".into());
    Ok(verbose_always(ModuleResult::ok().with_msg(msg)))
}

/// Marks a result to be printed like `debug` output, as Ansible's assert does unless `quiet`.
fn verbose_always(mut result: ModuleResult) -> ModuleResult {
    result
        .data
        .insert(super::VERBOSE_ALWAYS.into(), Value::from(true));
    result
}

/// Always fails, with the given message.
pub fn run_fail(raw: &Value) -> Result<ModuleResult, ArgError> {
    let args: FailArgs = args::parse(raw)?;
    let msg = match args.msg {
        Some(serde_json::Value::String(text)) => text,
        Some(other) => other.to_string(),
        None => "Failed as requested from task".into(),
    };
    Ok(ModuleResult::failed(msg))
}

/// `assert`: fail unless conditions hold.
pub(crate) struct Assert;

#[async_trait]
impl Module for Assert {
    fn names(&self) -> &'static [&'static str] {
        &["assert", "ansible.builtin.assert", "ansible.legacy.assert"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<AssertArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        Ok(run_assert(args, ctx)?)
    }
}

/// `fail`: fail with a message.
pub(crate) struct Fail;

#[async_trait]
impl Module for Fail {
    fn names(&self) -> &'static [&'static str] {
        &["fail", "ansible.builtin.fail", "ansible.legacy.fail"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<FailArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, _: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        Ok(run_fail(args)?)
    }
}
