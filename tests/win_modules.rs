//! `win_reboot`, `win_shell`, `win_command` and `win_service` through the real binary against
//! the stand-in `powershell` (tests/support/powershell_replay.py): the scripts rpatch sends
//! are decoded and parsed with tree-sitter's PowerShell grammar; the answers are what the test
//! says Windows would print (no Windows host here).

use serde_json::{json, Value as Json};

use crate::support::powershell_replay::PowershellReplay;
use crate::support::Project;

/// `@@rpatch:result` and `json` on one line.
fn answer(json: &Json) -> Json {
    json!({ "stdout": format!("@@rpatch:result {json}\r\n") })
}

/// Runs `task` on the controller with the stand-in; the task's result.
fn run_task(replay: &PowershellReplay, task: &str, args: &[&str], code: i32) -> Json {
    let project = Project::new()
        .env("PATH", &replay.path_env())
        .playbook(&format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - {task}\n"
        ));
    let mut all = vec!["--json"];
    all.extend(args);
    let output = project.run(&all);
    output.expect_code(code);
    output
        .events()
        .into_iter()
        .find(|e| e.get("result").is_some() && e["task"].as_str().is_some_and(|t| !t.is_empty()))
        .map(|e| e["result"].clone())
        .unwrap_or_else(|| panic!("no task result:\n{}\n{}", output.stdout, output.stderr))
}

#[test]
fn win_reboot_runs_shutdown_and_waits_for_a_new_boot_time() {
    let replay = PowershellReplay::with_answers(&[
        answer(&json!({"boot": "133512345670000000"})),
        answer(&json!({"rc": 0})),
        // Still the old boot (the reboot has not happened yet), then the new one.
        answer(&json!({"boot": "133512345670000000"})),
        answer(&json!({"boot": "133512399990000000"})),
        answer(&json!({"rc": 0})),
    ]);
    let result = run_task(
        &replay,
        "win_reboot: {allow_local: true, pre_reboot_delay: 0, msg: \"patch night's reboot\"}",
        &[],
        0,
    );
    replay.assert_all_answered(5);
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(result["rebooted"], true);
    let scripts = replay.scripts();
    assert!(scripts[0].contains("(Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime).LastBootUpTime"));
    assert!(
        scripts[1].contains("$msg = 'patch night''s reboot'"),
        "{}",
        scripts[1]
    );
    assert!(
        scripts[1].contains("& shutdown.exe /r /t 0 /c $msg"),
        "{}",
        scripts[1]
    );
    assert!(
        scripts[4].contains("$null = & { whoami }"),
        "{}",
        scripts[4]
    );
}

#[test]
fn win_reboot_takes_ansibles_sec_names_and_warns_that_shutdown_timeout_is_ignored() {
    let replay = PowershellReplay::with_answers(&[
        answer(&json!({"boot": "133512345670000000"})),
        answer(&json!({"rc": 0})),
        answer(&json!({"boot": "133512399990000000"})),
        answer(&json!({"rc": 0})),
    ]);
    let result = run_task(
        &replay,
        "win_reboot: {allow_local: true, pre_reboot_delay_sec: 0, reboot_timeout_sec: 900, \
         shutdown_timeout_sec: 3600}",
        &[],
        0,
    );
    replay.assert_all_answered(4);
    assert_eq!(result["rebooted"], true, "{result}");
    assert_eq!(
        result["warnings"],
        json!(["win_reboot: `shutdown_timeout` is accepted for compatibility and ignored"])
    );
    assert!(
        replay.scripts()[1].contains("/t 0"),
        "{}",
        replay.scripts()[1]
    );
}

#[test]
fn win_ping_answers_pong_under_its_collection_name() {
    let replay = PowershellReplay::with_answers(&[answer(&json!({"ping": "pong"}))]);
    let result = run_task(&replay, "ansible.windows.win_ping: {}", &[], 0);
    replay.assert_all_answered(1);
    assert_eq!(result["ping"], "pong", "{result}");
    assert_eq!(result["changed"], false);
    assert!(replay.scripts()[0].contains("ConvertTo-Json"));
}

