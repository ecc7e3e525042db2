//! `wait_for`: wait on the host until a port or path reaches a state, as one remote sh loop.
//!
//! Like Ansible's module, the checks run ON the host, so `host: 127.0.0.1` means the managed
//! host itself. Port checks use bash's `/dev/tcp` (bounded by `timeout` when present) or
//! `nc -z`. `search_regex` is honoured for files only; for ports rpatch waits for the
//! connection and does not read from it.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::{quote, ExecRequest, ExitStatus};
use crate::vars::Value;

/// Arguments of `wait_for`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitForArgs {
    /// The host to connect to, as the managed host resolves it.
    #[serde(default = "loopback")]
    host: String,
    /// The TCP port to wait for.
    #[serde(default, deserialize_with = "lenient::opt_port")]
    port: Option<u16>,
    /// The path to wait for.
    path: Option<String>,
    /// What to wait for.
    #[serde(default)]
    state: WaitState,
    /// For files: wait until this (PCRE when grep has `-P`, else ERE) matches a line.
    search_regex: Option<String>,
    /// Give up after this many seconds (counted from the start, including `delay`).
    #[serde(default = "default_timeout", deserialize_with = "lenient::whole")]
    timeout: u64,
    /// Seconds to wait before the first check.
    #[serde(default, deserialize_with = "lenient::whole")]
    delay: u64,
    /// Seconds between checks.
    #[serde(default = "one", deserialize_with = "lenient::whole")]
    sleep: u64,
    /// Seconds to wait for one connection attempt.
    #[serde(default = "five", deserialize_with = "lenient::whole")]
    connect_timeout: u64,
    /// The failure message instead of Ansible's default.
    msg: Option<String>,
}

fn loopback() -> String {
    "127.0.0.1".into()
}
fn default_timeout() -> u64 {
    300
}
fn one() -> u64 {
    1
}
fn five() -> u64 {
    5
}

/// Ansible's `state` choices.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum WaitState {
    #[default]
    Started,
    Present,
    Stopped,
    Absent,
    Drained,
}

/// The one condition the remote loop polls.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    PortOpen {
        host: String,
        port: u16,
    },
    PortClosed {
        host: String,
        port: u16,
    },
    PortDrained {
        port: u16,
    },
    PathPresent {
        path: String,
    },
    PathMatches {
        path: String,
        regex: String,
    },
    PathAbsent {
        path: String,
    },
    /// Neither port nor path: just sleep for `timeout`.
    Sleep,
}

impl Condition {
    fn from_args(args: &WaitForArgs) -> Result<Self, ArgError> {
        use WaitState::*;
        let host = args.host.clone();
        Ok(match (args.port, &args.path, args.state) {
            (Some(_), Some(_), _) => {
                return Err(invalid(
                    "port and path parameter can not both be passed to wait_for",
                ))
            }
            (Some(port), None, Started | Present) => Self::PortOpen { host, port },
            (Some(port), None, Stopped | Absent) => Self::PortClosed { host, port },
            (Some(port), None, Drained) => Self::PortDrained { port },
            (None, Some(_), Stopped) => {
                return Err(invalid(
                    "state=stopped should only be used for checking a port in the wait_for module",
                ))
            }
            (None, Some(_), Drained) => {
                return Err(invalid(
                    "state=drained should only be used for checking a port in the wait_for module",
                ))
            }
            (None, Some(path), Absent) => Self::PathAbsent { path: path.clone() },
            (None, Some(path), Started | Present) => match &args.search_regex {
                Some(regex) => Self::PathMatches {
                    path: path.clone(),
                    regex: regex.clone(),
                },
                None => Self::PathPresent { path: path.clone() },
            },
            (None, None, Drained) => return Err(invalid("state=drained needs a port")),
            (None, None, _) => Self::Sleep,
        })
    }

    /// Ansible's message when the timeout passes.
    fn timeout_message(&self) -> String {
        match self {
            Self::PortOpen { host, port } => format!("Timeout when waiting for {host}:{port}"),
            Self::PortClosed { host, port } => {
                format!("Timeout when waiting for {host}:{port} to stop.")
            }
            Self::PortDrained { port } => {
                format!("Timeout when waiting for connections on port {port} to drain")
            }
            Self::PathPresent { path } => format!("Timeout when waiting for file {path}"),
            Self::PathMatches { path, regex } => {
                format!("Timeout when waiting for search string {regex} in {path}")
            }
            Self::PathAbsent { path } => format!("Timeout when waiting for {path} to be absent."),
            Self::Sleep => "Timeout".into(),
        }
    }

