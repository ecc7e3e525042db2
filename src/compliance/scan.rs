//! Folding every run's journal into where each host stands.
//!
//! Per host: the last *patch run* it went through without failing (a run, not in check mode,
//! in which a package module or `patch_facts` reported on the host, and the host ended every
//! play ok); pending updates from the last run that listed them; whether a reboot is required
//! and since when (the start of the first run, in the unbroken series of runs up to the last
//! that reported it, saying so); the last run the host failed or was unreachable in, with the
//! task and message; the newest baseline whose hosts include it. Journals that cannot be read
//! are skipped with a warning: status must work on a partly damaged history.

use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use crate::baseline::Baseline;
use crate::rolling::journal::JOURNAL_FILE;
use crate::rolling::summary::{HostOutcome, RunSummary};

/// A run, as status shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRef {
    /// The run id.
    pub run_id: String,
    /// When it started.
    pub at: Timestamp,
}

/// A failure of a host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// The run id.
    pub run_id: String,
    /// When the failing task ended (the run's start when unknown).
    pub at: Timestamp,
    /// `failed` or `unreachable`.
    pub status: &'static str,
    /// The task that failed it.
    pub task: Option<String>,
    /// Why (as the task output showed it; the censoring notice for `no_log`).
    pub message: Option<String>,
}

/// Where one host stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostCompliance {
    /// The host.
    pub host: String,
    /// The last patch run it went through without failing.
    pub last_success: Option<RunRef>,
    /// The newest baseline that lists the host (its name is the run id that recorded it).
    pub baseline: Option<String>,
    /// Updates pending when its patch facts were last gathered.
    pub pending_updates: Option<usize>,
    /// How many of them are security updates.
    pub pending_security: Option<usize>,
    /// The run that last listed its pending updates.
    pub facts_from: Option<RunRef>,
    /// Whether it needs a reboot, as last reported.
    pub reboot_required: Option<bool>,
    /// Since when it has been reported to need one.
    pub reboot_required_since: Option<Timestamp>,
    /// The last run it failed or was unreachable in.
    pub last_failure: Option<Failure>,
}

impl HostCompliance {
    fn new(host: &str) -> Self {
        Self {
            host: host.to_string(),
            last_success: None,
            baseline: None,
            pending_updates: None,
            pending_security: None,
            facts_from: None,
            reboot_required: None,
            reboot_required_since: None,
            last_failure: None,
        }
    }
}

/// Every host of an inventory, in inventory order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compliance {
    /// Schema version of the JSON (`rpatch status --json`).
    pub format: u32,
    /// When it was computed.
    pub generated: Timestamp,
    /// Runs read.
    pub runs: usize,
    /// The hosts.
    pub hosts: Vec<HostCompliance>,
}

