//! `needrestart`: restart the services that still run old code after patching, except those
//! an `exclude` list protects — the "patch now, restart later" path for hypervisors whose
//! libvirtd, QEMU or Open vSwitch must not bounce — and report whether the kernel needs a reboot.
//!
//! A module of its own rather than an option of `service`: it takes no service name, its input
//! is needrestart's list, and its result (restarted, excluded, kernel status) is a report about
//! the whole host. It reuses `service`'s name check and restart script.
//!
//! One round trip runs `needrestart -b -r l` (batch output, list only: needrestart itself
//! restarts nothing); a second restarts the chosen units, with systemctl when systemd runs and
//! `service` otherwise. needrestart needs root to see every process: use `become`. In check
//! mode the list is reported and nothing is restarted.
//!
//! Batch format (needrestart's README.batch.md): `NEEDRESTART-VER:`, `NEEDRESTART-KCUR:`
//! (running kernel), `NEEDRESTART-KEXP:` (expected kernel), `NEEDRESTART-KSTA:` (0 unknown,
//! 1 current, 2 ABI-compatible upgrade pending, 3 version upgrade pending),
//! `NEEDRESTART-SVC:` (one unit per line), `NEEDRESTART-CONT:`, `NEEDRESTART-SESS:`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::service::{check_unit_name, restart_script};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `needrestart`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedrestartArgs {
    /// Glob patterns (`*`, `?`) of services never to restart, matched with and without
    /// `.service`: `libvirtd*`, `qemu*`, `openvswitch*`.
    #[serde(default, deserialize_with = "lenient::word_list")]
    exclude: Vec<String>,
}

/// What `needrestart -b` reported.
#[derive(Debug, Default, Clone, PartialEq)]
struct BatchReport {
    version: Option<String>,
    kernel_current: Option<String>,
    kernel_expected: Option<String>,
    kernel_status: u8,
    services: Vec<String>,
    containers: Vec<String>,
    sessions: Vec<String>,
}

impl BatchReport {
    /// Parses batch output; `None` when it has no `NEEDRESTART-VER:` line (not needrestart).
    fn parse(stdout: &str) -> Option<Self> {
        let mut report = Self::default();
        let mut seen_version = false;
        for line in stdout.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let text = || (!value.is_empty()).then(|| value.to_string());
            match key.trim() {
                "NEEDRESTART-VER" => {
                    seen_version = true;
                    report.version = text();
                }
                "NEEDRESTART-KCUR" => report.kernel_current = text(),
                "NEEDRESTART-KEXP" => report.kernel_expected = text(),
                "NEEDRESTART-KSTA" => report.kernel_status = value.parse().unwrap_or(0),
                "NEEDRESTART-SVC" if !value.is_empty() => report.services.push(value.into()),
                "NEEDRESTART-CONT" if !value.is_empty() => report.containers.push(value.into()),
                "NEEDRESTART-SESS" if !value.is_empty() => report.sessions.push(value.into()),
                _ => {}
            }
        }
        seen_version.then_some(report)
    }

    /// KSTA 2 or 3: a newer kernel is installed than the one running.
    fn reboot_required(&self) -> bool {
        self.kernel_status >= 2
    }
}

/// `*` any run, `?` any one character; everything else literal.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The services to restart and those left alone, and names refused as unit names.
#[derive(Debug, Default, PartialEq)]
struct Plan {
    restart: Vec<String>,
    excluded: Vec<String>,
    invalid: Vec<String>,
}

fn plan(services: &[String], exclude: &[String]) -> Plan {
    let mut plan = Plan::default();
    for service in services {
        let short = service.strip_suffix(".service").unwrap_or(service);
        if check_unit_name(service).is_err() {
            plan.invalid.push(service.clone());
        } else if exclude
            .iter()
            .any(|p| glob_match(p, service) || glob_match(p, short))
        {
            plan.excluded.push(service.clone());
        } else {
            plan.restart.push(service.clone());
        }
    }
    plan
}

