//! `win_updates` with `trigger_only: true`, for WSUS-driven shops where the Windows Update
//! agent does the work on its own schedule and rpatch only says "now": `state: searched` runs
//! `usoclient StartScan` (`wuauclt /detectnow /reportnow` on Windows before 10 / Server 2016),
//! `downloaded` `usoclient StartDownload`, `installed` `usoclient StartInstall` (no older
//! equivalent). The agent acts later and reports nothing back, so the task reports which tool
//! it asked and that it accepted the request, always as a change.

use serde::{Deserialize, Serialize};

use super::super::powershell::RESULT_MARKER;
use super::super::ModuleResult;
use super::UpdateState;

/// The `usoclient` verb.
fn verb(state: UpdateState) -> &'static str {
    match state {
        UpdateState::Searched => "StartScan",
        UpdateState::Downloaded => "StartDownload",
        UpdateState::Installed => "StartInstall",
    }
}

/// The PowerShell script: usoclient where it exists, else (for a scan only) wuauclt; one
/// `@@rpatch:result {json}` line says which ran and its exit code.
pub(super) fn script(state: UpdateState) -> String {
    let verb = verb(state);
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
         '{RESULT_MARKER}' + ($r | ConvertTo-Json -Compress)\n"
    )
}

/// What the script reports.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub(super) struct Triggered {
    tool: String,
    action: String,
    /// `$LASTEXITCODE` of the tool (null if PowerShell did not set one).
    #[serde(default)]
    rc: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The task's result from the script's report.
pub(super) fn outcome(result: &serde_json::Value) -> Result<ModuleResult, String> {
    let triggered: Triggered = serde_json::from_value(result.clone())
        .map_err(|e| format!("unreadable result `{result}`: {e}"))?;
    if let Some(error) = &triggered.error {
        return Ok(ModuleResult::failed(error.clone()).with_data(&triggered));
    }
    if let Some(rc) = triggered.rc.filter(|rc| *rc != 0) {
        return Ok(ModuleResult::failed(format!(
            "{} {} exited with {rc}",
            triggered.tool, triggered.action
        ))
        .with_data(&triggered));
    }
    let msg = format!(
        "asked the Windows Update agent: {} {}",
        triggered.tool, triggered.action
    );
    Ok(ModuleResult::changed().with_data(&triggered).with_msg(msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::powershell::encoded_command;
    use crate::modules::powershell::parse_result;
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

    fn read(stdout: &str) -> ModuleResult {
        outcome(&parse_result(stdout).expect("parses")).expect("reads")
    }

    #[test]
    fn results_read_as_success_legacy_scan_missing_tool_and_failure() {
        let ok = read("noise\r\n@@rpatch:result {\"tool\":\"usoclient\",\"action\":\"StartScan\",\"rc\":0}\r\n");
        assert!(ok.changed && !ok.failed);
        assert_eq!(ok.msg.as_deref(), Some("asked the Windows Update agent: usoclient StartScan"));
        let legacy = read("@@rpatch:result {\"tool\":\"wuauclt\",\"action\":\"/detectnow /reportnow\",\"rc\":0}");
        assert!(legacy.changed);
        let missing = read("@@rpatch:result {\"tool\":\"\",\"action\":\"\",\"rc\":-1,\"error\":\"usoclient.exe is missing\"}");
        assert!(missing.failed);
        let failed = read("@@rpatch:result {\"tool\":\"usoclient\",\"action\":\"StartInstall\",\"rc\":5}");
        assert_eq!(failed.msg.as_deref(), Some("usoclient StartInstall exited with 5"));
    }
}
