//! Dynamic inventories through the real binary: executable scripts (with and without `_meta`)
//! mixed with static files, `constructed` layers and cached discovery, compared with output
//! recorded from ansible-inventory 2.19 (tests/fixtures/dyninv/record.sh regenerates it), and
//! the bad input that must stop a run before anything happens.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::Project;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dyninv")
}

fn expected(name: &str) -> String {
    let path = fixtures().join("expected").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `rpatch inventory ARGS` from the fixtures directory and compares it with the output
/// ansible-inventory printed for the same arguments.
fn assert_same_as_ansible(recorded: &str, args: &[&str]) {
    let project = Project::new();
    let mut full = vec!["inventory"];
    full.extend_from_slice(args);
    let output = project.rpatch_in(&fixtures(), &full);
    output.expect_code(0);
    assert_eq!(
        output.stdout,
        expected(recorded),
        "rpatch {} differs from ansible-inventory (expected/{recorded})",
        full.join(" ")
    );
}

/// Writes an executable file into the project.
fn script(project: Project, relative: &str, text: &str) -> Project {
    let project = project.file(relative, text);
    let path = project.join(relative);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    project
}

#[test]
fn a_script_with_meta_mixed_with_a_static_ini_and_group_vars_matches_ansible_inventory() {
    assert_same_as_ansible("meta.list.json", &["-i", "meta", "--list"]);
    assert_same_as_ansible("meta.graph.txt", &["-i", "meta", "--graph"]);
    assert_same_as_ansible("meta.host-web1.json", &["-i", "meta", "--host", "web1"]);
}

#[test]
fn a_script_without_meta_is_asked_per_host_and_matches_ansible_inventory() {
    let sources = ["-i", "nometa/hosts.yml", "-i", "nometa/legacy.sh"];
    let list: Vec<&str> = sources.iter().copied().chain(["--list"]).collect();
    assert_same_as_ansible("nometa.list.json", &list);
    let graph: Vec<&str> = sources.iter().copied().chain(["--graph"]).collect();
    assert_same_as_ansible("nometa.graph.txt", &graph);
}

#[test]
fn a_constructed_file_builds_groups_keyed_groups_and_topology_vars_like_ansible_inventory() {
    assert_same_as_ansible("constructed.list.json", &["-i", "constructed", "--list"]);
    assert_same_as_ansible("constructed.graph.txt", &["-i", "constructed", "--graph"]);
    assert_same_as_ansible(
        "constructed.host-api1.json",
        &["-i", "constructed", "--host", "api1"],
    );
    assert_same_as_ansible(
        "constructed.host-tmp1.json",
        &["-i", "constructed", "--host", "tmp1"],
    );
}

#[test]
fn constructed_topology_vars_drive_the_plan() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  serial: 1\n  order: topology\n  tasks:\n    - ping: {}\n",
    );
    let inventory = fixtures().join("constructed");
    let inventory = inventory.display().to_string();
    let output = project.rpatch(&["plan", "site.yml", "-i", &inventory]);
    output.expect_code(0);
    // The hypervisor and service the constructed layer composed order and spread the batches.
    for line in [
        "kvm01                    its guests go before it (api1, db1)",
        "kvm02                    its guests go before it (api2, tmp1)",
        "spread: service api at most 1 per batch",
    ] {
        assert!(output.stdout.contains(line), "{line}\n{}", output.stdout);
    }
}

