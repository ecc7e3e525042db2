//! The vSphere modules through the real binary against the replay govc: real govc 0.38.0
//! transcripts captured against vcsim (tests/fixtures/govc), answered in order by
//! tests/support/govc_replay.py put first on PATH. Each test names the transcripts it expects
//! govc to be asked for; the replay fails loudly (exit 97) on anything else.

use std::path::Path;

use indoc::indoc;
use serde_json::Value as Json;

use crate::support::fleet::Fleet;
use crate::support::govc_replay::{fixtures_dir, GovcReplay};
use crate::support::{Output, Project};

const PASSWORD: &str = "pw-S3cr3t!x";
const URL_PASSWORD: &str = "url-S3cret";

/// The inventory: the controller, with the vSphere connection as host variables.
fn inventory() -> String {
    format!(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n{}",
        govc_vars("      ")
    )
}

/// The `govc_*` variables, each line indented by `indent`.
fn govc_vars(indent: &str) -> String {
    govc_vars_with(indent, PASSWORD)
}

/// The `govc_*` variables with `password` as written for `govc_password`.
fn govc_vars_with(indent: &str, password: &str) -> String {
    [
        format!("govc_url: https://admin:{URL_PASSWORD}@vc.example/sdk"),
        "govc_username: admin".to_string(),
        format!("govc_password: {password}"),
        "govc_insecure: true".to_string(),
        "govc_datacenter: DC0".to_string(),
    ]
    .iter()
    .map(|line| format!("{indent}{line}\n"))
    .collect()
}

/// A project running `tasks` (indented by four spaces) on the controller with the replay.
fn project(replay: &GovcReplay, tasks: &str) -> Project {
    Project::new()
        .file("inventory/local.yml", &inventory())
        .env("PATH", &replay.path_env())
        .playbook(&format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}"
        ))
}

/// Runs the play, expecting exit `code`, and checks no secret left the replay's environment.
fn run(replay: &GovcReplay, tasks: &str, args: &[&str], code: i32) -> (Project, Output) {
    let project = project(replay, tasks);
    let output = project.run(args);
    output.expect_code(code);
    assert_secrets_kept(&project, &output, replay);
    (project, output)
}

/// The password and the URL's password reached govc in its environment only: not in any
/// argument of govc or of the processes above it, not in rpatch's output, journal or files.
fn assert_secrets_kept(project: &Project, output: &Output, replay: &GovcReplay) {
    for secret in [PASSWORD, URL_PASSWORD] {
        assert!(
            !output.stdout.contains(secret),
            "stdout holds a secret:\n{}",
            output.stdout
        );
        assert!(
            !output.stderr.contains(secret),
            "stderr holds a secret:\n{}",
            output.stderr
        );
        for dir in [project.path(), project.state_dir()] {
            walk(dir, &mut |path| {
                if path.extension().is_some_and(|e| e == "yml") {
                    return;
                }
                let text =
                    String::from_utf8_lossy(&std::fs::read(path).expect("read")).into_owned();
                assert!(!text.contains(secret), "{} holds a secret", path.display());
            });
        }
        for call in replay.calls() {
            assert!(!call["argv"].to_string().contains(secret), "argv: {call}");
            assert!(
                !call["ancestors"].to_string().contains(secret),
                "ps: {call}"
            );
        }
    }
    for call in replay.calls() {
        assert_eq!(call["env"]["GOVC_PASSWORD"], PASSWORD, "{call}");
        assert_eq!(call["env"]["GOVC_USERNAME"], "admin");
        assert_eq!(call["env"]["GOVC_INSECURE"], "true");
        assert_eq!(call["env"]["GOVC_DATACENTER"], "DC0");
        let url = format!("https://admin:{URL_PASSWORD}@vc.example/sdk");
        assert_eq!(call["env"]["GOVC_URL"], url.as_str());
    }
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, visit);
        } else {
            visit(&path);
        }
    }
}

/// The one task result of a `--json` run.
fn result(output: &Output) -> Json {
    output
        .events()
        .into_iter()
        .find(|e| e.get("result").is_some() && e["task"].as_str().is_some_and(|t| !t.is_empty()))
        .map(|e| e["result"].clone())
        .unwrap_or_else(|| panic!("no task result in:\n{}", output.stdout))
}

