//! Client authentication: key files, ssh-agent, and password only when configured.
//!
//! Order: configured key files that can be used without asking (unencrypted, or decrypted with
//! `RPATCH_KEY_PASSPHRASE`), each with its user certificates first (`CertificateFile`s that
//! certify it, then `KEY-cert.pub`), then agent identities, certificates included (with
//! `IdentitiesOnly`, only those matching the identity files — configured, else the default
//! `~/.ssh/id_*` — so none when those files hold no key), then encrypted keys after a prompt
//! when stdin is a terminal, then the password (password and keyboard-interactive). Keys are
//! loaded once per process and shared by every host. Passwords and passphrases are never
//! logged.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use russh::client::{AuthResult, Handle, KeyboardInteractiveAuthResponse};
use russh::keys::agent::client::AgentClient;
use russh::keys::agent::AgentIdentity;
use russh::keys::ssh_key::{self, Certificate, HashAlg, PublicKey};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
use russh::MethodKind;

use super::certificates;
use super::session::Client;
use super::target::Hop;
use crate::transport::TransportError;

/// A key file as loaded from disk.
#[derive(Clone)]
enum KeyFile {
    /// Ready to sign.
    Ready(Arc<PrivateKey>),
    /// Passphrase-protected and not yet decrypted; its public half is known.
    Encrypted(PublicKey, String),
    /// Not there (only worth mentioning when it was configured explicitly).
    Missing(String),
    /// Unreadable or not a key (the reason, for the failure message).
    Unusable(String),
}

fn key_cache() -> &'static Mutex<HashMap<PathBuf, KeyFile>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, KeyFile>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Serialises passphrase prompts so concurrent hosts ask once per key.
static PROMPT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn load_key(path: &Path) -> KeyFile {
    if let Some(found) = key_cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(path)
    {
        return found.clone();
    }
    let loaded = read_key(path);
    key_cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(path.to_path_buf(), loaded.clone());
    loaded
}

fn read_key(path: &Path) -> KeyFile {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return KeyFile::Missing(format!("{}: no such file", path.display()))
        }
        Err(error) => return KeyFile::Unusable(format!("{}: {error}", path.display())),
    };
    match russh::keys::decode_secret_key(&text, None) {
        Ok(key) => return KeyFile::Ready(Arc::new(key)),
        Err(russh::keys::Error::KeyIsEncrypted) => {}
        Err(error) => return KeyFile::Unusable(format!("{}: {error}", path.display())),
    }
    let passphrase = std::env::var("RPATCH_KEY_PASSPHRASE").ok();
    if let Some(passphrase) = passphrase.as_deref().filter(|p| !p.is_empty()) {
        if let Ok(key) = russh::keys::decode_secret_key(&text, Some(passphrase)) {
            return KeyFile::Ready(Arc::new(key));
        }
    }
    match ssh_key::PrivateKey::from_openssh(&text) {
        Ok(key) => KeyFile::Encrypted(key.public_key().clone(), text),
        // PEM-encrypted keys do not expose their public half; the agent cannot be matched.
        Err(_) => KeyFile::Unusable(format!(
            "{}: passphrase-protected (set RPATCH_KEY_PASSPHRASE or add it to ssh-agent)",
            path.display()
        )),
    }
}

/// Asks for a key's passphrase on the terminal, once per key and process.
async fn prompt_passphrase(path: &Path) -> Option<Arc<PrivateKey>> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let _turn = PROMPT.lock().await;
    if let KeyFile::Ready(key) = load_key(path) {
        return Some(key);
    }
    let KeyFile::Encrypted(_, text) = load_key(path) else {
        return None;
    };
    let prompt = format!("Enter passphrase for key '{}': ", path.display());
    let entered = tokio::task::spawn_blocking(move || rpassword::prompt_password(prompt))
        .await
        .ok()?
        .ok()?;
    let key = Arc::new(russh::keys::decode_secret_key(&text, Some(&entered)).ok()?);
    key_cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(path.to_path_buf(), KeyFile::Ready(key.clone()));
    Some(key)
}

/// What was tried, for the failure message.
#[derive(Default)]
struct Attempts {
    tried: Vec<String>,
    notes: Vec<String>,
    server_methods: Option<Vec<&'static str>>,
    /// Certificates offered already (from files or the agent).
    certificates: Vec<Certificate>,
}

