//! `dnf` and `yum`: install, upgrade and remove packages on RHEL-family hosts with one POSIX
//! sh script per call — `dnf` where the host has it, `yum` otherwise.
//!
//! Deciding comes before doing: the script asks dnf for each transaction with `--assumeno`
//! and reads the table it prints (the plan, which is all check mode returns); only a plan
//! that holds a transaction is applied with `-y`. The packages reported as changed come from
//! `rpm -qa` before and after, so old → new versions are what rpm says, not what dnf meant.
//! `reboot_required` is the answer of `dnf needs-restarting -r` (or yum-utils'
//! `needs-restarting -r`, exit 1 meaning a reboot is needed); a host with neither reports
//! `false` with a warning.
//!
//! `security: true` (or `bugfix: true`) where the repositories carry no such advisory is what
//! dnf makes of it: nothing to do, so an unchanged, successful result whose `msg` is dnf's
//! `No security updates needed, but N updates available`.

mod args;
/// Also `zypper`'s: the same marked sections, rpm lists and package changes.
pub(super) mod parse;
/// Also `zypper`'s: the rpm query.
pub(super) mod script;

use async_trait::async_trait;
use serde::Serialize;

use self::args::DnfArgs;
use self::parse::{Change, Report};
use super::args::{self as module_args, ArgError};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::baseline::BaselineRecord;
use crate::modules::approval::HeldBack;
use crate::vars::Value;

/// `dnf`: manage packages with dnf (or yum where dnf is missing).
pub(crate) struct Dnf;

/// `yum`: the same module under Ansible's older name.
pub(crate) struct Yum;

