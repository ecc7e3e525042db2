//! Where and how to connect: inventory variables merged over ssh_config and rpatch's settings.
//!
//! Precedence, as in Ansible: inventory variables (`ansible_host`, `ansible_port`,
//! `ansible_user`, `ansible_ssh_private_key_file`, `ansible_password`), then the options in
//! `ansible_ssh_common_args`/`ansible_ssh_extra_args`, win over ssh_config (they are applied
//! first, as `ssh -o` options are), which wins over built-in defaults. A jump host is resolved
//! as OpenSSH's `ssh -W` to it would be: its own ssh_config, including its own ProxyJump.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::config::{
    expand_tilde, home_dir, parse_jump_hop, parse_option, ConfigError, HostConfig, Setting,
    SshConfig,
};
use super::known_hosts::{HostKeyPolicy, KnownHosts};

/// Default `ConnectTimeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `ServerAliveInterval`: well under common firewall and NAT idle timeouts.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);
/// Default `ServerAliveCountMax`.
pub const DEFAULT_KEEPALIVE_MAX: usize = 3;

/// What the inventory (and rpatch's options) say about one host.
#[derive(Clone, Default)]
pub struct SshOptions {
    /// The inventory name, used when `host` is not set.
    pub name: String,
    /// `ansible_host`.
    pub host: Option<String>,
    /// `ansible_port`.
    pub port: Option<u16>,
    /// `ansible_user`.
    pub user: Option<String>,
    /// `ansible_ssh_private_key_file` (`~/` is expanded).
    pub private_key_file: Option<PathBuf>,
    /// `ansible_password`: password authentication is tried only when this is set.
    pub password: Option<String>,
    /// `ansible_timeout`: overrides `ConnectTimeout`.
    pub connect_timeout: Option<Duration>,
    /// An ssh_config file used instead of the standard ones (`-F`); default `RPATCH_SSH_CONFIG`.
    pub config_file: Option<PathBuf>,
    /// known_hosts files used instead of the standard ones; default `RPATCH_KNOWN_HOSTS`.
    pub known_hosts_files: Option<Vec<PathBuf>>,
    /// Host key policy; default `RPATCH_HOST_KEY_CHECKING`, then ssh_config, then strict.
    pub host_key_policy: Option<HostKeyPolicy>,
    /// `ansible_ssh_common_args` then `ansible_ssh_extra_args`, split into words: `-o
    /// Key=Value`, `-J`, `-p`, `-i`, `-l`, `-F` are honoured, anything else is an error.
    pub ssh_args: Vec<String>,
    /// `rpatch_persistent_shell`: run commands in one long-lived remote shell (`None`: the
    /// default, `RPATCH_PERSISTENT_SHELL`, else on).
    pub persistent_shell: Option<bool>,
}

impl fmt::Debug for SshOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshOptions")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("private_key_file", &self.private_key_file)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .finish_non_exhaustive()
    }
}

/// One SSH server to authenticate to: the target itself or a jump host.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Hop {
    /// The name the user wrote (inventory name, ansible_host or ProxyJump entry).
    pub alias: String,
    /// The address to connect to.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The remote user.
    pub user: String,
    /// Private keys to offer, in order.
    pub identity_files: Vec<PathBuf>,
    /// True when keys were configured (not the default ~/.ssh/id_* list).
    pub explicit_identities: bool,
    /// `CertificateFile`s: user certificates to present with a matching key (besides the
    /// `KEY-cert.pub` found next to each identity file).
    pub certificate_files: Vec<PathBuf>,
    /// `IdentitiesOnly`: offer only the identity files (configured, else the default
    /// `~/.ssh/id_*`), even from the agent.
    pub identities_only: bool,
    /// Password for password authentication, when explicitly configured.
    pub password: Option<String>,
    /// How long connecting (TCP, handshake, authentication) may take.
    pub connect_timeout: Duration,
    /// Keepalive interval; `None` disables keepalives.
    pub keepalive: Option<Duration>,
    /// Unanswered keepalives before the connection is declared dead.
    pub keepalive_max: usize,
    /// Where host keys are looked up.
    pub known_hosts: KnownHosts,
    /// `HostKeyAlias`: the name host keys are looked up and recorded under instead of host.
    pub host_key_alias: Option<String>,
    /// `ProxyCommand` (tokens expanded): run with `sh -c`, SSH spoken over its stdin/stdout.
    pub proxy_command: Option<String>,
    /// What to do with unknown host keys.
    pub policy: HostKeyPolicy,
}

