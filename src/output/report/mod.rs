//! `--report FILE`: a run's summary ([`RunSummary`], rebuilt from its journal) written as JSON,
//! JUnit XML or one self-contained HTML page, chosen by the file's extension.
//!
//! Every format is rendered from the same summary, which holds no secrets (see
//! [`crate::rolling::summary`]), so no format can leak what another hides.

mod html;
mod json;

/// The report pages' stylesheet, shared by other pages in the same style (`rpatch status`).
pub(crate) use html::STYLE;
mod junit;

use std::path::{Path, PathBuf};

use crate::rolling::summary::RunSummary;

/// The report formats, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// `.json`: the summary as one JSON document.
    Json,
    /// `.xml`: JUnit XML, a test suite per play and a test case per host and task.
    Junit,
    /// `.html` / `.htm`: one page, no external assets.
    Html,
}

/// Where `--report` writes, and in which format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTarget {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: ReportFormat,
}

/// Why a report cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The extension names no format.
    #[error("`{}`: unknown report format; the file name must end in .json, .xml (JUnit) or .html", path.display())]
    UnknownFormat {
        /// The file as given.
        path: PathBuf,
    },
    /// Writing failed.
    #[error("cannot write the report `{}`: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl ReportTarget {
    /// Reads `--report`'s value: the format comes from the extension (case-insensitive).
    pub fn parse(text: &str) -> Result<Self, ReportError> {
        let path = PathBuf::from(text);
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let format = match extension.as_deref() {
            Some("json") => ReportFormat::Json,
            Some("xml") => ReportFormat::Junit,
            Some("html" | "htm") => ReportFormat::Html,
            _ => return Err(ReportError::UnknownFormat { path }),
        };
        Ok(Self { path, format })
    }

    /// Renders the summary and writes it (through a temporary file, so a reader never sees
    /// half a report).
    pub fn write(&self, summary: &RunSummary) -> Result<(), ReportError> {
        let text = render(self.format, summary);
        let error = |source| ReportError::Write {
            path: self.path.clone(),
            source,
        };
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary = self
            .path
            .with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
        std::fs::write(&temporary, text).map_err(error)?;
        std::fs::rename(&temporary, &self.path).map_err(|source| {
            let _ = std::fs::remove_file(&temporary);
            error(source)
        })
    }
}

/// The report's text in this format.
pub fn render(format: ReportFormat, summary: &RunSummary) -> String {
    match format {
        ReportFormat::Json => json::render(summary),
        ReportFormat::Junit => junit::render(summary),
        ReportFormat::Html => html::render(summary),
    }
}

/// Text made safe inside XML/HTML text and attribute values; characters XML 1.0 forbids
/// (control characters other than tab, newline and carriage return) are dropped.
pub(crate) fn escape(text: &str) -> String {
    let allowed: String = text
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    minijinja::HtmlEscape(&allowed).to_string()
}

/// A number of seconds as people read it: `42.1s`, `3m05s`, `1h02m`.
fn duration(seconds: f64) -> String {
    let whole = seconds.max(0.0) as u64;
    if whole < 60 {
        format!("{seconds:.1}s")
    } else if whole < 3600 {
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        format!("{}h{:02}m", whole / 3600, (whole % 3600) / 60)
    }
}

