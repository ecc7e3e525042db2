//! The `local` connection: commands run on the controller itself.

use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::output::append_capped;
use super::stdin_feed::StderrFilter;
use super::{ExecOutput, ExecRequest, ExitStatus, Transport, TransportError};

/// Runs commands with `/bin/sh -c` on this machine.
#[derive(Debug, Default, Clone)]
pub struct LocalTransport;

#[async_trait]
impl Transport for LocalTransport {
    fn is_local(&self) -> bool {
        true
    }

    async fn exec(&self, request: &ExecRequest) -> Result<ExecOutput, TransportError> {
        let prepared = request.prepare()?;
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(&prepared.line)
            .stdin(if prepared.input.is_empty() {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut filter = match child.stdin.take() {
            // The writer task ends on its own: it closes the pipe when done or told to stop.
            Some(pipe) => prepared.input.start(pipe).0,
            None => StderrFilter::default(),
        };
        let stdout = child.stdout.take().map(read_capped);
        let stderr = child.stderr.take();
        let wait = async {
            let (err, err_whole) = match stderr {
                Some(pipe) => read_filtered(pipe, &mut filter).await?,
                None => (Vec::new(), true),
            };
            let status = child.wait().await?;
            let (out, out_whole) = join_reader(stdout).await;
            Ok::<_, TransportError>((status, out, err, out_whole && err_whole))
        };
        let (status, stdout, stderr, whole) = match request.timeout {
            Some(limit) => match tokio::time::timeout(limit, wait).await {
                Ok(done) => done?,
                Err(_) => return Ok(timed_out(limit)),
            },
            None => wait.await?,
        };
        Ok(ExecOutput {
            status: exit_status(status),
            stdout,
            stderr,
            truncated: !whole,
        })
    }
}

/// Reads standard error to its end through `filter` (sudo's prompt handling), capped. Fails
/// when escalation must stop; the child is then killed on drop.
async fn read_filtered(
    mut pipe: impl AsyncRead + Unpin,
    filter: &mut StderrFilter,
) -> Result<(Vec<u8>, bool), TransportError> {
    let mut kept = Vec::new();
    let mut whole = true;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => whole &= append_capped(&mut kept, &filter.pass(&chunk[..n])?),
        }
    }
    whole &= append_capped(&mut kept, &filter.finish());
    Ok((kept, whole))
}

type Reader = tokio::task::JoinHandle<(Vec<u8>, bool)>;

fn read_capped(mut pipe: impl AsyncRead + Unpin + Send + 'static) -> Reader {
    tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut whole = true;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match pipe.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => whole &= append_capped(&mut kept, &chunk[..n]),
            }
        }
        (kept, whole)
    })
}

async fn join_reader(reader: Option<Reader>) -> (Vec<u8>, bool) {
    match reader {
        Some(handle) => handle.await.unwrap_or_default(),
        None => (Vec::new(), true),
    }
}

fn timed_out(limit: Duration) -> ExecOutput {
    ExecOutput {
        status: ExitStatus::TimedOut,
        stdout: Vec::new(),
        stderr: format!("command timed out after {limit:?}").into_bytes(),
        truncated: false,
    }
}

fn exit_status(status: std::process::ExitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitStatus::Code(code),
        (None, Some(signal)) => ExitStatus::Signal(signal),
        (None, None) => ExitStatus::Code(-1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_commands_and_keeps_streams_apart() {
        let output = LocalTransport
            .exec(&ExecRequest::new("echo out; echo err >&2; exit 3"))
            .await
            .expect("exec");
        assert_eq!(output.status, ExitStatus::Code(3));
        assert_eq!(output.stdout_text(), "out\n");
        assert_eq!(output.stderr_text(), "err\n");
    }

    #[tokio::test]
    async fn feeds_stdin() {
        let mut request = ExecRequest::new("cat");
        request.stdin = Some(b"hello".to_vec());
        let output = LocalTransport.exec(&request).await.expect("exec");
        assert_eq!(output.stdout_text(), "hello");
    }

    #[tokio::test]
    async fn timeout_kills_the_command() {
        let mut request = ExecRequest::new("sleep 5");
        request.timeout = Some(Duration::from_millis(100));
        let output = LocalTransport.exec(&request).await.expect("exec");
        assert_eq!(output.status, ExitStatus::TimedOut);
    }
}
