//! `reboot`: reboot a host and wait until it is back, with Ansible's arguments and result.
//!
//! The flow, each step one remote command:
//! 1. read the boot id (`boot_time_command`);
//! 2. start the reboot detached from the SSH session (`setsid nohup sh -c 'sleep 1; …' &` with
//!    every descriptor on `/dev/null`), so the command returns and its channel closes cleanly
//!    before the host goes down;
//! 3. drop the host's connection ([`Transport::close`]), wait `post_reboot_delay`;
//! 4. reconnect with backoff ([`Transport::reconnect`]) until the boot id differs and
//!    `test_command` passes, all within `reboot_timeout` of step 2.
//!
//! Reconnecting goes through the transport's usual checks: a host key that changed across the
//! reboot is refused like anywhere else, and ends the wait at once.
//!
//! Rebooting the controller by accident must be impossible: on the `local` connection (or
//! `delegate_to: localhost`) the module refuses unless the task says `allow_local: true`, an
//! rpatch argument Ansible does not have. In check mode nothing is contacted and the result is
//! Ansible's: `changed`, `rebooted: true`, `elapsed: 0`.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::{quote, ExecRequest, TransportError};
use crate::vars::Value;

/// Arguments of `reboot`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebootArgs {
    /// Seconds to wait, from the reboot command on, for the host to come back and pass
    /// `test_command`.
    #[serde(default = "default_timeout", deserialize_with = "lenient::whole")]
    reboot_timeout: u64,
    /// Seconds one reconnect attempt (and one check command) may take.
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    connect_timeout: Option<f64>,
    /// Seconds before the reboot: `shutdown -r +MINUTES`, floored, `now` under a minute.
    #[serde(default, deserialize_with = "lenient::whole")]
    pre_reboot_delay: u64,
    /// Seconds to wait after the reboot command before the first check.
    #[serde(default, deserialize_with = "lenient::whole")]
    post_reboot_delay: u64,
    /// Run after the reboot; the host is back once it exits 0.
    #[serde(default = "default_test_command")]
    test_command: String,
    /// Prints something that changes with every boot.
    #[serde(default = "default_boot_time_command")]
    boot_time_command: String,
    /// Replaces `shutdown -r … MSG` (then `pre_reboot_delay` and `msg` are not used).
    reboot_command: Option<String>,
    /// The message `shutdown` broadcasts.
    #[serde(default = "default_msg")]
    msg: String,
    /// Directories searched for `shutdown`.
    #[serde(
        default = "default_search_paths",
        deserialize_with = "lenient::word_list"
    )]
    search_paths: Vec<String>,
    /// rpatch only: allow rebooting the controller itself (the `local` connection).
    #[serde(default, deserialize_with = "lenient::bool")]
    allow_local: bool,
}

fn default_timeout() -> u64 {
    600
}
fn default_test_command() -> String {
    "whoami".into()
}
fn default_boot_time_command() -> String {
    "cat /proc/sys/kernel/random/boot_id".into()
}
fn default_msg() -> String {
    "Reboot initiated by rpatch".into()
}
fn default_search_paths() -> Vec<String> {
    ["/sbin", "/bin", "/usr/sbin", "/usr/bin", "/usr/local/sbin"]
        .map(String::from)
        .to_vec()
}

/// The message when `reboot` targets the controller without `allow_local`.
const LOCAL_REFUSED: &str = "refusing to reboot the machine rpatch runs on: this host uses the \
     `local` connection; set `allow_local: true` on the task if that is really meant";

/// What `reboot` registers.
#[derive(Debug, Serialize)]
struct RebootOutcome {
    rebooted: bool,
    elapsed: u64,
}

/// `reboot`: reboot the host and wait for it.
pub(crate) struct Reboot;

#[async_trait]
impl Module for Reboot {
    fn names(&self) -> &'static [&'static str] {
        &["reboot", "ansible.builtin.reboot", "ansible.legacy.reboot"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<RebootArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(args, ctx).await
    }
}

