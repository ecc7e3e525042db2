//! Includes resolved when they run: `include_tasks` with a templated or not-yet-existing file
//! and `include_role` with a templated name, loaded on a host with that host's variables.
//!
//! Ansible loads these at run time, so a missing file under `when: false` is no error and the
//! path may use host variables. What the loader could not read up front is described by a
//! [`Deferred`]; the runner renders its name and calls [`Deferred::load`]. Loaded lists are
//! cached per include and rendered name, so every host including the same file runs the same
//! tasks (the linear strategy keeps them in step), and their ids never collide with the play's.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::loader::{LoadOptions, Loader};
use super::model::{Inherited, TaskNode};
use super::roles::RoleRequest;
use crate::diagnostic::Location;
use crate::template::Templar;
use crate::vars::Value;

/// What is loaded at run time.
#[derive(Debug, Clone)]
pub enum Included {
    /// `include_tasks`: a task file (the text may hold templates).
    Tasks(String),
    /// `include_role`: a role (its name may hold templates).
    Role(Box<RoleRequest>),
}

/// An include the loader left for run time.
#[derive(Debug)]
pub struct Deferred {
    /// What to load.
    pub what: Included,
    /// The file holding the include (relative task files are searched next to it first).
    pub including: PathBuf,
    /// What the included tasks inherit (the include's parents, its `vars:` and `apply:`).
    pub inherited: Inherited,
    /// Where the include is written.
    pub at: Location,
    /// The playbook's loading context.
    pub context: Arc<RuntimeContext>,
}

/// What loading at run time needs from the playbook load, and the cache of what it loaded.
#[derive(Debug)]
pub struct RuntimeContext {
    /// The playbook's directory.
    pub(super) base_dir: PathBuf,
    /// Role search paths and `-e` variables.
    pub(super) options: LoadOptions,
    state: Mutex<RuntimeState>,
}

#[derive(Debug)]
struct RuntimeState {
    /// Loaded lists by include (its address) and rendered name.
    loaded: HashMap<(usize, String), Arc<Vec<TaskNode>>>,
    /// The next task id to give: above any id a play's load gave.
    next_id: usize,
}

/// Task ids given at run time start here, far above those of any loaded play.
const RUNTIME_IDS: usize = usize::MAX / 2;

impl RuntimeContext {
    /// A context for a playbook in `base_dir`.
    pub(super) fn new(base_dir: PathBuf, options: LoadOptions) -> Self {
        Self {
            base_dir,
            options,
            state: Mutex::new(RuntimeState {
                loaded: HashMap::new(),
                next_id: RUNTIME_IDS,
            }),
        }
    }
}

impl Deferred {
    /// True for `include_role`.
    pub fn is_role(&self) -> bool {
        matches!(self.what, Included::Role(_))
    }

    /// Renders the file or role name with a host's variables and loads its tasks; the error
    /// is what the host's task fails with (naming the file, line and column when it is a
    /// problem in the included file).
    pub fn load(&self, templar: &Templar, scope: &Value) -> Result<Arc<Vec<TaskNode>>, String> {
        let written = match &self.what {
            Included::Tasks(file) => file.as_str(),
            Included::Role(request) => request.name.as_str(),
        };
        let rendered = templar
            .render_to_string(written, scope)
            .map_err(|error| format!("{written}: {error}"))?;
        let key = (std::ptr::from_ref(self) as usize, rendered.clone());
        let mut state = self
            .context
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(tasks) = state.loaded.get(&key) {
            return Ok(tasks.clone());
        }
        let mut loader = Loader::at_run_time(
            templar,
            &self.context,
            self.including.clone(),
            state.next_id,
        );
        let loaded = match &self.what {
            Included::Tasks(_) => {
                let path = loader.resolve_task_path(&rendered);
                if !path.is_file() {
                    return Err(format!(
                        "Could not find or access '{rendered}' (searched {})",
                        path.display()
                    ));
                }
                loader.task_file(&path, &self.at, &self.inherited)
            }
            Included::Role(request) => {
                let mut request = request.clone();
                request.name = rendered;
                loader.load_role(&request, &self.inherited)
            }
        };
        state.next_id = loader.next_id;
        let tasks = Arc::new(loaded.map_err(|error| crate::diagnostic::render(&error))?);
        state.loaded.insert(key, tasks.clone());
        Ok(tasks)
    }
}
