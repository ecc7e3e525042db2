//! What public patching playbooks use beyond the core: `async`/`poll` with `async_status`,
//! `local_action`, `vars_prompt`, collection names, `get_url`, `package_facts`, `script` and
//! arguments Ansible accepts and ignores — through the real binary, over a real sshd where
//! the work is remote.

use std::os::unix::fs::PermissionsExt;

use crate::support::fleet::Fleet;
use crate::support::http::BodyServer;
use crate::support::{Project, Recap};

/// A directory both the controller and the fleet's test user can write.
fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

#[test]
fn async_with_poll_waits_for_the_job_and_registers_ansibles_job_keys() {
    let fleet = Fleet::new().hosts(1).start();
    let dir = shared_dir();
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - shell: sleep 1; echo patched\n      async: 120\n      poll: 1\n      register: job\n\
         \x20   - copy:\n        content: \"{{{{ job | to_json }}}}\"\n        dest: {root}/job.json\n",
        root = dir.path().display()
    );
    let out = fleet.project().playbook(&play).run(&[]);
    out.expect_code(0);
    let job = read_json(&dir.path().join("job.json"));
    assert_eq!(job["stdout"], "patched", "{job}");
    assert_eq!(job["rc"], 0);
    assert_eq!(job["finished"], 1);
    assert_eq!(job["started"], 1);
    assert_eq!(job["changed"], true);
    let jid = job["ansible_job_id"].as_str().expect("a job id");
    assert!(jid.starts_with('j'), "{jid}");
    let results_file = job["results_file"].as_str().expect("results_file");
    assert!(
        results_file.ends_with(&format!("/.ansible_async/{jid}")),
        "{results_file}"
    );
    let written = read_json(std::path::Path::new(results_file));
    assert_eq!(written["finished"], 1, "{written}");
    assert_eq!(written["stdout"], "patched");
    let _ = std::fs::remove_file(results_file);
}

#[test]
fn async_poll_zero_fires_and_forgets_and_async_status_waits_until_finished() {
    let fleet = Fleet::new().hosts(1).start();
    let dir = shared_dir();
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - command: sh -c 'while [ ! -e {root}/go ]; do sleep 0.2; done; echo upgraded'\n\
         \x20     async: 300\n      poll: 0\n      register: fired\n\
         \x20   - copy:\n        content: \"{{{{ fired | to_json }}}}\"\n        dest: {root}/fired.json\n\
         \x20   - file: path={root}/go state=touch\n\
         \x20   - ansible.builtin.async_status:\n        jid: \"{{{{ fired.ansible_job_id }}}}\"\n\
         \x20     register: job\n      until: job.finished\n      retries: 300\n      delay: 1\n\
         \x20   - copy:\n        content: \"{{{{ job | to_json }}}}\"\n        dest: {root}/job.json\n\
         \x20   - async_status: jid={{{{ fired.ansible_job_id }}}} mode=cleanup\n",
        root = dir.path().display()
    );
    let out = fleet.project().playbook(&play).run(&[]);
    out.expect_code(0);
    // The fired task returned before the job could finish: it waits for `go`, touched later.
    let fired = read_json(&dir.path().join("fired.json"));
    assert_eq!(fired["finished"], 0, "{fired}");
    assert_eq!(fired["started"], 1);
    assert_eq!(fired["changed"], true);
    let job = read_json(&dir.path().join("job.json"));
    assert_eq!(job["finished"], 1, "{job}");
    assert_eq!(job["stdout"], "upgraded");
    assert_eq!(job["ansible_job_id"], fired["ansible_job_id"]);
    let results_file = fired["results_file"].as_str().expect("results_file");
    assert!(
        !std::path::Path::new(results_file).exists(),
        "mode=cleanup removes {results_file}"
    );
}

#[test]
fn async_job_over_its_time_limit_fails_with_ansibles_message() {
    // The local connection's results file goes under $HOME: the project's, not root's.
    let project = Project::new();
    let home = project.path().display().to_string();
    let project = project.env("HOME", &home).playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - command: sleep 60\n      async: 2\n      poll: 1\n",
    );
    let out = project.run(&[]);
    out.expect_code(2);
    assert!(project.path().join(".ansible_async").is_dir());
    assert!(
        out.stdout
            .contains("async task did not complete within the requested time - 2s"),
        "{}",
        out.stdout
    );
}

