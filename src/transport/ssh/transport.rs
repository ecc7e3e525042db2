//! [`SshTransport`]: one lazily opened connection per destination for the whole run, commands
//! written to one persistent remote shell (see [`super::shell`]) or run on a channel each,
//! reconnect on request.
//!
//! Transports for the same resolved destination share one connection (a process-wide map of
//! weak references, consulted only when a transport is created), so `delegate_to` and a play's
//! `connection:` switch do not open extra connections.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::channel;
use super::session::{self, Connection};
use super::shell::RemoteShell;
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
    /// Commands go to the persistent shell (turned off for the run when it cannot start).
    persistent: AtomicBool,
    shell: tokio::sync::Mutex<Option<RemoteShell>>,
    shells_started: AtomicU64,
}

/// The persistent shell's default: `RPATCH_PERSISTENT_SHELL` (`0`/`false`/`no`/`off` turn it
/// off), else on.
fn persistent_shell_default() -> bool {
    std::env::var("RPATCH_PERSISTENT_SHELL")
        .map(|v| {
            !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "false" | "no" | "off"
            )
        })
        .unwrap_or(true)
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
        let transport = Self::for_target(target);
        if let Some(wanted) = options.persistent_shell {
            transport
                .endpoint
                .persistent
                .store(wanted, Ordering::Relaxed);
        }
        Ok(transport)
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
            persistent: AtomicBool::new(persistent_shell_default()),
            shell: tokio::sync::Mutex::new(None),
            shells_started: AtomicU64::new(0),
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

    /// How many persistent remote shells this destination has started so far.
    pub fn shells_started(&self) -> u64 {
        self.endpoint.shells_started.load(Ordering::Relaxed)
    }

    /// Runs `request` in the persistent shell; `None` when it must run on a channel of its
    /// own (the shell is off or busy, sudo may prompt for a password, or the remote side
    /// lacks `base64`/`setsid` for this request).
    async fn exec_in_shell(
        &self,
        connection: &Arc<Connection>,
        request: &ExecRequest,
    ) -> Option<Result<ExecOutput, TransportError>> {
        if !self.endpoint.persistent.load(Ordering::Relaxed)
            || request
                .escalation
                .as_ref()
                .is_some_and(|e| e.password.is_some())
        {
            return None;
        }
        // Another command of this destination is in the shell (delegation, async polls):
        // this one takes a channel rather than waiting.
        let mut slot = self.endpoint.shell.try_lock().ok()?;
        if slot
            .as_ref()
            .is_some_and(|shell| !shell.reusable(connection))
        {
            *slot = None;
        }
        if slot.is_none() {
            match RemoteShell::start(connection).await {
                Ok(shell) => {
                    self.endpoint.shells_started.fetch_add(1, Ordering::Relaxed);
                    *slot = Some(shell);
                }
                Err(error) if connection.is_closed() => return Some(Err(error)),
                Err(error) => {
                    tracing::debug!(target = ?self.endpoint.target, %error,
                        "no persistent shell; a channel per command from now on");
                    self.endpoint.persistent.store(false, Ordering::Relaxed);
                    return None;
                }
            }
        }
        let shell = slot.as_mut()?;
        if !shell.can_run(request) {
            return None;
        }
        let prepared = match request.prepare() {
            Ok(prepared) => prepared,
            Err(error) => return Some(Err(error)),
        };
        let stdin = prepared.input.plain_data()?;
        let result = shell.run(&prepared.line, stdin, request.timeout).await;
        if !shell.reusable(connection) {
            *slot = None;
        }
        Some(result)
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
        let result = match self.exec_in_shell(&connection, request).await {
            Some(result) => result,
            None => {
                self.endpoint
                    .channels_opened
                    .fetch_add(1, Ordering::Relaxed);
                channel::run(&connection, request).await
            }
        };
        if matches!(result, Err(TransportError::Lost(_))) || connection.is_closed() {
            self.forget(&connection).await;
        }
        result
    }

    async fn close(&self) {
        let shell = self.endpoint.shell.lock().await.take();
        if let Some(shell) = shell {
            shell.close().await;
        }
        let taken = self.endpoint.connection.lock().await.take();
        if let Some(connection) = taken {
            connection.disconnect().await;
        }
    }

    async fn reconnect(&self, deadline: std::time::Instant) -> Result<(), TransportError> {
        let deadline = Instant::from_std(deadline);
        self.endpoint.shell.lock().await.take();
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
