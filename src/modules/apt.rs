//! `apt`: install, upgrade and remove Debian/Ubuntu packages with apt-get, in one round trip.
//!
//! The module is four parts, each in its own file: the typed arguments and their checks
//! ([`args`], with Debian name syntax in [`spec`]), a pure function building the POSIX sh
//! script run on the host ([`script`]), a pure parser of what the script printed ([`report`],
//! with dpkg's version order in [`version`]), and the mapping to the task's result
//! ([`outcome`]). [`Apt::run`] only glues them to the transport.
//!
//! A failure on the host (apt missing, not root, no `*-security` suite for `security_only`, a
//! lock still held when `lock_timeout` ran out, an apt-get error) is a failed result that keeps
//! apt's output, as Ansible registers it; a host that cannot be reached is left to
//! [`super::run`] through [`ModuleError::Transport`].

mod args;
mod outcome;
mod report;
mod script;
mod spec;
mod version;

use async_trait::async_trait;

use self::args::{Action, Request};
use super::args::{self as module_args, ArgError};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::baseline::{Baseline, BaselineStore};
use crate::vars::Value;

/// `apt`: manage packages with apt-get and dpkg.
pub(crate) struct Apt;

#[async_trait]
impl Module for Apt {
    fn names(&self) -> &'static [&'static str] {
        &["apt", "ansible.builtin.apt", "ansible.legacy.apt"]
    }

    /// Names and types always (unless templated), and the combination: [`Request`] is only
    /// ever built from arguments that make sense together.
    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        module_args::validate::<Request>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    /// Runs one script that plans with `apt-get -s` and, outside check mode, applies the plan.
    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let mut request: Request = module_args::parse(args)?;
        // A later stage's run: a whole-system upgrade installs what the previous stage tested.
        let staged = crate::stages::stage_baseline(ctx.scope)
            .filter(|_| matches!(request.action, Action::Upgrade(_) | Action::SecurityUpgrade));
        if let Some(reference) = &staged {
            request.action = Action::Baseline(reference.clone());
        }
        let baseline = match &request.action {
            Action::Baseline(reference) => match find_baseline(reference) {
                Ok(baseline) => Some(baseline),
                Err(message) => return Ok(ModuleResult::failed(message)),
            },
            _ => None,
        };
        let output = ctx
            .exec(script::build(&request, baseline.as_ref(), ctx.check_mode))
            .await?;
        let report = report::parse(&output.stdout_text());
        let mut result = outcome::result(&request, &report, &output, ctx.check_mode);
        if let Some(reference) = staged {
            result.data.insert("stage_baseline".into(), Value::from(reference));
        }
        Ok(result)
    }
}

/// The baseline a task names, checked usable: stored (or a file), without conflicts.
pub(super) fn find_baseline(reference: &str) -> Result<Baseline, String> {
    let baseline = BaselineStore::from_env()
        .and_then(|store| store.find(reference))
        .map_err(|error| error.to_string())?;
    let conflicts: Vec<String> = baseline
        .systems
        .iter()
        .flat_map(|(os, system)| system.conflicts.keys().map(move |name| format!("{name} ({os})")))
        .collect();
    if conflicts.is_empty() {
        Ok(baseline)
    } else {
        Err(format!(
            "baseline {} holds two versions of {}: the mirror changed during that run; \
             record a new baseline",
            baseline.run_id,
            conflicts.join(", ")
        ))
    }
}
