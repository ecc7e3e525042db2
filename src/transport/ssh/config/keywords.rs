//! The one table of ssh_config keywords (OpenSSH 9.2's list) with rpatch's treatment of each —
//! honoured, accepted and ignored (no effect on where, as whom or through what rpatch
//! connects), or refused when it applies with a value rpatch cannot honour — and the parsing
//! and checking of each honoured keyword's value.

/// What rpatch does with a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Host`, `Match`, `Include`: shape the file itself.
    Structural,
    /// Read and acted on.
    Honoured(Key),
    /// Accepted and ignored: it does not change where, as whom or through what rpatch
    /// connects (logging, forwarding, multiplexing, algorithm lists, ...). Its value is still
    /// checked as OpenSSH checks it, on every line.
    Ignored(Check),
    /// An error when it applies to a host with a value other than the neutral ones: it would
    /// change where or how the connection is made in a way rpatch cannot honour. Its value is
    /// checked as OpenSSH checks it, on every line.
    Refused(&'static [&'static str], Check),
}

/// The honoured keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    HostName,
    User,
    Port,
    IdentityFile,
    CertificateFile,
    IdentitiesOnly,
    ProxyJump,
    ProxyCommand,
    HostKeyAlias,
    UserKnownHostsFile,
    GlobalKnownHostsFile,
    StrictHostKeyChecking,
    ConnectTimeout,
    ServerAliveInterval,
    ServerAliveCountMax,
    IgnoreUnknown,
    CanonicalizeHostname,
    CanonicalDomains,
    CanonicalizeMaxDots,
    CanonicalizeFallbackLocal,
}

use super::values::{self, Check, Check as C};
use Key as K;
use Kind::{Honoured as H, Ignored as I, Refused as R, Structural as S};

