//! `sysctl`, `cron`, `group` and `user` through the real binary. Files live in throwaway
//! projects: the kernel's settings are read, never changed, and no real crontab or
//! /etc/cron.d is touched; test groups and accounts are named `rpt-…` and removed even when a
//! test fails.

use crate::support::{Project, Recap};

const SYSCTL_PLAY: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - ansible.posix.sysctl:
        name: vm.swappiness
        value: 10
        sysctl_file: "{dir}/etc/sysctl.conf"
        reload: false
    - sysctl:
        name: net.ipv4.ip_forward
        value: "yes"
        sysctl_file: "{dir}/etc/sysctl.conf"
        reload: no
    - sysctl:
        name: kernel.old
        state: absent
        sysctl_file: "{dir}/etc/sysctl.conf"
        reload: false
"#;

fn sysctl_project() -> Project {
    Project::new()
        .file(
            "etc/sysctl.conf",
            "# tuned\nvm.swappiness = 60\nkernel.old = 1\n",
        )
        .playbook(SYSCTL_PLAY)
}

const SYSCTL_AFTER: &str = "# tuned\nvm.swappiness=10\nnet.ipv4.ip_forward=1\n";

#[test]
fn sysctl_edits_the_file_once() {
    let project = sysctl_project();
    let first = project.run(&[]);
    first.expect_code(0);
    assert_eq!(
        first.recap_of("localhost"),
        Recap {
            ok: 3,
            changed: 3,
            ..Recap::default()
        },
        "{}",
        first.stdout
    );
    assert_eq!(project.read("etc/sysctl.conf"), SYSCTL_AFTER);
    let second = project.run(&[]);
    second.expect_code(0);
    assert_eq!(
        second.recap_of("localhost"),
        Recap {
            ok: 3,
            ..Recap::default()
        },
        "a second run must change nothing\n{}",
        second.stdout
    );
    assert_eq!(project.read("etc/sysctl.conf"), SYSCTL_AFTER);
}

#[test]
fn sysctl_check_mode_shows_diffs_and_writes_nothing() {
    let project = sysctl_project();
    let out = project.run(&["--check", "--diff"]);
    out.expect_code(0);
    for line in [
        "-vm.swappiness = 60",
        "+vm.swappiness=10",
        "-kernel.old = 1",
    ] {
        assert!(out.stdout.contains(line), "no `{line}` in\n{}", out.stdout);
    }
    assert_eq!(
        project.read("etc/sysctl.conf"),
        "# tuned\nvm.swappiness = 60\nkernel.old = 1\n"
    );
}

#[test]
fn sysctl_set_in_check_mode_only_reads_the_live_value() {
    let live = std::fs::read_to_string("/proc/sys/kernel/ostype")
        .expect("this test needs procfs: /proc/sys/kernel/ostype");
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - sysctl:\n        name: kernel.ostype\n        value: {live}\n\
         \x20       sysctl_file: \"{{dir}}/live.conf\"\n        sysctl_set: true\n\
         \x20       reload: false\n",
        live = live.trim()
    );
    let project = Project::new()
        .file("live.conf", &format!("kernel.ostype={}\n", live.trim()))
        .playbook(&play);
    let out = project.run(&["--check"]);
    out.expect_code(0);
    assert_eq!(
        out.recap_of("localhost"),
        Recap {
            ok: 1,
            ..Recap::default()
        },
        "{}",
        out.stdout
    );
}

const CRON_PLAY: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.cron:
        name: rpt-nightly
        job: /usr/bin/true
        minute: 0
        hour: 3
        user: root
        cron_file: "{dir}/cron.d/rpt-jobs"
    - cron:
        name: rpt-boot
        job: /usr/bin/true boot
        special_time: reboot
        disabled: true
        user: root
        cron_file: "{dir}/cron.d/rpt-jobs"
    - cron:
        name: rpt-old
        state: absent
        cron_file: "{dir}/cron.d/rpt-jobs"
"#;

const CRON_AFTER: &str = "SHELL=/bin/sh\n#Ansible: rpt-nightly\n0 3 * * * root /usr/bin/true\n\
                          #Ansible: rpt-boot\n#@reboot root /usr/bin/true boot\n";

fn cron_project() -> Project {
    Project::new()
        .file(
            "cron.d/rpt-jobs",
            "SHELL=/bin/sh\n#Ansible: rpt-old\n* * * * * root /bin/old\n\
             #Ansible: rpt-nightly\n5 * * * * root /usr/bin/true\n",
        )
        .playbook(CRON_PLAY)
}

#[test]
fn cron_keeps_named_jobs_in_a_cron_file_once() {
    let project = cron_project();
    let first = project.run(&[]);
    first.expect_code(0);
    assert_eq!(
        first.recap_of("localhost"),
        Recap {
            ok: 3,
            changed: 3,
            ..Recap::default()
        },
        "{}",
        first.stdout
    );
    assert_eq!(project.read("cron.d/rpt-jobs"), CRON_AFTER);
    let second = project.run(&[]);
    second.expect_code(0);
    assert_eq!(
        second.recap_of("localhost"),
        Recap {
            ok: 3,
            ..Recap::default()
        },
        "a second run must change nothing\n{}",
        second.stdout
    );
    assert_eq!(project.read("cron.d/rpt-jobs"), CRON_AFTER);
}

