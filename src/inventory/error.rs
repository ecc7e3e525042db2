//! Errors from loading an inventory and from evaluating host patterns.

use std::path::PathBuf;

use crate::diagnostic::{Diagnose, Location};
use crate::yaml::YamlError;

use super::range::RangeError;

/// Why an inventory (or a group_vars/host_vars file) could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A path could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read (not a regular file, over the input limit, not UTF-8, ...).
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    /// An inventory path given on the command line does not exist.
    #[error("inventory source {} does not exist", .0.display())]
    NotFound(PathBuf),
    /// A dynamic source (script, plugin config, constructed layer, cache) failed.
    #[error(transparent)]
    Dynamic(#[from] super::dynamic_error::DynamicError),
    /// A YAML file is not valid YAML.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// A host range such as `web[01:10]` is malformed.
    #[error("invalid host range `{pattern}`: {reason}")]
    Range {
        /// The host pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: RangeError,
        /// Where it is written.
        at: Location,
    },
    /// A host range expands to a host that is already listed in the same group.
    #[error("host `{host}` is listed twice in group `{group}` (the range `{pattern}` produces it again)")]
    DuplicateHost {
        /// The repeated host name.
        host: String,
        /// The group it is repeated in.
        group: String,
        /// The range pattern that produced the repeat.
        pattern: String,
        /// Where the range is written.
        at: Location,
    },
    /// A host name with a `:port` suffix whose port is not a number.
    #[error("invalid port in host `{pattern}`: expected a number after `:`")]
    BadPort {
        /// The host as written.
        pattern: String,
        /// Where it is written.
        at: Location,
    },
    /// An INI section header such as `[web:varz]` with an unknown suffix.
    #[error("section `[{group}:{suffix}]` has unknown type `{suffix}`")]
    UnknownSectionType {
        /// The group named by the section.
        group: String,
        /// The unknown suffix.
        suffix: String,
        /// Where the suffix is written.
        at: Location,
    },
    /// A line that looks like an INI section header but is not one.
    #[error("invalid section header `{text}`")]
    InvalidSection {
        /// The line.
        text: String,
        /// Where it is written.
        at: Location,
    },
    /// A token on a host line or in a `:vars` section that is not `key=value`.
    #[error("expected `key=value`, found `{text}`")]
    ExpectedKeyValue {
        /// The token.
        text: String,
        /// Where it is written.
        at: Location,
    },
    /// A quote opened on an INI line is never closed.
    #[error("unclosed quote on this line")]
    UnclosedQuote {
        /// Where the line starts.
        at: Location,
    },
    /// A key inside a YAML inventory group other than `hosts`, `vars` or `children`.
    #[error("unknown key `{key}` in group `{group}`")]
    UnknownGroupKey {
        /// The key.
        key: String,
        /// The group.
        group: String,
        /// The closest valid key, if the key looks like a typo of one.
        suggestion: Option<String>,
        /// Where the key is written.
        at: Location,
    },
    /// A value of the wrong type (a list where a mapping is expected, ...).
    #[error("{what} must be {expected}, found {found}")]
    WrongType {
        /// What the value is for.
        what: String,
        /// What it should be.
        expected: &'static str,
        /// What it is.
        found: &'static str,
        /// Where it is written.
        at: Location,
    },
    /// Groups nested deeper than [`super::model::MAX_GROUP_DEPTH`] below `all`.
    #[error(
        "group `{group}` is nested {depth} levels below `all`; at most {} are allowed",
        super::model::MAX_GROUP_DEPTH
    )]
    TooDeep {
        /// The group.
        group: String,
        /// Its depth.
        depth: usize,
        /// Where it is made a child, when known.
        at: Option<Location>,
    },
    /// Groups that are (indirectly) their own children.
    #[error("group cycle: {}", cycle.join(" -> "))]
    Cycle {
        /// The groups along the cycle, first and last equal.
        cycle: Vec<String>,
        /// Where the edge closing the cycle is declared, when known.
        at: Option<Location>,
    },
}