#[test]
fn local_action_in_both_forms_runs_on_the_controller() {
    let fleet = Fleet::new().hosts(1).start();
    let dir = shared_dir();
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - local_action: command id -u\n      register: short\n\
         \x20   - local_action:\n        module: copy\n        content: \"{{{{ short.stdout }}}}\"\n\
         \x20       dest: {root}/controller\n\
         \x20   - command: id -u\n      register: here\n\
         \x20   - local_action: copy content={{{{ here.stdout }}}} dest={root}/remote\n",
        root = dir.path().display()
    );
    let out = fleet.project().playbook(&play).run(&[]);
    out.expect_code(0);
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect(name);
    assert_eq!(
        read("controller"),
        "0",
        "the controller runs the tests as root"
    );
    assert_ne!(read("remote"), "0", "the fleet's user is not root");
    let owner = std::fs::metadata(dir.path().join("remote"))
        .map(|meta| std::os::unix::fs::MetadataExt::uid(&meta))
        .expect("metadata");
    assert_eq!(owner, 0, "written by the controller, not the test user");
}

const PROMPT_PLAY: &str = "- hosts: all\n  gather_facts: false\n  vars_prompt:\n\
    \x20   - name: release\n      prompt: Which release\n      private: false\n\
    \x20   - name: window\n      prompt: Maintenance window\n      default: sat\n\
    \x20 tasks:\n    - copy: content='{{ release }} {{ window }}' dest={dir}/answer\n";

#[test]
fn vars_prompt_takes_extra_vars_and_defaults_when_nobody_can_answer() {
    let project = Project::new().playbook(PROMPT_PLAY);
    let out = project.run(&["-e", "release=9.4"]);
    out.expect_code(0);
    assert_eq!(project.read("answer"), "9.4 sat");
}

