//! `plugin: rpatch.libvirt`: the hypervisors listed in the file and one host per libvirt domain
//! they hold, found with `virsh_facts` over SSH (the same call as `rpatch inventory
//! --discover`, [`super::discover::ask_domains`]).
//!
//! ```yaml
//! plugin: rpatch.libvirt
//! hypervisors:               # connection variables as in any inventory
//!   - name: kvm1
//!     ansible_host: 192.0.2.10
//!     ansible_user: admin
//! become: true               # run virsh with sudo
//! cache: true
//! keyed_groups: [{key: rpatch_hypervisor, prefix: on}]
//! ```
//!
//! Hypervisors go in group `hypervisors` with their variables; each domain is a host in
//! `guests` and `libvirt_<state>` (`libvirt_running`, `libvirt_shut_off`, ...) with
//! `rpatch_hypervisor`, `rpatch_domain` and `libvirt_state`/`vcpus`/`memory_mb`/
//! `max_memory_mb`/`autostart`/`persistent`. A domain defined on several hypervisors (left
//! behind by a migration) belongs to the one running it, else to the first listed. A
//! hypervisor that cannot be asked fails the whole source, naming the file and the hypervisor.
//! Passwords are refused in hypervisor entries: the source's hosts may be cached in clear.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::dynamic_error::DynamicError;
use super::error::InventoryError;
use super::plugin::{Discovery, PluginConfig};
use super::source_data::SourceData;
use crate::runner::SshSettings;
use crate::template::Templar;

/// The `rpatch.libvirt` plugin.
pub struct LibvirtPlugin;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    hypervisors: Vec<Hypervisor>,
    #[serde(default, rename = "become")]
    become_root: bool,
}

#[derive(Deserialize)]
struct Hypervisor {
    name: String,
    /// Its connection (and any other) variables.
    #[serde(flatten)]
    vars: Map<String, Value>,
}

/// The domain facts copied into each guest's variables, as `libvirt_<fact>`.
const FACTS: [&str; 6] = [
    "state",
    "vcpus",
    "memory_mb",
    "max_memory_mb",
    "autostart",
    "persistent",
];

/// What the hypervisors answered: per hypervisor (in file order), domain → facts.
type Answers = Vec<(String, BTreeMap<String, Value>)>;

impl LibvirtPlugin {
    fn options(config: &PluginConfig, own: &Map<String, Value>) -> Result<Options, InventoryError> {
        let options: Options = config.typed(&Value::Object(own.clone()))?;
        if options.hypervisors.is_empty() {
            return Err(DynamicError::BadConfig {
                path: config.path.clone(),
                message: "`hypervisors` lists no hypervisor".into(),
            }
            .into());
        }
        for h in &options.hypervisors {
            if let Some(key) = h.vars.keys().find(|k| k.contains("pass")) {
                return Err(DynamicError::BadConfig {
                    path: config.path.clone(),
                    message: format!(
                        "hypervisor `{}`: `{key}` does not belong in a discovery source, whose \
                         hosts may be cached in clear; set it in host_vars/ or group_vars/ \
                         (vaulted) instead",
                        h.name
                    ),
                }
                .into());
            }
        }
        Ok(options)
    }

    /// Asks every hypervisor at once, each bounded by `timeout`.
    fn ask_all(options: &Options, timeout: Duration) -> Result<Answers, (String, String)> {
        let ssh = SshSettings::default();
        let templar = Templar::new();
        let asks = options.hypervisors.iter().map(|h| {
            let vars: crate::vars::Vars = h
                .vars
                .iter()
                .map(|(k, v)| (k.clone(), crate::vars::from_json(v)))
                .collect();
            let ask =
                super::discover::ask_domains(&h.name, vars, &ssh, options.become_root, &templar);
            async move {
                match tokio::time::timeout(timeout, ask).await {
                    Ok(Ok(domains)) => Ok((h.name.clone(), domains)),
                    Ok(Err(message)) => Err((h.name.clone(), message)),
                    Err(_) => Err((
                        h.name.clone(),
                        format!("no answer within {} s", timeout.as_secs_f64()),
                    )),
                }
            }
        });
        let all = async { futures_util::future::join_all(asks).await };
        let answers = super::plugin::block_on(all).map_err(|e| ("(all)".to_string(), e))?;
        answers.into_iter().collect()
    }
}

