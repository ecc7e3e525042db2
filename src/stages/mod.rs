//! Staged rollouts: `stages: [staging, production]` on a play, with `promote_after` (a soak
//! time and/or a gate). A run of a later stage installs the baseline of the previous stage's
//! newest successful run, and refuses to start before that run soaked and the gate passed
//! (unless `--emergency`, which is journaled).
//!
//! [`spec`] reads the play keys; [`select`] decides which stage a run is; [`promote`] finds the
//! previous stage's run and judges whether it may be promoted. The CLI (`cli/stage.rs`) glues
//! them to a run; [`StageRecord`] is what the journal keeps.

pub mod promote;
pub mod select;
pub mod spec;

use serde::{Deserialize, Serialize};

pub use promote::{judge, previous_run, PreviousRun, Refusal};
pub use select::{choose_stage, StageError};
pub use spec::{
    parse_period, period_from_node, stages_from_play, PromoteAfter, Stages, StagesSpecError,
};

/// The stage of a run, as journaled with its settings (and read back by `resume`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRecord {
    /// The stage (an inventory group).
    pub name: String,
    /// The stage before it, for a later stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// The baseline its package upgrades install (the previous stage's run id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// What `--emergency` let the run skip (an unfinished soak, a failing gate, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<String>,
}

impl StageRecord {
    /// One line for `rpatch runs show` and the run's start.
    pub fn describe(&self) -> String {
        let mut text = format!("stage {}", self.name);
        match (&self.previous, &self.baseline) {
            (Some(previous), Some(baseline)) => {
                text.push_str(&format!(", baseline {baseline} (from stage {previous})"))
            }
            (Some(previous), None) => {
                text.push_str(&format!(", no baseline (stage {previous} recorded none)"))
            }
            (None, _) => text.push_str(" (first stage: upgrades from the repositories)"),
        }
        if !self.overridden.is_empty() {
            text.push_str(&format!(
                "; --emergency overrode: {}",
                self.overridden.join("; ")
            ));
        }
        text
    }
}

/// The variables a staged run's tasks see: `rpatch_stage` and, in a later stage,
/// `rpatch_stage_baseline` (which `apt`/`dnf` upgrades install instead of the newest versions).
pub const STAGE_VAR: &str = "rpatch_stage";
/// See [`STAGE_VAR`].
pub const STAGE_BASELINE_VAR: &str = "rpatch_stage_baseline";

/// The baseline a later stage's run installs, as its tasks see it (`rpatch_stage_baseline`):
/// `apt`/`dnf` tasks that upgrade every package install its versions instead of the newest.
pub fn stage_baseline(scope: &crate::vars::Value) -> Option<String> {
    let value = scope.get_attr(STAGE_BASELINE_VAR).ok()?;
    value.as_str().map(str::to_string)
}