/// Runs one task with `--json`, returning its result.
fn one_task(steps: &[&str], task: &str, code: i32) -> (GovcReplay, Json) {
    let replay = GovcReplay::new(steps);
    let (_, output) = run(&replay, &format!("    - {task}\n"), &["--json"], code);
    replay.assert_replayed(steps);
    let result = result(&output);
    (replay, result)
}

const SNAPSHOT_CREATE: &[&str] = &["11", "12"];
const SNAPSHOT_CREATE_PLAIN: &[&str] = &["11", "13"];
const SNAPSHOT_EXISTS: &[&str] = &["14"];
const SNAPSHOT_RETENTION: &[&str] = &["16", "17", "21"];
const SNAPSHOT_RETENTION_NONE: &[&str] = &["16", "17"];
const SNAPSHOT_REVERT: &[&str] = &["18"];
const SNAPSHOT_REVERT_MISSING: &[&str] = &["20"];
const SNAPSHOT_REMOVE: &[&str] = &["19"];
const SNAPSHOT_REMOVE_NONE: &[&str] = &["22"];
const VMOTION: &[&str] = &["02", "03", "04", "07", "24", "26"];
const VMOTION_NO_VM: &[&str] = &["02", "03", "04", "23"];
const VMOTION_NO_HOST: &[&str] = &["02", "03", "25"];
const MAINTENANCE_ENTER: &[&str] = &["02", "03", "27", "28"];
const MAINTENANCE_EXIT: &[&str] = &["02", "03", "28", "29"];
const MAINTENANCE_NO_HOST: &[&str] = &["02", "03", "30"];
const EVACUATE: &[&str] = &["02", "03", "05", "07", "24", "26", "27", "28"];
const FACTS: &[&str] = &["01", "02", "03", "05", "07"];
/// `state: returned` reading where the VM runs after the recorded vMotion (26: on H2).
const RETURN_READ: &[&str] = &["02", "03", "04", "26"];

/// Every scenario above, for the coverage check.
const SCENARIOS: &[&[&str]] = &[
    SNAPSHOT_CREATE,
    SNAPSHOT_CREATE_PLAIN,
    SNAPSHOT_EXISTS,
    SNAPSHOT_RETENTION,
    SNAPSHOT_RETENTION_NONE,
    SNAPSHOT_REVERT,
    SNAPSHOT_REVERT_MISSING,
    SNAPSHOT_REMOVE,
    SNAPSHOT_REMOVE_NONE,
    VMOTION,
    VMOTION_NO_VM,
    VMOTION_NO_HOST,
    MAINTENANCE_ENTER,
    MAINTENANCE_EXIT,
    MAINTENANCE_NO_HOST,
    EVACUATE,
    FACTS,
    RETURN_READ,
];

/// Transcripts no module asks for, read by the parsers' unit tests instead
/// (src/modules/govc/parse.rs): plain-text `vm.info`/`host.info`, `host.info -json` of a host
/// (PascalCase tolerance), `host.info` without a host (the error), `snapshot.tree -C`, and
/// `vm.power` (no power module yet).
const UNIT_TESTED_ONLY: &[&str] = &["06", "08", "09", "10", "15", "31", "32"];

#[test]
fn every_govc_transcript_is_replayed_by_a_test_or_read_by_a_unit_test() {
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(fixtures_dir())
        .expect("fixtures")
        .flatten()
    {
        let name = entry.file_name().into_string().expect("name");
        if !name.as_bytes()[0].is_ascii_digit() {
            continue;
        }
        let number = &name[..2];
        let used =
            SCENARIOS.iter().any(|s| s.contains(&number)) || UNIT_TESTED_ONLY.contains(&number);
        if !used {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "transcripts no test uses: {missing:?}");
    // The ones left to the unit tests must really be read there.
    let parse_tests = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/modules/govc/parse.rs"),
    )
    .expect("parse.rs");
    for number in UNIT_TESTED_ONLY {
        assert!(
            parse_tests.contains(&format!("\"{number}-")),
            "transcript {number} is listed as unit-tested but src/modules/govc/parse.rs never reads it"
        );
    }
}

