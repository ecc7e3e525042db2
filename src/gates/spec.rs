//! What a health-check gate is: [`GateSpec`] and its kinds, as parsed from a play's `gates:`.
//!
//! Strings marked "templated" are rendered with the play's variables when the gate runs, not
//! when it is parsed; regexes are checked at parse time and are not templated.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

/// Retries when a gate does not say.
pub const DEFAULT_RETRIES: u32 = 0;
/// Pause between attempts when a gate does not say.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(5);
/// Time allowed for one attempt when a gate does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One health check run between batches.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSpec {
    /// What the operator called it (or a description made from its kind).
    pub name: String,
    /// What is checked.
    pub kind: GateKind,
    /// Further attempts after the first fails (so `retries + 1` attempts at most).
    pub retries: u32,
    /// Pause between attempts.
    pub delay: Duration,
    /// Time allowed for one attempt.
    pub timeout: Duration,
}

/// The check a gate makes.
#[derive(Debug, Clone, PartialEq)]
pub enum GateKind {
    /// An HTTP(S) request whose status (and optionally body) must match.
    Http(HttpCheck),
    /// A TCP port that must accept a connection.
    Tcp {
        /// Host name or address (templated).
        host: String,
        /// Port.
        port: u16,
    },
    /// A command run on the controller with `/bin/sh -c`; exit 0 passes.
    Command {
        /// The shell command line (templated).
        command: String,
    },
    /// A command run on each host of the batch (or of a group); every host must exit 0.
    OnHosts {
        /// The shell command line (templated).
        command: String,
        /// The group whose hosts run it; `None` means the hosts of the batch just done.
        group: Option<String>,
    },
    /// A Prometheus instant query that must return no (matching) series.
    Prometheus(PrometheusCheck),
}

impl GateKind {
    /// The YAML key that introduces this kind.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Http(_) => "http",
            Self::Tcp { .. } => "tcp",
            Self::Command { .. } => "command",
            Self::OnHosts { .. } => "on_hosts",
            Self::Prometheus(_) => "prometheus",
        }
    }
}

/// The keys that introduce a gate kind, in the order they are documented.
pub const KIND_KEYS: [&str; 5] = ["http", "tcp", "command", "on_hosts", "prometheus"];

/// HTTP methods a gate may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpMethod {
    /// `GET` (the default).
    #[default]
    Get,
    /// `HEAD`.
    Head,
    /// `POST` with an empty body.
    Post,
    /// `PUT` with an empty body.
    Put,
    /// `DELETE`.
    Delete,
    /// `OPTIONS`.
    Options,
    /// `PATCH` with an empty body.
    Patch,
}

impl HttpMethod {
    /// Every method, for parsing and suggestions.
    pub const ALL: [HttpMethod; 7] = [
        Self::Get,
        Self::Head,
        Self::Post,
        Self::Put,
        Self::Delete,
        Self::Options,
        Self::Patch,
    ];

    /// The method as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Patch => "PATCH",
        }
    }

    /// Parses a method name, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|method| method.as_str().eq_ignore_ascii_case(text))
    }
}

/// Which redirects an `http` gate follows (Ansible `uri`'s `follow_redirects`).
///
/// Followed redirects keep the URL's user name and password and the gate's headers only while
/// they stay on the original origin (scheme, host and port); on any other origin both are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FollowRedirects {
    /// Follow none: a 3xx is the answer (so `status: [302]` can pass).
    None,
    /// Follow only when the request is a `GET` or `HEAD` (the default, as Ansible's `safe`).
    #[default]
    Safe,
    /// Follow every redirect; 301/302 turn a `POST` into a `GET` and 303 turns any method but
    /// `HEAD` into a `GET`, as browsers and Python's urllib do; 307/308 keep the method.
    All,
}

impl FollowRedirects {
    /// Every value, for parsing and messages.
    pub const ALL: [FollowRedirects; 3] = [Self::None, Self::Safe, Self::All];

    /// As written in a playbook.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Safe => "safe",
            Self::All => "all",
        }
    }

    /// Whether a redirect answering `method` is followed.
    pub fn follows(self, method: HttpMethod) -> bool {
        match self {
            Self::None => false,
            Self::Safe => matches!(method, HttpMethod::Get | HttpMethod::Head),
            Self::All => true,
        }
    }
}

/// How TLS is checked for HTTPS URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Verify the server's certificate and name (default true).
    pub validate_certs: bool,
    /// Trust only the CA certificates in this PEM file instead of the system's store.
    pub ca_file: Option<PathBuf>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            validate_certs: true,
            ca_file: None,
        }
    }
}

/// An `http` gate.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCheck {
    /// The URL (templated). Userinfo in it is used but never printed.
    pub url: String,
    /// The method (GET by default).
    pub method: HttpMethod,
    /// Statuses that pass (default `[200]`).
    pub status: Vec<u16>,
    /// A regex the response body must match, if any.
    pub body_regex: Option<String>,
    /// Request headers (values templated, never printed).
    pub headers: IndexMap<String, String>,
    /// Certificate checking.
    pub tls: TlsOptions,
    /// Which redirects are followed.
    pub follow_redirects: FollowRedirects,
}

/// A `prometheus` gate.
///
/// `query` is a PromQL expression sent to `<url>/api/v1/query` (an instant query). The gate
/// passes when the result vector holds no series — e.g.
/// `ALERTS{alertstate="firing",severity="critical"}` passes while nothing critical fires. With
/// `alert_regex`, only series whose `alertname` label matches the regex (anchored at neither
/// end, as Python's `re.search`) count; series without an `alertname` never match.
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusCheck {
    /// The server's base URL, or the full `…/api/v1/query` URL (templated).
    pub url: String,
    /// The PromQL expression (templated).
    pub query: String,
    /// Only series whose `alertname` matches this count as failing.
    pub alert_regex: Option<String>,
    /// Request headers (values templated, never printed), e.g. `Authorization`.
    pub headers: IndexMap<String, String>,
    /// Certificate checking.
    pub tls: TlsOptions,
}
