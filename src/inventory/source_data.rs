//! What a dynamic source produces: groups (with hosts, vars and children) and each host's
//! variables — Ansible's inventory-script JSON, parsed. Scripts, discovery plugins and the
//! inventory cache all exchange this one form, and [`SourceData::apply`] adds it to an
//! inventory the way Ansible's `script` plugin does.

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model::Inventory;
use super::trust::{from_marked_json, Untrusted};

/// A group as a dynamic source reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupData {
    /// Hosts placed directly in the group, in order.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Group variables.
    #[serde(default)]
    pub vars: Map<String, Value>,
    /// Child groups, in order.
    #[serde(default)]
    pub children: Vec<String>,
}

/// Everything one dynamic source reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceData {
    /// Groups in the order the source listed them.
    pub groups: IndexMap<String, GroupData>,
    /// Host variables (`_meta.hostvars`, or one `--host` call per host).
    pub hostvars: IndexMap<String, Map<String, Value>>,
    /// What the source's commands wrote to stderr while succeeding, each as "command: text"
    /// (shown as warnings, as Ansible shows it; not cached).
    #[serde(skip)]
    pub stderr: Vec<String>,
}

/// The result of parsing a `--list` document.
#[derive(Debug)]
pub struct Listed {
    /// Groups and, when `_meta.hostvars` was present, host variables.
    pub data: SourceData,
    /// False when `_meta.hostvars` was absent: variables must come from `--host NAME`.
    pub has_meta: bool,
}

impl SourceData {
    /// Every host listed in some group, each once, in the order first listed.
    pub fn hosts(&self) -> Vec<String> {
        let mut seen = indexmap::IndexSet::new();
        for group in self.groups.values() {
            for host in &group.hosts {
                seen.insert(host.clone());
            }
        }
        seen.into_iter().collect()
    }

    /// Parses `script --list` output as Ansible 2.19's `script` plugin does: a group may be a
    /// bare list of hosts, or a mapping without `hosts`/`vars`/`children` meaning a host of the
    /// group's name with those variables. `Err` is the reason, for the caller to name the script.
    pub fn parse_list(text: &str) -> Result<Listed, String> {
        let document: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
        let Value::Object(top) = document else {
            return Err(format!(
                "expected a JSON object, found {}",
                type_name(&document)
            ));
        };
        let mut data = SourceData::default();
        let mut has_meta = false;
        for (name, value) in top {
            if name == "_meta" {
                let Value::Object(meta) = value else {
                    return Err(format!(
                        "`_meta` is {} instead of an object",
                        type_name(&value)
                    ));
                };
                match meta.get("hostvars") {
                    Some(Value::Object(hostvars)) => {
                        for (host, vars) in hostvars {
                            let Value::Object(vars) = vars else {
                                return Err(format!(
                                    "`_meta.hostvars.{host}` is {} instead of an object",
                                    type_name(vars)
                                ));
                            };
                            data.hostvars.insert(host.clone(), vars.clone());
                        }
                        has_meta = true;
                    }
                    other => {
                        return Err(format!(
                            "`_meta.hostvars` is {} instead of an object",
                            other.map_or("missing", type_name)
                        ))
                    }
                }
                continue;
            }
            let group = parse_group(&name, value)?;
            let entry = data.groups.entry(name).or_default();
            entry.hosts.extend(group.hosts);
            entry.vars.extend(group.vars);
            entry.children.extend(group.children);
        }
        Ok(Listed { data, has_meta })
    }

    /// Parses `script --host NAME` output: a JSON object of variables, or nothing.
    pub fn parse_host(text: &str) -> Result<Map<String, Value>, String> {
        if text.trim().is_empty() {
            return Ok(Map::new());
        }
        match serde_json::from_str(text) {
            Ok(Value::Object(vars)) => Ok(vars),
            Ok(other) => Err(format!(
                "expected a JSON object, found {}",
                type_name(&other)
            )),
            Err(e) => Err(format!("not JSON ({e})")),
        }
    }

    /// The first name that is both a host and a group, other than the legacy shorthand
    /// (a group of one host with its own name).
    pub fn host_and_group(&self) -> Option<String> {
        let hosts = self.hosts();
        hosts.into_iter().find(|host| {
            self.groups
                .get(host)
                .is_some_and(|group| !(group.hosts == [host.clone()] && group.children.is_empty()))
        })
    }

