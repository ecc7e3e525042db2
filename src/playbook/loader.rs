//! Reading a playbook file into the model: plays, vars files, roles and imported playbooks.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::dynamic::RuntimeContext;
use super::error::PlaybookError;
use super::keys::PLAY_KEYS;
use super::model::{Inherited, Play, Playbook, Strategy, Task, TaskNode};
use super::nodes::{as_bool, expect_map, expect_seq, expect_str, string_list, FileNode};
use crate::diagnostic::{did_you_mean, Location, Source};
use crate::template::Templar;
use crate::vars::Vars;
use crate::yaml::{self, Node};

/// Where to look for roles and which variables are known before any host is.
#[derive(Debug, Default, Clone)]
pub struct LoadOptions {
    /// `-e` variables: they win over everything and may be used in `vars_files` paths.
    pub extra_vars: Arc<Vars>,
    /// Extra role directories, searched after `roles/` next to the playbook.
    pub roles_path: Vec<PathBuf>,
    /// Collection directories (`collections_path`), searched after `collections/` next to
    /// the playbook for roles named `ns.coll.role` (see `collections.rs`).
    pub collections_paths: Vec<PathBuf>,
    /// The playbook directory (roles/, relative paths) when not the file's own: a playbook
    /// read from standard input or built by `adhoc`/`patch` belongs to the current directory.
    pub base_dir: Option<PathBuf>,
}

/// Loads and validates a playbook and everything it references.
pub fn load(
    path: &Path,
    templar: &Templar,
    options: &LoadOptions,
) -> Result<Playbook, PlaybookError> {
    load_with(path, None, templar, options)
}

/// Like [`load`], with the playbook's text already in `source` (its path still locates the
/// files it refers to). Used by the fuzz targets.
pub fn load_source(
    source: Arc<Source>,
    templar: &Templar,
    options: &LoadOptions,
) -> Result<Playbook, PlaybookError> {
    let path = source.path().to_path_buf();
    load_with(&path, Some(source), templar, options)
}

fn load_with(
    path: &Path,
    first: Option<Arc<Source>>,
    templar: &Templar,
    options: &LoadOptions,
) -> Result<Playbook, PlaybookError> {
    let parent = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let parent = options.base_dir.as_deref().unwrap_or(parent);
    let base_dir = std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf());
    let runtime = Arc::new(RuntimeContext::new(base_dir.clone(), options.clone()));
    let mut loader = Loader {
        templar,
        options,
        base_dir,
        include_stack: Vec::new(),
        next_id: 0,
        parsing_handlers: false,
        sources: Vec::new(),
        first,
        roles_run: HashSet::new(),
        role_handlers: Vec::new(),
        role_defaults: Vars::new(),
        role_vars: Vars::new(),
        runtime,
        collections: Vec::new(),
    };
    let plays = loader.playbook_file(path, None)?;
    Ok(Playbook {
        path: path.to_path_buf(),
        plays,
        sources: loader.sources,
    })
}

/// State shared while one playbook loads.
pub(super) struct Loader<'a> {
    pub(super) templar: &'a Templar,
    pub(super) options: &'a LoadOptions,
    pub(super) base_dir: PathBuf,
    /// Files being loaded, outermost first (for cycle detection).
    pub(super) include_stack: Vec<PathBuf>,
    /// The next task id within the current play.
    pub(super) next_id: usize,
    /// True while handler lists are parsed.
    pub(super) parsing_handlers: bool,
    /// Every file read so far, in order.
    sources: Vec<Arc<Source>>,
    /// The top-level playbook's text when it was given in memory ([`load_source`]).
    first: Option<Arc<Source>>,
    /// Roles run once already in this play (path, parameters and task file).
    pub(super) roles_run: HashSet<String>,
    /// Handlers of the roles loaded so far in this play.
    pub(super) role_handlers: Vec<Arc<Task>>,
    /// Defaults of the play's public roles so far (see [`Play::role_defaults`]).
    pub(super) role_defaults: Vars,
    /// Variables of the play's public roles so far (see [`Play::role_vars`]).
    pub(super) role_vars: Vars,
    /// What includes loaded at run time need.
    pub(super) runtime: Arc<RuntimeContext>,
    /// The collections a short role name is looked for in: the play's `collections:`, and
    /// while a collection's role loads its dependencies, that collection first.
    pub(super) collections: Vec<String>,
}

