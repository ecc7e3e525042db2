//! The SSH transport against real OpenSSH sshd processes (see `support::fleet`).

use crate::support::fleet::{Fleet, PASSWORD, PASSWORD_USER};

const ID_PLAY: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n      register: who\n    - debug: var=who.stdout\n";

#[test]
fn key_auth_runs_commands_on_every_host() {
    let fleet = Fleet::new().hosts(2).start();
    let project = fleet.project().playbook(ID_PLAY);
    let out = project.run(&[]);
    out.expect_code(0);
    for host in ["node01", "node02"] {
        assert_eq!(out.recap_of(host).ok, 2, "{}", out.stdout);
    }
    assert!(out.stdout.contains("rpatch-test"), "{}", out.stdout);
}
