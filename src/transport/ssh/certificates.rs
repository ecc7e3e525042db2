//! OpenSSH certificates: user certificates to log in with, and host certificates checked
//! against the `@cert-authority` lines of known_hosts.
//!
//! A user certificate is read from each `CertificateFile` and from `KEY-cert.pub` beside each
//! identity file, and is offered with the private key it certifies. A host certificate is
//! accepted only when it is a host certificate, signed by an authority listed for the host,
//! valid now, names the host among its principals, and carries no critical option. rpatch is
//! stricter than OpenSSH in one respect: a host certificate with no principals (valid for
//! every host to OpenSSH) is refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use russh::keys::ssh_key::certificate::CertType;
use russh::keys::ssh_key::{Certificate, HashAlg, PublicKey};

use super::known_hosts::{self, Origin};

/// A certificate file as read from disk.
#[derive(Clone)]
pub(super) enum CertFile {
    /// A parsed certificate.
    Found(Arc<Certificate>),
    /// Not there.
    Missing,
    /// Unreadable, or not a certificate (the reason, for the failure message).
    Unusable(String),
}

fn cache() -> &'static Mutex<HashMap<PathBuf, CertFile>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, CertFile>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Reads a certificate file once per process.
pub(super) fn load(path: &Path) -> CertFile {
    if let Some(found) = cache().lock().unwrap_or_else(|p| p.into_inner()).get(path) {
        return found.clone();
    }
    let loaded = match std::fs::read_to_string(path) {
        Ok(text) => match Certificate::from_openssh(text.trim()) {
            Ok(cert) => CertFile::Found(Arc::new(cert)),
            Err(error) => CertFile::Unusable(format!(
                "{}: not an OpenSSH certificate ({error})",
                path.display()
            )),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => CertFile::Missing,
        Err(error) => CertFile::Unusable(format!("{}: {error}", path.display())),
    };
    cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(path.to_path_buf(), loaded.clone());
    loaded
}

/// `KEY-cert.pub`: where OpenSSH looks for the certificate of identity file `KEY`.
pub(super) fn beside(identity: &Path) -> PathBuf {
    let mut name = identity.as_os_str().to_os_string();
    name.push("-cert.pub");
    PathBuf::from(name)
}

/// Seconds since the epoch, now.
pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why a certificate is outside its validity period at `now`, if it is.
pub(super) fn validity_problem(cert: &Certificate, now: u64) -> Option<String> {
    if now < cert.valid_after() {
        Some(format!(
            "not valid before {}",
            timestamp(cert.valid_after())
        ))
    } else if now >= cert.valid_before() {
        Some(format!("expired at {}", timestamp(cert.valid_before())))
    } else {
        None
    }
}

fn timestamp(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(
            || seconds.to_string(),
            |t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
        )
}

/// The user certificates to offer with the key at `identity`: `CertificateFile`s certifying
/// that key, then `identity-cert.pub`. Unusable files and mismatches become notes.
pub(super) fn user_certificates_for(
    identity: &Path,
    key: &PublicKey,
    configured: &[PathBuf],
    notes: &mut Vec<String>,
) -> Vec<(PathBuf, Arc<Certificate>)> {
    let mut found: Vec<(PathBuf, Arc<Certificate>)> = Vec::new();
    let beside = beside(identity);
    let candidates = configured
        .iter()
        .map(|p| (p, true))
        .chain(std::iter::once((&beside, false)));
    for (path, explicit) in candidates {
        match load(path) {
            CertFile::Found(cert) => {
                if cert.public_key() != key.key_data() {
                    // A CertificateFile for another identity; `KEY-cert.pub` must match.
                    if !explicit {
                        notes.push(format!(
                            "{}: certifies another key than {}",
                            path.display(),
                            identity.display()
                        ));
                    }
                    continue;
                }
                if let Some(problem) = user_certificate_problem(&cert) {
                    notes.push(format!("certificate {}: {problem}", path.display()));
                    continue;
                }
                if !found.iter().any(|(_, c)| c == &cert) {
                    found.push((path.clone(), cert));
                }
            }
            CertFile::Missing if explicit => {
                notes.push(format!("{}: no such certificate file", path.display()));
            }
            CertFile::Missing => {}
            CertFile::Unusable(reason) => notes.push(reason),
        }
    }
    found
}

/// Why a user certificate cannot be used now (wrong type, outside its validity period).
pub(super) fn user_certificate_problem(cert: &Certificate) -> Option<String> {
    if cert.cert_type() != CertType::User {
        return Some("is a host certificate, not a user certificate".into());
    }
    validity_problem(cert, now())
}

/// A certificate authority trusted for some hosts: an `@cert-authority` known_hosts line.
#[derive(Debug, Clone)]
pub struct Authority {
    /// Where it is listed.
    pub origin: Origin,
    /// The CA's public key.
    pub key: PublicKey,
}

/// Checks a host certificate presented by `host` against the authorities listed for it and
/// the `@revoked` keys. `Ok` names the authority line that vouched for it.
pub(super) fn check_host_certificate(
    cert: &Certificate,
    host: &str,
    authorities: &[Authority],
    revoked: &[(Origin, PublicKey)],
    now: u64,
) -> Result<Origin, String> {
    let ca = PublicKey::new(cert.signature_key().clone(), "");
    let shown_ca = format!(
        "{} CA {}",
        known_hosts::key_type(&ca),
        ca.fingerprint(HashAlg::Sha256)
    );
    for (origin, key) in revoked {
        if key.key_data() == cert.signature_key() {
            return Err(format!("its {shown_ca} is marked @revoked at {origin}"));
        }
        if key.key_data() == cert.public_key() {
            return Err(format!("its key is marked @revoked at {origin}"));
        }
    }
    let Some(authority) = authorities
        .iter()
        .find(|a| a.key.key_data() == cert.signature_key())
    else {
        return Err(if authorities.is_empty() {
            format!("it is signed by {shown_ca}, and no @cert-authority line covers this host")
        } else {
            format!(
                "it is signed by {shown_ca}, which is not among the authorities listed for \
                 this host ({})",
                authorities
                    .iter()
                    .map(|a| a.origin.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    };
    if cert.verify_signature().is_err() {
        return Err(format!("its signature by {shown_ca} does not verify"));
    }
    if cert.cert_type() != CertType::Host {
        return Err("it is a user certificate, not a host certificate".into());
    }
    if let Some(problem) = validity_problem(cert, now) {
        return Err(format!("it is {problem}"));
    }
    if cert.valid_principals().is_empty() {
        return Err("it names no principals (rpatch requires the host name among them)".into());
    }
    if !cert.valid_principals().iter().any(|p| p == host) {
        return Err(format!(
            "its principals ({}) do not include `{host}`",
            cert.valid_principals().join(", ")
        ));
    }
    if let Some((name, _)) = cert.critical_options().iter().next() {
        return Err(format!("it carries the unknown critical option `{name}`"));
    }
    Ok(authority.origin.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use russh::keys::ssh_key::certificate::Builder;
    use russh::keys::ssh_key::private::Ed25519Keypair;
    use russh::keys::ssh_key::PrivateKey;
    use std::path::PathBuf;

    const NOW: u64 = 1_800_000_000;

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
    }

    fn host_cert(ca: &PrivateKey, principals: &[&str], after: u64, before: u64) -> Certificate {
        let mut builder = Builder::new(
            [9u8; 16].to_vec(),
            key(1).public_key().key_data().clone(),
            after,
            before,
        )
        .expect("builder");
        builder.cert_type(CertType::Host).expect("type");
        builder.key_id("web01").expect("id");
        if principals.is_empty() {
            builder.all_principals_valid().expect("all");
        }
        for principal in principals {
            builder.valid_principal(*principal).expect("principal");
        }
        builder.sign(ca).expect("sign")
    }

    fn listed(ca: &PrivateKey) -> Vec<Authority> {
        vec![Authority {
            origin: Origin {
                path: PathBuf::from("known_hosts"),
                line: 3,
            },
            key: ca.public_key().clone(),
        }]
    }

    #[test]
    fn a_valid_host_certificate_names_its_authority_line() {
        let ca = key(2);
        let cert = host_cert(&ca, &["web01", "10.0.0.5"], NOW - 60, NOW + 60);
        let origin =
            check_host_certificate(&cert, "10.0.0.5", &listed(&ca), &[], NOW).expect("valid");
        assert_eq!(origin.line, 3);
    }

    #[test]
    fn expired_future_foreign_unlisted_and_revoked_certificates_are_refused() {
        let ca = key(2);
        let check = |cert: &Certificate,
                     authorities: &[Authority],
                     revoked: &[(Origin, PublicKey)]| {
            check_host_certificate(cert, "web01", authorities, revoked, NOW).expect_err("refused")
        };
        let expired = host_cert(&ca, &["web01"], NOW - 120, NOW - 60);
        assert!(check(&expired, &listed(&ca), &[]).contains("expired at"));
        let future = host_cert(&ca, &["web01"], NOW + 60, NOW + 120);
        assert!(check(&future, &listed(&ca), &[]).contains("not valid before"));
        let other = host_cert(&ca, &["db01"], NOW - 60, NOW + 60);
        assert!(check(&other, &listed(&ca), &[]).contains("do not include `web01`"));
        let anyone = host_cert(&ca, &[], NOW - 60, NOW + 60);
        assert!(check(&anyone, &listed(&ca), &[]).contains("names no principals"));
        let valid = host_cert(&ca, &["web01"], NOW - 60, NOW + 60);
        assert!(check(&valid, &listed(&key(3)), &[]).contains("not among the authorities"));
        assert!(check(&valid, &[], &[]).contains("no @cert-authority line"));
        let revoked = [(listed(&ca)[0].origin.clone(), ca.public_key().clone())];
        assert!(check(&valid, &listed(&ca), &revoked).contains("@revoked"));
    }

    #[test]
    fn key_cert_pub_sits_beside_the_key() {
        assert_eq!(
            beside(Path::new("/home/u/.ssh/id_ed25519")),
            PathBuf::from("/home/u/.ssh/id_ed25519-cert.pub")
        );
    }
}
