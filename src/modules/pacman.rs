//! `pacman` (community.general.pacman): install, upgrade and remove packages on Arch Linux
//! hosts with one POSIX sh script per call.
//!
//! Deciding comes before doing: each transaction is first run with `--print`, whose target
//! list is the plan (all check mode returns); only a plan with targets is applied, with
//! `--noconfirm`. The packages reported as changed come from `pacman -Qi` before and after, in
//! the same shape as `apt`/`dnf`/`zypper` (`name`, `arch`, `action`, `before`, `after`).
//! Arch has no reboot flag: `reboot_required` is true when a kernel package (`linux`,
//! `linux-lts`, `linux-zen`, `linux-hardened`, `linux-rt`, `linux-rt-lts`) changed, since the
//! running kernel's modules are then gone from disk.

mod args;
mod script;

use async_trait::async_trait;
use serde::Serialize;

use self::args::PacmanArgs;
use super::args::{self as module_args, ArgError};
use super::dnf::parse::{self, Action, Change, Installed, Planned, Report, Step};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// `pacman`: manage packages with pacman.
pub(crate) struct Pacman;

/// Arch's kernel packages: changing one means the host should reboot.
const KERNELS: &[&str] = &[
    "linux",
    "linux-lts",
    "linux-zen",
    "linux-hardened",
    "linux-rt",
    "linux-rt-lts",
];

#[async_trait]
impl Module for Pacman {
    fn names(&self) -> &'static [&'static str] {
        &["pacman", "community.general.pacman"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        module_args::validate::<PacmanArgs>(args, templated)?;
        if !templated {
            module_args::parse::<PacmanArgs>(args)?.request()?;
        }
        Ok(())
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: PacmanArgs = module_args::parse(args)?;
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

/// What `pacman` registers.
#[derive(Debug, Serialize)]
struct PacmanOutcome {
    /// Lines as the other package modules write them: `Upgraded: name-1.1-1.any`.
    results: Vec<String>,
    /// Each package changed (or that would change), with `before` and `after` versions.
    packages: Vec<Change>,
    /// A kernel package changed.
    reboot_required: bool,
    /// 0: every pacman command succeeded (a failure is a failed result with its own `rc`).
    rc: i32,
    /// Always `pacman`.
    package_manager: &'static str,
}

/// Turns the script's report into the task's result.
fn outcome(report: &Report, check_mode: bool) -> Result<ModuleResult, ModuleError> {
    if report.manager.is_none() {
        return Err(ModuleError::Failed(
            "pacman is not installed on this host".into(),
        ));
    }
    let mut plans = Vec::new();
    for step in &report.steps {
        if step.rc != 0 {
            return Ok(failed_result(step));
        }
        if step.phase == "plan" {
            plans.extend(targets(step, &report.before));
        }
    }
    let packages = match (&report.after, check_mode) {
        (_, true) => parse::planned_changes(&plans, &report.before),
        (Some(after), false) => parse::applied_changes(&report.before, after, &plans),
        (None, false) => Vec::new(),
    };
    let reboot_required = packages
        .iter()
        .any(|change| KERNELS.contains(&change.name.as_str()));
    let changed = !packages.is_empty();
    let msg = if changed && check_mode {
        format!("{} package(s) would change", packages.len())
    } else if changed {
        format!("{} package(s) changed", packages.len())
    } else if !report.steps.is_empty() && report.steps.iter().all(|s| s.phase == "cache") {
        "package databases refreshed".to_string()
    } else {
        "Nothing to do".to_string()
    };
    let record = super::PatchRecord {
        applied: changed.then_some(packages.len()),
        check_mode,
        reboot_required: Some(reboot_required),
        ..super::PatchRecord::default()
    };
    let outcome = PacmanOutcome {
        results: packages.iter().map(Change::line).collect(),
        packages,
        reboot_required,
        rc: 0,
        package_manager: "pacman",
    };
    let result = if changed {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    Ok(record.attach(result.with_data(&outcome).with_msg(msg)))
}

/// The targets of a `--print` plan (`name version location` lines): removals for `remove`,
/// otherwise installs, or upgrades/downgrades/reinstalls of what is installed. The arch comes
/// from the package file's name (`name-1.0-1-x86_64.pkg.tar.zst`), else from what is installed.
fn targets(step: &Step, before: &[Installed]) -> Vec<Planned> {
    step.output
        .iter()
        .filter(|line| !line.starts_with(script::STDERR))
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (name, version) = (words.next()?, words.next()?);
            let installed = before.iter().find(|p| p.name == name);
            let arch = words
                .next()
                .and_then(|location| location.rsplit('/').next())
                .and_then(|file| file.split_once(".pkg.tar").map(|(stem, _)| stem))
                .and_then(|stem| stem.rsplit('-').next())
                .map(str::to_string)
                .or_else(|| installed.map(|p| p.arch.clone()))
                .unwrap_or_else(|| "any".to_string());
            let action = match installed {
                _ if step.verb == "remove" => Action::Removed,
                None => Action::Installed,
                Some(p) if p.version == version => Action::Reinstalled,
                Some(p) if vercmp(version, &p.version).is_lt() => Action::Downgraded,
                Some(_) => Action::Upgraded,
            };
            Some(Planned {
                action,
                name: name.to_string(),
                arch,
                version: version.to_string(),
            })
        })
        .collect()
}

/// A rough version order for telling an upgrade from a downgrade in a plan: numeric runs
/// compared as numbers, the rest as text (pacman's own `vercmp` is the authority; the applied
/// result comes from what pacman then lists, whatever this says).
fn vercmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(v: &str) -> Vec<(u64, String)> {
        v.split(|c: char| !c.is_ascii_alphanumeric())
            .map(|part| (part.parse().unwrap_or(0), part.to_string()))
            .collect()
    }
    parts(a).cmp(&parts(b))
}

