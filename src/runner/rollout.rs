//! Rolling a play through its batches: windows, journal, failure budgets, gates, rollback.

use std::collections::HashMap;
use std::sync::Arc;

use super::events::{Event, GateReport};
use super::host::Standing;
use super::plan::{BatchPlan, PlayPlan};
use super::{BatchStop, Halt, Runner};
use crate::gates::{run_gate, GateContext, GateSpec, HostList};
use crate::playbook::{GateFailure, Play};
use crate::rolling::failure::Verdict;
use crate::rolling::journal::{BatchRef, HostStatus, JournalEvent};
use crate::transport::Transport;

impl Runner {
    /// Runs a play batch by batch; returns false when the run must stop (halt, window, Ctrl-C).
    pub(super) async fn run_rolling_play(
        &mut self,
        index: usize,
        play: &Play,
        plan: &PlayPlan,
    ) -> bool {
        let all_hosts: Vec<String> = plan
            .batches
            .iter()
            .flat_map(|b| b.hosts.iter().map(|(h, _)| h.clone()))
            .collect();
        self.send(Event::PlayStart {
            name: play.name.clone(),
            hosts: all_hosts.clone(),
        })
        .await;
        self.play_hosts = all_hosts;
        self.play_index = index;
        if !play.rollout.preflight_gates.is_empty()
            && !self
                .run_gates(index, None, play, &play.rollout.preflight_gates, &[])
                .await
        {
            self.halt(Halt::Gate("a pre-flight gate failed".into()), index, None)
                .await;
            return false;
        }
        let total = plan.batches.len();
        for (batch_index, batch) in plan.batches.iter().enumerate() {
            if self.interrupted() {
                return false;
            }
            let hosts: Vec<String> = batch
                .hosts
                .iter()
                .map(|(h, _)| h.clone())
                .filter(|h| !self.already_done(index, h))
                .collect();
            if hosts.is_empty() {
                let at = BatchRef {
                    play: index,
                    batch: batch_index,
                };
                if self.control.recheck_gates_after == Some(at)
                    && !self.recheck_gates(play, at, batch).await
                {
                    return false;
                }
                continue;
            }
            if !self.window_open(index, batch_index).await {
                return false;
            }
            self.journal(JournalEvent::BatchStart {
                play: index,
                batch: batch_index,
            })
            .await;
            self.send(Event::BatchStart {
                play: play.name.clone(),
                batch: batch_index + 1,
                batches: total,
                hosts: hosts.clone(),
            })
            .await;
            let active: Vec<String> = hosts
                .iter()
                .filter(|h| self.hosts.get(*h).is_some_and(|s| s.is_active()))
                .cloned()
                .collect();
            self.run_batch(play, active.clone()).await;
            if self.interrupted() {
                // Hosts that finished the play before the interrupt are journaled done, so a
                // resume never runs them again; the others start the play over.
                let finished: Vec<String> = active
                    .iter()
                    .filter(|host| !self.cut_short.contains(*host))
                    .cloned()
                    .collect();
                self.journal_batch_hosts(index, &finished).await;
                self.journal(JournalEvent::Interrupted {
                    reason: "SIGINT".into(),
                })
                .await;
                return false;
            }
            let stop = self.batch_stop.take();
            self.roll_back_failed(play, &active).await;
            match stop {
                Some(BatchStop::Budget(reason)) => {
                    // Hosts stopped with tasks left are not done: a resume runs them again.
                    let finished: Vec<String> = active
                        .iter()
                        .filter(|host| !self.cut_short.contains(*host))
                        .cloned()
                        .collect();
                    self.journal_batch_hosts(index, &finished).await;
                    self.halt(Halt::Failures(reason.to_string()), index, Some(batch_index))
                        .await;
                    return false;
                }
                Some(BatchStop::EndPlay) => {
                    self.end_play(
                        index,
                        batch_index,
                        &active,
                        &plan.batches[batch_index + 1..],
                    )
                    .await;
                    return true;
                }
                None => {}
            }
            let (failed, unreachable) = self.journal_batch_hosts(index, &active).await;
            if let Verdict::Halt { reason } =
                play.rollout
                    .failure
                    .verdict(active.len(), failed, unreachable)
            {
                self.halt(Halt::Failures(reason.to_string()), index, Some(batch_index))
                    .await;
                return false;
            }
            if !self
                .run_gates(index, Some(batch_index), play, &play.rollout.gates, &active)
                .await
            {
                if play.rollout.on_gate_failure == GateFailure::Rollback
                    && !play.rollback.is_empty()
                {
                    self.run_rollback(play, &active).await;
                }
                self.halt(
                    Halt::Gate(format!("a gate failed after batch {}", batch_index + 1)),
                    index,
                    Some(batch_index),
                )
                .await;
                return false;
            }
            self.journal(JournalEvent::BatchEnd {
                play: index,
                batch: batch_index,
                halted: None,
            })
            .await;
        }
        true
    }

