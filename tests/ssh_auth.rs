//! Who rpatch logs in as and with what, against real sshd: user certificates (a CA trusted
//! instead of authorized_keys), host certificates through `@cert-authority`, `IdentitiesOnly`
//! with a real ssh-agent, `StrictHostKeyChecking no`, and Ansible's user/port/host precedence.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::ssh::{all_output, project_with_agent, Agent, ID_PLAY};
use crate::support::fleet::{self, Fleet};

/// A copy of the fleet's user key (and its public half) in `dir`, with no certificate beside.
fn bare_key_copy(fleet: &Fleet, dir: &Path) -> PathBuf {
    let key = dir.join("id_bare");
    std::fs::copy(fleet.user_key(), &key).expect("copy key");
    std::fs::copy(fleet.dir().join("user_key.pub"), dir.join("id_bare.pub")).expect("copy pub");
    key
}

fn inventory_with_key(fleet: &Fleet, key: &Path) -> String {
    fleet.inventory().replace(
        &fleet.user_key().display().to_string(),
        &key.display().to_string(),
    )
}

fn inventory_without_key(fleet: &Fleet) -> String {
    fleet.inventory().replace(
        &format!(
            "      ansible_ssh_private_key_file: {}\n",
            fleet.user_key().display()
        ),
        "",
    )
}

fn accepted_with_certificate(fleet: &Fleet) -> bool {
    fleet
        .wait_for_log("node01", "Accepted publickey", 1)
        .lines()
        .any(|l| l.contains("Accepted publickey") && l.contains("-CERT"))
}

#[test]
fn user_certificate_beside_the_key_logs_in_where_only_the_ca_is_trusted() {
    let fleet = Fleet::new().user_ca().start();
    // Without a certificate the key alone is refused: sshd has no authorized_keys entry.
    let dir = tempfile::tempdir().expect("dir");
    let bare = bare_key_copy(&fleet, dir.path());
    let out = fleet
        .project_with_inventory(&inventory_with_key(&fleet, &bare))
        .playbook(ID_PLAY)
        .run(&[]);
    out.expect_code(3);
    let text = all_output(&out);
    assert!(text.contains("permission denied"), "{text}");
    assert!(
        !text.contains("certificate"),
        "no certificate was there: {text}"
    );

    // `user_key-cert.pub` beside `user_key` is picked up automatically.
    let cert = fleet.sign_user_key(&fleet.dir().join("user_key.pub"), fleet::user(), "-5m:+1h");
    assert_eq!(cert, fleet.dir().join("user_key-cert.pub"));
    let out = fleet.project().playbook(ID_PLAY).run(&[]);
    out.expect_code(0);
    assert_eq!(out.recap_of("node01").ok, 2, "{}", out.stdout);
    assert!(accepted_with_certificate(&fleet), "{}", fleet.log("node01"));
}

#[test]
fn certificate_file_from_ssh_config_is_offered_and_an_expired_one_is_named() {
    let fleet = Fleet::new().user_ca().start();
    let dir = tempfile::tempdir().expect("dir");
    let bare = bare_key_copy(&fleet, dir.path());
    // Sign a copy of the public key elsewhere, so nothing sits beside `id_bare`.
    let elsewhere = dir.path().join("certs");
    std::fs::create_dir(&elsewhere).expect("dir");
    std::fs::copy(fleet.dir().join("user_key.pub"), elsewhere.join("ops.pub")).expect("copy");
    let cert = fleet.sign_user_key(&elsewhere.join("ops.pub"), fleet::user(), "-5m:+1h");
    std::fs::write(
        fleet.ssh_config(),
        format!("Host *\n  CertificateFile {}\n", cert.display()),
    )
    .expect("ssh_config");
    let project = fleet
        .project_with_inventory(&inventory_with_key(&fleet, &bare))
        .playbook(ID_PLAY);
    project.run(&[]).expect_code(0);
    assert!(accepted_with_certificate(&fleet), "{}", fleet.log("node01"));

    // An expired certificate is not offered, and the failure says why.
    let old = fleet.sign_user_key(
        &elsewhere.join("ops.pub"),
        fleet::user(),
        "20200101:20200102",
    );
    assert_eq!(old, cert);
    let out = project.run(&[]);
    out.expect_code(3);
    let text = all_output(&out);
    assert!(
        text.contains(&format!(
            "certificate {}: expired at 2020-01-02",
            cert.display()
        )),
        "{text}"
    );
}

