//! `win_updates` through the real binary. There is no Windows host here: one test shows what
//! happens on a host that is not Windows (a real sshd), the others run against the stand-in
//! `powershell` (tests/support/powershell_replay.py), which decodes and parses every script
//! rpatch sends and answers with hand-written reports (tests/fixtures/win_updates/README.md).

use crate::support::fleet::Fleet;
use crate::support::powershell_replay::PowershellReplay;
use crate::support::Project;

#[test]
fn win_updates_trigger_on_a_host_without_powershell_fails_naming_the_cause() {
    let fleet = Fleet::new().start();
    let project = fleet.project().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    \
         - win_updates: {trigger_only: true, state: searched}\n",
    );
    let output = project.run(&["--json"]);
    output.expect_code(2);
    let result = output
        .events()
        .into_iter()
        .find(|e| e.get("result").is_some() && e["task"].as_str().is_some_and(|t| !t.is_empty()))
        .map(|e| e["result"].clone())
        .expect("a task result");
    let msg = result["msg"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("the PowerShell script printed no result (is this a Windows host?)")
            && msg.contains("powershell"),
        "{result}"
    );
}

// --- The full mode against the stand-in `powershell` (tests/support/powershell_replay.py):
// the scripts rpatch sends are decoded and parsed with tree-sitter's PowerShell grammar, the
// answers are the hand-written reports in tests/fixtures/win_updates (see its README).

/// `@@rpatch:result` and `json` on one line.
pub(crate) fn answer(json: &serde_json::Value) -> String {
    format!("#< CLIXML noise\r\n@@rpatch:result {json}\r\n")
}

/// The start answer, one `running` poll, then `done` with the fixture `report`.
pub(crate) fn job_answers(report: &str) -> Vec<String> {
    let path = format!(
        "{}/tests/fixtures/win_updates/{report}",
        env!("CARGO_MANIFEST_DIR")
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    vec![
        answer(&serde_json::json!({"status": "started"})),
        answer(&serde_json::json!({"status": "running"})),
        answer(&serde_json::json!({"status": "done", "report": report})),
    ]
}

/// Runs `task` (one line of YAML) on the controller with the stand-in, `--json`.
pub(crate) fn run_task(
    replay: &PowershellReplay,
    task: &str,
    code: i32,
) -> (Project, serde_json::Value) {
    let project = Project::new()
        .env("PATH", &replay.path_env())
        .playbook(&format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - {task}\n"
        ));
    let output = project.run(&["--json"]);
    output.expect_code(code);
    let result = output
        .events()
        .into_iter()
        .find(|e| e.get("result").is_some() && e["task"].as_str().is_some_and(|t| !t.is_empty()))
        .map(|e| e["result"].clone())
        .unwrap_or_else(|| panic!("no task result:\n{}\n{}", output.stdout, output.stderr));
    (project, result)
}

#[test]
fn win_updates_installs_through_a_system_task_it_polls_and_reports_each_kb() {
    let replay = PowershellReplay::new(&job_answers("installed.json"));
    let (_, result) = run_task(
        &replay,
        "win_updates: {category_names: [Security, Definition], accept_list: [KB5034129, Defender], \
         reject_list: [\"'; Remove-Item C:\\\\ -Recurse; '\"], server_selection: managed_server, poll_interval: 1}",
        0,
    );
    replay.assert_all_answered(3);
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(result["installed_update_count"], 2);
    assert_eq!(result["msg"], "installed 2 of 2 updates");
    let update = &result["updates"]["7e1e3b1a-2f39-4c3e-9a6e-3f5c2d0b8a11"];
    assert_eq!(update["kb"], serde_json::json!(["5034129"]));
    assert_eq!(update["installed"], true);
    assert_eq!(
        result["filtered_updates"]["b3f0c1d2-5e6a-4b7c-8d9e-0f1a2b3c4d5e"]["filtered_reason"],
        "category_names"
    );
    let calls = replay.calls();
    let start = calls[0]["script"].as_str().expect("script");
    assert!(
        start.contains("New-ScheduledTaskPrincipal -UserId 'SYSTEM'"),
        "{start}"
    );
    assert!(start.contains("Start-ScheduledTask"), "{start}");
    assert!(
        !start.contains("Remove-Item"),
        "playbook strings travel as data: {start}"
    );
    let worker = calls[0]["nested"][0].as_str().expect("the worker, nested");
    assert!(worker.contains("$installer.Install()"), "{worker}");
    for poll in &calls[1..] {
        let poll = poll["script"].as_str().expect("script");
        assert!(
            poll.contains("Get-ScheduledTask -TaskName 'rpatch-wu-"),
            "{poll}"
        );
    }
}

#[test]
fn win_updates_with_nothing_to_install_is_ok_and_unchanged() {
    let replay = PowershellReplay::new(&job_answers("nothing.json"));
    let (_, result) = run_task(&replay, "win_updates: {poll_interval: 1}", 0);
    replay.assert_all_answered(3);
    assert_eq!(result["changed"], false, "{result}");
    assert_eq!(result["found_update_count"], 0);
    assert_eq!(result["msg"], "no applicable updates");
}

#[test]
fn win_updates_takes_blacklist_and_whitelist_and_warns_that_log_path_is_ignored() {
    let replay = PowershellReplay::new(&job_answers("nothing.json"));
    let (_, result) = run_task(
        &replay,
        "win_updates: {poll_interval: 1, whitelist: [KB5034129], blacklist: [KB4012212], \
         log_path: 'C:\\ansible_wu.txt'}",
        0,
    );
    replay.assert_all_answered(3);
    assert_eq!(result["changed"], false, "{result}");
    assert_eq!(
        result["warnings"],
        serde_json::json!(["win_updates: `log_path` is accepted for compatibility and ignored"])
    );
}

