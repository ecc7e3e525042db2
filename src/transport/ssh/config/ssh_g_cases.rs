//! Hand-written edge cases resolved by rpatch and by `ssh -G -F FILE ALIAS` (OpenSSH 9.2),
//! which must agree: both refuse the file, or both resolve host, port, user, keys, certificates,
//! jump, ProxyCommand, HostKeyAlias, known_hosts files, IdentitiesOnly, StrictHostKeyChecking and
//! ConnectTimeout alike. Cases the generator of `diff_tests` does not reach: keyword case, `=`,
//! quotes, extra values, negation, Match exec/final/canonical, Include globs and permissions.

use std::path::Path;

use std::collections::BTreeMap;

use super::diff_tests::ssh_g;
use super::tokens::{self, Tokens};
use super::*;

/// `ssh -G` prints ProxyCommand and CertificateFile as written; `ssh` expands them when it
/// connects, with the values it printed. This expands them the same way (an unknown token is
/// fatal in `ssh` too, so it is an `Err` here).
fn expanded(
    theirs: &BTreeMap<String, Vec<String>>,
    alias: &str,
    key: &str,
) -> Result<String, String> {
    let one = |k: &str| {
        theirs
            .get(k)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    };
    let t = Tokens {
        host: one("hostname"),
        original: alias.to_string(),
        port: one("port"),
        remote_user: one("user"),
        key_alias: theirs
            .get("hostkeyalias")
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_else(|| alias.to_string()),
        local: LocalFacts::current(),
    };
    let mut values = theirs
        .get(key.trim_end_matches("_expanded"))
        .cloned()
        .unwrap_or_default();
    if key == "identityfile_expanded" && values.iter().all(|v| v.starts_with("~/.ssh/id_")) {
        values.clear();
    }
    let out: Result<Vec<String>, String> = values
        .iter()
        .map(|v| match key {
            "proxycommand" => t.expand(v, tokens::PROXY_COMMAND_TOKENS),
            _ => t.expand_path(v).map(|p| p.display().to_string()),
        })
        .collect();
    Ok(out?.join(" "))
}

/// The hops of a ProxyJump value, as `(user, host, port)`.
fn hops(spec: &str) -> Vec<Option<keywords::JumpHop>> {
    if spec.is_empty() {
        return Vec::new();
    }
    spec.split(',').map(|h| parse_jump_hop(h).ok()).collect()
}

