//! Roles: finding them, their `meta/main.yml` dependencies, and what `roles:`, `import_role`
//! and `include_role` load (`tasks_from`, `vars_from`, `defaults_from`, `handlers_from`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::collections;
use super::error::PlaybookError;
use super::keys::INHERITED_KEYS;
use super::loader::Loader;
use super::model::{Inherited, Role, TaskNode};
use super::nodes::{as_bool, expect_map, expect_seq, expect_str, FileNode};
use crate::diagnostic::{did_you_mean, Location};
use crate::vars::{self, Vars};
use crate::yaml::Node;

/// Keys of `import_role:` and `include_role:`.
pub const ROLE_ACTION_KEYS: &[&str] = &[
    "name",
    "tasks_from",
    "vars_from",
    "defaults_from",
    "handlers_from",
    "public",
    "apply",
    "allow_duplicates",
    "rolespec_validate",
];

/// One use of a role: from `roles:`, a dependency, `import_role` or `include_role`.
#[derive(Debug, Clone)]
pub struct RoleRequest {
    /// The role's name (may hold templates for `include_role`).
    pub name: String,
    /// Where it is named.
    pub at: Location,
    /// `tasks_from`: the task file instead of `tasks/main.yml`.
    pub tasks_from: Option<String>,
    /// `vars_from`: instead of `vars/main.yml`.
    pub vars_from: Option<String>,
    /// `defaults_from`: instead of `defaults/main.yml`.
    pub defaults_from: Option<String>,
    /// `handlers_from`: instead of `handlers/main.yml`.
    pub handlers_from: Option<String>,
    /// Role parameters (`- role: x` entries' other keys): role variables.
    pub params: Vars,
    /// Run once per play for the same parameters (`roles:` and dependencies, unless the role
    /// sets `allow_duplicates: true`); `import_role`/`include_role` always run.
    pub once: bool,
    /// The role's defaults and vars are seen by the whole play (`roles:`, `import_role`,
    /// `include_role` with `public: true`).
    pub public: bool,
    /// The collections a short name is also looked for in (the play's `collections:`;
    /// for a collection role's dependency, that collection first), kept for `include_role`
    /// resolved at run time.
    pub collections: Vec<String>,
}

impl RoleRequest {
    fn named(name: String, at: Location) -> Self {
        Self {
            name,
            at,
            tasks_from: None,
            vars_from: None,
            defaults_from: None,
            handlers_from: None,
            params: Vars::new(),
            once: true,
            public: true,
            collections: Vec::new(),
        }
    }
}

/// What a role's `meta/main.yml` says.
struct RoleMeta {
    allow_duplicates: bool,
    /// The meta file and its `dependencies` entries.
    dependencies: Option<(FileNode, Vec<Node>)>,
}

