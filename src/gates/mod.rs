//! Health-check gates: checks run between batches that decide whether the next batch may start.
//!
//! [`parse_gates`] reads a play's `gates:` list into [`GateSpec`]s (every mistake located);
//! after each batch the runner calls [`run_gate`] with a [`GateContext`] and acts on the
//! [`GateOutcome`]. One file per kind: `http`, `tcp`, `command` (with `on_hosts`), `prometheus`;
//! `url` parses and checks gate URLs and `redact` keeps their credentials out of messages.

mod check;
mod command;
mod context;
mod error;
mod http;
mod parse;
mod prometheus;
mod redact;
mod spec;
mod tcp;
#[cfg(test)]
mod test_support;
mod url;

pub use check::run_gate;
pub use context::{GateContext, GateOutcome, GroupResolver, HostList, DEFAULT_GATE_FORKS};
pub use error::GateSpecError;
pub(crate) use http::Request as HttpRequest;
pub(crate) use parse::redacted_location;
pub use parse::{parse_duration, parse_gate, parse_gates};
pub use redact::{redact_url, redact_webhook_url};
pub use spec::{
    FollowRedirects, GateKind, GateSpec, HttpCheck, HttpMethod, PrometheusCheck, TlsOptions,
    DEFAULT_DELAY, DEFAULT_RETRIES, DEFAULT_TIMEOUT, KIND_KEYS,
};
pub(crate) use url::{GateUrl, UrlError, URL_HINT};
