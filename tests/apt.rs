//! The `apt` module end to end: the real binary drives the real apt-get and dpkg against a
//! throwaway `file:` repository (see `support/apt_repo.rs`), over the local connection and
//! over SSH with `become`. Each test checks what dpkg really has afterwards.

use std::time::{Duration, Instant};

use indoc::formatdoc;
use serde_json::{json, Value};

use crate::support::apt_repo::{AptLab, Sources};
use crate::support::fleet::Fleet;
use crate::support::{Output, Project};

/// A play on every host with the lab's apt configuration in the environment; `tasks` are the
/// play's tasks, indented by four spaces.
fn play(lab: &AptLab, sources: Sources, tasks: &str) -> String {
    formatdoc!(
        "
        - hosts: all
          gather_facts: false
          environment:
            APT_CONFIG: {config}
          tasks:
        {tasks}",
        config = lab.config(sources).display(),
    )
}

/// A task that writes the registered `var` to `{dir}/var.json` (also in check mode).
fn save(var: &str) -> String {
    format!(
        "    - copy:\n        content: \"{{{{ {var} | to_json }}}}\"\n        dest: \"{{dir}}/{var}.json\"\n      check_mode: false\n"
    )
}

/// A registered result saved with [`save`].
fn saved(project: &Project, var: &str) -> Value {
    serde_json::from_str(&project.read(&format!("{var}.json"))).expect("saved result is JSON")
}

fn packages(result: &Value) -> Vec<(String, String, Value, Value)> {
    result["packages"]
        .as_array()
        .unwrap_or_else(|| panic!("no packages in {result}"))
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["action"].as_str().unwrap_or_default().to_string(),
                p["before"].clone(),
                p["after"].clone(),
            )
        })
        .collect()
}

fn change(
    name: &str,
    action: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> (String, String, Value, Value) {
    (name.into(), action.into(), json!(old), json!(new))
}

fn run_ok(project: &Project, args: &[&str]) -> Output {
    let output = project.run(args);
    output.expect_code(0);
    output
}

/// A project on a one-host SSH fleet (`node01`) whose play runs `tasks` with `become: true`
/// and the lab's apt configuration.
fn over_ssh(fleet: &Fleet, lab: &AptLab, sources: Sources, tasks: &str) -> Project {
    let playbook = play(lab, sources, tasks).replacen(
        "  gather_facts: false\n",
        "  gather_facts: false\n  become: true\n",
        1,
    );
    fleet.project().playbook(&playbook)
}

/// The first failure printed for `host`: the name of the task it belongs to (its `TASK [...]`
/// banner) and the `fatal: [host]: FAILED! => ...` line itself.
fn failure<'a>(output: &'a Output, host: &str) -> (&'a str, &'a str) {
    let mut task = "";
    for line in output.stdout.lines() {
        if let Some(name) = line
            .strip_prefix("TASK [")
            .and_then(|rest| rest.split_once(']'))
        {
            task = name.0;
        } else if line.starts_with(&format!("fatal: [{host}]: FAILED! => ")) {
            return (task, line);
        }
    }
    panic!("no failure for {host}:\n{}", output.stdout)
}

#[test]
fn dist_upgrade_reports_old_and_new_versions_and_a_second_run_changes_nothing() {
    let lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    let tasks = format!(
        "    - apt:\n        upgrade: dist\n      register: up\n{}",
        save("up")
    );
    let project = Project::new().playbook(&play(&lab, Sources::StableOnly, &tasks));

    run_ok(&project, &[]);
    let first = saved(&project, "up");
    assert_eq!(first["changed"], true, "{first}");
    assert_eq!(
        packages(&first),
        [change(
            "rpatch-testpkg",
            "upgrade",
            Some("1.0"),
            Some("1.1")
        )]
    );
    assert_eq!(first["packages"][0]["origin"], "rpatch-test:stable");
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));

    run_ok(&project, &[]);
    let second = saved(&project, "up");
    assert_eq!(second["changed"], false, "{second}");
    assert_eq!(packages(&second), []);
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));
}

