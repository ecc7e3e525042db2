//! `zypper` against real zypper, libzypp and rpm: throwaway rpms in a local rpm-md repository
//! (with a security and a recommended advisory), installed into a temporary `--root` through
//! the real `rpatch` binary, locally and over SSH with `become`. Nothing reaches a remote
//! repository, the host's rpm database is never touched, and zypper logs into the root
//! (`ZYPP_LOGFILE`) instead of the host's `/var/log/zypper.log`.
//!
//! zypper is Debian's own 1.14.42 binary, unpacked by `scripts/test` into `target/zypper`
//! (Debian's dnf-plugins-core, which the dnf tests need, declares `Breaks: zypper`); the plays
//! put it first in `PATH`.

use std::path::Path;

use crate::support::fleet::Fleet;
use crate::support::rpm_repo::{Repo, RpmRoot};
use crate::support::{Output, Project};

/// One task: the module, its own arguments (YAML lines, 8 spaces in) and the root.
fn task(module: &str, root: &RpmRoot, args: &str) -> String {
    format!(
        "    - name: {module} task\n      {module}:\n{args}        root: {}\n",
        root.path().display()
    )
}

/// The `PATH` of every play: the unpacked zypper first.
fn path() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/zypper/bin");
    assert!(
        dir.join("zypper").exists(),
        "zypper is missing from {} (scripts/test unpacks it: apt-get install zypper-common \
         libzypp1722; apt-get download zypper; dpkg-deb -x zypper_*.deb target/zypper; \
         ln -s ../usr/bin/zypper target/zypper/bin/zypper)",
        dir.display()
    );
    format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        dir.display()
    )
}

/// A play of these tasks for all hosts, zypper logging into the root; `extra` goes under the
/// play's keywords (`become: true`).
fn play(root: &RpmRoot, extra: &str, tasks: &[String]) -> String {
    format!(
        "- hosts: all\n  gather_facts: false\n{extra}  environment:\n    ZYPP_LOGFILE: {}\n    \
         PATH: {}\n  tasks:\n{}",
        root.zypper_log().display(),
        path(),
        tasks.concat()
    )
}

/// A local project of these tasks.
fn project(root: &RpmRoot, tasks: &[String]) -> Project {
    Project::new().playbook(&play(root, "", tasks))
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

/// Runs the project with `--json` (plus `extra`), expects `code`, returns its task results.
fn run(project: &Project, extra: &[&str], code: i32) -> Vec<serde_json::Value> {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let output = project.run(&args);
    output.expect_code(code);
    results(&output)
}

/// Installs the named packages at 1.0 in `root` (`name=1.0`, Ansible's versioned form).
fn install_old(root: &RpmRoot, names: &[&str]) {
    let pins: Vec<String> = names.iter().map(|n| format!("{n}=1.0")).collect();
    let project = project(
        root,
        &[task(
            "zypper",
            root,
            &format!("        name: [{}]\n", pins.join(", ")),
        )],
    );
    run(&project, &[], 0);
    for name in names {
        assert_eq!(root.version_of(name).as_deref(), Some("1.0-1"), "{name}");
    }
}

/// One package change as the module reports it.
fn change(
    name: &str,
    action: &str,
    before: Option<&str>,
    after: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({
        "name": name, "arch": "noarch", "action": action, "before": before, "after": after
    })
}

#[test]
fn present_installs_a_pinned_version_and_latest_upgrades_it_once_with_old_and_new() {
    let root = RpmRoot::zypper(Repo::WithAdvisories);
    let project = project(
        &root,
        &[
            task("zypper", &root, "        name: rpatch-testpkg=1.0\n"),
            task(
                "zypper",
                &root,
                "        name: rpatch-testpkg\n        state: present\n",
            ),
            task(
                "zypper",
                &root,
                "        name: rpatch-testpkg\n        state: latest\n",
            ),
            task(
                "zypper",
                &root,
                "        name: rpatch-testpkg\n        state: latest\n",
            ),
        ],
    );
    let results = run(&project, &[], 0);
    assert_eq!(results.len(), 4);

    let installed = &results[0];
    assert_eq!(installed["changed"], true, "{installed}");
    assert_eq!(
        installed["packages"],
        serde_json::json!([change("rpatch-testpkg", "install", None, Some("1.0-1"))])
    );
    assert_eq!(installed["package_manager"], "zypper");

    let present = &results[1];
    assert_eq!(
        present["changed"], false,
        "present leaves it at 1.0: {present}"
    );

    let upgraded = &results[2];
    assert_eq!(upgraded["changed"], true, "{upgraded}");
    assert_eq!(
        upgraded["packages"],
        serde_json::json!([change(
            "rpatch-testpkg",
            "upgrade",
            Some("1.0-1"),
            Some("1.1-1")
        )])
    );
    assert_eq!(
        upgraded["results"],
        serde_json::json!(["Upgraded: rpatch-testpkg-1.1-1.noarch"])
    );
    assert_eq!(upgraded["rc"], 0);
    assert_eq!(upgraded["reboot_required"], false);

    let again = &results[3];
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["packages"], serde_json::json!([]));
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.1-1"));
}

