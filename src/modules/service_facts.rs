//! `service_facts`: the host's services as `ansible_facts.services`, in one round trip and
//! Ansible's shape: `services["sshd.service"] = {name, state, status, source}`.
//!
//! Where systemd runs (`/run/systemd/system`), `systemctl list-units` gives each service's
//! state (`running`, `failed`, else `stopped`) and `list-unit-files` its status (`enabled`,
//! `disabled`, `static`, ..., `unknown` when unlisted); otherwise SysV `service --status-all`
//! gives `running` (`[ + ]`) or `stopped`, with `source: sysv`. Deviation from Ansible:
//! OpenRC, BSD rc and AIX SRC are not read (a clear failure where neither is there).

use async_trait::async_trait;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::remote_file;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::{self, Value, Vars};

/// `service_facts` takes no arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFactsArgs {}

/// One service as Ansible lists it.
#[derive(Debug, Serialize, PartialEq)]
struct Service {
    name: String,
    state: &'static str,
    status: String,
    source: &'static str,
}

/// `service_facts`: list the host's services.
pub(crate) struct ServiceFacts;

#[async_trait]
impl Module for ServiceFacts {
    fn names(&self) -> &'static [&'static str] {
        &[
            "service_facts",
            "ansible.builtin.service_facts",
            "ansible.legacy.service_facts",
        ]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<ServiceFactsArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let _: ServiceFactsArgs = args::parse(args)?;
        service_facts(ctx).await
    }
}

/// Exit status of the script where neither systemd nor `service` is there.
const NO_SERVICE_MANAGER: i32 = 3;

/// The sbin directories are searched too, as Ansible's `get_bin_path` does for a login user.
const SCRIPT: &str = "PATH=\"$PATH:/usr/sbin:/sbin\"\n\
     if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then\n\
     echo @units; systemctl list-units --no-pager --no-legend --plain --all --type=service || exit 1\n\
     echo @files; systemctl list-unit-files --no-pager --no-legend --type=service || exit 1\n\
     elif command -v service >/dev/null 2>&1; then\n\
     echo @sysv; service --status-all 2>&1\n\
     else exit 3; fi\n";

/// Reads the script's output into services by name.
fn parse(text: &str) -> IndexMap<String, Service> {
    let mut services = IndexMap::new();
    let mut statuses: IndexMap<String, String> = IndexMap::new();
    let mut section = "";
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('@') {
            section = match name {
                "units" => "units",
                "files" => "files",
                "sysv" => "sysv",
                _ => section,
            };
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match (section, fields.as_slice()) {
            ("units", [unit, _load, active, sub, ..]) if unit.ends_with(".service") => {
                let state = match (*active, *sub) {
                    (_, "running") => "running",
                    ("failed", _) | (_, "failed") => "failed",
                    _ => "stopped",
                };
                services.insert(
                    unit.to_string(),
                    Service {
                        name: unit.to_string(),
                        state,
                        status: String::new(),
                        source: "systemd",
                    },
                );
            }
            ("files", [unit, status, ..]) if unit.ends_with(".service") => {
                statuses.insert(unit.to_string(), status.to_string());
            }
            ("sysv", ["[", mark, "]", name @ ..]) if !name.is_empty() => {
                let name = name.join(" ");
                services.insert(
                    name.clone(),
                    Service {
                        name,
                        state: if *mark == "+" { "running" } else { "stopped" },
                        status: "unknown".into(),
                        source: "sysv",
                    },
                );
            }
            _ => {}
        }
    }
    for name in statuses.keys() {
        // Unit files not loaded (disabled, never started) are services too, stopped.
        services.entry(name.clone()).or_insert_with(|| Service {
            name: name.clone(),
            state: "stopped",
            status: String::new(),
            source: "systemd",
        });
    }
    for service in services.values_mut() {
        if service.source == "systemd" {
            service.status = statuses
                .get(&service.name)
                .cloned()
                .unwrap_or_else(|| "unknown".into());
        }
    }
    services
}

async fn service_facts(ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let output = ctx.exec(SCRIPT).await?;
    match output.status.rc() {
        0 => {}
        NO_SERVICE_MANAGER => {
            return Ok(ModuleResult::failed(
                "Failed to find any services. This can be due to privileges or some other configuration issue.",
            ))
        }
        _ => return Err(remote_file::host_failure("cannot list services", &output)),
    }
    let services = parse(&output.stdout_text());
    let json = serde_json::to_value(&services).unwrap_or(serde_json::Value::Null);
    let mut facts = Vars::new();
    facts.insert("services".into(), vars::from_json(&json));
    let mut result = ModuleResult::ok();
    result.facts = Some(facts);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_units_get_their_state_and_unit_file_status() {
        let text = "@units\nssh.service loaded active running OpenBSD Secure Shell server\n\
                    cron.service loaded failed failed Regular background program\n\
                    rsync.service loaded inactive dead fast remote file copy\n\
                    @files\nssh.service enabled enabled\ncron.service enabled enabled\n\
                    apt-daily.service static -\n";
        let services = parse(text);
        let json = serde_json::to_value(&services).expect("json");
        assert_eq!(
            json["ssh.service"],
            serde_json::json!({"name": "ssh.service", "state": "running", "status": "enabled", "source": "systemd"})
        );
        assert_eq!(json["cron.service"]["state"], "failed");
        assert_eq!(json["rsync.service"]["state"], "stopped");
        assert_eq!(json["rsync.service"]["status"], "unknown");
        assert_eq!(json["apt-daily.service"]["status"], "static");
    }

    #[test]
    fn sysv_status_all_lines_are_running_or_stopped() {
        let services = parse("@sysv\n [ + ]  ssh\n [ - ]  procps\n [ ? ]  hwclock.sh\n");
        assert_eq!(services["ssh"].state, "running");
        assert_eq!(services["procps"].state, "stopped");
        assert_eq!(services["hwclock.sh"].source, "sysv");
    }
}
