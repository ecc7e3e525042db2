//! Playbooks that are not files the user keeps: read from standard input (`rpatch run -`) or
//! built by `adhoc` and `patch`. Their text is saved in the state directory's `playbooks/`
//! under its SHA-256, so the run's journal, lock and `rpatch resume` have a file to name: the
//! same text is the same file, so the same ad-hoc rollout started twice at once is refused.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::error::CliError;
use crate::rolling::state_dir::{create_private_dir, StateDir};

/// A playbook to load: the file, and the directory its relative paths and roles belong to
/// when that is not the file's own.
#[derive(Debug, Clone)]
pub struct PlaybookSource {
    /// The file.
    pub path: PathBuf,
    /// The playbook directory, for a saved playbook: where the command was started.
    pub base_dir: Option<PathBuf>,
}

impl PlaybookSource {
    /// The playbook a `run` argument names: `-` reads standard input.
    pub fn from_argument(argument: &Path) -> Result<Self, CliError> {
        if argument != Path::new("-") {
            return Ok(Self {
                path: argument.to_path_buf(),
                base_dir: None,
            });
        }
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(CliError::Stdin)?;
        Self::saved(&text)
    }

    /// A playbook built in memory, saved so that the run can be resumed.
    pub fn saved(text: &str) -> Result<Self, CliError> {
        let cwd = std::env::current_dir().map_err(|source| CliError::Read {
            path: PathBuf::from("."),
            source,
        })?;
        Ok(Self {
            path: save(text)?,
            base_dir: Some(cwd),
        })
    }
}

/// Writes `text` to `<state dir>/playbooks/<sha256>.yml` (once) and returns that path.
fn save(text: &str) -> Result<PathBuf, CliError> {
    let dir = StateDir::from_env()?.path().join("playbooks");
    create_private_dir(&dir)?;
    let digest = Sha256::digest(text.as_bytes());
    let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("{name}.yml"));
    if !path.exists() {
        let partial = dir.join(format!("{name}.yml.partial{}", std::process::id()));
        std::fs::write(&partial, text)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|source| CliError::SavePlaybook {
                path: path.clone(),
                source,
            })?;
    }
    Ok(path)
}
