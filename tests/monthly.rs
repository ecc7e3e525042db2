//! The shipped patch flow end to end over SSH: `roles/linux_patching` (what
//! `playbooks/monthly.yml` runs on each host) against a fleet host, with real apt-get and dpkg
//! on the apt lab's repository (`support/apt_repo.rs`) and a simulated reboot
//! (`support/reboot_host.rs`): patch facts → upgrade → reboot because it is required → wait
//! for the host → check it.

use std::collections::BTreeMap;
use std::time::Duration;

use indoc::formatdoc;

use crate::support::apt_repo::{AptLab, Sources};
use crate::support::fleet::Fleet;
use crate::support::reboot_host::{marker, Outage, RebootPlan, Rebooter};
use crate::support::{Output, Project};

/// The role with the lab's apt configuration, a reboot through the simulation that also
/// clears `/run/reboot-required` (a tmpfs a real boot empties), and a service check on the
/// host's sshd once it is back.
fn project(lab: &AptLab, fleet: &Fleet) -> Project {
    let roles = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("roles");
    fleet
        .project()
        .env("RPATCH_ROLES_PATH", &roles.display().to_string())
        .playbook(&formatdoc!(
            "
            - hosts: all
              gather_facts: false
              environment:
                APT_CONFIG: {config}
              vars:
                apply_updates: true
                restart_services: false
                reboot_timeout: 60
                patch_boot_time_command: cat {dir}/{{{{ inventory_hostname }}}}.bootid
                patch_reboot_command: >-
                  rm -f /run/reboot-required /run/reboot-required.pkgs &&
                  touch {dir}/{{{{ inventory_hostname }}}}.reboot-requested
              roles:
                - linux_patching
              post_tasks:
                - name: sshd is up
                  wait_for:
                    host: 127.0.0.1
                    port: \"{{{{ ansible_port }}}}\"
                    timeout: 30
            ",
            config = lab.config(Sources::StableOnly).display(),
            dir = fleet.dir().display(),
        ))
}

/// Each task's `host_result` event for `node01`, by task name (without the role prefix).
fn results(out: &Output) -> BTreeMap<String, serde_json::Value> {
    out.events()
        .into_iter()
        .filter(|e| e["event"] == "host_result" && e["host"] == "node01")
        .map(|e| {
            let task = e["task"].as_str().unwrap_or_default();
            let task = task.rsplit(" : ").next().unwrap_or(task).to_string();
            (task, e)
        })
        .collect()
}

#[test]
fn the_shipped_role_upgrades_reboots_when_required_waits_and_checks_the_host() {
    let mut lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    lab.require_reboot(&["linux-image-rpatch-test"]);
    let fleet = Fleet::new().start();
    let project = project(&lab, &fleet);
    let rebooter = Rebooter::start(
        fleet,
        vec![(
            "node01",
            RebootPlan::reboots(Outage::Kill, Duration::from_secs(1)),
        )],
    );
    let out = project.run(&["--json"]);
    let fleet = rebooter.finish();
    out.expect_code(0);
    let results = results(&out);

    let upgrade = &results["Install updates (apt)"];
    assert_eq!(upgrade["status"], "changed", "{upgrade}");
    let packages = upgrade["result"]["packages"].as_array().expect("packages");
    assert!(
        packages.iter().any(|p| p["name"] == "rpatch-testpkg"
            && p["action"] == "upgrade"
            && p["before"] == "1.0"
            && p["after"] == "1.1"),
        "{upgrade}"
    );
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));

    let reboot = &results["Reboot into the updated kernel and libraries"];
    assert_eq!(reboot["status"], "changed", "{reboot}");
    assert_eq!(reboot["result"]["rebooted"], true, "{reboot}");
    assert!(marker(&fleet, "node01").exists());
    assert_eq!(
        results["Restart services still running replaced libraries"]["status"],
        "skipped"
    );
    let healthy = &results["The host runs what was installed"];
    assert_eq!(healthy["status"], "ok", "{healthy}");
    assert_eq!(results["sshd is up"]["status"], "ok");
}

#[test]
fn check_mode_lists_the_upgrade_and_the_reboot_and_changes_nothing() {
    let mut lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    lab.require_reboot(&["linux-image-rpatch-test"]);
    let fleet = Fleet::new().start();
    let project = project(&lab, &fleet);
    let dpkg_before = lab.dpkg_state();
    let out = project.run(&["--json", "--check"]);
    out.expect_code(0);
    let results = results(&out);

    let upgrade = &results["Install updates (apt)"];
    assert_eq!(upgrade["status"], "changed", "{upgrade}");
    assert!(
        upgrade["result"]["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .any(|p| p["name"] == "rpatch-testpkg" && p["after"] == "1.1"),
        "{upgrade}"
    );
    let reboot = &results["Reboot into the updated kernel and libraries"];
    assert_eq!(reboot["status"], "changed", "{reboot}");
    assert_eq!(lab.dpkg_state(), dpkg_before, "check mode changed dpkg");
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.0"));
    assert!(!marker(&fleet, "node01").exists(), "check mode rebooted");
    assert!(std::path::Path::new("/run/reboot-required").exists());
}
