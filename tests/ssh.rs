//! The SSH transport against real OpenSSH sshd processes (see `support::fleet`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::fleet::{self, Fleet};

pub(crate) const ID_PLAY: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n      register: who\n    - debug: var=who.stdout\n";

/// `ssh-keygen -lf` of a public key: the SHA256 fingerprint OpenSSH would show.
fn fingerprint(public_key: &Path) -> String {
    let output = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public_key)
        .output()
        .expect("ssh-keygen -l");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_string()
}

pub(crate) fn all_output(out: &crate::support::Output) -> String {
    format!("{}\n{}", out.stdout, out.stderr)
}

#[test]
fn key_auth_runs_commands_on_every_host() {
    let fleet = Fleet::new().hosts(2).start();
    let out = fleet.project().playbook(ID_PLAY).run(&[]);
    out.expect_code(0);
    for host in ["node01", "node02"] {
        assert_eq!(out.recap_of(host).ok, 2, "{}", out.stdout);
    }
    assert!(out.stdout.contains(fleet::user()), "{}", out.stdout);
}

#[test]
fn password_login_only_when_configured_and_never_printed() {
    let (user, password) = (fleet::password_user(), fleet::password());
    let fleet = Fleet::new().user(user).start();
    let port = fleet.hosts[0].port;
    let inventory = format!(
        "all:\n  hosts:\n    pw01:\n      ansible_host: 127.0.0.1\n      ansible_port: {port}\n      \
         ansible_user: {user}\n      ansible_password: {password}\n"
    );
    let home = tempfile::tempdir().expect("home");
    let out = fleet
        .project_with_inventory(&inventory)
        .env("HOME", &home.path().display().to_string())
        .playbook(ID_PLAY)
        .run(&["-vvv"]);
    out.expect_code(0);
    assert!(out.stdout.contains(user), "{}", out.stdout);
    assert!(!all_output(&out).contains(password), "password leaked");

    // Without ansible_password (and no keys, no agent) the host is unreachable: auth failed.
    let inventory = inventory.replace(&format!("      ansible_password: {password}\n"), "");
    let out = fleet
        .project_with_inventory(&inventory)
        .env("HOME", &home.path().display().to_string())
        .playbook(ID_PLAY)
        .run(&[]);
    out.expect_code(3);
    assert!(
        all_output(&out).contains("authentication failed"),
        "{}",
        all_output(&out)
    );
}

