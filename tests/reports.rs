//! Operator output over the real sshd fleet: `--report` files (JSON, JUnit XML checked by an XML
//! parser, HTML loaded in headless Chromium) that never hold a secret, the fleet's PATCH SUMMARY
//! after the recap, `rpatch runs` / `runs show` explaining a halt, `-vvv` transport traces, and
//! no colour codes for cron.

use std::path::{Path, PathBuf};
use std::process::Command;

use indoc::formatdoc;

use crate::support::apt_repo::{AptLab, Sources};
use crate::support::fleet::{self, Fleet};
use crate::support::http::StatusServer;
use crate::support::{Output, Project};

/// The gate URL's password, which must never be shown.
const GATE_PASSWORD: &str = "gate-Pa55word";
/// What a `no_log` task prints before it fails.
const HIDDEN_OUTPUT: &str = "hidden-S3CRET-output";
/// An extra variable's value used by a `no_log` task.
const EXTRA_SECRET: &str = "extra-T0KEN-value";

/// Four hosts, two per batch, become with a password (-K), an HTTP gate with credentials in
/// its URL (it passes) and a command gate that fails until `healthy` exists; node02 fails a
/// `no_log` task whose output and arguments are secret.
fn halting_rollout(fleet: &Fleet, server: &StatusServer) -> Project {
    let url = server
        .url
        .replace("http://", &format!("http://admin:{GATE_PASSWORD}@"));
    fleet.project().playbook(&formatdoc!(
        r#"
        - name: rolling patch
          hosts: all
          gather_facts: false
          serial: 2
          gates:
            - name: api answers
              http: "{url}"
            - name: cluster healthy
              command: "test -e {{dir}}/healthy && echo healthy || (echo 'cluster degraded: 2 of 3 nodes' && exit 1)"
              retries: 1
              delay: 0
          tasks:
            - name: escalate
              command: id -u
              become: true
              changed_when: false
            - name: secret step
              shell: "echo {HIDDEN_OUTPUT} {{{{ token }}}} >&2; test {{{{ inventory_hostname }}}} != node02"
              no_log: true
            - name: mark patched
              shell: echo patched
        "#
    ))
}

fn run_with_password(project: &Project, args: &[&str]) -> Output {
    let mut command = project.command();
    command.args(args);
    project.output_with_stdin(&mut command, &format!("{}\n", fleet::password()))
}

