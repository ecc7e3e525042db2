//! Playbook features end to end on the local connection: effects on disk, recap, exit codes.

use crate::support::{Project, Recap};

const THREE_HOSTS: &str =
    "[web]\nweb[1:2] ansible_connection=local\n[db]\ndb1 ansible_connection=local\n";

fn three_hosts(playbook: &str) -> Project {
    Project::new()
        .file("hosts.ini", THREE_HOSTS)
        .playbook(playbook)
}

#[test]
fn commands_change_files_and_the_recap_counts_them() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: write a file\n      shell: echo patched > {dir}/out.txt\n    - command: cat {dir}/out.txt\n      register: seen\n      changed_when: false\n    - assert:\n        that: seen.stdout == 'patched'\n",
    );
    let output = project.run(&[]);
    output.expect_code(0);
    assert_eq!(project.read("out.txt"), "patched\n");
    assert_eq!(
        output.recap_of("localhost"),
        Recap {
            ok: 3,
            changed: 1,
            ..Recap::default()
        }
    );
    assert!(
        output.stdout.contains("TASK [write a file]"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("changed: [localhost]"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_failed_host_leaves_the_play_while_others_go_on_and_exit_is_2() {
    let project = three_hosts(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail: msg=broken\n      when: inventory_hostname == 'db1'\n    - shell: touch {dir}/{{ inventory_hostname }}.done\n",
    );
    let output = project.run(&["-i", "hosts.ini"]);
    output.expect_code(2);
    assert!(project.exists("web1.done") && project.exists("web2.done"));
    assert!(
        !project.exists("db1.done"),
        "a failed host must not run later tasks"
    );
    assert_eq!(
        output.recap_of("db1"),
        Recap {
            failed: 1,
            ..Recap::default()
        }
    );
    assert_eq!(
        output.recap_of("web1"),
        Recap {
            ok: 1,
            changed: 1,
            skipped: 1,
            ..Recap::default()
        }
    );
    assert!(
        output.stdout.contains("fatal: [db1]: FAILED! => "),
        "{}",
        output.stdout
    );
}

#[test]
fn any_errors_fatal_stops_every_host() {
    let project = three_hosts(
        "- hosts: all\n  gather_facts: false\n  any_errors_fatal: true\n  tasks:\n    - fail: msg=broken\n      when: inventory_hostname == 'db1'\n    - shell: touch {dir}/{{ inventory_hostname }}.done\n",
    );
    project.run(&["-i", "hosts.ini"]).expect_code(2);
    assert!(!project.exists("web1.done") && !project.exists("web2.done"));
}

#[test]
fn rescue_catches_a_failure_and_always_runs() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - block:\n        - command: /bin/false\n        - shell: touch {dir}/not-reached\n      rescue:\n        - shell: touch {dir}/rescued\n      always:\n        - shell: touch {dir}/always\n",
    );
    let output = project.run(&[]);
    output.expect_code(0);
    assert!(
        project.exists("rescued") && project.exists("always") && !project.exists("not-reached")
    );
    assert_eq!(
        output.recap_of("localhost"),
        Recap {
            ok: 2,
            changed: 2,
            rescued: 1,
            ..Recap::default()
        }
    );
}

#[test]
fn a_failure_without_rescue_runs_always_then_fails_the_host() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - block:\n        - command: /bin/false\n      always:\n        - shell: touch {dir}/always\n    - shell: touch {dir}/after\n",
    );
    let output = project.run(&[]);
    output.expect_code(2);
    assert!(project.exists("always") && !project.exists("after"));
    assert_eq!(
        output.recap_of("localhost"),
        Recap {
            ok: 1,
            changed: 1,
            failed: 1,
            ..Recap::default()
        }
    );
}

