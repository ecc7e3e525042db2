//! Test harness: a throwaway project directory (inventory, playbooks, roles) and a builder
//! that runs the real `rpatch` binary in it and parses what it printed.

#![allow(dead_code)]

pub mod apt_repo;
pub mod fleet;
pub mod govc_replay;
pub mod http;
pub mod kvm_lab;
pub mod pacman_repo;
pub mod powershell_replay;
pub mod reboot_host;
pub mod rpm_repo;
pub mod users;

/// Polls `condition` until it holds; fails naming `what` after `seconds`. Tests wait for
/// conditions rather than sleeping, so that a loaded CI machine is only slower, never red.
pub fn wait_until(what: &str, seconds: u64, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up after {seconds} s waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// A project directory with an inventory, where `rpatch` runs, and its own state directory
/// (`RPATCH_STATE_DIR`: runs and locks), so tests never touch the real home or each other.
pub struct Project {
    dir: TempDir,
    state: TempDir,
    /// Environment changes for `rpatch` runs: `Some` sets, `None` removes.
    envs: Vec<(String, Option<String>)>,
    /// A run still going after this long is killed (and so fails its exit-code check).
    timeout: Option<std::time::Duration>,
}

impl Project {
    /// A project whose default inventory is the controller over the local connection.
    pub fn new() -> Self {
        let project = Self {
            dir: tempfile::tempdir().expect("temp dir"),
            state: tempfile::tempdir().expect("state dir"),
            envs: Vec::new(),
            timeout: None,
        };
        project.file(
            "inventory/local.yml",
            "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n",
        )
    }

    /// Writes a file (creating directories); `{dir}` in the text becomes the project path.
    pub fn file(self, relative: &str, text: &str) -> Self {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(
            &path,
            text.replace("{dir}", &self.path().display().to_string()),
        )
        .expect("write file");
        self
    }

    /// Sets an environment variable for every `rpatch` run of this project.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.envs.push((name.to_string(), Some(value.to_string())));
        self
    }

    /// Removes an environment variable from every `rpatch` run of this project.
    pub fn env_remove(mut self, name: &str) -> Self {
        self.envs.push((name.to_string(), None));
        self
    }

    /// Kills any `rpatch` run of this project that takes longer than `seconds`, for tests of
    /// input that once made rpatch hang.
    pub fn timeout(mut self, seconds: u64) -> Self {
        self.timeout = Some(std::time::Duration::from_secs(seconds));
        self
    }

    /// Makes a FIFO (named pipe) with no writer at `relative`.
    pub fn fifo(self, relative: &str) -> Self {
        let path = self.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &path,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap_or_else(|e| panic!("mkfifo {relative}: {e}"));
        self
    }

    /// Writes `site.yml`.
    pub fn playbook(self, text: &str) -> Self {
        self.file("site.yml", text)
    }

    /// The project directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the project.
    pub fn join(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Reads a file of the project.
    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.join(relative))
            .unwrap_or_else(|e| panic!("read {relative}: {e}"))
    }

    /// True if the project has this file.
    pub fn exists(&self, relative: &str) -> bool {
        self.join(relative).exists()
    }

    /// The project's state directory (`RPATCH_STATE_DIR` of its runs).
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// Where its runs are journaled by default.
    pub fn runs_dir(&self) -> PathBuf {
        self.state.path().join("runs")
    }

    /// The journal of run `id` in the default runs directory.
    pub fn journal(&self, id: &str) -> PathBuf {
        self.runs_dir().join(id).join("journal.jsonl")
    }

    /// An `rpatch` command in `cwd` with the project's environment and state directory.
    pub fn command_in(&self, cwd: &Path) -> std::process::Command {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("rpatch"));
        command
            .current_dir(cwd)
            .env_remove("RPATCH_INVENTORY")
            .env_remove("RPATCH_RUNS_DIR")
            .env("RPATCH_STATE_DIR", self.state.path())
            .env("NO_COLOR", "1");
        // rpatch reads ANSIBLE_* variables (and warns about the ones it does not support):
        // only those a test sets reach it.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ANSIBLE_") {
                command.env_remove(name);
            }
        }
        for (name, value) in &self.envs {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
    }

    /// An `rpatch` command in the project directory (see [`Project::command_in`]).
    pub fn command(&self) -> std::process::Command {
        self.command_in(self.path())
    }

    /// `rpatch ARGS...` in the project directory.
    pub fn rpatch(&self, args: &[&str]) -> Output {
        self.rpatch_in(self.path(), args)
    }

    /// `rpatch ARGS...` started from another directory, with this project's environment.
    pub fn rpatch_in(&self, cwd: &Path, args: &[&str]) -> Output {
        self.output(self.command_in(cwd).args(args))
    }

    /// `rpatch run site.yml ARGS...` as another local `user` (through `runuser`), who is given
    /// the project and state directories; their parent directories must let that user in.
    pub fn run_as(&self, user: &str, args: &[&str]) -> Output {
        for dir in [self.path(), self.state_dir()] {
            let status = std::process::Command::new("chown")
                .args(["-R", user])
                .arg(dir)
                .status()
                .expect("chown");
            assert!(status.success(), "chown -R {user} {}", dir.display());
        }
        let template = self.command();
        let mut command = std::process::Command::new("runuser");
        command
            .args(["-u", user, "--"])
            .arg(template.get_program())
            .args(["run", "site.yml"])
            .args(args)
            .current_dir(self.path())
            .stdin(std::process::Stdio::null());
        for (name, value) in template.get_envs() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        self.output(&mut command)
    }

    /// Runs a command made by [`Project::command`] (and changed by the caller) to its end.
    /// A run going on past the project's [`Project::timeout`] is killed.
    pub fn output(&self, command: &mut std::process::Command) -> Output {
        let mut command =
            Command::from_std(std::mem::replace(command, std::process::Command::new("")));
        if let Some(timeout) = self.timeout {
            command.timeout(timeout);
        }
        let output = command.output().expect("run rpatch");
        Output {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            code: output.status.code().unwrap_or(-1),
            dir: self.path().display().to_string(),
        }
    }

    /// Runs a command made by [`Project::command`] to its end with `input` on standard input.
    pub fn output_with_stdin(&self, command: &mut std::process::Command, input: &str) -> Output {
        let output = Command::from_std(std::mem::replace(command, std::process::Command::new("")))
            .write_stdin(input.as_bytes().to_vec())
            .output()
            .expect("run rpatch");
        Output {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            code: output.status.code().unwrap_or(-1),
            dir: self.path().display().to_string(),
        }
    }

    /// Starts `rpatch ARGS...` in the background (output discarded).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command()
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn rpatch")
    }

    /// Waits (up to a minute) until the project has this file.
    pub fn wait_for_file(&self, relative: &str) {
        wait_until(&format!("{relative} to appear"), 60, || {
            self.exists(relative)
        });
    }

    /// The id of the only run in the project's runs directory.
    pub fn only_run_id(&self) -> String {
        let mut ids: Vec<String> = std::fs::read_dir(self.runs_dir())
            .expect("runs dir")
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        assert_eq!(ids.len(), 1, "expected one run: {ids:?}");
        ids.remove(0)
    }

    /// `rpatch run site.yml ARGS...`.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["run", "site.yml"];
        all.extend_from_slice(args);
        self.rpatch(&all)
    }
}

