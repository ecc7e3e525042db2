//! `virsh_domain`: start, shut down or destroy a domain of the hypervisor the task runs on.
//!
//! `state: running` starts a shut-off domain (or resumes a paused one); `shutdown` asks the
//! guest to power off (ACPI, `virsh shutdown`) and waits up to `shutdown_timeout` seconds for
//! it to be off, then pulls the plug (`virsh destroy`) only with `force: true` — otherwise a
//! guest that does not stop is a failure and is left running; `destroyed` pulls the plug at
//! once. A domain already in the state asked for is `ok`. One round trip reads the host, one
//! more acts; check mode stops after the first.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::virsh::{self, one_line, parse, Step};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `virsh_domain`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirshDomainArgs {
    /// The domain (`name` as in Ansible's `virt` module); on a guest, its own domain by
    /// default (see [`virsh::guest_domain`]).
    #[serde(default, alias = "name")]
    domain: String,
    /// `running`, `shutdown` or `destroyed`.
    state: DomainState,
    /// Seconds a guest gets to power off after the ACPI request.
    #[serde(default = "default_shutdown_timeout", deserialize_with = "lenient::whole")]
    shutdown_timeout: u64,
    /// After `shutdown_timeout`, destroy a guest that is still running.
    #[serde(default, deserialize_with = "lenient::bool")]
    force: bool,
}

fn default_shutdown_timeout() -> u64 {
    120
}

/// The state asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum DomainState {
    Running,
    Shutdown,
    Destroyed,
}

/// `virsh_domain`: bring a domain to a state.
pub(crate) struct VirshDomain;

#[async_trait]
impl Module for VirshDomain {
    fn names(&self) -> &'static [&'static str] {
        &["virsh_domain", "rpatch.virsh_domain"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<VirshDomainArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    fn runs_on_hypervisor(&self) -> bool {
        true
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let mut args: VirshDomainArgs = args::parse(args)?;
        if args.domain.is_empty() {
            args.domain = virsh::guest_domain(ctx).ok_or_else(|| {
                ModuleError::Failed(
                    "which domain? give `domain: NAME` (only a guest's own task, on a host with \
                     `rpatch_hypervisor`, defaults to its domain)"
                        .into(),
                )
            })?;
        }
        virsh::check_name("domain", &args.domain)?;
        let report = virsh::gather(ctx).await?;
        let domain = report
            .domains
            .get(&args.domain)
            .ok_or_else(|| virsh::unknown_domain(&args.domain, &report))?;
        let Some(action) = decide(args.state, domain) else {
            return Ok(outcome(&args, &domain.state, &domain.state, false)
                .with_msg(format!("`{}` is already {}", args.domain, domain.state)));
        };
        if ctx.check_mode {
            return Ok(outcome(&args, &domain.state, "", false)
                .with_msg(format!("would {action} `{}`", args.domain)));
        }
        // The script waits up to shutdown_timeout itself; the request gets two minutes more.
        let limit = Duration::from_secs(args.shutdown_timeout.saturating_add(120));
        let act = |script: String| virsh::run_script(ctx, script, limit);
        let d = args.domain.as_str();
        match action {
            Action::Shutdown => {
                let wait = args.shutdown_timeout;
                let applied = act(virsh::script::shutdown(d, wait, args.force)).await;
                let applied = applied?;
                let failed = |step: usize| {
                    applied
                        .steps
                        .get(step)
                        .filter(|s| s.rc != Some(0))
                        .map(|s| one_line(&s.output))
                };
                let refused = failed(0);
                if let (Some(error), false) = (&refused, args.force) {
                    return Err(ModuleError::Failed(format!(
                        "virsh shutdown `{d}` failed: {error}; `force: true` destroys it instead"
                    )));
                }
                if let Some(state) = applied.marker("timeout") {
                    return Err(ModuleError::Failed(format!(
                        "`{d}` did not shut down within {wait} s (still {state}); \
                         `force: true` destroys it after shutdown_timeout"
                    )));
                }
                if let Some(error) = failed(1) {
                    return Err(ModuleError::Failed(format!(
                        "`{d}` did not shut down within {wait} s, and destroying it failed: {error}"
                    )));
                }
                let forced = applied.marker("forced").is_some();
                let mut result = outcome(&args, &domain.state, "shut off", forced);
                result.msg = Some(if let Some(error) = refused {
                    format!("virsh shutdown `{d}` failed ({error}): destroyed (force)")
                } else if forced {
                    format!("`{d}` did not shut down within {wait} s: destroyed (force)")
                } else {
                    format!("`{d}` shut down")
                });
                Ok(result)
            }
            other => {
                let step = other.step(d);
                let applied = act(virsh::script::apply(std::slice::from_ref(&step))).await?;
                match applied.steps.first() {
                    Some(s) if s.rc == Some(0) => {
                        let after = match args.state {
                            DomainState::Running => "running",
                            _ => "shut off",
                        };
                        Ok(outcome(&args, &domain.state, after, false)
                            .with_msg(format!("{}: done", step.what)))
                    }
                    Some(s) => Err(ModuleError::Failed(format!("{} failed: {}", step.what, one_line(&s.output)))),
                    None => Err(ModuleError::Failed(format!("{}: no answer from virsh", step.what))),
                }
            }
        }
    }
}

/// What to do to reach the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Start,
    Resume,
    Wake,
    Shutdown,
    Destroy,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Start => "start",
            Self::Resume => "resume",
            Self::Wake => "wake up",
            Self::Shutdown => "shut down",
            Self::Destroy => "destroy",
        })
    }
}

