//! Executable inventory scripts, Ansible's protocol: `script --list` prints groups and
//! `_meta.hostvars`; without `_meta`, `script --host NAME` runs once per host, at most
//! [`HOST_CALLS`] at a time.
//!
//! Invariants: a script runs with rpatch's working directory and no stdin (as Ansible runs it),
//! in its own process group, which is killed whole when the timeout passes, so a script that
//! started `sleep` cannot hold rpatch; its output is capped at the input limit; any failure is an
//! error naming the command with its standard error (truncated), and nothing runs.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::dynamic_error::{truncate_stderr, DynamicError};
use super::source_data::SourceData;

/// The environment variable holding the timeout of one script call, in seconds.
pub const TIMEOUT_ENV: &str = "RPATCH_INVENTORY_TIMEOUT";
/// The default timeout of one script call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How many `--host NAME` calls run at once.
pub const HOST_CALLS: usize = 8;

/// The timeout from [`TIMEOUT_ENV`], else [`DEFAULT_TIMEOUT`].
pub fn timeout_from_env() -> Result<Duration, DynamicError> {
    match std::env::var(TIMEOUT_ENV) {
        Ok(value) if !value.trim().is_empty() => crate::seconds::seconds_from_text(value.trim())
            .map_err(|_| DynamicError::BadTimeout { value }),
        _ => Ok(DEFAULT_TIMEOUT),
    }
}

/// Runs `path --list` (and `--host NAME` per host when `_meta` is absent) and returns what it
/// reported. `Ok(None)` when the file cannot be executed as a program (`ENOEXEC`: an executable
/// text file without `#!`), which Ansible then reads as a static inventory.
pub fn discover(path: &Path, timeout: Duration) -> Result<Option<SourceData>, DynamicError> {
    let limit = crate::input::max_bytes().unwrap_or(crate::input::DEFAULT_MAX_BYTES);
    let output = match run(path, &["--list"], timeout, limit) {
        Err(DynamicError::Spawn { source, .. })
            if source.raw_os_error() == Some(rustix::io::Errno::NOEXEC.raw_os_error()) =>
        {
            return Ok(None)
        }
        other => other?,
    };
    let command = command_text(path, &["--list"]);
    let listed =
        SourceData::parse_list(&output.stdout).map_err(|reason| DynamicError::BadOutput {
            command: command.clone(),
            reason,
            stderr: output.stderr.clone(),
        })?;
    let mut data = listed.data;
    note_stderr(&mut data, &command, &output.stderr);
    if let Some(name) = data.host_and_group() {
        return Err(DynamicError::HostAndGroup {
            path: path.to_path_buf(),
            name,
        });
    }
    if !listed.has_meta {
        let hosts = data.hosts();
        for (host, (vars, stderr)) in hosts.iter().zip(host_calls(path, &hosts, timeout, limit)?) {
            note_stderr(&mut data, &command_text(path, &["--host", host]), &stderr);
            data.hostvars.insert(host.clone(), vars);
        }
    }
    Ok(Some(data))
}

/// Keeps what a successful call wrote to stderr, for a warning.
fn note_stderr(data: &mut SourceData, command: &str, stderr: &str) {
    if !stderr.trim().is_empty() {
        data.stderr
            .push(format!("`{command}`: {}", stderr.trim_end()));
    }
}

/// Variables from one `--host` call and what it wrote to stderr.
type HostAnswer = (serde_json::Map<String, serde_json::Value>, String);

