//! `wait_for_connection`: wait until the host can be reached and runs a command again.
//!
//! After `delay`, each attempt reconnects through the transport ([`Transport::reconnect`],
//! as `reboot` does, so host keys are checked as anywhere else) within `connect_timeout`,
//! then runs `echo pong` (Ansible runs its `ping` module); the first attempt that prints
//! `pong` ends the wait. Between failed attempts the module sleeps `sleep` seconds. It fails
//! with Ansible's message once `timeout` has passed, or at once when the host answers with a
//! host key or credentials the transport refuses (waiting would not change that).
//!
//! Deviation from Ansible: none in the arguments; `elapsed` counts whole seconds as Ansible's
//! does. In check mode the module is skipped, as Ansible's action plugin skips it.
//!
//! [`Transport::reconnect`]: crate::transport::Transport::reconnect

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::{ExecRequest, TransportError};
use crate::vars::Value;

/// Arguments of `wait_for_connection`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitForConnectionArgs {
    /// Seconds one attempt (connecting and the test command) may take (default 5).
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    connect_timeout: Option<f64>,
    /// Seconds to wait before the first attempt (default 0).
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    delay: Option<f64>,
    /// Seconds between attempts (default 1).
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    sleep: Option<f64>,
    /// Seconds to wait in all, counted from the start of the task (default 600).
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    timeout: Option<f64>,
}

/// What `wait_for_connection` registers.
#[derive(Debug, Serialize)]
struct WaitOutcome {
    elapsed: u64,
}

/// `wait_for_connection`: wait until the host is reachable and usable.
pub(crate) struct WaitForConnection;

#[async_trait]
impl Module for WaitForConnection {
    fn names(&self) -> &'static [&'static str] {
        &[
            "wait_for_connection",
            "ansible.builtin.wait_for_connection",
            "ansible.legacy.wait_for_connection",
        ]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<WaitForConnectionArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Unsupported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: WaitForConnectionArgs = args::parse(args)?;
        wait(&args, ctx).await
    }
}

fn seconds(value: Option<f64>, default: f64) -> Duration {
    Duration::from_secs_f64(value.unwrap_or(default))
}

async fn wait(
    args: &WaitForConnectionArgs,
    ctx: &ModuleContext<'_>,
) -> Result<ModuleResult, ModuleError> {
    let start = Instant::now();
    let deadline = start + seconds(args.timeout, 600.0);
    let per_try = seconds(args.connect_timeout, 5.0).max(Duration::from_millis(100));
    let pause = seconds(args.sleep, 1.0);
    let delay = seconds(args.delay, 0.0);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let outcome = |start: Instant| WaitOutcome {
        elapsed: start.elapsed().as_secs(),
    };
    let last_error = loop {
        let attempt_deadline = deadline.min(Instant::now() + per_try);
        match attempt(ctx, attempt_deadline).await {
            Ok(()) => return Ok(ModuleResult::ok().with_data(&outcome(start))),
            Err(Attempt::Refused(error)) => {
                return Ok(ModuleResult::failed(format!(
                    "the host answered but was refused: {error}"
                ))
                .with_data(&outcome(start)));
            }
            Err(Attempt::Failed(error)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break error;
                }
                tokio::time::sleep(pause.min(left)).await;
                if Instant::now() >= deadline {
                    break error;
                }
            }
        }
    };
    Ok(
        ModuleResult::failed(format!("timed out waiting for ping module test: {last_error}"))
            .with_data(&outcome(start)),
    )
}

/// Why one attempt did not pass.
enum Attempt {
    /// Waiting will not help: the host key or the credentials were refused.
    Refused(TransportError),
    /// Not yet: unreachable, too slow, or the command did not answer as it should.
    Failed(String),
}

