//! `vmware_guest_snapshot` / `community.vmware.vmware_guest_snapshot`, the alias of
//! `govc_snapshot` with Ansible's arguments, through the real binary against the replay govc
//! (real govc 0.38.0 transcripts, tests/fixtures/govc). Where no transcript holds the call
//! (`-m=false`, `*`, `-vm.uuid`, a folder path), the test checks the exact govc command
//! rpatch asks for, which the replay then refuses.

use serde_json::Value as Json;

use crate::support::govc_replay::GovcReplay;
use crate::support::{Output, Project};

const PASSWORD: &str = "vmw-S3cr3t!pw";

/// The connection as Ansible's vmware modules take it, in the task's arguments.
const CONNECTION: &str =
    "hostname: vc.example, username: admin, password: \"vmw-S3cr3t!pw\", validate_certs: false, datacenter: DC0";

/// Runs `module: {CONNECTION, args}` on the controller (an inventory without `govc_*`
/// variables) with `--json`, expecting exit `code`; its result and the output.
fn run(replay: &GovcReplay, module: &str, args: &str, code: i32) -> (Json, Output, Project) {
    let project = Project::new()
        .file(
            "inventory/local.yml",
            "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n",
        )
        .env("PATH", &replay.path_env())
        .playbook(&format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - {module}: {{{CONNECTION}, {args}}}\n"
        ));
    let output = project.run(&["--json"]);
    output.expect_code(code);
    let result = output
        .events()
        .into_iter()
        .find(|e| e.get("result").is_some() && e["task"].as_str().is_some_and(|t| !t.is_empty()))
        .map(|e| e["result"].clone())
        .unwrap_or_else(|| panic!("no task result in:\n{}", output.stdout));
    assert_password_kept(&project, &output, replay);
    (result, output, project)
}

