//! `rpatch runs` and `rpatch runs show ID`: what the journals say.

use std::io::BufRead;
use std::path::Path;

use indexmap::IndexMap;

use super::args::{RunsAction, RunsArgs};
use super::error::CliError;
use super::journal::runs_dir;
use super::resume::open_run;
use crate::output::recap_lines;
use crate::rolling::journal::{JournalEvent, JournalRecord, RunEndStatus, RunState, TaskStatus};
use crate::runner::{exit, HostStats};

/// Lists runs, newest last, or shows one.
pub fn runs(args: RunsArgs) -> Result<i32, CliError> {
    let runs_dir = runs_dir(&args.runs)?;
    match args.action {
        Some(RunsAction::Show { id }) => show(&runs_dir, &id),
        None => list(&runs_dir),
    }
}

fn list(runs_dir: &Path) -> Result<i32, CliError> {
    let mut ids: Vec<String> = match std::fs::read_dir(runs_dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|entry| entry.path().is_dir())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    ids.sort();
    if ids.is_empty() {
        outln!("no runs in {}", runs_dir.display());
        return Ok(exit::OK);
    }
    outln!("{:<24} {:<12} {:<8} PLAYBOOK", "RUN", "STATUS", "HOSTS");
    for id in ids {
        match open_run(runs_dir, &id) {
            Ok((_, state)) => {
                let done: usize = state.done.iter().map(|play| play.len()).sum();
                let planned: usize = state
                    .plan
                    .plays
                    .iter()
                    .map(|p| p.batches.iter().map(Vec::len).sum::<usize>())
                    .sum();
                outln!(
                    "{id:<24} {:<12} {:<8} {}",
                    status(&state),
                    format!("{done}/{planned}"),
                    state.playbook
                );
            }
            Err(error) => outln!("{id:<24} {:<12} {:<8} ({error})", "unreadable", "-"),
        }
    }
    Ok(exit::OK)
}

/// How a run stands, in one word.
fn status(state: &RunState) -> &'static str {
    match state.finished {
        Some(RunEndStatus::Completed) => "completed",
        Some(RunEndStatus::Halted) => "halted",
        None if state.paused_until.is_some() => "paused",
        None if state.interrupted.is_some() => "interrupted",
        None => "unfinished",
    }
}

fn show(runs_dir: &Path, id: &str) -> Result<i32, CliError> {
    let (path, state) = open_run(runs_dir, id)?;
    outln!(
        "run {}: {} ({})",
        state.run_id,
        status(&state),
        state.playbook
    );
    outln!(
        "started {}{}",
        state.started_at,
        if state.emergency {
            ", emergency (windows ignored)"
        } else {
            ""
        }
    );
    if let Some(until) = state.paused_until {
        outln!("paused: the maintenance window opens next at {until}");
    }
    for gate in &state.gates {
        let when = gate.batch.map_or_else(
            || "pre-flight".to_string(),
            |b| format!("after batch {}", b + 1),
        );
        outln!(
            "gate {} ({when}): {} after {} attempt(s): {}",
            gate.name,
            if gate.passed { "passed" } else { "FAILED" },
            gate.attempts,
            gate.message
        );
    }
    let stats = stats_from_journal(&path);
    outln!();
    for line in recap_lines(&stats) {
        outln!("{line}");
    }
    for play in &state.plan.plays {
        for host in play.batches.iter().flatten() {
            if !stats.contains_key(host) {
                outln!("{host:<26} : not started");
            }
        }
    }
    Ok(exit::OK)
}

/// Per-host recap counts from the journal's task summaries.
fn stats_from_journal(path: &Path) -> IndexMap<String, HostStats> {
    let mut stats: IndexMap<String, HostStats> = IndexMap::new();
    let Ok(file) = std::fs::File::open(path) else {
        return stats;
    };
    for line in std::io::BufReader::new(file).lines().map_while(Result::ok) {
        let Ok(record) = serde_json::from_str::<JournalRecord>(&line) else {
            continue;
        };
        if let JournalEvent::HostResult { host, status, .. } = record.event {
            let entry = stats.entry(host).or_default();
            match status {
                TaskStatus::Ok => entry.ok += 1,
                TaskStatus::Changed => {
                    entry.ok += 1;
                    entry.changed += 1;
                }
                TaskStatus::Failed => entry.failed += 1,
                TaskStatus::Unreachable => entry.unreachable += 1,
                TaskStatus::Skipped => entry.skipped += 1,
                TaskStatus::Rescued => entry.rescued += 1,
                TaskStatus::Ignored => {
                    entry.ok += 1;
                    entry.ignored += 1;
                }
            }
        }
    }
    stats
}