    /// A resumed run that had halted after this batch, whose hosts are all done: its gates
    /// run again (the operator fixed the cause) before the rollout goes on; returns false when
    /// they fail again and the run halts again.
    async fn recheck_gates(&mut self, play: &Play, at: BatchRef, batch: &BatchPlan) -> bool {
        self.control.recheck_gates_after = None;
        let gates = &play.rollout.gates;
        let passed: Vec<String> = batch
            .hosts
            .iter()
            .map(|(host, _)| host.clone())
            .filter(|host| {
                self.done
                    .get(at.play)
                    .and_then(|done| done.get(host))
                    .is_some_and(|status| *status == HostStatus::Ok)
            })
            .collect();
        self.send(Event::Warning {
            host: None,
            message: format!(
                "the run halted after batch {}: checking its gates again before going on",
                at.batch + 1
            ),
        })
        .await;
        self.journal(JournalEvent::BatchStart {
            play: at.play,
            batch: at.batch,
        })
        .await;
        if !self
            .run_gates(at.play, Some(at.batch), play, gates, &passed)
            .await
        {
            self.halt(
                Halt::Gate(format!("a gate failed again after batch {}", at.batch + 1)),
                at.play,
                Some(at.batch),
            )
            .await;
            return false;
        }
        self.journal(JournalEvent::BatchEnd {
            play: at.play,
            batch: at.batch,
            halted: None,
        })
        .await;
        true
    }

    /// `meta: end_play`: the batch ends as finished, and the hosts of the play's later batches
    /// are journaled done with it, so a resume does not start them.
    async fn end_play(
        &mut self,
        play: usize,
        batch: usize,
        active: &[String],
        later: &[BatchPlan],
    ) {
        self.journal_batch_hosts(play, active).await;
        self.journal(JournalEvent::BatchEnd {
            play,
            batch,
            halted: None,
        })
        .await;
        for host in later.iter().flat_map(|b| b.hosts.iter().map(|(h, _)| h)) {
            // Ended with the play, not left behind by a halt: never listed as "not started".
            self.started.insert(host.clone());
            if !self.already_done(play, host) {
                self.journal(JournalEvent::HostDone {
                    play,
                    host: host.clone(),
                    status: HostStatus::Ok,
                })
                .await;
            }
        }
    }

    /// True when the journal of a resumed run says this host already finished this play.
    fn already_done(&self, play: usize, host: &str) -> bool {
        self.done
            .get(play)
            .is_some_and(|done| done.contains_key(host))
    }

    /// Checks the maintenance window before a batch; a closed one stops the run cleanly.
    async fn window_open(&mut self, play_index: usize, batch: usize) -> bool {
        let Some(windows) = self.windows_for(play_index) else {
            return true;
        };
        if self.control.emergency {
            return true;
        }
        let now = self.control.clock.now();
        if windows.is_open(now) {
            return true;
        }
        let next = windows.next_open(now).map(|zoned| zoned.timestamp());
        if let Some(until) = next {
            self.journal(JournalEvent::WindowPause { until }).await;
        }
        self.send(Event::WindowClosed {
            batch: batch + 1,
            next_open: next.map(|t| t.to_string()),
        })
        .await;
        self.paused_until = Some(
            next.map(|t| t.to_string())
                .unwrap_or_else(|| "never".into()),
        );
        false
    }

    fn windows_for(&self, play_index: usize) -> Option<crate::rolling::window::Windows> {
        self.window_specs.get(play_index).cloned().flatten()
    }

    /// Journals how each host of the batch ended (a failure already journaled when the host
    /// left the play is not written again); returns (failed, unreachable) counts.
    async fn journal_batch_hosts(&mut self, play: usize, hosts: &[String]) -> (usize, usize) {
        let (mut failed, mut unreachable) = (0, 0);
        for host in hosts {
            let Some(state) = self.hosts.get(host) else {
                continue;
            };
            let status = match state.standing {
                Standing::Failed => {
                    failed += 1;
                    HostStatus::Failed
                }
                Standing::Unreachable => {
                    unreachable += 1;
                    HostStatus::Unreachable
                }
                Standing::Active | Standing::Ended => HostStatus::Ok,
            };
            if status != HostStatus::Ok && !self.left_play.insert(host.clone()) {
                continue;
            }
            self.journal(JournalEvent::HostDone {
                play,
                host: host.clone(),
                status,
            })
            .await;
        }
        (failed, unreachable)
    }

