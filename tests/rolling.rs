//! Rolling runs: batches, failure budgets, gates, windows, the lock, the journal and resume.

use crate::support::http::StatusServer;
use crate::support::Project;

/// Six local hosts in two groups.
const SIX_HOSTS: &str =
    "[kvm]\nkvm[1:4] ansible_connection=local\n[db]\ndb[1:2] ansible_connection=local\n";

fn fleet(play: &str) -> Project {
    Project::new().file("hosts.ini", SIX_HOSTS).playbook(play)
}

/// Lines the playbook wrote to `{dir}/order`, one per host and task. Hosts of one batch run
/// concurrently, so the lines are sorted: batch order is asserted through batch membership.
fn order(project: &Project) -> Vec<String> {
    let mut lines: Vec<String> = project.read("order").lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn serial_runs_hosts_batch_by_batch_with_ramps() {
    let project = fleet(
        "- hosts: all\n  gather_facts: false\n  serial: [1, 2, \"50%\"]\n  tasks:\n    - shell: echo {{ inventory_hostname }} {{ ansible_play_batch | join(',') }} >> {dir}/order\n",
    );
    let output = project.run(&["-i", "hosts.ini"]);
    output.expect_code(0);
    assert_eq!(
        order(&project),
        [
            "db1 kvm4,db1,db2",
            "db2 kvm4,db1,db2",
            "kvm1 kvm1",
            "kvm2 kvm2,kvm3",
            "kvm3 kvm2,kvm3",
            "kvm4 kvm4,db1,db2"
        ]
    );
    assert_eq!(
        output.stdout.matches("BATCH ").count(),
        3,
        "{}",
        output.stdout
    );
}

#[test]
fn max_fail_percentage_halts_only_when_exceeded() {
    let play = |pct: u32| {
        format!("- hosts: kvm\n  gather_facts: false\n  serial: 2\n  max_fail_percentage: {pct}\n  tasks:\n    - fail: msg=down\n      when: inventory_hostname == 'kvm1'\n    - shell: echo {{{{ inventory_hostname }}}} >> {{dir}}/order\n")
    };
    let exceeded = fleet(&play(49));
    let output = exceeded.run(&["-i", "hosts.ini"]);
    output.expect_code(2);
    assert!(
        !exceeded.join("order").exists(),
        "as in Ansible, the budget is checked after every task: once kvm1 failed, the batch's \
         remaining tasks run on no host\n{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("kvm3                       : not started"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("[HALTED]"), "{}", output.stdout);
    let reached = fleet(&play(50));
    reached.run(&["-i", "hosts.ini"]).expect_code(2);
    assert_eq!(
        order(&reached),
        ["kvm2", "kvm3", "kvm4"],
        "50% failed does not exceed 50%"
    );
}

#[test]
fn unreachable_hosts_have_their_own_budget() {
    let project = Project::new()
        .file(
            "hosts.yml",
            "all:\n  hosts:\n    a: {ansible_connection: local}\n    gone: {ansible_connection: winrm}\n    b: {ansible_connection: local}\n    c: {ansible_connection: local}\n",
        )
        .playbook("- hosts: all\n  serial: 2\n  max_fail_percentage: 0\n  max_unreachable_percentage: 50\n  tasks:\n    - shell: echo {{ inventory_hostname }} >> {dir}/order\n");
    let output = project.run(&["-i", "hosts.yml"]);
    output.expect_code(3);
    assert_eq!(
        order(&project),
        ["a", "b", "c"],
        "1 unreachable of 2 is within a 50% budget and not a failure"
    );
    let strict = Project::new()
        .file("hosts.yml", &project.read("hosts.yml"))
        .playbook("- hosts: all\n  serial: 2\n  max_unreachable_percentage: 0\n  tasks:\n    - shell: echo {{ inventory_hostname }} >> {dir}/order\n");
    let output = strict.run(&["-i", "hosts.yml"]);
    output.expect_code(3);
    assert_eq!(order(&strict), ["a"]);
    assert!(
        output
            .stdout
            .contains("c                          : not started"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_failing_http_gate_halts_before_the_next_batch() {
    let server = StatusServer::start(&[503]);
    let project = fleet(&format!(
        "- hosts: kvm\n  gather_facts: false\n  serial: 2\n  gates:\n    - name: API answers\n      http: {{ url: \"{}\", status: 200 }}\n      retries: 1\n      delay: 0\n  tasks:\n    - shell: echo {{{{ inventory_hostname }}}} >> {{dir}}/order\n",
        server.url
    ));
    let output = project.run(&["-i", "hosts.ini"]);
    output.expect_code(6);
    assert_eq!(order(&project), ["kvm1", "kvm2"]);
    assert_eq!(server.requests(), 2, "one try and one retry");
    assert!(
        output.stdout.contains("GATE [API answers]"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("503"), "{}", output.stdout);
    for host in ["kvm3", "kvm4"] {
        assert!(
            output.stdout.contains(&format!("{host:<26} : not started")),
            "{}",
            output.stdout
        );
    }
    let json = project.run(&["-i", "hosts.ini", "--json"]);
    let events = json.events();
    let gate = events
        .iter()
        .find(|e| e["event"] == "gate_result")
        .expect("gate event");
    assert_eq!(gate["passed"], false);
    let recap = events.last().expect("recap");
    assert_eq!(recap["not_started"], serde_json::json!(["kvm3", "kvm4"]));
}

#[test]
fn a_gate_passes_after_retries_and_the_run_goes_on() {
    let server = StatusServer::start(&[503, 503, 200]);
    let project = fleet(&format!(
        "- hosts: kvm\n  gather_facts: false\n  serial: 2\n  gates:\n    - http: {}\n      retries: 5\n      delay: 0\n  tasks:\n    - shell: echo {{{{ inventory_hostname }}}} >> {{dir}}/order\n",
        server.url
    ));
    project.run(&["-i", "hosts.ini"]).expect_code(0);
    assert_eq!(order(&project), ["kvm1", "kvm2", "kvm3", "kvm4"]);
    assert_eq!(
        server.requests(),
        4,
        "three attempts after batch 1, one after batch 2"
    );
}

#[test]
fn a_failing_gate_can_roll_the_batch_back() {
    let project = fleet(
        "- hosts: kvm\n  gather_facts: false\n  serial: 2\n  gates:\n    - command: \"test ! -e {dir}/kvm1\"\n  on_gate_failure: rollback\n  rollback:\n    - shell: rm {dir}/{{ inventory_hostname }}\n  tasks:\n    - shell: touch {dir}/{{ inventory_hostname }}\n",
    );
    project.run(&["-i", "hosts.ini"]).expect_code(6);
    for host in ["kvm1", "kvm2", "kvm3"] {
        assert!(
            !project.exists(host),
            "{host} must be rolled back or never started"
        );
    }
}

#[test]
fn a_host_that_fails_a_task_is_rolled_back_and_the_others_of_its_batch_are_not() {
    let project = fleet(
        "- hosts: kvm\n  gather_facts: false\n  serial: 2\n  on_gate_failure: rollback\n  \
         rollback:\n    - shell: touch {dir}/rolled-{{ inventory_hostname }}\n  tasks:\n    \
         - fail: {msg: broken}\n      when: inventory_hostname == 'kvm2'\n",
    );
    let output = project.run(&["-i", "hosts.ini"]);
    output.expect_code(2);
    assert!(project.exists("rolled-kvm2"), "{}", output.stdout);
    for host in ["kvm1", "kvm3", "kvm4"] {
        assert!(
            !project.exists(&format!("rolled-{host}")),
            "{host} rolled back"
        );
    }
    assert_eq!(output.recap_of("kvm2").failed, 1, "it stays failed");
    assert_eq!(output.recap_of("kvm2").changed, 1, "the rollback task ran");
}

#[test]
fn a_closed_window_stops_before_a_batch_and_emergency_ignores_it() {
    // A window on another weekday than today: always closed now.
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .weekday();
    let other = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        [(today.to_monday_zero_offset() as usize + 3) % 7];
    let play = format!("- hosts: kvm\n  gather_facts: false\n  serial: 2\n  window: \"{other} 01:00-02:00\"\n  tasks:\n    - shell: echo {{{{ inventory_hostname }}}} >> {{dir}}/order\n");
    let project = fleet(&play);
    let output = project.run(&["-i", "hosts.ini"]);
    output.expect_code(7);
    assert!(
        !project.exists("order"),
        "no batch may start outside the window"
    );
    assert!(
        output.stdout.contains("window opens next at"),
        "{}",
        output.stdout
    );
    let emergency = fleet(&play);
    emergency
        .run(&["-i", "hosts.ini", "--emergency"])
        .expect_code(0);
    assert_eq!(order(&emergency).len(), 4);
}

#[test]
fn a_second_concurrent_run_is_refused_by_the_lock() {
    let project = fleet("- hosts: kvm1\n  gather_facts: false\n  tasks:\n    - shell: touch {dir}/started; sleep 3\n");
    let mut first = project.spawn(&["run", "site.yml", "-i", "hosts.ini"]);
    project.wait_for_file("started");
    let second = project.run(&["-i", "hosts.ini"]);
    second.expect_code(8);
    assert!(
        second.stderr.contains("another rpatch run"),
        "{}",
        second.stderr
    );
    assert_eq!(
        second.stderr.trim().lines().count(),
        1,
        "one line for cron: {}",
        second.stderr
    );
    assert!(first.wait().expect("first run").success());
    project.run(&["-i", "hosts.ini"]).expect_code(0);
}

#[test]
fn plan_explains_topology_without_touching_hosts() {
    let project = Project::new()
        .file(
            "hosts.yml",
            "all:\n  children:\n    hypervisors:\n      hosts:\n        kvm01: {}\n        kvm02: {}\n    web:\n      hosts:\n        web01: {rpatch_hypervisor: kvm01}\n        web02: {rpatch_hypervisor: kvm02}\n        web03: {rpatch_hypervisor: kvm02}\n",
        )
        .playbook("- name: rolling\n  hosts: all\n  serial: 2\n  order: topology\n  max_unavailable:\n    web: 1\n  tasks:\n    - shell: touch {dir}/touched\n");
    let output = project.rpatch(&["plan", "site.yml", "-i", "hosts.yml"]);
    output.expect_code(0);
    assert!(!project.exists("touched"));
    insta::assert_snapshot!(output.stdout);
}

#[test]
fn runs_lists_runs_and_shows_the_recap_from_the_journal() {
    let project = fleet("- hosts: kvm\n  gather_facts: false\n  serial: 2\n  tasks:\n    - shell: echo hi\n    - debug: msg=x\n");
    project.run(&["-i", "hosts.ini"]).expect_code(0);
    let id = project.only_run_id();
    let list = project.rpatch(&["runs"]);
    list.expect_code(0);
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_default();
    let columns: Vec<&str> = line.split_whitespace().collect();
    // RUN, STARTED (date, time), DURATION, STATUS, OK, FAILED, UNREACH, NOT RUN, PLAYBOOK
    assert_eq!(
        columns.get(4..9),
        Some(&["ok", "4", "0", "0", "0"][..]),
        "{}",
        list.stdout
    );
    let show = project.rpatch(&["runs", "show", &id]);
    show.expect_code(0);
    assert!(
        show.stdout.contains(
            "kvm3                       : ok=2    changed=1    unreachable=0    failed=0"
        ),
        "{}",
        show.stdout
    );
}

#[test]
fn the_journal_holds_no_secrets() {
    let project = fleet(
        "- hosts: kvm1\n  gather_facts: false\n  vars:\n    db_password: hunter2-secret\n  tasks:\n    - shell: echo {{ db_password }} {{ token }}\n      no_log: true\n    - debug: msg={{ db_password }}\n",
    );
    project
        .run(&["-i", "hosts.ini", "-e", "token=tok-secret"])
        .expect_code(0);
    let journal =
        std::fs::read_to_string(project.journal(&project.only_run_id())).expect("journal");
    assert!(
        !journal.contains("hunter2") && !journal.contains("tok-secret"),
        "{journal}"
    );
    assert!(
        journal.contains("\"token\""),
        "extra variable names are kept for resume: {journal}"
    );
}

/// A run of 3 batches where every task appends to a per-host count file; the last task of the
/// play is the "completion" marker. `stop_at` names a file whose appearance kills the run.
fn kill_and_resume(stop_at: &str) {
    let project = fleet(
        "- hosts: all\n  gather_facts: false\n  serial: 2\n  tasks:\n    - shell: echo start >> {dir}/{{ inventory_hostname }}.runs\n    - shell: touch {dir}/{{ inventory_hostname }}.mid; sleep 0.3\n    - shell: echo done >> {dir}/{{ inventory_hostname }}.completed\n",
    );
    let mut child = project.spawn(&["run", "site.yml", "-i", "hosts.ini"]);
    project.wait_for_file(stop_at);
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let id = project.only_run_id();
    let resumed = project.rpatch(&["resume", &id]);
    resumed.expect_code(0);
    for host in ["kvm1", "kvm2", "kvm3", "kvm4", "db1", "db2"] {
        assert_eq!(
            project.read(&format!("{host}.completed")),
            "done\n",
            "{host} must complete exactly once (killed at {stop_at})\n{}",
            resumed.stdout
        );
    }
    let again = project.rpatch(&["resume", &id]);
    again.expect_code(5);
    assert!(
        again.stderr.contains("already finished"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_run_killed_at_the_start_of_batch_2_resumes_to_completion() {
    kill_and_resume("kvm3.runs");
}

#[test]
fn a_run_killed_in_the_middle_of_batch_2_resumes_to_completion() {
    kill_and_resume("kvm4.mid");
}

#[test]
fn a_run_killed_in_the_last_batch_resumes_to_completion() {
    kill_and_resume("db1.mid");
}

#[test]
fn resume_refuses_unknown_runs_and_asks_for_the_extra_vars_again() {
    let project = fleet("- hosts: kvm1\n  gather_facts: false\n  tasks:\n    - shell: touch {dir}/started; sleep 30\n");
    let unknown = project.rpatch(&["resume", "20260101T000000Z-dead"]);
    unknown.expect_code(5);
    assert!(unknown.stderr.contains("no run"), "{}", unknown.stderr);
    let mut child = project.spawn(&[
        "run",
        "site.yml",
        "-i",
        "hosts.ini",
        "-e",
        "patch_level=security",
    ]);
    project.wait_for_file("started");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let id = project.only_run_id();
    let missing = project.rpatch(&["resume", &id]);
    missing.expect_code(5);
    assert!(missing.stderr.contains("patch_level"), "{}", missing.stderr);
}

#[test]
fn a_corrupted_journal_line_is_reported_and_never_guessed_past() {
    let project =
        fleet("- hosts: kvm\n  gather_facts: false\n  serial: 1\n  tasks:\n    - shell: echo hi\n");
    project.run(&["-i", "hosts.ini"]).expect_code(0);
    let id = project.only_run_id();
    let path = project.journal(&id);
    let text = std::fs::read_to_string(&path).expect("journal");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[2] = "{\"at\": garbage".to_string();
    std::fs::write(&path, lines.join("\n") + "\n").expect("write journal");
    let output = project.rpatch(&["runs", "show", &id]);
    output.expect_code(4);
    assert!(output.stderr.contains("line 3"), "{}", output.stderr);
}

#[test]
fn bad_rolling_settings_are_located_errors() {
    let cases = [
        ("  serial: 0\n", "site.yml:3:11"),
        ("  serial: \"150%\"\n", "site.yml:3:11"),
        ("  serial: []\n", "site.yml:3:11"),
        ("  window: \"Funday 25:00-26:00\"\n", "site.yml:3:11"),
        ("  gates:\n    - name: nothing\n", "site.yml:4:7"),
        (
            "  gates:\n    - http: http://127.0.0.1:1/\n      tcp: \"127.0.0.1:1\"\n",
            "site.yml:5:7",
        ),
        (
            "  gates:\n    - prometheus: {url: \"http://127.0.0.1:1\"}\n",
            "site.yml:4:20",
        ),
        (
            "  gates:\n    - command: \"true\"\n      retries: -1\n",
            "site.yml:5:16",
        ),
    ];
    for (setting, location) in cases {
        let project = fleet(&format!("- hosts: kvm\n  gather_facts: false\n{setting}  tasks:\n    - shell: touch {{dir}}/touched\n"));
        let output = project.run(&["-i", "hosts.ini"]);
        output.expect_code(4);
        assert!(!project.exists("touched"));
        assert!(
            output.stderr.contains(location),
            "{setting:?}: expected {location} in\n{}",
            output.stderr
        );
    }
    let project =
        fleet("- hosts: kvm\n  gather_facts: false\n  tasks:\n    - shell: touch {dir}/touched\n");
    let output = project.run(&["-i", "hosts.ini", "--serial", "0"]);
    output.expect_code(5);
}
