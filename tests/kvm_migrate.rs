//! `virsh_migrate` through the real binary, over SSH, between two hypervisors of the KVM lab
//! (real libvirtd daemons reaching each other at `qemu+tcp://127.0.0.1:PORT/system`, the
//! inventory's `rpatch_libvirt_uri`). Where each domain runs is checked with the lab's own
//! `virsh` on both hosts, not with rpatch's output.

use std::time::Instant;

use serde_json::Value as Json;

use crate::support::kvm_lab::KvmLab;
use crate::support::{Output, Project};

/// A play on every hypervisor (so `hostvars` has them all) whose tasks act on `from` only.
fn on(lab: &KvmLab, from: usize, tasks: &str) -> Project {
    lab.project().playbook(&format!(
        "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n    \
         - name: migrate\n      when: inventory_hostname == '{}'\n{tasks}",
        KvmLab::host(from)
    ))
}

/// `virsh_migrate: ARGS` on hypervisor `from`, registered and written to `r.json`.
fn migrate(lab: &KvmLab, from: usize, args: &str) -> Project {
    on(
        lab,
        from,
        &format!(
            "      virsh_migrate: {args}\n      register: r\n    \
             - copy:\n        content: \"{{{{ r | to_json }}}}\"\n        dest: \"{{dir}}/r.json\"\n      \
             when: inventory_hostname == '{}'\n",
            KvmLab::host(from)
        ),
    )
}

fn run(project: &Project, args: &[&str], code: i32) -> Output {
    let output = project.run(args);
    output.expect_code(code);
    output
}

/// Whether hypervisor `n` has `domain` defined (running or not), by the lab's own virsh.
fn defined(lab: &KvmLab, n: usize, domain: &str) -> bool {
    lab.virsh(n, &["domstate", domain]).status.success()
}

fn registered(project: &Project) -> Json {
    serde_json::from_str(&project.read("r.json")).expect("JSON")
}

