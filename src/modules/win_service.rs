//! `win_service` for Windows hosts reached over OpenSSH, with the main arguments of Ansible's
//! `ansible.windows.win_service`: `name` (service or display name), `state:
//! started|stopped|restarted` and `start_mode: auto|manual|disabled|delayed`. One
//! PowerShell script (sent as `-EncodedCommand`, the arguments inside as base64 JSON) reads
//! the service, changes what differs (nothing in check mode) and reports before and after.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::powershell::{check_context, json_literal, run_script, PRELUDE, RESULT_MARKER};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `win_service`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WinServiceArgs {
    /// The service's name or display name.
    name: String,
    /// What the service should be doing.
    state: Option<ServiceState>,
    /// How it starts.
    start_mode: Option<StartMode>,
}

/// `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum ServiceState {
    Started,
    Stopped,
    Restarted,
}

/// `start_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum StartMode {
    Auto,
    Manual,
    Disabled,
    Delayed,
}

/// What the script gets.
#[derive(Debug, Serialize)]
struct Params<'a> {
    name: &'a str,
    state: Option<ServiceState>,
    start_mode: Option<StartMode>,
    check: bool,
}

/// The script; prints `{exists, name, display_name, changed, state, start_mode, before}` or
/// `{exists: false}` or `{error}`.
fn script(args: &WinServiceArgs, check: bool) -> String {
    let params = json_literal(
        &serde_json::to_value(Params {
            name: &args.name,
            state: args.state,
            start_mode: args.start_mode,
            check,
        })
        .unwrap_or_default(),
    );
    format!("{PRELUDE}$p = {params}\n{BODY}'{RESULT_MARKER}' + ($r | ConvertTo-Json -Compress -Depth 3)\n")
}

/// The script after `$p`; leaves the report in `$r`.
const BODY: &str = r#"function Get-Mode($name) {
  $cim = Get-CimInstance -ClassName Win32_Service | Where-Object { $_.Name -eq $name } | Select-Object -First 1
  $mode = ([string]$cim.StartMode).ToLower()
  if ($mode -eq 'automatic') { $mode = 'auto' }
  if ($mode -eq 'auto' -and $cim.DelayedAutoStart) { $mode = 'delayed' }
  $mode
}
try {
  $svc = Get-Service | Where-Object { $_.Name -eq $p.name -or $_.DisplayName -eq $p.name } | Select-Object -First 1
  if (-not $svc) {
    $r = @{ exists = $false }
  } else {
    $before = @{ state = ([string]$svc.Status).ToLower(); start_mode = (Get-Mode $svc.Name) }
    $changed = $false
    if ($p.start_mode -and $p.start_mode -ne $before.start_mode) {
      $changed = $true
      if (-not $p.check) {
        if ($p.start_mode -eq 'delayed') {
          $null = & sc.exe config $svc.Name start= delayed-auto
          if ($LASTEXITCODE) { throw "sc.exe config start= delayed-auto exited $LASTEXITCODE" }
        } else {
          Set-Service -Name $svc.Name -StartupType (@{ auto = 'Automatic'; manual = 'Manual'; disabled = 'Disabled' }[$p.start_mode])
        }
      }
    }
    if ($p.state -eq 'started' -and $svc.Status -ne 'Running') {
      $changed = $true
      if (-not $p.check) { Start-Service -Name $svc.Name }
    } elseif ($p.state -eq 'stopped' -and $svc.Status -ne 'Stopped') {
      $changed = $true
      if (-not $p.check) { Stop-Service -Name $svc.Name -Force }
    } elseif ($p.state -eq 'restarted') {
      $changed = $true
      if (-not $p.check) { Restart-Service -Name $svc.Name -Force }
    }
    $svc.Refresh()
    $r = @{ exists = $true; name = $svc.Name; display_name = $svc.DisplayName; changed = $changed; before = $before; state = ([string]$svc.Status).ToLower(); start_mode = (Get-Mode $svc.Name) }
  }
} catch {
  $r = @{ error = $_.Exception.Message }
}
"#;

/// What the script reports.
#[derive(Debug, Deserialize, Serialize)]
struct Report {
    #[serde(default)]
    exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(default, skip_serializing)]
    changed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    before: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    error: Option<String>,
}

