//! The rolling engine's pure building blocks: how hosts are split into batches and ordered,
//! when a batch's failures halt the run, when maintenance windows are open, and the durable
//! journal and lock that let a run be resumed and never overlap another.
//!
//! Nothing here talks to a host: the runner (`crate::runner`) drives these pieces.

pub mod clock;
pub mod error;
pub mod failure;
pub mod journal;
pub mod lock;
pub mod order;
pub mod resume;
pub mod run_settings;
pub mod serial;
pub mod state_dir;
pub mod summary;
pub mod window;

pub use error::SpecError;
