//! The persistent remote shell: one session channel per host running `/bin/sh`, to which every
//! command is written framed (see [`super::framing`]) instead of opening a channel — and
//! making sshd fork a session and a login shell — per command.
//!
//! One command runs at a time. A shell is reused only after both of its previous command's
//! end markers arrived; a command abandoned half-way (cancelled, timed out without its
//! markers, or its shell killed) retires the shell, and the next command starts a fresh one.

use std::sync::Arc;
use std::time::Duration;

use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig};
use tokio::time::Instant;

use super::channel::{self, Collected};
use super::framing::{self, Abilities, Demux};
use super::session::Connection;
use crate::transport::{ExecOutput, ExecRequest, ExitStatus, TransportError};

/// How long the shell may take to answer its start-up line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a timed-out command's markers may take to arrive after its process group was
/// killed, before the whole shell is given up.
const KILL_GRACE: Duration = Duration::from_secs(15);
/// How long closing waits for the shell to exit after the end of its input.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A running `/bin/sh` on one channel of one connection.
pub(super) struct RemoteShell {
    connection: Arc<Connection>,
    read: ChannelReadHalf,
    write: Option<ChannelWriteHalf<Msg>>,
    token: String,
    seq: u64,
    abilities: Abilities,
    stdout: Demux,
    stderr: Demux,
    /// False while a command is in flight or after the shell ended: do not reuse.
    clean: bool,
}

impl RemoteShell {
    /// Opens a channel on `connection`, starts `/bin/sh` on it and waits for its ready line.
    pub async fn start(connection: &Arc<Connection>) -> Result<Self, TransportError> {
        let lost = |what: &str, e: &dyn std::fmt::Display| {
            TransportError::Lost(format!("{}: {what}: {e}", connection.label))
        };
        // The shell holds one of the connection's session slots for as long as it lives.
        connection
            .sessions
            .acquire()
            .await
            .map_err(|e| lost("session limit", &e))?
            .forget();
        let channel = match channel::open_session(connection).await {
            Ok(channel) => channel,
            Err(error) => {
                connection.sessions.add_permits(1);
                return Err(error);
            }
        };
        let (read, write) = channel.split();
        let token = framing::new_token()?;
        let mut shell = Self {
            connection: connection.clone(),
            read,
            write: Some(write),
            token,
            seq: 0,
            abilities: Abilities {
                base64: false,
                setsid: false,
            },
            stdout: Demux::default(),
            stderr: Demux::default(),
            clean: false,
        };
        let half = shell.half()?;
        half.exec(true, "exec /bin/sh")
            .await
            .map_err(|e| lost("cannot start the shell", &e))?;
        half.data_bytes(framing::handshake(&shell.token))
            .await
            .map_err(|e| lost("cannot write to the shell", &e))?;
        let prefix = framing::prefix(&shell.token, 0);
        let deadline = Instant::now() + START_TIMEOUT;
        let mut noise = Vec::new();
        loop {
            let message = tokio::time::timeout_at(deadline, shell.read.wait())
                .await
                .map_err(|_| refused(connection, "no answer from /bin/sh"))?;
            match message {
                Some(ChannelMsg::Data { data }) => {
                    let found = shell.stdout.feed(&prefix, &data, &mut |b| {
                        noise.extend_from_slice(&b[..b.len().min(200)])
                    });
                    if let Some(payload) = found {
                        shell.abilities = framing::abilities(&payload)
                            .ok_or_else(|| refused(connection, "an unexpected start-up line"))?;
                        break;
                    }
                }
                Some(ChannelMsg::Failure) => {
                    return Err(refused(connection, "the server refused to run /bin/sh"))
                }
                Some(ChannelMsg::Close | ChannelMsg::Eof) | None => {
                    return Err(refused(connection, "/bin/sh ended at once"))
                }
                Some(_) => {}
            }
        }
        if !noise.is_empty() {
            tracing::debug!(
                host = %connection.label,
                "the remote shell printed before its ready line: {}",
                String::from_utf8_lossy(&noise)
            );
        }
        shell.clean = true;
        Ok(shell)
    }