#[test]
fn govc_snapshot_present_creates_a_missing_snapshot_with_the_password_only_in_the_environment() {
    let (replay, result) = one_task(
        SNAPSHOT_CREATE,
        "govc_snapshot: {vm: DC0_C0_RP0_VM0, name: \"rpatch-pre-{{ '2026-11' }}\", description: rpatch pre-patch}",
        0,
    );
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(
        result["msg"],
        "created snapshot `rpatch-pre-2026-11` of `DC0_C0_RP0_VM0`"
    );
    let calls = replay.calls();
    assert_eq!(
        calls[1]["argv"],
        serde_json::json!([
            "govc",
            "snapshot.create",
            "-vm",
            "DC0_C0_RP0_VM0",
            "-d",
            "rpatch pre-patch",
            "rpatch-pre-2026-11"
        ])
    );
}

#[test]
fn govc_snapshot_present_sends_no_description_or_memory_flag_unless_asked() {
    let (_, result) = one_task(
        SNAPSHOT_CREATE_PLAIN,
        "govc_snapshot: {vm: DC0_C0_RP0_VM0, name: s2}",
        0,
    );
    assert_eq!(result["changed"], true, "{result}");
}

#[test]
fn govc_snapshot_present_is_ok_when_the_vm_has_the_snapshot() {
    let (_, result) = one_task(
        SNAPSHOT_EXISTS,
        "govc_snapshot: {vm: DC0_C0_RP0_VM0, name: s2}",
        0,
    );
    assert_eq!(result["changed"], false, "{result}");
    assert_eq!(result["action"], "exists");
}

#[test]
fn govc_snapshot_retention_removes_all_but_the_newest() {
    let (_, result) = one_task(
        SNAPSHOT_RETENTION,
        "govc_snapshot: {vm: DC0_C0_RP0_VM0, state: absent, keep_last: 1}",
        0,
    );
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(result["removed"], serde_json::json!(["rpatch-pre-2026-11"]));
    assert_eq!(result["kept"], serde_json::json!(["s2"]));
}

#[test]
fn govc_snapshot_retention_spares_snapshots_younger_than_older_than() {
    let (_, result) = one_task(
        SNAPSHOT_RETENTION_NONE,
        "govc_snapshot: {vm: DC0_C0_RP0_VM0, state: absent, name: 'rpatch-*', older_than: 1000w}",
        0,
    );
    assert_eq!(result["changed"], false, "{result}");
    assert_eq!(result["removed"], serde_json::json!([]));
}

#[test]
fn govc_snapshot_reverted_reverts_and_a_missing_snapshot_fails_naming_it() {
    let (_, result) = one_task(
        SNAPSHOT_REVERT,
        "govc_snapshot: {vm: DC0_C0_RP0_VM0, state: reverted, name: rpatch-pre-2026-11}",
        0,
    );
    assert_eq!(result["changed"], true, "{result}");
    let (_, result) = one_task(
        SNAPSHOT_REVERT_MISSING,
        "govc_snapshot: {vm: DC0_C0_RP0_VM0, state: reverted, name: nosuch}",
        2,
    );
    assert_eq!(result["failed"], true, "{result}");
    assert_eq!(
        result["msg"],
        "cannot revert `DC0_C0_RP0_VM0` to snapshot `nosuch`: snapshot `nosuch` not found in vSphere"
    );
}

#[test]
fn govc_snapshot_absent_removes_and_is_ok_when_the_vm_has_no_snapshots() {
    let (_, result) = one_task(
        SNAPSHOT_REMOVE,
        "govc_snapshot: {vm: DC0_C0_RP0_VM0, state: absent, name: s2}",
        0,
    );
    assert_eq!(result["changed"], true, "{result}");
    let (_, result) = one_task(
        SNAPSHOT_REMOVE_NONE,
        "govc_snapshot: {vm: DC0_C0_RP0_VM0, state: absent, name: anything}",
        0,
    );
    assert_eq!(result["changed"], false, "{result}");
    assert_eq!(result["msg"], "`DC0_C0_RP0_VM0` has no snapshots");
}