#[async_trait]
impl Module for Dnf {
    fn names(&self) -> &'static [&'static str] {
        &["dnf", "ansible.builtin.dnf", "ansible.legacy.dnf"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        validate(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(args, ctx).await
    }
}

#[async_trait]
impl Module for Yum {
    fn names(&self) -> &'static [&'static str] {
        &["yum", "ansible.builtin.yum", "ansible.legacy.yum"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        validate(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(args, ctx).await
    }
}

/// Checks names and types at load, and the combination too once nothing is templated.
fn validate(args: &Value, templated: bool) -> Result<(), ArgError> {
    module_args::validate::<DnfArgs>(args, templated)?;
    if !templated {
        module_args::parse::<DnfArgs>(args)?.request()?;
    }
    Ok(())
}

/// What `dnf`/`yum` register.
#[derive(Debug, Serialize)]
struct DnfOutcome {
    /// Ansible's lines: `Upgraded: name-1.1-1.noarch`.
    results: Vec<String>,
    /// Each package changed (or that would change), with `before` and `after` versions.
    packages: Vec<Change>,
    /// The host needs a reboot to run what is installed.
    reboot_required: bool,
    /// 0: every dnf/yum command succeeded (a failure is a failed result with its own `rc`).
    rc: i32,
    /// `dnf` or `yum`: which one did the work.
    package_manager: String,
    /// What the user should know but did not fail the task.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    /// With `baseline`: installed packages newer than the baseline, left as they are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    newer_than_baseline: Vec<NewerThanBaseline>,
    /// With `approve`/`reject`: updates held back, with why and until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    held_back: Option<Vec<HeldBack>>,
}

/// An installed package newer than the baseline asks for: never downgraded.
#[derive(Debug, Serialize)]
struct NewerThanBaseline {
    name: String,
    installed: String,
    baseline: String,
}

/// Runs one call: builds and sends the script, then reads what it reported.
async fn run(args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let args: DnfArgs = module_args::parse(args)?;
    let mut request = args.request()?;
    // A later stage's run: `name: '*', state: latest` installs what the previous stage tested.
    let staged = crate::stages::stage_baseline(ctx.scope).filter(|_| {
        request.baseline.is_none()
            && request.state == args::State::Latest
            && request.names.iter().any(|name| name == "*")
    });
    if let Some(reference) = &staged {
        request.names.clear();
        request.baseline = Some(reference.clone());
        request.approval = None;
    }
    let baseline = match &request.baseline {
        Some(reference) => Some(super::apt::find_baseline(reference).map_err(ModuleError::Failed)?),
        None => None,
    };
    let output = ctx
        .exec(script::script(&args, &request, baseline.as_ref(), ctx.check_mode))
        .await?;
    let report = parse::report(&output.stdout_text()).map_err(|error| {
        let stderr = output.stderr_text();
        ModuleError::Failed(format!("{error} {}", stderr.trim()).trim().to_string())
    })?;
    let mut result = outcome(&report, &args, request.approval.as_ref(), ctx.check_mode)?;
    if let Some(reference) = staged {
        result.data.insert("stage_baseline".into(), Value::from(reference));
    }
    Ok(result)
}

/// Turns the script's report into the task's result.
fn outcome(
    report: &Report,
    args: &DnfArgs,
    approval: Option<&crate::modules::approval::Approval>,
    check_mode: bool,
) -> Result<ModuleResult, ModuleError> {
    let Some(manager) = report.manager.clone() else {
        return Err(ModuleError::Failed(
            "neither dnf nor yum is installed on this host".into(),
        ));
    };
    if report.baseline_os_missing {
        return Err(ModuleError::Failed(format!(
            "the baseline has no packages for this host's release `{}`: it was recorded on \
             other releases (see `rpatch baseline show`)",
            report.os
        )));
    }
    if let Some((pid, waited)) = report.locked {
        return Err(ModuleError::Failed(format!(
            "{manager} is locked by process {pid}: still held after {waited}s (lock_timeout {})",
            args.lock_timeout
        )));
    }
    let mut plans = Vec::new();
    let mut msgs = Vec::new();
    for step in &report.steps {
        let failed = match step.phase.as_str() {
            // `--assumeno` declines a transaction with exit 1; that is a plan, not a failure.
            "plan" => step.rc != 0 && !step.has_transaction(),
            _ => step.rc != 0,
        };
        if failed {
            let result = failed_result(step, &manager);
            return Ok(result);
        }
        if step.phase == "plan" {
            plans.extend(step.transaction());
            if let Some(line) = step.output.iter().find(|line| {
                line.contains("updates needed") || line.starts_with("No packages marked")
            }) {
                msgs.push(line.trim().to_string());
            }
        }
    }
    let packages = match (&report.after, check_mode) {
        (Some(after), false) => parse::applied_changes(&report.before, after, &plans),
        _ if check_mode => parse::planned_changes(&plans, &report.before),
        _ => Vec::new(),
    };
    let mut warnings = Vec::new();
    let reboot_required = match &report.reboot {
        Some((code, _)) => *code == 1,
        None => {
            warnings.push(
                "cannot tell whether a reboot is required: no `dnf needs-restarting` \
                 (dnf-plugins-core) or `needs-restarting` (yum-utils) on this host"
                    .to_string(),
            );
            false
        }
    };
    let changed = !packages.is_empty();
    let held_back: Option<Vec<HeldBack>> = approval.map(|approval| {
        report
            .held_back
            .iter()
            .filter_map(|words| {
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                HeldBack::from_words(&words, Some(approval))
            })
            .collect()
    });
    let mut msg = if !msgs.is_empty() {
        msgs.join("; ")
    } else if changed && check_mode {
        format!("{} package(s) would change", packages.len())
    } else if changed {
        format!("{} package(s) changed", packages.len())
    } else if report.steps.iter().all(|s| s.phase == "cache") {
        "metadata cache updated".to_string()
    } else {
        "Nothing to do".to_string()
    };
    if let Some(held) = held_back.as_ref().filter(|held| !held.is_empty()) {
        let each: Vec<String> = held.iter().map(HeldBack::describe).collect();
        msg.push_str(&format!("; held back: {}", each.join(", ")));
    }
    let record = super::PatchRecord {
        applied: (!packages.is_empty()).then_some(packages.len()),
        check_mode,
        reboot_required: Some(reboot_required),
        ..super::PatchRecord::default()
    };
    let baseline = installed(&packages, report, check_mode);
    let outcome = DnfOutcome {
        results: packages.iter().map(Change::line).collect(),
        packages,
        reboot_required,
        rc: 0,
        package_manager: manager,
        warnings,
        newer_than_baseline: report
            .newer_than_baseline
            .iter()
            .map(|(name, installed, baseline)| NewerThanBaseline {
                name: name.clone(),
                installed: installed.clone(),
                baseline: baseline.clone(),
            })
            .collect(),
        held_back,
    };
    let result = if changed {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    let mut result = record.attach(result.with_data(&outcome).with_msg(msg));
    if let Some(baseline) = baseline {
        result.keep_in_journal(BaselineRecord::KEY, baseline.to_journal());
    }
    Ok(result)
}

/// What a real run installed, for the run's baseline (see [`crate::baseline`]).
fn installed(packages: &[Change], report: &Report, check_mode: bool) -> Option<BaselineRecord> {
    if check_mode || report.os.is_empty() {
        return None;
    }
    let packages: std::collections::BTreeMap<String, String> = packages
        .iter()
        .filter_map(|change| Some((change.name.clone(), change.after.clone()?)))
        .collect();
    (!packages.is_empty()).then(|| BaselineRecord {
        os: report.os.clone(),
        packages,
    })
}

/// A dnf/yum command that failed: its complaint as `msg`, its output and exit code kept.
fn failed_result(step: &parse::Step, manager: &str) -> ModuleResult {
    #[derive(Serialize)]
    struct Failure<'a> {
        rc: i32,
        results: Vec<String>,
        stdout_lines: &'a [String],
        package_manager: &'a str,
    }
    ModuleResult::failed(format!(
        "{manager} {} failed (rc {}): {}",
        step.verb,
        step.rc,
        step.complaint()
    ))
    .with_data(&Failure {
        rc: step.rc,
        results: Vec::new(),
        stdout_lines: &step.output,
        package_manager: manager,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> DnfArgs {
        module_args::parse(&crate::vars::from_json(&serde_json::json!({"name": "a"})))
            .expect("valid args")
    }

    fn outcome_of(stdout: &str, check_mode: bool) -> Result<ModuleResult, ModuleError> {
        let report = parse::report(stdout).expect("well-formed report");
        outcome(&report, &args(), None, check_mode)
    }

    #[test]
    fn hosts_without_dnf_or_yum_and_held_locks_are_failures_that_say_so() {
        let none = outcome_of("@@rpatch:start\n@@rpatch:nopm\n", false).expect_err("no pm");
        assert_eq!(none.to_string(), "neither dnf nor yum is installed on this host");
        let locked = outcome_of("@@rpatch:start\n@@rpatch:pm yum\n@@rpatch:locked 42 30\n", false)
            .expect_err("locked");
        assert_eq!(
            locked.to_string(),
            "yum is locked by process 42: still held after 30s (lock_timeout 30)"
        );
    }

    #[test]
    fn a_declined_plan_is_not_a_failure_but_an_error_is() {
        let plan = "@@rpatch:start\n@@rpatch:pm dnf\n@@rpatch:before\n@@rpatch:end\n\
                    @@rpatch:plan install 1\nInstalling:\n a noarch 1-1 repo 1 k\n\
                    Transaction Summary\n@@rpatch:end\n@@rpatch:reboot 0 dnf\n";
        let result = outcome_of(plan, true).expect("result");
        assert!(result.changed && !result.failed, "{result:?}");
        assert_eq!(result.msg.as_deref(), Some("1 package(s) would change"));

        let error = "@@rpatch:start\n@@rpatch:pm dnf\n@@rpatch:before\n@@rpatch:end\n\
                     @@rpatch:plan install 1\nNo match for argument: a\n\
                     Error: Unable to find a match: a\n@@rpatch:end\n@@rpatch:reboot none\n";
        let result = outcome_of(error, false).expect("result");
        assert!(result.failed, "{result:?}");
        assert_eq!(
            result.msg.as_deref(),
            Some("dnf install failed (rc 1): No match for argument: a; Error: Unable to find a match: a")
        );
    }

    #[test]
    fn without_needs_restarting_reboot_required_is_false_with_a_warning() {
        let quiet = "@@rpatch:start\n@@rpatch:pm dnf\n@@rpatch:before\n@@rpatch:end\n\
                     @@rpatch:plan install 0\nNothing to do.\n@@rpatch:end\n@@rpatch:reboot none\n";
        let result = outcome_of(quiet, false).expect("result");
        assert!(!result.changed && !result.failed, "{result:?}");
        let value = crate::vars::to_json(&result.to_value());
        assert_eq!(value["reboot_required"], false);
        assert!(value["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("dnf-plugins-core")));
        let needed = quiet.replace("reboot none", "reboot 1 needs-restarting");
        let value = crate::vars::to_json(&outcome_of(&needed, false).expect("ok").to_value());
        assert_eq!(value["reboot_required"], true);
        assert!(value.get("warnings").is_none());
    }
}
