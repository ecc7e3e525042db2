//! Running a gate: render its strings once, then attempt the check until it passes, the
//! retries run out, or the run is cancelled.

use std::time::{Duration, Instant};

use super::command::{run_command, run_on_hosts};
use super::context::{GateContext, GateOutcome, HostList};
use super::http::HttpProbe;
use super::prometheus::PrometheusProbe;
use super::spec::{GateKind, GateSpec};
use super::tcp::connect;

/// Extra time the attempt as a whole gets over the per-attempt timeout, so that the check's own
/// timeout (which says what timed out, e.g. which host) normally fires first.
const GRACE: Duration = Duration::from_millis(500);

/// What one attempt found; the text says why, without secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The check passed.
    Pass(String),
    /// The check failed; a later attempt may pass.
    Fail(String),
}

/// A gate with its strings rendered, ready to attempt.
enum Probe {
    Http(HttpProbe),
    Tcp { host: String, port: u16 },
    Command(String),
    OnHosts { command: String, hosts: HostList },
    Prometheus(PrometheusProbe),
}

/// Runs `spec` to the end: at most `retries + 1` attempts, `delay` apart, each bounded by
/// `timeout`. Cancelling `ctx.cancel` ends it promptly (during an attempt or a delay).
pub async fn run_gate(spec: &GateSpec, ctx: &GateContext<'_>) -> GateOutcome {
    let started = Instant::now();
    let outcome = |passed, attempts, message: String, cancelled| GateOutcome {
        passed,
        attempts,
        message,
        elapsed: started.elapsed(),
        cancelled,
    };
    let probe = match prepare(spec, ctx) {
        Ok(probe) => probe,
        Err(message) => return outcome(false, 0, message, false),
    };
    let total = spec.retries.saturating_add(1);
    let mut last = String::new();
    for attempt in 1..=total {
        let result = tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => None,
            result = tokio::time::timeout(spec.timeout.saturating_add(GRACE), probe.attempt(ctx, spec.timeout)) => Some(result),
        };
        match result {
            None => return outcome(false, attempt, cancelled_message(&last), true),
            Some(Ok(Attempt::Pass(message))) => {
                let message = if attempt > 1 {
                    format!("{message} (attempt {attempt} of {total})")
                } else {
                    message
                };
                return outcome(true, attempt, message, false);
            }
            Some(Ok(Attempt::Fail(message))) => last = message,
            Some(Err(_)) => last = format!("timed out after {}", human(spec.timeout)),
        }
        tracing::debug!(gate = %spec.name, attempt, total, "gate attempt failed: {last}");
        if attempt < total {
            tokio::select! {
                biased;
                () = ctx.cancel.cancelled() => {
                    return outcome(false, attempt, cancelled_message(&last), true)
                }
                () = tokio::time::sleep(spec.delay) => {}
            }
        }
    }
    let message = if total > 1 {
        format!("{last} (after {total} attempts)")
    } else {
        last
    };
    outcome(false, total, message, false)
}

fn cancelled_message(last: &str) -> String {
    if last.is_empty() {
        "cancelled".to_string()
    } else {
        format!("cancelled; last attempt: {last}")
    }
}

