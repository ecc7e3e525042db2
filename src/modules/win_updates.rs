//! `win_updates` over OpenSSH for Windows — for now only its trigger mode, for WSUS-driven
//! shops where the Windows Update agent does the work on its own schedule and rpatch only
//! says "now": `trigger_only: true` with `state: searched` runs `usoclient StartScan`
//! (`wuauclt /detectnow /reportnow` on Windows before 10 / Server 2016), `downloaded`
//! `usoclient StartDownload`, `installed` `usoclient StartInstall` (no older equivalent).
//!
//! The agent acts later and reports nothing back, so the task reports which tool it asked and
//! that it accepted the request, always as a change; it cannot run in check mode. Searching
//! and installing through the Windows Update API (which refuses network logons such as SSH, so
//! it must run as a scheduled task) is not implemented yet: without `trigger_only` the task
//! fails saying so. The script travels as `-EncodedCommand` and holds nothing from the
//! playbook but the action, chosen from a fixed list.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::powershell::encoded_command;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::{ExecRequest, ExitStatus};
use crate::vars::Value;

/// Arguments of `win_updates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WinUpdatesArgs {
    /// `searched` (default), `downloaded` or `installed`.
    #[serde(default)]
    state: UpdateState,
    /// Only ask the Windows Update agent to act (WSUS-driven); required for now.
    #[serde(default, deserialize_with = "lenient::bool")]
    trigger_only: bool,
}

/// How far to go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum UpdateState {
    #[default]
    Searched,
    Downloaded,
    Installed,
}

impl UpdateState {
    /// The `usoclient` verb.
    fn verb(self) -> &'static str {
        match self {
            Self::Searched => "StartScan",
            Self::Downloaded => "StartDownload",
            Self::Installed => "StartInstall",
        }
    }
}

/// The PowerShell script: usoclient where it exists, else (for a scan only) wuauclt; one
/// `@@rpatch:result {json}` line says which ran and its exit code.
fn script(state: UpdateState) -> String {
    let verb = state.verb();
    let legacy = if state == UpdateState::Searched {
        "  & $wua /detectnow /reportnow\n  $r = @{ tool = 'wuauclt'; action = '/detectnow /reportnow'; rc = $LASTEXITCODE }\n"
    } else {
        "  $r = @{ tool = ''; action = ''; rc = -1; error = 'usoclient.exe is missing (Windows before 10 / Server 2016): only a scan can be triggered there' }\n"
    };
    format!(
        "$ErrorActionPreference = 'Stop'\n\
         $uso = Join-Path $env:SystemRoot 'System32\\UsoClient.exe'\n\
         $wua = Join-Path $env:SystemRoot 'System32\\wuauclt.exe'\n\
         if (Test-Path -LiteralPath $uso) {{\n\
         \x20 & $uso {verb}\n\
         \x20 $r = @{{ tool = 'usoclient'; action = '{verb}'; rc = $LASTEXITCODE }}\n\
         }} else {{\n{legacy}}}\n\
         '@@rpatch:result ' + ($r | ConvertTo-Json -Compress)\n"
    )
}

/// What the script reports.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
struct Triggered {
    tool: String,
    action: String,
    /// `$LASTEXITCODE` of the tool (null if PowerShell did not set one).
    #[serde(default)]
    rc: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Reads the `@@rpatch:result` line.
fn parse(stdout: &str) -> Result<Triggered, String> {
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("@@rpatch:result "))
        .ok_or_else(|| "the PowerShell script printed no result (is this a Windows host?)".to_string())?;
    serde_json::from_str(line).map_err(|e| format!("unreadable result `{line}`: {e}"))
}

/// The task's result from the script's report.
fn outcome(triggered: Triggered) -> ModuleResult {
    if let Some(error) = &triggered.error {
        return ModuleResult::failed(error.clone()).with_data(&triggered);
    }
    if let Some(rc) = triggered.rc.filter(|rc| *rc != 0) {
        return ModuleResult::failed(format!(
            "{} {} exited with {rc}",
            triggered.tool, triggered.action
        ))
        .with_data(&triggered);
    }
    let msg = format!("asked the Windows Update agent: {} {}", triggered.tool, triggered.action);
    ModuleResult::changed().with_data(&triggered).with_msg(msg)
}

