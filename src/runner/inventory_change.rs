//! Applying what `add_host` and `group_by` returned to the run's own copy of the inventory,
//! and planning later plays with it.
//!
//! The smallest sound design, given that a run plans (and journals) its batches before it
//! starts: the run keeps its own copy of the inventory; a change is journaled
//! (`inventory_changed`) and then applied, and the variables tasks see (`groups`,
//! `group_names`, `hostvars`) follow at once. From then on, each later play is planned when
//! it starts, against the changed inventory, and that plan is journaled (`play_replanned`)
//! before its first batch. Until a change happens nothing differs from a run without these
//! modules. `rpatch resume` refuses a run whose journal holds a change: the hosts that are
//! done would not run the tasks that made it again.

use std::sync::Arc;

use super::events::Event;
use super::plan::{plan_one, PlanInputs, PlayPlan};
use super::scope::HostView;
use super::{host_magic, Runner};
use crate::playbook::Play;
use crate::rolling::journal::JournalEvent;
use crate::vars::{self, Value, Vars};

/// One change a task result asks for.
#[derive(Debug, Clone)]
pub(super) enum Change {
    /// `add_host`.
    AddHost {
        name: String,
        groups: Vec<String>,
        vars: Vars,
    },
    /// `group_by` on `host`.
    AddGroup {
        host: String,
        group: String,
        parents: Vec<String>,
    },
}

impl Change {
    fn describe(&self) -> String {
        match self {
            Self::AddHost { name, groups, .. } if groups.is_empty() => {
                format!("added host {name}")
            }
            Self::AddHost { name, groups, .. } => {
                format!("added host {name} to groups {}", groups.join(", "))
            }
            Self::AddGroup { host, group, .. } => format!("added {host} to group {group}"),
        }
    }
}

/// The changes in a registered result (each loop item's, for a looped task).
pub(super) fn changes_in(host: &str, registered: &Value) -> Vec<Change> {
    let items: Vec<Value> = match registered.get_attr("results") {
        Ok(list) if !list.is_undefined() && !list.is_none() => {
            list.try_iter().map(Iterator::collect).unwrap_or_default()
        }
        _ => vec![registered.clone()],
    };
    items
        .iter()
        .filter_map(|item| change_in(host, item))
        .collect()
}

fn change_in(host: &str, result: &Value) -> Option<Change> {
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let list = |v: Value| -> Vec<String> {
        v.try_iter()
            .map(|items| items.map(|i| text(&i)).collect())
            .unwrap_or_default()
    };
    let present = |v: &Value| !v.is_undefined() && !v.is_none();
    if let Some(added) = result.get_attr("add_host").ok().filter(present) {
        let name = text(&added.get_attr("host_name").ok()?);
        let groups = list(added.get_attr("groups").ok()?);
        let vars = match vars::to_json(&added.get_attr("host_vars").ok()?) {
            serde_json::Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| (k, vars::from_json(&v)))
                .collect(),
            _ => Vars::new(),
        };
        return Some(Change::AddHost { name, groups, vars });
    }
    let group = result.get_attr("add_group").ok().filter(present)?;
    Some(Change::AddGroup {
        host: host.to_string(),
        group: text(&group),
        parents: result
            .get_attr("parent_groups")
            .ok()
            .filter(present)
            .map(list)
            .unwrap_or_default(),
    })
}

