//! The loaded playbook: plays, blocks, tasks and roles, with every setting inherited and resolved.
//!
//! Loading flattens Ansible's keyword inheritance (play → role → block → task) into each
//! [`Task`], so the runner never walks parents: a task carries its full `when` list, tags,
//! escalation, environment and variable layers.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use crate::diagnostic::Location;
use crate::modules::Module;
use crate::vars::{Value, Vars};

/// A parsed playbook file.
#[derive(Debug)]
pub struct Playbook {
    /// The playbook file.
    pub path: PathBuf,
    /// Its plays, in order.
    pub plays: Vec<Play>,
    /// Every file read to build it (the playbook first), in load order: what
    /// [`crate::playbook::digest`] hashes so a resume notices an edited playbook.
    pub sources: Vec<Arc<crate::diagnostic::Source>>,
}

/// One play: a host pattern and the tasks to run on it.
#[derive(Debug)]
pub struct Play {
    /// The play's name (its host pattern when unnamed).
    pub name: String,
    /// The host pattern (`hosts:`).
    pub hosts: String,
    /// Where the play starts.
    pub at: Location,
    /// Play variables, `vars_files` merged after `vars` (and, once asked, `vars_prompt`).
    pub vars: Arc<Vars>,
    /// Defaults of the roles loaded with the play (`roles:`, `import_role`, `include_role`
    /// with `public: true`), later roles winning: every task of the play sees them.
    pub role_defaults: Arc<Vars>,
    /// Variables (and parameters) of those roles, as every task of the play sees them.
    pub role_vars: Arc<Vars>,
    /// `vars_prompt`: variables to ask for before the play runs.
    pub prompts: Vec<super::prompts::VarPrompt>,
    /// Run fact gathering before the tasks.
    pub gather_facts: bool,
    /// Stop every host as soon as one fails.
    pub any_errors_fatal: bool,
    /// Run handlers even on hosts that failed.
    pub force_handlers: bool,
    /// Tasks run before roles.
    pub pre_tasks: Vec<TaskNode>,
    /// Role tasks, then `tasks:`.
    pub tasks: Vec<TaskNode>,
    /// Tasks run after `tasks:`.
    pub post_tasks: Vec<TaskNode>,
    /// Tasks run on a batch's hosts when a gate fails and `on_gate_failure: rollback`.
    pub rollback: Vec<TaskNode>,
    /// Handlers in definition order (role handlers first, then the play's).
    pub handlers: Vec<Arc<Task>>,
    /// How many tasks the play has in all (task ids are below this).
    pub task_count: usize,
    /// `connection:` for every host of the play (`local`, `ssh`).
    pub connection: Option<String>,
    /// `remote_user:` for every host of the play.
    pub remote_user: Option<String>,
    /// How the play rolls through its hosts (batches, budgets, order, windows).
    pub rollout: super::rollout::Rollout,
    /// `discover: true`: before the run is planned, the hypervisors are asked for their
    /// domains (as `rpatch inventory --discover -b` does) to place the guests the inventory
    /// does not place.
    pub discover: bool,
    /// How hosts move through the task list (`strategy:`).
    pub strategy: Strategy,
    /// Where the run's start, batches, halt and end are reported (`notifications:`).
    pub notifications: Vec<crate::notify::SinkSpec>,
}

/// `strategy:`: how a batch's hosts move through the task list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Every host runs a task before any host starts the next one (Ansible's default).
    #[default]
    Linear,
    /// Each host runs through its task list as fast as it can, not waiting for the others.
    Free,
}

/// An entry of a task list.
#[derive(Debug, Clone)]
pub enum TaskNode {
    /// A single task.
    Task(Arc<Task>),
    /// A `block` with optional `rescue` and `always`.
    Block(Arc<Block>),
}

/// A `block:` with its error handling.
#[derive(Debug)]
pub struct Block {
    /// The block's name, if any.
    pub name: Option<String>,
    /// The tasks tried first.
    pub block: Vec<TaskNode>,
    /// Tasks run when one in `block` fails.
    pub rescue: Vec<TaskNode>,
    /// Tasks run in any case.
    pub always: Vec<TaskNode>,
    /// Where the block starts.
    pub at: Location,
}

/// A role applied in a play.
#[derive(Debug)]
pub struct Role {
    /// The role's name.
    pub name: String,
    /// The role's directory.
    pub path: PathBuf,
    /// `defaults/main.yml` (lowest precedence of all).
    pub defaults: Arc<Vars>,
    /// `vars/main.yml` plus the role's parameters.
    pub vars: Arc<Vars>,
}