/// The shell script that starts the reboot in the background and returns at once.
///
/// Prints `rpatch_reboot=issued`, or `rpatch_reboot=noshutdown` when the default command is
/// used and no `shutdown` is in `search_paths`.
fn reboot_script(args: &RebootArgs) -> String {
    let mut script = String::from("LC_ALL=C; export LC_ALL\n");
    let body = match &args.reboot_command {
        Some(command) => command.clone(),
        None => {
            let paths: Vec<String> = args.search_paths.iter().map(|p| quote(p)).collect();
            script.push_str(&format!(
                "shutdown=\n\
                 for d in {}; do\n\
                   if [ -x \"$d/shutdown\" ]; then shutdown=$d/shutdown; break; fi\n\
                 done\n\
                 [ -n \"$shutdown\" ] || {{ echo rpatch_reboot=noshutdown; exit 0; }}\n",
                paths.join(" ")
            ));
            format!(
                "exec \"$1\" -r {} {}",
                shutdown_when(args.pre_reboot_delay),
                quote(&args.msg)
            )
        }
    };
    // A new session without the channel's descriptors: the command returns now, the channel
    // closes, and neither sshd's teardown nor sudo's pty can take the reboot down with it.
    script.push_str(&format!(
        "detach=; command -v setsid >/dev/null 2>&1 && detach=setsid\n\
         $detach nohup sh -c {} rpatch-reboot \"${{shutdown:-}}\" </dev/null >/dev/null 2>&1 &\n\
         echo rpatch_reboot=issued\n",
        quote(&format!("sleep 1; {body}"))
    ));
    script
}

/// `shutdown`'s time argument for a delay in seconds: whole minutes, `now` under one.
fn shutdown_when(delay: u64) -> String {
    match delay / 60 {
        0 => "now".into(),
        minutes => format!("+{minutes}"),
    }
}

/// How far the host got when the wait ended, for the failure message.
#[derive(Debug, Clone, PartialEq)]
enum Progress {
    /// No connection (or it broke) on the last try.
    Unreachable(String),
    /// Connected, but still the boot from before.
    SameBoot,
    /// The boot id command itself failed.
    BootIdFailed(String),
    /// A new boot, but the test command failed.
    TestFailing(String),
}

impl Progress {
    fn message(&self, args: &RebootArgs, before: &str) -> String {
        let timeout = args.reboot_timeout;
        match self {
            Self::Unreachable(error) => {
                format!("host did not come back within {timeout} s: {error}")
            }
            Self::SameBoot => format!(
                "boot id never changed within {timeout} s: the host still reports `{before}` \
                 from `{}`; did the reboot command run?",
                args.boot_time_command
            ),
            Self::BootIdFailed(error) => format!(
                "the host came back but `{}` kept failing for {timeout} s: {error}",
                args.boot_time_command
            ),
            Self::TestFailing(error) => format!(
                "test command kept failing: `{}` did not succeed within {timeout} s after the \
                 reboot: {error}",
                args.test_command
            ),
        }
    }
}

/// Why a remote check did not pass.
enum CheckError {
    /// The host could not be reached or the connection broke.
    Transport(TransportError),
    /// The command ran and failed.
    Failed(String),
}

/// Runs `command` with a time limit; its trimmed stdout when it exits 0.
async fn check(
    ctx: &ModuleContext<'_>,
    command: &str,
    limit: Duration,
) -> Result<String, CheckError> {
    let mut request = ExecRequest::new(command);
    request.timeout = Some(limit);
    let output = ctx
        .exec_request(request)
        .await
        .map_err(CheckError::Transport)?;
    if output.status.success() {
        return Ok(output.stdout_text().trim().to_string());
    }
    let stderr = output.stderr_text();
    let detail = match stderr.trim() {
        "" => output.stdout_text().trim().to_string(),
        text => text.to_string(),
    };
    Err(CheckError::Failed(format!(
        "rc {}: {detail}",
        output.status.rc()
    )))
}

