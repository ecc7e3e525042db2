//! The shipped `playbooks/monthly.yml` end to end on the KVM lab: three real libvirtd
//! hypervisors with four real QEMU guests, each guest's operating system an sshd of the test
//! fleet, patching with real apt-get and dpkg from the apt lab's repository. Hypervisors are
//! emptied by live migration, patched and refilled; guests get a snapshot on their hypervisor,
//! are patched and checked, and the snapshots go once every guest passed. A guest that fails
//! its health check, or a batch whose gate fails, is reverted to its snapshot. Where each
//! domain runs and its snapshots are checked with the lab's own `virsh`.

use std::path::Path;
use std::time::Instant;

use crate::support::apt_repo::{AptLab, Sources};
use crate::support::kvm_lab::KvmLab;
use crate::support::{Output, Project};

/// The guests: (home hypervisor, domain and inventory name).
const GUESTS: [(usize, &str); 4] = [(1, "web01"), (1, "db01"), (2, "web02"), (3, "db02")];

fn lab() -> KvmLab {
    let mut builder = KvmLab::new().hypervisors(3).guest_systems();
    for (host, name) in GUESTS {
        builder = builder.shared_guest(host, name);
    }
    let lab = builder.start();
    eprintln!(
        "KVM lab (3 hypervisors, 4 shared guests with their own sshd) set up in {:?}",
        lab.setup_time
    );
    lab
}

/// The lab as a `hypervisors` and a `guests` group; a guest is healthy unless
/// `DIR/NAME.unhealthy` exists. `-e @vars.yml` turns patching on, points apt at the apt lab
/// and keeps the machine's own services and boot alone.
fn project(lab: &KvmLab, apt: &AptLab) -> Project {
    let mut extra = String::new();
    for (_, name) in GUESTS {
        extra.push_str(&lab.guest_inventory(name));
    }
    extra.push_str(
        "  children:\n    hypervisors:\n      hosts:\n        virthost01:\n        \
         virthost02:\n        virthost03:\n      vars:\n        evacuate_reserve_mb: 64\n        \
         evacuate_migrate: {unsafe: true, auto_converge: true, max_downtime_ms: 400}\n    guests:\n      hosts:\n",
    );
    for (_, name) in GUESTS {
        extra.push_str(&format!("        {name}:\n"));
    }
    extra.push_str(
        "      vars:\n        guest_health_command: \"test ! -e {{ rpatch_lab_dir }}/\
         {{ inventory_hostname }}.unhealthy\"\n        guest_health_retries: 1\n        \
         guest_health_delay: 1\n",
    );
    let project = lab.project_with(&extra);
    let vars = format!(
        "apply_updates: true\nrestart_services: false\nrpatch_lab_dir: {dir}\n\
         patch_environment:\n  APT_CONFIG: {config}\n\
         patch_reboot_command: echo the lab does not reboot\n",
        dir = project.path().display(),
        config = apt.config(Sources::StableOnly).display(),
    );
    project.file("vars.yml", &vars)
}

fn monthly() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("playbooks/monthly.yml")
        .display()
        .to_string()
}

fn run(project: &Project, args: &[&str]) -> Output {
    let playbook = monthly();
    let mut all = vec!["run", playbook.as_str(), "-e", "@vars.yml", "--json"];
    all.extend_from_slice(args);
    project.rpatch(&all)
}

/// The hypervisors (1-based) on which `domain` is defined.
fn homes(lab: &KvmLab, domain: &str) -> Vec<usize> {
    (1..=3)
        .filter(|n| lab.virsh(*n, &["domstate", domain]).status.success())
        .collect()
}

/// `host`'s result of the task named `task` (without its role prefix) where it was not
/// skipped (a role the play lists twice has each task twice), if it ran.
fn result(output: &Output, host: &str, task: &str) -> Option<serde_json::Value> {
    output.events().into_iter().find(|e| {
        e["event"] == "host_result"
            && e["host"] == host
            && e["status"] != "skipped"
            && e["task"]
                .as_str()
                .is_some_and(|t| t.rsplit(" : ").next() == Some(task))
    })
}

fn assert_all_home_and_running(lab: &KvmLab, output: &Output) {
    for (home, guest) in GUESTS {
        assert_eq!(homes(lab, guest), [home], "{guest}:\n{}", output.stdout);
        assert_eq!(lab.state(home, guest), "running", "{guest}");
    }
}

