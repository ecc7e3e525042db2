//! `virsh_facts`: a hypervisor's domains and capacity in one remote round trip, as
//! `ansible_facts.virsh`.
//!
//! `virsh.domains` maps each domain (running or not) to its state, vCPUs, memory, whether it
//! is persistent and autostarted, its snapshots (oldest first, with creation times), current
//! snapshot and disks (with the file system under each image and whether that is shared
//! storage); `virsh.host` holds CPUs and memory (`nodememstats`, `freecell`). Read-only, so it
//! runs as usual in check mode.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::virsh::{self, parse};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::{self, Value, Vars};

/// Arguments of `virsh_facts`: none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirshFactsArgs {}

/// `virsh_facts`: report a hypervisor's domains and capacity.
pub(crate) struct VirshFacts;

/// What `virsh_facts` reports.
#[derive(Debug, Serialize)]
struct Facts<'a> {
    host: &'a parse::HostFacts,
    domains: &'a std::collections::BTreeMap<String, parse::Domain>,
    /// Domain names that are running now.
    running: Vec<&'a str>,
}

#[async_trait]
impl Module for VirshFacts {
    fn names(&self) -> &'static [&'static str] {
        &["virsh_facts", "rpatch.virsh_facts"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<VirshFactsArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let _: VirshFactsArgs = args::parse(args)?;
        let report = virsh::gather(ctx).await?;
        Ok(result(&report))
    }
}

/// `virsh` in the registered value and in `ansible_facts`.
fn result(report: &parse::Report) -> ModuleResult {
    let facts = Facts {
        host: &report.host,
        domains: &report.domains,
        running: report
            .domains
            .iter()
            .filter(|(_, d)| d.state == "running")
            .map(|(name, _)| name.as_str())
            .collect(),
    };
    let json = serde_json::to_value(&facts).unwrap_or(serde_json::Value::Null);
    let value = vars::from_json(&json);
    let mut gathered = Vars::new();
    gathered.insert("virsh".into(), value.clone());
    let mut result = ModuleResult::ok().with_msg(format!(
        "{} domain(s), {} running",
        report.domains.len(),
        facts.running.len()
    ));
    result.data.insert("virsh".into(), value);
    if !report.warnings.is_empty() {
        result.data.insert(
            "warnings".into(),
            vars::from_json(&serde_json::json!(report.warnings)),
        );
    }
    result.facts = Some(gathered);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_registered_and_gathered_under_virsh() {
        let report = parse::facts(include_str!("../../tests/fixtures/virsh/facts.txt"));
        let result = result(&report);
        assert!(!result.changed && !result.failed);
        assert_eq!(result.msg.as_deref(), Some("2 domain(s), 1 running"));
        let value = vars::to_json(&result.to_value());
        assert_eq!(value["virsh"]["domains"]["web01"]["state"], "running");
        assert_eq!(value["virsh"]["domains"]["app01"]["state"], "shut off");
        assert_eq!(value["virsh"]["running"], serde_json::json!(["web01"]));
        assert_eq!(value["virsh"]["domains"]["web01"]["vcpus"], 1);
        assert_eq!(
            value["ansible_facts"]["virsh"]["domains"]["web01"]["disks"][0]["source"],
            "/var/lib/libvirt/images/web01.qcow2"
        );
    }
}
