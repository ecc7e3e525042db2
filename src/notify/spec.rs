//! What a notification sink is: [`SinkSpec`] and its kinds, as parsed from a play's
//! `notifications:`.
//!
//! Strings marked "templated" are rendered once, with the play's variables and `-e`, when the
//! run starts (so a webhook URL can come from a vaulted variable).

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

/// Further attempts after a failed delivery when a sink does not say.
pub const DEFAULT_RETRIES: u32 = 3;
/// The first pause between attempts (doubled after each, at most [`MAX_DELAY`]).
pub const DEFAULT_DELAY: Duration = Duration::from_secs(1);
/// The longest pause between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// Time allowed for one attempt when a sink does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most retries a sink may ask for.
pub const MAX_RETRIES: u32 = 10;
/// Where `email` finds sendmail when the sink does not say.
pub const DEFAULT_SENDMAIL: &str = "/usr/sbin/sendmail";

/// When a sink is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// The run starts (or a resume continues it).
    Start,
    /// A batch ended (halted or not).
    Batch,
    /// A gate or a failure budget halted the run after a batch (or before the first).
    Halt,
    /// This process is done with the run: completed, halted, paused or interrupted.
    End,
}

impl NotifyEvent {
    /// Every event, in the order they happen; the default `notify_on`.
    pub const ALL: [NotifyEvent; 4] = [Self::Start, Self::Batch, Self::Halt, Self::End];

    /// As written in `notify_on`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Batch => "batch",
            Self::Halt => "halt",
            Self::End => "end",
        }
    }

    /// Parses a `notify_on` entry.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == text)
    }
}

/// The JSON shape a webhook gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadFormat {
    /// rpatch's own summary object (see the README).
    #[default]
    Generic,
    /// A Slack incoming-webhook message: `{"text": ..., "blocks": [...]}`.
    Slack,
    /// A Teams message holding an Adaptive Card (Teams workflows and incoming webhooks).
    Teams,
    /// A legacy Office 365 connector MessageCard (older Teams incoming webhooks).
    TeamsMessageCard,
}

impl PayloadFormat {
    /// Every format, for parsing and messages.
    pub const ALL: [PayloadFormat; 4] = [
        Self::Generic,
        Self::Slack,
        Self::Teams,
        Self::TeamsMessageCard,
    ];

    /// As written in `format:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::TeamsMessageCard => "teams_messagecard",
        }
    }
}

/// Where a notification goes.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkKind {
    /// A JSON `POST` to an http(s) URL.
    Webhook {
        /// The URL (templated); its userinfo, path tokens and query values are never printed.
        url: String,
        /// The body's shape.
        format: PayloadFormat,
        /// Request headers (values templated, never printed).
        headers: IndexMap<String, String>,
        /// Verify the server's certificate (default true).
        validate_certs: bool,
        /// Trust only these CAs.
        ca_file: Option<PathBuf>,
    },
    /// A local program (argv, no shell) given the generic JSON payload on stdin.
    Command {
        /// Program and arguments (each templated).
        argv: Vec<String>,
    },
    /// A mail handed to `sendmail -t`.
    Email {
        /// Recipients (templated).
        to: Vec<String>,
        /// The `From:` address, if given (templated).
        from: Option<String>,
        /// The sendmail program, checked to exist at load time.
        sendmail: PathBuf,
    },
}

impl SinkKind {
    /// The YAML key that introduces this kind.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Webhook { .. } => "webhook",
            Self::Command { .. } => "command",
            Self::Email { .. } => "email",
        }
    }
}

/// The keys that introduce a sink kind.
pub const KIND_KEYS: [&str; 3] = ["webhook", "command", "email"];

/// One notification sink of a play.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkSpec {
    /// What it is called in messages (its `name`, or a description without secrets).
    pub name: String,
    /// Where it delivers.
    pub kind: SinkKind,
    /// The events it is told about.
    pub events: Vec<NotifyEvent>,
    /// Further attempts after a failed one.
    pub retries: u32,
    /// The first pause between attempts, doubled after each.
    pub delay: Duration,
    /// Time allowed for one attempt.
    pub timeout: Duration,
}

impl SinkSpec {
    /// Whether it wants `event`.
    pub fn wants(&self, event: NotifyEvent) -> bool {
        self.events.contains(&event)
    }

    /// The pause before attempt `attempt` (1-based retry number): `delay`, doubled each time,
    /// at most [`MAX_DELAY`].
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1).min(16));
        self.delay.saturating_mul(factor).min(MAX_DELAY)
    }
}