#[test]
fn win_updates_fails_naming_the_failed_kb_and_its_hresult() {
    let replay = PowershellReplay::new(&job_answers("failed.json"));
    let (_, result) = run_task(&replay, "win_updates: {poll_interval: 1}", 2);
    replay.assert_all_answered(3);
    assert_eq!(result["failed"], true, "{result}");
    let msg = result["msg"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("1 of 2 updates failed: KB5034439 (") && msg.contains("0x80070643"),
        "{msg}"
    );
    assert_eq!(
        result["updates"]["0c5d8a2e-91b4-4f0e-8d17-6a2b9e4c3f20"]["failure_hresult"],
        "0x80070643"
    );
}

#[test]
fn win_updates_reports_a_pending_reboot_and_reboots_when_asked() {
    // Without `reboot`: reported, not done.
    let replay = PowershellReplay::new(&job_answers("reboot_required.json"));
    let (_, result) = run_task(&replay, "win_updates: {poll_interval: 1}", 0);
    replay.assert_all_answered(3);
    assert_eq!(result["reboot_required"], true, "{result}");
    assert_eq!(result["rebooted"], false);
    // With `reboot: true`: boot time, shutdown /r, a new boot time, the test command.
    let mut answers = job_answers("reboot_required.json");
    answers.extend([
        answer(&serde_json::json!({"boot": "133512345670000000"})),
        answer(&serde_json::json!({"rc": 0})),
        answer(&serde_json::json!({"boot": "133512399990000000"})),
        answer(&serde_json::json!({"rc": 0})),
    ]);
    let replay = PowershellReplay::new(&answers);
    let (_, result) = run_task(
        &replay,
        "win_updates: {poll_interval: 1, reboot: true, reboot_timeout: 120}",
        0,
    );
    replay.assert_all_answered(7);
    assert_eq!(result["rebooted"], true, "{result}");
    assert_eq!(result["reboot_required"], false);
    assert_eq!(result["msg"], "installed 1 of 1 updates; rebooted");
    let scripts = replay.scripts();
    assert!(
        scripts[3].contains("Win32_OperatingSystem"),
        "{}",
        scripts[3]
    );
    assert!(
        scripts[4].contains("& shutdown.exe /r /t 2 /c $msg"),
        "{}",
        scripts[4]
    );
}

#[test]
fn win_updates_in_check_mode_only_searches() {
    let replay = PowershellReplay::new(&job_answers("searched.json"));
    let project = Project::new().env("PATH", &replay.path_env()).playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - win_updates: {poll_interval: 1}\n",
    );
    let output = project.run(&["--json", "--check"]);
    output.expect_code(0);
    replay.assert_all_answered(3);
    let worker = replay.calls()[0]["nested"][0]
        .as_str()
        .expect("worker")
        .to_string();
    let params = worker
        .split("FromBase64String('")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("params");
    use base64::Engine as _;
    let params: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(params)
            .expect("base64"),
    )
    .expect("json");
    assert_eq!(params["state"], "searched", "{params}");
    assert_eq!(
        params["categories"],
        serde_json::json!(["Critical Updates", "Security Updates", "Update Rollups"])
    );
}

#[test]
fn an_unknown_update_category_is_a_load_error_naming_where() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - win_updates:\n        category_names: [Security, Hotfixes]\n",
    );
    let output = project.run(&[]);
    output.expect_code(4);
    assert!(
        output.stderr.contains("unknown update category `Hotfixes`")
            && output.stderr.contains("site.yml:5:9"),
        "{}",
        output.stderr
    );
}

#[test]
fn win_updates_trigger_only_asks_usoclient_through_a_script_that_parses() {
    let replay = PowershellReplay::new(&[answer(
        &serde_json::json!({"tool": "usoclient", "action": "StartScan", "rc": 0}),
    )]);
    let (_, result) = run_task(
        &replay,
        "win_updates: {trigger_only: true, state: searched}",
        0,
    );
    replay.assert_all_answered(1);
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(
        result["msg"],
        "asked the Windows Update agent: usoclient StartScan"
    );
    assert!(replay.scripts()[0].contains("& $uso StartScan"));
}

#[test]
fn a_windows_hosts_password_appears_in_no_command_output_or_journal() {
    const SECRET: &str = "Win-S3cret!pw";
    let replay = PowershellReplay::new(&job_answers("nothing.json"));
    let project = Project::new()
        .file(
            "inventory/local.yml",
            &format!(
                "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      \
                 ansible_password: \"{SECRET}\"\n      ansible_become_password: \"{SECRET}\"\n"
            ),
        )
        .env("PATH", &replay.path_env())
        .playbook(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - win_updates: {poll_interval: 1}\n",
        );
    let output = project.run(&["--json", "-vvv"]);
    output.expect_code(0);
    replay.assert_all_answered(3);
    assert!(!output.stdout.contains(SECRET), "{}", output.stdout);
    assert!(!output.stderr.contains(SECRET), "{}", output.stderr);
    for call in replay.calls() {
        assert!(!call.to_string().contains(SECRET), "{call}");
    }
    let mut stack = vec![project.state_dir().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("state dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text =
                    String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
                assert!(
                    !text.contains(SECRET),
                    "{} holds the password",
                    path.display()
                );
            }
        }
    }
}
