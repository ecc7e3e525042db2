//! Patch compliance: where each host of an inventory stands, read from every run's journal
//! (no SSH), for `rpatch status` and the `--metrics-file` of a run.
//!
//! `scan` folds the journals (oldest run first) into one [`HostCompliance`] per host; `metrics`
//! writes the Prometheus text exposition format; `render` the table, JSON and HTML views.

mod metrics;
mod render;
mod scan;

pub use metrics::{metrics_text, write_metrics, MetricsError};
pub use render::{html, table};
pub use scan::{compliance, Compliance, Failure, HostCompliance, RunRef};
