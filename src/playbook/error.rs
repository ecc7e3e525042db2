//! Everything that can be wrong with a playbook, role or vars file, with where it is.

use std::path::PathBuf;

use crate::diagnostic::{Diagnose, Location};
use crate::template::TemplateError;
use crate::yaml::YamlError;

/// A playbook that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    /// A file could not be read (missing, not a regular file, over the input limit, ...).
    #[error("{source}")]
    Read {
        /// Why, naming the file.
        source: crate::input::InputError,
        /// What referred to it, if anything.
        at: Option<Location>,
    },
    /// Invalid YAML.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// A key that means nothing in this place.
    #[error("unknown {context} key `{key}`")]
    UnknownKey {
        /// "play", "task", "block", "role", "loop_control".
        context: &'static str,
        /// The key.
        key: String,
        /// The closest known key.
        suggestion: Option<String>,
        /// Where.
        at: Location,
    },
    /// A task key that is not a module rpatch knows.
    #[error("unknown module `{name}`")]
    UnknownModule {
        /// The name as written.
        name: String,
        /// The closest module name.
        suggestion: Option<String>,
        /// Where.
        at: Location,
    },
    /// A fully qualified module name (`ns.coll.module`) rpatch has no module for.
    #[error("module `{name}` of collection `{collection}` is not implemented by rpatch")]
    UnknownCollectionModule {
        /// The name as written.
        name: String,
        /// Its collection (`community.general`).
        collection: String,
        /// What rpatch implements of that collection, for the help line.
        implemented: Vec<&'static str>,
        /// Where.
        at: Location,
    },
    /// A task without anything to do.
    #[error("task has no module or action")]
    NoAction {
        /// Where the task starts.
        at: Location,
    },
    /// A task naming two actions.
    #[error("task has more than one action: `{first}` and `{second}`")]
    TwoActions {
        /// The first.
        first: String,
        /// The second.
        second: String,
        /// Where the second is.
        at: Location,
    },
    /// A value of the wrong type.
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        /// The key.
        key: String,
        /// What fits ("a list", "a mapping", ...).
        expected: &'static str,
        /// What was written.
        found: &'static str,
        /// Where the value is.
        at: Location,
    },
    /// A required key is missing.
    #[error("{context} needs `{key}`")]
    Missing {
        /// "play", "block", ...
        context: &'static str,
        /// The missing key.
        key: &'static str,
        /// Where the container starts.
        at: Location,
    },
    /// Module arguments that do not fit the module.
    #[error("bad arguments for module `{module}`: {source}")]
    ModuleArgs {
        /// The module.
        module: &'static str,
        /// What is wrong.
        source: crate::modules::ArgError,
        /// Where the arguments are.
        at: Location,
    },
    /// A role that is not in any roles directory.
    #[error("role `{name}` not found")]
    RoleNotFound {
        /// The role name.
        name: String,
        /// The directories searched.
        searched: Vec<PathBuf>,
        /// Where it is referenced.
        at: Location,
    },
    /// A file that includes itself, directly or not.
    #[error("include cycle: {chain}")]
    IncludeCycle {
        /// `a.yml -> b.yml -> a.yml`.
        chain: String,
        /// Where the cycle closes.
        at: Location,
    },
    /// A template that cannot be parsed or uses an unknown filter.
    #[error("{source}")]
    Template {
        /// What the template engine said.
        source: TemplateError,
        /// Where the template is.
        at: Location,
    },
    /// `notify:` names a handler that does not exist.
    #[error("handler `{name}` is notified but not defined")]
    UnknownHandler {
        /// The handler name or topic.
        name: String,
        /// The closest handler name.
        suggestion: Option<String>,
        /// Where it is notified.
        at: Location,
    },
    /// A rolling setting (`serial`, `window`, `order`, ...) that is not valid.
    #[error(transparent)]
    Rollout(Box<crate::rolling::SpecError>),
    /// A health-check gate that is not valid.
    #[error(transparent)]
    Gate(Box<crate::gates::GateSpecError>),
    /// A notification sink that is not valid.
    #[error(transparent)]
    Notify(Box<crate::notify::NotifySpecError>),
    /// A value that is the right type but not allowed.
    #[error("invalid `{key}`: {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// Why.
        reason: String,
        /// Where.
        at: Location,
    },
}

impl Diagnose for PlaybookError {
    fn location(&self) -> Option<&Location> {
        match self {
            Self::Read { at, .. } => at.as_ref(),
            Self::Yaml(error) => error.location(),
            Self::Rollout(error) => error.location(),
            Self::Gate(error) => error.location(),
            Self::Notify(error) => error.location(),
            Self::UnknownKey { at, .. }
            | Self::UnknownModule { at, .. }
            | Self::UnknownCollectionModule { at, .. }
            | Self::NoAction { at }
            | Self::TwoActions { at, .. }
            | Self::WrongType { at, .. }
            | Self::Missing { at, .. }
            | Self::ModuleArgs { at, .. }
            | Self::RoleNotFound { at, .. }
            | Self::IncludeCycle { at, .. }
            | Self::Template { at, .. }
            | Self::UnknownHandler { at, .. }
            | Self::Invalid { at, .. } => Some(at),
        }
    }

    fn help(&self) -> Option<String> {
        let suggestion = |s: &Option<String>| s.as_ref().map(|s| format!("did you mean `{s}`?"));
        match self {
            Self::Read { source, .. } => source.help(),
            Self::Yaml(error) => error.help(),
            Self::Rollout(error) => error.help(),
            Self::Gate(error) => error.help(),
            Self::Notify(error) => error.help(),
            Self::UnknownKey { suggestion: s, .. }
            | Self::UnknownModule { suggestion: s, .. }
            | Self::UnknownHandler { suggestion: s, .. } => suggestion(s),
            Self::ModuleArgs {
                source: crate::modules::ArgError::Unknown { suggestion: s, .. },
                ..
            } => suggestion(s),
            Self::UnknownCollectionModule {
                collection,
                implemented,
                ..
            } => Some(if implemented.is_empty() {
                format!("rpatch implements no module of `{collection}`")
            } else {
                format!(
                    "rpatch implements these of `{collection}`: {}",
                    implemented.join(", ")
                )
            }),
            Self::RoleNotFound { searched, .. } => Some(format!(
                "searched {}",
                searched
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Self::Template { source, .. } => source.help(),
            Self::NoAction { .. } => Some("add a module such as `command:` or `debug:`".into()),
            _ => None,
        }
    }
}