#[test]
fn present_installs_the_named_version_once_and_never_upgrades_it() {
    let lab = AptLab::start();
    let tasks = format!(
        "    - apt: name=rpatch-testpkg=1.0\n      register: pinned\n{}\
         \x20   - apt: name=rpatch-testpkg\n      register: plain\n{}",
        save("pinned"),
        save("plain")
    );
    let project = Project::new().playbook(&play(&lab, Sources::StableOnly, &tasks));

    run_ok(&project, &[]);
    let pinned = saved(&project, "pinned");
    assert_eq!(
        packages(&pinned),
        [change("rpatch-testpkg", "install", None, Some("1.0"))]
    );
    let plain = saved(&project, "plain");
    assert_eq!(plain["changed"], false, "present must not upgrade: {plain}");
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.0"));

    run_ok(&project, &[]);
    assert_eq!(saved(&project, "pinned")["changed"], false);
}

#[test]
fn check_mode_lists_the_upgrade_and_changes_nothing() {
    let lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    let before = lab.dpkg_state();
    let lists = lab.lists(Sources::StableOnly);
    let lists_before = std::fs::metadata(&lists).and_then(|m| m.modified()).ok();
    let tasks = format!(
        "    - apt:\n        upgrade: dist\n        update_cache: true\n      register: up\n{}",
        save("up")
    );
    let project = Project::new().playbook(&play(&lab, Sources::StableOnly, &tasks));

    let output = run_ok(&project, &["--check"]);
    let result = saved(&project, "up");
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(
        packages(&result),
        [change(
            "rpatch-testpkg",
            "upgrade",
            Some("1.0"),
            Some("1.1")
        )]
    );
    assert!(
        result["msg"]
            .as_str()
            .is_some_and(|msg| msg.starts_with("check mode, nothing changed")),
        "{result}"
    );
    assert_eq!(lab.dpkg_state(), before, "check mode changed dpkg's state");
    assert_eq!(
        std::fs::metadata(&lists).and_then(|m| m.modified()).ok(),
        lists_before,
        "check mode refreshed the package lists"
    );
    assert!(
        output.stdout.contains("changed: [localhost]"),
        "{}",
        output.stdout
    );
}

#[test]
fn security_only_upgrades_only_the_package_from_the_security_suite() {
    let lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    lab.install("rpatch-secpkg", "1.0");
    let tasks = format!(
        "    - apt:\n        security_only: true\n      register: sec\n{}",
        save("sec")
    );
    let project = Project::new().playbook(&play(&lab, Sources::WithSecurity, &tasks));
    let secpkg_upgrade = [change(
        "rpatch-secpkg",
        "upgrade",
        Some("1.0"),
        Some("1.0.1"),
    )];

    let before = lab.dpkg_state();
    run_ok(&project, &["--check"]);
    let planned = saved(&project, "sec");
    assert_eq!(planned["changed"], true, "{planned}");
    assert_eq!(packages(&planned), secpkg_upgrade);
    assert_eq!(lab.dpkg_state(), before, "check mode changed dpkg's state");

    run_ok(&project, &[]);
    let result = saved(&project, "sec");
    assert_eq!(packages(&result), secpkg_upgrade);
    assert_eq!(result["packages"][0]["security"], true);
    assert_eq!(lab.installed("rpatch-secpkg").as_deref(), Some("1.0.1"));
    assert_eq!(
        lab.installed("rpatch-testpkg").as_deref(),
        Some("1.0"),
        "a non-security update was applied"
    );

    // A security suite with nothing left to take from it is success without change.
    run_ok(&project, &[]);
    let again = saved(&project, "sec");
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(packages(&again), []);
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.0"));
}

#[test]
fn security_only_fails_the_host_when_no_security_suite_is_configured() {
    let lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    let before = lab.dpkg_state();
    let fleet = Fleet::new().start();
    let project = over_ssh(
        &fleet,
        &lab,
        Sources::StableOnly,
        "    - name: security updates\n      apt: security_only=yes\n",
    );

    let output = project.run(&[]);
    output.expect_code(2);
    let (task, line) = failure(&output, "node01");
    assert_eq!(task, "security updates");
    assert!(
        line.contains("security_only: apt knows no `*-security` suite"),
        "{line}"
    );
    assert_eq!(output.recap_of("node01").failed, 1);
    assert_eq!(lab.dpkg_state(), before);
}

