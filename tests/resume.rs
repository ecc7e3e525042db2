//! `rpatch resume`: halted runs go on after the operator fixed the cause, a resumed run connects
//! as the original did, an edited playbook is refused, and hosts that finished are never run
//! again — not even those that finished in the batch a Ctrl-C interrupted.

use crate::support::fleet::{self, Fleet};
use crate::support::Project;

/// Four local hosts.
const KVM: &str = "[kvm]\nkvm[1:4] ansible_connection=local\n";

/// Hosts that ran the play's last task, once per line, sorted.
fn completed(project: &Project) -> Vec<String> {
    if !project.exists("order") {
        return Vec::new();
    }
    let mut lines: Vec<String> = project.read("order").lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// Writes one line per host to `{dir}/order` as its last task.
const RECORD: &str = "    - shell: echo {{ inventory_hostname }} >> {dir}/order\n";

#[test]
fn a_run_halted_by_a_gate_continues_from_the_halted_batch_once_the_gate_passes() {
    let project = Project::new().file("hosts.ini", KVM).playbook(&format!(
        "- hosts: kvm\n  gather_facts: false\n  serial: 2\n  gates:\n    - name: service healthy\n      command: \"test -e {{dir}}/healthy\"\n  tasks:\n{RECORD}"
    ));
    project.run(&["-i", "hosts.ini"]).expect_code(6);
    assert_eq!(completed(&project), ["kvm1", "kvm2"]);
    let id = project.only_run_id();

    // The cause is not fixed yet: the gate of the halted batch fails again, nothing runs.
    let again = project.rpatch(&["resume", &id]);
    again.expect_code(6);
    assert_eq!(completed(&project), ["kvm1", "kvm2"], "{}", again.stdout);
    assert!(
        again.stdout.contains("checking its gates again"),
        "{}",
        again.stdout
    );

    std::fs::write(project.join("healthy"), "").expect("fix the cause");
    let resumed = project.rpatch(&["resume", &id]);
    resumed.expect_code(0);
    assert_eq!(
        completed(&project),
        ["kvm1", "kvm2", "kvm3", "kvm4"],
        "the rollout goes on and finished hosts are not run again\n{}",
        resumed.stdout
    );
    let list = project.rpatch(&["runs"]);
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_default();
    assert!(line.contains(" ok "), "{}", list.stdout);
    let finished = project.rpatch(&["resume", &id]);
    finished.expect_code(5);
    assert!(
        finished.stderr.contains("already finished"),
        "{}",
        finished.stderr
    );
}

#[test]
fn failed_hosts_of_a_halted_run_run_again_only_with_retry_failed() {
    let project = Project::new()
        .file("hosts.ini", KVM)
        .file("broken-kvm1", "")
        .playbook(&format!(
            "- hosts: kvm\n  gather_facts: false\n  serial: 2\n  max_fail_percentage: 0\n  tasks:\n    - shell: test ! -e {{dir}}/broken-{{{{ inventory_hostname }}}}\n{RECORD}"
        ));
    project.run(&["-i", "hosts.ini"]).expect_code(2);
    assert!(
        completed(&project).is_empty(),
        "the budget ran out after the first task: kvm2 stopped too"
    );
    let id = project.only_run_id();
    std::fs::remove_file(project.join("broken-kvm1")).expect("fix kvm1");

    let resumed = project.rpatch(&["resume", &id]);
    resumed.expect_code(0);
    assert_eq!(
        completed(&project),
        ["kvm2", "kvm3", "kvm4"],
        "the failed host waits for --retry-failed\n{}",
        resumed.stdout
    );
    let refused = project.rpatch(&["resume", &id]);
    refused.expect_code(5);
    assert!(
        refused.stderr.contains("--retry-failed"),
        "the refusal says how to retry: {}",
        refused.stderr
    );

    let retried = project.rpatch(&["resume", &id, "--retry-failed"]);
    retried.expect_code(0);
    assert!(
        retried.stderr.contains("running again on kvm1"),
        "{}",
        retried.stderr
    );
    assert_eq!(completed(&project), ["kvm1", "kvm2", "kvm3", "kvm4"]);
}

#[test]
fn unreachable_hosts_of_a_halted_run_are_retried() {
    let inventory = |kvm2: &str| {
        format!("all:\n  hosts:\n    kvm1: {{ansible_connection: local}}\n    kvm2: {{ansible_connection: {kvm2}}}\n    kvm3: {{ansible_connection: local}}\n")
    };
    let project = Project::new()
        .file("hosts.yml", &inventory("winrm"))
        .playbook(&format!(
            "- hosts: all\n  gather_facts: false\n  serial: 2\n  max_unreachable_percentage: 0\n  tasks:\n{RECORD}"
        ));
    project.run(&["-i", "hosts.yml"]).expect_code(3);
    assert_eq!(completed(&project), ["kvm1"]);
    let id = project.only_run_id();
    std::fs::write(project.join("hosts.yml"), inventory("local")).expect("fix kvm2");
    let resumed = project.rpatch(&["resume", &id]);
    resumed.expect_code(0);
    assert_eq!(
        completed(&project),
        ["kvm1", "kvm2", "kvm3"],
        "{}",
        resumed.stdout
    );
}

#[test]
fn a_playbook_changed_since_the_run_started_is_refused_unless_forced() {
    let project = Project::new()
        .file("hosts.ini", KVM)
        .file("vars.yml", "greeting: hello\n")
        .playbook(&format!(
            "- hosts: kvm\n  gather_facts: false\n  serial: 2\n  vars_files: [vars.yml]\n  gates:\n    - command: \"test -e {{dir}}/healthy\"\n  tasks:\n{RECORD}"
        ));
    project.run(&["-i", "hosts.ini"]).expect_code(6);
    let id = project.only_run_id();
    std::fs::write(project.join("healthy"), "").expect("fix the cause");
    std::fs::write(project.join("vars.yml"), "greeting: changed\n").expect("edit");

    let refused = project.rpatch(&["resume", &id]);
    refused.expect_code(5);
    assert!(
        refused.stderr.contains("changed since the run started")
            && refused.stderr.contains("vars.yml")
            && refused.stderr.contains("--force"),
        "{}",
        refused.stderr
    );
    assert_eq!(completed(&project), ["kvm1", "kvm2"], "nothing ran");

    let forced = project.rpatch(&["resume", &id, "--force"]);
    forced.expect_code(0);
    assert!(forced.stderr.contains("[WARNING]"), "{}", forced.stderr);
    assert_eq!(completed(&project), ["kvm1", "kvm2", "kvm3", "kvm4"]);
}

#[test]
fn a_journal_from_before_connection_options_resumes_with_the_flags_given() {
    let project = Project::new().file("hosts.ini", KVM).playbook(&format!(
        "- hosts: kvm\n  gather_facts: false\n  serial: 2\n  gates:\n    - command: \"test -e {{dir}}/healthy\"\n  tasks:\n{RECORD}"
    ));
    project.run(&["-i", "hosts.ini"]).expect_code(6);
    let id = project.only_run_id();
    // Rewrite run_start as an older rpatch wrote it: no connection options, no digest.
    let path = project.journal(&id);
    let text = std::fs::read_to_string(&path).expect("journal");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut start: serde_json::Value = serde_json::from_str(&lines[0]).expect("run_start");
    let settings = start["settings"].as_object_mut().expect("settings");
    assert!(settings.remove("connection").is_some(), "{}", lines[0]);
    assert!(settings.remove("digest").is_some(), "{}", lines[0]);
    lines[0] = start.to_string();
    std::fs::write(&path, lines.join("\n") + "\n").expect("write journal");

    std::fs::write(project.join("healthy"), "").expect("fix the cause");
    let resumed = project.rpatch(&["resume", &id, "--task-timeout", "60"]);
    resumed.expect_code(0);
    assert!(
        resumed
            .stderr
            .contains("predates recorded connection options")
            && resumed.stderr.contains("predates playbook digests"),
        "{}",
        resumed.stderr
    );
    assert_eq!(completed(&project), ["kvm1", "kvm2", "kvm3", "kvm4"]);
}

/// A recap line of a host that ran one `command` task and was reached.
fn recap_line(host: &str) -> String {
    format!("{host:<26} : ok=1    changed=1    unreachable=0    failed=0")
}

#[test]
fn a_resumed_run_connects_with_the_runs_ssh_options() {
    let fleet = Fleet::new().hosts(3).start();
    let home = tempfile::tempdir().expect("home without ~/.ssh");
    // No RPATCH_KNOWN_HOSTS / RPATCH_SSH_CONFIG and an empty home: only the flags given to
    // `run` let rpatch verify the fleet's host keys.
    let project = fleet
        .project()
        .env_remove("RPATCH_KNOWN_HOSTS")
        .env_remove("RPATCH_SSH_CONFIG")
        .env("HOME", &home.path().display().to_string())
        .playbook("- hosts: all\n  gather_facts: false\n  serial: 1\n  gates:\n    - command: \"test -e {dir}/healthy\"\n  tasks:\n    - command: id -un\n");
    let known_hosts = fleet.known_hosts().display().to_string();
    let ssh_config = fleet.ssh_config().display().to_string();
    let run = project.run(&[
        "-F",
        &ssh_config,
        "--known-hosts",
        &known_hosts,
        "--host-key-checking",
        "strict",
        "--task-timeout",
        "120",
        "-T",
        "90",
        "--ssh-common-args",
        "-o ServerAliveInterval=30",
    ]);
    run.expect_code(6);
    assert!(run.stdout.contains(&recap_line("node01")), "{}", run.stdout);
    let id = project.only_run_id();
    let journal = std::fs::read_to_string(project.journal(&id)).expect("journal");
    assert!(
        journal.contains(&format!("\"known_hosts\":[\"{known_hosts}\"]"))
            && journal.contains(&format!("\"ssh_config\":\"{ssh_config}\""))
            && journal.contains("\"timeout\":120")
            && journal.contains("\"connect_timeout\":90")
            && journal.contains("\"ssh_args\":[\"-o\",\"ServerAliveInterval=30\"]"),
        "{journal}"
    );

    std::fs::write(project.join("healthy"), "").expect("fix the cause");
    let resumed = project.rpatch(&["resume", &id]);
    resumed.expect_code(0);
    for host in ["node02", "node03"] {
        assert!(
            resumed.stdout.contains(&recap_line(host)),
            "{host} connects as the run did\n{}",
            resumed.stdout
        );
    }
    assert!(
        !resumed.stdout.contains("node01 "),
        "node01 finished before the halt\n{}",
        resumed.stdout
    );
    assert!(!resumed.stderr.contains("WARNING"), "{}", resumed.stderr);
}

#[test]
fn the_become_password_is_asked_again_on_resume_and_never_journaled() {
    // sudo asks this account for its password: only -K's answer lets `become` work.
    let fleet = Fleet::new().user(fleet::password_user()).hosts(2).start();
    let project = fleet.project().playbook(
        "- hosts: all\n  gather_facts: false\n  serial: 1\n  gates:\n    - command: \"test -e {dir}/healthy\"\n  tasks:\n    - command: id -u\n      become: true\n      register: uid\n    - assert:\n        that: uid.stdout == '0'\n",
    );
    let secret = format!("{}\n", fleet::password());
    let mut run = project.command();
    run.args(["run", "site.yml", "-K"]);
    project.output_with_stdin(&mut run, &secret).expect_code(6);
    let id = project.only_run_id();
    let journal = || std::fs::read_to_string(project.journal(&id)).expect("journal");
    assert!(
        journal().contains("\"ask_become_pass\":true"),
        "{}",
        journal()
    );
    std::fs::write(project.join("healthy"), "").expect("fix the cause");

    // The resume asks again: a wrong answer fails node02's become...
    let mut wrong = project.command();
    wrong.args(["resume", &id]);
    let failed = project.output_with_stdin(&mut wrong, "not-the-password\n");
    failed.expect_code(2);
    // ...and the right one lets it through.
    let mut right = project.command();
    right.args(["resume", &id, "--retry-failed"]);
    let resumed = project.output_with_stdin(&mut right, &secret);
    resumed.expect_code(0);
    assert!(
        resumed
            .stdout
            .contains("node02                     : ok=2    changed=1"),
        "{}",
        resumed.stdout
    );
    assert!(!journal().contains(fleet::password()), "{}", journal());
}

#[test]
fn hosts_that_finished_before_a_ctrl_c_are_not_run_again_by_resume() {
    // Batch 1's last task is still running on both hosts when Ctrl-C comes: it finishes, the
    // hosts are done (the recap says so) and resume must not run them again.
    let project = Project::new().file("hosts.ini", KVM).playbook(
        "- hosts: kvm\n  gather_facts: false\n  serial: 2\n  tasks:\n    - shell: echo {{ inventory_hostname }} >> {dir}/started\n    - shell: touch {dir}/{{ inventory_hostname }}.last; sleep 1; echo {{ inventory_hostname }} >> {dir}/order\n",
    );
    let child = project
        .command()
        .args(["run", "site.yml", "-i", "hosts.ini"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn rpatch");
    project.wait_for_file("kvm1.last");
    project.wait_for_file("kvm2.last");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: signals our own child process, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0, "SIGINT");
    let interrupted = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&interrupted.stdout);
    assert_eq!(interrupted.status.code(), Some(99), "{stdout}");
    assert!(
        stdout.contains("kvm1                       : ok=2"),
        "the recap shows kvm1 done\n{stdout}"
    );
    assert_eq!(completed(&project), ["kvm1", "kvm2"]);

    let id = project.only_run_id();
    let resumed = project.rpatch(&["resume", &id]);
    resumed.expect_code(0);
    assert_eq!(
        completed(&project),
        ["kvm1", "kvm2", "kvm3", "kvm4"],
        "each host runs its play exactly once\n{}",
        resumed.stdout
    );
    let mut started: Vec<String> = project
        .read("started")
        .lines()
        .map(str::to_string)
        .collect();
    started.sort();
    assert_eq!(started, ["kvm1", "kvm2", "kvm3", "kvm4"]);
}

#[test]
fn a_host_that_failed_before_the_controller_was_killed_is_not_run_again() {
    // kvm1 fails its first task and leaves the play while kvm2 goes on; the controller dies
    // (SIGKILL, no chance to write anything more) during kvm2's second task.
    let project = Project::new().file("hosts.ini", KVM).playbook(
        "- hosts: kvm\n  gather_facts: false\n  serial: 2\n  tasks:\n    - shell: echo {{ inventory_hostname }} >> {dir}/attempts; test {{ inventory_hostname }} != kvm1\n    - shell: touch {dir}/{{ inventory_hostname }}.mid; test -e {dir}/killed || sleep 5\n",
    );
    let mut child = project.spawn(&["run", "site.yml", "-i", "hosts.ini"]);
    project.wait_for_file("kvm2.mid");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    std::fs::write(project.join("killed"), "").expect("marker");

    let id = project.only_run_id();
    let resumed = project.rpatch(&["resume", &id]);
    resumed.expect_code(0);
    let mut attempts: Vec<String> = project
        .read("attempts")
        .lines()
        .map(str::to_string)
        .collect();
    attempts.sort();
    assert_eq!(
        attempts,
        ["kvm1", "kvm2", "kvm2", "kvm3", "kvm4"],
        "kvm1 failed before the kill and stays failed; kvm2 was mid-play and starts over\n{}",
        resumed.stdout
    );
}

#[test]
fn a_run_halted_by_a_pre_flight_gate_is_shown_and_resumed() {
    let project = Project::new().file("hosts.ini", KVM).playbook(&format!(
        "- hosts: kvm\n  gather_facts: false\n  serial: 2\n  preflight_gates:\n    - name: change freeze lifted\n      command: \"test -e {{dir}}/go\"\n  tasks:\n{RECORD}"
    ));
    project.run(&["-i", "hosts.ini"]).expect_code(6);
    assert_eq!(completed(&project), Vec::<String>::new());
    let id = project.only_run_id();
    let show = project.rpatch(&["runs", "show", &id]);
    show.expect_code(0);
    std::fs::write(project.join("go"), "").expect("lift the freeze");
    project.rpatch(&["resume", &id]).expect_code(0);
    assert_eq!(completed(&project), ["kvm1", "kvm2", "kvm3", "kvm4"]);
}