/// Every keyword OpenSSH 9.2's client accepts (lower case), and rpatch's treatment.
pub const KEYWORDS: &[(&str, Kind)] = &[
    ("host", S),
    ("match", S),
    ("include", S),
    ("hostname", H(K::HostName)),
    ("user", H(K::User)),
    ("port", H(K::Port)),
    ("identityfile", H(K::IdentityFile)),
    ("certificatefile", H(K::CertificateFile)),
    ("identityfile2", H(K::IdentityFile)),
    ("identitiesonly", H(K::IdentitiesOnly)),
    ("proxyjump", H(K::ProxyJump)),
    ("proxycommand", H(K::ProxyCommand)),
    ("hostkeyalias", H(K::HostKeyAlias)),
    ("userknownhostsfile", H(K::UserKnownHostsFile)),
    ("globalknownhostsfile", H(K::GlobalKnownHostsFile)),
    ("stricthostkeychecking", H(K::StrictHostKeyChecking)),
    ("connecttimeout", H(K::ConnectTimeout)),
    ("serveraliveinterval", H(K::ServerAliveInterval)),
    ("serveralivecountmax", H(K::ServerAliveCountMax)),
    ("ignoreunknown", H(K::IgnoreUnknown)),
    ("canonicalizehostname", H(K::CanonicalizeHostname)),
    ("canonicaldomains", H(K::CanonicalDomains)),
    ("canonicalizemaxdots", H(K::CanonicalizeMaxDots)),
    ("canonicalizefallbacklocal", H(K::CanonicalizeFallbackLocal)),
    // Change the address, route or channel of the connection: refused unless neutral.
    (
        "addressfamily",
        R(&["any"], C::Choice(&["any", "inet", "inet6"])),
    ),
    ("bindaddress", R(&[], C::One)),
    ("bindinterface", R(&[], C::One)),
    ("canonicalizepermittedcnames", R(&["none"], C::Any)),
    ("proxyusefdpass", R(&["no", "false"], C::Flag)),
    ("knownhostscommand", R(&["none"], C::Any)),
    ("revokedhostkeys", R(&["none"], C::One)),
    ("remotecommand", R(&["none"], C::Any)),
    (
        "sessiontype",
        R(&["default"], C::Choice(&["none", "subsystem", "default"])),
    ),
    // Deprecated or unsupported in OpenSSH itself (it only warns).
    ("protocol", I(C::Any)),
    ("cipher", I(C::Any)),
    ("fallbacktorsh", I(C::Any)),
    ("globalknownhostsfile2", I(C::Any)),
    ("rhostsauthentication", I(C::Any)),
    ("userknownhostsfile2", I(C::Any)),
    ("useroaming", I(C::Any)),
    ("usersh", I(C::Any)),
    ("useprivilegedport", I(C::Any)),
    ("afstokenpassing", I(C::Any)),
    ("kerberosauthentication", I(C::Any)),
    ("kerberostgtpassing", I(C::Any)),
    ("rsaauthentication", I(C::Any)),
    ("rhostsrsaauthentication", I(C::Any)),
    ("compressionlevel", I(C::Any)),
    ("dsaauthentication", I(C::Any)),
    ("skeyauthentication", I(C::Any)),
    ("tisauthentication", I(C::Any)),
    // Authentication methods and key sources: a key rpatch does not offer fails visibly.
    ("gssapiauthentication", I(C::Flag)),
    ("gssapidelegatecredentials", I(C::Flag)),
    ("smartcarddevice", I(C::Any)),
    ("pkcs11provider", I(C::One)),
    ("securitykeyprovider", I(C::One)),
    ("passwordauthentication", I(C::Flag)),
    ("kbdinteractiveauthentication", I(C::Flag)),
    ("kbdinteractivedevices", I(C::One)),
    ("challengeresponseauthentication", I(C::Flag)),
    (
        "pubkeyauthentication",
        I(C::Choice(&[
            "yes",
            "no",
            "true",
            "false",
            "unbound",
            "host-bound",
        ])),
    ),
    ("hostbasedauthentication", I(C::Flag)),
    ("hostbasedacceptedalgorithms", I(C::KeyNames)),
    ("hostbasedkeytypes", I(C::KeyNames)),
    ("pubkeyacceptedalgorithms", I(C::KeyNames)),
    ("pubkeyacceptedkeytypes", I(C::KeyNames)),
    ("preferredauthentications", I(C::One)),
    ("numberofpasswordprompts", I(C::Int)),
    ("addkeystoagent", I(C::AddKeysToAgent)),
    ("identityagent", I(C::One)),
    ("enablesshkeysign", I(C::Flag)),
    ("requiredrsasize", I(C::Int)),
    // Algorithm lists: russh negotiates from its own safe defaults.
    ("ciphers", I(C::Names(values::CIPHERS))),
    ("macs", I(C::Names(values::MACS))),
    ("kexalgorithms", I(C::Names(values::KEX))),
    ("hostkeyalgorithms", I(C::KeyNames)),
    ("casignaturealgorithms", I(C::KeyNames)),
    ("rekeylimit", I(C::RekeyLimit)),
    // Host key bookkeeping rpatch does its own (stricter) way.
    ("checkhostip", I(C::Flag)),
    (
        "verifyhostkeydns",
        I(C::Choice(&["yes", "no", "true", "false", "ask"])),
    ),
    (
        "updatehostkeys",
        I(C::Choice(&["yes", "no", "true", "false", "ask"])),
    ),
    ("hashknownhosts", I(C::Flag)),
    ("visualhostkey", I(C::Flag)),
    ("fingerprinthash", I(C::Choice(&["md5", "sha256"]))),
    ("nohostauthenticationforlocalhost", I(C::Flag)),
    // Forwarding, multiplexing, terminals, environment and local conveniences.
    ("forwardagent", I(C::One)),
    ("forwardx11", I(C::Flag)),
    ("forwardx11trusted", I(C::Flag)),
    ("forwardx11timeout", I(C::Time)),
    ("xauthlocation", I(C::One)),
    ("exitonforwardfailure", I(C::Flag)),
    ("gatewayports", I(C::Flag)),
    ("localforward", I(C::Forward)),
    ("remoteforward", I(C::Forward)),
    ("dynamicforward", I(C::One)),
    ("permitremoteopen", I(C::Any)),
    ("clearallforwardings", I(C::Flag)),
    ("streamlocalbindmask", I(C::OctalMask)),
    ("streamlocalbindunlink", I(C::Flag)),
    (
        "tunnel",
        I(C::Choice(&[
            "yes",
            "no",
            "true",
            "false",
            "ethernet",
            "point-to-point",
        ])),
    ),
    ("tunneldevice", I(C::TunnelDevice)),
    (
        "controlmaster",
        I(C::Choice(&[
            "yes", "no", "true", "false", "auto", "ask", "autoask",
        ])),
    ),
    ("controlpath", I(C::One)),
    ("controlpersist", I(C::ControlPersist)),
    ("sendenv", I(C::EnvNames)),
    ("setenv", I(C::EnvAssignments)),
    (
        "requesttty",
        I(C::Choice(&["yes", "no", "true", "false", "force", "auto"])),
    ),
    ("stdinnull", I(C::Flag)),
    ("forkafterauthentication", I(C::Flag)),
    ("localcommand", I(C::Any)),
    ("permitlocalcommand", I(C::Flag)),
    ("escapechar", I(C::EscapeChar)),
    ("enableescapecommandline", I(C::Flag)),
    ("batchmode", I(C::Flag)),
    ("connectionattempts", I(C::Int)),
    ("compression", I(C::Choice(&["yes", "no"]))),
    ("tcpkeepalive", I(C::Flag)),
    ("keepalive", I(C::Flag)),
    ("ipqos", I(C::IpQos)),
    ("loglevel", I(C::Choice(values::LOG_LEVELS))),
    ("logverbose", I(C::Any)),
    ("syslogfacility", I(C::Choice(values::FACILITIES))),
];

