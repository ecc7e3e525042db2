//! Reading task lists: tasks, blocks, includes, loops, conditions and module arguments.

use std::sync::Arc;

use super::dynamic::{Deferred, Included};
use super::error::PlaybookError;
use super::keys::{self, BLOCK_ONLY_KEYS, INCLUDE_ACTIONS, INHERITED_KEYS, LOOP_CONTROL_KEYS};
use super::loader::Loader;
use super::model::{
    Action, AsyncRun, Block, Condition, Inherited, LoopKind, LoopSpec, MetaAction, Retry, Task,
    TaskNode,
};
use super::nodes::{
    as_bool, expect_map, expect_seq, expect_str, string_list, wrong_type, FileNode,
};
use crate::diagnostic::did_you_mean;
use crate::modules::{self, ArgError};
use crate::seconds;
use crate::vars::{self, Value, Vars};
use crate::yaml::{Key, Node, NodeKind};

/// Task keys that are neither keywords nor actions (for suggestions).
fn all_task_keys() -> impl Iterator<Item = &'static str> {
    INHERITED_KEYS
        .iter()
        .chain(keys::TASK_ONLY_KEYS)
        .chain(BLOCK_ONLY_KEYS)
        .chain(INCLUDE_ACTIONS)
        .copied()
        .chain(["meta"])
        .chain(modules::short_names())
}