    /// Shell functions defining `check` (0 when the condition holds), plus any setup.
    fn check_function(&self, connect_timeout: u64) -> String {
        match self {
            Self::PortOpen { host, port } | Self::PortClosed { host, port } => {
                let negate = if matches!(self, Self::PortClosed { .. }) {
                    "! "
                } else {
                    ""
                };
                format!(
                    "h={host}; port={port}\n\
                     if command -v bash >/dev/null 2>&1; then probe=bash\n\
                     elif command -v nc >/dev/null 2>&1; then probe=nc\n\
                     else report noprobe; fi\n\
                     limit=; command -v timeout >/dev/null 2>&1 && limit='timeout {ct}'\n\
                     port_open() {{\n\
                       case $probe in\n\
                         bash) $limit bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' \"$h\" \"$port\" >/dev/null 2>&1 ;;\n\
                         *) nc -z -w {ct} \"$h\" \"$port\" >/dev/null 2>&1 ;;\n\
                       esac\n\
                     }}\n\
                     check() {{ {negate}port_open; }}\n",
                    host = quote(host),
                    ct = connect_timeout.max(1),
                )
            }
            Self::PortDrained { port } => format!(
                "[ -r /proc/net/tcp ] || report nodrain\n\
                 check() {{\n\
                   n=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v want={port:04X} \
                 '{{ split($2, a, \":\"); if (a[2] == want && $4 ~ /^0[1-6]$/) c++ }} END {{ print c + 0 }}')\n\
                   [ \"$n\" = 0 ]\n\
                 }}\n"
            ),
            Self::PathPresent { path } => {
                format!("p={}\ncheck() {{ [ -e \"$p\" ]; }}\n", quote(path))
            }
            Self::PathAbsent { path } => {
                format!("p={}\ncheck() {{ [ ! -e \"$p\" ]; }}\n", quote(path))
            }
            Self::PathMatches { path, regex } => format!(
                "p={path}; re={regex}\n\
                 if printf 'x\\n' | grep -qP 'x' >/dev/null 2>&1; then gflag=-P; else gflag=-E; fi\n\
                 check() {{\n\
                   [ -r \"$p\" ] && [ ! -d \"$p\" ] || return 1\n\
                   err=$(grep $gflag -q -e \"$re\" -- \"$p\" 2>&1); rc=$?\n\
                   case $rc in 0) return 0;; 1) return 1;; esac\n\
                   [ -r \"$p\" ] || return 1\n\
                   printf 'error=%s\\n' \"$err\" | head -n 1\n\
                   report badregex\n\
                 }}\n",
                path = quote(path),
                regex = quote(regex),
            ),
            Self::Sleep => String::new(),
        }
    }
}

fn invalid(msg: &str) -> ArgError {
    ArgError::Invalid(msg.into())
}

/// The remote script: prints `rpatch_wait=<ok|timeout|...>` and `elapsed=<seconds>`.
fn script(condition: &Condition, args: &WaitForArgs) -> String {
    let mut script = format!(
        "LC_ALL=C; export LC_ALL\n\
         start=$(date +%s)\n\
         deadline=$((start + {timeout}))\n\
         report() {{ echo \"rpatch_wait=$1\"; echo \"elapsed=$(( $(date +%s) - start ))\"; exit 0; }}\n",
        timeout = args.timeout,
    );
    if args.delay > 0 {
        script.push_str(&format!("sleep {}\n", args.delay));
    }
    if *condition == Condition::Sleep {
        script.push_str(
            "remaining=$((deadline - $(date +%s)))\n\
             [ \"$remaining\" -gt 0 ] && sleep \"$remaining\"\n\
             report ok\n",
        );
        return script;
    }
    script.push_str(&condition.check_function(args.connect_timeout));
    script.push_str(&format!(
        "while :; do\n\
           check && report ok\n\
           [ \"$(date +%s)\" -ge \"$deadline\" ] && report timeout\n\
           sleep {}\n\
         done\n",
        args.sleep.max(1)
    ));
    script
}

/// What `wait_for` registers.
#[derive(Debug, Serialize)]
struct WaitOutcome {
    elapsed: u64,
    state: WaitState,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    search_regex: Option<String>,
}

/// `wait_for`: wait on the host for a port or a path.
pub(crate) struct WaitFor;