#[test]
fn handlers_run_once_at_the_end_in_definition_order_and_only_when_notified() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo a\n      notify: [second, first]\n    - shell: echo b\n      notify: first\n    - shell: echo c\n      changed_when: false\n      notify: never\n    - shell: echo task >> {dir}/order\n  handlers:\n    - name: first\n      shell: echo first >> {dir}/order\n    - name: second\n      shell: echo second >> {dir}/order\n    - name: never\n      shell: echo never >> {dir}/order\n",
    );
    let output = project.run(&[]);
    output.expect_code(0);
    assert_eq!(project.read("order"), "task\nfirst\nsecond\n");
    assert!(
        output.stdout.contains("RUNNING HANDLER [first]"),
        "{}",
        output.stdout
    );
}

#[test]
fn flush_handlers_runs_them_mid_play_and_listen_topics_work() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo a\n      notify: restart things\n    - meta: flush_handlers\n    - shell: echo task >> {dir}/order\n  handlers:\n    - name: restart web\n      shell: echo handler >> {dir}/order\n      listen: restart things\n",
    );
    project.run(&[]).expect_code(0);
    assert_eq!(project.read("order"), "handler\ntask\n");
}

#[test]
fn loops_run_per_item_with_loop_var_index_and_register_results() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  vars:\n    pkgs: [openssl, qemu, libvirt]\n  tasks:\n    - shell: echo {{ idx }}-{{ pkg }} >> {dir}/items\n      loop: \"{{ pkgs }}\"\n      loop_control:\n        loop_var: pkg\n        index_var: idx\n      when: pkg != 'qemu'\n      register: out\n    - assert:\n        that:\n          - out.results | length == 3\n          - out.results[1] is skipped\n          - out.results[0].pkg == 'openssl'\n          - out is changed\n    - debug: msg={{ item }}\n      with_items: [[a, b], c]\n",
    );
    let output = project.run(&[]);
    output.expect_code(0);
    assert_eq!(project.read("items"), "0-openssl\n2-libvirt\n");
    assert!(output.stdout.contains("(item=qemu)"), "{}", output.stdout);
    assert!(
        output.stdout.contains("(item=c)"),
        "with_items flattens one level\n{}",
        output.stdout
    );
    assert_eq!(
        output.recap_of("localhost"),
        Recap {
            ok: 3,
            changed: 1,
            ..Recap::default()
        }
    );
}

#[test]
fn until_retries_until_the_condition_holds() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo x >> {dir}/attempts; wc -l < {dir}/attempts\n      register: count\n      until: count.stdout | int >= 3\n      retries: 5\n      delay: 0\n    - assert:\n        that: count.attempts == 3\n",
    );
    let output = project.run(&[]);
    output.expect_code(0);
    assert_eq!(project.read("attempts").lines().count(), 3);
    assert!(
        output.stdout.contains("FAILED - RETRYING"),
        "{}",
        output.stdout
    );
}

#[test]
fn until_gives_up_after_the_retries_and_fails() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo x >> {dir}/attempts\n      register: r\n      until: false\n      retries: 2\n      delay: 0\n",
    );
    project.run(&[]).expect_code(2);
    assert_eq!(project.read("attempts").lines().count(), 3);
}

#[test]
fn tags_select_and_skip_tasks() {
    let playbook = "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo patch >> {dir}/ran\n      tags: patch\n    - shell: echo report >> {dir}/ran\n      tags: [report]\n    - shell: echo always >> {dir}/ran\n      tags: always\n    - shell: echo never >> {dir}/ran\n      tags: never\n";
    let project = Project::new().playbook(playbook);
    project.run(&["--tags", "patch"]).expect_code(0);
    assert_eq!(project.read("ran"), "patch\nalways\n");
    let project = Project::new().playbook(playbook);
    project.run(&["--skip-tags", "patch"]).expect_code(0);
    assert_eq!(project.read("ran"), "report\nalways\n");
    let project = Project::new().playbook(playbook);
    project.run(&["-t", "never"]).expect_code(0);
    assert_eq!(project.read("ran"), "always\nnever\n");
}