#[test]
fn a_guest_migrates_live_there_and_back_and_refusals_leave_it_where_it_is() {
    let lab = KvmLab::new().shared_guest(1, "mig01").start();
    eprintln!(
        "KVM lab (2 hypervisors, 1 shared guest) set up in {:?}",
        lab.setup_time
    );
    let started = Instant::now();
    let there =
        "{domain: mig01, target: virthost02, persistent: true, undefinesource: true, unsafe: true}";

    // Check mode plans and moves nothing.
    let output = run(&migrate(&lab, 1, there), &["--check"], 0);
    assert_eq!(output.recap_of("virthost01").changed, 2, "migrate + copy");
    assert_eq!(lab.state(1, "mig01"), "running");
    assert!(!defined(&lab, 2, "mig01"), "check mode moved nothing");

    // There: running on virthost02, persistent there, gone from virthost01.
    let project = migrate(&lab, 1, there);
    let wall = Instant::now();
    let output = run(&project, &[], 0);
    eprintln!("migration 1 -> 2 (rpatch run) took {:?}", wall.elapsed());
    assert_eq!(output.recap_of("virthost01").changed, 2, "migrate + copy");
    assert_eq!(lab.state(2, "mig01"), "running");
    assert!(lab
        .virsh_ok(2, &["dominfo", "mig01"])
        .lines()
        .any(|l| l.starts_with("Persistent:") && l.ends_with("yes")));
    assert!(!defined(&lab, 1, "mig01"), "undefined on the source");
    let r = registered(&project);
    assert_eq!(
        (&r["changed"], &r["source"], &r["target"], &r["state"]),
        (
            &Json::Bool(true),
            &Json::from("virthost01"),
            &Json::from("virthost02"),
            &Json::from("running")
        )
    );
    assert_eq!(r["target_uri"], lab.uri(2));
    let elapsed = r["elapsed"].as_f64().expect("elapsed");
    assert!(elapsed > 0.0, "{r}");
    eprintln!("virsh_migrate reported elapsed {elapsed} s (1 -> 2)");

    // Again: it runs there already and is not here — ok, nothing moves.
    let output = run(&project, &[], 0);
    assert_eq!(output.recap_of("virthost01").changed, 1, "only the copy");
    assert_eq!(registered(&project)["changed"], false);
    assert_eq!(lab.state(2, "mig01"), "running");

    // Back, peer to peer, with the URI given directly.
    let back = migrate(
        &lab,
        2,
        &format!(
            "{{domain: mig01, target_uri: \"{}\", p2p: true, persistent: true, undefinesource: true, unsafe: true}}",
            lab.uri(1)
        ),
    );
    let wall = Instant::now();
    run(&back, &[], 0);
    eprintln!(
        "migration 2 -> 1 (rpatch run, p2p) took {:?}",
        wall.elapsed()
    );
    eprintln!(
        "virsh_migrate reported elapsed {} s (2 -> 1)",
        registered(&back)["elapsed"]
    );
    assert_eq!(lab.state(1, "mig01"), "running");
    assert!(!defined(&lab, 2, "mig01"), "undefined on virthost02");

    // A snapshot: refused before anything moves, as libvirt would refuse it.
    lab.virsh_ok(
        1,
        &["snapshot-create-as", "--domain", "mig01", "--name", "pre"],
    );
    let output = run(&migrate(&lab, 1, there), &[], 2);
    for needle in [
        "migrate",
        "virthost01",
        "`mig01` has 1 snapshot(s) (pre)",
        "cannot migrate domain with 1 snapshots",
        "remove_snapshots: true",
    ] {
        assert!(
            output.stdout.contains(needle),
            "no {needle:?} in:\n{}",
            output.stdout
        );
    }
    assert_eq!(lab.state(1, "mig01"), "running");
    assert_eq!(lab.snapshots(1, "mig01"), ["pre"]);
    assert!(!defined(&lab, 2, "mig01"));

    // The target is the source: by name, and by a URI that leads back to the same libvirtd.
    for (args, message) in [
        (
            "{domain: mig01, target: virthost01}".to_string(),
            "target `virthost01` is this host".to_string(),
        ),
        (
            format!("{{domain: mig01, target_uri: \"{}\"}}", lab.uri(1)),
            format!("target {} (`{}`) is this same hypervisor", lab.uri(1), lab.uri(1)),
        ),
        (
            "{domain: nosuch, target: virthost02}".to_string(),
            "domain `nosuch` is not defined on this host (domains: mig01)".to_string(),
        ),
        (
            "{domain: mig01, target_uri: \"qemu+tcp://127.0.0.1:1/system\"}".to_string(),
            "target qemu+tcp://127.0.0.1:1/system cannot be reached at `qemu+tcp://127.0.0.1:1/system`"
                .to_string(),
        ),
    ] {
        let output = run(&migrate(&lab, 1, &args), &[], 2);
        assert_eq!(output.recap_of("virthost01").failed, 1);
        for needle in ["migrate", "virthost01", message.as_str()] {
            assert!(output.stdout.contains(needle), "no {needle:?} in:\n{}", output.stdout);
        }
        assert_eq!(lab.state(1, "mig01"), "running");
    }

    // A target the inventory does not have has no hostvars (so no `rpatch_libvirt_uri`):
    // said so, with the way out. (Every inventory host has hostvars, as in Ansible, whether
    // a play of the run includes it or not.)
    let alone = lab.project().playbook(
        "- hosts: virthost01\n  gather_facts: false\n  become: true\n  tasks:\n    \
         - name: migrate\n      virsh_migrate: {domain: mig01, target: virthost09}\n",
    );
    let output = run(&alone, &[], 2);
    assert!(
        output.stdout.contains(
            "target `virthost09` is not in the inventory (no hostvars): name an inventory \
             hypervisor, or give `target_uri`"
        ),
        "{}",
        output.stdout
    );
    assert_eq!(lab.state(1, "mig01"), "running");

    // Told to remove the snapshot: it goes, then the guest moves.
    let project = migrate(
        &lab,
        1,
        "{domain: mig01, target: virthost02, persistent: true, undefinesource: true, unsafe: true, remove_snapshots: true}",
    );
    run(&project, &[], 0);
    assert_eq!(
        registered(&project)["snapshots_removed"],
        serde_json::json!(["pre"])
    );
    assert_eq!(lab.state(2, "mig01"), "running");
    assert!(!defined(&lab, 1, "mig01"));
    eprintln!("virsh_migrate test ran in {:?}", started.elapsed());
}
