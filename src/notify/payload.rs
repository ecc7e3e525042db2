//! What a sink receives: the generic JSON summary of a run at an event, and the Slack, Teams
//! and mail shapes made from it.
//!
//! Everything comes from the run's journal summary ([`RunSummary`]), which holds no secrets:
//! task names as written, statuses, failure messages as the task output showed them (the
//! censoring notice for `no_log` tasks) and gate messages composed without credentials.

use serde::Serialize;
use serde_json::{json, Value as Json};

use super::spec::{NotifyEvent, PayloadFormat};
use crate::rolling::summary::{HostCounts, HostOutcome, RunSummary};

/// The generic payload's schema version (`"rpatch": 1`).
pub const PAYLOAD_VERSION: u32 = 1;
/// The longest failure message a payload carries (longer ones are cut with `…`).
const MESSAGE_CHARS: usize = 300;
/// The most failed hosts listed in a chat message (the JSON lists them all).
const CHAT_FAILURES: usize = 10;

/// The batch an event is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchInfo {
    /// The play's name.
    pub play: String,
    /// 1-based batch number.
    pub number: usize,
    /// How many batches the play has.
    pub of: usize,
    /// Its hosts.
    pub hosts: Vec<String>,
}

/// A failed or unreachable host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedHost {
    /// The host.
    pub host: String,
    /// The play it failed in.
    pub play: String,
    /// `failed` or `unreachable`.
    pub status: &'static str,
    /// The task that failed it, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Why, cut to a few hundred characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The generic payload: what a `generic` webhook and a `command` sink receive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotifyPayload {
    /// Schema version ([`PAYLOAD_VERSION`]).
    pub rpatch: u32,
    /// `start`, `batch`, `halt` or `end`.
    pub event: NotifyEvent,
    /// The run.
    pub run_id: String,
    /// The playbook's path.
    pub playbook: String,
    /// `running` before the end; then how the run stands (`ok`, `failed`, `halted`,
    /// `interrupted`, `paused`).
    pub status: String,
    /// `--check`.
    pub check_mode: bool,
    /// `--emergency`.
    pub emergency: bool,
    /// The run's stage and the baseline it installs, for a staged run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<crate::stages::StageRecord>,
    /// When the run started (RFC 3339).
    pub started: String,
    /// Seconds since it started.
    pub duration_seconds: f64,
    /// The batch that just ended (batch events, and a halt after a batch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchInfo>,
    /// Hosts by how they stand.
    pub hosts: HostCounts,
    /// Failed and unreachable hosts with the task and message that failed them.
    pub failed_hosts: Vec<FailedHost>,
    /// Why the run halted, if it did.
    pub halted: Option<String>,
}

/// The generic payload for `event`.
pub fn payload(
    event: NotifyEvent,
    summary: &RunSummary,
    batch: Option<BatchInfo>,
) -> NotifyPayload {
    let status = match event {
        NotifyEvent::End => summary.status.word().to_string(),
        NotifyEvent::Halt => "halted".to_string(),
        NotifyEvent::Start | NotifyEvent::Batch => "running".to_string(),
    };
    let failed_hosts = summary
        .failures()
        .into_iter()
        .map(|(play, host)| {
            let failure = host.failure();
            FailedHost {
                host: host.name.clone(),
                play: play.name.clone(),
                status: if host.outcome == HostOutcome::Unreachable {
                    "unreachable"
                } else {
                    "failed"
                },
                task: failure.map(|task| task.name.clone()),
                message: failure
                    .and_then(|task| task.message.as_deref())
                    .map(|message| shorten(message, MESSAGE_CHARS)),
            }
        })
        .collect();
    NotifyPayload {
        rpatch: PAYLOAD_VERSION,
        event,
        run_id: summary.run_id.clone(),
        playbook: summary.playbook.clone(),
        status,
        check_mode: summary.check_mode,
        emergency: summary.emergency,
        stage: summary.stage.clone(),
        started: summary.started.to_string(),
        duration_seconds: summary.seconds,
        batch,
        hosts: summary.host_counts(),
        failed_hosts,
        halted: summary.halted.clone(),
    }
}

impl NotifyPayload {
    /// The body a webhook of `format` is sent.
    pub fn body(&self, format: PayloadFormat) -> Json {
        match format {
            PayloadFormat::Generic => serde_json::to_value(self).unwrap_or_default(),
            PayloadFormat::Slack => self.slack(),
            PayloadFormat::Teams => self.teams(),
            PayloadFormat::TeamsMessageCard => self.message_card(),
        }
    }