#[test]
fn limit_restricts_hosts_with_patterns() {
    let project = three_hosts("- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: touch {dir}/{{ inventory_hostname }}\n");
    let output = project.run(&["-i", "hosts.ini", "--limit", "web:!web2"]);
    output.expect_code(0);
    assert!(project.exists("web1") && !project.exists("web2") && !project.exists("db1"));
    assert_eq!(output.recap().len(), 1);
}

#[test]
fn limit_from_a_file() {
    let project = three_hosts("- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: touch {dir}/{{ inventory_hostname }}\n")
        .file("retry.txt", "db1\nweb2\n");
    project
        .run(&["-i", "hosts.ini", "-l", "@retry.txt"])
        .expect_code(0);
    assert!(!project.exists("web1") && project.exists("web2") && project.exists("db1"));
}

#[test]
fn check_mode_changes_nothing_but_read_only_tasks_still_run() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: touch {dir}/written\n    - command: echo probe\n      register: probe\n      check_mode: false\n      changed_when: false\n    - debug: msg=\"{{ probe.stdout }} {{ ansible_check_mode }}\"\n",
    );
    let output = project.run(&["--check"]);
    output.expect_code(0);
    assert!(!project.exists("written"));
    assert!(
        output.stdout.contains("\"probe True\""),
        "{}",
        output.stdout
    );
    assert_eq!(
        output.recap_of("localhost"),
        Recap {
            ok: 2,
            skipped: 1,
            ..Recap::default()
        }
    );
}

#[test]
fn json_events_describe_the_run() {
    let project = Project::new().playbook(
        "- name: json play\n  hosts: all\n  gather_facts: false\n  tasks:\n    - name: say\n      debug: msg=hello\n    - name: secret\n      shell: echo s3cr3t-value\n      no_log: true\n",
    );
    let output = project.run(&["--json"]);
    output.expect_code(0);
    let events = output.events();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().expect("event"))
        .collect();
    assert_eq!(
        kinds,
        [
            "play_start",
            "batch_start",
            "task_start",
            "host_result",
            "task_start",
            "host_result",
            "recap"
        ]
    );
    assert_eq!(events[0]["name"], "json play");
    assert_eq!(events[1]["hosts"], serde_json::json!(["localhost"]));
    assert_eq!(events[3]["status"], "ok");
    assert_eq!(events[3]["result"]["msg"], "hello");
    assert_eq!(events[5]["status"], "changed");
    assert_eq!(events[6]["hosts"]["localhost"]["changed"], 1);
    assert_eq!(events[6]["not_started"], serde_json::json!([]));
    assert!(
        !output.stdout.contains("s3cr3t-value"),
        "no_log output leaked:\n{}",
        output.stdout
    );
}

#[test]
fn undefined_variables_fail_the_host_naming_task_host_and_variable() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: use a missing var\n      debug: msg=\"{{ kernel_version }}\"\n    - debug: msg=\"{{ missing | default('fine') }}\"\n",
    );
    let output = project.run(&[]);
    output.expect_code(2);
    assert!(
        output.stdout.contains("use a missing var"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("localhost"), "{}", output.stdout);
    assert!(
        output.stdout.contains("kernel_version"),
        "{}",
        output.stdout
    );
}

#[test]
fn an_unreachable_host_is_counted_apart_and_exit_is_3() {
    let project = Project::new()
        .file("hosts.yml", "all:\n  hosts:\n    good:\n      ansible_connection: local\n    gone:\n      ansible_connection: winrm\n")
        .playbook("- hosts: all\n  tasks:\n    - shell: touch {dir}/{{ inventory_hostname }}\n");
    let output = project.run(&["-i", "hosts.yml"]);
    output.expect_code(3);
    assert_eq!(
        output.recap_of("gone"),
        Recap {
            unreachable: 1,
            ..Recap::default()
        }
    );
    assert_eq!(
        output.recap_of("good"),
        Recap {
            ok: 2,
            changed: 1,
            ..Recap::default()
        }
    );
    assert!(project.exists("good") && !project.exists("gone"));
}

