//! Approval rules (`approve`, `reject`) with the real apt lab, whose Release `Date:` the test
//! sets: an update newer than its delay, or rejected, is held back and reported — in check
//! mode and in real runs — while approved ones are installed.

use indoc::formatdoc;
use serde_json::Value;

use crate::support::apt_repo::{AptLab, Sources};
use crate::support::Project;

/// A play with one apt task (`args`, indented by eight spaces), its result saved.
fn apt_play(lab: &AptLab, args: &str) -> String {
    formatdoc!(
        "
        - hosts: all
          gather_facts: false
          environment:
            APT_CONFIG: {config}
          tasks:
            - apt:
        {args}
              register: result
            - copy:
                content: \"{{{{ result | to_json }}}}\"
                dest: \"{{dir}}/result.json\"
              check_mode: false
        ",
        config = lab.config(Sources::WithSecurity).display(),
    )
}

fn result(project: &Project) -> Value {
    serde_json::from_str(&project.read("result.json")).expect("saved result is JSON")
}

fn names(list: &Value, key: &str) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| item[key].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

/// An instant `days` ago, as a Release file's `Date:`.
fn days_ago(days: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days))
        .strftime("%a, %d %b %Y %H:%M:%S UTC")
        .to_string()
}

#[test]
fn apt_holds_back_updates_younger_than_their_approval_delay_and_rejected_ones() {
    let mut lab = AptLab::start();
    for package in ["rpatch-testpkg", "rpatch-secpkg", "rpatch-holdpkg"] {
        lab.install(package, "1.0");
    }
    // Both suites were published two days ago.
    lab.set_release_date("stable", &days_ago(2));
    lab.set_release_date("rpatch-security", &days_ago(2));
    let rules = "        upgrade: dist\n        approve: { security: 0d, other: 7d }\n        \
                 reject: [rpatch-hold*]";
    let project = Project::new().playbook(&apt_play(&lab, rules));

    // Check mode: the security update is approved, the other is too young, holdpkg rejected.
    project.run(&["--check"]).expect_code(0);
    let planned = result(&project);
    assert_eq!(
        names(&planned["packages"], "name"),
        ["rpatch-secpkg"],
        "{planned}"
    );
    assert_eq!(
        names(&planned["held_back"], "name"),
        ["rpatch-holdpkg", "rpatch-testpkg"],
        "{planned}"
    );
    let held = planned["held_back"].as_array().expect("list");
    let young = held
        .iter()
        .find(|h| h["name"] == "rpatch-testpkg")
        .expect("testpkg held back");
    assert_eq!(young["reason"], "not_approved", "{young}");
    assert_eq!(young["rule"], "other: 7d", "{young}");
    assert_eq!(young["version"], "1.1", "{young}");
    assert!(young["approved_from"].is_string(), "{young}");
    let rejected = held
        .iter()
        .find(|h| h["name"] == "rpatch-holdpkg")
        .expect("holdpkg held back");
    assert_eq!(rejected["reason"], "rejected");
    assert_eq!(rejected["rule"], "reject: rpatch-hold*");
    assert!(
        planned["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("held back: "),
        "{planned}"
    );
    assert_eq!(lab.installed("rpatch-secpkg").as_deref(), Some("1.0"));

    // The real run installs only the approved update.
    project.run(&[]).expect_code(0);
    assert_eq!(lab.installed("rpatch-secpkg").as_deref(), Some("1.0.1"));
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.0"));
    assert_eq!(lab.installed("rpatch-holdpkg").as_deref(), Some("1.0"));
    assert_eq!(names(&result(&project)["held_back"], "name").len(), 2);

    // With a one-day delay the two-day-old update is approved; the rejected one never is.
    let project = project.playbook(&apt_play(&lab, &rules.replace("other: 7d", "other: 1d")));
    project.run(&[]).expect_code(0);
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));
    assert_eq!(lab.installed("rpatch-holdpkg").as_deref(), Some("1.0"));
    assert_eq!(
        names(&result(&project)["held_back"], "name"),
        ["rpatch-holdpkg"]
    );
}

#[test]
fn approval_rules_that_cannot_be_read_are_refused_before_anything_runs() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - apt:\n        upgrade: dist\n        \
         approve: { other: 7x }\n",
    );
    let output = project.run(&[]);
    output.expect_code(4);
    assert!(
        output
            .stderr
            .contains("approve.other: `7x` is not a period"),
        "{}",
        output.stderr
    );
}

#[test]
fn dnf_dates_updates_by_their_advisory_else_their_build_time_and_holds_back_the_young_and_rejected()
{
    use crate::dnf::{install_old, project, run, task};
    use crate::support::rpm_repo::{Repo, RpmRoot};

    let root = RpmRoot::new(Repo::WithAdvisories);
    install_old(&root, &["rpatch-testpkg", "rpatch-other", "rpatch-basepkg"]);
    // rpatch-testpkg 1.1 is a security advisory issued 2026-01-01 (long past 30 days);
    // rpatch-basepkg 1.1 and 1.2 have no advisory: their build time (this test process) is too
    // recent; rpatch-other 1.1 (a recommended advisory, long approved) is rejected by name.
    let project = project(&[task(
        "dnf",
        &root,
        "        name: '*'\n        state: latest\n        \
         approve: { security: 30d, other: 7d }\n        reject: [rpatch-oth*]\n",
    )]);
    let planned = run(&project, &["--check"], 0).remove(0);
    assert_eq!(
        names(&planned["packages"], "name"),
        ["rpatch-testpkg"],
        "{planned}"
    );
    // Both of rpatch-basepkg's newer versions are too young: each candidate is listed.
    assert_eq!(
        names(&planned["held_back"], "name"),
        ["rpatch-basepkg", "rpatch-basepkg", "rpatch-other"],
        "{planned}"
    );
    let held = planned["held_back"].as_array().expect("list");
    let young = held
        .iter()
        .find(|h| h["name"] == "rpatch-basepkg")
        .expect("rpatch-basepkg held back");
    assert_eq!(young["reason"], "not_approved", "{young}");
    assert_eq!(young["rule"], "other: 7d", "{young}");
    assert_eq!(young["version"], "1.2-1", "{young}");
    assert!(young["published"].is_string(), "{young}");
    let rejected = held
        .iter()
        .find(|h| h["name"] == "rpatch-other")
        .expect("rpatch-other held back");
    assert_eq!(rejected["reason"], "rejected", "{rejected}");
    assert_eq!(rejected["rule"], "reject: rpatch-oth*", "{rejected}");

    let applied = run(&project, &[], 0).remove(0);
    assert_eq!(
        names(&applied["packages"], "name"),
        ["rpatch-testpkg"],
        "{applied}"
    );
    assert_eq!(root.version_of("rpatch-testpkg").as_deref(), Some("1.1-1"));
    assert_eq!(root.version_of("rpatch-other").as_deref(), Some("1.0-1"));
    assert_eq!(root.version_of("rpatch-basepkg").as_deref(), Some("1.0-1"));
}