impl Loader<'_> {
    /// Parses a list of tasks and blocks.
    pub(super) fn task_list(
        &mut self,
        file: &FileNode,
        list: &Node,
        inherited: &Inherited,
    ) -> Result<Vec<TaskNode>, PlaybookError> {
        let mut out = Vec::new();
        for node in expect_seq(file, list, "tasks")? {
            expect_map(file, node, "task")?;
            if node.get("block").is_some() {
                out.push(TaskNode::Block(Arc::new(
                    self.block(file, node, inherited)?,
                )));
            } else {
                out.extend(self.task(file, node, inherited)?);
            }
        }
        Ok(out)
    }

    fn block(
        &mut self,
        file: &FileNode,
        node: &Node,
        inherited: &Inherited,
    ) -> Result<Block, PlaybookError> {
        for (key, _) in expect_map(file, node, "block")? {
            if !INHERITED_KEYS.contains(&key.name.as_str())
                && !BLOCK_ONLY_KEYS.contains(&key.name.as_str())
            {
                return Err(unknown_key(
                    file,
                    "block",
                    key,
                    INHERITED_KEYS.iter().chain(BLOCK_ONLY_KEYS).copied(),
                ));
            }
        }
        let mut own = inherited.clone();
        self.apply_inherited(file, node, &mut own)?;
        let mut section = |key: &str| match node.get(key) {
            Some(list) => self.task_list(file, list, &own),
            None => Ok(Vec::new()),
        };
        let block = section("block")?;
        let rescue = section("rescue")?;
        let always = section("always")?;
        Ok(Block {
            name: node.get("name").and_then(Node::as_str).map(str::to_string),
            block,
            rescue,
            always,
            at: file.at(node),
        })
    }

    /// Parses one task; `import_tasks` expands to the imported tasks.
    fn task(
        &mut self,
        file: &FileNode,
        node: &Node,
        inherited: &Inherited,
    ) -> Result<Vec<TaskNode>, PlaybookError> {
        if let Some(rewritten) = action_form(file, node)? {
            return self.task(file, &rewritten, inherited);
        }
        let entries = expect_map(file, node, "task")?;
        let mut action: Option<(&Key, &Node)> = None;
        for (key, value) in entries {
            if keys::is_task_keyword(&key.name) {
                continue;
            }
            if BLOCK_ONLY_KEYS.contains(&key.name.as_str()) {
                return Err(PlaybookError::Missing {
                    context: "block",
                    key: "block",
                    at: file.key_at(key),
                });
            }
            let short = keys::short_action(&key.name);
            let known = INCLUDE_ACTIONS.contains(&short)
                || short == "meta"
                || modules::lookup(&key.name).is_some();
            if !known {
                if let Some(collection) = collection_of(&key.name) {
                    return Err(PlaybookError::UnknownCollectionModule {
                        name: key.name.clone(),
                        implemented: modules::names_in_collection(collection),
                        collection: collection.to_string(),
                        at: file.key_at(key),
                    });
                }
                let keyword_typo = did_you_mean(
                    &key.name,
                    INHERITED_KEYS.iter().chain(keys::TASK_ONLY_KEYS).copied(),
                );
                return Err(match keyword_typo {
                    Some(suggestion) => PlaybookError::UnknownKey {
                        context: "task",
                        key: key.name.clone(),
                        suggestion: Some(suggestion),
                        at: file.key_at(key),
                    },
                    None => PlaybookError::UnknownModule {
                        name: key.name.clone(),
                        // `include` left ansible-core in 2.16: name its successor.
                        suggestion: match short {
                            "include" => Some("include_tasks".to_string()),
                            _ => did_you_mean(short, all_task_keys()),
                        },
                        at: file.key_at(key),
                    },
                });
            }
            if let Some((first, _)) = action {
                return Err(PlaybookError::TwoActions {
                    first: first.name.clone(),
                    second: key.name.clone(),
                    at: file.key_at(key),
                });
            }
            action = Some((key, value));
        }
        let Some((action_key, action_value)) = action else {
            return Err(PlaybookError::NoAction { at: file.at(node) });
        };
        let mut settings = inherited.clone();
        self.apply_inherited(file, node, &mut settings)?;
        let short = keys::short_action(&action_key.name);
        if short == "import_tasks" {
            let path = self.resolve_task_path(&include_file(file, action_value)?);
            return self.task_file(&path, &file.key_at(action_key), &settings);
        }
        if short == "import_role" {
            let (request, _) = self.role_action(file, action_value, short)?;
            return self.load_role(&request, &settings);
        }
        let action = match short {
            "include_tasks" | "include_role" => {
                self.include_action(file, node, (action_key, action_value), inherited)?
            }
            "meta" => {
                let name = expect_str(file, action_value, "meta")?;
                let meta = MetaAction::ALL
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, m)| *m)
                    .ok_or_else(|| PlaybookError::Invalid {
                        key: "meta".into(),
                        reason: format!("unknown meta action `{name}`"),
                        at: file.at(action_value),
                    })?;
                Action::Meta(meta)
            }
            _ => self.module_action(file, node, action_key, action_value)?,
        };
        self.check_templates(file, node.get("name"))?;
        let task_notify = settings.notify.clone().unwrap_or_default();
        let task = Task {
            id: self.take_id(),
            name: node
                .get("name")
                .map(|n| expect_str(file, n, "name").map(str::to_string))
                .transpose()?,
            action,
            at: file.at(node),
            settings,
            loop_spec: self.loop_spec(file, node)?,
            register: node
                .get("register")
                .map(|n| expect_str(file, n, "register").map(str::to_string))
                .transpose()?,
            notify: task_notify,
            changed_when: self.conditions(file, node.get("changed_when"))?,
            failed_when: self.conditions(file, node.get("failed_when"))?,
            retry: self.retry(file, node)?,
            async_run: async_run(file, node)?,
            listen: node
                .get("listen")
                .map(|n| string_list(file, n, "listen"))
                .transpose()?
                .unwrap_or_default(),
            is_handler: self.parsing_handlers,
        };
        Ok(vec![TaskNode::Task(Arc::new(task))])
    }

    /// `include_tasks`/`include_role`: loaded now when the file or role is known and there,
    /// otherwise left for run time ([`Deferred`]). The included tasks inherit the include's
    /// parents, its `vars:` and its `apply:` keywords, not its own `when:` or tags.
    fn include_action(
        &mut self,
        file: &FileNode,
        node: &Node,
        (key, value): (&Key, &Node),
        inherited: &Inherited,
    ) -> Result<Action, PlaybookError> {
        let short = keys::short_action(&key.name);
        let at = file.key_at(key);
        let mut child = inherited.clone();
        if let Some(vars_node) = node.get("vars") {
            child.vars.push(Arc::new(file.vars(vars_node, "vars")?));
        }
        let (what, apply) = if short == "include_role" {
            let (request, apply) = self.role_action(file, value, short)?;
            (Included::Role(Box::new(request)), apply)
        } else {
            let (name, apply) = include_args(file, value)?;
            (Included::Tasks(name), apply)
        };
        if let Some(apply) = &apply {
            for (apply_key, _) in expect_map(file, apply, "apply")? {
                if !INHERITED_KEYS.contains(&apply_key.name.as_str()) {
                    return Err(unknown_key(
                        file,
                        "apply",
                        apply_key,
                        INHERITED_KEYS.iter().copied(),
                    ));
                }
            }
            self.apply_inherited(file, apply, &mut child)?;
        }
        let written = match &what {
            Included::Tasks(name) => name.clone(),
            Included::Role(request) => request.name.clone(),
        };
        if !crate::template::is_template(&written) {
            match &what {
                Included::Tasks(name) => {
                    let path = self.resolve_task_path(name);
                    if path.is_file() {
                        let depth = self.include_stack.len();
                        match self.task_file(&path, &at, &child) {
                            Ok(tasks) => {
                                return Ok(Action::Include {
                                    file: written,
                                    tasks: Arc::new(tasks),
                                    deferred: None,
                                })
                            }
                            // A file for another platform (`setup-FreeBSD.yml` under a `when:`)
                            // may use modules rpatch lacks: as Ansible, load it only if it runs.
                            Err(
                                error @ (PlaybookError::UnknownModule { .. }
                                | PlaybookError::UnknownCollectionModule { .. }),
                            ) => {
                                self.include_stack.truncate(depth);
                                eprintln!(
                                    "[WARNING]: {}: {error}; it is loaded, and fails, only if \
                                     the include runs",
                                    path.display()
                                );
                            }
                            Err(error) => return Err(error),
                        }
                    }
                }
                Included::Role(request) => {
                    let tasks = self.load_role(request, &child)?;
                    return Ok(Action::Include {
                        file: written,
                        tasks: Arc::new(tasks),
                        deferred: None,
                    });
                }
            }
        } else {
            self.check_templates(file, Some(value))?;
        }
        let including = self
            .include_stack
            .last()
            .cloned()
            .unwrap_or_else(|| self.base_dir.join("playbook.yml"));
        Ok(Action::Include {
            file: written,
            tasks: Arc::new(Vec::new()),
            deferred: Some(Arc::new(Deferred {
                what,
                including,
                inherited: child,
                at,
                context: self.runtime.clone(),
            })),
        })
    }

    fn take_id(&mut self) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn module_action(
        &mut self,
        file: &FileNode,
        task: &Node,
        key: &Key,
        value: &Node,
    ) -> Result<Action, PlaybookError> {
        let module = modules::lookup(&key.name).ok_or_else(|| PlaybookError::UnknownModule {
            name: key.name.clone(),
            suggestion: did_you_mean(&key.name, modules::short_names()),
            at: file.key_at(key),
        })?;
        let mut args = match &value.kind {
            NodeKind::Null => Vars::new(),
            NodeKind::Map(_) => file.vars(value, &key.name)?,
            NodeKind::Str(text) => {
                module
                    .free_form()
                    .parse(text)
                    .map_err(|reason| PlaybookError::Invalid {
                        key: key.name.clone(),
                        reason,
                        at: file.at(value),
                    })?
            }
            _ => {
                return Err(wrong_type(
                    file,
                    value,
                    &key.name,
                    "a mapping or a `key=value` string",
                ))
            }
        };
        if let Some(extra) = task.get("args") {
            for (name, value) in file.vars(extra, "args")? {
                args.entry(name).or_insert(value);
            }
            self.check_templates(file, Some(extra))?;
        }
        self.check_templates(file, Some(value))?;
        let args = vars::to_value(args);
        let templated = vars::to_json(&args).to_string().contains("{{")
            || vars::to_json(&args).to_string().contains("{%");
        module.validate(&args, templated).map_err(|source| {
            let at = match &source {
                ArgError::Unknown { name, .. } => value
                    .as_map()
                    .and_then(|entries| entries.iter().find(|(key, _)| &key.name == name))
                    .map_or_else(|| file.at(value), |(key, _)| file.key_at(key)),
                ArgError::Invalid(_) => file.at(value),
            };
            PlaybookError::ModuleArgs {
                module: module.name(),
                source,
                at,
            }
        })?;
        Ok(Action::Module { module, args })
    }

    /// Applies a task's, block's or play's inheritable keywords on top of its parent's.
    pub(super) fn apply_inherited(
        &self,
        file: &FileNode,
        node: &Node,
        into: &mut Inherited,
    ) -> Result<(), PlaybookError> {
        into.when.extend(self.conditions(file, node.get("when"))?);
        if let Some(tags) = node.get("tags") {
            into.tags
                .extend(string_list(file, tags, "tags")?.into_iter().flat_map(|t| {
                    t.split(',')
                        .map(|s| s.trim().to_string())
                        .collect::<Vec<_>>()
                }));
        }
        let raw = |key: &str| node.get(key).map(vars::from_node);
        let text = |key: &str| {
            node.get(key)
                .map(|n| expect_str(file, n, key).map(str::to_string))
                .transpose()
        };
        if let Some(value) = raw("become") {
            into.become_enabled = Some(value);
        }
        if let Some(value) = raw("become_user") {
            into.become_user = Some(value);
        }
        if let Some(value) = text("become_method")? {
            // Ansible's become plugins by their full names too.
            let value = keys::short_action(&value).to_string();
            if value != "sudo" && value != "su" {
                return Err(PlaybookError::Invalid {
                    key: "become_method".into(),
                    reason: format!("`{value}` is not supported; use `sudo` or `su`"),
                    at: file.at(node.get("become_method").unwrap_or(node)),
                });
            }
            into.become_method = Some(value);
        }
        if let Some(value) = text("become_flags")? {
            into.become_flags = Some(value);
        }
        if let Some(env) = node.get("environment") {
            self.check_templates(file, Some(env))?;
            into.environment.push(vars::from_node(env));
        }
        for (key, slot) in [
            ("ignore_errors", &mut into.ignore_errors),
            ("no_log", &mut into.no_log),
            ("check_mode", &mut into.check_mode),
            ("diff", &mut into.diff),
            ("delegate_to", &mut into.delegate_to),
        ] {
            if let Some(value) = node.get(key) {
                self.check_templates(file, Some(value))?;
                *slot = Some(vars::from_node(value));
            }
        }
        if let Some(value) = node.get("run_once") {
            into.run_once = Some(match &value.kind {
                NodeKind::Str(text) if crate::template::is_template(text) => {
                    self.check_templates(file, Some(value))?;
                    vars::from_node(value)
                }
                _ => Value::from(as_bool(file, value, "run_once")?),
            });
        }
        for (key, slot) in [
            ("ignore_unreachable", &mut into.ignore_unreachable),
            ("any_errors_fatal", &mut into.any_errors_fatal),
        ] {
            if let Some(value) = node.get(key) {
                *slot = Some(as_bool(file, value, key)?);
            }
        }
        if let Some(value) = node.get("throttle") {
            let count = match &value.kind {
                NodeKind::Int(n) => seconds::count(*n),
                NodeKind::Str(text) => seconds::count_from_text(text),
                _ => {
                    return Err(wrong_type(
                        file,
                        value,
                        "throttle",
                        "a whole number of hosts",
                    ))
                }
            };
            into.throttle = Some(count.map_err(|error| invalid(file, value, "throttle", &error))?);
        }
        if let Some(value) = node.get("notify") {
            into.notify = Some(string_list(file, value, "notify")?);
        }
        if let Some(value) = node.get("vars") {
            self.check_templates(file, Some(value))?;
            into.vars.push(Arc::new(file.vars(value, "vars")?));
        }
        Ok(())
    }

    /// Parses `when`-style conditions: a string, a boolean, or a list of them.
    fn conditions(
        &self,
        file: &FileNode,
        node: Option<&Node>,
    ) -> Result<Vec<Condition>, PlaybookError> {
        let Some(node) = node else {
            return Ok(Vec::new());
        };
        let items: Vec<&Node> = match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        items
            .into_iter()
            .map(|item| {
                match &item.kind {
                    NodeKind::Str(expr) => {
                        let bare = expr.trim();
                        let bare = bare
                            .strip_prefix("{{")
                            .and_then(|b| b.strip_suffix("}}"))
                            .unwrap_or(bare);
                        self.templar.check_expression(bare).map_err(|source| {
                            PlaybookError::Template {
                                source,
                                at: file.at(item),
                            }
                        })?;
                    }
                    NodeKind::Bool(_) | NodeKind::Int(_) | NodeKind::Null => {}
                    _ => {
                        return Err(wrong_type(
                            file,
                            item,
                            "when",
                            "a condition (string or boolean)",
                        ))
                    }
                }
                Ok(Condition {
                    expr: vars::from_node(item),
                    at: file.at(item),
                })
            })
            .collect()
    }

    fn loop_spec(&self, file: &FileNode, node: &Node) -> Result<Option<LoopSpec>, PlaybookError> {
        let mut used = LoopKind::ALL
            .iter()
            .filter_map(|(key, kind)| node.get(key).map(|items| (*key, *kind, items)));
        let Some((key, kind, items)) = used.next() else {
            return Ok(None);
        };
        if let Some((other, _, node)) = used.next() {
            return Err(PlaybookError::Invalid {
                key: other.to_string(),
                reason: format!("a task takes one loop keyword, and this one has `{key}` too"),
                at: file.at(node),
            });
        }
        if !matches!(
            items.kind,
            NodeKind::Seq(_) | NodeKind::Str(_) | NodeKind::Map(_)
        ) {
            return Err(wrong_type(
                file,
                items,
                key,
                "a list or a template that renders to one",
            ));
        }
        self.check_templates(file, Some(items))?;
        let mut spec = LoopSpec {
            items: vars::from_node(items),
            kind,
            loop_var: "item".into(),
            index_var: None,
            label: None,
            pause: std::time::Duration::ZERO,
            extended: false,
        };
        if let Some(control) = node.get("loop_control") {
            for (key, value) in expect_map(file, control, "loop_control")? {
                match key.name.as_str() {
                    "loop_var" => spec.loop_var = expect_str(file, value, "loop_var")?.to_string(),
                    "index_var" => {
                        spec.index_var = Some(expect_str(file, value, "index_var")?.to_string())
                    }
                    "label" => spec.label = Some(vars::from_node(value)),
                    "pause" => {
                        let pause = match value.kind {
                            NodeKind::Int(n) => seconds::whole_seconds(n),
                            NodeKind::Float(f) => seconds::seconds(f),
                            // Ansible reads `pause` as a float field, so "2" is 2 seconds.
                            NodeKind::Str(ref text) if !crate::template::is_template(text) => {
                                seconds::seconds_from_text(text)
                            }
                            _ => {
                                return Err(wrong_type(file, value, "pause", "a number of seconds"))
                            }
                        };
                        spec.pause =
                            pause.map_err(|error| invalid(file, value, "pause", &error))?;
                    }
                    "extended" => spec.extended = as_bool(file, value, "extended")?,
                    _ => {
                        return Err(unknown_key(
                            file,
                            "loop_control",
                            key,
                            LOOP_CONTROL_KEYS.iter().copied(),
                        ))
                    }
                }
            }
        }
        Ok(Some(spec))
    }

    fn retry(&self, file: &FileNode, node: &Node) -> Result<Option<Retry>, PlaybookError> {
        if let Some(retries) = node.get("retries") {
            check_literal(file, retries, "retries", Number::Count)?;
        }
        if let Some(delay) = node.get("delay") {
            check_literal(file, delay, "delay", Number::Seconds)?;
        }
        let Some(until) = node.get("until") else {
            return Ok(None);
        };
        let number = |key: &str, default: i64| -> Result<Value, PlaybookError> {
            match node.get(key) {
                Some(value) => Ok(vars::from_node(value)),
                None => Ok(Value::from(default)),
            }
        };
        Ok(Some(Retry {
            until: self.conditions(file, Some(until))?,
            retries: number("retries", 3)?,
            delay: number("delay", 5)?,
        }))
    }

    /// Checks every template string under `node` parses and uses known filters.
    pub(super) fn check_templates(
        &self,
        file: &FileNode,
        node: Option<&Node>,
    ) -> Result<(), PlaybookError> {
        let Some(node) = node else { return Ok(()) };
        match &node.kind {
            NodeKind::Str(text)
                if text.contains("{{") || text.contains("{%") || text.contains("{#") =>
            {
                self.templar
                    .check_template(text)
                    .map_err(|source| PlaybookError::Template {
                        source,
                        at: file.at(node),
                    })
            }
            NodeKind::Seq(items) => items
                .iter()
                .try_for_each(|item| self.check_templates(file, Some(item))),
            NodeKind::Map(entries) => entries
                .iter()
                .try_for_each(|(_, value)| self.check_templates(file, Some(value))),
            _ => Ok(()),
        }
    }
}

