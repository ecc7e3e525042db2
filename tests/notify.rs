//! Run notifications through the real binary: webhook payloads for each event (generic, Slack,
//! Teams) on a local server, retries after a 500, a sink that is down never failing the run, a
//! command sink given the summary on stdin, mail through `sendmail -t`, and load errors.

use serde_json::Value as Json;

use crate::support::fleet::Fleet;
use crate::support::http::RecordingServer;
use crate::support::Project;

/// A play on local hosts with these notification sinks (YAML list items, indented 4).
fn local_play(sinks: &str, hosts: &str) -> Project {
    Project::new()
        .file("hosts.ini", &format!("[web]\n{hosts}\n"))
        .playbook(&format!(
            "- hosts: web\n  gather_facts: false\n  serial: 1\n  notifications:\n{sinks}  tasks:\n    - shell: echo {{{{ inventory_hostname }}}} >> {{dir}}/ran\n"
        ))
}

/// A port nothing listens on.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn journal_notifications(project: &Project) -> Vec<Json> {
    let journal =
        std::fs::read_to_string(project.journal(&project.only_run_id())).expect("journal");
    journal
        .lines()
        .filter_map(|line| serde_json::from_str::<Json>(line).ok())
        .filter(|event| event["event"] == "notification")
        .collect()
}

