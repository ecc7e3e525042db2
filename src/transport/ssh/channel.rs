//! Running one command on its own session channel: stdin in, stdout/stderr out (capped),
//! exit status or signal, timeout — and the channel always closed, even when the caller gives up.

use std::time::Duration;

use super::session::Connection;
use crate::transport::output::append_capped;
use crate::transport::stdin_feed::StderrFilter;
use crate::transport::{BecomeError, ExecOutput, ExecRequest, ExitStatus, TransportError};
use russh::client::Msg;
use russh::{ChannelMsg, ChannelWriteHalf, Sig};

/// Closes the channel when dropped, so a cancelled command cannot leak one (OpenSSH allows
/// only `MaxSessions` per connection).
struct CloseGuard(Option<ChannelWriteHalf<Msg>>);

impl CloseGuard {
    fn half(&self) -> Option<&ChannelWriteHalf<Msg>> {
        self.0.as_ref()
    }

    async fn close(mut self) {
        if let Some(half) = self.0.take() {
            let _ = half.close().await;
        }
    }
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        if let Some(half) = self.0.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = half.close().await;
                });
            }
        }
    }
}

/// Runs `request` on a new channel of `connection`.
pub(super) async fn run(
    connection: &Connection,
    request: &ExecRequest,
) -> Result<ExecOutput, TransportError> {
    let lost = |what: &str, e: &dyn std::fmt::Display| {
        TransportError::Lost(format!("{}: {what}: {e}", connection.label))
    };
    let prepared = request.prepare()?;
    let _permit = connection
        .sessions
        .acquire()
        .await
        .map_err(|e| lost("session limit", &e))?;
    let channel = open_session(connection).await?;
    tracing::trace!(
        "{}: channel {} open: {}",
        connection.label,
        channel.id(),
        command_outline(request)
    );
    let channel_id = channel.id();
    let (mut read, write) = channel.split();
    let guard = CloseGuard(Some(write));
    let Some(half) = guard.half() else {
        return Err(lost("channel", &"already closed"));
    };
    half.exec(true, prepared.line)
        .await
        .map_err(|e| lost("cannot start the command", &e))?;
    let (mut filter, feeder) = if prepared.input.is_empty() {
        let _ = half.eof().await;
        (StderrFilter::default(), None)
    } else {
        let (filter, feeder) = prepared.input.start(half.make_writer());
        (filter, Some(feeder))
    };

    let deadline = request
        .timeout
        .and_then(|limit| tokio::time::Instant::now().checked_add(limit));
    let mut collected = Collected::default();
    let ended = loop {
        let message = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, read.wait()).await {
                Ok(message) => message,
                Err(_) => break End::TimedOut,
            },
            None => read.wait().await,
        };
        match message {
            Some(ChannelMsg::Data { data }) => collected.stdout(&data),
            Some(ChannelMsg::ExtendedData { data, ext: 1 }) => match filter.pass(&data) {
                Ok(visible) => collected.stderr(&visible),
                Err(error) => break End::Escalation(error),
            },
            Some(ChannelMsg::ExitStatus { exit_status }) => {
                collected.status = Some(ExitStatus::Code(exit_status as i32));
            }
            Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                collected.status = Some(ExitStatus::Signal(signal_number(&signal_name)));
            }
            Some(ChannelMsg::Failure) if collected.status.is_none() && !collected.any => {
                break End::Refused;
            }
            Some(ChannelMsg::Close) => break End::Closed,
            Some(_) => {}
            None => break End::Vanished,
        }
    };
    collected.stderr(&filter.finish());
    // Dropping the filter tells a feeder still waiting for sudo's prompt to send nothing.
    drop(filter);
    if let Some(feeder) = feeder {
        feeder.abort();
    }
    if matches!(ended, End::TimedOut | End::Escalation(_)) {
        if let Some(half) = guard.half() {
            let _ = half.signal(Sig::KILL).await;
        }
    }
    guard.close().await;
    tracing::trace!(
        "{}: channel {channel_id} closed: {}",
        connection.label,
        match (&ended, &collected.status) {
            (End::TimedOut, _) => "timed out, killed".to_string(),
            (End::Escalation(_), _) => "privilege escalation refused".to_string(),
            (End::Refused, _) => "command refused".to_string(),
            (_, Some(ExitStatus::Code(code))) => format!("exit status {code}"),
            (_, Some(ExitStatus::Signal(signal))) => format!("killed by signal {signal}"),
            (_, _) => "no exit status".to_string(),
        }
    );

    match ended {
        End::TimedOut => Ok(timed_out(request.timeout.unwrap_or_default(), collected)),
        End::Escalation(error) => Err(error.into()),
        End::Refused => Err(TransportError::Connect(format!(
            "{}: the server refused to run the command",
            connection.label
        ))),
        End::Vanished if collected.status.is_none() => Err(TransportError::Lost(format!(
            "{}: the connection closed while the command ran",
            connection.label
        ))),
        End::Closed | End::Vanished => Ok(collected.finish()),
    }
}

