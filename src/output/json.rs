//! `--json`: every event as one line of JSON on standard output.

use std::io::Write;

use super::Renderer;
use crate::runner::Event;

/// Writes events as JSON lines, each with the run's id (`run`) and when it happened (`time`,
/// RFC 3339 UTC) after its `event` name.
#[derive(Debug)]
pub struct JsonRenderer {
    run_id: String,
}

impl JsonRenderer {
    /// A renderer for the run `run_id`.
    pub fn new(run_id: String) -> Self {
        Self { run_id }
    }

    /// The event as one JSON object: `event`, `run`, `time`, then the event's own fields.
    fn object(&self, event: &Event) -> Option<serde_json::Value> {
        let serde_json::Value::Object(fields) = serde_json::to_value(event).ok()? else {
            return None;
        };
        let mut object = serde_json::Map::new();
        let mut rest = fields.into_iter();
        if let Some((name, value)) = rest.next() {
            object.insert(name, value);
        }
        object.insert("run".into(), self.run_id.clone().into());
        object.insert("time".into(), jiff::Timestamp::now().to_string().into());
        object.extend(rest);
        Some(serde_json::Value::Object(object))
    }
}

impl Renderer for JsonRenderer {
    fn render(&mut self, event: &Event) {
        let Some(line) = self.object(event).map(|object| object.to_string()) else {
            return;
        };
        let mut out = std::io::stdout().lock();
        // A closed stdout (e.g. `| head`) must not take the run down.
        let _ = writeln!(out, "{line}");
    }
}
