//! Running one task on one host: conditions, loops, retries, result overrides and events.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::connection;
use super::events::{Event, HostResult, Status};
use super::host::HostContext;
use super::loops::{self, SearchPaths};
use super::module_call::ModuleCall;
use super::options::RunOptions;
use super::scope::{task_scope, PlayScope, OMIT};
use crate::modules::{self, Module, ModuleResult};
use crate::playbook::{Action, Condition, LoopSpec, Task, TaskNode};
use crate::seconds;
use crate::template::{Templar, TemplateError};
use crate::vars::{self, Value, Vars};

/// What the runner shares with every task execution.
pub struct Shared {
    /// The template engine.
    pub templar: Arc<Templar>,
    /// Command-line settings.
    pub options: RunOptions,
    /// Where events go.
    pub events: mpsc::Sender<Event>,
}

/// How a task ended on a host, for the runner's bookkeeping.
#[derive(Debug)]
pub struct Outcome {
    /// The status reported.
    pub status: Status,
    /// A failure let pass by `ignore_errors`.
    pub ignored: bool,
    /// The result reported a change (also counted for ignored failures, as Ansible does).
    pub changed: bool,
    /// The value `register:` stores.
    pub registered: Value,
    /// Facts to set on the host.
    pub facts: Option<Vars>,
    /// What an `include_tasks`/`include_role` brings in: per loop item (one when it does not
    /// loop), the item's variables and the tasks to run.
    pub includes: Vec<(Arc<Vars>, Arc<Vec<TaskNode>>)>,
    /// What the module asked the run journal to keep ([`modules::JOURNAL_KEY`]).
    pub record: Option<serde_json::Value>,
    /// Why a failed or unreachable task failed, as shown (censored for `no_log`).
    pub message: Option<String>,
}

impl Outcome {
    /// An outcome with just a status and a registered value.
    pub fn from_status(status: Status, registered: Value) -> Self {
        Self {
            status,
            ignored: false,
            changed: status == Status::Changed,
            facts: None,
            includes: Vec::new(),
            record: None,
            message: failure_message(status, &registered),
            registered,
        }
    }
}

/// The message of a failed or unreachable result, for reports and `rpatch runs show`: its
/// `msg` with a non-zero `rc` and the end of its `stderr`, or the value itself when it is a
/// plain string; `None` for any other status.
pub fn failure_message(status: Status, result: &Value) -> Option<String> {
    if !matches!(status, Status::Failed | Status::Unreachable) {
        return None;
    }
    if let Some(text) = result.as_str() {
        return Some(text.to_string());
    }
    let field = |key: &str| {
        result
            .get_attr(key)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .filter(|text| !text.trim().is_empty())
    };
    // A report line, not a log: the last 1,000 characters of stderr say why.
    let stderr = field("stderr").map(|text| {
        let skip = text.chars().count().saturating_sub(1000);
        text.chars()
            .skip(skip)
            .collect::<String>()
            .trim()
            .to_string()
    });
    let rc = result
        .get_attr("rc")
        .ok()
        .and_then(|v| i64::try_from(v).ok())
        .filter(|rc| *rc != 0)
        .map(|rc| format!(" (rc {rc})"))
        .unwrap_or_default();
    match (field("msg"), stderr) {
        (Some(msg), Some(stderr)) => Some(format!("{msg}{rc}: {stderr}")),
        (Some(msg), None) => Some(format!("{msg}{rc}")),
        (None, Some(stderr)) => Some(format!("{stderr}{rc}")),
        (None, None) => None,
    }
}

/// What a `no_log` task shows instead of its result (Ansible's words).
pub const NO_LOG_NOTICE: &str =
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