#[test]
fn host_calls_run_in_parallel_at_most_eight_at_a_time() {
    let hosts: Vec<String> = (1..=20).map(|i| format!("\"h{i}\"")).collect();
    let project = script(
        Project::new(),
        "inv.sh",
        &format!(
            "#!/bin/sh\nset -e\ncd {{dir}}\nif [ \"$1\" = --list ]; then echo '{{\"g\": [{}]}}'; exit 0; fi\n\
             mkdir -p running\ntouch running/$2\nls running | wc -l >> counts\nsleep 0.3\nrm running/$2\n\
             echo \"{{\\\"me\\\": \\\"$2\\\"}}\"\n",
            hosts.join(", ")
        ),
    );
    let output = project.rpatch(&["inventory", "-i", "inv.sh", "--host", "h17"]);
    output.expect_code(0);
    assert!(
        output.stdout.contains("\"me\": \"h17\""),
        "{}",
        output.stdout
    );
    let counts: Vec<usize> = project
        .read("counts")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(counts.len(), 20, "one --host call per host: {counts:?}");
    let most = counts.iter().copied().max().unwrap_or(0);
    assert!(
        (2..=8).contains(&most),
        "at most 8 at once, and more than one: {counts:?}"
    );
}

const CACHED_SCRIPT: &str = "#!/bin/sh\necho run >> {dir}/runs\n\
    echo '{\"guests\": {\"hosts\": [\"vm1\"]}, \"_meta\": {\"hostvars\": {\"vm1\": {\"hv\": \"kvm01\"}}}}'\n";

fn runs(project: &Project) -> usize {
    if !project.exists("runs") {
        return 0;
    }
    project.read("runs").lines().count()
}

#[test]
fn a_cached_source_is_not_run_again_until_the_cache_is_flushed() {
    let project = script(Project::new(), "cmdb.sh", CACHED_SCRIPT)
        .file(
            "cmdb.yml",
            "plugin: rpatch.script\npath: cmdb.sh\ncache: true\ncache_timeout: 3600\ncompose:\n  rpatch_hypervisor: hv\n",
        )
        .playbook("- hosts: all\n  gather_facts: false\n  tasks:\n    - ping: {}\n");
    let first = project.rpatch(&["inventory", "-i", "cmdb.yml", "--host", "vm1"]);
    first.expect_code(0);
    assert!(
        first.stdout.contains("\"rpatch_hypervisor\": \"kvm01\""),
        "{}",
        first.stdout
    );
    assert_eq!(runs(&project), 1);
    let second = project.rpatch(&["inventory", "-i", "cmdb.yml", "--list"]);
    second.expect_code(0);
    assert!(second.stdout.contains("vm1"), "{}", second.stdout);
    assert_eq!(
        runs(&project),
        1,
        "the second load is answered from the cache"
    );
    let entries: Vec<_> = std::fs::read_dir(project.state_dir().join("inventory-cache"))
        .expect("cache in the state directory")
        .collect();
    assert_eq!(entries.len(), 1);
    for (step, args) in [
        ["inventory", "-i", "cmdb.yml", "--graph", "--flush-cache"].as_slice(),
        &["plan", "site.yml", "-i", "cmdb.yml", "--flush-cache"],
        &["check", "site.yml", "-i", "cmdb.yml", "--flush-cache"],
        &[
            "run",
            "site.yml",
            "-i",
            "cmdb.yml",
            "--flush-cache",
            "--list-hosts",
        ],
    ]
    .into_iter()
    .enumerate()
    {
        project.rpatch(args).expect_code(0);
        assert_eq!(runs(&project), step + 2, "--flush-cache re-runs: {args:?}");
    }
    project
        .rpatch(&["plan", "site.yml", "-i", "cmdb.yml"])
        .expect_code(0);
    assert_eq!(runs(&project), 5, "the flushed entry was stored again");
}

#[test]
fn a_cache_entry_older_than_cache_timeout_is_refreshed() {
    let project = script(Project::new(), "cmdb.sh", CACHED_SCRIPT).file(
        "cmdb.yml",
        "plugin: rpatch.script\npath: cmdb.sh\ncache: true\ncache_timeout: 0\n",
    );
    for expected in 1..=2 {
        project
            .rpatch(&["inventory", "-i", "cmdb.yml", "--list"])
            .expect_code(0);
        assert_eq!(runs(&project), expected);
    }
}

/// A project whose playbook would create `touched` on the controller: it must never run.
fn guarded(project: Project) -> Project {
    project.playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: touch {dir}/touched\n      delegate_to: localhost\n",
    )
}

