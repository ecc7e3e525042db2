//! The state directory and the run lock: where runs and locks live, and that neither another
//! current directory, another `--runs-dir` nor another `-i` order runs one rollout twice.

use std::os::unix::fs::PermissionsExt;
use std::process::Child;

use crate::support::Project;

/// A play that holds its run (and so the lock) from `started` until `release` appears.
const HOLD: &str = "- hosts: kvm1\n  gather_facts: false\n  tasks:\n    - shell: touch {dir}/started; for i in $(seq 600); do [ -e {dir}/release ] && exit 0; sleep 0.1; done; exit 1\n";

/// Two inventories and two playbooks: `site.yml` holds, `other.yml` is quick.
fn rollout() -> Project {
    Project::new()
        .file("hosts.ini", "[kvm]\nkvm1 ansible_connection=local\n")
        .file("extra.ini", "[db]\ndb1 ansible_connection=local\n")
        .playbook(HOLD)
        .file(
            "other.yml",
            "- hosts: kvm1\n  gather_facts: false\n  tasks:\n    - debug: msg=other\n",
        )
}

/// Starts `rpatch run site.yml ARGS...` in the project and waits until it holds the lock.
fn hold(project: &Project, args: &[&str]) -> Child {
    let mut all = vec!["run", "site.yml"];
    all.extend_from_slice(args);
    let child = project.spawn(&all);
    project.wait_for_file("started");
    child
}

/// Lets a [`hold`]ing run finish and checks that it did.
fn release(project: &Project, mut child: Child) {
    std::fs::write(project.join("release"), "").expect("release");
    assert!(child.wait().expect("holding run").success());
}

