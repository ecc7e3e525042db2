//! `patch_facts`: what a host needs patched, in one remote round trip, as
//! `ansible_facts.patch`.
//!
//! One POSIX sh script ([`script`]) prints the raw output of the host's own tools (os-release,
//! `uname -r`, dpkg-query or rpm, `apt-get -s dist-upgrade` or `dnf check-update`,
//! `/var/run/reboot-required`, `needs-restarting -r`, `needrestart -b`, live-patch tools), each
//! line tagged with its source; [`parse`] turns that into typed facts in Rust. The module is
//! read-only unless `refresh: true` (then `apt-get update` / `dnf makecache`, never in check
//! mode). It is not part of `gather_facts`: listing pending updates takes seconds, where fact
//! gathering takes milliseconds.

mod parse;
mod script;

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::{ExecRequest, ExitStatus};
use crate::vars::{self, Value, Vars};
use parse::PatchFacts;
use script::ScriptOptions;

/// Arguments of `patch_facts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchFactsArgs {
    /// List pending updates (a simulated upgrade: seconds on a big host).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    pending: bool,
    /// Refresh package metadata first (`apt-get update`, `dnf makecache`); this changes the
    /// host's package cache, so it is off by default and skipped in check mode.
    #[serde(default, deserialize_with = "lenient::bool")]
    refresh: bool,
    /// Give up on the host after this many seconds.
    #[serde(default = "default_timeout", deserialize_with = "lenient::whole")]
    timeout: u64,
}

fn yes() -> bool {
    true
}

fn default_timeout() -> u64 {
    300
}

/// `patch_facts`: report the host's patch state.
pub(crate) struct PatchFactsModule;

#[async_trait]
impl Module for PatchFactsModule {
    fn names(&self) -> &'static [&'static str] {
        &["patch_facts", "rpatch.patch_facts"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<PatchFactsArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(args, ctx).await
    }
}

/// Runs the script once and reports its facts; `changed` only when `refresh` ran.
async fn run(args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let args: PatchFactsArgs = args::parse(args)?;
    let refresh = args.refresh && !ctx.check_mode;
    let options = ScriptOptions {
        pending: args.pending,
        refresh,
    };
    let timeout = args.timeout.max(1);
    let mut request = ExecRequest::new(script::script(options));
    request.timeout = Some(Duration::from_secs(timeout));
    let output = ctx.exec_request(request).await?;
    if output.status == ExitStatus::TimedOut {
        return Ok(ModuleResult::failed(format!(
            "patch facts timed out after {timeout} seconds"
        )));
    }
    let facts = parse::parse(&output.stdout_text());
    if !facts.complete {
        return Ok(ModuleResult::failed(format!(
            "the patch facts script did not complete (rc {}): {}",
            output.status.rc(),
            output.stderr_text().trim()
        )));
    }
    Ok(result(&facts, refresh))
}

/// The result: `patch` in the registered value and in `ansible_facts`.
fn result(facts: &PatchFacts, refreshed: bool) -> ModuleResult {
    let json = serde_json::to_value(facts).unwrap_or(serde_json::Value::Null);
    let value = vars::from_json(&json);
    let mut gathered = Vars::new();
    gathered.insert("patch".into(), value.clone());
    let mut result = if refreshed {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    result.data.insert("patch".into(), value);
    result.facts = Some(gathered);
    let listed = facts.pending.status == "ok";
    super::PatchRecord {
        pending: listed.then_some(facts.pending.count),
        security: listed.then_some(facts.pending.security_count),
        reboot_required: Some(facts.reboot_required),
        ..super::PatchRecord::default()
    }
    .attach(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Templar;

    async fn patch_facts(args: serde_json::Value, check_mode: bool) -> ModuleResult {
        let templar = Templar::new();
        let scope = Value::from(());
        let ctx = ModuleContext {
            check_mode,
            ..ModuleContext::local(&templar, &scope)
        };
        super::super::run(&PatchFactsModule, &vars::from_json(&args), &ctx).await
    }

    #[tokio::test]
    async fn check_mode_never_refreshes_and_reports_the_same_facts() {
        let result = patch_facts(serde_json::json!({"pending": false, "refresh": true}), true).await;
        assert!(!result.failed && !result.changed, "{result:?}");
        let patch = vars::to_json(&result.data["patch"]);
        assert_eq!(patch["pending"]["status"], "skipped");
        assert_eq!(patch["complete"], true);
        let facts = result.facts.expect("facts");
        assert_eq!(vars::to_json(&facts["patch"]), patch);
    }

    #[tokio::test]
    async fn unknown_arguments_are_refused() {
        let result = patch_facts(serde_json::json!({"refesh": true}), false).await;
        assert!(result.failed, "{result:?}");
        assert!(result.msg.is_some_and(|m| m.contains("refesh")));
    }
}
