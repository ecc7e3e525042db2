//! `rpatch runs` and `rpatch runs show ID`: what the journals say.

use std::path::Path;

use indexmap::IndexMap;

use super::args::{RunsAction, RunsArgs};
use super::error::CliError;
use super::journal::runs_dir;
use super::resume::open_run;
use crate::output::{banner, fleet_lines, recap_lines};
use crate::rolling::summary::RunSummary;
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
    outln!(
        "{:<24} {:<20} {:>8} {:<21} {:>4} {:>6} {:>6} {:>7} PLAYBOOK",
        "RUN",
        "STARTED (UTC)",
        "DURATION",
        "STATUS",
        "OK",
        "FAILED",
        "UNREACH",
        "NOT RUN"
    );
    for id in ids {
        match open_run(runs_dir, &id)
            .and_then(|(path, _)| RunSummary::from_journal(&path).map_err(CliError::Journal))
        {
            Ok(summary) => {
                let counts = summary.host_counts();
                let stage = summary
                    .stage
                    .as_ref()
                    .map(|stage| match &stage.baseline {
                        Some(baseline) => format!(" [stage {}, baseline {baseline}]", stage.name),
                        None => format!(" [stage {}]", stage.name),
                    })
                    .unwrap_or_default();
                outln!(
                    "{id:<24} {:<20} {:>8} {:<21} {:>4} {:>6} {:>7} {:>7} {}{stage}",
                    summary.started.strftime("%Y-%m-%d %H:%M:%S"),
                    duration(summary.seconds),
                    status_word(&summary),
                    counts.ok,
                    counts.failed,
                    counts.unreachable,
                    counts.not_started + counts.unfinished,
                    summary.playbook
                );
            }
            Err(error) => outln!("{id:<24} unreadable: {error}"),
        }
    }
    Ok(exit::OK)
}

/// One line per notification the journal says was not delivered (see [`crate::notify`]).
fn failed_notifications(journal: &Path) -> Vec<String> {
    use crate::rolling::journal::{JournalEvent, JournalRecord};
    let Ok(text) = std::fs::read_to_string(journal) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| serde_json::from_str::<JournalRecord>(line).ok())
        .filter_map(|record| match record.event {
            JournalEvent::Notification {
                on,
                sink,
                delivered: false,
                attempts,
                message,
            } => Some(format!(
                "notification `{sink}` ({on}) not delivered after {attempts} attempt(s): {message}"
            )),
            _ => None,
        })
        .collect()
}

/// The status word, with `+emergency` for a run that ignored windows.
fn status_word(summary: &RunSummary) -> String {
    let word = summary.status.word();
    if summary.emergency {
        format!("{word}+emergency")
    } else {
        word.to_string()
    }
}

/// Seconds as `42s`, `3m05s` or `1h02m`.
fn duration(seconds: f64) -> String {
    let whole = seconds.max(0.0).round() as u64;
    if whole < 60 {
        format!("{whole}s")
    } else if whole < 3600 {
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        format!("{}h{:02}m", whole / 3600, (whole % 3600) / 60)
    }
}

fn show(runs_dir: &Path, id: &str) -> Result<i32, CliError> {
    let (path, state) = open_run(runs_dir, id)?;
    let summary = RunSummary::from_journal(&path)?;
    outln!(
        "run {}: {} ({})",
        summary.run_id,
        status_word(&summary),
        summary.playbook
    );
    outln!(
        "started {}, last event {} ({}){}",
        summary.started,
        summary.ended,
        duration(summary.seconds),
        if summary.emergency {
            ", emergency (windows ignored)"
        } else {
            ""
        }
    );
    if let Some(stage) = &summary.stage {
        outln!("{}", stage.describe());
    }
    if summary.resumes > 0 {
        outln!("resumed {} time(s)", summary.resumes);
    }
    if let Some(until) = state.paused_until {
        outln!("paused: the maintenance window opens next at {until}");
    }
    if let Some(reason) = &summary.halted {
        outln!("halted: {reason}; later batches were not started");
    }
    if let Some(gate) = summary.failed_gate() {
        outln!(
            "  gate `{}` failed after {} attempt(s); last output: {}",
            gate.name,
            gate.attempts,
            gate.message
        );
    }
    for line in failed_notifications(&path) {
        outln!("{line}");
    }
    let failures = summary.failures();
    if !failures.is_empty() {
        outln!("failed hosts:");
        for (play, host) in failures {
            let (task, message) = host.failure().map_or(("?", ""), |task| {
                (task.name.as_str(), task.message.as_deref().unwrap_or(""))
            });
            outln!(
                "  {} ({}) in play `{}`, task `{task}`: {message}",
                host.name,
                host.outcome.word(),
                play.name
            );
        }
    }
    for play in &summary.plays {
        outln!();
        outln!("{}", banner(&format!("PLAY [{}]", play.name)));
        for batch in &play.batches {
            outln!(
                "batch {} [{}]: started {}, {}{}",
                batch.number,
                batch.hosts.join(", "),
                batch.started.strftime("%H:%M:%S"),
                batch.seconds.map_or_else(
                    || "did not end".to_string(),
                    |s| format!("took {}", duration(s))
                ),
                batch
                    .halted
                    .as_deref()
                    .map_or_else(String::new, |h| format!(", halted: {h}"))
            );
        }
        for gate in &play.gates {
            let when = gate
                .after_batch
                .map_or_else(|| "pre-flight".to_string(), |b| format!("after batch {b}"));
            outln!(
                "gate {} ({when}): {} after {} attempt(s): {}",
                gate.name,
                if gate.passed { "passed" } else { "FAILED" },
                gate.attempts,
                gate.message
            );
        }
    }
    let mut stats: IndexMap<String, HostStats> = IndexMap::new();
    let mut not_started = Vec::new();
    for host in summary.plays.iter().flat_map(|p| &p.hosts) {
        if host.tasks.is_empty() {
            if !stats.contains_key(&host.name) && !not_started.contains(&host.name) {
                not_started.push(host.name.clone());
            }
            continue;
        }
        stats.entry(host.name.clone()).or_default().add(&host.stats);
        not_started.retain(|name| name != &host.name);
    }
    outln!();
    for line in recap_lines(&stats) {
        outln!("{line}");
    }
    for host in not_started {
        outln!("{host:<26} : not started");
    }
    let fleet = fleet_lines(&summary);
    if !fleet.is_empty() {
        outln!();
        for line in fleet {
            outln!("{line}");
        }
    }
    Ok(exit::OK)
}
