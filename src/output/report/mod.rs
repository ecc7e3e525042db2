//! `--report FILE`: a run's summary ([`RunSummary`], rebuilt from its journal) written as JSON,
//! JUnit XML or one self-contained HTML page, chosen by the file's extension.
//!
//! Every format is rendered from the same summary, which holds no secrets (see
//! [`crate::rolling::summary`]), so no format can leak what another hides.

mod html;
mod json;
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
fn escape(text: &str) -> String {
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

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(duration(4.25), "4.2s");
        assert_eq!(duration(185.0), "3m05s");
        assert_eq!(duration(3720.0), "1h02m");
    }
}
