//! How rpatch reaches a host: the [`Transport`] trait and its implementations.
//!
//! Modules never talk to a host directly; they hand an [`ExecRequest`] to the host's transport.
//! `local` runs commands on the controller; the SSH transport implements the same trait.

mod become_prompt;
mod become_wrap;
mod local;
mod output;
pub mod ssh;
mod stdin_feed;
mod unavailable;

use std::time::Duration;

use async_trait::async_trait;

pub use crate::shell::quote;

pub use become_prompt::BecomeError;
pub use become_wrap::{escalation_failure, Become, BecomeMethod};
pub use local::LocalTransport;
pub use output::{ExecOutput, ExitStatus, OUTPUT_CAP};
pub use ssh::{HostKeyPolicy, SshOptions, SshTarget, SshTransport};
pub use unavailable::UnavailableTransport;

/// One command to run on a host.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// A shell command line, run by `/bin/sh -c` on the host.
    pub command: String,
    /// Bytes fed to the command's standard input.
    pub stdin: Option<Vec<u8>>,
    /// Run as another user through sudo/su (`become` in playbooks).
    pub escalation: Option<Become>,
    /// Environment variables for the command.
    pub env: Vec<(String, String)>,
    /// Directory to run in.
    pub chdir: Option<String>,
    /// Kill the command after this long.
    pub timeout: Option<Duration>,
}

impl ExecRequest {
    /// A request to run `command` with no input.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            ..Self::default()
        }
    }

    /// The shell line with the directory and environment applied, before privilege
    /// escalation (which the transport adds when it runs the command, see [`Become`]).
    ///
    /// Refuses what no POSIX command can receive: a NUL byte anywhere in the line (the kernel
    /// ends every argument at the first NUL, so such a word could never arrive intact) and
    /// environment variable names that are not shell identifiers.
    pub fn command_line(&self) -> Result<String, CommandError> {
        let mut line = String::new();
        if let Some(dir) = &self.chdir {
            refuse_nul(dir, "the working directory")?;
            line.push_str("cd ");
            line.push_str(&quote(dir));
            line.push_str(" && ");
        }
        if !self.env.is_empty() {
            let mut assignments = Vec::with_capacity(self.env.len());
            for (name, value) in &self.env {
                if !is_env_name(name) {
                    return Err(CommandError::EnvName(name.clone()));
                }
                refuse_nul(value, "an environment value")?;
                assignments.push(format!("{name}={}", quote(value)));
            }
            line.push_str("export ");
            line.push_str(&assignments.join(" "));
            line.push_str("; ");
        }
        refuse_nul(&self.command, "the command line")?;
        line.push_str(&self.command);
        Ok(line)
    }

    /// What a transport runs: the full shell line (escalation applied) and how to feed its
    /// standard input. With a become password, every call makes a fresh sudo prompt.
    pub(crate) fn prepare(&self) -> Result<Prepared, TransportError> {
        let line = self.command_line()?;
        let data = self.stdin.clone();
        let (line, input) = match &self.escalation {
            Some(escalation) => escalation.prepare(&line, data)?,
            None => (line, stdin_feed::Input::plain(data)),
        };
        refuse_nul(&line, "the command line")?;
        Ok(Prepared { line, input })
    }
}

/// A request ready to run (see [`ExecRequest::prepare`]).
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The line for `/bin/sh -c`.
    pub line: String,
    /// What standard input receives, and when.
    pub input: stdin_feed::Input,
}

/// True for a name a POSIX shell accepts in `export NAME=...`.
fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn refuse_nul(text: &str, what: &'static str) -> Result<(), CommandError> {
    if text.contains('\0') {
        return Err(CommandError::NulByte { what });
    }
    Ok(())
}

/// A command rpatch refuses to send, because no shell could run it as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// A NUL byte: POSIX commands cannot receive one in an argument or variable.
    #[error("{what} contains a NUL byte, which no command can receive; nothing was run")]
    NulByte {
        /// Which part of the command held it.
        what: &'static str,
    },
    /// An environment variable name that is not a shell identifier.
    #[error("`{0}` is not a valid environment variable name (letters, digits and `_`, not starting with a digit); nothing was run")]
    EnvName(String),
}

/// Why a host could not be reached or a command could not be run on it.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The connection could not be set up (refused, no route, DNS).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// Authentication failed.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// Nothing answered in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The connection broke while a command ran.
    #[error("connection lost: {0}")]
    Lost(String),
    /// This connection type is not available.
    #[error("connection type `{0}` is not supported by this build")]
    Unsupported(String),
    /// The host key is unknown, changed or revoked.
    #[error("host key verification failed: {0}")]
    HostKey(String),
    /// The command itself cannot be run (the host is fine).
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A local I/O error while talking to the host.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The host answered, but privilege escalation could not go ahead (wrong password, an
    /// unsafe combination): a task failure, not an unreachable host.
    #[error(transparent)]
    Become(#[from] BecomeError),
}

impl TransportError {
    /// True when the host itself could not be reached or the connection broke; false for a
    /// command refused before it was sent and for privilege escalation refused by the host.
    pub fn is_unreachable(&self) -> bool {
        !matches!(self, Self::Become(_) | Self::Command(_))
    }
}

/// A way to run commands on one host.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Runs one command and waits for it to finish.
    async fn exec(&self, request: &ExecRequest) -> Result<ExecOutput, TransportError>;

    /// Closes the connection; later calls may reconnect.
    async fn close(&self) {}

    /// True when commands run on the controller itself (the `local` connection), so that
    /// modules which would take the machine down (`reboot`) can refuse.
    fn is_local(&self) -> bool {
        false
    }

    /// Drops the current connection and connects again, retrying with backoff until
    /// `deadline` (after a reboot, say). Transports without connections have nothing to do.
    async fn reconnect(&self, _deadline: std::time::Instant) -> Result<(), TransportError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_applies_env_and_chdir() {
        let mut request = ExecRequest::new("echo $A");
        request.env = vec![("A".into(), "x y".into())];
        request.chdir = Some("/tmp".into());
        assert_eq!(
            request.command_line(),
            Ok("cd /tmp && export A='x y'; echo $A".to_string())
        );
    }

    #[test]
    fn quote_protects_shell_metacharacters() {
        assert_eq!(quote("a b;c"), "'a b;c'");
        assert_eq!(quote("plain"), "plain");
    }
}
