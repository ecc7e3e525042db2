//! Run notifications: a play's `notifications:` sinks told when a run starts, after each batch,
//! when it halts and when it ends.
//!
//! [`parse_sinks`] reads the YAML (every mistake located, nothing runs on an error);
//! [`Notifier`] renders the sinks' templates once at run start and delivers each event from one
//! worker per sink, so the rollout never waits for a slow sink, events reach a sink in order, and
//! a sink that keeps failing is reported and journaled but never fails the run. One file per
//! concern: `spec` (what a sink is), `parse`, `payload` (the JSON and text sent), `deliver` (one
//! delivery with retries: webhook, command, email) and `notifier` (the workers).

mod deliver;
mod error;
mod notifier;
mod parse;
mod payload;
mod spec;

pub use error::NotifySpecError;
pub use notifier::{Notifier, NotifierHandle, NotifyRender, NotifyRenderError};
pub use parse::parse_sinks;
pub use payload::{payload, NotifyPayload};
pub use spec::{
    NotifyEvent, PayloadFormat, SinkKind, SinkSpec, DEFAULT_DELAY, DEFAULT_RETRIES,
    DEFAULT_SENDMAIL, DEFAULT_TIMEOUT,
};