/// `async:` and `poll:` (`poll` alone does nothing, as in Ansible); literals range-checked.
fn async_run(file: &FileNode, node: &Node) -> Result<Option<AsyncRun>, PlaybookError> {
    if let Some(poll) = node.get("poll") {
        check_literal(file, poll, "poll", Number::Seconds)?;
    }
    let Some(seconds) = node.get("async") else {
        return Ok(None);
    };
    check_literal(file, seconds, "async", Number::Seconds)?;
    Ok(Some(AsyncRun {
        seconds: vars::from_node(seconds),
        poll: node
            .get("poll")
            .map_or_else(|| Value::from(15), vars::from_node),
    }))
}

/// What an `until` setting counts.
#[derive(Clone, Copy)]
enum Number {
    /// `retries`: a whole count.
    Count,
    /// `delay`: whole seconds.
    Seconds,
}

/// Checks a literal `retries`/`delay` (an integer, or text that is not a template) is in
/// range; a template is checked when it is rendered, for each host.
fn check_literal(
    file: &FileNode,
    node: &Node,
    key: &str,
    number: Number,
) -> Result<(), PlaybookError> {
    let checked = match (&node.kind, number) {
        (NodeKind::Int(n), Number::Count) => seconds::count(*n).map(drop),
        (NodeKind::Int(n), Number::Seconds) => seconds::whole_seconds(*n).map(drop),
        (NodeKind::Str(text), _) if crate::template::is_template(text) => Ok(()),
        (NodeKind::Str(text), Number::Count) => seconds::count_from_text(text).map(drop),
        (NodeKind::Str(text), Number::Seconds) => seconds::seconds_from_text(text).map(drop),
        _ => return Err(wrong_type(file, node, key, "a non-negative integer")),
    };
    checked.map_err(|error| invalid(file, node, key, &error))
}