/// A duration as an operator writes it ("10s", "1.5s", "250ms").
pub(crate) fn human(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// Renders the gate's templated strings and sets up what does not change between attempts.
fn prepare(spec: &GateSpec, ctx: &GateContext<'_>) -> Result<Probe, String> {
    Ok(match &spec.kind {
        GateKind::Http(check) => Probe::Http(HttpProbe::new(check, ctx, spec.timeout)?),
        GateKind::Tcp { host, port } => Probe::Tcp {
            host: ctx.render("host", host)?,
            port: *port,
        },
        GateKind::Command { command } => Probe::Command(ctx.render("command", command)?),
        GateKind::OnHosts { command, group } => Probe::OnHosts {
            command: ctx.render("command", command)?,
            hosts: ctx.hosts(group.as_deref())?,
        },
        GateKind::Prometheus(check) => {
            Probe::Prometheus(PrometheusProbe::new(check, ctx, spec.timeout)?)
        }
    })
}

impl Probe {
    async fn attempt(&self, ctx: &GateContext<'_>, timeout: Duration) -> Attempt {
        match self {
            Self::Http(probe) => probe.attempt().await,
            Self::Tcp { host, port } => connect(host, *port, timeout).await,
            Self::Command(command) => run_command(command, timeout).await,
            Self::OnHosts { command, hosts } => {
                run_on_hosts(command, hosts, ctx.forks, timeout).await
            }
            Self::Prometheus(probe) => probe.attempt().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    use super::super::test_support::{gate, http_check, TestServer};
    use super::*;
    use crate::template::testing::{scope, templar};
    use crate::transport::{LocalTransport, Transport};

    fn local(names: &[&str]) -> HostList {
        names
            .iter()
            .map(|name| {
                let transport: Arc<dyn Transport> = Arc::new(LocalTransport);
                (name.to_string(), transport)
            })
            .collect()
    }

    #[tokio::test]
    async fn cancellation_stops_a_long_retry_loop_promptly() {
        let server = TestServer::always(503, "");
        let mut spec = gate(GateKind::Http(http_check(&server.url("/"))), 1000);
        spec.delay = Duration::from_secs(30);
        let scope = scope(json!({}));
        let cancel = CancellationToken::new();
        let ctx = GateContext::new(templar(), &scope, cancel.clone());
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            trigger.cancel();
        });
        let outcome = run_gate(&spec, &ctx).await;
        assert!(outcome.cancelled && !outcome.passed, "{outcome:?}");
        assert_eq!(outcome.attempts, 1);
        assert!(
            outcome.message.starts_with("cancelled; last attempt: GET"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn cancellation_interrupts_a_running_attempt() {
        let spec = gate(
            GateKind::Command {
                command: "sleep 30".into(),
            },
            0,
        );
        let scope = scope(json!({}));
        let cancel = CancellationToken::new();
        let ctx = GateContext::new(templar(), &scope, cancel.clone());
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            trigger.cancel();
        });
        let outcome = run_gate(&spec, &ctx).await;
        assert_eq!(outcome.message, "cancelled");
        assert!(outcome.cancelled);
    }

    #[tokio::test]
    async fn an_already_cancelled_run_makes_no_attempt_at_all() {
        let server = TestServer::always(200, "");
        let scope = scope(json!({}));
        let cancel = CancellationToken::new();
        cancel.cancel();
        let ctx = GateContext::new(templar(), &scope, cancel);
        let outcome = run_gate(&gate(GateKind::Http(http_check(&server.url("/"))), 0), &ctx).await;
        assert!(outcome.cancelled);
        assert_eq!(server.hits(), 0);
    }

    #[tokio::test]
    async fn each_attempt_is_bounded_by_the_timeout() {
        let mut spec = gate(
            GateKind::Command {
                command: "sleep 10".into(),
            },
            1,
        );
        spec.timeout = Duration::from_millis(200);
        let scope = scope(json!({}));
        let ctx = GateContext::new(templar(), &scope, CancellationToken::new());
        let outcome = run_gate(&spec, &ctx).await;
        assert_eq!(outcome.attempts, 2);
        assert_eq!(
            outcome.message,
            "command timed out after 200ms (after 2 attempts)"
        );
    }

    #[tokio::test]
    async fn commands_are_templated_with_the_play_variables() {
        let spec = gate(
            GateKind::Command {
                command: "test '{{ wanted }}' = ready".into(),
            },
            0,
        );
        let ready = scope(json!({"wanted": "ready"}));
        let ctx = GateContext::new(templar(), &ready, CancellationToken::new());
        assert!(run_gate(&spec, &ctx).await.passed);
        let other = scope(json!({"wanted": "nope"}));
        let ctx = GateContext::new(templar(), &other, CancellationToken::new());
        let outcome = run_gate(&spec, &ctx).await;
        assert_eq!(outcome.message, "command exited 1");
    }

    #[tokio::test]
    async fn a_template_error_fails_without_attempting() {
        let spec = gate(
            GateKind::Command {
                command: "echo {{ missing_var }}".into(),
            },
            5,
        );
        let scope = scope(json!({}));
        let ctx = GateContext::new(templar(), &scope, CancellationToken::new());
        let outcome = run_gate(&spec, &ctx).await;
        assert!(!outcome.passed && !outcome.cancelled);
        assert_eq!(outcome.attempts, 0);
        assert!(
            outcome.message.starts_with("cannot render command:"),
            "{}",
            outcome.message
        );
        assert!(
            outcome.message.contains("missing_var"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn tcp_gates_pass_on_an_open_port_and_fail_on_a_closed_one() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let open = listener.local_addr().expect("addr").port();
        let scope = scope(json!({"db_host": "127.0.0.1"}));
        let ctx = GateContext::new(templar(), &scope, CancellationToken::new());
        let tcp = |port| {
            gate(
                GateKind::Tcp {
                    host: "{{ db_host }}".into(),
                    port,
                },
                0,
            )
        };
        assert!(run_gate(&tcp(open), &ctx).await.passed);
        drop(listener);
        let outcome = run_gate(&tcp(open), &ctx).await;
        assert!(!outcome.passed);
        assert!(outcome
            .message
            .starts_with(&format!("cannot connect to 127.0.0.1:{open}")));
    }

    #[tokio::test]
    async fn on_hosts_uses_the_batch_or_a_named_group() {
        let groups: HashMap<String, HostList> =
            HashMap::from([("hypervisors".to_string(), local(&["kvm01", "kvm02"]))]);
        let resolve = move |name: &str| groups.get(name).cloned();
        let scope = scope(json!({}));
        let ctx = GateContext::new(templar(), &scope, CancellationToken::new())
            .with_batch_hosts(local(&["web01"]))
            .with_groups(&resolve)
            .with_forks(2);
        let on = |group: Option<&str>| {
            gate(
                GateKind::OnHosts {
                    command: "true".into(),
                    group: group.map(str::to_string),
                },
                3,
            )
        };
        assert_eq!(
            run_gate(&on(None), &ctx).await.message,
            "all 1 host(s) passed"
        );
        assert_eq!(
            run_gate(&on(Some("hypervisors")), &ctx).await.message,
            "all 2 host(s) passed"
        );
        let unknown = run_gate(&on(Some("hypervisor")), &ctx).await;
        assert_eq!((unknown.passed, unknown.attempts), (false, 0));
        assert_eq!(unknown.message, "unknown group `hypervisor`");
    }

    #[tokio::test]
    async fn on_hosts_with_an_empty_batch_fails_rather_than_passing_vacuously() {
        let scope = scope(json!({}));
        let ctx = GateContext::new(templar(), &scope, CancellationToken::new());
        let spec = gate(
            GateKind::OnHosts {
                command: "true".into(),
                group: None,
            },
            0,
        );
        let outcome = run_gate(&spec, &ctx).await;
        assert!(!outcome.passed);
        assert_eq!(
            outcome.message,
            "no hosts in this batch to run the check on"
        );
    }

    #[test]
    fn durations_print_as_operators_write_them() {
        assert_eq!(human(Duration::from_secs(10)), "10s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }
}
