//! What the runner reports while it works; output renderers and the journal consume these.

use indexmap::IndexMap;
use serde::Serialize;

use super::stats::HostStats;
use crate::modules::Diff;

/// How a task ended on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ran, changed nothing.
    Ok,
    /// Ran and changed something.
    Changed,
    /// Failed.
    Failed,
    /// Did not run (condition false, check mode, ...).
    Skipped,
    /// The host could not be reached.
    Unreachable,
}

/// One host's result for one task (or one loop item).
#[derive(Debug, Clone, Serialize)]
pub struct HostResult {
    /// The host.
    pub host: String,
    /// The task's display name.
    pub task: String,
    /// How it ended.
    pub status: Status,
    /// The loop item's label, for per-item results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The host the task ran on instead, if delegated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegated_to: Option<String>,
    /// A failure that `ignore_errors` let pass.
    pub ignored: bool,
    /// The registered result (censored when `no_log`).
    pub result: serde_json::Value,
    /// `debug` output is shown only at this `-v` level or above.
    #[serde(skip)]
    pub verbosity: u8,
    /// Whether the result is worth printing without `-v` (debug output, failures).
    #[serde(skip)]
    pub show_result: bool,
    /// Printed indented by four, as Ansible prints results marked `_ansible_verbose_always`
    /// (`debug`, `assert` unless `quiet`), failures included.
    #[serde(skip)]
    pub pretty: bool,
    /// A before/after diff, for `--diff`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<Diff>,
    /// True for the summary of a loop whose items were reported one by one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub loop_summary: bool,
}

/// A health-check gate's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    /// The gate's name.
    pub name: String,
    /// The batch (1-based) it followed; `None` for a pre-flight gate.
    pub batch: Option<usize>,
    /// Whether it passed.
    pub passed: bool,
    /// Attempts made.
    pub attempts: u32,
    /// What was seen.
    pub message: String,
}

/// Something that happened during a run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A play starts on these hosts.
    PlayStart {
        /// The play's name.
        name: String,
        /// Its hosts, in order.
        hosts: Vec<String>,
    },
    /// A batch of a rolling play starts.
    BatchStart {
        /// The play's name.
        play: String,
        /// 1-based batch number.
        batch: usize,
        /// How many batches the play has.
        batches: usize,
        /// The batch's hosts.
        hosts: Vec<String>,
    },
    /// A gate was checked.
    GateResult(GateReport),
    /// The run stops after this batch; later batches are not started.
    Halted {
        /// Why.
        reason: String,
    },
    /// The maintenance window is closed: the run stops before this batch.
    WindowClosed {
        /// 1-based batch number that did not start.
        batch: usize,
        /// When the window opens next (RFC 3339), if ever.
        next_open: Option<String>,
    },
    /// A task starts on some hosts.
    TaskStart {
        /// The task's display name.
        name: String,
        /// How many hosts run it.
        hosts: usize,
        /// True for handlers.
        handler: bool,
    },
    /// A host finished a task (or a loop item).
    HostResult(HostResult),
    /// Something the user should know that is not a result.
    Warning {
        /// The host concerned, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// What happened.
        message: String,
    },
    /// The run was interrupted; no new work starts.
    Interrupted,
    /// The final per-host counts.
    Recap {
        /// Per host, in inventory order.
        hosts: IndexMap<String, HostStats>,
        /// Hosts of batches that never started (halt, window, interruption).
        not_started: Vec<String>,
    },
}