/// The file name of a path, for headings.
fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_picks_the_format() {
        assert_eq!(
            ReportTarget::parse("out/r.JSON").map(|t| t.format).ok(),
            Some(ReportFormat::Json)
        );
        assert_eq!(
            ReportTarget::parse("r.xml").map(|t| t.format).ok(),
            Some(ReportFormat::Junit)
        );
        assert_eq!(
            ReportTarget::parse("r.htm").map(|t| t.format).ok(),
            Some(ReportFormat::Html)
        );
        let error = ReportTarget::parse("r.pdf").expect_err("pdf");
        assert!(
            error.to_string().contains(".json, .xml (JUnit) or .html"),
            "{error}"
        );
        assert!(ReportTarget::parse("report").is_err());
    }

    #[test]
    fn escaping_covers_markup_and_drops_control_characters() {
        assert_eq!(
            escape("<a href=\"x\">&'\u{1b}[31m"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;[31m"
        );
    }

    /// A journal of a run whose first batch failed a host and a gate, with markup in names.
    fn halted_run() -> (tempfile::TempDir, RunSummary) {
        use crate::rolling::journal::{
            HostStatus, JournalEvent, JournalWriter, Plan, PlannedPlay, RunEndStatus, RunId,
            RunSettings, TaskStatus, FORMAT_VERSION,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = JournalWriter::create(dir.path()).expect("journal");
        let events = vec![
            JournalEvent::RunStart {
                format: FORMAT_VERSION,
                run_id: RunId::parse("20261123T164500Z-4f2a").expect("id"),
                playbook: "/srv/site.yml".into(),
                inventory: "/srv/hosts".into(),
                emergency: false,
                plan: Plan {
                    plays: vec![PlannedPlay {
                        name: "<b>patch</b>".into(),
                        batches: vec![vec!["a".into(), "b".into()], vec!["c".into()]],
                    }],
                },
                settings: Box::new(RunSettings::default()),
            },
            JournalEvent::BatchStart { play: 0, batch: 0 },
            JournalEvent::HostResult {
                play: 0,
                host: "a".into(),
                task: "<script>alert(1)</script>".into(),
                status: TaskStatus::Changed,
                record: None,
                message: None,
            },
            JournalEvent::HostResult {
                play: 0,
                host: "b".into(),
                task: "upgrade".into(),
                status: TaskStatus::Failed,
                record: None,
                message: Some("dpkg said \"<no>\" & \u{1b}[31mstopped".into()),
            },
            JournalEvent::HostDone {
                play: 0,
                host: "a".into(),
                status: HostStatus::Ok,
            },
            JournalEvent::HostDone {
                play: 0,
                host: "b".into(),
                status: HostStatus::Failed,
            },
            JournalEvent::GateResult {
                play: 0,
                batch: Some(0),
                name: "api".into(),
                passed: false,
                attempts: 3,
                message: "HTTP 503 (after 3 attempts)".into(),
            },
            JournalEvent::BatchEnd {
                play: 0,
                batch: 0,
                halted: Some("a gate failed after batch 1".into()),
            },
            JournalEvent::RunEnd {
                status: RunEndStatus::Halted,
            },
        ];
        for event in events {
            writer.append(event).expect("append");
        }
        let summary = RunSummary::from_journal(writer.path()).expect("summary");
        (dir, summary)
    }

    #[test]
    fn the_summary_of_a_halted_run_names_the_gate_the_failed_host_and_who_never_started() {
        let (_dir, summary) = halted_run();
        assert_eq!(summary.status.word(), "halted");
        assert_eq!(summary.failed_gate().map(|g| g.attempts), Some(3));
        let counts = summary.host_counts();
        assert_eq!((counts.ok, counts.failed, counts.not_started), (1, 1, 1));
        let failures = summary.failures();
        assert_eq!(failures.len(), 1);
        assert_eq!(
            failures[0].1.failure().map(|t| t.name.as_str()),
            Some("upgrade")
        );
        assert_eq!(summary.plays[0].batches.len(), 1);
        assert!(summary.plays[0].batches[0].seconds.is_some());
    }

    #[test]
    fn markup_in_names_and_messages_is_escaped_in_html_and_junit() {
        let (_dir, summary) = halted_run();
        for format in [ReportFormat::Html, ReportFormat::Junit] {
            let text = render(format, &summary);
            assert!(!text.contains("<script>"), "{format:?}:\n{text}");
            assert!(!text.contains("<b>patch"), "{format:?}:\n{text}");
            assert!(!text.contains('\u{1b}'), "{format:?}:\n{text}");
            assert!(text.contains("&lt;script&gt;"), "{format:?}:\n{text}");
        }
        let html = render(ReportFormat::Html, &summary);
        let failures = html.find("id=\"failures\"").expect("failures");
        assert!(failures < html.find("id=\"timeline\"").expect("timeline"));
        assert!(html.contains("HTTP 503 (after 3 attempts)"));
        let json: serde_json::Value =
            serde_json::from_str(&render(ReportFormat::Json, &summary)).expect("json");
        assert_eq!(json["host_counts"]["not_started"], 1);
        assert_eq!(json["plays"][0]["hosts"][1]["outcome"], "failed");
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(duration(4.25), "4.2s");
        assert_eq!(duration(185.0), "3m05s");
        assert_eq!(duration(3720.0), "1h02m");
    }
}