    /// One line saying what happened: `rpatch run ID started: site.yml`.
    pub fn title(&self) -> String {
        let playbook = std::path::Path::new(&self.playbook)
            .file_name()
            .map_or(self.playbook.clone(), |name| {
                name.to_string_lossy().into_owned()
            });
        let what = match (&self.event, &self.batch) {
            (NotifyEvent::Start, _) => "started".to_string(),
            (NotifyEvent::Batch, Some(batch)) => {
                format!("batch {}/{} of {} done", batch.number, batch.of, batch.play)
            }
            (NotifyEvent::Batch, None) => "batch done".to_string(),
            (NotifyEvent::Halt, _) => "HALTED".to_string(),
            (NotifyEvent::End, _) => format!("ended: {}", self.status),
        };
        let check = if self.check_mode { " (check mode)" } else { "" };
        format!("rpatch {playbook} run {} {what}{check}", self.run_id)
    }

    /// The facts every chat message shows, as (name, value).
    fn facts(&self) -> Vec<(&'static str, String)> {
        let mut facts = vec![
            ("Run", self.run_id.clone()),
            ("Playbook", self.playbook.clone()),
            ("Status", self.status.clone()),
            ("Hosts", counts_line(&self.hosts)),
            ("Duration", format!("{:.0}s", self.duration_seconds)),
        ];
        if let Some(batch) = &self.batch {
            facts.push((
                "Batch",
                format!(
                    "{}/{} of {}: {}",
                    batch.number,
                    batch.of,
                    batch.play,
                    batch.hosts.join(", ")
                ),
            ));
        }
        if let Some(stage) = &self.stage {
            let baseline = stage.baseline.as_deref().unwrap_or("none");
            facts.push(("Stage", format!("{} (baseline {baseline})", stage.name)));
        }
        if let Some(reason) = &self.halted {
            facts.push(("Halted", reason.clone()));
        }
        facts
    }

    /// Failed hosts, one line each (at most [`CHAT_FAILURES`], then a count).
    fn failure_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .failed_hosts
            .iter()
            .take(CHAT_FAILURES)
            .map(|failed| {
                let task = failed
                    .task
                    .as_deref()
                    .map(|task| format!(" at `{task}`"))
                    .unwrap_or_default();
                let message = failed
                    .message
                    .as_deref()
                    .map(|message| format!(": {message}"))
                    .unwrap_or_default();
                format!("{} {}{task}{message}", failed.host, failed.status)
            })
            .collect();
        if self.failed_hosts.len() > CHAT_FAILURES {
            lines.push(format!(
                "… and {} more",
                self.failed_hosts.len() - CHAT_FAILURES
            ));
        }
        lines
    }

    /// The plain-text body of a mail (and the fallback text of chat messages).
    pub fn text(&self) -> String {
        let mut out = format!("{}\n\n", self.title());
        for (name, value) in self.facts() {
            out.push_str(&format!("{name}: {value}\n"));
        }
        let failures = self.failure_lines();
        if !failures.is_empty() {
            out.push_str("\nFailed hosts:\n");
            for line in failures {
                out.push_str(&format!("  {line}\n"));
            }
        }
        out
    }

    /// A Slack incoming-webhook message: `text` (the notification fallback) and Block Kit
    /// `blocks` (a header, the facts as section fields, failures as a section).
    fn slack(&self) -> Json {
        let fields: Vec<Json> = self
            .facts()
            .into_iter()
            .map(|(name, value)| {
                json!({"type": "mrkdwn", "text": shorten(&format!("*{name}*\n{value}"), 2000)})
            })
            .collect();
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": shorten(&self.title(), 150)}}),
            json!({"type": "section", "fields": fields}),
        ];
        let failures = self.failure_lines();
        if !failures.is_empty() {
            blocks.push(json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": shorten(&format!("*Failed hosts*\n{}", failures.join("\n")), 3000)}
            }));
        }
        json!({"text": self.title(), "blocks": blocks})
    }

    /// A Teams message carrying an Adaptive Card (what Teams workflows and incoming webhooks
    /// accept): a title, a fact set and the failures.
    fn teams(&self) -> Json {
        let facts: Vec<Json> = self
            .facts()
            .into_iter()
            .map(|(name, value)| json!({"title": name, "value": value}))
            .collect();
        let mut body = vec![
            json!({"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": self.title(), "wrap": true}),
            json!({"type": "FactSet", "facts": facts}),
        ];
        let failures = self.failure_lines();
        if !failures.is_empty() {
            body.push(json!({"type": "TextBlock", "text": "Failed hosts", "weight": "Bolder", "wrap": true}));
            for line in failures {
                body.push(json!({"type": "TextBlock", "text": line, "wrap": true}));
            }
        }
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body
                }
            }]
        })
    }

    /// A legacy Office 365 connector card.
    fn message_card(&self) -> Json {
        let facts: Vec<Json> = self
            .facts()
            .into_iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        let good = matches!(self.status.as_str(), "ok" | "running") && self.failed_hosts.is_empty();
        let mut section = json!({"activityTitle": self.title(), "facts": facts});
        let failures = self.failure_lines();
        if !failures.is_empty() {
            section["text"] = Json::from(failures.join("<br>"));
        }
        json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": self.title(),
            "themeColor": if good { "2EB886" } else { "D00000" },
            "title": self.title(),
            "sections": [section]
        })
    }
}