/// The treatment of a (lower-case) keyword; `None` when OpenSSH does not know it either.
pub fn kind(keyword: &str) -> Option<Kind> {
    KEYWORDS
        .iter()
        .find(|(name, _)| *name == keyword)
        .map(|(_, kind)| *kind)
}

/// One line's value, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// `HostName` (tokens expanded later).
    HostName(String),
    /// `User`.
    User(String),
    /// `Port`.
    Port(u16),
    /// `IdentityFile` as written (`~` and tokens expanded later).
    IdentityFile(String),
    /// `CertificateFile` as written (`~` and tokens expanded later).
    CertificateFile(String),
    /// `IdentitiesOnly`.
    IdentitiesOnly(bool),
    /// `ProxyJump`: the hops as written, or `none`.
    ProxyJump(String),
    /// `ProxyCommand`: the rest of the line, or `none`.
    ProxyCommand(String),
    /// `HostKeyAlias`.
    HostKeyAlias(String),
    /// `UserKnownHostsFile`s as written.
    UserKnownHostsFile(Vec<String>),
    /// `GlobalKnownHostsFile`s as written.
    GlobalKnownHostsFile(Vec<String>),
    /// `StrictHostKeyChecking`, lower case.
    StrictHostKeyChecking(String),
    /// `ConnectTimeout` seconds (`None` for `none`).
    ConnectTimeout(Option<u64>),
    /// `ServerAliveInterval` seconds (`None` for `none`).
    ServerAliveInterval(Option<u64>),
    /// `ServerAliveCountMax`.
    ServerAliveCountMax(u64),
    /// `IgnoreUnknown` patterns.
    IgnoreUnknown(String),
    /// `CanonicalizeHostname`: `no`, `yes` or `always`.
    CanonicalizeHostname(String),
    /// `CanonicalDomains`, lower case, without a trailing dot (`none` kept as written).
    CanonicalDomains(Vec<String>),
    /// `CanonicalizeMaxDots`.
    CanonicalizeMaxDots(u32),
    /// `CanonicalizeFallbackLocal`.
    CanonicalizeFallbackLocal(bool),
    /// An accepted keyword rpatch ignores.
    Ignored,
    /// A refused keyword with a non-neutral value: an error once it applies to a host.
    Refused {
        /// The keyword as written.
        keyword: String,
        /// Its value.
        value: String,
    },
}