#[test]
fn facts_are_gathered_by_default() {
    let project = Project::new().playbook(
        "- hosts: all\n  tasks:\n    - debug: msg=\"{{ ansible_facts.system }} {{ ansible_kernel }} {{ ansible_pkg_mgr is defined }}\"\n",
    );
    let output = project.run(&[]);
    output.expect_code(0);
    assert!(
        output.stdout.contains("TASK [Gathering Facts]"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("Linux"), "{}", output.stdout);
}

#[test]
fn roles_bring_tasks_handlers_defaults_and_vars_with_precedence() {
    let project = Project::new()
        .file("roles/patch/defaults/main.yml", "marker: from-defaults\nlevel: default\n")
        .file("roles/patch/vars/main.yml", "level: role-vars\n")
        .file("roles/patch/tasks/main.yml", "- shell: echo {{ marker }} {{ level }} {{ role_name }} > {dir}/role\n  notify: role handler\n")
        .file("roles/patch/handlers/main.yml", "- name: role handler\n  shell: touch {dir}/handled\n")
        .file("group_vars/all.yml", "marker: from-group-vars\n")
        .playbook("- hosts: all\n  gather_facts: false\n  vars:\n    level: play\n  roles:\n    - patch\n");
    project.run(&[]).expect_code(0);
    assert_eq!(project.read("role"), "from-group-vars role-vars patch\n");
    assert!(project.exists("handled"));
}

#[test]
fn extra_vars_win_over_everything() {
    let project = Project::new()
        .file("vars.yml", "who: file\n")
        .playbook("- hosts: all\n  gather_facts: false\n  vars:\n    who: play\n  vars_files: [vars.yml]\n  tasks:\n    - set_fact:\n        who: fact\n    - shell: echo {{ who }} > {dir}/who\n");
    project.run(&["-e", "who=cli"]).expect_code(0);
    assert_eq!(project.read("who"), "cli\n");
    let project = Project::new()
        .file("vars.yml", "who: file\n")
        .playbook("- hosts: all\n  gather_facts: false\n  vars:\n    who: play\n  vars_files: [vars.yml]\n  tasks:\n    - shell: echo {{ who }} > {dir}/who\n");
    project.run(&[]).expect_code(0);
    assert_eq!(project.read("who"), "file\n");
}

#[test]
fn include_and_import_tasks_run_in_place_with_loops() {
    let project = Project::new()
        .file("steps.yml", "- shell: echo {{ step }} >> {dir}/steps\n")
        .playbook("- hosts: all\n  gather_facts: false\n  tasks:\n    - import_tasks: steps.yml\n      vars:\n        step: imported\n    - include_tasks: steps.yml\n      loop: [one, two]\n      loop_control:\n        loop_var: step\n    - shell: echo last >> {dir}/steps\n");
    project.run(&[]).expect_code(0);
    assert_eq!(project.read("steps"), "imported\none\ntwo\nlast\n");
}

#[test]
fn delegate_to_localhost_and_run_once() {
    let project = three_hosts(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo {{ inventory_hostname }} >> {dir}/once\n      run_once: true\n    - shell: echo {{ inventory_hostname }} >> {dir}/delegated\n      delegate_to: localhost\n",
    );
    project.run(&["-i", "hosts.ini"]).expect_code(0);
    assert_eq!(project.read("once"), "web1\n");
    assert_eq!(project.read("delegated").lines().count(), 3);
}

#[test]
fn play_and_task_environment_reach_commands() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  environment:\n    PATCH_WINDOW: sat\n  tasks:\n    - shell: echo $PATCH_WINDOW $EXTRA > {dir}/env\n      environment:\n        EXTRA: '{{ 1 + 1 }}'\n",
    );
    project.run(&[]).expect_code(0);
    assert_eq!(project.read("env"), "sat 2\n");
}

#[test]
fn failed_when_and_changed_when_override_results() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: /bin/false\n      register: r\n      failed_when: r.rc not in [0, 1]\n      changed_when: false\n    - command: echo ERROR\n      register: e\n      failed_when: \"'ERROR' in e.stdout\"\n",
    );
    let output = project.run(&[]);
    output.expect_code(2);
    assert_eq!(
        output.recap_of("localhost"),
        Recap {
            ok: 1,
            failed: 1,
            ..Recap::default()
        }
    );
}

