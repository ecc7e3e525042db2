//! A run's summary rebuilt from its journal: one model behind `--report` (JSON, JUnit, HTML),
//! the fleet summary after the recap, and `rpatch runs` / `rpatch runs show`.
//!
//! Built only from journal lines, which hold no secrets (see [`super::journal`]): task names as
//! written, statuses, failure messages as the task output showed them (censored for `no_log`),
//! gate messages composed without credentials, and the package modules' patch records. A
//! resumed run's journal covers every process that worked on it, so the summary does too.

use std::path::Path;

use indexmap::IndexMap;
use jiff::Timestamp;
use serde::Serialize;

use super::journal::{
    HostStatus, JournalError, JournalEvent, JournalReader, JournalRecord, RunEndStatus, RunState,
    TaskStatus,
};
use crate::modules::PatchRecord;
use crate::runner::HostStats;

/// How a run stands, in one word (`rpatch runs`' STATUS column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every batch ran and no host failed or was unreachable.
    Ok,
    /// Every batch ran; some hosts failed or were unreachable.
    Failed,
    /// A gate or a failure budget stopped it; later batches did not start.
    Halted,
    /// A signal stopped it; `rpatch resume` continues it.
    Interrupted,
    /// The maintenance window closed; `rpatch resume` continues it.
    Paused,
    /// No end recorded: still running, or the controller died.
    Unfinished,
}

impl RunStatus {
    /// The word shown to people.
    pub fn word(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Halted => "halted",
            Self::Interrupted => "interrupted",
            Self::Paused => "paused",
            Self::Unfinished => "unfinished",
        }
    }
}

/// How a host ended a play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostOutcome {
    /// Went through the play.
    Ok,
    /// A task failed.
    Failed,
    /// Could not be reached.
    Unreachable,
    /// Started the play but did not finish it (interrupted, or still running).
    Unfinished,
    /// Its batch never started.
    NotStarted,
}

impl HostOutcome {
    /// The word shown to people.
    pub fn word(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Unreachable => "unreachable",
            Self::Unfinished => "unfinished",
            Self::NotStarted => "not started",
        }
    }
}

/// One task on one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskSummary {
    /// The task's name as written.
    pub name: String,
    /// How it ended.
    pub status: TaskStatus,
    /// Why it failed, for failed and unreachable tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it ended.
    pub ended: Timestamp,
    /// Seconds since the host's previous task ended (or its batch started).
    pub seconds: f64,
}

/// One host in one play.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostSummary {
    /// The host.
    pub name: String,
    /// How it ended the play.
    pub outcome: HostOutcome,
    /// 1-based batch it is planned in.
    pub batch: usize,
    /// Recap counts.
    pub stats: HostStats,
    /// Names of the tasks that changed something, in order.
    pub changed_tasks: Vec<String>,
    /// Every task result, in order.
    pub tasks: Vec<TaskSummary>,
    /// Patch state where the package modules reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<PatchRecord>,
}

impl HostSummary {
    /// The first failed or unreachable task that was not rescued or ignored, with its message.
    pub fn failure(&self) -> Option<&TaskSummary> {
        self.tasks
            .iter()
            .find(|t| matches!(t.status, TaskStatus::Failed | TaskStatus::Unreachable))
    }
}

/// One run of one batch (a resume may run a batch again).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchSummary {
    /// 1-based batch number.
    pub number: usize,
    /// Its hosts, as planned.
    pub hosts: Vec<String>,
    /// When it started.
    pub started: Timestamp,
    /// When it ended, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<Timestamp>,
    /// Seconds it took, if it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Why the run halted after it, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halted: Option<String>,
}

/// A gate check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateSummary {
    /// The gate's name.
    pub name: String,
    /// 1-based batch it followed; `None` for the pre-flight check.
    pub after_batch: Option<usize>,
    /// Whether it passed.
    pub passed: bool,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's output, as rpatch composed it (no credentials).
    pub message: String,
    /// When it was decided.
    pub at: Timestamp,
}

/// One play.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaySummary {
    /// The play's name.
    pub name: String,
    /// Batch runs, in the order they happened.
    pub batches: Vec<BatchSummary>,
    /// Gate checks, in order.
    pub gates: Vec<GateSummary>,
    /// Every planned host, in plan order.
    pub hosts: Vec<HostSummary>,
}

