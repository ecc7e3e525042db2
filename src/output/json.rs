//! `--json`: every event as one line of JSON on standard output.

use std::io::Write;

use super::Renderer;
use crate::runner::Event;

/// Writes events as JSON lines.
#[derive(Debug, Default)]
pub struct JsonRenderer;

impl Renderer for JsonRenderer {
    fn render(&mut self, event: &Event) {
        let Ok(line) = serde_json::to_string(event) else {
            return;
        };
        let mut out = std::io::stdout().lock();
        // A closed stdout (e.g. `| head`) must not take the run down.
        let _ = writeln!(out, "{line}");
    }
}
