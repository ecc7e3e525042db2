//! Playbooks: the model, the loader that builds it from YAML with source positions, and tags.

pub mod digest;
mod error;
mod keys;
mod loader;
mod model;
mod nodes;
mod prompts;
mod rollout;
mod tags;
mod tasks;
mod validate;

pub use error::PlaybookError;
pub use loader::{load, load_source, LoadOptions};
pub use model::{
    Action, AsyncRun, Block, Condition, Inherited, LoopKind, LoopSpec, MetaAction, Play, Playbook,
    Retry, Role, Task, TaskNode,
};
pub use prompts::VarPrompt;
pub use rollout::{GateFailure, Rollout};
pub use tags::TagFilter;
