//! What a run was started with, as the journal records it in `run_start` and `rpatch resume`
//! reads it back: one value, written once by `rpatch run`, so a resumed run repeats it.
//!
//! **No secrets.** Only paths, flags, names and counts: extra variables by name, `-K` as a
//! flag (the password is asked again), and the playbook's content as a SHA-256 digest.
//!
//! **Old journals.** Every field added after the first journal format has a serde default;
//! a journal without [`RunSettings::connection`] or [`RunSettings::digest`] is read as "not
//! recorded", and `resume` says so and falls back to its command line.

use serde::{Deserialize, Serialize};

use crate::transport::HostKeyPolicy;

/// The command-line settings a run was started with, so `rpatch resume` can repeat them.
///
/// Extra variables are recorded by name only: their values may be secrets, so a resumed run
/// must be given them again.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// Inventory paths, as given.
    pub inventory: Vec<String>,
    /// `--tags`.
    pub tags: Vec<String>,
    /// `--skip-tags`.
    pub skip_tags: Vec<String>,
    /// `--check`.
    pub check: bool,
    /// `--diff`.
    pub diff: bool,
    /// `--forks`.
    pub forks: usize,
    /// `--become`.
    pub become_all: bool,
    /// `--user`.
    pub user: Option<String>,
    /// `--force-handlers`: notified handlers run on hosts that failed; absent in older journals.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_handlers: bool,
    /// Names of the `-e` variables (never their values).
    pub extra_var_names: Vec<String>,
    /// How the run connects; `None` in journals written before rpatch recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionSettings>,
    /// The playbook's content when the run started; `None` in older journals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<PlaybookDigest>,
    /// Where the playbook's relative paths and roles are found, when not its own directory
    /// (`rpatch run -`, `adhoc`, `patch`: the directory the run started in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_dir: Option<String>,
    /// ansible.cfg's `roles_path` (absolute), so a resume started elsewhere finds the roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles_path: Vec<String>,
    /// `--start-at-task`: the tasks before it are not part of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at_task: Option<String>,
    /// The run's stage and the baseline it installs (`stages:`); `None` for unstaged runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<crate::stages::StageRecord>,
}

/// Connection options of a run besides `-u` and `-b`: the effective values (the flag, else
/// its `RPATCH_*` variable), so a resume in another environment connects the same way.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSettings {
    /// `-F`: the ssh_config file used instead of the standard ones.
    #[serde(default)]
    pub ssh_config: Option<String>,
    /// `--known-hosts`: known_hosts files used instead of the standard ones.
    #[serde(default)]
    pub known_hosts: Vec<String>,
    /// `--host-key-checking`: `strict`, `accept-new` or `off`.
    #[serde(default)]
    pub host_key_checking: Option<HostKeyPolicy>,
    /// `--task-timeout` (named `--timeout` before `-T` took Ansible's meaning): the
    /// per-command limit in seconds.
    #[serde(default)]
    pub timeout: Option<u64>,
    /// `-K`: the become password was asked for (it is asked again on resume, never stored).
    #[serde(default)]
    pub ask_become_pass: bool,
    /// `-T`/`--timeout`: the connection timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<u64>,
    /// `--private-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    /// `-k`: the SSH password was asked for (asked again on resume, never stored).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ask_pass: bool,
    /// `-c`: `ssh` or `local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// `--become-user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub become_user: Option<String>,
    /// `--become-method`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub become_method: Option<String>,
    /// The `--ssh-common-args`/`--ssh-extra-args` words rpatch uses (others were warned about).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_args: Vec<String>,
}

/// A digest of the playbook and every file it loaded (imported playbooks, roles, task and
/// vars files), to notice a playbook edited between a run and its resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookDigest {
    /// SHA-256, hex, over each file's length and text, in load order.
    pub sha256: String,
    /// The files, relative to the playbook's directory where they are under it.
    pub files: Vec<String>,
}
