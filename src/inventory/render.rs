//! `ansible-inventory`-style views of an inventory: `--list` JSON, `--host` JSON and `--graph`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::vars;

use super::model::{Group, Inventory, ALL};
use super::trust::to_marked_json;

/// The `_meta.profile` ansible-inventory 2.19 writes: the JSON dialect of the document.
const LIST_PROFILE: &str = "inventory_legacy";

/// Variables Ansible computes itself and leaves out of `ansible-inventory` output.
const INTERNAL_VARS: [&str; 18] = [
    "ansible_diff_mode",
    "ansible_config_file",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_playbook_python",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "omit",
];

impl Inventory {
    /// The `ansible-inventory --list` document: each non-empty group with its direct `hosts`
    /// and `children`, and `_meta.hostvars` with every host's merged variables. Keys are
    /// sorted, as `ansible-inventory` prints them.
    pub fn to_list_json(&self) -> Value {
        self.list_json_limited(None)
    }

    /// [`Inventory::to_list_json`] of only the hosts in `only` (a `--limit`'s selection), as
    /// `ansible-inventory --list --limit`: groups keep their children, list only those hosts,
    /// and are left out when that leaves them empty.
    pub fn list_json_limited(&self, only: Option<&[String]>) -> Value {
        let only = HostFilter::new(only);
        let mut out = Map::new();
        let mut seen = HashSet::new();
        if let Some(all) = self.groups.get(ALL) {
            self.list_group(all, &only, &mut out, &mut seen);
        }
        let mut hostvars = Map::new();
        for host in self.hosts.keys().filter(|host| only.keeps(host)) {
            if let Some(Value::Object(vars)) = self.vars_json(host, true) {
                if !vars.is_empty() {
                    hostvars.insert(host.clone(), Value::Object(vars));
                }
            }
        }
        let mut meta = Map::new();
        meta.insert("hostvars".into(), Value::Object(hostvars));
        meta.insert("profile".into(), Value::from(LIST_PROFILE));
        out.insert("_meta".into(), Value::Object(meta));
        sort_keys(Value::Object(out))
    }

    fn list_group<'a>(
        &'a self,
        group: &'a Group,
        only: &HostFilter<'_>,
        out: &mut Map<String, Value>,
        seen: &mut HashSet<&'a str>,
    ) {
        let mut entry = Map::new();
        let hosts: Vec<Value> = group
            .hosts
            .iter()
            .filter(|h| only.keeps(h))
            .map(|h| Value::from(h.as_str()))
            .collect();
        if group.name != ALL && !hosts.is_empty() {
            entry.insert("hosts".into(), Value::Array(hosts));
        }
        if !group.children.is_empty() {
            entry.insert("children".into(), Value::from(group.children.clone()));
        }
        if !entry.is_empty() {
            out.insert(group.name.clone(), Value::Object(entry));
        }
        for child in &group.children {
            if let Some(child) = self.groups.get(child) {
                if seen.insert(child.name.as_str()) {
                    self.list_group(child, only, out, seen);
                }
            }
        }
    }

    /// The `ansible-inventory --host NAME` document: the host's merged variables without
    /// Ansible's internal ones, keys sorted. `None` for a host not in the inventory.
    pub fn host_json(&self, name: &str) -> Option<Value> {
        self.vars_json(name, false)
    }

    /// A host's variables for output; `marked` prints strings `compose` made as
    /// `{"__ansible_unsafe": ...}`, as ansible-inventory's `--list` does (not its `--host`).
    fn vars_json(&self, name: &str, marked: bool) -> Option<Value> {
        self.hosts.get(name)?;
        let vars: Map<String, Value> = self
            .host_vars(name)
            .iter()
            .filter(|(key, _)| !INTERNAL_VARS.contains(&key.as_str()))
            .map(|(key, value)| {
                let json = if marked {
                    to_marked_json(value, &self.untrusted)
                } else {
                    vars::to_json(value)
                };
                (key.clone(), json)
            })
            .collect();
        Some(sort_keys(Value::Object(vars)))
    }

    /// The `ansible-inventory --graph [GROUP]` text: `@group:` lines with child groups and
    /// then hosts (both in inventory order, as ansible-inventory 2.19 prints them) indented below. `None` for an unknown group.
    pub fn graph(&self, group: Option<&str>) -> Option<String> {
        self.graph_limited(group, None)
    }

    /// [`Inventory::graph`] showing only the hosts in `only` (a `--limit`'s selection); the
    /// group tree stays whole, so where a host sits is still visible.
    pub fn graph_limited(&self, group: Option<&str>, only: Option<&[String]>) -> Option<String> {
        let root = self.groups.get(group.unwrap_or(ALL))?;
        let mut lines = Vec::new();
        self.graph_group(root, &HostFilter::new(only), 0, &mut lines);
        Some(lines.join("\n"))
    }

    fn graph_group(
        &self,
        group: &Group,
        only: &HostFilter<'_>,
        depth: usize,
        lines: &mut Vec<String>,
    ) {
        lines.push(graph_line(&format!("@{}:", group.name), depth));
        let children = group.children.iter().filter_map(|c| self.groups.get(c));
        for child in children {
            self.graph_group(child, only, depth + 1, lines);
        }
        if group.name != ALL {
            for host in group.hosts.iter().filter(|h| only.keeps(h)) {
                lines.push(graph_line(host, depth + 1));
            }
        }
    }
}

