//! Bad and hostile input: a one-paragraph error naming file, line and column, the right exit
//! code, and no host touched (every playbook here would create `touched` if it ran at all); or,
//! for input that is merely huge, a run that finishes.

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
fn unknown_lookup_plugin_is_caught_before_running() {
    let project = Project::new().playbook(&play(
        "    - debug:\n        msg: \"{{ lookup('fiel', 'x') }}\"\n",
    ));
    let error = rejected(&project, &[], 4);
    assert!(error.contains("unknown lookup plugin `fiel`"), "{error}");
    assert!(error.contains("site.yml:6:14"), "{error}");
    assert!(error.contains("did you mean `file`"), "{error}");
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
    let error = rejected(&project, &["--task-timeout", "18446744073709551615"], 5);
    assert!(error.contains("4294967295"), "{error}");
}

#[test]
fn out_of_range_durations_and_counts_are_parse_errors_at_their_place() {
    for (task, at, says) in [
        ("    - debug: msg=x\n      loop: [1, 2]\n      loop_control: {pause: .inf}\n", "site.yml:7:29", "invalid `pause`"),
        ("    - debug: msg=x\n      loop: [1, 2]\n      loop_control: {pause: 1e30}\n", "site.yml:7:29", "found `1e30`"),
        ("    - debug: msg=x\n      loop: [1, 2]\n      loop_control: {pause: -1}\n", "site.yml:7:29", "from 0 to 4294967295"),
        ("    - shell: 'true'\n      register: r\n      until: r is success\n      delay: 18446744073709551616\n", "site.yml:8:14", "invalid `delay`"),
        ("    - shell: 'true'\n      register: r\n      until: r is success\n      retries: 1e30\n", "site.yml:8:16", "invalid `retries`"),
        ("    - pause: {seconds: .inf}\n", "site.yml:5:", "must be a finite number"),
        ("    - pause: {minutes: 1e300}\n", "site.yml:5:", "4294967295"),
    ] {
        let project = Project::new().timeout(60).playbook(&play(task));
        let error = rejected(&project, &[], 4);
        assert!(error.contains(at), "{task}: {error}");
        assert!(error.contains(says), "{task}: {error}");
        let error = rejected(&project, &["--check"], 4);
        assert!(error.contains(at), "{task}: {error}");
    }
    let project = Project::new().timeout(60).playbook(
        "- hosts: all\n  gather_facts: false\n  gates:\n    - tcp: db:1\n      timeout: 18446744073709551615\n  tasks:\n    - shell: touch {dir}/touched\n",
    );
    let error = rejected(&project, &[], 4);
    assert!(error.contains("site.yml:5:16"), "{error}");
}

/// A "billion laughs" alias bomb as play vars: nine levels of nine aliases of the level before
/// (under 500 bytes; parsed whole it would take gigabytes).
fn alias_bomb(indent: &str) -> String {
    let mut text = format!("{indent}a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (previous, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let aliases = vec![format!("*{previous}"); 9].join(", ");
        text.push_str(&format!("{indent}{name}: &{name} [{aliases}]\n"));
    }
    text
}

#[test]
fn alias_bomb_in_a_playbook_is_refused_at_its_line() {
    let project = Project::new().timeout(60).playbook(&format!(
        "- hosts: all\n  gather_facts: false\n  vars:\n{}  tasks:\n{MARK}",
        alias_bomb("    ")
    ));
    let error = rejected(&project, &[], 4);
    assert!(error.contains("site.yml:9:"), "{error}");
    assert!(
        error.contains("expand to more than 1000000 nodes"),
        "{error}"
    );
    let error = rejected(&project, &["--check"], 4);
    assert!(error.contains("alias"), "{error}");
}

#[test]
fn alias_bomb_in_a_yaml_inventory_is_refused_at_its_line() {
    let project = Project::new()
        .timeout(60)
        .file(
            "bomb.yml",
            &format!("all:\n  vars:\n{}  hosts:\n    web1:\n", alias_bomb("    ")),
        )
        .playbook(&play(""));
    let error = rejected(&project, &["-i", "bomb.yml"], 4);
    assert!(error.contains("bomb.yml:8:"), "{error}");
    assert!(
        error.contains("expand to more than 1000000 nodes"),
        "{error}"
    );
}

