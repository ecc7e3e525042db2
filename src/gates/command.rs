//! The `command` gate (on the controller) and the `on_hosts` gate (on every host of the batch or
//! of a group): exit status 0 passes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::check::{human, Attempt};
use super::context::HostList;
use crate::transport::{ExecOutput, ExecRequest, ExitStatus, LocalTransport, Transport};

/// How many failing hosts a message names before it says "and N more".
const NAMED_FAILURES: usize = 10;
/// How much of a command's last output line a message quotes.
const QUOTED_OUTPUT: usize = 200;

/// Runs `command` with `/bin/sh -c` on the controller.
pub(crate) async fn run_command(command: &str, timeout: Duration) -> Attempt {
    match run_one(&LocalTransport, command, timeout).await {
        Ok(()) => Attempt::Pass("command exited 0".to_string()),
        Err(why) => Attempt::Fail(format!("command {why}")),
    }
}

/// Runs `command` on every host, at most `forks` at once; passes when all exit 0.
pub(crate) async fn run_on_hosts(
    command: &str,
    hosts: &HostList,
    forks: usize,
    timeout: Duration,
) -> Attempt {
    let limit = Arc::new(Semaphore::new(forks.max(1)));
    let mut tasks = JoinSet::new();
    for (index, (name, transport)) in hosts.iter().enumerate() {
        let (limit, transport, command) = (limit.clone(), transport.clone(), command.to_string());
        let name = name.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = run_one(transport.as_ref(), &command, timeout).await;
            (index, name, result)
        });
    }
    let mut failures = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, _, Ok(()))) => {}
            Ok((index, name, Err(why))) => failures.push((index, format!("{name} ({why})"))),
            Err(error) => failures.push((usize::MAX, format!("a check task died: {error}"))),
        }
    }
    if failures.is_empty() {
        return Attempt::Pass(format!("all {} host(s) passed", hosts.len()));
    }
    failures.sort_by_key(|(index, _)| *index);
    let mut named: Vec<String> = failures
        .iter()
        .take(NAMED_FAILURES)
        .map(|(_, text)| text.clone())
        .collect();
    if failures.len() > NAMED_FAILURES {
        named.push(format!("and {} more", failures.len() - NAMED_FAILURES));
    }
    Attempt::Fail(format!(
        "{} of {} host(s) failed: {}",
        failures.len(),
        hosts.len(),
        named.join(", ")
    ))
}

/// Runs one command through a transport; the error says how it ended ("exited 1: …").
async fn run_one(
    transport: &dyn Transport,
    command: &str,
    timeout: Duration,
) -> Result<(), String> {
    let mut request = ExecRequest::new(command);
    request.timeout = Some(timeout);
    // The transport's own timeout should fire first; this one covers transports that hang.
    let ran = tokio::time::timeout(
        timeout.saturating_add(Duration::from_millis(250)),
        transport.exec(&request),
    );
    match ran.await {
        Err(_) => Err(format!("timed out after {}", human(timeout))),
        Ok(Err(error)) => Err(format!("unreachable: {error}")),
        Ok(Ok(output)) => match output.status {
            ExitStatus::Code(0) => Ok(()),
            ExitStatus::Code(code) => Err(format!("exited {code}{}", last_line(&output))),
            ExitStatus::Signal(signal) => {
                Err(format!("killed by signal {signal}{}", last_line(&output)))
            }
            ExitStatus::TimedOut => Err(format!("timed out after {}", human(timeout))),
        },
    }
}

