//! `rpatch status` and `--metrics-file` through the real binary over the SSH test fleet: the
//! patch records the runs journaled become per-host status (table, JSON, HTML) and Prometheus
//! metrics that `promtool check metrics` accepts.

use serde_json::Value as Json;

use crate::support::fleet::Fleet;
use crate::support::Project;

/// patch_facts on every host; `node02` then fails with `fail_msg` when it is given.
fn playbook(fail_msg: Option<&str>) -> String {
    let mut text = String::from(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: facts\n      patch_facts: {}\n",
    );
    if let Some(msg) = fail_msg {
        text.push_str(&format!(
            "    - name: check disk\n      fail: {{ msg: \"{msg}\" }}\n      when: inventory_hostname == 'node02'\n"
        ));
    }
    text
}

/// What the run's `patch_facts` results said, per host: (pending count, reboot required).
fn reported(output: &crate::support::Output) -> Vec<(String, u64, bool)> {
    output
        .events()
        .into_iter()
        .filter(|e| e["event"] == "host_result" && e["task"] == "facts")
        .map(|e| {
            let patch = &e["result"]["patch"];
            (
                e["host"].as_str().unwrap_or_default().to_string(),
                patch["pending"]["count"].as_u64().expect("pending count"),
                patch["reboot_required"].as_bool().expect("reboot flag"),
            )
        })
        .collect()
}

fn status_json(project: &Project) -> Json {
    let output = project.rpatch(&["status", "--from-journal", "--json"]);
    output.expect_code(0);
    serde_json::from_str(&output.stdout).expect("status JSON")
}

