//! The virsh modules through the real binary, over SSH, against the KVM lab: real libvirtd
//! daemons in their own namespaces running tiny real QEMU guests (see `support::kvm_lab`).
//! What the modules did is checked with the lab's own `virsh`, not with rpatch's output.

use std::time::Instant;

use serde_json::Value as Json;

use crate::support::kvm_lab::KvmLab;
use crate::support::{Output, Project};

/// A play on `hosts` (as root: virsh talks to the system libvirtd) with `tasks`, each line
/// indented by four spaces already.
fn play(hosts: &str, tasks: &str) -> String {
    format!("- hosts: {hosts}\n  gather_facts: false\n  become: true\n  tasks:\n{tasks}")
}

fn run(project: &Project, args: &[&str], code: i32) -> Output {
    let output = project.run(args);
    output.expect_code(code);
    output
}

fn json(project: &Project, file: &str) -> Json {
    serde_json::from_str(&project.read(file)).expect("JSON")
}

/// Names as the lab sees them, for comparing with a literal list.
fn names(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

#[test]
fn virsh_facts_list_every_domain_of_each_hypervisor_with_its_state() {
    let lab = KvmLab::new().guest(1, "web01").guest(2, "db01").start();
    eprintln!(
        "KVM lab (2 hypervisors, 2 guests) set up in {:?}",
        lab.setup_time
    );
    let started = Instant::now();
    // Setting a guest up again leaves the running one alone (same QEMU, same id).
    let id = lab.virsh_ok(1, &["domid", "web01"]);
    lab.ensure_guest(1, "web01");
    assert_eq!(lab.virsh_ok(1, &["domid", "web01"]), id);
    lab.virsh_ok(2, &["destroy", "db01"]);
    lab.virsh_ok(
        1,
        &["snapshot-create-as", "--domain", "web01", "--name", "base"],
    );
    let project = lab.project().playbook(&play(
        "all",
        "    - virsh_facts: {}\n      register: vf\n\
         \x20   - copy:\n        content: \"{{ vf.virsh | to_json }}\"\n        \
         dest: \"{dir}/registered-{{ inventory_hostname }}.json\"\n\
         \x20   - copy:\n        content: \"{{ ansible_facts.virsh | to_json }}\"\n        \
         dest: \"{dir}/facts-{{ inventory_hostname }}.json\"\n",
    ));
    let output = run(&project, &[], 0);
    assert_eq!(
        output.recap_of("virthost01").changed,
        2,
        "only the copies change"
    );
    let one = json(&project, "registered-virthost01.json");
    assert_eq!(
        one,
        json(&project, "facts-virthost01.json"),
        "registered = fact"
    );
    let two = json(&project, "registered-virthost02.json");
    let domains = |facts: &Json| {
        let mut names: Vec<String> = facts["domains"]
            .as_object()
            .expect("domains")
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    };
    assert_eq!(domains(&one), ["web01"]);
    assert_eq!(domains(&two), ["db01"]);
    let web = &one["domains"]["web01"];
    assert_eq!(web["state"], "running");
    assert_eq!(web["vcpus"], 1);
    assert_eq!(web["memory_mb"], 64);
    assert_eq!(web["persistent"], true);
    assert_eq!(web["autostart"], false);
    assert_eq!(web["snapshots"], serde_json::json!(["base"]));
    assert_eq!(web["current_snapshot"], "base");
    assert_eq!(
        web["disks"][0]["source"],
        "/var/lib/libvirt/images/web01.qcow2"
    );
    assert_eq!(web["shared_storage"], false);
    assert_eq!(one["running"], serde_json::json!(["web01"]));
    assert_eq!(two["domains"]["db01"]["state"], "shut off");
    assert_eq!(two["running"], serde_json::json!([]));
    assert!(one["host"]["memory_free_mb"]
        .as_u64()
        .is_some_and(|mb| mb > 0));
    assert!(one["host"]["cpus"].as_u64().is_some_and(|n| n > 0));
    eprintln!("virsh_facts test ran in {:?}", started.elapsed());
}

#[test]
fn snapshots_are_created_once_reverted_and_deleted_with_retention() {
    let lab = KvmLab::new()
        .hypervisors(1)
        .guest(1, "web01")
        .guest(1, "app01")
        .start();
    let started = Instant::now();
    let snapshot = |args: &str| play("virthost01", &format!("    - virsh_snapshot: {args}\n"));

    // Every guest gets `s1`; a second run changes nothing.
    let project = lab.project().playbook(&snapshot(
        "{guests: all, name: s1, description: before patching}",
    ));
    assert_eq!(run(&project, &[], 0).recap_of("virthost01").changed, 1);
    assert_eq!(run(&project, &[], 0).recap_of("virthost01").changed, 0);
    assert_eq!(names(&lab.snapshots(1, "web01")), ["s1"]);
    assert_eq!(names(&lab.snapshots(1, "app01")), ["s1"]);
    assert!(lab
        .virsh_ok(
            1,
            &["snapshot-info", "--domain", "web01", "--snapshotname", "s1"]
        )
        .contains("running"));

    // Check mode reports and takes nothing.
    let project = lab
        .project()
        .playbook(&snapshot("{domain: web01, name: s9}"));
    let output = run(&project, &["--check"], 0);
    assert_eq!(output.recap_of("virthost01").changed, 1);
    assert_eq!(names(&lab.snapshots(1, "web01")), ["s1"]);

    // Two more on web01 only; only running guests.
    let project = lab.project().playbook(&play(
        "virthost01",
        "    - virsh_snapshot: {guests: running, name: s2}\n    \
         - virsh_snapshot: {guests: [web01], name: s3}\n",
    ));
    lab.virsh_ok(1, &["destroy", "app01"]);
    run(&project, &[], 0);
    let mut web = lab.snapshots(1, "web01");
    web.sort();
    assert_eq!(names(&web), ["s1", "s2", "s3"]);
    assert_eq!(names(&lab.snapshots(1, "app01")), ["s1"]);

    // Revert web01 to s2: current snapshot s2, running again (it was running at s2).
    lab.virsh_ok(1, &["destroy", "web01"]);
    let project = lab
        .project()
        .playbook(&snapshot("{domain: web01, state: reverted, name: s2}"));
    assert_eq!(run(&project, &[], 0).recap_of("virthost01").changed, 1);
    assert_eq!(
        lab.virsh_ok(1, &["snapshot-current", "--domain", "web01", "--name"])
            .trim(),
        "s2"
    );
    assert_eq!(lab.state(1, "web01"), "running");

    // Retention: young snapshots survive older_than; keep_last keeps the newest.
    let project = lab
        .project()
        .playbook(&snapshot("{guests: all, state: absent, older_than: 1h}"));
    assert_eq!(run(&project, &[], 0).recap_of("virthost01").changed, 0);
    let project = lab.project().playbook(&snapshot(
        "{guests: all, state: absent, name: \"s*\", keep_last: 2}",
    ));
    assert_eq!(run(&project, &[], 0).recap_of("virthost01").changed, 1);
    let mut web = lab.snapshots(1, "web01");
    web.sort();
    assert_eq!(names(&web), ["s2", "s3"], "s1, the oldest, went");
    assert_eq!(
        names(&lab.snapshots(1, "app01")),
        ["s1"],
        "fewer than keep_last"
    );

    // One by name, then again: nothing left to delete.
    let project = lab
        .project()
        .playbook(&snapshot("{domain: web01, state: absent, name: s3}"));
    assert_eq!(run(&project, &[], 0).recap_of("virthost01").changed, 1);
    assert_eq!(run(&project, &[], 0).recap_of("virthost01").changed, 0);
    assert_eq!(names(&lab.snapshots(1, "web01")), ["s2"]);
    eprintln!("snapshot test ran in {:?}", started.elapsed());
}

#[test]
fn domains_shut_down_start_and_are_destroyed_only_when_forced() {
    let lab = KvmLab::new()
        .hypervisors(1)
        .guest(1, "web01")
        .hung_guest(1, "hung01")
        .start();
    let started = Instant::now();
    let domain = |args: &str| {
        lab.project().playbook(&play(
            "virthost01",
            &format!("    - name: power\n      virsh_domain: {args}\n"),
        ))
    };
    let shutdown = domain("{domain: web01, state: shutdown, shutdown_timeout: 30}");
    assert_eq!(run(&shutdown, &[], 0).recap_of("virthost01").changed, 1);
    assert_eq!(
        lab.state(1, "web01"),
        "shut off",
        "the guest powered off on ACPI"
    );
    assert_eq!(run(&shutdown, &[], 0).recap_of("virthost01").changed, 0);

    let start = domain("{name: web01, state: running}");
    assert_eq!(
        run(&start, &["--check"], 0).recap_of("virthost01").changed,
        1
    );
    assert_eq!(
        lab.state(1, "web01"),
        "shut off",
        "check mode starts nothing"
    );
    assert_eq!(run(&start, &[], 0).recap_of("virthost01").changed, 1);
    assert_eq!(lab.state(1, "web01"), "running");
    assert_eq!(run(&start, &[], 0).recap_of("virthost01").changed, 0);

    // libvirt refuses to shut down a paused guest: an error unless forced.
    lab.virsh_ok(1, &["suspend", "web01"]);
    let paused = domain("{domain: web01, state: shutdown}");
    let output = run(&paused, &[], 2);
    assert!(
        output.stdout.contains(
            "virsh shutdown `web01` failed: error: Failed to shutdown domain 'web01'; \
             error: Requested operation is not valid: domain is not running; \
             `force: true` destroys it instead"
        ),
        "{}",
        output.stdout
    );
    assert_eq!(lab.state(1, "web01"), "paused", "left as it was");
    let forced = domain("{domain: web01, state: shutdown, force: true}");
    assert_eq!(run(&forced, &[], 0).recap_of("virthost01").changed, 1);
    assert_eq!(lab.state(1, "web01"), "shut off");

    // A guest that ignores ACPI: left running after the timeout, destroyed only with force.
    let hung = domain("{domain: hung01, state: shutdown, shutdown_timeout: 2}");
    let output = run(&hung, &[], 2);
    assert!(
        output
            .stdout
            .contains("`hung01` did not shut down within 2 s (still running)"),
        "{}",
        output.stdout
    );
    assert_eq!(lab.state(1, "hung01"), "running");
    let forced = lab.project().playbook(&play(
        "virthost01",
        "    - virsh_domain: {domain: hung01, state: shutdown, shutdown_timeout: 1, force: true}\n      \
         register: r\n    - copy:\n        content: \"{{ r | to_json }}\"\n        dest: \"{dir}/r.json\"\n",
    ));
    run(&forced, &[], 0);
    let r = json(&forced, "r.json");
    assert_eq!(
        (&r["changed"], &r["forced"]),
        (&Json::Bool(true), &Json::Bool(true))
    );
    assert_eq!(
        r["msg"],
        "`hung01` did not shut down within 1 s: destroyed (force)"
    );
    assert_eq!(lab.state(1, "hung01"), "shut off");

    run(&start, &[], 0);
    let destroy = domain("{domain: web01, state: destroyed}");
    assert_eq!(run(&destroy, &[], 0).recap_of("virthost01").changed, 1);
    assert_eq!(lab.state(1, "web01"), "shut off");
    eprintln!("virsh_domain test ran in {:?}", started.elapsed());
}

/// Runs one failing task named `name` and returns what rpatch printed.
fn failing(lab: &KvmLab, name: &str, task: &str) -> String {
    let project = lab.project().playbook(&play(
        "virthost01",
        &format!("    - name: {name}\n      {task}\n"),
    ));
    let output = run(&project, &[], 2);
    assert_eq!(output.recap_of("virthost01").failed, 1);
    format!("{}{}", output.stdout, output.stderr)
}

#[test]
fn bad_input_fails_with_a_clear_error_naming_the_task_and_the_host() {
    let lab = KvmLab::new().hypervisors(1).guest(1, "web01").start();
    let started = Instant::now();
    let expect = |name: &str, task: &str, message: &str| {
        let printed = failing(&lab, name, task);
        for needle in [name, "virthost01", message] {
            assert!(printed.contains(needle), "no {needle:?} in:\n{printed}");
        }
    };
    expect(
        "snapshot a guest that is not there",
        "virsh_snapshot: {domain: nosuch, name: s1}",
        "domain `nosuch` is not defined on this host (domains: web01)",
    );
    expect(
        "start a guest that is not there",
        "virsh_domain: {domain: nosuch, state: running}",
        "domain `nosuch` is not defined on this host",
    );
    expect(
        "revert to a snapshot that is not there",
        "virsh_snapshot: {domain: web01, state: reverted, name: gone}",
        "domain `web01` has no snapshot `gone` (snapshots: none)",
    );
    expect(
        "a snapshot name virsh would read as an option",
        "virsh_snapshot: {domain: web01, name: \"--help\"}",
        "snapshot name `--help` starts with `-`",
    );
    expect(
        "a snapshot name with a slash",
        "virsh_snapshot: {domain: web01, name: \"a/b\"}",
        "snapshot name `a/b` contains `/`, which libvirt refuses",
    );
    assert!(lab.snapshots(1, "web01").is_empty(), "nothing was taken");

    // Shell metacharacters are quoted: the snapshot has exactly that name.
    let odd = "s$(echo injected);echo x'y\"z`id`";
    let project = lab.project().playbook(&play(
        "virthost01",
        &format!(
            "    - virsh_snapshot: {{domain: web01, name: {}}}\n",
            serde_json::to_string(odd).expect("JSON string")
        ),
    ));
    run(&project, &[], 0);
    assert_eq!(names(&lab.snapshots(1, "web01")), [odd]);

    // Not root: libvirtd's socket is root's.
    let project = lab.project().playbook(
        "- hosts: virthost01\n  gather_facts: false\n  tasks:\n    \
         - name: facts as the login user\n      virsh_facts: {}\n",
    );
    let output = run(&project, &[], 2);
    for needle in [
        "facts as the login user",
        "virthost01",
        "virsh cannot list the domains of this host",
        "Permission denied",
        "`become: true`",
    ] {
        assert!(
            output.stdout.contains(needle),
            "no {needle:?} in:\n{}",
            output.stdout
        );
    }

    // libvirtd down, then virsh gone: each says so.
    let pid = std::fs::read_to_string(lab.dir().join("h1/libvirtd.pid")).expect("libvirtd pid");
    let pid = pid.trim();
    lab.inside(1, &["kill", pid]);
    crate::support::wait_until("libvirtd to exit", 30, || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
    });
    expect(
        "facts without libvirtd",
        "virsh_facts: {}",
        "virsh cannot list the domains of this host (rc 1): error: failed to connect to the hypervisor",
    );
    lab.inside(1, &["mount", "--bind", "/dev/null", "/usr/bin/virsh"]);
    expect(
        "facts without virsh",
        "virsh_facts: {}",
        "virsh is not installed on this host",
    );
    eprintln!("bad input test ran in {:?}", started.elapsed());
}
