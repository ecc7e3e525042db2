//! known_hosts files: looking up, verifying and recording host keys the way OpenSSH does.
//!
//! Supports plain and hashed (`|1|salt|hash`) host names, `[host]:port` entries, wildcard and
//! negated patterns, several key types per host, `@revoked` markers, `@cert-authority` lines
//! (see `certificates`), and comments. A key that differs from a recorded key of the same type
//! is a *changed* key: always refused, never overwritten. Recording only ever appends a plain
//! `host key` line; authority lines are never written or rewritten.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::{HashAlg, PublicKey};
use russh::keys::Algorithm;
use sha1::Sha1;

pub use super::certificates::Authority;
use super::config::wildcard_match;

/// What to do with a host key that is not in any known_hosts file (journaled by its
/// command-line spelling).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    /// Refuse unknown hosts (the default).
    #[default]
    Strict,
    /// Record keys of new hosts; still refuse changed keys.
    AcceptNew,
    /// Do not verify host keys at all (lab use only).
    Off,
}

impl HostKeyPolicy {
    /// Parses `strict`/`yes`, `accept-new`, `off`/`no`/`false`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "strict" | "yes" | "true" | "ask" => Some(Self::Strict),
            "accept-new" | "accept_new" => Some(Self::AcceptNew),
            "off" | "no" | "false" | "ignore" => Some(Self::Off),
            _ => None,
        }
    }

    /// The spelling used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::AcceptNew => "accept-new",
            Self::Off => "off",
        }
    }
}

/// The known_hosts files consulted for a host, in order; new keys go to the first one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KnownHosts {
    /// Files to read; the first is written by `accept-new`.
    pub files: Vec<PathBuf>,
}

/// Where a recorded key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The known_hosts file.
    pub path: PathBuf,
    /// The 1-based line number.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// The result of checking a presented host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A recorded key matches.
    Known,
    /// Nothing is recorded for this host.
    Unknown,
    /// Keys are recorded for this host, but none of the presented key's type.
    OtherTypesKnown(Vec<Origin>),
    /// A different key of the same type is recorded.
    Changed(Origin),
    /// The key is marked `@revoked`.
    Revoked(Origin),
}

/// What a known_hosts line's `@` marker makes of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    /// A host key.
    Plain,
    /// `@revoked`: never accepted.
    Revoked,
    /// `@cert-authority`: signs host certificates.
    Authority,
}

#[derive(Debug, Clone)]
struct Entry {
    origin: Origin,
    marker: Marker,
    key: PublicKey,
}

/// Serialises appends so concurrent connections never interleave or duplicate lines.
static WRITE_LOCK: Mutex<()> = Mutex::new(());

/// The name a host is recorded under: `host` on port 22, `[host]:port` otherwise.
pub fn host_key_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// `SHA256:…` as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// A short key type name for messages (`ED25519`, `ECDSA`, `RSA`).
pub fn key_type(key: &PublicKey) -> &'static str {
    match key.algorithm() {
        Algorithm::Ed25519 => "ED25519",
        Algorithm::Ecdsa { .. } => "ECDSA",
        Algorithm::Rsa { .. } => "RSA",
        _ => "other",
    }
}

