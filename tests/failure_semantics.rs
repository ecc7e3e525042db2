//! Failure semantics as ansible-playbook has them: the failure budget after every task,
//! `any_errors_fatal` through blocks, nested rescues, handlers in blocks and the `meta`
//! directives that end hosts, batches and plays. Each expected recap and exit code was
//! recorded from ansible-core 2.19.14 on the same playbook and four local hosts.

use crate::support::{Output, Project};

const HOSTS: &str = "[all]\na\nb\nc\nd\n[all:vars]\nansible_connection=local\n";

fn run(playbook: &str, args: &[&str]) -> Output {
    let project = Project::new().file("hosts.ini", HOSTS).playbook(playbook);
    let mut all = vec!["-i", "hosts.ini"];
    all.extend_from_slice(args);
    project.run(&all)
}

/// Asserts the exit code and the PLAY RECAP lines (whitespace-normalised) Ansible printed.
fn expect_ansible(output: &Output, code: i32, recap: &[&str]) {
    output.expect_code(code);
    let start = output.stdout.find("PLAY RECAP").unwrap_or_else(|| {
        panic!("no PLAY RECAP:\n{}", output.stdout);
    });
    let lines: Vec<String> = output.stdout[start..]
        .lines()
        .skip(1)
        .filter(|line| line.contains(" : "))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, recap, "{}", output.stdout);
}

/// How many hosts printed this debug message.
fn printed(output: &Output, msg: &str) -> usize {
    output
        .stdout
        .matches(&format!("\"msg\": \"{msg}\""))
        .count()
}

