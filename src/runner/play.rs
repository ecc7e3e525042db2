//! Running one play: host selection, fact gathering, the linear task loop and handlers.
//!
//! Every host walks the task list with its own [`Cursor`]; the play advances by running the
//! earliest pending task on every host waiting for it, concurrently (bounded by `--forks`),
//! so hosts in a `rescue` branch and hosts going on stay in step, as Ansible's linear
//! strategy does.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use tokio::task::JoinSet;

use super::cursor::{Cursor, FailOutcome, Step};
use super::events::{Event, Status};
use super::execute::{execute, Outcome};
use super::host::{HostState, Standing};
use super::scope::{HostVars, HostView, PlayScope, OMIT};
use super::Runner;
use crate::modules::{self, ModuleContext};
use crate::playbook::{Action, Play, Strategy, Task, TaskNode};
use crate::rolling::journal::{HostStatus, JournalEvent, TaskStatus};
use crate::vars::{Value, Vars};

/// How a task's failure is handled.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    /// Through the host's cursor (block/rescue/always).
    Cursor,
    /// Directly: a failure ends the host (handlers, fact gathering).
    Direct,
}

impl Runner {
    /// Runs one batch of a play: facts, the task sections and handlers, on these hosts.
    ///
    /// After an interrupt no new task starts; hosts left with work to do are recorded in
    /// `cut_short`, and every other host of the batch has finished the play (a host whose last
    /// task was running when Ctrl-C came finished it, and is done).
    pub(super) async fn run_batch(&mut self, play: &Play, hosts: Vec<String>) {
        self.cut_short.clear();
        self.left_play.clear();
        self.batch_stop = None;
        // Ansible marks them failed again when its next batch or play starts.
        self.rescued_then_removed.clear();
        self.started.extend(hosts.iter().cloned());
        if hosts.is_empty() {
            return;
        }
        for name in &hosts {
            self.reconnect_for_play(name, play);
        }
        if play.gather_facts {
            self.gather_facts(play, &hosts).await;
        }
        // No early break on an interrupt: a section stops at its first task to run and marks
        // its hosts cut short, while an empty one leaves them as finished as they are.
        for section in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
            self.run_section_on(play, &hosts, Arc::new(section.clone()))
                .await;
        }
        for name in &hosts {
            if let Some(host) = self.hosts.get_mut(name) {
                if host.standing == Standing::Ended {
                    host.standing = Standing::Active;
                }
                if std::mem::take(&mut host.marked_failed) && !host.standing.is_out() {
                    host.standing = Standing::Failed;
                    self.rescued_then_removed.insert(name.clone());
                }
                host.notified.clear();
                host.cursor = None;
                host.pending = None;
            }
        }
    }

    /// Runs a task list on hosts, then the handlers they notified.
    pub(super) async fn run_section_on(
        &mut self,
        play: &Play,
        hosts: &[String],
        tasks: Arc<Vec<TaskNode>>,
    ) {
        self.run_section(play, hosts, tasks).await;
        self.flush_handlers(play, hosts, Flow::Direct).await;
    }

    /// Re-opens the transport when the play sets `connection:`, or when the login user
    /// changes: Ansible's order is the inventory's `ansible_user`, then the play's
    /// `remote_user:`, then `-u`, then ssh_config. The user chosen is also what
    /// `{{ ansible_user }}` shows during the play.
    fn reconnect_for_play(&mut self, name: &str, play: &Play) {
        let Some(host) = self.hosts.get(name) else {
            return;
        };
        let mut context = host.context.clone();
        let mut user_changed = false;
        let mut problem = None;
        if !host.inventory_user {
            let wanted = match &play.remote_user {
                Some(user) if user.contains("{{") => {
                    let scope = super::scope::host_scope(&self.play_scope(play, &[]), &context);
                    match self.shared.templar.render_to_string(user, &scope) {
                        Ok(user) => Some(user),
                        Err(error) => {
                            problem = Some(format!("remote_user: {error}"));
                            None
                        }
                    }
                }
                Some(user) => Some(user.clone()),
                None => self.shared.options.remote_user.clone(),
            };
            let current = context
                .inventory_vars
                .get("ansible_user")
                .and_then(|v| v.as_str().map(str::to_string));
            if wanted != current {
                let mut vars = (*context.inventory_vars).clone();
                match &wanted {
                    Some(user) => {
                        vars.insert("ansible_user".into(), Value::from(user.as_str()));
                    }
                    None => {
                        vars.shift_remove("ansible_user");
                    }
                }
                context.inventory_vars = Arc::new(vars);
                user_changed = true;
            }
        }
        if play.connection.is_none() && !user_changed && problem.is_none() {
            return;
        }
        let scope = super::scope::host_scope(&self.play_scope(play, &[]), &context);
        let transport = match problem {
            Some(problem) => Err(crate::transport::TransportError::Connect(problem)),
            None => super::connection::transport_for(
                &scope,
                &self.shared.templar,
                play.connection.as_deref(),
                &self.shared.options.ssh,
            ),
        }
        .unwrap_or_else(|error| Arc::new(crate::transport::UnavailableTransport::new(error)));
        if let Some(host) = self.hosts.get_mut(name) {
            host.context.inventory_vars = context.inventory_vars;
            host.context.transport = transport;
        }
    }

    /// Variables shared by every host of the play, with a fresh `hostvars` snapshot.
    pub(super) fn play_scope(&self, play: &Play, hosts: &[String]) -> PlayScope {
        let mut magic = (*self.base_magic).clone();
        let names = |list: &[String]| -> Value {
            Value::from(
                list.iter()
                    .map(|h| Value::from(h.as_str()))
                    .collect::<Vec<_>>(),
            )
        };
        let active: Vec<String> = self
            .play_hosts
            .iter()
            .filter(|h| self.hosts.get(*h).is_none_or(|s| !s.standing.is_out()))
            .cloned()
            .collect();
        magic.insert("play_hosts".into(), names(&active));
        magic.insert("ansible_play_hosts".into(), names(&active));
        magic.insert("ansible_play_hosts_all".into(), names(&self.play_hosts));
        let batch: Vec<String> = hosts
            .iter()
            .filter(|h| self.hosts.get(*h).is_none_or(|s| !s.standing.is_out()))
            .cloned()
            .collect();
        magic.insert("ansible_play_batch".into(), names(&batch));
        magic.insert("ansible_play_name".into(), Value::from(play.name.as_str()));
        magic.insert("omit".into(), Value::from(OMIT));
        let mut views: IndexMap<String, HostView> = self
            .inventory_views
            .iter()
            .map(|(name, view)| match self.hosts.get(name) {
                Some(host) => (name.clone(), HostView::of(&host.context)),
                None => (name.clone(), view.clone()),
            })
            .collect();
        for (name, host) in &self.hosts {
            if !views.contains_key(name) {
                views.insert(name.clone(), HostView::of(&host.context));
            }
        }
        magic.insert("hostvars".into(), HostVars::value(views));
        PlayScope {
            play_vars: play.vars.clone(),
            role_defaults: play.role_defaults.clone(),
            role_vars: play.role_vars.clone(),
            extra_vars: self.extra_vars.clone(),
            magic: Arc::new(magic),
        }
    }

    async fn gather_facts(&mut self, play: &Play, hosts: &[String]) {
        let members: Vec<String> = hosts
            .iter()
            .filter(|name| self.hosts.get(*name).is_some_and(HostState::is_active))
            .cloned()
            .collect();
        self.send(Event::TaskStart {
            name: "Gathering Facts".into(),
            hosts: members.len(),
            handler: false,
        })
        .await;
        let mut joins = JoinSet::new();
        let mut names = HashMap::new();
        for name in &members {
            let Some(host) = self.hosts.get(name) else {
                continue;
            };
            let context = host.context.clone();
            let shared = self.shared.clone();
            let permits = self.forks.clone();
            let handle = joins.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let scope = Value::from(());
                let ctx = ModuleContext {
                    host: &context.name,
                    transport: context.transport.as_ref(),
                    check_mode: false,
                    diff: false,
                    escalation: None,
                    env: Vec::new(),
                    timeout: shared.options.command_timeout,
                    templar: &shared.templar,
                    scope: &scope,
                };
                modules::run(&modules::Setup, &Value::from(()), &ctx).await
            });
            names.insert(handle.id(), name.clone());
        }
        while let Some(joined) = joins.join_next_with_id().await {
            let (name, result) = match joined {
                Ok((id, result)) => (names.remove(&id), result),
                Err(error) => (
                    names.remove(&error.id()),
                    crate::modules::ModuleResult::failed(format!(
                        "fact gathering crashed: {error}"
                    )),
                ),
            };
            let Some(name) = name else { continue };
            let status = if result.unreachable {
                Status::Unreachable
            } else if result.failed {
                Status::Failed
            } else {
                Status::Ok
            };
            if let Some(host) = self.hosts.get_mut(&name) {
                if let Some(facts) = result.facts.clone() {
                    host.set_gathered_facts(facts);
                }
            }
            self.report_plain(&name, "Gathering Facts", status, &result)
                .await;
            let outcome = Outcome::from_status(status, result.to_value());
            self.apply(&name, None, outcome, Flow::Direct, play);
        }
        self.journal_left_play(hosts).await;
    }

    /// Runs one task list on the play's hosts until every host is done with it.
    pub(super) async fn run_section(
        &mut self,
        play: &Play,
        hosts: &[String],
        tasks: Arc<Vec<TaskNode>>,
    ) {
        if play.strategy == Strategy::Free {
            return self.run_section_free(play, hosts, tasks).await;
        }
        for name in hosts {
            if let Some(host) = self.hosts.get_mut(name).filter(|h| h.is_active()) {
                host.cursor = Some(Cursor::new(tasks.clone()));
                host.pending = None;
            }
        }
        loop {
            let mut next: Option<Vec<usize>> = None;
            for name in hosts {
                let Some(host) = self.hosts.get_mut(name).filter(|h| h.is_active()) else {
                    continue;
                };
                if host.pending.is_none() {
                    host.pending = host.cursor.as_mut().map(Cursor::next_step);
                }
                match &host.pending {
                    Some(Step::Run(_, _, order)) => {
                        if next.as_ref().is_none_or(|n| order < n) {
                            next = Some(order.clone());
                        }
                    }
                    Some(Step::Failed) => {
                        host.standing = Standing::Failed;
                        host.pending = None;
                    }
                    Some(Step::Done) | None => {}
                }
            }
            let Some(next) = next else { return };
            let mut task: Option<Arc<Task>> = None;
            let mut members = Vec::new();
            for name in hosts {
                let Some(host) = self.hosts.get_mut(name).filter(|h| h.is_active()) else {
                    continue;
                };
                if matches!(&host.pending, Some(Step::Run(_, _, order)) if *order == next) {
                    if let Some(Step::Run(t, include_vars, _)) = host.pending.take() {
                        task = Some(t);
                        members.push((name.clone(), include_vars));
                    }
                }
            }
            let Some(task) = task else { return };
            if !self.shared.options.tags.should_run(&task.settings.tags) {
                continue;
            }
            if self.interrupted() || self.batch_stop.is_some() {
                // Hosts with a task still to run stop mid-play; the others are done with it.
                self.cut_short
                    .extend(members.into_iter().map(|(name, _)| name));
                for name in hosts {
                    let waiting = self.hosts.get(name).is_some_and(|host| {
                        host.is_active() && matches!(host.pending, Some(Step::Run(..)))
                    });
                    if waiting {
                        self.cut_short.insert(name.clone());
                    }
                }
                return;
            }
            // A block that failed after its `always` took hosts out while stepping.
            self.journal_left_play(hosts).await;
            self.run_task(play, hosts, &task, members, Flow::Cursor)
                .await;
            self.check_failure_budget(play, hosts);
        }
    }

    /// Ansible checks `max_fail_percentage` after every task, not only after the batch: once
    /// the batch's failures exceed the budget, its remaining tasks run on no host.
    pub(super) fn check_failure_budget(&mut self, play: &Play, batch: &[String]) {
        if self.batch_stop.is_some() {
            return;
        }
        let standings: Vec<Standing> = batch
            .iter()
            .filter_map(|name| self.hosts.get(name).map(|host| host.standing))
            .collect();
        if !standings.contains(&Standing::Active) {
            return;
        }
        let count = |wanted: Standing| standings.iter().filter(|s| **s == wanted).count();
        let verdict = play.rollout.failure.verdict(
            batch.len(),
            count(Standing::Failed),
            count(Standing::Unreachable),
        );
        if let crate::rolling::failure::Verdict::Halt { reason } = verdict {
            self.batch_stop = Some(super::BatchStop::Budget(reason));
        }
    }

    /// Runs one task on a group of hosts and applies the outcomes.
    pub(super) async fn run_task(
        &mut self,
        play: &Play,
        play_hosts: &[String],
        task: &Arc<Task>,
        members: Vec<(String, Vec<Arc<Vars>>)>,
        flow: Flow,
    ) {
        if let Action::Meta(meta) = &task.action {
            self.run_meta(*meta, task, play, play_hosts, &members).await;
            return;
        }
        let task = self.with_templated_name(play, play_hosts, task);
        self.run_on_hosts(play, play_hosts, &task, members, flow)
            .await;
    }

    /// The task with its name rendered as Ansible shows it: with the play's variables, `-e`
    /// and magic variables (no host's), and as written when that fails (`{{ item }}`).
    pub(super) fn with_templated_name(
        &self,
        play: &Play,
        play_hosts: &[String],
        task: &Arc<Task>,
    ) -> Arc<Task> {
        let Some(name) = task.name.as_deref().filter(|name| name.contains("{{")) else {
            return task.clone();
        };
        let scope = self.play_scope(play, play_hosts);
        let vars = crate::template::Scope::new(vec![
            scope.play_vars.clone(),
            scope.extra_vars.clone(),
            scope.magic.clone(),
        ]);
        match self.shared.templar.render_to_string(name, &vars) {
            Ok(rendered) if rendered != name => Arc::new(Task {
                name: Some(rendered),
                ..Task::clone(task)
            }),
            _ => task.clone(),
        }
    }

    /// Runs a (non-meta) task on a group of hosts concurrently and applies the outcomes.
    async fn run_on_hosts(
        &mut self,
        play: &Play,
        play_hosts: &[String],
        task: &Arc<Task>,
        mut members: Vec<(String, Vec<Arc<Vars>>)>,
        flow: Flow,
    ) {
        let scope = Arc::new(self.play_scope(play, play_hosts));
        let run_once = self.runs_once(&scope, task, &members);
        if run_once {
            members.truncate(1);
        }
        self.send(Event::TaskStart {
            name: task.display_name(),
            hosts: members.len(),
            handler: task.is_handler,
        })
        .await;
        let throttle = throttle_permits(task.settings.throttle, members.len());
        let mut joins = JoinSet::new();
        let mut names = HashMap::new();
        for (name, include_vars) in members {
            let Some(host) = self.hosts.get(&name) else {
                continue;
            };
            let context = host.context.clone();
            let (shared, scope, task, permits, throttle) = (
                self.shared.clone(),
                scope.clone(),
                task.clone(),
                self.forks.clone(),
                throttle.clone(),
            );
            let handle = joins.spawn(async move {
                // The task's own slot first, so a throttled host waits without holding a fork.
                let _throttled = match throttle {
                    Some(throttle) => Some(throttle.acquire_owned().await),
                    None => None,
                };
                let _permit = permits.acquire_owned().await;
                execute(&shared, &scope, &context, &task, &include_vars).await
            });
            names.insert(handle.id(), name);
        }
        let mut failing = Vec::new();
        while let Some(joined) = joins.join_next_with_id().await {
            let (name, outcome) = match joined {
                Ok((id, outcome)) => (names.remove(&id), outcome),
                Err(error) => {
                    let name = names.remove(&error.id());
                    let msg = format!("internal error while running the task: {error}");
                    if let Some(name) = &name {
                        self.report_plain(
                            name,
                            &task.display_name(),
                            Status::Failed,
                            &crate::modules::ModuleResult::failed(msg.clone()),
                        )
                        .await;
                    }
                    (name, Outcome::from_status(Status::Failed, Value::from(msg)))
                }
            };
            let Some(name) = name else { continue };
            // A failure counts for any_errors_fatal even when a rescue catches it.
            if matches!(outcome.status, Status::Unreachable)
                || (outcome.status == Status::Failed && !outcome.ignored)
            {
                failing.push(name.clone());
            }
            self.apply(&name, Some(task), outcome, flow, play);
        }
        self.apply_inventory_changes(&task.display_name()).await;
        // Ansible makes a failing `run_once` task fatal too.
        let fatal = task
            .settings
            .any_errors_fatal
            .unwrap_or(play.any_errors_fatal)
            || run_once;
        if !failing.is_empty() && fatal && !task.is_handler {
            self.mark_batch_failed(play_hosts, &failing);
        }
        self.journal_left_play(play_hosts).await;
    }

    /// Whether the task runs on its first host only: `run_once` rendered with that host's
    /// variables, as Ansible does (a value that does not render counts as false).
    fn runs_once(
        &self,
        scope: &PlayScope,
        task: &Task,
        members: &[(String, Vec<Arc<Vars>>)],
    ) -> bool {
        let Some(flag) = &task.settings.run_once else {
            // `add_host` bypasses the host loop in Ansible: it runs once (per loop item).
            return matches!(&task.action, Action::Module { module, .. } if module.name() == "add_host");
        };
        let Some((first, include_vars)) = members.first() else {
            return false;
        };
        let Some(host) = self.hosts.get(first) else {
            return false;
        };
        let vars = super::scope::task_scope(scope, &host.context, task, include_vars, None);
        // Rendered (templates in the variables it names too), then read as Ansible reads a
        // boolean keyword: `True`, `yes`, `on`, `1` are true.
        match self.shared.templar.render_value(flag, &vars) {
            Ok(value) => match value.as_str() {
                Some(text) => matches!(
                    text.trim().to_ascii_lowercase().as_str(),
                    "true" | "yes" | "on" | "1" | "y" | "t"
                ),
                None => value.is_true(),
            },
            Err(_) => false,
        }
    }

    /// `any_errors_fatal`: every other host of the batch fails where it stands, as if its own
    /// task had failed: a `rescue` or `always` around it still runs, nothing is counted, and
    /// the host leaves the run when the batch ends.
    pub(super) fn mark_batch_failed(&mut self, batch: &[String], failing: &[String]) {
        for name in batch.iter().filter(|name| !failing.contains(name)) {
            let Some(host) = self.hosts.get_mut(name).filter(|h| h.is_active()) else {
                continue;
            };
            host.marked_failed = true;
            host.pending = None;
            match host.cursor.as_mut().map(Cursor::task_failed) {
                Some(FailOutcome::Rescued | FailOutcome::AlwaysThenFail) => {}
                Some(FailOutcome::HostFailed) | None => host.standing = Standing::Failed,
            }
        }
    }

    /// Journals (and waits for) `host_done` of every host of the batch that failed or became
    /// unreachable since the last call, before the next task starts: a controller killed later
    /// in the batch must not leave a resume thinking they never ran.
    pub(super) async fn journal_left_play(&mut self, hosts: &[String]) {
        let left: Vec<(String, HostStatus)> = hosts
            .iter()
            .filter(|name| !self.left_play.contains(*name))
            .filter_map(|name| {
                let status = match self.hosts.get(name)?.standing {
                    Standing::Failed => HostStatus::Failed,
                    Standing::Unreachable => HostStatus::Unreachable,
                    Standing::Active | Standing::Ended => return None,
                };
                Some((name.clone(), status))
            })
            .collect();
        for (host, status) in left {
            self.left_play.insert(host.clone());
            self.journal(JournalEvent::HostDone {
                play: self.play_index,
                host,
                status,
            })
            .await;
        }
    }

    /// Updates a host after a task; returns true when the host failed for good.
    pub(super) fn apply(
        &mut self,
        name: &str,
        task: Option<&Arc<Task>>,
        outcome: Outcome,
        flow: Flow,
        play: &Play,
    ) -> bool {
        let handler_index = |topic: &str| -> Vec<usize> {
            play.handlers
                .iter()
                .enumerate()
                .filter(|(_, h)| {
                    h.name.as_deref() == Some(topic) || h.listen.iter().any(|l| l == topic)
                })
                .map(|(i, _)| i)
                .collect()
        };
        self.pending_inventory
            .extend(super::inventory_change::changes_in(
                name,
                &outcome.registered,
            ));
        let mut journaled = journal_status(&outcome);
        let record = outcome.record.clone();
        let message = outcome.message.clone();
        let Some(host) = self.hosts.get_mut(name) else {
            return false;
        };
        if let Some(task) = task {
            if let Some(register) = &task.register {
                host.set_fact(register.clone(), outcome.registered.clone());
            }
            if let Some(facts) = outcome.facts.clone() {
                match &task.action {
                    Action::Module { module, .. } if !module.sets_variables() => {
                        host.add_gathered_facts(facts);
                    }
                    _ => {
                        for (fact, value) in facts {
                            host.set_fact(fact, value);
                        }
                    }
                }
            }
        }
        let mut failed_for_good = false;
        match outcome.status {
            Status::Ok => host.stats.ok += 1,
            Status::Changed => {
                host.stats.ok += 1;
                host.stats.changed += 1;
                if let Some(task) = task {
                    for topic in &task.notify {
                        host.notified.extend(handler_index(topic));
                    }
                }
            }
            Status::Skipped => host.stats.skipped += 1,
            Status::Unreachable => {
                host.stats.unreachable += 1;
                let ignore = task
                    .and_then(|t| t.settings.ignore_unreachable)
                    .unwrap_or(false);
                if !ignore {
                    host.standing = Standing::Unreachable;
                    failed_for_good = true;
                }
            }
            Status::Failed if outcome.ignored => {
                host.stats.ok += 1;
                host.stats.ignored += 1;
                host.stats.changed += u32::from(outcome.changed);
            }
            Status::Failed => match (flow, host.cursor.as_mut()) {
                (Flow::Cursor, Some(cursor)) => match cursor.task_failed() {
                    FailOutcome::Rescued => {
                        host.stats.rescued += 1;
                        journaled = TaskStatus::Rescued;
                        if let Some(task) = task {
                            host.set_fact("ansible_failed_task".into(), failed_task_value(task));
                            host.set_fact(
                                "ansible_failed_result".into(),
                                outcome.registered.clone(),
                            );
                        }
                    }
                    FailOutcome::AlwaysThenFail => host.stats.failed += 1,
                    FailOutcome::HostFailed => {
                        host.stats.failed += 1;
                        host.standing = Standing::Failed;
                        failed_for_good = true;
                    }
                },
                _ => {
                    host.stats.failed += 1;
                    host.standing = Standing::Failed;
                    failed_for_good = true;
                }
            },
        }
        if let (Some(task), Some(cursor)) = (task, host.cursor.as_mut()) {
            if matches!(outcome.status, Status::Ok | Status::Changed) {
                // Ansible counts a looped include once per item it included.
                if task.loop_spec.is_some() && outcome.includes.len() > 1 {
                    let extra = u32::try_from(outcome.includes.len() - 1).unwrap_or(u32::MAX);
                    host.stats.ok = host.stats.ok.saturating_add(extra);
                }
                for (vars, tasks) in outcome.includes.into_iter().rev() {
                    cursor.enter_include(tasks, vars, task.id);
                }
            }
        }
        if let Some(journal) = &self.control.journal {
            journal.record(JournalEvent::HostResult {
                play: self.play_index,
                host: name.to_string(),
                task: task.map_or_else(|| "Gathering Facts".to_string(), |t| t.display_name()),
                status: journaled,
                record,
                message,
            });
        }
        failed_for_good
    }

    /// Runs notified handlers, in the order they are defined, on the hosts that notified them.
    ///
    /// `flow` is [`Flow::Cursor`] for `meta: flush_handlers`, so a handler failing inside a
    /// block goes to that block's `rescue`, as in Ansible.
    pub(super) async fn flush_handlers(&mut self, play: &Play, hosts: &[String], flow: Flow) {
        for (index, handler) in play.handlers.iter().enumerate() {
            let mut members = Vec::new();
            for name in hosts {
                let Some(host) = self.hosts.get_mut(name) else {
                    continue;
                };
                let forced = play.force_handlers || self.shared.options.force_handlers;
                let eligible = host.is_active() || (forced && host.standing == Standing::Failed);
                if host.notified.remove(&index) && eligible {
                    members.push((name.clone(), Vec::new()));
                }
            }
            if !members.is_empty() && !matches!(handler.action, Action::Meta(_)) {
                if self.interrupted() || self.batch_stop.is_some() {
                    // Hosts with handlers still to run stop mid-play.
                    self.cut_short
                        .extend(members.into_iter().map(|(name, _)| name));
                    for name in hosts {
                        if self.hosts.get(name).is_some_and(|h| !h.notified.is_empty()) {
                            self.cut_short.insert(name.clone());
                        }
                    }
                    return;
                }
                if matches!(handler.action, Action::Include { .. }) {
                    self.run_include_handler(play, handler, members).await;
                } else {
                    self.run_on_hosts(play, hosts, handler, members, flow).await;
                }
            }
        }
    }

    /// Runs a handler that is `include_tasks` on the hosts that notified it: the include, then
    /// the tasks it brings in, as a section of their own. The hosts' place in the play (a
    /// `meta: flush_handlers` inside a block) is kept aside and put back afterwards.
    async fn run_include_handler(
        &mut self,
        play: &Play,
        handler: &Arc<Task>,
        members: Vec<(String, Vec<Arc<Vars>>)>,
    ) {
        let names: Vec<String> = members.into_iter().map(|(name, _)| name).collect();
        let mut saved = Vec::new();
        for name in &names {
            if let Some(host) = self.hosts.get_mut(name) {
                saved.push((name.clone(), host.cursor.take(), host.pending.take()));
            }
        }
        let section = Arc::new(vec![TaskNode::Task(handler.clone())]);
        // Boxed: an included handler may itself flush handlers.
        Box::pin(self.run_section(play, &names, section)).await;
        for (name, cursor, pending) in saved {
            if let Some(host) = self.hosts.get_mut(&name) {
                host.cursor = cursor;
                host.pending = pending;
            }
        }
    }
}

