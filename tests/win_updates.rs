//! The Windows modules through the real binary. There is no Windows host here: these tests
//! show what happens on a host that is not one; the PowerShell they generate is checked by
//! the unit tests (decoded from `-EncodedCommand`).

use crate::support::fleet::Fleet;

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
