//! The throwaway accounts the SSH test fleet logs in as: created per test process, removed
//! when it exits, and left-overs of crashed runs removed at the next start.
//!
//! Each test process picks a random id and creates, with `useradd`:
//! - `rpt-ID`: passwordless sudo ([`user`]);
//! - `rpt-ID-pw`: sudo asks for [`password`], a random password that is never in the source
//!   ([`password_user`]); sudo's default timestamp is keyed on the terminal or, without one, on
//!   the parent process and session, and each command on an SSH channel without a terminal is
//!   a session of its own, so sudo asks every time;
//! - `rpt-ID-ts`: the same password, but one sudo timestamp for all its sessions
//!   (`timestamp_type=global`), so after one successful sudo the next ones do not ask
//!   ([`cached_user`]).
//!
//! Their sudo rules are one file, `/etc/sudoers.d/rpt-ID`, checked with `visudo -cf` and put in
//! place atomically (a temp file sudo ignores, because its name has a dot, then a rename). No
//! key is written to the accounts' homes: the fleet's sshd reads `AuthorizedKeysFile` from the
//! fleet's temp dir, and only that sshd lets them in (`AllowUsers`).
//!
//! Ownership: the GECOS field of each account and the first line of the sudoers file name the
//! owning process (`pid=… start=…`, the start time telling a reused PID apart). The accounts
//! are removed by an `atexit` hook (the test harness ends with `exit`, which runs it). At start,
//! entries whose owner is no longer alive are removed; entries of live processes (other
//! `cargo test` runs on the machine) and anything not in this format are never touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Names, password and owner tag of this process's accounts.
struct Accounts {
    id: String,
    user: String,
    password_user: String,
    cached_user: String,
    password: String,
    owner: Owner,
}

/// A process, told apart from a later one with the same PID by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owner {
    pid: u32,
    start: u64,
}

const TAG: &str = "rpatch test fleet";
const PREFIX: &str = "rpt-";
const SUDOERS_DIR: &str = "/etc/sudoers.d";

impl Owner {
    fn me() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            start: start_time(pid).expect("own start time in /proc"),
        }
    }

    fn is_alive(self) -> bool {
        start_time(self.pid) == Some(self.start)
    }

    fn tag(self) -> String {
        format!("{TAG} pid={} start={}", self.pid, self.start)
    }

    /// Reads a tag written by [`Owner::tag`] anywhere in `text`.
    fn parse(text: &str) -> Option<Self> {
        let rest = &text[text.find(TAG)? + TAG.len()..];
        let mut fields = rest.split_whitespace();
        let mut number = |key: &str| -> Option<u64> {
            let digits = fields.next()?.strip_prefix(key)?;
            let end = digits
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(digits.len());
            digits[..end].parse().ok()
        };
        let pid = u32::try_from(number("pid=")?).ok()?;
        let start = number("start=")?;
        Some(Self { pid, start })
    }
}

/// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // After `(comm)`: state is field 3, so start time (22) is the 20th from here.
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("random bytes from the operating system");
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

fn accounts() -> &'static Accounts {
    static ACCOUNTS: OnceLock<Accounts> = OnceLock::new();
    ACCOUNTS.get_or_init(|| {
        let id = random_hex(4);
        let user = format!("{PREFIX}{id}");
        Accounts {
            password_user: format!("{user}-pw"),
            cached_user: format!("{user}-ts"),
            user,
            // A letter first, so YAML reads it as a string.
            password: format!("Rp-{}", random_hex(16)),
            owner: Owner::me(),
            id,
        }
    })
}

/// Login user with passwordless sudo.
pub fn user() -> &'static str {
    &accounts().user
}

/// Login user whose sudo asks for [`password`] every time.
pub fn password_user() -> &'static str {
    &accounts().password_user
}

/// Login user whose sudo asks for [`password`] once, then trusts a timestamp shared by all
/// its sessions.
pub fn cached_user() -> &'static str {
    &accounts().cached_user
}

/// The password (login and sudo) of [`password_user`] and [`cached_user`]: random per test
/// process.
pub fn password() -> &'static str {
    &accounts().password
}