impl Attempts {
    fn record(&mut self, result: &AuthResult) {
        if let AuthResult::Failure {
            remaining_methods, ..
        } = result
        {
            self.server_methods = Some(remaining_methods.iter().map(<&str>::from).collect());
        }
    }

    fn allows(&self, method: MethodKind) -> bool {
        match &self.server_methods {
            Some(methods) => methods.contains(&<&str>::from(&method)),
            None => true,
        }
    }
}

/// Authenticates `hop.user`, trying every configured method in turn.
/// `-vvv` traces which methods were tried and which one let the user in (method names and key
/// paths only, never a password or passphrase).
pub(super) async fn authenticate(
    handle: &mut Handle<Client>,
    hop: &Hop,
) -> Result<(), TransportError> {
    let mut attempts = Attempts::default();
    let result = try_methods(handle, hop, &mut attempts).await;
    match &result {
        Ok(()) => tracing::trace!(
            "{hop}: authenticated as {} by {}",
            hop.user,
            attempts.tried.last().map_or("none", String::as_str)
        ),
        Err(_) => tracing::trace!(
            "{hop}: authentication as {} failed (tried: {})",
            hop.user,
            attempts.tried.join(", ")
        ),
    }
    result
}

async fn try_methods(
    handle: &mut Handle<Client>,
    hop: &Hop,
    attempts: &mut Attempts,
) -> Result<(), TransportError> {
    let lost = |e: russh::Error| TransportError::Connect(format!("{hop}: {e}"));
    let mut tried_keys: Vec<PublicKey> = Vec::new();
    let mut encrypted: Vec<(PathBuf, PublicKey)> = Vec::new();
    let mut rsa_hash: Option<Option<HashAlg>> = None;

    let files: Vec<(PathBuf, KeyFile)> = hop
        .identity_files
        .iter()
        .map(|p| (p.clone(), load_key(p)))
        .collect();
    for (path, file) in &files {
        match file {
            KeyFile::Ready(key) => {
                if offer_certificates(handle, hop, path, key, attempts).await? {
                    return Ok(());
                }
                if !attempts.allows(MethodKind::PublicKey) {
                    break;
                }
                let hash = rsa_hash_for(handle, key.algorithm().is_rsa(), &mut rsa_hash).await;
                let result = handle
                    .authenticate_publickey(
                        hop.user.clone(),
                        PrivateKeyWithHashAlg::new(key.clone(), hash),
                    )
                    .await
                    .map_err(lost)?;
                attempts.tried.push(format!("key {}", path.display()));
                if result.success() {
                    return Ok(());
                }
                attempts.record(&result);
                tried_keys.push(key.public_key().clone());
            }
            KeyFile::Encrypted(public, _) => encrypted.push((path.clone(), public.clone())),
            KeyFile::Unusable(reason) => attempts.notes.push(reason.clone()),
            KeyFile::Missing(reason) => {
                if hop.explicit_identities {
                    attempts.notes.push(reason.clone());
                }
            }
        }
    }

    if attempts.allows(MethodKind::PublicKey) {
        // OpenSSH's IdentitiesOnly: the identity files and the certificate files configured.
        let wanted: Option<Vec<PublicKey>> = hop.identities_only.then(|| {
            files
                .iter()
                .filter_map(|(_, file)| match file {
                    KeyFile::Ready(key) => Some(key.public_key().clone()),
                    KeyFile::Encrypted(public, _) => Some(public.clone()),
                    KeyFile::Unusable(_) | KeyFile::Missing(_) => None,
                })
                .chain(
                    configured_certificates(hop)
                        .into_iter()
                        .map(|(_, cert)| PublicKey::new(cert.public_key().clone(), "")),
                )
                .collect()
        });
        if try_agent(
            handle,
            hop,
            wanted,
            &mut tried_keys,
            attempts,
            &mut rsa_hash,
        )
        .await?
        {
            return Ok(());
        }
    }

    for (path, public) in encrypted {
        if tried_keys.iter().any(|k| k.key_data() == public.key_data())
            || !attempts.allows(MethodKind::PublicKey)
        {
            continue;
        }
        let Some(key) = prompt_passphrase(&path).await else {
            attempts.notes.push(format!(
                "{}: passphrase-protected (set RPATCH_KEY_PASSPHRASE or add it to ssh-agent)",
                path.display()
            ));
            continue;
        };
        if offer_certificates(handle, hop, &path, &key, attempts).await? {
            return Ok(());
        }
        if !attempts.allows(MethodKind::PublicKey) {
            continue;
        }
        let hash = rsa_hash_for(handle, key.algorithm().is_rsa(), &mut rsa_hash).await;
        let result = handle
            .authenticate_publickey(hop.user.clone(), PrivateKeyWithHashAlg::new(key, hash))
            .await
            .map_err(lost)?;
        attempts.tried.push(format!("key {}", path.display()));
        if result.success() {
            return Ok(());
        }
        attempts.record(&result);
    }

    if let Some(password) = &hop.password {
        if attempts.allows(MethodKind::Password) {
            let result = handle
                .authenticate_password(hop.user.clone(), password.clone())
                .await
                .map_err(lost)?;
            attempts.tried.push("password".into());
            if result.success() {
                return Ok(());
            }
            attempts.record(&result);
        }
        if attempts.allows(MethodKind::KeyboardInteractive)
            && keyboard_interactive(handle, hop, password, attempts)
                .await
                .map_err(lost)?
        {
            return Ok(());
        }
    }

    Err(TransportError::Auth(failure_message(hop, attempts)))
}

