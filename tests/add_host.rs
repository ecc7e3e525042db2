//! `add_host` through the real binary with a real sshd: a host the inventory does not have is
//! added at run time with its connection variables, and a later play reaches it over SSH. A
//! run that changed its inventory this way is not resumed (the added host would be missing).

use crate::support::fleet::Fleet;

#[test]
fn a_host_added_at_run_time_is_reached_over_ssh_by_a_later_play_and_resume_refuses_the_run() {
    let fleet = Fleet::new().hosts(2).start();
    let seed = fleet.hosts[0].name.clone();
    let added = fleet.hosts[1].name.clone();
    // The inventory holds the first host only; the second comes from add_host, with the
    // connection variables the fleet's inventory would have given it.
    let inventory: String = fleet
        .inventory()
        .split(&format!("    {added}:\n"))
        .next()
        .unwrap_or_default()
        .to_string();
    let key = fleet.user_key();
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - add_host:\n        name: patched01\n        groups: [late]\n        \
         ansible_host: 127.0.0.1\n        ansible_port: {port}\n        \
         ansible_user: \"{{{{ ansible_user }}}}\"\n        ansible_ssh_private_key_file: {key}\n\
         \x20   - group_by: {{key: seeded}}\n\
         - hosts: seeded\n  gather_facts: false\n  tasks:\n\
         \x20   - debug: {{msg: \"seeded {{{{ inventory_hostname }}}}\"}}\n\
         - hosts: late\n  gather_facts: false\n  tasks:\n\
         \x20   - command: echo hello from {{{{ inventory_hostname }}}} in {{{{ group_names | join(',') }}}}\n      \
         register: hello\n\
         \x20   - debug: {{msg: \"{{{{ hello.stdout }}}}\"}}\n\
         \x20   - command: \"false\"\n",
        port = fleet.host(&added).port,
        key = key.display(),
    );
    let project = fleet.project_with_inventory(&inventory).playbook(&play);
    let output = project.run(&[]);
    output.expect_code(2);
    assert!(
        output.stdout.contains("hello from patched01 in late"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains(&format!("seeded {seed}")),
        "{}",
        output.stdout
    );
    assert_eq!(output.recap_of("patched01").failed, 1);
    let log = fleet.wait_for_log(&added, "Accepted publickey", 1);
    assert!(log.contains("Accepted publickey"), "{log}");

    let id = project.only_run_id();
    let refused = project.rpatch(&["resume", &id, "--retry-failed"]);
    refused.expect_code(5);
    let text = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        text.contains("cannot be resumed") && text.contains("added host patched01 to groups late"),
        "{text}"
    );
}
