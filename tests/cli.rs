//! The command line itself: help, listing, check, inventory views.

use crate::support::Project;

#[test]
fn help_lists_the_subcommands() {
    let output = Project::new().rpatch(&["--help"]);
    output.expect_code(0);
    insta::assert_snapshot!(output.stdout);
}

#[test]
fn run_help_documents_every_option() {
    let output = Project::new().rpatch(&["run", "--help"]);
    output.expect_code(0);
    insta::assert_snapshot!(output.stdout);
}

#[test]
fn completion_scripts_are_valid_and_know_the_subcommands_and_options() {
    let project = Project::new();
    let bash = project.rpatch(&["completions", "bash"]);
    bash.expect_code(0);
    for word in ["resume", "completions", "--limit", "--extra-vars"] {
        assert!(bash.stdout.contains(word), "bash completion lacks {word}");
    }
    let checked = std::process::Command::new("bash")
        .args(["-n", "-c", &bash.stdout])
        .status()
        .expect("bash");
    assert!(checked.success(), "bash -n rejects the completion script");
    for (shell, marker) in [("zsh", "#compdef rpatch"), ("fish", "complete -c rpatch")] {
        let output = project.rpatch(&["completions", shell]);
        output.expect_code(0);
        assert!(output.stdout.contains(marker), "{shell}: {}", output.stdout);
    }
    let unknown = project.rpatch(&["completions", "nushell"]);
    unknown.expect_code(5);
    assert!(
        unknown.stderr.contains("possible values: bash"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn the_man_page_is_roff_naming_every_subcommand() {
    let output = Project::new().rpatch(&["man"]);
    output.expect_code(0);
    assert!(output.stdout.starts_with(".ie"), "{}", output.stdout);
    assert!(output.stdout.contains(".TH rpatch 1"), "{}", output.stdout);
    for subcommand in [
        "run",
        "check",
        "inventory",
        "plan",
        "runs",
        "resume",
        "adhoc",
        "patch",
        "completions",
    ] {
        assert!(
            output.stdout.contains(&format!("rpatch\\-{subcommand}(1)")),
            "man page lacks {subcommand}"
        );
    }
}

#[test]
fn list_hosts_and_tasks_touch_nothing() {
    let project = Project::new()
        .file("hosts.ini", "[kvm]\nkvm[01:03] ansible_connection=local\n")
        .playbook("- name: patch\n  hosts: kvm\n  gather_facts: false\n  tasks:\n    - name: upgrade\n      shell: touch {dir}/touched\n      tags: [patch]\n    - name: report\n      debug: msg=x\n");
    let output = project.rpatch(&[
        "run",
        "site.yml",
        "-i",
        "hosts.ini",
        "--list-hosts",
        "--list-tasks",
        "-l",
        "kvm01:kvm02",
    ]);
    output.expect_code(0);
    assert!(!project.exists("touched"));
    insta::assert_snapshot!(output.stdout);
}

#[test]
fn check_validates_without_running() {
    let project =
        Project::new().playbook("- hosts: all\n  tasks:\n    - shell: touch {dir}/touched\n");
    let output = project.rpatch(&["check", "site.yml"]);
    output.expect_code(0);
    assert!(
        output
            .stdout
            .contains("OK (1 play, 1 task, 1 inventory host)"),
        "{}",
        output.stdout
    );
    assert!(!project.exists("touched"));
}

#[test]
fn check_and_inventory_take_a_limit_like_run() {
    let project = Project::new()
        .file(
            "hosts.ini",
            "[kvm]\nkvm[01:03] ansible_connection=local\n[guests]\nweb01\n",
        )
        .file("retry.txt", "# failed hosts\nkvm02\n")
        .playbook("- hosts: all\n  tasks:\n    - shell: touch {dir}/touched\n");
    let check = project.rpatch(&["check", "site.yml", "-i", "hosts.ini", "-l", "kvm:!kvm01"]);
    check.expect_code(0);
    assert!(
        check.stdout.contains("4 inventory hosts, 2 in the limit)"),
        "{}",
        check.stdout
    );
    let typo = project.rpatch(&["check", "site.yml", "-i", "hosts.ini", "-l", "kmv01"]);
    typo.expect_code(4);
    assert!(
        typo.stderr.contains("did you mean `kvm01`?"),
        "{}",
        typo.stderr
    );
    let graph = project.rpatch(&[
        "inventory",
        "-i",
        "hosts.ini",
        "--graph",
        "-l",
        "@retry.txt",
    ]);
    graph.expect_code(0);
    assert_eq!(
        graph.stdout,
        "@all:\n  |--@ungrouped:\n  |--@kvm:\n  |  |--kvm02\n  |--@guests:\n"
    );
    let list = project.rpatch(&["inventory", "-i", "hosts.ini", "--list", "-l", "web01"]);
    list.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&list.stdout).expect("json");
    assert_eq!(json["guests"]["hosts"], serde_json::json!(["web01"]));
    assert!(json.get("kvm").is_none(), "{json}");
    assert!(!project.exists("touched"));
}

#[test]
fn inventory_views_match_ansible_inventory() {
    let project = Project::new().file(
        "hosts.ini",
        "[kvm]\nkvm01 ansible_host=10.0.0.1\n[kvm:vars]\nrpatch_role=hypervisor\n[guests]\nweb01\n",
    );
    let list = project.rpatch(&["inventory", "-i", "hosts.ini", "--list"]);
    list.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&list.stdout).expect("json");
    assert_eq!(json["kvm"]["hosts"][0], "kvm01");
    assert_eq!(
        json["_meta"]["hostvars"]["kvm01"]["rpatch_role"],
        "hypervisor"
    );
    let graph = project.rpatch(&["inventory", "-i", "hosts.ini", "--graph"]);
    graph.expect_code(0);
    insta::assert_snapshot!(graph.stdout);
    let host = project.rpatch(&["inventory", "-i", "hosts.ini", "--host", "kvm01"]);
    host.expect_code(0);
    assert!(host.stdout.contains("10.0.0.1"), "{}", host.stdout);
    project
        .rpatch(&["inventory", "-i", "hosts.ini", "--host", "nope"])
        .expect_code(5);
}

#[test]
fn default_inventory_comes_from_the_environment_or_inventory_dir() {
    let project = Project::new().file(
        "elsewhere.yml",
        "all:\n  hosts:\n    fromenv:\n      ansible_connection: local\n",
    );
    let output = project.rpatch(&["inventory", "--graph"]);
    assert!(output.stdout.contains("localhost"), "{}", output.stdout);
    let mut command = assert_cmd::Command::cargo_bin("rpatch").expect("binary");
    let env_output = command
        .current_dir(project.path())
        .env("RPATCH_INVENTORY", project.join("elsewhere.yml"))
        .args(["inventory", "--graph"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&env_output.stdout).contains("fromenv"));
}

#[test]
fn the_shipped_monthly_playbook_reports_and_changes_nothing_by_default() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let state = tempfile::tempdir().expect("state dir");
    let mut command = assert_cmd::Command::cargo_bin("rpatch").expect("binary");
    let output = command
        .current_dir(repo)
        .env_remove("RPATCH_INVENTORY")
        .env_remove("RPATCH_RUNS_DIR")
        .env("RPATCH_STATE_DIR", state.path())
        .args(["run", "playbooks/monthly.yml", "--json"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let recap = &events.last().expect("events")["hosts"]["localhost"];
    assert_eq!(
        recap["changed"], 0,
        "report-only run changed something: {stdout}"
    );
    assert_eq!(recap["failed"], 0);
    let summary = events
        .iter()
        .find(|e| e["event"] == "host_result" && e["task"] == "Summary")
        .expect("summary task");
    let msg = summary["result"]["msg"].as_str().expect("msg");
    assert!(
        msg.contains("update(s) pending") && msg.contains("report only"),
        "{msg}"
    );
}

#[test]
fn a_closed_output_pipe_is_not_a_crash() {
    let mut play = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    for n in 0..3000 {
        play.push_str(&format!("    - name: a task with a long enough name to fill the pipe quickly {n:05}\n      debug: msg=x\n"));
    }
    let project = Project::new().playbook(&play);
    let mut child = project
        .command()
        .args(["run", "site.yml", "--list-tasks"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().expect("stdout"), &mut first)
        .expect("some output");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn the_example_kvm_inventory_plans_hypervisors_one_at_a_time_then_the_guests() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = Project::new();
    let output = project.rpatch_in(
        repo,
        &[
            "plan",
            "playbooks/monthly.yml",
            "-i",
            "inventory/examples/kvm.yml",
        ],
    );
    output.expect_code(0);
    // (play, batch, hosts in the batch) of each host's first appearance.
    let place_of = |host: &str| {
        let (mut play, mut batch) = (0, 0);
        let mut size = String::new();
        for line in output.stdout.lines() {
            if line.starts_with("PLAY [") {
                play += 1;
                batch = 0;
            } else if let Some(rest) = line.trim_start().strip_prefix("batch ") {
                batch += 1;
                size = rest.to_string();
            } else if line.split_whitespace().next() == Some(host) {
                return (play, batch, size);
            }
        }
        panic!("{host} is not in the plan:\n{}", output.stdout)
    };
    for (n, hypervisor) in ["kvm01", "kvm02", "kvm03"].into_iter().enumerate() {
        let (play, batch, size) = place_of(hypervisor);
        assert_eq!(
            (play, batch),
            (1, n + 1),
            "{hypervisor}:\n{}",
            output.stdout
        );
        assert!(size.contains("(1 host)"), "{size}");
    }
    for guest in ["web01", "web02", "web03", "db01", "db02"] {
        let (play, _, size) = place_of(guest);
        assert_eq!(play, 2, "{guest} in the guest play:\n{}", output.stdout);
        assert!(size.contains("(1 host)"), "{size}");
    }
    assert!(
        output.stdout.contains("on gate failure: Rollback"),
        "{}",
        output.stdout
    );
}

#[test]
fn the_example_vsphere_and_windows_inventory_loads_for_both_example_plays() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = Project::new();
    for (play, hosts) in [
        (
            "playbooks/esxi-rolling.yml",
            ["esx01.example.com", "esx03.example.com"],
        ),
        (
            "playbooks/windows-updates.yml",
            ["app01.example.com", "sql01.example.com"],
        ),
    ] {
        let output = project.rpatch_in(
            repo,
            &["plan", play, "-i", "contrib/inventory/vsphere-windows.yml"],
        );
        output.expect_code(0);
        for host in hosts {
            assert!(
                output.stdout.contains(host),
                "{host} not planned:\n{}",
                output.stdout
            );
        }
    }
}

#[test]
fn every_json_event_names_its_run_and_when_it_happened() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=one\n    - debug: msg=two\n",
    );
    let output = project.run(&["--json"]);
    output.expect_code(0);
    let run_id = project.only_run_id();
    let events = output.events();
    assert!(events.len() >= 6, "{}", output.stdout);
    let mut previous = String::new();
    for event in &events {
        assert_eq!(event["run"], run_id.as_str(), "{event}");
        let time = event["time"].as_str().expect("time");
        assert!(
            time.ends_with('Z') && time.parse::<jiff::Timestamp>().is_ok(),
            "{time}"
        );
        assert!(
            time >= previous.as_str(),
            "events out of order: {time} < {previous}"
        );
        previous = time.to_string();
    }
    let first = output.stdout.lines().next().expect("a line");
    assert!(
        first.starts_with("{\"event\":\"play_start\",\"run\":"),
        "{first}"
    );
}