/// Runs a task (module or include) on one host and reports its results.
pub async fn execute(
    shared: &Shared,
    play: &PlayScope,
    host: &HostContext,
    task: &Arc<Task>,
    include_vars: &[Arc<Vars>],
) -> Outcome {
    let scope = task_scope(play, host, task, include_vars, None);
    let run = TaskRun {
        shared,
        play,
        host,
        task,
        include_vars,
    };
    match run.execute(&scope).await {
        Ok(outcome) => outcome,
        Err(error) => {
            let result = ModuleResult::failed(task_error(task, host, &error));
            run.report(&result, None, false, &scope).await;
            run.settle(result, &scope)
        }
    }
}

/// Whether a `meta:` task's `when:` holds on this host; `Err` names the task, host and error.
pub fn meta_condition_holds(
    shared: &Shared,
    play: &PlayScope,
    host: &HostContext,
    task: &Arc<Task>,
    include_vars: &[Arc<Vars>],
) -> Result<bool, String> {
    if task.settings.when.is_empty() {
        return Ok(true);
    }
    let scope = task_scope(play, host, task, include_vars, None);
    let run = TaskRun {
        shared,
        play,
        host,
        task,
        include_vars,
    };
    run.first_false(&task.settings.when, &scope)
        .map(|first_false| first_false.is_none())
        .map_err(|error| task_error(task, host, &error))
}

/// A task that could not run on a host, named as the task lines name it.
fn task_error(task: &Task, host: &HostContext, error: &TemplateError) -> String {
    format!(
        "task '{}' on host '{}': {error}",
        task.display_name(),
        host.name
    )
}

/// One task on one host.
struct TaskRun<'a> {
    shared: &'a Shared,
    play: &'a PlayScope,
    host: &'a HostContext,
    task: &'a Arc<Task>,
    include_vars: &'a [Arc<Vars>],
}

