//! The SSH transport, on russh: ssh_config, known_hosts, authentication, jump hosts, and one
//! connection per host, commands written to one persistent remote shell (or a channel each).

mod auth;
mod certificates;
mod channel;
mod config;
mod framing;
mod known_hosts;
mod proxy;
mod session;
mod shell;
mod target;
mod transport;

pub use config::{expand_tilde, ConfigError, HostConfig, SshConfig};
pub use known_hosts::{fingerprint, HostKeyPolicy, KnownHosts, Verdict};
pub use session::MAX_SESSIONS;
pub use target::{
    check_ssh_args, Hop, SshOptions, SshTarget, TargetError, DEFAULT_CONNECT_TIMEOUT,
};
pub use transport::SshTransport;
