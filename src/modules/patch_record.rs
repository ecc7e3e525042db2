//! What the package modules (`patch_facts`, `apt`, `dnf`) keep in the run journal about a
//! host's patch state, so the fleet summary, `--report` and `rpatch runs show` can say which
//! hosts have updates pending, got them applied or need a reboot without reading task output.

use serde::{Deserialize, Serialize};

use super::ModuleResult;

/// One task's view of a host's patch state; a later task's fields override an earlier one's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchRecord {
    /// Updates pending (`patch_facts` with `pending` listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<usize>,
    /// How many of them come from a security source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<usize>,
    /// Packages changed by `apt`/`dnf` (or that would change, in check mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<usize>,
    /// True when `applied` only says what would change (check mode).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub check_mode: bool,
    /// The host needs a reboot to run what is installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reboot_required: Option<bool>,
}

impl PatchRecord {
    /// The key of the journal record that holds it.
    pub const KEY: &'static str = "patch";

    /// Reads it back from a task's journal record, if the record has one.
    pub fn from_record(record: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(record.get(Self::KEY)?.clone()).ok()
    }

    /// Folds a later task's view into this one.
    pub fn merge(&mut self, later: &PatchRecord) {
        if later.pending.is_some() {
            self.pending = later.pending;
            self.security = later.security;
        }
        if let Some(applied) = later.applied {
            self.applied = Some(self.applied.unwrap_or(0) + applied);
            self.check_mode = later.check_mode;
            if !later.check_mode && later.pending.is_none() {
                // What was pending before the upgrade is stale now; a later listing says.
                self.pending = None;
                self.security = None;
            }
        }
        if later.reboot_required.is_some() {
            self.reboot_required = later.reboot_required;
        }
    }

    /// Adds it to a result as the journal record.
    pub fn attach(self, mut result: ModuleResult) -> ModuleResult {
        let value = serde_json::to_value(&self).unwrap_or_default();
        result.keep_in_journal(Self::KEY, value);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_tasks_override_pending_and_add_applied() {
        let mut state = PatchRecord {
            pending: Some(3),
            security: Some(1),
            reboot_required: Some(false),
            ..PatchRecord::default()
        };
        state.merge(&PatchRecord {
            applied: Some(3),
            reboot_required: Some(true),
            ..PatchRecord::default()
        });
        state.merge(&PatchRecord {
            pending: Some(0),
            security: Some(0),
            ..PatchRecord::default()
        });
        assert_eq!(state.pending, Some(0));
        assert_eq!(state.applied, Some(3));
        state.merge(&PatchRecord {
            applied: Some(1),
            ..PatchRecord::default()
        });
        assert_eq!(
            state.pending, None,
            "a real upgrade makes the old listing stale"
        );
        assert_eq!(state.applied, Some(4));
        assert_eq!(state.reboot_required, Some(true));
    }

    #[test]
    fn a_record_round_trips_through_the_journal_shape() {
        let record = PatchRecord {
            pending: Some(2),
            ..PatchRecord::default()
        };
        let result = record.clone().attach(ModuleResult::ok());
        let json = crate::vars::to_json(&result.data[crate::modules::JOURNAL_KEY]);
        assert_eq!(PatchRecord::from_record(&json), Some(record));
    }
}
