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
    pub fn command_line(&self) -> String {
        let mut line = String::new();
        if let Some(dir) = &self.chdir {
            line.push_str("cd ");
            line.push_str(&quote(dir));
            line.push_str(" && ");
        }
        if !self.env.is_empty() {
            let assignments: Vec<String> = self
                .env
                .iter()
                .map(|(name, value)| format!("{name}={}", quote(value)))
                .collect();
            line.push_str("export ");
            line.push_str(&assignments.join(" "));
            line.push_str("; ");
        }
        line.push_str(&self.command);
        line
    }

    /// What a transport runs: the full shell line (escalation applied) and how to feed its
    /// standard input. With a become password, every call makes a fresh sudo prompt.
    pub(crate) fn prepare(&self) -> Result<Prepared, BecomeError> {
        let line = self.command_line();
        let data = self.stdin.clone();
        let (line, input) = match &self.escalation {
            Some(escalation) => escalation.prepare(&line, data)?,
            None => (line, stdin_feed::Input::plain(data)),
        };
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

/// Quotes a word for a POSIX shell.
pub fn quote(word: &str) -> String {
    shlex::try_quote(word).map_or_else(
        |_| format!("'{}'", word.replace('\0', "")),
        |q| q.into_owned(),
    )
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
    /// A local I/O error while talking to the host.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The host answered, but privilege escalation could not go ahead (wrong password, an
    /// unsafe combination): a task failure, not an unreachable host.
    #[error(transparent)]
    Become(#[from] BecomeError),
}

impl TransportError {
    /// True when the host itself could not be reached or the connection broke; false for
    /// failures on a host that answered (privilege escalation).
    pub fn is_unreachable(&self) -> bool {
        !matches!(self, Self::Become(_))
    }
}

/// A way to run commands on one host.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Runs one command and waits for it to finish.
    async fn exec(&self, request: &ExecRequest) -> Result<ExecOutput, TransportError>;

    /// Closes the connection; later calls may reconnect.
    async fn close(&self) {}

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
        assert_eq!(request.command_line(), "cd /tmp && export A='x y'; echo $A");
    }

    #[test]
    fn quote_protects_shell_metacharacters() {
        assert_eq!(quote("a b;c"), "'a b;c'");
        assert_eq!(quote("plain"), "plain");
    }
}
