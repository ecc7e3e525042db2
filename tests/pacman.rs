//! `pacman` against real pacman 6 and libalpm: throwaway packages in a local repository
//! (built with bsdtar, indexed with repo-add), installed into a temporary root whose own
//! `pacman.conf` keeps every pacman path inside it, through the real `rpatch` binary.

use crate::support::pacman_repo::{Db, PacmanRoot};
use crate::support::{Output, Project};

/// One task: the module, its own arguments (YAML lines, 8 spaces in) and the root's config.
fn task(module: &str, root: &PacmanRoot, args: &str) -> String {
    format!(
        "    - name: {module} task\n      {module}:\n{args}        config: {}\n",
        root.config().display()
    )
}

/// A local project of these tasks.
fn project(tasks: &[String]) -> Project {
    Project::new().playbook(&format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n{}",
        tasks.concat()
    ))
}

/// Runs the project with `--json` (plus `extra`), expects `code`, returns its task results.
fn run(project: &Project, extra: &[&str], code: i32) -> Vec<serde_json::Value> {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let output: Output = project.run(&args);
    output.expect_code(code);
    output
        .events()
        .into_iter()
        .filter(|event| event["event"] == "host_result")
        .map(|event| event["result"].clone())
        .collect()
}

/// One package change as the module reports it.
fn change(
    name: &str,
    action: &str,
    before: Option<&str>,
    after: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({
        "name": name, "arch": "any", "action": action, "before": before, "after": after
    })
}

/// Installs the named packages from the old database.
fn install_old(root: &PacmanRoot, names: &[&str]) {
    let project = project(&[task(
        "pacman",
        root,
        &format!(
            "        name: [{}]\n        update_cache: true\n",
            names.join(", ")
        ),
    )]);
    run(&project, &[], 0);
    for name in names {
        assert_eq!(root.version_of(name).as_deref(), Some("1.0-1"), "{name}");
    }
}

#[test]
fn present_installs_and_latest_upgrades_once_the_mirror_moves_on_with_old_and_new() {
    let root = PacmanRoot::new(Db::Old);
    let first = run(
        &project(&[task(
            "pacman",
            &root,
            "        name: rpatch-testpkg\n        update_cache: true\n",
        )]),
        &[],
        0,
    );
    assert_eq!(
        first[0]["packages"],
        serde_json::json!([change("rpatch-testpkg", "install", None, Some("1.0-1"))]),
        "{}",
        first[0]
    );
    assert_eq!(first[0]["package_manager"], "pacman");
    root.publish(Db::New);
    let project = project(&[
        task(
            "pacman",
            &root,
            "        name: rpatch-testpkg\n        state: present\n        update_cache: true\n",
        ),
        task(
            "pacman",
            &root,
            "        name: rpatch-testpkg\n        state: latest\n",
        ),
        task(
            "pacman",
            &root,
            "        name: rpatch-testpkg\n        state: latest\n",
        ),
    ]);
    let results = run(&project, &[], 0);
    assert_eq!(
        results[0]["changed"], false,
        "present leaves 1.0: {}",
        results[0]
    );
    assert_eq!(
        results[1]["packages"],
        serde_json::json!([change(
            "rpatch-testpkg",
            "upgrade",
            Some("1.0-1"),
            Some("1.1-1")
        )]),
        "{}",
        results[1]
    );
    assert_eq!(
        results[1]["results"],
        serde_json::json!(["Upgraded: rpatch-testpkg-1.1-1.any"])
    );
    assert_eq!(results[1]["reboot_required"], false);
    assert_eq!(results[2]["changed"], false, "{}", results[2]);
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.1-1"));
}

#[test]
fn upgrade_with_update_cache_upgrades_every_installed_package() {
    let root = PacmanRoot::new(Db::Old);
    install_old(&root, &["rpatch-testpkg", "rpatch-other"]);
    root.publish(Db::New);
    let results = run(
        &project(&[task(
            "community.general.pacman",
            &root,
            "        upgrade: true\n        update_cache: true\n",
        )]),
        &[],
        0,
    );
    assert_eq!(
        results[0]["packages"],
        serde_json::json!([
            change("rpatch-other", "upgrade", Some("1.0-1"), Some("1.1-1")),
            change("rpatch-testpkg", "upgrade", Some("1.0-1"), Some("1.1-1")),
        ]),
        "{}",
        results[0]
    );
    assert_eq!(root.version_of("linux"), None);
}

#[test]
fn check_mode_lists_the_upgrade_and_leaves_the_package_database_alone() {
    let root = PacmanRoot::new(Db::Old);
    install_old(&root, &["rpatch-testpkg", "rpatch-other"]);
    root.publish(Db::New);
    let before = root.installed();
    let project = project(&[
        task(
            "pacman",
            &root,
            "        upgrade: true\n        update_cache: true\n",
        ),
        task(
            "pacman",
            &root,
            "        name: rpatch-other\n        state: absent\n",
        ),
    ]);
    let results = run(&project, &["--check"], 0);
    assert_eq!(results[0]["changed"], true, "{}", results[0]);
    assert_eq!(results[0]["msg"], "2 package(s) would change");
    assert_eq!(
        results[0]["packages"][1],
        change("rpatch-testpkg", "upgrade", Some("1.0-1"), Some("1.1-1"))
    );
    assert_eq!(
        results[1]["packages"],
        serde_json::json!([change("rpatch-other", "remove", Some("1.0-1"), None)])
    );
    assert_eq!(root.installed(), before);
}

#[test]
fn absent_removes_and_installing_a_kernel_makes_reboot_required_true() {
    let root = PacmanRoot::new(Db::Old);
    install_old(&root, &["rpatch-testpkg", "rpatch-other"]);
    let project = project(&[
        task(
            "pacman",
            &root,
            "        name: rpatch-other\n        state: absent\n",
        ),
        task(
            "pacman",
            &root,
            "        pkg: rpatch-other\n        state: removed\n",
        ),
        task("pacman", &root, "        name: linux\n"),
    ]);
    let results = run(&project, &[], 0);
    assert_eq!(
        results[0]["results"],
        serde_json::json!(["Removed: rpatch-other-1.0-1.any"])
    );
    assert_eq!(results[0]["reboot_required"], false);
    assert_eq!(results[1]["changed"], false, "{}", results[1]);
    assert_eq!(results[2]["changed"], true, "{}", results[2]);
    assert_eq!(results[2]["reboot_required"], true, "{}", results[2]);
    assert_eq!(root.version_of("rpatch-other"), None);
}

#[test]
fn a_missing_package_fails_with_pacmans_error_and_a_bad_name_is_refused_at_load() {
    let root = PacmanRoot::new(Db::Old);
    let missing = project(&[task(
        "pacman",
        &root,
        "        name: [rpatch-testpkg, rpatch-nonesuch]\n        update_cache: true\n",
    )]);
    let results = run(&missing, &[], 2);
    assert_eq!(results[0]["failed"], true, "{results:?}");
    assert_eq!(
        results[0]["msg"],
        "pacman install failed (rc 1): error: target not found: rpatch-nonesuch"
    );
    assert!(root.installed().is_empty());

    let marker = root.path().join("pwned");
    let bad = project(&[task(
        "pacman",
        &root,
        &format!("        name: \"a; touch {}\"\n", marker.display()),
    )]);
    let output = bad.run(&[]);
    output.expect_code(4);
    assert!(
        output.stderr.contains("is not a package name"),
        "{}",
        output.stderr
    );
    assert!(!marker.exists());
}