#[test]
fn agent_held_certificate_or_key_for_a_certificate_file_logs_in() {
    let fleet = Fleet::new().user_ca().start();
    let cert = fleet.sign_user_key(&fleet.dir().join("user_key.pub"), fleet::user(), "-5m:+1h");
    let home = tempfile::tempdir().expect("home");
    let project = || {
        fleet
            .project_with_inventory(&inventory_without_key(&fleet))
            .env("HOME", &home.path().display().to_string())
            .playbook(ID_PLAY)
    };
    {
        // ssh-add loads `user_key-cert.pub` with the key.
        let agent = Agent::start(&fleet.user_key());
        project_with_agent(project(), &agent)
            .run(&[])
            .expect_code(0);
        assert!(accepted_with_certificate(&fleet), "{}", fleet.log("node01"));
    }
    // The agent holds only the key; the certificate comes from CertificateFile (and counts as
    // an identity for IdentitiesOnly).
    let dir = tempfile::tempdir().expect("dir");
    let agent = Agent::start(&bare_key_copy(&fleet, dir.path()));
    let without = project_with_agent(project(), &agent).run(&[]);
    without.expect_code(3);
    std::fs::write(
        fleet.ssh_config(),
        format!(
            "Host *\n  CertificateFile {}\n  IdentitiesOnly yes\n",
            cert.display()
        ),
    )
    .expect("ssh_config");
    project_with_agent(project(), &agent)
        .run(&[])
        .expect_code(0);
}

#[test]
fn identities_only_without_identity_file_offers_no_agent_key() {
    // sshd accepts the fleet key; the agent holds it; no key file is configured and the
    // home directory has no ~/.ssh/id_*.
    let fleet = Fleet::new().start();
    let agent = Agent::start(&fleet.user_key());
    let home = tempfile::tempdir().expect("home");
    let project = || {
        let project = fleet
            .project_with_inventory(&inventory_without_key(&fleet))
            .env("HOME", &home.path().display().to_string())
            .playbook(ID_PLAY);
        project_with_agent(project, &agent)
    };
    std::fs::write(fleet.ssh_config(), "Host *\n  IdentitiesOnly yes\n").expect("config");
    let out = project().run(&[]);
    out.expect_code(3);
    let text = all_output(&out);
    assert!(text.contains("permission denied"), "{text}");
    assert!(
        !text.contains("agent key"),
        "an agent key was offered: {text}"
    );
    assert!(
        !fleet.log("node01").contains("Accepted publickey"),
        "{}",
        fleet.log("node01")
    );

    // The same agent without IdentitiesOnly logs in: the refusal above was the setting.
    std::fs::write(fleet.ssh_config(), "Host *\n  IdentitiesOnly no\n").expect("config");
    project().run(&[]).expect_code(0);
}

/// A known_hosts file holding only `lines`.
fn known_hosts_with(fleet: &Fleet, lines: &str) -> PathBuf {
    let path = fleet.dir().join("known_hosts_ca");
    std::fs::write(&path, lines).expect("known_hosts");
    path
}

fn other_ca(dir: &Path) -> String {
    let key = dir.join("other_ca");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let text = std::fs::read_to_string(dir.join("other_ca.pub")).expect("pub");
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn host_certificate_signed_by_a_listed_authority_is_accepted_and_nothing_is_learned() {
    let fleet = Fleet::new()
        .host_certificate("127.0.0.1", "-5m:+1h")
        .start();
    let lines = format!(
        "@cert-authority [127.0.0.1]:*,!nothing {}\n",
        fleet.host_ca()
    );
    let known = known_hosts_with(&fleet, &lines);
    let project = fleet
        .project()
        .env("RPATCH_KNOWN_HOSTS", &known.display().to_string())
        .playbook(ID_PLAY);
    project.run(&[]).expect_code(0);
    // accept-new has nothing to learn: the certificate is trusted through its CA line.
    project
        .run(&["--host-key-checking", "accept-new"])
        .expect_code(0);
    assert_eq!(std::fs::read_to_string(&known).expect("read"), lines);
}

#[test]
fn host_certificate_expired_for_another_host_or_by_an_unknown_ca_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let stranger = other_ca(dir.path());
    for (principals, validity, listed_ca, why) in [
        (
            "127.0.0.1",
            "20200101:20200102",
            None,
            "expired at 2020-01-02",
        ),
        (
            "db01.example",
            "-5m:+1h",
            None,
            "principals (db01.example) do not include `127.0.0.1`",
        ),
        (
            "127.0.0.1",
            "-5m:+1h",
            Some(stranger.clone()),
            "which is not among the authorities listed",
        ),
    ] {
        let fleet = Fleet::new().host_certificate(principals, validity).start();
        let ca = listed_ca.unwrap_or_else(|| fleet.host_ca());
        let lines = format!("@cert-authority * {ca}\n");
        let known = known_hosts_with(&fleet, &lines);
        for policy in ["strict", "accept-new"] {
            let out = fleet
                .project()
                .env("RPATCH_KNOWN_HOSTS", &known.display().to_string())
                .playbook(ID_PLAY)
                .run(&["--host-key-checking", policy]);
            out.expect_code(3);
            let text = all_output(&out);
            assert!(text.contains("host certificate of"), "{text}");
            assert!(text.contains(why), "expected `{why}`:\n{text}");
            // Neither the certificate nor its key is ever written, and the CA line stays.
            assert_eq!(std::fs::read_to_string(&known).expect("read"), lines);
        }
    }
}

