//! The inventory's data: hosts, groups, where their variables come from, and the structural
//! rules (every group under `all`, hosts without a group in `ungrouped`, no cycles).

use std::collections::HashMap;
use std::path::Path;

use indexmap::{IndexMap, IndexSet};

use crate::diagnostic::Location;
use crate::vars::{Value, Vars};

use super::error::InventoryError;
use super::vars_dirs::VarsDirs;

/// The group every host belongs to.
pub const ALL: &str = "all";
/// The group of hosts that belong to no other group.
pub const UNGROUPED: &str = "ungrouped";
/// Names that, when absent from the inventory, mean the implicit local host.
pub const LOCALHOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A host, with the variables written next to it in inventory files.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// The inventory name (`inventory_hostname`).
    pub name: String,
    /// Variables from inventory files (host lines, YAML `hosts:` entries), later files winning.
    pub vars: Vars,
    /// Groups the host was placed in directly, in the order it was placed in them.
    pub groups: Vec<String>,
    /// Every group the host belongs to, directly or through a child group, including `all`.
    pub(crate) all_groups: IndexSet<String>,
    /// True for the implicit `localhost`, which is in no group.
    pub implicit: bool,
}

/// A group, with the variables written for it in inventory files.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group name.
    pub name: String,
    /// Variables from inventory files (`[g:vars]`, YAML `vars:`).
    pub vars: Vars,
    /// Hosts placed directly in this group, in inventory order.
    pub hosts: Vec<String>,
    /// Child groups, in the order they were declared.
    pub children: Vec<String>,
    /// Parent groups.
    pub parents: Vec<String>,
    /// Distance from `all` along the longest parent chain (`all` is 0).
    pub depth: usize,
    /// `ansible_group_priority` from inventory-file vars (default 1).
    pub priority: i64,
}

impl Group {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            vars: Vars::new(),
            hosts: Vec::new(),
            children: Vec::new(),
            parents: Vec::new(),
            depth: 0,
            priority: 1,
        }
    }
}

/// Hosts, groups and their variables, loaded from one or more inventory sources.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub(crate) hosts: IndexMap<String, Host>,
    pub(crate) groups: IndexMap<String, Group>,
    /// `group_vars/`, `host_vars/` found beside the inventory sources, in source order.
    pub(crate) inventory_vars: Vec<VarsDirs>,
    /// `group_vars/`, `host_vars/` beside the playbook, ranked above the inventory's own.
    pub(crate) playbook_vars: Vec<VarsDirs>,
    /// Implicit local hosts, one per name in [`LOCALHOST_NAMES`] that the inventory lacks.
    pub(crate) implicit: IndexMap<String, Host>,
    /// Where each parent → child edge was declared, for cycle errors.
    pub(crate) edges: HashMap<(String, String), Location>,
}

impl Default for Inventory {
    fn default() -> Self {
        Self::new()
    }
}

impl Inventory {
    /// An inventory with only the `all` and `ungrouped` groups.
    pub fn new() -> Self {
        let mut inventory = Self {
            hosts: IndexMap::new(),
            groups: IndexMap::new(),
            inventory_vars: Vec::new(),
            playbook_vars: Vec::new(),
            implicit: IndexMap::new(),
            edges: HashMap::new(),
        };
        inventory.add_group(ALL);
        inventory.add_group(UNGROUPED);
        inventory.add_child(ALL, UNGROUPED, None);
        inventory
    }

    /// Creates `name` unless it exists.
    pub(crate) fn add_group(&mut self, name: &str) {
        if !self.groups.contains_key(name) {
            self.groups.insert(name.to_string(), Group::new(name));
        }
    }

    /// Creates `host` unless it exists (remembering the file that first named it) and places it
    /// in `group`.
    pub(crate) fn add_host(&mut self, host: &str, group: &str, source: Option<&Path>) {
        self.add_group(group);
        let entry = self.hosts.entry(host.to_string()).or_insert_with(|| {
            let mut vars = Vars::new();
            if let Some(path) = source {
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                vars.insert("inventory_file".into(), path_value(path));
                vars.insert("inventory_dir".into(), path_value(&dir));
            }
            Host {
                name: host.to_string(),
                vars,
                groups: Vec::new(),
                all_groups: IndexSet::new(),
                implicit: false,
            }
        });
        if !entry.groups.iter().any(|g| g == group) {
            entry.groups.push(group.to_string());
        }
        if let Some(group) = self.groups.get_mut(group) {
            if !group.hosts.iter().any(|h| h == host) {
                group.hosts.push(host.to_string());
            }
        }
    }

