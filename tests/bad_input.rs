//! Bad input: a one-paragraph error naming file, line and column, the right exit code, and no
//! host touched (every playbook here would create `touched` if it ran at all).

use crate::support::Project;

/// A play whose first task would leave a mark if anything ran.
const MARK: &str = "    - shell: touch {dir}/touched\n";

fn rejected(project: &Project, args: &[&str], code: i32) -> String {
    let output = project.run(args);
    output.expect_code(code);
    assert!(
        !project.exists("touched"),
        "a host was touched despite bad input"
    );
    assert!(
        output.stdout.is_empty(),
        "nothing may run: {}",
        output.stdout
    );
    output.stderr_redacted()
}

fn play(tasks: &str) -> String {
    format!("- hosts: all\n  gather_facts: false\n  tasks:\n{MARK}{tasks}")
}

#[test]
fn unknown_module_with_suggestion() {
    let project = Project::new().playbook(&play("    - name: typo\n      shel: echo hi\n"));
    insta::assert_snapshot!(rejected(&project, &[], 4));
}

#[test]
fn unknown_task_key_with_suggestion() {
    let project = Project::new().playbook(&play("    - nmae: typo\n      debug: msg=x\n"));
    insta::assert_snapshot!(rejected(&project, &[], 4));
}

#[test]
fn unknown_play_key_with_suggestion() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_fatcs: false\n  tasks:\n    - shell: touch {dir}/touched\n",
    );
    insta::assert_snapshot!(rejected(&project, &[], 4));
}

#[test]
fn wrong_argument_type() {
    let project = Project::new().playbook(&play("    - debug:\n        verbosity: loud\n"));
    insta::assert_snapshot!(rejected(&project, &[], 4));
}

#[test]
fn unknown_module_argument_with_suggestion() {
    let project = Project::new().playbook(&play(
        "    - command:\n        cmd: uptime\n        chdri: /tmp\n",
    ));
    insta::assert_snapshot!(rejected(&project, &[], 4));
}

#[test]
fn yaml_syntax_error() {
    let project = Project::new().playbook(&play("    - debug: msg=[unclosed\n      when: [a\n"));
    let error = rejected(&project, &[], 4);
    assert!(error.contains("site.yml:"), "{error}");
    assert!(error.contains("YAML syntax error"), "{error}");
}

#[test]
fn missing_role() {
    let project = Project::new().playbook("- hosts: all\n  gather_facts: false\n  roles:\n    - nosuchrole\n  tasks:\n    - shell: touch {dir}/touched\n");
    insta::assert_snapshot!(rejected(&project, &[], 4));
}

#[test]
fn missing_vars_file() {
    let project = Project::new().playbook("- hosts: all\n  gather_facts: false\n  vars_files:\n    - vars/missing.yml\n  tasks:\n    - shell: touch {dir}/touched\n");
    let error = rejected(&project, &[], 4);
    assert!(error.contains("vars/missing.yml"), "{error}");
    assert!(error.contains("site.yml:4:7"), "{error}");
}

#[test]
fn unterminated_template() {
    let project = Project::new().playbook(&play(
        "    - debug:\n        msg: \"{{ inventory_hostname \"\n",
    ));
    insta::assert_snapshot!(rejected(&project, &[], 4));
}

#[test]
fn unknown_filter_is_caught_before_running() {
    let project = Project::new().playbook(&play(
        "    - debug:\n        msg: \"{{ inventory_hostname | uper }}\"\n",
    ));
    let error = rejected(&project, &[], 4);
    assert!(error.contains("site.yml:6:14"), "{error}");
    assert!(error.contains("upper"), "{error}");
}

#[test]
fn cyclic_include() {
    let project = Project::new()
        .file("a.yml", "- import_tasks: b.yml\n")
        .file("b.yml", "- import_tasks: a.yml\n")
        .playbook(&play("    - import_tasks: a.yml\n"));
    let error = rejected(&project, &[], 4);
    assert!(error.contains("include cycle"), "{error}");
    assert!(error.contains("b.yml:1:3"), "{error}");
}

#[test]
fn duplicate_host_in_a_range() {
    let project = Project::new()
        .file("hosts.ini", "[web]\nweb[1:3] web2\n")
        .playbook(&play(""));
    let error = rejected(&project, &["-i", "hosts.ini"], 4);
    assert!(error.contains("hosts.ini:2:"), "{error}");
    assert!(error.contains("web2"), "{error}");
}

#[test]
fn unknown_limit_pattern() {
    let project = Project::new().playbook(&play(""));
    insta::assert_snapshot!(rejected(&project, &["--limit", "localhots"], 4));
}

/// ansible-playbook's message when a limit leaves no host (it exits 1 too).
const NO_HOSTS: &str =
    "error: Specified inventory, host pattern and/or --limit leaves us with no hosts to target.";