impl Hop {
    /// The name and port host keys are recorded under: `HostKeyAlias` (as OpenSSH, without
    /// the port), else the host and port.
    pub fn key_name(&self) -> (&str, u16) {
        match &self.host_key_alias {
            Some(alias) => (alias, 22),
            None => (&self.host, self.port),
        }
    }
}

impl fmt::Debug for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}", self.user, self.host, self.port)
    }
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.port == 22 {
            write!(f, "{}@{}", self.user, self.host)
        } else {
            write!(f, "{}@{}:{}", self.user, self.host, self.port)
        }
    }
}

/// A fully resolved destination: jump hosts (first is dialled directly), then the target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshTarget {
    /// Jump hosts in order.
    pub jumps: Vec<Hop>,
    /// The host commands run on.
    pub host: Hop,
}

/// rpatch's process-wide settings from the environment.
struct EnvSettings {
    config_file: Option<PathBuf>,
    known_hosts: Option<Vec<PathBuf>>,
    policy: Option<Result<HostKeyPolicy, String>>,
}

fn env_settings() -> EnvSettings {
    let nonempty = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    EnvSettings {
        config_file: nonempty("RPATCH_SSH_CONFIG").map(|p| expand_tilde(&p)),
        known_hosts: nonempty("RPATCH_KNOWN_HOSTS")
            .map(|v| v.split(':').map(expand_tilde).collect()),
        policy: nonempty("RPATCH_HOST_KEY_CHECKING").map(|v| {
            HostKeyPolicy::parse(&v).ok_or_else(|| {
                format!("RPATCH_HOST_KEY_CHECKING={v} is not one of strict, accept-new, off")
            })
        }),
    }
}

/// Why a host's SSH settings could not be worked out.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// An ssh_config file is malformed.
    #[error("ssh config: {0}")]
    Config(#[from] ConfigError),
    /// A setting is invalid.
    #[error("{0}")]
    Invalid(String),
}

impl SshTarget {
    /// Resolves a host's target from its options, ssh_config and the environment.
    pub fn resolve(options: &SshOptions) -> Result<Self, TargetError> {
        let env = env_settings();
        let args = parse_ssh_args(&options.name, &options.ssh_args)?;
        let config_file = args
            .config_file
            .clone()
            .or_else(|| options.config_file.clone())
            .or(env.config_file);
        let config = SshConfig::standard(config_file.as_deref())?;
        let policy = match (options.host_key_policy, env.policy) {
            (Some(policy), _) => Some(policy),
            (None, Some(parsed)) => Some(parsed.map_err(TargetError::Invalid)?),
            (None, None) => None,
        };
        let known_hosts = options.known_hosts_files.clone().or(env.known_hosts);
        let ctx = Context {
            config: &config,
            policy,
            known_hosts,
        };
        let name = options.host.clone().unwrap_or_else(|| options.name.clone());
        // Inventory variables first, then the ssh arguments: the order Ansible passes them.
        let mut preset = Vec::new();
        if let Some(port) = options.port {
            preset.push(Setting::Port(port));
        }
        if let Some(user) = &options.user {
            preset.push(Setting::User(user.clone()));
        }
        if let Some(key) = &options.private_key_file {
            let key = expand_tilde(&key.to_string_lossy());
            preset.push(Setting::IdentityFile(key.display().to_string()));
        }
        preset.extend(args.settings);
        let target = Overrides {
            password: options.password.clone(),
            timeout: options.connect_timeout,
        };
        let mut visited = Vec::new();
        let mut hops = ctx.chain(&name, &preset, &target, &mut visited)?;
        let host = hops
            .pop()
            .ok_or_else(|| TargetError::Invalid(format!("{name}: nothing to connect to")))?;
        Ok(Self { jumps: hops, host })
    }
}

/// What `ansible_ssh_common_args`/`ansible_ssh_extra_args` say.
#[derive(Default)]
struct SshArgs {
    settings: Vec<Setting>,
    config_file: Option<PathBuf>,
}

/// The ssh command-line options rpatch honours; anything else is an error naming the host.
/// Whether the transport honours these ssh arguments (as `ansible_ssh_common_args`); the
/// reason when it does not.
pub fn check_ssh_args(words: &[String]) -> Result<(), String> {
    match parse_ssh_args("", words) {
        Ok(_) => Ok(()),
        Err(TargetError::Invalid(message)) => Err(message
            .trim_start_matches(": ansible_ssh_common_args/ansible_ssh_extra_args: ")
            .to_string()),
        Err(other) => Err(other.to_string()),
    }
}

