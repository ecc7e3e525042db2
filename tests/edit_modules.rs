//! `slurp`, `replace`, `blockinfile`, `find` and `wait_for_connection` through the real binary:
//! their effects on real files, idempotence, check mode and `--diff`, locally and over SSH.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use base64::Engine;

use crate::support::fleet::Fleet;
use crate::support::{Project, Recap};

const EDIT_PLAY: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - replace:
        path: "{dir}/etc/sshd_config"
        regexp: '^#?PermitRootLogin .*$'
        replace: PermitRootLogin no
    - ansible.builtin.blockinfile:
        path: "{dir}/etc/hosts"
        insertafter: '^127\.'
        block: |
          10.0.0.1 db1
          10.0.0.2 db2
    - slurp: src={dir}/etc/blob.bin
      register: blob
    - copy:
        content: "{{ blob.content }}"
        dest: "{dir}/blob.b64"
    - find:
        paths: "{dir}/logs"
        patterns: "*.log"
        recurse: true
      register: logs
    - copy:
        content: "{{ logs.matched }} {{ logs.files | map(attribute='path') | sort | join(',') }}"
        dest: "{dir}/logs.txt"
"#;

fn edit_project() -> Project {
    let project = Project::new()
        .file(
            "etc/sshd_config",
            "Port 22\n#PermitRootLogin prohibit-password\n",
        )
        .file("etc/hosts", "127.0.0.1 localhost\n::1 localhost6\n")
        .file("logs/a.log", "a")
        .file("logs/old/b.log", "b")
        .file("logs/c.txt", "c")
        .playbook(EDIT_PLAY);
    let blob: Vec<u8> = (0..=255u8).rev().collect();
    std::fs::write(project.join("etc/blob.bin"), blob).expect("blob");
    project
}

#[test]
fn edit_modules_change_files_once_and_report_registered_values() {
    let project = edit_project();
    let first = project.run(&[]);
    first.expect_code(0);
    assert_eq!(
        first.recap_of("localhost"),
        Recap {
            ok: 6,
            changed: 4,
            ..Recap::default()
        },
        "{}",
        first.stdout
    );
    assert_eq!(
        project.read("etc/sshd_config"),
        "Port 22\nPermitRootLogin no\n"
    );
    assert_eq!(
        project.read("etc/hosts"),
        "127.0.0.1 localhost\n# BEGIN ANSIBLE MANAGED BLOCK\n10.0.0.1 db1\n10.0.0.2 db2\n\
         # END ANSIBLE MANAGED BLOCK\n::1 localhost6\n"
    );
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(project.read("blob.b64"))
        .expect("base64");
    assert_eq!(decoded, (0..=255u8).rev().collect::<Vec<u8>>());
    let root = project.path().display().to_string();
    assert_eq!(
        project.read("logs.txt"),
        format!("2 {root}/logs/a.log,{root}/logs/old/b.log")
    );

    let second = project.run(&[]);
    second.expect_code(0);
    assert_eq!(
        second.recap_of("localhost"),
        Recap {
            ok: 6,
            ..Recap::default()
        },
        "a second run must change nothing\n{}",
        second.stdout
    );
}

#[test]
fn check_mode_shows_the_edits_as_diffs_and_writes_nothing() {
    let project = edit_project();
    let out = project.run(&["--check", "--diff"]);
    out.expect_code(0);
    for line in [
        "-#PermitRootLogin prohibit-password",
        "+PermitRootLogin no",
        "+# BEGIN ANSIBLE MANAGED BLOCK",
        "+10.0.0.2 db2",
    ] {
        assert!(out.stdout.contains(line), "no `{line}` in\n{}", out.stdout);
    }
    assert_eq!(
        project.read("etc/sshd_config"),
        "Port 22\n#PermitRootLogin prohibit-password\n"
    );
    assert_eq!(
        project.read("etc/hosts"),
        "127.0.0.1 localhost\n::1 localhost6\n"
    );
    assert!(!project.exists("blob.b64") && !project.exists("logs.txt"));
}

#[test]
fn unknown_arguments_of_the_new_modules_fail_at_load() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - replace: path=/etc/x regexp=a replce=b\n",
    );
    let out = project.run(&[]);
    assert_ne!(out.code, 0);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("replce"), "{all}");
}

/// A directory the fleet's user may write in.
fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

#[test]
fn over_ssh_find_and_slurp_keep_odd_names_and_bytes_whole() {
    let fleet = Fleet::new().hosts(1).start();
    let dir = shared_dir();
    let odd = dir.path().join("with space\nnewline.conf");
    std::fs::write(&odd, b"\x00\xffbinary\n").expect("write");
    std::fs::set_permissions(&odd, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - find: paths={root} patterns=*.conf\n      register: found\n\
         \x20   - slurp:\n        src: \"{{{{ found.files[0].path }}}}\"\n      register: blob\n\
         \x20   - copy:\n        dest: {root}/out.b64\n        content: \"{{{{ found.matched }}}} {{{{ blob.content }}}}\"\n",
        root = dir.path().display()
    );
    let out = fleet.project().playbook(&play).run(&[]);
    out.expect_code(0);
    let written = std::fs::read_to_string(dir.path().join("out.b64")).expect("out");
    let (count, content) = written.split_once(' ').expect("count and content");
    assert_eq!(count, "1");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(content)
            .expect("base64"),
        b"\x00\xffbinary\n"
    );
}

#[test]
fn over_ssh_wait_for_connection_outlasts_a_restarting_sshd() {
    let mut fleet = Fleet::new().hosts(1).start();
    let play = "- hosts: all\n  gather_facts: false\n  tasks:\n\
                \x20   - wait_for_connection: timeout=60 sleep=1 connect_timeout=5\n\
                \x20     register: waited\n\
                \x20   - command: echo after {{ waited.elapsed }}\n";
    let project = fleet.project().playbook(play);
    // sshd is away when the run starts and comes back a few seconds later, while
    // wait_for_connection retries.
    fleet.kill("node01");
    let mut child = project.spawn(&["run", "site.yml"]);
    std::thread::sleep(Duration::from_secs(3));
    fleet.restart("node01");
    let status = child.wait().expect("wait");
    assert!(status.success(), "the run failed after sshd came back");

    // Down for good: the module fails with Ansible's message once its timeout passes.
    fleet.kill("node01");
    let down = fleet
        .project()
        .playbook(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - wait_for_connection: timeout=3 sleep=1 connect_timeout=1\n",
        )
        .run(&[]);
    assert_ne!(down.code, 0);
    assert!(
        down.stdout
            .contains("timed out waiting for ping module test"),
        "{}",
        down.stdout
    );
}

#[test]
fn uri_runs_curl_on_the_host_and_fails_on_an_unexpected_status() {
    let server = crate::support::http::StatusServer::start(&[200, 503]);
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - ansible.builtin.uri:\n        url: {url}\n        return_content: true\n      register: health\n\
         \x20   - copy:\n        dest: \"{{dir}}/health.txt\"\n        content: \"{{{{ health.status }}}} {{{{ health.content }}}}\"\n\
         \x20   - uri: url={url}\n",
        url = server.url
    );
    let project = Project::new().playbook(&play);
    let out = project.run(&[]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert_eq!(project.read("health.txt"), "200 ok");
    assert!(
        out.stdout.contains("Status code was 503 and not [200]"),
        "{}",
        out.stdout
    );
    assert_eq!(server.requests(), 2);
}
