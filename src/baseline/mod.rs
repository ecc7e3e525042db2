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

/// POSIX sh that sets `$os` to the host's release key, `ID-VERSION_ID` from os-release (read,
/// never sourced), under `$root` when the script sets one (`dnf --installroot`).
pub const RELEASE_KEY_SH: &str = r#"f="${root:-}/etc/os-release"
[ -r "$f" ] || f="${root:-}/usr/lib/os-release"
osval() { sed -n "s/^$1=//p" "$f" 2>/dev/null | head -n 1 | tr -d "\"'"; }
os="$(osval ID)-$(osval VERSION_ID)"
"#;
