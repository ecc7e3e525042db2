//! Discovery of the hypervisor → guest topology from libvirt: `virsh_facts` on each
//! hypervisor, its domains matched to inventory guests by `rpatch_domain` or name.
//!
//! [`discover`] is the whole job (connect, ask, match) and what `rpatch inventory --discover`
//! calls; [`ask_domains`] is the one hypervisor's part, which the `rpatch.libvirt` inventory
//! plugin (`super::libvirt_plugin`) calls too. [`match_domains`] is the pure
//! half, tested on its own. The result is kept by [`super::discovered`] and laid over the
//! inventory by every later load, so `rpatch plan` and `order: topology` see it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Inventory;
use crate::modules::{self, ModuleContext};
use crate::runner::SshSettings;
use crate::template::{Scope, Templar};
use crate::transport::{Become, BecomeMethod};
use crate::vars::{Value, Vars};

/// Where one inventory guest was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The hypervisor running (or holding) its domain.
    pub hypervisor: String,
    /// The domain's name.
    pub domain: String,
    /// The domain's state (`running`, `shut off`, ...).
    pub state: String,
}

/// What one hypervisor reported: its domains and their states, or why it could not say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    /// The hypervisor's inventory name.
    pub hypervisor: String,
    /// Domain → state.
    pub domains: BTreeMap<String, String>,
    /// Why it could not be asked (unreachable, no virsh, libvirtd down).
    pub error: Option<String>,
}

/// The discovered topology.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// Inventory guest → where it is.
    pub guests: BTreeMap<String, Placement>,
    /// Hypervisor → its domains that no inventory host stands for.
    pub unmatched: BTreeMap<String, Vec<String>>,
    /// Each hypervisor asked, as it answered.
    pub hypervisors: Vec<Found>,
}