fn parse_ssh_args(host: &str, words: &[String]) -> Result<SshArgs, TargetError> {
    let mut out = SshArgs::default();
    let mut words = words.iter();
    let bad = |message: String| {
        TargetError::Invalid(format!(
            "{host}: ansible_ssh_common_args/ansible_ssh_extra_args: {message}"
        ))
    };
    while let Some(word) = words.next() {
        let Some(flag) = word.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Err(bad(format!("unexpected argument `{word}`")));
        };
        let (letter, attached) = flag.split_at(flag.chars().next().map_or(0, char::len_utf8));
        if !matches!(letter, "o" | "J" | "p" | "i" | "l" | "F") {
            return Err(bad(format!(
                "option `{word}` is not supported (rpatch honours -o, -J, -p, -i, -l and -F)"
            )));
        }
        let value = if attached.is_empty() {
            words
                .next()
                .cloned()
                .ok_or_else(|| bad(format!("`-{letter}` needs a value")))?
        } else {
            attached.to_string()
        };
        let setting = match letter {
            "o" => parse_option(&value).map_err(|m| bad(format!("-o {value}: {m}")))?,
            "J" => parse_option(&format!("ProxyJump {value}"))
                .map_err(|m| bad(format!("-J {value}: {m}")))?,
            "p" => parse_option(&format!("Port {value}"))
                .map_err(|m| bad(format!("-p {value}: {m}")))?,
            "l" => Setting::User(value),
            "i" => Setting::IdentityFile(value),
            _ => {
                out.config_file = Some(expand_tilde(&value));
                continue;
            }
        };
        if let Setting::Refused { keyword, value } = &setting {
            return Err(bad(format!(
                "-o {keyword}={value} would change where or how rpatch connects, and rpatch cannot do that"
            )));
        }
        out.settings.push(setting);
    }
    Ok(out)
}

#[derive(Default)]
struct Overrides {
    password: Option<String>,
    timeout: Option<Duration>,
}

struct Context<'a> {
    config: &'a SshConfig,
    policy: Option<HostKeyPolicy>,
    known_hosts: Option<Vec<PathBuf>>,
}

/// Jump hosts deeper than this are refused (a chain this long is a mistake).
const MAX_JUMP_DEPTH: usize = 16;

