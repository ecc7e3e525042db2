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
    /// `--serial`, for plays planned while the run goes (after `add_host`/`group_by`).
    pub serial_override: Option<crate::rolling::serial::Serial>,
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
    /// `--become-user`: whom escalation becomes where neither the task nor the host says.
    pub become_user: Option<String>,
    /// `--become-method` (`sudo` or `su`), where neither the task nor the host says.
    pub become_method: Option<String>,
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
    /// `-c`: the connection type where the play and the host's `ansible_connection` say none.
    pub connection: Option<String>,
    /// `-k`: the SSH password where the host has no `ansible_password` (never printed).
    pub password: Option<String>,
    /// `--private-key`, where the host has no `ansible_ssh_private_key_file`.
    pub private_key_file: Option<PathBuf>,
    /// `-T`: the connection timeout, where the host has no `ansible_timeout`.
    pub connect_timeout: Option<Duration>,
    /// `--ssh-common-args`/`--ssh-extra-args` words, before the host's own.
    pub ssh_args: Vec<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            check: false,
            diff: false,
            forks: 50,
            tags: TagFilter::default(),
            limit: None,
            serial_override: None,
            remote_user: None,
            become_all: false,
            force_handlers: false,
            become_password: None,
            verbosity: 0,
            command_timeout: None,
            ssh: SshSettings::default(),
            become_user: None,
            become_method: None,
        }
    }
}
