//! ssh_config as OpenSSH resolves it, end to end against real sshd processes: Match routing,
//! ProxyCommand, HostKeyAlias, ansible_ssh_common_args, and config errors stopping the run.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::fleet::{self, Fleet};

const ID_PLAY: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n      register: who\n    - debug: var=who.stdout\n";

fn all_output(out: &crate::support::Output) -> String {
    format!("{}\n{}", out.stdout, out.stderr)
}

#[test]
fn match_originalhost_routes_to_the_port_and_user_it_names() {
    let fleet = Fleet::new().start();
    let host = &fleet.hosts[0];
    std::fs::write(
        fleet.ssh_config(),
        format!(
            "Match originalhost web-*\n  Port {}\n  User {}\n\
             Host *\n  HostName 127.0.0.1\n  IdentityFile {}\n  Port 1\n",
            host.port,
            fleet::user(),
            fleet.user_key().display()
        ),
    )
    .expect("ssh config");
    let out = fleet
        .project_with_inventory("all:\n  hosts:\n    web-1:\n")
        .playbook(ID_PLAY)
        .run(&[]);
    out.expect_code(0);
    assert!(out.stdout.contains(fleet::user()), "{}", all_output(&out));
}

#[test]
fn proxy_command_carries_the_connection_and_ends_with_the_session() {
    use rpatch::transport::{ExecRequest, Transport};
    let fleet = Fleet::new().hosts(2).debug_log().start();
    let [jump, target] = [0, 1].map(|i| &fleet.hosts[i]);
    let pid_file = fleet.dir().join("proxy.pid");
    let key = fleet.user_key().display().to_string();
    std::fs::write(
        fleet.ssh_config(),
        format!(
            "Host inner\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {key}\n  \
             ProxyCommand sh -c 'echo $$ > {pid}; exec ssh -F /dev/null -i {key} -o BatchMode=yes \
             -o StrictHostKeyChecking=yes -o UserKnownHostsFile={known} -p {jport} -W %h:%p \
             {user}@127.0.0.1'\n",
            port = target.port,
            user = fleet::user(),
            pid = pid_file.display(),
            known = fleet.known_hosts().display(),
            jport = jump.port,
        ),
    )
    .expect("ssh config");
    let options = rpatch::transport::SshOptions {
        name: "inner".into(),
        config_file: Some(fleet.ssh_config()),
        known_hosts_files: Some(vec![fleet.known_hosts()]),
        host_key_policy: Some(rpatch::transport::HostKeyPolicy::Strict),
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let transport = rpatch::transport::SshTransport::new(&options).expect("transport");
        let output = transport
            .exec(&ExecRequest::new("echo through-proxy"))
            .await
            .expect("exec through the ProxyCommand");
        assert_eq!(output.stdout_text(), "through-proxy\n");
        let pid = std::fs::read_to_string(&pid_file).expect("the proxy ran");
        let proc = format!("/proc/{}", pid.trim());
        assert!(
            Path::new(&proc).exists(),
            "proxy not running during the session"
        );
        transport.close().await;
        drop(transport);
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(&proc) {
            assert!(
                Instant::now() < deadline,
                "proxy {proc} still running after the session"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let forwarded = format!("target 127.0.0.1 port {}", target.port);
    assert!(
        fleet.log(&jump.name).contains(&forwarded),
        "the proxy's sshd did not forward:\n{}",
        fleet.log(&jump.name)
    );
}

/// A process exists and is not a zombie.
fn alive(proc: &str) -> bool {
    match std::fs::read_to_string(format!("{proc}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn host_key_alias_names_the_known_hosts_entry() {
    let fleet = Fleet::new().start();
    std::fs::write(
        fleet.known_hosts(),
        format!("keyed-by-alias {}\n", fleet.host_key()),
    )
    .expect("known_hosts");
    std::fs::write(
        fleet.ssh_config(),
        "Host *\n  HostKeyAlias Keyed-By-Alias\n",
    )
    .expect("cfg");
    fleet.project().playbook(ID_PLAY).run(&[]).expect_code(0);
    // Without the alias the same entry does not vouch for 127.0.0.1.
    std::fs::write(fleet.ssh_config(), "Host *\n  HostKeyAlias someone-else\n").expect("cfg");
    let out = fleet.project().playbook(ID_PLAY).run(&[]);
    out.expect_code(3);
    assert!(
        all_output(&out).contains("someone-else"),
        "{}",
        all_output(&out)
    );
}

#[test]
fn ansible_ssh_common_args_options_are_honoured_and_others_refused() {
    let fleet = Fleet::new().start();
    let host = &fleet.hosts[0];
    let inventory = |args: &str| {
        format!(
            "all:\n  hosts:\n    {}:\n      ansible_host: 127.0.0.1\n      \
             ansible_ssh_common_args: '-o Port={} -o User={} -i {}'\n      \
             ansible_ssh_extra_args: '{args}'\n",
            host.name,
            host.port,
            fleet::user(),
            fleet.user_key().display()
        )
    };
    let out = fleet
        .project_with_inventory(&inventory("-o ServerAliveInterval=5"))
        .playbook(ID_PLAY)
        .run(&[]);
    out.expect_code(0);
    let out = fleet
        .project_with_inventory(&inventory("-X"))
        .playbook(ID_PLAY)
        .run(&[]);
    out.expect_code(3);
    let text = all_output(&out);
    assert!(text.contains(&host.name) && text.contains("`-X`"), "{text}");
    let out = fleet
        .project_with_inventory(&inventory("-o BindAddress=127.0.0.2"))
        .playbook(ID_PLAY)
        .run(&[]);
    out.expect_code(3);
    assert!(
        all_output(&out).contains("BindAddress"),
        "{}",
        all_output(&out)
    );
}

#[test]
fn a_missing_or_malformed_ssh_config_stops_the_run_before_connecting() {
    let fleet = Fleet::new().start();
    let project = fleet.project().playbook(ID_PLAY);
    let out = project.run(&["-F", "/nonexistent/rpatch-ssh-config"]);
    out.expect_code(5);
    assert!(
        out.stderr.contains("/nonexistent/rpatch-ssh-config") && out.stderr.contains("not found"),
        "{}",
        out.stderr
    );
    std::fs::write(fleet.ssh_config(), "Host *\n  Port 22\n  Frobnicate yes\n").expect("cfg");
    let out = project.run(&[]);
    out.expect_code(4);
    let expected = format!(
        "{}:3: unknown keyword `Frobnicate`",
        fleet.ssh_config().display()
    );
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    // A bad value is an error on any line, as in OpenSSH, even in a block no host uses.
    std::fs::write(
        fleet.ssh_config(),
        "Host *\n  Port 22\nHost never\n  Compression maybe\n",
    )
    .expect("cfg");
    let out = project.run(&[]);
    out.expect_code(4);
    let expected = format!(
        "{}:4: bad Compression value `maybe`",
        fleet.ssh_config().display()
    );
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
}