/// The password reached govc in its environment only, with the other arguments mapped.
fn assert_password_kept(project: &Project, output: &Output, replay: &GovcReplay) {
    assert!(!output.stdout.contains(PASSWORD), "{}", output.stdout);
    assert!(!output.stderr.contains(PASSWORD), "{}", output.stderr);
    for entry in walkdir(project.state_dir()) {
        let text = String::from_utf8_lossy(&std::fs::read(&entry).expect("read")).into_owned();
        assert!(
            !text.contains(PASSWORD),
            "{} holds the password",
            entry.display()
        );
    }
    assert!(!replay.calls().is_empty(), "govc was never called");
    for call in replay.calls() {
        assert!(!call["argv"].to_string().contains(PASSWORD), "argv: {call}");
        assert!(
            !call["ancestors"].to_string().contains(PASSWORD),
            "ps: {call}"
        );
        assert_eq!(call["env"]["GOVC_PASSWORD"], PASSWORD, "{call}");
        assert_eq!(call["env"]["GOVC_USERNAME"], "admin");
        assert_eq!(
            call["env"]["GOVC_INSECURE"], "true",
            "validate_certs: false"
        );
        assert_eq!(call["env"]["GOVC_DATACENTER"], "DC0");
        assert_eq!(call["env"]["GOVC_URL"], "https://vc.example/sdk");
    }
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walkdir(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The argv of call `index` as one line.
fn asked(replay: &GovcReplay, index: usize) -> String {
    replay.command_lines()[index].clone()
}

#[test]
fn vmware_guest_snapshot_present_creates_with_ansibles_arguments_over_the_govc_connection() {
    let replay = GovcReplay::new(&["11", "12"]);
    let (result, _, _) = run(
        &replay,
        "community.vmware.vmware_guest_snapshot",
        "name: DC0_C0_RP0_VM0, state: present, snapshot_name: rpatch-pre-2026-11, \
         description: rpatch pre-patch, memory_dump: true",
        0,
    );
    replay.assert_replayed(&["11", "12"]);
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(
        result["msg"],
        "created snapshot `rpatch-pre-2026-11` of `DC0_C0_RP0_VM0`"
    );
}

#[test]
fn vmware_guest_snapshot_leaves_out_memory_unless_memory_dump_as_ansible() {
    let replay = GovcReplay::new(&["11", "13"]);
    run(
        &replay,
        "vmware_guest_snapshot",
        "name: DC0_C0_RP0_VM0, snapshot_name: s2, quiesce: true",
        2,
    );
    assert_eq!(
        asked(&replay, 1),
        "govc snapshot.create -vm DC0_C0_RP0_VM0 -m=false -q s2"
    );
}

#[test]
fn vmware_guest_snapshot_reverts_and_removes_and_is_ok_when_nothing_is_left() {
    let replay = GovcReplay::new(&["18"]);
    let (result, _, _) = run(
        &replay,
        "vmware_guest_snapshot",
        "name: DC0_C0_RP0_VM0, state: revert, snapshot_name: rpatch-pre-2026-11",
        0,
    );
    replay.assert_replayed(&["18"]);
    assert_eq!(result["changed"], true, "{result}");

    let replay = GovcReplay::new(&["19"]);
    let (result, _, _) = run(
        &replay,
        "vmware_guest_snapshot",
        "name: DC0_C0_RP0_VM0, state: absent, snapshot_name: s2",
        0,
    );
    replay.assert_replayed(&["19"]);
    assert_eq!(result["changed"], true, "{result}");

    let replay = GovcReplay::new(&["22"]);
    let (result, _, _) = run(
        &replay,
        "vmware_guest_snapshot",
        "name: DC0_C0_RP0_VM0, state: absent, snapshot_name: anything",
        0,
    );
    replay.assert_replayed(&["22"]);
    assert_eq!(result["changed"], false, "{result}");
    assert_eq!(result["msg"], "`DC0_C0_RP0_VM0` has no snapshots");
}

#[test]
fn vmware_guest_snapshot_remove_all_uuid_folder_and_children_ask_govc_the_right_command() {
    for (args, command) in [
        (
            "name: DC0_C0_RP0_VM0, state: remove_all",
            "govc snapshot.remove -vm DC0_C0_RP0_VM0 *",
        ),
        (
            "uuid: 265104de-1472-547c-b873-6dc7883fb6cb, state: absent, snapshot_name: s2, remove_children: true",
            "govc snapshot.remove -vm.uuid 265104de-1472-547c-b873-6dc7883fb6cb -r s2",
        ),
        (
            "name: DC0_C0_RP0_VM0, folder: /DC0/vm/prod, state: revert, snapshot_name: s2",
            "govc snapshot.revert -vm /DC0/vm/prod/DC0_C0_RP0_VM0 s2",
        ),
    ] {
        let replay = GovcReplay::new(&[]);
        let (result, _, _) = run(&replay, "vmware_guest_snapshot", args, 2);
        assert_eq!(asked(&replay, 0), command, "{args}");
        assert!(
            result["msg"]
                .as_str()
                .is_some_and(|m| m.contains("govc-replay")),
            "{result}"
        );
    }
}

#[test]
fn vmware_guest_snapshot_without_a_vm_or_snapshot_name_fails_before_govc_runs() {
    for (args, message) in [
        (
            "state: present, snapshot_name: s2",
            "give the VM's `name` or `uuid`",
        ),
        (
            "name: DC0_C0_RP0_VM0, state: revert",
            "this state needs `snapshot_name`",
        ),
    ] {
        let replay = GovcReplay::new(&[]);
        let project = Project::new()
            .file(
                "inventory/local.yml",
                "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n",
            )
            .env("PATH", &replay.path_env())
            .playbook(&format!(
                "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - vmware_guest_snapshot: {{{CONNECTION}, {args}}}\n"
            ));
        let output = project.run(&[]);
        output.expect_code(2);
        assert!(output.stdout.contains(message), "{}", output.stdout);
        assert!(!output.stdout.contains(PASSWORD));
        assert!(replay.calls().is_empty(), "govc ran");
    }
}
