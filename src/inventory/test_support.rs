//! Helpers for the inventory tests: writing inventories to temporary directories.

use std::path::{Path, PathBuf};

use super::{Inventory, InventoryError};
use crate::vars;

/// Writes `text` to `dir/relative`, creating parent directories; returns the full path.
pub fn write(dir: &Path, relative: &str, text: &str) -> PathBuf {
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create test directory");
    }
    std::fs::write(&path, text).expect("write test file");
    path
}

/// Loads an inventory written to a fresh temporary directory as `name`.
pub fn load_text(name: &str, text: &str) -> Inventory {
    match try_load(name, text) {
        Ok(inventory) => inventory,
        Err(error) => panic!("{}", crate::diagnostic::render(&error)),
    }
}

/// Loads an inventory that must fail; returns the error.
pub fn load_text_err(name: &str, text: &str) -> InventoryError {
    match try_load(name, text) {
        Ok(_) => panic!("inventory {name} loaded but should not have"),
        Err(error) => error,
    }
}

fn try_load(name: &str, text: &str) -> Result<Inventory, InventoryError> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = write(dir.path(), name, text);
    Inventory::load(&[path])
}

/// A host's merged variables as a JSON object.
pub fn json_vars(inventory: &Inventory, host: &str) -> serde_json::Map<String, serde_json::Value> {
    inventory
        .host_vars(host)
        .iter()
        .map(|(key, value)| (key.clone(), vars::to_json(value)))
        .collect()
}
