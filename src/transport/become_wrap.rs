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

/// Removes sudo's password prompts from a command's standard error.
pub fn strip_prompt(stderr: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(stderr);
    if !text.contains(SUDO_PROMPT) {
        return stderr.to_vec();
    }
    text.replace(SUDO_PROMPT, "").into_bytes()
}

/// Why escalation failed, when standard error shows it did.
pub fn escalation_failure(stderr: &str) -> Option<&'static str> {
    if stderr.contains("a password is required") || stderr.contains("a terminal is required") {
        Some("privilege escalation needs a password: set ansible_become_password or pass -K")
    } else if stderr.contains("Sorry, try again") || stderr.contains("incorrect password attempt") {
        Some("incorrect privilege escalation (sudo) password")
    } else if stderr.contains("is not in the sudoers file")
        || stderr.contains("is not allowed to execute")
    {
        Some("the login user may not use sudo for this")
    } else {
        None
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
    fn sudo_failures_are_explained_and_prompts_stripped() {
        let stderr = format!("{SUDO_PROMPT}Sorry, try again.\n{SUDO_PROMPT}");
        assert_eq!(
            String::from_utf8_lossy(&strip_prompt(stderr.as_bytes())),
            "Sorry, try again.\n"
        );
        assert_eq!(
            escalation_failure(&stderr),
            Some("incorrect privilege escalation (sudo) password")
        );
        assert!(escalation_failure("sudo: a password is required").is_some());
        assert_eq!(escalation_failure("ls: cannot access"), None);
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