impl KnownHosts {
    /// Checks `key` presented by `host:port`.
    pub fn verify(&self, host: &str, port: u16, key: &PublicKey) -> Verdict {
        let entries = self.entries_for(host, port);
        if let Some(entry) = entries
            .iter()
            .find(|e| e.marker == Marker::Revoked && e.key.key_data() == key.key_data())
        {
            return Verdict::Revoked(entry.origin.clone());
        }
        let recorded: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.marker == Marker::Plain)
            .collect();
        if recorded.iter().any(|e| e.key.key_data() == key.key_data()) {
            return Verdict::Known;
        }
        if let Some(entry) = recorded.iter().find(|e| same_type(&e.key, key)) {
            return Verdict::Changed(entry.origin.clone());
        }
        if recorded.is_empty() {
            Verdict::Unknown
        } else {
            Verdict::OtherTypesKnown(recorded.iter().map(|e| e.origin.clone()).collect())
        }
    }

    /// Key algorithms recorded for a host, most recently listed file first; used to ask the
    /// server for a key type we can verify.
    pub fn known_algorithms(&self, host: &str, port: u16) -> Vec<Algorithm> {
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for entry in self.entries_for(host, port) {
            if entry.marker != Marker::Plain {
                continue;
            }
            let algorithm = entry.key.algorithm();
            if !algorithms.contains(&algorithm) {
                algorithms.push(algorithm);
            }
        }
        algorithms
    }

    /// The `@cert-authority` keys listed for `host:port`, and every `@revoked` key that
    /// applies to it (a revoked CA or certified key refuses a certificate).
    pub fn authorities(&self, host: &str, port: u16) -> (Vec<Authority>, Vec<(Origin, PublicKey)>) {
        let mut authorities = Vec::new();
        let mut revoked = Vec::new();
        for entry in self.entries_for(host, port) {
            match entry.marker {
                Marker::Authority => authorities.push(Authority {
                    origin: entry.origin,
                    key: entry.key,
                }),
                Marker::Revoked => revoked.push((entry.origin, entry.key)),
                Marker::Plain => {}
            }
        }
        (authorities, revoked)
    }

    /// Records a new key for `host:port` in the first file, unless it is there already.
    pub fn learn(&self, host: &str, port: u16, key: &PublicKey) -> std::io::Result<PathBuf> {
        let Some(path) = self.files.first() else {
            return Err(std::io::Error::other("no known_hosts file configured"));
        };
        let _guard = WRITE_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.verify(host, port, key) == Verdict::Known {
            return Ok(path.clone());
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut bare = key.clone();
        bare.set_comment("");
        let encoded = bare.to_openssh().map_err(std::io::Error::other)?;
        let existing = std::fs::read(path).unwrap_or_default();
        let mut line = String::new();
        if !existing.is_empty() && !existing.ends_with(b"\n") {
            line.push('\n');
        }
        line.push_str(&host_key_name(host, port));
        line.push(' ');
        line.push_str(encoded.trim_end());
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        file.write_all(line.as_bytes())?;
        file.sync_data()?;
        Ok(path.clone())
    }

    fn entries_for(&self, host: &str, port: u16) -> Vec<Entry> {
        let name = host_key_name(host, port);
        let mut entries = Vec::new();
        for path in &self.files {
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            entries.extend(parse_matching(path, &text, &name));
        }
        entries
    }
}

fn same_type(a: &PublicKey, b: &PublicKey) -> bool {
    match (a.algorithm(), b.algorithm()) {
        (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }) => true,
        (x, y) => x == y,
    }
}

/// The entries of one file that apply to `name`; malformed lines are skipped, as OpenSSH does.
fn parse_matching(path: &Path, text: &str, name: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next().unwrap_or_default();
        let mut marker = Marker::Plain;
        if let Some(name) = first.strip_prefix('@') {
            marker = match name {
                "revoked" => Marker::Revoked,
                "cert-authority" => Marker::Authority,
                _ => continue,
            };
            first = match fields.next() {
                Some(field) => field,
                None => continue,
            };
        }
        let (Some(kind), Some(data)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !hosts_match(first, name) {
            continue;
        }
        let Ok(key) = PublicKey::from_openssh(&format!("{kind} {data}")) else {
            continue;
        };
        entries.push(Entry {
            origin: Origin {
                path: path.to_path_buf(),
                line: index + 1,
            },
            marker,
            key,
        });
    }
    entries
}

/// OpenSSH's host pattern list: a negated match vetoes, otherwise any positive match wins.
fn hosts_match(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(hashed) = pattern.strip_prefix("|1|") {
            if hashed_match(hashed, name) {
                matched = true;
            }
        } else if let Some(negated) = pattern.strip_prefix('!') {
            if wildcard_match(&negated.to_ascii_lowercase(), &name.to_ascii_lowercase()) {
                return false;
            }
        } else if wildcard_match(&pattern.to_ascii_lowercase(), &name.to_ascii_lowercase()) {
            matched = true;
        }
    }
    matched
}

