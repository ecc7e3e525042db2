//! Loading inventory sources: files (format by extension), executable inventory scripts,
//! plugin configs (`plugin: constructed`, `plugin: rpatch.script`), directories of them, their
//! neighbouring `group_vars/`/`host_vars/`, and `host1,host2,` host lists.
//!
//! Sources load in order; `constructed` configs are evaluated after all the others (in their
//! own order), so they see every discovered host.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diagnostic::Source;

use super::constructed::{self, Constructable};
use super::dynamic_error::DynamicError;
use super::error::InventoryError;
use super::model::{Inventory, UNGROUPED};
use super::plugin::{self, Plan};
use super::vars_dirs::{list_dir, VarsDirs};
use super::{ini, script, source_cache, yaml_format};

/// How dynamic sources are run.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Ignore cached discoveries and store fresh ones (`--flush-cache`).
    pub flush_cache: bool,
    /// Where the cache lives (default: the state directory's `inventory-cache/`).
    pub cache_dir: Option<PathBuf>,
    /// How long one script call may take (default: `$RPATCH_INVENTORY_TIMEOUT`, else 30 s).
    pub timeout: Option<Duration>,
}

/// One load in progress: the options, and the constructed layers waiting for the end.
struct Loader<'a> {
    options: &'a LoadOptions,
    timeout: Duration,
    pending: Vec<(PathBuf, Constructable)>,
}

/// Endings of files in an inventory directory that are not inventories (Ansible's
/// `INVENTORY_IGNORE_EXTS`).
const IGNORED_ENDINGS: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

/// Subdirectories of an inventory directory that hold no hosts: the variables directories,
/// and `examples/` (the commented example inventories rpatch ships under `inventory/`, which
/// must not join the default inventory; pass one with `-i inventory/examples/kvm.yml`).
const SKIPPED_DIRS: [&str; 3] = ["group_vars", "host_vars", "examples"];

impl Inventory {
    /// Loads and merges inventory sources, in order: later sources add hosts and groups and
    /// override variables of earlier ones.
    ///
    /// A source is a file (`.yml`/`.yaml`/`.json` as YAML, anything else as INI), a directory
    /// (every inventory file in it, sorted, recursively), or — when no such path exists and it
    /// contains a comma — a list of hosts such as `web1,web2,`. The `group_vars/` and
    /// `host_vars/` beside a file, or inside a directory, are loaded too.
    pub fn load(paths: &[PathBuf]) -> Result<Self, InventoryError> {
        Self::load_with(paths, &LoadOptions::default())
    }

    /// [`Inventory::load`] with options for dynamic sources. An executable file is run as an
    /// inventory script; a YAML file with a top-level `plugin:` is a plugin config.
    pub fn load_with(paths: &[PathBuf], options: &LoadOptions) -> Result<Self, InventoryError> {
        let timeout = match options.timeout {
            Some(timeout) => timeout,
            None => script::timeout_from_env()?,
        };
        let mut loader = Loader {
            options,
            timeout,
            pending: Vec::new(),
        };
        let mut inventory = Self::new();
        for path in paths {
            inventory.load_source(path, &mut loader)?;
        }
        for (path, layer) in std::mem::take(&mut loader.pending) {
            constructed::apply(&mut inventory, &layer, &path, None)?;
        }
        inventory.finalize()?;
        Ok(inventory)
    }

    /// Adds the `group_vars/` and `host_vars/` found in `dir` (usually the playbook's
    /// directory); they rank above the inventory's own directories of the same kind.
    pub fn add_vars_dirs(&mut self, dir: &Path) -> Result<(), InventoryError> {
        let found = VarsDirs::load(dir)?;
        if !found.is_empty() {
            self.playbook_vars.push(found);
        }
        Ok(())
    }

    fn load_source(&mut self, path: &Path, loader: &mut Loader<'_>) -> Result<(), InventoryError> {
        if path.is_dir() {
            self.load_dir(path, loader)?;
            self.inventory_vars.push(VarsDirs::load(path)?);
        } else if path.exists() {
            self.load_file(path, loader)?;
            let dir = path.parent().unwrap_or(Path::new("."));
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            self.inventory_vars.push(VarsDirs::load(dir)?);
        } else {
            let text = path.to_string_lossy();
            if !text.contains(',') {
                return Err(InventoryError::NotFound(path.to_path_buf()));
            }
            for host in text.split(',').map(str::trim).filter(|h| !h.is_empty()) {
                self.add_host(host, UNGROUPED, None);
            }
        }
        Ok(())
    }

    fn load_dir(&mut self, dir: &Path, loader: &mut Loader<'_>) -> Result<(), InventoryError> {
        for (name, path) in list_dir(dir)? {
            let skip = name.starts_with('.')
                || IGNORED_ENDINGS.iter().any(|end| name.ends_with(end))
                || (path.is_dir() && SKIPPED_DIRS.contains(&name.as_str()));
            if skip {
                continue;
            }
            if path.is_dir() {
                self.load_dir(&path, loader)?;
            } else {
                self.load_file(&path, loader)?;
            }
        }
        Ok(())
    }