/// The hypervisors of an inventory: members of a `hypervisors` group, hosts with
/// `rpatch_libvirt_uri`, and every host a guest names as its `rpatch_hypervisor`.
pub fn hypervisors(inventory: &Inventory) -> Vec<String> {
    let mut names: Vec<String> = inventory
        .group_hosts("hypervisors")
        .iter()
        .map(|h| h.name.clone())
        .collect();
    for host in inventory.hosts() {
        let vars = inventory.host_vars(&host.name);
        if vars.contains_key("rpatch_libvirt_uri") {
            names.push(host.name.clone());
        }
        if let Some(hypervisor) = vars.get("rpatch_hypervisor").and_then(|v| v.as_str()) {
            if inventory.host(hypervisor).is_some() {
                names.push(hypervisor.to_string());
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|name| seen.insert(name.clone()));
    names
}

/// Asks each of `hypervisors` for its domains (with `virsh_facts`, over SSH as a run would
/// connect, escalated with `become`) and matches them to the inventory's guests.
pub async fn discover(
    inventory: &Inventory,
    hypervisors: &[String],
    ssh: &SshSettings,
    become_root: bool,
) -> Topology {
    let templar = Templar::new();
    let asks = hypervisors
        .iter()
        .map(|name| ask(inventory, name, ssh, become_root, &templar));
    let found = futures_util::future::join_all(asks).await;
    match_domains(inventory, found)
}

async fn ask(
    inventory: &Inventory,
    name: &str,
    ssh: &SshSettings,
    become_root: bool,
    templar: &Templar,
) -> Found {
    let asked = ask_domains(name, inventory.host_vars(name), ssh, become_root, templar).await;
    let (domains, error) = match asked {
        Ok(domains) => (
            domains
                .into_iter()
                .map(|(domain, facts)| {
                    let state = facts["state"].as_str().unwrap_or("").to_string();
                    (domain, state)
                })
                .collect(),
            None,
        ),
        Err(error) => (BTreeMap::new(), Some(error)),
    };
    Found {
        hypervisor: name.to_string(),
        domains,
        error,
    }
}

/// Runs `virsh_facts` on the hypervisor `name`, connecting as its variables `vars` say (over
/// SSH as a run would, escalated with `become`): each domain's facts (`state`, `vcpus`,
/// `memory_mb`, ...), or why it could not be asked (unreachable, no virsh, libvirtd down).
pub async fn ask_domains(
    name: &str,
    vars: Vars,
    ssh: &SshSettings,
    become_root: bool,
    templar: &Templar,
) -> Result<BTreeMap<String, serde_json::Value>, String> {
    let data = run_module(
        name,
        vars,
        "virsh_facts",
        &Value::from(()),
        ssh,
        become_root,
        templar,
    )
    .await?;
    let domains = data
        .get("virsh")
        .map(crate::vars::to_json)
        .and_then(|v| v.get("domains").cloned());
    Ok(match domains {
        Some(serde_json::Value::Object(domains)) => domains.into_iter().collect(),
        _ => BTreeMap::new(),
    })
}

/// Runs the read-only `module` with `args` for the host `name` whose variables are `vars`
/// (connecting as they say, escalated with `become`): its result data, or why it failed.
/// What discovery sources (`virsh_facts`, `govc_facts`) share.
pub async fn run_module(
    name: &str,
    vars: Vars,
    module: &str,
    args: &Value,
    ssh: &SshSettings,
    become_root: bool,
    templar: &Templar,
) -> Result<Vars, String> {
    let mut magic = Vars::new();
    magic.insert("inventory_hostname".into(), Value::from(name));
    let scope = Scope::new(vec![std::sync::Arc::new(vars), std::sync::Arc::new(magic)]);
    let transport =
        crate::runner::transport_for(&scope, templar, ssh).map_err(|e| e.to_string())?;
    let Some(facts) = modules::lookup(module) else {
        return Err(format!("{module} is not a module of this rpatch"));
    };
    let ctx = ModuleContext {
        host: name,
        transport: transport.as_ref(),
        escalation: become_root.then(|| Become {
            user: "root".into(),
            method: BecomeMethod::Sudo,
            flags: String::new(),
            password: None,
        }),
        ..ModuleContext::local(templar, &scope)
    };
    let result = modules::run(facts, args, &ctx).await;
    transport.close().await;
    if result.failed || result.unreachable {
        return Err(result.msg.unwrap_or_else(|| format!("{module} failed")));
    }
    Ok(result.data)
}

/// Matches every hypervisor's domains to inventory hosts: a host whose `rpatch_domain` names
/// the domain, else the host named like it (never a hypervisor itself).
pub fn match_domains(inventory: &Inventory, found: Vec<Found>) -> Topology {
    let hypervisors: Vec<&str> = found.iter().map(|f| f.hypervisor.as_str()).collect();
    let mut by_domain: BTreeMap<String, String> = BTreeMap::new();
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for host in inventory.hosts() {
        if hypervisors.contains(&host.name.as_str()) {
            continue;
        }
        match inventory
            .host_vars(&host.name)
            .get("rpatch_domain")
            .and_then(|v| v.as_str().map(str::to_string))
        {
            Some(domain) => by_domain.insert(domain, host.name.clone()),
            None => by_name.insert(host.name.clone(), host.name.clone()),
        };
    }
    let mut topology = Topology::default();
    for hypervisor in &found {
        for (domain, state) in &hypervisor.domains {
            let guest = by_domain.get(domain).or_else(|| by_name.get(domain));
            match guest {
                Some(guest) => {
                    topology.guests.insert(
                        guest.clone(),
                        Placement {
                            hypervisor: hypervisor.hypervisor.clone(),
                            domain: domain.clone(),
                            state: state.clone(),
                        },
                    );
                }
                None => topology
                    .unmatched
                    .entry(hypervisor.hypervisor.clone())
                    .or_default()
                    .push(domain.clone()),
            }
        }
    }
    topology.hypervisors = found;
    topology
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::test_support::load_text;

    #[test]
    fn domains_match_guests_by_rpatch_domain_first_then_by_name() {
        let inventory = load_text(
            "hosts.yml",
            "all:\n  hosts:\n    kvm1:\n      rpatch_libvirt_uri: qemu:///x\n    kvm2:\n    \
             web.example.com:\n      rpatch_domain: web01\n    db01:\n  children:\n    \
             hypervisors:\n      hosts:\n        kvm2:\n",
        );
        assert_eq!(hypervisors(&inventory), ["kvm2", "kvm1"]);
        let found = vec![
            Found {
                hypervisor: "kvm1".into(),
                domains: [
                    ("web01".into(), "running".into()),
                    ("stray".into(), "shut off".into()),
                ]
                .into_iter()
                .collect(),
                error: None,
            },
            Found {
                hypervisor: "kvm2".into(),
                domains: [("db01".into(), "running".into())].into_iter().collect(),
                error: None,
            },
        ];
        let topology = match_domains(&inventory, found);
        assert_eq!(
            topology.guests["web.example.com"],
            Placement {
                hypervisor: "kvm1".into(),
                domain: "web01".into(),
                state: "running".into()
            }
        );
        assert_eq!(topology.guests["db01"].hypervisor, "kvm2");
        assert_eq!(topology.unmatched["kvm1"], ["stray"]);
    }
}
