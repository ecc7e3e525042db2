//! Opening one authenticated SSH connection — directly or through jump hosts — and checking
//! the server's host key on the way.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use russh::client::{self, Handle};
use russh::keys::ssh_key::{Certificate, PublicKey};
use russh::keys::{Algorithm, HashAlg, PublicKeyOrCertificate};
use russh::Preferred;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::auth;
use super::certificates;
use super::known_hosts::{self, HostKeyPolicy, Verdict};
use super::proxy;
use super::target::{Hop, SshTarget};
use super::transport::SshTransport;
use crate::transport::TransportError;

/// Channels open at once on one connection: OpenSSH's default `MaxSessions`.
pub const MAX_SESSIONS: usize = 10;

/// An authenticated connection, keeping the jump host connections it runs through alive.
pub(super) struct Connection {
    /// The russh handle: opens channels.
    pub handle: Handle<Client>,
    /// Bounds concurrently open session channels to [`MAX_SESSIONS`].
    pub sessions: Semaphore,
    /// Who this is, for messages.
    pub label: String,
    /// The jump host this connection is tunnelled through: its (shared) transport keeps the
    /// jump connection pooled for other hosts behind it.
    via: Option<(SshTransport, Arc<Connection>)>,
}

impl Connection {
    /// True once this connection, or one it runs through, has gone away.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed() || self.via.as_ref().is_some_and(|(_, via)| via.is_closed())
    }

    /// Says goodbye to the server (jump connections stay for the other hosts using them).
    pub async fn disconnect(&self) {
        tracing::trace!("{}: disconnect", self.label);
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// russh's callback object: verifies the host key against known_hosts.
pub(super) struct Client {
    hop: Hop,
    /// Why the host key was refused, for the error message.
    problem: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let presented = match presented {
            PublicKeyOrCertificate::PublicKey { key, .. } => Err(key.clone()),
            PublicKeyOrCertificate::Certificate(cert) => Ok(cert.clone()),
        };
        let hop = self.hop.clone();
        let decision = tokio::task::spawn_blocking(move || match &presented {
            Err(key) => decide(&hop, key),
            Ok(cert) => decide_certificate(&hop, cert),
        })
        .await
        .unwrap_or_else(|e| Err(format!("host key check failed: {e}")));
        match decision {
            Ok(()) => Ok(true),
            Err(problem) => {
                *self.problem.lock().unwrap_or_else(|p| p.into_inner()) = Some(problem);
                Ok(false)
            }
        }
    }
}

