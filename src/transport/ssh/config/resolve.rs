//! Evaluating a parsed configuration for one destination as `ssh` does: in file order, first
//! value wins (IdentityFile accumulates), `Host` and `Match` decide which lines apply, an
//! `Include` is conditional on its enclosing block, and a second (final) pass when a
//! `Match final`/`canonical` asks for one, after `HostName` has been applied.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Mutex;

use super::keywords::{self, Setting};
use super::matching::{host_patterns_match, hostname_match, pattern_list_match};
use super::parse::{Attribute, Criterion, Line, Loc};
use super::tokens::{self, LocalFacts, Tokens};
use super::{ConfigError, HostConfig, SshConfig};

/// Options as they accumulate during evaluation (OpenSSH's `Options`, for what rpatch reads).
#[derive(Debug, Default, Clone)]
pub(super) struct State {
    hostname: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    identity_files: Vec<String>,
    certificate_files: Vec<String>,
    identities_only: Option<bool>,
    /// ProxyJump as written (`none` included).
    jump: Option<String>,
    /// ProxyCommand as written (`none` included, and set to `none` by a ProxyJump).
    proxy_command: Option<String>,
    host_key_alias: Option<String>,
    user_known_hosts: Option<Vec<String>>,
    global_known_hosts: Option<Vec<String>>,
    strict: Option<String>,
    connect_timeout: Option<Option<u64>>,
    server_alive_interval: Option<Option<u64>>,
    server_alive_count_max: Option<u64>,
    ignore_unknown: Option<String>,
    canonicalize: Option<String>,
    canonical_domains: Option<Vec<String>>,
    canonicalize_max_dots: Option<u32>,
    canonicalize_fallback_local: Option<bool>,
}

impl State {
    /// Applies one setting, first value wins.
    pub(super) fn apply(
        &mut self,
        setting: &Setting,
        loc: Option<&Loc>,
    ) -> Result<(), ConfigError> {
        fn first<T: Clone>(slot: &mut Option<T>, value: &T) {
            if slot.is_none() {
                *slot = Some(value.clone());
            }
        }
        match setting {
            Setting::HostName(v) => first(&mut self.hostname, v),
            Setting::User(v) => first(&mut self.user, v),
            Setting::Port(v) => first(&mut self.port, v),
            Setting::IdentityFile(v) => {
                if !self.identity_files.contains(v) {
                    self.identity_files.push(v.clone());
                }
            }
            // Certificates accumulate like identities.
            // `none` too, as OpenSSH 9.2 keeps it (a file of that name, normally absent).
            Setting::CertificateFile(v) => {
                if !self.certificate_files.contains(v) {
                    self.certificate_files.push(v.clone());
                }
            }
            Setting::IdentitiesOnly(v) => first(&mut self.identities_only, v),
            // As OpenSSH 9.2 behaves (checked with `ssh -G`): a ProxyJump applies only if
            // neither came first, and a real one also sets ProxyCommand to `none`; a
            // ProxyCommand is first-wins on its own, so `ProxyJump none` does not block it.
            Setting::ProxyJump(v) => {
                if self.jump.is_none() && self.proxy_command.is_none() {
                    self.jump = Some(v.clone());
                    if !v.eq_ignore_ascii_case("none") {
                        self.proxy_command = Some("none".into());
                    }
                }
            }
            Setting::ProxyCommand(v) => first(&mut self.proxy_command, v),
            Setting::HostKeyAlias(v) => first(&mut self.host_key_alias, v),
            Setting::UserKnownHostsFile(v) => first(&mut self.user_known_hosts, v),
            Setting::GlobalKnownHostsFile(v) => first(&mut self.global_known_hosts, v),
            Setting::StrictHostKeyChecking(v) => first(&mut self.strict, v),
            Setting::ConnectTimeout(v) => first(&mut self.connect_timeout, v),
            Setting::ServerAliveInterval(v) => first(&mut self.server_alive_interval, v),
            Setting::ServerAliveCountMax(v) => first(&mut self.server_alive_count_max, v),
            Setting::IgnoreUnknown(v) => first(&mut self.ignore_unknown, v),
            Setting::CanonicalizeHostname(v) => first(&mut self.canonicalize, v),
            Setting::CanonicalDomains(v) => first(&mut self.canonical_domains, v),
            Setting::CanonicalizeMaxDots(v) => first(&mut self.canonicalize_max_dots, v),
            Setting::CanonicalizeFallbackLocal(v) => {
                first(&mut self.canonicalize_fallback_local, v)
            }
            Setting::Ignored => {}
            Setting::Refused { keyword, value } => {
                let message = format!(
                    "`{keyword} {value}` applies to this host, and rpatch cannot connect that way \
                     (it would change where or how the connection is made)"
                );
                return Err(match loc {
                    Some(loc) => loc.error(message),
                    None => ConfigError {
                        path: "command line".into(),
                        line: 0,
                        message,
                    },
                });
            }
        }
        Ok(())
    }
}

