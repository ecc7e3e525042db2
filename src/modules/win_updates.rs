//! `win_updates` over OpenSSH for Windows, with the arguments of Ansible's
//! `ansible.windows.win_updates`: search, download or install updates through the Windows
//! Update Agent API (`state: searched|downloaded|installed`), filtered by `category_names`,
//! `accept_list` and `reject_list`, from the server `server_selection` names, then optionally
//! reboot (`reboot`, `reboot_timeout`).
//!
//! The API refuses network logons such as SSH, so the work runs in a scheduled task as SYSTEM
//! that rpatch starts and then polls ([`scripts`]); its JSON report becomes the result
//! ([`report`]). In check mode the task only searches and reports whether anything would be
//! installed. `trigger_only: true` instead just asks the agent to act on its own ([`trigger`]),
//! for WSUS-driven shops. Every script travels as `-EncodedCommand`.

mod category;
mod report;
mod scripts;
mod trigger;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::lenient;
use super::powershell::{check_context, run_script};
use super::win_reboot::{reboot_and_wait, RebootError, WinRebootArgs};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::TransportError;
use crate::vars::Value;

/// Arguments of `win_updates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WinUpdatesArgs {
    /// `installed` (default, as Ansible), `downloaded` or `searched`.
    #[serde(default)]
    state: UpdateState,
    /// Classifications to consider (default: critical, security, update rollups; `*`: all).
    #[serde(default)]
    category_names: Option<category::Categories>,
    /// KB ids or title regexes; only matching updates are considered.
    #[serde(
        default,
        alias = "whitelist",
        deserialize_with = "lenient::word_list"
    )]
    accept_list: Vec<String>,
    /// KB ids or title regexes to leave out.
    #[serde(
        default,
        alias = "blacklist",
        deserialize_with = "lenient::word_list"
    )]
    reject_list: Vec<String>,
    /// Accepted for compatibility and ignored: rpatch keeps the job's report in the result
    /// (and the journal), not in a log file on the host.
    #[serde(default)]
    log_path: Option<String>,
    /// Which update server to ask.
    #[serde(default)]
    server_selection: ServerSelection,
    /// Reboot when an installed update needs it.
    #[serde(default, deserialize_with = "lenient::bool")]
    reboot: bool,
    /// Seconds the host may take to come back from that reboot.
    #[serde(default = "default_reboot_timeout", deserialize_with = "lenient::whole")]
    reboot_timeout: u64,
    /// Only ask the Windows Update agent to act (WSUS-driven), see [`trigger`].
    #[serde(default, deserialize_with = "lenient::bool")]
    trigger_only: bool,
    /// rpatch only: seconds between two polls of the scheduled task.
    #[serde(default = "default_poll_interval", deserialize_with = "lenient::whole")]
    poll_interval: u64,
    /// rpatch only: seconds the scheduled task may run before it is given up on.
    #[serde(default = "default_task_timeout", deserialize_with = "lenient::whole")]
    task_timeout: u64,
    /// rpatch only: install exactly the KBs a recorded baseline holds for the host's release
    /// (a run id, `latest` or a file), nothing else.
    #[serde(default)]
    baseline: Option<String>,
}

fn default_reboot_timeout() -> u64 {
    1200
}
fn default_poll_interval() -> u64 {
    10
}
fn default_task_timeout() -> u64 {
    4 * 3600
}

/// How far to go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum UpdateState {
    Searched,
    Downloaded,
    #[default]
    Installed,
}

impl UpdateState {
    fn word(self) -> &'static str {
        match self {
            Self::Searched => "searched",
            Self::Downloaded => "downloaded",
            Self::Installed => "installed",
        }
    }
}

/// `IUpdateSearcher.ServerSelection`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ServerSelection {
    /// The machine's configured source (WSUS if set by policy, else Windows Update).
    #[default]
    Default,
    /// The WSUS server the machine is configured for.
    ManagedServer,
    /// Windows Update, even on a WSUS-managed machine.
    WindowsUpdate,
}

impl ServerSelection {
    /// The `ServerSelection` enum value: ssDefault 0, ssManagedServer 1, ssWindowsUpdate 2.
    fn code(self) -> u8 {
        match self {
            Self::Default => 0,
            Self::ManagedServer => 1,
            Self::WindowsUpdate => 2,
        }
    }
}