/// Two hosts, a playbook that marks any host it reaches, and limit files with no pattern.
fn limited_project() -> Project {
    Project::new()
        .file("hosts.ini", "[web]\nweb[1:2] ansible_connection=local\n")
        .playbook(&play(""))
        .file("empty.txt", "")
        .file("blank.txt", "\n   \n\t\n")
        .file(
            "comments.txt",
            "# nothing failed last night\n\n  # (retry file)\n",
        )
}

#[test]
fn an_empty_limit_targets_no_host() {
    let project = limited_project();
    for limit in ["", " ", ",", "@empty.txt", "@blank.txt", "@comments.txt"] {
        let error = rejected(&project, &["-i", "hosts.ini", "-l", limit], 1);
        assert_eq!(
            error.lines().next(),
            Some(NO_HOSTS),
            "-l '{limit}': {error}"
        );
    }
    let error = rejected(&project, &["-i", "hosts.ini", "--limit="], 1);
    insta::assert_snapshot!(error);
}

#[test]
fn a_limit_that_excludes_every_host_targets_none() {
    let project = limited_project();
    let error = rejected(&project, &["-i", "hosts.ini", "-l", "web:!web1:!web2"], 1);
    assert_eq!(error.lines().next(), Some(NO_HOSTS), "{error}");
}

#[test]
fn every_command_refuses_an_empty_limit_alike() {
    let project = limited_project();
    let commands: [&[&str]; 5] = [
        &["run", "site.yml", "--list-hosts"],
        &["plan", "site.yml"],
        &["check", "site.yml"],
        &["inventory", "--list"],
        &["inventory", "--graph"],
    ];
    for command in commands {
        for limit in ["", "@blank.txt"] {
            let mut args = command.to_vec();
            args.extend(["-i", "hosts.ini", "-l", limit]);
            let output = project.rpatch(&args);
            output.expect_code(1);
            assert_eq!(
                output.stderr.lines().next(),
                Some(NO_HOSTS),
                "{args:?}: {}",
                output.stderr
            );
            assert!(output.stdout.is_empty(), "{args:?}: {}", output.stdout);
        }
    }
    assert!(!project.exists("touched"));
}

#[test]
fn undefined_handler() {
    let project = Project::new().playbook(&play("    - shell: echo\n      notify: restart libvrt\n  handlers:\n    - name: restart libvirt\n      debug: msg=x\n"));
    insta::assert_snapshot!(rejected(&project, &[], 4));
}

#[test]
fn negative_retries() {
    let project = Project::new().playbook(&play(
        "    - shell: echo\n      register: r\n      until: r is success\n      retries: -1\n",
    ));
    let error = rejected(&project, &[], 4);
    assert!(error.contains("site.yml:8:16"), "{error}");
}

#[test]
fn bad_command_line_options_exit_5() {
    let project = Project::new().playbook(&play(""));
    rejected(&project, &["--forks", "0"], 5);
    rejected(&project, &["--no-such-flag"], 5);
    let error = rejected(&project, &["-e", "notkeyvalue"], 5);
    assert!(error.contains("--extra-vars"), "{error}");
}

#[test]
fn a_host_pattern_element_that_matches_nothing_is_a_warning_as_in_ansible() {
    let project = Project::new()
        .file("hosts", "[web]\nlocalhost ansible_connection=local\n")
        .playbook(&format!(
            "- hosts: nosuch\n  gather_facts: false\n  tasks:\n{MARK}\
             - hosts: web:nothere:!gone\n  gather_facts: false\n  tasks:\n    - debug: msg=ran\n"
        ));
    let output = project.run(&["-i", "hosts"]);
    output.expect_code(0);
    assert!(!project.exists("touched"), "the unmatched play ran");
    for name in ["nosuch", "nothere", "gone"] {
        assert!(
            output.stderr.contains(&format!(
                "Could not match supplied host pattern, ignoring: {name}\n"
            )),
            "{}",
            output.stderr
        );
    }
    assert!(
        !output.stderr.contains('\u{1b}'),
        "colour codes on a stderr that is not a terminal: {:?}",
        output.stderr
    );
    assert!(
        output.stdout.contains("PLAY [nosuch] ****")
            && output.stdout.contains("skipping: no hosts matched"),
        "{}",
        output.stdout
    );
    assert_eq!(output.recap_of("localhost").ok, 1);

    let check = project.rpatch(&["check", "site.yml", "-i", "hosts"]);
    check.expect_code(0);
    assert!(
        check
            .stderr
            .contains("Could not match supplied host pattern, ignoring: nosuch"),
        "{}",
        check.stderr
    );
}

#[test]
fn a_host_pattern_with_a_broken_regex_is_an_error_naming_the_play() {
    let project = Project::new().playbook(&format!(
        "- name: broken\n  hosts: \"~web(\"\n  gather_facts: false\n  tasks:\n{MARK}"
    ));
    let stderr = rejected(&project, &[], 4);
    assert!(
        stderr.contains("play `broken`: invalid regular expression in host pattern `~web(`"),
        "{stderr}"
    );
}