/// `--host NAME` for every host, [`HOST_CALLS`] at a time; results in `hosts` order.
fn host_calls(
    path: &Path,
    hosts: &[String],
    timeout: Duration,
    limit: u64,
) -> Result<Vec<HostAnswer>, DynamicError> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<_, DynamicError>>> =
        (0..hosts.len()).map(|_| None).collect();
    let (sender, receiver) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..HOST_CALLS.min(hosts.len()) {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(host) = hosts.get(index) else { break };
                let args = ["--host", host.as_str()];
                let result =
                    run(path, &args, timeout, limit).and_then(
                        |output| match SourceData::parse_host(&output.stdout) {
                            Ok(vars) => Ok((vars, output.stderr)),
                            Err(reason) => Err(DynamicError::BadOutput {
                                command: command_text(path, &args),
                                reason,
                                stderr: output.stderr,
                            }),
                        },
                    );
                let failed = result.is_err();
                if sender.send((index, result)).is_err() || failed {
                    // Stop taking new hosts once one failed: the load fails anyway.
                    next.store(hosts.len(), Ordering::Relaxed);
                }
            });
        }
        drop(sender);
        for (index, result) in receiver {
            if let Some(slot) = results.get_mut(index) {
                *slot = Some(result);
            }
        }
    });
    let mut vars = Vec::with_capacity(hosts.len());
    for result in results {
        match result {
            Some(result) => vars.push(result?),
            None => continue,
        }
    }
    Ok(vars)
}

/// How long the output readers get, after the kill, to collect what a timed-out script
/// printed before it was killed.
const KILLED_READ_GRACE: Duration = Duration::from_secs(5);

/// What a finished script call printed.
struct Output {
    stdout: String,
    stderr: String,
}

/// Runs one script call with a timeout and an output cap.
fn run(path: &Path, args: &[&str], timeout: Duration, limit: u64) -> Result<Output, DynamicError> {
    let command = command_text(path, args);
    // An absolute path, so that `inv.sh` is not looked up in $PATH (Ansible runs the
    // absolute path too).
    let program = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| DynamicError::Spawn {
            path: path.to_path_buf(),
            source,
        })?;
    let group = rustix::process::Pid::from_child(&child);
    let kill_group = || {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    };
    let (sender, receiver) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let result = stdout.take(limit.saturating_add(1)).read_to_end(&mut bytes);
            let _ = sender.send((true, result.map(|_| bytes)));
        });
    }
    if let Some(mut stderr) = child.stderr.take() {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let result = (&mut stderr)
                .take(64 * 1024)
                .read_to_end(&mut kept)
                .and_then(|_| std::io::copy(&mut stderr, &mut std::io::sink()));
            let _ = sender.send((false, result.map(|_| kept)));
        });
    }
    drop(sender);
    let deadline = Instant::now() + timeout;
    let (mut stdout, mut stderr) = (None, None);
    let mut timed_out = false;
    while stdout.is_none() || stderr.is_none() {
        // Until the timeout, wait for the deadline; after the kill, give each reader a grace
        // period to see its pipe close (every process of the group is gone, so only a loaded
        // machine makes this slow) and hand over what the script printed before.
        let wait = if timed_out {
            KILLED_READ_GRACE
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        match receiver.recv_timeout(wait) {
            Ok((true, bytes)) => {
                let bytes = bytes.unwrap_or_default();
                if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
                    kill_group();
                    let _ = child.wait();
                    return Err(DynamicError::TooLarge { command, limit });
                }
                stdout = Some(bytes);
            }
            Ok((false, bytes)) => stderr = Some(bytes.unwrap_or_default()),
            Err(mpsc::RecvTimeoutError::Timeout) if !timed_out => {
                timed_out = true;
                kill_group();
                let _ = child.kill();
            }
            // Killed and still silent after the grace, or both readers gone: stop waiting.
            Err(_) => break,
        }
    }
    let status = child.wait().map_err(|source| DynamicError::Spawn {
        path: path.to_path_buf(),
        source,
    })?;
    let stderr = truncate_stderr(&stderr.unwrap_or_default());
    if timed_out {
        return Err(DynamicError::Timeout {
            command,
            seconds: timeout.as_secs(),
            stderr,
        });
    }
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let status = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            _ => status.to_string(),
        };
        return Err(DynamicError::Failed {
            command,
            status,
            stderr,
        });
    }
    let stdout =
        String::from_utf8(stdout.unwrap_or_default()).map_err(|e| DynamicError::BadOutput {
            command: command.clone(),
            reason: format!(
                "it is not UTF-8 (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            stderr: stderr.clone(),
        })?;
    Ok(Output { stdout, stderr })
}

fn command_text(path: &Path, args: &[&str]) -> String {
    let mut words = vec![path.display().to_string()];
    words.extend(args.iter().map(|a| a.to_string()));
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

/// True when `path` is a regular file with an execute bit set.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
