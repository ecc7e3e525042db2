//! Loading what every subcommand needs: inventory, extra vars, playbook.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::args::Sources;
use super::error::CliError;
use super::extra_vars;
use crate::inventory::discovered::{self, Saved};
use crate::inventory::{Inventory, LoadOptions as InventoryOptions};
use crate::playbook::{self, LoadOptions, Playbook};
use crate::template::Templar;
use crate::vars::Vars;

/// The inventory paths: `-i`, else `$RPATCH_INVENTORY`, else `./inventory`.
pub fn inventory_paths(sources: &Sources) -> Result<Vec<PathBuf>, CliError> {
    if !sources.inventory.is_empty() {
        return Ok(sources.inventory.clone());
    }
    if let Some(paths) = std::env::var_os("RPATCH_INVENTORY").filter(|p| !p.is_empty()) {
        return Ok(std::env::split_paths(&paths).collect());
    }
    let default = PathBuf::from("inventory");
    if default.exists() {
        return Ok(vec![default]);
    }
    Err(CliError::NoInventory)
}

/// Loads the inventory the sources name, running dynamic sources as `--flush-cache` says.
pub fn load_inventory(sources: &Sources) -> Result<Inventory, CliError> {
    let options = InventoryOptions {
        flush_cache: sources.flush_cache,
        ..InventoryOptions::default()
    };
    let inventory = Inventory::load_with(&inventory_paths(sources)?, &options)?;
    for warning in inventory.warnings() {
        eprintln!("[WARNING]: {warning}");
    }
    Ok(inventory)
}

/// Everything a run needs, loaded and validated.
pub struct Loaded {
    /// The inventory, with the playbook's group_vars/host_vars added.
    pub inventory: Inventory,
    /// The playbook.
    pub playbook: Playbook,
    /// `-e` variables.
    pub extra_vars: Arc<Vars>,
    /// The template engine used to load (and then run) it.
    pub templar: Arc<Templar>,
    /// The saved discovery laid over the inventory, and the guests it placed.
    pub discovered: Option<(Saved, Vec<String>)>,
}

/// Lays the saved discovery of these inventories (`rpatch inventory --discover`) over
/// `inventory`; what it placed, if there is one.
pub fn apply_discovered(
    inventory: &mut Inventory,
    paths: &[PathBuf],
) -> Option<(Saved, Vec<String>)> {
    let state = crate::rolling::state_dir::StateDir::from_env().ok()?;
    let saved = discovered::load(&state, paths)?;
    let placed = inventory.apply_discovered(&saved.topology);
    Some((saved, placed))
}

/// Loads inventory, extra vars and playbook; any error means nothing was touched. `base_dir`
/// is the playbook's directory when it is not the file's own (a playbook from standard input
/// or built by `adhoc`/`patch`); `cfg_roles_path` is ansible.cfg's roles_path.
pub fn load_all_in(
    playbook_path: &Path,
    base_dir: Option<&Path>,
    sources: &Sources,
    cfg_roles_path: &[PathBuf],
) -> Result<Loaded, CliError> {
    let paths = inventory_paths(sources)?;
    let mut inventory = load_inventory(sources)?;
    let discovered = apply_discovered(&mut inventory, &paths);
    let extra_vars = Arc::new(extra_vars::parse_all(&sources.extra_vars)?);
    let templar = Arc::new(Templar::new());
    let mut roles_path: Vec<PathBuf> = std::env::var_os("RPATCH_ROLES_PATH")
        .map(|paths| std::env::split_paths(&paths).collect())
        .unwrap_or_default();
    roles_path.extend(cfg_roles_path.iter().cloned());
    let options = LoadOptions {
        extra_vars: extra_vars.clone(),
        roles_path,
        collections_paths: super::ansible_cfg::AnsibleConfig::load()?.collections_paths(),
        base_dir: base_dir.map(Path::to_path_buf),
    };
    let playbook = playbook::load(playbook_path, &templar, &options)?;
    if let Some(dir) = base_dir.or(playbook_path.parent()) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        inventory.add_vars_dirs(dir)?;
    }
    Ok(Loaded {
        inventory,
        playbook,
        extra_vars,
        templar,
        discovered,
    })
}