fn invalid(file: &FileNode, node: &Node, key: &str, error: &seconds::NumberError) -> PlaybookError {
    PlaybookError::Invalid {
        key: key.to_string(),
        reason: error.to_string(),
        at: file.at(node),
    }
}

fn unknown_key<'k>(
    file: &FileNode,
    context: &'static str,
    key: &Key,
    known: impl IntoIterator<Item = &'k str>,
) -> PlaybookError {
    PlaybookError::UnknownKey {
        context,
        key: key.name.clone(),
        suggestion: did_you_mean(&key.name, known),
        at: file.key_at(key),
    }
}

/// Rewrites the `action:` form (`action: copy src=a dest=b` or
/// `action: {module: copy, src: a, dest: b}`) into the usual `copy: ...` form, keeping the
/// positions of what was written; `local_action:` likewise, plus `delegate_to: localhost`.
/// `None` when the task uses neither.
fn action_form(file: &FileNode, node: &Node) -> Result<Option<Node>, PlaybookError> {
    let Some(entries) = node.as_map() else {
        return Ok(None);
    };
    let Some(index) = entries
        .iter()
        .position(|(key, _)| key.name == "action" || key.name == "local_action")
    else {
        return Ok(None);
    };
    let (key, value) = &entries[index];
    let (module, args) = match &value.kind {
        NodeKind::Str(text) => {
            let text = text.trim_start();
            let (module, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
            let rest = rest.trim();
            let args = if rest.is_empty() {
                Node::null(value.span)
            } else {
                Node {
                    kind: NodeKind::Str(rest.to_string()),
                    span: value.span,
                }
            };
            (module.to_string(), args)
        }
        NodeKind::Map(fields) => {
            let module = match value.get("module") {
                Some(module) => expect_str(file, module, "module")?.to_string(),
                None => {
                    return Err(PlaybookError::Missing {
                        context: "action",
                        key: "module",
                        at: file.at(value),
                    })
                }
            };
            let rest: Vec<(Key, Node)> = fields
                .iter()
                .filter(|(field, _)| field.name != "module")
                .cloned()
                .collect();
            let args = if rest.is_empty() {
                Node::null(value.span)
            } else {
                Node {
                    kind: NodeKind::Map(rest),
                    span: value.span,
                }
            };
            (module, args)
        }
        _ => {
            return Err(wrong_type(
                file,
                value,
                "action",
                "a `module key=value` string or a mapping with `module:`",
            ))
        }
    };
    if module.is_empty() {
        return Err(PlaybookError::NoAction { at: file.at(node) });
    }
    let local = key.name == "local_action";
    if local && node.get("delegate_to").is_some() {
        return Err(PlaybookError::Invalid {
            key: "delegate_to".into(),
            reason: "a `local_action` task already runs on the controller".into(),
            at: file.at(node),
        });
    }
    let mut rewritten = entries.to_vec();
    rewritten[index] = (
        Key {
            name: module,
            span: key.span,
        },
        args,
    );
    if local {
        rewritten.push((
            Key {
                name: "delegate_to".into(),
                span: key.span,
            },
            Node {
                kind: NodeKind::Str("localhost".into()),
                span: key.span,
            },
        ));
    }
    Ok(Some(Node {
        kind: NodeKind::Map(rewritten),
        span: node.span,
    }))
}

/// The collection (`community.general`) of a fully qualified module name
/// (`community.general.zypper`); `None` for a short name and for `ansible.builtin`, whose
/// unknown names get a did-you-mean instead.
fn collection_of(name: &str) -> Option<&str> {
    let (collection, module) = name.rsplit_once('.')?;
    let builtin = matches!(collection, "ansible.builtin" | "ansible.legacy");
    (collection.contains('.') && !module.is_empty() && !builtin).then_some(collection)
}

/// The file named by `include_tasks: x.yml` or `include_tasks: {file: x.yml}`.
/// The file and `apply:` of `include_tasks: x.yml` or `include_tasks: {file: x.yml, apply: {}}`.
fn include_args(file: &FileNode, node: &Node) -> Result<(String, Option<Node>), PlaybookError> {
    let Some(entries) = node.as_map() else {
        return Ok((expect_str(file, node, "include_tasks")?.to_string(), None));
    };
    let mut name = None;
    let mut apply = None;
    for (key, value) in entries {
        match key.name.as_str() {
            "file" | "_raw_params" => name = Some(expect_str(file, value, "file")?.to_string()),
            "apply" => apply = Some(value.clone()),
            _ => {
                return Err(unknown_key(
                    file,
                    "include_tasks",
                    key,
                    ["file", "apply"].iter().copied(),
                ))
            }
        }
    }
    let name = name.ok_or_else(|| PlaybookError::Missing {
        context: "include_tasks",
        key: "file",
        at: file.at(node),
    })?;
    Ok((name, apply))
}

/// The file named by `import_tasks: x.yml` or `import_tasks: {file: x.yml}`.
fn include_file(file: &FileNode, node: &Node) -> Result<String, PlaybookError> {
    match node.get("file") {
        Some(name) => Ok(expect_str(file, name, "file")?.to_string()),
        None => Ok(expect_str(file, node, "include_tasks")?.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::render;
    use crate::playbook::{load, LoadOptions, PlaybookError, TaskNode};
    use crate::template::Templar;

    fn load_tasks(tasks: &str) -> Result<crate::playbook::Playbook, PlaybookError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("site.yml");
        let text = format!("- hosts: all\n  tasks:\n{tasks}");
        std::fs::write(&path, text).expect("write");
        load(&path, &Templar::new(), &LoadOptions::default())
    }

    /// The rendered error for a task list that must not load.
    fn rejected(tasks: &str) -> String {
        match load_tasks(tasks) {
            Ok(_) => panic!("loaded:\n{tasks}"),
            Err(error) => render(&error),
        }
    }

    fn only_task(playbook: &crate::playbook::Playbook) -> &crate::playbook::Task {
        match playbook.plays[0].tasks.first() {
            Some(TaskNode::Task(task)) => task,
            _ => panic!("a task"),
        }
    }

    #[test]
    fn the_removed_include_points_to_include_tasks() {
        let error = rejected("    - include: other.yml\n");
        assert!(error.contains("did you mean `include_tasks`"), "{error}");
    }

    #[test]
    fn action_form_names_the_module_in_a_string_or_a_mapping() {
        for tasks in [
            "    - action: copy content=x dest=/tmp/a\n",
            "    - action:\n        module: copy\n        content: x\n        dest: /tmp/a\n",
        ] {
            let playbook = load_tasks(tasks).expect("action form loads");
            let task = only_task(&playbook);
            let crate::playbook::Action::Module { module, args } = &task.action else {
                panic!("a module action: {tasks}");
            };
            assert_eq!(module.name(), "copy", "{tasks}");
            let args = crate::vars::to_json(args);
            assert_eq!(args["dest"], "/tmp/a", "{tasks}");
            assert_eq!(args["content"], "x", "{tasks}");
        }
        let text = rejected("    - action: {content: x}\n");
        assert!(text.contains("action needs `module`"), "{text}");
        let text = rejected("    - action: nosuchmodule a=1\n");
        assert!(text.contains("nosuchmodule"), "{text}");
        assert!(text.contains("site.yml:3:"), "{text}");
    }

    #[test]
    fn local_action_delegates_to_localhost_and_refuses_another_delegate() {
        let playbook = load_tasks("    - local_action: command id -u\n").expect("loads");
        let task = only_task(&playbook);
        assert_eq!(
            task.settings.delegate_to.as_ref().and_then(|v| v.as_str()),
            Some("localhost")
        );
        let text = rejected("    - local_action: command id\n      delegate_to: db01\n");
        assert!(text.contains("already runs on the controller"), "{text}");
    }

    #[test]
    fn become_methods_are_accepted_by_their_full_names() {
        for method in ["ansible.builtin.sudo", "ansible.builtin.su", "sudo"] {
            let playbook = load_tasks(&format!(
                "    - command: id\n      become_method: {method}\n"
            ))
            .expect("loads");
            let short = method.rsplit('.').next().unwrap_or(method);
            assert_eq!(
                only_task(&playbook).settings.become_method.as_deref(),
                Some(short)
            );
        }
        let text = rejected("    - command: id\n      become_method: community.general.doas\n");
        assert!(text.contains("use `sudo` or `su`"), "{text}");
    }

    #[test]
    fn unknown_collection_modules_name_the_collection_and_what_rpatch_has_of_it() {
        let text = rejected("    - ansible.posix.synchronize: src=a dest=b\n");
        assert!(
            text.contains("module `ansible.posix.synchronize` of collection `ansible.posix` is not implemented"),
            "{text}"
        );
        assert!(text.contains("ansible.posix.sysctl"), "{text}");
        assert!(text.contains("site.yml:3:7"), "{text}");
        let text = rejected("    - ansible.builtin.shel: echo\n");
        assert!(text.contains("unknown module"), "{text}");
    }

    #[test]
    fn async_and_poll_are_task_keywords_with_literals_checked() {
        let playbook =
            load_tasks("    - command: id\n      async: 3600\n      poll: 30\n").expect("loads");
        let spec = only_task(&playbook).async_run.as_ref().expect("async");
        assert_eq!(spec.seconds.as_i64(), Some(3600));
        assert_eq!(spec.poll.as_i64(), Some(30));
        let text = rejected("    - command: id\n      async: -1\n");
        assert!(text.contains("invalid `async`"), "{text}");
    }

    #[test]
    fn notify_on_a_block_or_import_is_inherited_unless_the_task_names_its_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("t.yml"), "- command: echo imported\n").expect("write");
        let path = dir.path().join("site.yml");
        let text = "- hosts: all\n  tasks:\n    - block:\n        - command: echo a\n        \
                    - command: echo b\n          notify: own\n      notify: h\n    \
                    - import_tasks: t.yml\n      notify: [h, own]\n  handlers:\n    \
                    - name: h\n      debug: msg=h\n    - name: own\n      debug: msg=own\n";
        std::fs::write(&path, text).expect("write");
        let playbook = load(&path, &Templar::new(), &LoadOptions::default()).expect("loads");
        let tasks = &playbook.plays[0].tasks;
        let Some(TaskNode::Block(block)) = tasks.first() else {
            panic!("a block");
        };
        let notified = |node: &TaskNode| match node {
            TaskNode::Task(task) => task.notify.clone(),
            TaskNode::Block(_) => panic!("a task"),
        };
        assert_eq!(notified(&block.block[0]), ["h"]);
        assert_eq!(notified(&block.block[1]), ["own"]);
        assert_eq!(notified(&tasks[1]), ["h", "own"]);

        std::fs::write(&path, "- hosts: all\n  tasks:\n    - block:\n        - command: echo a\n      notify: missing\n").expect("write");
        let error = load(&path, &Templar::new(), &LoadOptions::default())
            .expect_err("a block notifying no handler is refused");
        assert!(render(&error).contains("missing"), "{}", render(&error));
    }

    #[test]
    fn loop_pause_must_be_a_finite_non_negative_number_of_seconds() {
        for bad in [
            ".inf",
            "1e30",
            "-1",
            ".nan",
            "-.inf",
            "4294967296",
            "1.0e30",
        ] {
            let text = rejected(&format!(
                "    - debug: msg=x\n      loop: [1, 2]\n      loop_control: {{pause: {bad}}}\n"
            ));
            assert!(text.contains("invalid `pause`"), "{bad}: {text}");
            assert!(
                text.contains("expected a number of seconds from 0 to 4294967295"),
                "{bad}: {text}"
            );
            assert!(text.contains("site.yml:5:29"), "{bad}: {text}");
        }
        let playbook = load_tasks(
            "    - debug: msg=x\n      loop: [1, 2]\n      loop_control: {pause: 0.25}\n",
        )
        .expect("valid pause");
        let Some(TaskNode::Task(task)) = playbook.plays[0].tasks.first() else {
            panic!("a task");
        };
        let pause = task.loop_spec.as_ref().map(|spec| spec.pause);
        assert_eq!(pause, Some(std::time::Duration::from_millis(250)));
    }

    #[test]
    fn literal_retries_and_delay_are_range_checked_at_load() {
        let until = "    - command: 'true'\n      register: r\n      until: r is success\n";
        for (setting, expected) in [
            (
                "retries: 1.0e30",
                "`retries` must be a non-negative integer, found a number",
            ),
            (
                "retries: 1e30",
                "expected a whole number from 0 to 4294967295, found `1e30`",
            ),
            (
                "retries: -3",
                "expected a whole number from 0 to 4294967295, found -3",
            ),
            ("retries: 4294967296", "found 4294967296"),
            (
                "delay: 18446744073709551616",
                "found `18446744073709551616`",
            ),
            (
                "delay: -1",
                "expected a number of seconds from 0 to 4294967295, found -1",
            ),
            (
                "delay: .inf",
                "`delay` must be a non-negative integer, found a number",
            ),
            ("delay: 'soon'", "found `soon`"),
        ] {
            let text = rejected(&format!("{until}      {setting}\n"));
            assert!(text.contains(expected), "{setting}: {text}");
            assert!(text.contains("site.yml:6:"), "{setting}: {text}");
        }
        load_tasks(&format!(
            "{until}      retries: \"{{{{ n }}}}\"\n      delay: 2\n"
        ))
        .expect("a templated retries is checked when rendered");
    }
}