/// Which hosts a view shows: all, or a `--limit`'s selection.
struct HostFilter<'a>(Option<HashSet<&'a str>>);

impl<'a> HostFilter<'a> {
    fn new(only: Option<&'a [String]>) -> Self {
        Self(only.map(|hosts| hosts.iter().map(String::as_str).collect()))
    }

    fn keeps(&self, host: &str) -> bool {
        self.0.as_ref().is_none_or(|only| only.contains(host))
    }
}

fn graph_line(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_string()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

/// Sorts object keys recursively (Ansible dumps with `sort_keys=True`); lists keep their order.
fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sort_keys(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use crate::inventory::test_support::load_text;
    use serde_json::json;

    const INVENTORY: &str = "\
lonely
[web]
web2 port=80
web1
[db]
db1
[prod:children]
web
db
[prod:vars]
env=prod
[empty]
";

    #[test]
    fn list_json_matches_ansible_inventory_list() {
        let inventory = load_text("hosts", INVENTORY);
        assert_eq!(
            inventory.to_list_json(),
            json!({
                "_meta": {"hostvars": {
                    "db1": {"env": "prod"},
                    "web1": {"env": "prod"},
                    "web2": {"env": "prod", "port": 80}
                }, "profile": "inventory_legacy"},
                "all": {"children": ["ungrouped", "prod", "empty"]},
                "db": {"hosts": ["db1"]},
                "prod": {"children": ["web", "db"]},
                "ungrouped": {"hosts": ["lonely"]},
                "web": {"hosts": ["web2", "web1"]}
            })
        );
        let text = serde_json::to_string(&inventory.to_list_json()).unwrap();
        assert!(text.starts_with(r#"{"_meta":"#), "{text}");
    }

    #[test]
    fn host_json_leaves_out_internal_vars() {
        let inventory = load_text("hosts", INVENTORY);
        assert_eq!(
            inventory.host_json("web2"),
            Some(json!({"env": "prod", "port": 80}))
        );
        assert_eq!(inventory.host_json("lonely"), Some(json!({})));
        assert_eq!(inventory.host_json("nobody"), None);
    }

    #[test]
    fn graph_draws_groups_then_hosts_in_inventory_order_like_ansible_2_19() {
        let inventory = load_text("hosts", INVENTORY);
        let expected = "\
@all:
  |--@ungrouped:
  |  |--lonely
  |--@prod:
  |  |--@web:
  |  |  |--web2
  |  |  |--web1
  |  |--@db:
  |  |  |--db1
  |--@empty:";
        assert_eq!(inventory.graph(None).as_deref(), Some(expected));
        assert_eq!(
            inventory.graph(Some("web")).as_deref(),
            Some("@web:\n  |--web2\n  |--web1")
        );
        assert_eq!(inventory.graph(Some("nosuch")), None);
    }

    #[test]
    fn limited_views_show_only_the_selected_hosts() {
        let inventory = load_text("hosts", INVENTORY);
        let only = inventory.select_limit("web1:lonely").unwrap();
        assert_eq!(
            inventory.list_json_limited(Some(&only)),
            json!({
                "_meta": {"hostvars": {"web1": {"env": "prod"}}, "profile": "inventory_legacy"},
                "all": {"children": ["ungrouped", "prod", "empty"]},
                "prod": {"children": ["web", "db"]},
                "ungrouped": {"hosts": ["lonely"]},
                "web": {"hosts": ["web1"]}
            })
        );
        assert_eq!(
            inventory
                .graph_limited(Some("prod"), Some(&only))
                .as_deref(),
            Some("@prod:\n  |--@web:\n  |  |--web1\n  |--@db:")
        );
    }
}