/// The limit of one start or poll script.
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);

/// `win_updates`: search, download or install Windows updates.
pub(crate) struct WinUpdates;

#[async_trait]
impl Module for WinUpdates {
    fn names(&self) -> &'static [&'static str] {
        &["win_updates", "ansible.windows.win_updates"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<WinUpdatesArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let mut args: WinUpdatesArgs = args::parse(args)?;
        if args.baseline.is_some() && !args.accept_list.is_empty() {
            return Err(ModuleError::Failed(
                "`baseline` installs exactly the baseline's KBs; it cannot be combined with \
                 `accept_list`"
                    .into(),
            ));
        }
        // A later stage's run: what the previous stage installed, nothing newer.
        if args.baseline.is_none() && args.accept_list.is_empty() && !args.trigger_only {
            args.baseline = crate::stages::stage_baseline(ctx.scope);
        }
        let warnings = args::ignored("win_updates", &[("log_path", args.log_path.is_some())]);
        check_context(ctx)?;
        if args.trigger_only {
            if ctx.check_mode {
                return Ok(ModuleResult::skipped(
                    "win_updates with trigger_only does not support check mode",
                ));
            }
            let limit = ctx.timeout.unwrap_or(Duration::from_secs(300));
            let result = run_script(ctx, &trigger::script(args.state), limit).await?;
            return trigger::outcome(&result)
                .map(|result| result.with_warnings(warnings))
                .map_err(ModuleError::Failed);
        }
        run_job(&args, ctx)
            .await
            .map(|result| result.with_warnings(warnings))
    }
}

/// A job name unique enough for one host: time and process.
fn job_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("rpatch-wu-{:x}-{:x}", nanos, std::process::id())
}

