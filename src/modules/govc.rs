//! What the govc modules (`govc_snapshot` and its alias `vmware_guest_snapshot`, `govc_vmotion`,
//! `govc_host_maintenance`, `govc_evacuate`, `govc_facts`) share: the vSphere connection from variables, one govc call
//! per round trip with the secrets kept out of every command line, and the inventory lookups.
//!
//! The modules run `govc` on the host of the task (usually `delegate_to: localhost`). The
//! connection comes from the variables `govc_url`, `govc_username`, `govc_password`,
//! `govc_insecure` and `govc_datacenter`, exported as `GOVC_*` inside a script fed to `sh` on
//! standard input: the command line is only `sh`, so the password is in no `ps` listing, no
//! journal line and no result. Whatever govc prints is cleaned of its progress codes and of
//! the password (and of any `user:password@` in a URL) before a module reports it.

pub(crate) mod actions;
pub(crate) mod parse;
pub(crate) mod script;

use std::time::Duration;

use super::{ModuleContext, ModuleError};
use crate::transport::{ExecRequest, ExitStatus};
use crate::vars::Value;
pub(crate) use parse::{Failure, HostRef, Inventory};

/// The variables that configure the connection, and the environment each one becomes.
const SETTINGS: [(&str, &str); 5] = [
    ("govc_url", "GOVC_URL"),
    ("govc_username", "GOVC_USERNAME"),
    ("govc_password", "GOVC_PASSWORD"),
    ("govc_insecure", "GOVC_INSECURE"),
    ("govc_datacenter", "GOVC_DATACENTER"),
];

/// What hides a secret in reported text.
const MASK: &str = "********";

/// How to run govc for one task: the `GOVC_*` environment and the texts never to report.
pub(crate) struct Govc {
    env: Vec<(&'static str, String)>,
    secrets: Vec<String>,
    timeout: Duration,
}

/// What one govc call answered: exit code, stdout without progress codes, and the last line
/// of stderr without `govc: ` (both with secrets masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// govc's exit code.
    pub rc: i32,
    /// Standard output, cleaned.
    pub stdout: String,
    /// govc's one-line error (empty on success).
    pub error: String,
}

impl Govc {
    /// The connection from the host's variables (each rendered as a template); a variable
    /// left unset is not exported, so a `GOVC_*` already in the environment still applies.
    pub(crate) fn from_vars(
        ctx: &ModuleContext<'_>,
        timeout: Duration,
    ) -> Result<Self, ModuleError> {
        let mut govc = Self {
            env: Vec::new(),
            secrets: Vec::new(),
            timeout,
        };
        for (var, _) in SETTINGS {
            if let Some(value) = variable(ctx, var)? {
                govc.set(var, value)?;
            }
        }
        Ok(govc)
    }

    /// Sets the setting of variable `var` (one of `govc_url`, `govc_username`,
    /// `govc_password`, `govc_insecure`, `govc_datacenter`) to `value`, over what the
    /// variables said: for a module whose own arguments name the connection (Ansible's
    /// `hostname`, `username`, `password`, `validate_certs`, `datacenter`).
    pub(crate) fn set(&mut self, var: &str, value: String) -> Result<(), ModuleError> {
        let Some((var, name)) = SETTINGS.iter().copied().find(|(v, _)| *v == var) else {
            return Err(ModuleError::Failed(format!("no govc setting `{var}`")));
        };
        if value.contains('\0') {
            return Err(ModuleError::Failed(format!("`{var}` contains a NUL byte")));
        }
        if var == "govc_password" && !value.is_empty() {
            self.secrets.push(value.clone());
        }
        if var == "govc_url" {
            self.secrets.extend(parse::url_password(&value));
        }
        let value = if var == "govc_insecure" {
            boolean(var, &value)?
        } else {
            value
        };
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value));
        Ok(())
    }

    /// Runs `govc WORDS…` once; a host without govc is an error saying so.
    pub(crate) async fn call(
        &self,
        ctx: &ModuleContext<'_>,
        words: &[&str],
    ) -> Result<Reply, ModuleError> {
        let mut request = ExecRequest::new("sh");
        request.stdin = Some(script::call(&self.env, words).into_bytes());
        request.timeout = Some(self.timeout);
        let output = ctx.exec_request(request).await?;
        let what = words.first().copied().unwrap_or("govc");
        if output.status == ExitStatus::TimedOut {
            return Err(ModuleError::Failed(format!(
                "govc {what} did not finish within {} seconds",
                self.timeout.as_secs()
            )));
        }
        let stderr = output.stderr_text();
        if stderr.contains(script::NO_GOVC) {
            let place = if ctx.transport.is_local() {
                "the controller".to_string()
            } else {
                format!("`{}`", ctx.host)
            };
            return Err(ModuleError::Failed(format!(
                "govc is not on the PATH of {place} (the vSphere modules run govc where the \
                 task runs: install it there, or `delegate_to` a host that has it)"
            )));
        }
        Ok(Reply {
            rc: output.status.rc(),
            stdout: self.mask(&parse::clean(&output.stdout_text())),
            error: self.mask(&parse::error_line(&stderr)),
        })
    }

    /// Runs `govc WORDS…` and returns its output, or fails with govc's error made clear.
    pub(crate) async fn ok(
        &self,
        ctx: &ModuleContext<'_>,
        words: &[&str],
    ) -> Result<String, ModuleError> {
        let reply = self.call(ctx, words).await?;
        if reply.rc == 0 {
            return Ok(reply.stdout);
        }
        Err(failed(words, &reply))
    }

    /// `text` with every secret masked.
    pub(crate) fn mask(&self, text: &str) -> String {
        let mut text = parse::mask_url_passwords(text);
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), MASK);
        }
        text
    }

    /// The hosts and their ids (`find / -type h`, then `find -i / -type h`: the same walk, so
    /// the lines pair up).
    pub(crate) async fn hosts(&self, ctx: &ModuleContext<'_>) -> Result<Inventory, ModuleError> {
        let paths = self.ok(ctx, &["find", "/", "-type", "h"]).await?;
        let ids = self.ok(ctx, &["find", "-i", "/", "-type", "h"]).await?;
        Inventory::pair(&paths, &ids).map_err(ModuleError::Failed)
    }

    /// One property of one object (`object.collect -s PATH PROPERTY`), trimmed.
    pub(crate) async fn property(
        &self,
        ctx: &ModuleContext<'_>,
        path: &str,
        property: &str,
    ) -> Result<String, ModuleError> {
        Ok(self
            .ok(ctx, &["object.collect", "-s", path, property])
            .await?
            .trim()
            .to_string())
    }
}

