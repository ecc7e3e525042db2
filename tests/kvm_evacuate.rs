//! `virsh_evacuate`, a guest's implicit delegation to its hypervisor, and discovery, through
//! the real binary against the KVM lab: three real libvirtd "hypervisors" reaching each other
//! at `qemu+tcp://127.0.0.1:PORT/system`. Where each domain runs is checked with the lab's own
//! `virsh` on every host, not with rpatch's output.

use std::time::Instant;

use serde_json::Value as Json;

use crate::support::kvm_lab::KvmLab;
use crate::support::{Output, Project};

/// The guests of hypervisor 1 as inventory hosts: `ansible_connection: local` stands for the
/// guest's OS (their virsh tasks run on the hypervisor, never here).
const GUESTS: &str = "    ev01:
      ansible_connection: local
      rpatch_hypervisor: virthost01
      rpatch_service: web
    ev02:
      ansible_connection: local
      rpatch_hypervisor: virthost01
      rpatch_service: web
    pin01:
      ansible_connection: local
      rpatch_hypervisor: virthost01
      rpatch_pinned: true
";

/// A project whose play runs on every hypervisor (so they are the play's other hosts) and
/// evacuates hypervisor 1 with `args`, registering the result in `r.json`.
fn evacuate(lab: &KvmLab, args: &str) -> Project {
    lab.project_with(GUESTS).playbook(&format!(
        "- hosts: virthost01:virthost02:virthost03\n  gather_facts: false\n  become: true\n  \
         tasks:\n    - name: evacuate\n      when: inventory_hostname == 'virthost01'\n      \
         virsh_evacuate: {args}\n      register: r\n    \
         - copy:\n        content: \"{{{{ r | to_json }}}}\"\n        dest: \"{{dir}}/r.json\"\n      \
         when: inventory_hostname == 'virthost01'\n"
    ))
}

fn run(project: &Project, code: i32) -> Output {
    let output = project.run(&[]);
    output.expect_code(code);
    output
}

fn registered(project: &Project) -> Json {
    serde_json::from_str(&project.read("r.json")).expect("JSON")
}

/// The hypervisors (1-based) on which `domain` is defined, by the lab's own virsh.
fn homes(lab: &KvmLab, domain: &str) -> Vec<usize> {
    (1..=3)
        .filter(|n| lab.virsh(*n, &["domstate", domain]).status.success())
        .collect()
}

fn assert_all_home(lab: &KvmLab) {
    for guest in ["ev01", "ev02", "pin01"] {
        assert_eq!(homes(lab, guest), [1], "{guest} only on virthost01");
        assert_eq!(lab.state(1, guest), "running", "{guest}");
    }
}

fn contains_all(output: &Output, needles: &[&str]) {
    for needle in needles {
        assert!(
            output.stdout.contains(needle),
            "no {needle:?} in:\n{}",
            output.stdout
        );
    }
}