/// One host's PLAY RECAP line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recap {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// What a run printed and how it exited.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
    dir: String,
}

impl Output {
    /// Fails the test with everything printed unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The PLAY RECAP, per host.
    pub fn recap(&self) -> BTreeMap<String, Recap> {
        let mut hosts = BTreeMap::new();
        let Some(start) = self.stdout.find("PLAY RECAP") else {
            panic!("no PLAY RECAP in output:\n{}", self.stdout);
        };
        // The recap ends at its blank line (a PATCH SUMMARY may follow).
        for line in self.stdout[start..]
            .lines()
            .skip(1)
            .take_while(|line| !line.trim().is_empty())
        {
            let Some((host, counts)) = line.split_once(" : ") else {
                continue;
            };
            let mut recap = Recap::default();
            for pair in counts.split_whitespace() {
                let (key, value) = pair.split_once('=').expect("key=value");
                let value: u32 = value.parse().expect("number");
                match key {
                    "ok" => recap.ok = value,
                    "changed" => recap.changed = value,
                    "unreachable" => recap.unreachable = value,
                    "failed" => recap.failed = value,
                    "skipped" => recap.skipped = value,
                    "rescued" => recap.rescued = value,
                    "ignored" => recap.ignored = value,
                    other => panic!("unknown recap key {other}"),
                }
            }
            hosts.insert(host.trim().to_string(), recap);
        }
        hosts
    }

    /// The recap of one host.
    pub fn recap_of(&self, host: &str) -> Recap {
        *self
            .recap()
            .get(host)
            .unwrap_or_else(|| panic!("{host} not in recap:\n{}", self.stdout))
    }

    /// `--json` events.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            })
            .collect()
    }

    /// Standard error with the project path replaced by `[DIR]`, for snapshots.
    pub fn stderr_redacted(&self) -> String {
        self.stderr.replace(&self.dir, "[DIR]")
    }

    /// Standard output with the project path replaced by `[DIR]`, for snapshots.
    pub fn stdout_redacted(&self) -> String {
        self.stdout.replace(&self.dir, "[DIR]")
    }
}
