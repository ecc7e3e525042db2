//! Where and how to connect: inventory variables merged over ssh_config and rpatch's settings.
//!
//! Precedence, as in Ansible: inventory variables (`ansible_host`, `ansible_port`,
//! `ansible_user`, `ansible_ssh_private_key_file`, `ansible_password`) win over ssh_config,
//! which wins over built-in defaults.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::config::{expand_tilde, home_dir, ConfigError, SshConfig};
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
    /// What to do with unknown host keys.
    pub policy: HostKeyPolicy,
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
        let config_file = options.config_file.clone().or(env.config_file);
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
        let inventory = Overrides {
            port: options.port,
            user: options.user.clone(),
            key: options.private_key_file.clone(),
            password: options.password.clone(),
            timeout: options.connect_timeout,
        };
        let (host, jump_spec) = ctx.hop(&name, &inventory)?;
        let mut jumps = Vec::new();
        if let Some(spec) = jump_spec.filter(|s| !s.eq_ignore_ascii_case("none")) {
            for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (user, host, port) = parse_jump(entry)?;
                let overrides = Overrides {
                    port,
                    user,
                    ..Overrides::default()
                };
                jumps.push(ctx.hop(&host, &overrides)?.0);
            }
        }
        Ok(Self { jumps, host })
    }
}

#[derive(Default)]
struct Overrides {
    port: Option<u16>,
    user: Option<String>,
    key: Option<PathBuf>,
    password: Option<String>,
    timeout: Option<Duration>,
}

struct Context<'a> {
    config: &'a SshConfig,
    policy: Option<HostKeyPolicy>,
    known_hosts: Option<Vec<PathBuf>>,
}

impl Context<'_> {
    /// One hop and its `ProxyJump` setting.
    fn hop(&self, name: &str, over: &Overrides) -> Result<(Hop, Option<String>), TargetError> {
        let cfg = self.config.resolve(name)?;
        let mut identity_files: Vec<PathBuf> = over
            .key
            .iter()
            .map(|p| expand_tilde(&p.to_string_lossy()))
            .collect();
        for file in cfg.identity_files {
            if !identity_files.contains(&file) {
                identity_files.push(file);
            }
        }
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
                let mut files = cfg
                    .user_known_hosts_files
                    .unwrap_or_else(|| vec![home_dir().join(".ssh/known_hosts")]);
                files.extend(
                    cfg.global_known_hosts_files
                        .unwrap_or_else(|| vec![PathBuf::from("/etc/ssh/ssh_known_hosts")]),
                );
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
        let keepalive = match cfg.server_alive_interval {
            Some(0) => None,
            Some(seconds) => Some(Duration::from_secs(
                seconds.min(crate::seconds::MAX_SECONDS),
            )),
            None => Some(DEFAULT_KEEPALIVE),
        };
        let hop = Hop {
            alias: name.to_string(),
            host: cfg.hostname.unwrap_or_else(|| name.to_string()),
            port: over.port.or(cfg.port).unwrap_or(22),
            user: over.user.clone().or(cfg.user).unwrap_or_else(local_user),
            identity_files,
            explicit_identities: explicit,
            certificate_files: cfg.certificate_files,
            identities_only: cfg.identities_only.unwrap_or(false),
            password: over.password.clone(),
            connect_timeout: over
                .timeout
                .or(cfg
                    .connect_timeout
                    .map(|seconds| Duration::from_secs(seconds.min(crate::seconds::MAX_SECONDS))))
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            keepalive,
            keepalive_max: cfg.server_alive_count_max.unwrap_or(DEFAULT_KEEPALIVE_MAX),
            known_hosts: KnownHosts { files: known_files },
            policy,
        };
        Ok((hop, cfg.proxy_jump))
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

/// `[user@]host[:port]`, with `[v6]:port` brackets.
fn parse_jump(entry: &str) -> Result<(Option<String>, String, Option<u16>), TargetError> {
    let entry = entry.strip_prefix("ssh://").unwrap_or(entry);
    let (user, rest) = match entry.rsplit_once('@') {
        Some((user, rest)) => (Some(user.to_string()), rest),
        None => (None, entry),
    };
    let bad_port = |p: &str| TargetError::Invalid(format!("ProxyJump `{entry}`: bad port `{p}`"));
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        match inner.split_once(']') {
            Some((host, tail)) => match tail.strip_prefix(':') {
                Some(p) => (host, Some(p.parse().map_err(|_| bad_port(p))?)),
                None => (host, None),
            },
            None => return Err(TargetError::Invalid(format!("ProxyJump `{entry}`: no `]`"))),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((host, p)) => (host, Some(p.parse().map_err(|_| bad_port(p))?)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(TargetError::Invalid(format!(
            "ProxyJump `{entry}`: no host"
        )));
    }
    Ok((user, host.to_string(), port))
}

/// The local user name, OpenSSH's default remote user.
fn local_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".to_string())
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
    fn bad_jump_ports_are_errors() {
        assert!(parse_jump("host:x").is_err());
        assert_eq!(
            parse_jump("u@h:2").expect("jump"),
            (Some("u".into()), "h".into(), Some(2))
        );
    }
}
