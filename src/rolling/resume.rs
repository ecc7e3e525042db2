//! What `rpatch resume` continues, worked out from a replayed journal: which hosts count as
//! done, which run again, and the halted batch whose gates are checked again first.
//!
//! Invariants: a host that finished a play with `ok` is never run in it again; an unreachable
//! host always runs again; a failed host runs again only when the operator asks
//! (`--retry-failed`). A run that completed with nothing to run again cannot be resumed.

use std::collections::BTreeMap;

use super::journal::{BatchRef, HostStatus, RunEndStatus, RunState};

/// What a resume runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeScope {
    /// Per play, the hosts that stay done (they are skipped).
    pub done: Vec<BTreeMap<String, HostStatus>>,
    /// Hosts that run again (unreachable, or failed with `--retry-failed`), once each.
    pub retried: Vec<String>,
    /// The batch after which the run halted: its gates are checked again before the rollout
    /// goes on (unless its hosts run again, and the gates follow them as usual).
    pub recheck_gates_after: Option<BatchRef>,
}

/// Why a run cannot be resumed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NothingToResume {
    /// It completed, and no host is left to run again.
    #[error("the run completed; no host is left to run again")]
    Completed {
        /// Hosts that failed (they would run again with `--retry-failed`).
        failed: usize,
    },
    /// A task changed the run's inventory (`add_host`, `group_by`), which a resume cannot
    /// re-create: hosts done would not run those tasks again.
    #[error("the run changed its inventory while it ran ({change}); a resume cannot re-create hosts and groups added by add_host or group_by: start a new run")]
    InventoryChanged {
        /// The first change.
        change: String,
    },
}

/// Works out what resuming `state` runs.
pub fn resume_scope(state: &RunState, retry_failed: bool) -> Result<ResumeScope, NothingToResume> {
    if let Some(change) = &state.inventory_changed {
        return Err(NothingToResume::InventoryChanged {
            change: change.clone(),
        });
    }
    let again = |status: HostStatus| match status {
        HostStatus::Ok => false,
        HostStatus::Unreachable => true,
        HostStatus::Failed => retry_failed,
    };
    let mut retried: Vec<String> = Vec::new();
    let done: Vec<BTreeMap<String, HostStatus>> = state
        .done
        .iter()
        .map(|play| {
            play.iter()
                .filter(|(host, status)| {
                    let run_again = again(**status);
                    if run_again && !retried.contains(host) {
                        retried.push((*host).clone());
                    }
                    !run_again
                })
                .map(|(host, status)| (host.clone(), *status))
                .collect()
        })
        .collect();
    if state.finished == Some(RunEndStatus::Completed) && retried.is_empty() {
        let failed = state
            .done
            .iter()
            .flat_map(BTreeMap::values)
            .filter(|status| **status == HostStatus::Failed)
            .count();
        return Err(NothingToResume::Completed { failed });
    }
    Ok(ResumeScope {
        done,
        retried,
        recheck_gates_after: state.halted_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rolling::journal::{Plan, PlannedPlay, RunId, RunSettings};

    #[test]
    fn a_run_that_changed_its_inventory_is_not_resumed() {
        let mut changed = state(&[("a", HostStatus::Unreachable)], None);
        changed.inventory_changed = Some("play 1, task `add`: added host new1".into());
        let refusal = resume_scope(&changed, false).expect_err("refused");
        assert!(refusal.to_string().contains("added host new1"), "{refusal}");
    }

    fn state(done: &[(&str, HostStatus)], finished: Option<RunEndStatus>) -> RunState {
        RunState {
            run_id: RunId::parse("20261123T164500Z-4f2a").expect("id"),
            started_at: jiff::Timestamp::UNIX_EPOCH,
            playbook: "site.yml".into(),
            inventory: "hosts.ini".into(),
            emergency: false,
            settings: RunSettings::default(),
            plan: Plan {
                plays: vec![PlannedPlay {
                    name: "p".into(),
                    batches: vec![vec!["a".into(), "b".into()], vec!["c".into()]],
                }],
            },
            done: vec![done
                .iter()
                .map(|(host, status)| (host.to_string(), *status))
                .collect()],
            running_batch: None,
            ended_batches: Vec::new(),
            last_task: BTreeMap::new(),
            gates: Vec::new(),
            paused_until: None,
            inventory_changed: None,
            interrupted: None,
            halted_after: Some(BatchRef { play: 0, batch: 0 }),
            finished,
            valid_len: 0,
            dropped_tail: None,
        }
    }

    #[test]
    fn unreachable_hosts_run_again_and_failed_ones_only_when_asked() {
        let halted = state(
            &[("a", HostStatus::Failed), ("b", HostStatus::Unreachable)],
            Some(RunEndStatus::Halted),
        );
        let scope = resume_scope(&halted, false).expect("resumable");
        assert_eq!(scope.retried, ["b"]);
        assert_eq!(scope.done[0].keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(
            scope.recheck_gates_after,
            Some(BatchRef { play: 0, batch: 0 })
        );
        let scope = resume_scope(&halted, true).expect("resumable");
        assert_eq!(scope.retried, ["a", "b"]);
        assert!(scope.done[0].is_empty());
    }

    #[test]
    fn a_completed_run_resumes_only_with_hosts_to_run_again() {
        let all = [
            ("a", HostStatus::Ok),
            ("b", HostStatus::Failed),
            ("c", HostStatus::Ok),
        ];
        let completed = state(&all, Some(RunEndStatus::Completed));
        assert_eq!(
            resume_scope(&completed, false),
            Err(NothingToResume::Completed { failed: 1 })
        );
        assert_eq!(
            resume_scope(&completed, true).expect("b again").retried,
            ["b"]
        );
    }
}