/// What `needrestart` registers.
#[derive(Debug, Serialize)]
struct NeedrestartOutcome<'a> {
    /// Restarted (in check mode: would be).
    restarted: &'a [String],
    excluded: &'a [String],
    /// Names needrestart printed that are not unit names: never restarted.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    invalid: &'a [String],
    /// Restarts that failed.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    failed_services: &'a [String],
    services: &'a [String],
    containers: &'a [String],
    sessions: &'a [String],
    kernel_status: u8,
    kernel_current: Option<&'a str>,
    kernel_expected: Option<&'a str>,
    reboot_required: bool,
    needrestart_version: Option<&'a str>,
}

/// `needrestart`: restart what needs it, except the excluded.
pub(crate) struct Needrestart;

#[async_trait]
impl Module for Needrestart {
    fn names(&self) -> &'static [&'static str] {
        &["needrestart"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<NeedrestartArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(args, ctx).await
    }
}

/// The listing script: needrestart's batch output, or `rpatch_needrestart=missing`.
const LIST_SCRIPT: &str = "LC_ALL=C; export LC_ALL\n\
     PATH=$PATH:/usr/sbin:/sbin\n\
     command -v needrestart >/dev/null 2>&1 || { echo rpatch_needrestart=missing; exit 0; }\n\
     exec needrestart -b -r l\n";

