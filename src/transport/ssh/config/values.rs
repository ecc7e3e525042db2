//! The value checks OpenSSH 9.2 applies to every keyword on every line, whether the line
//! applies to the host or not, for the keywords rpatch accepts without acting on them: a bad
//! value is an error here as it is fatal there (`Compression maybe`, `Ciphers aes`).

use super::keywords::time;

/// How a keyword's value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Anything, any number of words (commands, lists, deprecated keywords).
    Any,
    /// One word, anything.
    One,
    /// `yes`/`no`/`true`/`false`, any case.
    Flag,
    /// One of these words, any case.
    Choice(&'static [&'static str]),
    /// A whole number from 0 to 2^31-1.
    Int,
    /// A time (`90`, `1m30s`) or `none`.
    Time,
    /// A comma-separated list of these names, optionally after `+`, `^` (checked) or `-`
    /// (not checked), as `Ciphers`, `MACs`, `KexAlgorithms`.
    Names(&'static [&'static str]),
    /// Key or signature algorithm names, where a `*`/`?` pattern must match one of them.
    KeyNames,
    /// `EscapeChar`: `none`, one character, or `^` and one character.
    EscapeChar,
    /// `ControlPersist`: `yes`/`no`/`true`/`false` or a time.
    ControlPersist,
    /// `TunnelDevice`: `any` or a number, optionally `:` the remote one.
    TunnelDevice,
    /// `StreamLocalBindMask`: an octal mode up to 0777.
    OctalMask,
    /// `IPQoS`: one or two DSCP names or numbers.
    IpQos,
    /// `AddKeysToAgent`: yes/no/ask/confirm, `confirm TIME`, or a time.
    AddKeysToAgent,
    /// `RekeyLimit`: `default` or a size of at least 16, optionally then a time.
    RekeyLimit,
    /// `SendEnv`: names without `=`.
    EnvNames,
    /// `SetEnv`: `NAME=VALUE` words.
    EnvAssignments,
    /// Local/remote forwarding: one or two words.
    Forward,
}

/// Cipher names OpenSSH 9.2 knows (`ssh -Q cipher`).
pub const CIPHERS: &[&str] = &[
    "3des-cbc",
    "aes128-cbc",
    "aes192-cbc",
    "aes256-cbc",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
];

/// MAC names (`ssh -Q mac`).
pub const MACS: &[&str] = &[
    "hmac-sha1",
    "hmac-sha1-96",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-md5",
    "hmac-md5-96",
    "umac-64@openssh.com",
    "umac-128@openssh.com",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha1-96-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-md5-etm@openssh.com",
    "hmac-md5-96-etm@openssh.com",
    "umac-64-etm@openssh.com",
    "umac-128-etm@openssh.com",
];

/// Key exchange names (`ssh -Q kex`).
pub const KEX: &[&str] = &[
    "diffie-hellman-group1-sha1",
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group-exchange-sha1",
    "diffie-hellman-group-exchange-sha256",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
];

/// Key and signature algorithm names (`ssh -Q key-sig`).
pub const KEY_SIGS: &[&str] = &[
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-512-cert-v01@openssh.com",
];

/// The short key type names OpenSSH also accepts (any case).
const KEY_SHORT_NAMES: &[&str] = &[
    "rsa",
    "dsa",
    "ecdsa",
    "ed25519",
    "ecdsa-sk",
    "ed25519-sk",
    "rsa-cert",
    "dsa-cert",
    "ecdsa-cert",
    "ed25519-cert",
    "ecdsa-sk-cert",
    "ed25519-sk-cert",
];

/// `LogLevel` values.
pub const LOG_LEVELS: &[&str] = &[
    "quiet", "fatal", "error", "info", "verbose", "debug", "debug1", "debug2", "debug3",
];