#[test]
fn held_and_excluded_packages_are_never_upgraded() {
    let lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    lab.install("rpatch-secpkg", "1.0");
    lab.install("rpatch-holdpkg", "1.0");
    lab.hold("rpatch-holdpkg");
    let tasks = format!(
        "    - apt:\n        upgrade: dist\n        exclude: [rpatch-testpkg]\n      register: up\n{}\
         \x20   - apt:\n        name: rpatch-holdpkg\n        state: latest\n      register: latest\n{}",
        save("up"),
        save("latest")
    );
    let project = Project::new().playbook(&play(&lab, Sources::WithSecurity, &tasks));

    run_ok(&project, &[]);
    let up = saved(&project, "up");
    assert_eq!(
        packages(&up),
        [change(
            "rpatch-secpkg",
            "upgrade",
            Some("1.0"),
            Some("1.0.1")
        )]
    );
    assert_eq!(up["held"], json!(["rpatch-holdpkg"]));
    assert_eq!(up["excluded"], json!(["rpatch-testpkg"]));
    let latest = saved(&project, "latest");
    assert_eq!(latest["changed"], false, "{latest}");
    assert_eq!(latest["held"], json!(["rpatch-holdpkg"]));
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.0"));
    assert_eq!(lab.installed("rpatch-holdpkg").as_deref(), Some("1.0"));
    assert_eq!(lab.installed("rpatch-secpkg").as_deref(), Some("1.0.1"));
}

#[test]
fn absent_with_purge_removes_the_package_and_a_second_run_changes_nothing() {
    let lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    let tasks = format!(
        "    - ansible.builtin.apt:\n        name: rpatch-testpkg\n        state: absent\n        \
         purge: true\n      register: gone\n{}",
        save("gone")
    );
    let project = Project::new().playbook(&play(&lab, Sources::StableOnly, &tasks));

    run_ok(&project, &[]);
    assert_eq!(
        packages(&saved(&project, "gone")),
        [change("rpatch-testpkg", "purge", Some("1.0"), None)]
    );
    assert!(
        !lab.known("rpatch-testpkg"),
        "dpkg still knows rpatch-testpkg"
    );

    run_ok(&project, &[]);
    assert_eq!(saved(&project, "gone")["changed"], false);
}

#[test]
fn only_upgrade_upgrades_installed_packages_and_installs_nothing() {
    let lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    let tasks = format!(
        "    - apt:\n        name: [rpatch-testpkg, rpatch-secpkg]\n        state: latest\n        \
         only_upgrade: true\n      register: up\n{}",
        save("up")
    );
    let project = Project::new().playbook(&play(&lab, Sources::WithSecurity, &tasks));

    run_ok(&project, &[]);
    assert_eq!(
        packages(&saved(&project, "up")),
        [change(
            "rpatch-testpkg",
            "upgrade",
            Some("1.0"),
            Some("1.1")
        )]
    );
    assert_eq!(lab.installed("rpatch-secpkg"), None);
}

#[test]
fn autoremove_removes_packages_nothing_needs() {
    let lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    lab.mark_auto("rpatch-testpkg", Sources::StableOnly);
    let tasks = format!(
        "    - apt: autoremove=yes\n      register: auto\n{}",
        save("auto")
    );
    let project = Project::new().playbook(&play(&lab, Sources::StableOnly, &tasks));

    run_ok(&project, &[]);
    assert_eq!(
        packages(&saved(&project, "auto")),
        [change("rpatch-testpkg", "remove", Some("1.0"), None)]
    );
    assert_eq!(lab.installed("rpatch-testpkg"), None);
}