/// Creates this process's accounts once (removing dead runs' left-overs first).
pub fn ensure_created() {
    static CREATED: OnceLock<()> = OnceLock::new();
    CREATED.get_or_init(|| {
        remove_stale();
        let accounts = accounts();
        // Before creating anything, so a failure half-way is cleaned up too.
        register_exit_hook();
        let tag = accounts.owner.tag();
        for name in [
            &accounts.user,
            &accounts.password_user,
            &accounts.cached_user,
        ] {
            // No subordinate ids: nothing in /etc/subuid to clean up. `*`: no password, but
            // not locked (sshd refuses key logins to locked accounts).
            run_retrying(
                "useradd",
                &[
                    "-m",
                    "-s",
                    "/bin/sh",
                    "-c",
                    &tag,
                    "-p",
                    "*",
                    "-K",
                    "SUB_UID_COUNT=0",
                    "-K",
                    "SUB_GID_COUNT=0",
                    name,
                ],
                None,
            );
        }
        run_retrying(
            "chpasswd",
            &[],
            Some(&format!(
                "{}:{pw}\n{}:{pw}\n",
                accounts.password_user,
                accounts.cached_user,
                pw = accounts.password
            )),
        );
        let rules = format!(
            "# {tag} (removed when that process ends)\n\
             {user} ALL=(ALL) NOPASSWD: ALL\n\
             Defaults:{pw_user} lecture=never\n\
             {pw_user} ALL=(ALL) ALL\n\
             Defaults:{ts_user} lecture=never, timestamp_type=global\n\
             {ts_user} ALL=(ALL) ALL\n",
            user = accounts.user,
            pw_user = accounts.password_user,
            ts_user = accounts.cached_user,
        );
        install_sudoers(&accounts.id, &rules);
    });
}

/// The sudoers file of run `id`, and the temp file it is written through (sudo skips names
/// with a dot).
fn sudoers_paths(id: &str) -> (PathBuf, PathBuf) {
    let dir = Path::new(SUDOERS_DIR);
    (
        dir.join(format!("{PREFIX}{id}")),
        dir.join(format!(".{PREFIX}{id}.tmp")),
    )
}