/// A real ssh-agent started by the test, killed when dropped.
pub(crate) struct Agent {
    child: Child,
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// Starts ssh-agent and `ssh-add`s `key` (and `KEY-cert.pub` beside it, if any).
    pub(crate) fn start(key: &Path) -> Self {
        let dir = tempfile::tempdir().expect("agent dir");
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent (apt-get install openssh-client)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "ssh-agent did not create its socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &socket)
            .stderr(Stdio::null())
            .status()
            .expect("ssh-add");
        assert!(status.success(), "ssh-add failed");
        Self {
            child,
            socket,
            _dir: dir,
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn agent_auth_without_a_key_file() {
    let fleet = Fleet::new().start();
    let agent = Agent::start(&fleet.user_key());
    let inventory = fleet.inventory().replace(
        &format!(
            "      ansible_ssh_private_key_file: {}\n",
            fleet.user_key().display()
        ),
        "",
    );
    assert!(!inventory.contains("private_key"));
    let home = tempfile::tempdir().expect("home");
    let project = fleet
        .project_with_inventory(&inventory)
        .env("HOME", &home.path().display().to_string())
        .playbook(ID_PLAY);
    let with_agent = project_with_agent(project, &agent);
    let out = with_agent.run(&[]);
    out.expect_code(0);
    assert_eq!(out.recap_of("node01").ok, 2);

    // The same run without the agent has nothing to offer.
    let out = fleet
        .project_with_inventory(&inventory)
        .env("HOME", &home.path().display().to_string())
        .playbook(ID_PLAY)
        .run(&[]);
    out.expect_code(3);
    assert!(
        all_output(&out).contains("permission denied"),
        "{}",
        all_output(&out)
    );
}

pub(crate) fn project_with_agent(
    project: crate::support::Project,
    agent: &Agent,
) -> crate::support::Project {
    project.env("SSH_AUTH_SOCK", &agent.socket.display().to_string())
}

#[test]
fn passphrase_protected_key_from_environment() {
    let fleet = Fleet::new().start();
    let dir = tempfile::tempdir().expect("dir");
    let key = dir.path().join("locked");
    std::fs::copy(fleet.user_key(), &key).expect("copy key");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-p", "-N", "key-Pass-9", "-P", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen -p");
    assert!(status.success());
    let inventory = fleet.inventory().replace(
        &fleet.user_key().display().to_string(),
        &key.display().to_string(),
    );
    let out = fleet
        .project_with_inventory(&inventory)
        .env("RPATCH_KEY_PASSPHRASE", "key-Pass-9")
        .playbook(ID_PLAY)
        .run(&[]);
    out.expect_code(0);
    assert!(!all_output(&out).contains("key-Pass-9"));
    // Without the passphrase (and no terminal to ask on) the key cannot be used.
    let out = fleet
        .project_with_inventory(&inventory)
        .playbook(ID_PLAY)
        .run(&[]);
    out.expect_code(3);
    assert!(
        all_output(&out).contains("passphrase"),
        "{}",
        all_output(&out)
    );
}

#[test]
fn unknown_host_key_is_refused_with_its_fingerprint_then_accept_new_records_it() {
    let fleet = Fleet::new().start();
    std::fs::write(fleet.known_hosts(), "").expect("empty known_hosts");
    let expected = fingerprint(&fleet.dir().join("host_ed25519.pub"));
    let project = fleet.project().playbook(ID_PLAY);

    let out = project.run(&[]);
    out.expect_code(3);
    let text = all_output(&out);
    assert!(
        text.contains(&expected),
        "fingerprint {expected} missing:\n{text}"
    );
    assert!(
        text.contains("accept-new"),
        "no hint how to accept:\n{text}"
    );
    assert_eq!(
        std::fs::read_to_string(fleet.known_hosts()).expect("read"),
        ""
    );

    let accepting = fleet
        .project()
        .env("RPATCH_HOST_KEY_CHECKING", "accept-new")
        .playbook(ID_PLAY);
    accepting.run(&[]).expect_code(0);
    let recorded = std::fs::read_to_string(fleet.known_hosts()).expect("read");
    let port = fleet.hosts[0].port;
    assert_eq!(
        recorded.trim(),
        format!("[127.0.0.1]:{port} {}", fleet.host_key())
    );
    // Now known: strict checking passes.
    project.run(&[]).expect_code(0);
}

#[test]
fn changed_host_key_is_refused_and_never_overwritten() {
    let fleet = Fleet::new().start();
    let other = tempfile::tempdir().expect("dir");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(other.path().join("k"))
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let other_key = std::fs::read_to_string(other.path().join("k.pub")).expect("read");
    let other_key: Vec<&str> = other_key.split_whitespace().take(2).collect();
    let port = fleet.hosts[0].port;
    let planted = format!("[127.0.0.1]:{port} {}\n", other_key.join(" "));
    std::fs::write(fleet.known_hosts(), &planted).expect("plant");

    for policy in ["strict", "accept-new"] {
        let out = fleet
            .project()
            .env("RPATCH_HOST_KEY_CHECKING", policy)
            .playbook(ID_PLAY)
            .run(&[]);
        out.expect_code(3);
        let text = all_output(&out);
        assert!(text.contains("HOST KEY CHANGED"), "{text}");
        assert!(
            text.contains(&fingerprint(&fleet.dir().join("host_ed25519.pub"))),
            "{text}"
        );
        assert_eq!(
            std::fs::read_to_string(fleet.known_hosts()).expect("read"),
            planted
        );
    }
}

#[test]
fn hashed_entries_and_other_key_types_are_understood() {
    let fleet = Fleet::new().start();
    let port = fleet.hosts[0].port;
    // Only the ECDSA key is recorded, hashed: rpatch must ask the server for ECDSA.
    let ecdsa = std::fs::read_to_string(fleet.dir().join("host_ecdsa.pub")).expect("read");
    let ecdsa: Vec<&str> = ecdsa.split_whitespace().take(2).collect();
    std::fs::write(
        fleet.known_hosts(),
        format!("[127.0.0.1]:{port} {}\n", ecdsa.join(" ")),
    )
    .expect("write");
    let status = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(fleet.known_hosts())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("ssh-keygen -H");
    assert!(status.success());
    let hashed = std::fs::read_to_string(fleet.known_hosts()).expect("read");
    assert!(hashed.starts_with("|1|"), "{hashed}");
    fleet.project().playbook(ID_PLAY).run(&[]).expect_code(0);
}

#[test]
fn proxy_jump_through_two_other_sshds_shared_by_hosts_behind_them() {
    let fleet = Fleet::new().hosts(4).debug_log().start();
    let key = fleet.user_key().display().to_string();
    let [j1, j2, t1, t2] = [0, 1, 2, 3].map(|i| &fleet.hosts[i]);
    let config = format!(
        "Host jump1\n  Port {}\n\nHost jump2\n  Port {}\n\n\
         Host inner1\n  Port {}\n\nHost inner2\n  Port {}\n\n\
         Host inner*\n  ProxyJump jump1,jump2\n\n\
         Host *\n  HostName 127.0.0.1\n  User {}\n  IdentityFile {key}\n",
        j1.port,
        j2.port,
        t1.port,
        t2.port,
        fleet::user()
    );
    std::fs::write(fleet.ssh_config(), config).expect("ssh config");
    let out = fleet
        .project_with_inventory("all:\n  hosts:\n    inner1:\n    inner2:\n")
        .playbook(ID_PLAY)
        .run(&[]);
    out.expect_code(0);
    assert_eq!(out.recap_of("inner1").ok, 2);
    assert_eq!(out.recap_of("inner2").ok, 2);
    for target in [t1, t2] {
        let forward = format!("target 127.0.0.1 port {}", target.port);
        assert!(
            fleet.log(&j2.name).contains(&forward),
            "jump2 did not forward to {}:\n{}",
            target.name,
            fleet.log(&j2.name)
        );
    }
    let to_jump2 = format!("target 127.0.0.1 port {}", j2.port);
    assert!(
        fleet.log(&j1.name).contains(&to_jump2),
        "jump1 did not forward to jump2:\n{}",
        fleet.log(&j1.name)
    );
    // Both hosts behind the bastions share one connection to each of them.
    for jump in [j1, j2] {
        assert_eq!(
            fleet.log(&jump.name).matches("Accepted publickey").count(),
            1,
            "{} was logged into more than once",
            jump.name
        );
    }
}

#[test]
fn become_with_passwordless_sudo() {
    let fleet = Fleet::new().start();
    let out = fleet
        .project()
        .playbook(
            "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n    \
             - command: id -u\n      register: uid\n    - assert:\n        that: uid.stdout == '0'\n",
        )
        .run(&[]);
    out.expect_code(0);
    assert_eq!(out.recap_of("node01").failed, 0);
}

const BECOME_PLAY: &str = "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n    - command: id -u\n      register: uid\n    - assert:\n        that: uid.stdout == '0'\n";

fn password_user_inventory(fleet: &Fleet, become_password: &str) -> String {
    inventory_as(fleet, fleet::password_user(), become_password)
}

/// The fleet's inventory, logging in as `user`, with a become password for every host.
fn inventory_as(fleet: &Fleet, user: &str, become_password: &str) -> String {
    let mut text = String::new();
    for line in fleet.inventory().lines() {
        match line.split_once("ansible_user: ") {
            Some((indent, _)) => text.push_str(&format!("{indent}ansible_user: {user}\n")),
            None => text.push_str(&format!("{line}\n")),
        }
    }
    text + &format!("  vars:\n    ansible_become_password: {become_password}\n")
}

/// Tasks that would show a become password sent blindly on standard input: a `cat` without
/// input must print nothing, a `cat` with input exactly that input, and `copy` must write
/// exactly its content to `{dest}`.
const STDIN_PROBES: &str = "    - shell: cat\n      become: true\n      register: no_input\n    \
     - command: cat\n      args:\n        stdin: given input\n      become: true\n      register: given\n    \
     - copy:\n        content: \"first line\\n\"\n        dest: \"{dest}\"\n      become: true\n    \
     - assert:\n        that:\n          - no_input.stdout == ''\n          - given.stdout == 'given input'\n";

/// A play running [`STDIN_PROBES`] after `before` (more tasks), writing to `dest`.
fn probe_play(before: &str, dest: &Path) -> String {
    format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n{before}{}",
        STDIN_PROBES.replace("{dest}", &dest.display().to_string())
    )
}

/// The run succeeded, the copied file holds exactly its content (owned by root: written
/// through sudo), and the password shows nowhere.
fn assert_no_leak(out: &crate::support::Output, dest: &Path, secret: &str) {
    out.expect_code(0);
    let text = all_output(out);
    assert!(!text.contains(secret), "password leaked:\n{text}");
    assert!(
        !text.contains("rpatch-become"),
        "become tokens leaked:\n{text}"
    );
    let copied = std::fs::read_to_string(dest).expect("copied file");
    assert_eq!(
        copied, "first line\n",
        "the copied file got more than its content"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(dest).expect("stat").uid(),
        0,
        "not written as root"
    );
}

#[test]
fn become_password_never_reaches_the_command_when_sudo_does_not_ask() {
    // Passwordless sudo, but a become password configured anyway (a group-wide -K, say).
    let fleet = Fleet::new().start();
    let dest = fleet.dir().join("copied-nopasswd");
    let out = fleet
        .project_with_inventory(&inventory_as(&fleet, fleet::user(), fleet::password()))
        .playbook(&probe_play("", &dest))
        .run(&["-vvv"]);
    assert_no_leak(&out, &dest, fleet::password());
}

#[test]
fn become_with_a_password_never_shows_it() {
    let fleet = Fleet::new().user(fleet::password_user()).start();
    let dest = fleet.dir().join("copied-prompted");
    // sudo asks here, and asks again for every command: sudo's default timestamp is keyed on
    // the terminal or, without one, on the parent process and session, and every command on
    // an SSH channel without a terminal is a session of its own. So the probes really go
    // through the prompt.
    let before = "    - command: sudo -n true\n      register: cold\n      failed_when: false\n    \
         - command: id -u\n      become: true\n      register: uid\n    \
         - command: sudo -n true\n      register: warm\n      failed_when: false\n    \
         - assert:\n        that:\n          - cold.rc != 0\n          - uid.stdout == '0'\n          \
         - warm.rc != 0\n";
    let out = fleet
        .project_with_inventory(&password_user_inventory(&fleet, fleet::password()))
        .playbook(&probe_play(before, &dest))
        .run(&["-vvv"]);
    assert_no_leak(&out, &dest, fleet::password());
}

#[test]
fn a_cached_sudo_timestamp_does_not_turn_the_password_into_input() {
    // The account's sudo timestamps are shared by all its sessions (timestamp_type=global):
    // after the first sudo, the others do not ask, though a password is configured.
    let fleet = Fleet::new().user(fleet::cached_user()).start();
    let dest = fleet.dir().join("copied-cached");
    let before =
        "    - command: sudo -n true\n      register: cold\n      failed_when: false\n    \
         - command: id -u\n      become: true\n    \
         - command: sudo -n true\n      register: warm\n      failed_when: false\n    \
         - assert:\n        that:\n          - cold.rc != 0\n          - warm.rc == 0\n";
    let out = fleet
        .project_with_inventory(&inventory_as(
            &fleet,
            fleet::cached_user(),
            fleet::password(),
        ))
        .playbook(&probe_play(before, &dest))
        .run(&["-vvv"]);
    assert_no_leak(&out, &dest, fleet::password());
}

#[test]
fn become_to_the_login_user_itself_does_not_send_the_password() {
    // sudo asks no password to run as oneself.
    let fleet = Fleet::new().user(fleet::password_user()).start();
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  become: true\n  become_user: {}\n  tasks:\n    \
         - shell: cat; id -un\n      register: me\n    \
         - assert:\n        that: me.stdout == '{}'\n",
        fleet::password_user(),
        fleet::password_user()
    );
    let out = fleet
        .project_with_inventory(&password_user_inventory(&fleet, fleet::password()))
        .playbook(&play)
        .run(&["-vvv"]);
    out.expect_code(0);
    assert!(
        !all_output(&out).contains(fleet::password()),
        "password leaked"
    );
}

