//! Security properties end to end: assertions that really assert, words that can never inject
//! a command, and secrets that never reach any output.

use std::path::Path;

use indoc::indoc;

use crate::support::fleet::{self, Fleet};
use crate::support::{Output, Project};

fn project(playbook: &str) -> Project {
    Project::new().playbook(playbook)
}

#[test]
fn assert_with_a_list_fails_on_any_false_condition() {
    let project = project(indoc! {"
        - hosts: all
          gather_facts: false
          tasks:
            - assert:
                that: [1 == 2]
            - command: touch {dir}/not-reached
    "});
    let output = project.run(&[]);
    output.expect_code(2);
    assert!(
        output.stdout.contains("\"assertion\": \"1 == 2\""),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("Assertion failed"),
        "{}",
        output.stdout
    );
    assert!(!project.exists("not-reached"));
}

#[test]
fn assert_accepts_every_form_of_that_and_its_messages() {
    let project = project(indoc! {"
        - hosts: all
          gather_facts: false
          vars:
            pkgs: [a, b]
          tasks:
            - name: string form
              assert: { that: \"pkgs | length == 2\" }
            - name: list form
              assert:
                that:
                  - pkgs | length == 2
                  - \"'a' in pkgs\"
                success_msg: all good here
            - name: quiet
              assert: { that: [true], quiet: true }
            - name: key=value form
              assert: that=pkgs|length==2
            - name: list with one false item and a fail_msg
              assert:
                that:
                  - \"'a' in pkgs\"
                  - \"'c' in pkgs\"
                fail_msg: c is missing
              ignore_errors: true
            - name: msg is fail_msg's alias
              assert: { that: [\"'d' in pkgs\"], msg: d is missing }
              ignore_errors: true
            - name: a false string
              assert: { that: \"pkgs | length == 3\" }
    "});
    let output = project.run(&["--json"]);
    output.expect_code(2);
    let results: Vec<(String, serde_json::Value)> = output
        .events()
        .into_iter()
        .filter(|event| event["event"] == "host_result")
        .map(|event| (event["task"].as_str().unwrap_or("").to_string(), event))
        .collect();
    let of = |task: &str| {
        results
            .iter()
            .find(|(name, _)| name == task)
            .map(|(_, event)| event.clone())
            .unwrap_or_else(|| panic!("no result for {task}: {}", output.stdout))
    };
    assert_eq!(of("string form")["status"], "ok");
    assert_eq!(of("list form")["status"], "ok");
    assert_eq!(of("list form")["result"]["msg"], "all good here");
    assert_eq!(of("quiet")["status"], "ok");
    assert!(
        of("quiet")["result"].get("msg").is_none(),
        "{}",
        output.stdout
    );
    assert_eq!(of("key=value form")["status"], "ok");
    let partly_false = of("list with one false item and a fail_msg");
    assert_eq!(partly_false["status"], "failed");
    assert_eq!(partly_false["result"]["msg"], "c is missing");
    assert_eq!(partly_false["result"]["assertion"], "'c' in pkgs");
    assert_eq!(
        of("msg is fail_msg's alias")["result"]["msg"],
        "d is missing"
    );
    assert_eq!(of("a false string")["status"], "failed");
    let recap = output
        .events()
        .into_iter()
        .find(|event| event["event"] == "recap")
        .expect("a recap event");
    // As Ansible counts them: ignored failures are also ok.
    assert_eq!(
        recap["hosts"]["localhost"],
        serde_json::json!({"ok": 6, "changed": 0, "unreachable": 0, "failed": 1,
                           "skipped": 0, "rescued": 0, "ignored": 2})
    );
}

/// A value that closes a single-quoted word and runs `touch`, then hides behind a NUL byte
/// (the old quoting dropped the escaping for words with a NUL).
const INJECTION: &str = "x'; touch {dir}/pwned; echo '\\u0000";

fn refuses_the_word(project: &Project, output: &Output) {
    output.expect_code(2);
    assert!(output.stdout.contains("NUL byte"), "{}", output.stdout);
    assert!(!project.exists("pwned"), "the injected command ran");
}

#[test]
fn a_nul_byte_in_a_file_path_is_refused_not_injected() {
    let project = project(indoc! {"
        - hosts: all
          gather_facts: false
          tasks:
            - file: { path: '{{ evil }}', state: touch }
    "});
    let extra = format!("{{\"evil\": \"{INJECTION}\"}}")
        .replace("{dir}", &project.path().display().to_string());
    refuses_the_word(&project, &project.run(&["-e", &extra]));
}

#[test]
fn a_nul_byte_in_command_argv_copy_dest_or_become_is_refused() {
    let project = project(indoc! {"
        - hosts: all
          gather_facts: false
          tasks:
            - command: { argv: [echo, '{{ evil }}'] }
              ignore_errors: true
            - copy: { content: hello, dest: '{{ evil }}' }
              ignore_errors: true
            - stat: { path: '{{ evil }}' }
              ignore_errors: true
            - command: echo hi
              args: { chdir: '{{ evil }}' }
              ignore_errors: true
    "});
    let extra = format!("{{\"evil\": \"{INJECTION}\"}}")
        .replace("{dir}", &project.path().display().to_string());
    let output = project.run(&["-e", &extra]);
    output.expect_code(0);
    assert_eq!(
        output.stdout.matches("NUL byte").count(),
        4,
        "{}",
        output.stdout
    );
    assert_eq!(output.recap_of("localhost").ignored, 4);
    assert!(!project.exists("pwned"), "the injected command ran");
}

#[test]
fn a_nul_byte_from_a_hosts_output_is_refused() {
    let project = project(indoc! {r#"
        - hosts: all
          gather_facts: false
          tasks:
            - shell: printf "x'; touch {dir}/pwned; echo '\0"
              register: remote
            - file: { path: "{{ remote.stdout }}", state: touch }
    "#});
    refuses_the_word(&project, &project.run(&[]));
}

#[test]
fn an_environment_name_that_is_not_an_identifier_is_refused() {
    let project = project(indoc! {"
        - hosts: all
          gather_facts: false
          tasks:
            - command: echo hi
              environment:
                'A=1; touch {dir}/pwned; B': x
    "});
    let output = project.run(&[]);
    output.expect_code(2);
    assert!(
        output
            .stdout
            .contains("is not a valid environment variable name"),
        "{}",
        output.stdout
    );
    assert!(!project.exists("pwned"), "the injected command ran");
}

#[test]
fn hostile_words_reach_the_host_exactly_as_written() {
    let project = project(indoc! {r#"
        - hosts: all
          gather_facts: false
          tasks:
            - command:
                argv: [printf, '%s', "{{ word }}"]
              register: echoed
            - copy: { content: "{{ echoed.stdout }}", dest: "{dir}/{{ word }}" }
            - command:
                argv: [cat, "{dir}/{{ word }}"]
              register: written
            - assert:
                that:
                  - echoed.stdout == word
                  - written.stdout == word
    "#});
    let word = r#"a'b"c $(touch pwned) `id` ;|&<> * ~ \ "#;
    let extra = serde_json::json!({ "word": word }).to_string();
    project.run(&["-e", &extra]).expect_code(0);
    assert_eq!(project.read(word), word);
    assert!(!project.exists("pwned"));
}

#[test]
fn no_log_hides_loop_items_in_every_output_mode() {
    let secret = "Sw0rdf1sh-loop-item";
    let project = project(indoc! {"
        - hosts: all
          gather_facts: false
          tasks:
            - name: use a secret
              command: echo {{ item }}
              loop: ['{{ secret }}', plain]
              no_log: true
            - name: labelled
              debug: { msg: '{{ item }}' }
              loop: ['{{ secret }}']
              loop_control: { label: '{{ item }}' }
              no_log: true
    "});
    let extra = format!("secret={secret}");
    for mode in [&[][..], &["-v"], &["-vvv"], &["--json"], &["--diff"]] {
        let mut args = vec!["-e", extra.as_str(), "--runs-dir", "runs"];
        args.extend_from_slice(mode);
        let output = project.run(&args);
        output.expect_code(0);
        assert!(
            !output.stdout.contains(secret) && !output.stderr.contains(secret),
            "{mode:?} leaked the item:\n{}\n{}",
            output.stdout,
            output.stderr
        );
        assert!(
            output.stdout.contains("item=None") || output.stdout.contains("\"item\":\"None\""),
            "{mode:?}: {}",
            output.stdout
        );
    }
    assert_no_file_holds(&project, secret);
}

/// Fails when any file under the project (journal, runs, reports) holds `secret`; the
/// playbook itself (`*.yml`) may name it.
fn assert_no_file_holds(project: &Project, secret: &str) {
    walk(project.path(), &mut |path| {
        if path.extension().is_some_and(|e| e != "yml") {
            assert_file_lacks(path, secret);
        }
    });
}

/// Fails when any file under `dir` holds `secret`.
fn assert_no_file_under(dir: &Path, secret: &str) {
    walk(dir, &mut |path| assert_file_lacks(path, secret));
}

fn assert_file_lacks(path: &Path, secret: &str) {
    let bytes = std::fs::read(path).expect("read file");
    assert!(
        !String::from_utf8_lossy(&bytes).contains(secret),
        "{} holds a secret",
        path.display()
    );
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, visit);
        } else {
            visit(&path);
        }
    }
}

/// Every secret a run knows — the SSH password, the become password, an `-e` value used by a
/// `no_log` task, a `no_log` result — is absent from every output mode, from every file the
/// run leaves (journal, runs) and from `runs show`.
#[test]
fn secrets_never_reach_any_output_journal_or_report() {
    let (user, password) = (fleet::password_user(), fleet::password());
    let fleet = Fleet::new().user(user).start();
    let port = fleet.hosts[0].port;
    let inventory = format!(
        "all:\n  hosts:\n    pw01:\n      ansible_host: 127.0.0.1\n      ansible_port: {port}\n      \
         ansible_user: {user}\n      ansible_password: {password}\n      \
         ansible_become_password: {password}\n"
    );
    let extra_secret = "Xtra-s3cret-from-the-command-line";
    let home = tempfile::tempdir().expect("home");
    let project = fleet
        .project_with_inventory(&inventory)
        .env("HOME", &home.path().display().to_string())
        .playbook(indoc! {"
            - hosts: all
              gather_facts: false
              tasks:
                - name: a root command that sudo asks the password for
                  command: id -u
                  become: true
                  register: root
                - name: a secret on the command line of a no_log task
                  shell: echo {{ api_token }}; cat /etc/hostname
                  no_log: true
                  register: hidden
                - name: a changed file shown with --diff, from a no_log task
                  copy: { content: '{{ api_token }}', dest: '~/rpatch-secret-file' }
                  no_log: true
                  register: written
                - file: { path: '{{ written.dest }}', state: absent }
                - assert:
                    that:
                      - root.stdout == '0'
                      - api_token in hidden.stdout
        "});
    let extra = format!("api_token={extra_secret}");
    let modes: [&[&str]; 6] = [&[], &["-v"], &["-vv"], &["-vvv"], &["--json"], &["--diff"]];
    for mode in modes {
        let mut args = vec!["-e", extra.as_str()];
        args.extend_from_slice(mode);
        let output = project.run(&args);
        output.expect_code(0);
        for secret in [password, extra_secret] {
            assert!(
                !output.stdout.contains(secret) && !output.stderr.contains(secret),
                "{mode:?} printed a secret:\n{}\n{}",
                output.stdout,
                output.stderr
            );
        }
    }
    for id in run_ids(&project) {
        let shown = project.rpatch(&["runs", "show", &id]);
        shown.expect_code(0);
        for secret in [password, extra_secret] {
            assert!(!shown.stdout.contains(secret) && !shown.stderr.contains(secret));
        }
    }
    for secret in [password, extra_secret] {
        assert_no_file_holds(&project, secret);
        assert_no_file_under(project.state_dir(), secret);
    }
}

fn run_ids(project: &Project) -> Vec<String> {
    let ids: Vec<String> = std::fs::read_dir(project.runs_dir())
        .expect("runs dir")
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    assert_eq!(ids.len(), 6, "one run per output mode: {ids:?}");
    ids
}
