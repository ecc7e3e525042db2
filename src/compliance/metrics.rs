//! `--metrics-file`: Prometheus text exposition format for node_exporter's textfile collector,
//! written atomically (a temporary file in the same directory, fsynced, renamed over the old).
//!
//! Per host (label `host`): `rpatch_last_success_timestamp_seconds`, `rpatch_pending_updates`,
//! `rpatch_pending_security_updates`, `rpatch_reboot_required` — a host without a value (never
//! patched, facts never gathered) has no sample. Per run (label `playbook`):
//! `rpatch_run_duration_seconds`, `rpatch_run_timestamp_seconds`, `rpatch_run_success` (1 when the
//! run ended ok) and `rpatch_run_result` (1 for the run's status, 0 for the others).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::scan::Compliance;
use crate::rolling::summary::{RunStatus, RunSummary};

/// Every status `rpatch_run_result` has a sample for.
const RESULTS: [RunStatus; 6] = [
    RunStatus::Ok,
    RunStatus::Failed,
    RunStatus::Halted,
    RunStatus::Interrupted,
    RunStatus::Paused,
    RunStatus::Unfinished,
];

/// The metrics file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write metrics to `{}`: {source}", path.display())]
pub struct MetricsError {
    /// The file (or its temporary sibling).
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// The metrics text for a finished run and its hosts' compliance.
pub fn metrics_text(run: &RunSummary, compliance: &Compliance) -> String {
    let mut out = String::new();
    let mut family = |name: &str, help: &str, samples: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    let host = |name: &str| format!("host=\"{}\"", escape(name));
    let per_host = |value: &dyn Fn(&super::HostCompliance) -> Option<String>| {
        compliance
            .hosts
            .iter()
            .filter_map(|h| value(h).map(|v| (host(&h.host), v)))
            .collect::<Vec<_>>()
    };
    family(
        "rpatch_last_success_timestamp_seconds",
        "Unix time the last patch run the host went through without failing started.",
        per_host(&|h| h.last_success.as_ref().map(|r| seconds(r.at))),
    );
    family(
        "rpatch_pending_updates",
        "Updates pending on the host when its patch facts were last gathered.",
        per_host(&|h| h.pending_updates.map(|n| n.to_string())),
    );
    family(
        "rpatch_pending_security_updates",
        "Security updates among the pending updates.",
        per_host(&|h| h.pending_security.map(|n| n.to_string())),
    );
    family(
        "rpatch_reboot_required",
        "1 when the host was last reported to need a reboot, else 0.",
        per_host(&|h| h.reboot_required.map(|r| u8::from(r).to_string())),
    );
    let playbook = format!("playbook=\"{}\"", escape(&run.playbook));
    family(
        "rpatch_run_duration_seconds",
        "Seconds the last run took (from its start to its last journal event).",
        vec![(playbook.clone(), format!("{}", run.seconds))],
    );
    family(
        "rpatch_run_timestamp_seconds",
        "Unix time the last run started.",
        vec![(playbook.clone(), seconds(run.started))],
    );
    family(
        "rpatch_run_success",
        "1 when the last run ended ok (every batch ran, no host failed), else 0.",
        vec![(
            playbook.clone(),
            u8::from(run.status == RunStatus::Ok).to_string(),
        )],
    );
    family(
        "rpatch_run_result",
        "1 for how the last run ended, 0 for the other results.",
        RESULTS
            .iter()
            .map(|status| {
                (
                    format!("{playbook},result=\"{}\"", status.word()),
                    u8::from(*status == run.status).to_string(),
                )
            })
            .collect(),
    );
    out
}

/// Writes `text` to `path` atomically, readable by everyone (node_exporter runs as its own user).
pub fn write_metrics(path: &Path, text: &str) -> Result<(), MetricsError> {
    let error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MetricsError { path, source }
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "metrics".into());
    // The textfile collector reads only `*.prom`: a `.tmp` sibling is never half-read.
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(error(&temp)(source));
    }
    std::fs::rename(&temp, path).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        error(path)(source)
    })
}

/// A timestamp as Unix seconds with milliseconds.
fn seconds(at: jiff::Timestamp) -> String {
    format!("{:.3}", at.as_millisecond() as f64 / 1000.0)
}

/// A label value escaped as the exposition format asks: `\` `"` and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn the_file_is_replaced_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("rpatch.prom");
        write_metrics(&path, "one\n").expect("write");
        write_metrics(&path, "two\n").expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "two\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
        assert!(write_metrics(&dir.path().join("missing/x.prom"), "x").is_err());
    }
}