#[test]
fn local_become_as_root_and_as_a_user_sudo_asks() {
    // As root (this test process), sudo never asks: the password must not reach the command.
    let dir = tempfile::tempdir().expect("temp dir");
    let dest = dir.path().join("copied-root");
    let inventory = format!(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n  vars:\n    \
         ansible_become_password: {}\n",
        fleet::password()
    );
    fleet::prerequisites();
    let out = crate::support::Project::new()
        .file("inventory/local.yml", &inventory)
        .playbook(&probe_play("", &dest))
        .run(&["-vvv"]);
    assert_no_leak(&out, &dest, fleet::password());

    // As the password user, sudo asks for every command.
    let user = fleet::password_user();
    let dest = dir.path().join("copied-user");
    let project = crate::support::Project::new()
        .file("inventory/local.yml", &inventory)
        .playbook(&probe_play(
            "    - command: id -un\n      register: me\n    \
             - assert:\n        that: me.stdout != 'root'\n",
            &dest,
        ));
    let out = project.run_as(user, &["-vvv"]);
    assert_no_leak(&out, &dest, fleet::password());
}

#[test]
fn wrong_become_password_fails_fast_and_quietly() {
    let fleet = Fleet::new().user(fleet::password_user()).start();
    let wrong = "Not-the-Pw-5511";
    let out = fleet
        .project_with_inventory(&password_user_inventory(&fleet, wrong))
        .playbook(BECOME_PLAY)
        .run(&["-vvv", "--task-timeout", "60"]);
    out.expect_code(2);
    assert_eq!(out.recap_of("node01").failed, 1);
    assert_eq!(out.recap_of("node01").unreachable, 0);
    let text = all_output(&out);
    assert!(!text.contains(wrong), "password leaked:\n{text}");
    // A hang would end in the 60 s command timeout instead of sudo's own refusal.
    assert!(
        !text.contains("timed out"),
        "a hang, not a failure:\n{text}"
    );
    assert!(
        text.contains("incorrect privilege escalation (sudo) password"),
        "no clear reason:\n{text}"
    );
    assert!(
        !text.contains("rpatch-become"),
        "sudo's prompt leaked:\n{text}"
    );
}

