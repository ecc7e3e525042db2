//! `group_vars/` and `host_vars/` directories: `NAME.yml`, `NAME.yaml`, `NAME.json`, `NAME`
//! (no extension) and `NAME/` (every file inside, recursively, sorted), as Ansible's
//! `host_group_vars` plugin finds them.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::diagnostic::{Location, Source};
use crate::vars::{self, Vars};

use super::error::InventoryError;

/// Extensions a vars file may have, in the order Ansible tries them (then no extension).
const EXTENSIONS: [&str; 3] = [".yml", ".yaml", ".json"];

/// The variables found in one directory's `group_vars/` and `host_vars/`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VarsDirs {
    /// Group name → variables.
    pub groups: IndexMap<String, Vars>,
    /// Host name → variables.
    pub hosts: IndexMap<String, Vars>,
}

impl VarsDirs {
    /// Loads `dir/group_vars` and `dir/host_vars`; missing directories are empty.
    pub fn load(dir: &Path) -> Result<Self, InventoryError> {
        Ok(Self {
            groups: load_kind(&dir.join("group_vars"))?,
            hosts: load_kind(&dir.join("host_vars"))?,
        })
    }

    /// True when neither directory held anything.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.hosts.is_empty()
    }
}

/// Loads every entity's variables from one `group_vars/` or `host_vars/` directory.
fn load_kind(dir: &Path) -> Result<IndexMap<String, Vars>, InventoryError> {
    if !dir.is_dir() {
        return Ok(IndexMap::new());
    }
    // entity → (rank of the form it was found in, files)
    let mut found: IndexMap<String, Vec<(usize, Vec<PathBuf>)>> = IndexMap::new();
    for (name, path) in list_dir(dir)? {
        if name.starts_with('.') {
            continue;
        }
        let matched = EXTENSIONS
            .iter()
            .enumerate()
            .find_map(|(rank, ext)| name.strip_suffix(ext).map(|stem| (rank, stem)));
        let (rank, entity) = match matched {
            Some((rank, stem)) if path.is_file() => (rank, stem.to_string()),
            _ => (EXTENSIONS.len(), name.clone()),
        };
        let files = if path.is_dir() {
            files_in(&path)?
        } else {
            vec![path]
        };
        found.entry(entity).or_default().push((rank, files));
    }
    let mut result = IndexMap::new();
    for (entity, mut forms) in found {
        forms.sort_by_key(|(rank, _)| *rank);
        let mut merged = Vars::new();
        for file in forms.into_iter().flat_map(|(_, files)| files) {
            merged.extend(read_vars_file(&file)?);
        }
        result.insert(entity, merged);
    }
    result.sort_keys();
    Ok(result)
}

/// Files in a `NAME/` vars directory: sorted, recursive, skipping hidden and backup files and
/// files whose extension is not a vars extension.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>, InventoryError> {
    let mut files = Vec::new();
    for (name, path) in list_dir(dir)? {
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let extension = Path::new(&name)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()));
        if path.is_dir() && extension.is_none() {
            files.extend(files_in(&path)?);
        } else if path.is_file()
            && extension
                .as_deref()
                .is_none_or(|ext| EXTENSIONS.contains(&ext))
        {
            files.push(path);
        }
    }
    Ok(files)
}

/// Entries of a directory, sorted by name.
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>, InventoryError> {
    let io_error = |source| InventoryError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        entries.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
        ));
    }
    entries.sort();
    Ok(entries)
}

/// Reads one vars file, which must hold a YAML (or JSON) mapping.
pub(crate) fn read_vars_file(path: &Path) -> Result<Vars, InventoryError> {
    let source = Source::read(path)?;
    let node = crate::yaml::parse(&source)?;
    vars::vars_from_node(&node).ok_or_else(|| InventoryError::WrongType {
        what: format!("the vars file {}", path.display()),
        expected: "a mapping of variable names to values",
        found: node.type_name(),
        at: Location::new(source.clone(), node.span),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::test_support::write;
    use serde_json::json;

    fn value(vars: &Vars, key: &str) -> serde_json::Value {
        vars.get(key).map(vars::to_json).unwrap_or_default()
    }

    #[test]
    fn files_with_every_extension_and_none_are_found() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "group_vars/web.yml", "a: 1\n");
        write(dir.path(), "group_vars/db.json", "{\"b\": 2}\n");
        write(dir.path(), "group_vars/all", "c: 3\n");
        write(dir.path(), "host_vars/web1.example.com.yaml", "d: 4\n");
        write(dir.path(), "host_vars/db1.example.com", "e: 5\n");
        let loaded = VarsDirs::load(dir.path()).unwrap();
        assert_eq!(value(&loaded.groups["web"], "a"), json!(1));
        assert_eq!(value(&loaded.groups["db"], "b"), json!(2));
        assert_eq!(value(&loaded.groups["all"], "c"), json!(3));
        assert_eq!(value(&loaded.hosts["web1.example.com"], "d"), json!(4));
        assert_eq!(value(&loaded.hosts["db1.example.com"], "e"), json!(5));
    }

    #[test]
    fn a_directory_merges_its_files_in_name_order_recursively() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "group_vars/web/10-base.yml",
            "x: base\ny: base\n",
        );
        write(dir.path(), "group_vars/web/20-over.yml", "x: over\n");
        write(dir.path(), "group_vars/web/sub/30-deep.yml", "z: deep\n");
        write(dir.path(), "group_vars/web/notes.md", "not: loaded\n");
        write(dir.path(), "group_vars/web/.hidden.yml", "h: 1\n");
        write(dir.path(), "group_vars/web/40.yml~", "b: 1\n");
        let loaded = VarsDirs::load(dir.path()).unwrap();
        let web = &loaded.groups["web"];
        assert_eq!(value(web, "x"), json!("over"));
        assert_eq!(value(web, "y"), json!("base"));
        assert_eq!(value(web, "z"), json!("deep"));
        assert!(!web.contains_key("not") && !web.contains_key("h") && !web.contains_key("b"));
    }

    #[test]
    fn a_file_and_a_directory_for_the_same_group_both_load_directory_last() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "group_vars/web/main.yml", "x: dir\n");
        write(dir.path(), "group_vars/web.yml", "x: file\ny: file\n");
        let loaded = VarsDirs::load(dir.path()).unwrap();
        assert_eq!(value(&loaded.groups["web"], "x"), json!("dir"));
        assert_eq!(value(&loaded.groups["web"], "y"), json!("file"));
    }

    #[test]
    fn a_vars_file_that_is_not_a_mapping_is_an_error_with_its_location() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "group_vars/web.yml", "# list\n- a\n- b\n");
        let error = VarsDirs::load(dir.path()).unwrap_err();
        let text = crate::diagnostic::render(&error);
        assert!(text.contains("must be a mapping"), "{text}");
        assert!(text.contains("web.yml:2:1"), "{text}");
    }

    #[test]
    fn missing_directories_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(VarsDirs::load(dir.path()).unwrap().is_empty());
    }
}