impl Context<'_> {
    /// The hops to reach `alias`, ending with `alias` itself. A jump host is resolved as
    /// OpenSSH resolves it for `ssh -l USER -p PORT -J EARLIER-HOPS HOST`: the hop's user and
    /// port win, the earlier hops replace its ProxyJump, and without earlier hops its own
    /// ProxyJump (or ProxyCommand) is followed. A loop is an error.
    fn chain(
        &self,
        alias: &str,
        preset: &[Setting],
        over: &Overrides,
        visited: &mut Vec<(String, Vec<Setting>)>,
    ) -> Result<Vec<Hop>, TargetError> {
        // The same alias with the same options is the same ssh invocation again: a loop. (The
        // same alias reached with other earlier hops is not: OpenSSH goes through it.)
        let seen = visited.iter().any(|(a, p)| a == alias && p == preset);
        visited.push((alias.to_string(), preset.to_vec()));
        if seen || visited.len() > MAX_JUMP_DEPTH {
            let path: Vec<&str> = visited.iter().map(|(a, _)| a.as_str()).collect();
            return Err(TargetError::Invalid(format!(
                "ProxyJump loop: {}",
                path.join(" -> ")
            )));
        }
        let cfg = self.config.resolve_with(alias, preset)?;
        let mut hops = match &cfg.proxy_jump {
            None => Vec::new(),
            Some(spec) => {
                let entries: Vec<&str> = spec.split(',').map(str::trim).collect();
                let Some((last, earlier)) = entries.split_last() else {
                    return Err(TargetError::Invalid(format!("{alias}: empty ProxyJump")));
                };
                let hop = parse_jump_hop(last).map_err(TargetError::Invalid)?;
                let mut jump_preset = Vec::new();
                if let Some(user) = hop.user {
                    jump_preset.push(Setting::User(user));
                }
                if let Some(port) = hop.port {
                    jump_preset.push(Setting::Port(port));
                }
                if !earlier.is_empty() {
                    jump_preset.push(Setting::ProxyJump(earlier.join(",")));
                }
                self.chain(&hop.host, &jump_preset, &Overrides::default(), visited)?
            }
        };
        hops.push(self.hop(cfg, over));
        Ok(hops)
    }

    /// One hop from its resolved configuration.
    fn hop(&self, cfg: HostConfig, over: &Overrides) -> Hop {
        let mut identity_files = cfg.identity_files;
        let explicit = !identity_files.is_empty();
        if !explicit {
            let ssh = home_dir().join(".ssh");
            identity_files = ["id_ed25519", "id_ecdsa", "id_rsa"]
                .iter()
                .map(|f| ssh.join(f))
                .collect();
        }
        let known_files = match &self.known_hosts {
            Some(files) => files.clone(),
            None => {
                let mut files = cfg.user_known_hosts_files;
                files.extend(cfg.global_known_hosts_files);
                files
            }
        };
        let policy = match self.policy {
            Some(policy) => policy,
            None => cfg
                .strict_host_key_checking
                .as_deref()
                .map_or(HostKeyPolicy::Strict, policy_from_config),
        };
        let seconds = |s: u64| Duration::from_secs(s.min(crate::seconds::MAX_SECONDS));
        let keepalive = match cfg.server_alive_interval {
            Some(Some(0) | None) => None,
            Some(Some(s)) => Some(seconds(s)),
            None => Some(DEFAULT_KEEPALIVE),
        };
        Hop {
            alias: cfg.alias,
            host: cfg.hostname,
            port: cfg.port,
            user: cfg.user,
            identity_files,
            explicit_identities: explicit,
            certificate_files: cfg.certificate_files,
            identities_only: cfg.identities_only.unwrap_or(false),
            password: over.password.clone(),
            connect_timeout: over
                .timeout
                .or(cfg.connect_timeout.flatten().map(seconds))
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            keepalive,
            keepalive_max: cfg
                .server_alive_count_max
                .map_or(DEFAULT_KEEPALIVE_MAX, |n| n as usize),
            known_hosts: KnownHosts { files: known_files },
            policy,
            host_key_alias: cfg.host_key_alias,
            proxy_command: cfg.proxy_command,
        }
    }
}

/// ssh_config's `StrictHostKeyChecking` as a policy. OpenSSH's `no`/`off`/`false` accept new
/// *and changed* keys; rpatch deliberately never accepts a changed key, so they mean
/// `accept-new` here, and the first host that reads such a value says so once per run.
fn policy_from_config(value: &str) -> HostKeyPolicy {
    let lowered = value.trim().to_ascii_lowercase();
    match lowered.as_str() {
        "no" | "off" | "false" => {
            warn_stricter_once(&lowered);
            HostKeyPolicy::AcceptNew
        }
        _ => HostKeyPolicy::parse(&lowered).unwrap_or_default(),
    }
}