impl<'a> Loader<'a> {
    /// A loader for an include resolved on a host: relative paths are searched next to
    /// `including` first, and task ids start at `next_id`.
    pub(super) fn at_run_time(
        templar: &'a Templar,
        runtime: &'a Arc<RuntimeContext>,
        including: PathBuf,
        next_id: usize,
    ) -> Self {
        Loader {
            templar,
            options: &runtime.options,
            base_dir: runtime.base_dir.clone(),
            include_stack: vec![including],
            next_id,
            parsing_handlers: false,
            sources: Vec::new(),
            first: None,
            roles_run: HashSet::new(),
            role_handlers: Vec::new(),
            role_defaults: Vars::new(),
            role_vars: Vars::new(),
            runtime: runtime.clone(),
            collections: Vec::new(),
        }
    }
}

impl Loader<'_> {
    /// Reads and parses a YAML file, pushing it on the include stack.
    pub(super) fn read_yaml(
        &mut self,
        path: &Path,
        at: Option<&Location>,
    ) -> Result<FileNode, PlaybookError> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if let Some(at) = at {
            if self.include_stack.contains(&canonical) {
                let mut chain: Vec<String> = self
                    .include_stack
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                chain.push(canonical.display().to_string());
                return Err(PlaybookError::IncludeCycle {
                    chain: chain.join(" -> "),
                    at: at.clone(),
                });
            }
        }
        let source = match self.first.take() {
            Some(source) => source,
            None => Source::read(path).map_err(|source| PlaybookError::Read {
                source,
                at: at.cloned(),
            })?,
        };
        let node = yaml::parse(&source)?;
        self.sources.push(source.clone());
        self.include_stack.push(canonical);
        Ok(FileNode { source, node })
    }

    /// Pops the file pushed by [`Self::read_yaml`].
    pub(super) fn done_with_file(&mut self) {
        self.include_stack.pop();
    }

    fn playbook_file(
        &mut self,
        path: &Path,
        at: Option<&Location>,
    ) -> Result<Vec<Play>, PlaybookError> {
        let file = self.read_yaml(path, at)?;
        let entries = expect_seq(&file, &file.node, "playbook")?;
        let mut plays = Vec::new();
        for entry in entries {
            if let Some(target) = entry
                .get("import_playbook")
                .or_else(|| entry.get("ansible.builtin.import_playbook"))
            {
                let name = expect_str(&file, target, "import_playbook")?;
                // The top file's imports are relative to the playbook directory (which is the
                // current one for a playbook read from standard input).
                let dir = match at {
                    None => self.base_dir.clone(),
                    Some(_) => path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                };
                plays.extend(self.playbook_file(&dir.join(name), Some(&file.at(target)))?);
                continue;
            }
            plays.push(self.play(&file, entry)?);
        }
        self.done_with_file();
        Ok(plays)
    }

    fn play(&mut self, file: &FileNode, node: &Node) -> Result<Play, PlaybookError> {
        let entries = expect_map(file, node, "play")?;
        for (key, _) in entries {
            if !PLAY_KEYS.contains(&key.name.as_str()) {
                return Err(PlaybookError::UnknownKey {
                    context: "play",
                    key: key.name.clone(),
                    suggestion: did_you_mean(&key.name, PLAY_KEYS.iter().copied()),
                    at: file.key_at(key),
                });
            }
        }
        let hosts = match node.get("hosts") {
            Some(value) => match value.as_seq() {
                Some(items) => items
                    .iter()
                    .map(|item| expect_str(file, item, "hosts").map(str::to_string))
                    .collect::<Result<Vec<_>, _>>()?
                    .join(","),
                None => expect_str(file, value, "hosts")?.to_string(),
            },
            None => {
                return Err(PlaybookError::Missing {
                    context: "play",
                    key: "hosts",
                    at: file.at(node),
                })
            }
        };
        self.check_templates(file, node.get("hosts"))?;
        let name = match node.get("name") {
            Some(value) => expect_str(file, value, "name")?.to_string(),
            None => hosts.clone(),
        };
        let mut play_vars = match node.get("vars") {
            Some(value) => {
                self.check_templates(file, Some(value))?;
                file.vars(value, "vars")?
            }
            None => Vars::new(),
        };
        if let Some(list) = node.get("vars_files") {
            let loaded = self.vars_files(file, list, &play_vars)?;
            play_vars.extend(loaded);
        }
        let mut inherited = Inherited::default();
        self.apply_inherited(file, node, &mut inherited)?;
        // Play vars are their own precedence level (below vars_files and role vars), not a
        // block-level layer on every task.
        inherited.vars.clear();
        self.next_id = 0;
        self.roles_run.clear();
        self.collections = match node.get("collections") {
            Some(list) => expect_seq(file, list, "collections")?
                .iter()
                .map(|item| expect_str(file, item, "collections").map(str::to_string))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        self.role_handlers.clear();
        self.role_defaults.clear();
        self.role_vars.clear();
        let pre_tasks = self.section(file, node, "pre_tasks", &inherited)?;
        let mut tasks = Vec::new();
        if let Some(roles) = node.get("roles") {
            for role_node in expect_seq(file, roles, "roles")? {
                tasks.extend(self.role_entry(file, role_node, &inherited, true)?);
            }
        }
        tasks.extend(self.section(file, node, "tasks", &inherited)?);
        let post_tasks = self.section(file, node, "post_tasks", &inherited)?;
        let rollback = self.section(file, node, "rollback", &inherited)?;
        let mut handlers = std::mem::take(&mut self.role_handlers);
        if let Some(list) = node.get("handlers") {
            handlers.extend(self.handler_list(file, list, &inherited)?);
        }
        handlers.append(&mut self.role_handlers);
        let any_errors_fatal = node
            .get("any_errors_fatal")
            .map(|v| as_bool(file, v, "any_errors_fatal"))
            .transpose()?
            .unwrap_or(false);
        let rollout = super::rollout::rollout(file, node, any_errors_fatal)?;
        let strategy = match node.get("strategy") {
            None => Strategy::Linear,
            Some(value) => match expect_str(file, value, "strategy")? {
                "linear" | "ansible.builtin.linear" => Strategy::Linear,
                "free" | "ansible.builtin.free" => Strategy::Free,
                other => {
                    return Err(PlaybookError::Invalid {
                        key: "strategy".into(),
                        reason: format!("`{other}` is not supported; use `linear` or `free`"),
                        at: file.at(value),
                    })
                }
            },
        };
        let play = Play {
            name,
            hosts,
            at: file.at(node),
            vars: Arc::new(play_vars),
            role_defaults: Arc::new(std::mem::take(&mut self.role_defaults)),
            role_vars: Arc::new(std::mem::take(&mut self.role_vars)),
            prompts: node
                .get("vars_prompt")
                .map(|list| super::prompts::var_prompts(file, list))
                .transpose()?
                .unwrap_or_default(),
            gather_facts: node
                .get("gather_facts")
                .map(|v| as_bool(file, v, "gather_facts"))
                .transpose()?
                .unwrap_or(true),
            any_errors_fatal,
            force_handlers: node
                .get("force_handlers")
                .map(|v| as_bool(file, v, "force_handlers"))
                .transpose()?
                .unwrap_or(false),
            pre_tasks,
            tasks,
            post_tasks,
            rollback,
            handlers,
            task_count: self.next_id,
            connection: node
                .get("connection")
                .map(|v| expect_str(file, v, "connection").map(str::to_string))
                .transpose()?,
            rollout,
            discover: node
                .get("discover")
                .map(|v| as_bool(file, v, "discover"))
                .transpose()?
                .unwrap_or(false),
            strategy,
            notifications: node
                .get("notifications")
                .map(|list| crate::notify::parse_sinks(list, &file.source))
                .transpose()
                .map_err(|error| PlaybookError::Notify(Box::new(error)))?
                .unwrap_or_default(),
            remote_user: remote_user(file, node)?,
        };
        super::validate::check_notify(&play)?;
        Ok(play)
    }

    fn section(
        &mut self,
        file: &FileNode,
        play: &Node,
        key: &str,
        inherited: &Inherited,
    ) -> Result<Vec<TaskNode>, PlaybookError> {
        match play.get(key) {
            Some(list) => self.task_list(file, list, inherited),
            None => Ok(Vec::new()),
        }
    }

    pub(super) fn handler_list(
        &mut self,
        file: &FileNode,
        list: &Node,
        inherited: &Inherited,
    ) -> Result<Vec<Arc<Task>>, PlaybookError> {
        let mut handlers = Vec::new();
        self.parsing_handlers = true;
        let parsed = self.task_list(file, list, inherited);
        self.parsing_handlers = false;
        for node in parsed? {
            collect_handlers(node, &mut handlers);
        }
        Ok(handlers)
    }

    /// Loads `vars_files`, rendering templated paths with extra vars and play vars.
    fn vars_files(
        &mut self,
        file: &FileNode,
        list: &Node,
        play_vars: &Vars,
    ) -> Result<Vars, PlaybookError> {
        let mut merged = Vars::new();
        for entry in expect_seq(file, list, "vars_files")? {
            let candidates = match entry.as_seq() {
                Some(_) => string_list(file, entry, "vars_files")?,
                None => vec![expect_str(file, entry, "vars_files")?.to_string()],
            };
            let mut layers: Vec<Arc<Vars>> =
                vec![Arc::new(play_vars.clone()), self.options.extra_vars.clone()];
            layers.push(Arc::new(merged.clone()));
            let scope = crate::template::Scope::new(layers);
            let mut found = None;
            for candidate in &candidates {
                let rendered =
                    self.templar
                        .render_to_string(candidate, &scope)
                        .map_err(|source| PlaybookError::Template {
                            source,
                            at: file.at(entry),
                        })?;
                let path = self.base_dir.join(&rendered);
                if path.exists() || candidates.len() == 1 {
                    found = Some(path);
                    break;
                }
            }
            let Some(path) = found else {
                return Err(PlaybookError::Invalid {
                    key: "vars_files".into(),
                    reason: format!("none of {} exists", candidates.join(", ")),
                    at: file.at(entry),
                });
            };
            let vars_file = self.read_yaml(&path, Some(&file.at(entry)))?;
            merged.extend(vars_file.vars(&vars_file.node, "vars file")?);
            self.done_with_file();
        }
        Ok(merged)
    }

    /// Loads a task file (role tasks, `import_tasks`, `include_tasks`).
    pub(super) fn task_file(
        &mut self,
        path: &Path,
        at: &Location,
        inherited: &Inherited,
    ) -> Result<Vec<TaskNode>, PlaybookError> {
        let file = self.read_yaml(path, Some(at))?;
        let tasks = if file.node.is_null() {
            Vec::new()
        } else {
            self.task_list(&file, &file.node, inherited)?
        };
        self.done_with_file();
        Ok(tasks)
    }

    /// Resolves a task-file path relative to the including file, then the playbook.
    pub(super) fn resolve_task_path(&self, name: &str) -> PathBuf {
        let relative = self
            .include_stack
            .last()
            .and_then(|current| current.parent())
            .map(|dir| dir.join(name));
        match relative {
            Some(path) if path.exists() => path,
            _ => self.base_dir.join(name),
        }
    }
}

