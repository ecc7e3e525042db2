//! Operator commands and Ansible habits: `rpatch adhoc` and `rpatch patch` (built plays run,
//! gated and journaled like any run), `rpatch run -`, ansible.cfg and `ANSIBLE_*` variables,
//! and ansible-playbook's connection flags, over the real sshd fleet and real apt.

use std::time::Duration;

use indoc::formatdoc;

use crate::support::apt_repo::{AptLab, Sources};
use crate::support::fleet::{self, Fleet};
use crate::support::reboot_host::{marker, Outage, RebootPlan, Rebooter};
use crate::support::Project;

/// Three hosts reached through the local connection.
const LOCAL_HOSTS: &str = "[kvm]\nkvm[1:3] ansible_connection=local\n";

/// An inventory of the fleet's hosts with address and port only: the login user and key
/// must come from elsewhere (flags, ansible.cfg).
fn bare_inventory(fleet: &Fleet) -> String {
    let mut text = String::from("all:\n  hosts:\n");
    for host in &fleet.hosts {
        text.push_str(&format!(
            "    {}:\n      ansible_host: 127.0.0.1\n      ansible_port: {}\n",
            host.name, host.port
        ));
    }
    text
}

#[test]
fn adhoc_runs_one_module_on_the_pattern_over_ssh_and_prints_as_ansible() {
    let fleet = Fleet::new().hosts(2).start();
    let project = fleet.project();
    let out = project.rpatch(&[
        "adhoc",
        "node01",
        "-m",
        "shell",
        "-a",
        "echo hi from {{ inventory_hostname }}",
    ]);
    out.expect_code(0);
    insta::assert_snapshot!(out.stdout, @r"
    node01 | CHANGED | rc=0 >>
    hi from node01
    ");
    // Journaled like any run.
    let id = project.only_run_id();
    let journal = std::fs::read_to_string(project.journal(&id)).expect("journal");
    assert!(journal.contains("\"run_start\""), "{journal}");

    let ping = project.rpatch(&["adhoc", "all", "-m", "ping"]);
    ping.expect_code(0);
    for host in ["node01", "node02"] {
        assert!(
            ping.stdout.contains(&format!(
                "{host} | SUCCESS => {{\n    \"changed\": false,\n"
            )),
            "{}",
            ping.stdout
        );
    }
    let failed = project.rpatch(&["adhoc", "node02", "-m", "command", "-a", "false"]);
    failed.expect_code(2);
    assert!(
        failed.stdout.starts_with("node02 | FAILED | rc=1 >>"),
        "{}",
        failed.stdout
    );
}

#[test]
fn adhoc_halted_by_an_inline_gate_resumes_where_it_stopped() {
    let project = Project::new().file("hosts.ini", LOCAL_HOSTS);
    let out = project.rpatch(&[
        "adhoc",
        "kvm",
        "-i",
        "hosts.ini",
        "-m",
        "shell",
        "-a",
        &format!(
            "echo {{{{ inventory_hostname }}}} >> {}/order",
            project.path().display()
        ),
        "--serial",
        "1",
        "--gate-command",
        &format!("test -e {}/healthy", project.path().display()),
    ]);
    out.expect_code(6);
    assert_eq!(project.read("order"), "kvm1\n");
    assert!(
        out.stdout.contains("kvm1 | CHANGED | rc=0 >>"),
        "{}",
        out.stdout
    );
    let id = project.only_run_id();

    std::fs::write(project.join("healthy"), "").expect("fix the cause");
    let resumed = project.rpatch(&["resume", &id]);
    resumed.expect_code(0);
    assert_eq!(project.read("order"), "kvm1\nkvm2\nkvm3\n");
    assert!(
        resumed.stdout.contains("kvm3 | CHANGED | rc=0 >>"),
        "resume prints the ad-hoc way\n{}",
        resumed.stdout
    );
}

#[test]
fn adhoc_check_mode_changes_nothing() {
    let project = Project::new().file("hosts.ini", LOCAL_HOSTS);
    let dest = project.join("made");
    let out = project.rpatch(&[
        "adhoc",
        "kvm1",
        "-i",
        "hosts.ini",
        "-m",
        "copy",
        "-a",
        &format!("content=x dest={}", dest.display()),
        "--check",
    ]);
    out.expect_code(0);
    assert!(
        out.stdout.starts_with("kvm1 | CHANGED => {"),
        "{}",
        out.stdout
    );
    assert!(!dest.exists(), "check mode wrote the file");
}

/// Variables that point `rpatch patch` at the apt lab and the simulated reboot.
fn patch_vars(lab: &AptLab, fleet: &Fleet) -> String {
    formatdoc!(
        "
        patch_environment:
          APT_CONFIG: {config}
        patch_boot_time_command: cat {dir}/{{{{ inventory_hostname }}}}.bootid
        patch_reboot_command: >-
          rm -f /run/reboot-required /run/reboot-required.pkgs &&
          touch {dir}/{{{{ inventory_hostname }}}}.reboot-requested
        ",
        config = lab.config(Sources::StableOnly).display(),
        dir = fleet.dir().display(),
    )
}

/// `node01`'s `host_result` event of the task named `task`.
fn result_of(out: &crate::support::Output, task: &str) -> serde_json::Value {
    out.events()
        .into_iter()
        .find(|e| e["event"] == "host_result" && e["host"] == "node01" && e["task"] == task)
        .unwrap_or_else(|| panic!("no result of {task}\n{}", out.stdout))
}

#[test]
fn patch_upgrades_with_real_apt_and_reboots_because_it_is_required() {
    let mut lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    lab.require_reboot(&["linux-image-rpatch-test"]);
    let fleet = Fleet::new().start();
    let project = fleet.project().file("vars.yml", &patch_vars(&lab, &fleet));
    let rebooter = Rebooter::start(
        fleet,
        vec![(
            "node01",
            RebootPlan::reboots(Outage::Kill, Duration::from_secs(1)),
        )],
    );
    let out = project.rpatch(&["patch", "all", "-e", "@vars.yml", "--json"]);
    let fleet = rebooter.finish();
    out.expect_code(0);
    let upgrade = result_of(&out, "Install updates (apt)");
    assert_eq!(upgrade["status"], "changed", "{upgrade}");
    assert_eq!(lab.installed("rpatch-testpkg").as_deref(), Some("1.1"));
    let reboot = result_of(&out, "Reboot into the updated kernel and libraries");
    assert_eq!(reboot["result"]["rebooted"], true, "{reboot}");
    assert!(marker(&fleet, "node01").exists());
    assert_eq!(
        result_of(&out, "Install updates (dnf/yum)")["status"],
        "skipped"
    );
}

#[test]
fn patch_check_mode_with_named_packages_and_no_reboot_changes_nothing() {
    let mut lab = AptLab::start();
    lab.install("rpatch-testpkg", "1.0");
    lab.require_reboot(&["linux-image-rpatch-test"]);
    let fleet = Fleet::new().start();
    let project = fleet.project().file("vars.yml", &patch_vars(&lab, &fleet));
    let dpkg_before = lab.dpkg_state();
    let out = project.rpatch(&[
        "patch",
        "all",
        "-e",
        "@vars.yml",
        "--packages",
        "rpatch-testpkg",
        "--reboot",
        "never",
        "--check",
        "--json",
    ]);
    out.expect_code(0);
    let upgrade = result_of(&out, "Install updates (apt)");
    assert_eq!(upgrade["status"], "changed", "{upgrade}");
    assert_eq!(lab.dpkg_state(), dpkg_before, "check mode changed dpkg");
    assert!(!out.stdout.contains("Reboot into"), "{}", out.stdout);
    assert!(!marker(&fleet, "node01").exists());
}

#[test]
fn run_dash_reads_the_playbook_from_stdin_with_the_current_directory_as_playbook_dir() {
    let project = Project::new().file("hosts.ini", LOCAL_HOSTS).file(
        "roles/greet/tasks/main.yml",
        "- shell: echo {{ inventory_hostname }} >> {dir}/greeted\n",
    );
    let playbook = format!(
        "- hosts: kvm\n  gather_facts: false\n  serial: 1\n  gates:\n    - command: test -e {}/healthy\n  roles: [greet]\n",
        project.path().display()
    );
    let mut command = project.command();
    command.args(["run", "-", "-i", "hosts.ini"]);
    let out = project.output_with_stdin(&mut command, &playbook);
    out.expect_code(6);
    assert_eq!(project.read("greeted"), "kvm1\n", "{}", out.stdout);
    let id = project.only_run_id();

    // Resumed from another directory, the role is still found where the run started.
    std::fs::write(project.join("healthy"), "").expect("fix the cause");
    let elsewhere = tempfile::tempdir().expect("other dir");
    let resumed = project.rpatch_in(elsewhere.path(), &["resume", &id]);
    resumed.expect_code(0);
    assert_eq!(project.read("greeted"), "kvm1\nkvm2\nkvm3\n");
}

#[test]
fn ansible_cfg_and_ansible_variables_are_defaults_under_the_command_line() {
    let home = tempfile::tempdir().expect("home");
    let project = Project::new()
        .env("HOME", &home.path().display().to_string())
        .file("cfg.ini", "cfghost ansible_connection=local\n")
        .file("env.ini", "envhost ansible_connection=local\n")
        .file("cli.ini", "clihost ansible_connection=local\n")
        .file("alt.ini", "althost ansible_connection=local\n")
        .file(
            "ansible.cfg",
            "[defaults]\ninventory = cfg.ini\nnocows = 1\n",
        )
        .file("alt.cfg", "[defaults]\ninventory = alt.ini\n")
        .playbook("- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=x\n");
    let hosts = |project: &Project, args: &[&str]| {
        let mut all = vec!["--list-hosts"];
        all.extend_from_slice(args);
        let out = project.run(&all);
        out.expect_code(0);
        out
    };
    let out = hosts(&project, &[]);
    assert!(out.stdout.contains("      cfghost\n"), "{}", out.stdout);
    let check = project.rpatch(&["check", "site.yml"]);
    check.expect_code(0);
    assert!(
        check.stdout.contains("1 inventory host"),
        "{}",
        check.stdout
    );
    assert!(
        out.stderr.contains(
            "[WARNING]: ansible.cfg:3: [defaults] nocows is not supported by rpatch; ignoring it"
        ),
        "{}",
        out.stderr
    );
    let env = project
        .env("ANSIBLE_INVENTORY", "env.ini")
        .env("ANSIBLE_NOCOLOR", "1");
    let out = hosts(&env, &[]);
    assert!(out.stdout.contains("      envhost\n"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("[WARNING]: ANSIBLE_NOCOLOR is not supported by rpatch; ignoring it"),
        "{}",
        out.stderr
    );
    let out = hosts(&env, &["-i", "cli.ini"]);
    assert!(out.stdout.contains("      clihost\n"), "{}", out.stdout);
    // ANSIBLE_CONFIG names the one file read: ./ansible.cfg is then not read at all.
    let alt = env
        .env_remove("ANSIBLE_INVENTORY")
        .env_remove("ANSIBLE_NOCOLOR")
        .env("ANSIBLE_CONFIG", "alt.cfg");
    let out = hosts(&alt, &[]);
    assert!(out.stdout.contains("      althost\n"), "{}", out.stdout);
    assert!(!out.stderr.contains("nocows"), "{}", out.stderr);
}

#[test]
fn ansible_cfg_gives_the_login_user_key_and_timeout_and_warns_about_ssh_args_it_cannot_use() {
    let fleet = Fleet::new().start();
    let home = tempfile::tempdir().expect("home");
    let project = fleet
        .project_with_inventory(&bare_inventory(&fleet))
        .env("HOME", &home.path().display().to_string())
        .file(
            "ansible.cfg",
            &format!(
                "[defaults]\nremote_user = {}\nprivate_key_file = {}\ntimeout = 30\n\n\
                 [ssh_connection]\nssh_args = -C -o ServerAliveInterval=15\n",
                fleet::user(),
                fleet.user_key().display()
            ),
        );
    let out = project.rpatch(&["adhoc", "all", "-m", "command", "-a", "id -un"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains(&format!("node01 | CHANGED | rc=0 >>\n{}", fleet::user())),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("[WARNING]: --ssh-common-args: ignoring `-C`"),
        "{}",
        out.stderr
    );
}

#[test]
fn private_key_user_and_connection_timeout_flags_connect_where_the_inventory_says_nothing() {
    let fleet = Fleet::new().start();
    let home = tempfile::tempdir().expect("home");
    let project = fleet
        .project_with_inventory(&bare_inventory(&fleet))
        .env("HOME", &home.path().display().to_string())
        .playbook("- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n      register: who\n    - debug: var=who.stdout\n");
    let key = fleet.user_key().display().to_string();
    let out = project.run(&["-u", fleet::user(), "--private-key", &key, "-T", "30"]);
    out.expect_code(0);
    assert!(out.stdout.contains(fleet::user()), "{}", out.stdout);
    // Without the key the host cannot be logged in to.
    let out = project.run(&["-u", fleet::user(), "-T", "30"]);
    out.expect_code(3);
}

#[test]
fn ask_pass_logs_in_with_the_password_read_and_never_shows_it() {
    let (user, password) = (fleet::password_user(), fleet::password());
    let fleet = Fleet::new().user(user).start();
    let home = tempfile::tempdir().expect("home");
    let project = fleet
        .project_with_inventory(&bare_inventory(&fleet))
        .env("HOME", &home.path().display().to_string())
        .playbook("- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n");
    let mut command = project.command();
    command.args(["run", "site.yml", "-u", user, "-k", "-vvv"]);
    let out = project.output_with_stdin(&mut command, &format!("{password}\n"));
    out.expect_code(0);
    assert_eq!(out.recap_of("node01").ok, 1, "{}", out.stdout);
    assert!(
        !out.stdout.contains(password) && !out.stderr.contains(password),
        "password leaked"
    );
    let id = project.only_run_id();
    let journal = std::fs::read_to_string(project.journal(&id)).expect("journal");
    assert!(!journal.contains(password), "password journaled");
    assert!(journal.contains("\"ask_pass\":true"), "{journal}");
}

#[test]
fn start_at_task_list_tags_and_syntax_check_behave_as_in_ansible_playbook() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: first\n      copy: {content: x, dest: \"{dir}/first\"}\n      tags: [one]\n    - name: second\n      copy: {content: x, dest: \"{dir}/second\"}\n      tags: [two, one]\n",
    );
    project.run(&["--start-at-task", "second"]).expect_code(0);
    assert!(!project.exists("first") && project.exists("second"));
    let missing = project.run(&["--start-at-task", "nosuch"]);
    missing.expect_code(5);
    assert!(
        missing.stderr.contains("no task is named `nosuch`"),
        "{}",
        missing.stderr
    );

    let tags = project.run(&["--list-tags"]);
    tags.expect_code(0);
    assert!(
        tags.stdout.contains("      TASK TAGS: [one, two]"),
        "{}",
        tags.stdout
    );
    let syntax = project.run(&["--syntax-check"]);
    syntax.expect_code(0);
    assert_eq!(syntax.stdout, "\nplaybook: site.yml\n");
}

#[test]
fn connection_local_flag_applies_where_the_inventory_says_nothing() {
    let project = Project::new()
        .file("hosts.ini", "[web]\nweb1\n")
        .playbook("- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {content: x, dest: \"{dir}/local\"}\n");
    project
        .run(&["-i", "hosts.ini", "-c", "local"])
        .expect_code(0);
    assert!(project.exists("local"));
    let bad = project.run(&["-c", "winrm"]);
    bad.expect_code(5);
}

#[test]
fn become_user_flag_escalates_to_that_user_unless_the_host_names_one() {
    let fleet = Fleet::new().hosts(2).start();
    // node02 names its become user in the inventory: that wins over --become-user.
    let inventory = fleet.inventory().replacen(
        "    node02:\n",
        "    node02:\n      ansible_become_user: root\n",
        1,
    );
    let project = fleet.project_with_inventory(&inventory);
    let out = project.rpatch(&[
        "adhoc",
        "all",
        "-a",
        "id -un",
        "-b",
        "--become-user",
        "nobody",
        "--become-method",
        "sudo",
    ]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("node01 | CHANGED | rc=0 >>\nnobody"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("node02 | CHANGED | rc=0 >>\nroot"),
        "{}",
        out.stdout
    );
}

#[test]
fn ansible_cfg_roles_path_finds_roles_and_a_resume_from_elsewhere_still_does() {
    let home = tempfile::tempdir().expect("home");
    let project = Project::new()
        .env("HOME", &home.path().display().to_string())
        .file("hosts.ini", LOCAL_HOSTS)
        .file("ansible.cfg", "[defaults]\nroles_path = shared/roles\n")
        .file(
            "shared/roles/greet/tasks/main.yml",
            "- shell: echo {{ inventory_hostname }} >> {dir}/greeted\n",
        )
        .playbook("- hosts: kvm\n  gather_facts: false\n  serial: 1\n  gates:\n    - command: test -e {dir}/healthy\n  roles: [greet]\n");
    project.run(&["-i", "hosts.ini"]).expect_code(6);
    assert_eq!(project.read("greeted"), "kvm1\n");
    let id = project.only_run_id();
    std::fs::write(project.join("healthy"), "").expect("fix the cause");
    let elsewhere = tempfile::tempdir().expect("other dir");
    let resumed = project.rpatch_in(elsewhere.path(), &["resume", &id]);
    resumed.expect_code(0);
    assert_eq!(project.read("greeted"), "kvm1\nkvm2\nkvm3\n");
}
