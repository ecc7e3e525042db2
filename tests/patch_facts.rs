//! `patch_facts` through the real binary: on this machine over the local connection, and once
//! through the SSH test fleet.

use std::path::PathBuf;

use serde_json::Value as Json;

use crate::support::fleet::Fleet;
use crate::support::Project;

/// Registers patch facts (with `args`) and writes what the host saw to `patch.json` and
/// `facts.json` (the registered value and `ansible_facts.patch`).
fn play(args: &str) -> String {
    format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    \
         - patch_facts: {args}\n      register: pf\n    \
         - copy:\n        content: \"{{{{ pf.patch | to_json }}}}\"\n        dest: \"{{dir}}/patch.json\"\n    \
         - copy:\n        content: \"{{{{ ansible_facts.patch | to_json }}}}\"\n        dest: \"{{dir}}/facts.json\"\n"
    )
}

fn json(project: &Project, file: &str) -> Json {
    serde_json::from_str(&project.read(file)).expect("JSON facts")
}

fn sh(command: &str) -> String {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .output()
        .expect("sh");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn patch_facts_match_uname_and_os_release_and_list_pending_updates() {
    let project = Project::new().playbook(&play("{}"));
    project.run(&[]).expect_code(0);
    let patch = json(&project, "patch.json");
    assert_eq!(patch, json(&project, "facts.json"), "registered = fact");
    assert_eq!(patch["kernel"]["running"], sh("uname -r"));
    let os = |key: &str| sh(&format!(". /etc/os-release && printf %s \"${key}\""));
    assert_eq!(patch["distribution_version"], os("VERSION_ID"));
    assert_eq!(patch["distribution_release"], os("VERSION_CODENAME"));
    assert_eq!(
        patch["distribution"], "Debian",
        "this machine runs Debian 12"
    );
    assert_eq!(patch["os_family"], "Debian");
    assert_eq!(patch["pkg_mgr"], "apt");
    assert_eq!(patch["complete"], true);
    assert_eq!(patch["pending"]["status"], "ok");
    let updates = patch["pending"]["updates"].as_array().expect("a list");
    assert_eq!(patch["pending"]["count"], updates.len());
    let security = updates.iter().filter(|u| u["security"] == true).count();
    assert_eq!(patch["pending"]["security_count"], security);
    assert!(patch["reboot_required"].is_boolean());
}

/// Creates `/var/run/reboot-required` and its `.pkgs` where absent and puts back what was
/// there on drop, so the machine is left as it was found.
struct RebootRequired {
    saved: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl RebootRequired {
    fn ensure(packages: &str) -> Self {
        let mut saved = Vec::new();
        for (path, text) in [
            (
                "/var/run/reboot-required",
                "*** System restart required ***\n",
            ),
            ("/var/run/reboot-required.pkgs", packages),
        ] {
            let path = PathBuf::from(path);
            let before = std::fs::read(&path).ok();
            if before.is_none() {
                std::fs::write(&path, text).expect("root can write /var/run");
            }
            saved.push((path, before));
        }
        Self { saved }
    }

    /// True when the test created `.pkgs` (so its contents are ours to assert on).
    fn created_pkgs(&self) -> bool {
        self.saved
            .iter()
            .any(|(path, before)| path.ends_with("reboot-required.pkgs") && before.is_none())
    }
}

impl Drop for RebootRequired {
    fn drop(&mut self) {
        for (path, before) in &self.saved {
            let _ = match before {
                Some(bytes) => std::fs::write(path, bytes),
                None => std::fs::remove_file(path),
            };
        }
    }
}

#[test]
fn reboot_required_file_sets_the_fact_with_its_packages_and_drives_a_later_when() {
    let guard = RebootRequired::ensure("linux-image-6.1.0-99-amd64\nlibc6\n");
    let created = guard.created_pkgs();
    let project = Project::new().playbook(&format!(
        "{}    - copy:\n        content: reboot\n        dest: \"{{dir}}/reboot\"\n      \
         when: ansible_facts.patch.reboot_required\n    \
         - copy:\n        content: none\n        dest: \"{{dir}}/no-reboot\"\n      \
         when: not patch.reboot_required\n",
        play("{pending: false}")
    ));
    let out = project.run(&[]);
    out.expect_code(0);
    let patch = json(&project, "facts.json");
    drop(guard);
    assert_eq!(patch["reboot_required"], true);
    let reasons = patch["reboot_reasons"].as_array().expect("reasons");
    assert!(
        reasons.contains(&Json::from("reboot_required_file")),
        "{reasons:?}"
    );
    assert_eq!(patch["pending"]["status"], "skipped");
    assert!(project.exists("reboot"), "{}", out.stdout);
    assert!(!project.exists("no-reboot"), "{}", out.stdout);
    assert_eq!(out.recap_of("localhost").skipped, 1);
    let pkgs = patch["reboot_required_pkgs"].as_array().expect("pkgs");
    if created {
        let ours = [
            Json::from("linux-image-6.1.0-99-amd64"),
            Json::from("libc6"),
        ];
        assert_eq!(pkgs.as_slice(), ours.as_slice());
    } else {
        assert!(!pkgs.is_empty(), "the machine's own .pkgs file is listed");
    }
}

#[test]
fn patch_facts_through_ssh() {
    let fleet = Fleet::new().hosts(1).start();
    let project = fleet.project().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    \
         - patch_facts: pending=false\n    \
         - debug:\n        msg: \"{{ ansible_facts.patch.kernel.running }}\"\n",
    );
    let out = project.run(&["--json"]);
    out.expect_code(0);
    let results: Vec<Json> = out
        .events()
        .into_iter()
        .filter(|event| event["event"] == "host_result")
        .collect();
    assert_eq!(results.len(), 2, "{}", out.stdout);
    let patch = &results[0]["result"]["patch"];
    assert_eq!(patch["kernel"]["running"], sh("uname -r"));
    assert_eq!(patch["pkg_mgr"], "apt");
    assert_eq!(patch["pending"]["status"], "skipped");
    assert_eq!(results[0]["result"]["ansible_facts"]["patch"], *patch);
    assert_eq!(results[1]["result"]["msg"], sh("uname -r"));
}