/// `salt|hash`, both base64: HMAC-SHA1 of the name keyed by the salt.
fn hashed_match(hashed: &str, name: &str) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (engine.decode(salt), engine.decode(hash)) else {
        return false;
    };
    let Ok(mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.chain_update(name.as_bytes())
        .verify_slice(&hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPJ2oceheWSjAVrjI0COIjDnJYiJLxucc3kXYEuZr0Bj";
    const ED2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAXjLnyHaHbSeChdScd0/GMUy10IfS0eOWFTGqLzYxKi";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).expect("key")
    }

    fn file(text: &str) -> (tempfile::TempDir, KnownHosts) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, text).expect("write");
        (dir, KnownHosts { files: vec![path] })
    }

    #[test]
    fn plain_bracketed_and_port_22_names() {
        let (_dir, hosts) = file(&format!("[10.0.0.1]:2222 {ED}\nweb01,10.0.0.2 {ED}\n"));
        assert_eq!(hosts.verify("10.0.0.1", 2222, &key(ED)), Verdict::Known);
        assert_eq!(hosts.verify("10.0.0.1", 22, &key(ED)), Verdict::Unknown);
        assert_eq!(hosts.verify("10.0.0.2", 22, &key(ED)), Verdict::Known);
        assert_eq!(hosts.verify("WEB01", 22, &key(ED)), Verdict::Known);
    }

    #[test]
    fn hashed_names_match() {
        // What `ssh-keygen -H` writes for "[127.0.0.1]:2222", with a fixed salt.
        let salt = [7u8; 20];
        let mut mac = Hmac::<Sha1>::new_from_slice(&salt).expect("mac");
        mac.update(b"[127.0.0.1]:2222");
        let hash = mac.finalize().into_bytes();
        let engine = base64::engine::general_purpose::STANDARD;
        let line = format!("|1|{}|{} {ED}\n", engine.encode(salt), engine.encode(hash));
        let (_dir, hosts) = file(&line);
        assert_eq!(hosts.verify("127.0.0.1", 2222, &key(ED)), Verdict::Known);
        assert_eq!(hosts.verify("127.0.0.1", 2223, &key(ED)), Verdict::Unknown);
    }

    #[test]
    fn a_different_key_of_the_same_type_is_changed() {
        let (_dir, hosts) = file(&format!("# comment\n\nweb01 {ED}\n"));
        match hosts.verify("web01", 22, &key(ED2)) {
            Verdict::Changed(origin) => assert_eq!(origin.line, 3),
            other => panic!("expected changed, got {other:?}"),
        }
    }

    #[test]
    fn wildcards_negation_and_revocation() {
        let (_dir, hosts) = file(&format!("*.lab,!bad.lab {ED}\n@revoked * {ED2}\n"));
        assert_eq!(hosts.verify("a.lab", 22, &key(ED)), Verdict::Known);
        assert_eq!(hosts.verify("bad.lab", 22, &key(ED)), Verdict::Unknown);
        assert!(matches!(
            hosts.verify("a.lab", 22, &key(ED2)),
            Verdict::Revoked(_)
        ));
    }

    #[test]
    fn learn_appends_once_and_never_replaces() {
        let (_dir, hosts) = file(&format!("web01 {ED}"));
        hosts.learn("web02", 2200, &key(ED2)).expect("learn");
        hosts.learn("web02", 2200, &key(ED2)).expect("learn again");
        let text = std::fs::read_to_string(&hosts.files[0]).expect("read");
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("[web02]:2200 ssh-ed25519 "));
        assert_eq!(hosts.verify("web02", 2200, &key(ED2)), Verdict::Known);
        assert_eq!(
            hosts.known_algorithms("web02", 2200),
            vec![Algorithm::Ed25519]
        );
    }

    #[test]
    fn cert_authority_lines_are_authorities_never_host_keys() {
        let (_dir, hosts) = file(&format!("@cert-authority *.lab {ED}\n@revoked * {ED2}\n"));
        assert_eq!(hosts.verify("a.lab", 22, &key(ED)), Verdict::Unknown);
        assert!(hosts.known_algorithms("a.lab", 22).is_empty());
        let (authorities, revoked) = hosts.authorities("a.lab", 22);
        assert_eq!(authorities.len(), 1);
        assert_eq!(authorities[0].origin.line, 1);
        assert_eq!(revoked.len(), 1);
        assert!(hosts.authorities("a.other", 22).0.is_empty());
        // Learning appends a plain line and leaves the authority line alone.
        hosts.learn("a.lab", 22, &key(ED)).expect("learn");
        let text = std::fs::read_to_string(&hosts.files[0]).expect("read");
        assert!(
            text.starts_with(&format!("@cert-authority *.lab {ED}\n")),
            "{text}"
        );
        assert!(text.ends_with(&format!("a.lab {ED}\n")), "{text}");
        assert_eq!(hosts.verify("a.lab", 22, &key(ED)), Verdict::Known);
    }

    #[test]
    fn policy_spellings() {
        assert_eq!(
            HostKeyPolicy::parse("accept-new"),
            Some(HostKeyPolicy::AcceptNew)
        );
        assert_eq!(HostKeyPolicy::parse("False"), Some(HostKeyPolicy::Off));
        assert_eq!(HostKeyPolicy::parse("yes"), Some(HostKeyPolicy::Strict));
        assert_eq!(HostKeyPolicy::parse("maybe"), None);
    }
}