/// What `-vvv` shows of a command: its program and size, and how it escalates, never its
/// arguments, environment or input (a `no_log` task's values and the become password live
/// there).
fn command_outline(request: &ExecRequest) -> String {
    let program = request
        .command
        .split_whitespace()
        .next()
        .filter(|word| !word.contains('='))
        .unwrap_or("(script)");
    let program: String = program.chars().take(40).collect();
    let escalation = request.escalation.as_ref().map_or_else(String::new, |b| {
        format!(" as {} via {:?}", b.user, b.method)
    });
    format!(
        "command `{program} …` ({} bytes){escalation}",
        request.command.len()
    )
}

/// Opens a session channel. sshd frees a closed session only on its next housekeeping pass,
/// so an open right after a close can briefly exceed `MaxSessions`: retry those refusals.
pub(super) async fn open_session(
    connection: &Connection,
) -> Result<russh::Channel<Msg>, TransportError> {
    let mut pause = Duration::from_millis(5);
    let mut waited = Duration::ZERO;
    loop {
        match connection.handle.channel_open_session().await {
            Ok(channel) => return Ok(channel),
            Err(russh::Error::ChannelOpenFailure(reason)) => {
                if waited >= Duration::from_secs(3) {
                    return Err(TransportError::Connect(format!(
                        "{}: the server refused a new session channel ({reason:?}); is its \
                         MaxSessions below {}?",
                        connection.label,
                        super::session::MAX_SESSIONS
                    )));
                }
                tokio::time::sleep(pause).await;
                waited += pause;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(other) => {
                return Err(TransportError::Lost(format!(
                    "{}: cannot open a channel: {other}",
                    connection.label
                )))
            }
        }
    }
}

enum End {
    Closed,
    Vanished,
    TimedOut,
    Refused,
    /// sudo asked for the password again: stop at once, never resend it.
    Escalation(BecomeError),
}

/// A command's output as it arrives, capped at [`crate::transport::OUTPUT_CAP`] per stream.
#[derive(Default)]
pub(super) struct Collected {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    dropped: bool,
    any: bool,
    status: Option<ExitStatus>,
}

impl Collected {
    /// Appends standard output.
    pub(super) fn stdout(&mut self, chunk: &[u8]) {
        self.any = true;
        self.dropped |= !append_capped(&mut self.stdout, chunk);
    }

    /// Appends standard error.
    pub(super) fn stderr(&mut self, chunk: &[u8]) {
        self.any = true;
        self.dropped |= !append_capped(&mut self.stderr, chunk);
    }

    /// The output with `status`.
    pub(super) fn finish_with(mut self, status: ExitStatus) -> ExecOutput {
        self.status = Some(status);
        self.finish()
    }

    fn finish(self) -> ExecOutput {
        ExecOutput {
            // The server closed the channel without a status: OpenSSH does that only when the
            // command could not be reported, so call it a failure rather than a success.
            status: self.status.unwrap_or(ExitStatus::Code(-1)),
            stdout: self.stdout,
            stderr: self.stderr,
            truncated: self.dropped,
        }
    }
}

/// The output of a command killed by its timeout.
pub(super) fn timed_out(limit: Duration, collected: Collected) -> ExecOutput {
    let mut stderr = collected.stderr;
    append_capped(
        &mut stderr,
        format!("command timed out after {limit:?}").as_bytes(),
    );
    ExecOutput {
        status: ExitStatus::TimedOut,
        stdout: collected.stdout,
        stderr,
        truncated: collected.dropped,
    }
}

/// POSIX signal numbers for the names SSH reports.
pub(super) fn signal_number(signal: &Sig) -> i32 {
    match signal {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::Custom(name) => match name.as_str() {
            "BUS" => 7,
            "USR2" => 12,
            "CHLD" => 17,
            "CONT" => 18,
            "STOP" => 19,
            "TSTP" => 20,
            _ => 0,
        },
    }
}
