//! Settings of one run that come from the command line.

use std::time::Duration;

use crate::playbook::TagFilter;

/// How a run behaves, independent of what it runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Report what would change without changing it.
    pub check: bool,
    /// Show before/after diffs.
    pub diff: bool,
    /// How many hosts run a task at once.
    pub forks: usize,
    /// Which tasks run, by tag.
    pub tags: TagFilter,
    /// Only these hosts (already resolved from `--limit`), if limited.
    pub limit: Option<Vec<String>>,
    /// Log in as this user (`-u`).
    pub remote_user: Option<String>,
    /// Escalate every task (`-b`).
    pub become_all: bool,
    /// The become password from `-K` (never printed or journaled).
    pub become_password: Option<String>,
    /// `-v` count.
    pub verbosity: u8,
    /// Default per-command timeout.
    pub command_timeout: Option<Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            check: false,
            diff: false,
            forks: 50,
            tags: TagFilter::default(),
            limit: None,
            remote_user: None,
            become_all: false,
            become_password: None,
            verbosity: 0,
            command_timeout: None,
        }
    }
}
