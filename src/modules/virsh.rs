//! What the virsh modules (`virsh_facts`, `virsh_snapshot`, `virsh_domain`, `virt`) share: the facts
//! round trip they all start with, the check on names that reach virsh, and the errors a
//! hypervisor answers with.
//!
//! Each module first reads the host in one round trip ([`gather`]), decides from that what to
//! change (check mode stops there), and applies it in a second round trip. They run `virsh` on
//! the host of the task (connected to `qemu:///system`), so a play needs `become: true` unless
//! the login user may talk to libvirtd.

pub(crate) mod parse;
pub(crate) mod placement;
pub(crate) mod script;

use std::time::Duration;

use super::{ModuleContext, ModuleError};
use crate::transport::{ExecRequest, ExitStatus};
use parse::{Applied, Report};
pub(crate) use script::Step;

/// Reads the host and its domains in one round trip; a host without virsh, or whose libvirtd
/// does not answer, is a failure saying so.
pub(crate) async fn gather(ctx: &ModuleContext<'_>) -> Result<Report, ModuleError> {
    gather_at(ctx, None).await
}

/// [`gather`] for the libvirtd at `uri` (another hypervisor, reached from the task's host with
/// `virsh -c`), or the task's own host when `None`.
pub(crate) async fn gather_at(
    ctx: &ModuleContext<'_>,
    uri: Option<&str>,
) -> Result<Report, ModuleError> {
    let mut request = ExecRequest::new(at_uri(script::facts(), uri));
    request.timeout = Some(ctx.timeout.unwrap_or(Duration::from_secs(120)));
    let output = ctx.exec_request(request).await?;
    if output.status == ExitStatus::TimedOut {
        return Err(ModuleError::Failed("virsh did not answer in time".into()));
    }
    let report = parse::facts(&output.stdout_text());
    if report.no_virsh {
        return Err(no_virsh());
    }
    if let Some((rc, text)) = &report.error {
        let hint = if text.contains("Permission denied") {
            " (libvirtd lets only root and its group in: `become: true`)"
        } else {
            ""
        };
        return Err(ModuleError::Failed(format!(
            "virsh cannot list the domains of this host (rc {rc}): {}{hint}",
            one_line(text)
        )));
    }
    if !report.complete {
        return Err(ModuleError::Failed(format!(
            "the virsh facts script stopped early (rc {}): {}",
            output.status.rc(),
            one_line(&output.stderr_text())
        )));
    }
    Ok(report)
}

/// Runs an apply script and reads its report.
pub(crate) async fn run_script(
    ctx: &ModuleContext<'_>,
    script: String,
    timeout: Duration,
) -> Result<Applied, ModuleError> {
    run_script_with_input(ctx, script, None, timeout).await
}

/// [`run_script`] with `input` on the script's standard input (a domain's XML for
/// `virsh define /dev/stdin`, which keeps it off the command line).
pub(crate) async fn run_script_with_input(
    ctx: &ModuleContext<'_>,
    script: String,
    input: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Applied, ModuleError> {
    let mut request = ExecRequest::new(script);
    request.stdin = input;
    request.timeout = Some(timeout);
    let output = ctx.exec_request(request).await?;
    if output.status == ExitStatus::TimedOut {
        return Err(ModuleError::Failed(format!(
            "virsh did not finish within {} seconds",
            timeout.as_secs()
        )));
    }
    let applied = parse::applied(&output.stdout_text());
    if applied.no_virsh {
        return Err(no_virsh());
    }
    if !applied.complete {
        return Err(ModuleError::Failed(format!(
            "the virsh script stopped early (rc {}): {}",
            output.status.rc(),
            one_line(&output.stderr_text())
        )));
    }
    Ok(applied)
}

/// `script` with every plain `virsh` in it talking to the libvirtd at `uri` (the scripts'
/// prelude keeps a `LIBVIRT_DEFAULT_URI` already set); unchanged when `uri` is `None`.
pub(crate) fn at_uri(script: String, uri: Option<&str>) -> String {
    match uri {
        Some(uri) => format!(
            "LIBVIRT_DEFAULT_URI={}; export LIBVIRT_DEFAULT_URI\n{script}",
            crate::shell::quote(uri)
        ),
        None => script,
    }
}

/// The domain a guest's task acts on when it names none: on a host with `rpatch_hypervisor`
/// (a guest, whose virsh task runs on its hypervisor), its `rpatch_domain`, else its
/// inventory name. `None` for a host that is no guest.
pub(crate) fn guest_domain(ctx: &ModuleContext<'_>) -> Option<String> {
    let text = |name: &str| {
        ctx.scope
            .get_attr(name)
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_none())
            .and_then(|v| v.as_str().map(str::to_string))
            .filter(|v| !v.is_empty())
    };
    text("rpatch_hypervisor")?;
    text("rpatch_domain").or_else(|| Some(ctx.host.to_string()))
}

fn no_virsh() -> ModuleError {
    ModuleError::Failed(
        "virsh is not installed on this host (a KVM hypervisor needs libvirt-clients)".into(),
    )
}

/// Multi-line tool output as one line for a message.
pub(crate) fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Refuses a domain or snapshot name virsh cannot take safely. Every name is quoted for the
/// shell anyway; these are the ones that would still go wrong: empty, with a control
/// character (a newline would split the facts report), starting with `-` (virsh would read an
/// option), or a snapshot name with `/` (libvirt refuses it).
pub(crate) fn check_name(kind: &str, name: &str) -> Result<(), ModuleError> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.starts_with('-') {
        Some("starts with `-`, which virsh would read as an option")
    } else if kind == "snapshot" && name.contains('/') {
        Some("contains `/`, which libvirt refuses")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ModuleError::Failed(format!(
            "{kind} name `{}` {problem}",
            name.escape_debug()
        ))),
        None => Ok(()),
    }
}

/// The error for a domain the host does not have, listing the ones it has.
pub(crate) fn unknown_domain(name: &str, report: &Report) -> ModuleError {
    let known: Vec<&str> = report.domains.keys().map(String::as_str).collect();
    ModuleError::Failed(format!(
        "domain `{name}` is not defined on this host (domains: {})",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_virsh_would_misread_are_refused_and_metacharacters_are_not() {
        for bad in ["", "a\nb", "-rf", "\u{7}"] {
            assert!(check_name("domain", bad).is_err(), "{bad:?}");
        }
        assert!(check_name("snapshot", "a/b").is_err());
        for fine in ["web01", "a;rm -rf ~", "$(reboot)", "it's", "a b"] {
            assert!(check_name("snapshot", fine).is_ok(), "{fine:?}");
        }
        let message = check_name("snapshot", "-x")
            .expect_err("refused")
            .to_string();
        assert_eq!(
            message,
            "snapshot name `-x` starts with `-`, which virsh would read as an option"
        );
    }
}