/// A fresh connection and a trivial command, both before `deadline`.
async fn attempt(ctx: &ModuleContext<'_>, deadline: Instant) -> Result<(), Attempt> {
    let transport_error = |error: TransportError| match error {
        TransportError::HostKey(_) | TransportError::Auth(_) => Attempt::Refused(error),
        other => Attempt::Failed(other.to_string()),
    };
    ctx.transport
        .reconnect(deadline)
        .await
        .map_err(transport_error)?;
    let left = deadline.saturating_duration_since(Instant::now());
    let mut request = ExecRequest::new("echo pong");
    request.timeout = Some(left.max(Duration::from_millis(100)));
    let output = ctx.exec_request(request).await.map_err(transport_error)?;
    if output.status.success() && output.stdout_text().trim() == "pong" {
        Ok(())
    } else {
        Err(Attempt::Failed(format!(
            "`echo pong` answered rc {} with {:?}",
            output.status.rc(),
            output.stdout_text().trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::template::Templar;
    use crate::transport::{ExecOutput, LocalTransport, Transport, UnavailableTransport};

    /// Refuses the first `down` commands, then runs them locally; counts reconnects.
    struct ComesBack {
        down: usize,
        calls: AtomicUsize,
        reconnects: AtomicUsize,
    }

    #[async_trait]
    impl Transport for ComesBack {
        async fn exec(&self, request: &ExecRequest) -> Result<ExecOutput, TransportError> {
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.down {
                return Err(TransportError::Connect("connection refused".into()));
            }
            LocalTransport.exec(request).await
        }

        async fn reconnect(&self, _deadline: Instant) -> Result<(), TransportError> {
            self.reconnects.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    async fn run_on(transport: &dyn Transport, args: serde_json::Value) -> ModuleResult {
        let templar = Templar::new();
        let scope = Value::from(());
        let ctx = ModuleContext {
            transport,
            ..ModuleContext::local(&templar, &scope)
        };
        crate::modules::run(&WaitForConnection, &crate::vars::from_json(&args), &ctx).await
    }

    #[tokio::test]
    async fn a_host_that_comes_back_ends_the_wait_with_a_fresh_connection_each_try() {
        let host = ComesBack {
            down: 2,
            calls: AtomicUsize::new(0),
            reconnects: AtomicUsize::new(0),
        };
        let result = run_on(&host, serde_json::json!({"sleep": 0.05, "timeout": 10})).await;
        assert!(!result.failed && !result.changed, "{result:?}");
        assert_eq!(host.calls.load(Ordering::SeqCst), 3);
        assert_eq!(host.reconnects.load(Ordering::SeqCst), 3);
        assert!(result.data.contains_key("elapsed"));
    }

    #[tokio::test]
    async fn a_host_that_stays_down_fails_after_the_timeout() {
        let down = UnavailableTransport::new("no route to host");
        let started = Instant::now();
        let result = run_on(
            &down,
            serde_json::json!({"timeout": 0.5, "sleep": 0.1, "delay": 0.1, "connect_timeout": 1}),
        )
        .await;
        assert!(result.failed && !result.unreachable, "{result:?}");
        assert_eq!(
            result.msg.as_deref(),
            Some("timed out waiting for ping module test: cannot connect: no route to host")
        );
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(500) && waited < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn check_mode_skips_and_bad_arguments_fail() {
        let templar = Templar::new();
        let scope = Value::from(());
        let ctx = ModuleContext {
            check_mode: true,
            ..ModuleContext::local(&templar, &scope)
        };
        let args = crate::vars::from_json(&serde_json::json!({}));
        assert!(crate::modules::run(&WaitForConnection, &args, &ctx).await.skipped);
        let bad = run_on(&LocalTransport, serde_json::json!({"timeout": -1})).await;
        assert!(bad.failed, "{bad:?}");
        let unknown = run_on(&LocalTransport, serde_json::json!({"port": 22})).await;
        assert_eq!(unknown.msg.as_deref(), Some("unsupported argument `port`"));
    }
}