/// Fails when `text` shows any secret the rollout used.
fn assert_no_secret(what: &str, text: &str) {
    for secret in [
        fleet::password(),
        GATE_PASSWORD,
        HIDDEN_OUTPUT,
        EXTRA_SECRET,
    ] {
        assert!(!text.contains(secret), "{what} shows `{secret}`:\n{text}");
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses XML with python3's xml.etree and prints, one per line, each test case as
/// `classname|name|failure|error|skipped` and each suite as `suite|name|tests|failures`.
fn junit_cases(path: &Path) -> Vec<String> {
    let script = r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
for suite in root.findall("testsuite"):
    print("suite|%s|%s|%s" % (suite.get("name"), suite.get("tests"), suite.get("failures")))
    for case in suite.findall("testcase"):
        failure = case.find("failure")
        error = case.find("error")
        print("%s|%s|%s|%s|%s" % (
            case.get("classname"), case.get("name"),
            "" if failure is None else failure.get("message"),
            "" if error is None else error.get("message"),
            "skipped" if case.find("skipped") is not None else ""))
"#;
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .expect("python3 is missing: apt-get install python3");
    assert!(
        output.status.success(),
        "the JUnit report is not well-formed XML: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        read(path)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Headless Chromium: the DOM after loading `page` (file://), and a screenshot in `shots`.
fn chromium(page: &Path, shots: &Path) -> (String, PathBuf) {
    let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("headless Chromium is missing: apt-get install chromium");
    let profile = tempfile::tempdir().expect("chromium profile");
    let url = format!("file://{}", page.display());
    let common = |command: &mut Command| {
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--window-size=1280,1600",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .env("HOME", profile.path());
    };
    let mut dump = Command::new(binary);
    common(&mut dump);
    let dom = dump
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        dom.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let shot = shots.join("report.png");
    let mut screenshot = Command::new(binary);
    common(&mut screenshot);
    let taken = screenshot
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        taken.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&taken.stderr)
    );
    (String::from_utf8_lossy(&dom.stdout).into_owned(), shot)
}

#[test]
fn reports_of_a_halted_and_resumed_rollout_show_failures_batches_gates_and_hold_no_secret() {
    let fleet = Fleet::new().user(fleet::password_user()).hosts(4).start();
    let server = StatusServer::start(&[200]);
    let project = halting_rollout(&fleet, &server);
    let extra = format!("token={EXTRA_SECRET}");

    // Batch 1 (node01, node02): node02 fails the no_log task; the command gate fails: halt.
    let halted = run_with_password(
        &project,
        &[
            "run",
            "site.yml",
            "-K",
            "-e",
            &extra,
            "--report",
            "report.json",
        ],
    );
    halted.expect_code(6);
    let id = project.only_run_id();
    let report: serde_json::Value =
        serde_json::from_str(&project.read("report.json")).expect("the JSON report parses");
    assert_eq!(report["run_id"], id.as_str());
    assert_eq!(report["status"], "halted", "{report:#}");
    assert!(report["playbook"]
        .as_str()
        .is_some_and(|p| p.ends_with("site.yml")));
    assert!(report["started"].as_str().is_some() && report["ended"].as_str().is_some());
    let play = &report["plays"][0];
    let batches = play["batches"].as_array().expect("batches");
    assert_eq!(batches.len(), 1, "{report:#}");
    assert_eq!(batches[0]["hosts"], serde_json::json!(["node01", "node02"]));
    assert!(batches[0]["seconds"].as_f64().is_some(), "{report:#}");
    let gate = play["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .find(|g| g["name"] == "cluster healthy")
        .expect("the failed gate");
    assert_eq!(gate["passed"], false);
    assert_eq!(gate["attempts"], 2);
    assert!(
        gate["message"]
            .as_str()
            .is_some_and(|m| m.contains("cluster degraded")),
        "{gate}"
    );
    let host = |name: &str| {
        play["hosts"]
            .as_array()
            .expect("hosts")
            .iter()
            .find(|h| h["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {report:#}"))
    };
    assert_eq!(host("node01")["outcome"], "ok");
    assert_eq!(
        host("node01")["changed_tasks"],
        serde_json::json!(["secret step", "mark patched"])
    );
    assert_eq!(host("node02")["outcome"], "failed");
    let failed_task = host("node02")["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["status"] == "failed")
        .cloned()
        .expect("node02's failed task");
    assert_eq!(failed_task["name"], "secret step");
    assert!(
        failed_task["message"]
            .as_str()
            .is_some_and(|m| m.contains("no_log: true")),
        "a no_log failure shows the censoring notice: {failed_task}"
    );
    assert_eq!(host("node03")["outcome"], "not_started");
    assert_eq!(report["host_counts"]["not_started"], 2, "{report:#}");

    // `rpatch runs` and `runs show` say why it halted and how long the batch took.
    let list = project.rpatch(&["runs"]);
    list.expect_code(0);
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .expect("the run");
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        columns.get(4..9),
        Some(&["halted", "1", "1", "0", "2"][..]),
        "{}",
        list.stdout
    );
    let show = project.rpatch(&["runs", "show", &id]);
    show.expect_code(0);
    for expected in [
        "halted: ",
        "gate `cluster healthy` failed after 2 attempt(s); last output: ",
        "cluster degraded: 2 of 3 nodes",
        "node02 (failed) in play `rolling patch`, task `secret step`: ",
        "batch 1 [node01, node02]: started ",
        "node03                     : not started",
    ] {
        assert!(
            show.stdout.contains(expected),
            "`{expected}` in:\n{}",
            show.stdout
        );
    }

    // Resumed with the gate still failing: the JUnit report covers both processes.
    let again = run_with_password(
        &project,
        &["resume", &id, "-e", &extra, "--report", "junit.xml"],
    );
    again.expect_code(6);
    let cases = junit_cases(&project.join("junit.xml"));
    assert!(
        cases.iter().any(|c| c.starts_with("suite|rolling patch|")),
        "{cases:#?}"
    );
    assert!(
        cases
            .iter()
            .any(|c| c.starts_with("node02|secret step|") && c.contains("no_log: true")),
        "{cases:#?}"
    );
    assert!(
        cases.contains(&"node01|mark patched|||".to_string()),
        "{cases:#?}"
    );
    assert!(
        cases
            .iter()
            .any(|c| c.starts_with("gates|cluster healthy (after batch 1)|")
                && c.contains("cluster degraded")),
        "{cases:#?}"
    );
    assert!(
        cases.contains(&"node04|(play)|||skipped".to_string()),
        "{cases:#?}"
    );

    // The cause is fixed: the rollout goes on, and the HTML page shows all of it.
    std::fs::write(project.join("healthy"), "").expect("fix the cause");
    let resumed = run_with_password(
        &project,
        &["resume", &id, "-e", &extra, "--report", "report.html"],
    );
    assert!(
        [0, 2].contains(&resumed.code),
        "the rollout goes on:\n{}\n{}",
        resumed.stdout,
        resumed.stderr
    );
    let html = project.read("report.html");
    assert!(
        !html.contains("<script") && !html.contains("http-equiv"),
        "no scripts"
    );
    for external in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(external), "external asset `{external}`");
    }
    let shots = tempfile::tempdir().expect("screenshot dir");
    let (dom, shot) = chromium(&project.join("report.html"), shots.path());
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
        "no screenshot at {}",
        shot.display()
    );
    let failures = dom.find("id=\"failures\"").expect("a failures section");
    let timeline = dom.find("id=\"timeline\"").expect("a timeline");
    assert!(failures < timeline, "failures come first");
    assert!(
        dom[failures..timeline].contains("data-host=\"node02\""),
        "node02 among the failures"
    );
    for host in ["node01", "node02", "node03", "node04"] {
        assert!(
            dom.contains(&format!("class=\"host\" data-host=\"{host}\"")),
            "{host} in the DOM"
        );
    }
    for batch in [1, 2] {
        assert!(
            dom.contains(&format!("data-batch=\"{batch}\" style=\"left:")),
            "batch {batch} on the timeline:\n{dom}"
        );
    }
    assert!(
        dom.contains("cluster healthy") && dom.contains("api answers"),
        "the gates"
    );

    for (what, text) in [
        ("run output", format!("{}{}", halted.stdout, halted.stderr)),
        (
            "resume output",
            format!("{}{}", resumed.stdout, resumed.stderr),
        ),
        ("runs show", show.stdout.clone()),
        ("the JSON report", project.read("report.json")),
        ("the JUnit report", project.read("junit.xml")),
        ("the HTML report", html.clone()),
        ("the rendered DOM", dom.clone()),
        ("the journal", read(&project.journal(&id))),
    ] {
        assert_no_secret(what, &text);
    }
}

