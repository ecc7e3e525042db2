//! `win_reboot`: reboot a Windows host reached over OpenSSH and wait until it is back, with
//! the arguments of Ansible's `ansible.windows.win_reboot`.
//!
//! The flow, each step one PowerShell script sent as `-EncodedCommand`:
//! 1. read the boot time, `(Get-CimInstance Win32_OperatingSystem).LastBootUpTime` as a
//!    FILETIME (`boot_time_command`);
//! 2. `shutdown.exe /r /t N /c MSG` (N = `pre_reboot_delay`, 2 s by default, so the command
//!    returns and its channel closes before Windows goes down; a shutdown already scheduled,
//!    exit 1190, is aborted with `/a` and asked again, as Ansible does);
//! 3. drop the connection, wait `post_reboot_delay`;
//! 4. reconnect with backoff ([`Transport::reconnect`](crate::transport::Transport::reconnect))
//!    until the boot time differs and `test_command` succeeds, all within `reboot_timeout`.
//!
//! [`reboot_and_wait`] is also what `win_updates` calls for `reboot: true`. As with `reboot`,
//! the `local` connection is refused unless `allow_local: true`.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::powershell::{check_context, quote, run_script, PRELUDE, RESULT_MARKER};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::TransportError;
use crate::vars::Value;

/// Arguments of `win_reboot`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WinRebootArgs {
    /// Seconds, from the reboot command on, for the host to come back and pass `test_command`.
    #[serde(
        default = "default_timeout",
        alias = "reboot_timeout_sec",
        deserialize_with = "lenient::whole"
    )]
    pub(crate) reboot_timeout: u64,
    /// Seconds one reconnect attempt (and one check) may take.
    #[serde(
        default,
        alias = "connect_timeout_sec",
        deserialize_with = "lenient::opt_seconds"
    )]
    connect_timeout: Option<f64>,
    /// Seconds `shutdown /t` waits before rebooting.
    #[serde(
        default = "default_pre_delay",
        alias = "pre_reboot_delay_sec",
        deserialize_with = "lenient::whole"
    )]
    pre_reboot_delay: u64,
    /// Seconds to wait after the reboot command before the first check.
    #[serde(
        default,
        alias = "post_reboot_delay_sec",
        deserialize_with = "lenient::whole"
    )]
    post_reboot_delay: u64,
    /// Accepted for compatibility and ignored, as ansible.windows ignores it (deprecated).
    #[serde(default, alias = "shutdown_timeout_sec")]
    shutdown_timeout: Option<serde_json::Value>,
    /// PowerShell run after the reboot; the host is back once it succeeds.
    #[serde(default = "default_test_command")]
    test_command: String,
    /// PowerShell printing something that changes with every boot.
    #[serde(default = "default_boot_time_command")]
    boot_time_command: String,
    /// The message `shutdown /c` shows (double quotes are dropped).
    #[serde(default = "default_msg")]
    msg: String,
    /// rpatch only: allow the `local` connection.
    #[serde(default, deserialize_with = "lenient::bool")]
    allow_local: bool,
}

fn default_timeout() -> u64 {
    600
}
fn default_pre_delay() -> u64 {
    2
}
fn default_test_command() -> String {
    "whoami".into()
}
fn default_boot_time_command() -> String {
    "(Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime).LastBootUpTime.ToFileTime()".into()
}
fn default_msg() -> String {
    "Reboot initiated by rpatch".into()
}

impl WinRebootArgs {
    /// The defaults with another `reboot_timeout` (for `win_updates`).
    pub(crate) fn with_timeout(reboot_timeout: u64) -> Self {
        Self {
            reboot_timeout,
            connect_timeout: None,
            pre_reboot_delay: default_pre_delay(),
            post_reboot_delay: 0,
            test_command: default_test_command(),
            boot_time_command: default_boot_time_command(),
            msg: default_msg(),
            allow_local: false,
            shutdown_timeout: None,
        }
    }
}

/// The message when `win_reboot` targets the controller without `allow_local`.
const LOCAL_REFUSED: &str = "refusing to reboot the machine rpatch runs on: this host uses the \
     `local` connection; set `allow_local: true` on the task if that is really meant";

/// Prints `{"boot": "…"}`: the boot time command's output.
pub(crate) fn boot_script(boot_time_command: &str) -> String {
    format!(
        "{PRELUDE}$b = & {{ {boot_time_command} }} | Out-String\n\
         '{RESULT_MARKER}' + (@{{ boot = $b.Trim() }} | ConvertTo-Json -Compress)\n"
    )
}