    /// Sets inventory-file variables on a host that exists.
    pub(crate) fn set_host_vars(&mut self, host: &str, vars: Vars) {
        if let Some(entry) = self.hosts.get_mut(host) {
            entry.vars.extend(vars);
        }
    }

    /// Sets inventory-file variables on a group, creating it.
    pub(crate) fn set_group_vars(&mut self, group: &str, vars: Vars) {
        self.add_group(group);
        if let Some(entry) = self.groups.get_mut(group) {
            entry.vars.extend(vars);
        }
    }

    /// Makes `child` a child group of `parent` (creating both); `at` is where this is declared.
    pub(crate) fn add_child(&mut self, parent: &str, child: &str, at: Option<Location>) {
        self.add_group(parent);
        self.add_group(child);
        if let Some(group) = self.groups.get_mut(parent) {
            if !group.children.iter().any(|c| c == child) {
                group.children.push(child.to_string());
            }
        }
        if let Some(group) = self.groups.get_mut(child) {
            if !group.parents.iter().any(|p| p == parent) {
                group.parents.push(parent.to_string());
            }
        }
        if let Some(at) = at {
            self.edges
                .entry((parent.to_string(), child.to_string()))
                .or_insert(at);
        }
    }

    /// Applies the structural rules once every source is loaded: top-level groups become
    /// children of `all`, hosts with no other group go to `ungrouped`, cycles are rejected, and
    /// depths, priorities and each host's full group set are computed.
    pub(crate) fn finalize(&mut self) -> Result<(), InventoryError> {
        let orphans: Vec<String> = self
            .groups
            .values()
            .filter(|g| g.name != ALL && g.parents.is_empty())
            .map(|g| g.name.clone())
            .collect();
        for orphan in orphans {
            self.add_child(ALL, &orphan, None);
        }
        self.check_cycles()?;
        self.fill_ungrouped();
        self.compute_depths();
        for group in self.groups.values_mut() {
            group.priority = group
                .vars
                .get("ansible_group_priority")
                .and_then(as_int)
                .unwrap_or(1);
        }
        let names: Vec<String> = self.hosts.keys().cloned().collect();
        for name in names {
            let closure = self.ancestors_of_host(&name);
            if let Some(host) = self.hosts.get_mut(&name) {
                host.all_groups = closure;
            }
        }
        self.implicit = LOCALHOST_NAMES
            .iter()
            .filter(|name| !self.hosts.contains_key(**name))
            .map(|name| (name.to_string(), implicit_localhost(name)))
            .collect();
        Ok(())
    }

    fn fill_ungrouped(&mut self) {
        let lonely: Vec<String> = self
            .hosts
            .values()
            .filter(|h| h.groups.iter().all(|g| g == ALL || g == UNGROUPED))
            .map(|h| h.name.clone())
            .collect();
        for host in self.hosts.values_mut() {
            let keep = lonely.contains(&host.name);
            host.groups.retain(|g| g != UNGROUPED || keep);
            if keep && !host.groups.iter().any(|g| g == UNGROUPED) {
                host.groups.push(UNGROUPED.to_string());
            }
        }
        if let Some(ungrouped) = self.groups.get_mut(UNGROUPED) {
            ungrouped.hosts = lonely;
        }
    }

