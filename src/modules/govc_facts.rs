//! `govc_facts`: what a vCenter holds — its version (`about`), the ESXi hosts with their
//! clusters and ids, the VMs on each host and each VM's power state — registered and
//! gathered as `vsphere`.
//!
//! `hosts` limits the hosts looked into (default: all); the VMs of each come from
//! `find . -type m -runtime.host HostSystem:ID`, the power state from `vm.info -json` per VM.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::govc::{self, check_word, parse, Govc};
use super::govc_host_maintenance::not_found;
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::{self, Value, Vars};

/// Arguments of `govc_facts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovcFactsArgs {
    /// The hosts to look into (names or paths); default all.
    #[serde(default, deserialize_with = "lenient::word_list")]
    hosts: Vec<String>,
    /// Give up on one govc call after this many seconds.
    #[serde(default = "govc::default_timeout", deserialize_with = "lenient::whole")]
    timeout: u64,
}

/// One host in the facts.
#[derive(Debug, Serialize)]
struct HostFacts {
    id: String,
    path: String,
    cluster: String,
    vms: Vec<String>,
}

/// One VM in the facts.
#[derive(Debug, Serialize)]
struct VmFacts {
    host: String,
    path: String,
    power_state: String,
}

/// Everything gathered.
#[derive(Debug, Serialize)]
struct Facts {
    about: BTreeMap<String, String>,
    hosts: BTreeMap<String, HostFacts>,
    vms: BTreeMap<String, VmFacts>,
    running: Vec<String>,
}

/// `govc_facts`: read hosts, VMs per host and power states.
pub(crate) struct GovcFacts;

#[async_trait]
impl Module for GovcFacts {
    fn names(&self) -> &'static [&'static str] {
        &["govc_facts", "rpatch.govc_facts"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<GovcFactsArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: GovcFactsArgs = args::parse(args)?;
        for host in &args.hosts {
            check_word("host", host)?;
        }
        let govc = Govc::from_vars(ctx, Duration::from_secs(args.timeout.max(1)))?;
        let about = parse::about(&govc.ok(ctx, &["about"]).await?);
        let inventory = govc.hosts(ctx).await?;
        let chosen = if args.hosts.is_empty() {
            inventory.hosts.clone()
        } else {
            args.hosts
                .iter()
                .map(|name| inventory.find(name).cloned().ok_or_else(|| not_found(name, &inventory)))
                .collect::<Result<_, _>>()?
        };
        let mut facts = Facts { about, hosts: BTreeMap::new(), vms: BTreeMap::new(), running: Vec::new() };
        for host in chosen {
            let paths = parse::lines(
                &govc.ok(ctx, &["find", ".", "-type", "m", "-runtime.host", &host.moref()]).await?,
            );
            let mut names = Vec::new();
            for path in paths {
                let name = parse::base_name(&path).to_string();
                let info = parse::vm_info(&govc.ok(ctx, &["vm.info", "-json", &name]).await?)
                    .map_err(ModuleError::Failed)?;
                let power_state = info.map(|i| i.power_state).unwrap_or_default();
                if power_state == "poweredOn" {
                    facts.running.push(name.clone());
                }
                facts.vms.insert(name.clone(), VmFacts { host: host.name.clone(), path, power_state });
                names.push(name);
            }
            facts.hosts.insert(
                host.name.clone(),
                HostFacts { id: host.id, path: host.path, cluster: host.cluster, vms: names },
            );
        }
        Ok(result(&facts))
    }
}

fn result(facts: &Facts) -> ModuleResult {
    let json = serde_json::to_value(facts).unwrap_or(serde_json::Value::Null);
    let value = vars::from_json(&json);
    let mut gathered = Vars::new();
    gathered.insert("vsphere".into(), value.clone());
    let mut result = ModuleResult::ok().with_msg(format!(
        "{} host(s), {} VM(s), {} running",
        facts.hosts.len(),
        facts.vms.len(),
        facts.running.len()
    ));
    result.data.insert("vsphere".into(), value);
    result.facts = Some(gathered);
    result
}
