//! Where runs and locks live, starting a run's journal and taking the run lock (shared by
//! `run`, `resume` and `runs`).

use std::path::{Path, PathBuf};

use super::args::RunsDir;
use super::error::CliError;
use crate::rolling::journal::{
    JournalEvent, JournalHandle, JournalWriter, RunId, RunSettings, FORMAT_VERSION,
};
use crate::rolling::lock::{LockError, LockKey, RunLock};
use crate::rolling::state_dir::{create_private_dir, StateDir};
use crate::runner::plan::{journal_plan, PlayPlan};

/// The outcome of trying to take the run lock.
pub enum Locked {
    /// We hold it until this value is dropped.
    Acquired(RunLock),
    /// Another live run holds it; the message (one line) says which.
    Held(String),
}

/// The runs directory: `--runs-dir` (or `$RPATCH_RUNS_DIR`), else the state directory's `runs/`.
pub fn runs_dir(args: &RunsDir) -> Result<PathBuf, CliError> {
    match &args.runs_dir {
        Some(dir) => Ok(dir.clone()),
        None => Ok(StateDir::from_env()?.runs()),
    }
}

/// `path` made absolute against the current directory (symlinks kept, as the user named it),
/// so a journaled path means the same file to `rpatch resume` started anywhere.
pub fn absolute(path: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Takes the lock for this rollout (all its inventories and its playbook) in the state
/// directory's `locks/`, wherever the runs are kept; warns when it takes over a dead run's lock.
pub fn lock_run(inventory: &[PathBuf], playbook: &Path) -> Result<Locked, CliError> {
    let state = StateDir::from_env()?;
    let key = LockKey::new(inventory, playbook).map_err(CliError::Lock)?;
    match RunLock::acquire(&state.locks(), &key) {
        Ok(acquired) => {
            if let Some(stale) = acquired.took_over {
                eprintln!("[WARNING]: {stale}");
            }
            Ok(Locked::Acquired(acquired.lock))
        }
        Err(error @ (LockError::Held { .. } | LockError::HeldUnknown { .. })) => {
            Ok(Locked::Held(error.to_string()))
        }
        Err(error) => Err(CliError::Lock(error)),
    }
}

/// Creates the run's directory and journal, records the plan, and returns the async handle.
pub fn start_journal(
    runs_dir: &Path,
    playbook: &Path,
    plan: &[PlayPlan],
    settings: RunSettings,
    emergency: bool,
) -> Result<JournalHandle, CliError> {
    let run_id = RunId::generate(jiff::Timestamp::now());
    let run_dir = runs_dir.join(run_id.as_str());
    create_private_dir(runs_dir)?;
    let mut writer = JournalWriter::create(&run_dir)?;
    writer.append(JournalEvent::RunStart {
        format: FORMAT_VERSION,
        run_id: run_id.clone(),
        playbook: playbook.display().to_string(),
        inventory: settings.inventory.join(","),
        emergency,
        plan: journal_plan(plan),
        settings,
    })?;
    eprintln!(
        "rpatch: run {run_id} (journal {}); resume with `rpatch resume {run_id}`",
        writer.path().display()
    );
    Ok(writer.spawn()?)
}
