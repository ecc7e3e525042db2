//! The inventory's data: hosts, groups, where their variables come from, and the structural
//! rules (every group under `all`, hosts without a group in `ungrouped`, no cycles).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use indexmap::{IndexMap, IndexSet};

use crate::diagnostic::Location;
use crate::vars::{Value, Vars};

use super::error::InventoryError;
use super::trust::Untrusted;
use super::vars_dirs::VarsDirs;

/// The group every host belongs to.
pub const ALL: &str = "all";
/// The group of hosts that belong to no other group.
pub const UNGROUPED: &str = "ungrouped";
/// How deeply groups may nest below `all`: far beyond any real inventory, and shallow enough
/// for the recursive walks (`--graph`, variable precedence) to stay well within a thread's stack.
pub const MAX_GROUP_DEPTH: usize = 256;
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
    /// Every (group, host) placement and (parent, child) link, so adding one is a lookup,
    /// not a scan of the group's list (which made large inventories quadratic).
    memberships: HashSet<(String, String)>,
    links: HashSet<(String, String)>,
    /// Things loading noticed but did not fail on (a script's stderr), for the CLI to show.
    pub(crate) warnings: Vec<String>,
    /// Strings `compose` templates made, which `--list` marks as ansible-inventory does.
    pub(crate) untrusted: Untrusted,
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
            memberships: HashSet::new(),
            links: HashSet::new(),
            warnings: Vec::new(),
            untrusted: Untrusted::default(),
        };
        inventory.add_group(ALL);
        inventory.add_group(UNGROUPED);
        inventory.add_child(ALL, UNGROUPED, None);
        inventory
    }

    /// What loading noticed without failing: each inventory script's stderr, as Ansible shows it.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
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
                // Absolute, as Ansible sets them, whatever `-i` was given as.
                let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
                let path = path.as_path();
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
        if self
            .memberships
            .insert((group.to_string(), host.to_string()))
        {
            entry.groups.push(group.to_string());
            if let Some(group) = self.groups.get_mut(group) {
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
        if self.links.insert((parent.to_string(), child.to_string())) {
            if let Some(group) = self.groups.get_mut(parent) {
                group.children.push(child.to_string());
            }
            if let Some(group) = self.groups.get_mut(child) {
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
        if let Some(group) = self.groups.values().find(|g| g.depth > MAX_GROUP_DEPTH) {
            let at = group.parents.iter().find_map(|parent| {
                self.edges
                    .get(&(parent.clone(), group.name.clone()))
                    .cloned()
            });
            return Err(InventoryError::TooDeep {
                group: group.name.clone(),
                depth: group.depth,
                at,
            });
        }
        for group in self.groups.values_mut() {
            // As Ansible's `Group.set_variable`: the priority is taken, not kept as a
            // variable (so finalizing again keeps the priority already taken).
            if let Some(priority) = group.vars.shift_remove("ansible_group_priority") {
                group.priority = as_int(&priority).unwrap_or(1);
            }
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
        let mut lonely = Vec::new();
        for host in self.hosts.values_mut() {
            let keep = host.groups.iter().all(|g| g == ALL || g == UNGROUPED);
            host.groups.retain(|g| g != UNGROUPED || keep);
            if keep && !host.groups.iter().any(|g| g == UNGROUPED) {
                host.groups.push(UNGROUPED.to_string());
            }
            if keep {
                lonely.push(host.name.clone());
            }
        }
        self.memberships.retain(|(group, _)| group != UNGROUPED);
        self.memberships.extend(
            lonely
                .iter()
                .map(|host| (UNGROUPED.to_string(), host.clone())),
        );
        if let Some(ungrouped) = self.groups.get_mut(UNGROUPED) {
            // As Ansible's reconcile: hosts a source put in `ungrouped` keep their place, the
            // others follow in inventory order.
            let lonely_set: HashSet<&String> = lonely.iter().collect();
            let mut order: IndexSet<String> = ungrouped
                .hosts
                .iter()
                .filter(|h| lonely_set.contains(h))
                .cloned()
                .collect();
            order.extend(lonely.iter().cloned());
            ungrouped.hosts = order.into_iter().collect();
        }
    }

    /// Refuses groups that are (indirectly) their own children. Walks with an explicit stack,
    /// so a long chain of `[g:children]` sections cannot overflow the thread's stack.
    fn check_cycles(&self) -> Result<(), InventoryError> {
        let children_of = |name: &str| {
            self.groups
                .get(name)
                .map_or(&[][..], |group| group.children.as_slice())
        };
        let mut done: HashSet<&str> = HashSet::new();
        for root in self.groups.keys() {
            if done.contains(root.as_str()) {
                continue;
            }
            // The groups being visited, each with the index of its next child to look at.
            let mut path: Vec<(&str, usize)> = vec![(root.as_str(), 0)];
            let mut on_path: HashSet<&str> = HashSet::from([root.as_str()]);
            while let Some(top) = path.last_mut() {
                let (name, index) = *top;
                top.1 += 1;
                let Some(child) = children_of(name).get(index) else {
                    done.insert(name);
                    on_path.remove(name);
                    path.pop();
                    continue;
                };
                let child = child.as_str();
                if done.contains(child) {
                    continue;
                }
                if on_path.contains(child) {
                    let start = path.iter().position(|(g, _)| *g == child).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        path[start..].iter().map(|(g, _)| g.to_string()).collect();
                    cycle.push(child.to_string());
                    let closing = (name.to_string(), child.to_string());
                    return Err(InventoryError::Cycle {
                        at: self.edges.get(&closing).cloned(),
                        cycle,
                    });
                }
                on_path.insert(child);
                path.push((child, 0));
            }
        }
        Ok(())
    }

    /// Longest distance from `all`; only called once the graph is known to be acyclic.
    /// Iterative for the same reason as [`Self::check_cycles`].
    fn compute_depths(&mut self) {
        let mut memo: HashMap<String, usize> = HashMap::new();
        for root in self.groups.keys() {
            let mut stack = vec![root.as_str()];
            while let Some(&name) = stack.last() {
                if memo.contains_key(name) {
                    stack.pop();
                    continue;
                }
                let parents = self
                    .groups
                    .get(name)
                    .map_or(&[][..], |group| group.parents.as_slice());
                let before = stack.len();
                stack.extend(
                    parents
                        .iter()
                        .map(String::as_str)
                        .filter(|parent| !memo.contains_key(*parent)),
                );
                if stack.len() == before {
                    let value = parents
                        .iter()
                        .map(|parent| memo.get(parent).copied().unwrap_or(0) + 1)
                        .max()
                        .unwrap_or(0);
                    memo.insert(name.to_string(), value);
                    stack.pop();
                }
            }
        }
        for group in self.groups.values_mut() {
            group.depth = memo.get(&group.name).copied().unwrap_or(0);
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