#[test]
fn name_star_with_state_latest_upgrades_every_installed_package_and_installs_nothing_new() {
    let root = RpmRoot::zypper(Repo::WithAdvisories);
    install_old(&root, &["rpatch-testpkg", "rpatch-other"]);
    let project = project(
        &root,
        &[task(
            "zypper",
            &root,
            "        name: \"*\"\n        state: latest\n        update_cache: true\n",
        )],
    );
    let results = run(&project, &[], 0);
    assert_eq!(
        results[0]["packages"],
        serde_json::json!([
            change("rpatch-other", "upgrade", Some("1.0-1"), Some("1.1-1")),
            change("rpatch-testpkg", "upgrade", Some("1.0-1"), Some("1.1-1")),
        ]),
        "{}",
        results[0]
    );
    assert_eq!(root.version_of("rpatch-other").as_deref(), Some("1.1-1"));
    assert_eq!(root.version_of("linux-firmware"), None);
}

#[test]
fn absent_removes_an_installed_package_and_is_unchanged_for_a_missing_one() {
    let root = RpmRoot::zypper(Repo::WithAdvisories);
    install_old(&root, &["rpatch-testpkg", "rpatch-other"]);
    let project = project(
        &root,
        &[
            task(
                "community.general.zypper",
                &root,
                "        name: rpatch-other\n        state: absent\n",
            ),
            task(
                "zypper",
                &root,
                "        pkg: rpatch-other\n        state: removed\n",
            ),
        ],
    );
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
fn check_mode_lists_the_plan_and_leaves_the_rpm_database_alone() {
    let root = RpmRoot::zypper(Repo::WithAdvisories);
    install_old(&root, &["rpatch-testpkg", "rpatch-other"]);
    let before = root.installed();
    let project = project(
        &root,
        &[
            task(
                "zypper",
                &root,
                "        name: \"*\"\n        state: latest\n",
            ),
            task("zypper", &root, "        name: linux-firmware\n"),
            task(
                "zypper",
                &root,
                "        name: rpatch-other\n        state: absent\n",
            ),
            task(
                "zypper",
                &root,
                "        name: \"*\"\n        state: latest\n        type: patch\n",
            ),
            task(
                "zypper",
                &root,
                "        name: \"*\"\n        state: dist-upgrade\n        \
                 allow_vendor_change: true\n",
            ),
        ],
    );
    let results = run(&project, &["--check"], 0);
    assert_eq!(
        results[0]["packages"],
        serde_json::json!([
            change("rpatch-other", "upgrade", Some("1.0-1"), Some("1.1-1")),
            change("rpatch-testpkg", "upgrade", Some("1.0-1"), Some("1.1-1")),
        ]),
        "{}",
        results[0]
    );
    assert_eq!(results[0]["changed"], true);
    assert_eq!(results[0]["msg"], "2 package(s) would change");
    assert_eq!(
        results[1]["results"],
        serde_json::json!(["Installed: linux-firmware-1.0-1.noarch"])
    );
    assert_eq!(
        results[2]["packages"],
        serde_json::json!([change("rpatch-other", "remove", Some("1.0-1"), None)])
    );
    assert_eq!(
        results[3]["patches"],
        serde_json::json!(["RPATCH-RA-2026:0002", "RPATCH-SA-2026:0001"]),
        "{}",
        results[3]
    );
    assert_eq!(
        results[4]["packages"], results[0]["packages"],
        "{}",
        results[4]
    );
    assert_eq!(root.installed(), before);
}

#[test]
fn a_zypper_lock_held_by_another_process_fails_with_zyppers_message() {
    let root = RpmRoot::zypper(Repo::WithAdvisories);
    let lock = root.path().join("run/zypp.pid");
    std::fs::create_dir_all(lock.parent().expect("run dir")).expect("run dir");
    // This test process is alive for the whole run: a holder that never lets go.
    let holder = std::process::id();
    std::fs::write(&lock, format!("{holder}\n")).expect("lock file");
    let project = project(
        &root,
        &[task("zypper", &root, "        name: rpatch-testpkg\n")],
    );
    let results = run(&project, &[], 2);
    let msg = results[0]["msg"].as_str().expect("msg");
    assert!(
        msg.starts_with(&format!(
            "zypper install failed (rc 7): System management is locked by the application with \
             pid {holder} "
        )),
        "{msg}"
    );
    assert!(root.installed().is_empty());
}

#[test]
fn security_patches_with_category_security_leave_the_recommended_update_alone() {
    let root = RpmRoot::zypper(Repo::WithAdvisories);
    install_old(&root, &["rpatch-testpkg", "rpatch-other"]);
    let project = project(
        &root,
        &[task(
            "zypper",
            &root,
            "        name: \"*\"\n        state: latest\n        type: patch\n        \
             extra_args: --category security\n",
        )],
    );
    let results = run(&project, &[], 0);
    assert_eq!(
        results[0]["packages"],
        serde_json::json!([change(
            "rpatch-testpkg",
            "upgrade",
            Some("1.0-1"),
            Some("1.1-1")
        )]),
        "{}",
        results[0]
    );
    assert_eq!(
        results[0]["patches"],
        serde_json::json!(["RPATCH-SA-2026:0001"])
    );
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.1-1"));
    assert_eq!(root.version_of("rpatch-other").as_deref(), Some("1.0-1"));
}

#[test]
fn installing_a_package_libzypp_lists_as_needing_a_reboot_makes_reboot_required_true() {
    let root = RpmRoot::zypper(Repo::WithAdvisories);
    let project = project(
        &root,
        &[
            task("zypper", &root, "        name: rpatch-testpkg\n"),
            task("zypper", &root, "        name: linux-firmware\n"),
        ],
    );
    let results = run(&project, &[], 0);
    assert_eq!(results[0]["reboot_required"], false, "{}", results[0]);
    assert_eq!(results[1]["changed"], true);
    assert_eq!(results[1]["reboot_required"], true, "{}", results[1]);
    assert!(root.path().join("run/reboot-needed").exists());
}

#[test]
fn a_package_no_repository_has_fails_the_host_with_zyppers_message() {
    let root = RpmRoot::zypper(Repo::WithAdvisories);
    let project = project(
        &root,
        &[task(
            "zypper",
            &root,
            "        name: [rpatch-testpkg, rpatch-nonesuch]\n",
        )],
    );
    let results = run(&project, &[], 2);
    assert_eq!(results[0]["failed"], true);
    assert_eq!(
        results[0]["msg"],
        "zypper install failed (rc 104): No provider of 'rpatch-nonesuch' found."
    );
    assert_eq!(results[0]["rc"], 104);
    assert!(root.installed().is_empty());
}

#[test]
fn package_names_with_shell_metacharacters_are_refused_and_nothing_runs() {
    let root = RpmRoot::zypper(Repo::WithAdvisories);
    let marker = root.path().join("pwned");
    // Written in the playbook: refused at load, before any host is contacted.
    let literal = project(
        &root,
        &[task(
            "zypper",
            &root,
            &format!(
                "        name: \"rpatch-testpkg; touch {}\"\n",
                marker.display()
            ),
        )],
    );
    let output = literal.run(&[]);
    output.expect_code(4);
    assert!(
        output.stderr.contains("is not a package name"),
        "{}",
        output.stderr
    );
    // Arriving through a variable: this task fails on the host, still before zypper runs.
    let templated = Project::new().playbook(&play(
        &root,
        &format!("  vars:\n    pkg: \"$(touch {})\"\n", marker.display()),
        &[task("zypper", &root, "        name: \"{{ pkg }}\"\n")],
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
    assert!(root.installed().is_empty());
}

#[test]
fn over_ssh_with_become_zypper_patches_the_root_and_lists_old_and_new() {
    let root = RpmRoot::zypper(Repo::WithAdvisories);
    install_old(&root, &["rpatch-testpkg", "rpatch-other"]);
    let fleet = Fleet::new().start();
    let project = fleet.project().playbook(&play(
        &root,
        "  become: true\n",
        &[task(
            "community.general.zypper",
            &root,
            "        name: \"*\"\n        state: latest\n        type: patch\n        \
             extra_args: \"--category security\"\n        update_cache: yes\n",
        )],
    ));
    let results = run(&project, &[], 0);
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0]["packages"],
        serde_json::json!([change(
            "rpatch-testpkg",
            "upgrade",
            Some("1.0-1"),
            Some("1.1-1")
        )]),
        "{}",
        results[0]
    );
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.1-1"));
    assert_eq!(root.version_of("rpatch-other").as_deref(), Some("1.0-1"));
}

#[test]
fn zypper_repository_removes_adds_and_changes_a_repository_once() {
    let root = RpmRoot::zypper(Repo::WithAdvisories);
    let file = root.path().join("etc/zypp/repos.d/rpatch-test.repo");
    let url = std::fs::read_to_string(&file)
        .expect("repo file")
        .lines()
        .find_map(|line| line.strip_prefix("baseurl=").map(str::to_string))
        .expect("baseurl");
    let add = |priority: u32| {
        task(
            "community.general.zypper_repository",
            &root,
            &format!(
                "        name: rpatch-test\n        repo: {url}\n        disable_gpg_check: true\n        \
                 priority: {priority}\n        runrefresh: true\n"
            ),
        )
    };
    let setup = project(
        &root,
        &[
            task(
                "zypper_repository",
                &root,
                "        name: rpatch-test\n        state: absent\n",
            ),
            task(
                "zypper_repository",
                &root,
                "        name: rpatch-test\n        state: absent\n",
            ),
            add(20),
            add(20),
            task("zypper", &root, "        name: rpatch-testpkg\n"),
        ],
    );
    let results = run(&setup, &[], 0);
    let changed: Vec<&serde_json::Value> = results.iter().map(|r| &r["changed"]).collect();
    assert_eq!(changed, [true, false, true, false, true], "{results:?}");
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.1-1"));
    let written = std::fs::read_to_string(&file).expect("repo file");
    assert!(written.contains("priority=20"), "{written}");

    let check = project(&root, &[add(30)]);
    let results = run(&check, &["--check"], 0);
    assert_eq!(results[0]["changed"], true, "{}", results[0]);
    assert_eq!(std::fs::read_to_string(&file).expect("repo file"), written);
}
