//! The `.html` report: one self-contained page (inline CSS, no scripts, no external assets)
//! for people who would rather look at a rollout than read it. Failures come first, then the
//! batches on a timeline, the gates with their attempts, each host's result and the patch state.

use std::fmt::Write as _;

use super::{duration, escape, file_name};
use crate::rolling::journal::TaskStatus;
use crate::rolling::summary::{HostOutcome, PlaySummary, RunStatus, RunSummary};

pub(crate) const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px;font-size:20px}
main{padding:8px 24px 32px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin:16px 0;padding:12px 16px}
h2{font-size:16px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceef2;vertical-align:top}
th{font-weight:600;color:#4a5261}
pre{margin:0;white-space:pre-wrap;font:12px/1.35 ui-monospace,monospace}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px}
.ok{background:#d8f3dc;color:#1b5e20}.changed{background:#fff3c4;color:#7a5b00}
.failed,.unreachable,.halted{background:#ffd6d6;color:#9b1c1c}
.interrupted,.paused,.unfinished,.not-started{background:#e4e7ec;color:#39404d}
#failures.none{border-color:#b7e4c7}
#failures.some{border-color:#e5a0a0;background:#fff7f7}
.timeline{position:relative;margin:4px 0 12px}
.lane{position:relative;height:30px;margin:4px 0;background:#f1f3f6;border-radius:4px}
.bar{position:absolute;top:3px;bottom:3px;min-width:4px;border-radius:3px;background:#5b8def;color:#fff;
font-size:11px;line-height:24px;padding:0 6px;overflow:hidden;white-space:nowrap;box-sizing:border-box}
.bar.halted{background:#d64545}.bar.open{background:#9aa5b8}
.axis{display:flex;justify-content:space-between;color:#6b7384;font-size:11px}
";

/// The summary as one HTML page.
pub fn render(summary: &RunSummary) -> String {
    let mut page = String::new();
    let title = format!(
        "rpatch run {} — {}",
        summary.run_id,
        file_name(&summary.playbook)
    );
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    header(&mut page, summary);
    page.push_str("<main>\n");
    failures(&mut page, summary);
    timeline(&mut page, summary);
    gates(&mut page, summary);
    hosts(&mut page, summary);
    patch(&mut page, summary);
    page.push_str("</main>\n</body>\n</html>\n");
    page
}

fn badge(class: &str, text: &str) -> String {
    format!("<span class=\"badge {class}\">{}</span>", escape(text))
}

fn outcome_class(outcome: HostOutcome) -> &'static str {
    match outcome {
        HostOutcome::Ok => "ok",
        HostOutcome::Failed => "failed",
        HostOutcome::Unreachable => "unreachable",
        HostOutcome::Unfinished => "unfinished",
        HostOutcome::NotStarted => "not-started",
    }
}

fn header(page: &mut String, summary: &RunSummary) {
    let status = summary.status.word();
    let counts = summary.host_counts();
    let mut flags = String::new();
    if summary.emergency {
        flags.push_str(" · emergency (windows ignored)");
    }
    if summary.check_mode {
        flags.push_str(" · check mode (nothing changed)");
    }
    if summary.resumes > 0 {
        let _ = write!(flags, " · resumed {} time(s)", summary.resumes);
    }
    let _ = write!(
        page,
        "<header>\n<h1>rpatch run <span id=\"run-id\">{}</span> {}</h1>\n<div>playbook {} · inventory {}</div>\n<div>started {} · last event {} · {}{}</div>\n<div>hosts: {} ok, {} failed, {} unreachable, {} unfinished, {} not started</div>\n</header>\n",
        escape(&summary.run_id),
        badge(status, status),
        escape(&summary.playbook),
        escape(&summary.inventory),
        summary.started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        summary.ended.strftime("%Y-%m-%d %H:%M:%S UTC"),
        duration(summary.seconds),
        escape(&flags),
        counts.ok,
        counts.failed,
        counts.unreachable,
        counts.unfinished,
        counts.not_started,
    );
}

fn failures(page: &mut String, summary: &RunSummary) {
    let failed = summary.failures();
    let gate = summary.failed_gate();
    if failed.is_empty() && summary.halted.is_none() && summary.status != RunStatus::Interrupted {
        page.push_str("<section id=\"failures\" class=\"none\">\n<h2>Failures</h2>\n<p>No host failed and no gate stopped the run.</p>\n</section>\n");
        return;
    }
    page.push_str("<section id=\"failures\" class=\"some\">\n<h2>Failures</h2>\n");
    if let Some(reason) = &summary.halted {
        let _ = writeln!(
            page,
            "<p id=\"halted\"><strong>Halted:</strong> {}; later batches did not start.</p>",
            escape(reason)
        );
    }
    if summary.status == RunStatus::Interrupted {
        page.push_str("<p><strong>Interrupted:</strong> resume the run with <code>rpatch resume</code>.</p>\n");
    }
    if let Some(gate) = gate {
        let _ = writeln!(
            page,
            "<p class=\"failed-gate\"><strong>Gate {}</strong> failed after {} attempt(s); last output:</p><pre>{}</pre>",
            escape(&gate.name),
            gate.attempts,
            escape(&gate.message)
        );
    }
    if !failed.is_empty() {
        page.push_str("<table>\n<tr><th>Host</th><th>Play</th><th>Result</th><th>Task</th><th>Message</th></tr>\n");
        for (play, host) in failed {
            let (task, message) = host.failure().map_or(("", ""), |t| {
                (t.name.as_str(), t.message.as_deref().unwrap_or(""))
            });
            let _ = writeln!(
                page,
                "<tr class=\"failure\" data-host=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
                escape(&host.name),
                escape(&host.name),
                escape(&play.name),
                badge(outcome_class(host.outcome), host.outcome.word()),
                escape(task),
                escape(message)
            );
        }
        page.push_str("</table>\n");
    }
    page.push_str("</section>\n");
}

fn timeline(page: &mut String, summary: &RunSummary) {
    page.push_str("<section id=\"timeline\">\n<h2>Batches</h2>\n");
    let span = summary.seconds.max(0.001);
    let start = summary.started.as_millisecond();
    for play in &summary.plays {
        let _ = writeln!(
            page,
            "<h3>{}</h3>\n<div class=\"timeline\">",
            escape(&play.name)
        );
        if play.batches.is_empty() {
            page.push_str("<p>No batch started.</p>\n");
        }
        for batch in &play.batches {
            let offset = (batch.started.as_millisecond() - start) as f64 / 1000.0;
            let length = batch
                .seconds
                .unwrap_or_else(|| (summary.seconds - offset).max(0.0));
            let left = (offset / span * 100.0).clamp(0.0, 100.0);
            let width = (length / span * 100.0).clamp(0.5, 100.0 - left);
            let class = if batch.halted.is_some() {
                "bar halted"
            } else if batch.ended.is_none() {
                "bar open"
            } else {
                "bar"
            };
            let took = batch
                .seconds
                .map_or_else(|| "did not end".to_string(), duration);
            let label = format!(
                "batch {} · {} · {}",
                batch.number,
                took,
                batch.hosts.join(", ")
            );
            let _ = writeln!(
                page,
                "<div class=\"lane\"><div class=\"{class}\" data-batch=\"{}\" style=\"left:{left:.2}%;width:{width:.2}%\" title=\"{}\">{}</div></div>",
                batch.number,
                escape(&label),
                escape(&label),
            );
        }
        page.push_str("</div>\n");
        if !play.batches.is_empty() {
            page.push_str("<table>\n<tr><th>Batch</th><th>Hosts</th><th>Started</th><th>Took</th><th>Halted</th></tr>\n");
            for batch in &play.batches {
                let _ = writeln!(
                    page,
                    "<tr class=\"batch\" data-batch=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    batch.number,
                    batch.number,
                    escape(&batch.hosts.join(", ")),
                    batch.started.strftime("%H:%M:%S"),
                    batch
                        .seconds
                        .map_or_else(|| "did not end".to_string(), duration),
                    escape(batch.halted.as_deref().unwrap_or("")),
                );
            }
            page.push_str("</table>\n");
        }
    }
    let _ = writeln!(
        page,
        "<div class=\"axis\"><span>{}</span><span>{}</span></div>\n</section>",
        summary.started.strftime("%H:%M:%S"),
        summary.ended.strftime("%H:%M:%S")
    );
}

fn gates(page: &mut String, summary: &RunSummary) {
    let all: Vec<_> = summary
        .plays
        .iter()
        .flat_map(|p| p.gates.iter().map(move |g| (p, g)))
        .collect();
    page.push_str("<section id=\"gates\">\n<h2>Gates</h2>\n");
    if all.is_empty() {
        page.push_str("<p>No gate was checked.</p>\n</section>\n");
        return;
    }
    page.push_str("<table>\n<tr><th>Gate</th><th>When</th><th>Result</th><th>Attempts</th><th>Last output</th></tr>\n");
    for (_, gate) in all {
        let when = gate
            .after_batch
            .map_or_else(|| "pre-flight".to_string(), |b| format!("after batch {b}"));
        let _ = writeln!(
            page,
            "<tr class=\"gate\"><td>{}</td><td>{when}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
            escape(&gate.name),
            if gate.passed {
                badge("ok", "passed")
            } else {
                badge("failed", "failed")
            },
            gate.attempts,
            escape(&gate.message),
        );
    }
    page.push_str("</table>\n</section>\n");
}

fn hosts(page: &mut String, summary: &RunSummary) {
    page.push_str("<section id=\"hosts\">\n<h2>Hosts</h2>\n");
    for play in &summary.plays {
        host_table(page, play);
    }
    page.push_str("</section>\n");
}

fn host_table(page: &mut String, play: &PlaySummary) {
    let _ = writeln!(
        page,
        "<h3>{}</h3>\n<table>\n<tr><th>Host</th><th>Batch</th><th>Result</th><th>ok</th><th>changed</th><th>failed</th><th>skipped</th><th>Changed tasks</th></tr>",
        escape(&play.name)
    );
    for host in &play.hosts {
        let changed = host
            .tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Changed)
            .map(|t| escape(&t.name))
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            page,
            "<tr class=\"host\" data-host=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{changed}</td></tr>",
            escape(&host.name),
            escape(&host.name),
            host.batch,
            badge(outcome_class(host.outcome), host.outcome.word()),
            host.stats.ok,
            host.stats.changed,
            host.stats.failed + host.stats.unreachable,
            host.stats.skipped,
        );
    }
    page.push_str("</table>\n");
}

fn patch(page: &mut String, summary: &RunSummary) {
    let Some(fleet) = &summary.patch else {
        return;
    };
    page.push_str("<section id=\"patch\">\n<h2>Patch state</h2>\n<table>\n");
    for (label, hosts) in [
        ("updates pending", &fleet.pending),
        (
            if summary.check_mode {
                "updates would be applied"
            } else {
                "updates applied"
            },
            &fleet.applied,
        ),
        ("reboot required", &fleet.reboot_required),
        ("failed", &fleet.failed),
        ("up to date", &fleet.up_to_date),
    ] {
        let _ = writeln!(
            page,
            "<tr><th>{label}</th><td>{}</td><td>{}</td></tr>",
            hosts.len(),
            escape(&hosts.join(", "))
        );
    }
    page.push_str("</table>\n</section>\n");
}
