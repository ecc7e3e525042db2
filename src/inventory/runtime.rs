//! Changes a run makes to its in-memory inventory: `add_host` and `group_by`.
//!
//! Both keep the inventory's invariants: after each change the structural rules run again
//! (a new top-level group becomes a child of `all`, a host placed in a group leaves
//! `ungrouped`, cycles are refused), so `groups`, `group_names`, `hostvars` and later plays'
//! host patterns see the change exactly as if the inventory had said it.

use super::error::InventoryError;
use super::model::{Inventory, ALL};
use crate::vars::Vars;

impl Inventory {
    /// `add_host`: creates `name` (or takes the existing host), places it in `groups` (in
    /// `ungrouped` when none) and sets `vars` on it.
    pub fn add_host_at_run_time(
        &mut self,
        name: &str,
        groups: &[String],
        vars: Vars,
    ) -> Result<(), InventoryError> {
        if groups.is_empty() {
            self.add_host(name, ALL, None);
        }
        for group in groups {
            self.add_host(name, group, None);
        }
        self.set_host_vars(name, vars);
        self.finalize()
    }

    /// `group_by`: places `host` in `group` (created when new, under each of `parents`).
    pub fn add_group_at_run_time(
        &mut self,
        host: &str,
        group: &str,
        parents: &[String],
    ) -> Result<(), InventoryError> {
        for parent in parents {
            self.add_child(parent, group, None);
        }
        self.add_host(host, group, None);
        self.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory() -> Inventory {
        let mut inventory = Inventory::new();
        inventory.add_host("web1", "web", None);
        inventory.finalize().expect("valid");
        inventory
    }

    #[test]
    fn an_added_host_is_in_its_groups_with_its_vars_and_patterns_match_it() {
        let mut inventory = inventory();
        let mut vars = Vars::new();
        vars.insert("ansible_port".into(), crate::vars::Value::from(2222));
        inventory
            .add_host_at_run_time("new1", &["fresh".into(), "web".into()], vars)
            .expect("added");
        assert_eq!(inventory.group_names("new1"), ["fresh", "web"]);
        assert_eq!(inventory.groups_map()["web"], ["web1", "new1"]);
        assert_eq!(
            inventory.host_vars("new1")["ansible_port"],
            crate::vars::Value::from(2222)
        );
        let selected = inventory.select("fresh:&web").expect("pattern");
        assert_eq!(selected.hosts, ["new1"]);
        inventory
            .add_host_at_run_time("lone", &[], Vars::new())
            .expect("added");
        assert_eq!(inventory.groups_map()["ungrouped"], ["lone"]);
    }

    #[test]
    fn group_by_creates_the_group_under_its_parents_and_the_host_leaves_ungrouped() {
        let mut inventory = Inventory::new();
        inventory.add_host("solo", "ungrouped", None);
        inventory.finalize().expect("valid");
        inventory
            .add_group_at_run_time("solo", "os_debian", &["by_os".into()])
            .expect("grouped");
        assert_eq!(inventory.group_names("solo"), ["by_os", "os_debian"]);
        assert!(inventory.groups_map()["ungrouped"].is_empty());
        assert_eq!(inventory.select("by_os").expect("pattern").hosts, ["solo"]);
    }
}