#[test]
fn accept_new_learns_no_plain_key_for_a_host_an_authority_covers() {
    // The server has no certificate; a CA line covers it.
    let fleet = Fleet::new().start();
    let dir = tempfile::tempdir().expect("dir");
    let ca = other_ca(dir.path());
    let lines = format!("@cert-authority [127.0.0.1]:* {ca}\n");
    let known = known_hosts_with(&fleet, &lines);
    let run = |known: &Path| {
        fleet
            .project()
            .env("RPATCH_KNOWN_HOSTS", &known.display().to_string())
            .playbook(ID_PLAY)
            .run(&["--host-key-checking", "accept-new"])
    };
    let out = run(&known);
    out.expect_code(3);
    assert!(
        all_output(&out).contains("presented a plain key, not a certificate"),
        "{}",
        all_output(&out)
    );
    assert_eq!(std::fs::read_to_string(&known).expect("read"), lines);

    // A CA line for other hosts changes nothing: the plain key is learned on a line of its
    // own, and the CA line is left as it was.
    let lines = format!("@cert-authority *.example {ca}\n");
    std::fs::write(&known, &lines).expect("write");
    run(&known).expect_code(0);
    let text = std::fs::read_to_string(&known).expect("read");
    let port = fleet.hosts[0].port;
    assert_eq!(
        text,
        format!("{lines}[127.0.0.1]:{port} {}\n", fleet.host_key())
    );
}

#[test]
fn strict_host_key_checking_no_warns_once_and_still_refuses_a_changed_key() {
    let fleet = Fleet::new().hosts(2).start();
    std::fs::write(fleet.ssh_config(), "Host *\n  StrictHostKeyChecking no\n").expect("config");
    let project = fleet.project().playbook(ID_PLAY);
    let out = project.run(&[]);
    out.expect_code(0);
    let warning = "unlike OpenSSH, still refuses a changed host key";
    assert_eq!(out.stderr.matches(warning).count(), 1, "{}", out.stderr);

    // A changed key (another server's key recorded for these hosts) is still refused.
    let dir = tempfile::tempdir().expect("dir");
    let other = other_ca(dir.path());
    let recorded = std::fs::read_to_string(fleet.known_hosts()).expect("read");
    std::fs::write(
        fleet.known_hosts(),
        recorded.replace(&fleet.host_key(), &other),
    )
    .expect("write");
    let out = project.run(&[]);
    out.expect_code(3);
    assert!(
        all_output(&out).contains("HOST KEY CHANGED"),
        "{}",
        all_output(&out)
    );
}

#[test]
fn ansible_ssh_port_user_and_host_win_over_ansible_port_user_and_host() {
    let fleet = Fleet::new().start();
    let port = fleet.hosts[0].port;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let inventory = format!(
        "all:\n  hosts:\n    node01:\n      ansible_host: 127.0.0.2\n      ansible_ssh_host: \
         127.0.0.1\n      ansible_port: {closed}\n      ansible_ssh_port: {port}\n      \
         ansible_user: rpatch-nobody\n      ansible_ssh_user: {}\n      \
         ansible_ssh_private_key_file: {}\n",
        fleet::user(),
        fleet.user_key().display()
    );
    let out = fleet
        .project_with_inventory(&inventory)
        .playbook(ID_PLAY)
        .run(&["-u", "rpatch-nobody"]);
    out.expect_code(0);
    assert!(out.stdout.contains(fleet::user()), "{}", out.stdout);
}

#[test]
fn play_remote_user_beats_dash_u_and_yields_to_inventory_ansible_user() {
    let fleet = Fleet::new().hosts(2).start();
    // node01 names its user in the inventory; node02 does not.
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
            &format!("      ansible_ssh_user: {}\n", fleet::user())
        ),
        host("node02", "")
    );
    let play = |user: &str| {
        format!(
            "- hosts: all\n  gather_facts: false\n  remote_user: {user}\n  tasks:\n    \
             - command: id -un\n"
        )
    };
    // remote_user beats -u for node02.
    let out = fleet
        .project_with_inventory(&inventory)
        .playbook(&play(fleet::user()))
        .run(&["-u", "rpatch-nobody"]);
    out.expect_code(0);
    // The inventory's user beats remote_user for node01; node02 takes remote_user.
    let out = fleet
        .project_with_inventory(&inventory)
        .playbook(&play("rpatch-nobody"))
        .run(&["-u", fleet::user()]);
    out.expect_code(3);
    assert_eq!(out.recap_of("node01").ok, 1, "{}", out.stdout);
    assert_eq!(out.recap_of("node02").unreachable, 1, "{}", out.stdout);

    // A later play without remote_user is back to -u.
    let playbook = format!(
        "{}- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n",
        play(fleet::user())
    );
    let out = fleet
        .project_with_inventory(&inventory)
        .playbook(&playbook)
        .run(&["-u", "rpatch-nobody"]);
    out.expect_code(3);
    assert_eq!(out.recap_of("node01").ok, 2, "{}", out.stdout);
    assert_eq!(out.recap_of("node02").ok, 1, "{}", out.stdout);
    assert_eq!(out.recap_of("node02").unreachable, 1, "{}", out.stdout);
}
