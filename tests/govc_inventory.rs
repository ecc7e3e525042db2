//! `plugin: rpatch.govc` as an inventory source, against the replay govc answering with
//! transcripts captured from a real govc (tests/fixtures/govc): the ESXi hosts and their VMs,
//! cached, with the vCenter password kept out of every output and command line.

use serde_json::Value as Json;

use crate::support::govc_replay::GovcReplay;
use crate::support::Project;

/// The transcripts `govc_facts` on host DC0_C0_H1 asks for.
const FACTS: &[&str] = &["01", "02", "03", "05", "07"];
const PASSWORD: &str = "pw-Inv3nt0ry!";

fn project(replay: &GovcReplay) -> Project {
    Project::new()
        .file(
            "vcenter.yml",
            "plugin: rpatch.govc\ngovc_url: https://vc.example/sdk\ngovc_username: admin\n\
             govc_password: \"{{ lookup('env', 'RPATCH_TEST_VC_PASSWORD') }}\"\n\
             govc_insecure: true\ngovc_datacenter: DC0\nhosts: [DC0_C0_H1]\ncache: true\n\
             compose:\n  esxi_host: rpatch_hypervisor\n  is_on: vsphere_power_state == 'poweredOn'\n\
             keyed_groups:\n  - key: rpatch_hypervisor\n    prefix: esxi\n",
        )
        .env("PATH", &replay.path_env())
        .env("RPATCH_TEST_VC_PASSWORD", PASSWORD)
}

#[test]
fn govc_source_lists_vms_as_guests_of_their_esxi_host_and_a_cache_hit_runs_no_govc() {
    let replay = GovcReplay::new(FACTS);
    let project = project(&replay);
    let output = project.rpatch(&["inventory", "-i", "vcenter.yml", "--list"]);
    output.expect_code(0);
    replay.assert_replayed(FACTS);
    let list: Json = serde_json::from_str(&output.stdout).expect("JSON");
    let vm = &list["_meta"]["hostvars"]["DC0_C0_RP0_VM0"];
    assert_eq!(vm["rpatch_hypervisor"], "DC0_C0_H1");
    assert_eq!(vm["rpatch_domain"], "DC0_C0_RP0_VM0");
    assert_eq!(vm["vsphere_power_state"], "poweredOn");
    assert_eq!(
        list["hypervisors"]["hosts"],
        serde_json::json!(["DC0_C0_H1"])
    );
    assert_eq!(
        list["vsphere_poweredOn"]["hosts"],
        serde_json::json!(["DC0_C0_RP0_VM0"])
    );
    // The constructed options apply to the discovered hosts.
    assert_eq!(vm["esxi_host"], "DC0_C0_H1");
    assert_eq!(vm["is_on"], true);
    assert!(
        list["esxi_DC0_C0_H1"]["hosts"]
            .as_array()
            .is_some_and(|hosts| hosts.contains(&Json::from("DC0_C0_RP0_VM0"))),
        "{list}"
    );
    let calls = replay.calls().len();
    for line in replay.command_lines() {
        assert!(
            !line.contains(PASSWORD),
            "a command line holds the password: {line}"
        );
    }

    // A cache hit runs no govc (the replay has no transcript left: a call would fail).
    let output = project.rpatch(&["inventory", "-i", "vcenter.yml", "--graph"]);
    output.expect_code(0);
    assert!(
        output.stdout.contains("DC0_C0_RP0_VM0"),
        "{}",
        output.stdout
    );
    assert_eq!(replay.calls().len(), calls, "a cache hit runs no govc");
    for text in [&output.stdout, &output.stderr] {
        assert!(!text.contains(PASSWORD));
    }
    let cache = std::fs::read_dir(project.state_dir().join("inventory-cache"))
        .expect("cache dir")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        !cache.is_empty() && !cache.contains(PASSWORD),
        "the cache holds no password"
    );

    // --flush-cache runs govc again: with no transcript left, a clear error naming the file.
    let output = project.rpatch(&["inventory", "-i", "vcenter.yml", "--list", "--flush-cache"]);
    assert_ne!(output.code, 0, "{}", output.stdout);
    assert!(
        output
            .stderr
            .contains("vcenter.yml: cannot ask the vCenter with govc"),
        "{}",
        output.stderr
    );
    assert!(replay.calls().len() > calls, "--flush-cache runs govc");
    assert!(!output.stderr.contains(PASSWORD));
}