/// Hosts by patch state, over every play (a host counted once per state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FleetPatch {
    /// Hosts with updates still pending after their last report.
    pub pending: Vec<String>,
    /// Hosts that got updates applied (or would have, in check mode).
    pub applied: Vec<String>,
    /// Hosts that need a reboot.
    pub reboot_required: Vec<String>,
    /// Hosts with patch records that failed or were unreachable.
    pub failed: Vec<String>,
    /// Hosts reported up to date (no pending updates, nothing applied).
    pub up_to_date: Vec<String>,
}

/// A run, as its journal tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run id.
    pub run_id: String,
    /// The playbook's path.
    pub playbook: String,
    /// The inventory path(s).
    pub inventory: String,
    /// How it stands.
    pub status: RunStatus,
    /// Windows were ignored (`--emergency`).
    pub emergency: bool,
    /// `--check`: nothing was changed.
    pub check_mode: bool,
    /// When it started.
    pub started: Timestamp,
    /// When its journal last recorded something.
    pub ended: Timestamp,
    /// Seconds from start to the last record.
    pub seconds: f64,
    /// Why it halted (the gate or budget), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halted: Option<String>,
    /// Times `rpatch resume` continued it.
    pub resumes: usize,
    /// The plays.
    pub plays: Vec<PlaySummary>,
    /// The patch state of the fleet, when package modules reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<FleetPatch>,
    /// The run's stage and the baseline it installed, for a staged run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<crate::stages::StageRecord>,
}