#[test]
fn webhooks_get_each_event_with_the_run_summary_over_the_ssh_fleet() {
    let fleet = Fleet::new().hosts(3).start();
    let server = RecordingServer::start(&[200]);
    let project = fleet.project().playbook(&format!(
        "- name: patch web\n  hosts: all\n  gather_facts: false\n  serial: 1\n  max_fail_percentage: 0\n  \
         notifications:\n    \
         - webhook: \"{base}/generic\"\n    \
         - webhook: {{ url: \"{base}/slack\", format: slack }}\n      notify_on: [halt, end]\n    \
         - webhook: {{ url: \"{base}/teams\", format: teams }}\n      notify_on: [end]\n    \
         - command: [sh, -c, \"cat >> {{dir}}/events.jsonl; echo >> {{dir}}/events.jsonl\"]\n      notify_on: [start, end]\n  \
         tasks:\n    \
         - command: hostname\n    \
         - name: break\n      fail: {{ msg: \"boom s3cret-value\" }}\n      no_log: true\n      \
           when: inventory_hostname == 'node02'\n",
        base = server.base
    ));
    let output = project.run(&[]);
    output.expect_code(2);
    let run_id = project.only_run_id();
    let received = server.received();
    let generic: Vec<Json> = received
        .iter()
        .filter(|r| r.path == "/generic")
        .map(|r| r.json())
        .collect();
    let events: Vec<&str> = generic
        .iter()
        .map(|p| p["event"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        events,
        ["start", "batch", "batch", "halt", "end"],
        "{generic:#?}"
    );
    for request in received.iter().filter(|r| r.path == "/generic") {
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
    let start = &generic[0];
    assert_eq!(start["rpatch"], 1);
    assert_eq!(start["run_id"], run_id.as_str());
    assert!(start["playbook"]
        .as_str()
        .is_some_and(|p| p.ends_with("site.yml")));
    assert_eq!(start["status"], "running");
    assert_eq!(start["hosts"]["not_started"], 3);
    let first_batch = &generic[1];
    assert_eq!(first_batch["batch"]["number"], 1);
    assert_eq!(first_batch["batch"]["of"], 3);
    assert_eq!(first_batch["batch"]["play"], "patch web");
    assert_eq!(first_batch["batch"]["hosts"], serde_json::json!(["node01"]));
    assert_eq!(first_batch["hosts"]["ok"], 1);
    let halt = &generic[3];
    assert_eq!(halt["status"], "halted");
    assert!(
        halt["halted"].as_str().is_some_and(|r| !r.is_empty()),
        "{halt}"
    );
    let end = &generic[4];
    assert_eq!(end["status"], "halted");
    assert_eq!(end["hosts"]["ok"], 1);
    assert_eq!(end["hosts"]["failed"], 1);
    assert_eq!(end["hosts"]["not_started"], 1);
    assert!(end["duration_seconds"].as_f64().is_some());
    let failed = end["failed_hosts"].as_array().expect("failed hosts");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["host"], "node02");
    assert_eq!(failed[0]["task"], "break");
    for request in &received {
        assert!(
            !request.body.contains("s3cret"),
            "no_log value sent: {}",
            request.body
        );
    }
    let slack: Vec<Json> = received
        .iter()
        .filter(|r| r.path == "/slack")
        .map(|r| r.json())
        .collect();
    assert_eq!(slack.len(), 2, "halt and end only");
    assert!(slack[1]["text"]
        .as_str()
        .is_some_and(|t| t.contains(&run_id)));
    assert_eq!(slack[1]["blocks"][0]["type"], "header");
    assert!(slack[1].to_string().contains("node02 failed at `break`"));
    let teams: Vec<Json> = received
        .iter()
        .filter(|r| r.path == "/teams")
        .map(|r| r.json())
        .collect();
    assert_eq!(teams.len(), 1);
    assert_eq!(
        teams[0]["attachments"][0]["content"]["type"],
        "AdaptiveCard"
    );
    let piped: Vec<Json> = project
        .read("events.jsonl")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("JSON on stdin"))
        .collect();
    let piped_events: Vec<&str> = piped
        .iter()
        .map(|p| p["event"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(piped_events, ["start", "end"]);
    assert_eq!(piped[1]["failed_hosts"][0]["host"], "node02");
    let journaled = journal_notifications(&project);
    assert_eq!(journaled.len(), 5 + 2 + 1 + 2, "{journaled:#?}");
    assert!(journaled.iter().all(|n| n["delivered"] == true));
}

#[test]
fn a_webhook_answering_500_is_retried_until_it_takes_the_event() {
    let server = RecordingServer::start(&[500, 503, 200]);
    let project = local_play(
        &format!(
            "    - webhook: \"{}/hook\"\n      notify_on: [end]\n      retries: 3\n      delay: 10ms\n",
            server.base
        ),
        "web1 ansible_connection=local",
    );
    let output = project.run(&["-i", "hosts.ini"]);
    output.expect_code(0);
    let received = server.received();
    assert_eq!(received.len(), 3, "two failures, then delivered");
    assert!(received.iter().all(|r| r.json()["event"] == "end"));
    assert!(
        !output.stderr.contains("[WARNING]: notification"),
        "{}",
        output.stderr
    );
    let journaled = journal_notifications(&project);
    assert_eq!(journaled.len(), 1);
    assert_eq!(journaled[0]["attempts"], 3);
    assert_eq!(journaled[0]["delivered"], true);
}

#[test]
fn a_sink_that_is_down_is_reported_and_journaled_but_never_fails_the_run() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/services/T0001/B0002/XSECRETTOKEN?token=qsecret");
    let project = local_play(
        &format!("    - webhook: {{ url: \"{url}\", format: slack }}\n      retries: 1\n      delay: 0\n      timeout: 5s\n"),
        "web1 ansible_connection=local\nweb2 ansible_connection=local",
    );
    let output = project.run(&["-i", "hosts.ini"]);
    output.expect_code(0);
    assert_eq!(
        project.read("ran").lines().count(),
        2,
        "the rollout went on"
    );
    let warnings: Vec<&str> = output
        .stderr
        .lines()
        .filter(|line| line.contains("[WARNING]: notification"))
        .collect();
    // start, two batches, end.
    assert_eq!(warnings.len(), 4, "{}", output.stderr);
    assert!(
        warnings[0].contains("failed after 2 attempt(s)"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[0].contains(&format!("http://127.0.0.1:{port}/services/***")),
        "{}",
        warnings[0]
    );
    let journal =
        std::fs::read_to_string(project.journal(&project.only_run_id())).expect("journal");
    for (what, text) in [
        ("stdout", &output.stdout),
        ("stderr", &output.stderr),
        ("journal", &journal),
    ] {
        for secret in ["XSECRETTOKEN", "qsecret", "T0001"] {
            assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
        }
    }
    let journaled = journal_notifications(&project);
    assert_eq!(journaled.len(), 4);
    assert!(journaled.iter().all(|n| n["delivered"] == false));
    // The first event gets its retry; once the sink is known down, one attempt per event.
    let attempts: Vec<u64> = journaled
        .iter()
        .map(|n| n["attempts"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(attempts, [2, 1, 1, 1]);
    assert_eq!(journaled[3]["on"], "end");
    // The journal stays readable with notifications after run_end, and says what failed.
    let shown = project.rpatch(&["runs", "show", &project.only_run_id()]);
    shown.expect_code(0);
    assert_eq!(
        shown.stdout.matches("not delivered after").count(),
        4,
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains("XSECRETTOKEN"));
}

#[test]
fn email_is_handed_to_sendmail_t_with_the_summary() {
    // A stand-in for sendmail: this machine has no MTA, and installing one would start a mail
    // daemon and deliver into system mailboxes. It captures what rpatch hands over.
    let project = local_play(
        "    - email: { to: [ops@example.com, oncall@example.com], from: rpatch@example.com, sendmail: \"{dir}/sendmail\" }\n      notify_on: [end]\n",
        "web1 ansible_connection=local",
    )
    .file(
        "sendmail",
        "#!/bin/sh\nprintf '%s\\n' \"$*\" > {dir}/sendmail.args\ncat > {dir}/mail\n",
    );
    let status = std::process::Command::new("chmod")
        .arg("755")
        .arg(project.join("sendmail"))
        .status()
        .expect("chmod");
    assert!(status.success());
    project.run(&["-i", "hosts.ini"]).expect_code(0);
    assert_eq!(project.read("sendmail.args").trim(), "-t -i");
    let mail = project.read("mail");
    assert!(
        mail.contains("To: ops@example.com, oncall@example.com\n"),
        "{mail}"
    );
    assert!(mail.contains("From: rpatch@example.com\n"), "{mail}");
    let subject = mail
        .lines()
        .find(|l| l.starts_with("Subject: "))
        .expect("subject");
    assert!(subject.contains("ended: ok"), "{subject}");
    assert!(mail.contains("\n\nrpatch site.yml run "), "{mail}");
}

#[test]
fn bad_notification_settings_are_located_load_errors_and_nothing_runs() {
    for (sink, says, at) in [
        (
            "    - webhook: \"ftp://hooks.example/services/T1/B2/SECRET\"\n",
            "must start with http:// or https://",
            "site.yml:5:16",
        ),
        (
            "    - webhook: http://127.0.0.1:1/x\n      notify_on: [start, finish]\n",
            "unknown notify_on event `finish`",
            "site.yml:6:26",
        ),
        (
            "    - pager: ops\n",
            "unknown notification key `pager`",
            "site.yml:5:7",
        ),
        (
            "    - webhook: http://127.0.0.1:1/x\n      retries: -2\n",
            "`retries` must be from 0 to 10",
            "site.yml:6:16",
        ),
        (
            "    - email: { to: ops@example.com, sendmail: /nonexistent/sendmail }\n",
            "/nonexistent/sendmail",
            "site.yml:5:7",
        ),
        (
            "    - command: \"logger done\"\n",
            "`command` must be a list",
            "site.yml:5:16",
        ),
    ] {
        let project = local_play(sink, "web1 ansible_connection=local");
        let output = project.run(&["-i", "hosts.ini"]);
        output.expect_code(4);
        assert!(output.stderr.contains(says), "{sink}: {}", output.stderr);
        assert!(output.stderr.contains(at), "{sink}: {}", output.stderr);
        assert!(!output.stderr.contains("SECRET"), "{}", output.stderr);
        assert!(!project.exists("ran"), "nothing runs");
    }
}

#[test]
fn a_templated_webhook_url_is_rendered_at_start_and_a_bad_rendering_stops_before_anything_runs() {
    let server = RecordingServer::start(&[200]);
    let play = |url: &str| {
        Project::new()
            .file("hosts.ini", "[web]\nweb1 ansible_connection=local\n")
            .playbook(&format!(
                "- hosts: web\n  gather_facts: false\n  vars:\n    hook: \"{url}\"\n  notifications:\n    \
                 - webhook: \"{{{{ hook }}}}/rpatch\"\n      notify_on: [end]\n  \
                 tasks:\n    - shell: echo ran >> {{dir}}/ran\n"
            ))
    };
    let good = play(&server.base);
    good.run(&["-i", "hosts.ini"]).expect_code(0);
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/rpatch");
    let bad = play("ftp://hooks.example/services/T1/B2/SECRET");
    let output = bad.run(&["-i", "hosts.ini"]);
    output.expect_code(4);
    assert!(
        output.stderr.contains("http:// or https://"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains("SECRET"), "{}", output.stderr);
    assert!(!bad.exists("ran"), "nothing runs");
}

#[test]
fn a_resumed_run_notifies_its_start_batches_and_end_again() {
    let gate = crate::support::http::StatusServer::start(&[500, 200]);
    let server = RecordingServer::start(&[200]);
    let project = Project::new()
        .file(
            "hosts.ini",
            "[web]\nweb1 ansible_connection=local\nweb2 ansible_connection=local\n",
        )
        .playbook(&format!(
            "- hosts: web\n  gather_facts: false\n  serial: 1\n  \
             gates:\n    - http: \"{}\"\n      delay: 0\n  \
             notifications:\n    - webhook: \"{}/hook\"\n  \
             tasks:\n    - shell: echo {{{{ inventory_hostname }}}} >> {{dir}}/ran\n",
            gate.url, server.base
        ));
    project.run(&["-i", "hosts.ini"]).expect_code(6);
    let events = |from: usize| -> Vec<String> {
        server.received()[from..]
            .iter()
            .map(|r| r.json()["event"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(events(0), ["start", "batch", "halt", "end"]);
    let before = server.received().len();
    let id = project.only_run_id();
    project.rpatch(&["resume", &id]).expect_code(0);
    assert_eq!(events(before), ["start", "batch", "batch", "end"]);
    let end = server.received().last().expect("end").json();
    assert_eq!(end["run_id"], id.as_str());
    assert_eq!(end["status"], "ok");
    assert_eq!(end["hosts"]["ok"], 2);
}
