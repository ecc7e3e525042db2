//! `win_ping`: prove a Windows host answers and runs PowerShell (over OpenSSH), and echo back
//! `data`, as `ansible.windows.win_ping` does.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::powershell::{check_context, json_literal, run_script, PRELUDE, RESULT_MARKER};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `win_ping`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WinPingArgs {
    /// What to register as `ping`; `crash` makes the module fail, as in Ansible.
    #[serde(default = "default_data")]
    data: String,
}

fn default_data() -> String {
    "pong".into()
}

/// What `win_ping` registers.
#[derive(Debug, Serialize, Deserialize)]
struct PingOutcome {
    ping: String,
}

/// The script: PowerShell echoes `data` back (sent as data, never as code).
fn script(args: &WinPingArgs) -> String {
    let params = json_literal(&serde_json::json!({ "data": args.data }));
    format!(
        "{PRELUDE}$p = {params}\nif ($p.data -eq 'crash') {{ throw 'boom' }}\n\
         '{RESULT_MARKER}' + (@{{ ping = [string]$p.data }} | ConvertTo-Json -Compress)\n"
    )
}

/// `win_ping`: check a Windows host answers.
pub(crate) struct WinPing;

#[async_trait]
impl Module for WinPing {
    fn names(&self) -> &'static [&'static str] {
        &["win_ping", "ansible.windows.win_ping"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<WinPingArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: WinPingArgs = args::parse(args)?;
        check_context(ctx)?;
        let limit = ctx.timeout.unwrap_or(std::time::Duration::from_secs(60));
        let json = run_script(ctx, &script(&args), limit).await?;
        let outcome: PingOutcome = serde_json::from_value(json.clone())
            .map_err(|e| ModuleError::Failed(format!("unreadable win_ping result `{json}`: {e}")))?;
        Ok(ModuleResult::ok().with_data(&outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::powershell::encoded_command;
    use crate::modules::powershell::tests::{decode, decode_json_literal};

    #[test]
    fn win_ping_sends_data_as_data() {
        let args: WinPingArgs =
            args::parse(&crate::vars::from_json(&serde_json::json!({"data": "'; Stop-Computer; '"})))
                .expect("args");
        let script = decode(&encoded_command(&script(&args)));
        assert!(!script.contains("Stop-Computer"), "{script}");
        assert_eq!(
            decode_json_literal(&script, "$p = "),
            serde_json::json!({"data": "'; Stop-Computer; '"})
        );
    }
}
