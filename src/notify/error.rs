//! Everything that can be wrong with a play's `notifications:`, with where it is written.

use std::path::PathBuf;

use crate::diagnostic::{Diagnose, Location};

/// A notification sink that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NotifySpecError {
    /// A value of the wrong shape.
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        /// The key (or `notifications` for the list itself).
        key: String,
        /// What fits.
        expected: &'static str,
        /// What was written.
        found: &'static str,
        /// Where.
        at: Location,
    },
    /// A key that means nothing here.
    #[error("unknown {context} key `{key}`")]
    UnknownKey {
        /// "notification", "webhook", "email".
        context: &'static str,
        /// The key as written.
        key: String,
        /// The closest known key.
        suggestion: Option<String>,
        /// Where.
        at: Location,
    },
    /// A sink that names no kind.
    #[error("notification has no sink: expected one of `webhook`, `command`, `email`")]
    NoKind {
        /// Where the sink starts.
        at: Location,
    },
    /// A sink that names two kinds.
    #[error("notification has two sinks: `{first}` and `{second}`")]
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
        /// "webhook", "email".
        context: &'static str,
        /// The missing key.
        key: &'static str,
        /// Where the sink's settings start.
        at: Location,
    },
    /// A `notify_on` entry that is not an event.
    #[error("unknown notify_on event `{value}`: expected start, batch, halt or end")]
    UnknownEvent {
        /// What was written.
        value: String,
        /// The closest event.
        suggestion: Option<String>,
        /// Where.
        at: Location,
    },
    /// `email` on a machine without sendmail.
    #[error("email notifications need sendmail, and `{}` does not exist or is not executable", path.display())]
    NoSendmail {
        /// Where it was looked for.
        path: PathBuf,
        /// The `email` key.
        at: Location,
    },
    /// A duration that cannot be read.
    #[error("`{key}` must be seconds or a duration like \"30s\", \"2m\" (at most {} seconds), found {value}", crate::seconds::MAX_SECONDS)]
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

impl Diagnose for NotifySpecError {
    fn location(&self) -> Option<&Location> {
        match self {
            Self::WrongType { at, .. }
            | Self::UnknownKey { at, .. }
            | Self::NoKind { at }
            | Self::TwoKinds { at, .. }
            | Self::Missing { at, .. }
            | Self::UnknownEvent { at, .. }
            | Self::NoSendmail { at, .. }
            | Self::BadDuration { at, .. }
            | Self::Invalid { at, .. } => Some(at),
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            Self::UnknownKey { suggestion, .. } | Self::UnknownEvent { suggestion, .. } => {
                suggestion.as_ref().map(|s| format!("did you mean `{s}`?"))
            }
            Self::NoKind { .. } => Some(
                "add one sink, e.g. `webhook: { url: \"https://hooks.example/x\", format: slack }`"
                    .into(),
            ),
            Self::TwoKinds { .. } => Some("a notification has one sink; split it in two".into()),
            Self::NoSendmail { .. } => Some(
                "install an MTA that provides sendmail (e.g. `apt-get install msmtp-mta`), or set `sendmail:` to its path"
                    .into(),
            ),
            Self::Invalid { hint, .. } => hint.clone(),
            _ => None,
        }
    }
}