#[test]
fn autoclean_drops_vanished_package_files_and_clean_empties_the_cache() {
    let lab = AptLab::start();
    let archives = lab.archives(Sources::StableOnly);
    let vanished = archives.join("rpatch-vanished_0.1_all.deb");
    let other = archives.join("rpatch-other_0.2_all.deb");
    std::fs::write(&vanished, "stale").expect("write cached file");
    std::fs::write(&other, "stale").expect("write cached file");
    let tasks = format!(
        "    - apt: autoclean=yes\n      register: autoclean\n{}    - apt:\n        clean: true\n      register: clean\n{}",
        save("autoclean"),
        save("clean")
    );
    let project = Project::new().playbook(&play(&lab, Sources::StableOnly, &tasks));

    run_ok(&project, &[]);
    assert!(!vanished.exists(), "autoclean left {}", vanished.display());
    assert_eq!(saved(&project, "autoclean")["changed"], json!(true));
    assert_eq!(saved(&project, "clean")["changed"], json!(true));
    let left: Vec<_> = std::fs::read_dir(&archives)
        .expect("read archives")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "deb"))
        .map(|entry| entry.path())
        .collect();
    assert!(left.is_empty(), "clean left {left:?}");
}

#[test]
fn a_dpkg_lock_held_past_lock_timeout_fails_naming_the_holder() {
    let lab = AptLab::start();
    let fleet = Fleet::new().start();
    let project = over_ssh(
        &fleet,
        &lab,
        Sources::StableOnly,
        "    - name: install under a held lock\n      apt:\n        name: rpatch-testpkg\n        \
         lock_timeout: 2\n",
    );

    let lock = lab.hold_dpkg_lock();
    let started = Instant::now();
    let output = project.run(&[]);
    let waited = started.elapsed();
    drop(lock);
    output.expect_code(2);
    let (task, line) = failure(&output, "node01");
    assert_eq!(task, "install under a held lock");
    let holder = format!(
        "/var/lib/dpkg/lock-frontend is held by process {}",
        std::process::id()
    );
    assert!(
        line.contains("apt's lock was still held when lock_timeout (2 s) ran out")
            && line.contains(&holder),
        "{line}"
    );
    assert!(waited >= Duration::from_secs(2), "gave up after {waited:?}");
    assert_eq!(lab.installed("rpatch-testpkg"), None);
}

#[test]
fn a_dpkg_lock_released_within_lock_timeout_is_waited_for() {
    let lab = AptLab::start();
    let lock = lab.hold_dpkg_lock();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        drop(lock);
    });
    let project = Project::new().playbook(&play(
        &lab,
        Sources::StableOnly,
        "    - apt:\n        name: rpatch-testpkg\n        lock_timeout: 60\n",
    ));

    let started = Instant::now();
    let output = project.run(&[]);
    release.join().expect("release thread");
    output.expect_code(0);
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));
}

#[test]
fn reboot_required_and_its_packages_are_reported() {
    let mut lab = AptLab::start();
    lab.require_reboot(&["linux-image-rpatch-test", "libc6", "libc6"]);
    let tasks = format!(
        "    - apt: update_cache=yes\n      register: up\n{}",
        save("up")
    );
    let project = Project::new().playbook(&play(&lab, Sources::StableOnly, &tasks));

    run_ok(&project, &[]);
    let result = saved(&project, "up");
    assert_eq!(result["reboot_required"], true, "{result}");
    assert_eq!(
        result["reboot_required_pkgs"],
        json!(["linux-image-rpatch-test", "libc6"])
    );
}

#[test]
fn update_cache_is_skipped_within_cache_valid_time() {
    let lab = AptLab::start();
    let tasks = format!(
        "    - apt: update_cache=yes\n      register: first\n{}\
         \x20   - apt: cache_valid_time=3600\n      register: second\n{}",
        save("first"),
        save("second")
    );
    let project = Project::new().playbook(&play(&lab, Sources::StableOnly, &tasks));

    run_ok(&project, &[]);
    let first = saved(&project, "first");
    assert_eq!(first["cache_updated"], true, "{first}");
    assert_eq!(first["changed"], true);
    let second = saved(&project, "second");
    assert_eq!(second["cache_updated"], false, "{second}");
    assert_eq!(second["changed"], false);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let updated = second["cache_update_time"].as_u64().unwrap_or_default();
    assert!(
        now.abs_diff(updated) < 600,
        "cache_update_time {updated}, now {now}"
    );
}