/// The scheduled-task run: start, poll until the report, reboot if asked and needed.
async fn run_job(args: &WinUpdatesArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let baseline = match &args.baseline {
        Some(reference) => {
            let found = super::apt::find_baseline(reference).map_err(ModuleError::Failed)?;
            Some(
                found
                    .systems
                    .iter()
                    .filter(|(os, _)| os.starts_with("windows-"))
                    .map(|(os, system)| (os.clone(), system.packages.keys().cloned().collect()))
                    .collect(),
            )
        }
        None => None,
    };
    let state = if ctx.check_mode {
        UpdateState::Searched
    } else {
        args.state
    };
    let job = scripts::Job {
        job: job_name(),
        state: state.word(),
        categories: args
            .category_names
            .as_ref()
            .map(|c| c.0.clone())
            .unwrap_or_else(category::default_categories),
        accept: args.accept_list.clone(),
        reject: args.reject_list.clone(),
        server_selection: args.server_selection.code(),
        baseline,
    };
    let worker = scripts::worker(&job);
    let started = run_script(ctx, &scripts::start(&job, &worker, args.task_timeout), SCRIPT_LIMIT).await?;
    if started["status"] != "started" {
        return Err(ModuleError::Failed(format!(
            "could not start the Windows Update task as SYSTEM: {}",
            started["error"].as_str().unwrap_or("no reason given")
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(args.task_timeout + 60);
    let report = loop {
        tokio::time::sleep(Duration::from_secs(args.poll_interval)).await;
        let status = match run_script(ctx, &scripts::poll(&job.job), SCRIPT_LIMIT).await {
            Ok(status) => status,
            // The connection dropped (the job goes on as SYSTEM): connect again and keep
            // polling until the deadline; a host key or login refused ends the wait.
            Err(ModuleError::Transport(error)) if Instant::now() < deadline => {
                ctx.transport.close().await;
                let retry_until = deadline.min(Instant::now() + SCRIPT_LIMIT);
                match ctx.transport.reconnect(retry_until).await {
                    Err(e @ (TransportError::HostKey(_) | TransportError::Auth(_))) => {
                        return Err(e.into())
                    }
                    _ => {
                        tracing::debug!("win_updates: poll failed ({error}), polling again");
                        continue;
                    }
                }
            }
            Err(error) => return Err(error),
        };
        match status["status"].as_str() {
            Some("running") if Instant::now() < deadline => continue,
            Some("running") => {
                return Err(ModuleError::Failed(format!(
                    "the Windows Update task {}{} still runs after {} s; it goes on on the host",
                    scripts::TASK_PATH,
                    job.job,
                    args.task_timeout
                )))
            }
            Some("done") => break report::Report::parse(&status["report"]).map_err(ModuleError::Failed)?,
            Some("ended") => {
                let code = status["last_task_result"].as_i64().unwrap_or_default();
                return Err(ModuleError::Failed(format!(
                    "the Windows Update task ended without a report (last result {})",
                    report::hex(code)
                )));
            }
            _ => {
                return Err(ModuleError::Failed(format!(
                    "the Windows Update task {}{} disappeared without a report",
                    scripts::TASK_PATH,
                    job.job
                )))
            }
        }
    };
    if report.baseline_os_missing {
        return Err(ModuleError::Failed(format!(
            "the baseline has no updates for this host's release `{}`: it was recorded on other \
             releases (see `rpatch baseline show`)",
            report.os.as_deref().unwrap_or("unknown")
        )));
    }
    if ctx.check_mode {
        let would = args.state != UpdateState::Searched && report.found_count() > 0;
        return Ok(report.outcome(would, false));
    }
    let record = report.installed_record();
    let keep = |mut result: ModuleResult| {
        if let Some(record) = &record {
            result.keep_in_journal(crate::baseline::BaselineRecord::KEY, record.to_journal());
        }
        result
    };
    let mut rebooted = false;
    if args.reboot && report.reboot_required && report.installed_any() && !report.failed_any() {
        match reboot_and_wait(ctx, &WinRebootArgs::with_timeout(args.reboot_timeout)).await {
            Ok(()) => rebooted = true,
            Err(RebootError::NotStarted(message) | RebootError::NotBack(message)) => {
                let mut result = report.outcome(false, false);
                result.failed = true;
                result.msg = Some(format!("updates installed, but the reboot failed: {message}"));
                return Ok(keep(result));
            }
        }
    }
    Ok(keep(report.outcome(false, rebooted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Result<WinUpdatesArgs, ArgError> {
        args::parse(&crate::vars::from_json(&json))
    }

    #[test]
    fn whitelist_and_blacklist_are_ansibles_old_names_of_the_lists() {
        let args = parse(serde_json::json!({"whitelist": "KB1,KB2", "blacklist": ["KB3"]}))
            .expect("old names");
        assert_eq!(args.accept_list, ["KB1", "KB2"]);
        assert_eq!(args.reject_list, ["KB3"]);
    }

    #[test]
    fn win_updates_arguments_follow_ansible() {
        let args = parse(serde_json::json!({})).expect("defaults");
        assert_eq!(args.state, UpdateState::Installed);
        assert!(args.category_names.is_none() && !args.reboot && !args.trigger_only);
        assert_eq!(args.reboot_timeout, 1200);
        let args = parse(serde_json::json!({
            "state": "downloaded",
            "category_names": ["SecurityUpdates", "Critical"],
            "accept_list": ["KB5034441", "Cumulative Update"],
            "reject_list": "KB1, KB2",
            "server_selection": "managed_server",
            "reboot": "yes",
            "reboot_timeout": "900"
        }))
        .expect("full");
        assert_eq!(args.category_names.expect("set").0, ["Security Updates", "Critical Updates"]);
        assert_eq!(args.reject_list, ["KB1", "KB2"]);
        assert_eq!(args.server_selection.code(), 1);
        assert!(args.reboot);
        assert_eq!(args.reboot_timeout, 900);
        assert_eq!(parse(serde_json::json!({"server_selection": "windows_update"})).expect("wu").server_selection.code(), 2);
    }

    #[test]
    fn an_unknown_update_category_or_server_is_a_clear_error() {
        let error = parse(serde_json::json!({"category_names": ["Security", "Hotfixes"]}))
            .expect_err("unknown category");
        assert!(error.to_string().contains("unknown update category `Hotfixes`"), "{error}");
        let error = parse(serde_json::json!({"server_selection": "wsus"})).expect_err("bad server");
        assert!(error.to_string().contains("managed_server"), "{error}");
    }

    #[test]
    fn job_names_are_safe_task_and_registry_names() {
        let name = job_name();
        assert!(name.starts_with("rpatch-wu-"));
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{name}");
    }
}