#[test]
fn evacuation_moves_every_guest_to_the_other_hypervisors_and_back_and_refusals_move_nothing() {
    let lab = KvmLab::new()
        .hypervisors(3)
        .shared_guest(1, "ev01")
        .shared_guest(1, "ev02")
        .shared_guest(1, "pin01")
        .start();
    eprintln!(
        "KVM lab (3 hypervisors, 3 shared guests) set up in {:?}",
        lab.setup_time
    );
    let started = Instant::now();

    // Capacity: no target can keep a reserve this large, so nothing moves.
    let output = run(
        &evacuate(
            &lab,
            "{reserve_mb: 100000000, pinned_action: skip, migrate: {unsafe: true}}",
        ),
        2,
    );
    contains_all(
        &output,
        &[
            "not enough memory: `ev01` needs 64 MiB plus reserve_mb 100000000",
            "nothing was moved",
        ],
    );
    assert_all_home(&lab);

    // A pinned guest with the default pinned_action (fail): refused before anything moves.
    let output = run(
        &evacuate(&lab, "{reserve_mb: 64, migrate: {unsafe: true}}"),
        2,
    );
    contains_all(
        &output,
        &[
            "pinned guest(s) pin01 (rpatch_pinned) cannot leave this host and pinned_action is `fail`",
            "nothing was moved",
        ],
    );
    assert_all_home(&lab);

    // Check mode plans and moves nothing.
    let project = evacuate(
        &lab,
        "{reserve_mb: 64, pinned_action: skip, migrate: {unsafe: true}}",
    );
    project.run(&["--check"]).expect_code(0);
    assert_all_home(&lab);

    // Evacuate: the guests of service `web` go to different targets; the pinned one stays.
    let wall = Instant::now();
    let output = run(&project, 0);
    eprintln!(
        "evacuation of 2 guests (parallel 2) took {:?}",
        wall.elapsed()
    );
    assert_eq!(output.recap_of("virthost01").changed, 2, "evacuate + copy");
    let (one, two) = (homes(&lab, "ev01"), homes(&lab, "ev02"));
    assert!(
        one.len() == 1 && two.len() == 1 && one != two && !one.contains(&1) && !two.contains(&1),
        "ev01 on {one:?}, ev02 on {two:?}"
    );
    assert_eq!(lab.state(one[0], "ev01"), "running");
    assert_eq!(lab.state(two[0], "ev02"), "running");
    assert_eq!(homes(&lab, "pin01"), [1]);
    assert_eq!(lab.state(1, "pin01"), "running");
    // Where each went: in the result, in the journal, and in the domain's own metadata.
    let r = registered(&project);
    assert_eq!(r["placements"]["ev01"], KvmLab::host(one[0]));
    assert_eq!(r["placements"]["ev02"], KvmLab::host(two[0]));
    assert_eq!(
        r["pinned"],
        serde_json::json!([{"domain": "pin01", "action": "skip"}])
    );
    assert!(
        r.get("_journal").is_none(),
        "the journal's copy is not registered: {r}"
    );
    // Two runs so far (check mode, then this one): the record is in this one's journal.
    let journal: String = std::fs::read_dir(project.runs_dir())
        .expect("runs dir")
        .filter_map(Result::ok)
        .filter_map(|run| std::fs::read_to_string(run.path().join("journal.jsonl")).ok())
        .collect();
    let record = journal
        .lines()
        .filter_map(|line| serde_json::from_str::<Json>(line).ok())
        .filter_map(|event| event.get("record").cloned())
        .find(|record| record["moved"].as_array().is_some_and(|m| !m.is_empty()))
        .expect("a journaled record of the moves");
    let moved: Vec<(String, String)> = record["moved"]
        .as_array()
        .expect("moved")
        .iter()
        .map(|m| {
            (
                m["domain"].as_str().unwrap_or("").into(),
                m["host"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert!(
        moved.contains(&("ev01".into(), KvmLab::host(one[0])))
            && moved.contains(&("ev02".into(), KvmLab::host(two[0]))),
        "{record}"
    );
    let metadata = lab.virsh_ok(
        one[0],
        &[
            "metadata",
            "--domain",
            "ev01",
            "--uri",
            "urn:rpatch:evacuation",
        ],
    );
    assert!(
        metadata.contains("from=\"virthost01\""),
        "metadata: {metadata}"
    );

    // Again: nothing left to move (the pinned guest is skipped), so nothing changes.
    let output = run(&project, 0);
    assert_eq!(output.recap_of("virthost01").changed, 1, "only the copy");

    // Back, from a later run with a fresh state directory: libvirt's metadata is enough.
    let back = evacuate(&lab, "{state: returned, migrate: {unsafe: true}}");
    let wall = Instant::now();
    run(&back, 0);
    eprintln!("return of 2 guests took {:?}", wall.elapsed());
    assert_all_home(&lab);
    assert!(
        !lab.virsh(
            1,
            &[
                "metadata",
                "--domain",
                "ev01",
                "--uri",
                "urn:rpatch:evacuation"
            ]
        )
        .status
        .success(),
        "the evacuation record is cleared once home"
    );
    let r = registered(&back);
    assert_eq!(r["moved"].as_array().map(Vec::len), Some(2), "{r}");
    // And again: nothing is away.
    let output = run(&back, 0);
    assert_eq!(output.recap_of("virthost01").changed, 1, "only the copy");
    eprintln!("virsh_evacuate test ran in {:?}", started.elapsed());
}

#[test]
fn a_guest_plays_snapshot_runs_on_its_hypervisor_and_discovery_places_unplaced_guests() {
    let lab = KvmLab::new()
        .hypervisors(1)
        .guest(1, "web01")
        .guest(1, "app01")
        .start();
    eprintln!(
        "KVM lab (1 hypervisor, 2 guests) set up in {:?}",
        lab.setup_time
    );
    // `web` names its hypervisor and domain; `app01` names nothing (discovery finds it).
    let project = lab
        .project_with(
            "    web:\n      ansible_connection: local\n      rpatch_hypervisor: virthost01\n      \
             rpatch_domain: web01\n    app01:\n      ansible_connection: local\n",
        )
        .playbook(
            "- hosts: web\n  gather_facts: false\n  become: true\n  tasks:\n    \
             - virsh_snapshot: {name: \"pre-patch\"}\n    \
             - virsh_domain: {state: running}\n",
        );

    // Implicit delegation: the tasks run on virthost01, for the guest's own domain.
    let output = run(&project, 0);
    assert_eq!(output.recap_of("web").changed, 1, "{}", output.stdout);
    assert_eq!(lab.snapshots(1, "web01"), ["pre-patch"]);
    assert!(lab.snapshots(1, "app01").is_empty());
    assert!(
        !output.recap().contains_key("virthost01"),
        "the hypervisor is no host of the play"
    );

    // Discovery: app01 is found on virthost01 by its name; web by its rpatch_domain.
    let output = project.rpatch(&["inventory", "--discover", "-b"]);
    output.expect_code(0);
    for needle in [
        "virthost01: 2 domain(s)",
        "guest app01",
        "guest web",
        "saved to ",
    ] {
        assert!(
            output.stdout.contains(needle),
            "no {needle:?} in:\n{}",
            output.stdout
        );
    }
    let host = project.rpatch(&["inventory", "--host", "app01"]);
    host.expect_code(0);
    let vars: Json = serde_json::from_str(&host.stdout).expect("JSON");
    assert_eq!(vars["rpatch_hypervisor"], "virthost01");
    assert_eq!(vars["rpatch_domain"], "app01");
    // The plan shows it, and orders the guest before its hypervisor.
    let plan = project
        .playbook("- hosts: all\n  order: topology\n  serial: 1\n  tasks:\n    - ping: {}\n")
        .rpatch(&["plan", "site.yml"]);
    plan.expect_code(0);
    assert!(
        plan.stdout.contains("TOPOLOGY discovered ") && plan.stdout.contains("app01 on virthost01"),
        "{}",
        plan.stdout
    );
    let before = |guest: &str| {
        let at = |name: &str| plan.stdout.find(&format!("    {name} ")).expect(name);
        at(guest) < at("virthost01")
    };
    assert!(before("app01") && before("web"), "{}", plan.stdout);

    // A play's `discover: true` asks before the run is planned: in a project that knows
    // nothing yet, app01's snapshot is taken on the hypervisor discovery found it on.
    let fresh = lab
        .project_with("    app01:\n      ansible_connection: local\n")
        .playbook(
            "- hosts: app01\n  discover: true\n  gather_facts: false\n  become: true\n  \
             tasks:\n    - virsh_snapshot: {name: found}\n",
        );
    let output = run(&fresh, 0);
    assert!(
        output.stderr.contains("discovered the hypervisor of app01"),
        "{}",
        output.stderr
    );
    assert_eq!(lab.snapshots(1, "app01"), ["found"]);
}

#[test]
fn a_controller_killed_during_an_evacuation_resumes_with_every_guest_running_and_returned() {
    let lab = KvmLab::new()
        .shared_guest(1, "ks01")
        .shared_guest(1, "ks02")
        .start();
    eprintln!(
        "KVM lab (2 hypervisors, 2 shared guests) set up in {:?}",
        lab.setup_time
    );
    let started = Instant::now();
    let project = lab.project().playbook(
        "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n    \
         - name: evacuate\n      when: inventory_hostname == 'virthost01'\n      \
         virsh_evacuate: {reserve_mb: 64, parallel: 1, migrate: {unsafe: true}}\n    \
         - name: return\n      when: inventory_hostname == 'virthost01'\n      \
         virsh_evacuate: {state: returned, parallel: 1, migrate: {unsafe: true}}\n",
    );
    let mut child = project.spawn(&["run", "site.yml"]);
    // SIGKILL as soon as the first guest has left, while the second is still home.
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    let moved = |lab: &KvmLab| {
        ["ks01", "ks02"]
            .iter()
            .any(|d| lab.virsh(2, &["domstate", d]).status.success())
    };
    while !moved(&lab) {
        assert!(Instant::now() < deadline, "no guest moved within 120 s");
        assert!(
            child.try_wait().ok().flatten().is_none(),
            "the run ended before any guest moved"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    // A migration the killed controller had started goes on on the hypervisor (libvirt's
    // job, not rpatch's): let it settle — each guest defined on one host only — as an admin
    // would before resuming.
    let settled = |lab: &KvmLab| {
        ["ks01", "ks02"].iter().all(|d| {
            (1..=2)
                .filter(|n| lab.virsh(*n, &["domstate", d]).status.success())
                .count()
                == 1
        })
    };
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while !settled(&lab) {
        assert!(
            Instant::now() < deadline,
            "migrations did not settle in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let away: Vec<&str> = ["ks01", "ks02"]
        .into_iter()
        .filter(|d| lab.virsh(2, &["domstate", d]).status.success())
        .collect();
    eprintln!("killed with {away:?} on virthost02");
    let id = project.only_run_id();
    let resumed = project.rpatch(&["resume", &id]);
    resumed.expect_code(0);
    for guest in ["ks01", "ks02"] {
        assert_eq!(
            (1..=2)
                .filter(|n| lab.virsh(*n, &["domstate", guest]).status.success())
                .collect::<Vec<_>>(),
            [1],
            "{guest} home only:\n{}",
            resumed.stdout
        );
        assert_eq!(lab.state(1, guest), "running", "{guest}");
    }
    eprintln!("kill and resume test ran in {:?}", started.elapsed());
}

/// `virsh dominfo DOMAIN`'s `Managed save:` line on hypervisor `n` (`yes` or `no`).
fn managed_save(lab: &KvmLab, n: usize, domain: &str) -> String {
    lab.virsh_ok(n, &["dominfo", domain])
        .lines()
        .find_map(|line| line.strip_prefix("Managed save:"))
        .map(|value| value.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn a_pinned_guest_is_shut_down_or_saved_during_an_evacuation_and_started_on_return() {
    // Three hypervisors (as `homes` looks at), the play on the first two.
    let lab = KvmLab::new()
        .hypervisors(3)
        .shared_guest(1, "mv01")
        .guest(1, "pin01")
        .start();
    eprintln!(
        "KVM lab (3 hypervisors, 2 guests) set up in {:?}",
        lab.setup_time
    );
    let started = Instant::now();
    let guests = "    mv01:\n      ansible_connection: local\n      rpatch_hypervisor: virthost01\n    \
                  pin01:\n      ansible_connection: local\n      rpatch_hypervisor: virthost01\n      \
                  rpatch_pinned: true\n";
    let play = |args: &str| {
        lab.project_with(guests).playbook(&format!(
            "- hosts: virthost01:virthost02\n  gather_facts: false\n  become: true\n  tasks:\n    \
             - name: evacuate\n      when: inventory_hostname == 'virthost01'\n      \
             virsh_evacuate: {args}\n      register: r\n    \
             - copy:\n        content: \"{{{{ r | to_json }}}}\"\n        dest: \"{{dir}}/r.json\"\n      \
             when: inventory_hostname == 'virthost01'\n"
        ))
    };
    for action in ["shutdown", "save"] {
        let away = play(&format!(
            "{{reserve_mb: 64, pinned_action: {action}, shutdown_timeout: 60, migrate: {{unsafe: true}}}}"
        ));
        run(&away, 0);
        assert_eq!(homes(&lab, "mv01"), [2], "{action}: mv01 moved");
        assert_eq!(homes(&lab, "pin01"), [1], "{action}: pin01 stays");
        assert_eq!(lab.state(1, "pin01"), "shut off", "{action}");
        assert_eq!(
            managed_save(&lab, 1, "pin01"),
            if action == "save" { "yes" } else { "no" },
            "{action}"
        );
        let r = registered(&away);
        assert_eq!(
            r["pinned"],
            serde_json::json!([{"domain": "pin01", "action": action}]),
            "{r}"
        );

        let back = play("{state: returned, pinned_action: skip, migrate: {unsafe: true}}");
        run(&back, 0);
        for guest in ["mv01", "pin01"] {
            assert_eq!(homes(&lab, guest), [1], "{action}: {guest} home");
            assert_eq!(lab.state(1, guest), "running", "{action}: {guest}");
        }
        assert_eq!(managed_save(&lab, 1, "pin01"), "no", "{action}: restored");
        let r = registered(&back);
        assert_eq!(r["started"], serde_json::json!(["pin01"]), "{r}");
    }
    eprintln!("pinned guests test ran in {:?}", started.elapsed());
}
