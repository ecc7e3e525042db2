//! The runner: takes a loaded playbook, inventory and plan and runs it, emitting [`Event`]s.
//!
//! One [`Runner`] owns every host's state for the whole run; task executions get cheap
//! snapshots ([`host::HostContext`]) and return outcomes, so there are no locks on the hot
//! path. Plays roll through their planned batches; every state change is journaled (and on
//! disk) before the next step. Interruption is a [`CancellationToken`]: no new task starts,
//! running ones finish.

mod connection;
mod cursor;
mod events;
mod execute;
mod free;
mod host;
mod inventory_change;
pub(crate) mod loops;
mod meta;
mod module_call;
mod options;
pub mod plan;
mod play;
mod rollout;
mod scope;
mod stats;

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

pub use events::{Event, GateReport, HostResult, Status};
pub use options::{RunOptions, SshSettings};
pub use stats::{exit, exit_code, HostStats};

/// Opens a host's transport from its variables, as a run does (for discovery).
pub fn transport_for(
    scope: &Value,
    templar: &Templar,
    ssh: &SshSettings,
) -> Result<Arc<dyn Transport>, crate::transport::TransportError> {
    connection::transport_for(scope, templar, None, ssh)
}

use crate::inventory::Inventory;
use crate::modules::ModuleResult;
use crate::playbook::Playbook;
use crate::rolling::journal::{BatchRef, HostStatus, JournalEvent, JournalHandle, RunEndStatus};
use crate::template::Templar;
use crate::transport::{Transport, UnavailableTransport};
use crate::vars::{Value, Vars};
use execute::Shared;
use host::{HostContext, HostState, Standing};
use plan::PlayPlan;

/// Why a run stopped before its last batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// A batch used up its failure budget.
    Failures(String),
    /// A health-check gate failed.
    Gate(String),
    /// The journal could not be written: rpatch will not go on without it.
    Journal(String),
}

impl Halt {
    /// The reason, for people.
    pub fn reason(&self) -> &str {
        match self {
            Self::Failures(reason) | Self::Gate(reason) | Self::Journal(reason) => reason,
        }
    }
}

/// Why the current batch stopped before its hosts ran every task.
#[derive(Debug, Clone, PartialEq)]
enum BatchStop {
    /// The failure budget ran out mid-batch (checked after every task, as Ansible does): hosts
    /// with tasks left stop there, are not journaled done, and a resume runs them again.
    Budget(crate::rolling::failure::HaltReason),
    /// `meta: end_play`: the play ends for every host, its later batches too.
    EndPlay,
}

/// What surrounds a run: its journal, plan and what a resumed run already did.
#[derive(Default)]
pub struct RunControl {
    /// Where state changes are journaled.
    pub journal: Option<JournalHandle>,
    /// `--emergency`: maintenance windows are ignored.
    pub emergency: bool,
    /// What "now" is when a window is checked (the system clock unless `RPATCH_NOW` is set).
    pub clock: crate::rolling::clock::Clock,
    /// Per play, hosts that already finished it (from the journal of a resumed run).
    pub done: Vec<BTreeMap<String, HostStatus>>,
    /// A resumed run that had halted: the batch whose gates run again before the next batch.
    pub recheck_gates_after: Option<BatchRef>,
    /// The run's id (kept by `resume`), as the variable `rpatch_run_id`.
    pub run_id: Option<String>,
    /// Told every `batch_end` once it is journaled (notifications build on it).
    pub observer: Option<tokio::sync::mpsc::UnboundedSender<JournalEvent>>,
    /// The run's stage (`rpatch_stage`) and the baseline it installs (`rpatch_stage_baseline`).
    pub stage: Option<crate::stages::StageRecord>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Per-host counts, in run order.
    pub stats: IndexMap<String, HostStats>,
    /// True when the run was interrupted.
    pub interrupted: bool,
    /// Why the run halted early, if it did.
    pub halted: Option<Halt>,
    /// When the maintenance window opens next, if a closed one stopped the run.
    pub paused_until: Option<String>,
    /// Hosts of batches that never started.
    pub not_started: Vec<String>,
    /// Hosts that ended the run failed (started in this process).
    pub failed_hosts: Vec<String>,
    /// Hosts that ended the run unreachable (started in this process).
    pub unreachable_hosts: Vec<String>,
}

impl RunSummary {
    /// The process exit code for this run.
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            return exit::INTERRUPTED;
        }
        match &self.halted {
            Some(Halt::Gate(_)) => return exit::HALTED_BY_GATE,
            Some(Halt::Journal(_)) => return exit::ERROR,
            _ => {}
        }
        match exit_code(self.failed_hosts.len(), self.unreachable_hosts.len(), false) {
            exit::OK if self.paused_until.is_some() => exit::WINDOW_CLOSED,
            code => code,
        }
    }
}

