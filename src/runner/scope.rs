//! The variables a task sees on a host: Ansible's precedence as a stack of shared layers.
//!
//! Nothing is merged or copied per task: a scope is a list of `Arc`s looked up lazily, lowest
//! precedence first (role defaults, inventory, facts, play vars, role vars, block/task vars,
//! include vars, set_fact/register, loop variables, extra vars, magic variables).

use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr};

use super::host::HostContext;
use crate::playbook::Task;
use crate::template::Scope;
use crate::vars::{Value, Vars};

/// What every host of a play shares.
pub struct PlayScope {
    /// Play variables (with `vars_files`).
    pub play_vars: Arc<Vars>,
    /// Defaults of the play's roles (`roles:`, `import_role`, public `include_role`), which
    /// every task of the play sees, below inventory variables.
    pub role_defaults: Arc<Vars>,
    /// Variables of those roles, which every task of the play sees, above play variables.
    pub role_vars: Arc<Vars>,
    /// `-e` variables.
    pub extra_vars: Arc<Vars>,
    /// `groups`, `play_hosts`, `ansible_check_mode`, `omit`, ... plus `hostvars`.
    pub magic: Arc<Vars>,
}

/// The marker `omit` renders to; arguments equal to it are dropped.
pub const OMIT: &str = "__omit_place_holder__rpatch";

/// The scope for one task on one host.
pub fn task_scope(
    play: &PlayScope,
    host: &HostContext,
    task: &Task,
    include_vars: &[Arc<Vars>],
    loop_vars: Option<Arc<Vars>>,
) -> Value {
    let role = task.settings.role.as_ref();
    let mut layers: Vec<Arc<Vars>> = Vec::with_capacity(12 + task.settings.vars.len());
    layers.push(play.role_defaults.clone());
    if let Some(role) = role {
        layers.push(role.defaults.clone());
    }
    layers.push(host.inventory_vars.clone());
    layers.push(host.facts.clone());
    layers.push(play.play_vars.clone());
    layers.push(play.role_vars.clone());
    if let Some(role) = role {
        layers.push(role.vars.clone());
    }
    layers.extend(task.settings.vars.iter().cloned());
    layers.extend(include_vars.iter().cloned());
    layers.push(host.set_facts.clone());
    if let Some(loop_vars) = loop_vars {
        layers.push(loop_vars);
    }
    layers.push(play.extra_vars.clone());
    layers.push(play.magic.clone());
    layers.push(host.magic.clone());
    if let Some(role) = role {
        let mut role_magic = Vars::new();
        // As Ansible: `role_name` is the role's directory name, `ansible_role_name` its full
        // name (`ns.coll.role` for a collection's role).
        let short = role
            .path
            .file_name()
            .map_or_else(|| role.name.clone(), |n| n.to_string_lossy().into_owned());
        role_magic.insert("role_name".into(), Value::from(short));
        role_magic.insert("ansible_role_name".into(), Value::from(role.name.as_str()));
        role_magic.insert(
            "role_path".into(),
            Value::from(role.path.display().to_string()),
        );
        layers.push(Arc::new(role_magic));
    }
    Scope::new(layers)
}

/// The scope a host has outside any task (for connection variables and play-level templates).
pub fn host_scope(play: &PlayScope, host: &HostContext) -> Value {
    Scope::new(vec![
        host.inventory_vars.clone(),
        host.facts.clone(),
        play.play_vars.clone(),
        host.set_facts.clone(),
        play.extra_vars.clone(),
        play.magic.clone(),
        host.magic.clone(),
    ])
}

/// The scope of the play itself, outside any host (for gates).
pub fn host_scope_for_play(play: &PlayScope) -> Value {
    Scope::new(vec![
        play.play_vars.clone(),
        play.extra_vars.clone(),
        play.magic.clone(),
    ])
}

/// The variables of one host as `hostvars[name]` shows them.
#[derive(Clone)]
pub struct HostView {
    /// Inventory variables.
    pub inventory_vars: Arc<Vars>,
    /// Gathered facts.
    pub facts: Arc<Vars>,
    /// set_fact/register results.
    pub set_facts: Arc<Vars>,
    /// Magic variables of the host.
    pub magic: Arc<Vars>,
}

impl HostView {
    /// A snapshot of a host's variable layers.
    pub fn of(host: &HostContext) -> Self {
        Self {
            inventory_vars: host.inventory_vars.clone(),
            facts: host.facts.clone(),
            set_facts: host.set_facts.clone(),
            magic: host.magic.clone(),
        }
    }
}

/// `hostvars`: every host's variables, looked up on demand.
#[derive(Debug)]
pub struct HostVars {
    hosts: IndexMap<String, HostViewValue>,
}

struct HostViewValue(HostView);

impl std::fmt::Debug for HostViewValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostView")
    }
}

impl HostVars {
    /// A `hostvars` value over these hosts.
    pub fn value(hosts: IndexMap<String, HostView>) -> Value {
        Value::from_object(Self {
            hosts: hosts
                .into_iter()
                .map(|(name, view)| (name, HostViewValue(view)))
                .collect(),
        })
    }
}

impl Object for HostVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let view = &self.hosts.get(key.as_str()?)?.0;
        Some(Scope::new(vec![
            view.inventory_vars.clone(),
            view.facts.clone(),
            view.set_facts.clone(),
            view.magic.clone(),
        ]))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let names: Vec<Value> = self
            .hosts
            .keys()
            .map(|name| Value::from(name.as_str()))
            .collect();
        Enumerator::Iter(Box::new(names.into_iter()))
    }
}
