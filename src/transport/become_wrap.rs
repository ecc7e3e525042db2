//! Privilege escalation: wrapping a command line in sudo or su.
//!
//! The password is never part of the command line: it is written as the first line of the
//! command's standard input, which `sudo -S` reads, and is redacted from `Debug` output.

use std::fmt;

use super::quote;

/// The prompt sudo prints when it wants a password; unique so it can be recognised.
pub const SUDO_PROMPT: &str = "[rpatch-become-password]";

/// Which tool escalates privileges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BecomeMethod {
    /// `sudo`.
    #[default]
    Sudo,
    /// `su`.
    Su,
}

/// Run a command as another user.
#[derive(Clone, Default)]
pub struct Become {
    /// Target user (`root` by default).
    pub user: String,
    /// How to escalate.
    pub method: BecomeMethod,
    /// Extra flags for the escalation tool.
    pub flags: String,
    /// The password, when one is configured.
    pub password: Option<String>,
}

impl fmt::Debug for Become {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Become")
            .field("user", &self.user)
            .field("method", &self.method)
            .field("flags", &self.flags)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .finish()
    }
}

impl Become {
    /// Wraps a shell line so it runs as the target user.
    pub fn wrap(&self, line: &str) -> String {
        let user = if self.user.is_empty() {
            "root"
        } else {
            &self.user
        };
        match self.method {
            BecomeMethod::Sudo => {
                let mode = if self.password.is_some() {
                    format!("-S -p {}", quote(SUDO_PROMPT))
                } else {
                    "-n".to_string()
                };
                let flags = if self.flags.is_empty() {
                    "-H"
                } else {
                    &self.flags
                };
                format!(
                    "sudo {flags} {mode} -u {} /bin/sh -c {}",
                    quote(user),
                    quote(line)
                )
            }
            BecomeMethod::Su => format!("su {} {} -c {}", self.flags, quote(user), quote(line)),
        }
    }

    /// The password followed by a newline, as sudo -S expects it.
    pub fn password_line(&self) -> Option<Vec<u8>> {
        self.password.as_ref().map(|password| {
            let mut line = password.clone().into_bytes();
            line.push(b'\n');
            line
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_without_password_never_prompts() {
        let escalation = Become {
            user: "root".into(),
            ..Become::default()
        };
        assert_eq!(
            escalation.wrap("id -u"),
            "sudo -H -n -u root /bin/sh -c 'id -u'"
        );
    }

    #[test]
    fn password_goes_to_stdin_not_the_command_line() {
        let escalation = Become {
            user: "root".into(),
            password: Some("s3cret".into()),
            ..Become::default()
        };
        assert!(!escalation.wrap("id").contains("s3cret"));
        assert_eq!(
            escalation.password_line().as_deref(),
            Some(&b"s3cret\n"[..])
        );
        assert!(!format!("{escalation:?}").contains("s3cret"));
    }
}