/// Checks one option's value. `args` are the split arguments, `rest` the raw text after the
/// keyword (ProxyCommand and ProxyJump take it whole, as OpenSSH).
pub fn parse_setting(
    written: &str,
    kind: Kind,
    args: &[String],
    rest: &str,
) -> Result<Setting, String> {
    let first = || {
        args.first()
            .filter(|a| !a.is_empty())
            .cloned()
            .ok_or_else(|| format!("`{written}` needs a value"))
    };
    let single = || {
        if args.len() > 1 {
            return Err(format!(
                "`{written}` takes one value; extra `{}` at the end of the line",
                args[1..].join(" ")
            ));
        }
        first()
    };
    let key = match kind {
        Kind::Honoured(key) => key,
        Kind::Structural => return Ok(Setting::Ignored),
        Kind::Ignored(check) => {
            values::check(written, check, args)?;
            return Ok(Setting::Ignored);
        }
        Kind::Refused(neutral, check) => {
            values::check(written, check, args)?;
            let value = args.join(" ");
            if neutral.iter().any(|n| n.eq_ignore_ascii_case(&value)) {
                return Ok(Setting::Ignored);
            }
            return Ok(Setting::Refused {
                keyword: written.to_string(),
                value,
            });
        }
    };
    Ok(match key {
        K::HostName => Setting::HostName(single()?),
        K::User => Setting::User(single()?),
        K::Port => {
            let value = single()?;
            match port_number(&value) {
                Some(port) if port > 0 => Setting::Port(port),
                _ => {
                    return Err(format!(
                        "bad port `{value}`: expected 1 to 65535 or a tcp service name"
                    ))
                }
            }
        }
        K::IdentityFile => Setting::IdentityFile(single()?),
        K::CertificateFile => Setting::CertificateFile(single()?),
        K::IdentitiesOnly => Setting::IdentitiesOnly(flag(&single()?)?),
        K::ProxyJump => {
            let value = rest.trim().to_string();
            check_jump_spec(&value)?;
            Setting::ProxyJump(value)
        }
        K::ProxyCommand => {
            let value = rest.trim().to_string();
            if value.is_empty() {
                return Err("`ProxyCommand` needs a command or `none`".into());
            }
            if value == "-" {
                return Err(
                    "`ProxyCommand -` (a connection on stdin/stdout) is not supported by rpatch"
                        .into(),
                );
            }
            Setting::ProxyCommand(value)
        }
        K::HostKeyAlias => Setting::HostKeyAlias(single()?),
        K::UserKnownHostsFile | K::GlobalKnownHostsFile => {
            first()?;
            if args.len() > 1 && args.iter().any(|a| a.eq_ignore_ascii_case("none")) {
                return Err(format!(
                    "`none` cannot be combined with other {written} entries"
                ));
            }
            if key == K::UserKnownHostsFile {
                Setting::UserKnownHostsFile(args.to_vec())
            } else {
                Setting::GlobalKnownHostsFile(args.to_vec())
            }
        }
        K::StrictHostKeyChecking => {
            let value = single()?.to_ascii_lowercase();
            match value.as_str() {
                "yes" | "no" | "ask" | "accept-new" | "off" | "true" | "false" => {
                    Setting::StrictHostKeyChecking(value)
                }
                _ => {
                    return Err(format!(
                    "bad StrictHostKeyChecking `{value}`: expected yes, no, ask, accept-new or off"
                ))
                }
            }
        }
        K::ConnectTimeout => Setting::ConnectTimeout(time(&single()?)?),
        K::ServerAliveInterval => Setting::ServerAliveInterval(time(&single()?)?),
        K::ServerAliveCountMax => {
            let value = single()?;
            Setting::ServerAliveCountMax(
                value
                    .parse()
                    .map_err(|_| format!("bad {written} `{value}`: expected a whole number"))?,
            )
        }
        K::IgnoreUnknown => Setting::IgnoreUnknown(single()?),
        K::CanonicalizeHostname => {
            Setting::CanonicalizeHostname(match single()?.to_ascii_lowercase().as_str() {
                "yes" | "true" => "yes".into(),
                "no" | "false" => "no".into(),
                "always" => "always".into(),
                other => {
                    return Err(format!(
                        "bad CanonicalizeHostname `{other}`: expected yes, no or always"
                    ))
                }
            })
        }
        K::CanonicalDomains => {
            first()?;
            let mut domains = Vec::new();
            for (i, arg) in args.iter().enumerate() {
                if arg.eq_ignore_ascii_case("none") && (i > 0 || args.len() > 1) {
                    return Err("`none` must be the only CanonicalDomains entry".into());
                }
                domains.push(valid_domain(arg)?);
            }
            Setting::CanonicalDomains(domains)
        }
        K::CanonicalizeMaxDots => {
            let value = single()?;
            Setting::CanonicalizeMaxDots(
                value
                    .parse()
                    .ok()
                    .filter(|n| *n <= i32::MAX as u32)
                    .ok_or_else(|| format!("bad {written} `{value}`: expected a whole number"))?,
            )
        }
        K::CanonicalizeFallbackLocal => Setting::CanonicalizeFallbackLocal(flag(&single()?)?),
    })
}