/// Applies the host key policy; `Err` carries the message shown to the user.
fn decide(hop: &Hop, key: &PublicKey) -> Result<(), String> {
    if hop.policy == HostKeyPolicy::Off {
        return Ok(());
    }
    let (key_host, key_port) = hop.key_name();
    let name = known_hosts::host_key_name(key_host, key_port);
    let shown = format!(
        "{} key {}",
        known_hosts::key_type(key),
        known_hosts::fingerprint(key)
    );
    match hop.known_hosts.verify(key_host, key_port, key) {
        Verdict::Known => Ok(()),
        Verdict::Unknown if !authorities_of(hop).is_empty() => Err(format!(
            "host key of {name} is unknown ({shown}): the host is covered by @cert-authority at \
             {} but presented a plain key, not a certificate signed by it; refusing to connect \
             (rpatch never records a plain key for a host an authority vouches for; give the \
             server a HostCertificate, or add the key to {} yourself)",
            authorities_of(hop)
                .iter()
                .map(|a| a.origin.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            known_files(hop)
        )),
        Verdict::Unknown if hop.policy == HostKeyPolicy::AcceptNew => {
            match hop.known_hosts.learn(key_host, key_port, key) {
                Ok(path) => {
                    tracing::warn!("permanently added {name} ({shown}) to {}", path.display());
                    Ok(())
                }
                Err(error) => Err(format!(
                    "cannot record the host key of {name} ({shown}): {error}"
                )),
            }
        }
        Verdict::Unknown => Err(format!(
            "host key of {name} is unknown ({shown}); if that fingerprint is right, accept it \
             with `--host-key-checking accept-new` (RPATCH_HOST_KEY_CHECKING=accept-new) or add \
             it to {}",
            known_files(hop)
        )),
        Verdict::OtherTypesKnown(origins) => Err(format!(
            "host key of {name} is of a type not recorded for it ({shown}), though other key \
             types are recorded at {}; refusing to connect",
            origins
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Verdict::Changed(origin) => Err(format!(
            "HOST KEY CHANGED for {name}: the server presented {shown}, which differs from the \
             key recorded at {origin}. Someone could be intercepting the connection, or the host \
             was reinstalled. Refusing to connect; if the change is expected, remove the old \
             entry with `ssh-keygen -R '{name}'`"
        )),
        Verdict::Revoked(origin) => Err(format!(
            "host key of {name} ({shown}) is marked @revoked at {origin}; refusing to connect"
        )),
    }
}

/// Checks a host certificate against the `@cert-authority` lines for the host. A certificate
/// is never recorded, whatever the policy: without a matching authority it is refused.
fn decide_certificate(hop: &Hop, cert: &Certificate) -> Result<(), String> {
    if hop.policy == HostKeyPolicy::Off {
        return Ok(());
    }
    let name = known_hosts::host_key_name(&hop.host, hop.port);
    let key = PublicKey::new(cert.public_key().clone(), "");
    let (authorities, revoked) = hop.known_hosts.authorities(&hop.host, hop.port);
    match certificates::check_host_certificate(
        cert,
        &hop.host,
        &authorities,
        &revoked,
        certificates::now(),
    ) {
        Ok(origin) => {
            tracing::debug!("host certificate of {name} vouched for by {origin}");
            Ok(())
        }
        Err(why) => Err(format!(
            "host certificate of {name} ({} key {}, id `{}`) refused: {why}; refusing to connect",
            known_hosts::key_type(&key),
            known_hosts::fingerprint(&key),
            cert.key_id()
        )),
    }
}

fn authorities_of(hop: &Hop) -> Vec<certificates::Authority> {
    hop.known_hosts.authorities(&hop.host, hop.port).0
}

fn known_files(hop: &Hop) -> String {
    match hop.known_hosts.files.first() {
        Some(path) => path.display().to_string(),
        None => "a known_hosts file".to_string(),
    }
}

/// russh client settings for one hop: keepalive, nodelay, and host key types we can verify
/// asked for first; host certificates are asked for only when an authority covers the host.
fn client_config(hop: &Hop, known: &[Algorithm], authority: bool) -> client::Config {
    let mut preferred = Preferred::default();
    if authority && hop.policy != HostKeyPolicy::Off {
        let certified: Vec<Algorithm> = Preferred::DEFAULT
            .key
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    Algorithm::Ed25519 | Algorithm::Ecdsa { .. } | Algorithm::Rsa { hash: Some(_) }
                )
            })
            .cloned()
            .collect();
        preferred.host_key_certificates = Cow::Owned(certified);
    }
    if !known.is_empty() {
        let mut keys: Vec<Algorithm> = Vec::new();
        for algorithm in known {
            let wanted: Vec<Algorithm> = match algorithm {
                Algorithm::Rsa { .. } => vec![
                    Algorithm::Rsa {
                        hash: Some(HashAlg::Sha512),
                    },
                    Algorithm::Rsa {
                        hash: Some(HashAlg::Sha256),
                    },
                ],
                other => vec![other.clone()],
            };
            for algorithm in wanted {
                if !keys.contains(&algorithm) {
                    keys.push(algorithm);
                }
            }
        }
        for algorithm in Preferred::DEFAULT.key.iter() {
            if !keys.contains(algorithm) {
                keys.push(algorithm.clone());
            }
        }
        preferred.key = Cow::Owned(keys);
    }
    client::Config {
        preferred,
        keepalive_interval: hop.keepalive,
        keepalive_max: hop.keepalive_max,
        inactivity_timeout: None,
        nodelay: true,
        ..client::Config::default()
    }
}

/// How many SSH handshakes may be in flight at once (`RPATCH_SSH_MAX_STARTUPS`, default 64),
/// like OpenSSH's `MaxStartups` on the server side.
fn handshake_slots() -> &'static Semaphore {
    static SLOTS: std::sync::OnceLock<Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let slots = std::env::var("RPATCH_SSH_MAX_STARTUPS")
            .ok()
            .and_then(|text| text.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_MAX_STARTUPS);
        Semaphore::new(slots)
    })
}

/// Concurrent handshakes when `RPATCH_SSH_MAX_STARTUPS` is not set.
const DEFAULT_MAX_STARTUPS: usize = 64;

/// Connects and authenticates to the target through its jump hosts. The connection to the
/// last jump host is itself a pooled [`SshTransport`] connection, so every host behind one
/// bastion shares a single connection to it (one tunnel channel each).
pub(super) async fn connect(target: &SshTarget) -> Result<Arc<Connection>, TransportError> {
    let via = match target.jumps.split_last() {
        None => None,
        Some((last, earlier)) => {
            let jump = SshTransport::for_target(SshTarget {
                jumps: earlier.to_vec(),
                host: last.clone(),
            });
            let connection = Box::pin(jump.connection())
                .await
                .map_err(|error| through_jump(error, last))?;
            Some((jump, connection))
        }
    };
    Ok(Arc::new(connect_hop(&target.host, via).await?))
}