/// Reboots the host (or reports it would) and waits until it is back.
async fn run(args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let args: RebootArgs = args::parse(args)?;
    if ctx.transport.is_local() && !args.allow_local {
        return Err(ModuleError::Failed(LOCAL_REFUSED.into()));
    }
    if ctx.check_mode {
        return Ok(ModuleResult::changed().with_data(&RebootOutcome {
            rebooted: true,
            elapsed: 0,
        }));
    }
    let per_try = args
        .connect_timeout
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(30))
        .max(Duration::from_secs(1));
    let before = match check(ctx, &args.boot_time_command, per_try).await {
        Ok(id) if !id.is_empty() => id,
        Ok(_) => {
            return Err(ModuleError::Failed(format!(
                "`{}` printed nothing: cannot tell the boot before the reboot from the one after",
                args.boot_time_command
            )))
        }
        Err(CheckError::Transport(error)) => return Err(error.into()),
        Err(CheckError::Failed(error)) => {
            return Err(ModuleError::Failed(format!(
                "cannot read the boot id with `{}` before rebooting: {error}",
                args.boot_time_command
            )))
        }
    };

    let start = Instant::now();
    let mut request = ExecRequest::new(reboot_script(&args));
    request.timeout = Some(per_try);
    match ctx.exec_request(request).await {
        Ok(output) if output.stdout_text().contains("rpatch_reboot=issued") => {}
        Ok(output) if output.stdout_text().contains("rpatch_reboot=noshutdown") => {
            return Err(ModuleError::Failed(format!(
                "no `shutdown` command in {}; set `search_paths` or `reboot_command`",
                args.search_paths.join(", ")
            )))
        }
        Ok(output) => {
            return Err(ModuleError::Failed(format!(
                "the reboot command could not be started (rc {}): {}",
                output.status.rc(),
                output.stderr_text().trim()
            )))
        }
        // The host went down before the command's channel closed: it is rebooting.
        Err(TransportError::Lost(_)) => {}
        Err(error) => return Err(error.into()),
    }
    ctx.transport.close().await;
    if args.post_reboot_delay > 0 {
        tokio::time::sleep(Duration::from_secs(args.post_reboot_delay)).await;
    }

    let deadline = start + Duration::from_secs(args.reboot_timeout);
    let outcome = wait_until_back(ctx, &args, &before, deadline, per_try).await;
    let data = RebootOutcome {
        rebooted: true,
        elapsed: start.elapsed().as_secs(),
    };
    Ok(match outcome {
        Ok(()) => ModuleResult::changed().with_data(&data),
        Err(message) => ModuleResult {
            changed: true,
            ..ModuleResult::failed(message)
        }
        .with_data(&data),
    })
}