impl RunSummary {
    /// Reads a run's journal (a partial last line, left by a crash, is ignored).
    pub fn from_journal(path: &Path) -> Result<Self, JournalError> {
        let state = JournalReader::replay_for_resume(path)?;
        let bytes = std::fs::read(path).map_err(|source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let records: Vec<JournalRecord> = bytes
            .split(|b| *b == b'\n')
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect();
        Ok(Self::build(&state, &records))
    }

    /// Builds the summary from a replayed state and the journal's records.
    pub fn build(state: &RunState, records: &[JournalRecord]) -> Self {
        let mut plays: Vec<PlaySummary> = state
            .plan
            .plays
            .iter()
            .map(|planned| PlaySummary {
                name: planned.name.clone(),
                batches: Vec::new(),
                gates: Vec::new(),
                hosts: planned
                    .batches
                    .iter()
                    .enumerate()
                    .flat_map(|(batch, hosts)| {
                        hosts.iter().map(move |host| HostSummary {
                            name: host.clone(),
                            outcome: HostOutcome::NotStarted,
                            batch: batch + 1,
                            stats: HostStats::default(),
                            changed_tasks: Vec::new(),
                            tasks: Vec::new(),
                            patch: None,
                        })
                    })
                    .collect(),
            })
            .collect();
        let mut halted = None;
        let mut resumes = 0;
        let mut last_at = state.started_at;
        // Per (play, host): when its previous task ended, for task durations.
        let mut previous: IndexMap<(usize, String), Timestamp> = IndexMap::new();
        let mut batch_started: IndexMap<usize, Timestamp> = IndexMap::new();
        for record in records {
            last_at = last_at.max(record.at);
            match &record.event {
                JournalEvent::Resumed => resumes += 1,
                JournalEvent::BatchStart { play, batch } => {
                    if let Some(summary) = plays.get_mut(*play) {
                        summary.batches.push(BatchSummary {
                            number: batch + 1,
                            hosts: state
                                .plan
                                .plays
                                .get(*play)
                                .and_then(|p| p.batches.get(*batch))
                                .cloned()
                                .unwrap_or_default(),
                            started: record.at,
                            ended: None,
                            seconds: None,
                            halted: None,
                        });
                        for host in &summary.hosts {
                            if host.batch == batch + 1 {
                                previous.insert((*play, host.name.clone()), record.at);
                            }
                        }
                        batch_started.insert(*play, record.at);
                    }
                }
                JournalEvent::BatchEnd {
                    play,
                    batch,
                    halted: reason,
                } => {
                    if let Some(run) = plays.get_mut(*play).and_then(|p| {
                        p.batches
                            .iter_mut()
                            .rev()
                            .find(|b| b.number == batch + 1 && b.ended.is_none())
                    }) {
                        run.ended = Some(record.at);
                        run.seconds = Some(seconds_between(run.started, record.at));
                        run.halted = reason.clone();
                    }
                    if reason.is_some() {
                        halted = reason.clone();
                    }
                }
                JournalEvent::HostResult {
                    play,
                    host,
                    task,
                    status,
                    record: kept,
                    message,
                } => {
                    let Some(summary) = host_mut(&mut plays, *play, host) else {
                        continue;
                    };
                    let since = previous
                        .get(&(*play, host.clone()))
                        .copied()
                        .or_else(|| batch_started.get(play).copied())
                        .unwrap_or(record.at);
                    previous.insert((*play, host.clone()), record.at);
                    count(&mut summary.stats, *status);
                    if *status == TaskStatus::Changed {
                        summary.changed_tasks.push(task.clone());
                    }
                    if summary.outcome == HostOutcome::NotStarted {
                        summary.outcome = HostOutcome::Unfinished;
                    }
                    if let Some(patch) = kept.as_ref().and_then(PatchRecord::from_record) {
                        summary
                            .patch
                            .get_or_insert_with(Default::default)
                            .merge(&patch);
                    }
                    summary.tasks.push(TaskSummary {
                        name: task.clone(),
                        status: *status,
                        message: message.clone(),
                        ended: record.at,
                        seconds: seconds_between(since, record.at),
                    });
                }
                JournalEvent::HostDone { play, host, status } => {
                    if let Some(summary) = host_mut(&mut plays, *play, host) {
                        summary.outcome = match status {
                            HostStatus::Ok => HostOutcome::Ok,
                            HostStatus::Failed => HostOutcome::Failed,
                            HostStatus::Unreachable => HostOutcome::Unreachable,
                        };
                    }
                }
                JournalEvent::GateResult {
                    play,
                    batch,
                    name,
                    passed,
                    attempts,
                    message,
                } => {
                    if let Some(summary) = plays.get_mut(*play) {
                        summary.gates.push(GateSummary {
                            name: name.clone(),
                            after_batch: batch.map(|b| b + 1),
                            passed: *passed,
                            attempts: *attempts,
                            message: message.clone(),
                            at: record.at,
                        });
                    }
                }
                JournalEvent::RunStart { .. }
                | JournalEvent::WindowPause { .. }
                | JournalEvent::Interrupted { .. }
                | JournalEvent::RunEnd { .. }
                | JournalEvent::Notification { .. }
                | JournalEvent::InventoryChanged { .. }
                | JournalEvent::PlayReplanned { .. } => {}
            }
        }
        let status = run_status(state, &plays);
        if status != RunStatus::Halted {
            halted = None;
        }
        let patch = fleet_patch(&plays);
        Self {
            run_id: state.run_id.to_string(),
            playbook: state.playbook.clone(),
            inventory: state.inventory.clone(),
            status,
            emergency: state.emergency,
            check_mode: state.settings.check,
            started: state.started_at,
            ended: last_at,
            seconds: seconds_between(state.started_at, last_at),
            halted,
            resumes,
            plays,
            patch,
            stage: state.settings.stage.clone(),
        }
    }

    /// Hosts by how they ended, over every play: (ok, failed, unreachable, not started), a
    /// host counted by its worst outcome.
    pub fn host_counts(&self) -> HostCounts {
        let mut worst: IndexMap<&str, HostOutcome> = IndexMap::new();
        for host in self.plays.iter().flat_map(|p| &p.hosts) {
            let entry = worst.entry(&host.name).or_insert(host.outcome);
            if rank(host.outcome) > rank(*entry) {
                *entry = host.outcome;
            }
        }
        let mut counts = HostCounts::default();
        for outcome in worst.values() {
            match outcome {
                HostOutcome::Ok => counts.ok += 1,
                HostOutcome::Failed => counts.failed += 1,
                HostOutcome::Unreachable => counts.unreachable += 1,
                HostOutcome::Unfinished => counts.unfinished += 1,
                HostOutcome::NotStarted => counts.not_started += 1,
            }
        }
        counts
    }

    /// Every failed or unreachable host, with the play and the task that failed it.
    pub fn failures(&self) -> Vec<(&PlaySummary, &HostSummary)> {
        self.plays
            .iter()
            .flat_map(|play| play.hosts.iter().map(move |host| (play, host)))
            .filter(|(_, host)| {
                matches!(host.outcome, HostOutcome::Failed | HostOutcome::Unreachable)
            })
            .collect()
    }

    /// The gate whose failure halted the run, if one did.
    pub fn failed_gate(&self) -> Option<&GateSummary> {
        self.halted.as_ref()?;
        self.plays
            .iter()
            .flat_map(|p| &p.gates)
            .rev()
            .find(|g| !g.passed)
    }
}

/// Hosts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HostCounts {
    /// Went through every play.
    pub ok: usize,
    /// Failed a play.
    pub failed: usize,
    /// Unreachable.
    pub unreachable: usize,
    /// Started and did not finish.
    pub unfinished: usize,
    /// Never started.
    pub not_started: usize,
}

