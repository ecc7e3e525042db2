//! `rpatch status` views: an aligned table (colour only on a terminal without `NO_COLOR`), and
//! one HTML page in the report's style. The JSON view is [`super::Compliance`] serialised.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::scan::{Compliance, HostCompliance};
use crate::output::report::{escape, STYLE};

const HEADERS: [&str; 6] = [
    "HOST",
    "LAST SUCCESS (UTC)",
    "BASELINE",
    "PENDING",
    "REBOOT",
    "LAST FAILURE",
];

/// The cells of one host's row, as text.
fn cells(host: &HostCompliance) -> [String; 6] {
    let last_success = host.last_success.as_ref().map_or("-".into(), |run| {
        format!("{} {}", day_time(run.at), run.run_id)
    });
    let pending = match (host.pending_updates, host.pending_security) {
        (Some(n), Some(s)) if s > 0 => format!("{n} ({s} security)"),
        (Some(n), _) => n.to_string(),
        (None, _) => "-".into(),
    };
    let reboot = match (host.reboot_required, host.reboot_required_since) {
        (Some(true), Some(since)) => format!("yes since {}", day_time(since)),
        (Some(true), None) => "yes".into(),
        (Some(false), _) => "no".into(),
        (None, _) => "-".into(),
    };
    let failure = host.last_failure.as_ref().map_or("-".into(), |f| {
        let what = match (&f.task, &f.message) {
            (Some(task), Some(message)) => format!("{task}: {}", one_line(message)),
            (Some(task), None) => task.clone(),
            (None, Some(message)) => one_line(message),
            (None, None) => f.status.to_string(),
        };
        format!("{} {} {what}", day_time(f.at), f.status)
    });
    [
        host.host.clone(),
        last_success,
        host.baseline.clone().unwrap_or_else(|| "-".into()),
        pending,
        reboot,
        failure,
    ]
}

/// The aligned table; `colour` marks hosts that need attention (pending, reboot, failure) red.
pub fn table(compliance: &Compliance, colour: bool) -> String {
    let rows: Vec<[String; 6]> = compliance.hosts.iter().map(cells).collect();
    let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let last = cells.len() - 1;
        let mut out = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index == last {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:<width$}  ", width = widths[index]);
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(&HEADERS.map(String::from)) + "\n";
    for (row, host) in rows.iter().zip(&compliance.hosts) {
        let text = line(row);
        if colour && needs_attention(host) {
            let _ = writeln!(out, "\x1b[31m{text}\x1b[0m");
        } else {
            let _ = writeln!(out, "{text}");
        }
    }
    out
}

/// Pending updates, a reboot, or a failure more recent than the last success.
fn needs_attention(host: &HostCompliance) -> bool {
    let failed_since = match (&host.last_failure, &host.last_success) {
        (Some(failure), Some(success)) => failure.at > success.at,
        (Some(_), None) => true,
        _ => false,
    };
    host.pending_updates.is_some_and(|n| n > 0)
        || host.reboot_required == Some(true)
        || failed_since
}

/// One HTML page, in the style of the run report.
pub fn html(compliance: &Compliance) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>rpatch status</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header><h1>rpatch status</h1><div>{} hosts · {} runs read · {}</div></header>\n<main>\n<section id=\"hosts\">\n<h2>Hosts</h2>\n<table>\n<tr>",
        compliance.hosts.len(),
        compliance.runs,
        escape(&compliance.generated.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
    );
    for header in HEADERS {
        let _ = write!(page, "<th>{}</th>", escape(header));
    }
    page.push_str("</tr>\n");
    for host in &compliance.hosts {
        let class = if needs_attention(host) {
            "failed"
        } else {
            "ok"
        };
        let cells = cells(host);
        let _ = write!(
            page,
            "<tr><td><span class=\"badge {class}\">{}</span></td>",
            escape(&cells[0])
        );
        for cell in &cells[1..] {
            let _ = write!(page, "<td>{}</td>", escape(cell));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n</section>\n</main>\n</body>\n</html>\n");
    page
}

fn day_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M").to_string()
}

/// The first line of a message, cut to 80 characters.
fn one_line(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default();
    if first.chars().count() > 80 {
        let cut: String = first.chars().take(79).collect();
        format!("{cut}…")
    } else {
        first.to_string()
    }
}
