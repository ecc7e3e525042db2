//! Playbooks: the model, the loader that builds it from YAML with source positions, and tags.

mod collections;
pub mod digest;
mod dynamic;
mod error;
mod keys;
mod loader;
mod model;
mod nodes;
mod prompts;
mod roles;
mod rollout;
mod start_at;
mod tags;
mod tasks;
mod validate;

pub use dynamic::Deferred;
pub use error::PlaybookError;
pub use loader::{load, load_source, LoadOptions};
pub use model::{
    Action, AsyncRun, Block, Condition, Inherited, LoopKind, LoopSpec, MetaAction, Play, Playbook,
    Retry, Role, Strategy, Task, TaskNode,
};
pub use prompts::VarPrompt;
pub use rollout::{GateFailure, Rollout};
pub use start_at::start_at_task;
pub use tags::TagFilter;