    fn check_cycles(&self) -> Result<(), InventoryError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Visiting,
            Done,
        }
        fn visit(
            inventory: &Inventory,
            name: &str,
            marks: &mut HashMap<String, Mark>,
            path: &mut Vec<String>,
        ) -> Result<(), InventoryError> {
            match marks.get(name) {
                Some(Mark::Done) => return Ok(()),
                Some(Mark::Visiting) => {
                    let start = path.iter().position(|g| g == name).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(name.to_string());
                    let closing = (path.last().cloned().unwrap_or_default(), name.to_string());
                    return Err(InventoryError::Cycle {
                        at: inventory.edges.get(&closing).cloned(),
                        cycle,
                    });
                }
                None => {}
            }
            marks.insert(name.to_string(), Mark::Visiting);
            path.push(name.to_string());
            if let Some(group) = inventory.groups.get(name) {
                for child in &group.children {
                    visit(inventory, child, marks, path)?;
                }
            }
            path.pop();
            marks.insert(name.to_string(), Mark::Done);
            Ok(())
        }
        let mut marks = HashMap::new();
        for name in self.groups.keys() {
            visit(self, name, &mut marks, &mut Vec::new())?;
        }
        Ok(())
    }

    /// Longest distance from `all`; only called once the graph is known to be acyclic.
    fn compute_depths(&mut self) {
        fn depth(inventory: &Inventory, name: &str, memo: &mut HashMap<String, usize>) -> usize {
            if let Some(known) = memo.get(name) {
                return *known;
            }
            let value = inventory
                .groups
                .get(name)
                .map(|g| {
                    g.parents
                        .iter()
                        .map(|p| depth(inventory, p, memo) + 1)
                        .max()
                        .unwrap_or(0)
                })
                .unwrap_or(0);
            memo.insert(name.to_string(), value);
            value
        }
        let mut memo = HashMap::new();
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in names {
            let value = depth(self, &name, &mut memo);
            if let Some(group) = self.groups.get_mut(&name) {
                group.depth = value;
            }
        }
    }

    /// `all`, then every group the host is in directly or through descendants.
    fn ancestors_of_host(&self, host: &str) -> IndexSet<String> {
        let mut found = IndexSet::new();
        found.insert(ALL.to_string());
        let mut queue: Vec<String> = self
            .hosts
            .get(host)
            .map(|h| h.groups.clone())
            .unwrap_or_default();
        while let Some(name) = queue.pop() {
            if found.insert(name.clone()) {
                if let Some(group) = self.groups.get(&name) {
                    queue.extend(group.parents.iter().cloned());
                }
            }
        }
        found
    }
}

/// The implicit local host Ansible makes up for `localhost` when the inventory lacks it.
fn implicit_localhost(name: &str) -> Host {
    let mut vars = Vars::new();
    vars.insert("ansible_connection".into(), Value::from("local"));
    Host {
        name: name.to_string(),
        vars,
        groups: Vec::new(),
        all_groups: IndexSet::from([ALL.to_string()]),
        implicit: true,
    }
}

fn path_value(path: &Path) -> Value {
    Value::from(path.display().to_string())
}

fn as_int(value: &Value) -> Option<i64> {
    i64::try_from(value.clone())
        .ok()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::render;
    use crate::inventory::test_support::{load_text, load_text_err};
    use crate::inventory::InventoryError;

    #[test]
    fn groups_that_contain_each_other_are_a_cycle_error_at_the_closing_edge() {
        let error = load_text_err(
            "hosts",
            "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n",
        );
        let InventoryError::Cycle { cycle, .. } = &error else {
            panic!("expected a cycle, got {error:?}");
        };
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 4);
        let text = render(&error);
        assert!(text.contains("group cycle: a -> b -> c -> a"), "{text}");
        assert!(text.contains("hosts:6:1"), "{text}");
    }

    #[test]
    fn a_yaml_group_listing_itself_as_child_is_a_cycle() {
        let error = load_text_err(
            "inv.yml",
            "all:\n  children:\n    web:\n      children:\n        web:\n",
        );
        assert!(matches!(error, InventoryError::Cycle { .. }), "{error:?}");
    }

    #[test]
    fn depth_follows_the_longest_parent_chain() {
        let inventory = load_text(
            "hosts",
            "[leaf]\nh\n[mid:children]\nleaf\n[top:children]\nmid\nleaf\n",
        );
        let depth = |g: &str| inventory.group(g).map(|g| g.depth);
        assert_eq!(depth("all"), Some(0));
        assert_eq!(depth("top"), Some(1));
        assert_eq!(depth("mid"), Some(2));
        assert_eq!(depth("leaf"), Some(3));
        assert_eq!(
            inventory.group("all").map(|g| g.children.clone()),
            Some(vec!["ungrouped".to_string(), "top".to_string()])
        );
    }

    #[test]
    fn hosts_keep_the_order_they_first_appear_in() {
        let inventory = load_text("hosts", "[b]\nz\na\n[a]\nm\nz\n");
        let names: Vec<&str> = inventory.hosts().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["z", "a", "m"]);
        assert_eq!(
            inventory.host("z").map(|h| h.groups.clone()),
            Some(vec!["b".to_string(), "a".to_string()])
        );
    }
}