/// A pacman command that failed: its complaint as `msg`, its output and exit code kept.
fn failed_result(step: &Step) -> ModuleResult {
    #[derive(Serialize)]
    struct Failure<'a> {
        rc: i32,
        results: Vec<String>,
        stdout_lines: &'a [String],
        package_manager: &'static str,
    }
    let stderr: Vec<&str> = step
        .output
        .iter()
        .filter_map(|line| line.strip_prefix(script::STDERR))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let errors: Vec<&str> = stderr
        .iter()
        .copied()
        .filter(|line| line.starts_with("error:"))
        .collect();
    let complaint = if errors.is_empty() {
        stderr[stderr.len().saturating_sub(3)..].join("; ")
    } else {
        errors.join("; ")
    };
    ModuleResult::failed(format!(
        "pacman {} failed (rc {}): {complaint}",
        step.verb, step.rc
    ))
    .with_data(&Failure {
        rc: step.rc,
        results: Vec::new(),
        stdout_lines: &step.output,
        package_manager: "pacman",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome_of(stdout: &str, check_mode: bool) -> Result<ModuleResult, ModuleError> {
        let report = parse::report(stdout).expect("well-formed report");
        outcome(&report, check_mode)
    }

    #[test]
    fn plans_name_actions_and_arches_and_a_kernel_means_a_reboot() {
        let plan = "@@rpatch:start\n@@rpatch:pm pacman\n@@rpatch:before\n\
            linux x86_64 6.1-1\nvim x86_64 9.0-2\n@@rpatch:end\n@@rpatch:plan upgrade 0\n\
            linux 6.2-1 https://mirror/core/os/x86_64/linux-6.2-1-x86_64.pkg.tar.zst\n\
            vim 9.0-1 file:///r/vim-9.0-1-x86_64.pkg.tar.zst\n\
            new 1-1 file:///r/new-1-1-any.pkg.tar.zst\n! warning: something\n@@rpatch:end\n";
        let result = outcome_of(plan, true).expect("result");
        let value = crate::vars::to_json(&result.to_value());
        assert_eq!(
            value["results"],
            serde_json::json!([
                "Upgraded: linux-6.2-1.x86_64",
                "Downgraded: vim-9.0-1.x86_64",
                "Installed: new-1-1.any"
            ])
        );
        assert_eq!(value["packages"][0]["before"], "6.1-1");
        assert_eq!(value["reboot_required"], true);
        assert_eq!(result.msg.as_deref(), Some("3 package(s) would change"));
    }

    #[test]
    fn a_failed_command_names_pacmans_error_and_no_pacman_says_so() {
        let missing = "@@rpatch:start\n@@rpatch:pm pacman\n@@rpatch:before\n@@rpatch:end\n\
            @@rpatch:plan install 1\n! error: target not found: nope\n@@rpatch:end\n";
        let result = outcome_of(missing, false).expect("result");
        assert!(result.failed);
        assert_eq!(
            result.msg.as_deref(),
            Some("pacman install failed (rc 1): error: target not found: nope")
        );
        let none = outcome_of("@@rpatch:start\n@@rpatch:nopm\n", false).expect_err("none");
        assert_eq!(none.to_string(), "pacman is not installed on this host");
    }
}