impl Loader<'_> {
    /// Reads an entry of `roles:` or of `dependencies:` (a name, or a mapping with `role:` or
    /// `name:`, keywords and parameters) and loads it with the entry's keywords applied.
    pub(super) fn role_entry(
        &mut self,
        file: &FileNode,
        node: &Node,
        inherited: &Inherited,
        public: bool,
    ) -> Result<Vec<TaskNode>, PlaybookError> {
        let (name, name_node) = match node.as_str() {
            Some(name) => (name.to_string(), node),
            None => {
                let name_node = node
                    .get("role")
                    .or_else(|| node.get("name"))
                    .ok_or_else(|| PlaybookError::Missing {
                        context: "role",
                        key: "role",
                        at: file.at(node),
                    })?;
                (expect_str(file, name_node, "role")?.to_string(), name_node)
            }
        };
        let mut request = RoleRequest::named(name, file.at(name_node));
        request.public = public;
        request.collections = self.collections.clone();
        let mut role_inherited = inherited.clone();
        if let Some(entries) = node.as_map() {
            self.apply_inherited(file, node, &mut role_inherited)?;
            for (key, value) in entries {
                let is_keyword = INHERITED_KEYS.contains(&key.name.as_str());
                if !is_keyword && key.name != "role" {
                    request
                        .params
                        .insert(key.name.clone(), vars::from_node(value));
                }
            }
        }
        self.load_role(&request, &role_inherited)
    }

    /// Reads the arguments of `import_role:`/`include_role:`; `None` for `apply`.
    pub(super) fn role_action(
        &self,
        file: &FileNode,
        node: &Node,
        action: &str,
    ) -> Result<(RoleRequest, Option<Node>), PlaybookError> {
        let entries = expect_map(file, node, action)?;
        let mut apply = None;
        let mut name = None;
        let mut public = None;
        let mut request = RoleRequest::named(String::new(), file.at(node));
        request.once = false;
        request.collections = self.collections.clone();
        for (key, value) in entries {
            let text = || expect_str(file, value, &key.name).map(str::to_string);
            match key.name.as_str() {
                "name" => {
                    name = Some(text()?);
                    request.at = file.at(value);
                }
                "tasks_from" => request.tasks_from = Some(text()?),
                "vars_from" => request.vars_from = Some(text()?),
                "defaults_from" => request.defaults_from = Some(text()?),
                "handlers_from" => request.handlers_from = Some(text()?),
                "allow_duplicates" => request.once = !as_bool(file, value, "allow_duplicates")?,
                "public" => public = Some(as_bool(file, value, "public")?),
                "rolespec_validate" => {
                    as_bool(file, value, &key.name)?;
                }
                "apply" if action.ends_with("include_role") => {
                    expect_map(file, value, "apply")?;
                    apply = Some(value.clone());
                }
                _ => {
                    return Err(PlaybookError::UnknownKey {
                        context: "role action",
                        key: key.name.clone(),
                        suggestion: did_you_mean(&key.name, ROLE_ACTION_KEYS.iter().copied()),
                        at: file.key_at(key),
                    })
                }
            }
        }
        // `import_role` is loaded with the playbook: its variables are the play's, as Ansible
        // exposes them at parse time; `include_role` keeps them private unless `public: true`.
        request.public = public.unwrap_or(!action.ends_with("include_role"));
        request.name = name.ok_or_else(|| PlaybookError::Missing {
            context: "role action",
            key: "name",
            at: file.at(node),
        })?;
        Ok((request, apply))
    }

    /// Loads a role's tasks (its dependencies' first) with `inherited` applied; its handlers
    /// join the play's. A role already run with the same parameters loads nothing when the
    /// request runs once.
    pub(super) fn load_role(
        &mut self,
        request: &RoleRequest,
        inherited: &Inherited,
    ) -> Result<Vec<TaskNode>, PlaybookError> {
        let at = &request.at;
        let dir = self.find_role(&request.name, &request.collections, at)?;
        let meta = self.role_meta(&dir, at)?;
        if request.once && !meta.allow_duplicates {
            let key = format!(
                "{}\u{0}{}\u{0}{}",
                dir.display(),
                vars::to_json(&vars::to_value(request.params.clone())),
                request.tasks_from.as_deref().unwrap_or("main"),
            );
            if !self.roles_run.insert(key) {
                return Ok(Vec::new());
            }
        }
        let mut tasks = Vec::new();
        if let Some((meta_file, dependencies)) = meta.dependencies {
            let mut parent = inherited.clone();
            parent.role = None;
            // A collection's role names its siblings by their short names.
            let outer = self.collections.clone();
            self.collections = collections::collection_of(&dir)
                .into_iter()
                .chain(request.collections.iter().cloned())
                .collect();
            let loaded: Result<Vec<_>, _> = dependencies
                .iter()
                .map(|dependency| self.role_entry(&meta_file, dependency, &parent, request.public))
                .collect();
            self.collections = outer;
            tasks.extend(loaded?.into_iter().flatten());
            self.done_with_file();
        }
        let defaults =
            self.role_vars_file(&dir, "defaults", request.defaults_from.as_deref(), at)?;
        let mut role_vars = self.role_vars_file(&dir, "vars", request.vars_from.as_deref(), at)?;
        if request.public {
            // The play sees the role's defaults and vars files, not its parameters.
            self.role_defaults.extend(
                defaults
                    .iter()
                    .map(|(name, value)| (name.clone(), value.clone())),
            );
            self.role_vars.extend(
                role_vars
                    .iter()
                    .map(|(name, value)| (name.clone(), value.clone())),
            );
        }
        role_vars.extend(request.params.clone());
        // A collection's role is shown by its full name, however it was named (as Ansible).
        let name = match (collections::collection_of(&dir), dir.file_name()) {
            (Some(collection), Some(role)) => format!("{collection}.{}", role.to_string_lossy()),
            _ => request.name.clone(),
        };
        let role = Arc::new(Role {
            name,
            path: dir.clone(),
            defaults: Arc::new(defaults),
            vars: Arc::new(role_vars),
        });
        let mut role_inherited = inherited.clone();
        role_inherited.role = Some(role);
        let tasks_file = role_file(&dir, "tasks", request.tasks_from.as_deref(), at)?;
        if let Some(path) = tasks_file {
            tasks.extend(self.task_file(&path, at, &role_inherited)?);
        }
        let handlers_file = role_file(&dir, "handlers", request.handlers_from.as_deref(), at)?;
        // A role's handlers file is loaded once per play, however often the role is used
        // (Ansible runs a notified handler once).
        let handlers_file = handlers_file.filter(|path| {
            self.roles_run
                .insert(format!("handlers\u{0}{}", path.display()))
        });
        if let Some(path) = handlers_file {
            let handler_file = self.read_yaml(&path, Some(at))?;
            if !handler_file.node.is_null() {
                let handlers =
                    self.handler_list(&handler_file, &handler_file.node, &role_inherited)?;
                self.role_handlers.extend(handlers);
            }
            self.done_with_file();
        }
        Ok(tasks)
    }

    /// Reads `meta/main.yml`: `allow_duplicates` and the `dependencies` entries (the meta
    /// file stays on the include stack until the caller has loaded them).
    fn role_meta(&mut self, dir: &Path, at: &Location) -> Result<RoleMeta, PlaybookError> {
        let mut meta = RoleMeta {
            allow_duplicates: false,
            dependencies: None,
        };
        let Some(path) = role_file(dir, "meta", None, at)? else {
            return Ok(meta);
        };
        let file = self.read_yaml(&path, Some(at))?;
        if file.node.is_null() {
            self.done_with_file();
            return Ok(meta);
        }
        if let Some(value) = file.node.get("allow_duplicates") {
            meta.allow_duplicates = as_bool(&file, value, "allow_duplicates")?;
        }
        let dependencies = match file.node.get("dependencies") {
            Some(list) if !list.is_null() => expect_seq(&file, list, "dependencies")?.to_vec(),
            _ => Vec::new(),
        };
        if dependencies.is_empty() {
            self.done_with_file();
        } else {
            meta.dependencies = Some((file, dependencies));
        }
        Ok(meta)
    }

    fn role_vars_file(
        &mut self,
        dir: &Path,
        kind: &str,
        from: Option<&str>,
        at: &Location,
    ) -> Result<Vars, PlaybookError> {
        let Some(path) = role_file(dir, kind, from, at)? else {
            return Ok(Vars::new());
        };
        let file = self.read_yaml(&path, Some(at))?;
        let vars = if file.node.is_null() {
            Vars::new()
        } else {
            file.vars(&file.node, kind)?
        };
        self.done_with_file();
        Ok(vars)
    }

    /// The role's directory. `ns.coll.role`: that collection's role (see `collections.rs`).
    /// A short name: the role of the first of `collections` that has it, else `roles/` next
    /// to the playbook (and its parent's), the configured roles path, then the playbook's
    /// own directory.
    pub(super) fn find_role(
        &self,
        name: &str,
        collections: &[String],
        at: &Location,
    ) -> Result<PathBuf, PlaybookError> {
        let roots = collections::roots(&self.base_dir, &self.options.collections_paths);
        let mut candidates = Vec::new();
        if let Some((ns, coll, role)) = collections::split_fqcn(name) {
            candidates.extend(collections::candidates(
                &roots,
                &format!("{ns}.{coll}"),
                role,
            ));
        } else if !name.contains('/') {
            for collection in collections {
                candidates.extend(collections::candidates(&roots, collection, name));
            }
        }
        let mut searched = vec![self.base_dir.join("roles")];
        if let Some(parent) = self.base_dir.parent() {
            searched.push(parent.join("roles"));
        }
        searched.extend(self.options.roles_path.iter().cloned());
        searched.push(self.base_dir.clone());
        candidates.extend(searched.iter().map(|dir| dir.join(name)));
        if let Some(found) = candidates.iter().find(|dir| dir.is_dir()) {
            return Ok(found.clone());
        }
        Err(PlaybookError::RoleNotFound {
            name: name.to_string(),
            searched: candidates
                .into_iter()
                .map(|dir| dir.parent().map(Path::to_path_buf).unwrap_or(dir))
                .collect(),
            at: at.clone(),
        })
    }
}

