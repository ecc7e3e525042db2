//! How rpatch reaches a host: the [`Transport`] trait and its implementations.
//!
//! Modules never talk to a host directly; they hand an [`ExecRequest`] to the host's transport.
//! `local` runs commands on the controller; the SSH transport implements the same trait.

mod become_wrap;
mod local;
mod output;
pub mod ssh;
mod unavailable;

use std::time::Duration;

use async_trait::async_trait;

pub use crate::shell::quote;

pub use become_wrap::{escalation_failure, strip_prompt, Become, BecomeMethod};
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

    /// The full shell line: environment, directory and privilege escalation applied.
    ///
    /// Refuses what no POSIX command can receive: a NUL byte anywhere in the line (the kernel
    /// ends every argument at the first NUL, so such a word could never arrive intact) and
    /// environment variable names that are not shell identifiers.
    pub fn shell_line(&self) -> Result<String, CommandError> {
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
        let line = match &self.escalation {
            Some(escalation) => escalation.wrap(&line),
            None => line,
        };
        refuse_nul(&line, "the command line")?;
        Ok(line)
    }

    /// The standard input to send: a become password line first, when one is needed.
    pub fn stdin_bytes(&self) -> Option<Vec<u8>> {
        let password = self.escalation.as_ref().and_then(Become::password_line);
        match (password, &self.stdin) {
            (None, None) => None,
            (Some(mut pw), Some(data)) => {
                pw.extend_from_slice(data);
                Some(pw)
            }
            (Some(pw), None) => Some(pw),
            (None, Some(data)) => Some(data.clone()),
        }
    }
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
    fn shell_line_applies_env_and_chdir() {
        let mut request = ExecRequest::new("echo $A");
        request.env = vec![("A".into(), "x y".into())];
        request.chdir = Some("/tmp".into());
        assert_eq!(
            request.shell_line(),
            Ok("cd /tmp && export A='x y'; echo $A".to_string())
        );
    }

    #[test]
    fn quote_protects_shell_metacharacters() {
        assert_eq!(quote("a b;c"), "'a b;c'");
        assert_eq!(quote("plain"), "plain");
    }
}
