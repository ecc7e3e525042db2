//! The state directory: where run journals and run locks live, the same whatever directory
//! rpatch is started from.
//!
//! It is `$RPATCH_STATE_DIR`, else `$XDG_STATE_HOME/rpatch`, else `~/.local/state/rpatch` —
//! for root too (`/root/.local/state/rpatch`), so cron and an admin's `sudo rpatch` share it.
//! Runs go in `runs/` unless `--runs-dir` says otherwise; locks always go in `locks/`, so no
//! option can put two runs of one rollout behind two different locks.
//!
//! Invariants: the path is absolute (a relative `RPATCH_STATE_DIR` is refused, a relative
//! `XDG_STATE_HOME` is ignored as the XDG spec says), and directories rpatch creates here are
//! mode 0700 — journals name hosts and plans, and nobody else may plant or remove a lock.
//! Directories that already exist keep their mode: a shared state directory an admin set up on
//! purpose stays as they made it.

use std::ffi::OsString;
use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The environment variable that names the state directory.
pub const STATE_DIR_ENV: &str = "RPATCH_STATE_DIR";

/// The subdirectory for run journals.
const RUNS: &str = "runs";
/// The subdirectory for run locks.
const LOCKS: &str = "locks";

/// Why the state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateDirError {
    /// `RPATCH_STATE_DIR` is relative, so it would depend on the current directory.
    #[error("RPATCH_STATE_DIR must be an absolute path, not `{}`", .0.display())]
    Relative(PathBuf),
    /// Neither variable is set and there is no home directory.
    #[error("no state directory: set RPATCH_STATE_DIR (or XDG_STATE_HOME, or HOME)")]
    NoHome,
    /// A directory could not be created.
    #[error("cannot create `{}`: {source}", path.display())]
    Create {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// rpatch's state directory (an absolute path; not created until something is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The state directory this process's environment names.
    pub fn from_env() -> Result<Self, StateDirError> {
        Self::resolve(|name| std::env::var_os(name), std::env::home_dir)
    }

    /// The state directory given the environment (`var`) and the home directory (`home`).
    fn resolve(
        var: impl Fn(&str) -> Option<OsString>,
        home: impl FnOnce() -> Option<PathBuf>,
    ) -> Result<Self, StateDirError> {
        if let Some(dir) = var(STATE_DIR_ENV).filter(|value| !value.is_empty()) {
            let root = PathBuf::from(dir);
            if root.is_relative() {
                return Err(StateDirError::Relative(root));
            }
            return Ok(Self { root });
        }
        if let Some(xdg) = var("XDG_STATE_HOME")
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
        {
            return Ok(Self {
                root: xdg.join("rpatch"),
            });
        }
        match home() {
            Some(home) if home.is_absolute() => Ok(Self {
                root: home.join(".local").join("state").join("rpatch"),
            }),
            _ => Err(StateDirError::NoHome),
        }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Where run journals go by default: `<state>/runs`.
    pub fn runs(&self) -> PathBuf {
        self.root.join(RUNS)
    }

    /// Where run locks go, always: `<state>/locks`.
    pub fn locks(&self) -> PathBuf {
        self.root.join(LOCKS)
    }
}

/// Creates `dir` and its missing parents with mode 0700 (less the umask); directories that
/// already exist are left as they are.
pub fn create_private_dir(dir: &Path) -> Result<(), StateDirError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StateDirError::Create {
            path: dir.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn resolve(vars: &[(&str, &str)], home: Option<&str>) -> Result<StateDir, StateDirError> {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(name, value)| (name.to_string(), OsString::from(value)))
            .collect();
        StateDir::resolve(
            |name| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()),
            || home.map(PathBuf::from),
        )
    }

    #[test]
    fn rpatch_state_dir_wins_over_xdg_and_home() {
        let dir = resolve(
            &[
                ("RPATCH_STATE_DIR", "/srv/rpatch"),
                ("XDG_STATE_HOME", "/x"),
            ],
            Some("/home/a"),
        )
        .expect("resolved");
        assert_eq!(dir.path(), Path::new("/srv/rpatch"));
        assert_eq!(dir.runs(), Path::new("/srv/rpatch/runs"));
        assert_eq!(dir.locks(), Path::new("/srv/rpatch/locks"));
    }

    #[test]
    fn xdg_state_home_comes_next_then_the_home_directory() {
        let xdg = resolve(&[("XDG_STATE_HOME", "/x/state")], Some("/home/a")).expect("xdg");
        assert_eq!(xdg.path(), Path::new("/x/state/rpatch"));
        let home = resolve(&[], Some("/root")).expect("home");
        assert_eq!(home.path(), Path::new("/root/.local/state/rpatch"));
    }

    #[test]
    fn empty_values_count_as_unset() {
        let dir = resolve(
            &[("RPATCH_STATE_DIR", ""), ("XDG_STATE_HOME", "")],
            Some("/home/a"),
        )
        .expect("home");
        assert_eq!(dir.path(), Path::new("/home/a/.local/state/rpatch"));
    }

    #[test]
    fn nothing_relative_to_the_current_directory_is_used() {
        assert!(matches!(
            resolve(&[("RPATCH_STATE_DIR", "state")], Some("/home/a")),
            Err(StateDirError::Relative(_))
        ));
        // The XDG spec: a relative path in these variables is invalid and ignored.
        let dir = resolve(&[("XDG_STATE_HOME", "rel/state")], Some("/home/a")).expect("home");
        assert_eq!(dir.path(), Path::new("/home/a/.local/state/rpatch"));
        assert!(matches!(
            resolve(&[], Some("relative-home")),
            Err(StateDirError::NoHome)
        ));
        assert!(matches!(resolve(&[], None), Err(StateDirError::NoHome)));
    }

    #[test]
    fn created_directories_are_private_and_existing_ones_keep_their_mode() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let state = tmp.path().join("new-state");
        create_private_dir(&state.join("locks")).expect("create");
        for dir in [&state, &state.join("locks")] {
            let mode = std::fs::metadata(dir).expect("stat").permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", dir.display());
        }
        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).expect("mkdir");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        create_private_dir(&shared).expect("exists");
        let mode = std::fs::metadata(&shared)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o750);
    }
}
