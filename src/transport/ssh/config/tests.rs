//! Unit tests of ssh_config resolution, one per rule.

use std::path::{Path, PathBuf};

use super::*;

fn config(text: &str) -> SshConfig {
    SshConfig::parse(text, Path::new("test_config")).expect("parse")
}

fn resolve(text: &str, alias: &str) -> HostConfig {
    config(text).resolve(alias).expect("resolve")
}

#[test]
fn first_value_wins_and_identity_files_accumulate() {
    let text = "Host web*\n  User admin\n  IdentityFile /k/one\n\
                Host *\n  User nobody\n  Port 2222\n  IdentityFile /k/two\n  IdentityFile /k/one\n";
    let web = resolve(text, "web01");
    assert_eq!(web.user, "admin");
    assert_eq!(web.port, 2222);
    assert_eq!(
        web.identity_files,
        vec![PathBuf::from("/k/one"), PathBuf::from("/k/two")]
    );
    assert_eq!(resolve(text, "db01").user, "nobody");
}

#[test]
fn negated_patterns_veto() {
    let text = "Host *.lab !bastion.lab\n  ProxyJump bastion.lab\n";
    assert_eq!(
        resolve(text, "a.lab").proxy_jump.as_deref(),
        Some("bastion.lab")
    );
    assert_eq!(resolve(text, "bastion.lab").proxy_jump, None);
}

#[test]
fn host_patterns_are_case_sensitive_and_the_hostname_is_lower_cased() {
    let text = "Host Web1\n  Port 1111\n";
    assert_eq!(resolve(text, "web1").port, 22);
    let upper = resolve(text, "Web1");
    assert_eq!(upper.port, 1111);
    // As `ssh -G Web1` prints: the host connected to is lower-cased.
    assert_eq!(upper.hostname, "web1");
    assert_eq!(
        resolve("Host x\n HostName 10.0.0.1\n", "x").hostname,
        "10.0.0.1"
    );
}

#[test]
fn hostname_expands_only_h_and_percent() {
    let text = "Host a*\n  HostName %h.example.com\nHost b\n  HostName %p.x\n";
    assert_eq!(resolve(text, "alias").hostname, "alias.example.com");
    assert!(config(text).resolve("b").is_err());
}

#[test]
fn match_host_uses_the_hostname_so_far_case_insensitively() {
    let text = "Host web2\n  HostName WEB2.example\nMatch host web2.example\n  User matched\n\
                Match originalhost WEB2\n  Port 2\n";
    let web2 = resolve(text, "web2");
    assert_eq!(web2.user, "matched");
    assert_eq!(web2.port, 2);
    assert_eq!(web2.hostname, "web2.example");
}

#[test]
fn match_user_sees_the_user_set_so_far_and_presets() {
    let text =
        "Match user deploy\n  Port 2200\nHost *\n  User deploy\nMatch user deploy\n  Port 2300\n";
    assert_eq!(resolve(text, "h").port, 2300);
    let preset = config(text)
        .resolve_with("h", &[Setting::User("deploy".into())])
        .expect("preset");
    assert_eq!(preset.port, 2200);
}

#[test]
fn match_localuser_exec_all_and_negation() {
    let me = LocalFacts::current().user;
    let text = format!(
        "Match localuser {me} exec true\n  User a\nMatch exec false\n  Port 9\n\
         Match !localuser {me}\n  Port 8\nMatch all\n  Port 7\n"
    );
    let h = resolve(&text, "h");
    assert_eq!((h.user.as_str(), h.port), ("a", 7));
}

#[test]
fn match_exec_expands_tokens_and_runs_only_when_earlier_criteria_hold() {
    let dir = tempfile::tempdir().expect("dir");
    let marker = dir.path().join("ran");
    let text = format!(
        "Match host nomatch exec \"touch {m}\"\n  Port 1\n\
         Match exec \"test %h = target && test %n = target\"\n  Port 3\n",
        m = marker.display()
    );
    assert_eq!(resolve(&text, "target").port, 3);
    assert!(!marker.exists(), "exec ran though `host` did not match");
}