#[test]
fn a_snapshot_name_with_shell_metacharacters_reaches_govc_as_one_literal_word() {
    let marker = tempfile::tempdir().expect("dir");
    let touched = marker.path().join("pwned");
    let name = format!("$(touch {});echo 'x'", touched.display());
    let replay = GovcReplay::new(&["11"]);
    let task = format!(
        "    - govc_snapshot:\n        vm: DC0_C0_RP0_VM0\n        name: {}\n",
        serde_json::to_string(&name).expect("json")
    );
    let (_, output) = run(&replay, &task, &["--json"], 2);
    let calls = replay.calls();
    assert_eq!(
        calls[1]["argv"],
        serde_json::json!(["govc", "snapshot.create", "-vm", "DC0_C0_RP0_VM0", name])
    );
    assert!(!touched.exists());
    let result = result(&output);
    assert!(
        result["msg"]
            .as_str()
            .is_some_and(|m| m.contains("govc-replay: no transcript for")),
        "{result}"
    );
}

#[test]
fn the_replay_fails_loudly_on_a_command_it_has_no_transcript_for() {
    let replay = GovcReplay::new(&[]);
    let (_, output) = run(&replay, "    - govc_facts: {}\n", &["--json"], 2);
    let result = result(&output);
    assert_eq!(replay.answered(), [None]);
    assert_eq!(replay.calls()[0]["rc"], 97);
    assert_eq!(
        result["msg"],
        "govc about failed (rc 97): govc-replay: `govc about` (recorded in 01-about.txt) was not expected: the scenario is done"
    );
}

#[test]
fn a_controller_without_govc_fails_saying_so() {
    let project = Project::new()
        .file("inventory/local.yml", &inventory())
        .env("PATH", "/usr/bin:/bin")
        .playbook("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - govc_facts: {}\n");
    assert!(!Path::new("/usr/bin/govc").exists() && !Path::new("/bin/govc").exists());
    let output = project.run(&["--json"]);
    output.expect_code(2);
    let result = result(&output);
    assert!(
        result["msg"]
            .as_str()
            .is_some_and(|m| m.starts_with("govc is not on the PATH of the controller")),
        "{result}"
    );
}

#[test]
fn govc_vmotion_moves_the_vm_and_checks_runtime_host() {
    let (replay, result) = one_task(
        VMOTION,
        "govc_vmotion: {vm: DC0_C0_RP0_VM0, host: DC0_C0_H2}",
        0,
    );
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(
        result["msg"],
        "moved `DC0_C0_RP0_VM0` from `DC0_C0_H1` to `DC0_C0_H2`"
    );
    assert_eq!(
        replay.command_lines()[4],
        "govc vm.migrate -host /DC0/host/DC0_C0/DC0_C0_H2 DC0_C0_RP0_VM0"
    );
}

#[test]
fn govc_vmotion_is_ok_when_the_vm_is_on_the_target_already() {
    let steps = &["02", "03", "04", "07"];
    let (_, result) = one_task(
        steps,
        "govc_vmotion: {vm: DC0_C0_RP0_VM0, host: DC0_C0_H1}",
        0,
    );
    assert_eq!(result["changed"], false, "{result}");
    assert_eq!(
        result["msg"],
        "`DC0_C0_RP0_VM0` already runs on `DC0_C0_H1`"
    );
}

#[test]
fn govc_vmotion_fails_clearly_on_an_unknown_vm_or_host() {
    let (_, result) = one_task(
        VMOTION_NO_VM,
        "govc_vmotion: {vm: NoSuchVM, host: DC0_C0_H2}",
        2,
    );
    assert_eq!(
        result["msg"], "VM `NoSuchVM` not found in vSphere",
        "{result}"
    );
    let (_, result) = one_task(
        VMOTION_NO_HOST,
        "govc_vmotion: {vm: DC0_C0_RP0_VM1, host: NoSuchHost}",
        2,
    );
    assert_eq!(
        result["msg"], "govc vm.migrate failed (rc 1): host `NoSuchHost` not found in vSphere",
        "{result}"
    );
}