/// Warns that `StrictHostKeyChecking VALUE` is read more strictly than OpenSSH reads it,
/// once per distinct value and process (not once per host).
fn warn_stricter_once(value: &str) {
    static WARNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    if warned.iter().any(|v| v == value) {
        return;
    }
    warned.push(value.to_string());
    tracing::warn!(
        "ssh_config `StrictHostKeyChecking {value}`: rpatch records keys of new hosts but, \
         unlike OpenSSH, still refuses a changed host key (treated as accept-new)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(config: &std::path::Path) -> SshOptions {
        SshOptions {
            name: "web01".into(),
            config_file: Some(config.to_path_buf()),
            known_hosts_files: Some(vec!["/nonexistent/known_hosts".into()]),
            ..SshOptions::default()
        }
    }

    #[test]
    fn inventory_wins_over_ssh_config() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "Host web01\n  HostName 10.0.0.5\n  User cfg\n  Port 2200\n  IdentityFile /k/cfg\n  \
             ProxyJump jumper@bastion:2022,[::1]:22\n  ConnectTimeout 4\n",
        )
        .expect("write");
        let resolved = SshTarget::resolve(&options(&path)).expect("resolve");
        assert_eq!(resolved.host.host, "10.0.0.5");
        assert_eq!(
            (resolved.host.user.as_str(), resolved.host.port),
            ("cfg", 2200)
        );
        assert_eq!(resolved.host.connect_timeout, Duration::from_secs(4));
        assert_eq!(resolved.jumps.len(), 2);
        assert_eq!(resolved.jumps[0].user, "jumper");
        assert_eq!(resolved.jumps[0].port, 2022);
        assert_eq!(resolved.jumps[1].host, "::1");

        let mut over = options(&path);
        over.host = Some("127.0.0.1".into());
        over.port = Some(22);
        over.user = Some("inv".into());
        over.private_key_file = Some("/k/inv".into());
        let resolved = SshTarget::resolve(&over).expect("resolve");
        // ssh_config is looked up by ansible_host, as `ssh ansible_host` would.
        assert_eq!(resolved.host.host, "127.0.0.1");
        assert_eq!(
            (resolved.host.user.as_str(), resolved.host.port),
            ("inv", 22)
        );
        assert_eq!(resolved.host.identity_files, vec![PathBuf::from("/k/inv")]);
        assert!(resolved.jumps.is_empty());
    }

    fn write_config(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn certificate_files_and_identities_only_without_identity_files() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "Host web01\n  CertificateFile /c/one-cert.pub\n  IdentitiesOnly yes\n",
        )
        .expect("write");
        let resolved = SshTarget::resolve(&options(&path)).expect("resolve");
        assert_eq!(
            resolved.host.certificate_files,
            vec![PathBuf::from("/c/one-cert.pub")]
        );
        // No IdentityFile: the default ~/.ssh/id_* files, and IdentitiesOnly still holds.
        assert!(!resolved.host.explicit_identities);
        assert!(resolved.host.identities_only);
    }

    #[test]
    fn strict_host_key_checking_no_off_and_false_mean_accept_new() {
        for value in ["no", "off", "False"] {
            assert_eq!(
                policy_from_config(value),
                HostKeyPolicy::AcceptNew,
                "{value}"
            );
        }
        assert_eq!(policy_from_config("yes"), HostKeyPolicy::Strict);
        assert_eq!(policy_from_config("accept-new"), HostKeyPolicy::AcceptNew);
    }

    #[test]
    fn a_jump_hosts_own_proxyjump_is_followed() {
        let (_dir, path) = write_config(
            "Host web01
  ProxyJump inner
Host inner
  ProxyJump outer
  User iu
             Host outer
  HostName 192.0.2.1
  Port 2201
",
        );
        let target = SshTarget::resolve(&options(&path)).expect("resolve");
        let chain: Vec<String> = target.jumps.iter().map(|h| format!("{h:?}")).collect();
        let me = super::super::config::LocalFacts::current().user;
        assert_eq!(
            chain,
            vec![format!("{me}@192.0.2.1:2201"), "iu@inner:22".into()]
        );
    }

    #[test]
    fn earlier_hops_replace_the_last_hops_own_proxyjump() {
        let (_dir, path) = write_config(
            "Host web01
  ProxyJump a,u@b:2
Host b
  ProxyJump elsewhere
  Port 9
",
        );
        let target = SshTarget::resolve(&options(&path)).expect("resolve");
        let hosts: Vec<(&str, u16)> = target
            .jumps
            .iter()
            .map(|h| (h.host.as_str(), h.port))
            .collect();
        assert_eq!(hosts, vec![("a", 22), ("b", 2)]);
        assert_eq!(target.jumps[1].user, "u");
    }

    #[test]
    fn proxyjump_loops_are_errors() {
        let (_dir, path) = write_config(
            "Host web01
  ProxyJump a
Host a
  ProxyJump b
Host b
  ProxyJump a
",
        );
        let error = SshTarget::resolve(&options(&path)).expect_err("loop");
        assert!(
            error.to_string().contains("web01 -> a -> b -> a"),
            "{error}"
        );
    }

    #[test]
    fn ssh_args_honour_o_j_p_i_l_f_and_refuse_the_rest() {
        let words = |s: &str| shlex::split(s).expect("split");
        let args = parse_ssh_args(
            "h",
            &words("-o Port=2 -oUser=u -J j -p 3 -i /k -l v -F /cfg -o 'ProxyCommand nc %h %p'"),
        )
        .expect("args");
        assert_eq!(args.config_file, Some(PathBuf::from("/cfg")));
        assert_eq!(args.settings[0], Setting::Port(2));
        assert_eq!(args.settings[1], Setting::User("u".into()));
        assert_eq!(args.settings[2], Setting::ProxyJump("j".into()));
        assert_eq!(args.settings.len(), 7);
        for bad in ["-C", "-o Frob=1", "-o BindAddress=1.2.3.4", "stray", "-p"] {
            let error = parse_ssh_args("web9", &words(bad)).err().expect(bad);
            assert!(error.to_string().starts_with("web9: "), "{error}");
        }
    }
}
