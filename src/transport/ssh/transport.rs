//! [`SshTransport`]: one lazily opened connection per destination for the whole run, one
//! channel per command, reconnect on request.
//!
//! Transports for the same resolved destination share one connection (a process-wide map of
//! weak references, consulted only when a transport is created), so `delegate_to` and a play's
//! `connection:` switch do not open extra connections.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::channel;
use super::session::{self, Connection};
use super::target::{SshOptions, SshTarget};
use crate::transport::{ExecOutput, ExecRequest, Transport, TransportError};

/// Runs commands on one host over SSH.
#[derive(Clone)]
pub struct SshTransport {
    endpoint: Arc<Endpoint>,
}

impl std::fmt::Debug for SshTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshTransport")
            .field("target", &self.endpoint.target)
            .finish()
    }
}

struct Endpoint {
    target: SshTarget,
    connection: tokio::sync::Mutex<Option<Arc<Connection>>>,
    connections_opened: AtomicU64,
    channels_opened: AtomicU64,
}

fn endpoints() -> &'static Mutex<HashMap<SshTarget, Weak<Endpoint>>> {
    static ENDPOINTS: OnceLock<Mutex<HashMap<SshTarget, Weak<Endpoint>>>> = OnceLock::new();
    ENDPOINTS.get_or_init(Default::default)
}

impl SshTransport {
    /// Resolves a host's options (with ssh_config and the environment) into a transport.
    /// Nothing is connected until the first command.
    pub fn new(options: &SshOptions) -> Result<Self, TransportError> {
        let target = SshTarget::resolve(options)
            .map_err(|e| TransportError::Connect(format!("{}: {e}", options.name)))?;
        Ok(Self::for_target(target))
    }

    /// The transport for a resolved target, sharing a live connection if there is one.
    pub fn for_target(target: SshTarget) -> Self {
        let mut map = endpoints().lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, endpoint| endpoint.strong_count() > 0);
        if let Some(endpoint) = map.get(&target).and_then(Weak::upgrade) {
            return Self { endpoint };
        }
        let endpoint = Arc::new(Endpoint {
            target: target.clone(),
            connection: tokio::sync::Mutex::new(None),
            connections_opened: AtomicU64::new(0),
            channels_opened: AtomicU64::new(0),
        });
        map.insert(target, Arc::downgrade(&endpoint));
        Self { endpoint }
    }

    /// Where this transport connects.
    pub fn target(&self) -> &SshTarget {
        &self.endpoint.target
    }

    /// How many SSH connections this destination has opened so far.
    pub fn connections_opened(&self) -> u64 {
        self.endpoint.connections_opened.load(Ordering::Relaxed)
    }

    /// How many command channels this destination has opened so far.
    pub fn channels_opened(&self) -> u64 {
        self.endpoint.channels_opened.load(Ordering::Relaxed)
    }

    /// The live connection, opening one if there is none or the last one died.
    pub(super) async fn connection(&self) -> Result<Arc<Connection>, TransportError> {
        let mut slot = self.endpoint.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            if !connection.is_closed() {
                return Ok(connection.clone());
            }
            tracing::debug!(target = ?self.endpoint.target, "connection closed; reconnecting");
        }
        *slot = None;
        let connection = session::connect(&self.endpoint.target).await?;
        self.endpoint
            .connections_opened
            .fetch_add(1, Ordering::Relaxed);
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Drops `dead` if it is still the current connection.
    async fn forget(&self, dead: &Arc<Connection>) {
        let mut slot = self.endpoint.connection.lock().await;
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, dead)) {
            *slot = None;
        }
    }
}

#[async_trait]
impl Transport for SshTransport {
    async fn exec(&self, request: &ExecRequest) -> Result<ExecOutput, TransportError> {
        let connection = self.connection().await?;
        self.endpoint
            .channels_opened
            .fetch_add(1, Ordering::Relaxed);
        let result = channel::run(&connection, request).await;
        if matches!(result, Err(TransportError::Lost(_))) || connection.is_closed() {
            self.forget(&connection).await;
        }
        result
    }

    async fn close(&self) {
        let taken = self.endpoint.connection.lock().await.take();
        if let Some(connection) = taken {
            connection.disconnect().await;
        }
    }

    async fn reconnect(&self, deadline: std::time::Instant) -> Result<(), TransportError> {
        let deadline = Instant::from_std(deadline);
        let mut slot = self.endpoint.connection.lock().await;
        if let Some(old) = slot.take() {
            old.disconnect().await;
        }
        let mut pause = Duration::from_millis(500);
        loop {
            let attempt =
                tokio::time::timeout_at(deadline, session::connect(&self.endpoint.target));
            let error = match attempt.await {
                Ok(Ok(connection)) => {
                    self.endpoint
                        .connections_opened
                        .fetch_add(1, Ordering::Relaxed);
                    *slot = Some(connection);
                    return Ok(());
                }
                // Wrong credentials or host keys do not fix themselves by waiting.
                Ok(Err(error @ (TransportError::Auth(_) | TransportError::HostKey(_)))) => {
                    return Err(error)
                }
                Ok(Err(error)) => error,
                Err(_) => {
                    return Err(TransportError::Connect(format!(
                        "{}: still unreachable when the reconnect deadline passed",
                        self.endpoint.target.host
                    )))
                }
            };
            let now = Instant::now();
            if now + pause >= deadline {
                return Err(error);
            }
            tracing::debug!(%error, ?pause, "reconnect failed; retrying");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
}