/// Reads every run under `runs_dir` and the baselines, for `hosts`.
pub fn compliance(hosts: &[String], runs_dir: &Path, baselines: &[Baseline]) -> Compliance {
    let mut states: Vec<HostCompliance> = hosts.iter().map(|h| HostCompliance::new(h)).collect();
    let mut ids: Vec<String> = std::fs::read_dir(runs_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.path().join(JOURNAL_FILE).is_file())
                .filter_map(|entry| entry.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    let mut runs = 0;
    for id in ids {
        let path = runs_dir.join(&id).join(JOURNAL_FILE);
        match RunSummary::from_journal(&path) {
            Ok(summary) => {
                runs += 1;
                for state in &mut states {
                    fold(state, &summary);
                }
            }
            Err(error) => eprintln!("[WARNING]: skipping run {id}: {error}"),
        }
    }
    for state in &mut states {
        state.baseline = baselines
            .iter()
            .filter(|b| b.systems.values().any(|s| s.hosts.contains(&state.host)))
            .max_by(|a, b| a.created.cmp(&b.created))
            .map(|b| b.run_id.clone());
    }
    Compliance {
        format: 1,
        generated: Timestamp::now(),
        runs,
        hosts: states,
    }
}

/// Folds one run (runs come oldest first) into a host's state.
fn fold(state: &mut HostCompliance, run: &RunSummary) {
    let entries: Vec<_> = run
        .plays
        .iter()
        .flat_map(|play| play.hosts.iter())
        .filter(|host| host.name == state.host)
        .collect();
    if entries.is_empty() {
        return;
    }
    let this = RunRef {
        run_id: run.run_id.clone(),
        at: run.started,
    };
    let failed = entries
        .iter()
        .find(|h| matches!(h.outcome, HostOutcome::Failed | HostOutcome::Unreachable));
    if let Some(host) = failed {
        let task = host.failure();
        state.last_failure = Some(Failure {
            run_id: run.run_id.clone(),
            at: task.map_or(run.started, |t| t.ended),
            status: if host.outcome == HostOutcome::Unreachable {
                "unreachable"
            } else {
                "failed"
            },
            task: task.map(|t| t.name.clone()),
            message: task.and_then(|t| t.message.clone()),
        });
    }
    let mut patch = crate::modules::PatchRecord::default();
    let mut reported = false;
    for host in &entries {
        if let Some(record) = &host.patch {
            patch.merge(record);
            reported = true;
        }
    }
    if !reported {
        return;
    }
    let all_ok = entries.iter().all(|h| h.outcome == HostOutcome::Ok);
    if all_ok && !run.check_mode {
        state.last_success = Some(this.clone());
    }
    if let Some(pending) = patch.pending {
        state.pending_updates = Some(pending);
        state.pending_security = patch.security;
        state.facts_from = Some(this.clone());
    }
    if let Some(required) = patch.reboot_required {
        if required && state.reboot_required != Some(true) {
            state.reboot_required_since = Some(run.started);
        }
        if !required {
            state.reboot_required_since = None;
        }
        state.reboot_required = Some(required);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rolling::journal::{
        HostStatus, JournalEvent, JournalRecord, JournalWriter, Plan, PlannedPlay, RunEndStatus,
        RunId, RunSettings, TaskStatus, FORMAT_VERSION,
    };

    /// Writes run `id` (started at `day` of January 2026) in which `web1` reports `patch` and
    /// ends ok, or fails its second task with `failure`.
    fn run(dir: &Path, id: &str, day: u8, patch: serde_json::Value, failure: Option<&str>) {
        let at = |minute: u8| -> Timestamp {
            format!("2026-01-{day:02}T00:{minute:02}:00Z")
                .parse()
                .expect("time")
        };
        let mut writer = JournalWriter::create(&dir.join(id)).expect("journal");
        let mut write = |minute: u8, event: JournalEvent| {
            writer
                .append_record(&JournalRecord {
                    at: at(minute),
                    event,
                })
                .expect("append");
        };
        write(
            0,
            JournalEvent::RunStart {
                format: FORMAT_VERSION,
                run_id: RunId::parse(id).expect("id"),
                playbook: "site.yml".into(),
                inventory: "hosts".into(),
                emergency: false,
                plan: Plan {
                    plays: vec![PlannedPlay {
                        name: "patch".into(),
                        batches: vec![vec!["web1".into()]],
                    }],
                },
                settings: Box::<RunSettings>::default(),
            },
        );
        write(1, JournalEvent::BatchStart { play: 0, batch: 0 });
        write(
            2,
            JournalEvent::HostResult {
                play: 0,
                host: "web1".into(),
                task: "facts".into(),
                status: TaskStatus::Ok,
                record: Some(serde_json::json!({ "patch": patch })),
                message: None,
            },
        );
        if let Some(message) = failure {
            write(
                3,
                JournalEvent::HostResult {
                    play: 0,
                    host: "web1".into(),
                    task: "check disk".into(),
                    status: TaskStatus::Failed,
                    record: None,
                    message: Some(message.into()),
                },
            );
        }
        let status = if failure.is_some() {
            HostStatus::Failed
        } else {
            HostStatus::Ok
        };
        write(
            4,
            JournalEvent::HostDone {
                play: 0,
                host: "web1".into(),
                status,
            },
        );
        write(
            5,
            JournalEvent::BatchEnd {
                play: 0,
                batch: 0,
                halted: None,
            },
        );
        write(
            6,
            JournalEvent::RunEnd {
                status: RunEndStatus::Completed,
            },
        );
    }

    #[test]
    fn runs_fold_into_last_success_pending_reboot_since_failure_and_baseline() {
        let dir = tempfile::tempdir().expect("dir");
        let (r1, r2, r3) = (
            "20260101T000000Z-0001",
            "20260102T000000Z-0002",
            "20260103T000000Z-0003",
        );
        run(
            dir.path(),
            r1,
            1,
            serde_json::json!({"pending": 3, "security": 1, "reboot_required": false}),
            None,
        );
        run(
            dir.path(),
            r2,
            2,
            serde_json::json!({"applied": 3, "reboot_required": true}),
            None,
        );
        run(
            dir.path(),
            r3,
            3,
            serde_json::json!({"pending": 0, "security": 0, "reboot_required": true}),
            Some("disk full"),
        );
        let mut baseline =
            Baseline::new(r2, "site.yml", "2026-01-02T00:10:00Z".parse().expect("t"));
        baseline.add(
            "web1",
            &crate::baseline::BaselineRecord {
                os: "debian-12".into(),
                packages: [("curl".to_string(), "7.88".to_string())].into(),
            },
        );
        let status = compliance(
            &["web1".to_string(), "web9".to_string()],
            dir.path(),
            &[baseline],
        );
        assert_eq!(status.runs, 3);
        let web1 = &status.hosts[0];
        assert_eq!(
            web1.last_success.as_ref().map(|r| r.run_id.as_str()),
            Some(r2)
        );
        assert_eq!(web1.pending_updates, Some(0));
        assert_eq!(web1.pending_security, Some(0));
        assert_eq!(
            web1.facts_from.as_ref().map(|r| r.run_id.as_str()),
            Some(r3)
        );
        assert_eq!(web1.reboot_required, Some(true));
        assert_eq!(
            web1.reboot_required_since,
            Some("2026-01-02T00:00:00Z".parse().expect("t")),
            "since the first run of the series that reported it"
        );
        let failure = web1.last_failure.as_ref().expect("failure");
        assert_eq!(failure.run_id, r3);
        assert_eq!(failure.task.as_deref(), Some("check disk"));
        assert_eq!(failure.message.as_deref(), Some("disk full"));
        assert_eq!(web1.baseline.as_deref(), Some(r2));
        let web9 = &status.hosts[1];
        assert!(web9.last_success.is_none() && web9.pending_updates.is_none());
        assert!(web9.baseline.is_none() && web9.last_failure.is_none());
    }
}