/// OpenSSH's `valid_domain`: letters, digits, `-`, `_` and single dots, starting with a letter
/// or digit; lower-cased, a trailing dot dropped.
fn valid_domain(name: &str) -> Result<String, String> {
    let bad = |why: &str| format!("domain name `{name}` {why}");
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(bad("starts with an invalid character"));
    }
    if name.contains("..") {
        return Err(bad("contains consecutive separators"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(bad("contains invalid characters"));
    }
    Ok(name.trim_end_matches('.').to_ascii_lowercase())
}

/// `yes`/`no` (and `true`/`false`), as OpenSSH's `parse_flag`.
fn flag(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!("expected yes or no, found `{value}`")),
    }
}

/// OpenSSH's `convtime` (`90`, `1m30s`, `2h`, ...) or `none`.
pub(super) fn time(value: &str) -> Result<Option<u64>, String> {
    if value == "none" {
        return Ok(None);
    }
    let bad = || format!("bad time `{value}`: expected seconds, or e.g. 1m30s");
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in value.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604800,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = total.saturating_add(n.saturating_mul(unit));
        digits.clear();
    }
    if !digits.is_empty() {
        total = total.saturating_add(digits.parse::<u64>().map_err(|_| bad())?);
    } else if total == 0 && !value.ends_with(['s', 'S', 'm', 'M', 'h', 'H', 'd', 'D', 'w', 'W']) {
        return Err(bad());
    }
    if total > i32::MAX as u64 {
        return Err(bad());
    }
    Ok(Some(total))
}

/// OpenSSH's `a2port`: a decimal number up to 65535, else a tcp service name from
/// `/etc/services` (`Port ssh` is 22).
pub fn port_number(text: &str) -> Option<u16> {
    if let Ok(port) = text.parse::<u16>() {
        return Some(port);
    }
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') {
        return None;
    }
    let services = std::fs::read_to_string("/etc/services").ok()?;
    services.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let name = words.next()?;
        let (port, protocol) = words.next()?.split_once('/')?;
        (protocol == "tcp" && (name == text || words.any(|alias| alias == text)))
            .then(|| port.parse().ok())
            .flatten()
    })
}

/// One ProxyJump hop: `[user@]host[:port]` (with `[v6]:port`) or `ssh://[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHop {
    /// User given in the hop.
    pub user: Option<String>,
    /// Host (an alias looked up in ssh_config).
    pub host: String,
    /// Port given in the hop.
    pub port: Option<u16>,
}

/// Checks every hop of a ProxyJump value (as OpenSSH checks them all, active or not).
fn check_jump_spec(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("`ProxyJump` needs hosts or `none`".into());
    }
    if spec.eq_ignore_ascii_case("none") {
        return Ok(());
    }
    for hop in spec.split(',') {
        parse_jump_hop(hop)?;
    }
    Ok(())
}