#[test]
fn later_plays_skip_hosts_that_failed_earlier() {
    let project = three_hosts(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail: msg=x\n      when: inventory_hostname == 'web2'\n- hosts: web\n  gather_facts: false\n  tasks:\n    - shell: touch {dir}/{{ inventory_hostname }}\n",
    );
    project.run(&["-i", "hosts.ini"]).expect_code(2);
    assert!(project.exists("web1") && !project.exists("web2"));
}

#[test]
fn ctrl_c_lets_running_tasks_finish_prints_the_recap_and_exits_99() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: touch {dir}/started; sleep 2; touch {dir}/finished\n    - shell: touch {dir}/next\n",
    );
    let child = project
        .command()
        .args(["run", "site.yml"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !project.exists("started") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(99), "{stdout}");
    assert!(project.exists("finished"), "the running task must finish");
    assert!(!project.exists("next"), "no new task may start");
    assert!(stdout.contains("PLAY RECAP"), "{stdout}");
}

#[test]
fn file_modules_are_idempotent_and_show_diffs() {
    let project = Project::new()
        .file("templates/motd.j2", "patched by {{ who }} on {{ inventory_hostname }}\n")
        .playbook(
            "- hosts: all\n  gather_facts: false\n  vars:\n    who: rpatch\n  tasks:\n    - file: path={dir}/etc state=directory mode=0755\n    - copy:\n        content: \"PermitRootLogin no\\n\"\n        dest: \"{dir}/etc/sshd_config\"\n        mode: \"0600\"\n    - template: src=motd.j2 dest={dir}/etc/motd\n    - lineinfile:\n        path: \"{dir}/etc/ssh_banner\"\n        create: true\n        regexp: '^PasswordAuthentication'\n        line: PasswordAuthentication no\n    - fetch: src={dir}/etc/motd dest={dir}/fetched\n",
        );
    let first = project.run(&["--diff"]);
    first.expect_code(0);
    assert_eq!(
        first.recap_of("localhost"),
        Recap {
            ok: 5,
            changed: 5,
            ..Recap::default()
        }
    );
    assert!(
        first.stdout.contains("+PasswordAuthentication no"),
        "{}",
        first.stdout
    );
    assert_eq!(project.read("etc/motd"), "patched by rpatch on localhost\n");
    assert_eq!(project.read("etc/sshd_config"), "PermitRootLogin no\n");
    assert_eq!(
        project.read("etc/ssh_banner"),
        "PasswordAuthentication no\n"
    );
    assert!(project.exists(&format!(
        "fetched/localhost{}/etc/motd",
        project.path().display()
    )));
    let second = project.run(&[]);
    second.expect_code(0);
    assert_eq!(
        second.recap_of("localhost"),
        Recap {
            ok: 5,
            ..Recap::default()
        },
        "second run must change nothing\n{}",
        second.stdout
    );
}

#[test]
fn task_names_are_templated_with_play_and_extra_vars_and_kept_as_written_otherwise() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  vars:\n    pkg: openssl\n  tasks:\n\
         \x20   - name: upgrade {{ pkg }}\n      debug: msg=x\n\
         \x20   - name: \"item {{ item }}\"\n      debug: msg={{ item }}\n      loop: [a]\n",
    );
    let output = project.run(&["-e", "pkg=libssl3"]);
    output.expect_code(0);
    assert!(
        output.stdout.contains("TASK [upgrade libssl3] "),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("TASK [item {{ item }}] "),
        "{}",
        output.stdout
    );
    let json = project.run(&["--json"]);
    let mut tasks: Vec<String> = json
        .events()
        .into_iter()
        .filter(|e| e["event"] == "host_result")
        .filter_map(|e| e["task"].as_str().map(str::to_string))
        .collect();
    tasks.dedup();
    assert_eq!(tasks, ["upgrade openssl", "item {{ item }}"]);
}