/// A condition: a Jinja expression, or a literal boolean.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The expression (a string) or literal value.
    pub expr: Value,
    /// Where it is written.
    pub at: Location,
}

/// What a task does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Run a module with these (unrendered) arguments.
    Module {
        /// Which module.
        module: &'static dyn Module,
        /// Its arguments, still to be templated per host.
        args: Value,
    },
    /// `include_tasks`/`include_role`: run these tasks here, once per loop item.
    Include {
        /// The file or role, as written.
        file: String,
        /// The tasks loaded from it when the playbook loaded (empty when `deferred`).
        tasks: Arc<Vec<TaskNode>>,
        /// Set when what to include is only known on a host (a templated file or role name,
        /// or a file that does not exist yet): loaded when the include runs.
        deferred: Option<Arc<super::dynamic::Deferred>>,
    },
    /// `meta:` directives to the runner.
    Meta(MetaAction),
}

/// A `meta:` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaAction {
    /// Run notified handlers now.
    FlushHandlers,
    /// End the play for every host: this batch and the play's later batches.
    EndPlay,
    /// End the current batch for every host; the next batch starts as usual.
    EndBatch,
    /// End the play for this host.
    EndHost,
    /// Clear the failed state of the play's hosts: they take part in the later plays.
    ClearHostErrors,
    /// Do nothing.
    Noop,
}

impl MetaAction {
    /// Every directive with its name.
    pub const ALL: &'static [(&'static str, MetaAction)] = &[
        ("flush_handlers", Self::FlushHandlers),
        ("end_play", Self::EndPlay),
        ("end_batch", Self::EndBatch),
        ("end_host", Self::EndHost),
        ("clear_host_errors", Self::ClearHostErrors),
        ("noop", Self::Noop),
        ("refresh_inventory", Self::Noop),
        ("reset_connection", Self::Noop),
        ("clear_facts", Self::Noop),
    ];
}

/// A `loop:`/`with_items:` and its `loop_control`.
#[derive(Debug, Clone)]
pub struct LoopSpec {
    /// The list, or an expression that renders to one.
    pub items: Value,
    /// The keyword used, which decides how the rendered value becomes items.
    pub kind: LoopKind,
    /// Variable name for the current item (`item`).
    pub loop_var: String,
    /// Variable name for the current index, if requested.
    pub index_var: Option<String>,
    /// What to show for each item instead of the whole item.
    pub label: Option<Value>,
    /// Seconds to wait between items.
    pub pause: std::time::Duration,
    /// `extended: true`: each item also sees `ansible_loop` (index, first, last, length...).
    pub extended: bool,
}

/// Which loop keyword a task used: `loop` takes a list as it is, each `with_<lookup>` turns
/// its value into items the way that Ansible lookup does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopKind {
    /// `loop`, `with_list`: the list as it is.
    List,
    /// `with_items`: flattened one level.
    Items,
    /// `with_flattened`: flattened all the way down.
    Flattened,
    /// `with_dict`: `{key, value}` per entry.
    Dict,
    /// `with_indexed_items`: `[index, item]` per item.
    IndexedItems,
    /// `with_together`: the lists zipped, shorter ones padded with null.
    Together,
    /// `with_nested`, `with_cartesian`: every combination.
    Nested,
    /// `with_subelements`: `[parent, child]` for each child list entry.
    Subelements,
    /// `with_sequence`: numbers from `start=`/`end=`/`count=`/`stride=`/`format=`.
    Sequence,
    /// `with_fileglob`: controller files matching the patterns.
    Fileglob,
    /// `with_first_found`: the first controller file that exists.
    FirstFound,
    /// `with_lines`: the output lines of controller commands.
    Lines,
    /// `with_random_choice`: one item picked at random.
    RandomChoice,
}

impl LoopKind {
    /// Every loop keyword with its kind.
    pub const ALL: &'static [(&'static str, LoopKind)] = &[
        ("loop", Self::List),
        ("with_items", Self::Items),
        ("with_list", Self::List),
        ("with_flattened", Self::Flattened),
        ("with_dict", Self::Dict),
        ("with_indexed_items", Self::IndexedItems),
        ("with_together", Self::Together),
        ("with_nested", Self::Nested),
        ("with_cartesian", Self::Nested),
        ("with_subelements", Self::Subelements),
        ("with_sequence", Self::Sequence),
        ("with_fileglob", Self::Fileglob),
        ("with_first_found", Self::FirstFound),
        ("with_lines", Self::Lines),
        ("with_random_choice", Self::RandomChoice),
    ];
}