impl Action {
    fn step(self, domain: &str) -> Step {
        let verb = match self {
            Self::Start => "start",
            Self::Resume => "resume",
            Self::Wake => "dompmwakeup",
            Self::Shutdown => "shutdown",
            Self::Destroy => "destroy",
        };
        Step::new(format!("virsh {verb} `{domain}`"), &[verb, "--domain", domain])
    }
}

/// The action from the domain's state, or `None` when it is there already.
fn decide(wanted: DomainState, domain: &parse::Domain) -> Option<Action> {
    let state = domain.state.as_str();
    match wanted {
        DomainState::Running => match state {
            "running" => None,
            "paused" => Some(Action::Resume),
            "pmsuspended" => Some(Action::Wake),
            _ => Some(Action::Start),
        },
        DomainState::Shutdown | DomainState::Destroyed if !domain.is_active() => None,
        DomainState::Shutdown => Some(Action::Shutdown),
        DomainState::Destroyed => Some(Action::Destroy),
    }
}

/// What the task registers.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    domain: &'a str,
    /// The state before.
    before: &'a str,
    /// The state after (empty in check mode).
    state: &'a str,
    /// Destroyed after an ACPI shutdown timed out.
    forced: bool,
}

fn outcome(args: &VirshDomainArgs, before: &str, after: &str, forced: bool) -> ModuleResult {
    let result = if before == after {
        ModuleResult::ok()
    } else {
        ModuleResult::changed()
    };
    result.with_data(&Outcome {
        domain: &args.domain,
        before,
        state: after,
        forced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(state: &str) -> parse::Domain {
        parse::Domain {
            state: state.into(),
            ..parse::Domain::default()
        }
    }

    #[test]
    fn the_action_follows_from_the_state_and_nothing_is_done_twice() {
        use DomainState::*;
        assert_eq!(decide(Running, &domain("running")), None);
        assert_eq!(decide(Running, &domain("shut off")), Some(Action::Start));
        assert_eq!(decide(Running, &domain("crashed")), Some(Action::Start));
        assert_eq!(decide(Running, &domain("paused")), Some(Action::Resume));
        assert_eq!(decide(Shutdown, &domain("shut off")), None);
        assert_eq!(decide(Shutdown, &domain("running")), Some(Action::Shutdown));
        assert_eq!(decide(Shutdown, &domain("paused")), Some(Action::Shutdown));
        assert_eq!(decide(Destroyed, &domain("in shutdown")), Some(Action::Destroy));
        assert_eq!(decide(Destroyed, &domain("shut off")), None);
    }

    #[test]
    fn steps_quote_the_domain() {
        let step = Action::Start.step("a b;c");
        assert_eq!(step.words, ["start", "--domain", "a b;c"]);
        assert!(virsh::script::apply(&[step]).contains("virsh start --domain 'a b;c'"));
    }
}