/// Everything a run needs.
pub struct RunInput<'a> {
    /// The playbook.
    pub playbook: &'a Playbook,
    /// The inventory.
    pub inventory: &'a Inventory,
    /// Each play's hosts and batches.
    pub plan: &'a [PlayPlan],
    /// `-e` variables.
    pub extra_vars: Arc<Vars>,
    /// Command-line settings.
    pub options: RunOptions,
    /// The template engine.
    pub templar: Arc<Templar>,
}

/// Runs a playbook; events go to `events` and the recap is the last event sent.
pub async fn run(
    input: RunInput<'_>,
    control: RunControl,
    events: mpsc::Sender<Event>,
    cancel: CancellationToken,
) -> RunSummary {
    let mut runner = Runner::new(&input, control, events, cancel);
    let mut stopped = false;
    for (index, (play, plan)) in input.playbook.plays.iter().zip(input.plan).enumerate() {
        if runner.interrupted() {
            break;
        }
        // After add_host/group_by, a play is planned when it starts (see inventory_change.rs).
        let replanned;
        let plan = if runner.inventory_changed {
            match runner.replan(index, play).await {
                Some(fresh) => {
                    replanned = fresh;
                    &replanned
                }
                None => {
                    stopped = true;
                    break;
                }
            }
        } else {
            plan
        };
        let hosts: Vec<String> = plan
            .batches
            .iter()
            .flat_map(|b| b.hosts.iter().map(|(h, _)| h.clone()))
            .collect();
        runner.ensure_hosts(&hosts, index);
        if !runner.run_rolling_play(index, play, plan).await {
            stopped = true;
            break;
        }
    }
    let interrupted = runner.interrupted();
    if interrupted {
        runner.send(Event::Interrupted).await;
    } else if !stopped || runner.halted.is_some() {
        let status = if runner.halted.is_some() {
            RunEndStatus::Halted
        } else {
            RunEndStatus::Completed
        };
        runner.journal(JournalEvent::RunEnd { status }).await;
    }
    for host in runner.hosts.values() {
        host.context.transport.close().await;
    }
    let not_started: Vec<String> = input
        .plan
        .iter()
        .flat_map(|plan| {
            plan.batches
                .iter()
                .flat_map(|b| b.hosts.iter().map(|(h, _)| h.clone()))
        })
        .filter(|h| !runner.started.contains(h) && !runner.was_done_before(h))
        .fold(Vec::new(), |mut unique, h| {
            if !unique.contains(&h) {
                unique.push(h);
            }
            unique
        });
    let stats: IndexMap<String, HostStats> = runner
        .hosts
        .iter()
        .filter(|(name, host)| runner.started.contains(*name) && !host.stats.is_empty())
        .map(|(name, host)| (name.clone(), host.stats))
        .collect();
    runner
        .send(Event::Recap {
            hosts: stats.clone(),
            not_started: not_started.clone(),
        })
        .await;
    let ended = |wanted: Standing| -> Vec<String> {
        runner
            .hosts
            .iter()
            .filter(|(name, host)| runner.started.contains(*name) && host.standing == wanted)
            .filter(|(name, _)| !runner.rescued_then_removed.contains(*name))
            .map(|(name, _)| name.clone())
            .collect()
    };
    RunSummary {
        stats,
        interrupted,
        halted: runner.halted.clone(),
        paused_until: runner.paused_until.clone(),
        not_started,
        failed_hosts: ended(Standing::Failed),
        unreachable_hosts: ended(Standing::Unreachable),
    }
}

/// A host's own magic variables: `inventory_hostname`, its short form and `group_names`.
fn host_magic(inventory: &Inventory, name: &str) -> Vars {
    let mut magic = Vars::new();
    magic.insert("inventory_hostname".into(), Value::from(name));
    let short = name.split('.').next().unwrap_or(name);
    magic.insert("inventory_hostname_short".into(), Value::from(short));
    magic.insert(
        "group_names".into(),
        Value::from(inventory.group_names(name)),
    );
    magic
}

/// `ansible_version`: the ansible-core release whose playbook semantics rpatch follows, so
/// playbooks that check it (`ansible_version.full is version('2.9', '>=')`) run unchanged.
fn ansible_version() -> Value {
    Value::from(minijinja::value::Serde(serde_json::json!({
        "full": "2.19.0",
        "major": 2,
        "minor": 19,
        "revision": 0,
        "string": "2.19.0",
    })))
}