/// The lock files in the project's state directory.
fn locks(project: &Project) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(project.state_dir().join("locks")) {
        Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn path(project: &Project, relative: &str) -> String {
    project.join(relative).display().to_string()
}

/// Asserts a refusal by the lock: exit 8 and one line naming the rollout's absolute paths.
fn assert_locked(project: &Project, output: &crate::support::Output) {
    output.expect_code(8);
    let line = output.stderr.trim();
    assert_eq!(line.lines().count(), 1, "one line for cron: {line}");
    assert!(line.contains("another rpatch run"), "{line}");
    assert!(line.contains(&path(project, "site.yml")), "{line}");
    assert!(line.contains(&path(project, "hosts.ini")), "{line}");
}

#[test]
fn the_same_rollout_from_another_directory_is_refused_by_the_lock() {
    let project = rollout();
    let first = hold(&project, &["-i", "hosts.ini"]);
    let elsewhere = tempfile::tempdir().expect("another cwd");
    let second = project.rpatch_in(
        elsewhere.path(),
        &[
            "run",
            &path(&project, "site.yml"),
            "-i",
            &path(&project, "hosts.ini"),
        ],
    );
    assert_locked(&project, &second);
    assert!(
        !elsewhere.path().join(".rpatch").exists(),
        "nothing is kept relative to the current directory"
    );
    release(&project, first);
}

#[test]
fn swapping_or_repeating_inventories_does_not_bypass_the_lock() {
    let project = rollout();
    let first = hold(&project, &["-i", "hosts.ini", "-i", "extra.ini"]);
    let swapped = project.run(&["-i", "extra.ini", "-i", "hosts.ini"]);
    assert_locked(&project, &swapped);
    assert!(swapped.stderr.contains(&path(&project, "extra.ini")));
    let repeated = project.run(&["-i", "extra.ini", "-i", "./hosts.ini", "-i", "hosts.ini"]);
    assert_locked(&project, &repeated);
    release(&project, first);
    // Only one of the inventories is another rollout, with a lock of its own.
    project.run(&["-i", "hosts.ini"]).expect_code(0);
}

#[test]
fn another_runs_dir_does_not_bypass_the_lock() {
    let project = rollout();
    let first = hold(&project, &["-i", "hosts.ini"]);
    let second = project.run(&["-i", "hosts.ini", "--runs-dir", "elsewhere"]);
    assert_locked(&project, &second);
    let by_env = project.output(
        project
            .command()
            .env("RPATCH_RUNS_DIR", project.join("from-env"))
            .args(["run", "site.yml", "-i", "hosts.ini"]),
    );
    assert_locked(&project, &by_env);
    assert_eq!(locks(&project).len(), 1, "{:?}", locks(&project));
    release(&project, first);
    // `--runs-dir` still decides where the journal goes.
    project
        .run(&["-i", "hosts.ini", "--runs-dir", "elsewhere"])
        .expect_code(0);
    let runs: Vec<_> = std::fs::read_dir(project.join("elsewhere"))
        .expect("runs dir")
        .collect();
    assert_eq!(runs.len(), 1);
    assert!(locks(&project).is_empty(), "released locks are removed");
}

#[test]
fn different_playbooks_on_one_inventory_run_at_the_same_time() {
    let project = rollout();
    let first = hold(&project, &["-i", "hosts.ini"]);
    let other = project.rpatch(&["run", "other.yml", "-i", "hosts.ini"]);
    other.expect_code(0);
    assert!(other.stdout.contains("msg"), "{}", other.stdout);
    release(&project, first);
}

#[test]
fn rpatch_state_dir_holds_runs_and_locks_and_is_created_private() {
    let project = rollout();
    let state = project.join("nested/state");
    let project = project.env("RPATCH_STATE_DIR", &state.display().to_string());
    let first = hold(&project, &["-i", "hosts.ini"]);
    let locks: Vec<_> = std::fs::read_dir(state.join("locks"))
        .expect("locks in RPATCH_STATE_DIR")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(locks.len(), 1);
    let lock = std::fs::read_to_string(&locks[0]).expect("lock file");
    let info: serde_json::Value = serde_json::from_str(&lock).expect("json");
    assert_eq!(info["playbook"], path(&project, "site.yml"));
    assert_eq!(info["inventories"][0], path(&project, "hosts.ini"));
    release(&project, first);
    for dir in [&state, &state.join("runs"), &state.join("locks")] {
        let mode = std::fs::metadata(dir).expect("stat").permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", dir.display());
    }
    let runs: Vec<_> = std::fs::read_dir(state.join("runs"))
        .expect("runs in RPATCH_STATE_DIR")
        .collect();
    assert_eq!(runs.len(), 1);
    assert!(!project.exists(".rpatch"));
}

#[test]
fn without_rpatch_state_dir_runs_go_to_xdg_state_home_then_home() {
    let project = Project::new()
        .playbook("- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=x\n");
    let home = project.join("home");
    let xdg = project.join("xdg");
    let run = |command: &mut std::process::Command| {
        let output = project.output(command.args(["run", "site.yml"]));
        output.expect_code(0);
    };
    run(project
        .command()
        .env_remove("RPATCH_STATE_DIR")
        .env("XDG_STATE_HOME", &xdg));
    assert!(xdg.join("rpatch/runs").is_dir());
    run(project
        .command()
        .env_remove("RPATCH_STATE_DIR")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", &home));
    assert!(home.join(".local/state/rpatch/runs").is_dir());
    let relative = project.output(
        project
            .command()
            .env("RPATCH_STATE_DIR", "state")
            .args(["run", "site.yml"]),
    );
    relative.expect_code(5);
    assert!(
        relative
            .stderr
            .contains("RPATCH_STATE_DIR must be an absolute path"),
        "{}",
        relative.stderr
    );
}

#[test]
fn a_lock_left_by_a_killed_run_is_taken_over_with_a_warning() {
    let project = rollout();
    let mut first = hold(&project, &["-i", "hosts.ini"]);
    let pid = first.id();
    first.kill().expect("SIGKILL");
    first.wait().expect("reap");
    assert_eq!(
        locks(&project).len(),
        1,
        "a killed run leaves its lock file"
    );
    // The killed run's task shell waits for `release`; let it go.
    std::fs::write(project.join("release"), "").expect("release");
    let next = project.run(&["-i", "hosts.ini"]);
    next.expect_code(0);
    assert!(
        next.stderr.contains(&format!(
            "[WARNING]: took over a stale run lock of process {pid}"
        )),
        "{}",
        next.stderr
    );
}

#[test]
fn runs_and_resume_find_runs_from_any_directory() {
    let project = rollout().playbook(
        "- hosts: all\n  gather_facts: false\n  serial: 1\n  tasks:\n    - shell: echo run >> {dir}/{{ inventory_hostname }}.runs\n    - shell: touch {dir}/{{ inventory_hostname }}.mid; [ {{ inventory_hostname }} != db1 ] || [ -e {dir}/release ] || sleep 30\n",
    );
    let mut child = project.spawn(&["run", "site.yml", "-i", "hosts.ini", "-i", "extra.ini"]);
    project.wait_for_file("db1.mid");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    std::fs::write(project.join("release"), "").expect("release");
    let id = project.only_run_id();
    let elsewhere = tempfile::tempdir().expect("another cwd");
    let list = project.rpatch_in(elsewhere.path(), &["runs"]);
    list.expect_code(0);
    assert!(
        list.stdout.contains(&id) && list.stdout.contains(&path(&project, "site.yml")),
        "{}",
        list.stdout
    );
    project
        .rpatch_in(elsewhere.path(), &["runs", "show", &id])
        .expect_code(0);
    let resumed = project.rpatch_in(elsewhere.path(), &["resume", &id]);
    resumed.expect_code(0);
    assert_eq!(project.read("kvm1.runs"), "run\n", "kvm1 had finished");
    assert_eq!(project.read("db1.runs"), "run\nrun\n", "db1 starts over");
}

#[test]
fn a_run_kept_by_an_older_rpatch_is_pointed_to() {
    let id = "20260101T000000Z-beef";
    let project = Project::new().file(&format!(".rpatch/runs/{id}/journal.jsonl"), "");
    let output = project.rpatch(&["resume", id]);
    output.expect_code(5);
    assert!(
        output.stderr.contains("--runs-dir .rpatch/runs"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains(&project.runs_dir().display().to_string()),
        "says where it looked: {}",
        output.stderr
    );
}