#[test]
fn a_package_name_with_shell_metacharacters_is_refused_before_anything_runs() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: touch {dir}/touched\n    \
         - apt:\n        name: \"rpatch-testpkg; touch {dir}/pwned\"\n",
    );
    let output = project.run(&[]);
    output.expect_code(4);
    assert!(
        output.stderr.contains("`rpatch-testpkg; touch ")
            && output.stderr.contains("is not a Debian package name"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("site.yml:"), "{}", output.stderr);
    assert!(!project.exists("touched") && !project.exists("pwned"));
}

#[test]
fn a_templated_package_name_with_shell_metacharacters_fails_the_host_and_runs_nothing() {
    let fleet = Fleet::new().start();
    let project = fleet.project().playbook(
        "- hosts: all\n  gather_facts: false\n  become: true\n  vars:\n    \
         pkg: \"x1$(touch {dir}/pwned)\"\n  tasks:\n    - name: install from a variable\n      \
         apt:\n        name: \"{{ pkg }}\"\n",
    );
    let output = project.run(&[]);
    output.expect_code(2);
    let (task, line) = failure(&output, "node01");
    assert_eq!(task, "install from a variable");
    assert!(
        line.contains("is not a Debian package name") && line.contains("x1$(touch "),
        "{line}"
    );
    assert!(!project.exists("pwned"));
}

#[test]
fn an_unknown_upgrade_value_is_a_load_time_error() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: touch {dir}/touched\n    \
         - apt:\n        upgrade: distt\n",
    );
    let output = project.run(&[]);
    output.expect_code(4);
    assert!(
        output
            .stderr
            .contains("unknown `upgrade` value `distt`: expected one of dist, full, safe, yes, no")
            && output.stderr.contains("site.yml:"),
        "{}",
        output.stderr
    );
    assert!(!project.exists("touched"));
}

#[test]
fn a_templated_unknown_upgrade_value_fails_the_host_naming_the_choices() {
    let fleet = Fleet::new().start();
    let project = fleet.project().playbook(
        "- hosts: all\n  gather_facts: false\n  become: true\n  vars:\n    mode: distt\n  \
         tasks:\n    - name: upgrade everything\n      apt:\n        upgrade: \"{{ mode }}\"\n    \
         - shell: touch {dir}/touched\n",
    );
    let output = project.run(&[]);
    output.expect_code(2);
    let (task, line) = failure(&output, "node01");
    assert_eq!(task, "upgrade everything");
    assert!(
        line.contains("unknown `upgrade` value `distt`: expected one of dist, full, safe, yes, no"),
        "{line}"
    );
    assert_eq!(output.recap_of("node01").failed, 1);
    assert!(
        !project.exists("touched"),
        "the host went on after the failure"
    );
}

#[test]
fn dist_upgrade_over_ssh_with_become_and_a_clear_refusal_without() {
    let lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    let fleet = Fleet::new().start();
    let tasks = format!(
        "    - apt: upgrade=dist\n      become: false\n      ignore_errors: true\n      \
         register: plain\n{}    - apt: upgrade=dist\n      register: up\n{}",
        save("plain"),
        save("up")
    );
    let playbook = play(&lab, Sources::StableOnly, &tasks).replacen(
        "  gather_facts: false\n",
        "  gather_facts: false\n  become: true\n",
        1,
    );
    let project = fleet.project().playbook(&playbook);

    let output = project.run(&[]);
    output.expect_code(0);
    let plain = saved(&project, "plain");
    assert_eq!(
        plain["msg"], "changing packages needs root: run the task with `become: true`",
        "{plain}"
    );
    assert_eq!(output.recap_of("node01").ignored, 1, "{}", output.stdout);
    assert_eq!(
        packages(&saved(&project, "up")),
        [change(
            "rpatch-testpkg",
            "upgrade",
            Some("1.0"),
            Some("1.1")
        )]
    );
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));
}