#[test]
fn win_reboot_that_shutdown_refuses_fails_without_waiting() {
    let replay =
        PowershellReplay::with_answers(&[answer(&json!({"boot": "1"})), answer(&json!({"rc": 5}))]);
    let result = run_task(&replay, "win_reboot: {allow_local: true}", &[], 2);
    replay.assert_all_answered(2);
    assert_eq!(
        result["msg"],
        "shutdown.exe /r refused to start the reboot (exit 5)"
    );
}

#[test]
fn win_reboot_on_the_local_connection_is_refused_without_allow_local() {
    let replay = PowershellReplay::with_answers(&[]);
    let result = run_task(&replay, "win_reboot: {}", &[], 2);
    replay.assert_all_answered(0);
    assert!(
        result["msg"]
            .as_str()
            .is_some_and(|m| m.starts_with("refusing to reboot the machine rpatch runs on")),
        "{result}"
    );
}

#[test]
fn win_shell_returns_the_output_and_exit_code_of_the_powershell() {
    let replay = PowershellReplay::with_answers(&[json!({
        "stdout": "Running  wuauserv\r\n", "stderr": "", "rc": 3
    })]);
    let result = run_task(
        &replay,
        "win_shell: Get-Service wuauserv | Select-Object -ExpandProperty Status; exit 3",
        &[],
        2,
    );
    replay.assert_all_answered(1);
    assert_eq!(result["rc"], 3, "{result}");
    assert_eq!(result["stdout"], "Running  wuauserv");
    assert_eq!(
        result["cmd"],
        "Get-Service wuauserv | Select-Object -ExpandProperty Status; exit 3"
    );
    let script = &replay.scripts()[0];
    assert!(
        script.contains("\nGet-Service wuauserv | Select-Object -ExpandProperty Status; exit 3\n"),
        "{script}"
    );
}

#[test]
fn win_command_skips_when_creates_exists_and_quotes_every_word() {
    let replay = PowershellReplay::with_answers(&[json!({"stdout": "@@rpatch:skip exists\r\n"})]);
    let result = run_task(
        &replay,
        // Mapping form: in `k=v` form Ansible (and rpatch) would decode `\\a` as an escape.
        "win_command: {cmd: 'C:\\Windows\\System32\\msiexec.exe /i \"C:\\pkgs\\agent 1.msi\" /qn', creates: 'C:\\agent\\agent.exe'}",
        &[],
        0,
    );
    replay.assert_all_answered(1);
    assert_eq!(result["changed"], false, "{result}");
    assert_eq!(result["msg"], "skipped, since C:\\agent\\agent.exe exists");
    let script = &replay.scripts()[0];
    assert!(
        script
            .contains("& 'C:\\Windows\\System32\\msiexec.exe' '/i' 'C:\\pkgs\\agent 1.msi' '/qn'"),
        "{script}"
    );
}

#[test]
fn win_service_starts_a_stopped_service_and_reports_before_and_after() {
    let replay = PowershellReplay::with_answers(&[answer(&json!({
        "exists": true, "name": "wuauserv", "display_name": "Windows Update", "changed": true,
        "state": "running", "start_mode": "manual",
        "before": {"state": "stopped", "start_mode": "disabled"}
    }))]);
    let result = run_task(
        &replay,
        "win_service: {name: wuauserv, state: started, start_mode: manual}",
        &[],
        0,
    );
    replay.assert_all_answered(1);
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(result["state"], "running");
    assert_eq!(result["before"]["start_mode"], "disabled");
    let script = &replay.scripts()[0];
    assert!(script.contains("Start-Service -Name $svc.Name"), "{script}");
}

#[test]
fn win_service_on_a_missing_service_fails_naming_it() {
    let replay = PowershellReplay::with_answers(&[answer(&json!({"exists": false}))]);
    let result = run_task(
        &replay,
        "win_service: {name: NoSuchService, state: stopped}",
        &["--check"],
        2,
    );
    replay.assert_all_answered(1);
    assert_eq!(
        result["msg"],
        "service `NoSuchService` does not exist (neither a service name nor a display name)"
    );
}
