//! `rpatch resume ID`: continue a run from its journal with the same plan.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::args::{ResumeArgs, Sources};
use super::error::CliError;
use super::journal::{lock_run, runs_dir, Locked};
use super::load::load_all;
use super::run::execute;
use crate::playbook::TagFilter;
use crate::rolling::journal::{
    JournalEvent, JournalReader, JournalWriter, RunId, RunState, JOURNAL_FILE,
};
use crate::runner::plan::from_journal;
use crate::runner::{exit, RunControl, RunOptions};

/// Resumes a run: finished hosts are skipped, hosts that were mid-play start their play over,
/// later batches follow the journaled plan.
pub async fn resume(args: ResumeArgs, verbosity: u8) -> Result<i32, CliError> {
    let (path, state) = open_run(&runs_dir(&args.runs)?, &args.id)?;
    if state.is_finished() {
        return Err(CliError::RunFinished(args.id));
    }
    let settings = state.settings.clone();
    let sources = Sources {
        inventory: settings.inventory.iter().map(PathBuf::from).collect(),
        extra_vars: args.extra_vars.clone(),
    };
    let playbook = PathBuf::from(&state.playbook);
    let loaded = load_all(&playbook, &sources)?;
    let missing: Vec<String> = settings
        .extra_var_names
        .iter()
        .filter(|name| !loaded.extra_vars.contains_key(*name))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(CliError::MissingExtraVars(missing));
    }
    let plan = from_journal(&state.plan, &loaded.playbook);
    let _lock = match lock_run(&sources.inventory, &playbook)? {
        Locked::Acquired(lock) => lock,
        Locked::Held(message) => {
            eprintln!("rpatch: {message}");
            return Ok(exit::LOCKED);
        }
    };
    let mut writer = JournalWriter::reopen(&path, &state)?;
    writer.append(JournalEvent::Resumed)?;
    if let Some(line) = state.dropped_tail {
        eprintln!("[WARNING]: the journal's last line ({line}) was cut off by the crash; its host runs its play again");
    }
    let mid_play = state.mid_play();
    if !mid_play.is_empty() {
        eprintln!(
            "rpatch: restarting the play from its beginning on {}",
            mid_play.join(", ")
        );
    }
    let options = RunOptions {
        check: settings.check,
        diff: settings.diff,
        forks: settings.forks.max(1),
        tags: TagFilter::new(
            settings.tags.iter().map(String::as_str),
            settings.skip_tags.iter().map(String::as_str),
        ),
        limit: None,
        remote_user: settings.user.clone(),
        become_all: settings.become_all,
        become_password: None,
        verbosity,
        command_timeout: None::<Duration>,
        ssh: Default::default(),
    };
    let control = RunControl {
        journal: Some(writer.spawn()?),
        emergency: state.emergency || args.emergency,
        done: state.done.clone(),
    };
    eprintln!("rpatch: resuming run {}", state.run_id);
    Ok(execute(
        &loaded,
        &plan,
        options,
        control,
        args.json,
        verbosity,
        settings.diff,
    )
    .await)
}

/// The journal path and replayed state of a run id (a partial last line is tolerated).
pub fn open_run(runs_dir: &Path, id: &str) -> Result<(PathBuf, RunState), CliError> {
    let run_id = RunId::parse(id).map_err(|_| unknown_run(id, runs_dir))?;
    let path = runs_dir.join(run_id.as_str()).join(JOURNAL_FILE);
    if !path.exists() {
        return Err(unknown_run(id, runs_dir));
    }
    let state = JournalReader::replay_for_resume(&path)?;
    Ok((path, state))
}

/// Where rpatch kept runs before the state directory: relative to the current directory.
const LEGACY_RUNS_DIR: &str = ".rpatch/runs";

/// "No such run", with a pointer to a runs directory of an older rpatch here, if there is one.
fn unknown_run(id: &str, runs_dir: &Path) -> CliError {
    let legacy = Path::new(LEGACY_RUNS_DIR);
    CliError::UnknownRun {
        id: id.to_string(),
        runs_dir: runs_dir.to_path_buf(),
        legacy: (legacy.join(id).is_dir() && legacy != runs_dir).then(|| legacy.to_path_buf()),
    }
}