#[test]
fn templated_retries_or_delay_out_of_range_fail_the_host_not_the_run() {
    let playbook = "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n      register: r\n      until: r is failed\n      retries: \"{{ n }}\"\n      delay: \"{{ d }}\"\n    - shell: touch {dir}/after\n";
    for (extra, says) in [
        (
            "{n: 1e30, d: 0}",
            "retries: expected a whole number from 0 to 4294967295",
        ),
        (
            "{n: -1, d: 0}",
            "retries: expected a whole number from 0 to 4294967295, found -1",
        ),
        (
            "{n: 18446744073709551616, d: 0}",
            "found `18446744073709551616`",
        ),
        (
            "{n: 1, d: .inf}",
            "delay: expected a number of seconds from 0 to 4294967295, found inf",
        ),
        ("{n: 1, d: .nan}", "delay: expected a number of seconds"),
        ("{n: 1, d: -0.5}", "found -0.5"),
    ] {
        let project = Project::new().timeout(60).playbook(playbook);
        let output = project.run(&["-e", extra]);
        output.expect_code(2);
        assert!(output.stdout.contains(says), "{extra}: {}", output.stdout);
        assert!(!project.exists("after"), "{extra}: the failed host went on");
        assert_eq!(output.recap_of("localhost").failed, 1, "{extra}");
    }
}

#[test]
fn a_loop_pause_given_as_text_is_read_as_seconds() {
    let project = Project::new().timeout(60).playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo {{ item }} >> {dir}/items\n      loop: [a, b]\n      loop_control: {pause: '0.1'}\n",
    );
    project.run(&[]).expect_code(0);
    assert_eq!(project.read("items"), "a\nb\n");
}

#[test]
fn templates_with_non_ascii_comments_and_strings_check_and_run() {
    // `rpatch check` once panicked on `{# café #}`: its filter scan sliced inside a character.
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy:\n        content: \"{# café #}{{ 'naïve' | upper }}\"\n        dest: {dir}/out\n      when: inventory_hostname != 'café ☕'\n",
    );
    project.rpatch(&["check", "site.yml"]).expect_code(0);
    project.run(&[]).expect_code(0);
    assert_eq!(project.read("out"), "NAÏVE");
}

#[test]
fn throttle_limits_how_many_hosts_run_a_task_at_once() {
    // Each host claims a lock directory for a moment: two at once would find it taken.
    let claim = "mkdir {dir}/lock && sleep 0.5 && rmdir {dir}/lock";
    let throttled = three_hosts(&format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - block:\n        - shell: {claim}\n      throttle: 1\n"
    ));
    let output = throttled.run(&["-i", "hosts.ini", "--forks", "3"]);
    output.expect_code(0);
    let free = three_hosts(&format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: {claim}\n"
    ));
    let output = free.run(&["-i", "hosts.ini", "--forks", "3"]);
    output.expect_code(2);
}

#[test]
fn a_handler_that_is_include_tasks_runs_the_included_tasks_on_the_notifying_hosts() {
    let project = three_hosts(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: echo hi\n      notify: included\n      when: inventory_hostname != 'db1'\n  handlers:\n    - name: included\n      include_tasks: handler_tasks.yml\n",
    )
    .file(
        "handler_tasks.yml",
        "- shell: echo {{ inventory_hostname }} > {dir}/{{ inventory_hostname }}.handled\n",
    );
    let output = project.run(&["-i", "hosts.ini"]);
    output.expect_code(0);
    assert_eq!(project.read("web1.handled"), "web1\n");
    assert_eq!(project.read("web2.handled"), "web2\n");
    assert!(
        !project.path().join("db1.handled").exists(),
        "{}",
        output.stdout
    );
    assert_eq!(
        output.recap_of("web1"),
        Recap {
            ok: 3,
            changed: 2,
            ..Recap::default()
        }
    );
}

