//! The `.xml` report: JUnit XML as Jenkins and GitLab read it. One `<testsuite>` per play, one
//! `<testcase>` per host and task (`classname` the host, `name` the task), failed tasks as
//! `<failure>`, unreachable ones as `<error>`, skipped ones as `<skipped/>`; hosts whose batch
//! never started get one skipped case, and each gate check is a case of class `gates`.

use std::fmt::Write as _;

use super::escape;
use crate::rolling::journal::TaskStatus;
use crate::rolling::summary::{HostOutcome, PlaySummary, RunSummary};

#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    seconds: f64,
}

/// The summary as a JUnit document.
pub fn render(summary: &RunSummary) -> String {
    let mut suites = String::new();
    let mut total = Counts::default();
    for play in &summary.plays {
        let (text, counts) = suite(summary, play);
        suites.push_str(&text);
        total.tests += counts.tests;
        total.failures += counts.failures;
        total.errors += counts.errors;
        total.skipped += counts.skipped;
        total.seconds += counts.seconds;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rpatch run {}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n{suites}</testsuites>\n",
        escape(&summary.run_id),
        total.tests,
        total.failures,
        total.errors,
        total.skipped,
        summary.seconds,
    )
}

fn suite(summary: &RunSummary, play: &PlaySummary) -> (String, Counts) {
    let mut counts = Counts::default();
    let mut cases = String::new();
    for host in &play.hosts {
        if host.tasks.is_empty() {
            counts.tests += 1;
            counts.skipped += 1;
            let why = match host.outcome {
                HostOutcome::NotStarted => "its batch never started",
                _ => "no task ran",
            };
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{}\" name=\"(play)\" time=\"0\">\n      <skipped message=\"{why}\"/>\n    </testcase>",
                escape(&host.name)
            );
            continue;
        }
        for task in &host.tasks {
            counts.tests += 1;
            counts.seconds += task.seconds;
            let message = escape(task.message.as_deref().unwrap_or(""));
            let body = match task.status {
                TaskStatus::Failed => {
                    counts.failures += 1;
                    format!("\n      <failure message=\"{message}\" type=\"failed\">{message}</failure>\n    ")
                }
                TaskStatus::Unreachable => {
                    counts.errors += 1;
                    format!("\n      <error message=\"{message}\" type=\"unreachable\">{message}</error>\n    ")
                }
                TaskStatus::Skipped => {
                    counts.skipped += 1;
                    "\n      <skipped/>\n    ".to_string()
                }
                TaskStatus::Rescued => {
                    "\n      <system-out>failed, then rescued</system-out>\n    ".to_string()
                }
                TaskStatus::Ignored => {
                    "\n      <system-out>failed, ignored (ignore_errors)</system-out>\n    "
                        .to_string()
                }
                TaskStatus::Changed => "\n      <system-out>changed</system-out>\n    ".to_string(),
                TaskStatus::Ok => String::new(),
            };
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">{body}</testcase>",
                escape(&host.name),
                escape(&task.name),
                task.seconds,
            );
        }
    }
    for gate in &play.gates {
        counts.tests += 1;
        let when = gate
            .after_batch
            .map_or_else(|| "pre-flight".to_string(), |b| format!("after batch {b}"));
        let message = escape(&gate.message);
        let body = if gate.passed {
            format!(
                "\n      <system-out>passed after {} attempt(s): {message}</system-out>\n    ",
                gate.attempts
            )
        } else {
            counts.failures += 1;
            format!(
                "\n      <failure message=\"{message}\" type=\"gate\">failed after {} attempt(s): {message}</failure>\n    ",
                gate.attempts
            )
        };
        let _ = writeln!(
            cases,
            "    <testcase classname=\"gates\" name=\"{} ({when})\" time=\"0\">{body}</testcase>",
            escape(&gate.name),
        );
    }
    let timestamp = play
        .batches
        .first()
        .map_or(summary.started, |b| b.started)
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let text = format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\" timestamp=\"{timestamp}\">\n    <properties>\n      <property name=\"run_id\" value=\"{}\"/>\n      <property name=\"playbook\" value=\"{}\"/>\n    </properties>\n{cases}  </testsuite>\n",
        escape(&play.name),
        counts.tests,
        counts.failures,
        counts.errors,
        counts.skipped,
        counts.seconds,
        escape(&summary.run_id),
        escape(&summary.playbook),
    );
    (text, counts)
}
