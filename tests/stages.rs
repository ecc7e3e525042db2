//! Staged rollouts end to end, with the real apt lab over the real sshd fleet: a staging run
//! records what it installed, the mirror moves on, production installs what staging tested
//! (not the newest), and production is refused (exit 9) before staging's run has soaked —
//! unless `--emergency`, or the clock (`RPATCH_NOW`) says the soak is over.

use indoc::formatdoc;
use serde_json::Value;

use crate::baseline::recorded;
use crate::support::apt_repo::{AptLab, Sources};
use crate::support::fleet::Fleet;
use crate::support::Project;

/// Exit code of a later stage refused before its promotion conditions hold.
const NOT_PROMOTED: i32 = 9;

/// The fleet's inventory with `staging` (node01) and `production` (node02) groups (node03, where
/// there is one, is in neither).
fn staged_inventory(fleet: &Fleet) -> String {
    format!(
        "{}  children:\n    staging:\n      hosts:\n        node01: {{}}\n    \
         production:\n      hosts:\n        node02: {{}}\n",
        fleet.inventory()
    )
}

/// One play over both stages: a whole-system upgrade, its result saved per host.
fn staged_play(lab: &AptLab, promote_after: &str) -> String {
    formatdoc!(
        "
        - hosts: all
          gather_facts: false
          become: true
          stages: [staging, production]
          promote_after: {promote_after}
          environment:
            APT_CONFIG: {config}
          tasks:
            - apt:
                upgrade: dist
              register: result
            - copy:
                content: \"{{{{ result | to_json }}}}\"
                dest: \"{{dir}}/result-{{{{ inventory_hostname }}}}-{{{{ rpatch_stage | default('none') }}}}.json\"
              check_mode: false
        ",
        config = lab.config(Sources::StableOnly).display(),
    )
}

fn result(project: &Project, host: &str, stage: &str) -> Value {
    serde_json::from_str(&project.read(&format!("result-{host}-{stage}.json")))
        .expect("saved result is JSON")
}

/// The run id a run printed when it started its journal.
fn run_ids(project: &Project) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(project.runs_dir())
        .expect("runs dir")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}

#[test]
fn production_installs_what_staging_tested_and_waits_for_the_soak() {
    let mut lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    let fleet = Fleet::new().hosts(3).start();
    let project = fleet
        .project_with_inventory(&staged_inventory(&fleet))
        .playbook(&staged_play(&lab, "{ soak: 72h }"));

    // node03 is in no stage group: its run has no stage rules, and says so.
    let unstaged = project.run(&["--limit", "node03", "--check"]);
    unstaged.expect_code(0);
    assert!(
        unstaged
            .stderr
            .contains("[WARNING]: the run's hosts are in no stage group (staging, production)"),
        "{}",
        unstaged.stderr
    );

    // A run over both stages' hosts must say which stage it is.
    let both = project.run(&[]);
    both.expect_code(5);
    assert!(
        both.stderr
            .contains("more than one stage (staging: node01; production: node02)"),
        "{}",
        both.stderr
    );

    // Staging (chosen by --limit): upgrades from the repository to 1.1, records the baseline.
    let output = project.run(&["--limit", "staging"]);
    output.expect_code(0);
    let staging_id = recorded(&output);
    assert!(
        output.stderr.contains("stage staging (first stage"),
        "{}",
        output.stderr
    );
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));
    assert_eq!(result(&project, "node01", "staging")["changed"], true);

    // The mirror moves on; production's host is still at 1.0.
    lab.publish("rpatch-testpkg", "1.2", "stable");
    lab.install("rpatch-testpkg", "1.0");

    // Before the soak: refused, naming the staging run, when it finished and when the soak ends.
    let refused = project.run(&["--stage", "production"]);
    refused.expect_code(NOT_PROMOTED);
    assert!(
        refused.stderr.contains(&format!(
            "waits for stage staging's run {staging_id}, which finished at "
        )),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("its soak of 72h ends at "),
        "{}",
        refused.stderr
    );
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.0"));
    assert_eq!(
        run_ids(&project).len(),
        2,
        "a refused run starts no journal"
    );

    // --emergency: starts anyway, warns, and installs what staging tested: 1.1, not 1.2.
    let emergency = project.run(&["--stage", "production", "--emergency"]);
    emergency.expect_code(0);
    assert!(
        emergency
            .stderr
            .contains("[WARNING]: --emergency: starting although stage production waits for"),
        "{}",
        emergency.stderr
    );
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));
    let installed = result(&project, "node02", "production");
    assert_eq!(
        installed["stage_baseline"],
        staging_id.as_str(),
        "{installed}"
    );
    assert_eq!(installed["packages"][0]["after"], "1.1", "{installed}");

    // The journal and `rpatch runs` say which stage and baseline each run used.
    let ids = run_ids(&project);
    let production_id = ids.last().expect("the production run").clone();
    let runs = project.rpatch(&["runs"]);
    runs.expect_code(0);
    assert!(
        runs.stdout
            .contains(&format!("[stage production, baseline {staging_id}]")),
        "{}",
        runs.stdout
    );
    assert!(runs.stdout.contains("[stage staging]"), "{}", runs.stdout);
    let show = project.rpatch(&["runs", "show", &production_id]);
    show.expect_code(0);
    assert!(
        show.stdout.contains(&format!(
            "stage production, baseline {staging_id} (from stage staging); --emergency overrode: "
        )),
        "{}",
        show.stdout
    );

    // After the soak (the clock moved on three days and an hour): production starts without
    // --emergency and again installs 1.1.
    lab.install("rpatch-testpkg", "1.0");
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(73)).to_string();
    let soaked = project.output(
        project
            .command()
            .args(["run", "site.yml", "--limit", "production"])
            .env("RPATCH_NOW", &later),
    );
    soaked.expect_code(0);
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));
    assert!(!soaked.stderr.contains("WARNING"), "{}", soaked.stderr);
}

