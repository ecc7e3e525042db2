//! `rpatch adhoc` output, as `ansible` prints it (its minimal callback): one block per host,
//! `host | CHANGED | rc=0 >>` then the output for command-like results (those with `rc` and
//! `stdout`), `host | SUCCESS => {…}` with the result indented by four otherwise,
//! `FAILED`/`FAILED!`, `UNREACHABLE!` and `SKIPPED`. No banners and no recap; batches of a
//! rolling run, gates, halts and warnings print as `run` prints them.

use std::io::{IsTerminal, Write};

use console::Style;

use super::human::HumanRenderer;
use super::Renderer;
use crate::runner::{Event, HostResult, Status};

/// Renders events as ansible's ad-hoc lines.
pub struct AdhocRenderer {
    inner: HumanRenderer,
    color: bool,
}

impl AdhocRenderer {
    /// A renderer for this `-v` level; colors only on terminals.
    pub fn new(verbosity: u8, diff: bool) -> Self {
        Self {
            inner: HumanRenderer::new(verbosity, diff),
            color: std::io::stdout().is_terminal(),
        }
    }

    fn print(&self, text: &str, style: &Style) {
        let text = if self.color {
            style.apply_to(text).to_string()
        } else {
            text.to_string()
        };
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

/// The text ansible prints for one host's result.
pub fn adhoc_text(result: &HostResult) -> String {
    let host = &result.host;
    let object = result.result.as_object();
    let command_like = object.is_some_and(|o| o.contains_key("rc") && o.contains_key("stdout"));
    let caption = match result.status {
        Status::Changed => "CHANGED",
        Status::Ok => "SUCCESS",
        Status::Failed if command_like => "FAILED",
        Status::Failed => "FAILED!",
        Status::Unreachable => "UNREACHABLE!",
        Status::Skipped => return format!("{host} | SKIPPED"),
    };
    if command_like && result.status != Status::Unreachable {
        let field = |key: &str| {
            object
                .and_then(|o| o.get(key))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let rc = object
            .and_then(|o| o.get("rc"))
            .map_or_else(|| "-1".to_string(), ToString::to_string);
        let mut text = format!("{host} | {caption} | rc={rc} >>\n");
        text.push_str(&field("stdout"));
        text.push_str(&field("stderr"));
        text.push_str(&field("msg"));
        return text.trim_end_matches('\n').to_string();
    }
    let mut shown = result.result.clone();
    if let Some(object) = shown.as_object_mut() {
        object.remove("failed");
    }
    format!(
        "{host} | {caption} => {}",
        crate::template::result_json(&shown, Some(4))
    )
}

impl Renderer for AdhocRenderer {
    fn render(&mut self, event: &Event) {
        match event {
            Event::HostResult(result) => {
                if result.loop_summary {
                    return;
                }
                let style = match result.status {
                    Status::Changed => Style::new().yellow(),
                    Status::Ok => Style::new().green(),
                    Status::Skipped => Style::new().cyan(),
                    Status::Failed | Status::Unreachable => Style::new().red(),
                };
                self.print(&adhoc_text(result), &style);
            }
            Event::PlayStart { hosts, .. } if hosts.is_empty() => self.print(
                "[WARNING]: No hosts matched, nothing to do",
                &Style::new().magenta(),
            ),
            Event::PlayStart { .. } | Event::TaskStart { .. } => {}
            Event::BatchStart { batches, .. } if *batches < 2 => {}
            Event::Recap { not_started, .. } => {
                for host in not_started {
                    self.print(&format!("{host} | NOT STARTED"), &Style::new().cyan());
                }
            }
            other => self.inner.render(other),
        }
    }

    fn finish(&mut self) {
        self.inner.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(status: Status, value: serde_json::Value) -> HostResult {
        HostResult {
            host: "node01".into(),
            task: "shell".into(),
            status,
            item: None,
            delegated_to: None,
            ignored: false,
            result: value,
            verbosity: 0,
            show_result: false,
            pretty: false,
            diff: None,
            loop_summary: false,
        }
    }

    #[test]
    fn command_results_print_rc_and_output_others_as_indented_json() {
        let changed = result(
            Status::Changed,
            json!({"rc": 0, "stdout": "hello", "stderr": "", "changed": true}),
        );
        assert_eq!(adhoc_text(&changed), "node01 | CHANGED | rc=0 >>\nhello");
        let failed = result(
            Status::Failed,
            json!({"rc": 2, "stdout": "", "stderr": "no such file", "failed": true}),
        );
        assert_eq!(
            adhoc_text(&failed),
            "node01 | FAILED | rc=2 >>\nno such file"
        );
        let ping = result(Status::Ok, json!({"changed": false, "ping": "pong"}));
        assert_eq!(
            adhoc_text(&ping),
            "node01 | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}"
        );
    }
}