#[test]
fn match_final_runs_a_second_pass_with_the_final_hostname() {
    let text = "Host alias\n  HostName real.example\nMatch final host real.example\n  User fin\n\
                Host real.example\n  Port 2022\nMatch canonical\n  IdentityFile /k/canon\n";
    let h = resolve(text, "alias");
    assert_eq!(h.user, "fin");
    // In the final pass `Host` patterns see the final host name, as in OpenSSH.
    assert_eq!(h.port, 2022);
    assert_eq!(h.identity_files, vec![PathBuf::from("/k/canon")]);
    // Without `Match final` anywhere there is no second pass.
    assert_eq!(
        resolve("Host alias\n HostName r\nHost r\n Port 5\n", "alias").port,
        22
    );
}

#[test]
fn include_inside_a_block_applies_only_to_that_block() {
    let dir = tempfile::tempdir().expect("dir");
    let inc = dir.path().join("inc.conf");
    std::fs::write(&inc, "User included\nHost other\n  Port 99\n").expect("write");
    let text = format!(
        "Host web*\n  Include {}\nHost *\n  User later\n",
        inc.display()
    );
    assert_eq!(resolve(&text, "web1").user, "included");
    assert_eq!(resolve(&text, "db1").user, "later");
    // Host lines inside the included file never match when the block is inactive.
    assert_eq!(resolve(&text, "other").port, 22);
    // ... and do when it is active (the include is read in place).
    let top = format!("Include {}\n", inc.display());
    assert_eq!(resolve(&top, "other").port, 99);
    // A Host line in an include does not leak into the including file.
    let after = format!("Host web*\n  Include {}\n  Port 5\n", inc.display());
    assert_eq!(resolve(&after, "web1").port, 5);
}

#[test]
fn include_globs_and_missing_files() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("b.conf"), "Host b\n  User bee\n").expect("b");
    std::fs::write(dir.path().join("a.conf"), "Host b\n  User ay\n").expect("a");
    let text = format!(
        "Include {0}/*.conf {0}/missing.conf\n",
        dir.path().display()
    );
    assert_eq!(resolve(&text, "b").user, "ay");
}

#[test]
fn unknown_keywords_and_bad_values_are_errors_naming_the_line() {
    let error = SshConfig::parse("Host x\n  Port 22\n  Frobnicate yes\n", Path::new("cfg"))
        .expect_err("unknown");
    assert_eq!((error.path.as_str(), error.line), ("cfg", 3));
    assert!(error
        .to_string()
        .starts_with("cfg:3: unknown keyword `Frobnicate`"));
    let error = SshConfig::parse("Host y\n  Port nope\n", Path::new("cfg")).expect_err("port");
    assert_eq!(error.line, 2);
    // IgnoreUnknown, as in OpenSSH, covers keywords for newer clients.
    let ok = resolve("IgnoreUnknown frob*\nFrobnicate yes\nPort 3\n", "h");
    assert_eq!(ok.port, 3);
}

#[test]
fn ignored_keywords_are_accepted_and_refused_ones_are_errors_when_they_apply() {
    let text = "Host *\n  ServerAliveInterval 5\n  Compression yes\n  ForwardAgent yes\n  LogLevel ERROR\n\
                Host odd\n  AddressFamily inet6\n  BindAddress 10.0.0.1\n";
    assert_eq!(resolve(text, "h").server_alive_interval, Some(Some(5)));
    let error = config(text).resolve("odd").expect_err("refused");
    assert!(error.message.contains("AddressFamily inet6"), "{error}");
    assert_eq!(error.line, 7);
    assert!(config("AddressFamily any\n").resolve("h").is_ok());
}

#[test]
fn proxyjump_and_proxycommand_first_one_wins() {
    let jump_first = "Host a\n  ProxyJump j\n  ProxyCommand nc %h %p\n";
    let a = resolve(jump_first, "a");
    assert_eq!(
        (a.proxy_jump.as_deref(), a.proxy_command),
        (Some("j"), None)
    );
    let command_first = "Host a\n  ProxyCommand nc %h %p %r %n\nHost *\n  ProxyJump j\n  User u\n";
    let a = resolve(command_first, "a");
    assert_eq!(a.proxy_jump, None);
    assert_eq!(a.proxy_command.as_deref(), Some("nc a 22 u a"));
    let none = "Host a\n  ProxyCommand none\nHost *\n  ProxyJump j\n";
    let a = resolve(none, "a");
    assert_eq!((a.proxy_jump, a.proxy_command), (None, None));
    // OpenSSH 9.2 (`ssh -G`): `ProxyJump none` blocks a later ProxyJump, not a ProxyCommand.
    let jump_none = "Host a\n  ProxyJump none\n  ProxyJump j\nHost *\n  ProxyCommand nc\n";
    let a = resolve(jump_none, "a");
    assert_eq!(
        (a.proxy_jump, a.proxy_command.as_deref()),
        (None, Some("nc"))
    );
}