#[test]
fn a_later_stage_waits_for_its_promotion_gate_and_for_a_successful_previous_run() {
    let lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    let fleet = Fleet::new().hosts(2).start();
    let gate = "\n    gate: { name: staging looks fine, command: \"test -e {dir}/staging-ok\", retries: 0 }";
    let project = fleet
        .project_with_inventory(&staged_inventory(&fleet))
        .playbook(&staged_play(&lab, gate));

    // No staging run yet: production cannot take a baseline from it.
    let early = project.run(&["--stage", "production"]);
    early.expect_code(NOT_PROMOTED);
    assert!(
        early.stderr.contains(
            "stage production takes its baseline from stage staging, which has no successful run"
        ),
        "{}",
        early.stderr
    );

    project.run(&["--stage", "staging"]).expect_code(0);
    lab.install("rpatch-testpkg", "1.0");

    // Staging succeeded, but the promotion gate fails: refused with the gate's name.
    let gated = project.run(&["--stage", "production"]);
    gated.expect_code(NOT_PROMOTED);
    assert!(
        gated
            .stderr
            .contains("the promotion gate `staging looks fine` did not pass"),
        "{}",
        gated.stderr
    );
    // Check mode only warns, and shows what production would install.
    project
        .run(&["--stage", "production", "--check"])
        .expect_code(0);
    assert_eq!(
        result(&project, "node02", "production")["packages"][0]["after"],
        "1.1"
    );
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.0"));

    // The gate passes: production starts and installs staging's version.
    std::fs::write(project.join("staging-ok"), "").expect("write gate file");
    project.run(&["--stage", "production"]).expect_code(0);
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));
}

#[test]
fn a_later_dnf_stage_installs_the_previous_stages_versions_not_the_newest() {
    use crate::baseline::rocky_root;
    use crate::dnf::install_old;

    let staging = rocky_root();
    let production = rocky_root();
    install_old(&staging, &["rpatch-basepkg"]);
    install_old(&production, &["rpatch-basepkg"]);
    // When staging ran, 1.2 was not there yet (excluded on staging's host only).
    let inventory = format!(
        "all:\n  children:\n    staging:\n      hosts:\n        s1:\n          \
         ansible_connection: local\n          root: {}\n          hold: ['rpatch-basepkg-1.2*']\n    \
         production:\n      hosts:\n        p1:\n          ansible_connection: local\n          \
         root: {}\n          hold: []\n",
        staging.path().display(),
        production.path().display()
    );
    let project = Project::new().file("inventory/local.yml", &inventory).playbook(
        "- hosts: all\n  gather_facts: false\n  stages: [staging, production]\n  tasks:\n    \
         - dnf:\n        name: '*'\n        state: latest\n        exclude: \"{{ hold }}\"\n        \
         installroot: \"{{ root }}\"\n        releasever: \"9\"\n        disable_gpg_check: true\n        \
         install_weak_deps: false\n        disable_plugin: [local, generate_completion_cache]\n      \
         register: result\n    - copy:\n        content: \"{{ result | to_json }}\"\n        \
         dest: \"{dir}/result-{{ inventory_hostname }}.json\"\n",
    );

    let output = project.run(&["--stage", "staging"]);
    output.expect_code(0);
    let staging_id = recorded(&output);
    assert_eq!(
        staging.version_of("rpatch-basepkg").as_deref(),
        Some("1.1-1")
    );

    project.run(&["--stage", "production"]).expect_code(0);
    assert_eq!(
        production.version_of("rpatch-basepkg").as_deref(),
        Some("1.1-1")
    );
    let result: Value =
        serde_json::from_str(&project.read("result-p1.json")).expect("saved result is JSON");
    assert_eq!(result["stage_baseline"], staging_id.as_str(), "{result}");
}