#[test]
fn govc_host_maintenance_enters_and_exits_and_checks_the_state() {
    let (_, result) = one_task(
        MAINTENANCE_ENTER,
        "govc_host_maintenance: {host: DC0_C0_H1, state: enter}",
        0,
    );
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(result["in_maintenance_mode"], true);
    let (_, result) = one_task(
        MAINTENANCE_EXIT,
        "govc_host_maintenance: {host: DC0_C0_H1, state: exit}",
        0,
    );
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(result["msg"], "`DC0_C0_H1` exited maintenance mode");
}

#[test]
fn govc_host_maintenance_in_check_mode_only_reads() {
    let steps = &["02", "03", "28"];
    let replay = GovcReplay::new(steps);
    let (_, output) = run(
        &replay,
        "    - govc_host_maintenance: {host: DC0_C0_H1, state: exit}\n",
        &["--json", "--check"],
        0,
    );
    replay.assert_replayed(steps);
    assert_eq!(
        result(&output)["msg"],
        "`DC0_C0_H1` would exit maintenance mode"
    );
}

#[test]
fn govc_host_maintenance_on_an_unknown_host_fails_with_govcs_words() {
    let (_, result) = one_task(
        MAINTENANCE_NO_HOST,
        "govc_host_maintenance: {host: NoSuchHost}",
        2,
    );
    assert_eq!(
        result["msg"],
        "govc host.maintenance.enter failed (rc 1): host `NoSuchHost` not found in vSphere",
        "{result}"
    );
}

#[test]
fn govc_evacuate_moves_running_vms_to_a_cluster_sibling_then_enters_maintenance() {
    let (_, result) = one_task(EVACUATE, "govc_evacuate: {host: DC0_C0_H1}", 0);
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(
        result["moved"],
        serde_json::json!([{"vm": "DC0_C0_RP0_VM0", "to": "DC0_C0_H2"}])
    );
    assert_eq!(result["in_maintenance_mode"], true);
}