#[test]
fn under_strategy_free_a_host_runs_ahead_of_one_still_busy() {
    // db1's first task waits until web1 has finished its second task: under the linear
    // strategy it would wait for ever (web1 cannot start task 2 before db1 ends task 1).
    let project = three_hosts(
        "- hosts: all\n  gather_facts: false\n  strategy: free\n  tasks:\n    - shell: \"{% if inventory_hostname == 'db1' %}for i in $(seq 1500); do [ -f {dir}/web1.second ] && exit 0; sleep 0.2; done; exit 1{% else %}true{% endif %}\"\n    - shell: touch {dir}/{{ inventory_hostname }}.second\n",
    );
    let output = project.run(&["-i", "hosts.ini"]);
    output.expect_code(0);
    for host in ["web1", "web2", "db1"] {
        assert!(project.exists(&format!("{host}.second")), "{host}");
    }
}

#[test]
fn an_unsupported_strategy_is_refused_naming_where_it_is_written() {
    let project = three_hosts(
        "- hosts: all\n  gather_facts: false\n  strategy: host_pinned\n  tasks:\n    - debug: msg=x\n",
    );
    let output = project.run(&["-i", "hosts.ini"]);
    assert_ne!(output.code, 0);
    assert!(
        output
            .stderr
            .contains("`host_pinned` is not supported; use `linear` or `free`"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("site.yml:3:13"), "{}", output.stderr);
}

#[test]
fn a_templated_serial_is_rendered_with_extra_vars_and_refused_naming_where_it_is_written() {
    let project = three_hosts(
        "- hosts: all\n  gather_facts: false\n  serial: \"{{ size }}\"\n  tasks:\n    - shell: echo {{ ansible_play_batch | join(',') }} >> {dir}/batches.txt\n      run_once: true\n",
    );
    project
        .run(&["-i", "hosts.ini", "-e", "size=2"])
        .expect_code(0);
    assert_eq!(project.read("batches.txt"), "web1,web2\ndb1\n");
    let output = project.run(&["-i", "hosts.ini", "-e", "size=lots"]);
    assert_ne!(output.code, 0);
    assert!(output.stderr.contains("lots"), "{}", output.stderr);
    assert!(output.stderr.contains("site.yml:3:11"), "{}", output.stderr);
}

#[test]
fn a_file_included_at_run_time_with_an_error_fails_the_host_naming_file_line_and_column() {
    let project = Project::new()
        .file("bad.yml", "- debug: msg=ok\n- nosuchmodule: x\n")
        .playbook(
            "- hosts: all\n  gather_facts: false\n  vars:\n    which: bad\n  tasks:\n    - include_tasks: \"{{ which }}.yml\"\n",
        );
    let output = project.run(&[]);
    output.expect_code(2);
    let shown = format!("{}{}", output.stdout, output.stderr);
    assert!(shown.contains("nosuchmodule"), "{shown}");
    assert!(shown.contains("bad.yml:2:3"), "{shown}");
}

#[test]
fn an_included_task_file_for_another_platform_loads_only_when_it_runs() {
    let project = Project::new()
        .file(
            "setup-FreeBSD.yml",
            "- name: install with the BSD package tool\n  pkgng:\n    name: nginx\n",
        )
        .playbook(
            "- hosts: all\n  gather_facts: false\n  tasks:\n\
             \x20   - include_tasks: setup-FreeBSD.yml\n      when: bsd | default(false)\n\
             \x20   - shell: touch {dir}/linux.done\n",
        );
    let check = project.rpatch(&["check", "site.yml"]);
    check.expect_code(0);
    assert!(
        check.stderr.contains("setup-FreeBSD.yml") && check.stderr.contains("pkgng"),
        "{}",
        check.stderr
    );
    project.run(&[]).expect_code(0);
    assert!(project.path().join("linux.done").exists());
    let out = project.run(&["-e", "bsd=true"]);
    out.expect_code(2);
    assert!(out.stdout.contains("pkgng"), "{}", out.stdout);
}
