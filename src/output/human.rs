//! Ansible-like text output: `PLAY`/`TASK` banners, per-host lines, the recap, and a progress
//! bar on standard error while hosts are in flight (only when it is a terminal).

use std::io::{IsTerminal, Write};

use console::Style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::recap::recap_lines;
use super::Renderer;
use crate::runner::{Event, HostResult, Status};

/// Renders events as text for people.
pub struct HumanRenderer {
    verbosity: u8,
    diff: bool,
    color: bool,
    progress: Option<ProgressBar>,
    show_progress: bool,
}

impl HumanRenderer {
    /// A renderer for this `-v` level; colors and progress only on terminals.
    pub fn new(verbosity: u8, diff: bool) -> Self {
        Self {
            verbosity,
            diff,
            // Colour only on a terminal, and never with NO_COLOR set (https://no-color.org).
            color: std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            progress: None,
            show_progress: std::io::stderr().is_terminal(),
        }
    }

    fn line(&self, text: &str, style: Option<&Style>) {
        let text = match (style, self.color) {
            (Some(style), true) => style.apply_to(text).to_string(),
            _ => text.to_string(),
        };
        let print = || {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        };
        match &self.progress {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    fn start_progress(&mut self, name: &str, hosts: usize) {
        self.end_progress();
        if !self.show_progress || hosts < 2 {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(hosts as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} hosts ({elapsed})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(name.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        self.progress = Some(bar);
    }

    fn end_progress(&mut self) {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
    }

    fn host_result(&self, result: &HostResult) {
        if let (Some(bar), false) = (&self.progress, result.item.is_some()) {
            bar.inc(1);
        }
        if result.loop_summary
            && result.status != Status::Failed
            && result.status != Status::Unreachable
        {
            return;
        }
        if result.verbosity > self.verbosity {
            self.line(
                &format!("skipping: [{}]", result.host),
                Some(&Style::new().cyan()),
            );
            return;
        }
        let (word, style) = match result.status {
            Status::Ok => ("ok", Style::new().green()),
            Status::Changed => ("changed", Style::new().yellow()),
            Status::Failed => ("failed", Style::new().red()),
            Status::Skipped => ("skipping", Style::new().cyan()),
            Status::Unreachable => ("unreachable", Style::new().red()),
        };
        let host = match &result.delegated_to {
            Some(delegate) => format!("[{} -> {delegate}]", result.host),
            None => format!("[{}]", result.host),
        };
        let show = result.show_result || self.verbosity > 0;
        let text = match (&result.item, show) {
            (Some(item), false) => format!("{word}: {host} => (item={item})"),
            (Some(item), true) => format!(
                "{word}: {host} (item={item}) => {}",
                body(result, self.verbosity)
            ),
            (None, false) => format!("{word}: {host}"),
            // Ansible's own words for a failed or unreachable task, which admins grep logs for.
            (None, true) if result.status == Status::Failed => {
                format!("fatal: {host}: FAILED! => {}", body(result, self.verbosity))
            }
            (None, true) if result.status == Status::Unreachable => {
                format!(
                    "fatal: {host}: UNREACHABLE! => {}",
                    body(result, self.verbosity)
                )
            }
            (None, true) => format!("{word}: {host} => {}", body(result, self.verbosity)),
        };
        self.line(&text, Some(&style));
        if result.ignored {
            self.line("...ignoring", Some(&Style::new().cyan()));
        }
        if self.diff {
            if let Some(diff) = &result.diff {
                for line in unified_diff(&diff.before, &diff.after, &diff.header).lines() {
                    self.line(line, None);
                }
            }
        }
    }
}

/// The JSON shown after `=>`: pretty for debug output, one line for everything else.
fn body(result: &HostResult, verbosity: u8) -> String {
    let mut shown = result.result.clone();
    if let Some(object) = shown.as_object_mut() {
        if verbosity == 0 {
            // Ansible shows `changed` of a failed task, and never the `failed` flag itself.
            let failed = result.status == Status::Failed;
            object.retain(|key, _| key != "failed" && (failed || key != "changed"));
        }
    }
    // As Ansible prints results: sorted keys, `", "`/`": "` on one line, or indented by four.
    let indent = result.pretty.then_some(4);
    crate::template::result_json(&shown, indent)
}

/// A unified diff of two texts.
pub fn unified_diff(before: &str, after: &str, header: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .header(&format!("before: {header}"), &format!("after: {header}"))
        .to_string()
}

/// `TITLE ****...` padded to 80 columns, as Ansible prints banners.
pub fn banner(title: &str) -> String {
    let stars = 80usize.saturating_sub(title.chars().count() + 1).max(3);
    format!("{title} {}", "*".repeat(stars))
}

impl Renderer for HumanRenderer {
    fn render(&mut self, event: &Event) {
        match event {
            Event::PlayStart { name, hosts } => {
                self.end_progress();
                self.line("", None);
                self.line(&banner(&format!("PLAY [{name}]")), None);
                if hosts.is_empty() {
                    self.line("skipping: no hosts matched", Some(&Style::new().cyan()));
                }
            }
            Event::TaskStart {
                name,
                hosts,
                handler,
            } => {
                let kind = if *handler { "RUNNING HANDLER" } else { "TASK" };
                self.line("", None);
                self.line(&banner(&format!("{kind} [{name}]")), None);
                self.start_progress(name, *hosts);
            }
            Event::HostResult(result) => self.host_result(result),
            Event::Warning { message, .. } => {
                if message.starts_with("FAILED - RETRYING") {
                    self.line(message, Some(&Style::new().red()));
                } else {
                    self.line(
                        &format!("[WARNING]: {message}"),
                        Some(&Style::new().magenta()),
                    );
                }
            }
            Event::Interrupted => {
                self.end_progress();
                self.line("", None);
                self.line(
                    "[ERROR]: User interrupted execution",
                    Some(&Style::new().red()),
                );
            }
            Event::Recap { hosts, not_started } => {
                self.end_progress();
                self.line("", None);
                for line in recap_lines(hosts) {
                    self.line(&line, None);
                }
                for host in not_started {
                    self.line(
                        &format!("{host:<26} : not started"),
                        Some(&Style::new().cyan()),
                    );
                }
            }
            Event::BatchStart {
                batch,
                batches,
                hosts,
                ..
            } => {
                self.line("", None);
                self.line(
                    &banner(&format!("BATCH {batch}/{batches} [{}]", hosts.join(", "))),
                    None,
                );
            }
            Event::GateResult(gate) => {
                let when = gate.batch.map_or_else(
                    || "before the first batch".to_string(),
                    |b| format!("after batch {b}"),
                );
                let (word, style) = if gate.passed {
                    ("passed", Style::new().green())
                } else {
                    ("FAILED", Style::new().red())
                };
                self.line("", None);
                self.line(&banner(&format!("GATE [{}]", gate.name)), None);
                self.line(
                    &format!(
                        "{word}: {when}, {} attempt(s): {}",
                        gate.attempts, gate.message
                    ),
                    Some(&style),
                );
            }
            Event::Halted { reason } => {
                self.line("", None);
                self.line(
                    &format!("[HALTED]: {reason}; later batches are not started"),
                    Some(&Style::new().red()),
                );
            }
            Event::WindowClosed { batch, next_open } => {
                let when = next_open
                    .as_deref()
                    .unwrap_or("never (no window opens again)");
                self.line("", None);
                self.line(
                    &format!("[PAUSED]: the maintenance window is closed; batch {batch} did not start. The window opens next at {when}; resume the run then."),
                    Some(&Style::new().yellow()),
                );
            }
        }
    }

    fn finish(&mut self) {
        self.end_progress();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_pad_to_eighty_columns() {
        let line = banner("TASK [x]");
        assert_eq!(line.len(), 80);
        assert!(line.starts_with("TASK [x] ***"));
    }

    #[test]
    fn diffs_are_unified() {
        let text = unified_diff("a\nb\n", "a\nc\n", "/etc/x");
        assert!(text.contains("-b"), "{text}");
        assert!(text.contains("+c"), "{text}");
    }
}
