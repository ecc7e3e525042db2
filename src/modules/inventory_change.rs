//! `add_host` and `group_by`: tasks that change the run's in-memory inventory.
//!
//! The modules only work out the change and return it in Ansible's shape (`add_host:
//! {host_name, groups, host_vars}`; `add_group`, `parent_groups`); the runner applies it
//! (`src/runner/inventory_change.rs`), journals it, and plans later plays with it. `changed` is
//! true, as in Ansible, when the host or one of its group memberships is new, read from the
//! `groups` the task sees. `add_host` runs once per task (on the play's first host, per loop
//! item when looped), as Ansible's host-loop bypass does; the loader marks it `run_once`.

use async_trait::async_trait;
use serde_json::json;

use super::args::ArgError;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::{self, Value, Vars};

/// `add_host`: add a host (and its groups and variables) to the inventory of the run.
pub(crate) struct AddHost;

/// `group_by`: put the host in a group named by `key`.
pub(crate) struct GroupBy;

#[async_trait]
impl Module for AddHost {
    fn names(&self) -> &'static [&'static str] {
        &["add_host", "ansible.builtin.add_host", "ansible.legacy.add_host"]
    }

    /// Every other argument is a host variable; the name is checked once rendered.
    fn validate(&self, _args: &Value, _templated: bool) -> Result<(), ArgError> {
        Ok(())
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args = mapping(args, "add_host")?;
        let text = |key: &str| arg(&args, key).and_then(|v| v.as_str().map(str::to_string));
        let name = text("name")
            .or_else(|| text("hostname"))
            .or_else(|| text("host"))
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| fail("name, host or hostname needs to be provided"))?;
        let (name, port) = split_port(name.trim());
        let given = ["groupname", "groups", "group"]
            .iter()
            .find_map(|key| arg(&args, key).filter(|v| !v.is_none() && !v.is_undefined()));
        let mut groups: Vec<String> = Vec::new();
        if let Some(value) = given {
            let listed: Vec<String> = match value.as_str() {
                Some(text) => text.split(',').map(str::to_string).collect(),
                None => value
                    .try_iter()
                    .map_err(|_| fail("groups must be given as a list or a comma-separated text"))?
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect(),
            };
            for group in listed {
                let group = group.trim().to_string();
                if !group.is_empty() && !groups.contains(&group) {
                    groups.push(group);
                }
            }
        }
        let mut host_vars = Vars::new();
        for (key, value) in &args {
            if !["name", "hostname", "groupname", "groups"].contains(&key.as_str()) {
                host_vars.insert(key.clone(), value.clone());
            }
        }
        if let Some(port) = port {
            host_vars.insert("ansible_ssh_port".into(), Value::from(port));
        }
        let known = known_groups(ctx);
        let member = |group: &str| known.iter().any(|(g, hosts)| g == group && hosts.contains(&name));
        let new_host = !member("all");
        let changed = new_host || groups.iter().any(|g| !member(g));
        let result = if changed {
            ModuleResult::changed()
        } else {
            ModuleResult::ok()
        };
        Ok(result.with_data(&json!({
            "add_host": {
                "host_name": name,
                "groups": groups,
                "host_vars": vars::to_json(&vars::to_value(host_vars)),
            }
        })))
    }
}

#[async_trait]
impl Module for GroupBy {
    fn names(&self) -> &'static [&'static str] {
        &["group_by", "ansible.builtin.group_by", "ansible.legacy.group_by"]
    }

    fn validate(&self, args: &Value, _templated: bool) -> Result<(), ArgError> {
        if let Ok(keys) = args.try_iter() {
            for key in keys {
                let key = key.as_str().map_or_else(|| key.to_string(), str::to_string);
                if key != "key" && key != "parents" {
                    return Err(ArgError::Invalid(format!(
                        "unsupported argument `{key}` (group_by takes `key` and `parents`)"
                    )));
                }
            }
        }
        Ok(())
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args = mapping(args, "group_by")?;
        let key = arg(&args, "key")
            .filter(|v| !v.is_none() && !v.is_undefined())
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .ok_or_else(|| fail("the 'key' param is required when using group_by"))?;
        let parents: Vec<String> = match arg(&args, "parents") {
            None => vec!["all".into()],
            Some(value) => match value.as_str() {
                Some(text) => vec![text.to_string()],
                None => value
                    .try_iter()
                    .map_err(|_| fail("parents must be a group name or a list of them"))?
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect(),
            },
        };
        // As Ansible: spaces in group names become dashes.
        let group = key.replace(' ', "-");
        let parents: Vec<String> = parents.iter().map(|p| p.replace(' ', "-")).collect();
        let known = known_groups(ctx);
        let changed = !known
            .iter()
            .any(|(g, hosts)| *g == group && hosts.iter().any(|h| h == ctx.host));
        let result = if changed {
            ModuleResult::changed()
        } else {
            ModuleResult::ok()
        };
        Ok(result.with_data(&json!({"add_group": group, "parent_groups": parents})))
    }
}

/// The arguments as name → value.
fn mapping(args: &Value, module: &str) -> Result<Vec<(String, Value)>, ModuleError> {
    let keys = args
        .try_iter()
        .ok()
        .filter(|_| args.kind() == minijinja::value::ValueKind::Map)
        .ok_or_else(|| fail(&format!("{module} needs a mapping of arguments")))?;
    Ok(keys
        .map(|key| {
            let value = args.get_item(&key).unwrap_or_default();
            (key.as_str().map_or_else(|| key.to_string(), str::to_string), value)
        })
        .collect())
}

/// The `groups` variable the task sees: each group with its hosts.
fn known_groups(ctx: &ModuleContext<'_>) -> Vec<(String, Vec<String>)> {
    let Ok(groups) = ctx.scope.get_attr("groups") else {
        return Vec::new();
    };
    let Ok(names) = groups.try_iter() else {
        return Vec::new();
    };
    names
        .map(|name| {
            let hosts = groups
                .get_item(&name)
                .ok()
                .and_then(|list| list.try_iter().ok().map(|it| it.map(|h| h.to_string()).collect()))
                .unwrap_or_default();
            (name.as_str().map_or_else(|| name.to_string(), str::to_string), hosts)
        })
        .collect()
}

/// `host:port` (not an IPv6 address) as name and port, as Ansible parses `add_host`'s name.
fn split_port(name: &str) -> (String, Option<u16>) {
    if let Some((host, port)) = name.rsplit_once(':') {
        if !host.contains(':') {
            if let Ok(port) = port.parse::<u16>() {
                return (host.to_string(), Some(port));
            }
        }
    }
    (name.to_string(), None)
}

fn fail(message: &str) -> ModuleError {
    ModuleError::Failed(message.to_string())
}

/// The argument called `key`.
fn arg<'a>(args: &'a [(String, Value)], key: &str) -> Option<&'a Value> {
    args.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_in_the_name_becomes_ansible_ssh_port_and_ipv6_stays_whole() {
        assert_eq!(split_port("db1:2222"), ("db1".into(), Some(2222)));
        assert_eq!(split_port("db1"), ("db1".into(), None));
        assert_eq!(split_port("fe80::1"), ("fe80::1".into(), None));
    }
}
