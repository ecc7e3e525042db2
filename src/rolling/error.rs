//! The located error every rolling setting (`serial`, `order`, `window`, failure budgets) reports.

use std::sync::Arc;

use crate::diagnostic::{Diagnose, Location, Source};
use crate::yaml::Node;

/// A rolling setting that cannot be used, with where it was written.
#[derive(Debug, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct SpecError {
    /// The setting ("serial", "window", ...).
    pub key: &'static str,
    /// What is wrong, in words.
    pub message: String,
    /// What to write instead, when we know.
    pub hint: Option<String>,
    /// Where the value is; `None` when it came from the command line.
    pub at: Option<Location>,
}

impl SpecError {
    /// An error about `node` in `source`.
    pub fn at_node(
        key: &'static str,
        message: impl Into<String>,
        source: &Arc<Source>,
        node: &Node,
    ) -> Self {
        Self {
            key,
            message: message.into(),
            hint: None,
            at: Some(Location::new(source.clone(), node.span)),
        }
    }

    /// An error about a value given without a file (command line, environment).
    pub fn unlocated(key: &'static str, message: impl Into<String>) -> Self {
        Self {
            key,
            message: message.into(),
            hint: None,
            at: None,
        }
    }

    /// Adds what to write instead.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl Diagnose for SpecError {
    fn location(&self) -> Option<&Location> {
        self.at.as_ref()
    }

    fn help(&self) -> Option<String> {
        self.hint.clone()
    }
}
