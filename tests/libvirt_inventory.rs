//! `plugin: rpatch.libvirt` as an inventory source against the KVM lab: real libvirtd
//! hypervisors asked over SSH for their domains. Whether the hypervisors were contacted is
//! read from their sshd logs, not from rpatch's output.

use serde_json::Value as Json;

use crate::support::kvm_lab::KvmLab;
use crate::support::Project;

/// A `rpatch.libvirt` source listing the lab's hypervisors with their fleet connection
/// variables (taken from the fleet's own inventory), plus `extra` top-level lines.
fn libvirt_source(lab: &KvmLab, extra: &str) -> String {
    let mut text = String::from("plugin: rpatch.libvirt\nbecome: true\nhypervisors:\n");
    for line in lab.fleet.inventory().lines().skip(2) {
        let trimmed = line.trim();
        if line.starts_with("    ") && !line.starts_with("      ") {
            text.push_str(&format!("  - name: {}\n", trimmed.trim_end_matches(':')));
        } else {
            text.push_str(&format!("    {trimmed}\n"));
        }
    }
    text.push_str(extra);
    text
}

/// How many SSH logins hypervisor `host` has accepted so far.
fn logins(lab: &KvmLab, host: &str) -> usize {
    lab.fleet.log(host).matches("Accepted publickey").count()
}

fn project(lab: &KvmLab, extra: &str) -> Project {
    lab.project()
        .file("libvirt.yml", &libvirt_source(lab, extra))
        .playbook(
            "- hosts: all\n  gather_facts: false\n  serial: 1\n  order: topology\n  tasks:\n    \
             - ping: {}\n",
        )
}

#[test]
fn libvirt_source_lists_guests_orders_the_plan_caches_and_names_an_unreachable_hypervisor() {
    let mut lab = KvmLab::new()
        .hypervisors(2)
        .guest(1, "web01")
        .guest(1, "app01")
        .guest(2, "db01")
        .start();
    eprintln!(
        "KVM lab (2 hypervisors, 3 guests) set up in {:?}",
        lab.setup_time
    );
    let project = project(
        &lab,
        "cache: true\ncache_timeout: 600\nkeyed_groups:\n  - key: rpatch_hypervisor\n    prefix: kvm\n\
         compose:\n  rpatch_service: \"'svc-' ~ rpatch_domain[:3]\"\n",
    );
    let sources = ["-i", "inventory/local.yml", "-i", "libvirt.yml"];

    // --list: every domain a guest of its hypervisor, with its facts and groups.
    let before = logins(&lab, "virthost01");
    let output = project.rpatch(&[&["inventory", "--list"], &sources[..]].concat());
    output.expect_code(0);
    let list: Json = serde_json::from_str(&output.stdout).expect("JSON");
    let hostvars = &list["_meta"]["hostvars"];
    for (guest, hypervisor) in [
        ("web01", "virthost01"),
        ("app01", "virthost01"),
        ("db01", "virthost02"),
    ] {
        assert_eq!(hostvars[guest]["rpatch_hypervisor"], hypervisor, "{guest}");
        assert_eq!(hostvars[guest]["rpatch_domain"], guest);
        assert_eq!(hostvars[guest]["libvirt_state"], "running", "{guest}");
        assert_eq!(hostvars[guest]["libvirt_vcpus"], 1, "{guest}");
        assert!(hostvars[guest]["libvirt_max_memory_mb"].is_u64(), "{guest}");
        // compose applies to the discovered guests (a string the template made, which
        // --list marks as ansible-inventory does).
        assert_eq!(
            hostvars[guest]["rpatch_service"]["__ansible_unsafe"],
            format!("svc-{}", &guest[..3]),
            "{guest}"
        );
    }
    let members = |group: &str| -> Vec<String> {
        serde_json::from_value(list[group]["hosts"].clone()).unwrap_or_default()
    };
    assert_eq!(members("hypervisors"), ["virthost01", "virthost02"]);
    assert_eq!(members("kvm_virthost01"), ["app01", "web01"]);
    let mut running = members("libvirt_running");
    running.sort();
    assert_eq!(running, ["app01", "db01", "web01"]);
    let log = lab
        .fleet
        .wait_for_log("virthost01", "Accepted publickey", before + 1);
    assert!(
        log.matches("Accepted publickey").count() > before,
        "the first load asks the hypervisor"
    );

    // A cache hit: with virthost01's sshd gone, the plan still orders the guests before
    // their hypervisors — nothing asked it.
    lab.fleet.kill("virthost01");
    let output = project.rpatch(&[&["plan", "site.yml"], &sources[..]].concat());
    output.expect_code(0);
    let line = |name: &str| -> String {
        output
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name) && l.contains("its guests go before it"))
            .unwrap_or_else(|| panic!("no ordering line for {name} in:\n{}", output.stdout))
            .to_string()
    };
    assert!(line("virthost01").contains("app01") && line("virthost01").contains("web01"));
    assert!(line("virthost02").contains("db01"));

    // --flush-cache asks again: the unreachable hypervisor is a clear error naming it and the
    // source, and nothing is planned.
    let output = project.rpatch(&[&["plan", "site.yml", "--flush-cache"], &sources[..]].concat());
    assert_ne!(output.code, 0, "{}", output.stdout);
    assert!(
        output.stderr.contains("libvirt.yml") && output.stderr.contains("hypervisor `virthost01`"),
        "{}",
        output.stderr
    );
    assert!(
        !output.stdout.contains("its guests go before it"),
        "{}",
        output.stdout
    );
}