fn host<'a>(status: &'a Json, name: &str) -> &'a Json {
    status["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .find(|h| h["host"] == name)
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

#[test]
fn status_and_metrics_show_each_hosts_last_success_pending_updates_reboot_and_failure() {
    let fleet = Fleet::new().hosts(2).start();
    let project = fleet.project().playbook(&playbook(None));
    let first = project.run(&["--json"]);
    first.expect_code(0);
    let facts = reported(&first);
    assert_eq!(facts.len(), 2, "{}", first.stdout);
    let first_id = first.events()[0]["run_id"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| project.only_run_id());

    let project = project.playbook(&playbook(Some("disk full on /var")));
    std::fs::create_dir(project.join("metrics")).expect("metrics dir");
    let second = project.run(&["--json", "--metrics-file", "metrics/rpatch.prom"]);
    second.expect_code(2);

    let status = status_json(&project);
    assert_eq!(status["runs"], 2);
    let names: Vec<&str> = status["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .filter_map(|h| h["host"].as_str())
        .collect();
    assert_eq!(names, ["node01", "node02"], "inventory order");
    for (name, pending, reboot) in &facts {
        let host = host(&status, name);
        assert_eq!(host["pending_updates"], *pending, "{host}");
        assert_eq!(host["reboot_required"], *reboot, "{host}");
    }
    let node01 = host(&status, "node01");
    let node02 = host(&status, "node02");
    assert_ne!(
        node01["last_success"]["run_id"],
        first_id.as_str(),
        "node01 succeeded again"
    );
    assert_eq!(
        node02["last_success"]["run_id"],
        first_id.as_str(),
        "node02 failed the second run"
    );
    assert!(node01["last_failure"].is_null());
    assert_eq!(node02["last_failure"]["task"], "check disk");
    assert_eq!(node02["last_failure"]["status"], "failed");
    assert!(node02["last_failure"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("disk full on /var")));

    let table = project.rpatch(&["status", "--from-journal"]);
    table.expect_code(0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("HOST"), "{}", table.stdout);
    let column = lines[0].find("LAST SUCCESS").expect("column");
    assert!(lines[1].starts_with("node01"));
    assert!(lines[2].starts_with("node02"));
    assert!(
        lines[2][column..].starts_with("20"),
        "aligned dates:\n{}",
        table.stdout
    );
    assert!(
        lines[2].contains("check disk: disk full on /var"),
        "{}",
        table.stdout
    );
    assert!(
        !table.stdout.contains('\u{1b}'),
        "no colour with NO_COLOR or without a terminal"
    );

    project
        .rpatch(&["status", "--from-journal", "--report", "status.html"])
        .expect_code(0);
    let page = project.read("status.html");
    assert!(page.contains("<table>") && page.contains("node02") && page.contains("disk full on"));

    let metrics = project.read("metrics/rpatch.prom");
    let promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(project.join("metrics/rpatch.prom")).expect("metrics"))
        .output()
        .expect("promtool (Debian package prometheus; scripts/test installs it)");
    assert!(
        promtool.status.success(),
        "promtool: {}{}\n{metrics}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find(|line| line.starts_with(series))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
    };
    for (name, pending, reboot) in &facts {
        assert_eq!(
            value(&format!("rpatch_pending_updates{{host=\"{name}\"}}")),
            *pending as f64
        );
        assert_eq!(
            value(&format!("rpatch_reboot_required{{host=\"{name}\"}}")),
            if *reboot { 1.0 } else { 0.0 }
        );
    }
    let success = |name: &str| {
        value(&format!(
            "rpatch_last_success_timestamp_seconds{{host=\"{name}\"}}"
        ))
    };
    assert!(
        success("node01") > success("node02"),
        "node02's last success is the first run"
    );
    assert!(
        metrics.contains("rpatch_run_success{playbook=\""),
        "{metrics}"
    );
    assert!(metrics.contains("result=\"failed\"} 1"), "{metrics}");
    assert!(value("rpatch_run_duration_seconds") >= 0.0);
    let leftovers = std::fs::read_dir(project.join("metrics"))
        .expect("dir")
        .count();
    assert_eq!(leftovers, 1, "only the metrics file, no temporary file");
}

#[test]
fn status_gathers_patch_facts_over_ssh_unless_told_to_read_the_journals_only() {
    let fleet = Fleet::new().hosts(2).start();
    let project = fleet.project();

    // No run yet: the gathering is itself a journaled run, and status shows what it found.
    let live = project.rpatch(&["status", "--json"]);
    live.expect_code(0);
    let status: Json = serde_json::from_str(&live.stdout)
        .unwrap_or_else(|e| panic!("status JSON only on stdout: {e}\n{}", live.stdout));
    assert_eq!(status["runs"], 1, "{status}");
    let gathered = project.only_run_id();
    for name in ["node01", "node02"] {
        let host = host(&status, name);
        assert_eq!(host["last_success"]["run_id"], gathered.as_str(), "{host}");
        assert!(host["pending_updates"].is_u64(), "{host}");
    }

    // --from-journal connects to nothing and starts no run: the same answer.
    let journal_only: Json = serde_json::from_str(
        &project
            .rpatch(&["status", "--from-journal", "--json"])
            .stdout,
    )
    .expect("status JSON");
    assert_eq!(journal_only["runs"], 1);
    assert_eq!(journal_only["hosts"], status["hosts"]);

    // --limit gathers from, and shows, only the hosts it matches.
    let limited = project.rpatch(&["status", "--json", "-l", "node01"]);
    limited.expect_code(0);
    let limited: Json = serde_json::from_str(&limited.stdout).expect("status JSON");
    assert_eq!(limited["runs"], 2);
    let names: Vec<&str> = limited["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .filter_map(|h| h["host"].as_str())
        .collect();
    assert_eq!(names, ["node01"]);
}

#[test]
fn a_host_status_cannot_reach_is_shown_failed_and_the_exit_code_says_so() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("address").port();
    drop(closed);
    let project = Project::new().file(
        "hosts.ini",
        &format!("gone ansible_host=127.0.0.1 ansible_port={port} ansible_user=nobody\n"),
    );
    let output = project.rpatch(&["status", "-i", "hosts.ini", "--json", "-T", "5"]);
    output.expect_code(3);
    let status: Json = serde_json::from_str(&output.stdout).expect("status JSON");
    let gone = host(&status, "gone");
    assert_eq!(gone["last_failure"]["status"], "unreachable", "{gone}");
    assert!(gone["last_success"].is_null(), "{gone}");
}

#[test]
fn status_of_hosts_no_run_touched_shows_dashes() {
    let project = Project::new().file("hosts.ini", "[web]\nweb1 ansible_connection=local\n");
    let output = project.rpatch(&["status", "--from-journal", "-i", "hosts.ini"]);
    output.expect_code(0);
    let lines: Vec<&str> = output.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", output.stdout);
    assert!(lines[1].starts_with("web1"));
    assert_eq!(
        lines[1].split_whitespace().skip(1).collect::<Vec<_>>(),
        ["-", "-", "-", "-", "-"]
    );
}

#[test]
fn a_metrics_file_that_cannot_be_written_fails_an_otherwise_good_run() {
    let project = Project::new()
        .file("hosts.ini", "[web]\nweb1 ansible_connection=local\n")
        .playbook("- hosts: web\n  gather_facts: false\n  tasks:\n    - shell: \"true\"\n");
    let output = project.run(&[
        "-i",
        "hosts.ini",
        "--metrics-file",
        "no/such/dir/rpatch.prom",
    ]);
    output.expect_code(1);
    assert!(
        output.stderr.contains("cannot write metrics to"),
        "{}",
        output.stderr
    );
    let written = project.run(&["-i", "hosts.ini", "--metrics-file", "rpatch.prom"]);
    written.expect_code(0);
    let metrics = project.read("rpatch.prom");
    assert!(
        metrics.contains("rpatch_run_success{playbook=\""),
        "{metrics}"
    );
    assert!(metrics.contains("result=\"ok\"} 1"), "{metrics}");
    assert!(
        !metrics.contains("rpatch_pending_updates{"),
        "no sample without patch facts: {metrics}"
    );
}