/// Parses one ProxyJump hop.
pub fn parse_jump_hop(entry: &str) -> Result<JumpHop, String> {
    let bad = |why: &str| format!("bad ProxyJump hop `{entry}`: {why}");
    let (text, uri) = match entry.strip_prefix("ssh://") {
        Some(rest) => (rest.trim_end_matches('/'), true),
        None => (entry, false),
    };
    let (user, rest) = match text.rsplit_once('@') {
        Some((user, rest)) if !user.is_empty() => (Some(user.to_string()), rest),
        Some(_) => return Err(bad("empty user")),
        None => (None, text),
    };
    let port = |p: &str| match port_number(p) {
        Some(port) if port > 0 => Ok(port),
        _ => Err(bad(&format!("bad port `{p}`"))),
    };
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let Some((host, tail)) = inner.split_once(']') else {
            return Err(bad("no closing `]`"));
        };
        match tail.strip_prefix(':') {
            Some(p) => (host, Some(port(p)?)),
            None if tail.is_empty() => (host, None),
            None => return Err(bad("unexpected text after `]`")),
        }
    } else if uri || rest.matches(':').count() == 1 {
        match rest.rsplit_once(':') {
            Some((host, p)) => (host, Some(port(p)?)),
            None => (rest, None),
        }
    } else {
        (rest, None)
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad("no host"));
    }
    Ok(JumpHop {
        user,
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(keyword: &str, args: &[&str]) -> Result<Setting, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let kind = kind(keyword).ok_or("unknown")?;
        parse_setting(keyword, kind, &args, &args.join(" "))
    }

    #[test]
    fn every_keyword_appears_once() {
        let mut names: Vec<&str> = KEYWORDS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn bad_values_of_honoured_keywords_are_errors() {
        assert!(parse("port", &["0"]).is_err());
        assert!(parse("port", &["22", "23"]).is_err());
        assert_eq!(parse("port", &["ssh"]), Ok(Setting::Port(22)));
        assert_eq!(parse("port", &["022"]), Ok(Setting::Port(22)));
        assert!(parse("port", &["nosuchservice"]).is_err());
        assert!(parse("identitiesonly", &["maybe"]).is_err());
        assert!(parse("stricthostkeychecking", &["sometimes"]).is_err());
        assert!(parse("connecttimeout", &["10x"]).is_err());
        assert!(parse("proxyjump", &["a:b"]).is_err());
        assert!(parse("userknownhostsfile", &["none", "/x"]).is_err());
        assert_eq!(
            parse("connecttimeout", &["1m30s"]),
            Ok(Setting::ConnectTimeout(Some(90)))
        );
        assert_eq!(
            parse("serveraliveinterval", &["none"]),
            Ok(Setting::ServerAliveInterval(None))
        );
    }

    #[test]
    fn refused_keywords_are_neutral_only_with_their_default_value() {
        assert_eq!(
            parse("canonicalizepermittedcnames", &["none"]),
            Ok(Setting::Ignored)
        );
        assert!(matches!(
            parse("canonicalizepermittedcnames", &["*.a:*.b"]),
            Ok(Setting::Refused { .. })
        ));
        assert!(parse("canonicalizehostname", &["sometimes"]).is_err());
        assert!(parse("canonicaldomains", &["a..b"]).is_err());
        assert!(parse("canonicaldomains", &["a", "none"]).is_err());
        assert!(matches!(
            parse("bindaddress", &["10.0.0.1"]),
            Ok(Setting::Refused { .. })
        ));
        assert!(kind("nosuchoption").is_none());
    }

    #[test]
    fn jump_hops_parse_users_ports_brackets_and_uris() {
        assert_eq!(
            parse_jump_hop("u@h:2").expect("hop"),
            JumpHop {
                user: Some("u".into()),
                host: "h".into(),
                port: Some(2)
            }
        );
        assert_eq!(parse_jump_hop("[::1]:22").expect("v6").host, "::1");
        assert_eq!(parse_jump_hop("ssh://u@h:3").expect("uri").port, Some(3));
        assert!(parse_jump_hop("h:x").is_err());
        assert!(parse_jump_hop("@h").is_err());
    }
}
