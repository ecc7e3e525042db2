//! `zypper` (community.general.zypper): install, upgrade, patch and remove packages on SLES
//! and openSUSE hosts with one POSIX sh script per call.
//!
//! Deciding comes before doing: each transaction is first run with `--dry-run --xmlout` and
//! the install summary it prints is the plan (all check mode returns); only a plan that
//! changes something is applied. The packages reported as changed come from `rpm -qa` before
//! and after, in the same shape as `apt`/`dnf` (`name`, `arch`, `action`, `before`, `after`);
//! patches applied (or that would be) are listed by id. `reboot_required` is
//! `zypper needs-rebooting` (exit 102: libzypp flagged `/run/reboot-needed` after installing a
//! package that needs a reboot, such as a kernel), else that flag file itself on zyppers too
//! old for the command, or a `zypper patch` that answered 102.
//!
//! Security-only patching is Ansible's idiom: `name: '*'`, `state: latest`, `type: patch`,
//! `extra_args: --category security`.

/// Also `pacman`'s option words.
pub(super) mod args;
mod script;
/// Also `zypper_repository`'s: zypper's XML output.
pub(super) mod xml;

use async_trait::async_trait;
use serde::Serialize;

use self::args::ZypperArgs;
use super::args::{self as module_args, ArgError};
use super::dnf::parse::{self, Change, Planned, Report, Step};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// `zypper`: manage packages and patches with zypper.
pub(crate) struct Zypper;

#[async_trait]
impl Module for Zypper {
    fn names(&self) -> &'static [&'static str] {
        &["zypper", "community.general.zypper"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        module_args::validate::<ZypperArgs>(args, templated)?;
        if !templated {
            module_args::parse::<ZypperArgs>(args)?.request()?;
        }
        Ok(())
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: ZypperArgs = module_args::parse(args)?;
        let request = args.request()?;
        let output = ctx
            .exec(script::script(&args, &request, ctx.check_mode))
            .await?;
        let report = parse::report(&output.stdout_text()).map_err(|error| {
            let stderr = output.stderr_text();
            ModuleError::Failed(format!("{error} {}", stderr.trim()).trim().to_string())
        })?;
        outcome(&report, ctx.check_mode)
    }
}