    /// Runs gates in order; returns false at the first that fails.
    async fn run_gates(
        &mut self,
        play_index: usize,
        batch: Option<usize>,
        play: &Play,
        gates: &[GateSpec],
        batch_hosts: &[String],
    ) -> bool {
        if gates.is_empty() {
            return true;
        }
        let scope = super::scope::host_scope_for_play(&self.play_scope(play, batch_hosts));
        let host_list = |names: &[String]| -> HostList {
            names
                .iter()
                .filter_map(|name| {
                    self.hosts.get(name).map(|h| {
                        (
                            name.clone(),
                            h.context.transport.clone() as Arc<dyn Transport>,
                        )
                    })
                })
                .collect()
        };
        let groups: HashMap<String, HostList> = self
            .groups
            .iter()
            .map(|(group, members)| (group.clone(), host_list(members)))
            .collect();
        let resolver = move |group: &str| groups.get(group).cloned();
        let templar = self.shared.templar.clone();
        let context = GateContext::new(&templar, &scope, self.cancel.clone())
            .with_batch_hosts(host_list(batch_hosts))
            .with_groups(&resolver)
            .with_forks(self.shared.options.forks);
        for gate in gates {
            let outcome = run_gate(gate, &context).await;
            self.journal(JournalEvent::GateResult {
                play: play_index,
                batch,
                name: gate.name.clone(),
                passed: outcome.passed,
                attempts: outcome.attempts,
                message: outcome.message.clone(),
            })
            .await;
            self.send(Event::GateResult(GateReport {
                name: gate.name.clone(),
                batch: batch.map(|b| b + 1),
                passed: outcome.passed,
                attempts: outcome.attempts,
                message: outcome.message.clone(),
            }))
            .await;
            if !outcome.passed {
                return false;
            }
        }
        true
    }

    /// `on_gate_failure: rollback`: the play's rollback tasks on the batch's hosts.
    async fn run_rollback(&mut self, play: &Play, hosts: &[String]) {
        for host in hosts {
            if let Some(state) = self.hosts.get_mut(host) {
                if state.standing == Standing::Ended {
                    state.standing = Standing::Active;
                }
            }
        }
        self.send(Event::Warning {
            host: None,
            message: format!("rolling back batch: {}", hosts.join(", ")),
        })
        .await;
        self.run_section_on(play, hosts, Arc::new(play.rollback.clone()))
            .await;
    }

    /// `on_gate_failure: rollback` also undoes a failed host's work: the play's rollback
    /// tasks run on the hosts of the batch that failed or became unreachable (a guest's
    /// snapshot is reverted on its hypervisor even when the guest does not answer), before
    /// the failure budget is checked. They stay failed (or unreachable) afterwards.
    async fn roll_back_failed(&mut self, play: &Play, hosts: &[String]) {
        if play.rollout.on_gate_failure != GateFailure::Rollback || play.rollback.is_empty() {
            return;
        }
        let failed: Vec<(String, Standing)> = hosts
            .iter()
            .filter_map(|host| {
                let state = self.hosts.get(host)?;
                state
                    .standing
                    .is_out()
                    .then(|| (host.clone(), state.standing))
            })
            .collect();
        if failed.is_empty() {
            return;
        }
        let names: Vec<String> = failed.iter().map(|(host, _)| host.clone()).collect();
        for host in &names {
            if let Some(state) = self.hosts.get_mut(host) {
                state.standing = Standing::Active;
            }
        }
        self.send(Event::Warning {
            host: None,
            message: format!("rolling back failed host(s): {}", names.join(", ")),
        })
        .await;
        self.run_section_on(play, &names, Arc::new(play.rollback.clone()))
            .await;
        for (host, standing) in failed {
            if let Some(state) = self.hosts.get_mut(&host) {
                state.standing = standing;
            }
        }
    }

    /// Stops the run after a batch (`None`: before the first, a pre-flight gate failed):
    /// later batches are not started.
    async fn halt(&mut self, halt: Halt, play: usize, batch: Option<usize>) {
        let reason = halt.reason().to_string();
        if let Some(batch) = batch {
            self.journal(JournalEvent::BatchEnd {
                play,
                batch,
                halted: Some(reason.clone()),
            })
            .await;
        }
        self.send(Event::Halted { reason }).await;
        self.halted = Some(halt);
    }
}