/// The state of one run.
pub(crate) struct Runner {
    shared: Arc<Shared>,
    hosts: IndexMap<String, HostState>,
    extra_vars: Arc<Vars>,
    /// Magic variables that do not change during the run.
    base_magic: Arc<Vars>,
    /// `hostvars` of every inventory host, as the inventory defines it: hosts no play has
    /// reached yet are visible too, as in Ansible.
    inventory_views: IndexMap<String, scope::HostView>,
    forks: Arc<Semaphore>,
    cancel: CancellationToken,
    control: RunControl,
    /// The current play's hosts (all batches), for `ansible_play_hosts`.
    play_hosts: Vec<String>,
    /// The current play's index (for the journal).
    play_index: usize,
    /// Per play, hosts a resumed run already finished.
    done: Vec<BTreeMap<String, HostStatus>>,
    /// Per play, its maintenance windows.
    window_specs: Vec<Option<crate::rolling::window::Windows>>,
    /// Inventory groups and their hosts (for gates).
    groups: IndexMap<String, Vec<String>>,
    /// Hosts that ran at least one batch in this process.
    started: std::collections::HashSet<String>,
    /// Hosts of the current batch an interrupt stopped with work left (see `run_batch`).
    cut_short: std::collections::HashSet<String>,
    /// Hosts of the current batch whose failure or unreachability is already journaled.
    left_play: std::collections::HashSet<String>,
    /// Set when the current batch stops early (see [`BatchStop`]).
    batch_stop: Option<BatchStop>,
    /// Hosts `any_errors_fatal` took out although their rescue caught it: they leave the run,
    /// but, as in Ansible, fail its exit code only once another batch or play starts.
    rescued_then_removed: std::collections::HashSet<String>,
    halted: Option<Halt>,
    paused_until: Option<String>,
    /// The run's own inventory, which `add_host` and `group_by` change.
    inventory: Inventory,
    /// True once they did: later plays are planned when they start.
    inventory_changed: bool,
    /// Changes the results of the current task asked for, applied when it ends.
    pending_inventory: Vec<inventory_change::Change>,
}

impl Runner {
    fn new(
        input: &RunInput<'_>,
        mut control: RunControl,
        events: mpsc::Sender<Event>,
        cancel: CancellationToken,
    ) -> Self {
        let options = &input.options;
        let mut base_magic = Vars::new();
        let groups: IndexMap<String, Vec<String>> = input.inventory.groups_map();
        base_magic.insert(
            "groups".into(),
            Value::from(minijinja::value::Serde(&groups)),
        );
        base_magic.insert("ansible_check_mode".into(), Value::from(options.check));
        base_magic.insert("ansible_diff_mode".into(), Value::from(options.diff));
        base_magic.insert("ansible_verbosity".into(), Value::from(options.verbosity));
        base_magic.insert("ansible_forks".into(), Value::from(options.forks));
        base_magic.insert(
            "ansible_run_tags".into(),
            Value::from(options.tags.run_tags()),
        );
        base_magic.insert(
            "ansible_skip_tags".into(),
            Value::from(options.tags.skip_tags()),
        );
        base_magic.insert("ansible_version".into(), ansible_version());
        if let Some(id) = &control.run_id {
            base_magic.insert("rpatch_run_id".into(), Value::from(id.as_str()));
        }
        if let Some(stage) = &control.stage {
            base_magic.insert(
                crate::stages::STAGE_VAR.into(),
                Value::from(stage.name.as_str()),
            );
            if let Some(baseline) = &stage.baseline {
                base_magic.insert(
                    crate::stages::STAGE_BASELINE_VAR.into(),
                    Value::from(baseline.as_str()),
                );
            }
        }
        let playbook_path = std::path::absolute(&input.playbook.path)
            .unwrap_or_else(|_| input.playbook.path.clone());
        let playbook_dir = playbook_path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        base_magic.insert(
            "playbook_dir".into(),
            Value::from(playbook_dir.display().to_string()),
        );
        let forks = Arc::new(Semaphore::new(options.forks.max(1)));
        let done = std::mem::take(&mut control.done);
        let inventory_views = input
            .inventory
            .hosts()
            .map(|host| {
                let view = scope::HostView {
                    inventory_vars: Arc::new(input.inventory.host_vars(&host.name)),
                    facts: Arc::default(),
                    set_facts: Arc::default(),
                    magic: Arc::new(host_magic(input.inventory, &host.name)),
                };
                (host.name.clone(), view)
            })
            .collect();
        Self {
            shared: Arc::new(Shared {
                templar: input.templar.clone(),
                options: options.clone(),
                events,
            }),
            hosts: IndexMap::new(),
            inventory_views,
            extra_vars: input.extra_vars.clone(),
            base_magic: Arc::new(base_magic),
            forks,
            cancel,
            control,
            play_hosts: Vec::new(),
            play_index: 0,
            done,
            window_specs: input
                .playbook
                .plays
                .iter()
                .map(|p| p.rollout.windows.clone())
                .collect(),
            groups,
            started: std::collections::HashSet::new(),
            cut_short: std::collections::HashSet::new(),
            batch_stop: None,
            rescued_then_removed: std::collections::HashSet::new(),
            left_play: std::collections::HashSet::new(),
            halted: None,
            paused_until: None,
            inventory: input.inventory.clone(),
            inventory_changed: false,
            pending_inventory: Vec::new(),
        }
    }