/// The task's result.
fn outcome(name: &str, json: &serde_json::Value) -> Result<ModuleResult, ModuleError> {
    let report: Report = serde_json::from_value(json.clone())
        .map_err(|e| ModuleError::Failed(format!("unreadable win_service result `{json}`: {e}")))?;
    if let Some(error) = &report.error {
        return Ok(ModuleResult::failed(format!("service `{name}`: {error}")));
    }
    if !report.exists {
        return Ok(ModuleResult::failed(format!(
            "service `{name}` does not exist (neither a service name nor a display name)"
        ))
        .with_data(&report));
    }
    let result = if report.changed {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    Ok(result.with_data(&report))
}

/// `win_service`: a Windows service's state and start mode.
pub(crate) struct WinService;

#[async_trait]
impl Module for WinService {
    fn names(&self) -> &'static [&'static str] {
        &["win_service", "ansible.windows.win_service"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<WinServiceArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: WinServiceArgs = args::parse(args)?;
        check_context(ctx)?;
        let limit = ctx.timeout.unwrap_or(std::time::Duration::from_secs(300));
        let json = run_script(ctx, &script(&args, ctx.check_mode), limit).await?;
        outcome(&args.name, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::powershell::encoded_command;
    use crate::modules::powershell::tests::{decode, decode_json_literal};

    fn args(json: serde_json::Value) -> Result<WinServiceArgs, ArgError> {
        args::parse(&crate::vars::from_json(&json))
    }

    #[test]
    fn win_service_sends_its_arguments_as_data_and_changes_only_outside_check_mode() {
        let parsed = args(serde_json::json!({"name": "wuauserv'; Stop-Computer; '", "state": "restarted", "start_mode": "delayed"})).expect("args");
        let script = decode(&encoded_command(&script(&parsed, true)));
        assert!(!script.contains("Stop-Computer"), "{script}");
        let params = decode_json_literal(&script, "$p = ");
        assert_eq!(params, serde_json::json!({"name": "wuauserv'; Stop-Computer; '", "state": "restarted", "start_mode": "delayed", "check": true}));
        for needle in [
            "& sc.exe config $svc.Name start= delayed-auto",
            "if (-not $p.check) { Restart-Service -Name $svc.Name -Force }",
            "if (-not $p.check) { Start-Service -Name $svc.Name }",
            "if (-not $p.check) { Stop-Service -Name $svc.Name -Force }",
            "$cim.DelayedAutoStart",
        ] {
            assert!(script.contains(needle), "{needle} missing:\n{script}");
        }
    }

    #[test]
    fn win_service_arguments_are_checked() {
        assert!(args(serde_json::json!({"name": "x", "state": "paused"})).is_err());
        assert!(args(serde_json::json!({"name": "x", "start_mode": "boot"})).is_err());
        assert!(args(serde_json::json!({"state": "started"})).is_err(), "name is required");
    }

    #[test]
    fn win_service_results_read_as_changed_unchanged_missing_and_error() {
        let changed = outcome("Spooler", &serde_json::json!({"exists": true, "name": "Spooler", "display_name": "Print Spooler", "changed": true, "state": "running", "start_mode": "auto", "before": {"state": "stopped", "start_mode": "auto"}})).expect("ok");
        assert!(changed.changed && !changed.failed);
        assert_eq!(changed.data["state"].as_str(), Some("running"));
        assert_eq!(changed.data["before"].get_attr("state").expect("before").as_str(), Some("stopped"));
        let same = outcome("Spooler", &serde_json::json!({"exists": true, "changed": false, "state": "running"})).expect("ok");
        assert!(!same.changed && !same.failed);
        let missing = outcome("Nope", &serde_json::json!({"exists": false})).expect("ok");
        assert_eq!(missing.msg.as_deref(), Some("service `Nope` does not exist (neither a service name nor a display name)"));
        let error = outcome("Spooler", &serde_json::json!({"error": "Access is denied"})).expect("ok");
        assert_eq!(error.msg.as_deref(), Some("service `Spooler`: Access is denied"));
    }
}