/// `until`/`retries`/`delay`.
#[derive(Debug, Clone)]
pub struct Retry {
    /// Stop retrying when these hold.
    pub until: Vec<Condition>,
    /// How many attempts after the first (templated).
    pub retries: Value,
    /// Seconds between attempts (templated).
    pub delay: Value,
}

/// `async`/`poll`: run the task as a background job with a time limit, and wait for it
/// (`poll` > 0) or leave it running for `async_status` to check on (`poll: 0`).
#[derive(Debug, Clone)]
pub struct AsyncRun {
    /// The job's time limit in seconds (templated).
    pub seconds: Value,
    /// Seconds between status checks; 0 = fire and forget (templated; Ansible's default 15).
    pub poll: Value,
}

/// Settings a task inherits from its play, role and blocks unless it sets them itself.
#[derive(Debug, Clone, Default)]
pub struct Inherited {
    /// All of these must hold (parents' first).
    pub when: Vec<Condition>,
    /// Union of the tags of the task and its parents.
    pub tags: BTreeSet<String>,
    /// Escalate privileges.
    pub become_enabled: Option<Value>,
    /// User to become.
    pub become_user: Option<Value>,
    /// `sudo` or `su`.
    pub become_method: Option<String>,
    /// Extra flags for the escalation tool.
    pub become_flags: Option<String>,
    /// Environment mappings, outermost first.
    pub environment: Vec<Value>,
    /// Keep going when the task fails.
    pub ignore_errors: Option<Value>,
    /// Keep going when the host is unreachable.
    pub ignore_unreachable: Option<bool>,
    /// Hide the result from output and the journal.
    pub no_log: Option<Value>,
    /// Override check mode for this task.
    pub check_mode: Option<Value>,
    /// Override diff mode for this task.
    pub diff: Option<Value>,
    /// Run on another host.
    pub delegate_to: Option<Value>,
    /// Run on the first host only: a boolean, or a template rendered with the first host's
    /// variables when the task starts.
    pub run_once: Option<Value>,
    /// Fail all hosts when this task fails on one.
    pub any_errors_fatal: Option<bool>,
    /// Variable layers from blocks and includes, outermost first.
    pub vars: Vec<Arc<Vars>>,
    /// Handlers to notify: the innermost `notify:` of the task, its blocks and imports
    /// (a task's own list replaces its parents', as in Ansible).
    pub notify: Option<Vec<String>>,
    /// At most this many hosts run the task at once (`throttle:`; 0 = only `forks` limits).
    pub throttle: Option<u64>,
    /// The role the task belongs to.
    pub role: Option<Arc<Role>>,
}

/// One task, with everything it inherited.
#[derive(Debug, Clone)]
pub struct Task {
    /// Unique within the play; document order (the runner's linear ordering key).
    pub id: usize,
    /// The name as written (templated), if any.
    pub name: Option<String>,
    /// What the task does.
    pub action: Action,
    /// Where the task starts.
    pub at: Location,
    /// Inherited and own keyword settings.
    pub settings: Inherited,
    /// Loop over items.
    pub loop_spec: Option<LoopSpec>,
    /// Store the result under this name.
    pub register: Option<String>,
    /// Handlers (names or `listen` topics) to notify on change, inherited from blocks and
    /// `import_tasks` unless the task names its own.
    pub notify: Vec<String>,
    /// Override `changed`.
    pub changed_when: Vec<Condition>,
    /// Override `failed`.
    pub failed_when: Vec<Condition>,
    /// Retry until a condition holds.
    pub retry: Option<Retry>,
    /// `async:`/`poll:`: run as a background job.
    pub async_run: Option<AsyncRun>,
    /// Topics this handler answers to (handlers only).
    pub listen: Vec<String>,
    /// Whether this is a handler.
    pub is_handler: bool,
}

impl Task {
    /// The name shown in output: the task's name, or `role : module` as Ansible does.
    pub fn display_name(&self) -> String {
        let base = match (&self.name, &self.action) {
            (Some(name), _) => name.clone(),
            (None, Action::Module { module, .. }) => module.name().to_string(),
            (None, Action::Include { file, deferred, .. }) => match deferred {
                Some(deferred) if deferred.is_role() => format!("include_role : {file}"),
                _ => format!("include_tasks {file}"),
            },
            (None, Action::Meta(_)) => "meta".to_string(),
        };
        match &self.settings.role {
            Some(role) => format!("{} : {base}", role.name),
            None => base,
        }
    }
}