#[test]
fn govc_facts_lists_hosts_vms_per_host_and_power_state() {
    let replay = GovcReplay::new(FACTS);
    let tasks = indoc! {r#"
        - govc_facts: {hosts: DC0_C0_H1}
        - copy:
            content: "{{ ansible_facts.vsphere | to_json }}"
            dest: "{dir}/vsphere.json"
    "#};
    let indented: String = tasks.lines().map(|l| format!("    {l}\n")).collect();
    let (project, _) = run(&replay, &indented, &[], 0);
    replay.assert_replayed(FACTS);
    let facts: Json = serde_json::from_str(&project.read("vsphere.json")).expect("json");
    assert_eq!(facts["about"]["API type"], "VirtualCenter");
    assert_eq!(facts["hosts"]["DC0_C0_H1"]["id"], "host-48");
    assert_eq!(facts["hosts"]["DC0_C0_H1"]["cluster"], "/DC0/host/DC0_C0");
    assert_eq!(
        facts["hosts"]["DC0_C0_H1"]["vms"],
        serde_json::json!(["DC0_C0_RP0_VM0"])
    );
    assert_eq!(facts["vms"]["DC0_C0_RP0_VM0"]["power_state"], "poweredOn");
    assert_eq!(facts["running"], serde_json::json!(["DC0_C0_RP0_VM0"]));
}

#[test]
fn the_example_rolling_play_evacuates_patches_exits_and_asks_govc_to_vmotion_each_vm_back() {
    // Every step runs against the replay; the last, the vMotion back to DC0_C0_H1, has no
    // transcript (the fixtures hold no `vm.migrate` to H1): the replay refuses it loudly and
    // the test checks that this exact command was what rpatch asked for.
    let mut steps: Vec<&str> = EVACUATE.to_vec();
    steps.extend(MAINTENANCE_EXIT);
    steps.extend(RETURN_READ);
    let replay = GovcReplay::new(&steps);
    let inventory = format!(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n  children:\n    esxi:\n      \
         hosts:\n        DC0_C0_H1:\n          ansible_host: 192.0.2.10\n      vars:\n{}",
        govc_vars_with("        ", "\"{{ lookup('env', 'RPATCH_TEST_VC_PASSWORD') }}\"")
    );
    let project = Project::new()
        .file("inventory/local.yml", &inventory)
        .env("PATH", &replay.path_env())
        .env("RPATCH_TEST_VC_PASSWORD", PASSWORD)
        .playbook(include_str!("../playbooks/esxi-rolling.yml"));
    let output = project.run(&[]);
    output.expect_code(2);
    assert_secrets_kept(&project, &output, &replay);
    let mut answered: Vec<Option<String>> = steps.iter().map(|s| Some(s.to_string())).collect();
    answered.push(None);
    assert_eq!(replay.answered(), answered, "{:#?}", replay.command_lines());
    assert_eq!(
        replay.command_lines().last().map(String::as_str),
        Some("govc vm.migrate -host /DC0/host/DC0_C0/DC0_C0_H1 DC0_C0_RP0_VM0")
    );
    let recap = output.recap_of("DC0_C0_H1");
    assert_eq!((recap.changed, recap.failed), (3, 1), "{}", output.stdout);
    assert!(
        output
            .stdout
            .contains("bringing `DC0_C0_RP0_VM0` back to `DC0_C0_H1`"),
        "{}",
        output.stdout
    );
}

#[test]
fn govc_evacuate_returned_leaves_a_vm_that_is_home_already() {
    let (_, result) = one_task(
        RETURN_READ,
        "govc_evacuate: {host: DC0_C0_H2, state: returned, vms: [{vm: DC0_C0_RP0_VM0, to: DC0_C0_H2}]}",
        0,
    );
    assert_eq!(result["changed"], false, "{result}");
    assert_eq!(result["home"], serde_json::json!(["DC0_C0_RP0_VM0"]));
    assert_eq!(
        result["msg"],
        "moved 0 VM(s) back to `DC0_C0_H2`; 1 already there"
    );
}

#[test]
fn govc_evacuate_returned_with_nothing_moved_only_lists_the_hosts() {
    let (_, result) = one_task(
        &["02", "03"],
        "govc_evacuate: {host: DC0_C0_H1, state: returned, vms: []}",
        0,
    );
    assert_eq!(
        result["msg"], "no VM to bring back to `DC0_C0_H1`",
        "{result}"
    );
}

#[test]
fn govc_runs_over_ssh_with_the_password_in_no_remote_command_line() {
    let fleet = Fleet::new().start();
    let replay = GovcReplay::new(SNAPSHOT_CREATE).shared();
    let inventory = format!("{}{}", fleet.inventory(), govc_vars("      "));
    let project = fleet.project_with_inventory(&inventory).playbook(&format!(
        "- hosts: all\n  gather_facts: false\n  environment:\n    PATH: {}:/usr/bin:/bin\n  \
         tasks:\n    - govc_snapshot: {{vm: DC0_C0_RP0_VM0, name: rpatch-pre-2026-11, \
         description: rpatch pre-patch}}\n",
        replay.bin_dir().display()
    ));
    let output = project.run(&["--json"]);
    output.expect_code(0);
    assert_secrets_kept(&project, &output, &replay);
    replay.assert_replayed(SNAPSHOT_CREATE);
    let calls = replay.calls();
    // govc's parent is the shell that ran the task's line: its command line is
    // `sh -c 'export PATH=…; sh'` (the task's environment; `/bin/sh -c …` when the persistent
    // shell starts the timed command), the script with GOVC_* came on its standard input.
    let remote_shell = calls[0]["ancestors"][0].as_str().unwrap_or_default().trim();
    assert!(
        remote_shell
            .trim_start_matches("/bin/")
            .starts_with("sh -c export PATH=")
            && remote_shell.ends_with("; sh"),
        "{remote_shell}"
    );
    assert!(!remote_shell.contains("GOVC"), "{remote_shell}");
    assert_eq!(result(&output)["changed"], true);
}

#[test]
fn govc_snapshot_in_check_mode_reads_the_tree_and_creates_nothing() {
    let steps = &["11"];
    let replay = GovcReplay::new(steps);
    let (_, output) = run(
        &replay,
        "    - govc_snapshot: {vm: DC0_C0_RP0_VM0, name: rpatch-pre-2026-11}\n",
        &["--json", "--check"],
        0,
    );
    replay.assert_replayed(steps);
    let result = result(&output);
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(
        result["msg"],
        "would create snapshot `rpatch-pre-2026-11` of `DC0_C0_RP0_VM0`"
    );
}