#[test]
fn an_apt_config_that_cannot_be_read_fails_the_host_before_apt_runs() {
    // apt silently falls back to the system's configuration: the task would patch this machine.
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  environment:\n    APT_CONFIG: {dir}/missing.conf\n  \
         tasks:\n    - name: upgrade everything\n      apt:\n        upgrade: dist\n        \
         update_cache: true\n",
    );
    let output = project.run(&[]);
    output.expect_code(2);
    let (task, line) = failure(&output, "localhost");
    assert_eq!(task, "upgrade everything");
    assert!(
        line.contains("APT_CONFIG names a file that cannot be read"),
        "{line}"
    );
    assert!(
        !output.stdout.contains("Reading package lists"),
        "{}",
        output.stdout
    );
}

#[test]
fn dpkg_selections_holds_a_package_once_and_apt_then_leaves_it_alone() {
    let lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    let tasks = format!(
        "    - dpkg_selections: name=rpatch-testpkg selection=hold\n      register: first\n{}\
         \x20   - ansible.builtin.dpkg_selections:\n        name: rpatch-testpkg\n        selection: hold\n      register: second\n{}",
        save("first"),
        save("second")
    );
    let project = Project::new().playbook(&play(&lab, Sources::StableOnly, &tasks));

    run_ok(&project, &[]);
    let first = saved(&project, "first");
    assert_eq!(first["changed"], json!(true), "{first}");
    assert_eq!(first["before"], json!("install"));
    assert_eq!(first["after"], json!("hold"));
    assert_eq!(saved(&project, "second")["changed"], json!(false));
    let held = std::process::Command::new("apt-mark")
        .arg("showhold")
        .output()
        .expect("apt-mark");
    assert!(
        String::from_utf8_lossy(&held.stdout)
            .lines()
            .any(|l| l == "rpatch-testpkg"),
        "{}",
        String::from_utf8_lossy(&held.stdout)
    );
}

#[test]
fn apt_repository_adds_a_source_line_once_and_removes_it_with_its_file() {
    let lab = AptLab::start();
    let lists = lab.lists(Sources::StableOnly);
    let base = lists.parent().and_then(|p| p.parent()).expect("config dir");
    let repo = lab.path().join("repo");
    let security = format!(
        "deb [trusted=yes] file:{} rpatch-security main",
        repo.display()
    );
    let stable = format!("deb [trusted=yes] file:{}  stable main", repo.display());
    let tasks = format!(
        "    - apt_repository:\n        repo: \"{security}\"\n        filename: rpatch-sec\n      register: added\n{}\
         \x20   - apt_repository:\n        repo: \"{security}\"\n        filename: rpatch-sec\n      register: again\n{}\
         \x20   - ansible.builtin.apt_repository:\n        repo: \"{stable}\"\n        update_cache: false\n      register: known\n{}",
        save("added"),
        save("again"),
        save("known")
    );
    let project = Project::new().playbook(&play(&lab, Sources::StableOnly, &tasks));

    run_ok(&project, &[]);
    let file = base.join("sources.list.d/rpatch-sec.list");
    assert_eq!(
        std::fs::read_to_string(&file).expect("the new source file"),
        format!("{security}\n")
    );
    let added = saved(&project, "added");
    assert_eq!(added["changed"], json!(true), "{added}");
    assert_eq!(added["sources_added"], json!(["rpatch-sec.list"]));
    assert_eq!(saved(&project, "again")["changed"], json!(false));
    assert_eq!(saved(&project, "known")["changed"], json!(false));
    assert!(
        std::fs::read_dir(&lists)
            .expect("lists")
            .filter_map(Result::ok)
            .any(|entry| entry
                .file_name()
                .to_string_lossy()
                .contains("rpatch-security")),
        "apt-get update did not fetch the new suite's lists"
    );

    let remove = format!(
        "    - apt_repository:\n        repo: \"{security}\"\n        state: absent\n      register: removed\n{}",
        save("removed")
    );
    let project = Project::new().playbook(&play(&lab, Sources::StableOnly, &remove));
    run_ok(&project, &[]);
    assert_eq!(saved(&project, "removed")["changed"], json!(true));
    assert!(!file.exists(), "{} is left", file.display());
}