/// What `zypper` registers.
#[derive(Debug, Serialize)]
struct ZypperOutcome {
    /// Ansible-style lines: `Upgraded: name-1.1-1.noarch`.
    results: Vec<String>,
    /// Each package changed (or that would change), with `before` and `after` versions.
    packages: Vec<Change>,
    /// The patches installed (or that would be), by id.
    patches: Vec<String>,
    /// The host needs a reboot to run what is installed.
    reboot_required: bool,
    /// 0, or the non-failing code zypper ended with (102, 103, 106).
    rc: i32,
    /// Always `zypper`.
    package_manager: &'static str,
    /// What the user should know but did not fail the task.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// Turns the script's report into the task's result.
fn outcome(report: &Report, check_mode: bool) -> Result<ModuleResult, ModuleError> {
    if report.manager.is_none() {
        return Err(ModuleError::Failed(
            "zypper is not installed on this host".into(),
        ));
    }
    let mut plans = Vec::new();
    let mut patches = Vec::new();
    let mut warnings = Vec::new();
    let mut rc = 0;
    let mut patch_wants_reboot = false;
    for step in &report.steps {
        let read = xml::read(&step.output);
        let failed = match step.phase.as_str() {
            "cache" => step.rc != 0,
            _ => !script::SUCCESS_CODES.contains(&step.rc),
        };
        if failed {
            return Ok(failed_result(step, &read));
        }
        if step.rc == 106 {
            let skipped: Vec<&str> = read.messages_of("warning").collect();
            warnings.push(format!(
                "zypper skipped a repository: {}",
                skipped.join("; ").split_whitespace().collect::<Vec<_>>().join(" ")
            ));
        }
        if step.phase == "apply" {
            patch_wants_reboot |= step.rc == 102;
            // 103 asks for the same command again, which the script did.
            if step.rc != 103 {
                rc = step.rc;
            }
        }
        if step.phase == "plan" {
            for solvable in &read.solvables {
                if solvable.kind == "package" {
                    plans.push(Planned {
                        action: solvable.action,
                        name: solvable.name.clone(),
                        arch: solvable.arch.clone(),
                        version: solvable.edition.clone(),
                    });
                } else if solvable.kind == "patch" && !patches.contains(&solvable.name) {
                    patches.push(solvable.name.clone());
                }
            }
        }
    }
    let packages = match (&report.after, check_mode) {
        (_, true) => parse::planned_changes(&plans, &report.before),
        (Some(after), false) => parse::applied_changes(&report.before, after, &plans),
        (None, false) => Vec::new(),
    };
    if !check_mode && report.after.is_none() {
        patches.clear();
    }
    let reboot_required =
        patch_wants_reboot || report.reboot.as_ref().is_some_and(|(code, _)| *code == 1);
    let changed = !packages.is_empty() || !patches.is_empty();
    let would = if check_mode { "would change" } else { "changed" };
    let msg = if changed && patches.is_empty() {
        format!("{} package(s) {would}", packages.len())
    } else if changed {
        format!(
            "{} package(s) {would}, {} patch(es) {}",
            packages.len(),
            patches.len(),
            if check_mode {
                "would be installed"
            } else {
                "installed"
            }
        )
    } else if !report.steps.is_empty() && report.steps.iter().all(|s| s.phase == "cache") {
        "repositories refreshed".to_string()
    } else {
        "Nothing to do.".to_string()
    };
    let record = super::PatchRecord {
        applied: changed.then_some(packages.len()),
        check_mode,
        reboot_required: Some(reboot_required),
        ..super::PatchRecord::default()
    };
    let outcome = ZypperOutcome {
        results: packages.iter().map(Change::line).collect(),
        packages,
        patches,
        reboot_required,
        rc,
        package_manager: "zypper",
        warnings,
    };
    let result = if changed {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    Ok(record.attach(result.with_data(&outcome).with_msg(msg)))
}

/// A zypper command that failed: its complaint as `msg`, its output and exit code kept.
fn failed_result(step: &Step, read: &xml::Output) -> ModuleResult {
    #[derive(Serialize)]
    struct Failure<'a> {
        rc: i32,
        results: Vec<String>,
        stdout_lines: &'a [String],
        package_manager: &'static str,
    }
    ModuleResult::failed(format!(
        "zypper {} failed (rc {}): {}",
        step.verb,
        step.rc,
        read.complaint()
    ))
    .with_data(&Failure {
        rc: step.rc,
        results: Vec::new(),
        stdout_lines: &step.output,
        package_manager: "zypper",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome_of(stdout: &str, check_mode: bool) -> Result<ModuleResult, ModuleError> {
        let report = parse::report(stdout).expect("well-formed report");
        outcome(&report, check_mode)
    }

    const PLAN: &str = "@@rpatch:start\n@@rpatch:pm zypper\n@@rpatch:before\n\
        a noarch 1.0-1\n@@rpatch:end\n@@rpatch:plan patch 0\n<?xml version='1.0'?>\n<stream>\n\
        <install-summary>\n<to-upgrade>\n\
        <solvable type=\"package\" name=\"a\" edition=\"1.1-1\" arch=\"noarch\" edition-old=\"1.0-1\"/>\n\
        </to-upgrade>\n<to-install>\n\
        <solvable type=\"patch\" name=\"SA-1\" edition=\"1\" arch=\"noarch\"/>\n\
        </to-install>\n</install-summary>\n</stream>\n@@rpatch:end\n";

    #[test]
    fn a_host_without_zypper_fails_saying_so() {
        let none = outcome_of("@@rpatch:start\n@@rpatch:nopm\n", false).expect_err("no zypper");
        assert_eq!(none.to_string(), "zypper is not installed on this host");
    }

    #[test]
    fn check_mode_reports_the_plans_packages_and_patches() {
        let report = format!("{PLAN}@@rpatch:reboot 0 zypper\n");
        let result = outcome_of(&report, true).expect("result");
        assert!(result.changed && !result.failed, "{result:?}");
        assert_eq!(
            result.msg.as_deref(),
            Some("1 package(s) would change, 1 patch(es) would be installed")
        );
        let value = crate::vars::to_json(&result.to_value());
        assert_eq!(value["packages"][0]["before"], "1.0-1");
        assert_eq!(value["packages"][0]["after"], "1.1-1");
        assert_eq!(value["patches"], serde_json::json!(["SA-1"]));
    }

    #[test]
    fn a_patch_answering_102_means_a_reboot_and_104_is_a_failure() {
        let applied = format!(
            "{PLAN}@@rpatch:apply patch 102\n<?xml version='1.0'?>\n<stream>\n</stream>\n\
             @@rpatch:end\n@@rpatch:after\na noarch 1.1-1\n@@rpatch:end\n\
             @@rpatch:reboot 0 reboot-needed\n"
        );
        let value = crate::vars::to_json(&outcome_of(&applied, false).expect("ok").to_value());
        assert_eq!(value["reboot_required"], true);
        assert_eq!(value["rc"], 102);
        assert_eq!(value["results"], serde_json::json!(["Upgraded: a-1.1-1.noarch"]));

        let missing = "@@rpatch:start\n@@rpatch:pm zypper\n@@rpatch:before\n@@rpatch:end\n\
            @@rpatch:plan install 104\n<?xml version='1.0'?>\n<stream>\n\
            <message type=\"error\">No provider of &apos;nope&apos; found.</message>\n</stream>\n\
            @@rpatch:end\n@@rpatch:reboot 0 zypper\n";
        let result = outcome_of(missing, false).expect("result");
        assert!(result.failed);
        assert_eq!(
            result.msg.as_deref(),
            Some("zypper install failed (rc 104): No provider of 'nope' found.")
        );
    }
}
