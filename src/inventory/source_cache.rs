//! The inventory cache: what a slow discovery source reported, stored in the state directory
//! (`<state>/inventory-cache/<key>.json`, mode 0700 directory) and reused while younger than the
//! source's `cache_timeout`. The key is a SHA-256 of the plugin, the config file and what the
//! plugin says decides its output, so an edited config or script is never answered from an
//! old entry. `--flush-cache` ignores entries and stores fresh ones.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::dynamic_error::DynamicError;
use super::error::InventoryError;
use super::source_data::SourceData;

/// The cache's subdirectory of the state directory.
pub const CACHE_DIR: &str = "inventory-cache";

#[derive(Serialize, Deserialize)]
struct Entry {
    /// Seconds since the epoch when it was stored.
    created: u64,
    /// The config file it came from (for people looking at the directory).
    source: String,
    data: SourceData,
}

/// Where entries go: `dir` if given, else the state directory's [`CACHE_DIR`].
pub fn cache_dir(dir: Option<&Path>) -> Result<PathBuf, InventoryError> {
    if let Some(dir) = dir {
        return Ok(dir.to_path_buf());
    }
    let state =
        crate::rolling::state_dir::StateDir::from_env().map_err(|e| DynamicError::Cache {
            path: PathBuf::from(CACHE_DIR),
            message: e.to_string(),
        })?;
    Ok(state.path().join(CACHE_DIR))
}

/// The cached data for `key` when fresh (and not `flush`), else `discover()`'s, stored.
pub fn cached(
    dir: &Path,
    key: &str,
    ttl: Duration,
    flush: bool,
    source: &Path,
    discover: impl FnOnce() -> Result<SourceData, InventoryError>,
) -> Result<SourceData, InventoryError> {
    let digest = Sha256::digest(key.as_bytes());
    let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let file = dir.join(format!("{name}.json"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if !flush {
        if let Some(entry) = read_entry(&file) {
            if now.saturating_sub(entry.created) < ttl.as_secs() {
                return Ok(entry.data);
            }
        }
    }
    let data = discover()?;
    let entry = Entry {
        created: now,
        source: source.display().to_string(),
        data,
    };
    write_entry(dir, &file, &entry)?;
    Ok(entry.data)
}

/// A readable entry; anything else (missing, cut off, another format) is a miss.
fn read_entry(file: &Path) -> Option<Entry> {
    let bytes = crate::input::read_bytes(file).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write_entry(dir: &Path, file: &Path, entry: &Entry) -> Result<(), InventoryError> {
    let error = |message: String| -> InventoryError {
        DynamicError::Cache {
            path: file.to_path_buf(),
            message,
        }
        .into()
    };
    crate::rolling::state_dir::create_private_dir(dir).map_err(|e| error(e.to_string()))?;
    let text = serde_json::to_vec(entry).map_err(|e| error(e.to_string()))?;
    let temp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temp, text).map_err(|e| error(e.to_string()))?;
    std::fs::rename(&temp, file).map_err(|e| error(e.to_string()))
}