/// Validates `rules` with `visudo -cf` and renames them into place, mode 0440.
fn install_sudoers(id: &str, rules: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let (path, temp) = sudoers_paths(id);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o440)
        .open(&temp)
        .unwrap_or_else(|e| panic!("create {}: {e}", temp.display()));
    file.write_all(rules.as_bytes())
        .expect("write sudoers rules");
    file.sync_all().expect("sync sudoers rules");
    drop(file);
    let check = Command::new("visudo")
        .arg("-cf")
        .arg(&temp)
        .output()
        .expect("visudo (apt-get install sudo)");
    if !check.status.success() {
        let _ = std::fs::remove_file(&temp);
        panic!(
            "visudo rejected the test sudoers rules: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }
    std::fs::rename(&temp, &path).expect("put the sudoers rules in place");
}

fn register_exit_hook() {
    extern "C" fn on_exit() {
        // A panic must not cross into C; clean-up is best effort.
        let _ = std::panic::catch_unwind(|| {
            let accounts = accounts();
            remove_run(&accounts.id);
        });
    }
    // SAFETY: `on_exit` is a plain `extern "C" fn` without arguments, as atexit(3) expects.
    let registered = unsafe { libc::atexit(on_exit) };
    assert_eq!(
        registered, 0,
        "atexit failed: test accounts would outlive the run"
    );
}

/// Removes the accounts, sudoers files and sudo timestamps of run `id`.
fn remove_run(id: &str) {
    // The rules first: a rule naming an account that is gone is harmless, the reverse is not.
    let (path, temp) = sudoers_paths(id);
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(temp);
    let base = format!("{PREFIX}{id}");
    let names = [base.clone(), format!("{base}-pw"), format!("{base}-ts")];
    for name in &names {
        if let Some(uid) = uid_of(name) {
            kill_processes_of(uid);
            if let Err(message) = try_run_retrying("userdel", &["-r", name], None) {
                // userdel -r exits 12 when the home dir is already gone; the account is removed.
                if uid_of(name).is_some() {
                    eprintln!("rpatch test fleet: could not remove user {name}: {message}");
                }
            }
        }
        let _ = std::fs::remove_file(Path::new("/run/sudo/ts").join(name));
        let _ = std::fs::remove_file(Path::new("/var/lib/sudo/lectured").join(name));
    }
}

/// Removes what runs whose owner process is gone left behind.
fn remove_stale() {
    let mut dead: Vec<String> = Vec::new();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for line in passwd.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        let (Some(name), Some(gecos)) = (fields.first(), fields.get(4)) else {
            continue;
        };
        if let (Some(id), Some(owner)) = (run_id(name), Owner::parse(gecos)) {
            if !owner.is_alive() {
                dead.push(id);
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(SUDOERS_DIR) {
        for entry in entries.filter_map(Result::ok) {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let name = file_name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(".tmp"))
                .unwrap_or(&file_name);
            let Some(id) = run_id(name).filter(|id| name == format!("{PREFIX}{id}")) else {
                continue;
            };
            let first_line = std::fs::read_to_string(entry.path())
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            if Owner::parse(&first_line).is_some_and(|owner| !owner.is_alive()) {
                dead.push(id);
            }
        }
    }
    dead.sort();
    dead.dedup();
    for id in dead {
        remove_run(&id);
    }
}

/// The run id in an account name `rpt-ID`, `rpt-ID-pw` or `rpt-ID-ts` (ID: 8 hex digits).
fn run_id(name: &str) -> Option<String> {
    let rest = name.strip_prefix(PREFIX)?;
    let id = rest
        .strip_suffix("-pw")
        .or_else(|| rest.strip_suffix("-ts"))
        .unwrap_or(rest);
    (id.len() == 8 && id.chars().all(|c| c.is_ascii_hexdigit())).then(|| id.to_string())
}

fn uid_of(name: &str) -> Option<u32> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

/// SIGKILLs every process running as `uid` (a test account: nothing else runs as it), found
/// by id in /proc, so userdel does not refuse.
fn kill_processes_of(uid: u32) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    let pids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            let real = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))?
                .split_whitespace()
                .next()?
                .parse::<u32>()
                .ok()?;
            (real == uid).then(|| pid.to_string())
        })
        .collect();
    if !pids.is_empty() {
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(&pids)
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs a user-database tool; panics with its error output if it keeps failing.
fn run_retrying(program: &str, args: &[&str], input: Option<&str>) {
    if let Err(message) = try_run_retrying(program, args, input) {
        panic!("{program} {args:?} failed: {message}");
    }
}

/// Runs a user-database tool, retrying a few times: other test processes on the machine may
/// hold the lock on /etc/passwd for a moment.
fn try_run_retrying(program: &str, args: &[&str], input: Option<&str>) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..5u64 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(200 * attempt));
        }
        match run_once(program, args, input) {
            Ok(()) => return Ok(()),
            Err(message) => last = message,
        }
    }
    Err(last)
}

fn run_once(program: &str, args: &[&str], input: Option<&str>) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("writing to {program}: {e}"))?;
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

#[test]
fn owner_tags_round_trip_and_foreign_names_are_ignored() {
    let me = Owner::me();
    assert!(me.is_alive());
    assert_eq!(Owner::parse(&format!("# {}: removed", me.tag())), Some(me));
    let gone = Owner {
        start: me.start + 1,
        ..me
    };
    assert!(!gone.is_alive(), "a reused PID is not the owner");
    assert_eq!(run_id("rpt-0a1b2c3d-pw").as_deref(), Some("0a1b2c3d"));
    assert_eq!(run_id("rpt-0a1b2c3d").as_deref(), Some("0a1b2c3d"));
    for foreign in ["rpatch-test", "rpt-xyz", "rpt-0a1b2c3d-admin", "root"] {
        assert_eq!(run_id(foreign), None, "{foreign}");
    }
}