#[test]
fn vars_prompt_without_a_value_fails_before_running_naming_the_variable() {
    let project = Project::new().playbook(PROMPT_PLAY);
    let out = project.run(&[]);
    out.expect_code(5);
    assert!(
        out.stderr.contains("vars_prompt `release`") && out.stderr.contains("pass it with -e"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("site.yml:4:7"), "{}", out.stderr);
    assert!(!project.exists("answer"));
}

#[test]
fn collection_module_names_resolve_and_unknown_ones_name_their_collection() {
    let project = Project::new().playbook(
        "- hosts: all\n  gather_facts: false\n  become_method: ansible.builtin.sudo\n  tasks:\n\
         \x20   - ansible.posix.sysctl: name=vm.swappiness value=10 sysctl_file={dir}/s.conf reload=no\n\
         \x20   - community.general.nosuchthing: name=x\n",
    );
    let out = project.rpatch(&["check", "site.yml"]);
    out.expect_code(4);
    assert!(
        out.stderr.contains(
            "module `community.general.nosuchthing` of collection `community.general` is not implemented by rpatch"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("site.yml:6:7"), "{}", out.stderr);
}

#[test]
fn get_url_downloads_binary_files_with_checksum_and_mode_once() {
    let fleet = Fleet::new().hosts(1).start();
    let dir = shared_dir();
    let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let server = BodyServer::start(body.clone());
    let sha256 = {
        let out = std::process::Command::new("sha256sum")
            .arg("-")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().expect("stdin").write_all(&body)?;
                child.wait_with_output()
            })
            .expect("sha256sum");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .expect("digest")
            .to_string()
    };
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - get_url:\n        url: \"http://bob:s3cret@{host}/pub/tool.bin\"\n\
         \x20       dest: {root}/tool.bin\n        checksum: \"sha256:{sha256}\"\n\
         \x20       mode: \"0750\"\n        timeout: 30\n      register: first\n\
         \x20   - ansible.builtin.get_url: url={base}/pub/into-dir.bin dest={root}/\n\
         \x20   - copy:\n        content: \"{{{{ first | to_json }}}}\"\n        dest: {root}/first.json\n",
        host = server.base.trim_start_matches("http://"),
        base = server.base,
        root = dir.path().display()
    );
    let project = fleet.project().playbook(&play);
    let out = project.run(&[]);
    out.expect_code(0);
    assert!(!out.stdout.contains("s3cret"), "{}", out.stdout);
    let tool = dir.path().join("tool.bin");
    assert_eq!(std::fs::read(&tool).expect("downloaded"), body);
    assert_eq!(
        std::fs::metadata(&tool).expect("meta").permissions().mode() & 0o7777,
        0o750
    );
    assert_eq!(
        std::fs::read(dir.path().join("into-dir.bin")).expect("named after the URL"),
        body
    );
    let first = read_json(&dir.path().join("first.json"));
    assert_eq!(first["changed"], true, "{first}");
    assert_eq!(first["status_code"], 200);
    assert_eq!(first["size"], 70_000);
    assert_eq!(first["checksum_src"], sha256.as_str());
    assert!(first["dest"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/tool.bin"));
    assert!(!first.to_string().contains("s3cret"), "{first}");
    let second = project.run(&[]);
    second.expect_code(0);
    let first = read_json(&dir.path().join("first.json"));
    assert_eq!(
        first["changed"], false,
        "dest exists with the right checksum: {first}"
    );
}

#[test]
fn get_url_refuses_a_download_whose_checksum_does_not_match() {
    let dir = shared_dir();
    let server = BodyServer::start(b"tampered".to_vec());
    let project = Project::new().playbook(&format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - get_url: url={base}/f dest={root}/f checksum=sha1:0000000000000000000000000000000000000000\n\
         \x20   - get_url: url={base}/missing dest={root}/g\n      ignore_errors: true\n",
        base = server.base,
        root = dir.path().display()
    ));
    let out = project.run(&[]);
    out.expect_code(2);
    assert!(
        out.stdout
            .contains("did not match 0000000000000000000000000000000000000000"),
        "{}",
        out.stdout
    );
    assert!(!dir.path().join("f").exists(), "a bad download is not kept");
}

#[test]
fn package_facts_lists_installed_dpkg_packages_over_ssh() {
    let fleet = Fleet::new().hosts(1).start();
    let dir = shared_dir();
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - ansible.builtin.package_facts:\n        manager: auto\n\
         \x20   - copy:\n        content: \"{{{{ ansible_facts.packages['bash'] | to_json }}}}\"\n\
         \x20       dest: {root}/bash.json\n",
        root = dir.path().display()
    );
    let out = fleet.project().playbook(&play).run(&[]);
    out.expect_code(0);
    let bash = read_json(&dir.path().join("bash.json"));
    let expected = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "bash"])
        .output()
        .expect("this test needs dpkg-query (Debian)");
    assert_eq!(
        bash[0]["version"],
        String::from_utf8_lossy(&expected.stdout).as_ref(),
        "{bash}"
    );
    assert_eq!(bash[0]["source"], "apt");
    assert_eq!(bash[0]["name"], "bash");
}

#[test]
fn script_copies_a_controller_script_to_the_host_and_runs_it() {
    let fleet = Fleet::new().hosts(1).start();
    let dir = shared_dir();
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - script: probe.sh {root}/out creates={root}/out\n      register: first\n\
         \x20   - script: probe.sh {root}/out creates={root}/out\n      register: second\n\
         \x20   - copy:\n        content: \"{{{{ [first.rc, first.stdout, second.changed] | to_json }}}}\"\n\
         \x20       dest: {root}/results.json\n",
        root = dir.path().display()
    );
    let project = fleet
        .project()
        .file("files/probe.sh", "#!/bin/sh\nid -un > \"$1\"\necho wrote\n")
        .playbook(&play);
    let out = project.run(&[]);
    out.expect_code(0);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out"))
            .expect("out")
            .trim(),
        crate::support::users::user()
    );
    assert_eq!(
        read_json(&dir.path().join("results.json")),
        serde_json::json!([0, "wrote\n", false]),
        "script keeps stdout as printed, as Ansible's does"
    );
    assert_eq!(
        out.recap_of("node01"),
        Recap {
            ok: 3,
            changed: 2,
            ..Recap::default()
        },
        "{}",
        out.stdout
    );
}