fn through_jump(error: TransportError, hop: &Hop) -> TransportError {
    let context = |m: String| format!("jump host {}: {m}", hop.alias);
    match error {
        TransportError::Connect(m) => TransportError::Connect(context(m)),
        TransportError::Auth(m) => TransportError::Auth(context(m)),
        TransportError::HostKey(m) => TransportError::HostKey(context(m)),
        TransportError::Lost(m) => TransportError::Lost(context(m)),
        other => other,
    }
}

async fn connect_hop(
    hop: &Hop,
    via: Option<(SshTransport, Arc<Connection>)>,
) -> Result<Connection, TransportError> {
    let problem = Arc::new(Mutex::new(None));
    let client = Client {
        hop: hop.clone(),
        problem: problem.clone(),
    };
    let (known, authority) = {
        let hop = hop.clone();
        tokio::task::spawn_blocking(move || {
            let (host, port) = hop.key_name();
            (
                hop.known_hosts.known_algorithms(host, port),
                !authorities_of(&hop).is_empty(),
            )
        })
        .await
        .unwrap_or_default()
    };
    let config = Arc::new(client_config(hop, &known, authority));
    tracing::trace!(
        "{hop}: connect to {}:{}{}",
        hop.host,
        hop.port,
        match (&via, &hop.proxy_command) {
            (Some((_, jump)), _) => format!(" through {}", jump.label),
            (None, Some(_)) => " through its ProxyCommand".to_string(),
            (None, None) => String::new(),
        }
    );
    let attempt = async {
        let mut proxy_stderr = None;
        let handshake = match &via {
            None if hop.proxy_command.is_some() => {
                let command = hop.proxy_command.as_deref().unwrap_or_default();
                let (stream, stderr) = proxy::spawn(command).map_err(|e| {
                    TransportError::Connect(format!(
                        "{}:{}: cannot run ProxyCommand `{command}`: {e}",
                        hop.host, hop.port
                    ))
                })?;
                proxy_stderr = Some(stderr);
                client::connect_stream(config, stream, client).await
            }
            None => {
                let stream = TcpStream::connect((hop.host.as_str(), hop.port))
                    .await
                    .map_err(|e| tcp_error(hop, &e))?;
                // Small command round trips matter more than bulk throughput.
                let _ = stream.set_nodelay(true);
                client::connect_stream(config, stream, client).await
            }
            Some((_, jump)) => {
                let channel = jump
                    .handle
                    .channel_open_direct_tcpip(
                        hop.host.clone(),
                        u32::from(hop.port),
                        "127.0.0.1",
                        0,
                    )
                    .await
                    .map_err(|e| {
                        TransportError::Connect(format!(
                            "{}:{} (through {}): cannot open a tunnel: {e}",
                            hop.host, hop.port, jump.label
                        ))
                    })?;
                client::connect_stream(config, channel.into_stream(), client).await
            }
        };
        let mut handle = handshake.map_err(|error| {
            match problem.lock().unwrap_or_else(|p| p.into_inner()).take() {
                Some(message) => TransportError::HostKey(message),
                None => match proxy_stderr.as_ref().map(|s| s.text()) {
                    Some(text) if !text.is_empty() => {
                        let TransportError::Connect(m) = handshake_error(hop, &error) else {
                            return handshake_error(hop, &error);
                        };
                        TransportError::Connect(format!("{m} (ProxyCommand said: {text})"))
                    }
                    _ => handshake_error(hop, &error),
                },
            }
        })?;
        auth::authenticate(&mut handle, hop).await?;
        Ok::<_, TransportError>(handle)
    };
    // Thousands of hosts must not all handshake at once: a saturated controller (or shared
    // bastion) would time every one of them out. Waiting for a slot does not count against
    // ConnectTimeout; the handshake itself does.
    let _slot = handshake_slots().acquire().await;
    let handle = match tokio::time::timeout(hop.connect_timeout, attempt).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(TransportError::Connect(format!(
                "{}:{}: timed out after {}s (ConnectTimeout)",
                hop.host,
                hop.port,
                hop.connect_timeout.as_secs_f32()
            )))
        }
    };
    tracing::trace!("{hop}: connected");
    Ok(Connection {
        handle,
        sessions: Semaphore::new(MAX_SESSIONS),
        label: hop.to_string(),
        via,
    })
}

fn tcp_error(hop: &Hop, error: &std::io::Error) -> TransportError {
    let reason = match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        std::io::ErrorKind::TimedOut => "connection timed out".to_string(),
        _ => error.to_string(),
    };
    TransportError::Connect(format!("{}:{}: {reason}", hop.host, hop.port))
}

fn handshake_error(hop: &Hop, error: &russh::Error) -> TransportError {
    let reason = match error {
        russh::Error::HUP | russh::Error::Disconnect => {
            "the server closed the connection during the handshake".to_string()
        }
        russh::Error::UnknownKey => "host key refused".to_string(),
        other => format!("SSH handshake failed: {other}"),
    };
    TransportError::Connect(format!("{}:{}: {reason}", hop.host, hop.port))
}