/// The source data for what the hypervisors answered (pure; tested on its own).
fn source_data(options: &Options, answers: Answers) -> SourceData {
    let mut data = SourceData::default();
    let hypervisors = data.groups.entry("hypervisors".into()).or_default();
    for h in &options.hypervisors {
        hypervisors.hosts.push(h.name.clone());
    }
    for h in &options.hypervisors {
        data.hostvars.insert(h.name.clone(), h.vars.clone());
    }
    // Domain → (hypervisor, facts), the running copy winning over a defined one.
    let mut placed: indexmap::IndexMap<String, (String, Value)> = indexmap::IndexMap::new();
    for (hypervisor, domains) in answers {
        for (domain, facts) in domains {
            let running = facts["state"] == "running";
            let keep = placed
                .get(&domain)
                .is_some_and(|(_, old)| old["state"] == "running" || !running);
            if !keep {
                placed.insert(domain, (hypervisor.clone(), facts));
            }
        }
    }
    data.groups.entry("guests".into()).or_default();
    for (domain, (hypervisor, facts)) in placed {
        let mut vars = Map::new();
        vars.insert("rpatch_hypervisor".into(), Value::from(hypervisor));
        vars.insert("rpatch_domain".into(), Value::from(domain.clone()));
        for fact in FACTS {
            if let Some(value) = facts.get(fact).filter(|v| !v.is_null()) {
                vars.insert(format!("libvirt_{fact}"), value.clone());
            }
        }
        let state = facts["state"].as_str().unwrap_or("unknown");
        let state_group = format!("libvirt_{}", state_name(state));
        data.groups
            .entry("guests".into())
            .or_default()
            .hosts
            .push(domain.clone());
        data.groups
            .entry(state_group)
            .or_default()
            .hosts
            .push(domain.clone());
        data.hostvars.insert(domain, vars);
    }
    data
}

/// A state as a group-name part: `shut off` → `shut_off`.
fn state_name(state: &str) -> String {
    state
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

impl Discovery for LibvirtPlugin {
    fn names(&self) -> &'static [&'static str] {
        &["rpatch.libvirt"]
    }

    fn options(&self) -> &'static [&'static str] {
        &["hypervisors", "become"]
    }

    fn cache_inputs(
        &self,
        config: &PluginConfig,
        own: &Map<String, Value>,
    ) -> Result<String, InventoryError> {
        // Everything that decides the answer is in the config text, already in the key.
        Self::options(config, own).map(|_| String::new())
    }

    fn discover(
        &self,
        config: &PluginConfig,
        own: &Map<String, Value>,
        timeout: Duration,
    ) -> Result<SourceData, InventoryError> {
        let options = Self::options(config, own)?;
        let answers = Self::ask_all(&options, timeout).map_err(|(hypervisor, message)| {
            DynamicError::Hypervisor {
                path: config.path.clone(),
                hypervisor,
                message,
            }
        })?;
        Ok(source_data(&options, answers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_a_libvirt_source_is_refused_as_it_could_be_cached() {
        let text = "plugin: rpatch.libvirt\nhypervisors:\n  - name: kvm1\n    \
                    ansible_become_password: x\n";
        let config = crate::inventory::plugin::read(std::path::Path::new("lv.yml"), text)
            .unwrap()
            .unwrap();
        let own: Map<String, Value> = config
            .options
            .iter()
            .filter(|(k, _)| k.as_str() == "hypervisors")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let error = LibvirtPlugin::options(&config, &own)
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("lv.yml") && error.contains("ansible_become_password"),
            "{error}"
        );
    }

    #[test]
    fn libvirt_domains_become_guests_of_their_running_hypervisor_in_state_groups() {
        let options: Options = serde_json::from_value(serde_json::json!({
            "hypervisors": [
                {"name": "kvm1", "ansible_host": "192.0.2.1"},
                {"name": "kvm2"},
            ],
        }))
        .unwrap();
        let facts = |state: &str| serde_json::json!({"state": state, "vcpus": 2, "memory_mb": 512});
        let answers = vec![
            (
                "kvm1".to_string(),
                [
                    ("web01".into(), facts("shut off")),
                    ("db01".into(), facts("running")),
                ]
                .into_iter()
                .collect(),
            ),
            (
                "kvm2".to_string(),
                [("web01".into(), facts("running"))].into_iter().collect(),
            ),
        ];
        let data = source_data(&options, answers);
        assert_eq!(data.groups["hypervisors"].hosts, ["kvm1", "kvm2"]);
        assert_eq!(data.groups["guests"].hosts, ["db01", "web01"]);
        assert_eq!(data.groups["libvirt_running"].hosts, ["db01", "web01"]);
        assert!(!data.groups.contains_key("libvirt_shut_off"));
        assert_eq!(data.hostvars["web01"]["rpatch_hypervisor"], "kvm2");
        assert_eq!(data.hostvars["web01"]["rpatch_domain"], "web01");
        assert_eq!(data.hostvars["web01"]["libvirt_vcpus"], 2);
        assert_eq!(data.hostvars["kvm1"]["ansible_host"], "192.0.2.1");
        assert_eq!(state_name("shut off"), "shut_off");
    }
}