#[test]
fn arguments_ansible_accepts_and_ignores_load_and_warn() {
    let project = Project::new().file("f", "x\n").playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - stat: path={dir}/f get_md5=yes\n\
         \x20   - copy: content=x dest={dir}/g checksum=abc\n\
         \x20   - file:\n        path: \"{dir}/g\"\n        setype: etc_t\n        seuser: system_u\n\
         \x20   - shell: echo hi warn=false\n\
         \x20   - command:\n        cmd: \"true\"\n        warn: false\n",
    );
    let out = project.run(&[]);
    out.expect_code(0);
    for warning in [
        "stat: `get_md5` is accepted for compatibility and ignored",
        "copy: `checksum` is accepted for compatibility and ignored",
        "file: `setype` is accepted for compatibility and ignored",
        "file: `seuser` is accepted for compatibility and ignored",
        "shell: `warn` is accepted for compatibility and ignored",
        "command: `warn` is accepted for compatibility and ignored",
    ] {
        assert!(
            out.stdout.contains(warning) || out.stderr.contains(warning),
            "no `{warning}` in\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn service_facts_lists_the_hosts_services_over_ssh() {
    let fleet = Fleet::new().hosts(1).start();
    let dir = shared_dir();
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - service_facts:\n\
         \x20   - copy:\n        content: \"{{{{ ansible_facts.services | to_json }}}}\"\n\
         \x20       dest: {root}/services.json\n",
        root = dir.path().display()
    );
    let out = fleet.project().playbook(&play).run(&[]);
    out.expect_code(0);
    let services = read_json(&dir.path().join("services.json"));
    let services = services.as_object().expect("a mapping of services");
    assert!(!services.is_empty(), "no services found");
    for (name, service) in services {
        assert_eq!(service["name"], name.as_str(), "{service}");
        assert!(
            ["running", "stopped", "failed"].contains(&service["state"].as_str().unwrap_or("")),
            "{service}"
        );
        assert!(
            ["systemd", "sysv"].contains(&service["source"].as_str().unwrap_or("")),
            "{service}"
        );
    }
    // This machine's ssh service is known whichever init system lists it.
    assert!(
        services.contains_key("ssh") || services.contains_key("ssh.service"),
        "{services:?}"
    );
}

#[test]
fn unarchive_unpacks_a_controller_tarball_on_the_host_once() {
    let fleet = Fleet::new().hosts(1).start();
    let dir = shared_dir();
    let project = fleet.project();
    let src = project.join("payload");
    std::fs::create_dir_all(src.join("etc")).expect("mkdir");
    std::fs::write(src.join("etc/app.conf"), "port=8080\n").expect("write");
    std::fs::create_dir_all(project.join("files")).expect("files");
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(project.join("files/app.tar.gz"))
        .arg("-C")
        .arg(&src)
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success());
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - ansible.builtin.unarchive:\n        src: app.tar.gz\n        dest: {root}\n\
         \x20     register: unpacked\n\
         \x20   - copy:\n        content: \"{{{{ unpacked | to_json }}}}\"\n        dest: {root}/result.json\n",
        root = dir.path().display()
    );
    let project = project.playbook(&play);
    project.run(&[]).expect_code(0);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("etc/app.conf")).expect("unpacked"),
        "port=8080\n"
    );
    let owner = std::fs::metadata(dir.path().join("etc/app.conf"))
        .map(|meta| std::os::unix::fs::MetadataExt::uid(&meta))
        .expect("metadata");
    assert_ne!(owner, 0, "unpacked by the fleet's user on the host");
    let first = read_json(&dir.path().join("result.json"));
    assert_eq!(first["changed"], true, "{first}");
    assert_eq!(first["handler"], "TgzArchive");
    project.run(&[]).expect_code(0);
    let second = read_json(&dir.path().join("result.json"));
    assert_eq!(second["changed"], false, "{second}");
}