#[test]
fn an_unknown_report_extension_is_refused_before_anything_runs() {
    let fleet = Fleet::new().start();
    let project = fleet
        .project()
        .playbook("- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: touch {dir}/ran\n");
    let output = project.run(&["--report", "report.pdf"]);
    output.expect_code(5);
    assert!(
        output.stderr.contains("report.pdf")
            && output.stderr.contains(".json, .xml (JUnit) or .html"),
        "{}",
        output.stderr
    );
    assert!(!project.exists("ran"), "nothing ran");
    assert!(
        !project.runs_dir().exists()
            || std::fs::read_dir(project.runs_dir())
                .map(|d| d.count())
                .unwrap_or(0)
                == 0
    );
}

/// The shipped role in check mode against the apt lab: pending, would-be-applied and
/// reboot-required hosts are counted after the recap, and no host's package list is printed.
#[test]
fn a_patching_run_ends_with_a_fleet_summary_instead_of_package_lists() {
    let mut lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    lab.require_reboot(&["linux-image-rpatch-test"]);
    let fleet = Fleet::new().hosts(2).start();
    let roles = Path::new(env!("CARGO_MANIFEST_DIR")).join("roles");
    let project = fleet
        .project()
        .env("RPATCH_ROLES_PATH", &roles.display().to_string())
        .playbook(&formatdoc!(
            "
            - hosts: all
              gather_facts: false
              environment:
                APT_CONFIG: {config}
              vars:
                apply_updates: true
                restart_services: false
                health_services: []
              roles:
                - linux_patching
            ",
            config = lab.config(Sources::StableOnly).display(),
        ));
    let output = project.run(&["--check", "--report", "report.json"]);
    output.expect_code(0);
    let after_recap = output.stdout.split("PLAY RECAP").nth(1).expect("a recap");
    let summary = after_recap
        .split("PATCH SUMMARY")
        .nth(1)
        .unwrap_or_else(|| panic!("a PATCH SUMMARY after the recap:\n{}", output.stdout));
    for expected in [
        "updates pending  :     2 host(s)  node01, node02",
        "would be applied :     2 host(s)  node01, node02",
        "reboot required  :     2 host(s)  node01, node02",
        "failed           :     0 host(s)",
    ] {
        assert!(summary.contains(expected), "`{expected}` in:\n{summary}");
    }
    assert!(
        !output.stdout.contains("[\"rpatch-testpkg\""),
        "a package list was printed:\n{}",
        output.stdout
    );
    let report: serde_json::Value =
        serde_json::from_str(&project.read("report.json")).expect("JSON report");
    assert_eq!(
        report["patch"]["reboot_required"],
        serde_json::json!(["node01", "node02"]),
        "{report:#}"
    );
    let node01 = &report["plays"][0]["hosts"][0]["patch"];
    assert_eq!(node01["check_mode"], true, "{report:#}");
    assert!(
        node01["pending"].as_u64().is_some_and(|n| n >= 1),
        "{report:#}"
    );
}

