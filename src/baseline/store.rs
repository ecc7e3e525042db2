//! Where baselines live (`<state dir>/baselines/<run id>.json`), how a run's journal becomes
//! one, and how `baseline: NAME|FILE` finds one.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::{Baseline, BaselineRecord, FORMAT};
use crate::rolling::journal::{JournalEvent, JournalRecord, RunEndStatus};
use crate::rolling::state_dir::{create_private_dir, StateDir, StateDirError};

/// The folder of the state directory that holds baselines.
const BASELINES: &str = "baselines";

/// Why a baseline cannot be stored, listed or found.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The state directory cannot be used.
    #[error(transparent)]
    StateDir(#[from] StateDirError),
    /// A file could not be read or written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// read, write, list.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A file is not a baseline.
    #[error("`{}` is not an rpatch baseline: line {line}, column {column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde said.
        message: String,
    },
    /// A baseline written by a newer rpatch.
    #[error("`{}` is baseline format {found}; this rpatch reads format {FORMAT}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Its format.
        found: u32,
    },
    /// A release key, package name or version with characters no package manager uses.
    #[error("`{}` is not an rpatch baseline: `{word}` is not a release, package name or version", path.display())]
    BadWord {
        /// The file.
        path: PathBuf,
        /// The offending word.
        word: String,
    },
    /// No baseline of that name.
    #[error("no baseline `{name}` in {}{hint}", dir.display())]
    Unknown {
        /// The name asked for.
        name: String,
        /// Where rpatch looked.
        dir: PathBuf,
        /// The names that exist, or how to make one.
        hint: String,
    },
}

/// The baselines folder of a state directory.
#[derive(Debug, Clone)]
pub struct BaselineStore {
    dir: PathBuf,
}

impl BaselineStore {
    /// The store of the state directory this process's environment names.
    pub fn from_env() -> Result<Self, BaselineError> {
        Ok(Self::in_state_dir(&StateDir::from_env()?))
    }