/// `ansible_failed_task` in a rescue: the failed task's name (empty when unnamed, as in
/// Ansible), its action and tags.
fn failed_task_value(task: &Task) -> Value {
    let action = match &task.action {
        Action::Module { module, .. } => module.name().to_string(),
        Action::Include { .. } => "include_tasks".to_string(),
        Action::Meta(_) => "meta".to_string(),
    };
    let mut value = Vars::new();
    value.insert(
        "name".into(),
        Value::from(task.name.clone().unwrap_or_default()),
    );
    value.insert("action".into(), Value::from(action));
    value.insert(
        "tags".into(),
        Value::from(
            task.settings
                .tags
                .iter()
                .map(|tag| Value::from(tag.as_str()))
                .collect::<Vec<_>>(),
        ),
    );
    crate::vars::to_value(value)
}

/// How the journal records a task's outcome.
fn journal_status(outcome: &Outcome) -> TaskStatus {
    match outcome.status {
        Status::Ok => TaskStatus::Ok,
        Status::Changed => TaskStatus::Changed,
        Status::Skipped => TaskStatus::Skipped,
        Status::Unreachable => TaskStatus::Unreachable,
        Status::Failed if outcome.ignored => TaskStatus::Ignored,
        Status::Failed => TaskStatus::Failed,
    }
}

/// The per-task slots a `throttle:` gives (`None` when it does not limit below `hosts`;
/// `forks` applies in any case, so at most min(throttle, forks) hosts run the task at once).
fn throttle_permits(throttle: Option<u64>, hosts: usize) -> Option<Arc<tokio::sync::Semaphore>> {
    let limit = usize::try_from(throttle?).ok()?;
    (limit > 0 && limit < hosts).then(|| Arc::new(tokio::sync::Semaphore::new(limit)))
}