/// One pass's fixed inputs.
struct Pass<'a> {
    /// What `Host` patterns match: the alias, or in the final pass the final host name.
    host: &'a str,
    /// The alias as given.
    original: &'a str,
    final_pass: bool,
    local: &'a LocalFacts,
    exec_cache: &'a Mutex<HashMap<String, bool>>,
}

impl SshConfig {
    /// Resolves `alias` with `preset` options applied first (as `ssh -o`/`-l`/`-p` are).
    pub(super) fn evaluate(
        &self,
        alias: &str,
        preset: &[Setting],
        local: &LocalFacts,
    ) -> Result<HostConfig, ConfigError> {
        let mut state = State::default();
        for setting in preset {
            state.apply(setting, None)?;
        }
        let mut pass = Pass {
            host: alias,
            original: alias,
            final_pass: false,
            local,
            exec_cache: &self.exec_cache,
        };
        for file in &self.files {
            let mut active = true;
            walk(file, &mut state, &mut active, false, &pass)?;
        }
        let mut host = match &state.hostname {
            Some(hostname) => expand_hostname(hostname, alias, &self.files)?,
            None => alias.to_string(),
        };
        // As ssh.c: a name is lower-cased, an address written in any form getaddrinfo takes
        // numerically (`127.1`, `0x7f.0.0.1`, `0:0::1`) becomes its canonical text.
        match numeric_address(&host) {
            Some(canonical) if !canonical.eq_ignore_ascii_case(&host) => host = canonical,
            Some(_) => {}
            None if address_like(&host) => {}
            None => host = host.to_ascii_lowercase(),
        }
        let canonicalize = state.canonicalize.clone().unwrap_or_else(|| "no".into());
        if canonicalize != "no" && numeric_address(&host).is_none() && !address_like(&host) {
            canonicalize_hostname(&mut host, &state, &canonicalize)?;
        }
        // CanonicalizeHostname asks for the final pass too (ssh.c).
        if self.wants_final || canonicalize != "no" {
            state.hostname = Some(host.clone());
            pass.host = &host;
            pass.final_pass = true;
            for file in &self.files {
                let mut active = true;
                walk(file, &mut state, &mut active, false, &pass)?;
            }
        }
        finish(alias, host, state, local)
    }
}

/// OpenSSH's `resolve_canonicalize` for a name: unless a ProxyCommand or ProxyJump will
/// resolve it (and `CanonicalizeHostname` is not `always`), a name ending in `.`, or one with at
/// most `CanonicalizeMaxDots` dots tried with each of `CanonicalDomains` in turn, becomes the
/// first that resolves; when none does, the name stays as it is, or with
/// `CanonicalizeFallbackLocal no` that is an error.
fn canonicalize_hostname(host: &mut String, state: &State, mode: &str) -> Result<(), ConfigError> {
    let unset_or_none =
        |v: &Option<String>| v.as_deref().is_none_or(|v| v.eq_ignore_ascii_case("none"));
    let direct = unset_or_none(&state.proxy_command) && unset_or_none(&state.jump);
    if !direct && mode != "always" {
        return Ok(());
    }
    let candidates: Vec<String> = if host.ends_with('.') {
        vec![host.clone()]
    } else if host.matches('.').count() as u32 > state.canonicalize_max_dots.unwrap_or(1) {
        return Ok(());
    } else {
        state
            .canonical_domains
            .iter()
            .flatten()
            .take_while(|d| !d.eq_ignore_ascii_case("none"))
            .map(|domain| format!("{host}.{domain}."))
            .collect()
    };
    for candidate in candidates {
        if resolves(&candidate) {
            *host = candidate.trim_end_matches('.').to_string();
            return Ok(());
        }
    }
    if state.canonicalize_fallback_local == Some(false) {
        return Err(ConfigError {
            path: format!("ssh config for `{host}`"),
            line: 0,
            message: format!(
                "could not resolve host `{host}` in any of CanonicalDomains, and \
                 CanonicalizeFallbackLocal is no"
            ),
        });
    }
    Ok(())
}

