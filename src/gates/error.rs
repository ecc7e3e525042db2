//! Everything that can be wrong with a play's `gates:` list, with where it is written.

use crate::diagnostic::{Diagnose, Location};

use super::spec::KIND_KEYS;

/// A gate definition that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GateSpecError {
    /// A value of the wrong shape.
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        /// The key (or `gates` for the list itself).
        key: String,
        /// What fits.
        expected: &'static str,
        /// What was written.
        found: &'static str,
        /// Where the value is.
        at: Location,
    },
    /// A key that means nothing here.
    #[error("unknown {context} key `{key}`")]
    UnknownKey {
        /// "gate", "http gate", ...
        context: &'static str,
        /// The key as written.
        key: String,
        /// The closest known key.
        suggestion: Option<String>,
        /// Where.
        at: Location,
    },
    /// A gate that says nothing about what to check.
    #[error("gate has no kind: expected one of {}", kinds())]
    NoKind {
        /// Where the gate starts.
        at: Location,
    },
    /// A gate that names two checks.
    #[error("gate has two kinds: `{first}` and `{second}`")]
    TwoKinds {
        /// The first kind key.
        first: String,
        /// The second.
        second: String,
        /// Where the second is.
        at: Location,
    },
    /// A required key is missing.
    #[error("{context} needs `{key}`")]
    Missing {
        /// "http gate", "prometheus gate", ...
        context: &'static str,
        /// The missing key.
        key: &'static str,
        /// Where the gate's settings start.
        at: Location,
    },
    /// `retries` below zero.
    #[error("`retries` must be 0 or more, found {value}")]
    NegativeRetries {
        /// What was written.
        value: i64,
        /// Where.
        at: Location,
    },
    /// A regex that does not compile.
    #[error("`{key}` is not a valid regex: {reason}")]
    BadRegex {
        /// `body_regex` or `alert_regex`.
        key: &'static str,
        /// What the regex engine said.
        reason: String,
        /// Where.
        at: Location,
    },
    /// An HTTP status outside 100–599.
    #[error("`status` must hold HTTP status codes (100-599), found {value}")]
    BadStatus {
        /// What was written.
        value: String,
        /// Where.
        at: Location,
    },
    /// A duration that cannot be read.
    #[error("`{key}` must be seconds or a duration like \"30s\", \"2m\", \"1h\" (at most {} seconds), found {value}", crate::seconds::MAX_SECONDS)]
    BadDuration {
        /// `delay` or `timeout`.
        key: &'static str,
        /// What was written.
        value: String,
        /// Where.
        at: Location,
    },
    /// Any other value that is out of range or malformed.
    #[error("`{key}` {problem}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// What is wrong, as a sentence tail ("must be ...").
        problem: String,
        /// Where.
        at: Location,
        /// What to do instead, if known.
        hint: Option<String>,
    },
}

fn kinds() -> String {
    KIND_KEYS
        .iter()
        .map(|key| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Diagnose for GateSpecError {
    fn location(&self) -> Option<&Location> {
        match self {
            Self::WrongType { at, .. }
            | Self::UnknownKey { at, .. }
            | Self::NoKind { at }
            | Self::TwoKinds { at, .. }
            | Self::Missing { at, .. }
            | Self::NegativeRetries { at, .. }
            | Self::BadRegex { at, .. }
            | Self::BadStatus { at, .. }
            | Self::BadDuration { at, .. }
            | Self::Invalid { at, .. } => Some(at),
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            Self::UnknownKey { suggestion, .. } => {
                suggestion.as_ref().map(|s| format!("did you mean `{s}`?"))
            }
            Self::NoKind { .. } => Some(
                "add one check, e.g. `http: { url: \"https://api/healthz\", status: 200 }`".into(),
            ),
            Self::TwoKinds { .. } => {
                Some("a gate makes one check; split it into two gates".into())
            }
            Self::Missing {
                key: "query", ..
            } => Some(
                "e.g. `query: 'ALERTS{alertstate=\"firing\",severity=\"critical\"}'`; the gate passes when it returns nothing"
                    .into(),
            ),
            Self::NegativeRetries { .. } => Some("use 0 for a single attempt".into()),
            Self::Invalid { hint, .. } => hint.clone(),
            _ => None,
        }
    }
}