#[test]
fn su_with_a_become_password_is_refused_before_anything_is_sent() {
    let fleet = Fleet::new().start();
    let play = "- hosts: all\n  gather_facts: false\n  become: true\n  become_method: su\n  \
                tasks:\n    - shell: cat\n";
    let out = fleet
        .project_with_inventory(&inventory_as(&fleet, fleet::user(), fleet::password()))
        .playbook(play)
        .run(&["-vvv"]);
    out.expect_code(2);
    assert_eq!(out.recap_of("node01").failed, 1);
    let text = all_output(&out);
    assert!(
        !text.contains(fleet::password()),
        "password leaked:\n{text}"
    );
    assert!(
        text.contains("become_method su cannot take a become password"),
        "no clear reason:\n{text}"
    );
}

#[test]
fn killed_host_becomes_unreachable_while_others_finish() {
    let mut fleet = Fleet::new().hosts(3).start();
    let shared = fleet.dir().join("shared");
    std::fs::create_dir(&shared).expect("shared dir");
    set_mode(&shared, 0o777);
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n    \
         - shell: touch {}/started-{{{{ inventory_hostname }}}}; sleep 3\n    - command: 'true'\n",
        shared.display()
    );
    let project = fleet.project().playbook(&play);
    let out = std::thread::scope(|scope| {
        let run = scope.spawn(|| project.run(&[]));
        let marker = shared.join("started-node02");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !marker.exists() {
            assert!(Instant::now() < deadline, "node02 never started its task");
            std::thread::sleep(Duration::from_millis(20));
        }
        fleet.kill("node02");
        run.join().expect("rpatch run")
    });
    out.expect_code(3);
    let recap = out.recap_of("node02");
    assert_eq!(recap.unreachable, 1, "{}", out.stdout);
    for host in ["node01", "node03"] {
        let recap = out.recap_of(host);
        assert_eq!(
            (recap.ok, recap.failed, recap.unreachable),
            (3, 0, 0),
            "{}",
            out.stdout
        );
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn twenty_tasks_share_one_connection_and_close_every_channel() {
    // sshd allows 10 sessions per connection: a leaked channel per task would fail task 11.
    let fleet = Fleet::new().debug_log().start();
    let mut play = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    for n in 1..=20 {
        play.push_str(&format!("    - command: echo task{n}\n"));
    }
    // A channel per command (the persistent shell, which needs one, has its own test).
    let out = fleet
        .project()
        .env("RPATCH_PERSISTENT_SHELL", "0")
        .playbook(&play)
        .run(&[]);
    out.expect_code(0);
    assert_eq!(out.recap_of("node01").ok, 20);
    let log = fleet.wait_for_log("node01", "Close session: user", 20);
    assert_eq!(
        log.matches("Accepted publickey").count(),
        1,
        "more than one connection:\n{log}"
    );
    // Under load sshd can refuse an open that follows a close too closely; the transport
    // retries, so a refused open is not a session.
    let refused = log.matches("no more sessions").count();
    let opened = log.matches("ctype session").count() - refused;
    assert_eq!(opened, 20, "session channels opened:\n{log}");
    let closed = log.matches("Close session: user").count();
    assert_eq!(closed, opened, "channels left open:\n{log}");
}

#[test]
fn fifty_megabytes_of_output_is_truncated_not_buffered() {
    let fleet = Fleet::new().start();
    let project = fleet.project().playbook(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    \
         - shell: head -c 52428800 /dev/zero | tr '\\0' x; echo done >&2\n      register: big\n    \
         - debug:\n        msg: \"truncated={{ big.output_truncated }} kept={{ big.stdout | length }} err={{ big.stderr }}\"\n",
    );
    assert!(
        Path::new("/usr/bin/time").exists(),
        "/usr/bin/time is missing: apt-get install time"
    );
    let mut command = Command::new("/usr/bin/time");
    command
        .arg("-v")
        .arg(assert_cmd::cargo::cargo_bin("rpatch"))
        .args(["run", "site.yml"])
        .current_dir(project.path())
        .env("NO_COLOR", "1")
        .env("RPATCH_STATE_DIR", project.state_dir())
        .env_remove("RPATCH_INVENTORY");
    for (name, value) in fleet.env() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let output = command.output().expect("run rpatch under /usr/bin/time");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let peak_kb: u64 = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in:\n{stderr}"));
    // Measured (debug build): ~26 MB for a tiny command, ~54 MB whether the command prints
    // 8, 50 or 200 MB — what is kept is capped at 4 MB per stream, copied a few times into
    // the result. Keeping all 50 MB (and its copies) would go far past this bound.
    eprintln!("peak RSS with 50 MB of output: {peak_kb} kB");
    let kept = rpatch::transport::OUTPUT_CAP;
    assert!(
        stdout.contains(&format!("truncated=True kept={kept} err=done")),
        "{stdout}"
    );
    assert!(peak_kb < 96 * 1024, "peak RSS {peak_kb} kB");
}

#[test]
fn fifty_hosts_on_four_sshds_one_connection_each() {
    let fleet = Fleet::new().hosts(50).hosts_per_sshd(16).start();
    let mut play = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    for n in 1..=5 {
        play.push_str(&format!("    - command: echo step{n}\n"));
    }
    let out = fleet.project().playbook(&play).run(&[]);
    out.expect_code(0);
    for host in &fleet.hosts {
        assert_eq!(out.recap_of(&host.name).ok, 5, "{}", out.stdout);
    }
    let logins: Vec<usize> = [
        ("node01", 16),
        ("node17", 16),
        ("node33", 16),
        ("node49", 2),
    ]
    .iter()
    .map(|(h, n)| {
        fleet
            .wait_for_log(h, "Accepted publickey", *n)
            .matches("Accepted publickey")
            .count()
    })
    .collect();
    assert_eq!(logins, [16, 16, 16, 2], "one connection per host");
}

/// The transport itself, driven through the library against a fleet host.
fn transport_for(fleet: &Fleet, host: &str) -> rpatch::transport::SshTransport {
    rpatch::transport::SshTransport::new(&options_for(fleet, host)).expect("transport")
}

/// A transport that runs every command on a channel of its own (no persistent shell).
fn channels_for(fleet: &Fleet, host: &str) -> rpatch::transport::SshTransport {
    let options = rpatch::transport::SshOptions {
        persistent_shell: Some(false),
        ..options_for(fleet, host)
    };
    rpatch::transport::SshTransport::new(&options).expect("transport")
}

fn options_for(fleet: &Fleet, host: &str) -> rpatch::transport::SshOptions {
    let host = fleet.host(host);
    rpatch::transport::SshOptions {
        name: host.name.clone(),
        host: Some("127.0.0.1".into()),
        port: Some(host.port),
        user: Some(fleet::user().into()),
        private_key_file: Some(fleet.user_key()),
        config_file: Some(fleet.ssh_config()),
        known_hosts_files: Some(vec![fleet.known_hosts()]),
        host_key_policy: Some(rpatch::transport::HostKeyPolicy::Strict),
        ..Default::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn concurrent_commands_share_one_connection_on_separate_channels() {
    use rpatch::transport::{ExecRequest, ExitStatus, Transport};
    let fleet = Fleet::new().start();
    let transport = channels_for(&fleet, "node01");
    runtime().block_on(async {
        // More at once than sshd's MaxSessions (10): the transport queues the rest. The first
        // ten meet at a barrier (a file that must reach ten lines): run one after another they
        // would each give up after 20 s and print `alone`.
        let barrier = format!("/tmp/rpatch-barrier-{}", std::process::id());
        let _ = std::fs::remove_file(&barrier);
        let runs = (0..15).map(|n| {
            let transport = transport.clone();
            let command = if n < 10 {
                format!(
                    "echo x >> {barrier}; i=0; while [ $(wc -l < {barrier}) -lt 10 ]; do i=$((i+1)); [ $i -gt 200 ] && {{ echo alone; exit 1; }}; sleep 0.1; done; echo {n}"
                )
            } else {
                format!("echo {n}")
            };
            async move { transport.exec(&ExecRequest::new(command)).await }
        });
        let results = futures_join_all(runs).await;
        let _ = std::fs::remove_file(&barrier);
        for (n, result) in results.into_iter().enumerate() {
            let output = result.expect("exec");
            assert_eq!(output.status, ExitStatus::Code(0), "{}", output.stdout_text());
            assert_eq!(output.stdout_text(), format!("{n}\n"));
        }
    });
    assert_eq!(transport.connections_opened(), 1);
    assert_eq!(transport.channels_opened(), 15);
}

/// Runs futures concurrently on the current task (no extra dependency for join_all).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.expect("task"));
    }
    outputs
}

#[test]
fn stdin_is_binary_safe_and_streams_signals_and_timeouts_are_reported() {
    use rpatch::transport::{ExecRequest, ExitStatus, Transport};
    let fleet = Fleet::new().start();
    let transport = transport_for(&fleet, "node01");
    runtime().block_on(async {
        let data: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
        let mut request = ExecRequest::new("cat; echo oops >&2; exit 7");
        request.stdin = Some(data.clone());
        let output = transport.exec(&request).await.expect("exec");
        assert_eq!(output.status, ExitStatus::Code(7));
        assert!(
            output.stdout == data,
            "stdin did not come back byte for byte"
        );
        assert_eq!(output.stderr_text(), "oops\n");
        assert!(!output.truncated);

        let output = transport
            .exec(&ExecRequest::new("kill -TERM $$"))
            .await
            .expect("exec");
        assert_eq!(output.status, ExitStatus::Signal(15));

        let mut request = ExecRequest::new("sleep 30");
        request.timeout = Some(Duration::from_millis(500));
        let output = transport.exec(&request).await.expect("exec");
        assert_eq!(output.status, ExitStatus::TimedOut);

        // The connection is still good after all that.
        let output = transport
            .exec(&ExecRequest::new("echo fine"))
            .await
            .expect("exec");
        assert_eq!(output.stdout_text(), "fine\n");
    });
    assert_eq!(transport.connections_opened(), 1);
}

#[test]
fn a_dead_connection_is_lost_then_reconnect_waits_for_the_host() {
    use rpatch::transport::{ExecRequest, Transport, TransportError};
    let mut fleet = Fleet::new().start();
    let transport = transport_for(&fleet, "node01");
    let rt = runtime();
    rt.block_on(async {
        transport
            .exec(&ExecRequest::new("true"))
            .await
            .expect("exec");
    });
    // A file the remote command creates once it runs (the fleet user may write /tmp).
    let marker = format!(
        "/tmp/rpatch-lost-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let running = {
        let transport = transport.clone();
        let started = marker.clone();
        rt.spawn(async move {
            transport
                .exec(&ExecRequest::new(format!("touch {started}; sleep 20")))
                .await
        })
    };
    // Kill the host only once the command runs there, however loaded the machine is.
    crate::support::wait_until("the remote sleep to start", 60, || {
        Path::new(&marker).exists()
    });
    let _ = std::fs::remove_file(&marker);
    fleet.kill("node01");
    let result = rt.block_on(running).expect("task");
    assert!(matches!(result, Err(TransportError::Lost(_))), "{result:?}");
    // Down: the next command cannot connect and says why.
    let refused = rt.block_on(transport.exec(&ExecRequest::new("true")));
    match refused {
        Err(TransportError::Connect(message)) => {
            assert!(message.contains("connection refused"), "{message}")
        }
        other => panic!("expected a refused connection, got {other:?}"),
    }
    // Comes back while reconnect() retries.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(1500));
            fleet.restart("node01");
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        rt.block_on(transport.reconnect(deadline))
            .expect("reconnect");
    });
    let output = rt
        .block_on(transport.exec(&ExecRequest::new("echo back")))
        .expect("exec");
    assert_eq!(output.stdout_text(), "back\n");
    assert_eq!(transport.connections_opened(), 2);
}