fn rank(outcome: HostOutcome) -> u8 {
    match outcome {
        HostOutcome::Ok => 0,
        HostOutcome::NotStarted => 1,
        HostOutcome::Unfinished => 2,
        HostOutcome::Unreachable => 3,
        HostOutcome::Failed => 4,
    }
}

fn host_mut<'a>(
    plays: &'a mut [PlaySummary],
    play: usize,
    host: &str,
) -> Option<&'a mut HostSummary> {
    plays
        .get_mut(play)?
        .hosts
        .iter_mut()
        .find(|h| h.name == host)
}

fn count(stats: &mut HostStats, status: TaskStatus) {
    match status {
        TaskStatus::Ok => stats.ok += 1,
        TaskStatus::Changed => {
            stats.ok += 1;
            stats.changed += 1;
        }
        TaskStatus::Failed => stats.failed += 1,
        TaskStatus::Unreachable => stats.unreachable += 1,
        TaskStatus::Skipped => stats.skipped += 1,
        TaskStatus::Rescued => stats.rescued += 1,
        TaskStatus::Ignored => {
            stats.ok += 1;
            stats.ignored += 1;
        }
    }
}

fn seconds_between(from: Timestamp, to: Timestamp) -> f64 {
    let millis = to.as_millisecond() - from.as_millisecond();
    (millis.max(0) as f64) / 1000.0
}

fn run_status(state: &RunState, plays: &[PlaySummary]) -> RunStatus {
    match state.finished {
        Some(RunEndStatus::Halted) => RunStatus::Halted,
        Some(RunEndStatus::Completed) => {
            let bad = plays
                .iter()
                .flat_map(|p| &p.hosts)
                .any(|h| matches!(h.outcome, HostOutcome::Failed | HostOutcome::Unreachable));
            if bad {
                RunStatus::Failed
            } else {
                RunStatus::Ok
            }
        }
        None if state.paused_until.is_some() => RunStatus::Paused,
        None if state.interrupted.is_some() => RunStatus::Interrupted,
        None => RunStatus::Unfinished,
    }
}

fn fleet_patch(plays: &[PlaySummary]) -> Option<FleetPatch> {
    let mut fleet = FleetPatch::default();
    let mut any = false;
    let mut seen = Vec::new();
    for host in plays.iter().flat_map(|p| &p.hosts) {
        let Some(patch) = &host.patch else { continue };
        any = true;
        if seen.contains(&host.name) {
            continue;
        }
        seen.push(host.name.clone());
        let add = |list: &mut Vec<String>| list.push(host.name.clone());
        if matches!(host.outcome, HostOutcome::Failed | HostOutcome::Unreachable) {
            add(&mut fleet.failed);
        }
        if patch.applied.is_some_and(|n| n > 0) {
            add(&mut fleet.applied);
        }
        if patch.pending.is_some_and(|n| n > 0) {
            add(&mut fleet.pending);
        }
        if patch.reboot_required == Some(true) {
            add(&mut fleet.reboot_required);
        }
        if patch.pending == Some(0) && patch.applied.is_none_or(|n| n == 0) {
            add(&mut fleet.up_to_date);
        }
    }
    any.then_some(fleet)
}
