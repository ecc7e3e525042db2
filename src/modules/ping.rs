//! `ping`: prove the host answers and can run a shell, and echo back `data`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `ping`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingArgs {
    /// What to register as `ping`; `crash` makes the module fail, as in Ansible.
    #[serde(default = "default_data")]
    data: String,
}

fn default_data() -> String {
    "pong".into()
}

/// What `ping` registers.
#[derive(Debug, Serialize)]
struct PingOutcome {
    ping: String,
}

/// `ping`: check the host answers.
pub(crate) struct Ping;

#[async_trait]
impl Module for Ping {
    fn names(&self) -> &'static [&'static str] {
        &["ping", "ansible.builtin.ping", "ansible.legacy.ping"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<PingArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(args, ctx).await
    }
}

/// Runs `echo pong` on the host; never changes anything.
async fn run(args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let args: PingArgs = args::parse(args)?;
    let output = ctx.exec("echo pong").await?;
    if !output.status.success() || output.stdout_text().trim() != "pong" {
        let stderr = output.stderr_text();
        return Ok(ModuleResult::failed(format!(
            "the host could not run a shell command (rc {}): {}",
            output.status.rc(),
            stderr.trim()
        )));
    }
    if args.data == "crash" {
        // Ansible's ping raises an exception on purpose here, to test failure handling.
        return Ok(ModuleResult::failed("boom"));
    }
    Ok(ModuleResult::ok().with_data(&PingOutcome { ping: args.data }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Templar;

    async fn ping(args: serde_json::Value) -> ModuleResult {
        let templar = Templar::new();
        let scope = Value::from(());
        let ctx = ModuleContext::local(&templar, &scope);
        run(&crate::vars::from_json(&args), &ctx)
            .await
            .expect("valid args")
    }

    #[tokio::test]
    async fn registers_pong_without_changing_anything() {
        let result = ping(serde_json::json!({})).await;
        assert!(!result.failed && !result.changed);
        assert_eq!(result.data["ping"].as_str(), Some("pong"));
    }

    #[tokio::test]
    async fn echoes_the_data_argument() {
        let result = ping(serde_json::json!({"data": "hello"})).await;
        assert_eq!(result.data["ping"].as_str(), Some("hello"));
    }

    #[tokio::test]
    async fn data_crash_fails_like_ansible() {
        let result = ping(serde_json::json!({"data": "crash"})).await;
        assert!(result.failed);
        assert_eq!(result.msg.as_deref(), Some("boom"));
    }

    #[test]
    fn unknown_arguments_are_rejected() {
        let args = crate::vars::from_json(&serde_json::json!({"dta": "x"}));
        assert!(matches!(
            args::parse::<PingArgs>(&args),
            Err(ArgError::Unknown { .. })
        ));
    }
}
