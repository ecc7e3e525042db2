//! `strategy: free`: each host of a batch walks its task list on its own, starting its next
//! task as soon as its last one finished, without waiting for the other hosts.
//!
//! Module tasks and includes run concurrently (bounded by `--forks`); a `meta:` or `run_once`
//! task, which acts on the batch, runs on its host alone while the others' tasks go on.
//! `throttle:` is not applied under this strategy.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::JoinSet;

use super::cursor::{Cursor, Step};
use super::events::{Event, Status};
use super::execute::{execute, Outcome};
use super::host::Standing;
use super::play::Flow;
use super::Runner;
use crate::playbook::{Action, Play, Task, TaskNode};
use crate::vars::Value;

impl Runner {
    /// Runs one task list on the batch's hosts, each at its own pace.
    pub(super) async fn run_section_free(
        &mut self,
        play: &Play,
        hosts: &[String],
        tasks: Arc<Vec<TaskNode>>,
    ) {
        for name in hosts {
            if let Some(host) = self.hosts.get_mut(name).filter(|h| h.is_active()) {
                host.cursor = Some(Cursor::new(tasks.clone()));
                host.pending = None;
            }
        }
        let mut joins = JoinSet::new();
        let mut running: HashMap<tokio::task::Id, (String, Arc<Task>)> = HashMap::new();
        let mut announced: Option<usize> = None;
        loop {
            let mut started_alone = false;
            for name in hosts {
                if running.values().any(|(busy, _)| busy == name) {
                    continue;
                }
                let Some(step) = self.next_free_step(name) else {
                    continue;
                };
                let Step::Run(task, include_vars, _) = step else {
                    continue;
                };
                if self.interrupted() || self.batch_stop.is_some() {
                    if let Some(host) = self.hosts.get_mut(name) {
                        host.pending = Some(Step::Run(task, include_vars, Vec::new()));
                    }
                    self.cut_short.insert(name.clone());
                    continue;
                }
                if matches!(task.action, Action::Meta(_)) || task.settings.run_once.is_some() {
                    let members = vec![(name.clone(), include_vars)];
                    self.run_task(play, hosts, &task, members, Flow::Cursor)
                        .await;
                    self.check_failure_budget(play, hosts);
                    started_alone = true;
                    continue;
                }
                let task = self.with_templated_name(play, hosts, &task);
                if announced != Some(task.id) {
                    announced = Some(task.id);
                    self.send(Event::TaskStart {
                        name: task.display_name(),
                        hosts: 1,
                        handler: task.is_handler,
                    })
                    .await;
                }
                let Some(context) = self.hosts.get(name).map(|host| host.context.clone()) else {
                    continue;
                };
                let scope = Arc::new(self.play_scope(play, hosts));
                let (shared, permits, running_task) =
                    (self.shared.clone(), self.forks.clone(), task.clone());
                let handle = joins.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    execute(&shared, &scope, &context, &running_task, &include_vars).await
                });
                running.insert(handle.id(), (name.clone(), task));
            }
            let Some(joined) = joins.join_next_with_id().await else {
                if started_alone {
                    continue;
                }
                return;
            };
            let (id, outcome) = match joined {
                Ok((id, outcome)) => (id, outcome),
                Err(error) => {
                    let msg = format!("internal error while running the task: {error}");
                    (
                        error.id(),
                        Outcome::from_status(Status::Failed, Value::from(msg)),
                    )
                }
            };
            let Some((name, task)) = running.remove(&id) else {
                continue;
            };
            let failing = outcome.status == Status::Unreachable
                || (outcome.status == Status::Failed && !outcome.ignored);
            self.apply(&name, Some(&task), outcome, Flow::Cursor, play);
            self.apply_inventory_changes(&task.display_name()).await;
            let fatal = task
                .settings
                .any_errors_fatal
                .unwrap_or(play.any_errors_fatal);
            if failing && fatal {
                self.mark_batch_failed(hosts, std::slice::from_ref(&name));
            }
            self.journal_left_play(hosts).await;
            self.check_failure_budget(play, hosts);
        }
    }

    /// The host's next task to run (tags applied), or `None` when it has nothing to run now.
    fn next_free_step(&mut self, name: &str) -> Option<Step> {
        let tags = &self.shared.options.tags;
        let host = self.hosts.get_mut(name).filter(|h| h.is_active())?;
        loop {
            let step = match host.pending.take() {
                Some(step) => step,
                None => host.cursor.as_mut()?.next_step(),
            };
            match step {
                Step::Run(task, _, _) if !tags.should_run(&task.settings.tags) => continue,
                Step::Failed => {
                    host.standing = Standing::Failed;
                    return None;
                }
                Step::Done => return None,
                run => return Some(run),
            }
        }
    }
}
