//! A host's state for the whole run: its variables, connection, counters and position.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::cursor::{Cursor, Step};
use super::stats::HostStats;
use crate::transport::Transport;
use crate::vars::{Value, Vars};

/// Whether a host still takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Still running tasks.
    Active,
    /// Failed; left the play and every later play.
    Failed,
    /// Could not be reached; left the play and every later play.
    Unreachable,
    /// `meta: end_host` / `end_play`: done with this play only.
    Ended,
}

impl Standing {
    /// True when the host left the run for good.
    pub fn is_out(self) -> bool {
        matches!(self, Self::Failed | Self::Unreachable)
    }
}

/// What a task execution needs of a host: cheap to clone (shared layers and connection).
#[derive(Clone)]
pub struct HostContext {
    /// The inventory name.
    pub name: String,
    /// Inventory variables (groups and host, merged).
    pub inventory_vars: Arc<Vars>,
    /// Gathered facts (`ansible_*` names and `ansible_facts`).
    pub facts: Arc<Vars>,
    /// `set_fact` and `register` results; they live for the whole run.
    pub set_facts: Arc<Vars>,
    /// `inventory_hostname`, `group_names` and friends.
    pub magic: Arc<Vars>,
    /// How to reach the host.
    pub transport: Arc<dyn Transport>,
}

/// Everything the runner knows about one host.
pub struct HostState {
    /// Variables and connection.
    pub context: HostContext,
    /// Recap counters.
    pub stats: HostStats,
    /// Where the host is in the current task list.
    pub cursor: Option<Cursor>,
    /// The next step, fetched but not yet run.
    pub pending: Option<Step>,
    /// Handlers (by index in the play's list) notified and not yet run.
    pub notified: BTreeSet<usize>,
    /// Whether the host still takes part.
    pub standing: Standing,
    /// `any_errors_fatal` marked the host failed for another host's failure: it finishes its
    /// `rescue`/`always` sections, then leaves the run when the play's batch ends.
    pub marked_failed: bool,
    /// True when the inventory names the login user (`ansible_user`/`ansible_ssh_user`):
    /// then neither the play's `remote_user:` nor `-u` applies.
    pub inventory_user: bool,
}

impl HostState {
    /// A fresh host that has run nothing yet.
    pub fn new(context: HostContext) -> Self {
        Self {
            context,
            stats: super::stats::HostStats::default(),
            cursor: None,
            pending: None,
            notified: BTreeSet::new(),
            standing: Standing::Active,
            marked_failed: false,
            inventory_user: false,
        }
    }

    /// True while the host runs tasks.
    pub fn is_active(&self) -> bool {
        self.standing == Standing::Active
    }

    /// Adds a variable to the host's `set_fact`/`register` layer.
    pub fn set_fact(&mut self, name: String, value: Value) {
        Arc::make_mut(&mut self.context.set_facts).insert(name, value);
    }

    /// Adds facts a module gathered during the play (`patch_facts`, `setup` as a task): each
    /// under its own name and under `ansible_facts` without its `ansible_` prefix, over the
    /// facts gathered before.
    pub fn add_gathered_facts(&mut self, facts: Vars) {
        let layer = Arc::make_mut(&mut self.context.facts);
        let mut namespaced = match layer.get("ansible_facts").map(crate::vars::to_json) {
            Some(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        for (name, value) in facts {
            let short = name.strip_prefix("ansible_").unwrap_or(&name).to_string();
            namespaced.insert(short, crate::vars::to_json(&value));
            layer.insert(name, value);
        }
        layer.insert(
            "ansible_facts".into(),
            crate::vars::from_json(&serde_json::Value::Object(namespaced)),
        );
    }

    /// Replaces the host's gathered facts.
    pub fn set_gathered_facts(&mut self, facts: Vars) {
        let mut layer = Vars::new();
        let mut bare = Vars::new();
        for (name, value) in facts {
            if let Some(short) = name.strip_prefix("ansible_") {
                bare.insert(short.to_string(), value.clone());
            }
            layer.insert(name, value);
        }
        layer.insert("ansible_facts".into(), crate::vars::to_value(bare));
        self.context.facts = Arc::new(layer);
    }
}
