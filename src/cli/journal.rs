//! Starting a run's journal and taking the run lock (shared by `run` and `resume`).

use std::path::{Path, PathBuf};

use super::error::CliError;
use crate::rolling::journal::{
    JournalEvent, JournalHandle, JournalWriter, RunId, RunSettings, FORMAT_VERSION,
};
use crate::rolling::lock::{LockError, LockKey, RunLock};
use crate::runner::plan::{journal_plan, PlayPlan};

/// The outcome of trying to take the run lock.
pub enum Locked {
    /// We hold it until this value is dropped.
    Acquired(RunLock),
    /// Another live run holds it; the message says which.
    Held(String),
}

/// Takes the lock for this inventory and playbook under the runs directory.
pub fn lock_run(
    runs_dir: &Path,
    inventory: &[PathBuf],
    playbook: &Path,
) -> Result<Locked, CliError> {
    let first_inventory = inventory
        .first()
        .map(PathBuf::as_path)
        .unwrap_or(Path::new("."));
    let key = LockKey::new(first_inventory, playbook).map_err(|source| CliError::Read {
        path: playbook.to_path_buf(),
        source,
    })?;
    std::fs::create_dir_all(runs_dir).map_err(|source| CliError::Read {
        path: runs_dir.to_path_buf(),
        source,
    })?;
    match RunLock::acquire(runs_dir, &key) {
        Ok(acquired) => {
            if let Some(stale) = acquired.took_over {
                eprintln!("[WARNING]: took over a stale run lock ({stale})");
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