/// The failure of a govc call, in words that say what went wrong.
pub(crate) fn failed(words: &[&str], reply: &Reply) -> ModuleError {
    let what = words.first().copied().unwrap_or("govc");
    ModuleError::Failed(format!(
        "govc {what} failed (rc {}): {}",
        reply.rc,
        Failure::classify(&reply.error).explain()
    ))
}

/// A host variable rendered for this host; `None` when unset.
fn variable(ctx: &ModuleContext<'_>, name: &str) -> Result<Option<String>, ModuleError> {
    let Some(value) = ctx
        .scope
        .get_attr(name)
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_none())
    else {
        return Ok(None);
    };
    let text = match value.as_str() {
        Some(template) => ctx
            .templar
            .render_to_string(template, ctx.scope)
            .map_err(|error| {
                ModuleError::Failed(format!("variable `{name}` does not render: {error}"))
            })?,
        None => plain(&value),
    };
    Ok(Some(text))
}

/// A non-string variable as text (a YAML `true` is `true`, not Jinja's `True`).
fn plain(value: &Value) -> String {
    match value.kind() {
        minijinja::value::ValueKind::Bool => value.is_true().to_string(),
        _ => value.to_string(),
    }
}

/// A yes/no variable as govc's `strconv.ParseBool` reads it: `true` or `false`.
fn boolean(var: &str, text: &str) -> Result<String, ModuleError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok("true".into()),
        "false" | "no" | "off" | "0" | "" => Ok("false".into()),
        _ => Err(ModuleError::Failed(format!(
            "variable `{var}` is `{text}`, not true or false"
        ))),
    }
}

/// The default limit of one govc call, unless the task sets `timeout`.
pub(crate) fn default_timeout() -> u64 {
    600
}

/// Refuses a word govc would misread: empty, with a control character, or starting with `-`
/// (an option to govc). Shell metacharacters are fine: every word is quoted.
pub(crate) fn check_word(kind: &str, word: &str) -> Result<(), ModuleError> {
    let problem = if word.is_empty() {
        "is empty"
    } else if word.chars().any(char::is_control) {
        "contains a control character"
    } else if word.starts_with('-') {
        "starts with `-`, which govc would read as an option"
    } else {
        return Ok(());
    };
    Err(ModuleError::Failed(format!(
        "{kind} `{}` {problem}",
        word.escape_debug()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatever_govc_prints_is_reported_with_secrets_masked() {
        let govc = Govc {
            env: Vec::new(),
            secrets: vec!["pw!1".into()],
            timeout: Duration::from_secs(1),
        };
        assert_eq!(
            govc.mask("Post \"https://root:other@vc/sdk\": login pw!1 refused"),
            "Post \"https://root:********@vc/sdk\": login ******** refused"
        );
    }

    #[test]
    fn govc_insecure_reads_as_govcs_true_or_false() {
        assert_eq!(boolean("v", "yes").expect("bool"), "true");
        assert_eq!(boolean("v", "False").expect("bool"), "false");
        assert!(boolean("v", "maybe").is_err());
        assert_eq!(plain(&Value::from(true)), "true");
    }
}