/// Prints `{"rc": N}`: whether the test command succeeded.
fn test_script(test_command: &str) -> String {
    format!(
        "{PRELUDE}$global:LASTEXITCODE = 0\n\
         $null = & {{ {test_command} }}\n\
         '{RESULT_MARKER}' + (@{{ rc = $global:LASTEXITCODE }} | ConvertTo-Json -Compress)\n"
    )
}

/// Starts the reboot in `delay` seconds; prints `{"rc": N}` of `shutdown.exe`.
pub(crate) fn reboot_script(delay: u64, msg: &str) -> String {
    let msg = quote(&msg.replace('"', ""));
    format!(
        "{PRELUDE}$msg = {msg}\n\
         & shutdown.exe /r /t {delay} /c $msg\n\
         $rc = $LASTEXITCODE\n\
         if ($rc -eq 1190) {{\n\
         \x20 & shutdown.exe /a\n\
         \x20 & shutdown.exe /r /t {delay} /c $msg\n\
         \x20 $rc = $LASTEXITCODE\n\
         }}\n\
         '{RESULT_MARKER}' + (@{{ rc = $rc }} | ConvertTo-Json -Compress)\n"
    )
}

/// What `win_reboot` registers.
#[derive(Debug, Serialize)]
struct Outcome {
    rebooted: bool,
    elapsed: u64,
}

/// `win_reboot`: reboot a Windows host and wait for it.
pub(crate) struct WinReboot;

#[async_trait]
impl Module for WinReboot {
    fn names(&self) -> &'static [&'static str] {
        &["win_reboot", "ansible.windows.win_reboot"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<WinRebootArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: WinRebootArgs = args::parse(args)?;
        let warnings = args::ignored(
            "win_reboot",
            &[("shutdown_timeout", args.shutdown_timeout.is_some())],
        );
        if ctx.transport.is_local() && !args.allow_local {
            return Err(ModuleError::Failed(LOCAL_REFUSED.into()));
        }
        if ctx.check_mode {
            return Ok(ModuleResult::changed().with_data(&Outcome {
                rebooted: true,
                elapsed: 0,
            }));
        }
        check_context(ctx)?;
        let start = Instant::now();
        let outcome = reboot_and_wait(ctx, &args).await;
        let data = Outcome {
            rebooted: true,
            elapsed: start.elapsed().as_secs(),
        };
        Ok(match outcome {
            Ok(()) => ModuleResult::changed().with_data(&data),
            Err(RebootError::NotStarted(message)) => ModuleResult::failed(message),
            Err(RebootError::NotBack(message)) => ModuleResult {
                changed: true,
                ..ModuleResult::failed(message)
            }
            .with_data(&data),
        }
        .with_warnings(warnings))
    }
}

/// Why a reboot did not complete.
#[derive(Debug)]
pub(crate) enum RebootError {
    /// The reboot was never issued (nothing changed).
    NotStarted(String),
    /// It was issued, but the host did not come back in time.
    NotBack(String),
}

/// The limit of one check.
fn per_try(args: &WinRebootArgs) -> Duration {
    args.connect_timeout
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(60))
        .max(Duration::from_secs(1))
}

/// Reads the boot time, reboots, and waits until the boot time changed and the test command
/// passes.
pub(crate) async fn reboot_and_wait(
    ctx: &ModuleContext<'_>,
    args: &WinRebootArgs,
) -> Result<(), RebootError> {
    let limit = per_try(args);
    let before = boot_time(ctx, args, limit).await.map_err(|e| {
        RebootError::NotStarted(format!(
            "cannot read the boot time before rebooting: {e}"
        ))
    })?;
    let start = Instant::now();
    match run_script(ctx, &reboot_script(args.pre_reboot_delay, &args.msg), limit).await {
        Ok(result) if result["rc"].as_i64() == Some(0) => {}
        Ok(result) => {
            return Err(RebootError::NotStarted(format!(
                "shutdown.exe /r refused to start the reboot (exit {})",
                result["rc"]
            )))
        }
        // The host went down before the channel closed: it is rebooting.
        Err(ModuleError::Transport(TransportError::Lost(_))) => {}
        Err(error) => return Err(RebootError::NotStarted(error.to_string())),
    }
    ctx.transport.close().await;
    let wait = Duration::from_secs(args.post_reboot_delay.max(args.pre_reboot_delay));
    tokio::time::sleep(wait).await;
    let deadline = start + Duration::from_secs(args.reboot_timeout);
    wait_until_back(ctx, args, &before, deadline, limit)
        .await
        .map_err(RebootError::NotBack)
}

