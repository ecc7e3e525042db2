//! Security properties end to end: assertions that really assert, words that can never inject
//! a command, and secrets that never reach any output.

use indoc::indoc;

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
        output.stdout.contains("\"assertion\":\"1 == 2\""),
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

/// Fails when any file under the project (journal, runs, reports) holds `secret`.
fn assert_no_file_holds(project: &Project, secret: &str) {
    let mut stack = vec![project.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e != "yml") {
                let bytes = std::fs::read(&path).expect("read file");
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(secret),
                    "{} holds the secret",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn every_condition_keyword_evaluates_each_item_of_a_list() {
    let project = project(indoc! {"
        - hosts: all
          gather_facts: false
          tasks:
            - name: failed_when with one false item
              command: 'true'
              failed_when: [1 == 1, 1 == 2]
            - name: failed_when all true
              command: 'true'
              failed_when: [1 == 1, 2 == 2]
              ignore_errors: true
            - name: changed_when with one false item
              command: 'true'
              changed_when: [1 == 1, 1 == 2]
            - name: when with one false item
              debug: msg=x
              when: [1 == 1, 1 == 2]
            - name: until never true
              command: 'true'
              until: [1 == 1, 1 == 2]
              retries: 1
              delay: 0
              ignore_errors: true
    "});
    let output = project.run(&["--json"]);
    output.expect_code(0);
    let status: Vec<(String, String)> = output
        .events()
        .into_iter()
        .filter(|event| event["event"] == "host_result")
        .map(|e| {
            (
                e["task"].as_str().unwrap_or("").into(),
                e["status"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("failed_when with one false item", "changed"),
        ("failed_when all true", "failed"),
        ("changed_when with one false item", "ok"),
        ("when with one false item", "skipped"),
        ("until never true", "failed"),
    ]
    .iter()
    .map(|(t, s)| (t.to_string(), s.to_string()))
    .collect();
    assert_eq!(status, expected);
}
