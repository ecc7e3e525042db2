//! The topology discovery found, kept in the state directory per inventory
//! (`<state dir>/topology/<key>.json`, the key a SHA-1 of the canonical inventory paths) and
//! laid over the inventory whenever it is loaded for a run or a plan.
//!
//! What an inventory says wins: a guest whose inventory already names its `rpatch_hypervisor`
//! keeps it; discovery fills in the guests it does not place.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha1::Digest;

use super::discover::Topology;
use super::Inventory;
use crate::rolling::state_dir::{create_private_dir, StateDir};
use crate::vars::{Value, Vars};

/// A discovery as saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// When it ran.
    pub discovered_at: jiff::Timestamp,
    /// What it found.
    pub topology: Topology,
}

/// Why a discovery could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// An inventory path cannot be resolved.
    #[error("cannot resolve inventory `{}`: {source}", path.display())]
    Resolve {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The state directory is unusable.
    #[error(transparent)]
    StateDir(#[from] crate::rolling::state_dir::StateDirError),
    /// The file could not be written.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The file that holds the discovered topology of these inventories.
pub fn path(state: &StateDir, inventories: &[PathBuf]) -> Result<PathBuf, SaveError> {
    let mut canonical = inventories
        .iter()
        .map(|path| {
            path.canonicalize().map_err(|source| SaveError::Resolve {
                path: path.clone(),
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    canonical.sort();
    let mut hasher = sha1::Sha1::new();
    hasher.update(b"rpatch-topology-v1\0");
    for path in &canonical {
        hasher.update(path.as_os_str().as_encoded_bytes());
        hasher.update(b"\0");
    }
    let key: String = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(state.path().join("topology").join(format!("{key}.json")))
}

/// Saves a discovery; returns where.
pub fn save(
    state: &StateDir,
    inventories: &[PathBuf],
    saved: &Saved,
) -> Result<PathBuf, SaveError> {
    let file = path(state, inventories)?;
    if let Some(dir) = file.parent() {
        create_private_dir(state.path())?;
        create_private_dir(dir)?;
    }
    let text = serde_json::to_string_pretty(saved).unwrap_or_default();
    let temporary = file.with_extension("json.tmp");
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, &file))
        .map_err(|source| SaveError::Write {
            path: file.clone(),
            source,
        })?;
    Ok(file)
}

/// The saved discovery of these inventories, if there is a readable one.
pub fn load(state: &StateDir, inventories: &[PathBuf]) -> Option<Saved> {
    let file = path(state, inventories).ok()?;
    let text = std::fs::read_to_string(&file).ok()?;
    match serde_json::from_str(&text) {
        Ok(saved) => Some(saved),
        Err(error) => {
            tracing::warn!(
                "ignoring the discovered topology in `{}`: {error}",
                Path::new(&file).display()
            );
            None
        }
    }
}

impl Inventory {
    /// Gives each discovered guest that has no `rpatch_hypervisor` of its own the hypervisor
    /// (and `rpatch_domain`) discovery found it on; returns the guests it placed.
    pub fn apply_discovered(&mut self, topology: &Topology) -> Vec<String> {
        let mut placed = Vec::new();
        for (guest, placement) in &topology.guests {
            if self.host(guest).is_none() || self.host_vars(guest).contains_key("rpatch_hypervisor")
            {
                continue;
            }
            let mut vars = Vars::new();
            vars.insert(
                "rpatch_hypervisor".into(),
                Value::from(placement.hypervisor.as_str()),
            );
            vars.insert(
                "rpatch_domain".into(),
                Value::from(placement.domain.as_str()),
            );
            self.set_host_vars(guest, vars);
            placed.push(guest.clone());
        }
        placed
    }
}
