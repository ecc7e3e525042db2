//! Patch baselines end to end with the real apt lab (`support/apt_repo.rs`): a staging run
//! records what it installed, the mirror moves on, and a production run with `baseline:`
//! installs the staging versions, never the newer ones — with apt, and with dnf in an
//! installroot of the rpm lab (`support/rpm_repo.rs`).

use indoc::formatdoc;
use serde_json::Value;

use crate::support::apt_repo::{AptLab, Sources};
use crate::support::rpm_repo::{Repo, RpmRoot};
use crate::support::{Output, Project};

/// A play with one apt task (`args`, indented by eight spaces) whose result is saved.
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
        config = lab.config(Sources::StableOnly).display(),
    )
}

fn result(project: &Project) -> Value {
    serde_json::from_str(&project.read("result.json")).expect("saved result is JSON")
}

/// The id of the baseline a run says it recorded.
pub(crate) fn recorded(output: &Output) -> String {
    let line = output
        .stderr
        .lines()
        .find(|line| line.starts_with("rpatch: baseline "))
        .unwrap_or_else(|| panic!("no baseline recorded:\n{}", output.stderr));
    line["rpatch: baseline ".len()..]
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn production_with_the_staging_baseline_installs_the_tested_version_not_the_newest() {
    let mut lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");

    // Staging: a plain upgrade installs 1.1 and records it.
    let staging = Project::new().playbook(&apt_play(&lab, "        upgrade: dist"));
    let output = staging.run(&[]);
    output.expect_code(0);
    let id = recorded(&output);
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));
    let list = staging.rpatch(&["baseline", "list"]);
    list.expect_code(0);
    assert!(list.stdout.contains(&id), "{}", list.stdout);
    assert!(list.stdout.contains("completed"), "{}", list.stdout);
    let show = staging.rpatch(&["baseline", "show", &id]);
    show.expect_code(0);
    assert!(
        show.stdout
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>() == ["rpatch-testpkg", "1.1"]),
        "{}",
        show.stdout
    );
    let exported = staging.join("staging-baseline.json");
    staging
        .rpatch(&["baseline", "export", &id, &exported.display().to_string()])
        .expect_code(0);

    // The mirror moves on: 1.2 is the candidate now, as a plain upgrade's plan shows.
    lab.publish("rpatch-testpkg", "1.2", "stable");
    lab.install("rpatch-testpkg", "1.0");
    let plain = Project::new().playbook(&apt_play(&lab, "        upgrade: dist"));
    plain.run(&["--check"]).expect_code(0);
    assert_eq!(result(&plain)["packages"][0]["after"], "1.2");

    // Production, from the exported file (as committed next to the playbooks), in another
    // state directory: check mode shows the difference, the real run installs 1.1.
    let baseline_args = format!("        baseline: {}", exported.display());
    let production = Project::new().playbook(&apt_play(&lab, &baseline_args));
    production.run(&["--check"]).expect_code(0);
    let planned = result(&production);
    assert_eq!(planned["changed"], true, "{planned}");
    assert_eq!(planned["packages"][0]["after"], "1.1", "{planned}");
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.0"));
    let output = production.run(&[]);
    output.expect_code(0);
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));
    let again = recorded(&output);

    // Production recorded the same versions staging tested.
    let copy = production.join("production-baseline.json");
    production
        .rpatch(&["baseline", "export", &again, &copy.display().to_string()])
        .expect_code(0);
    let diff = production.rpatch(&[
        "baseline",
        "diff",
        &exported.display().to_string(),
        &copy.display().to_string(),
    ]);
    diff.expect_code(0);
    assert!(
        diff.stdout.contains("hold the same versions"),
        "{}",
        diff.stdout
    );

    // A second run with the baseline changes nothing.
    production.run(&[]).expect_code(0);
    assert_eq!(result(&production)["changed"], false);
}

#[test]
fn a_baseline_version_the_mirror_no_longer_has_fails_the_host_and_changes_nothing() {
    let mut lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    let staging = Project::new().playbook(&apt_play(&lab, "        upgrade: dist"));
    let output = staging.run(&[]);
    output.expect_code(0);
    let id = recorded(&output);
    lab.install("rpatch-testpkg", "1.0");
    lab.withdraw("rpatch-testpkg", "1.1");

    let production = staging.file(
        "site.yml",
        &apt_play(&lab, &format!("        baseline: {id}")),
    );
    let output = production.run(&[]);
    output.expect_code(2);
    assert!(
        output
            .stdout
            .contains("rpatch-testpkg 1.1 is not available from this host's repositories any more"),
        "{}",
        output.stdout
    );
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.0"));
}

