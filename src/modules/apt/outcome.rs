//! From the script's [`Report`] to the task's result: what changed, what `apt` registers, and
//! a clear message when it failed.

use serde::Serialize;

use super::args::{Action, Request};
use super::report::{Change, ChangeKind, Fatal, LockHolder, NewerThanBaseline, Report};
use crate::baseline::BaselineRecord;
use super::script;
use crate::modules::approval::HeldBack;
use crate::modules::ModuleResult;
use crate::transport::{ExecOutput, ExitStatus};

/// What an `apt` task registers (Ansible's keys plus the packages and the reboot state).
#[derive(Debug, Serialize)]
struct AptOutcome {
    /// The package lists were refreshed (or would be, in check mode).
    cache_updated: bool,
    /// The time of the last successful refresh, in epoch seconds.
    cache_update_time: i64,
    /// Each package changed (or, in check mode, that would change), old → new.
    packages: Vec<Change>,
    /// Held packages apt was kept from changing.
    held: Vec<String>,
    /// Packages of `exclude` apt was kept from changing.
    excluded: Vec<String>,
    /// `/var/run/reboot-required` exists.
    reboot_required: bool,
    /// The packages that asked for the reboot (`/var/run/reboot-required.pkgs`).
    reboot_required_pkgs: Vec<String>,
    stdout: String,
    stderr: String,
    stdout_lines: Vec<String>,
    stderr_lines: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lock_holders: Option<Vec<LockHolder>>,
    /// With `baseline`: installed packages newer than the baseline, left as they are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    newer_than_baseline: Vec<NewerThanBaseline>,
    /// With `approve`/`reject`: updates held back, with why and until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    held_back: Option<Vec<HeldBack>>,
}

/// Why an `apt` task failed on a host.
#[derive(Debug, thiserror::Error)]
enum AptFailure {
    #[error(
        "apt-get, apt-cache or dpkg-query is missing on the host: the apt module manages Debian \
         and Ubuntu hosts"
    )]
    NoApt,
    #[error("cannot create a temporary directory on the host (`mktemp -d` failed)")]
    NoTmp,
    #[error(
        "APT_CONFIG names a file that cannot be read; apt would silently use the system's \
         configuration instead, so nothing was run"
    )]
    BadAptConfig,
    #[error("changing packages needs root: run the task with `become: true`")]
    NotRoot,
    #[error(
        "security_only: apt knows no `*-security` suite (no `a=` or `n=` ending in `-security` \
         in `apt-cache policy`), so no update can be told to be a security update; add the \
         security suite to apt's sources or drop security_only"
    )]
    NoSecuritySuite,
    #[error("apt-get update failed (exit {rc}){detail}")]
    Update { rc: i32, detail: String },
    #[error("apt-get cannot plan `{step}` (exit {rc}){detail}")]
    Plan {
        step: String,
        rc: i32,
        detail: String,
    },
    #[error("`apt-get {step}` failed (exit {rc}){detail}")]
    Apply {
        step: String,
        rc: i32,
        detail: String,
    },
    #[error("apt's lock was still held when lock_timeout ({timeout} s) ran out: {holders}")]
    LockTimeout { timeout: u64, holders: String },
    #[error("the apt script stopped early ({how}){detail}")]
    Incomplete { how: String, detail: String },
    #[error(
        "the baseline has no packages for this host's release `{0}`: it was recorded on other \
         releases (see `rpatch baseline show`)"
    )]
    BaselineOs(String),
    #[error(
        "the baseline's {0} {1} is not available from this host's repositories any more: \
         nothing was changed"
    )]
    BaselineMissing(String, String),
    #[error("the apt script reported `{0}`, which this rpatch does not know")]
    Unknown(String),
}