/// `SyslogFacility` values.
pub const FACILITIES: &[&str] = &[
    "daemon", "user", "auth", "authpriv", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// `yes`/`no` spellings.
pub const FLAG: &[&str] = &["yes", "no", "true", "false"];

/// DSCP names `IPQoS` takes.
const IPQOS: &[&str] = &[
    "af11",
    "af12",
    "af13",
    "af21",
    "af22",
    "af23",
    "af31",
    "af32",
    "af33",
    "af41",
    "af42",
    "af43",
    "cs0",
    "cs1",
    "cs2",
    "cs3",
    "cs4",
    "cs5",
    "cs6",
    "cs7",
    "ef",
    "le",
    "lowdelay",
    "throughput",
    "reliability",
];

/// Checks `args` (the split words after the keyword) as OpenSSH checks them.
pub fn check(written: &str, check: Check, args: &[String]) -> Result<(), String> {
    let bad = |what: &str| format!("bad {written} value `{}`: {what}", args.join(" "));
    let first = args.first().map(String::as_str).unwrap_or("");
    if check != Check::Any && first.is_empty() {
        return Err(format!("`{written}` needs a value"));
    }
    let most = match check {
        Check::Any | Check::EnvNames | Check::EnvAssignments => usize::MAX,
        Check::IpQos | Check::AddKeysToAgent | Check::RekeyLimit | Check::Forward => 2,
        _ => 1,
    };
    if args.len() > most {
        return Err(format!(
            "`{written}` takes {}; extra `{}` at the end of the line",
            if most == 1 {
                "one value"
            } else {
                "at most two values"
            },
            args[most..].join(" ")
        ));
    }
    let one_of = |list: &[&str], word: &str| list.iter().any(|v| v.eq_ignore_ascii_case(word));
    let ok = match check {
        Check::Any | Check::One | Check::Forward => true,
        Check::Flag => one_of(FLAG, first),
        Check::Choice(list) => one_of(list, first),
        Check::Int => first.parse::<u32>().is_ok_and(|n| n <= i32::MAX as u32),
        Check::Time => time(first).is_ok(),
        Check::Names(list) => names_valid(first, |name| list.contains(&name)),
        Check::KeyNames => names_valid(first, key_name_valid),
        Check::EscapeChar => {
            let chars: Vec<char> = first.chars().collect();
            first == "none"
                || chars.len() == 1
                || (chars.len() == 2 && chars[0] == '^' && (64..128).contains(&(chars[1] as u32)))
        }
        Check::ControlPersist => {
            matches!(first, "yes" | "no" | "true" | "false") || time(first).is_ok()
        }
        Check::TunnelDevice => {
            let tun = |s: &str| {
                s.eq_ignore_ascii_case("any")
                    || s.parse::<u32>().is_ok_and(|n| n <= 0x7fff_ffff - 2)
            };
            match first.split_once(':') {
                Some((local, remote)) => tun(local) && tun(remote),
                None => tun(first),
            }
        }
        Check::OctalMask => u32::from_str_radix(first, 8).is_ok_and(|m| m <= 0o777),
        Check::IpQos => args.iter().all(|a| {
            one_of(IPQOS, a) || parse_c_integer(a).is_some_and(|n| (0..=255).contains(&n))
        }),
        Check::AddKeysToAgent => {
            let states = ["yes", "no", "true", "false", "ask", "confirm"];
            match args.get(1) {
                Some(lifetime) => first.eq_ignore_ascii_case("confirm") && time(lifetime).is_ok(),
                None => one_of(&states, first) || time(first).is_ok(),
            }
        }
        Check::RekeyLimit => {
            let size_ok = first == "default" || scaled(first).is_some_and(|n| n == 0 || n >= 16);
            size_ok
                && args
                    .get(1)
                    .is_none_or(|t| t == "none" || t == "default" || time(t).is_ok())
        }
        Check::EnvNames => args.iter().all(|a| !a.is_empty() && !a.contains('=')),
        Check::EnvAssignments => args.iter().all(|a| a.contains('=')),
    };
    if ok {
        Ok(())
    } else {
        Err(bad(match check {
            Check::Flag => "expected yes or no",
            Check::Choice(_) => "not one of the values OpenSSH accepts",
            Check::Int => "expected a whole number",
            Check::Time => "expected seconds, e.g. 30 or 1m30s, or none",
            Check::Names(_) | Check::KeyNames => "names an algorithm OpenSSH does not know",
            _ => "OpenSSH refuses it",
        }))
    }
}

/// A comma-separated list after an optional `+`/`^`; `-` lists are not checked (OpenSSH).
fn names_valid(list: &str, known: impl Fn(&str) -> bool) -> bool {
    if list.starts_with('-') {
        return true;
    }
    let list = list.strip_prefix(['+', '^']).unwrap_or(list);
    if list.is_empty() {
        return false;
    }
    list.split(',').take_while(|n| !n.is_empty()).all(known)
}

/// A key type name, short name, or a pattern list matching one (`sshkey_names_valid2`).
fn key_name_valid(name: &str) -> bool {
    if KEY_SIGS.contains(&name) || KEY_SHORT_NAMES.iter().any(|s| s.eq_ignore_ascii_case(name)) {
        return true;
    }
    KEY_SIGS.iter().any(|known| {
        let negated = name.strip_prefix('!');
        super::matching::wildcard_match(negated.unwrap_or(name), known)
    })
}

/// `strtol(s, &end, 0)`: decimal, `0x` hex or `0` octal, the whole word.
fn parse_c_integer(s: &str) -> Option<i64> {
    let (digits, radix) = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (hex, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    i64::from_str_radix(digits, radix).ok()
}

/// `scan_scaled`: a number with an optional K/M/G/T/P/E unit.
fn scaled(s: &str) -> Option<u64> {
    let (number, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], Some(c.to_ascii_uppercase())),
        _ => (s, None),
    };
    let shift = match unit {
        None | Some('B') => 0,
        Some('K') => 10,
        Some('M') => 20,
        Some('G') => 30,
        Some('T') => 40,
        Some('P') => 50,
        Some('E') => 60,
        Some(_) => return None,
    };
    let value: f64 = number.parse().ok().filter(|v: &f64| *v >= 0.0)?;
    Some((value * (1u64 << shift) as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: Check, words: &str) -> bool {
        let args: Vec<String> = words.split(' ').map(String::from).collect();
        check("K", c, &args).is_ok()
    }

    #[test]
    fn values_are_checked_as_openssh_checks_them() {
        assert!(ok(Check::Flag, "YES") && !ok(Check::Flag, "maybe"));
        assert!(ok(Check::Int, "3") && !ok(Check::Int, "-1") && !ok(Check::Int, "3 4"));
        assert!(ok(Check::Names(CIPHERS), "+aes128-ctr,aes256-ctr"));
        assert!(ok(Check::Names(CIPHERS), "-whatever"));
        assert!(!ok(Check::Names(CIPHERS), "aes"));
        assert!(ok(Check::KeyNames, "ssh-ed25519,rsa-sha2-*") && !ok(Check::KeyNames, "nokey"));
        assert!(
            ok(Check::EscapeChar, "^A")
                && ok(Check::EscapeChar, "~")
                && !ok(Check::EscapeChar, "ab")
        );
        assert!(ok(Check::ControlPersist, "10m") && !ok(Check::ControlPersist, "YES"));
        assert!(ok(Check::TunnelDevice, "any:3") && !ok(Check::TunnelDevice, "x"));
        assert!(
            ok(Check::IpQos, "af21 cs1") && ok(Check::IpQos, "0x10") && !ok(Check::IpQos, "fast")
        );
        assert!(ok(Check::AddKeysToAgent, "confirm 5m") && !ok(Check::AddKeysToAgent, "yes 5m"));
        assert!(ok(Check::RekeyLimit, "1G 1h") && !ok(Check::RekeyLimit, "10"));
        assert!(ok(Check::EnvAssignments, "A=1 B=2") && !ok(Check::EnvAssignments, "A"));
    }
}
