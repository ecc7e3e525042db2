//! Patch baselines: the exact package versions a run installed, per operating system release,
//! recorded so that a later run (production after staging) installs *those* versions and never
//! newer ones.
//!
//! A package module that changed packages asks the journal to keep what it installed
//! ([`BaselineRecord`], under [`crate::modules::JOURNAL_KEY`]); at the end of the run
//! [`record_run`] folds those records into one [`Baseline`] stored in the state directory
//! ([`BaselineStore`]). `apt`/`dnf` tasks with `baseline: NAME|FILE` read it back.

mod diff;
mod model;
mod store;

pub use diff::{diff, DiffLine};
pub use model::{Baseline, BaselineRecord, System, FORMAT};
pub use store::{record_run, write_file, BaselineError, BaselineStore};
