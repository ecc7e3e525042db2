//! `meta:` tasks: handlers, ending hosts, batches and plays, clearing host errors.
//!
//! As in Ansible's linear strategy, `when:` is evaluated per host for `flush_handlers`,
//! `end_host` and `noop`; `end_play`, `end_batch` and `clear_host_errors` act once for the
//! play, so their condition is evaluated on the first host only. A meta task whose condition
//! is false shows `skipping` and counts nothing in the recap.

use std::sync::Arc;

use super::events::{Event, Status};
use super::execute::{meta_condition_holds, Outcome};
use super::host::Standing;
use super::{BatchStop, Runner};
use crate::modules::ModuleResult;
use crate::playbook::{MetaAction, Play, Task};
use crate::vars::{Value, Vars};

impl Runner {
    /// Runs a meta task for the hosts that reached it (`members`) within the batch `batch`.
    pub(super) async fn run_meta(
        &mut self,
        meta: MetaAction,
        task: &Arc<Task>,
        play: &Play,
        batch: &[String],
        members: &[(String, Vec<Arc<Vars>>)],
    ) {
        let once = matches!(
            meta,
            MetaAction::EndPlay | MetaAction::EndBatch | MetaAction::ClearHostErrors
        );
        let deciding = if once {
            &members[..members.len().min(1)]
        } else {
            members
        };
        let applies = self.meta_applies_on(task, play, batch, deciding).await;
        match meta {
            MetaAction::FlushHandlers => {
                self.flush_handlers(play, &applies, super::play::Flow::Cursor)
                    .await;
            }
            MetaAction::EndHost => self.end_hosts(&applies),
            MetaAction::EndBatch if !applies.is_empty() => self.end_hosts(batch),
            MetaAction::EndPlay if !applies.is_empty() => {
                self.end_hosts(batch);
                self.batch_stop = Some(BatchStop::EndPlay);
            }
            MetaAction::ClearHostErrors if !applies.is_empty() => self.clear_host_errors(batch),
            _ => {}
        }
    }

    /// The hosts among `members` on which the task's `when:` holds; the others are reported
    /// skipped, and a condition that cannot be evaluated fails its host.
    async fn meta_applies_on(
        &mut self,
        task: &Arc<Task>,
        play: &Play,
        batch: &[String],
        members: &[(String, Vec<Arc<Vars>>)],
    ) -> Vec<String> {
        if task.settings.when.is_empty() {
            return members.iter().map(|(name, _)| name.clone()).collect();
        }
        let scope = self.play_scope(play, batch);
        let mut applies = Vec::new();
        let mut announced = false;
        for (name, include_vars) in members {
            let Some(context) = self.hosts.get(name).map(|host| host.context.clone()) else {
                continue;
            };
            let verdict = meta_condition_holds(&self.shared, &scope, &context, task, include_vars);
            if verdict == Ok(true) {
                applies.push(name.clone());
                continue;
            }
            if !announced {
                announced = true;
                self.send(Event::TaskStart {
                    name: task.display_name(),
                    hosts: members.len(),
                    handler: task.is_handler,
                })
                .await;
            }
            match verdict {
                Err(message) => {
                    let result = ModuleResult::failed(message.clone());
                    self.report_plain(name, &task.display_name(), Status::Failed, &result)
                        .await;
                    let outcome = Outcome::from_status(Status::Failed, Value::from(message));
                    self.apply(name, Some(task), outcome, super::play::Flow::Cursor, play);
                }
                _ => {
                    let result = ModuleResult::skipped("Conditional result was False");
                    self.report_plain(name, &task.display_name(), Status::Skipped, &result)
                        .await;
                }
            }
        }
        applies
    }

    /// Ends the play for these hosts (`end_host`, and every host for `end_batch`/`end_play`).
    fn end_hosts(&mut self, hosts: &[String]) {
        for name in hosts {
            if let Some(host) = self.hosts.get_mut(name).filter(|h| h.is_active()) {
                host.standing = Standing::Ended;
            }
        }
    }

    /// `clear_host_errors`: the play's failed and unreachable hosts take part in the later
    /// plays again (those of this batch are done with this play); their recap counters stay.
    fn clear_host_errors(&mut self, batch: &[String]) {
        for name in &self.play_hosts {
            if let Some(host) = self.hosts.get_mut(name) {
                host.marked_failed = false;
                if host.standing.is_out() {
                    host.standing = if batch.contains(name) {
                        Standing::Ended
                    } else {
                        Standing::Active
                    };
                }
            }
        }
    }
}