    /// Adds the groups, hosts and variables to `inventory`; `source` becomes the hosts'
    /// `inventory_file`. Only hosts listed in a group are added (as Ansible does).
    pub fn apply(&self, inventory: &mut Inventory, source: &Path) {
        for (name, group) in &self.groups {
            inventory.add_group(name);
            for host in &group.hosts {
                inventory.add_host(host, name, Some(source));
            }
            if !group.vars.is_empty() {
                let vars = to_vars(&group.vars, &mut inventory.untrusted);
                inventory.set_group_vars(name, vars);
            }
            for child in &group.children {
                inventory.add_child(name, child, None);
            }
        }
        for host in self.hosts() {
            if let Some(vars) = self.hostvars.get(&host) {
                let vars = to_vars(vars, &mut inventory.untrusted);
                inventory.set_host_vars(&host, vars);
            }
        }
    }
}

fn parse_group(name: &str, value: Value) -> Result<GroupData, String> {
    let mut map = match value {
        Value::Object(map) => map,
        other => {
            let mut map = Map::new();
            map.insert("hosts".into(), other);
            map
        }
    };
    if !["hosts", "vars", "children"]
        .iter()
        .any(|k| map.contains_key(*k))
    {
        return Ok(GroupData {
            hosts: vec![name.to_string()],
            vars: map,
            children: Vec::new(),
        });
    }
    let hosts = match map.remove("hosts") {
        None => Vec::new(),
        Some(value) => names(&value).ok_or_else(|| {
            format!(
                "`{name}.hosts` is {} instead of a list of host names",
                type_name(&value)
            )
        })?,
    };
    let vars = match map.remove("vars") {
        None => Map::new(),
        Some(Value::Object(vars)) => vars,
        Some(other) => {
            return Err(format!(
                "`{name}.vars` is {} instead of an object",
                type_name(&other)
            ))
        }
    };
    let children = match map.remove("children") {
        None => Vec::new(),
        Some(value) => names(&value).ok_or_else(|| {
            format!(
                "`{name}.children` is {} instead of a list of group names",
                type_name(&value)
            )
        })?,
    };
    Ok(GroupData {
        hosts,
        vars,
        children,
    })
}

/// A list of strings, or `None`.
fn names(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Variables from a source's JSON; `{"__ansible_unsafe": "..."}` (what ansible-inventory
/// `--list` prints for an untrusted string, and Ansible's script plugin reads back as one) is
/// that string, marked untrusted.
fn to_vars(map: &Map<String, Value>, marks: &mut Untrusted) -> crate::vars::Vars {
    map.iter()
        .map(|(k, v)| (k.clone(), from_marked_json(v, marks)))
        .collect()
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bare_list_is_a_group_of_hosts_and_a_bare_mapping_a_host() {
        let listed = SourceData::parse_list(
            r#"{"web": ["w1", "w2"], "solo": {"x": 1}, "_meta": {"hostvars": {}}}"#,
        )
        .unwrap();
        assert!(listed.has_meta);
        assert_eq!(listed.data.groups["web"].hosts, ["w1", "w2"]);
        assert_eq!(listed.data.groups["solo"].hosts, ["solo"]);
        assert_eq!(listed.data.groups["solo"].vars["x"], json!(1));
        assert_eq!(listed.data.host_and_group(), None);
    }

    #[test]
    fn meta_without_hostvars_and_bad_shapes_are_refused() {
        assert!(SourceData::parse_list(r#"{"_meta": {}}"#)
            .unwrap_err()
            .contains("_meta.hostvars"));
        assert!(SourceData::parse_list(r#"{"web": {"hosts": {"w1": {}}}}"#)
            .unwrap_err()
            .contains("web.hosts"));
        assert!(SourceData::parse_list(r#"{"web": {"hosts": ["w1"]"#)
            .unwrap_err()
            .contains("not JSON"));
        assert!(SourceData::parse_list("[1]")
            .unwrap_err()
            .contains("a list"));
    }

    #[test]
    fn a_name_that_is_host_and_group_is_found() {
        let listed = SourceData::parse_list(r#"{"web": ["db"], "db": {"hosts": ["x"]}}"#).unwrap();
        assert_eq!(listed.data.host_and_group().as_deref(), Some("db"));
    }

    #[test]
    fn host_output_is_an_object_or_nothing() {
        assert_eq!(SourceData::parse_host(" \n").unwrap(), Map::new());
        assert_eq!(
            SourceData::parse_host(r#"{"a": 1}"#).unwrap()["a"],
            json!(1)
        );
        assert!(SourceData::parse_host("[]").is_err());
    }
}