#[test]
fn a_newer_installed_version_is_kept_and_reported_never_downgraded() {
    let mut lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    let staging = Project::new().playbook(&apt_play(&lab, "        upgrade: dist"));
    let output = staging.run(&[]);
    output.expect_code(0);
    let id = recorded(&output);
    lab.publish("rpatch-testpkg", "1.2", "stable");
    lab.install("rpatch-testpkg", "1.2");

    let production = staging.file(
        "site.yml",
        &apt_play(&lab, &format!("        baseline: {id}")),
    );
    production.run(&[]).expect_code(0);
    let kept = result(&production);
    assert_eq!(kept["changed"], false, "{kept}");
    assert_eq!(
        kept["newer_than_baseline"][0]["name"], "rpatch-testpkg",
        "{kept}"
    );
    assert_eq!(kept["newer_than_baseline"][0]["installed"], "1.2", "{kept}");
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.2"));
}

#[test]
fn an_unknown_baseline_or_one_for_another_release_fails_clearly() {
    let lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    let project = Project::new()
        .playbook(&apt_play(&lab, "        baseline: 20990101T000000Z-beef"))
        .file(
            "other.json",
            r#"{"format": 1, "run_id": "20261201T100000Z-00aa", "created": "2026-12-01T10:00:00Z",
                "playbook": "/p.yml", "run_status": "completed",
                "systems": {"plan9-4": {"hosts": ["h"], "packages": {"rpatch-testpkg": "1.1"}}}}"#,
        );
    let output = project.run(&[]);
    output.expect_code(2);
    assert!(
        output
            .stdout
            .contains("no baseline `20990101T000000Z-beef`")
            && output.stdout.contains("none yet"),
        "{}",
        output.stdout
    );
    let other = project.join("other.json").display().to_string();
    let project = project.file(
        "site.yml",
        &apt_play(&lab, &format!("        baseline: {other}")),
    );
    let output = project.run(&[]);
    output.expect_code(2);
    assert!(
        output
            .stdout
            .contains("the baseline has no packages for this host's release"),
        "{}",
        output.stdout
    );
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.0"));

    let shown = project.rpatch(&["baseline", "show", "nosuch"]);
    shown.expect_code(5);
    assert!(
        shown.stderr.contains("no baseline `nosuch`"),
        "{}",
        shown.stderr
    );
}

/// A dnf task on `root` (YAML `args` lines, eight spaces in), with the root's own arguments.
fn dnf_play(root: &RpmRoot, args: &str) -> String {
    formatdoc!(
        "
        - hosts: all
          gather_facts: false
          tasks:
            - dnf:
        {args}
                {root_args}
              register: result
            - copy:
                content: \"{{{{ result | to_json }}}}\"
                dest: \"{{dir}}/result.json\"
              check_mode: false
        ",
        root_args = root.args().trim_end(),
    )
}

/// A fresh installroot that says it is Rocky Linux 9.3.
pub(crate) fn rocky_root() -> RpmRoot {
    let root = RpmRoot::new(Repo::Plain);
    std::fs::create_dir_all(root.path().join("etc")).expect("etc");
    std::fs::write(
        root.path().join("etc/os-release"),
        "NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n",
    )
    .expect("os-release");
    root
}

