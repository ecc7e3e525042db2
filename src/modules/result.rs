//! What a module run produced, in the shape Ansible registers it.

use serde::Serialize;

use crate::vars::{self, Value, Vars};

/// A before/after pair for `--diff`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    /// What the target looked like.
    pub before: String,
    /// What it looks like now (or would, in check mode).
    pub after: String,
    /// What is being compared (a path, usually).
    pub header: String,
}

/// The data key of a result whose value the runner keeps in the run journal with the task's
/// record (composed by the module, never secret: e.g. where `virsh_evacuate` moved guests),
/// and leaves out of what it shows and registers.
pub const JOURNAL_KEY: &str = "_journal";

/// The data key marking a result printed like `debug` output even without `-v` (Ansible's
/// `_ansible_verbose_always`, set by `assert`); the runner takes it out before showing or
/// registering the result.
pub const VERBOSE_ALWAYS: &str = "_ansible_verbose_always";

/// The result of one module run on one host.
#[derive(Debug, Clone, Default)]
pub struct ModuleResult {
    /// The module changed something (or would have, in check mode).
    pub changed: bool,
    /// The module failed.
    pub failed: bool,
    /// The module chose not to run (e.g. `command` in check mode).
    pub skipped: bool,
    /// The host could not be reached.
    pub unreachable: bool,
    /// A human message.
    pub msg: Option<String>,
    /// Module-specific fields (`stdout`, `rc`, `stat`, ...), from the module's typed result.
    pub data: Vars,
    /// Facts to set on the host (`set_fact`, fact gathering).
    pub facts: Option<Vars>,
    /// A change to show with `--diff`.
    pub diff: Option<Diff>,
}

impl ModuleResult {
    /// Adds `value` under `key` to what the run journal keeps of this result (a mapping of
    /// records by kind: a baseline's packages, a patch state, an evacuation's moves).
    pub fn keep_in_journal(&mut self, key: &str, value: serde_json::Value) {
        let mut record = match self.data.get(JOURNAL_KEY).map(crate::vars::to_json) {
            Some(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        record.insert(key.to_string(), value);
        self.data.insert(
            JOURNAL_KEY.into(),
            crate::vars::from_json(&serde_json::Value::Object(record)),
        );
    }

    /// Nothing changed.
    pub fn ok() -> Self {
        Self::default()
    }

    /// Something changed.
    pub fn changed() -> Self {
        Self {
            changed: true,
            ..Self::default()
        }
    }

    /// The module failed with a message.
    pub fn failed(msg: impl Into<String>) -> Self {
        Self {
            failed: true,
            msg: Some(msg.into()),
            ..Self::default()
        }
    }

    /// The host was unreachable.
    pub fn unreachable(msg: impl Into<String>) -> Self {
        Self {
            unreachable: true,
            msg: Some(msg.into()),
            ..Self::default()
        }
    }

    /// A command could not run: the host is unreachable, or the task failed (a command the
    /// transport refused, or privilege escalation refused on a host that answered, as Ansible
    /// reports an incorrect sudo password).
    pub fn from_transport(error: &crate::transport::TransportError) -> Self {
        if error.is_unreachable() {
            Self::unreachable(error.to_string())
        } else {
            Self::failed(error.to_string())
        }
    }

    /// The module did not run, with the reason.
    pub fn skipped(msg: impl Into<String>) -> Self {
        Self {
            skipped: true,
            msg: Some(msg.into()),
            ..Self::default()
        }
    }

    /// Adds a typed result's fields.
    pub fn with_data<T: Serialize>(mut self, data: &T) -> Self {
        if let serde_json::Value::Object(map) =
            serde_json::to_value(data).unwrap_or(serde_json::Value::Null)
        {
            for (key, value) in map {
                self.data.insert(key, vars::from_json(&value));
            }
        }
        self
    }

    /// Adds warnings to the result's `warnings` list, which the runner prints as Ansible does.
    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        if warnings.is_empty() {
            return self;
        }
        let mut all: Vec<Value> = self
            .data
            .get("warnings")
            .and_then(|list| list.try_iter().ok())
            .map(Iterator::collect)
            .unwrap_or_default();
        all.extend(warnings.into_iter().map(Value::from));
        self.data.insert("warnings".into(), Value::from(all));
        self
    }

    /// Sets the message.
    pub fn with_msg(mut self, msg: impl Into<String>) -> Self {
        self.msg = Some(msg.into());
        self
    }

    /// The registered value, as a task's `register:` sees it.
    pub fn to_value(&self) -> Value {
        let mut map = Vars::new();
        map.insert("changed".into(), Value::from(self.changed));
        map.insert("failed".into(), Value::from(self.failed));
        if self.skipped {
            map.insert("skipped".into(), Value::from(true));
        }
        if self.unreachable {
            map.insert("unreachable".into(), Value::from(true));
        }
        if let Some(msg) = &self.msg {
            map.insert("msg".into(), Value::from(msg.as_str()));
        }
        for (key, value) in &self.data {
            map.insert(key.clone(), value.clone());
        }
        if let Some(facts) = &self.facts {
            map.insert("ansible_facts".into(), vars::to_value(facts.clone()));
        }
        vars::to_value(map)
    }
}