/// The `E:` lines of apt's standard error (or its last line), as `: …` for a message; each
/// once, as retried commands repeat them.
fn detail(stderr: &str) -> String {
    let mut errors: Vec<&str> = Vec::new();
    for line in stderr.lines().map(str::trim) {
        if line.starts_with("E:") && !errors.contains(&line) {
            errors.push(line);
        }
    }
    let text = if errors.is_empty() {
        stderr
            .lines()
            .map(str::trim)
            .rfind(|line| !line.is_empty())
            .unwrap_or_default()
            .to_string()
    } else {
        errors.join(" ")
    };
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// Who held the lock, from the script's `/proc/locks` reading or else apt's own words.
fn holders(report: &Report, stderr: &str) -> String {
    if !report.lock_holders.is_empty() {
        return report
            .lock_holders
            .iter()
            .map(|holder| {
                let command = if holder.command.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", holder.command)
                };
                format!("{} is held by process {}{command}", holder.path, holder.pid)
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    // apt's "Could not get lock /path. It is held by process 123 (name)".
    stderr
        .lines()
        .chain(report.stdout().lines())
        .filter_map(|line| line.find("Could not get lock ").map(|at| &line[at..]))
        .map(|text| text.trim_end_matches("...").to_string())
        .next_back()
        .unwrap_or_else(|| detail(stderr).trim_start_matches(": ").to_string())
}

/// Builds the task's result from the script's output.
pub fn result(
    request: &Request,
    report: &Report,
    output: &ExecOutput,
    check_mode: bool,
) -> ModuleResult {
    let stderr = output.stderr_text();
    let step = script::step(request).unwrap_or_default();
    // In a real run, report what dpkg shows was done; in check mode, what would be.
    let packages: Vec<Change> = if check_mode || report.applied.is_none() {
        if check_mode {
            report.plan.clone()
        } else {
            Vec::new()
        }
    } else {
        report
            .plan
            .iter()
            .filter(|change| {
                report
                    .after
                    .iter()
                    .find(|after| after.name == change.name)
                    .is_some_and(|after| change.done_in(after))
            })
            .cloned()
            .collect()
    };
    let cache_updated = report.cache_updated || (check_mode && report.cache_would_update);
    let changed = match request.action {
        Action::Nothing => cache_updated,
        _ => !packages.is_empty(),
    } || report.cleaned
        || report.autocleaned > 0;
    let frozen = |reason: &str| {
        report
            .frozen
            .iter()
            .filter(|frozen| frozen.reason == reason)
            .map(|frozen| frozen.name.clone())
            .collect::<Vec<_>>()
    };
    let mut held = frozen("hold");
    for kept in &report.kept {
        if !held.contains(kept) {
            held.push(kept.clone());
        }
    }
    let failure = failure(request, report, output, &stderr, &step);
    let data = AptOutcome {
        cache_updated,
        cache_update_time: report.cache_time,
        held,
        excluded: frozen("exclude"),
        reboot_required: report.reboot_required,
        reboot_required_pkgs: report.reboot_pkgs.clone(),
        stdout_lines: report.stdout().lines().map(str::to_string).collect(),
        stderr_lines: stderr.lines().map(str::to_string).collect(),
        stdout: report.stdout().to_string(),
        stderr: stderr.clone(),
        lock_holders: report
            .lock_timeout
            .then(|| report.lock_holders.clone())
            .filter(|holders| !holders.is_empty()),
        packages,
        newer_than_baseline: report.newer_than_baseline.clone(),
        held_back: request.approval.as_ref().map(|approval| {
            report
                .held_back
                .iter()
                .filter_map(|words| {
                    let words: Vec<&str> = words.iter().map(String::as_str).collect();
                    HeldBack::from_words(&words, Some(approval))
                })
                .collect()
        }),
    };
    let mut summary = summary(&data.packages, check_mode, changed, cache_updated);
    if let Some(held) = data.held_back.as_ref().filter(|held| !held.is_empty()) {
        let each: Vec<String> = held.iter().map(HeldBack::describe).collect();
        summary.push_str(&format!("; held back: {}", each.join(", ")));
    }
    let record = crate::modules::PatchRecord {
        applied: (!data.packages.is_empty()).then_some(data.packages.len()),
        check_mode,
        reboot_required: Some(report.reboot_required),
        ..crate::modules::PatchRecord::default()
    };
    let mut result = record.attach(
        ModuleResult {
            changed,
            ..ModuleResult::default()
        }
        .with_data(&data),
    );
    if let Some(record) = installed(&data.packages, report, check_mode) {
        result.keep_in_journal(BaselineRecord::KEY, record.to_journal());
    }
    match failure {
        Some(failure) => {
            result.failed = true;
            result.with_msg(failure.to_string())
        }
        None => result.with_msg(summary),
    }
}

/// What a real run installed, for the run's baseline (see [`crate::baseline`]).
fn installed(packages: &[Change], report: &Report, check_mode: bool) -> Option<BaselineRecord> {
    if check_mode || report.os.is_empty() {
        return None;
    }
    let packages: std::collections::BTreeMap<String, String> = packages
        .iter()
        .filter(|change| !matches!(change.action, ChangeKind::Remove | ChangeKind::Purge))
        .filter_map(|change| Some((change.name.clone(), change.new.clone()?)))
        .collect();
    (!packages.is_empty()).then(|| BaselineRecord {
        os: report.os.clone(),
        packages,
    })
}

/// The first thing that went wrong, if anything did.
fn failure(
    request: &Request,
    report: &Report,
    output: &ExecOutput,
    stderr: &str,
    step: &str,
) -> Option<AptFailure> {
    if report.lock_timeout {
        return Some(AptFailure::LockTimeout {
            timeout: request.lock_timeout,
            holders: holders(report, stderr),
        });
    }
    if let Some(fatal) = &report.fatal {
        return Some(match fatal {
            Fatal::NoApt => AptFailure::NoApt,
            Fatal::NoTmp => AptFailure::NoTmp,
            Fatal::BadAptConfig => AptFailure::BadAptConfig,
            Fatal::NotRoot => AptFailure::NotRoot,
            Fatal::NoSecuritySuite => AptFailure::NoSecuritySuite,
            Fatal::Update(rc) => AptFailure::Update {
                rc: *rc,
                detail: detail(stderr),
            },
            Fatal::Plan(rc) => AptFailure::Plan {
                step: step.to_string(),
                rc: *rc,
                detail: detail(stderr),
            },
            Fatal::Apply(rc) => AptFailure::Apply {
                step: step.to_string(),
                rc: *rc,
                detail: detail(stderr),
            },
            Fatal::Cleanup(word, rc) => AptFailure::Apply {
                step: word.clone(),
                rc: *rc,
                detail: detail(stderr),
            },
            Fatal::BaselineOs(os) => AptFailure::BaselineOs(os.clone()),
            Fatal::BaselineMissing(name, version) => {
                AptFailure::BaselineMissing(name.clone(), version.clone())
            }
            Fatal::Other(word) => AptFailure::Unknown(word.clone()),
        });
    }
    if !report.complete {
        let how = match output.status {
            ExitStatus::TimedOut => "the command timed out".to_string(),
            ExitStatus::Signal(signal) => format!("killed by signal {signal}"),
            ExitStatus::Code(code) if output.truncated => {
                format!("exit {code}, output cut at the size limit")
            }
            ExitStatus::Code(code) => format!("exit {code}"),
        };
        let why = crate::transport::escalation_failure(stderr)
            .map(|why| format!(": {why}"))
            .unwrap_or_else(|| detail(stderr));
        return Some(AptFailure::Incomplete { how, detail: why });
    }
    None
}

/// A one-line account: `2 upgraded, 1 newly installed, 0 removed`.
fn summary(packages: &[Change], check_mode: bool, changed: bool, cache_updated: bool) -> String {
    let count = |kinds: &[ChangeKind]| {
        packages
            .iter()
            .filter(|change| kinds.contains(&change.action))
            .count()
    };
    let upgraded = count(&[ChangeKind::Upgrade]);
    let installed = count(&[ChangeKind::Install]);
    let removed = count(&[ChangeKind::Remove, ChangeKind::Purge]);
    let other = count(&[ChangeKind::Downgrade, ChangeKind::Reinstall]);
    let mut text = if packages.is_empty() {
        if changed && cache_updated {
            "package lists updated".to_string()
        } else {
            "nothing to do".to_string()
        }
    } else {
        let mut text =
            format!("{upgraded} upgraded, {installed} newly installed, {removed} removed");
        if other > 0 {
            text.push_str(&format!(", {other} downgraded or reinstalled"));
        }
        text
    };
    if check_mode && changed {
        text = format!("check mode, nothing changed: would have {text}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::apt::report;
    use crate::modules::args;
    use crate::vars::{self, Value};

    fn request(json: serde_json::Value) -> Request {
        args::parse::<Request>(&vars::from_json(&json)).expect("valid request")
    }

    fn output(stdout: &str, stderr: &str) -> ExecOutput {
        ExecOutput {
            status: ExitStatus::Code(0),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            truncated: false,
        }
    }

    fn run(json: serde_json::Value, stdout: &str, stderr: &str, check: bool) -> ModuleResult {
        let out = output(stdout, stderr);
        result(&request(json), &report::parse(stdout), &out, check)
    }

    fn field(result: &ModuleResult, key: &str) -> Value {
        result.data.get(key).cloned().unwrap_or_default()
    }

    const UPGRADED: &str = "\
::rpatch-apt:: cache-time 17
::rpatch-apt:: begin plan
Inst rpatch-testpkg [1.0] (1.1 rpatch-test:stable [all])
::rpatch-apt:: end plan 0
::rpatch-apt:: begin apply
::rpatch-apt:: end apply 0
::rpatch-apt:: begin after
rpatch-testpkg|ii |1.1
::rpatch-apt:: end after
::rpatch-apt:: done
";

    #[test]
    fn an_applied_upgrade_is_a_change_with_old_and_new_versions() {
        let result = run(serde_json::json!({"upgrade": "dist"}), UPGRADED, "", false);
        assert!(result.changed && !result.failed, "{result:?}");
        assert_eq!(
            result.msg.as_deref(),
            Some("1 upgraded, 0 newly installed, 0 removed")
        );
        let packages = vars::to_json(&field(&result, "packages"));
        assert_eq!(
            packages,
            serde_json::json!([{
                "name": "rpatch-testpkg", "action": "upgrade", "before": "1.0", "after": "1.1",
                "origin": "rpatch-test:stable", "security": false
            }])
        );
        assert_eq!(vars::to_json(&field(&result, "cache_update_time")), 17);
    }

    #[test]
    fn a_plan_that_dpkg_does_not_confirm_is_not_reported_as_done() {
        let stdout = UPGRADED.replace("rpatch-testpkg|ii |1.1", "rpatch-testpkg|ii |1.0");
        let result = run(serde_json::json!({"upgrade": "dist"}), &stdout, "", false);
        assert!(!result.changed);
    }

    #[test]
    fn check_mode_reports_the_plan_as_a_change() {
        let stdout = "::rpatch-apt:: cache-would-update\n::rpatch-apt:: begin plan\n\
                      Inst x1 [1.0] (1.1 o:stable [all])\n::rpatch-apt:: end plan 0\n\
                      ::rpatch-apt:: done\n";
        let result = run(
            serde_json::json!({"upgrade": "dist", "update_cache": true}),
            stdout,
            "",
            true,
        );
        assert!(result.changed);
        assert_eq!(
            result.msg.as_deref(),
            Some(
                "check mode, nothing changed: would have 1 upgraded, 0 newly installed, 0 removed"
            )
        );
        assert_eq!(vars::to_json(&field(&result, "cache_updated")), true);
    }

    #[test]
    fn only_a_cache_update_changes_when_nothing_else_was_asked() {
        let stdout = "::rpatch-apt:: cache-updated\n::rpatch-apt:: done\n";
        let alone = run(serde_json::json!({"update_cache": true}), stdout, "", false);
        assert!(alone.changed);
        let with_upgrade = run(
            serde_json::json!({"update_cache": true, "upgrade": "dist"}),
            stdout,
            "",
            false,
        );
        assert!(!with_upgrade.changed, "as Ansible: the upgrade decides");
    }

    #[test]
    fn a_lock_held_too_long_names_the_holder() {
        let stdout = "::rpatch-apt:: lock-timeout\n\
                      ::rpatch-apt:: lock-holder\t/var/lib/dpkg/lock-frontend\t77\tperl\n\
                      ::rpatch-apt:: done\n";
        let result = run(
            serde_json::json!({"name": "curl", "lock_timeout": 2}),
            stdout,
            "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend)\n",
            false,
        );
        assert!(result.failed);
        assert_eq!(
            result.msg.as_deref(),
            Some(
                "apt's lock was still held when lock_timeout (2 s) ran out: \
                 /var/lib/dpkg/lock-frontend is held by process 77 (perl)"
            )
        );
        let fallback = run(
            serde_json::json!({"update_cache": true}),
            "::rpatch-apt:: lock-timeout\n::rpatch-apt:: done\n",
            "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 9 (apt-get)\n",
            false,
        );
        assert!(fallback.msg.as_deref().is_some_and(|msg| msg.ends_with(
            "Could not get lock /var/lib/apt/lists/lock. It is held by process 9 (apt-get)"
        )));
    }

    #[test]
    fn failures_carry_apts_error_lines() {
        let result = run(
            serde_json::json!({"name": "nosuchpkg"}),
            "::rpatch-apt:: fatal plan 100\n::rpatch-apt:: done\n",
            "W: something\nE: Unable to locate package nosuchpkg\nE: Unable to locate package nosuchpkg\n",
            false,
        );
        assert!(result.failed);
        assert_eq!(
            result.msg.as_deref(),
            Some("apt-get cannot plan `install` (exit 100): E: Unable to locate package nosuchpkg")
        );
        let cut = run(
            serde_json::json!({"upgrade": "dist"}),
            "::rpatch-apt:: begin plan\n",
            "",
            false,
        );
        assert_eq!(
            cut.msg.as_deref(),
            Some("the apt script stopped early (exit 0)")
        );
        let no_suite = run(
            serde_json::json!({"security_only": true}),
            "::rpatch-apt:: fatal no-security-suite\n::rpatch-apt:: done\n",
            "",
            false,
        );
        assert!(no_suite
            .msg
            .as_deref()
            .is_some_and(|msg| msg.starts_with("security_only: apt knows no `*-security` suite")));
    }
}