#[test]
fn tokens_expand_in_identity_and_known_hosts_files() {
    let text = "Host h\n  HostName real\n  User u\n  Port 2\n  HostKeyAlias KeyName\n\
                IdentityFile /k/%r@%h:%p-%n\n  UserKnownHostsFile /kh/%k /kh/%%\n";
    let h = resolve(text, "h");
    assert_eq!(h.identity_files, vec![PathBuf::from("/k/u@real:2-h")]);
    assert_eq!(h.identity_file_specs, vec!["/k/%r@%h:%p-%n".to_string()]);
    assert_eq!(h.host_key_alias.as_deref(), Some("keyname"));
    assert_eq!(
        h.user_known_hosts_files,
        vec![PathBuf::from("/kh/keyname"), PathBuf::from("/kh/%")]
    );
    let home = home_dir();
    let d = resolve("IdentityFile ~/.ssh/%d\n", "x");
    assert_eq!(
        d.identity_files,
        vec![home
            .join(".ssh")
            .join(home.display().to_string().trim_start_matches('/'))]
    );
}

#[test]
fn known_hosts_defaults_and_none() {
    let h = resolve("Host x\n", "x");
    assert_eq!(h.user_known_hosts_files.len(), 2);
    assert_eq!(
        h.global_known_hosts_files,
        vec![
            PathBuf::from("/etc/ssh/ssh_known_hosts"),
            PathBuf::from("/etc/ssh/ssh_known_hosts2")
        ]
    );
    assert!(resolve("UserKnownHostsFile none\n", "x")
        .user_known_hosts_files
        .is_empty());
}

#[test]
fn a_jump_to_itself_is_a_loop() {
    let error = config("Host b\n  ProxyJump b\n")
        .resolve("b")
        .expect_err("loop");
    assert!(error.message.contains("loop"), "{error}");
}

#[test]
fn a_missing_config_file_is_an_error() {
    let error = SshConfig::load(Path::new("/nonexistent/rpatch/ssh_config")).expect_err("missing");
    assert_eq!(error.line, 0);
    assert!(error.to_string().contains("not found"));
}

#[test]
fn options_parse_through_the_same_table() {
    assert_eq!(parse_option("Port=2222"), Ok(Setting::Port(2222)));
    assert_eq!(
        parse_option("StrictHostKeyChecking no"),
        Ok(Setting::StrictHostKeyChecking("no".into()))
    );
    assert!(parse_option("Frobnicate=1").is_err());
    assert!(parse_option("Host=x").is_err());
    assert!(matches!(
        parse_option("BindAddress=1.2.3.4"),
        Ok(Setting::Refused { .. })
    ));
}

#[test]
fn a_thousand_aliases_resolve_without_a_process_each() {
    // The measurement in the module comment: the same shape of configuration as the `ssh -G`
    // runs it is compared with (Match with exec, 1000 Host blocks, ProxyJump, tokens).
    let mut text = String::from(
        "Match originalhost web-* exec true\n  User deploy\nMatch user deploy\n  Port 2200\n\
         Host bastion*\n  HostName 10.0.0.1\n  ProxyJump none\n",
    );
    for i in 0..1000 {
        text.push_str(&format!(
            "Host host{i:04}\n  HostName 10.{}.{}.1\n  IdentityFile ~/.ssh/k{}\n",
            i / 250,
            i % 250,
            i % 7
        ));
        if i % 3 == 0 {
            text.push_str("  ProxyJump bastion1\n");
        }
    }
    text.push_str("Host *\n  UserKnownHostsFile ~/.ssh/kh/%h-%p\n  ServerAliveInterval 30\n");
    let cfg = config(&text);
    let started = std::time::Instant::now();
    for i in 0..1000 {
        let host = cfg.resolve(&format!("host{i:04}")).expect("resolve");
        assert_eq!(host.hostname, format!("10.{}.{}.1", i / 250, i % 250));
    }
    let elapsed = started.elapsed();
    eprintln!("1000 aliases resolved in {elapsed:?}");
    // Generous: only a pathological slowdown (say, quadratic exec runs) should trip this on a
    // loaded machine; the figure itself is what the module comment quotes.
    assert!(elapsed < std::time::Duration::from_secs(60), "{elapsed:?}");
}