    fn load_file(&mut self, path: &Path, loader: &mut Loader<'_>) -> Result<(), InventoryError> {
        if script::is_executable(path) {
            if let Some(data) = script::discover(path, loader.timeout)? {
                self.note_stderr(&data);
                data.apply(self, path);
                return Ok(());
            }
            // Not a program (an executable text file without `#!`): read it as Ansible's
            // other plugins would.
        }
        let source = Source::read(path)?;
        if source.text().starts_with("#!") {
            return Err(DynamicError::NotExecutable {
                path: path.to_path_buf(),
            }
            .into());
        }
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("yml" | "yaml") => match plugin::read(path, source.text())? {
                Some(config) => self.load_plugin(&config, loader),
                None => yaml_format::parse(self, &source),
            },
            Some("json") => yaml_format::parse(self, &source),
            _ => ini::parse(self, &source),
        }
    }

    fn note_stderr(&mut self, data: &super::source_data::SourceData) {
        self.warnings.extend(
            data.stderr
                .iter()
                .map(|text| format!("inventory script {text}")),
        );
    }

    fn load_plugin(
        &mut self,
        config: &plugin::PluginConfig,
        loader: &mut Loader<'_>,
    ) -> Result<(), InventoryError> {
        match config.plan()? {
            Plan::Constructed(layer) => loader.pending.push((config.path.clone(), layer)),
            Plan::Discover {
                plugin,
                own,
                cache,
                constructed: layer,
            } => {
                let discover = || plugin.discover(config, &own, loader.timeout);
                let data = match cache {
                    None => discover()?,
                    Some(ttl) => {
                        let canonical = std::fs::canonicalize(&config.path)
                            .unwrap_or_else(|_| config.path.clone());
                        let key = format!(
                            "{}\0{}\0{}\0{}",
                            config.name,
                            canonical.display(),
                            config.text,
                            plugin.cache_inputs(config, &own)?
                        );
                        let dir = source_cache::cache_dir(loader.options.cache_dir.as_deref())?;
                        source_cache::cached(
                            &dir,
                            &key,
                            ttl,
                            loader.options.flush_cache,
                            &config.path,
                            discover,
                        )?
                    }
                };
                self.note_stderr(&data);
                data.apply(self, &config.path);
                constructed::apply(self, &layer, &config.path, Some(&data.hosts()))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::diagnostic::render;
    use crate::inventory::test_support::{json_vars, write};
    use serde_json::json;

    fn names(inventory: &Inventory) -> Vec<&str> {
        inventory.hosts().map(|h| h.name.as_str()).collect()
    }

    #[test]
    fn a_directory_loads_its_inventories_sorted_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "02-web.yml", "web:\n  hosts:\n    web1:\n");
        write(dir.path(), "01-hosts", "[db]\ndb1\n");
        write(dir.path(), "README.md", "# not an inventory\nnot_a_host\n");
        write(dir.path(), ".hidden", "hidden_host\n");
        write(dir.path(), "site.retry", "retry_host\n");
        write(dir.path(), "hosts~", "backup_host\n");
        write(dir.path(), "group_vars/web.yml", "x: 1\n");
        write(
            dir.path(),
            "examples/kvm.yml",
            "all:\n  hosts:\n    example_host:\n",
        );
        let inventory = Inventory::load(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(names(&inventory), ["db1", "web1"]);
        assert_eq!(json_vars(&inventory, "web1")["x"], json!(1));
        // The shipped examples load when named.
        let example = dir.path().join("examples/kvm.yml");
        let inventory = Inventory::load(&[example]).unwrap();
        assert_eq!(names(&inventory), ["example_host"]);
    }

    #[test]
    fn several_sources_merge_and_later_vars_win() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(dir.path(), "a/hosts", "[web]\nweb1 x=1 y=1\n");
        let second = write(
            dir.path(),
            "b/hosts.yml",
            "all:\n  children:\n    web:\n      hosts:\n        web1: {x: 2}\n        web2:\n",
        );
        let inventory = Inventory::load(&[first, second]).unwrap();
        assert_eq!(names(&inventory), ["web1", "web2"]);
        let vars = json_vars(&inventory, "web1");
        assert_eq!((vars["x"].clone(), vars["y"].clone()), (json!(2), json!(1)));
    }

    #[test]
    fn a_file_brings_the_vars_dirs_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = write(dir.path(), "hosts", "web1\n");
        write(dir.path(), "host_vars/web1.yml", "role: front\n");
        let inventory = Inventory::load(&[hosts]).unwrap();
        assert_eq!(json_vars(&inventory, "web1")["role"], json!("front"));
    }

    #[test]
    fn inventory_file_and_dir_are_set_for_each_host() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = write(dir.path(), "hosts", "web1\n");
        let inventory = Inventory::load(std::slice::from_ref(&hosts)).unwrap();
        let vars = json_vars(&inventory, "web1");
        assert_eq!(vars["inventory_file"], json!(hosts.display().to_string()));
        assert_eq!(
            vars["inventory_dir"],
            json!(dir.path().display().to_string())
        );
    }

    #[test]
    fn a_comma_separated_source_is_a_host_list() {
        let inventory = Inventory::load(&[PathBuf::from("web1,web2,")]).unwrap();
        assert_eq!(names(&inventory), ["web1", "web2"]);
    }

    #[test]
    fn a_missing_source_is_an_error() {
        let error = Inventory::load(&[PathBuf::from("/nonexistent/inventory")]).unwrap_err();
        assert!(matches!(error, InventoryError::NotFound(_)));
    }

    #[test]
    fn a_script_that_is_not_executable_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let script = write(
            dir.path(),
            "inv.py",
            "#!/usr/bin/env python3\nprint('{}')\n",
        );
        let text = render(&Inventory::load(&[script]).unwrap_err());
        assert!(
            text.contains("inv.py looks like an inventory script"),
            "{text}"
        );
        assert!(text.contains("chmod +x"), "{text}");
    }
}
