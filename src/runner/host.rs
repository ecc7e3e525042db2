//! A host's state for the whole run: its variables, connection, counters and position.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::cursor::{Cursor, Step};
use super::stats::HostStats;
use crate::transport::Transport;
use crate::vars::Vars;

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

/// Everything the runner knows about one host.
pub struct HostState {
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
}

impl HostState {
    /// True while the host runs tasks.
    pub fn is_active(&self) -> bool {
        self.standing == Standing::Active
    }

    /// Adds a variable to the host's `set_fact`/`register` layer.
    pub fn set_fact(&mut self, name: String, value: crate::vars::Value) {
        Arc::make_mut(&mut self.set_facts).insert(name, value);
    }
}
