//! The run lock: one run at a time per inventory + playbook, so a cron run cannot overlap a
//! run still going (or an admin's manual one).
//!
//! The lock is a file `<runs dir>/<key>.lock` holding the holder's PID and start time as JSON.
//! Exclusion itself is an exclusive, non-blocking `flock(2)` on that file rather than
//! `O_EXCL` creation plus a PID check: the kernel drops a flock when its holder dies however it
//! dies, so a lock is never wrongly judged alive because its PID was reused, and two processes
//! that both find a stale lock cannot both take it over (with `O_EXCL` both would delete it and
//! both create a new one). The PID and time in the file are for the message a refused run
//! prints, and for noticing a lock left behind by a holder that was killed: taking it over is
//! reported to the caller as [`StaleLock`] so it can warn.
//!
//! The holder removes the file on drop; a taker checks that the file it locked is still the
//! one at the path (same inode), so a lock released between its `open` and its `flock` is
//! never mistaken for a held one. flock works on local file systems and, on Linux, over NFS.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rustix::fs::{flock, FlockOperation};
use serde::{Deserialize, Serialize};

/// Which lock a run takes: a hash of the canonical inventory and playbook paths.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LockKey(String);

impl LockKey {
    /// The key for a run of `playbook` against `inventory` (both must exist).
    pub fn new(inventory: &Path, playbook: &Path) -> std::io::Result<Self> {
        let inventory = inventory.canonicalize()?;
        let playbook = playbook.canonicalize()?;
        let mut bytes = inventory.as_os_str().as_encoded_bytes().to_vec();
        bytes.push(0);
        bytes.extend_from_slice(playbook.as_os_str().as_encoded_bytes());
        Ok(Self(format!("{:016x}", fnv1a64(&bytes))))
    }

    /// The key as text (16 hex digits).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// FNV-1a, 64 bits: stable across Rust versions and platforms (std's hasher is not), so two
/// rpatch builds agree on the lock of the same run.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What a lock file says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The holder's process id.
    pub pid: u32,
    /// When it took the lock.
    pub since: Timestamp,
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

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it.
    #[error(
        "another rpatch run (pid {pid}, since {since}) is running this playbook on this inventory"
    )]
    Held {
        /// Its process id.
        pid: u32,
        /// When it started.
        since: Timestamp,
        /// The lock file.
        path: PathBuf,
    },
    /// Another run holds it but has not written its details (yet, or the file was damaged).
    #[error("another rpatch run holds `{}`", path.display())]
    HeldUnknown {
        /// The lock file.
        path: PathBuf,
    },
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
    /// Takes the lock `key` under `dir` (created if missing), without waiting.
    pub fn acquire(dir: &Path, key: &LockKey) -> Result<Acquired, LockError> {
        let path = dir.join(format!("{}.lock", key.as_str()));
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        for _ in 0..ATTEMPTS {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => match read_info(&mut file) {
                    Some(info) => {
                        return Err(LockError::Held {
                            pid: info.pid,
                            since: info.since,
                            path,
                        })
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
                pid: std::process::id(),
                since: Timestamp::now(),
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
        Err(LockError::HeldUnknown { path })
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
        LockKey(name.to_string())
    }

    #[test]
    fn a_second_run_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = RunLock::acquire(dir.path(), &key("k")).expect("first");
        assert!(first.took_over.is_none());
        match RunLock::acquire(dir.path(), &key("k")) {
            Err(LockError::Held { pid, path, .. }) => {
                assert_eq!(pid, std::process::id());
                assert_eq!(path, dir.path().join("k.lock"));
            }
            other => panic!("expected the lock to be held, got {other:?}"),
        }
        // Another inventory/playbook is another lock.
        RunLock::acquire(dir.path(), &key("other")).expect("independent lock");
    }

    #[test]
    fn dropping_the_lock_releases_and_removes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = RunLock::acquire(dir.path(), &key("k")).expect("first");
        let path = lock.lock.path().to_path_buf();
        let info: LockInfo =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(info.pid, std::process::id());
        drop(lock);
        assert!(!path.exists());
        let again = RunLock::acquire(dir.path(), &key("k")).expect("free again");
        assert!(again.took_over.is_none());
    }

    #[test]
    fn a_lock_left_by_a_dead_holder_is_taken_over_with_a_warning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let since: Timestamp = "2026-11-01T03:00:00Z".parse().expect("ts");
        let stale = LockInfo {
            pid: 4_000_000,
            since,
        };
        std::fs::write(
            dir.path().join("k.lock"),
            serde_json::to_vec(&stale).expect("json"),
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
        assert!(matches!(
            RunLock::acquire(dir.path(), &key("k")),
            Err(LockError::HeldUnknown { .. })
        ));
    }

    #[test]
    fn lock_keys_depend_on_canonical_paths_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inventory = dir.path().join("hosts.ini");
        let playbook = dir.path().join("site.yml");
        let other = dir.path().join("other.yml");
        for file in [&inventory, &playbook, &other] {
            std::fs::write(file, "").expect("write");
        }
        let dotted = dir.path().join(".").join("site.yml");
        let a = LockKey::new(&inventory, &playbook).expect("key");
        assert_eq!(a, LockKey::new(&inventory, &dotted).expect("key"));
        assert_ne!(a, LockKey::new(&inventory, &other).expect("key"));
        assert_ne!(a, LockKey::new(&playbook, &inventory).expect("key"));
        assert_eq!(a.as_str().len(), 16);
        assert!(LockKey::new(&dir.path().join("missing"), &playbook).is_err());
    }

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
