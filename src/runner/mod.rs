//! The runner: takes a loaded playbook and inventory and runs it, emitting [`Event`]s.
//!
//! One [`Runner`] owns every host's state for the whole run; task executions get cheap
//! snapshots ([`host::HostContext`]) and return outcomes, so there are no locks on the hot
//! path. Interruption is a [`CancellationToken`]: no new task starts, running ones finish.

mod connection;
mod cursor;
mod events;
mod execute;
mod host;
mod options;
mod play;
mod scope;
mod stats;

use std::sync::Arc;

use indexmap::IndexMap;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

pub use events::{Event, HostResult, Status};
pub use options::RunOptions;
pub use stats::{exit, exit_code, HostStats};

use crate::inventory::Inventory;
use crate::modules::ModuleResult;
use crate::playbook::Playbook;
use crate::template::Templar;
use crate::transport::{Transport, UnavailableTransport};
use crate::vars::{Value, Vars};
use execute::Shared;
use host::{HostContext, HostState};

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Per-host counts, in inventory order.
    pub stats: IndexMap<String, HostStats>,
    /// True when the run was interrupted.
    pub interrupted: bool,
}

impl RunSummary {
    /// The process exit code for this run.
    pub fn exit_code(&self) -> i32 {
        exit_code(&self.stats, self.interrupted)
    }
}

/// Runs a playbook; events go to `events` and the recap is the last event sent.
pub async fn run(
    playbook: &Playbook,
    inventory: &Inventory,
    extra_vars: Arc<Vars>,
    options: RunOptions,
    templar: Arc<Templar>,
    events: mpsc::Sender<Event>,
    cancel: CancellationToken,
) -> RunSummary {
    let mut runner = Runner::new(
        inventory, extra_vars, options, templar, events, cancel, playbook,
    );
    for play in &playbook.plays {
        if runner.interrupted() {
            break;
        }
        let hosts = runner.select_hosts(inventory, play);
        runner.ensure_hosts(inventory, &hosts);
        runner.run_play(play, hosts).await;
    }
    let interrupted = runner.interrupted();
    if interrupted {
        runner.send(Event::Interrupted).await;
    }
    for host in runner.hosts.values() {
        host.context.transport.close().await;
    }
    let stats: IndexMap<String, HostStats> = runner
        .hosts
        .iter()
        .map(|(name, host)| (name.clone(), host.stats))
        .collect();
    runner
        .send(Event::Recap {
            hosts: stats.clone(),
        })
        .await;
    RunSummary { stats, interrupted }
}

/// The state of one run.
pub(crate) struct Runner {
    shared: Arc<Shared>,
    hosts: IndexMap<String, HostState>,
    extra_vars: Arc<Vars>,
    /// Magic variables that do not change during the run.
    base_magic: Arc<Vars>,
    forks: Arc<Semaphore>,
    cancel: CancellationToken,
}

impl Runner {
    fn new(
        inventory: &Inventory,
        extra_vars: Arc<Vars>,
        options: RunOptions,
        templar: Arc<Templar>,
        events: mpsc::Sender<Event>,
        cancel: CancellationToken,
        playbook: &Playbook,
    ) -> Self {
        let mut base_magic = Vars::new();
        let groups: IndexMap<String, Vec<String>> = inventory.groups_map();
        base_magic.insert(
            "groups".into(),
            Value::from(minijinja::value::Serde(&groups)),
        );
        base_magic.insert("ansible_check_mode".into(), Value::from(options.check));
        base_magic.insert("ansible_diff_mode".into(), Value::from(options.diff));
        base_magic.insert("ansible_verbosity".into(), Value::from(options.verbosity));
        base_magic.insert("ansible_forks".into(), Value::from(options.forks));
        let playbook_dir = playbook
            .path
            .parent()
            .map(|dir| std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()))
            .unwrap_or_default();
        base_magic.insert(
            "playbook_dir".into(),
            Value::from(playbook_dir.display().to_string()),
        );
        let forks = Arc::new(Semaphore::new(options.forks.max(1)));
        Self {
            shared: Arc::new(Shared {
                templar,
                options,
                events,
            }),
            hosts: IndexMap::new(),
            extra_vars,
            base_magic: Arc::new(base_magic),
            forks,
            cancel,
        }
    }

    /// The play's hosts: its pattern (templated with extra vars), narrowed by `--limit`.
    fn select_hosts(&self, inventory: &Inventory, play: &crate::playbook::Play) -> Vec<String> {
        let scope = crate::template::Scope::new(vec![play.vars.clone(), self.extra_vars.clone()]);
        let pattern = self
            .shared
            .templar
            .render_to_string(&play.hosts, &scope)
            .unwrap_or_else(|_| play.hosts.clone());
        let selected = inventory
            .select(&pattern)
            .map(|s| s.hosts)
            .unwrap_or_default();
        match &self.shared.options.limit {
            Some(limit) => selected.into_iter().filter(|h| limit.contains(h)).collect(),
            None => selected,
        }
    }

    /// Creates state (variables and connection) for hosts seen for the first time.
    fn ensure_hosts(&mut self, inventory: &Inventory, names: &[String]) {
        for name in names {
            if self.hosts.contains_key(name) {
                continue;
            }
            let mut inventory_vars = inventory.host_vars(name);
            if let Some(user) = &self.shared.options.remote_user {
                inventory_vars.insert("ansible_user".into(), Value::from(user.as_str()));
            }
            let mut magic = Vars::new();
            magic.insert("inventory_hostname".into(), Value::from(name.as_str()));
            let short = name.split('.').next().unwrap_or(name);
            magic.insert("inventory_hostname_short".into(), Value::from(short));
            magic.insert(
                "group_names".into(),
                Value::from(inventory.group_names(name)),
            );
            let scope = crate::template::Scope::new(vec![
                Arc::new(inventory_vars.clone()),
                self.extra_vars.clone(),
                Arc::new(magic.clone()),
            ]);
            let transport = connection::transport_for(&scope, &self.shared.templar, None)
                .unwrap_or_else(|error| {
                    Arc::new(UnavailableTransport::new(error)) as Arc<dyn Transport>
                });
            let context = HostContext {
                name: name.clone(),
                inventory_vars: Arc::new(inventory_vars),
                facts: Arc::new(Vars::new()),
                set_facts: Arc::new(Vars::new()),
                magic: Arc::new(magic),
                transport,
            };
            self.hosts.insert(name.clone(), HostState::new(context));
        }
    }

    fn interrupted(&self) -> bool {
        self.cancel.is_cancelled()
    }

    async fn send(&self, event: Event) {
        // The output task only goes away when the process is exiting; nothing to do then.
        let _ = self.shared.events.send(event).await;
    }

    /// Reports a result that did not come from a task execution (fact gathering, crashes).
    async fn report_plain(&self, host: &str, task: &str, status: Status, result: &ModuleResult) {
        self.send(Event::HostResult(HostResult {
            host: host.to_string(),
            task: task.to_string(),
            status,
            item: None,
            delegated_to: None,
            ignored: false,
            result: crate::vars::to_json(&result.to_value()),
            verbosity: 0,
            show_result: matches!(status, Status::Failed | Status::Unreachable),
            diff: None,
            loop_summary: false,
        }))
        .await;
    }
}