/// `": <last line>"` of stderr (or stdout when stderr is empty), shortened; empty when silent.
fn last_line(output: &ExecOutput) -> String {
    let stderr = output.stderr_text();
    let stdout = output.stdout_text();
    let text = if stderr.trim().is_empty() {
        &stdout
    } else {
        &stderr
    };
    match text.lines().rev().find(|line| !line.trim().is_empty()) {
        Some(line) => {
            let line = line.trim();
            let mut quoted: String = line.chars().take(QUOTED_OUTPUT).collect();
            if quoted.len() < line.len() {
                quoted.push('…');
            }
            format!(": {quoted}")
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// The local connection, telling the command which host it plays (`$HOST_NAME`), as
    /// `inventory_hostname` would on a real host.
    struct NamedLocal(String);

    #[async_trait::async_trait]
    impl Transport for NamedLocal {
        async fn exec(
            &self,
            request: &ExecRequest,
        ) -> Result<ExecOutput, crate::transport::TransportError> {
            let mut request = request.clone();
            request.env.push(("HOST_NAME".into(), self.0.clone()));
            LocalTransport.exec(&request).await
        }
    }

    pub(crate) fn local_hosts(names: &[&str]) -> HostList {
        names
            .iter()
            .map(|name| {
                let transport: Arc<dyn Transport> = Arc::new(NamedLocal(name.to_string()));
                (name.to_string(), transport)
            })
            .collect()
    }

    #[tokio::test]
    async fn a_command_that_exits_0_passes() {
        assert_eq!(
            run_command("true", SECOND).await,
            Attempt::Pass("command exited 0".into())
        );
    }

    #[tokio::test]
    async fn a_command_that_exits_1_fails_quoting_its_last_line() {
        let attempt = run_command("echo first >&2; echo 'disk full' >&2; exit 1", SECOND).await;
        assert_eq!(attempt, Attempt::Fail("command exited 1: disk full".into()));
    }

    #[tokio::test]
    async fn a_command_that_hangs_times_out() {
        let attempt = run_command("sleep 5", Duration::from_millis(200)).await;
        assert_eq!(
            attempt,
            Attempt::Fail("command timed out after 200ms".into())
        );
    }

    #[tokio::test]
    async fn on_hosts_passes_when_every_host_passes() {
        let hosts = local_hosts(&["kvm01", "kvm02", "kvm03"]);
        let attempt = run_on_hosts("true", &hosts, 2, SECOND).await;
        assert_eq!(attempt, Attempt::Pass("all 3 host(s) passed".into()));
    }

    #[tokio::test]
    async fn on_hosts_lists_the_failing_hosts_in_inventory_order() {
        let hosts = local_hosts(&["kvm01", "kvm02", "kvm03", "kvm04"]);
        let command =
            r#"case "$HOST_NAME" in kvm02|kvm04) echo "libvirtd inactive" >&2; exit 3;; esac"#;
        let attempt = run_on_hosts(command, &hosts, 4, SECOND).await;
        assert_eq!(
            attempt,
            Attempt::Fail(
                "2 of 4 host(s) failed: kvm02 (exited 3: libvirtd inactive), \
                 kvm04 (exited 3: libvirtd inactive)"
                    .into()
            )
        );
    }

    #[tokio::test]
    async fn on_hosts_runs_hosts_concurrently() {
        // Every host waits at a barrier (a file that must reach four lines): run one after
        // another, each would give up and print `alone`.
        let dir = tempfile::tempdir().expect("temp dir");
        let barrier = dir.path().join("barrier");
        let command = format!(
            "echo x >> {b}; i=0; while [ $(wc -l < {b}) -lt 4 ]; do i=$((i+1)); [ $i -gt 200 ] && {{ echo alone; exit 1; }}; sleep 0.05; done",
            b = barrier.display()
        );
        let hosts = local_hosts(&["a", "b", "c", "d"]);
        let attempt = run_on_hosts(&command, &hosts, 4, Duration::from_secs(30)).await;
        assert!(matches!(attempt, Attempt::Pass(_)), "{attempt:?}");
    }

    #[tokio::test]
    async fn on_hosts_names_many_failures_briefly() {
        let names: Vec<String> = (1..=13).map(|n| format!("h{n:02}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let attempt = run_on_hosts("exit 1", &local_hosts(&names), 8, SECOND).await;
        let Attempt::Fail(message) = attempt else {
            panic!("passed")
        };
        assert!(
            message.starts_with("13 of 13 host(s) failed: h01 (exited 1), h02"),
            "{message}"
        );
        assert!(message.ends_with("h10 (exited 1), and 3 more"), "{message}");
    }
}