/// `DIR/KIND/main.yml` (or `.yaml`, or no extension) when `from` is `None`, else
/// `DIR/KIND/FROM` (`.yml`/`.yaml` added when missing): `None` when the default file does not
/// exist, an error when a named one does not.
fn role_file(
    dir: &Path,
    kind: &str,
    from: Option<&str>,
    at: &Location,
) -> Result<Option<PathBuf>, PlaybookError> {
    let stem = from.unwrap_or("main");
    let found = [
        stem.to_string(),
        format!("{stem}.yml"),
        format!("{stem}.yaml"),
    ]
    .iter()
    .map(|file| dir.join(kind).join(file))
    .find(|path| path.is_file());
    match (found, from) {
        (Some(path), _) => Ok(Some(path)),
        (None, None) => Ok(None),
        (None, Some(name)) => Err(PlaybookError::Invalid {
            key: format!("{kind}_from"),
            reason: format!(
                "the role has no {kind} file `{name}` (looked in {})",
                dir.join(kind).display()
            ),
            at: at.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::render;
    use crate::playbook::{load, Action, LoadOptions, TaskNode};
    use crate::template::Templar;

    fn write(dir: &std::path::Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
    }

    fn task_names(tasks: &[TaskNode]) -> Vec<String> {
        tasks
            .iter()
            .map(|node| match node {
                TaskNode::Task(task) => task.display_name(),
                TaskNode::Block(_) => "block".into(),
            })
            .collect()
    }

    #[test]
    fn collection_roles_load_by_full_name_and_by_short_name_through_the_plays_collections() {
        let dir = tempfile::tempdir().expect("tempdir");
        let coll = "elsewhere/ansible_collections/acme/patching/roles";
        write(
            dir.path(),
            &[
                (
                    &format!("{coll}/reboot/tasks/main.yml"),
                    "- name: reboot\n  debug: msg=r\n",
                ),
                (
                    &format!("{coll}/reboot/meta/main.yml"),
                    "dependencies: [precheck]\n",
                ),
                (
                    &format!("{coll}/precheck/tasks/main.yml"),
                    "- name: precheck\n  debug: msg=p\n",
                ),
                (
                    "play/collections/ansible_collections/local/ops/roles/notify/tasks/main.yml",
                    "- name: notify\n  debug: msg=n\n",
                ),
                (
                    "play/site.yml",
                    "- hosts: all\n  roles: [acme.patching.reboot]\n\
                     - hosts: all\n  collections: [acme.patching, local.ops]\n  tasks:\n\
                     \x20   - import_role: {name: notify}\n\
                     \x20   - import_role: {name: local.ops.notify}\n\
                     \x20   - import_role: {name: precheck}\n",
                ),
                (
                    "play/missing.yml",
                    "- hosts: all\n  roles: [acme.patching.nosuch]\n",
                ),
            ],
        );
        let options = LoadOptions {
            collections_paths: vec![dir.path().join("elsewhere")],
            ..LoadOptions::default()
        };
        let playbook =
            load(&dir.path().join("play/site.yml"), &Templar::new(), &options).expect("loads");
        assert_eq!(
            task_names(&playbook.plays[0].tasks),
            [
                "acme.patching.precheck : precheck",
                "acme.patching.reboot : reboot"
            ]
        );
        assert_eq!(
            task_names(&playbook.plays[1].tasks),
            [
                "local.ops.notify : notify",
                "local.ops.notify : notify",
                "acme.patching.precheck : precheck"
            ]
        );
        let error = load(
            &dir.path().join("play/missing.yml"),
            &Templar::new(),
            &options,
        )
        .expect_err("no such role");
        let shown = render(&error);
        assert!(shown.contains("acme.patching.nosuch"), "{shown}");
        assert!(
            shown.contains("elsewhere/ansible_collections/acme/patching/roles"),
            "{shown}"
        );
    }

    #[test]
    fn dependencies_run_first_and_once_per_parameters_unless_duplicates_are_allowed() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            &[
                (
                    "roles/common/tasks/main.yml",
                    "- name: common\n  debug: msg=c\n",
                ),
                (
                    "roles/a/meta/main.yml",
                    "dependencies: [common, {role: common, x: 1}]\n",
                ),
                ("roles/a/tasks/main.yml", "- name: a\n  debug: msg=a\n"),
                (
                    "roles/b/meta/main.yml",
                    "dependencies:\n  - common\n  - dup\n",
                ),
                ("roles/b/tasks/main.yml", "- name: b\n  debug: msg=b\n"),
                ("roles/dup/meta/main.yml", "allow_duplicates: true\n"),
                ("roles/dup/tasks/main.yml", "- name: dup\n  debug: msg=d\n"),
                ("site.yml", "- hosts: all\n  roles: [a, b, dup, a]\n"),
            ],
        );
        let playbook = load(
            &dir.path().join("site.yml"),
            &Templar::new(),
            &LoadOptions::default(),
        )
        .expect("loads");
        assert_eq!(
            task_names(&playbook.plays[0].tasks),
            [
                "common : common",
                "common : common",
                "a : a",
                "dup : dup",
                "b : b",
                "dup : dup"
            ]
        );
    }

    #[test]
    fn a_templated_include_role_is_left_for_run_time_and_a_missing_tasks_from_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            &[
                ("roles/r/tasks/main.yml", "- debug: msg=r\n"),
                (
                    "site.yml",
                    "- hosts: all\n  tasks:\n    - include_role:\n        name: \"{{ item }}\"\n      loop: [r]\n",
                ),
            ],
        );
        let path = dir.path().join("site.yml");
        let playbook = load(&path, &Templar::new(), &LoadOptions::default()).expect("loads");
        let Some(TaskNode::Task(task)) = playbook.plays[0].tasks.first() else {
            panic!("a task");
        };
        assert!(matches!(
            &task.action,
            Action::Include { deferred: Some(deferred), .. } if deferred.is_role()
        ));
        std::fs::write(
            &path,
            "- hosts: all\n  tasks:\n    - import_role:\n        name: r\n        tasks_from: nope\n",
        )
        .expect("write");
        let error = load(&path, &Templar::new(), &LoadOptions::default()).expect_err("refused");
        let text = render(&error);
        assert!(text.contains("the role has no tasks file `nope`"), "{text}");
        assert!(text.contains("site.yml:4:15"), "{text}");
    }
}