impl Runner {
    /// Journals and applies the changes the last task asked for, then refreshes what tasks
    /// see of the inventory.
    pub(super) async fn apply_inventory_changes(&mut self, task: &str) {
        let changes = std::mem::take(&mut self.pending_inventory);
        if changes.is_empty() {
            return;
        }
        for change in &changes {
            self.journal(JournalEvent::InventoryChanged {
                play: self.play_index,
                task: task.to_string(),
                change: change.describe(),
            })
            .await;
            let applied = match change {
                Change::AddHost { name, groups, vars } => {
                    self.inventory
                        .add_host_at_run_time(name, groups, vars.clone())
                }
                Change::AddGroup {
                    host,
                    group,
                    parents,
                } => self.inventory.add_group_at_run_time(host, group, parents),
            };
            if let Err(error) = applied {
                self.send(Event::Warning {
                    host: None,
                    message: format!("{}: not applied: {error}", change.describe()),
                })
                .await;
                continue;
            }
            if let Change::AddHost { name, vars, .. } = change {
                if let Some(host) = self.hosts.get_mut(name) {
                    let mut merged = (*host.context.inventory_vars).clone();
                    merged.extend(vars.clone());
                    host.context.inventory_vars = Arc::new(merged);
                }
            }
            self.inventory_changed = true;
        }
        self.refresh_inventory_views();
    }

    /// `groups`, each host's `group_names` and `hostvars` from the changed inventory.
    fn refresh_inventory_views(&mut self) {
        self.groups = self.inventory.groups_map();
        let mut base = (*self.base_magic).clone();
        base.insert(
            "groups".into(),
            Value::from(minijinja::value::Serde(&self.groups)),
        );
        self.base_magic = Arc::new(base);
        let names: Vec<String> = self.inventory.hosts().map(|h| h.name.clone()).collect();
        for name in names {
            let magic = Arc::new(host_magic(&self.inventory, &name));
            if let Some(host) = self.hosts.get_mut(&name) {
                host.context.magic = magic.clone();
            }
            match self.inventory_views.get_mut(&name) {
                Some(view) => {
                    view.magic = magic;
                    view.inventory_vars = Arc::new(self.inventory.host_vars(&name));
                }
                None => {
                    let view = HostView {
                        inventory_vars: Arc::new(self.inventory.host_vars(&name)),
                        facts: Arc::default(),
                        set_facts: Arc::default(),
                        magic,
                    };
                    self.inventory_views.insert(name, view);
                }
            }
        }
    }

    /// The plan of play `index` against the changed inventory, journaled; `None` (with a
    /// warning) when it cannot be made.
    pub(super) async fn replan(&mut self, index: usize, play: &Play) -> Option<PlayPlan> {
        let inputs = PlanInputs {
            limit: self.shared.options.limit.clone(),
            serial_override: self.shared.options.serial_override.clone(),
            extra_vars: self.extra_vars.clone(),
        };
        match plan_one(play, &self.inventory, &self.shared.templar, &inputs) {
            Ok(plan) => {
                self.journal(JournalEvent::PlayReplanned {
                    play: index,
                    batches: plan
                        .batches
                        .iter()
                        .map(|b| b.hosts.iter().map(|(h, _)| h.clone()).collect())
                        .collect(),
                })
                .await;
                Some(plan)
            }
            Err(error) => {
                self.send(Event::Warning {
                    host: None,
                    message: format!("cannot plan play `{}`: {error}", play.name),
                })
                .await;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_read_from_plain_and_looped_results() {
        let single = vars::from_json(&serde_json::json!({
            "add_host": {"host_name": "n1", "groups": ["g"], "host_vars": {"x": 1}}
        }));
        match changes_in("h", &single).as_slice() {
            [Change::AddHost { name, groups, vars }] => {
                assert_eq!(
                    (name.as_str(), groups.as_slice()),
                    ("n1", ["g".to_string()].as_slice())
                );
                assert_eq!(vars["x"], Value::from(1));
            }
            other => panic!("{other:?}"),
        }
        let looped = vars::from_json(&serde_json::json!({"results": [
            {"add_group": "os_debian", "parent_groups": ["all"]},
            {"skipped": true}
        ]}));
        match changes_in("h", &looped).as_slice() {
            [Change::AddGroup {
                host,
                group,
                parents,
            }] => {
                assert_eq!((host.as_str(), group.as_str()), ("h", "os_debian"));
                assert_eq!(parents, &["all".to_string()]);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            changes_in("h", &vars::from_json(&serde_json::json!({"changed": true}))).is_empty()
        );
    }
}