#[async_trait]
impl Module for WaitFor {
    fn names(&self) -> &'static [&'static str] {
        &["wait_for", "ansible.builtin.wait_for", "ansible.legacy.wait_for"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<WaitForArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(args, ctx).await
    }
}

/// Waits on the host; never changes anything, so it runs the same in check mode.
async fn run(args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let args: WaitForArgs = args::parse(args)?;
    let condition = Condition::from_args(&args)?;
    let mut request = ExecRequest::new(script(&condition, &args));
    // The remote loop ends itself; this only guards against a host that stops answering.
    let slack = args.delay + args.sleep + args.connect_timeout + 30;
    request.timeout = Some(Duration::from_secs(args.timeout.saturating_add(slack)));
    let output = ctx.exec_request(request).await?;
    let stdout = output.stdout_text();
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
    };
    let elapsed = field("elapsed")
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    let timed_out = |result: ModuleResult| {
        result.with_msg(
            args.msg
                .clone()
                .unwrap_or_else(|| condition.timeout_message()),
        )
    };
    let failed_with = |msg: String| {
        ModuleResult::failed(msg).with_data(&serde_json::json!({ "elapsed": elapsed }))
    };
    Ok(match field("rpatch_wait") {
        Some("ok") => ModuleResult::ok().with_data(&WaitOutcome {
            elapsed,
            state: args.state,
            port: args.port,
            path: args.path.clone(),
            search_regex: args.search_regex.clone(),
        }),
        Some("timeout") => timed_out(failed_with(String::new())),
        Some("noprobe") => {
            failed_with("wait_for needs bash or nc on the host to check a port".into())
        }
        Some("nodrain") => failed_with("state=drained needs /proc/net/tcp on the host".into()),
        Some("badregex") => failed_with(format!(
            "cannot search {}: {}",
            args.path.as_deref().unwrap_or(""),
            field("error").unwrap_or("grep failed")
        )),
        _ if output.status == ExitStatus::TimedOut => timed_out(failed_with(String::new())),
        _ => failed_with(format!(
            "wait_for did not complete on the host (rc {}): {}",
            output.status.rc(),
            output.stderr_text().trim()
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Templar;
    use std::net::TcpListener;
    use std::time::Instant;

    async fn wait_for(args: serde_json::Value) -> ModuleResult {
        let templar = Templar::new();
        let scope = Value::from(());
        let ctx = ModuleContext {
            check_mode: true,
            ..ModuleContext::local(&templar, &scope)
        };
        run(&crate::vars::from_json(&args), &ctx)
            .await
            .expect("valid args")
    }

    fn listener() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        (listener, port)
    }

    #[tokio::test]
    async fn started_returns_quickly_when_the_port_is_open() {
        let (_listener, port) = listener();
        let result = wait_for(serde_json::json!({"port": port, "timeout": 10})).await;
        assert!(!result.failed && !result.changed, "{result:?}");
        assert_eq!(result.data["port"].as_i64(), Some(i64::from(port)));
        assert_eq!(result.data["state"].as_str(), Some("started"));
        let elapsed = result.data["elapsed"].as_i64().expect("elapsed");
        assert!(
            elapsed < 10,
            "an open port must not wait for the timeout: {elapsed}"
        );
    }

    #[tokio::test]
    async fn stopped_fails_after_the_timeout_while_the_port_stays_open() {
        let (_listener, port) = listener();
        let result = wait_for(serde_json::json!({
            "port": port, "state": "stopped", "timeout": 1
        }))
        .await;
        assert!(result.failed, "{result:?}");
        assert_eq!(
            result.msg.as_deref(),
            Some(format!("Timeout when waiting for 127.0.0.1:{port} to stop.").as_str())
        );
        assert!(result.data.contains_key("elapsed"));
    }

    #[tokio::test]
    async fn stopped_succeeds_on_a_closed_port_and_started_fails_with_msg() {
        let (listener, port) = listener();
        drop(listener);
        let stopped = wait_for(serde_json::json!({"port": port, "state": "stopped"})).await;
        assert!(!stopped.failed, "{stopped:?}");
        let started = wait_for(serde_json::json!({
            "port": port, "timeout": "1", "msg": "service never came up"
        }))
        .await;
        assert!(started.failed);
        assert_eq!(started.msg.as_deref(), Some("service never came up"));
    }

    #[tokio::test]
    async fn waits_for_a_path_created_later() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ready");
        let later = path.clone();
        let maker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1200));
            std::fs::write(later, "").expect("write");
        });
        let result = wait_for(serde_json::json!({"path": path, "timeout": 10})).await;
        maker.join().expect("thread");
        assert!(!result.failed, "{result:?}");
        assert!(result.data["elapsed"].as_i64().unwrap_or(-1) >= 1);
        assert_eq!(
            result.data["path"].as_str(),
            Some(path.to_string_lossy().as_ref())
        );
    }

    #[tokio::test]
    async fn search_regex_waits_for_matching_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        std::fs::write(&path, "starting\n").expect("write");
        let missing = wait_for(serde_json::json!({
            "path": path, "search_regex": "ready on port \\d+", "timeout": 1
        }))
        .await;
        assert!(missing.failed);
        assert_eq!(
            missing.msg.as_deref(),
            Some(
                format!(
                    "Timeout when waiting for search string ready on port \\d+ in {}",
                    path.display()
                )
                .as_str()
            )
        );
        std::fs::write(&path, "starting\nready on port 8080\n").expect("write");
        let found = wait_for(serde_json::json!({
            "path": path, "search_regex": "ready on port \\d+", "timeout": 5
        }))
        .await;
        assert!(!found.failed, "{found:?}");
        assert_eq!(
            found.data["search_regex"].as_str(),
            Some("ready on port \\d+")
        );
    }

    #[tokio::test]
    async fn absent_succeeds_for_a_missing_path_and_times_out_for_a_present_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gone = wait_for(serde_json::json!({
            "path": dir.path().join("nothing here"), "state": "absent"
        }))
        .await;
        assert!(!gone.failed, "{gone:?}");
        let present = wait_for(serde_json::json!({
            "path": dir.path(), "state": "absent", "timeout": 1
        }))
        .await;
        assert!(present.failed);
        assert_eq!(
            present.msg.as_deref(),
            Some(
                format!(
                    "Timeout when waiting for {} to be absent.",
                    dir.path().display()
                )
                .as_str()
            )
        );
    }

    #[tokio::test]
    async fn delay_is_waited_before_the_first_check() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Instant::now();
        let result = wait_for(serde_json::json!({"path": dir.path(), "delay": 1})).await;
        assert!(!result.failed);
        assert!(clock.elapsed() >= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn no_port_or_path_sleeps_for_the_timeout() {
        let clock = Instant::now();
        let result = wait_for(serde_json::json!({"timeout": 1})).await;
        assert!(!result.failed, "{result:?}");
        assert!(clock.elapsed() >= Duration::from_millis(900));
    }

    #[tokio::test]
    async fn drained_succeeds_when_nobody_is_connected() {
        let (_listener, port) = listener();
        let result = wait_for(serde_json::json!({
            "port": port, "state": "drained", "timeout": 2
        }))
        .await;
        assert!(!result.failed, "{result:?}");
    }

    #[test]
    fn contradictory_arguments_are_rejected_like_ansible() {
        let condition = |json: serde_json::Value| {
            let args: WaitForArgs = args::parse(&crate::vars::from_json(&json)).expect("parse");
            Condition::from_args(&args)
        };
        assert!(condition(serde_json::json!({"port": 22, "path": "/x"})).is_err());
        assert!(condition(serde_json::json!({"path": "/x", "state": "stopped"})).is_err());
        assert!(condition(serde_json::json!({"path": "/x", "state": "drained"})).is_err());
        assert_eq!(
            condition(serde_json::json!({"port": "22", "state": "absent"})).ok(),
            Some(Condition::PortClosed {
                host: "127.0.0.1".into(),
                port: 22
            })
        );
        let bad_port = args::parse::<WaitForArgs>(&crate::vars::from_json(
            &serde_json::json!({"port": 70000}),
        ));
        assert!(bad_port.is_err());
    }

    #[tokio::test]
    async fn hostile_paths_and_regexes_are_never_run_by_the_shell() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("pwned");
        let path = dir.path().join("it's\"; $(touch pwned) `touch pwned`");
        std::fs::write(&path, "line\n").expect("write");
        let result = wait_for(serde_json::json!({
            "path": path,
            "search_regex": format!("$(touch {})`touch {}`", marker.display(), marker.display()),
            "timeout": 1
        }))
        .await;
        assert!(result.failed, "the regex cannot match: {result:?}");
        assert!(!marker.exists());
        assert!(!std::path::Path::new("pwned").exists());
        let found = wait_for(serde_json::json!({"path": path, "search_regex": "^li"})).await;
        assert!(!found.failed, "{found:?}");
    }
}
