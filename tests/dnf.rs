//! `dnf`/`yum` against real dnf and rpm: throwaway rpms in a local repository, installed
//! into a temporary `installroot` through the real `rpatch` binary on the local connection.
//! Nothing reaches a remote repository and the host's rpm database is never touched.

use crate::support::rpm_repo::{Repo, RpmRoot};
use crate::support::{Output, Project};

/// One task of a playbook: the module, its own arguments (YAML lines, 8 spaces in) and the
/// root's.
pub(crate) fn task(module: &str, root: &RpmRoot, args: &str) -> String {
    format!(
        "    - name: {module} task\n      {module}:\n{args}        {}",
        root.args()
    )
}

/// A playbook of these tasks for the local host.
pub(crate) fn project(tasks: &[String]) -> Project {
    Project::new().playbook(&format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n{}",
        tasks.concat()
    ))
}

/// The registered result of each task, in order, from `--json` events.
fn results(output: &Output) -> Vec<serde_json::Value> {
    output
        .events()
        .into_iter()
        .filter(|event| event["event"] == "host_result")
        .map(|event| event["result"].clone())
        .collect()
}

/// Runs the project with `--json` (plus `extra`) and returns its task results.
pub(crate) fn run(project: &Project, extra: &[&str], code: i32) -> Vec<serde_json::Value> {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let output = project.run(&args);
    output.expect_code(code);
    results(&output)
}

/// Installs the named packages pinned at 1.0 in `root`.
pub(crate) fn install_old(root: &RpmRoot, names: &[&str]) {
    let pins: Vec<String> = names.iter().map(|n| format!("{n}-1.0")).collect();
    let project = project(&[task(
        "dnf",
        root,
        &format!("        name: [{}]\n", pins.join(", ")),
    )]);
    run(&project, &[], 0);
    for name in names {
        assert_eq!(root.version_of(name).as_deref(), Some("1.0-1"), "{name}");
    }
}

#[test]
fn present_installs_a_pinned_version_and_latest_upgrades_it_once_with_old_and_new() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    let project = project(&[
        task(
            "dnf",
            &root,
            "        name: rpatch-testpkg-1.0-1\n        state: present\n",
        ),
        task(
            "dnf",
            &root,
            "        name: rpatch-testpkg\n        state: latest\n",
        ),
        task(
            "dnf",
            &root,
            "        name: rpatch-testpkg\n        state: latest\n",
        ),
    ]);
    let results = run(&project, &[], 0);
    assert_eq!(results.len(), 3);

    let installed = &results[0];
    assert_eq!(installed["changed"], true, "{installed}");
    assert_eq!(
        installed["results"],
        serde_json::json!(["Installed: rpatch-testpkg-1.0-1.noarch"])
    );
    assert_eq!(installed["package_manager"], "dnf");

    let upgraded = &results[1];
    assert_eq!(upgraded["changed"], true, "{upgraded}");
    assert_eq!(
        upgraded["packages"],
        serde_json::json!([{
            "name": "rpatch-testpkg", "arch": "noarch", "action": "upgrade",
            "before": "1.0-1", "after": "1.1-1"
        }])
    );
    assert_eq!(
        upgraded["results"],
        serde_json::json!(["Upgraded: rpatch-testpkg-1.1-1.noarch"])
    );
    assert_eq!(upgraded["rc"], 0);
    assert_eq!(upgraded["reboot_required"], false);

    let again = &results[2];
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["packages"], serde_json::json!([]));
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.1-1"));
}

#[test]
fn check_mode_lists_the_upgrade_and_leaves_the_rpm_database_alone() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    install_old(&root, &["rpatch-testpkg"]);
    let before = root.installed();
    let project = project(&[
        task(
            "dnf",
            &root,
            "        name: rpatch-testpkg\n        state: latest\n",
        ),
        task("dnf", &root, "        name: rpatch-other\n"),
    ]);
    let results = run(&project, &["--check"], 0);
    assert_eq!(
        results[0]["packages"],
        serde_json::json!([{
            "name": "rpatch-testpkg", "arch": "noarch", "action": "upgrade",
            "before": "1.0-1", "after": "1.1-1"
        }])
    );
    assert_eq!(results[0]["changed"], true);
    assert_eq!(
        results[1]["results"],
        serde_json::json!(["Installed: rpatch-other-1.1-1.noarch"])
    );
    assert_eq!(root.installed(), before);
}

