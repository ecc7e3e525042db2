//! `rpatch resume ID`: continue a run from its journal with the same plan.

use std::path::{Path, PathBuf};

use super::args::{ResumeArgs, Sources};
use super::error::CliError;
use super::journal::{lock_run, runs_dir, Locked};
use super::load::{load_all_in, Loaded};
use super::run::{execute, OutputMode, Style};
use super::settings::{apply_resume_flags, ask_passwords, check_ssh_config, run_options};
use crate::playbook::digest::digest;
use crate::rolling::journal::{
    JournalEvent, JournalReader, JournalWriter, RunId, RunState, JOURNAL_FILE,
};
use crate::rolling::resume::{resume_scope, NothingToResume};
use crate::runner::plan::from_journal;
use crate::runner::{exit, RunControl};

/// Resumes a run: finished hosts are skipped, hosts that were mid-play start their play over,
/// unreachable hosts (and failed ones with `--retry-failed`) run again, a halted run re-checks
/// the gates that halted it and goes on; later batches follow the journaled plan, and the
/// run connects as it did (the journaled options, or for an older journal the flags given).
pub async fn resume(args: ResumeArgs, verbosity: u8) -> Result<i32, CliError> {
    let clock = crate::rolling::clock::Clock::from_env()?;
    let (path, state) = open_run(&runs_dir(&args.runs)?, &args.id)?;
    let scope = resume_scope(&state, args.retry_failed).map_err(|refusal| match refusal {
        NothingToResume::Completed { failed } => CliError::RunFinished {
            id: args.id.clone(),
            failed,
        },
        refusal @ NothingToResume::InventoryChanged { .. } => CliError::CannotResume {
            id: args.id.clone(),
            reason: refusal.to_string(),
        },
    })?;
    let mut settings = state.settings.clone();
    let sources = Sources {
        inventory: settings.inventory.iter().map(PathBuf::from).collect(),
        extra_vars: args.extra_vars.clone(),
        flush_cache: false,
    };
    let playbook = PathBuf::from(&state.playbook);
    let base_dir = settings.playbook_dir.as_ref().map(PathBuf::from);
    let roles_path: Vec<PathBuf> = settings.roles_path.iter().map(PathBuf::from).collect();
    let mut loaded = load_all_in(&playbook, base_dir.as_deref(), &sources, &roles_path)?;
    if let Some(task) = &settings.start_at_task {
        if !crate::playbook::start_at_task(&mut loaded.playbook, task) {
            return Err(CliError::NoSuchTask(task.clone()));
        }
    }
    super::prompts::ask_prompts(
        &mut loaded.playbook,
        &loaded.extra_vars,
        &mut super::prompts::Terminal,
    )?;
    let missing: Vec<String> = settings
        .extra_var_names
        .iter()
        .filter(|name| !loaded.extra_vars.contains_key(*name))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(CliError::MissingExtraVars(missing));
    }
    check_digest(&state, &loaded, args.force)?;
    let adhoc = super::adhoc::is_adhoc(&loaded.playbook);
    for warning in apply_resume_flags(&mut settings, &args.connection)? {
        eprintln!("[WARNING]: {warning}");
    }
    let plan = from_journal(&state.plan, &loaded.playbook);
    let notify = super::run::prepare_notifications(&loaded)?;
    let _lock = match lock_run(&sources.inventory, &playbook)? {
        Locked::Acquired(lock) => lock,
        Locked::Held(message) => {
            eprintln!("rpatch: {message}");
            return Ok(exit::LOCKED);
        }
    };
    let passwords = ask_passwords(&settings)?;
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
    if !scope.retried.is_empty() {
        eprintln!("rpatch: running again on {}", scope.retried.join(", "));
    }
    check_ssh_config(&settings)?;
    let options = run_options(&settings, None, passwords, verbosity);
    let control = RunControl {
        journal: Some(writer.spawn()?),
        emergency: state.emergency || args.emergency,
        clock,
        done: scope.done,
        recheck_gates_after: scope.recheck_gates_after,
        run_id: Some(state.run_id.to_string()),
        observer: None,
        stage: settings.stage.clone(),
    };
    eprintln!("rpatch: resuming run {}", state.run_id);
    let output = OutputMode {
        json: args.json,
        verbosity,
        diff: settings.diff,
        run_id: state.run_id.to_string(),
        style: if adhoc { Style::Adhoc } else { Style::Playbook },
        journal: path.clone(),
        report: args.report,
        notify,
        metrics: args.metrics_file,
    };
    let code = execute(&loaded, &plan, options, control, output).await;
    super::baseline_cmd::record_after_run(&path);
    Ok(code)
}

/// Refuses a playbook whose content changed since the run started, unless `--force`; warns
/// when the journal is too old to tell.
fn check_digest(state: &RunState, loaded: &Loaded, force: bool) -> Result<(), CliError> {
    let Some(recorded) = &state.settings.digest else {
        eprintln!("[WARNING]: the run's journal predates playbook digests: rpatch cannot tell whether the playbook changed since the run started");
        return Ok(());
    };
    let current = digest(&loaded.playbook);
    if current.sha256 == recorded.sha256 {
        return Ok(());
    }
    let what = changed_files(&recorded.files, &current.files);
    if force {
        eprintln!("[WARNING]: the playbook changed since the run started ({what}); resuming anyway (--force)");
        return Ok(());
    }
    Err(CliError::PlaybookChanged {
        id: state.run_id.to_string(),
        what,
    })
}

/// Which files may have changed: the loaded files when the list is the same, else what was
/// added and removed.
fn changed_files(then: &[String], now: &[String]) -> String {
    if then == now {
        return format!("one of: {}", now.join(", "));
    }
    let added: Vec<&str> = now
        .iter()
        .filter(|f| !then.contains(f))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = then
        .iter()
        .filter(|f| !now.contains(f))
        .map(String::as_str)
        .collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("now also loads {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("no longer loads {}", removed.join(", ")));
    }
    if parts.is_empty() {
        parts.push(format!("loads {} in another order", now.join(", ")));
    }
    parts.join("; ")
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

#[cfg(test)]
mod tests {
    use super::changed_files;

    #[test]
    fn the_refusal_names_the_files_that_may_have_changed() {
        let then = ["site.yml".to_string(), "vars.yml".to_string()];
        assert_eq!(changed_files(&then, &then), "one of: site.yml, vars.yml");
        let now = [
            "site.yml".to_string(),
            "roles/db/tasks/main.yml".to_string(),
        ];
        assert_eq!(
            changed_files(&then, &now),
            "now also loads roles/db/tasks/main.yml; no longer loads vars.yml"
        );
    }
}