    /// The store inside `state`.
    pub fn in_state_dir(state: &StateDir) -> Self {
        Self {
            dir: state.path().join(BASELINES),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `baseline` as `<run id>.json` (through a temporary file and a rename, so a
    /// reader never sees half a file); returns its path.
    pub fn save(&self, baseline: &Baseline) -> Result<PathBuf, BaselineError> {
        create_private_dir(&self.dir)?;
        let path = self.dir.join(format!("{}.json", baseline.run_id));
        write_file(&path, baseline)?;
        Ok(path)
    }

    /// Every stored baseline, oldest first.
    pub fn list(&self) -> Result<Vec<Baseline>, BaselineError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(BaselineError::Io {
                    action: "list",
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        paths.sort();
        paths.iter().map(|path| read_file(path)).collect()
    }

    /// The baseline a task or command names: a file (a path with a `/`, or ending in
    /// `.json`), `latest` (the newest stored one), or a stored baseline's run id.
    pub fn find(&self, reference: &str) -> Result<Baseline, BaselineError> {
        if reference.contains('/') || reference.ends_with(".json") {
            return read_file(Path::new(reference));
        }
        let stored = self.list()?;
        let found = if reference == "latest" {
            stored.last()
        } else {
            stored.iter().find(|b| b.run_id == reference)
        };
        found.cloned().ok_or_else(|| BaselineError::Unknown {
            name: reference.to_string(),
            dir: self.dir.clone(),
            hint: if stored.is_empty() {
                " (none yet: a run that installs packages with apt or dnf records one)".into()
            } else {
                format!(
                    " (known: {})",
                    stored
                        .iter()
                        .map(|b| b.run_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        })
    }
}

/// Writes a baseline to any path (`rpatch baseline export`).
pub fn write_file(path: &Path, baseline: &Baseline) -> Result<(), BaselineError> {
    let io = |source| BaselineError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let mut text = serde_json::to_string_pretty(baseline).map_err(|e| io(e.into()))?;
    text.push('\n');
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}

fn read_file(path: &Path) -> Result<Baseline, BaselineError> {
    let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let parse_error = |error: serde_json::Error| BaselineError::Parse {
        path: path.to_path_buf(),
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    };
    let raw: serde_json::Value = serde_json::from_str(&text).map_err(parse_error)?;
    let found = raw.get("format").and_then(serde_json::Value::as_u64);
    if let Some(found) = found.filter(|f| *f > u64::from(FORMAT)) {
        return Err(BaselineError::Format {
            path: path.to_path_buf(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
        });
    }
    let baseline: Baseline = serde_json::from_str(&text).map_err(parse_error)?;
    // Every word reaches a host's shell script: quoted there, but refused here all the same
    // when it could not be a Debian or RPM name, version or os-release key.
    let words = baseline.systems.iter().flat_map(|(os, system)| {
        std::iter::once(os).chain(system.packages.iter().flat_map(|(n, v)| [n, v]))
    });
    for word in words {
        let plain = word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~:^-".contains(&b));
        if word.is_empty() || word.starts_with('-') && word != "-" || !plain {
            return Err(BaselineError::BadWord {
                path: path.to_path_buf(),
                word: word.clone(),
            });
        }
    }
    Ok(baseline)
}

/// Folds what the package tasks of a run installed (their journal records) into a baseline
/// and stores it; `None` when the run installed nothing.
pub fn record_run(
    journal: &Path,
    store: &BaselineStore,
) -> Result<Option<(Baseline, PathBuf)>, BaselineError> {
    let text = std::fs::read_to_string(journal).map_err(|source| BaselineError::Io {
        action: "read",
        path: journal.to_path_buf(),
        source,
    })?;
    let mut baseline: Option<Baseline> = None;
    let mut run = (String::new(), String::new(), Timestamp::now());
    let mut status = "unfinished";
    let mut set_by = std::collections::BTreeMap::new();
    // A partial last line (a crash mid-append) is skipped like every unreadable line: the
    // journal itself is checked by resume, this only collects what is there.
    for record in text
        .lines()
        .filter_map(|line| serde_json::from_str::<JournalRecord>(line).ok())
    {
        match record.event {
            JournalEvent::RunStart {
                run_id, playbook, ..
            } => run = (run_id.to_string(), playbook, record.at),
            JournalEvent::HostResult {
                host,
                record: Some(value),
                ..
            } => {
                if let Some(installed) = BaselineRecord::from_journal(&value) {
                    baseline
                        .get_or_insert_with(|| Baseline::new(&run.0, &run.1, run.2))
                        .add_tracked(&host, &installed, &mut set_by);
                }
            }
            JournalEvent::Interrupted { .. } => status = "interrupted",
            JournalEvent::Resumed => status = "unfinished",
            JournalEvent::RunEnd { status: end } => {
                status = match end {
                    RunEndStatus::Completed => "completed",
                    RunEndStatus::Halted => "halted",
                }
            }
            _ => {}
        }
    }
    let Some(mut baseline) = baseline else {
        return Ok(None);
    };
    baseline.run_status = status.to_string();
    baseline.created = Timestamp::now();
    let path = store.save(&baseline)?;
    Ok(Some((baseline, path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, BaselineStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BaselineStore {
            dir: dir.path().join(BASELINES),
        };
        (dir, store)
    }

    fn journal(dir: &Path, lines: &[serde_json::Value]) -> PathBuf {
        let path = dir.join("journal.jsonl");
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).expect("write journal");
        path
    }

    fn host_result(host: &str, record: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"at": "2026-12-01T10:00:00Z", "event": "host_result", "play": 0,
            "host": host, "task": "apt", "status": "changed", "record": record})
    }

    #[test]
    fn a_run_that_installed_packages_records_a_baseline_that_can_be_found_again() {
        let (dir, store) = store();
        let start = serde_json::json!({"at": "2026-12-01T10:00:00Z", "event": "run_start",
            "format": 1, "run_id": "20261201T100000Z-00aa", "playbook": "/p/monthly.yml",
            "inventory": "inv", "emergency": false, "plan": {"plays": []}});
        let installed = BaselineRecord {
            os: "debian-12".into(),
            packages: [("curl".to_string(), "7.88".to_string())].into(),
        };
        let path = journal(
            dir.path(),
            &[
                start,
                host_result(
                    "web1",
                    serde_json::json!({ BaselineRecord::KEY: installed.to_journal() }),
                ),
                host_result("web2", serde_json::json!({"moved": []})),
                serde_json::json!({"at": "2026-12-01T10:05:00Z", "event": "run_end",
                    "status": "completed"}),
            ],
        );
        let (baseline, file) = record_run(&path, &store)
            .expect("recorded")
            .expect("a baseline");
        assert!(file.ends_with("baselines/20261201T100000Z-00aa.json"));
        assert_eq!(baseline.run_status, "completed");
        assert_eq!(baseline.systems["debian-12"].packages["curl"], "7.88");
        assert_eq!(store.find("latest").expect("latest"), baseline);
        assert_eq!(
            store.find("20261201T100000Z-00aa").expect("by id"),
            baseline
        );
        assert_eq!(
            store.find(&file.display().to_string()).expect("by file"),
            baseline
        );
        let unknown = store.find("20261201T100000Z-ffff").expect_err("unknown");
        assert!(
            unknown.to_string().contains("known: 20261201T100000Z-00aa"),
            "{unknown}"
        );
    }

    #[test]
    fn a_run_that_installed_nothing_records_no_baseline() {
        let (dir, store) = store();
        let path = journal(dir.path(), &[host_result("h", serde_json::json!({}))]);
        assert!(record_run(&path, &store).expect("read").is_none());
        let missing = store.find("latest").expect_err("none stored");
        assert!(missing.to_string().contains("none yet"), "{missing}");
    }

    #[test]
    fn a_damaged_or_newer_file_is_refused_naming_line_and_column() {
        let (dir, store) = store();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\n  \"format\": 1,\n  oops\n}").expect("write");
        let error = store.find(&bad.display().to_string()).expect_err("bad");
        assert!(error.to_string().contains("line 3, column 3"), "{error}");
        let quoted = dir.path().join("quoted.json");
        std::fs::write(
            &quoted,
            r#"{"format": 1, "run_id": "r", "created": "2026-12-01T10:00:00Z", "playbook": "p",
                "run_status": "completed",
                "systems": {"debian-12": {"hosts": [], "packages": {"curl": "1'); rm -rf /"}}}}"#,
        )
        .expect("write");
        let error = store
            .find(&quoted.display().to_string())
            .expect_err("quoted");
        assert!(
            error
                .to_string()
                .contains("is not a release, package name or version"),
            "{error}"
        );
        let newer = dir.path().join("newer.json");
        std::fs::write(&newer, "{\"format\": 9}").expect("write");
        let error = store.find(&newer.display().to_string()).expect_err("newer");
        assert!(error.to_string().contains("format 9"), "{error}");
    }
}