#[test]
fn vvv_traces_connect_auth_channels_and_exit_status_but_never_the_become_password() {
    let fleet = Fleet::new().user(fleet::password_user()).start();
    let project = fleet.project().playbook(&format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: \"echo {HIDDEN_OUTPUT}; exit 3\"\n      become: true\n      no_log: true\n      ignore_errors: true\n"
    ));
    let output = run_with_password(&project, &["run", "site.yml", "-K", "-vvv"]);
    output.expect_code(0);
    let port = fleet.host("node01").port;
    for expected in [
        format!("connect to 127.0.0.1:{port}"),
        "connected".to_string(),
        "authenticated as".to_string(),
        "by key ".to_string(),
        " open: command `".to_string(),
        "as root via Sudo".to_string(),
        "closed: exit status 3".to_string(),
    ] {
        assert!(
            output.stderr.contains(&expected),
            "`{expected}` in:\n{}",
            output.stderr
        );
    }
    assert_no_secret("-vvv", &format!("{}{}", output.stdout, output.stderr));
    // -vv: debug logs, but no transport traces.
    let debug = run_with_password(&project, &["run", "site.yml", "-K", "-vv"]);
    debug.expect_code(0);
    assert!(
        !debug.stderr.contains(" open: command `"),
        "{}",
        debug.stderr
    );
}

#[test]
fn warnings_and_results_carry_no_colour_without_a_terminal_or_with_no_color() {
    let fleet = Fleet::new().start();
    let project = fleet.project().playbook(
        "- hosts: all:nosuchgroup\n  gather_facts: false\n  tasks:\n    - shell: echo hi\n",
    );
    // Pipes, as under cron: no colour anywhere.
    let piped = project.run(&[]);
    piped.expect_code(0);
    assert!(
        piped
            .stderr
            .contains("Could not match supplied host pattern"),
        "{}",
        piped.stderr
    );
    assert!(
        !piped.stdout.contains('\u{1b}') && !piped.stderr.contains('\u{1b}'),
        "colour codes without a terminal: {:?} {:?}",
        piped.stdout,
        piped.stderr
    );
    // A terminal (script(1) gives one): colour, unless NO_COLOR is set.
    assert!(
        Path::new("/usr/bin/script").exists(),
        "script(1) is missing: apt-get install bsdutils"
    );
    let on_terminal = |no_color: Option<&str>| {
        let rpatch = assert_cmd::cargo::cargo_bin("rpatch");
        let mut command = project.command();
        command
            .env_remove("NO_COLOR")
            .args(["-qec"])
            .arg(format!("{} run site.yml", rpatch.display()))
            .arg("/dev/null");
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let mut script = Command::new("/usr/bin/script");
        script
            .args(command.get_args())
            .current_dir(project.path())
            .envs(command.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
        for (key, value) in command.get_envs() {
            if value.is_none() {
                script.env_remove(key);
            }
        }
        let output = script.output().expect("run script(1)");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let coloured = on_terminal(None);
    assert!(
        coloured.contains("\u{1b}["),
        "a terminal gets colour: {coloured:?}"
    );
    let plain = on_terminal(Some("1"));
    assert!(plain.contains("PLAY RECAP"), "{plain}");
    assert!(
        !plain.contains("\u{1b}["),
        "NO_COLOR is honoured: {plain:?}"
    );
}
