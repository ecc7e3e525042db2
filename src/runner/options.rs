//! Settings of one run that come from the command line.

use std::path::PathBuf;
use std::time::Duration;

use crate::transport::HostKeyPolicy;

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
    /// `--force-handlers`: handlers run on failed hosts in every play.
    pub force_handlers: bool,
    /// The become password from `-K` (never printed or journaled).
    pub become_password: Option<String>,
    /// `-v` count.
    pub verbosity: u8,
    /// Default per-command timeout.
    pub command_timeout: Option<Duration>,
    /// SSH settings from the command line (each falls back to its `RPATCH_*` variable).
    pub ssh: SshSettings,
}

/// SSH settings that apply to every host of a run.
#[derive(Debug, Clone, Default)]
pub struct SshSettings {
    /// `-F`: an ssh_config file instead of the standard ones.
    pub config_file: Option<PathBuf>,
    /// `--known-hosts`: known_hosts files instead of the standard ones.
    pub known_hosts: Option<Vec<PathBuf>>,
    /// `--host-key-checking`.
    pub host_key_checking: Option<HostKeyPolicy>,
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
            force_handlers: false,
            become_password: None,
            verbosity: 0,
            command_timeout: None,
            ssh: SshSettings::default(),
        }
    }
}