/// `win_updates`: trigger the Windows Update agent.
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
        CheckMode::Unsupported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: WinUpdatesArgs = args::parse(args)?;
        if !args.trigger_only {
            return Err(ModuleError::Failed(
                "win_updates searches and installs only with `trigger_only: true` so far (the \
                 Windows Update agent then acts on its own, e.g. from WSUS); installing through \
                 the Windows Update API is not implemented yet"
                    .into(),
            ));
        }
        if !ctx.env.is_empty() || ctx.escalation.is_some() {
            return Err(ModuleError::Failed(
                "`environment` and `become` do not apply to a Windows host's PowerShell".into(),
            ));
        }
        let mut request = ExecRequest::new(encoded_command(&script(args.state)));
        request.timeout = Some(ctx.timeout.unwrap_or(std::time::Duration::from_secs(300)));
        let output = ctx.transport.exec(&request).await?;
        if output.status == ExitStatus::TimedOut {
            return Err(ModuleError::Failed("PowerShell did not answer in time".into()));
        }
        let triggered = parse(&output.stdout_text()).map_err(|error| {
            ModuleError::Failed(format!("{error}; stderr: {}", output.stderr_text().trim()))
        })?;
        Ok(outcome(triggered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::powershell::tests::decode;

    #[test]
    fn each_state_asks_usoclient_for_its_verb_and_only_a_scan_falls_back_to_wuauclt() {
        for (state, verb) in [
            (UpdateState::Searched, "StartScan"),
            (UpdateState::Downloaded, "StartDownload"),
            (UpdateState::Installed, "StartInstall"),
        ] {
            let command = encoded_command(&script(state));
            assert!(command.starts_with("powershell -NoProfile -NonInteractive"), "{command}");
            let decoded = decode(&command);
            assert!(decoded.contains(&format!("  & $uso {verb}\n")), "{decoded}");
            assert_eq!(
                decoded.contains("& $wua /detectnow /reportnow"),
                state == UpdateState::Searched,
                "{decoded}"
            );
            assert!(decoded.ends_with("'@@rpatch:result ' + ($r | ConvertTo-Json -Compress)\n"));
        }
    }

    #[test]
    fn results_read_as_success_legacy_scan_missing_tool_and_failure() {
        let ok = outcome(parse("noise\r\n@@rpatch:result {\"tool\":\"usoclient\",\"action\":\"StartScan\",\"rc\":0}\r\n").expect("parses"));
        assert!(ok.changed && !ok.failed);
        assert_eq!(ok.msg.as_deref(), Some("asked the Windows Update agent: usoclient StartScan"));
        let legacy = outcome(parse("@@rpatch:result {\"tool\":\"wuauclt\",\"action\":\"/detectnow /reportnow\",\"rc\":0}").expect("parses"));
        assert!(legacy.changed);
        let missing = outcome(parse("@@rpatch:result {\"tool\":\"\",\"action\":\"\",\"rc\":-1,\"error\":\"usoclient.exe is missing\"}").expect("parses"));
        assert!(missing.failed);
        let failed = outcome(parse("@@rpatch:result {\"tool\":\"usoclient\",\"action\":\"StartInstall\",\"rc\":5}").expect("parses"));
        assert_eq!(failed.msg.as_deref(), Some("usoclient StartInstall exited with 5"));
        assert!(parse("bash: powershell: command not found").expect_err("no result").contains("Windows host"));
    }

    #[test]
    fn without_trigger_only_the_task_refuses_and_says_why() {
        let args: WinUpdatesArgs = args::parse(&crate::vars::from_json(&serde_json::json!({"state": "installed"}))).expect("args");
        assert!(!args.trigger_only);
        let unknown = args::parse::<WinUpdatesArgs>(&crate::vars::from_json(&serde_json::json!({"category_names": ["Security"]})));
        assert!(unknown.is_err());
    }
}