/// The `CertificateFile`s that could be read (problems are reported with the key they certify).
fn configured_certificates(hop: &Hop) -> Vec<(PathBuf, Arc<Certificate>)> {
    hop.certificate_files
        .iter()
        .filter_map(|path| match certificates::load(path) {
            certificates::CertFile::Found(cert) => Some((path.clone(), cert)),
            certificates::CertFile::Missing | certificates::CertFile::Unusable(_) => None,
        })
        .collect()
}

/// Offers the user certificates of the key at `path`; `true` once one is accepted.
async fn offer_certificates(
    handle: &mut Handle<Client>,
    hop: &Hop,
    path: &Path,
    key: &Arc<PrivateKey>,
    attempts: &mut Attempts,
) -> Result<bool, TransportError> {
    let found = certificates::user_certificates_for(
        path,
        key.public_key(),
        &hop.certificate_files,
        &mut attempts.notes,
    );
    for (cert_path, cert) in found {
        if !attempts.allows(MethodKind::PublicKey) || attempts.certificates.contains(&cert) {
            continue;
        }
        let result = handle
            .authenticate_openssh_cert(hop.user.clone(), key.clone(), (*cert).clone())
            .await
            .map_err(|e| TransportError::Connect(format!("{hop}: {e}")))?;
        attempts
            .tried
            .push(format!("certificate {}", cert_path.display()));
        attempts.certificates.push((*cert).clone());
        if result.success() {
            return Ok(true);
        }
        attempts.record(&result);
    }
    Ok(false)
}

async fn rsa_hash_for(
    handle: &Handle<Client>,
    is_rsa: bool,
    cached: &mut Option<Option<HashAlg>>,
) -> Option<HashAlg> {
    if !is_rsa {
        return None;
    }
    if cached.is_none() {
        // OpenSSH announces rsa-sha2-256/512 in EXT_INFO; fall back to SHA-256, never SHA-1.
        let best = handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten()
            .or(Some(HashAlg::Sha256));
        *cached = Some(best);
    }
    cached.flatten()
}

