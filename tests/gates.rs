//! Gates through the real binary: credentials in gate URLs never reach output or the journal,
//! bad URLs are load errors, and redirects are followed only as `follow_redirects` says.

use crate::support::http::{JsonServer, StatusServer};
use crate::support::Project;

/// Four local hosts.
const HOSTS: &str = "[kvm]\nkvm[1:4] ansible_connection=local\n";

/// A password holding every delimiter that cuts a URL short.
const PASSWORD: &str = "p/a#b?c";

fn play(gate: &str, vars: &str) -> Project {
    Project::new().file("hosts.ini", HOSTS).playbook(&format!(
        "- hosts: kvm\n  gather_facts: false\n  serial: 2\n{vars}  gates:\n    - {gate}\n      delay: 0\n  tasks:\n    - shell: echo {{{{ inventory_hostname }}}} >> {{dir}}/order\n"
    ))
}

fn assert_no_password(what: &str, text: &str) {
    for part in [PASSWORD, "p/a", "b?c", "admin:p"] {
        assert!(!text.contains(part), "{what} shows `{part}`:\n{text}");
    }
}

#[test]
fn a_templated_url_with_an_unescaped_password_fails_the_gate_and_is_never_shown() {
    let server = StatusServer::start(&[200]);
    let port = server.url.trim_start_matches("http://127.0.0.1:");
    let port = port.split('/').next().expect("port");
    let vars =
        format!("  vars:\n    gate_url: \"http://admin:{PASSWORD}@127.0.0.1:{port}/health\"\n");
    let project = play("http: \"{{ gate_url }}\"\n      retries: 2", &vars);
    let output = project.run(&["-i", "hosts.ini", "-vvv"]);
    output.expect_code(6);
    assert_eq!(server.requests(), 0, "nothing is sent to a misread host");
    assert!(output.stdout.contains("has a `#`"), "{}", output.stdout);
    assert_no_password("stdout", &output.stdout);
    assert_no_password("stderr (tracing)", &output.stderr);
    let journal =
        std::fs::read_to_string(project.journal(&project.only_run_id())).expect("journal");
    assert_no_password("the journal", &journal);
    let json = project.run(&["-i", "hosts.ini", "--json"]);
    assert_no_password("JSON events", &json.stdout);
}

#[test]
fn a_literal_url_with_an_unescaped_password_or_a_bad_port_is_a_located_load_error() {
    for (url, says) in [
        (
            format!("http://admin:{PASSWORD}@127.0.0.1:1/health"),
            "has a `#`",
        ),
        ("http://admin:p/a@127.0.0.1:1/".to_string(), "invalid port"),
        (
            "http://127.0.0.1:99999/health".to_string(),
            "invalid port `99999`",
        ),
    ] {
        let project = play(&format!("http: \"{url}\""), "");
        let output = project.run(&["-i", "hosts.ini"]);
        output.expect_code(4);
        assert!(!project.exists("order"), "nothing runs");
        assert!(
            output.stderr.contains("site.yml:5:13"),
            "{url}: {}",
            output.stderr
        );
        assert!(output.stderr.contains(says), "{url}: {}", output.stderr);
        assert_no_password("the load error", &output.stderr);
    }
}

#[test]
fn a_302_passes_when_redirects_are_not_followed() {
    let server = StatusServer::start(&[302]);
    let gate = format!(
        "http: {{ url: \"{}\", status: [302], follow_redirects: none }}",
        server.url
    );
    play(&gate, "").run(&["-i", "hosts.ini"]).expect_code(0);
    assert_eq!(server.requests(), 2, "one request after each batch");
}

#[test]
fn redirects_are_followed_by_default_and_a_loop_fails_the_gate() {
    let followed = StatusServer::start(&[302, 200]);
    play(&format!("http: \"{}\"", followed.url), "")
        .run(&["-i", "hosts.ini"])
        .expect_code(0);
    assert_eq!(followed.requests(), 3, "the redirect, then 200 twice");
    let looping = StatusServer::start(&[302]);
    let output = play(&format!("http: \"{}\"", looping.url), "").run(&["-i", "hosts.ini"]);
    output.expect_code(6);
    assert!(
        output.stdout.contains("more than 10 redirects"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_percent_encoded_password_is_sent_but_never_shown_even_in_tracing() {
    let server = StatusServer::start(&[503]);
    let url = server.url.replace("http://", "http://admin:p%2Fa%23b%3Fc@") + "?token=tok-secret";
    let vars = format!("  vars:\n    gate_url: \"{url}\"\n");
    let project = play("http: \"{{ gate_url }}\"\n      retries: 1", &vars);
    let output = project.run(&["-i", "hosts.ini", "-vvv"]);
    output.expect_code(6);
    assert_eq!(server.requests(), 2, "the URL is valid and used");
    assert!(
        output.stderr.contains("gate attempt failed"),
        "tracing is on: {}",
        output.stderr
    );
    let journal =
        std::fs::read_to_string(project.journal(&project.only_run_id())).expect("journal");
    for (what, text) in [
        ("stdout", &output.stdout),
        ("stderr", &output.stderr),
        ("journal", &journal),
    ] {
        for secret in ["p%2Fa", "admin", "tok-secret"] {
            assert!(!text.contains(secret), "{what} shows `{secret}`:\n{text}");
        }
    }
}

#[test]
fn a_prometheus_gate_fails_closed_on_a_missing_or_null_result_or_a_503_and_says_why() {
    let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    let passing = JsonServer::start(200, empty);
    let gate = |base: &str| {
        format!("prometheus: {{ url: \"{base}\", query: 'ALERTS{{severity=\"critical\"}}' }}")
    };
    play(&gate(&passing.base), "")
        .run(&["-i", "hosts.ini"])
        .expect_code(0);
    let asked = passing.requests();
    assert_eq!(asked.len(), 2, "one query after each batch: {asked:?}");
    assert!(
        asked[0].starts_with("GET /api/v1/query?query=ALERTS"),
        "{asked:?}"
    );
    for (status, body, says) in [
        (
            200,
            r#"{"status":"success","data":{"resultType":"vector"}}"#,
            "data.result is missing or null, not a list of series",
        ),
        (
            200,
            r#"{"status":"success","data":{"resultType":"vector","result":null}}"#,
            "data.result is missing or null, not a list of series",
        ),
        (503, empty, "status 503: only a 2xx answer can pass"),
    ] {
        let server = JsonServer::start(status, body);
        let project = play(&format!("{}\n      retries: 1", gate(&server.base)), "");
        let output = project.run(&["-i", "hosts.ini"]);
        output.expect_code(6);
        assert!(output.stdout.contains(says), "{body}: {}", output.stdout);
        assert_eq!(
            project.read("order").lines().count(),
            2,
            "the second batch must not start after {body}"
        );
        let journal =
            std::fs::read_to_string(project.journal(&project.only_run_id())).expect("journal");
        assert!(journal.contains(says), "the journal says why: {journal}");
    }
}