    fn half(&self) -> Result<&ChannelWriteHalf<Msg>, TransportError> {
        self.write.as_ref().ok_or_else(|| {
            TransportError::Lost(format!(
                "{}: the remote shell is closed",
                self.connection.label
            ))
        })
    }

    /// True when the next command may use this shell: the last one finished cleanly, and the
    /// connection is still `current`.
    pub fn reusable(&self, current: &Arc<Connection>) -> bool {
        self.clean && Arc::ptr_eq(&self.connection, current) && !current.is_closed()
    }

    /// True when this shell can run `request` as the channel-per-command path would; false
    /// means: run it on a channel of its own.
    pub fn can_run(&self, request: &ExecRequest) -> bool {
        (request.stdin.is_none() || self.abilities.base64)
            && (request.timeout.is_none() || self.abilities.setsid)
    }

    /// Runs the prepared `line` with `stdin`, honouring `timeout`.
    pub async fn run(
        &mut self,
        line: &str,
        stdin: Option<&[u8]>,
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, TransportError> {
        self.clean = false;
        self.seq += 1;
        let prefix = framing::prefix(&self.token, self.seq);
        let text = framing::command(&self.token, self.seq, line, stdin, timeout.is_some());
        let label = self.connection.label.clone();
        let Some(write) = self.write.as_ref() else {
            return Err(TransportError::Lost(format!(
                "{label}: the remote shell is closed"
            )));
        };

        let mut collected = Collected::default();
        let mut status: Option<ExitStatus> = None;
        let mut stderr_done = false;
        let mut pid: Option<u32> = None;
        let mut shell_status: Option<ExitStatus> = None;
        let mut deadline = timeout.and_then(|limit| Instant::now().checked_add(limit));
        let mut timed_out = false;
        let mut written = false;

        // Bytes held after the previous command's markers are this command's.
        if let Some(payload) = self.stdout.next(&prefix, &mut |b| collected.stdout(b)) {
            status = parse_status(&payload);
        }
        let mut writing = Box::pin(write.data(&text[..]));
        let ended = loop {
            if status.is_some() && stderr_done {
                break Ended::Finished;
            }
            let message = tokio::select! {
                result = writing.as_mut(), if !written => {
                    written = true;
                    if let Err(error) = result {
                        break Ended::Gone(format!("cannot write to the remote shell: {error}"));
                    }
                    continue;
                }
                message = wait_until(deadline, &mut self.read) => message,
            };
            let Some(message) = message else {
                // The deadline passed.
                if timed_out {
                    break Ended::Abandoned;
                }
                timed_out = true;
                match pid {
                    Some(pid) => {
                        kill_group(&self.connection, pid).await;
                        deadline = Some(Instant::now() + KILL_GRACE);
                        continue;
                    }
                    None => break Ended::Abandoned,
                }
            };
            match message {
                Some(ChannelMsg::Data { data }) => {
                    if let Some(payload) = self
                        .stdout
                        .feed(&prefix, &data, &mut |b| collected.stdout(b))
                    {
                        status = parse_status(&payload);
                        if status.is_none() {
                            break Ended::Gone("an unreadable end marker".into());
                        }
                    }
                }
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    let mut chunk: &[u8] = &data;
                    while let Some(payload) = self
                        .stderr
                        .feed(&prefix, chunk, &mut |b| collected.stderr(b))
                    {
                        chunk = &[];
                        match payload.split_first() {
                            Some((b'+', digits)) => {
                                pid = std::str::from_utf8(digits)
                                    .ok()
                                    .and_then(|d| d.parse().ok())
                            }
                            Some((b':', [])) => stderr_done = true,
                            _ => break,
                        }
                        if stderr_done {
                            break;
                        }
                    }
                }
                // The shell itself ended: its markers can never come (and a process it left
                // behind may hold the channel open, so do not wait for the close).
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    shell_status = Some(ExitStatus::Code(exit_status as i32));
                    break Ended::Gone("the remote shell ended".into());
                }
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    shell_status = Some(ExitStatus::Signal(channel::signal_number(&signal_name)));
                    break Ended::Gone("the remote shell was killed".into());
                }
                Some(ChannelMsg::Close) | None => {
                    break Ended::Gone("the remote shell ended".into())
                }
                Some(_) => {}
            }
        };
        drop(writing);

        match ended {
            Ended::Finished => {
                self.clean = true;
                let status = status.unwrap_or(ExitStatus::Code(-1));
                if timed_out {
                    return Ok(channel::timed_out(timeout.unwrap_or_default(), collected));
                }
                Ok(collected.finish_with(status))
            }
            Ended::Abandoned => {
                self.retire().await;
                Ok(channel::timed_out(timeout.unwrap_or_default(), collected))
            }
            Ended::Gone(why) => {
                self.retire().await;
                if self.connection.is_closed() {
                    return Err(TransportError::Lost(format!(
                        "{label}: the connection closed while the command ran"
                    )));
                }
                tracing::debug!(host = %label, "{why}; the next command starts a new shell");
                if timed_out {
                    return Ok(channel::timed_out(timeout.unwrap_or_default(), collected));
                }
                collected.stderr(format!("rpatch: {why} before the command finished").as_bytes());
                Ok(collected.finish_with(shell_status.unwrap_or(ExitStatus::Code(-1))))
            }
        }
    }

    /// Ends the shell politely: end of input, a short wait for sshd to close the channel once the
    /// shell exited (so the session ends before the connection goes), then the channel is closed.
    pub async fn close(mut self) {
        if let Some(half) = self.write.take() {
            let _ = half.eof().await;
            let _ = tokio::time::timeout(CLOSE_WAIT, async {
                while let Some(message) = self.read.wait().await {
                    if matches!(message, ChannelMsg::Close) {
                        break;
                    }
                }
            })
            .await;
            let _ = half.close().await;
            self.connection.sessions.add_permits(1);
        }
    }

    /// Kills and closes the shell's channel; it is not used again.
    async fn retire(&mut self) {
        self.clean = false;
        if let Some(half) = self.write.take() {
            let _ = half.signal(Sig::KILL).await;
            let _ = half.close().await;
            self.connection.sessions.add_permits(1);
        }
    }
}