/// One INI host line of two megabytes: 250,000 `kN=v` pairs, then a long quoted value.
/// Splitting a line once re-counted it at every character: a megabyte took 28 s in a release
/// build and about a minute in this debug one, so two would take minutes and be killed at the
/// project's timeout. Parsed in one pass, the run takes a few seconds.
#[test]
fn a_two_megabyte_inventory_line_loads_and_its_host_runs() {
    let pairs: Vec<String> = (0..250_000).map(|i| format!("k{i}=v")).collect();
    let line = format!(
        "web1 ansible_connection=local {} motd='{}' last=end",
        pairs.join(" "),
        "x ".repeat(100_000)
    );
    assert!(line.len() > 2 << 20);
    let project = Project::new()
        .timeout(60)
        .file("hosts.ini", &format!("[web]\n{line}\n"))
        .playbook(
            "- hosts: web\n  gather_facts: false\n  tasks:\n    - shell: echo {{ k249999 }} {{ motd | length }} {{ last }} > {dir}/out\n",
        );
    let output = project.run(&["-i", "hosts.ini"]);
    output.expect_code(0);
    assert_eq!(output.recap_of("web1").changed, 1, "{}", output.stdout);
    assert_eq!(project.read("out"), "v 200000 end\n");
}

#[test]
fn a_fifo_or_device_as_vars_file_is_refused_without_hanging() {
    let vars_files = |path: &str| {
        format!(
            "- hosts: all\n  gather_facts: false\n  vars_files:\n    - {path}\n  tasks:\n{MARK}"
        )
    };
    let project = Project::new()
        .timeout(60)
        .fifo("pipe.yml")
        .playbook(&vars_files("pipe.yml"));
    let error = rejected(&project, &[], 4);
    assert!(error.contains("pipe.yml"), "{error}");
    assert!(
        error.contains("it is a FIFO, not a regular file"),
        "{error}"
    );
    assert!(error.contains("site.yml:4:7"), "{error}");
    let project = Project::new()
        .timeout(60)
        .playbook(&vars_files("/dev/zero"));
    let error = rejected(&project, &[], 4);
    assert!(
        error.contains("`/dev/zero`: it is a character device, not a regular file"),
        "{error}"
    );
}

#[test]
fn a_fifo_or_device_as_extra_vars_file_is_refused_without_hanging() {
    let project = Project::new()
        .timeout(60)
        .fifo("pipe.yml")
        .playbook(&play(""));
    let error = rejected(&project, &["-e", "@pipe.yml"], 5);
    assert!(error.contains("`pipe.yml`: it is a FIFO"), "{error}");
    let error = rejected(&project, &["-e", "@/dev/zero"], 5);
    assert!(
        error.contains("`/dev/zero`: it is a character device"),
        "{error}"
    );
}

#[test]
fn a_fifo_as_inventory_is_refused_without_hanging() {
    let project = Project::new().timeout(60).fifo("hosts").playbook(&play(""));
    let error = rejected(&project, &["-i", "hosts"], 4);
    assert!(error.contains("`hosts`: it is a FIFO"), "{error}");
}

#[test]
fn input_over_the_size_limit_is_refused_and_the_limit_can_be_raised() {
    let project = Project::new()
        .timeout(60)
        .env("RPATCH_MAX_INPUT_BYTES", "64")
        .playbook(&play(""));
    let error = rejected(&project, &[], 4);
    assert!(
        error.contains("larger than the input limit of 64 bytes"),
        "{error}"
    );
    assert!(error.contains("RPATCH_MAX_INPUT_BYTES"), "{error}");
    let project = Project::new()
        .timeout(60)
        .env("RPATCH_MAX_INPUT_BYTES", "lots")
        .playbook(&play(""));
    let error = rejected(&project, &[], 4);
    assert!(error.contains("RPATCH_MAX_INPUT_BYTES=`lots`"), "{error}");
    let project = Project::new()
        .timeout(60)
        .env("RPATCH_MAX_INPUT_BYTES", "100000")
        .playbook("- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=fits\n");
    project.run(&[]).expect_code(0);
}

#[test]
fn a_fifo_as_template_source_fails_the_task_without_hanging() {
    let project = Project::new()
        .timeout(60)
        .fifo("templates/motd.j2")
        .playbook("- hosts: all\n  gather_facts: false\n  tasks:\n    - template: {src: motd.j2, dest: \"{dir}/motd\"}\n");
    let output = project.run(&[]);
    output.expect_code(2);
    assert!(output.stdout.contains("it is a FIFO"), "{}", output.stdout);
    assert!(!project.exists("motd"));
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
                "[WARNING]: Could not match supplied host pattern, ignoring: {name}\n"
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
            .contains("[WARNING]: Could not match supplied host pattern, ignoring: nosuch"),
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
