//! The run lock: one run at a time per rollout (its inventories and its playbook), so a cron run
//! cannot overlap a run still going (or an admin's manual one).
//!
//! The lock is a file `<state dir>/locks/<key>.lock`, where the key is a SHA-1 of the canonical
//! absolute paths of every inventory (sorted, without repeats: `-i a -i b` is `-i b -i a`) and
//! of the playbook; the directory depends on neither the current directory nor `--runs-dir`
//! (see [`crate::rolling::state_dir`]). The file holds the holder's PID, start time and those
//! paths as JSON, for the message a refused run prints.
//!
//! Exclusion itself is an exclusive, non-blocking `flock(2)` on that file rather than
//! `O_EXCL` creation plus a PID check: the kernel drops a flock when its holder dies however it
//! dies, so a lock is never wrongly judged alive because its PID was reused, and two processes
//! that both find a stale lock cannot both take it over (with `O_EXCL` both would delete it and
//! both create a new one). Details left in a file nobody holds mean its holder was killed:
//! taking it over is reported to the caller as [`StaleLock`] so it can warn.
//!
//! The holder removes the file on drop; a taker checks that the file it locked is still the
//! one at the path (same inode), so a lock released between its `open` and its `flock` is
//! never mistaken for a held one. flock works on local file systems and, on Linux, over NFS.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rustix::fs::{flock, FlockOperation};
use serde::{Deserialize, Serialize};
use sha1::Digest;

use super::state_dir::{create_private_dir, StateDirError};

/// Which lock a run takes: the canonical paths of its inventories and playbook, and the file
/// name derived from them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LockKey {
    /// Canonical inventory paths, sorted, without repeats.
    inventories: Vec<PathBuf>,
    /// The canonical playbook path.
    playbook: PathBuf,
    /// 40 hex digits: the SHA-1 of the paths.
    name: String,
}

impl LockKey {
    /// The key for a run of `playbook` against `inventories` (all must exist). The order and
    /// repeats of `inventories`, `.`/`..`, symlinks and the current directory do not matter.
    pub fn new(inventories: &[PathBuf], playbook: &Path) -> Result<Self, LockError> {
        let canonical = |path: &Path| {
            path.canonicalize().map_err(|source| LockError::Resolve {
                path: path.to_path_buf(),
                source,
            })
        };
        let mut resolved = inventories
            .iter()
            .map(|path| canonical(path))
            .collect::<Result<Vec<_>, _>>()?;
        resolved.sort();
        resolved.dedup();
        let playbook = canonical(playbook)?;
        let name = key_name(&resolved, &playbook);
        Ok(Self {
            inventories: resolved,
            playbook,
            name,
        })
    }

    /// The key as text (40 hex digits), the lock file's name without `.lock`.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The canonical inventory paths, sorted.
    pub fn inventories(&self) -> &[PathBuf] {
        &self.inventories
    }

    /// The canonical playbook path.
    pub fn playbook(&self) -> &Path {
        &self.playbook
    }
}

/// The lock name of canonical, sorted `inventories` and `playbook`: the SHA-1, in hex, of
/// NUL-terminated tagged fields (paths cannot hold NUL, so no two inputs give one byte string;
/// the version tag keeps a later format from ever colliding with this one). Stable across
/// builds and platforms, so two rpatch versions agree on the lock of one rollout.
fn key_name(inventories: &[PathBuf], playbook: &Path) -> String {
    let mut hasher = sha1::Sha1::new();
    hasher.update(b"rpatch-lock-v1\0");
    for inventory in inventories {
        hasher.update(b"inventory\0");
        hasher.update(inventory.as_os_str().as_encoded_bytes());
        hasher.update(b"\0");
    }
    hasher.update(b"playbook\0");
    hasher.update(playbook.as_os_str().as_encoded_bytes());
    hasher.update(b"\0");
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// What a lock file says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The holder's process id.
    pub pid: u32,
    /// When it took the lock.
    pub since: Timestamp,
    /// The rollout's playbook (canonical path; empty in a lock without it).
    #[serde(default)]
    pub playbook: String,
    /// The rollout's inventories (canonical paths, sorted).
    #[serde(default)]
    pub inventories: Vec<String>,
}

impl LockInfo {
    /// The rollout this lock is for, on one line: "`PLAYBOOK` on `INV`, `INV`".
    fn rollout(&self) -> String {
        let inventories: Vec<String> = self
            .inventories
            .iter()
            .map(|path| format!("`{}`", one_line(path)))
            .collect();
        format!(
            "`{}` on {}",
            one_line(&self.playbook),
            inventories.join(", ")
        )
    }
}

/// `text` with control characters (a newline in a path) escaped, so a message stays one line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A lock left by a holder that died without releasing it, now taken over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleLock {
    /// The dead holder's process id.
    pub pid: u32,
    /// When it had taken the lock.
    pub since: Timestamp,
}

