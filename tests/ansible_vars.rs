//! Variables Ansible gives every task, checked against what ansible-core 2.19.14 printed for
//! the same playbook on local hosts.

use crate::support::Project;

const HOSTS: &str = "[all]\na\nb\nc\nd\n[all:vars]\nansible_connection=local\n";

fn run(playbook: &str, args: &[&str]) -> crate::support::Output {
    let project = Project::new().file("hosts.ini", HOSTS).playbook(playbook);
    let mut all = vec!["-i", "hosts.ini"];
    all.extend_from_slice(args);
    project.run(&all)
}

#[test]
fn magic_variables_hold_tags_modes_version_host_and_an_absolute_playbook_dir() {
    let output = run(
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: msg=\"tags={{ ansible_run_tags }} skip={{ ansible_skip_tags }} check={{ ansible_check_mode }} ver={{ ansible_version.major }}.{{ ansible_version.minor }} host={{ ansible_host }} abs={{ playbook_dir[0] == '/' }} diff={{ ansible_diff_mode }}\"\n",
        &[],
    );
    output.expect_code(0);
    assert!(
        output.stdout.contains(
            "\"msg\": \"tags=['all'] skip=[] check=False ver=2.19 host=a abs=True diff=False\""
        ),
        "{}",
        output.stdout
    );
    let tagged = run(
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: msg=\"tags={{ ansible_run_tags }} skip={{ ansible_skip_tags }}\"\n      tags: [x]\n",
        &["--tags", "x", "--skip-tags", "y"],
    );
    tagged.expect_code(0);
    assert!(
        tagged.stdout.contains("\"msg\": \"tags=['x'] skip=['y']\""),
        "{}",
        tagged.stdout
    );
}

#[test]
fn set_fact_in_a_loop_sees_the_facts_of_earlier_items() {
    let output = run(
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - set_fact:\n        acc: \"{{ (acc | default([])) + [item] }}\"\n      loop: [1, 2, 3]\n    - debug: msg=\"{{ acc | join(',') }}\"\n",
        &[],
    );
    output.expect_code(0);
    assert!(
        output.stdout.contains("\"msg\": \"1,2,3\""),
        "{}",
        output.stdout
    );
}

#[test]
fn hostvars_hold_inventory_hosts_no_play_has_reached() {
    let output = run(
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: msg=\"{{ hostvars['c']['ansible_connection'] }} {{ hostvars['c'].inventory_hostname }} {{ hostvars | length }} {{ ansible_play_hosts_all }}\"\n",
        &[],
    );
    output.expect_code(0);
    assert!(
        output.stdout.contains("\"msg\": \"local c 4 ['a']\""),
        "{}",
        output.stdout
    );
}
