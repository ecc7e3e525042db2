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

/// The recorded cases of tests/fixtures/dyninv/cases.txt: the expected/ file holding what
/// ansible-inventory printed, and the arguments it was given.
fn recorded_cases() -> Vec<(String, Vec<String>)> {
    let path = fixtures().join("cases.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut words = line.split_whitespace().map(str::to_string);
            let name = words.next().unwrap_or_default();
            (name, words.collect())
        })
        .collect()
}

/// Runs `rpatch inventory ARGS` from the fixtures directory; `Some(message)` when its output
/// differs from what ansible-inventory printed for the same arguments.
fn differs_from_ansible(project: &Project, recorded: &str, args: &[String]) -> Option<String> {
    let mut full = vec!["inventory"];
    full.extend(args.iter().map(String::as_str));
    let output = project.rpatch_in(&fixtures(), &full);
    let want = expected(recorded);
    if output.code == 0 && output.stdout == want {
        return None;
    }
    let first = output
        .stdout
        .lines()
        .zip(want.lines())
        .position(|(got, want)| got != want)
        .unwrap_or(0);
    Some(format!(
        "rpatch {} differs from ansible-inventory (expected/{recorded}), exit {}, from line {}:\n\
         rpatch:\n{}\nansible-inventory:\n{}\nstderr: {}",
        full.join(" "),
        output.code,
        first + 1,
        output
            .stdout
            .lines()
            .skip(first)
            .take(6)
            .collect::<Vec<_>>()
            .join("\n"),
        want.lines()
            .skip(first)
            .take(6)
            .collect::<Vec<_>>()
            .join("\n"),
        output.stderr
    ))
}

/// Checks the recorded cases whose expected/ file is named in `names` (each must exist).
fn assert_recorded(names: &[&str]) {
    let cases = recorded_cases();
    let project = Project::new();
    let mut failures = Vec::new();
    for name in names {
        let (_, args) = cases
            .iter()
            .find(|(recorded, _)| recorded == name)
            .unwrap_or_else(|| panic!("{name} is not in tests/fixtures/dyninv/cases.txt"));
        failures.extend(differs_from_ansible(&project, name, args));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Writes an executable file into the project.
fn script(project: Project, relative: &str, text: &str) -> Project {
    let project = project.file(relative, text);
    let path = project.join(relative);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    project
}

#[test]
fn every_recorded_case_matches_ansible_inventory() {
    let project = Project::new();
    let cases = recorded_cases();
    assert!(cases.len() > 100, "{} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, args)| differs_from_ansible(&project, name, args))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn a_script_with_meta_mixed_with_a_static_ini_and_group_vars_matches_ansible_inventory() {
    assert_recorded(&["meta.list.json", "meta.graph.txt", "meta.host-web1.json"]);
    assert_recorded(&[
        "probe/08-mixed.1.list.json",
        "probe/08-mixed.2.graph.txt",
        "probe/08-mixed.5.list.json",
        "probe/04-prec.1.list.json",
        "probe/04-prec.2.host.json",
        "probe/04-prec.3.host.json",
    ]);
}

#[test]
fn a_script_without_meta_is_asked_per_host_and_matches_ansible_inventory() {
    assert_recorded(&["nometa.list.json", "nometa.graph.txt"]);
    assert_recorded(&[
        "probe/07-nometa.1.list.json",
        "probe/07-nometa.3.host.json",
        "probe/07-nometa.4.host.json",
    ]);
}

#[test]
fn a_constructed_file_builds_groups_keyed_groups_and_topology_vars_like_ansible_inventory() {
    assert_recorded(&[
        "constructed.list.json",
        "constructed.graph.txt",
        "constructed.host-api1.json",
        "constructed.host-tmp1.json",
    ]);
}

#[test]
fn compose_strings_a_template_made_are_marked_unsafe_in_list_as_ansible_inventory_does() {
    assert_recorded(&[
        "probe/11-trust.1.list.json",
        "probe/11-trust.2.host.json",
        "probe/09-cons.1.list.json",
        "probe/16-chain.1.list.json",
        "probe/33-yamlpass.1.list.json",
    ]);
}

#[test]
fn a_script_value_wrapped_as_ansible_unsafe_is_read_as_that_string() {
    assert_recorded(&[
        "probe/34-unsafein.1.list.json",
        "probe/34-unsafein.2.host.json",
    ]);
}

#[test]
fn keyed_groups_give_none_and_empty_values_the_default_value_or_drop_the_separator() {
    assert_recorded(&[
        "probe/10-keyed.1.list.json",
        "probe/10-keyed.2.graph.txt",
        "probe/12-leading.1.list.json",
        "probe/23-keyodd.1.list.json",
    ]);
}

#[test]
fn a_groups_condition_without_a_boolean_result_leaves_the_host_out() {
    assert_recorded(&["probe/13-groups.1.list.json", "probe/13-groups.2.graph.txt"]);
}

#[test]
fn hosts_a_source_put_in_ungrouped_keep_their_place() {
    assert_recorded(&[
        "probe/02-all.1.list.json",
        "probe/02-all.2.graph.txt",
        "probe/20-ungrouped.1.list.json",
        "probe/18-orphans.1.list.json",
    ]);
}

#[test]
fn script_values_print_as_ansible_inventory_prints_them() {
    assert_recorded(&[
        "probe/05-types.1.list.json",
        "probe/05-types.2.host.json",
        "probe/06-unicode.1.list.json",
        "probe/06-unicode.3.host.json",
    ]);
}

#[test]
fn ansible_group_priority_orders_group_vars_and_is_not_itself_a_variable() {
    assert_recorded(&[
        "probe/24-prio.1.list.json",
        "probe/24-prio.2.host.json",
        "probe/28-prio-ini.3.host.json",
        "probe/31-samedepth.2.host.json",
    ]);
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
fn a_failing_scripts_long_stderr_is_shown_truncated() {
    let project = guarded(script(
        Project::new(),
        "noisy.sh",
        "#!/bin/sh
echo 'first line of the trace' >&2
yes 'traceback frame' | head -c 50000 >&2
exit 3
",
    ));
    let stderr = refused(&project, "noisy.sh");
    assert!(
        stderr.contains("noisy.sh --list` failed (exit code 3)"),
        "{stderr}"
    );
    assert!(stderr.contains("first line of the trace"), "{stderr}");
    assert!(stderr.contains("more bytes]"), "{stderr}");
    assert!(stderr.len() < 5000, "{} bytes shown", stderr.len());
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

    let strict_group = guarded(script(Project::new(), "inv/10-guests.sh", DISCOVERED).file(
        "inv/20-topology.yml",
        "plugin: constructed\nstrict: true\ngroups:\n  on_kvm01: hv == 'kvm01'\n",
    ));
    let stderr = refused(&strict_group, "inv");
    assert!(
        stderr.contains("20-topology.yml: could not add host vm2 to group on_kvm01"),
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
    assert_recorded(&["allvars.host-w1.json"]);
    assert_recorded(&[
        "probe/14-usevars.1.list.json",
        "probe/15-novars.1.list.json",
        "probe/17-ini.1.list.json",
    ]);
}
