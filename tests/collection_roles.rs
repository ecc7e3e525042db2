//! Roles from collections found under the configured collections paths
//! (`ANSIBLE_COLLECTIONS_PATH`, ansible.cfg's `collections_path`) through the real binary; the
//! `collections/` next to the playbook is covered by the compat case
//! `includes_collection_roles`, checked against a recorded ansible-playbook run.

use crate::support::Project;

/// A project whose collection tree lives in `tree/` (not next to the playbook).
fn project() -> Project {
    Project::new()
        .file(
            "tree/ansible_collections/acme/patching/roles/precheck/tasks/main.yml",
            "- name: precheck\n  debug:\n    msg: \"{{ ansible_role_name }} at {{ role_path }}\"\n",
        )
        .playbook("- hosts: localhost\n  gather_facts: false\n  roles: [acme.patching.precheck]\n")
}

#[test]
fn a_collection_role_is_found_under_ansible_collections_path() {
    let project = project();
    let tree = project.path().join("tree");
    let project = project.env("ANSIBLE_COLLECTIONS_PATH", &tree.display().to_string());
    let output = project.run(&[]);
    output.expect_code(0);
    assert!(
        output
            .stdout
            .contains("TASK [acme.patching.precheck : precheck]"),
        "{}",
        output.stdout
    );
    let role_dir = tree.join("ansible_collections/acme/patching/roles/precheck");
    assert!(
        output
            .stdout
            .contains(&format!("acme.patching.precheck at {}", role_dir.display())),
        "{}",
        output.stdout
    );
}

#[test]
fn a_collection_role_is_found_under_the_ansible_cfg_collections_path() {
    let project = project().file("ansible.cfg", "[defaults]\ncollections_path = {dir}/tree\n");
    let cfg = project.path().join("ansible.cfg");
    let project = project.env("ANSIBLE_CONFIG", &cfg.display().to_string());
    let output = project.run(&[]);
    output.expect_code(0);
    assert!(
        output
            .stdout
            .contains("TASK [acme.patching.precheck : precheck]"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_missing_collection_role_is_a_load_error_naming_where_it_was_looked_for() {
    let project = project()
        .playbook("- hosts: localhost\n  gather_facts: false\n  roles: [acme.patching.nosuch]\n");
    let output = project.run(&["--check"]);
    output.expect_code(4);
    let text = format!("{}{}", output.stdout, output.stderr);
    assert!(text.contains("acme.patching.nosuch"), "{text}");
    assert!(
        text.contains("collections/ansible_collections/acme/patching/roles"),
        "{text}"
    );
}
