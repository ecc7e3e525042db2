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

#[test]
fn include_vars_loads_files_and_directories_and_first_found_picks_the_per_os_file() {
    let project = Project::new()
        .file("hosts.ini", HOSTS)
        .file("vars/main.yml", "a: 1\nb: [x, y]\n")
        .file("vars/Debian.yml", "family_pkg: apt\n")
        .file("vars/sub/extra.yml", "c: 3\n")
        .file("vars/sub/more.json", "{\"d\": 4}")
        .playbook(
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_vars: main.yml\n    \
             - include_vars:\n        dir: vars/sub\n        name: bundle\n      register: r\n    \
             - include_vars: \"{{ item }}\"\n      with_first_found:\n        - RedHat.yml\n        \
             - Debian.yml\n    - debug: msg=\"{{ a }} {{ b }} {{ bundle }} {{ family_pkg }} \
             {{ r.ansible_included_var_files | map('basename') | list }}\"\n",
        );
    let output = project.run(&["-i", "hosts.ini"]);
    output.expect_code(0);
    assert!(
        output
            .stdout
            .contains("\"msg\": \"1 ['x', 'y'] {'c': 3, 'd': 4} apt ['extra.yml', 'more.json']\""),
        "{}",
        output.stdout
    );
}

#[test]
fn with_lookups_shape_their_items_as_ansible_does() {
    let output = run(
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: msg=\"{{ item.key }}={{ item.value }}\"\n      with_dict: {x: 1}\n    \
         - debug: msg=\"seq {{ item }}\"\n      with_sequence: start=1 end=3 format=web%02d\n    \
         - debug: msg=\"pair {{ item.0 }}-{{ item.1 }}\"\n      with_together: [[1, 2], [a, b]]\n    \
         - debug: msg=\"sub {{ item.0.name }}:{{ item.1 }}\"\n      with_subelements:\n        \
         - [{name: u1, keys: [k1, k2]}]\n        - keys\n",
        &[],
    );
    output.expect_code(0);
    for shown in ["x=1", "seq web01", "seq web03", "pair 2-b", "sub u1:k2"] {
        assert!(
            output.stdout.contains(&format!("\"msg\": \"{shown}\"")),
            "{shown} missing:\n{}",
            output.stdout
        );
    }
    let two = Project::new()
        .file("hosts.ini", HOSTS)
        .playbook("- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: msg=x\n      loop: [1]\n      with_items: [2]\n")
        .run(&["-i", "hosts.ini"]);
    two.expect_code(4);
    assert!(two.stderr.contains("one loop keyword"), "{}", two.stderr);
}