/// Whether `name` resolves (getaddrinfo through the system resolver), cached per name for
/// the process; the lookup lets other tasks run when called from the runtime.
fn resolves(name: &str) -> bool {
    use std::net::ToSocketAddrs;
    static CACHE: std::sync::OnceLock<Mutex<HashMap<String, bool>>> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(&known) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
        return known;
    }
    let lookup = || {
        (name, 22)
            .to_socket_addrs()
            .is_ok_and(|mut a| a.next().is_some())
    };
    let found = match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(lookup)
        }
        _ => lookup(),
    };
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name.to_string(), found);
    found
}

/// OpenSSH's `is_addr_fast`: looks like an address (a `%` or `:`, or only digits and dots).
fn address_like(host: &str) -> bool {
    host.contains(['%', ':']) || host.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The canonical text of `host` when getaddrinfo reads it as a numeric address (IPv4 in every
/// `inet_aton` form, IPv6 as `inet_ntop` prints it); `None` for a name.
pub(super) fn numeric_address(host: &str) -> Option<String> {
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        return Some(v6.to_string());
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let numbers: Vec<u64> = parts
        .iter()
        .map(|part| {
            let (digits, radix) = match part.strip_prefix("0x").or_else(|| part.strip_prefix("0X"))
            {
                Some(hex) => (hex, 16),
                None if part.len() > 1 && part.starts_with('0') => (&part[1..], 8),
                None => (*part, 10),
            };
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            u64::from_str_radix(digits, radix).ok()
        })
        .collect::<Option<_>>()?;
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|n| *n > 255) {
        return None;
    }
    let room = 8 * (4 - leading.len() as u32);
    if *last >= 1u64 << room {
        return None;
    }
    let mut value: u64 = 0;
    for (i, n) in leading.iter().enumerate() {
        value |= n << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from((value | last) as u32).to_string())
}

/// `HostName` with `%h` (and `%%`) expanded; any other token is an error.
fn expand_hostname(
    hostname: &str,
    alias: &str,
    files: &[Vec<Line>],
) -> Result<String, ConfigError> {
    let tokens = Tokens {
        host: alias.to_string(),
        ..Tokens::default()
    };
    tokens
        .expand(hostname, tokens::HOSTNAME_TOKENS)
        .map_err(|message| {
            let loc = find_hostname_line(files, hostname);
            ConfigError {
                path: loc.as_ref().map(|l| l.path.to_string()).unwrap_or_default(),
                line: loc.map(|l| l.line).unwrap_or(0),
                message: format!("HostName `{hostname}`: {message}"),
            }
        })
}

/// The first line setting this HostName, for error messages.
fn find_hostname_line(files: &[Vec<Line>], value: &str) -> Option<Loc> {
    files.iter().flatten().find_map(|line| match line {
        Line::Option(Setting::HostName(v), loc) if v == value => Some(loc.clone()),
        Line::Include(inner) => find_hostname_line(inner, value),
        _ => None,
    })
}

fn walk(
    lines: &[Line],
    state: &mut State,
    active: &mut bool,
    never: bool,
    pass: &Pass<'_>,
) -> Result<(), ConfigError> {
    for line in lines {
        match line {
            Line::Host(patterns) => {
                *active = !never && host_patterns_match(patterns, pass.host);
            }
            Line::Match(criteria, loc) => {
                *active = !never && match_criteria(criteria, state, pass, loc)?;
            }
            Line::Include(files) => {
                let outer = *active;
                for file in files {
                    *active = outer;
                    walk(file, state, active, never || !outer, pass)?;
                }
                *active = outer;
            }
            Line::Option(setting, loc) => {
                if *active {
                    state.apply(setting, Some(loc))?;
                }
            }
            Line::Unknown(keyword, loc) => {
                let lower = keyword.to_ascii_lowercase();
                let ignored = state
                    .ignore_unknown
                    .as_deref()
                    .is_some_and(|list| pattern_list_match(&lower, list, true));
                if !ignored {
                    return Err(loc.error(format!(
                        "unknown keyword `{keyword}` (OpenSSH refuses it too; `IgnoreUnknown` \
                         can list keywords for newer clients)"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// One `Match` line, as OpenSSH's `match_cfg_line`: every criterion must hold; `exec` runs
/// only while all before it held.
fn match_criteria(
    criteria: &[Criterion],
    state: &State,
    pass: &Pass<'_>,
    loc: &Loc,
) -> Result<bool, ConfigError> {
    let host = if pass.final_pass {
        state
            .hostname
            .clone()
            .unwrap_or_else(|| pass.host.to_string())
    } else {
        match &state.hostname {
            Some(hostname) => Tokens {
                host: pass.original.to_string(),
                ..Tokens::default()
            }
            .expand(hostname, tokens::HOSTNAME_TOKENS)
            .map_err(|m| loc.error(format!("HostName `{hostname}`: {m}")))?,
            None => pass.original.to_string(),
        }
    };
    let user = state
        .user
        .clone()
        .unwrap_or_else(|| pass.local.user.clone());
    let mut result = true;
    for criterion in criteria {
        let holds = match criterion.attribute {
            Attribute::All => {
                if result && criterion.negate {
                    result = false;
                }
                continue;
            }
            Attribute::Canonical | Attribute::Final => pass.final_pass,
            Attribute::Host => hostname_match(&host, &criterion.argument),
            Attribute::OriginalHost => hostname_match(pass.original, &criterion.argument),
            Attribute::User => pattern_list_match(&user, &criterion.argument, false),
            Attribute::LocalUser => {
                pattern_list_match(&pass.local.user, &criterion.argument, false)
            }
            Attribute::Exec => {
                if !result {
                    continue;
                }
                let tokens = Tokens {
                    host: host.clone(),
                    original: pass.original.to_string(),
                    port: state.port.unwrap_or(22).to_string(),
                    remote_user: user.clone(),
                    key_alias: state.host_key_alias.clone().unwrap_or_else(|| host.clone()),
                    local: pass.local.clone(),
                };
                let command = tokens
                    .expand(&criterion.argument, tokens::MATCH_EXEC_TOKENS)
                    .map_err(|m| loc.error(format!("Match exec: {m}")))?;
                run_exec(&command, pass.exec_cache).map_err(|m| loc.error(m))?
            }
        };
        if holds == criterion.negate {
            result = false;
        }
    }
    Ok(result)
}

/// Runs a `Match exec` command with the user's shell as OpenSSH does (`$SHELL -c`, stdin and
/// stdout on /dev/null): true when it exits 0. Results are cached per expanded command for
/// the life of the process, so 1000 hosts sharing `Match exec "test -f /x"` run it once.
fn run_exec(command: &str, cache: &Mutex<HashMap<String, bool>>) -> Result<bool, String> {
    if let Some(&known) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(command) {
        return Ok(known);
    }
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    let run = || {
        std::process::Command::new(&shell)
            .arg("-c")
            .arg(command)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .status()
    };
    // Hosts are resolved from async tasks: let the runtime move other tasks off this worker
    // while the command runs.
    let status = match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(run)
        }
        _ => run(),
    }
    .map_err(|e| format!("Match exec `{command}`: cannot run {shell}: {e}"))?;
    let holds = status.success();
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(command.to_string(), holds);
    Ok(holds)
}

/// Defaults, `~`/`${}`/`%` expansion and `none` handling once both passes are done.
fn finish(
    alias: &str,
    host: String,
    state: State,
    local: &LocalFacts,
) -> Result<HostConfig, ConfigError> {
    let user = state.user.clone().unwrap_or_else(|| local.user.clone());
    let port = state.port.unwrap_or(22);
    let host_key_alias = state
        .host_key_alias
        .as_ref()
        .map(|a| a.to_ascii_lowercase());
    let tokens = Tokens {
        host: host.clone(),
        original: alias.to_string(),
        port: port.to_string(),
        remote_user: user.clone(),
        key_alias: host_key_alias.clone().unwrap_or_else(|| alias.to_string()),
        local: local.clone(),
    };
    let error = |what: &str, message: String| ConfigError {
        path: format!("ssh config for `{alias}`"),
        line: 0,
        message: format!("{what}: {message}"),
    };
    let identity_files = state
        .identity_files
        .iter()
        .map(|f| {
            tokens
                .expand_path(f)
                .map_err(|m| error(&format!("IdentityFile `{f}`"), m))
        })
        .collect::<Result<Vec<PathBuf>, _>>()?;
    let certificate_files = state
        .certificate_files
        .iter()
        .map(|f| {
            tokens
                .expand_path(f)
                .map_err(|m| error(&format!("CertificateFile `{f}`"), m))
        })
        .collect::<Result<Vec<PathBuf>, _>>()?;
    let files = |list: &Option<Vec<String>>, defaults: &[&str], expand: bool| {
        let list: Vec<String> = match list {
            Some(list) => list.clone(),
            None => defaults.iter().map(|d| d.to_string()).collect(),
        };
        if list.len() == 1 && list[0].eq_ignore_ascii_case("none") {
            return Ok(Vec::new());
        }
        list.iter()
            .map(|f| {
                if expand {
                    tokens
                        .expand_path(f)
                        .map_err(|m| error(&format!("known hosts file `{f}`"), m))
                } else {
                    Ok(PathBuf::from(f))
                }
            })
            .collect::<Result<Vec<PathBuf>, ConfigError>>()
    };
    let user_known_hosts_files = files(
        &state.user_known_hosts,
        &["~/.ssh/known_hosts", "~/.ssh/known_hosts2"],
        true,
    )?;
    let global_known_hosts_files = files(
        &state.global_known_hosts,
        &["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"],
        false,
    )?;
    let proxy_jump = state
        .jump
        .clone()
        .filter(|j| !j.eq_ignore_ascii_case("none"));
    let proxy_command = match state.proxy_command.as_deref() {
        Some(command) if !command.eq_ignore_ascii_case("none") && proxy_jump.is_none() => Some(
            tokens
                .expand(command, tokens::PROXY_COMMAND_TOKENS)
                .map_err(|m| error("ProxyCommand", m))?,
        ),
        _ => None,
    };
    if let Some(spec) = &proxy_jump {
        // OpenSSH's own check: a last hop that is this very destination.
        let last = spec.rsplit(',').next().unwrap_or(spec);
        let hop = keywords::parse_jump_hop(last).map_err(|m| error("ProxyJump", m))?;
        if hop.host == host
            && hop.port.unwrap_or(22) == port
            && hop.user.as_deref().unwrap_or(&user) == user
        {
            return Err(error("ProxyJump", format!("jump host loop via `{last}`")));
        }
    }
    Ok(HostConfig {
        alias: alias.to_string(),
        hostname: host,
        user,
        user_set: state.user.is_some(),
        port,
        identity_files,
        identity_file_specs: state.identity_files,
        certificate_files,
        identities_only: state.identities_only,
        proxy_jump,
        proxy_command,
        host_key_alias,
        user_known_hosts_files,
        user_known_hosts_set: state.user_known_hosts.is_some(),
        global_known_hosts_files,
        strict_host_key_checking: state.strict,
        connect_timeout: state.connect_timeout,
        server_alive_interval: state.server_alive_interval,
        server_alive_count_max: state.server_alive_count_max,
    })
}