#[test]
fn cron_check_mode_shows_diffs_and_writes_nothing() {
    let project = cron_project();
    let before = project.read("cron.d/rpt-jobs");
    let out = project.run(&["--check", "--diff"]);
    out.expect_code(0);
    for line in [
        "-5 * * * * root /usr/bin/true",
        "+0 3 * * * root /usr/bin/true",
        "+#@reboot root /usr/bin/true boot",
        "-* * * * * root /bin/old",
    ] {
        assert!(out.stdout.contains(line), "no `{line}` in\n{}", out.stdout);
    }
    assert_eq!(project.read("cron.d/rpt-jobs"), before);
}

/// Removes a test group even when the test fails.
struct GroupCleanup(&'static str);

impl Drop for GroupCleanup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("groupdel")
            .arg(self.0)
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn gid_of(name: &str) -> Option<String> {
    let out = std::process::Command::new("getent")
        .args(["group", name])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split(':').nth(2).map(|gid| gid.trim().to_string())
}

#[test]
fn group_is_created_once_with_its_gid_and_check_mode_creates_nothing() {
    require_root("groupadd");
    let name = "rpt-it-group";
    let _cleanup = GroupCleanup(name);
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - ansible.builtin.group: name={name} gid=47311\n"
    );
    let project = Project::new().playbook(&play);
    project.run(&["--check"]).expect_code(0);
    assert_eq!(gid_of(name), None, "check mode created the group");
    let first = project.run(&[]);
    first.expect_code(0);
    assert_eq!(first.recap_of("localhost").changed, 1, "{}", first.stdout);
    assert_eq!(gid_of(name).as_deref(), Some("47311"));
    let second = project.run(&[]);
    second.expect_code(0);
    assert_eq!(second.recap_of("localhost").changed, 0, "{}", second.stdout);
    let gone = Project::new().playbook(&format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - group: name={name} state=absent\n"
    ));
    gone.run(&[]).expect_code(0);
    assert_eq!(gid_of(name), None);
}

/// Removes a test account even when the test fails.
struct UserCleanup(&'static str);

impl Drop for UserCleanup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("userdel")
            .args(["-r", self.0])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn passwd_entry(name: &str) -> Option<String> {
    let out = std::process::Command::new("getent")
        .args(["passwd", name])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn user_is_created_once_in_its_group_and_check_mode_creates_nothing() {
    require_root("useradd");
    let (group, name) = ("rpt-it-ugroup", "rpt-it-user");
    let _user = UserCleanup(name);
    let _group = GroupCleanup(group);
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - group: name={group}\n\
         \x20   - ansible.builtin.user:\n        name: {name}\n        uid: 47312\n\
         \x20       shell: /bin/sh\n        groups: [{group}]\n        create_home: false\n\
         \x20       password_lock: true\n"
    );
    let project = Project::new().playbook(&play);
    project.run(&["--check"]).expect_code(0);
    assert_eq!(passwd_entry(name), None, "check mode created the account");
    let first = project.run(&[]);
    first.expect_code(0);
    assert_eq!(first.recap_of("localhost").changed, 2, "{}", first.stdout);
    let entry = passwd_entry(name).expect("created");
    assert!(
        entry.starts_with(&format!("{name}:x:47312:")) && entry.ends_with(":/bin/sh"),
        "{entry}"
    );
    let groups = std::process::Command::new("id")
        .args(["-Gn", name])
        .output()
        .expect("id");
    assert!(String::from_utf8_lossy(&groups.stdout).contains(group));
    let second = project.run(&[]);
    second.expect_code(0);
    assert_eq!(second.recap_of("localhost").changed, 0, "{}", second.stdout);
    let gone = Project::new().playbook(&format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - user: name={name} state=absent\n"
    ));
    gone.run(&[]).expect_code(0);
    assert_eq!(passwd_entry(name), None);
}

/// Fails (never skips) when the tests do not run as root, naming what needs it.
fn require_root(command: &str) {
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout == b"0\n");
    assert!(
        is_root,
        "this test runs the real {command}, which needs root: run scripts/test as root"
    );
}

#[test]
fn getent_sets_the_database_as_a_fact_and_a_missing_key_fails_unless_told_not_to() {
    let project = crate::support::Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - getent: database=passwd key=root\n\
         \x20   - assert:\n        that: getent_passwd.root[1] == '0'\n\
         \x20   - ansible.builtin.getent:\n        database: group\n        key: rpatch-no-such-group\n        fail_key: false\n\
         \x20   - assert:\n        that: getent_group == {}\n\
         \x20   - getent: database=passwd key=rpatch-no-such-user\n",
    );
    let out = project.run(&[]);
    out.expect_code(2);
    assert_eq!(out.recap_of("localhost").ok, 4, "{}", out.stdout);
    assert!(out.stdout.contains("could not be found"), "{}", out.stdout);
}