async fn try_agent(
    handle: &mut Handle<Client>,
    hop: &Hop,
    wanted: Option<Vec<PublicKey>>,
    tried_keys: &mut Vec<PublicKey>,
    attempts: &mut Attempts,
    rsa_hash: &mut Option<Option<HashAlg>>,
) -> Result<bool, TransportError> {
    let Some(socket) = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) else {
        return Ok(false);
    };
    let mut agent = match AgentClient::connect_uds(&socket).await {
        Ok(agent) => agent,
        Err(error) => {
            attempts.notes.push(format!("ssh-agent: {error}"));
            return Ok(false);
        }
    };
    let identities = match agent.request_identities().await {
        Ok(identities) => identities,
        Err(error) => {
            attempts.notes.push(format!("ssh-agent: {error}"));
            return Ok(false);
        }
    };
    for identity in identities {
        let public = identity.public_key().into_owned();
        if let Some(wanted) = &wanted {
            if !wanted.iter().any(|k| k.key_data() == public.key_data()) {
                continue;
            }
        }
        if !attempts.allows(MethodKind::PublicKey) {
            break;
        }
        let hash = rsa_hash_for(handle, public.algorithm().is_rsa(), rsa_hash).await;
        let result = match &identity {
            AgentIdentity::Certificate { certificate, .. } => {
                if attempts.certificates.contains(certificate) {
                    continue;
                }
                if let Some(problem) = certificates::user_certificate_problem(certificate) {
                    attempts.notes.push(format!(
                        "agent certificate {}: {problem}",
                        identity.comment()
                    ));
                    continue;
                }
                attempts.certificates.push(certificate.clone());
                attempts
                    .tried
                    .push(format!("agent certificate {}", identity.comment()));
                handle
                    .authenticate_certificate_with(
                        hop.user.clone(),
                        certificate.clone(),
                        hash,
                        &mut agent,
                    )
                    .await
            }
            AgentIdentity::PublicKey { .. } => {
                // A CertificateFile whose private key only the agent holds.
                for (path, cert) in configured_certificates(hop) {
                    if cert.public_key() != public.key_data()
                        || attempts.certificates.contains(&cert)
                        || certificates::user_certificate_problem(&cert).is_some()
                    {
                        continue;
                    }
                    attempts.certificates.push((*cert).clone());
                    attempts.tried.push(format!(
                        "certificate {} with agent key {}",
                        path.display(),
                        identity.comment()
                    ));
                    let mut signer = PlainKeySigner {
                        agent: &mut agent,
                        key: public.clone(),
                    };
                    match handle
                        .authenticate_certificate_with(
                            hop.user.clone(),
                            (*cert).clone(),
                            hash,
                            &mut signer,
                        )
                        .await
                    {
                        Ok(result) if result.success() => return Ok(true),
                        Ok(result) => attempts.record(&result),
                        Err(error) => attempts.notes.push(format!("ssh-agent: {error}")),
                    }
                }
                if tried_keys.iter().any(|k| k.key_data() == public.key_data()) {
                    continue;
                }
                attempts
                    .tried
                    .push(format!("agent key {}", identity.comment()));
                tried_keys.push(public.clone());
                handle
                    .authenticate_publickey_with(hop.user.clone(), public, hash, &mut agent)
                    .await
            }
        };
        match result {
            Ok(result) if result.success() => return Ok(true),
            Ok(result) => attempts.record(&result),
            Err(error) => attempts.notes.push(format!("ssh-agent: {error}")),
        }
    }
    Ok(false)
}

/// Signs for a `CertificateFile` with the plain key the agent holds: ssh-agent finds a key by
/// the blob it is asked to sign with, and it was given the key without that certificate.
struct PlainKeySigner<'a> {
    agent: &'a mut AgentClient<tokio::net::UnixStream>,
    key: PublicKey,
}

impl russh::Signer for PlainKeySigner<'_> {
    type Error = russh::AgentAuthError;

    #[allow(clippy::manual_async_fn)]
    fn auth_sign(
        &mut self,
        _certificate: &AgentIdentity,
        hash_alg: Option<HashAlg>,
        to_sign: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<Vec<u8>, Self::Error>> + Send {
        async move {
            let key = AgentIdentity::from(self.key.clone());
            self.agent
                .sign_request(&key, hash_alg, to_sign)
                .await
                .map_err(Into::into)
        }
    }
}

/// Answers every keyboard-interactive prompt that asks for a password.
async fn keyboard_interactive(
    handle: &mut Handle<Client>,
    hop: &Hop,
    password: &str,
    attempts: &mut Attempts,
) -> Result<bool, russh::Error> {
    attempts.tried.push("keyboard-interactive".into());
    let mut reply = handle
        .authenticate_keyboard_interactive_start(hop.user.clone(), None)
        .await?;
    for _ in 0..5 {
        match reply {
            KeyboardInteractiveAuthResponse::Success => return Ok(true),
            KeyboardInteractiveAuthResponse::Failure { .. } => return Ok(false),
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                let answers = prompts
                    .iter()
                    .map(|p| {
                        if p.echo {
                            String::new()
                        } else {
                            password.to_string()
                        }
                    })
                    .collect();
                reply = handle
                    .authenticate_keyboard_interactive_respond(answers)
                    .await?;
            }
        }
    }
    Ok(false)
}

fn failure_message(hop: &Hop, attempts: &Attempts) -> String {
    let mut message = format!("{hop}: permission denied");
    if attempts.tried.is_empty() {
        message.push_str("; no usable key, agent identity or password");
    } else {
        message.push_str(&format!(" (tried {})", attempts.tried.join(", ")));
    }
    if let Some(methods) = &attempts.server_methods {
        message.push_str(&format!("; server accepts: {}", methods.join(",")));
    }
    for note in &attempts.notes {
        message.push_str("; ");
        message.push_str(note);
    }
    message
}