fn collect_handlers(node: TaskNode, out: &mut Vec<Arc<Task>>) {
    match node {
        TaskNode::Task(task) => out.push(task),
        TaskNode::Block(block) => {
            for child in block.block.iter().chain(&block.rescue).chain(&block.always) {
                collect_handlers(child.clone(), out);
            }
        }
    }
}

/// The play's `remote_user:`, or `user:`, its old name that ansible-core still takes; both at
/// once is an error, as in Ansible.
fn remote_user(file: &FileNode, node: &Node) -> Result<Option<String>, PlaybookError> {
    match (node.get("remote_user"), node.get("user")) {
        (Some(_), Some(old)) => Err(PlaybookError::Invalid {
            key: "user".into(),
            reason: "both `user` and `remote_user` are set: `user` is the old name of \
                     `remote_user`, keep only `remote_user`"
                .into(),
            at: file.at(old),
        }),
        (Some(value), None) => Ok(Some(expect_str(file, value, "remote_user")?.to_string())),
        (None, Some(value)) => Ok(Some(expect_str(file, value, "user")?.to_string())),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_play(text: &str) -> Result<Playbook, PlaybookError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("site.yml");
        std::fs::write(&path, text).expect("write");
        load(&path, &Templar::new(), &LoadOptions::default())
    }

    #[test]
    fn a_plays_old_user_keyword_is_its_remote_user_and_both_at_once_are_refused() {
        let playbook = load_play("- hosts: all\n  user: deploy\n  tasks: []\n").expect("loads");
        assert_eq!(playbook.plays[0].remote_user.as_deref(), Some("deploy"));
        let both = "- hosts: all\n  user: a\n  remote_user: b\n  tasks: []\n";
        let error = load_play(both).expect_err("both refused");
        assert!(
            crate::diagnostic::render(&error).contains("`user` is the old name of `remote_user`"),
            "{}",
            crate::diagnostic::render(&error)
        );
    }
}