/// One case: extra files (name, text) beside the config, the config, and the aliases to try.
/// `{dir}` in any text stands for the case's directory.
struct Case {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    config: &'static str,
    aliases: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "keywords in any case, with = and spaces around it",
        files: &[],
        config: "HOST=web1\n  HOSTNAME=Real.Example\n  user = Bob\n  Port= 2222\n  identityfile=/k/a\n\
                 host *\n  IdentitiesOnly=yes\n",
        aliases: &["web1", "WEB1", "other"],
    },
    Case {
        name: "quoted arguments and escapes",
        files: &[],
        config: "Host \"web 1\" web1\n  IdentityFile \"/k/with space\"\n  User 'bob'\n  \
                 HostName \"q.example\"\n  UserKnownHostsFile \"/kh/a b\" /kh/c\n",
        aliases: &["web1", "web 1"],
    },
    Case {
        name: "a second value where one is allowed",
        files: &[],
        config: "Host a\n  IdentityFile /k/a /k/b\n",
        aliases: &["a", "b"],
    },
    Case {
        name: "a second user",
        files: &[],
        config: "Host a\n  User one two\n",
        aliases: &["a"],
    },
    Case {
        name: "negation only, and negation beside a wildcard",
        files: &[],
        config: "Host !web1\n  User neg\nHost * !web2\n  Port 2200\nHost web*\n  User w\n",
        aliases: &["web1", "web2", "db"],
    },
    Case {
        name: "Match exec with tokens after HostName",
        files: &[],
        config: "Host web1\n  HostName real.lab\nMatch exec \"test %h = real.lab -a %n = web1\"\n  \
                 User execd\nMatch !exec \"test %p = 22\"\n  Port 2\n",
        aliases: &["web1", "web2"],
    },
    Case {
        name: "Match final sees the final hostname, and Host lines match it too",
        files: &[],
        config: "Host web1\n  HostName real\nMatch final host real\n  User finaluser\n\
                 Host real\n  Port 2201\nMatch canonical\n  IdentityFile /k/canon\n",
        aliases: &["web1", "real", "other"],
    },
    Case {
        name: "Match canonical without a final pass never holds",
        files: &[],
        config: "Match canonical\n  User c\nMatch !canonical\n  Port 2203\n",
        aliases: &["x"],
    },
    Case {
        name: "Match user and localuser and all",
        files: &[],
        config: "Match user root\n  Port 2204\nHost *\n  User deploy\nMatch user deploy\n  \
                 IdentityFile /k/deploy\nMatch localuser root\n  HostKeyAlias local-root\n\
                 Match all\n  ConnectTimeout 7\n",
        aliases: &["x"],
    },
    Case {
        name: "Match host and originalhost are case-insensitive, Host is not",
        files: &[],
        config: "Match originalhost WEB*\n  User orig\nHost WEB1\n  Port 2205\n\
                 Match host real*\n  IdentityFile /k/real\nHost *\n  HostName REAL-%h\n",
        aliases: &["web1", "WEB1"],
    },
    Case {
        name: "tokens in IdentityFile, CertificateFile, known hosts and ProxyCommand",
        files: &[],
        config: "Host t\n  HostName th\n  User tu\n  Port 2206\n  IdentityFile /k/%h-%r-%p-%u-%n-%l-%L-%i-%%\n  \
                 CertificateFile /c/%h-%r-cert.pub\n  UserKnownHostsFile /kh/%h/%d/%k\n  \
                 ProxyCommand nc %h %p # %r %n\n",
        aliases: &["t"],
    },
    Case {
        name: "a token not allowed in ProxyCommand",
        files: &[],
        config: "Host t\n  ProxyCommand nc %h %p %C\n",
        aliases: &["t", "u"],
    },
    Case {
        name: "Include globs with brackets and question marks inside a Host block",
        files: &[
            ("a1.conf", "User from-a1\nHost inner\n  Port 2207\n"),
            ("b1.conf", "User from-b1\n  IdentityFile /k/b1\n"),
            ("c12.conf", "Port 2208\n"),
        ],
        config: "Host web1\n  Include {dir}/[ab]?.conf\nHost db1\n  Include {dir}/c??.conf\n\
                 Host *\n  User last\n",
        aliases: &["web1", "db1", "inner", "other"],
    },
    Case {
        name: "Include of a directory reads nothing",
        files: &[],
        config: "Host *\n  Include {dir}\n  Port 2213\n",
        aliases: &["a"],
    },
    Case {
        name: "Include in a block that does not apply still checks the included file",
        files: &[("bad.conf", "Frobnicate yes\n")],
        config: "Host never\n  Include {dir}/bad.conf\n",
        aliases: &["x"],
    },
    Case {
        name: "bad values of keywords rpatch does not act on",
        files: &[],
        config: "Host never\n  Compression maybe\n",
        aliases: &["x"],
    },
    Case {
        name: "good values of keywords rpatch does not act on, in any case",
        files: &[],
        config: "Host *\n  Compression YES\n  LogLevel debug3\n  Ciphers +aes128-ctr,aes256-ctr\n  \
                 MACs -hmac-md5*\n  KexAlgorithms ^curve25519-sha256\n  \
                 HostKeyAlgorithms ssh-ed25519*,rsa-sha2-512\n  PubkeyAcceptedAlgorithms +ssh-rsa\n  \
                 ForwardAgent ~/agent.sock\n  ControlMaster autoask\n  ControlPersist 10m\n  \
                 EscapeChar ^A\n  IPQoS af21 cs1\n  RekeyLimit 1G 1h\n  AddKeysToAgent confirm 5m\n  \
                 SendEnv LANG LC_*\n  SetEnv A=1 B=2\n  TunnelDevice any:any\n  \
                 StreamLocalBindMask 0177\n  ConnectionAttempts 3\n  SyslogFacility LOCAL5\n  \
                 LocalForward 8080 localhost:80\n  RequestTTY force\n  UpdateHostKeys ask\n  \
                 VerifyHostKeyDNS ask\n  PubkeyAuthentication host-bound\n  FingerprintHash md5\n  \
                 AddressFamily any\n  CanonicalizeHostname false\n  SessionType default\n",
        aliases: &["x"],
    },
    Case {
        name: "bad values of keywords rpatch does not act on, one a case",
        files: &[],
        config: "Host a\n  ForwardX11 maybe\nHost b\n  Ciphers aes\nHost c\n  LogLevel LOUD\n\
                 Host d\n  ConnectionAttempts x\nHost e\n  ControlPersist YES\nHost f\n  EscapeChar ab\n",
        aliases: &["a", "zz"],
    },
    Case {
        name: "a bad value after a good one on another keyword",
        files: &[],
        config: "Host a\n  ConnectionAttempts 1 2\n",
        aliases: &["a"],
    },
    Case {
        name: "a bad key algorithm",
        files: &[],
        config: "Host a\n  HostKeyAlgorithms ssh-foo\n",
        aliases: &["a"],
    },
    Case {
        name: "a bad CanonicalizeHostname value where it does not apply",
        files: &[],
        config: "Host never\n  CanonicalizeHostname sometimes\n",
        aliases: &["a"],
    },
    Case {
        name: "a host name with a shell character",
        files: &[],
        config: "Host *\n  User u\n",
        aliases: &["a;b", "-oProxyCommand=x", "a$b", "ok.host"],
    },
    Case {
        name: "a user with a shell character from the file (allowed there)",
        files: &[],
        config: "Host *\n  User 'u;x'\n",
        aliases: &["a"],
    },
    Case {
        name: "ports by service name and with leading zeros",
        files: &[],
        config: "Host a\n  Port ssh\nHost b\n  Port 022\n  ProxyJump j:https\n",
        aliases: &["a", "b"],
    },
    Case {
        name: "a port that is neither a number nor a service",
        files: &[],
        config: "Host c\n  Port nosuchservice\n",
        aliases: &["c"],
    },
    Case {
        name: "IdentityFile none and CertificateFile none",
        files: &[],
        config: "Host *\n  IdentityFile none\n  CertificateFile none\n  IdentityFile /k/x\n",
        aliases: &["a"],
    },
    Case {
        name: "an empty Host pattern",
        files: &[],
        config: "Host \"\"\n  User u\n",
        aliases: &["a"],
    },
    Case {
        name: "escaped quotes, tabs and a bare =",
        files: &[],
        config: "Host\ta\n\tUser\t\"a\\\"b\"\nHost b\n  Port=\nHost c\n  User=x=y\n",
        aliases: &["a", "c"],
    },
    Case {
        name: "Match with = between attribute and value, and capitals",
        files: &[],
        config: "Match Host=web1\n  User eq\nMatch HOST web2\n  User caps\n\
                 Match user 'caps' # quoted with single quotes: a literal\n  Port 2212\n\
                 Match user \"caps\" host = web2 # a comment\n  IdentityFile /k/dq\n",
        aliases: &["web1", "web2"],
    },
    Case {
        name: "Match !all and Match all with others",
        files: &[],
        config: "Match !all\n  User never\nMatch all\n  Port 2210\n",
        aliases: &["a"],
    },
    Case {
        name: "IgnoreUnknown after the unknown keyword, and in a block that does not apply",
        files: &[],
        config: "Host never\n  IgnoreUnknown frob*\nHost *\n  Frobnicate yes\n",
        aliases: &["a"],
    },
    Case {
        name: "IgnoreUnknown before the unknown keyword",
        files: &[],
        config: "IgnoreUnknown Frob*,other\nHost *\n  frobnicate yes\n  Port 2211\n",
        aliases: &["a"],
    },
    Case {
        name: "User and HostKeyAlias are not token-expanded",
        files: &[],
        config: "Host a\n  User %u-x\n  HostKeyAlias %h\n",
        aliases: &["a"],
    },
    Case {
        name: "ProxyJump hops with spaces and upper case",
        files: &[],
        config: "Host a\n  ProxyJump J1.Example,U@J2\n",
        aliases: &["a"],
    },
    Case {
        name: "ConnectTimeout forms",
        files: &[],
        config: "Host a\n  ConnectTimeout 1m30s\nHost b\n  ConnectTimeout 0\nHost c\n  ConnectTimeout 5x\n",
        aliases: &["a", "b", "c"],
    },
    Case {
        name: "CRLF line endings, %% in HostName, relative and ~user paths",
        files: &[],
        config: "Host a\r\n  HostName x%%h\r\n  UserKnownHostsFile known ~root/kh\r\n  \
                 IdentityFile ~root/.ssh/k\r\nHost b\r\n  HostName 127.0.0.1\r\n\
                 Match host 127.0.0.*\r\n  User ip\r\n",
        aliases: &["a", "b"],
    },
    Case {
        name: "Match exec with %C and %k, localuser lists with negation",
        files: &[],
        config: "Host a\n  HostKeyAlias KA\nMatch exec \"test %C != x -a %k = ka\"\n  User cx\n\
                 Match localuser !root,*\n  Port 2214\nMatch localuser *,!nobody\n  IdentityFile /k/lu\n",
        aliases: &["a"],
    },
    Case {
        name: "addresses in every numeric form become canonical, names lower case",
        files: &[],
        config: "Host a\n  HostName 127.1\nHost b\n  HostName 0x7f.0.0.1\nHost c\n  HostName 010.1.1.1\n\
                 Host d\n  HostName 0:0::1\nHost e\n  HostName ::FFFF:127.0.0.1\nHost f\n  HostName 1.2.3.4.5\n\
                 Host g\n  HostName 10.256.0.1\nHost h\n  HostName 0x7F.Example\nHost i\n  HostName 4294967295\n",
        aliases: &["a", "b", "c", "d", "e", "f", "g", "h", "i"],
    },
    Case {
        name: "ProxyJump with a user, port and IPv6 hop",
        files: &[],
        config: "Host a\n  ProxyJump u@j1:2222,[::1]:2200\nHost b\n  ProxyJump ssh://u@j2:2/\n",
        aliases: &["a", "b"],
    },
    Case {
        name: "StrictHostKeyChecking spellings",
        files: &[],
        config: "Host a\n  StrictHostKeyChecking off\nHost b\n  StrictHostKeyChecking Accept-New\n\
                 Host c\n  StrictHostKeyChecking yes\n",
        aliases: &["a", "b", "c", "d"],
    },
    Case {
        name: "comments and trailing blanks",
        files: &[],
        config: "# top\nHost a # a comment\n  User u # trailing\n  Port 2209\t \n\n",
        aliases: &["a"],
    },
];