impl Drop for RemoteShell {
    fn drop(&mut self) {
        if let Some(half) = self.write.take() {
            let connection = self.connection.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = half.close().await;
                    connection.sessions.add_permits(1);
                });
            } else {
                connection.sessions.add_permits(1);
            }
        }
    }
}

enum Ended {
    /// Both end markers arrived.
    Finished,
    /// A timed-out command whose markers never came.
    Abandoned,
    /// The shell (or its channel) went away.
    Gone(String),
}

/// The next channel message, or `None` once `deadline` passed.
async fn wait_until(
    deadline: Option<Instant>,
    read: &mut ChannelReadHalf,
) -> Option<Option<ChannelMsg>> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, read.wait()).await.ok(),
        None => Some(read.wait().await),
    }
}

/// `:STATUS` from the standard output marker.
fn parse_status(payload: &[u8]) -> Option<ExitStatus> {
    let digits = payload.strip_prefix(b":")?;
    std::str::from_utf8(digits)
        .ok()?
        .parse()
        .ok()
        .map(ExitStatus::Code)
}

/// Kills a timed-out command's process group (its own session, from `setsid`) from a
/// channel of its own: the shell is busy waiting for it.
async fn kill_group(connection: &Connection, pid: u32) {
    let request = ExecRequest::new(format!("kill -KILL -{pid} 2>/dev/null || kill -KILL {pid}"));
    if let Err(error) = channel::run(connection, &request).await {
        tracing::debug!(host = %connection.label, %error, "cannot kill a timed-out command");
    }
}

fn refused(connection: &Connection, why: &str) -> TransportError {
    TransportError::Unsupported(format!("persistent shell on {}: {why}", connection.label))
}