#[test]
fn max_fail_percentage_is_checked_after_every_task_and_stops_the_batch_and_the_playbook() {
    let output = run(
        "- hosts: all\n  gather_facts: false\n  serial: 4\n  max_fail_percentage: 25\n  tasks:\n    - command: /bin/false\n      when: inventory_hostname in ['a','b']\n    - debug: msg=second\n- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=play2\n",
        &[],
    );
    expect_ansible(
        &output,
        2,
        &[
            "a : ok=0 changed=0 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0",
            "b : ok=0 changed=0 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0",
            "c : ok=0 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "d : ok=0 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
        ],
    );
    assert_eq!(printed(&output, "second"), 0, "{}", output.stdout);
    assert_eq!(printed(&output, "play2"), 0, "{}", output.stdout);
    assert!(
        output.stdout.contains("max_fail_percentage 25%"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_failure_in_a_nested_block_is_rescued_by_the_outer_rescue_with_the_failed_task_known() {
    let output = run(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - block:\n        - block:\n            - command: /bin/false\n              when: inventory_hostname == 'a'\n          always:\n            - debug: msg=inner-always\n      rescue:\n        - debug: msg=\"rescued rc={{ ansible_failed_result.rc }} name=[{{ ansible_failed_task.name }}]\"\n    - debug: msg=after\n",
        &[],
    );
    expect_ansible(
        &output,
        0,
        &[
            "a : ok=3 changed=0 unreachable=0 failed=0 skipped=0 rescued=1 ignored=0",
            "b : ok=2 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "c : ok=2 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "d : ok=2 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
        ],
    );
    assert_eq!(
        printed(&output, "rescued rc=1 name=[]"),
        1,
        "{}",
        output.stdout
    );
    assert_eq!(printed(&output, "after"), 4, "{}", output.stdout);
}

#[test]
fn any_errors_fatal_sends_every_host_to_its_rescue_and_takes_them_out_after_the_play() {
    let output = run(
        "- hosts: all\n  gather_facts: false\n  any_errors_fatal: true\n  tasks:\n    - block:\n        - debug: msg=start\n        - fail: msg=x\n          when: inventory_hostname == 'a'\n        - debug: msg=not-reached\n      rescue:\n        - debug: msg=in-rescue\n      always:\n        - debug: msg=in-always\n    - debug: msg=after\n- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=p2\n",
        &[],
    );
    expect_ansible(
        &output,
        2,
        &[
            "a : ok=5 changed=0 unreachable=0 failed=0 skipped=0 rescued=1 ignored=0",
            "b : ok=4 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "c : ok=4 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "d : ok=4 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
        ],
    );
    assert_eq!(printed(&output, "not-reached"), 0, "{}", output.stdout);
    assert_eq!(printed(&output, "in-rescue"), 4, "{}", output.stdout);
    assert_eq!(printed(&output, "p2"), 1, "only the rescued host goes on");
}

#[test]
fn any_errors_fatal_on_a_task_runs_every_host_s_always_then_fails_them() {
    let output = run(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - block:\n        - debug: msg=start\n        - fail: msg=x\n          when: inventory_hostname == 'a'\n          any_errors_fatal: true\n        - debug: msg=not-reached\n      always:\n        - debug: msg=in-always\n    - debug: msg=after\n- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=p2\n",
        &[],
    );
    expect_ansible(
        &output,
        2,
        &[
            "a : ok=2 changed=0 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0",
            "b : ok=2 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "c : ok=2 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "d : ok=2 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
        ],
    );
    assert_eq!(printed(&output, "in-always"), 4, "{}", output.stdout);
    assert_eq!(printed(&output, "after") + printed(&output, "p2"), 0);
}

#[test]
fn clear_host_errors_brings_failed_hosts_back_for_later_plays_and_the_run_succeeds() {
    let output = run(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail: msg=x\n      when: inventory_hostname == 'a'\n    - debug: msg=after\n    - meta: clear_host_errors\n- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=p2\n",
        &[],
    );
    expect_ansible(
        &output,
        0,
        &[
            "a : ok=1 changed=0 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0",
            "b : ok=2 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "c : ok=2 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "d : ok=2 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
        ],
    );
    assert_eq!(printed(&output, "p2"), 4, "{}", output.stdout);
}

#[test]
fn end_play_under_serial_ends_the_play_and_end_batch_only_the_batch() {
    let output = run(
        "- hosts: all\n  gather_facts: false\n  serial: 2\n  tasks:\n    - debug: msg=one\n    - meta: end_play\n      when: inventory_hostname == 'a'\n    - debug: msg=two\n- hosts: all\n  gather_facts: false\n  serial: 2\n  tasks:\n    - debug: msg=p2\n    - meta: end_batch\n      when: inventory_hostname in ['a','c']\n    - debug: msg=p2b\n",
        &[],
    );
    expect_ansible(
        &output,
        0,
        &[
            "a : ok=2 changed=0 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
            "b : ok=2 changed=0 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
            "c : ok=1 changed=0 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
            "d : ok=1 changed=0 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
        ],
    );
    assert_eq!(
        printed(&output, "one"),
        2,
        "end_play stops batch 2 of play 1"
    );
    assert_eq!(printed(&output, "two") + printed(&output, "p2b"), 0);
    assert_eq!(
        printed(&output, "p2"),
        4,
        "end_batch lets the next batch run"
    );
}

#[test]
fn a_meta_task_whose_condition_is_false_for_the_first_host_does_not_end_the_play() {
    // Ansible evaluates end_play's `when:` on the first host only.
    let output = run(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: end_play\n      when: inventory_hostname == 'b'\n    - meta: end_host\n      when: inventory_hostname == 'c'\n    - debug: msg=still-here\n",
        &[],
    );
    // c ran nothing that counts, so, as in Ansible, it has no recap line.
    expect_ansible(
        &output,
        0,
        &[
            "a : ok=1 changed=0 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
            "b : ok=1 changed=0 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
            "d : ok=1 changed=0 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
        ],
    );
    assert_eq!(printed(&output, "still-here"), 3, "{}", output.stdout);
}

#[test]
fn a_handler_failing_in_a_block_s_flush_goes_to_that_block_s_rescue() {
    let output = run(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - block:\n        - command: /bin/true\n          notify: bad handler\n        - meta: flush_handlers\n        - debug: msg=after-flush\n      rescue:\n        - debug: msg=rescued-handler\n    - debug: msg=end\n  handlers:\n    - name: bad handler\n      fail: msg=handler-broke\n      when: inventory_hostname == 'a'\n",
        &[],
    );
    expect_ansible(
        &output,
        0,
        &[
            "a : ok=3 changed=1 unreachable=0 failed=0 skipped=0 rescued=1 ignored=0",
            "b : ok=3 changed=1 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "c : ok=3 changed=1 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "d : ok=3 changed=1 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
        ],
    );
    assert_eq!(printed(&output, "rescued-handler"), 1, "{}", output.stdout);
}

#[test]
fn force_handlers_on_the_command_line_runs_handlers_on_failed_hosts() {
    let playbook = "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: /bin/true\n      notify: h\n    - fail: msg=x\n      when: inventory_hostname == 'a'\n  handlers:\n    - name: h\n      debug: msg=handler-ran\n";
    let plain = run(playbook, &[]);
    plain.expect_code(2);
    assert_eq!(printed(&plain, "handler-ran"), 3, "{}", plain.stdout);
    let forced = run(playbook, &["--force-handlers"]);
    expect_ansible(
        &forced,
        2,
        &[
            "a : ok=2 changed=1 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0",
            "b : ok=2 changed=1 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "c : ok=2 changed=1 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "d : ok=2 changed=1 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
        ],
    );
}
