//! Per-host counters for the PLAY RECAP, and the exit code they imply.

use serde::Serialize;

/// How many tasks ended which way on one host, as in Ansible's recap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HostStats {
    /// Tasks that succeeded (changed ones included).
    pub ok: u32,
    /// Tasks that changed something.
    pub changed: u32,
    /// Times the host could not be reached.
    pub unreachable: u32,
    /// Tasks that failed.
    pub failed: u32,
    /// Tasks skipped.
    pub skipped: u32,
    /// Failures caught by a `rescue`.
    pub rescued: u32,
    /// Failures let pass by `ignore_errors`.
    pub ignored: u32,
}

impl HostStats {
    /// True when nothing was counted: Ansible leaves such a host out of the recap.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Adds another set of counts.
    pub fn add(&mut self, other: &HostStats) {
        self.ok += other.ok;
        self.changed += other.changed;
        self.unreachable += other.unreachable;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.rescued += other.rescued;
        self.ignored += other.ignored;
    }
}

/// Process exit codes, as ansible-playbook uses them.
pub mod exit {
    /// Everything went fine.
    pub const OK: i32 = 0;
    /// rpatch itself hit an error.
    pub const ERROR: i32 = 1;
    /// One or more hosts failed.
    pub const FAILED_HOSTS: i32 = 2;
    /// One or more hosts were unreachable.
    pub const UNREACHABLE_HOSTS: i32 = 3;
    /// A playbook, inventory or template could not be parsed.
    pub const PARSE_ERROR: i32 = 4;
    /// Bad command-line options.
    pub const BAD_OPTIONS: i32 = 5;
    /// A health-check gate failed and the run halted before the next batch.
    pub const HALTED_BY_GATE: i32 = 6;
    /// The maintenance window is closed; the run stopped between batches and can be resumed.
    pub const WINDOW_CLOSED: i32 = 7;
    /// Another run of the same inventory and playbook holds the lock.
    pub const LOCKED: i32 = 8;
    /// A later stage's run refused to start: the previous stage's run has not succeeded,
    /// soaked or passed its promotion gate (`stages`, `promote_after`).
    pub const NOT_PROMOTED: i32 = 9;
    /// Interrupted by the user.
    pub const INTERRUPTED: i32 = 99;
}

/// The exit code for a finished run: failed hosts win over unreachable ones.
///
/// As in Ansible, what counts is how hosts ended, not the recap counters: a host whose
/// failure was cleared (`meta: clear_host_errors`) or whose unreachability was ignored
/// (`ignore_unreachable`) does not fail the run, and one that `any_errors_fatal` took out
/// does, with no failed task of its own.
pub fn exit_code(failed_hosts: usize, unreachable_hosts: usize, interrupted: bool) -> i32 {
    if interrupted {
        exit::INTERRUPTED
    } else if failed_hosts > 0 {
        exit::FAILED_HOSTS
    } else if unreachable_hosts > 0 {
        exit::UNREACHABLE_HOSTS
    } else {
        exit::OK
    }
}
