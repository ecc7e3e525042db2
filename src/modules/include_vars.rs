//! `include_vars`: load variables from YAML/JSON files on the controller into the host.
//!
//! A relative `file` is looked for as Ansible does: the role's `vars/`, the role, the
//! playbook's `vars/`, then the playbook's directory. `dir` loads every matching file under a
//! directory in name order (`depth`, `files_matching`, `ignore_files`, `extensions`). With
//! `name`, everything goes under that one variable. Files are read through the same capped
//! reader as playbooks, and a file that is not a mapping is an error naming it.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::remote_file::find_local;
use super::{CheckMode, FreeForm, Module, ModuleContext, ModuleError, ModuleResult};
use crate::diagnostic::Source;
use crate::vars::{self, Value, Vars};

/// Arguments of `include_vars`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludeVarsArgs {
    /// A file to load (the free-form string is this).
    file: Option<String>,
    /// The free-form file name.
    #[serde(rename = "_raw_params")]
    raw_params: Option<String>,
    /// A directory whose files are loaded.
    dir: Option<String>,
    /// Put every loaded variable under this one name.
    name: Option<String>,
    /// How deep to descend into `dir` (0: no limit).
    #[serde(default)]
    depth: usize,
    /// Only files whose name matches this regular expression.
    files_matching: Option<String>,
    /// File names to leave out.
    #[serde(default)]
    ignore_files: Vec<String>,
    /// File extensions to load from `dir`.
    #[serde(default = "default_extensions")]
    extensions: Vec<String>,
    /// Files with other extensions in `dir` are skipped rather than refused.
    #[serde(default)]
    ignore_unknown_extensions: bool,
    /// Only `replace` (Ansible's default): rpatch never merges dictionaries.
    hash_behaviour: Option<String>,
}

fn default_extensions() -> Vec<String> {
    ["yaml", "yml", "json"].map(String::from).to_vec()
}

/// `include_vars`: variables from files, as host variables for the rest of the run.
pub(crate) struct IncludeVars;

#[async_trait]
impl Module for IncludeVars {
    fn names(&self) -> &'static [&'static str] {
        &[
            "include_vars",
            "ansible.builtin.include_vars",
            "ansible.legacy.include_vars",
        ]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<IncludeVarsArgs>(args, templated)
    }

    fn free_form(&self) -> FreeForm {
        FreeForm::Command {
            options: &["file", "dir", "name", "depth", "files_matching"],
        }
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    fn sets_variables(&self) -> bool {
        true
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: IncludeVarsArgs = args::parse(args)?;
        if let Some(other) = args.hash_behaviour.as_deref().filter(|h| *h != "replace") {
            Err(ArgError::Invalid(format!(
                "hash_behaviour: `{other}` is not supported; variables are replaced, never merged"
            )))?;
        }
        let files = match (args.file.as_ref().or(args.raw_params.as_ref()), &args.dir) {
            (Some(_), Some(_)) => Err(ArgError::Invalid(
                "file and dir are mutually exclusive".into(),
            ))?,
            (Some(file), None) => vec![find_local(file, "vars", ctx)?],
            (None, Some(dir)) => dir_files(&find_local(dir, "vars", ctx)?, &args)?,
            (None, None) => Err(ArgError::Invalid("file or dir is required".into()))?,
        };
        let mut loaded = Vars::new();
        for file in &files {
            loaded.extend(load(file)?);
        }
        let facts = match &args.name {
            Some(name) => Vars::from([(name.clone(), vars::to_value(loaded))]),
            None => loaded,
        };
        let mut result = ModuleResult::ok();
        result.data.insert(
            "ansible_included_var_files".into(),
            Value::from(
                files
                    .iter()
                    .map(|path| Value::from(path.display().to_string()))
                    .collect::<Vec<_>>(),
            ),
        );
        result.facts = Some(facts);
        Ok(result)
    }
}

/// The files of `dir` to load, sorted by path, honouring depth, patterns and extensions.
fn dir_files(dir: &Path, args: &IncludeVarsArgs) -> Result<Vec<PathBuf>, ModuleError> {
    let pattern = args
        .files_matching
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|error| ArgError::Invalid(format!("files_matching: {error}")))?;
    let mut found = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), 1usize)];
    while let Some((current, level)) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|error| {
            ModuleError::Failed(format!("cannot read {}: {error}", current.display()))
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if args.depth == 0 || level < args.depth {
                    pending.push((path, level + 1));
                }
                continue;
            }
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if args.ignore_files.contains(&file_name)
                || pattern.as_ref().is_some_and(|p| !p.is_match(&file_name))
            {
                continue;
            }
            let extension = path
                .extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_default();
            if args.extensions.contains(&extension) {
                found.push(path);
            } else if !args.ignore_unknown_extensions {
                return Err(ModuleError::Failed(format!(
                    "{} does not have a valid extension: {}",
                    path.display(),
                    args.extensions.join(", ")
                )));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The variables of one YAML or JSON file, which must hold a mapping.
fn load(path: &Path) -> Result<Vars, ModuleError> {
    let source = Source::read(path)
        .map_err(|error| ModuleError::Failed(format!("{}: {error}", path.display())))?;
    let node = crate::yaml::parse(&source)
        .map_err(|error| ModuleError::Failed(crate::diagnostic::render(&error)))?;
    vars::vars_from_node(&node).ok_or_else(|| {
        ModuleError::Failed(format!(
            "{}: expected a mapping of variable names to values, found {}",
            path.display(),
            node.type_name()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(value: serde_json::Value) -> IncludeVarsArgs {
        serde_json::from_value(value).expect("valid arguments")
    }

    #[test]
    fn dir_loads_matching_files_in_name_order_within_depth() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str| {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "x: 1\n").expect("write");
        };
        for name in ["b.yml", "a.yaml", "c.json", "skip.yml", "notes.txt", "sub/d.yml"] {
            write(name);
        }
        let chosen = dir_files(
            dir.path(),
            &args(serde_json::json!({
                "dir": "x", "depth": 1, "ignore_files": ["skip.yml"],
                "ignore_unknown_extensions": true
            })),
        )
        .expect("files");
        let names: Vec<String> = chosen
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.yaml", "b.yml", "c.json"]);
        let refused = dir_files(dir.path(), &args(serde_json::json!({"dir": "x"})));
        assert!(refused.is_err(), "notes.txt has an unknown extension");
    }

    #[test]
    fn a_file_that_is_not_a_mapping_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("list.yml");
        std::fs::write(&path, "- a\n- b\n").expect("write");
        let error = load(&path).expect_err("a list is refused").to_string();
        assert!(error.contains("list.yml") && error.contains("expected a mapping"), "{error}");
    }
}