impl TaskRun<'_> {
    async fn execute(&self, scope: &Value) -> Result<Outcome, TemplateError> {
        let Some(spec) = &self.task.loop_spec else {
            if let Some(condition) = self.first_false(&self.task.settings.when, scope)? {
                return Ok(self.skip(&condition, scope).await);
            }
            if matches!(self.task.action, Action::Include { .. }) {
                let mut includes = Vec::new();
                let result = match self.included(scope) {
                    Ok(tasks) => {
                        includes.push((Arc::new(Vars::new()), tasks));
                        ModuleResult::ok()
                    }
                    Err(message) => ModuleResult::failed(message),
                };
                self.report(&result, None, false, scope).await;
                let mut outcome = self.settle(result, scope);
                outcome.includes = includes;
                return Ok(outcome);
            }
            let result = self.run_with_retries(scope, None).await?;
            self.report(&result, None, false, scope).await;
            return Ok(self.settle(result, scope));
        };
        let items = self.loop_items(spec, scope)?;
        if items.is_empty() {
            let result = ModuleResult::skipped("No items in the list")
                .with_data(&serde_json::json!({"results": []}));
            self.report(&result, None, false, scope).await;
            return Ok(self.settle(result, scope));
        }
        let mut results = Vec::new();
        let mut includes = Vec::new();
        let (mut changed, mut failed, mut all_skipped) = (false, false, true);
        // Facts set by earlier items (`set_fact` in a loop accumulates, as in Ansible).
        let mut loop_facts = Vars::new();
        for (index, item) in items.iter().enumerate() {
            let mut loop_vars = loop_facts.clone();
            loop_vars.insert(spec.loop_var.clone(), item.clone());
            loop_vars.insert(
                "ansible_loop_var".into(),
                Value::from(spec.loop_var.as_str()),
            );
            if let Some(index_var) = &spec.index_var {
                loop_vars.insert(index_var.clone(), Value::from(index));
            }
            if spec.extended {
                loop_vars.insert("ansible_loop".into(), extended_loop(&items, index));
            }
            let loop_vars = Arc::new(loop_vars);
            let item_scope = task_scope(
                self.play,
                self.host,
                self.task,
                self.include_vars,
                Some(loop_vars.clone()),
            );
            let label = self.label(spec, item, &item_scope);
            let result = match self.first_false(&self.task.settings.when, &item_scope)? {
                Some(condition) => skipped_result(&condition),
                None if matches!(self.task.action, Action::Include { .. }) => {
                    match self.included(&item_scope) {
                        Ok(tasks) => {
                            includes.push((loop_vars.clone(), tasks));
                            ModuleResult::ok()
                        }
                        Err(message) => ModuleResult::failed(message),
                    }
                }
                None => self.run_with_retries(&item_scope, Some(&loop_vars)).await?,
            };
            if let Some(facts) = &result.facts {
                loop_facts.extend(facts.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            changed |= result.changed;
            failed |= result.failed || result.unreachable;
            all_skipped &= result.skipped;
            self.report(&result, Some(label), false, &item_scope).await;
            let mut item_result = result;
            item_result.data.insert(spec.loop_var.clone(), item.clone());
            item_result.data.insert(
                "ansible_loop_var".into(),
                Value::from(spec.loop_var.as_str()),
            );
            results.push(item_result.to_value());
            if !spec.pause.is_zero() && index + 1 < items.len() {
                tokio::time::sleep(spec.pause).await;
            }
        }
        let mut summary = ModuleResult {
            changed,
            failed,
            skipped: all_skipped,
            msg: Some(
                if failed {
                    "One or more items failed"
                } else {
                    "All items completed"
                }
                .into(),
            ),
            ..ModuleResult::default()
        };
        summary.data.insert("results".into(), Value::from(results));
        if !loop_facts.is_empty() {
            summary.facts = Some(loop_facts);
        }
        self.report(&summary, None, true, scope).await;
        let mut outcome = self.settle(summary, scope);
        outcome.includes = includes;
        Ok(outcome)
    }

    /// The tasks an include brings in on this host: loaded with the playbook, or now, with
    /// the host's variables, when the file or role name is templated or was not there.
    fn included(&self, scope: &Value) -> Result<Arc<Vec<TaskNode>>, String> {
        match &self.task.action {
            Action::Include {
                deferred: Some(deferred),
                ..
            } => deferred.load(&self.shared.templar, scope),
            Action::Include { tasks, .. } => Ok(tasks.clone()),
            _ => Ok(Arc::new(Vec::new())),
        }
    }

    /// Runs the module, retrying per `until`, and applies `changed_when`/`failed_when`.
    async fn run_with_retries(
        &self,
        scope: &Value,
        loop_vars: Option<&Arc<Vars>>,
    ) -> Result<ModuleResult, TemplateError> {
        let Action::Module { module, args } = &self.task.action else {
            return Ok(ModuleResult::ok());
        };
        let templar = &self.shared.templar;
        let (attempts, delay) = match &self.task.retry {
            Some(retry) => {
                // Literal values were range-checked at load; templated ones are checked here,
                // and a bad one fails this host's task rather than panicking or wrapping.
                let retries = templar.render_value(&retry.retries, scope)?;
                let delay = templar.render_value(&retry.delay, scope)?;
                let retries = match seconds::count_from_value(&retries) {
                    Ok(retries) => retries,
                    Err(error) => return Ok(ModuleResult::failed(format!("retries: {error}"))),
                };
                let delay = match seconds::seconds_from_value(&delay) {
                    Ok(delay) => delay,
                    Err(error) => return Ok(ModuleResult::failed(format!("delay: {error}"))),
                };
                (retries.saturating_add(1), delay)
            }
            None => (1, Duration::ZERO),
        };
        let mut attempt = 1;
        loop {
            let mut result = self.run_module(*module, args, scope).await?;
            if result.unreachable {
                return Ok(result);
            }
            self.apply_overrides(&mut result, scope, loop_vars)?;
            let Some(retry) = &self.task.retry else {
                return Ok(result);
            };
            result.data.insert("attempts".into(), Value::from(attempt));
            let bound = self.bind_result(scope, &result, loop_vars);
            if self.first_false(&retry.until, &bound)?.is_none() {
                return Ok(result);
            }
            if attempt >= attempts {
                result.failed = true;
                result.msg.get_or_insert_with(|| "Retries exhausted".into());
                return Ok(result);
            }
            let left = attempts - attempt;
            let _ = self
                .shared
                .events
                .send(Event::Warning {
                    host: Some(self.host.name.clone()),
                    message: format!(
                        "FAILED - RETRYING: [{}]: {} ({left} retries left).",
                        self.host.name,
                        self.task.display_name()
                    ),
                })
                .await;
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn run_module(
        &self,
        module: &'static dyn Module,
        raw_args: &Value,
        scope: &Value,
    ) -> Result<ModuleResult, TemplateError> {
        let templar = &self.shared.templar;
        let args = strip_omitted(templar.render_value(raw_args, scope)?);
        let settings = &self.task.settings;
        let check_mode = match &settings.check_mode {
            Some(flag) => templar.eval_condition_value(flag, scope)?,
            None => self.shared.options.check,
        };
        let diff = match &settings.diff {
            Some(flag) => templar.eval_condition_value(flag, scope)?,
            None => self.shared.options.diff,
        };
        let escalation =
            connection::escalation_for(scope, templar, settings, &self.shared.options)?;
        let env = self.environment(scope)?;
        let delegate = self.delegate(scope)?;
        let transport = match delegate.as_deref() {
            Some("localhost" | "127.0.0.1") => {
                Arc::new(crate::transport::LocalTransport) as Arc<dyn crate::transport::Transport>
            }
            Some(other) => match self.delegate_transport(other, scope) {
                Ok(transport) => transport,
                Err(error) => {
                    return Ok(ModuleResult::unreachable(format!(
                        "delegate `{other}`: {error}"
                    )))
                }
            },
            None => self.host.transport.clone(),
        };
        let call = ModuleCall {
            module,
            args,
            host: self.host.name.clone(),
            transport,
            check_mode,
            diff,
            escalation,
            env,
            timeout: self.shared.options.command_timeout,
            templar: templar.clone(),
            scope: scope.clone(),
        };
        let Some(spec) = &self.task.async_run else {
            return Ok(call.run().await);
        };
        let limit = templar.render_value(&spec.seconds, scope)?;
        let poll = templar.render_value(&spec.poll, scope)?;
        match (
            seconds::seconds_from_value(&limit),
            seconds::seconds_from_value(&poll),
        ) {
            (Ok(limit), Ok(poll)) => Ok(call.run_async(limit, poll).await),
            (Err(error), _) => Ok(ModuleResult::failed(format!("async: {error}"))),
            (_, Err(error)) => Ok(ModuleResult::failed(format!("poll: {error}"))),
        }
    }

    /// The host the task runs on instead of this one: `delegate_to`, or implicitly a guest's
    /// hypervisor for a module that [`Module::runs_on_hypervisor`].
    fn delegate(&self, scope: &Value) -> Result<Option<String>, TemplateError> {
        let Action::Module { module, .. } = &self.task.action else {
            return Ok(None);
        };
        Ok(match &self.task.settings.delegate_to {
            Some(target) => Some(self.shared.templar.render_value(target, scope)?.to_string()),
            None if module.runs_on_hypervisor() => hypervisor_of(scope),
            None => None,
        })
    }

    fn delegate_transport(
        &self,
        target: &str,
        scope: &Value,
    ) -> Result<Arc<dyn crate::transport::Transport>, crate::transport::TransportError> {
        let hostvars = scope
            .get_attr("hostvars")
            .ok()
            .and_then(|hv| hv.get_attr(target).ok())
            .filter(|v| !v.is_undefined());
        match hostvars {
            Some(vars) => connection::transport_for(
                &vars,
                &self.shared.templar,
                None,
                &self.shared.options.ssh,
            ),
            None => Err(crate::transport::TransportError::Connect(format!(
                "`{target}` is not in the inventory"
            ))),
        }
    }

    fn environment(&self, scope: &Value) -> Result<Vec<(String, String)>, TemplateError> {
        let mut env: Vec<(String, String)> = Vec::new();
        for layer in &self.task.settings.environment {
            let rendered = self.shared.templar.render_value(layer, scope)?;
            if let serde_json::Value::Object(map) = vars::to_json(&rendered) {
                for (name, value) in map {
                    let text = match value {
                        serde_json::Value::String(text) => text,
                        other => other.to_string(),
                    };
                    env.retain(|(existing, _)| existing != &name);
                    env.push((name, text));
                }
            }
        }
        Ok(env)
    }

    /// Applies `changed_when` and `failed_when` to a result.
    fn apply_overrides(
        &self,
        result: &mut ModuleResult,
        scope: &Value,
        loop_vars: Option<&Arc<Vars>>,
    ) -> Result<(), TemplateError> {
        if self.task.changed_when.is_empty() && self.task.failed_when.is_empty() {
            return Ok(());
        }
        let bound = self.bind_result(scope, result, loop_vars);
        if !self.task.changed_when.is_empty() {
            result.changed = self.first_false(&self.task.changed_when, &bound)?.is_none();
        }
        if !self.task.failed_when.is_empty() {
            let failed = self.first_false(&self.task.failed_when, &bound)?.is_none();
            result.failed = failed;
            result
                .data
                .insert("failed_when_result".into(), Value::from(failed));
        }
        Ok(())
    }

    /// The scope with the result bound to the task's `register` name.
    fn bind_result(
        &self,
        scope: &Value,
        result: &ModuleResult,
        loop_vars: Option<&Arc<Vars>>,
    ) -> Value {
        let Some(name) = &self.task.register else {
            return scope.clone();
        };
        let mut layer = loop_vars
            .map(|vars| vars.as_ref().clone())
            .unwrap_or_default();
        layer.insert(name.clone(), result.to_value());
        task_scope(
            self.play,
            self.host,
            self.task,
            self.include_vars,
            Some(Arc::new(layer)),
        )
    }

    /// The first condition that is false, if any.
    fn first_false(
        &self,
        conditions: &[Condition],
        scope: &Value,
    ) -> Result<Option<String>, TemplateError> {
        for condition in conditions {
            if !self
                .shared
                .templar
                .eval_condition_value(&condition.expr, scope)?
            {
                return Ok(Some(
                    condition
                        .expr
                        .as_str()
                        .map_or_else(|| condition.expr.to_string(), str::to_string),
                ));
            }
        }
        Ok(None)
    }

    fn loop_items(&self, spec: &LoopSpec, scope: &Value) -> Result<Vec<Value>, TemplateError> {
        let rendered = self.shared.templar.render_value(&spec.items, scope)?;
        let subdir = match &self.task.action {
            Action::Module { module, .. } if module.name() == "include_vars" => "vars",
            Action::Module { module, .. } if module.name() == "template" => "templates",
            _ => "files",
        };
        let paths = SearchPaths {
            role: self
                .task
                .settings
                .role
                .as_ref()
                .map(|role| role.path.clone()),
            playbook: self
                .play
                .magic
                .get("playbook_dir")
                .and_then(|dir| dir.as_str().map(std::path::PathBuf::from)),
            subdir,
        };
        let items = loops::expand(spec.kind, vars::to_json(&rendered), &paths)
            .map_err(|message| TemplateError::Render { message })?;
        Ok(items.iter().map(vars::from_json).collect())
    }

    fn label(&self, spec: &LoopSpec, item: &Value, scope: &Value) -> String {
        let shown = match &spec.label {
            Some(label) => self
                .shared
                .templar
                .render_value(label, scope)
                .unwrap_or_else(|_| item.clone()),
            None => item.clone(),
        };
        match shown.as_str() {
            Some(text) => text.to_string(),
            None => vars::to_json(&shown).to_string(),
        }
    }

    fn no_log(&self, scope: &Value) -> Result<bool, TemplateError> {
        match &self.task.settings.no_log {
            Some(flag) => self.shared.templar.eval_condition_value(flag, scope),
            None => Ok(false),
        }
    }

    async fn skip(&self, condition: &str, scope: &Value) -> Outcome {
        let result = skipped_result(condition);
        self.report(&result, None, false, scope).await;
        Outcome::from_status(Status::Skipped, result.to_value())
    }

    /// Decides the final status (ignore_errors included) and the registered value.
    fn settle(&self, mut result: ModuleResult, scope: &Value) -> Outcome {
        let record = result
            .data
            .shift_remove(modules::JOURNAL_KEY)
            .map(|v| vars::to_json(&v));
        result.data.shift_remove(modules::VERBOSE_ALWAYS);
        let status = status_of(&result);
        let ignored = status == Status::Failed && self.ignores_errors(scope);
        let registered = result.to_value();
        let message = if self.no_log(scope).unwrap_or(true) {
            failure_message(status, &Value::from(NO_LOG_NOTICE))
        } else {
            failure_message(status, &registered)
        };
        Outcome {
            status,
            ignored,
            changed: result.changed,
            registered,
            facts: result.facts,
            includes: Vec::new(),
            record,
            message,
        }
    }

    fn ignores_errors(&self, scope: &Value) -> bool {
        match &self.task.settings.ignore_errors {
            Some(flag) => self
                .shared
                .templar
                .eval_condition_value(flag, scope)
                .unwrap_or(false),
            None => false,
        }
    }

    /// Sends a host result event.
    async fn report(
        &self,
        result: &ModuleResult,
        item: Option<String>,
        loop_summary: bool,
        scope: &Value,
    ) {
        let status = status_of(result);
        let ignored = status == Status::Failed && self.ignores_errors(scope);
        let no_log = self.no_log(scope).unwrap_or(true);
        let mut shown = vars::to_json(&result.to_value());
        let mut item = item;
        if no_log {
            shown = serde_json::json!({
                "censored": NO_LOG_NOTICE,
                "changed": result.changed,
            });
            // As Ansible: the item (or its label) may be the secret itself.
            item = item.map(|_| "None".to_string());
        }
        let verbosity = result
            .data
            .get("_verbosity")
            .and_then(|v| u8::try_from(v.as_i64().unwrap_or(0)).ok())
            .unwrap_or(0);
        let verbose_always = result
            .data
            .get(modules::VERBOSE_ALWAYS)
            .is_some_and(|v| v.is_true());
        if let Some(object) = shown.as_object_mut() {
            object.remove(modules::VERBOSE_ALWAYS);
            object.remove("_verbosity");
            object.remove(modules::JOURNAL_KEY);
        }
        let shows_result = verbose_always
            || matches!(
                self.task.action,
                Action::Module { module, .. } if module.shows_result()
            );
        if !no_log && !loop_summary {
            // As Ansible prints a result's `warnings` (`[WARNING]: ...`) before the result.
            let warnings = result
                .data
                .get("warnings")
                .and_then(|list| list.try_iter().ok());
            for warning in warnings.into_iter().flatten() {
                let message = warning
                    .as_str()
                    .map_or_else(|| warning.to_string(), str::to_string);
                let _ = self
                    .shared
                    .events
                    .send(Event::Warning {
                        host: Some(self.host.name.clone()),
                        message,
                    })
                    .await;
            }
        }
        let event = Event::HostResult(HostResult {
            host: self.host.name.clone(),
            task: self.task.display_name(),
            status,
            item,
            delegated_to: if loop_summary {
                None
            } else {
                self.delegate(scope).ok().flatten()
            },
            ignored,
            result: shown,
            verbosity,
            show_result: (shows_result && status != Status::Skipped)
                || matches!(status, Status::Failed | Status::Unreachable),
            // Only a result the module made: a failure templating its arguments prints on one line.
            pretty: verbose_always && status != Status::Skipped,
            diff: if no_log { None } else { result.diff.clone() },
            loop_summary,
        });
        let _ = self.shared.events.send(event).await;
    }
}

fn status_of(result: &ModuleResult) -> Status {
    if result.unreachable {
        Status::Unreachable
    } else if result.failed {
        Status::Failed
    } else if result.skipped {
        Status::Skipped
    } else if result.changed {
        Status::Changed
    } else {
        Status::Ok
    }
}

fn skipped_result(condition: &str) -> ModuleResult {
    ModuleResult {
        skipped: true,
        ..ModuleResult::default()
    }
    .with_data(&serde_json::json!({
        "skip_reason": "Conditional result was False",
        "false_condition": condition,
    }))
}

/// A guest's hypervisor: its `rpatch_hypervisor`, if set and not empty.
fn hypervisor_of(scope: &Value) -> Option<String> {
    scope
        .get_attr("rpatch_hypervisor")
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_none())
        .and_then(|v| v.as_str().map(str::to_string))
        .filter(|name| !name.is_empty())
}

/// Drops top-level arguments that rendered to `omit`.
fn strip_omitted(args: Value) -> Value {
    let json = vars::to_json(&args);
    match json {
        serde_json::Value::Object(map) if map.values().any(|v| v.as_str() == Some(OMIT)) => {
            let kept: serde_json::Map<_, _> = map
                .into_iter()
                .filter(|(_, v)| v.as_str() != Some(OMIT))
                .collect();
            vars::from_json(&serde_json::Value::Object(kept))
        }
        _ => args,
    }
}

/// `ansible_loop` for item `index` of `items` under `loop_control: {extended: true}`, with
/// the fields Ansible sets (`previtem` from the second item on, `nextitem` up to the last).
fn extended_loop(items: &[Value], index: usize) -> Value {
    let length = items.len();
    let mut fields = Vars::new();
    fields.insert("allitems".into(), Value::from(items.to_vec()));
    fields.insert("index".into(), Value::from(index + 1));
    fields.insert("index0".into(), Value::from(index));
    fields.insert("revindex".into(), Value::from(length - index));
    fields.insert("revindex0".into(), Value::from(length - index - 1));
    fields.insert("first".into(), Value::from(index == 0));
    fields.insert("last".into(), Value::from(index + 1 == length));
    fields.insert("length".into(), Value::from(length));
    if let Some(previous) = index.checked_sub(1).and_then(|at| items.get(at)) {
        fields.insert("previtem".into(), previous.clone());
    }
    if let Some(next) = items.get(index + 1) {
        fields.insert("nextitem".into(), next.clone());
    }
    crate::vars::to_value(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_message_has_msg_rc_and_the_end_of_stderr() {
        let result = vars::from_json(&serde_json::json!({
            "msg": "non-zero return code", "rc": 3, "stderr": "boom\n", "failed": true
        }));
        assert_eq!(
            failure_message(Status::Failed, &result).as_deref(),
            Some("non-zero return code (rc 3): boom")
        );
        assert_eq!(failure_message(Status::Ok, &result), None);
        let long = "x".repeat(5000) + "end";
        let result = vars::from_json(&serde_json::json!({ "stderr": long }));
        let message = failure_message(Status::Unreachable, &result).unwrap_or_default();
        assert_eq!(message.len(), 1000);
        assert!(message.ends_with("end"));
    }

    #[test]
    fn extended_loop_gives_ansible_loop_positions_and_neighbours() {
        let items: Vec<Value> = ["x", "y", "z"].into_iter().map(Value::from).collect();
        let first = crate::vars::to_json(&extended_loop(&items, 0));
        assert_eq!(
            first,
            serde_json::json!({
                "allitems": ["x", "y", "z"], "index": 1, "index0": 0, "revindex": 3,
                "revindex0": 2, "first": true, "last": false, "length": 3, "nextitem": "y",
            })
        );
        let last = crate::vars::to_json(&extended_loop(&items, 2));
        assert_eq!(last["previtem"], "y");
        assert_eq!(last["last"], true);
        assert_eq!(last["revindex0"], 0);
        assert!(last.get("nextitem").is_none());
    }
}