fn refused(project: &Project, source: &str) -> String {
    let output = project.rpatch(&["run", "site.yml", "-i", source]);
    output.expect_code(4);
    assert!(!project.exists("touched"), "nothing may run");
    output.stderr.clone()
}

#[test]
fn a_script_that_hangs_is_killed_at_the_timeout_with_its_children() {
    let project = guarded(script(
        Project::new(),
        "slow.sh",
        "#!/bin/sh\necho asking the CMDB >&2\nsleep 60 &\necho $! > {dir}/child.pid\nwait\n",
    ))
    // Three seconds, so that a loaded CI machine still starts the script and lets it
    // print before the kill.
    .env("RPATCH_INVENTORY_TIMEOUT", "3")
    .timeout(40);
    let started = Instant::now();
    let stderr = refused(&project, "slow.sh");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr.contains("slow.sh --list` did not finish within 3 s"),
        "{stderr}"
    );
    assert!(stderr.contains("asking the CMDB"), "{stderr}");
    let pid = project.read("child.pid").trim().to_string();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z")),
        "the script's child {pid} was left running"
    );
}

#[test]
fn a_script_printing_partial_json_is_refused() {
    let project = guarded(script(
        Project::new(),
        "cut.sh",
        "#!/bin/sh\nprintf '{\"web\": {\"hosts\": [\"web1\"'\n",
    ));
    let stderr = refused(&project, "cut.sh");
    assert!(
        stderr.contains("cut.sh --list` printed invalid output: not JSON"),
        "{stderr}"
    );
}

#[test]
fn a_script_that_fails_is_refused_showing_its_stderr() {
    let project = guarded(script(
        Project::new(),
        "down.sh",
        "#!/bin/sh\necho 'cmdb.example: connection refused' >&2\nexit 1\n",
    ));
    let stderr = refused(&project, "down.sh");
    assert!(
        stderr.contains("down.sh --list` failed (exit code 1)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cmdb.example: connection refused"),
        "{stderr}"
    );
}

#[test]
fn a_failing_host_call_names_the_host() {
    let project = guarded(script(
        Project::new(),
        "legacy.sh",
        "#!/bin/sh\n[ \"$1\" = --list ] && { echo '{\"g\": [\"a\", \"b\"]}'; exit 0; }\n[ \"$2\" = b ] && { echo 'no such host' >&2; exit 2; }\necho '{}'\n",
    ));
    let stderr = refused(&project, "legacy.sh");
    assert!(
        stderr.contains("legacy.sh --host b` failed (exit code 2)"),
        "{stderr}"
    );
    assert!(stderr.contains("no such host"), "{stderr}");
}

#[test]
fn a_script_that_is_not_executable_is_refused() {
    let project = guarded(Project::new().file("inv.py", "#!/usr/bin/env python3\nprint('{}')\n"));
    let stderr = refused(&project, "inv.py");
    assert!(
        stderr.contains("inv.py looks like an inventory script"),
        "{stderr}"
    );
    assert!(stderr.contains("chmod +x"), "{stderr}");
}

#[test]
fn a_script_returning_a_name_as_host_and_group_is_refused() {
    let project = guarded(script(
        Project::new(),
        "both.sh",
        "#!/bin/sh\necho '{\"web\": [\"db\"], \"db\": {\"hosts\": [\"db1\"]}, \"_meta\": {\"hostvars\": {}}}'\n",
    ));
    let stderr = refused(&project, "both.sh");
    assert!(
        stderr.contains("returns `db` both as a host and as a group"),
        "{stderr}"
    );
}

#[test]
fn script_output_over_the_input_limit_is_refused() {
    let project = guarded(script(
        Project::new(),
        "big.sh",
        "#!/bin/sh\nyes '{\"padding\": 1}' | head -c 100000\n",
    ))
    .env("RPATCH_MAX_INPUT_BYTES", "4096");
    let stderr = refused(&project, "big.sh");
    assert!(
        stderr.contains("more than the input limit of 4096 bytes"),
        "{stderr}"
    );
}

