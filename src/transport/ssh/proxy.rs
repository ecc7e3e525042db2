//! `ProxyCommand`: the command runs under the user's shell (`$SHELL -c "exec …"`, as OpenSSH
//! runs it) and SSH is spoken over its stdin/stdout. The process is killed when the stream is
//! dropped, i.e. when the SSH session ends.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How much of the command's stderr is kept for error messages.
const STDERR_KEPT: usize = 4096;

/// A running proxy command's stdin and stdout as one stream.
pub struct ProxyStream {
    /// Killed on drop.
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

/// What the proxy command wrote to stderr (the start of it), for error messages.
#[derive(Clone, Default)]
pub struct ProxyStderr(Arc<Mutex<String>>);

impl ProxyStderr {
    /// The text so far, trimmed.
    pub fn text(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .trim()
            .to_string()
    }
}

/// Starts `command` (tokens already expanded).
pub fn spawn(command: &str) -> io::Result<(ProxyStream, ProxyStderr)> {
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    let mut child = Command::new(shell)
        .arg("-c")
        .arg(format!("exec {command}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let missing = || io::Error::other("proxy command pipes missing");
    let stdin = child.stdin.take().ok_or_else(missing)?;
    let stdout = child.stdout.take().ok_or_else(missing)?;
    let stderr = ProxyStderr::default();
    if let Some(mut pipe) = child.stderr.take() {
        let kept = stderr.clone();
        tokio::spawn(async move {
            let mut buffer = [0u8; 1024];
            while let Ok(n) = pipe.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                let mut text = kept.0.lock().unwrap_or_else(|p| p.into_inner());
                if text.len() < STDERR_KEPT {
                    text.push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            }
        });
    }
    Ok((
        ProxyStream {
            _child: child,
            stdin,
            stdout,
        },
        stderr,
    ))
}

impl AsyncRead for ProxyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for ProxyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}
