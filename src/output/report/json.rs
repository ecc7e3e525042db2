//! The `.json` report: the run summary as one pretty-printed JSON document.

use crate::rolling::summary::RunSummary;

/// The summary as JSON (`format` names the report's shape version).
pub fn render(summary: &RunSummary) -> String {
    let mut value = serde_json::to_value(summary).unwrap_or(serde_json::Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("report_format".into(), 1.into());
        object.insert(
            "host_counts".into(),
            serde_json::json!(summary.host_counts()),
        );
    }
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}