    /// True when a resumed run's journal says this host finished some play already.
    fn was_done_before(&self, host: &str) -> bool {
        self.done.iter().any(|play| play.contains_key(host))
    }

    /// Creates state (variables and connection) for hosts seen for the first time; hosts a
    /// resumed run's journal marks failed or unreachable in an earlier play stay out.
    fn ensure_hosts(&mut self, names: &[String], play: usize) {
        let inventory = &self.inventory;
        for name in names {
            if self.hosts.contains_key(name) {
                continue;
            }
            let mut inventory_vars = inventory.host_vars(name);
            // `-u` is a default, as in Ansible: an inventory's `ansible_user` (or
            // `ansible_ssh_user`) for the host wins over it, and so does a play's
            // `remote_user:` (applied per play, see `reconnect_for_play`).
            let inventory_user = ["ansible_user", "ansible_ssh_user"]
                .iter()
                .any(|name| inventory_vars.contains_key(*name));
            if let Some(user) = &self.shared.options.remote_user {
                if !inventory_user {
                    inventory_vars.insert("ansible_user".into(), Value::from(user.as_str()));
                }
            }
            // A host without `ansible_host` is reached at its inventory name, and tasks see
            // it so (lowest precedence, as in Ansible).
            if !inventory_vars.contains_key("ansible_host") {
                inventory_vars.insert("ansible_host".into(), Value::from(name.as_str()));
            }
            let magic = host_magic(inventory, name);
            let scope = crate::template::Scope::new(vec![
                Arc::new(inventory_vars.clone()),
                self.extra_vars.clone(),
                Arc::new(magic.clone()),
            ]);
            let transport = connection::transport_for(
                &scope,
                &self.shared.templar,
                None,
                &self.shared.options.ssh,
            )
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
            let mut state = HostState::new(context);
            state.inventory_user = inventory_user;
            let failed_earlier = self.done.iter().take(play).any(|done| {
                matches!(
                    done.get(name),
                    Some(HostStatus::Failed | HostStatus::Unreachable)
                )
            });
            if failed_earlier {
                state.standing = Standing::Failed;
            }
            self.hosts.insert(name.clone(), state);
        }
    }

    fn interrupted(&self) -> bool {
        self.cancel.is_cancelled()
    }

    async fn send(&self, event: Event) {
        // The output task only goes away when the process is exiting; nothing to do then.
        let _ = self.shared.events.send(event).await;
    }

    /// Writes a state change to the journal and waits until it is on disk. A journal that
    /// cannot be written halts the run: rpatch does not go on without a record.
    async fn journal(&mut self, event: JournalEvent) {
        let Some(journal) = &self.control.journal else {
            return;
        };
        let observed = matches!(event, JournalEvent::BatchEnd { .. })
            .then(|| {
                self.control
                    .observer
                    .clone()
                    .map(|observer| (observer, event.clone()))
            })
            .flatten();
        match journal.append(event).await {
            Ok(()) => {
                if let Some((observer, event)) = observed {
                    // A notifier that stopped listening changes nothing for the run.
                    let _ = observer.send(event);
                }
            }
            Err(error) => self.journal_failed(error).await,
        }
    }

    /// The journal cannot be written: the run halts (rpatch will not go on without it).
    async fn journal_failed(&mut self, error: crate::rolling::journal::JournalError) {
        let message = format!("cannot write the run journal: {error}");
        self.send(Event::Warning {
            host: None,
            message: message.clone(),
        })
        .await;
        self.halted.get_or_insert(Halt::Journal(message));
        self.control.journal = None;
        self.cancel.cancel();
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
            pretty: false,
            diff: None,
            loop_summary: false,
        }))
        .await;
    }
}