async fn run(args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let args: NeedrestartArgs = args::parse(args)?;
    let output = ctx.exec(LIST_SCRIPT).await?;
    let stdout = output.stdout_text();
    if stdout.contains("rpatch_needrestart=missing") {
        return Err(ModuleError::Failed(
            "needrestart is not installed on the host (Debian/Ubuntu: apt-get install needrestart)"
                .into(),
        ));
    }
    let report = BatchReport::parse(&stdout).ok_or_else(|| {
        ModuleError::Failed(format!(
            "needrestart -b gave no batch report (rc {}): {}",
            output.status.rc(),
            output.stderr_text().trim()
        ))
    })?;
    let plan = plan(&report.services, &args.exclude);
    let mut restarted = plan.restart.clone();
    let mut failed = Vec::new();
    if !ctx.check_mode && !plan.restart.is_empty() {
        let output = ctx.exec(restart_script(&plan.restart)).await?;
        let stdout = output.stdout_text();
        restarted = stdout
            .lines()
            .filter_map(|line| line.strip_prefix("restarted="))
            .map(str::to_string)
            .collect();
        failed = plan
            .restart
            .iter()
            .filter(|unit| !restarted.contains(unit))
            .cloned()
            .collect();
    }
    let outcome = NeedrestartOutcome {
        restarted: &restarted,
        excluded: &plan.excluded,
        invalid: &plan.invalid,
        failed_services: &failed,
        services: &report.services,
        containers: &report.containers,
        sessions: &report.sessions,
        kernel_status: report.kernel_status,
        kernel_current: report.kernel_current.as_deref(),
        kernel_expected: report.kernel_expected.as_deref(),
        reboot_required: report.reboot_required(),
        needrestart_version: report.version.as_deref(),
    };
    let result = if failed.is_empty() {
        if plan.restart.is_empty() {
            ModuleResult::ok()
        } else {
            ModuleResult::changed()
        }
    } else {
        ModuleResult {
            changed: !restarted.is_empty(),
            ..ModuleResult::failed(format!("could not restart {}", failed.join(", ")))
        }
    };
    Ok(result.with_data(&outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded on this project's Debian 12 test machine (needrestart 3.6, no systemd as PID 1,
    /// nothing outdated): `needrestart -b > tests/fixtures/needrestart/debian12-batch-idle.txt`.
    const DEBIAN12_IDLE: &str =
        include_str!("../../tests/fixtures/needrestart/debian12-batch-idle.txt");
    /// The example in needrestart's README.batch.md (the documented batch format).
    const README_EXAMPLE: &str =
        include_str!("../../tests/fixtures/needrestart/readme-batch-example.txt");

    #[test]
    fn recorded_debian12_output_has_nothing_to_restart() {
        let report = BatchReport::parse(DEBIAN12_IDLE).expect("batch report");
        assert_eq!(report.version.as_deref(), Some("3.6"));
        assert_eq!(report.kernel_current.as_deref(), Some("6.18.44-fc-v657"));
        assert_eq!(report.kernel_expected, None);
        assert_eq!(report.kernel_status, 0);
        assert!(report.services.is_empty() && !report.reboot_required());
    }

    #[test]
    fn documented_example_lists_services_containers_and_sessions() {
        let report = BatchReport::parse(README_EXAMPLE).expect("batch report");
        assert_eq!(report.kernel_status, 1);
        assert_eq!(
            report.services,
            ["systemd-journald.service", "systemd-machined.service"]
        );
        assert_eq!(report.containers, ["LXC web1"]);
        assert_eq!(report.sessions.len(), 2);
        assert!(!report.reboot_required());
    }

    #[test]
    fn kernel_status_two_or_three_requires_a_reboot() {
        for (ksta, reboot) in [("0", false), ("1", false), ("2", true), ("3", true)] {
            let text = format!("NEEDRESTART-VER: 3.6\nNEEDRESTART-KSTA: {ksta}\n");
            let report = BatchReport::parse(&text).expect("report");
            assert_eq!(report.reboot_required(), reboot, "KSTA {ksta}");
        }
        assert_eq!(BatchReport::parse("Scanning processes...\n"), None);
    }

    #[test]
    fn hypervisor_services_are_excluded_by_glob() {
        // A hypervisor after a libc/openssl upgrade (constructed in the documented format).
        let text = "NEEDRESTART-VER: 3.6\nNEEDRESTART-KSTA: 3\n\
                    NEEDRESTART-SVC: libvirtd.service\nNEEDRESTART-SVC: qemu-guest-agent.service\n\
                    NEEDRESTART-SVC: openvswitch-switch.service\nNEEDRESTART-SVC: ssh.service\n\
                    NEEDRESTART-SVC: cron.service\nNEEDRESTART-SVC: bad;name\n";
        let report = BatchReport::parse(text).expect("report");
        assert!(report.reboot_required());
        let exclude = ["libvirtd*", "qemu*", "openvswitch*"].map(String::from);
        assert_eq!(
            plan(&report.services, &exclude),
            Plan {
                restart: vec!["ssh.service".into(), "cron.service".into()],
                excluded: vec![
                    "libvirtd.service".into(),
                    "qemu-guest-agent.service".into(),
                    "openvswitch-switch.service".into()
                ],
                invalid: vec!["bad;name".into()],
            }
        );
        // Patterns match the name without `.service` too.
        let exact = plan(&report.services, &["cron".to_string()]);
        assert_eq!(exact.excluded, ["cron.service"]);
    }

    #[test]
    fn glob_matches_like_a_shell() {
        assert!(glob_match("libvirtd*", "libvirtd.service"));
        assert!(glob_match("*", ""));
        assert!(glob_match("q?mu*", "qemu-kvm.service"));
        assert!(glob_match("*switch*", "openvswitch-switch.service"));
        assert!(!glob_match("qemu*", "libvirt-qemu.service"));
        assert!(!glob_match("ssh", "ssh.service"));
        assert!(!glob_match("a?", "a"));
    }

    #[test]
    fn exclude_reads_a_list_or_a_comma_separated_string() {
        let parse = |json: serde_json::Value| -> Vec<String> {
            args::parse::<NeedrestartArgs>(&crate::vars::from_json(&json))
                .expect("args")
                .exclude
        };
        assert_eq!(
            parse(serde_json::json!({"exclude": "libvirtd*, qemu*"})),
            ["libvirtd*", "qemu*"]
        );
        assert_eq!(
            parse(serde_json::json!({"exclude": ["ovs*"]})),
            ["ovs*"]
        );
        assert!(parse(serde_json::json!({})).is_empty());
    }
}