#[test]
fn security_upgrades_only_the_package_with_a_security_advisory() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    install_old(&root, &["rpatch-testpkg", "rpatch-other"]);
    let project = project(&[task(
        "dnf",
        &root,
        "        name: \"*\"\n        state: latest\n        security: true\n",
    )]);
    let results = run(&project, &[], 0);
    assert_eq!(
        results[0]["results"],
        serde_json::json!(["Upgraded: rpatch-testpkg-1.1-1.noarch"]),
        "{}",
        results[0]
    );
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.1-1"));
    assert_eq!(root.version_of("rpatch-other").as_deref(), Some("1.0-1"));
}

#[test]
fn security_without_any_advisory_is_nothing_to_do_as_dnf_says() {
    let root = RpmRoot::new(Repo::Plain);
    install_old(&root, &["rpatch-testpkg"]);
    let project = project(&[task(
        "dnf",
        &root,
        "        name: \"*\"\n        state: latest\n        security: yes\n",
    )]);
    let results = run(&project, &[], 0);
    assert_eq!(results[0]["changed"], false, "{}", results[0]);
    assert_eq!(results[0]["failed"], false);
    assert_eq!(
        results[0]["msg"],
        "No security updates needed, but 1 update available"
    );
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.0-1"));
}

#[test]
fn excluded_packages_stay_at_their_version() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    install_old(&root, &["rpatch-testpkg", "rpatch-other"]);
    let project = project(&[task(
        "dnf",
        &root,
        "        name: \"*\"\n        state: latest\n        exclude: [rpatch-testpkg]\n",
    )]);
    let results = run(&project, &[], 0);
    assert_eq!(
        results[0]["results"],
        serde_json::json!(["Upgraded: rpatch-other-1.1-1.noarch"])
    );
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.0-1"));
    assert_eq!(root.version_of("rpatch-other").as_deref(), Some("1.1-1"));
}

#[test]
fn latest_with_update_only_never_installs_a_missing_package() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    install_old(&root, &["rpatch-testpkg"]);
    let project = project(&[
        task("dnf", &root, "        update_cache: true\n"),
        task(
            "dnf",
            &root,
            "        name: rpatch-testpkg,rpatch-other\n        state: latest\n        \
             update_only: true\n        update_cache: true\n",
        ),
    ]);
    let results = run(&project, &[], 0);
    assert_eq!(results[0]["changed"], false, "{}", results[0]);
    assert_eq!(results[0]["msg"], "metadata cache updated");
    assert_eq!(
        results[1]["results"],
        serde_json::json!(["Upgraded: rpatch-testpkg-1.1-1.noarch"])
    );
    assert_eq!(root.version_of("rpatch-other"), None);
}

#[test]
fn absent_removes_and_yum_names_answer_too() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    install_old(&root, &["rpatch-testpkg", "rpatch-other"]);
    let project = project(&[
        task(
            "yum",
            &root,
            "        pkg: rpatch-other\n        state: removed\n",
        ),
        task(
            "ansible.builtin.dnf",
            &root,
            "        name: rpatch-other\n        state: absent\n",
        ),
    ]);
    let results = run(&project, &[], 0);
    assert_eq!(
        results[0]["results"],
        serde_json::json!(["Removed: rpatch-other-1.0-1.noarch"])
    );
    assert_eq!(results[0]["changed"], true);
    assert_eq!(results[1]["changed"], false, "{}", results[1]);
    assert_eq!(root.version_of("rpatch-other"), None);
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.0-1"));
}

#[test]
fn a_package_no_repository_has_fails_with_dnfs_complaint_as_does_a_disabled_repository() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    let missing = project(&[task("dnf", &root, "        name: rpatch-nonesuch\n")]);
    let results = run(&missing, &[], 2);
    assert_eq!(results[0]["failed"], true);
    let msg = results[0]["msg"].as_str().expect("msg");
    assert!(
        msg.starts_with("dnf install failed (rc 1)") && msg.contains("rpatch-nonesuch"),
        "{msg}"
    );
    assert!(root.installed().is_empty());

    let disabled = project(&[task(
        "dnf",
        &root,
        "        name: rpatch-testpkg\n        disablerepo: rpatch-test\n",
    )]);
    let results = run(&disabled, &[], 2);
    assert!(
        results[0]["msg"]
            .as_str()
            .is_some_and(|m| m.contains("There are no enabled repositories")),
        "{}",
        results[0]
    );
    assert!(root.installed().is_empty());
}