impl Diagnose for InventoryError {
    fn location(&self) -> Option<&Location> {
        match self {
            Self::Io { .. } | Self::Input(_) | Self::NotFound(_) => None,
            Self::Dynamic(error) => error.location(),
            Self::Yaml(error) => error.location(),
            Self::Range { at, .. }
            | Self::DuplicateHost { at, .. }
            | Self::BadPort { at, .. }
            | Self::UnknownSectionType { at, .. }
            | Self::InvalidSection { at, .. }
            | Self::ExpectedKeyValue { at, .. }
            | Self::UnclosedQuote { at }
            | Self::UnknownGroupKey { at, .. }
            | Self::WrongType { at, .. } => Some(at),
            Self::Cycle { at, .. } | Self::TooDeep { at, .. } => at.as_ref(),
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            Self::Yaml(error) => error.help(),
            Self::Input(error) => error.help(),
            Self::Range {
                reason: RangeError::TooMany,
                ..
            } => Some(format!(
                "one inventory file may expand ranges to at most {} hosts; check the bounds",
                super::range::MAX_EXPANDED
            )),
            Self::Range { .. } => Some(
                "ranges are `[begin:end]` or `[begin:end:step]`, numeric (`[01:20]`) or alphabetic (`[a:f]`)".into(),
            ),
            Self::DuplicateHost { .. } => Some("remove the overlapping entry or narrow the range".into()),
            Self::UnknownSectionType { .. } => {
                Some("a section is `[group]`, `[group:vars]` or `[group:children]`".into())
            }
            Self::InvalidSection { .. } => {
                Some("a section is `[group]`, `[group:vars]` or `[group:children]`, with no spaces".into())
            }
            Self::ExpectedKeyValue { .. } => {
                Some("quote values that contain spaces: key=\"a value\"".into())
            }
            Self::UnknownGroupKey { suggestion, .. } => Some(match suggestion {
                Some(key) => format!("did you mean `{key}`? a group may only contain `hosts`, `vars` and `children`"),
                None => "a group may only contain `hosts`, `vars` and `children`".into(),
            }),
            Self::Cycle { .. } => Some("a group cannot be a child of one of its own children".into()),
            Self::Dynamic(error) => error.help(),
            _ => None,
        }
    }
}

/// Why a host pattern (a play's `hosts:` or `--limit`) cannot be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    /// A `~regex` element is not a valid regular expression.
    #[error("invalid regular expression in host pattern `{element}`: {source}")]
    InvalidRegex {
        /// The pattern element.
        element: String,
        /// What the regex engine said.
        #[source]
        source: Box<regex::Error>,
    },
    /// A subscript such as `web[5]` points past the hosts that matched.
    #[error("no hosts matched the subscripted pattern `{element}`")]
    SubscriptOutOfRange {
        /// The pattern element.
        element: String,
    },
    /// A `--limit` element matches no host.
    #[error("`--limit` element `{element}` matches no host or group")]
    NoMatch {
        /// The pattern element.
        element: String,
        /// The closest host or group name.
        suggestion: Option<String>,
    },
    /// A `--limit` that selects no host: empty (`-l ''`), an `@file` with no pattern in it, or
    /// elements that select no host (empty groups, or `&`/`!` excluding every host). ansible-playbook's message and exit code
    /// (1); unlike ansible-playbook, an empty limit is never read as "all hosts".
    #[error("Specified inventory, host pattern and/or --limit leaves us with no hosts to target.")]
    NoHostsToTarget {
        /// The limit as given.
        limit: String,
        /// Why it selects nothing.
        reason: EmptyLimit,
    },
    /// A `--limit @file` could not be read.
    #[error("limit file: {source}")]
    LimitFile {
        /// Why, naming the file.
        #[source]
        source: crate::input::InputError,
    },
}

/// Why a `--limit` selects no host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyLimit {
    /// The limit has no pattern in it (`-l ''`, `-l ' , '`).
    NoPattern,
    /// The `@file` holds only blank lines and `#` comments.
    EmptyFile,
    /// Its elements match, but only empty groups, or `&`/`!` elements leave no host.
    NoHostLeft,
}

impl Diagnose for PatternError {
    fn help(&self) -> Option<String> {
        match self {
            Self::NoMatch {
                suggestion: Some(name),
                ..
            } => Some(format!("did you mean `{name}`?")),
            Self::NoMatch { .. } => {
                Some("list the inventory with `rpatch inventory --graph`".into())
            }
            Self::InvalidRegex { .. } => Some(
                "a `~` element is a regular expression matched from the start of the name".into(),
            ),
            Self::NoHostsToTarget { limit, reason } => Some(match reason {
                EmptyLimit::NoPattern => {
                    let what = if limit.trim().is_empty() {
                        "the limit is empty".to_string()
                    } else {
                        format!("the limit `{limit}` names no host")
                    };
                    format!(
                        "{what}, so no host is targeted (an empty limit never means all hosts); \
                         to target every host, leave out -l or pass -l all"
                    )
                }
                EmptyLimit::EmptyFile => format!(
                    "`{}` holds no host pattern, only blank lines or comments; to target every \
                     host, leave out -l or pass -l all",
                    limit.trim_start_matches('@')
                ),
                EmptyLimit::NoHostLeft => format!(
                    "`{limit}` selects no host: its groups are empty or its `&`/`!` elements \
                     leave none"
                ),
            }),
            _ => None,
        }
    }
}