#[test]
fn file_modules_over_ssh_are_idempotent_and_show_diffs() {
    let fleet = Fleet::new().hosts(2).start();
    // The test user writes under a directory it owns; both hosts are this machine, so each
    // host gets its own directory.
    let remote = format!("/tmp/rpatch-ssh-files-{}", std::process::id());
    let _ = std::fs::remove_dir_all(&remote);
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  vars:\n    base: {remote}/{{{{ inventory_hostname }}}}\n  tasks:\n    - file: path={{{{ base }}}} state=directory mode=0755\n    - copy:\n        content: \"{{{{ payload }}}}\"\n        dest: \"{{{{ base }}}}/sshd_config\"\n        mode: \"0600\"\n    - template: src=motd.j2 dest={{{{ base }}}}/motd\n    - lineinfile:\n        path: \"{{{{ base }}}}/banner\"\n        create: true\n        regexp: '^PasswordAuthentication'\n        line: PasswordAuthentication no\n    - fetch: src={{{{ base }}}}/motd dest={{dir}}/fetched\n",
    );
    let project = fleet
        .project()
        .file(
            "templates/motd.j2",
            "patched on {{ inventory_hostname }} as {{ ansible_user }}\n",
        )
        .playbook(&play);
    let first = project.run(&["--diff", "-e", r#"{"payload": "PermitRootLogin no"}"#]);
    first.expect_code(0);
    assert_eq!(first.recap_of("node01").changed, 5, "{}", first.stdout);
    assert!(
        first.stdout.contains("+PasswordAuthentication no"),
        "{}",
        first.stdout
    );
    let motd = std::fs::read_to_string(format!("{remote}/node02/motd")).expect("motd");
    assert_eq!(motd, format!("patched on node02 as {}\n", fleet::user()));
    let fetched = project.read(&format!("fetched/node01{remote}/node01/motd"));
    assert_eq!(fetched, format!("patched on node01 as {}\n", fleet::user()));
    let second = project.run(&["-e", r#"{"payload": "PermitRootLogin no"}"#]);
    second.expect_code(0);
    for host in ["node01", "node02"] {
        let recap = second.recap_of(host);
        assert_eq!(
            (recap.ok, recap.changed),
            (5, 0),
            "second run must change nothing\n{}",
            second.stdout
        );
    }
    let third = project.run(&[
        "--diff",
        "--check",
        "-e",
        r#"{"payload": "PermitRootLogin prohibit-password"}"#,
    ]);
    third.expect_code(0);
    assert!(
        third.stdout.contains("-PermitRootLogin no")
            && third.stdout.contains("+PermitRootLogin prohibit-password"),
        "{}",
        third.stdout
    );
    let unchanged =
        std::fs::read_to_string(format!("{remote}/node01/sshd_config")).expect("config");
    assert_eq!(unchanged, "PermitRootLogin no", "check mode must not write");
    let _ = std::fs::remove_dir_all(&remote);
}

#[test]
fn dash_u_is_a_default_that_an_inventory_ansible_user_overrides() {
    let fleet = Fleet::new().hosts(2).start();
    // node01 names its user in the inventory; node02 does not and takes -u.
    let host = |name: &str, user_line: &str| {
        format!(
            "    {name}:\n      ansible_host: 127.0.0.1\n      ansible_port: {}\n{user_line}      \
             ansible_ssh_private_key_file: {}\n",
            fleet.host(name).port,
            fleet.user_key().display()
        )
    };
    let inventory = format!(
        "all:\n  hosts:\n{}{}",
        host(
            "node01",
            &format!("      ansible_user: {}\n", fleet::user())
        ),
        host("node02", "")
    );
    let project = fleet.project_with_inventory(&inventory).playbook(ID_PLAY);
    let out = project.run(&["-u", fleet::user()]);
    out.expect_code(0);
    let out = project.run(&["-u", "rpatch-nobody"]);
    out.expect_code(3);
    assert_eq!(out.recap_of("node01").ok, 2, "{}", out.stdout);
    assert_eq!(out.recap_of("node02").unreachable, 1, "{}", out.stdout);
}