#[test]
fn package_names_with_shell_metacharacters_are_refused_and_nothing_runs() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    let marker = root.path().join("pwned");
    // Written in the playbook: refused at load, before any host is contacted.
    let literal = project(&[task(
        "dnf",
        &root,
        &format!(
            "        name: \"rpatch-testpkg; touch {}\"\n",
            marker.display()
        ),
    )]);
    let output = literal.run(&[]);
    output.expect_code(4);
    assert!(
        output.stderr.contains("is not a package name"),
        "{}",
        output.stderr
    );
    // Arriving through a variable: this task fails on the host, still before dnf runs.
    let templated = Project::new().playbook(&format!(
        "- hosts: all\n  gather_facts: false\n  vars:\n    pkg: \"$(touch {})\"\n  tasks:\n{}",
        marker.display(),
        task("dnf", &root, "        name: \"{{ pkg }}\"\n")
    ));
    let results = run(&templated, &[], 2);
    assert_eq!(results[0]["failed"], true);
    assert!(
        results[0]["msg"]
            .as_str()
            .is_some_and(|m| m.contains("is not a package name")),
        "{}",
        results[0]
    );
    assert!(!marker.exists());
    assert!(!root.path().join("var/lib/rpm").exists() || root.installed().is_empty());
}

#[test]
fn a_lock_held_past_lock_timeout_fails_naming_the_holder() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    let lock = root.path().join("var/lib/dnf/rpmdb_lock.pid");
    std::fs::create_dir_all(lock.parent().expect("lock dir")).expect("lock dir");
    // This test process is alive for the whole run: a holder that never lets go.
    let holder = std::process::id();
    std::fs::write(&lock, holder.to_string()).expect("lock file");
    let project = project(&[task(
        "dnf",
        &root,
        "        name: rpatch-testpkg\n        lock_timeout: 1\n",
    )]);
    let results = run(&project, &[], 2);
    assert_eq!(
        results[0]["msg"],
        format!("dnf is locked by process {holder}: still held after 1s (lock_timeout 1)")
    );
    assert_eq!(root.version_of("rpatch-testpkg"), None);
}

#[test]
fn installing_a_core_package_makes_reboot_required_true() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    let project = project(&[
        task("dnf", &root, "        name: rpatch-testpkg\n"),
        task("dnf", &root, "        name: linux-firmware\n"),
    ]);
    let results = run(&project, &[], 0);
    assert_eq!(results[0]["reboot_required"], false, "{}", results[0]);
    assert!(results[0].get("warnings").is_none(), "{}", results[0]);
    assert_eq!(results[1]["changed"], true);
    assert_eq!(results[1]["reboot_required"], true, "{}", results[1]);
}

#[test]
fn package_hands_the_task_to_dnf_named_by_use_or_by_the_pkg_mgr_fact() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    let project = Project::new().playbook(&format!(
        "- hosts: all\n  gather_facts: false\n  vars:\n    ansible_pkg_mgr: dnf\n  tasks:\n{}{}",
        task(
            "package",
            &root,
            "        name: rpatch-testpkg-1.0-1\n        use: dnf\n"
        ),
        task(
            "ansible.builtin.package",
            &root,
            "        name: rpatch-testpkg\n        state: latest\n"
        ),
    ));
    let results = run(&project, &[], 0);
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["package_module"], "dnf", "{}", results[0]);
    assert_eq!(
        results[0]["results"],
        serde_json::json!(["Installed: rpatch-testpkg-1.0-1.noarch"])
    );
    assert_eq!(results[1]["package_module"], "dnf", "{}", results[1]);
    assert_eq!(
        results[1]["packages"][0]["after"], "1.1-1",
        "{}",
        results[1]
    );
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.1-1"));
}

#[test]
fn package_refuses_a_manager_it_does_not_have_before_anything_runs() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    let project = project(&[task(
        "package",
        &root,
        "        name: rpatch-testpkg\n        use: zypper\n",
    )]);
    let output = project.run(&[]);
    output.expect_code(4);
    assert!(
        output
            .stderr
            .contains("`use: zypper` is not a package manager rpatch has"),
        "{}",
        output.stderr
    );
    assert_eq!(root.version_of("rpatch-testpkg"), None);
}

#[test]
fn patch_playbook_options_reach_dnf_and_autoremove_alone_keeps_what_was_asked_for() {
    let root = RpmRoot::new(Repo::WithAdvisories);
    install_old(&root, &["rpatch-testpkg"]);
    let project = project(&[
        task(
            "yum",
            &root,
            "        name: rpatch-testpkg\n        state: latest\n        skip_broken: yes\n        \
             nobest: true\n        allowerasing: true\n        disable_excludes: all\n        \
             autoremove: yes\n",
        ),
        task("dnf", &root, "        autoremove: true\n"),
    ]);
    let results = run(&project, &[], 0);
    assert_eq!(
        results[0]["results"],
        serde_json::json!(["Upgraded: rpatch-testpkg-1.1-1.noarch"])
    );
    assert_eq!(results[1]["changed"], false, "{}", results[1]);
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.1-1"));
}