/// Reconnects with backoff until the boot id differs from `before` and the test command
/// passes; the failure message when `deadline` passes first or the host key is refused.
async fn wait_until_back(
    ctx: &ModuleContext<'_>,
    args: &RebootArgs,
    before: &str,
    deadline: Instant,
    per_try: Duration,
) -> Result<(), String> {
    let mut progress = Progress::Unreachable("no reconnect attempt finished in time".into());
    let mut pause = Duration::from_millis(500);
    while Instant::now() < deadline {
        let attempt_deadline = match args.connect_timeout {
            Some(_) => deadline.min(Instant::now() + per_try),
            None => deadline,
        };
        match ctx.transport.reconnect(attempt_deadline).await {
            Err(error @ (TransportError::HostKey(_) | TransportError::Auth(_))) => {
                return Err(format!("the host came back but was refused: {error}"));
            }
            Err(error) => progress = Progress::Unreachable(error.to_string()),
            Ok(()) => {
                let limit = per_try.min(deadline.saturating_duration_since(Instant::now()));
                let limit = limit.max(Duration::from_secs(1));
                progress = match check(ctx, &args.boot_time_command, limit).await {
                    Err(CheckError::Transport(error)) => Progress::Unreachable(error.to_string()),
                    Err(CheckError::Failed(error)) => Progress::BootIdFailed(error),
                    Ok(id) if id.is_empty() || id == before => Progress::SameBoot,
                    Ok(_) => match check(ctx, &args.test_command, limit).await {
                        Ok(_) => return Ok(()),
                        Err(CheckError::Transport(error)) => {
                            Progress::Unreachable(error.to_string())
                        }
                        Err(CheckError::Failed(error)) => Progress::TestFailing(error),
                    },
                };
                // The next try must see a fresh connection, not the one to the old boot.
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
    Err(progress.message(args, before))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Templar;
    use crate::transport::UnavailableTransport;

    fn parse(json: serde_json::Value) -> RebootArgs {
        args::parse(&crate::vars::from_json(&json)).expect("valid args")
    }

    #[test]
    fn defaults_follow_ansible() {
        let args = parse(serde_json::json!({}));
        assert_eq!(args.reboot_timeout, 600);
        assert_eq!(args.test_command, "whoami");
        assert_eq!(
            args.boot_time_command,
            "cat /proc/sys/kernel/random/boot_id"
        );
        assert_eq!(args.msg, "Reboot initiated by rpatch");
        assert!(args.search_paths.contains(&"/sbin".to_string()));
        assert!(!args.allow_local);
    }

    #[test]
    fn pre_reboot_delay_becomes_whole_minutes_for_shutdown() {
        assert_eq!(shutdown_when(0), "now");
        assert_eq!(shutdown_when(59), "now");
        assert_eq!(shutdown_when(60), "+1");
        assert_eq!(shutdown_when(179), "+2");
        let script = reboot_script(&parse(serde_json::json!({"pre_reboot_delay": "120"})));
        assert!(
            script.contains("exec \"$1\" -r +2 '\"'\"'Reboot initiated by rpatch'\"'\"'"),
            "{script}"
        );
    }

    #[test]
    fn the_reboot_runs_detached_so_the_command_returns_first() {
        let script = reboot_script(&parse(serde_json::json!({"reboot_command": "touch /x"})));
        assert!(
            script.contains("nohup sh -c 'sleep 1; touch /x' rpatch-reboot"),
            "{script}"
        );
        assert!(script.contains("</dev/null >/dev/null 2>&1 &"), "{script}");
        assert!(!script.contains("shutdown="), "a custom command needs no shutdown");
    }

    #[test]
    fn hostile_messages_and_search_paths_are_quoted() {
        let script = reboot_script(&parse(serde_json::json!({
            "msg": "bye'; touch /pwned; '",
            "search_paths": "/sbin, /opt/$(touch pwned)"
        })));
        assert!(script.contains("for d in /sbin '/opt/$(touch pwned)'; do"), "{script}");
        assert!(!script.contains("bye'; touch"), "{script}");
    }

    #[test]
    fn unknown_arguments_are_rejected_with_a_suggestion() {
        let error = args::parse::<RebootArgs>(&crate::vars::from_json(
            &serde_json::json!({"reboot_timout": 5}),
        ));
        assert!(
            matches!(&error, Err(ArgError::Unknown { suggestion: Some(s), .. }) if s == "reboot_timeout"),
            "{error:?}"
        );
    }

    #[test]
    fn timeout_messages_say_how_far_the_host_got() {
        let args = parse(serde_json::json!({"reboot_timeout": 3}));
        assert_eq!(
            Progress::Unreachable("cannot connect: refused".into()).message(&args, "a"),
            "host did not come back within 3 s: cannot connect: refused"
        );
        assert!(Progress::SameBoot
            .message(&args, "abc")
            .starts_with("boot id never changed within 3 s: the host still reports `abc`"));
        assert!(Progress::TestFailing("rc 1: no".into())
            .message(&args, "a")
            .starts_with("test command kept failing: `whoami`"));
    }

    #[tokio::test]
    async fn the_controller_is_never_rebooted_without_allow_local() {
        let templar = Templar::new();
        let scope = Value::from(());
        for check_mode in [false, true] {
            let ctx = ModuleContext {
                check_mode,
                ..ModuleContext::local(&templar, &scope)
            };
            let error = run(&Value::from(()), &ctx).await;
            assert!(
                matches!(&error, Err(ModuleError::Failed(msg)) if msg == LOCAL_REFUSED),
                "{error:?}"
            );
        }
        // Allowed, but in check mode: still nothing runs.
        let ctx = ModuleContext {
            check_mode: true,
            ..ModuleContext::local(&templar, &scope)
        };
        let args = crate::vars::from_json(&serde_json::json!({"allow_local": true}));
        let result = run(&args, &ctx).await.expect("check mode");
        assert!(result.changed && !result.failed, "{result:?}");
    }

    #[tokio::test]
    async fn check_mode_contacts_nothing_and_reports_changed() {
        let templar = Templar::new();
        let scope = Value::from(());
        let down = UnavailableTransport::new("must not be contacted");
        let ctx = ModuleContext {
            check_mode: true,
            transport: &down,
            ..ModuleContext::local(&templar, &scope)
        };
        let result = run(&Value::from(()), &ctx).await.expect("check mode");
        assert!(result.changed && !result.failed && !result.unreachable);
        assert!(result.data["rebooted"].is_true());
        assert_eq!(result.data["elapsed"].as_i64(), Some(0));
    }
}