/// `3 ok, 1 failed, 0 unreachable, 2 not started` (zero counts of the last three left out).
fn counts_line(counts: &HostCounts) -> String {
    let mut parts = vec![
        format!("{} ok", counts.ok),
        format!("{} failed", counts.failed),
        format!("{} unreachable", counts.unreachable),
    ];
    if counts.unfinished > 0 {
        parts.push(format!("{} unfinished", counts.unfinished));
    }
    if counts.not_started > 0 {
        parts.push(format!("{} not started", counts.not_started));
    }
    parts.join(", ")
}

/// `text` cut to `max` characters, ending in `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NotifyPayload {
        NotifyPayload {
            rpatch: PAYLOAD_VERSION,
            event: NotifyEvent::Halt,
            run_id: "20261203T120000Z-abcd".into(),
            playbook: "/srv/site.yml".into(),
            status: "halted".into(),
            check_mode: false,
            emergency: false,
            stage: Some(crate::stages::StageRecord {
                name: "production".into(),
                previous: Some("staging".into()),
                baseline: Some("20261201T090000Z-0f3a".into()),
                overridden: Vec::new(),
            }),
            started: "2026-12-03T12:00:00Z".into(),
            duration_seconds: 42.4,
            batch: Some(BatchInfo {
                play: "web".into(),
                number: 1,
                of: 3,
                hosts: vec!["web1".into()],
            }),
            hosts: HostCounts {
                ok: 0,
                failed: 1,
                unreachable: 0,
                unfinished: 0,
                not_started: 2,
            },
            failed_hosts: vec![FailedHost {
                host: "web1".into(),
                play: "web".into(),
                status: "failed",
                task: Some("upgrade".into()),
                message: Some(shorten(&"x".repeat(1000), MESSAGE_CHARS)),
            }],
            halted: Some("1 of 1 hosts failed".into()),
        }
    }

    #[test]
    fn slack_messages_have_text_and_blocks_within_slack_limits() {
        let body = sample().body(PayloadFormat::Slack);
        assert!(body["text"].as_str().is_some_and(|t| t.contains("HALTED")));
        let blocks = body["blocks"].as_array().expect("blocks");
        assert_eq!(blocks[0]["type"], "header");
        assert!(
            blocks[0]["text"]["text"]
                .as_str()
                .expect("text")
                .chars()
                .count()
                <= 150
        );
        assert!(blocks[1]["fields"].as_array().expect("fields").len() <= 10);
        assert!(blocks[2]["text"]["text"]
            .as_str()
            .expect("failures")
            .contains("web1 failed at `upgrade`"));
    }

    #[test]
    fn teams_messages_carry_an_adaptive_card_or_a_message_card() {
        let body = sample().body(PayloadFormat::Teams);
        assert_eq!(body["type"], "message");
        let card = &body["attachments"][0];
        assert_eq!(
            card["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        assert_eq!(card["content"]["body"][1]["type"], "FactSet");
        let legacy = sample().body(PayloadFormat::TeamsMessageCard);
        assert_eq!(legacy["@type"], "MessageCard");
        assert_eq!(legacy["themeColor"], "D00000");
        assert!(legacy["summary"].as_str().is_some());
    }

    #[test]
    fn a_staged_run_names_its_stage_and_baseline() {
        let payload = sample();
        let generic = serde_json::to_value(&payload).unwrap();
        assert_eq!(generic["stage"]["name"], "production");
        assert_eq!(generic["stage"]["baseline"], "20261201T090000Z-0f3a");
        assert!(payload
            .text()
            .contains("production (baseline 20261201T090000Z-0f3a)"));
    }

    #[test]
    fn long_messages_are_shortened() {
        let text = sample().text();
        assert!(text.contains("Halted: 1 of 1 hosts failed"), "{text}");
        assert!(text.contains('…'));
        assert!(!text.contains(&"x".repeat(400)));
    }
}
