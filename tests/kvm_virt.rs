//! `virt` / `community.libvirt.virt` through the real binary, over SSH, against the KVM lab:
//! Ansible's argument names and result shapes, checked with the lab's own `virsh`.

use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::support::kvm_lab::KvmLab;
use crate::support::Project;

/// A project whose play on virthost01 (as root) runs `task` (one YAML line of arguments
/// after the module name) and registers it into `r.json`.
fn task(lab: &KvmLab, module: &str, args: &str) -> Project {
    lab.project().playbook(&format!(
        "- hosts: virthost01\n  gather_facts: false\n  become: true\n  tasks:\n\
         \x20   - {module}: {args}\n      register: r\n\
         \x20   - copy:\n        content: \"{{{{ r | to_json }}}}\"\n        dest: \"{{dir}}/r.json\"\n"
    ))
}

/// Runs `project`, which must succeed; 1 when the task changed something, 0 when not, and
/// what it registered.
fn run(project: &Project) -> (usize, Json) {
    let output = project.run(&[]);
    output.expect_code(0);
    let registered: Json = serde_json::from_str(&project.read("r.json")).expect("JSON");
    (
        usize::from(registered["changed"] == Json::Bool(true)),
        registered,
    )
}

/// Waits (generously) until `domain` on hypervisor 1 is in `state`.
fn wait_for_state(lab: &KvmLab, domain: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while lab.state(1, domain) != state {
        assert!(
            Instant::now() < deadline,
            "{domain} never reached `{state}` (still {})",
            lab.state(1, domain)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn virt_reaches_each_state_once_and_reports_as_ansible() {
    let lab = KvmLab::new().hypervisors(1).guest(1, "web01").start();
    let started = Instant::now();
    let virt = |args: &str| task(&lab, "community.libvirt.virt", args);

    let (changed, r) = run(&virt("{command: list_vms}"));
    assert_eq!(
        (changed, &r["list_vms"]),
        (0, &serde_json::json!(["web01"]))
    );
    let (_, r) = run(&task(&lab, "virt", "{name: web01, command: status}"));
    assert_eq!(r["status"], "running");

    // shutdown sends the ACPI request without waiting, as Ansible; once off, it is ok.
    let shutdown = virt("{name: web01, state: shutdown}");
    assert_eq!(run(&shutdown).0, 1);
    wait_for_state(&lab, "web01", "shut off");
    assert_eq!(run(&shutdown).0, 0);
    let (_, r) = run(&virt("{command: list_vms, state: shutdown}"));
    assert_eq!(r["list_vms"], serde_json::json!(["web01"]));
    let (_, r) = run(&virt("{name: web01, command: status}"));
    assert_eq!(r["status"], "shutdown");

    let running = virt("{name: web01, state: running}");
    let check = running.run(&["--check"]);
    check.expect_code(0);
    assert_eq!(
        lab.state(1, "web01"),
        "shut off",
        "check mode starts nothing"
    );
    assert_eq!(run(&running).0, 1);
    assert_eq!(lab.state(1, "web01"), "running");
    assert_eq!(run(&running).0, 0);

    let paused = virt("{name: web01, state: paused}");
    assert_eq!(run(&paused).0, 1);
    assert_eq!(lab.state(1, "web01"), "paused");
    assert_eq!(run(&paused).0, 0);
    assert_eq!(run(&running).0, 1, "a paused guest is resumed");
    assert_eq!(lab.state(1, "web01"), "running");

    let destroyed = virt("{name: web01, state: destroyed}");
    assert_eq!(run(&destroyed).0, 1);
    assert_eq!(lab.state(1, "web01"), "shut off");
    assert_eq!(run(&destroyed).0, 0);

    let autostart = virt("{name: web01, autostart: yes}");
    assert_eq!(run(&autostart).0, 1);
    assert!(lab
        .virsh_ok(1, &["dominfo", "web01"])
        .lines()
        .any(|l| l.starts_with("Autostart:") && l.ends_with("enable")));
    assert_eq!(run(&autostart).0, 0);
    let (_, r) = run(&virt("{command: info}"));
    assert_eq!(
        (&r["web01"]["state"], &r["web01"]["autostart"]),
        (&Json::from("shutdown"), &Json::Bool(true))
    );

    let (_, r) = run(&virt("{command: virttype}"));
    assert_eq!(r["virttype"], "QEMU");
    let (_, r) = run(&virt("{command: nodeinfo}"));
    assert!(
        r["cpus"].as_str().is_some_and(|c| c.parse::<u32>().is_ok()),
        "{r}"
    );
    let (_, r) = run(&virt("{command: freemem}"));
    assert!(r["freemem"].as_u64().is_some_and(|m| m > 0), "{r}");
    let (_, r) = run(&virt("{name: web01, command: get_xml}"));
    assert!(
        r["get_xml"]
            .as_str()
            .is_some_and(|x| x.contains("<name>web01</name>")),
        "{r}"
    );
    eprintln!("virt state test ran in {:?}", started.elapsed());
}

#[test]
fn virt_defines_a_domain_from_xml_once_and_undefines_it() {
    let lab = KvmLab::new().hypervisors(1).start();
    let xml = "<domain type='qemu'><name>spare01</name><memory unit='MiB'>32</memory>\
               <vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";
    let define = lab.project().playbook(&format!(
        "- hosts: virthost01\n  gather_facts: false\n  become: true\n  vars:\n    \
         spare_xml: \"{xml}\"\n  tasks:\n\
         \x20   - virt: {{command: define, xml: \"{{{{ spare_xml }}}}\"}}\n      register: r\n\
         \x20   - copy:\n        content: \"{{{{ r | to_json }}}}\"\n        dest: \"{{dir}}/r.json\"\n"
    ));
    let (changed, r) = run(&define);
    assert_eq!((changed, &r["created"]), (1, &Json::from("spare01")), "{r}");
    assert_eq!(lab.state(1, "spare01"), "shut off");
    let (changed, r) = run(&define);
    assert_eq!(changed, 0, "the same definition again changes nothing: {r}");

    let (_, r) = run(&task(&lab, "virt", "{command: list_vms}"));
    assert_eq!(r["list_vms"], serde_json::json!(["spare01"]));
    let (changed, r) = run(&task(&lab, "virt", "{name: spare01, command: undefine}"));
    assert_eq!((changed, &r["undefine"]), (1, &Json::from(0)));
    assert!(!lab.virsh(1, &["dominfo", "spare01"]).status.success());
}