#[test]
fn the_monthly_playbook_patches_hypervisors_then_guests_and_leaves_no_snapshot() {
    let mut apt = AptLab::start();
    apt.install("rpatch-testpkg", "1.0");
    apt.no_reboot_required();
    let lab = lab();
    let project = project(&lab, &apt);
    let started = Instant::now();

    let output = run(&project, &[]);
    eprintln!(
        "monthly.yml on the lab (apply) took {:?}",
        started.elapsed()
    );
    output.expect_code(0);
    assert_all_home_and_running(&lab, &output);
    for (home, guest) in GUESTS {
        assert!(
            lab.snapshots(home, guest).is_empty(),
            "{guest} kept {:?}",
            lab.snapshots(home, guest)
        );
    }
    assert_eq!(apt.installed("rpatch-testpkg").as_deref(), Some("1.1"));
    // virthost01 was emptied and refilled; every guest had its snapshot taken and deleted.
    let moved = result(
        &output,
        "virthost01",
        "Move the running guests to the other hypervisors",
    )
    .expect("evacuation of virthost01");
    assert_eq!(moved["status"], "changed", "{moved}");
    let back = result(&output, "virthost01", "Bring the guests back").expect("return");
    assert_eq!(back["status"], "changed", "{back}");
    // The package was installed by then (one dpkg for the whole lab): nothing left to patch on
    // the other hypervisors, so their guests stayed where they were.
    for host in ["virthost02", "virthost03"] {
        let moved = result(
            &output,
            host,
            "Move the running guests to the other hypervisors",
        );
        assert!(moved.is_none(), "{host} was emptied: {moved:?}");
    }
    for (_, guest) in GUESTS {
        for task in [
            "Take a snapshot of the guest before patching",
            "Delete the pre-patch snapshot",
        ] {
            let r = result(&output, guest, task).unwrap_or_else(|| panic!("{guest}: {task}"));
            assert_eq!(r["status"], "changed", "{guest}: {r}");
        }
    }
    eprintln!("monthly test ran in {:?}", started.elapsed());
}

#[test]
fn a_guest_failing_its_health_check_or_gate_is_reverted_to_its_snapshot() {
    let mut apt = AptLab::start();
    apt.no_reboot_required();
    let lab = lab();
    let project = project(&lab, &apt);
    let started = Instant::now();

    // web02 fails its own health check: its snapshot is reverted, the run halts.
    std::fs::write(project.join("web02.unhealthy"), "").expect("marker");
    let output = run(&project, &["-e", "target=guests"]);
    eprintln!(
        "guest play with a failing guest took {:?}",
        started.elapsed()
    );
    output.expect_code(2);
    let recap = output
        .events()
        .into_iter()
        .find(|e| e["event"] == "recap")
        .expect("recap event");
    assert_eq!(recap["hosts"]["web02"]["failed"], 1, "{recap}");
    assert!(
        output.stdout.contains("rolling back failed host(s): web02"),
        "{}",
        output.stdout
    );
    let reverted = result(
        &output,
        "web02",
        "Revert the guest to its pre-patch snapshot",
    )
    .expect("web02 reverted");
    assert_eq!(reverted["status"], "changed", "{reverted}");
    let id = project.only_run_id();
    let current = lab.virsh_ok(2, &["snapshot-current", "--name", "web02"]);
    assert_eq!(current.trim(), format!("rpatch-{id}"));
    assert_eq!(lab.state(2, "web02"), "running");
    assert_all_home_and_running(&lab, &output);
    std::fs::remove_file(project.join("web02.unhealthy")).expect("marker");
    lab.virsh_ok(2, &["snapshot-delete", "web02", &format!("rpatch-{id}")]);

    // The batch's gate fails: every guest of that batch is reverted, the run halts.
    let wall = Instant::now();
    let output = run(
        &project,
        &["-e", "target=guests", "-e", "guest_gate_command=false"],
    );
    eprintln!("guest play with a failing gate took {:?}", wall.elapsed());
    output.expect_code(6);
    let batch: Vec<&str> = GUESTS
        .iter()
        .map(|(_, g)| *g)
        .filter(|g| result(&output, g, "Take a snapshot of the guest before patching").is_some())
        .collect();
    assert_eq!(batch.len(), 1, "one guest in the first batch: {batch:?}");
    let guest = batch[0];
    let home = GUESTS
        .iter()
        .find(|(_, g)| *g == guest)
        .map(|(h, _)| *h)
        .expect("home");
    let reverted = result(&output, guest, "Revert the guest to its pre-patch snapshot")
        .expect("reverted by the rollback");
    assert_eq!(reverted["status"], "changed", "{reverted}");
    let runs: Vec<_> = std::fs::read_dir(project.runs_dir())
        .expect("runs")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|r| *r != id)
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let current = lab.virsh_ok(home, &["snapshot-current", "--name", guest]);
    assert_eq!(current.trim(), format!("rpatch-{}", runs[0]));
    assert_eq!(lab.state(home, guest), "running");
    eprintln!("revert test ran in {:?}", started.elapsed());
}
