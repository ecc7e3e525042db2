//! The `reboot` module against real sshd processes that go away and come back with a new boot
//! id (see `support::reboot_host`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::fleet::Fleet;
use crate::support::reboot_host::{marker, Outage, RebootPlan, Rebooter};
use crate::support::{Output, Project};

/// A play that reboots every host through the simulation, then reads the boot id again.
/// `{timeout}` is the `reboot_timeout` expression.
fn reboot_play(fleet: &Fleet, timeout: &str) -> String {
    format!(
        "- hosts: all\n  gather_facts: false\n  vars:\n    fleet: {dir}\n  tasks:\n\
         \x20   - name: reboot\n      become: true\n      reboot:\n\
         \x20       boot_time_command: cat {{{{ fleet }}}}/{{{{ inventory_hostname }}}}.bootid\n\
         \x20       reboot_command: touch {{{{ fleet }}}}/{{{{ inventory_hostname }}}}.reboot-requested\n\
         \x20       reboot_timeout: \"{timeout}\"\n\
         \x20   - name: after\n      command: cat {{{{ fleet }}}}/{{{{ inventory_hostname }}}}.bootid\n",
        dir = fleet.dir().display()
    )
}

/// The `host_result` events of one task, by host.
fn results(out: &Output, task: &str) -> BTreeMap<String, serde_json::Value> {
    out.events()
        .into_iter()
        .filter(|e| e["event"] == "host_result" && e["task"] == task)
        .map(|e| (e["host"].as_str().unwrap_or_default().to_string(), e))
        .collect()
}

fn project(fleet: &Fleet, play: &str) -> Project {
    fleet.project().playbook(play)
}

#[test]
fn reboot_waits_for_a_new_boot_and_the_next_task_runs_on_it() {
    let fleet = Fleet::new().start();
    let project = project(&fleet, &reboot_play(&fleet, "60"));
    let downtime = Duration::from_secs(2);
    let rebooter = Rebooter::start(
        fleet,
        vec![("node01", RebootPlan::reboots(Outage::Kill, downtime))],
    );
    let out = project.run(&["--json"]);
    let fleet = rebooter.finish();
    out.expect_code(0);
    let reboot = &results(&out, "reboot")["node01"];
    assert_eq!(reboot["status"], "changed", "{reboot}");
    assert_eq!(reboot["result"]["rebooted"], true, "{reboot}");
    let elapsed = reboot["result"]["elapsed"].as_u64().expect("elapsed");
    assert!(
        elapsed >= downtime.as_secs(),
        "elapsed {elapsed} < downtime"
    );
    let after = &results(&out, "after")["node01"];
    assert_eq!(after["result"]["stdout"], "boot-2", "{after}");
    assert!(marker(&fleet, "node01").exists());
}

#[test]
fn a_host_that_never_returns_fails_on_timeout_and_the_batch_goes_on() {
    let fleet = Fleet::new().hosts(3).start();
    let play = reboot_play(&fleet, "{{ 3 if inventory_hostname == 'node02' else 60 }}");
    let project = project(&fleet, &play);
    let back = RebootPlan::reboots(Outage::Freeze, Duration::from_secs(1));
    let never = RebootPlan {
        comes_back: false,
        ..back.clone()
    };
    let rebooter = Rebooter::start(
        fleet,
        vec![
            ("node01", back.clone()),
            ("node02", never),
            ("node03", back),
        ],
    );
    let out = project.run(&["--json"]);
    let fleet = rebooter.finish();
    out.expect_code(2);
    let reboot = results(&out, "reboot");
    assert_eq!(reboot["node02"]["status"], "failed", "{}", reboot["node02"]);
    let msg = reboot["node02"]["result"]["msg"]
        .as_str()
        .unwrap_or_default();
    assert!(
        msg.starts_with("host did not come back within 3 s"),
        "{msg}"
    );
    let after = results(&out, "after");
    for host in ["node01", "node03"] {
        assert_eq!(reboot[host]["status"], "changed", "{}", reboot[host]);
        assert_eq!(after[host]["result"]["stdout"], "boot-2", "{}", after[host]);
    }
    assert!(
        !after.contains_key("node02"),
        "a failed host runs no more tasks"
    );
    assert!(
        marker(&fleet, "node02").exists(),
        "node02 was asked to reboot"
    );
}

#[test]
fn a_boot_id_that_never_changes_fails_with_that_reason() {
    let fleet = Fleet::new().start();
    let project = project(&fleet, &reboot_play(&fleet, "6"));
    let plan = RebootPlan {
        new_boot_id: false,
        ..RebootPlan::reboots(Outage::Kill, Duration::from_secs(1))
    };
    let rebooter = Rebooter::start(fleet, vec![("node01", plan)]);
    let out = project.run(&["--json"]);
    rebooter.finish();
    out.expect_code(2);
    let reboot = &results(&out, "reboot")["node01"];
    let msg = reboot["result"]["msg"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("boot id never changed within 6 s: the host still reports `boot-1`"),
        "{reboot}"
    );
}

#[test]
fn a_host_key_changed_across_the_reboot_is_refused() {
    let fleet = Fleet::new().start();
    let project = project(&fleet, &reboot_play(&fleet, "30"));
    let plan = RebootPlan {
        new_host_key: true,
        ..RebootPlan::reboots(Outage::Kill, Duration::from_secs(1))
    };
    let rebooter = Rebooter::start(fleet, vec![("node01", plan)]);
    let out = project.run(&["--json"]);
    rebooter.finish();
    out.expect_code(2);
    let reboot = &results(&out, "reboot")["node01"];
    assert_eq!(reboot["status"], "failed", "{reboot}");
    let msg = reboot["result"]["msg"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("the host came back but was refused: host key verification failed"),
        "{reboot}"
    );
    assert!(!results(&out, "after").contains_key("node01"));
}

#[test]
fn check_mode_reboots_nothing() {
    let fleet = Fleet::new().start();
    let project = project(&fleet, &reboot_play(&fleet, "60"));
    let rebooter = Rebooter::start(
        fleet,
        vec![("node01", RebootPlan::reboots(Outage::Kill, Duration::ZERO))],
    );
    let out = project.run(&["--json", "--check"]);
    let fleet = rebooter.finish();
    out.expect_code(0);
    let reboot = &results(&out, "reboot")["node01"];
    assert_eq!(reboot["status"], "changed", "{reboot}");
    assert!(
        !marker(&fleet, "node01").exists(),
        "check mode ran the reboot"
    );
}

#[test]
fn reboot_on_the_local_connection_is_refused_unless_allowed() {
    // Harmless commands even if the refusal were broken: this must never reboot the machine.
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: reboot\n      reboot:\n\
         \x20       reboot_command: \"true\"\n        boot_time_command: echo same\n\
         \x20       reboot_timeout: 1\n",
    );
    let out = project.run(&["--json"]);
    out.expect_code(2);
    let reboot = &results(&out, "reboot")["localhost"];
    let msg = reboot["result"]["msg"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("refusing to reboot the machine rpatch runs on"),
        "{reboot}"
    );
    assert!(msg.contains("allow_local: true"), "{msg}");
}
