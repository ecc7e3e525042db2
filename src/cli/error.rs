//! Errors that stop rpatch before or instead of a run, and their exit codes.

use std::path::PathBuf;

use crate::diagnostic::{Diagnose, Location};
use crate::inventory::{InventoryError, PatternError};
use crate::playbook::PlaybookError;
use crate::runner::exit;
use crate::yaml::YamlError;

/// Why rpatch could not run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The inventory could not be loaded.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// The playbook could not be loaded.
    #[error(transparent)]
    Playbook(#[from] PlaybookError),
    /// A host pattern (`--limit`) is wrong or matches nothing.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// `-e` could not be parsed.
    #[error("invalid --extra-vars `{text}`: {reason}")]
    ExtraVars {
        /// The argument as given.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// A YAML extra-vars file is malformed.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// No inventory was given and there is no default.
    #[error("no inventory: pass -i PATH, set RPATCH_INVENTORY, or run where ./inventory exists")]
    NoInventory,
    /// A file named on the command line cannot be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file named on the command line (`-e @file`) is not a readable regular file.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    /// A host named with `--host` is not in the inventory.
    #[error("host `{0}` is not in the inventory")]
    UnknownHost(String),
    /// A group named with `--graph` is not in the inventory.
    #[error("group `{0}` is not in the inventory")]
    UnknownGroup(String),
    /// Reading the become password failed.
    #[error("cannot read the password: {0}")]
    Password(std::io::Error),
    /// A `vars_prompt` variable has no value.
    #[error("{at}: vars_prompt `{name}`: {reason}")]
    Prompt {
        /// The variable.
        name: String,
        /// Where its entry is written (file:line:col).
        at: String,
        /// Why it has no value.
        reason: String,
    },
    /// `--serial` is malformed.
    #[error(transparent)]
    Serial(#[from] crate::rolling::SpecError),
    /// The plays cannot be planned.
    #[error(transparent)]
    Plan(#[from] crate::runner::plan::PlanError),
    /// The run journal cannot be written or read.
    #[error(transparent)]
    Journal(#[from] crate::rolling::journal::JournalError),
    /// The run lock cannot be taken (other than being held).
    #[error(transparent)]
    Lock(crate::rolling::lock::LockError),
    /// `resume`/`runs show` of a run id with no journal.
    #[error("no run `{id}` in {}", runs_dir.display())]
    UnknownRun {
        /// The id as given.
        id: String,
        /// Where it was looked for.
        runs_dir: PathBuf,
        /// A runs directory of an older rpatch (relative to the current directory) that has it.
        legacy: Option<PathBuf>,
    },
    /// The state directory (runs and locks) cannot be found or created.
    #[error(transparent)]
    StateDir(#[from] crate::rolling::state_dir::StateDirError),
    /// `resume` of a run that completed with nothing to run again.
    #[error("run `{id}` already finished; there is nothing to resume")]
    RunFinished {
        /// The run.
        id: String,
        /// Hosts that failed in it (`--retry-failed` would run them again).
        failed: usize,
    },
    /// `resume` of a run it cannot continue faithfully (it changed its inventory at run time).
    #[error("run `{id}` cannot be resumed: {reason}")]
    CannotResume {
        /// The run.
        id: String,
        /// Why.
        reason: String,
    },
    /// `resume` with a playbook whose content changed since the run started (without `--force`).
    #[error("the playbook of run `{id}` changed since the run started ({what}); resuming could run other tasks than the hosts already done ran")]
    PlaybookChanged {
        /// The run.
        id: String,
        /// Which files: those loaded then and now, or the difference between the two lists.
        what: String,
    },
    /// `resume` without the extra variables the run was started with.
    #[error("the run was started with extra variables that were not given again: {}", .0.join(", "))]
    MissingExtraVars(Vec<String>),
    /// `RPATCH_NOW` is not an instant.
    #[error(transparent)]
    Clock(#[from] crate::rolling::clock::ClockError),
    /// The ssh_config file (`-F`, `RPATCH_SSH_CONFIG`, or the standard ones) is missing or
    /// malformed.
    #[error("ssh config: {0}")]
    SshConfig(#[from] crate::transport::ssh::ConfigError),
    /// A baseline cannot be found, read or written.
    #[error(transparent)]
    Baseline(#[from] crate::baseline::BaselineError),
    /// The man page could not be rendered.
    #[error("cannot render the man page: {0}")]
    ManPage(std::io::Error),
    /// `--ssh-common-args`/`--ssh-extra-args` cannot be split into words.
    #[error("{flag}: {message}")]
    SshArgs {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A setting of ansible.cfg or an `ANSIBLE_*` variable has a value rpatch cannot use.
    #[error("{origin}: {key}: {message}")]
    AnsibleConfig {
        /// The file (with its line) or the variable.
        origin: String,
        /// The setting.
        key: String,
        /// What was expected.
        message: String,
    },
    /// A built or standard-input playbook could not be saved in the state directory.
    #[error("cannot save the playbook as `{}`: {source}", path.display())]
    SavePlaybook {
        /// Where it was to go.
        path: std::path::PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The playbook could not be read from standard input.
    #[error("cannot read the playbook from standard input: {0}")]
    Stdin(std::io::Error),
    /// `--start-at-task` names no task.
    #[error("--start-at-task: no task is named `{0}` (`--list-tasks` shows the names)")]
    NoSuchTask(String),
    /// A notification sink's templates do not render to something usable.
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyRenderError),
    /// An output file (`rpatch status --report`) cannot be written.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The run's stage cannot be decided.
    #[error(transparent)]
    Stage(#[from] crate::stages::StageError),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        use crate::rolling::journal::JournalError;
        use crate::rolling::state_dir::StateDirError;
        match self {
            // ansible-playbook's exit code for this error, which it raises as AnsibleError.
            Self::Pattern(PatternError::NoHostsToTarget { .. }) => exit::ERROR,
            Self::Inventory(_)
            | Self::Playbook(_)
            | Self::Pattern(_)
            | Self::Yaml(_)
            | Self::Plan(_)
            | Self::Notify(_)
            | Self::Journal(JournalError::Corrupt { .. } | JournalError::Inconsistent { .. }) => {
                exit::PARSE_ERROR
            }
            Self::ExtraVars { .. }
            | Self::NoInventory
            | Self::Read { .. }
            | Self::Input(_)
            | Self::UnknownHost(_)
            | Self::UnknownGroup(_)
            | Self::Serial(_)
            | Self::UnknownRun { .. }
            | Self::RunFinished { .. }
            | Self::CannotResume { .. }
            | Self::PlaybookChanged { .. }
            | Self::MissingExtraVars(_)
            | Self::SshArgs { .. }
            | Self::AnsibleConfig { .. }
            | Self::NoSuchTask(_)
            | Self::Stage(_)
            | Self::Prompt { .. }
            | Self::Clock(_) => exit::BAD_OPTIONS,
            Self::Baseline(crate::baseline::BaselineError::Unknown { .. }) => exit::BAD_OPTIONS,
            Self::Baseline(
                crate::baseline::BaselineError::Parse { .. }
                | crate::baseline::BaselineError::BadWord { .. }
                | crate::baseline::BaselineError::Format { .. },
            ) => exit::PARSE_ERROR,
            Self::StateDir(StateDirError::Relative(_) | StateDirError::NoHome) => exit::BAD_OPTIONS,
            // A file that is not there is a bad option; one that is there but wrong, a parse error.
            Self::SshConfig(error) if error.line == 0 => exit::BAD_OPTIONS,
            Self::SshConfig(_) => exit::PARSE_ERROR,
            Self::Password(_)
            | Self::Journal(_)
            | Self::Lock(_)
            | Self::StateDir(_)
            | Self::Baseline(_)
            | Self::Stdin(_)
            | Self::Write { .. }
            | Self::SavePlaybook { .. }
            | Self::ManPage(_) => exit::ERROR,
        }
    }
}

impl Diagnose for CliError {
    fn location(&self) -> Option<&Location> {
        match self {
            Self::Inventory(error) => error.location(),
            Self::Playbook(error) => error.location(),
            Self::Pattern(error) => error.location(),
            Self::Yaml(error) => error.location(),
            Self::Serial(error) => error.location(),
            Self::Plan(error) => error.location(),
            _ => None,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            Self::Inventory(error) => error.help(),
            Self::Playbook(error) => error.help(),
            Self::Pattern(error) => error.help(),
            Self::Yaml(error) => error.help(),
            Self::Input(error) => error.help(),
            Self::Plan(error) => error.help(),
            Self::ExtraVars { .. } => {
                Some("use `key=value`, a JSON/YAML mapping, or `@file.yml`".into())
            }
            Self::UnknownRun {
                legacy: Some(legacy),
                ..
            } => Some(format!(
                "an older rpatch kept it in {}: pass `--runs-dir {}`",
                legacy.display(),
                legacy.display()
            )),
            Self::UnknownRun { .. } => Some("`rpatch runs` lists the runs".into()),
            Self::RunFinished { id, failed } if *failed > 0 => Some(format!(
                "{failed} host(s) failed in it: `rpatch resume {id} --retry-failed` runs them again"
            )),
            Self::PlaybookChanged { .. } => Some(
                "restore the playbook, or review the change and pass `--force` to resume with it as it is now"
                    .into(),
            ),
            _ => None,
        }
    }
}
