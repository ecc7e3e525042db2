//! `plugin: rpatch.govc`: the ESXi hosts of a vCenter and the VMs on each, read with the
//! `govc_facts` module (run here, as `delegate_to: localhost` would) through
//! [`super::discover::run_module`], the call `rpatch.libvirt` makes for `virsh_facts`.
//!
//! ```yaml
//! plugin: rpatch.govc
//! govc_url: https://vcenter.example/sdk
//! govc_username: patcher@vsphere.local
//! govc_password: "{{ lookup('env', 'VC_PASSWORD') }}"   # a template, rendered per call
//! govc_insecure: false
//! govc_datacenter: DC0
//! hosts: [esx01]             # default: every host
//! cache: true
//! ```
//!
//! ESXi hosts go in group `hypervisors` (`vsphere_id`, `vsphere_cluster`, `vsphere_path`);
//! each VM is a host in `guests` and `vsphere_<power state>` (`vsphere_poweredOn`, ...) with
//! `rpatch_hypervisor` (its ESXi host), `rpatch_domain` (its name), `vsphere_power_state` and
//! `vsphere_path`. The connection variables are passed to govc only: they are no host's
//! variables and never cached. A failing govc is an error naming the file; nothing runs.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::dynamic_error::DynamicError;
use super::error::InventoryError;
use super::plugin::{Discovery, PluginConfig};
use super::source_data::SourceData;
use crate::runner::SshSettings;
use crate::template::Templar;

/// The `rpatch.govc` plugin.
pub struct GovcPlugin;

/// The connection options, passed to `govc_facts` as the variables of the same names.
const CONNECTION: [&str; 5] = [
    "govc_url",
    "govc_username",
    "govc_password",
    "govc_insecure",
    "govc_datacenter",
];

#[derive(Deserialize)]
struct Options {
    #[serde(default)]
    hosts: Vec<String>,
}

impl Discovery for GovcPlugin {
    fn names(&self) -> &'static [&'static str] {
        &["rpatch.govc"]
    }

    fn options(&self) -> &'static [&'static str] {
        &[
            "govc_url",
            "govc_username",
            "govc_password",
            "govc_insecure",
            "govc_datacenter",
            "hosts",
        ]
    }

    fn cache_inputs(
        &self,
        _config: &PluginConfig,
        _own: &Map<String, Value>,
    ) -> Result<String, InventoryError> {
        // Everything that decides the answer is in the config text, already in the key.
        Ok(String::new())
    }

    fn discover(
        &self,
        config: &PluginConfig,
        own: &Map<String, Value>,
        timeout: Duration,
    ) -> Result<SourceData, InventoryError> {
        let mut rest = own.clone();
        rest.retain(|k, _| !CONNECTION.contains(&k.as_str()));
        let options: Options = config.typed(&Value::Object(rest))?;
        let mut vars = crate::vars::Vars::new();
        vars.insert(
            "ansible_connection".into(),
            crate::vars::Value::from("local"),
        );
        for key in CONNECTION {
            if let Some(value) = own.get(key) {
                vars.insert(key.into(), crate::vars::from_json(value));
            }
        }
        let args = serde_json::json!({
            "hosts": options.hosts,
            "timeout": timeout.as_secs().max(1),
        });
        let error = |message: String| DynamicError::VCenter {
            path: config.path.clone(),
            message,
        };
        let ask = async {
            let ssh = SshSettings::default();
            let templar = Templar::new();
            super::discover::run_module(
                "localhost",
                vars,
                "govc_facts",
                &crate::vars::from_json(&args),
                &ssh,
                false,
                &templar,
            )
            .await
        };
        let data = super::plugin::block_on(ask)
            .map_err(error)?
            .map_err(error)?;
        let facts = data
            .get("vsphere")
            .map(crate::vars::to_json)
            .unwrap_or(Value::Null);
        Ok(source_data(&facts))
    }
}

/// The source data for `govc_facts`' `vsphere` facts (pure; tested on its own).
fn source_data(facts: &Value) -> SourceData {
    let mut data = SourceData::default();
    data.groups.entry("hypervisors".into()).or_default();
    data.groups.entry("guests".into()).or_default();
    let empty = Map::new();
    let hosts = facts["hosts"].as_object().unwrap_or(&empty);
    for (name, host) in hosts {
        let mut vars = Map::new();
        for (key, fact) in [
            ("vsphere_id", "id"),
            ("vsphere_cluster", "cluster"),
            ("vsphere_path", "path"),
        ] {
            vars.insert(key.into(), host[fact].clone());
        }
        data.groups
            .entry("hypervisors".into())
            .or_default()
            .hosts
            .push(name.clone());
        data.hostvars.insert(name.clone(), vars);
    }
    for (name, vm) in facts["vms"].as_object().unwrap_or(&empty) {
        let state = vm["power_state"].as_str().unwrap_or("unknown");
        let mut vars = Map::new();
        vars.insert("rpatch_hypervisor".into(), vm["host"].clone());
        vars.insert("rpatch_domain".into(), Value::from(name.clone()));
        vars.insert("vsphere_power_state".into(), Value::from(state));
        vars.insert("vsphere_path".into(), vm["path"].clone());
        for group in ["guests".to_string(), format!("vsphere_{state}")] {
            data.groups
                .entry(group)
                .or_default()
                .hosts
                .push(name.clone());
        }
        data.hostvars.insert(name.clone(), vars);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn govc_vms_become_guests_of_their_esxi_host_in_power_state_groups() {
        let facts = serde_json::json!({
            "hosts": {"esx1": {"id": "host-1", "path": "/DC0/host/C0/esx1", "cluster": "/DC0/host/C0", "vms": ["vm1"]}},
            "vms": {"vm1": {"host": "esx1", "path": "/DC0/vm/vm1", "power_state": "poweredOn"}},
        });
        let data = source_data(&facts);
        assert_eq!(data.groups["hypervisors"].hosts, ["esx1"]);
        assert_eq!(data.groups["guests"].hosts, ["vm1"]);
        assert_eq!(data.groups["vsphere_poweredOn"].hosts, ["vm1"]);
        assert_eq!(data.hostvars["vm1"]["rpatch_hypervisor"], "esx1");
        assert_eq!(data.hostvars["vm1"]["rpatch_domain"], "vm1");
        assert_eq!(data.hostvars["esx1"]["vsphere_id"], "host-1");
    }
}