#[test]
fn dnf_installs_the_baselines_version_release_not_the_newest() {
    // Staging: 1.0, then 1.1 in a later run; that run's baseline holds 1.1-1 for rocky-9.3.
    let staging_root = rocky_root();
    let project =
        Project::new().playbook(&dnf_play(&staging_root, "        name: rpatch-basepkg-1.0"));
    project.run(&[]).expect_code(0);
    let project = project.file(
        "site.yml",
        &dnf_play(&staging_root, "        name: rpatch-basepkg-1.1"),
    );
    let output = project.run(&[]);
    output.expect_code(0);
    let id = recorded(&output);
    let show = project.rpatch(&["baseline", "show", &id]);
    assert!(show.stdout.contains("rocky-9.3"), "{}", show.stdout);
    assert!(show.stdout.contains("1.1-1"), "{}", show.stdout);

    // Production: 1.0 installed, 1.2 available; the baseline brings 1.1-1.
    let production_root = rocky_root();
    let project = project.file(
        "site.yml",
        &dnf_play(&production_root, "        name: rpatch-basepkg-1.0"),
    );
    project.run(&[]).expect_code(0);
    let project = project.file(
        "site.yml",
        &dnf_play(&production_root, &format!("        baseline: {id}")),
    );
    project.run(&["--check"]).expect_code(0);
    let planned = result(&project);
    assert_eq!(planned["changed"], true, "{planned}");
    assert_eq!(
        production_root.version_of("rpatch-basepkg").as_deref(),
        Some("1.0-1")
    );
    project.run(&[]).expect_code(0);
    assert_eq!(
        production_root.version_of("rpatch-basepkg").as_deref(),
        Some("1.1-1")
    );
    project.run(&[]).expect_code(0);
    assert_eq!(result(&project)["changed"], false);
}

/// The answers of one `win_updates` job whose worker reports the fixture `report` from a host
/// of release `os` (`windows-10.0.20348`).
fn windows_job(report: &str, os: &str) -> Vec<String> {
    use crate::win_updates::answer;
    let path = format!(
        "{}/tests/fixtures/win_updates/{report}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut report: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    report["os"] = Value::from(os);
    vec![
        answer(&serde_json::json!({"status": "started"})),
        answer(&serde_json::json!({"status": "running"})),
        answer(&serde_json::json!({"status": "done", "report": report})),
    ]
}

/// The job parameters the worker of the replay's first call carries.
fn worker_params(replay: &crate::support::powershell_replay::PowershellReplay) -> Value {
    use base64::Engine as _;
    let worker = replay.calls()[0]["nested"][0]
        .as_str()
        .expect("worker")
        .to_string();
    let params = worker
        .split("FromBase64String('")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("params");
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(params)
            .expect("base64"),
    )
    .expect("json")
}

#[test]
fn win_updates_records_the_kbs_it_installed_and_a_baseline_restricts_to_them() {
    use crate::support::powershell_replay::PowershellReplay;

    let os = "windows-10.0.20348";
    let replay = PowershellReplay::new(&windows_job("installed.json", os));
    let staging = Project::new().env("PATH", &replay.path_env()).playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - win_updates: {poll_interval: 1}\n",
    );
    let output = staging.run(&[]);
    output.expect_code(0);
    let id = recorded(&output);
    let show = staging.rpatch(&["baseline", "show", &id]);
    show.expect_code(0);
    assert!(show.stdout.contains(os), "{}", show.stdout);
    for kb in ["KB5034129", "KB5034441"] {
        assert!(show.stdout.contains(kb), "{}", show.stdout);
    }

    // Production: the worker may install those KBs for its release, nothing else.
    let replay = PowershellReplay::new(&windows_job("installed.json", os));
    let production = staging.env("PATH", &replay.path_env()).playbook(&format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - win_updates: {{baseline: {id}, poll_interval: 1}}\n"
        ));
    production.run(&[]).expect_code(0);
    let params = worker_params(&replay);
    assert_eq!(
        params["baseline"],
        serde_json::json!({ os: ["KB5034129", "KB5034441"] }),
        "{params}"
    );
    let worker = replay.calls()[0]["nested"][0]
        .as_str()
        .expect("worker")
        .to_string();
    assert!(worker.contains("$p.accept = @($mine)"), "{worker}");

    // A host of another release: the worker finds nothing for it in the baseline (and so
    // searches nothing); the host fails naming its release.
    let mut answers = windows_job("nothing.json", "windows-10.0.17763");
    answers[2] = answers[2].replace("\"found\"", "\"baseline_os_missing\":true,\"found\"");
    let replay = PowershellReplay::new(&answers);
    let other = production.env("PATH", &replay.path_env());
    let output = other.run(&[]);
    output.expect_code(2);
    assert!(
        output
            .stdout
            .contains("the baseline has no updates for this host's release `windows-10.0.17763`"),
        "{}",
        output.stdout
    );
}
