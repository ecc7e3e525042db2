//! Privilege escalation: wrapping a command line in sudo or su.
//!
//! The password is never part of the command line, and never written blindly on standard
//! input: with a password, sudo runs as `sudo -S -p PROMPT` with a fresh random prompt, and the
//! escalated shell first prints a random marker on standard error. The transport sends the
//! password only when the prompt shows (see `become_prompt` and `stdin_feed`). `su` reads its
//! password from a terminal, so `su` with a password is refused rather than guessed at.

use std::fmt;

use super::become_prompt::{BecomeError, Challenge};
use super::quote;
use super::stdin_feed::{Input, Secret};

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
    fn target_user(&self) -> &str {
        if self.user.is_empty() {
            "root"
        } else {
            &self.user
        }
    }

    /// Wraps `line` so it runs as the target user, and says how to feed its standard input
    /// (`data`, the command's own input): with a password, only after sudo's prompt.
    pub(crate) fn prepare(
        &self,
        line: &str,
        data: Option<Vec<u8>>,
    ) -> Result<(String, Input), BecomeError> {
        let user = quote(self.target_user());
        match (self.method, &self.password) {
            (BecomeMethod::Sudo, None) => Ok((
                format!(
                    "sudo {} -n -u {user} /bin/sh -c {}",
                    self.sudo_flags(),
                    quote(line)
                ),
                Input::plain(data),
            )),
            (BecomeMethod::Sudo, Some(password)) => {
                let challenge = Challenge::random()?;
                let started = format!("echo {} >&2; {line}", challenge.marker);
                let wrapped = format!(
                    "sudo {} -S -p {} -u {user} /bin/sh -c {}",
                    self.sudo_flags(),
                    quote(&challenge.prompt),
                    quote(&started)
                );
                let input = Input::after_prompt(data, Secret::new(password.clone()), challenge);
                Ok((wrapped, input))
            }
            (BecomeMethod::Su, None) => Ok((
                format!("su {} {user} -c {}", self.flags, quote(line)),
                Input::plain(data),
            )),
            (BecomeMethod::Su, Some(_)) => Err(BecomeError::SuPassword),
        }
    }

    fn sudo_flags(&self) -> &str {
        if self.flags.is_empty() {
            "-H"
        } else {
            &self.flags
        }
    }
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

    fn sudo(password: Option<&str>) -> Become {
        Become {
            user: "root".into(),
            password: password.map(str::to_string),
            ..Become::default()
        }
    }

    #[test]
    fn sudo_without_password_never_prompts() {
        let (line, input) = sudo(None).prepare("id -u", None).expect("prepare");
        assert_eq!(line, "sudo -H -n -u root /bin/sh -c 'id -u'");
        assert!(input.is_empty());
    }

    #[test]
    fn sudo_failures_are_explained() {
        let stderr = "Sorry, try again.\nsudo: 1 incorrect password attempt\n";
        assert_eq!(
            escalation_failure(stderr),
            Some("incorrect privilege escalation (sudo) password")
        );
        assert!(escalation_failure("sudo: a password is required").is_some());
        assert_eq!(escalation_failure("ls: cannot access"), None);
    }

    #[test]
    fn the_password_is_neither_on_the_command_line_nor_sent_up_front() {
        let escalation = sudo(Some("s3cret"));
        let (line, input) = escalation.prepare("id", None).expect("prepare");
        assert!(!line.contains("s3cret"), "{line}");
        assert!(
            line.starts_with("sudo -H -S -p '[rpatch-become-password-"),
            "{line}"
        );
        assert!(line.contains("echo rpatch-become-ok-"), "{line}");
        assert!(!input.is_empty(), "the password needs a standard input");
        assert!(!format!("{escalation:?}").contains("s3cret"));
        assert!(!format!("{input:?}").contains("s3cret"));
    }

    #[test]
    fn each_command_gets_its_own_prompt() {
        let escalation = sudo(Some("pw"));
        let (one, _) = escalation.prepare("id", None).expect("prepare");
        let (two, _) = escalation.prepare("id", None).expect("prepare");
        assert_ne!(one, two);
    }

    #[test]
    fn su_with_a_password_is_refused_and_without_one_runs() {
        let su = Become {
            method: BecomeMethod::Su,
            ..sudo(Some("pw"))
        };
        assert_eq!(
            su.prepare("id", None).map(|(line, _)| line),
            Err(BecomeError::SuPassword)
        );
        let su = Become {
            password: None,
            ..su
        };
        let (line, _) = su.prepare("id", None).expect("prepare");
        assert_eq!(line, "su  root -c id");
    }
}