/// The values compared, as `ssh -G` prints them.
fn ours_as_ssh_g(ours: &HostConfig) -> Vec<(&'static str, String)> {
    let join = |v: &[std::path::PathBuf]| {
        v.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let strict = match ours.strict_host_key_checking.as_deref() {
        None | Some("ask") => "ask",
        Some("yes" | "true") => "true",
        Some("no" | "off" | "false") => "false",
        Some(other) => other,
    };
    vec![
        ("identityfile_expanded", join(&ours.identity_files)),
        ("hostname", ours.hostname.clone()),
        ("port", ours.port.to_string()),
        ("user", ours.user.clone()),
        ("proxyjump", ours.proxy_jump.clone().unwrap_or_default()),
        (
            "proxycommand",
            ours.proxy_command.clone().unwrap_or_default(),
        ),
        (
            "hostkeyalias",
            ours.host_key_alias.clone().unwrap_or_default(),
        ),
        ("userknownhostsfile", {
            let k = join(&ours.user_known_hosts_files);
            if k.is_empty() {
                "none".into()
            } else {
                k
            }
        }),
        ("identityfile", ours.identity_file_specs.join(" | ")),
        ("certificatefile", join(&ours.certificate_files)),
        (
            "identitiesonly",
            if ours.identities_only == Some(true) {
                "yes"
            } else {
                "no"
            }
            .into(),
        ),
        ("stricthostkeychecking", strict.into()),
        (
            "connecttimeout",
            match ours.connect_timeout {
                Some(Some(s)) => s.to_string(),
                _ => "none".into(),
            },
        ),
    ]
}

#[test]
fn hand_written_edge_cases_resolve_as_ssh_g_does() {
    assert!(
        Path::new("/usr/bin/ssh").exists(),
        "this test needs OpenSSH's client at /usr/bin/ssh (apt-get install openssh-client)"
    );
    let mut failures = Vec::new();
    for case in CASES {
        let dir = tempfile::tempdir().expect("dir");
        let fill = |text: &str| text.replace("{dir}", &dir.path().display().to_string());
        for (name, text) in case.files {
            std::fs::write(dir.path().join(name), fill(text)).expect("file");
        }
        let path = dir.path().join("config");
        std::fs::write(&path, fill(case.config)).expect("config");
        let loaded = SshConfig::load(&path);
        for alias in case.aliases {
            let theirs = ssh_g(&path, alias, &[]);
            let ours = loaded
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|c| c.resolve(alias));
            match (theirs, ours) {
                (Err(_), Err(_)) => {}
                // Fatal in `ssh` when it connects, not in `ssh -G`.
                (Ok(theirs), Err(_))
                    if expanded(&theirs, alias, "proxycommand").is_err()
                        || expanded(&theirs, alias, "certificatefile").is_err() => {}
                (Ok(theirs), Ok(ours)) => {
                    for (key, mine) in ours_as_ssh_g(&ours) {
                        let mut values = theirs.get(key).cloned().unwrap_or_default();
                        if key == "identityfile"
                            && values.iter().all(|v| v.starts_with("~/.ssh/id_"))
                        {
                            values.clear();
                        }
                        let sep = if key == "identityfile" { " | " } else { " " };
                        let their = match key {
                            "proxycommand" | "certificatefile" | "identityfile_expanded" => {
                                expanded(&theirs, alias, key).unwrap_or_else(|e| e)
                            }
                            _ => values.join(sep),
                        };
                        let same = match key {
                            "proxyjump" => hops(&mine) == hops(&their),
                            _ => mine == their,
                        };
                        if !same {
                            failures.push(format!(
                                "{} / {alias}: {key}: rpatch {mine:?}, ssh -G {their:?}",
                                case.name
                            ));
                        }
                    }
                }
                (t, o) => failures.push(format!(
                    "{} / {alias}: ssh -G {:?}, rpatch {:?}",
                    case.name,
                    t.err(),
                    o.err().map(|e| e.to_string())
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences from ssh -G:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_group_writable_include_is_refused_as_ssh_refuses_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let inc = dir.path().join("inc.conf");
    std::fs::write(&inc, "User from-include\n").expect("inc");
    let path = dir.path().join("config");
    std::fs::write(&path, format!("Host *\n  Include {}\n", inc.display())).expect("config");
    // Debian's OpenSSH 9.2 accepts group-writable when the group is the owner's private one
    // (root's here); world-writable never.
    for (mode, refused) in [(0o644, false), (0o664, false), (0o646, true), (0o666, true)] {
        std::fs::set_permissions(&inc, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let theirs = ssh_g(&path, "a", &[]);
        let ours = SshConfig::load(&path).and_then(|c| c.resolve("a"));
        assert_eq!(
            theirs.is_err(),
            refused,
            "ssh -G with mode {mode:o}: {theirs:?}"
        );
        assert_eq!(
            ours.is_err(),
            refused,
            "rpatch with mode {mode:o}: {ours:?}"
        );
        if let Err(error) = ours {
            assert!(error.to_string().contains("permissions"), "{error}");
        }
    }
}

#[test]
fn dash_f_none_reads_no_configuration_as_ssh_does() {
    let theirs = ssh_g(Path::new("none"), "web1", &[]).expect("ssh -G -F none");
    let ours = SshConfig::standard(Some(Path::new("none")))
        .and_then(|c| c.resolve("web1"))
        .expect("rpatch -F none");
    assert_eq!(theirs["hostname"], vec![ours.hostname]);
    assert_eq!(theirs["port"], vec![ours.port.to_string()]);
}

#[test]
fn this_machines_own_configuration_resolves_as_ssh_g_does() {
    // No -F: ~/.ssh/config (if any) then /etc/ssh/ssh_config with its Include, as shipped.
    let output = std::process::Command::new("/usr/bin/ssh")
        .args(["-G", "web1.example"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("this test needs /usr/bin/ssh (apt-get install openssh-client)");
    assert!(output.status.success(), "ssh -G web1.example failed");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let theirs = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key} ")))
            .unwrap_or_default()
            .to_string()
    };
    let ours = SshConfig::standard(None)
        .and_then(|c| c.resolve("web1.example"))
        .expect("the installed configuration resolves");
    assert_eq!(ours.hostname, theirs("hostname"));
    assert_eq!(ours.port.to_string(), theirs("port"));
    assert_eq!(ours.user, theirs("user"));
}

/// A DNS server for the canonicalisation test (run by python3 inside the test's own network
/// namespace, on 127.0.0.1:53): `A` answers for two names, NXDOMAIN for every other name.
/// glibc's files backend never matches the trailing-dot names OpenSSH looks up, so the test
/// needs a resolver.
const DNS_SERVER: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
names = {"web1.lab.test": "127.0.0.1", "db1.corp.test": "127.0.0.2"}
while True:
    q, peer = s.recvfrom(512)
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode())
        i += 1 + q[i]
    qtype = int.from_bytes(q[i + 1:i + 3], "big")
    end = i + 5
    ip = names.get(".".join(labels).lower())
    flags = 0x8180 if ip else 0x8183
    answers = 1 if ip and qtype == 1 else 0
    r = q[:2] + flags.to_bytes(2, "big") + q[4:6] + answers.to_bytes(2, "big") + bytes(4) + q[12:end]
    if answers:
        r += bytes.fromhex("c00c000100010000003c0004") + socket.inet_aton(ip)
    s.sendto(r, peer)
"#;

/// The canonicalisation cases: (config, alias).
const CANON_CASES: &[(&str, &str)] = &[
    // The first domain that resolves wins; the final pass then sees the new name.
    (
        "CanonicalizeHostname yes\nCanonicalDomains nowhere.test lab.test corp.test\n\
         Host *.lab.test\n  User labuser\n  Port 2301\nMatch canonical host db1.corp.test\n  User corp\n",
        "web1",
    ),
    (
        "CanonicalizeHostname yes\nCanonicalDomains nowhere.test lab.test corp.test\n\
         Host *.lab.test\n  User labuser\nMatch canonical host db1.corp.test\n  User corp\n",
        "db1",
    ),
    // Not found anywhere: the name stays, and the final pass still happens.
    (
        "CanonicalizeHostname yes\nCanonicalDomains lab.test\nMatch canonical\n  Port 2302\n",
        "nosuch",
    ),
    // ... unless CanonicalizeFallbackLocal no.
    (
        "CanonicalizeHostname yes\nCanonicalDomains lab.test\nCanonicalizeFallbackLocal no\n",
        "nosuch",
    ),
    // More dots than CanonicalizeMaxDots: not canonicalised.
    (
        "CanonicalizeHostname yes\nCanonicalDomains test\nCanonicalizeMaxDots 0\n",
        "web1.lab",
    ),
    (
        "CanonicalizeHostname yes\nCanonicalDomains test\n",
        "web1.lab",
    ),
    // Through a jump host only with `always`.
    (
        "CanonicalizeHostname yes\nCanonicalDomains lab.test\nProxyJump j\n",
        "web1",
    ),
    (
        "CanonicalizeHostname always\nCanonicalDomains lab.test\nProxyJump j\n",
        "web1",
    ),
    // An anchored name; an address is left alone; HostName is canonicalised, not the alias.
    ("CanonicalizeHostname yes\n", "web1.lab.test."),
    ("CanonicalizeHostname yes\nCanonicalDomains lab.test\n", "127.0.0.1"),
    (
        "Host w\n  HostName WEB1\nCanonicalizeHostname yes\nCanonicalDomains lab.test\n",
        "w",
    ),
    ("CanonicalizeHostname no\nCanonicalDomains lab.test\nMatch canonical\n  Port 2303\n", "web1"),
];

#[test]
fn canonicalize_hostname_resolves_as_ssh_does() {
    // The names must resolve, so the comparison runs in private mount and network namespaces
    // whose resolver is the test's DNS server: this same test, re-run by itself under unshare.
    if std::env::var_os("RPATCH_CANON_INNER").is_none() {
        let dir = tempfile::tempdir().expect("dir");
        let resolv = dir.path().join("resolv.conf");
        std::fs::write(
            &resolv,
            "nameserver 127.0.0.1\noptions timeout:1 attempts:2\n",
        )
        .expect("resolv.conf");
        let exe = std::env::current_exe().expect("test binary");
        // The DNS server is killed at the end; it holds no pipe of ours meanwhile.
        let script = "ip link set lo up && mount --bind \"$1\" /etc/resolv.conf || exit 1; \
                      python3 -c \"$4\" </dev/null >/dev/null 2>&1 & dns=$!; \
                      for i in $(seq 100); do getent ahosts web1.lab.test. >/dev/null && break; sleep 0.1; done; \
                      \"$2\" --exact \"$3\" --nocapture --test-threads 1; rc=$?; kill $dns; exit $rc";
        let output = std::process::Command::new("unshare")
            .args([
                "-m",
                "-n",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(&resolv)
            .arg(&exe)
            .arg("transport::ssh::config::ssh_g_cases::canonicalize_hostname_resolves_as_ssh_does")
            .arg(DNS_SERVER)
            .env("RPATCH_CANON_INNER", "1")
            .output()
            .expect("this test needs unshare(1) from util-linux, ip(8), python3 and root");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success() && text.contains("1 passed"),
            "{text}"
        );
        return;
    }
    let mut failures = Vec::new();
    let mut canonicalised = 0;
    for (text, alias) in CANON_CASES {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config");
        std::fs::write(&path, text).expect("config");
        let theirs = ssh_g(&path, alias, &[]);
        let ours = SshConfig::load(&path).and_then(|c| c.resolve(alias));
        match (theirs, ours) {
            (Err(_), Err(_)) => {}
            (Ok(theirs), Ok(ours)) => {
                let got = (
                    ours.hostname.clone(),
                    ours.port.to_string(),
                    ours.user.clone(),
                );
                canonicalised +=
                    usize::from(ours.hostname.ends_with(".test") && !alias.ends_with('.'));
                let want = (
                    theirs["hostname"][0].clone(),
                    theirs["port"][0].clone(),
                    theirs["user"][0].clone(),
                );
                if got != want {
                    failures.push(format!(
                        "{alias} with\n{text}: rpatch {got:?}, ssh -G {want:?}"
                    ));
                }
            }
            (t, o) => failures.push(format!(
                "{alias} with\n{text}: ssh -G {:?}, rpatch {:?}",
                t.err(),
                o.err().map(|e| e.to_string())
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        canonicalised >= 3,
        "only {canonicalised} names were canonicalised"
    );
}