/// The boot time, or why it could not be read.
async fn boot_time(
    ctx: &ModuleContext<'_>,
    args: &WinRebootArgs,
    limit: Duration,
) -> Result<String, String> {
    let result = run_script(ctx, &boot_script(&args.boot_time_command), limit)
        .await
        .map_err(|e| e.to_string())?;
    match result["boot"].as_str() {
        Some(boot) if !boot.is_empty() => Ok(boot.to_string()),
        _ => Err(format!("`{}` printed nothing", args.boot_time_command)),
    }
}

/// Reconnects with backoff until the boot time differs from `before` and the test command
/// passes; the failure message when `deadline` passes first or the host key is refused.
async fn wait_until_back(
    ctx: &ModuleContext<'_>,
    args: &WinRebootArgs,
    before: &str,
    deadline: Instant,
    limit: Duration,
) -> Result<(), String> {
    let timeout = args.reboot_timeout;
    let mut progress = format!("host did not come back within {timeout} s");
    let mut pause = Duration::from_millis(500);
    while Instant::now() < deadline {
        match ctx.transport.reconnect(deadline.min(Instant::now() + limit)).await {
            Err(error @ (TransportError::HostKey(_) | TransportError::Auth(_))) => {
                return Err(format!("the host came back but was refused: {error}"));
            }
            Err(error) => {
                progress = format!("host did not come back within {timeout} s: {error}")
            }
            Ok(()) => {
                progress = match boot_time(ctx, args, limit).await {
                    Err(error) => format!("the boot time could not be read for {timeout} s: {error}"),
                    Ok(boot) if boot == before => format!(
                        "boot time never changed within {timeout} s: the host still reports \
                         `{before}`; did the reboot command run?"
                    ),
                    Ok(_) => match run_script(ctx, &test_script(&args.test_command), limit).await {
                        Ok(result) if result["rc"].as_i64() == Some(0) => return Ok(()),
                        Ok(result) => format!(
                            "test command kept failing: `{}` exited {} within {timeout} s after the reboot",
                            args.test_command, result["rc"]
                        ),
                        Err(error) => format!(
                            "test command kept failing: `{}`: {error}",
                            args.test_command
                        ),
                    },
                };
                ctx.transport.close().await;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(pause.min(left)).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
    Err(progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::powershell::encoded_command;
    use crate::modules::powershell::tests::decode;

    fn parse(json: serde_json::Value) -> WinRebootArgs {
        args::parse(&crate::vars::from_json(&json)).expect("valid args")
    }

    #[test]
    fn win_reboot_runs_shutdown_r_with_the_delay_and_a_quoted_message() {
        let args = parse(serde_json::json!({"pre_reboot_delay": 15, "msg": "patch \"night\"; it's $(bad)"}));
        let script = decode(&encoded_command(&reboot_script(args.pre_reboot_delay, &args.msg)));
        assert!(script.contains("$msg = 'patch night; it''s $(bad)'\n"), "{script}");
        assert!(script.contains("& shutdown.exe /r /t 15 /c $msg\n"), "{script}");
        assert!(script.contains("if ($rc -eq 1190) {\n  & shutdown.exe /a\n"), "{script}");
    }

    #[test]
    fn the_boot_time_comes_from_win32_operatingsystem() {
        let args = parse(serde_json::json!({}));
        assert_eq!(args.pre_reboot_delay, 2);
        assert_eq!(args.reboot_timeout, 600);
        let script = decode(&encoded_command(&boot_script(&args.boot_time_command)));
        assert!(
            script.contains("$b = & { (Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime).LastBootUpTime.ToFileTime() } | Out-String"),
            "{script}"
        );
        assert!(script.ends_with("'@@rpatch:result ' + (@{ boot = $b.Trim() } | ConvertTo-Json -Compress)\n"));
        let test = test_script("whoami");
        assert!(test.contains("$null = & { whoami }\n"), "{test}");
    }

    #[tokio::test]
    async fn the_controller_is_never_rebooted_without_allow_local() {
        let templar = crate::template::Templar::new();
        let scope = Value::from(());
        let ctx = ModuleContext::local(&templar, &scope);
        let error = WinReboot.run(&Value::from(()), &ctx).await;
        assert!(matches!(&error, Err(ModuleError::Failed(m)) if m == LOCAL_REFUSED), "{error:?}");
    }
}