#[test]
fn an_executable_inventory_without_a_shebang_is_read_as_a_static_file() {
    let project = script(Project::new(), "hosts", "[web]\nweb1\n");
    let output = project.rpatch(&["inventory", "-i", "hosts", "--graph"]);
    output.expect_code(0);
    assert!(
        output.stdout.contains("@web:\n  |  |--web1"),
        "{}",
        output.stdout
    );
}

const DISCOVERED: &str = "#!/bin/sh\necho '{\"guests\": [\"vm1\", \"vm2\"], \"_meta\": {\"hostvars\": {\"vm1\": {\"hv\": \"kvm01\"}, \"vm2\": {}}}}'\n";

#[test]
fn a_failing_constructed_expression_skips_the_host_unless_strict() {
    let lenient = script(Project::new(), "inv/10-guests.sh", DISCOVERED).file(
        "inv/20-topology.yml",
        "plugin: constructed\ncompose:\n  rpatch_hypervisor: hv\ngroups:\n  on_kvm01: hv == 'kvm01'\n",
    );
    let output = lenient.rpatch(&["inventory", "-i", "inv", "--list"]);
    output.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&output.stdout).expect("json");
    assert_eq!(
        json["_meta"]["hostvars"]["vm1"]["rpatch_hypervisor"],
        "kvm01"
    );
    assert!(json["_meta"]["hostvars"].get("vm2").is_none(), "{json}");
    assert_eq!(json["on_kvm01"]["hosts"], serde_json::json!(["vm1"]));

    let strict = guarded(script(Project::new(), "inv/10-guests.sh", DISCOVERED).file(
        "inv/20-topology.yml",
        "rpatch: constructed\nstrict: true\ncompose:\n  rpatch_hypervisor: hv\n",
    ));
    let stderr = refused(&strict, "inv");
    assert!(
        stderr.contains("20-topology.yml: could not set `rpatch_hypervisor` for host vm2"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_plugin_or_option_is_refused_naming_the_file() {
    let project = guarded(Project::new().file("dyn.yml", "plugin: constructd\n"));
    let stderr = refused(&project, "dyn.yml");
    assert!(
        stderr.contains("dyn.yml: unknown inventory plugin `constructd`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `constructed`?"), "{stderr}");
    let project = guarded(Project::new().file("dyn.yml", "plugin: constructed\ncompse: {}\n"));
    let stderr = refused(&project, "dyn.yml");
    assert!(
        stderr.contains("unknown option `compse` for inventory plugin `constructed`"),
        "{stderr}"
    );
    assert!(stderr.contains("dyn.yml:2:1"), "{stderr}");
    assert!(stderr.contains("did you mean `compose`?"), "{stderr}");
    let project = guarded(Project::new().file(
        "dyn.yml",
        "plugin: constructed\nkeyed_groups:\n  - key: os\n    prefx: os\n",
    ));
    let stderr = refused(&project, "dyn.yml");
    assert!(
        stderr.contains("dyn.yml: unknown field `prefx`"),
        "{stderr}"
    );
}

#[test]
fn a_successful_scripts_stderr_is_shown_as_a_warning() {
    let project = script(
        Project::new(),
        "chatty.sh",
        "#!/bin/sh\necho 'using cached CMDB export from 02:00' >&2\necho '{\"web\": [\"web1\"], \"_meta\": {\"hostvars\": {}}}'\n",
    );
    let output = project.rpatch(&["inventory", "-i", "chatty.sh", "--graph"]);
    output.expect_code(0);
    assert!(
        output.stderr.contains(
            "[WARNING]: inventory script `chatty.sh --list`: using cached CMDB export from 02:00"
        ),
        "{}",
        output.stderr
    );
}

#[test]
fn constructed_sees_only_the_vars_ansible_lets_it_see() {
    assert_same_as_ansible("allvars.host-w1.json", &["-i", "allvars", "--host", "w1"]);
}