impl fmt::Display for StaleLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "took over a stale run lock of process {} (since {}), which ended without releasing it",
            self.pid, self.since
        )
    }
}

/// Why the lock could not be taken. The `Held*` messages are one line (cron mails them).
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it.
    #[error(
        "another rpatch run (pid {pid}, since {since}) is running {rollout} (lock `{}`)",
        one_line(&path.display().to_string())
    )]
    Held {
        /// Its process id.
        pid: u32,
        /// When it started.
        since: Timestamp,
        /// The rollout, as the lock file names it.
        rollout: String,
        /// The lock file.
        path: PathBuf,
    },
    /// Another run holds it but has not written its details (yet, or the file was damaged).
    #[error(
        "another rpatch run is running {rollout} (lock `{}`)",
        one_line(&path.display().to_string())
    )]
    HeldUnknown {
        /// The rollout, as this run's key names it.
        rollout: String,
        /// The lock file.
        path: PathBuf,
    },
    /// An inventory or the playbook could not be resolved to a canonical path.
    #[error("cannot resolve `{}` for the run lock: {source}", path.display())]
    Resolve {
        /// The path as given.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The lock directory could not be created.
    #[error(transparent)]
    Dir(#[from] StateDirError),
    /// The lock file could not be used.
    #[error("run lock `{}`: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A held run lock, released on drop.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

/// A lock just taken, and the stale lock it replaced, if any (warn about it).
#[derive(Debug)]
pub struct Acquired {
    /// The lock; keep it for the whole run.
    pub lock: RunLock,
    /// Set when a dead holder's lock was taken over.
    pub took_over: Option<StaleLock>,
}

const ATTEMPTS: u32 = 20;
const PAUSE: Duration = Duration::from_millis(10);

impl RunLock {
    /// Takes the lock `key` in `dir` (created mode 0700 if missing), without waiting.
    pub fn acquire(dir: &Path, key: &LockKey) -> Result<Acquired, LockError> {
        let path = dir.join(format!("{}.lock", key.as_str()));
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        create_private_dir(dir)?;
        let ours = LockInfo {
            pid: std::process::id(),
            since: Timestamp::now(),
            playbook: key.playbook().display().to_string(),
            inventories: key
                .inventories()
                .iter()
                .map(|path| path.display().to_string())
                .collect(),
        };
        for _ in 0..ATTEMPTS {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(io)?;
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => match read_info(&mut file) {
                    Some(info) => {
                        // A lock written without its paths still is this rollout's.
                        let rollout = if info.playbook.is_empty() {
                            ours.rollout()
                        } else {
                            info.rollout()
                        };
                        return Err(LockError::Held {
                            pid: info.pid,
                            since: info.since,
                            rollout,
                            path,
                        });
                    }
                    // The holder is between its flock and its write: look again shortly.
                    None => {
                        std::thread::sleep(PAUSE);
                        continue;
                    }
                },
                Err(errno) => return Err(io(errno.into())),
            }
            if !still_at_path(&file, &path) {
                // Its holder released (and removed) it after we opened it: start over.
                continue;
            }
            // Details left in a file nobody holds: its holder ended without releasing it.
            let took_over = read_info(&mut file).map(|info| StaleLock {
                pid: info.pid,
                since: info.since,
            });
            let info = LockInfo {
                since: Timestamp::now(),
                ..ours
            };
            let text =
                serde_json::to_vec(&info).map_err(|error| io(std::io::Error::other(error)))?;
            file.set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| file.write_all(&text))
                .and_then(|()| file.sync_data())
                .map_err(io)?;
            return Ok(Acquired {
                lock: RunLock { file, path },
                took_over,
            });
        }
        Err(LockError::HeldUnknown {
            rollout: ours.rollout(),
            path,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Remove while still locked; a taker that opened the old file notices it is gone.
        let _ = std::fs::remove_file(&self.path);
        let _ = flock(&self.file, FlockOperation::Unlock);
    }
}

fn read_info(file: &mut File) -> Option<LockInfo> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

fn still_at_path(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> LockKey {
        LockKey {
            inventories: vec![PathBuf::from("/srv/inventory/hosts.ini")],
            playbook: PathBuf::from(format!("/srv/{name}.yml")),
            name: name.to_string(),
        }
    }

    #[test]
    fn a_second_run_is_refused_with_the_holders_pid_and_rollout_on_one_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = RunLock::acquire(dir.path(), &key("k")).expect("first");
        assert!(first.took_over.is_none());
        match RunLock::acquire(dir.path(), &key("k")) {
            Err(error @ LockError::Held { .. }) => {
                let text = error.to_string();
                let LockError::Held { pid, path, .. } = error else {
                    unreachable!()
                };
                assert_eq!(pid, std::process::id());
                assert_eq!(path, dir.path().join("k.lock"));
                assert!(
                    text.contains("running `/srv/k.yml` on `/srv/inventory/hosts.ini`"),
                    "{text}"
                );
                assert!(text.contains("k.lock"), "{text}");
                assert!(!text.contains('\n'), "{text}");
            }
            other => panic!("expected the lock to be held, got {other:?}"),
        }
        // Another inventory/playbook is another lock.
        RunLock::acquire(dir.path(), &key("other")).expect("independent lock");
    }

    #[test]
    fn the_lock_directory_and_file_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let locks = dir.path().join("state").join("locks");
        let lock = RunLock::acquire(&locks, &key("k")).expect("lock");
        let mode = |path: &Path| std::fs::metadata(path).expect("stat").permissions().mode();
        assert_eq!(mode(&locks) & 0o077, 0);
        assert_eq!(mode(&dir.path().join("state")) & 0o077, 0);
        assert_eq!(mode(lock.lock.path()) & 0o077, 0);
    }

    #[test]
    fn dropping_the_lock_releases_and_removes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = RunLock::acquire(dir.path(), &key("k")).expect("first");
        let path = lock.lock.path().to_path_buf();
        let info: LockInfo =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(info.pid, std::process::id());
        assert_eq!(info.playbook, "/srv/k.yml");
        assert_eq!(info.inventories, ["/srv/inventory/hosts.ini"]);
        drop(lock);
        assert!(!path.exists());
        let again = RunLock::acquire(dir.path(), &key("k")).expect("free again");
        assert!(again.took_over.is_none());
    }

    #[test]
    fn a_lock_left_by_a_dead_holder_is_taken_over_with_a_warning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let since: Timestamp = "2026-11-01T03:00:00Z".parse().expect("ts");
        // A lock without the paths, as a damaged or older file would be.
        std::fs::write(
            dir.path().join("k.lock"),
            format!(r#"{{"pid":4000000,"since":"{since}"}}"#),
        )
        .expect("write");
        let acquired = RunLock::acquire(dir.path(), &key("k")).expect("taken over");
        let took_over = acquired.took_over.expect("reported");
        assert_eq!((took_over.pid, took_over.since), (4_000_000, since));
        assert!(took_over.to_string().contains("process 4000000"));
    }

    #[test]
    fn a_held_lock_without_details_is_still_held() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.lock");
        let holder = File::create(&path).expect("create");
        flock(&holder, FlockOperation::NonBlockingLockExclusive).expect("flock");
        match RunLock::acquire(dir.path(), &key("k")) {
            Err(error @ LockError::HeldUnknown { .. }) => {
                assert!(error.to_string().contains("`/srv/k.yml`"), "{error}");
            }
            other => panic!("expected the lock to be held, got {other:?}"),
        }
    }

    #[test]
    fn control_characters_in_paths_do_not_break_the_one_line_message() {
        let info = LockInfo {
            pid: 1,
            since: Timestamp::UNIX_EPOCH,
            playbook: "/srv/evil\nname.yml".into(),
            inventories: vec!["/srv/hosts".into()],
        };
        assert_eq!(info.rollout(), r"`/srv/evil\nname.yml` on `/srv/hosts`");
    }

    #[test]
    fn lock_keys_depend_on_canonical_paths_only_not_order_or_repeats() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = |name: &str| dir.path().join(name);
        for file in ["a.ini", "b.ini", "site.yml", "other.yml"] {
            std::fs::write(path(file), "").expect("write");
        }
        let (a, b) = (path("a.ini"), path("b.ini"));
        let dotted = dir.path().join(".").join("site.yml");
        let key = |inventories: &[PathBuf], playbook: &Path| {
            LockKey::new(inventories, playbook).expect("key")
        };
        let ab = key(&[a.clone(), b.clone()], &path("site.yml"));
        assert_eq!(ab, key(&[b.clone(), a.clone()], &path("site.yml")));
        assert_eq!(ab, key(&[b.clone(), a.clone(), b.clone()], &dotted));
        assert_ne!(ab, key(std::slice::from_ref(&a), &path("site.yml")));
        assert_ne!(ab, key(&[a.clone(), b.clone()], &path("other.yml")));
        assert_ne!(
            key(std::slice::from_ref(&a), &b),
            key(std::slice::from_ref(&b), &a),
            "an inventory is not a playbook"
        );
        assert_eq!(ab.as_str().len(), 40);
        assert!(ab.inventories().iter().all(|p| p.is_absolute()));
        match LockKey::new(&[a, path("missing")], &path("site.yml")) {
            Err(LockError::Resolve { path: missing, .. }) => {
                assert_eq!(missing, path("missing"));
            }
            other => panic!("expected a resolve error, got {other:?}"),
        }
    }

    #[test]
    fn lock_names_are_stable_across_builds() {
        // Pinned: a change here would let an old and a new rpatch run one rollout at once.
        let name = key_name(
            &[PathBuf::from("/srv/a.ini"), PathBuf::from("/srv/b.ini")],
            Path::new("/srv/site.yml"),
        );
        assert_eq!(name, PINNED);
    }

    const PINNED: &str = "a25217bee3aa57c60b543a4546618ec8b3ce6181";
}
