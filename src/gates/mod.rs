//! Health-check gates: checks run between batches that decide whether the next batch may start.
//!
//! [`parse_gates`] reads a play's `gates:` list into [`GateSpec`]s (every mistake located);
//! the runner then calls `run_gate` after each batch.

mod error;
mod parse;
mod redact;
mod spec;

pub use error::GateSpecError;
pub use parse::{parse_duration, parse_gate, parse_gates};
pub use redact::redact_url;
pub use spec::{
    GateKind, GateSpec, HttpCheck, HttpMethod, PrometheusCheck, TlsOptions, DEFAULT_DELAY,
    DEFAULT_RETRIES, DEFAULT_TIMEOUT, KIND_KEYS,
};
