//! Template errors: what went wrong while parsing, checking or rendering a Jinja template.
//!
//! Errors carry no location: the caller knows which playbook field the template came from and
//! wraps the error with that context.

use crate::diagnostic::Diagnose;

/// An error from parsing, checking or rendering a template or expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template or expression is not valid Jinja.
    #[error("template syntax error: {message} in `{text}`")]
    Syntax {
        /// What the parser expected.
        message: String,
        /// The offending template text.
        text: String,
    },
    /// A variable (or an attribute of one) is not defined.
    #[error("{message}")]
    UndefinedVariable {
        /// The undefined variable or attribute path, e.g. `pkgs` or `host.name`.
        name: String,
        /// A sentence naming it, e.g. `'pkgs' is undefined`.
        message: String,
    },
    /// A filter that does not exist.
    #[error("unknown filter `{name}`")]
    UnknownFilter {
        /// The filter name as written.
        name: String,
        /// The closest known filter, if any.
        suggestion: Option<String>,
    },
    /// A test (`x is name`) that does not exist.
    #[error("unknown test `{name}`")]
    UnknownTest {
        /// The test name as written.
        name: String,
        /// The closest known test, if any.
        suggestion: Option<String>,
    },
    /// A lookup plugin (`lookup('name')`) that does not exist.
    #[error("unknown lookup plugin `{name}`")]
    UnknownLookup {
        /// The plugin name as written.
        name: String,
        /// The closest known plugin, if any.
        suggestion: Option<String>,
    },
    /// Any other failure while rendering (a type error in a filter, a failed lookup, ...).
    #[error("template error: {message}")]
    Render {
        /// What went wrong.
        message: String,
    },
}

impl TemplateError {
    /// An undefined-variable error for a plain variable name.
    pub fn undefined(name: impl Into<String>) -> Self {
        let name = name.into();
        Self::UndefinedVariable {
            message: format!("'{name}' is undefined"),
            name,
        }
    }

    /// An undefined-attribute error: `parent` exists but has no `attribute`.
    pub fn missing_attribute(parent: &str, attribute: &str) -> Self {
        Self::UndefinedVariable {
            name: format!("{parent}.{attribute}"),
            message: format!("'{parent}' has no attribute '{attribute}'"),
        }
    }
}

impl Diagnose for TemplateError {
    fn help(&self) -> Option<String> {
        match self {
            Self::UnknownFilter {
                suggestion: Some(s),
                ..
            }
            | Self::UnknownTest {
                suggestion: Some(s),
                ..
            }
            | Self::UnknownLookup {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean `{s}`?")),
            Self::UndefinedVariable { .. } => {
                Some("define the variable, or give it a fallback with `| default(...)`".to_string())
            }
            _ => None,
        }
    }
}

/// The message of a minijinja error including its causes, without the template-name suffix
/// minijinja appends (our template names are the template text itself).
pub(crate) fn describe(err: &minijinja::Error) -> String {
    let mut message = match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = match cause.downcast_ref::<minijinja::Error>() {
            Some(inner) => describe(inner),
            None => cause.to_string(),
        };
        message.push_str(": ");
        message.push_str(&text);
        source = cause.source();
        if cause.is::<minijinja::Error>() {
            break;
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_error_names_the_variable() {
        let err = TemplateError::undefined("pkgs");
        assert_eq!(err.to_string(), "'pkgs' is undefined");
        assert!(err.help().is_some());
    }

    #[test]
    fn missing_attribute_names_parent_and_attribute() {
        let err = TemplateError::missing_attribute("host", "addr");
        assert_eq!(err.to_string(), "'host' has no attribute 'addr'");
        assert!(
            matches!(err, TemplateError::UndefinedVariable { name, .. } if name == "host.addr")
        );
    }

    #[test]
    fn unknown_filter_suggests_the_closest_name() {
        let err = TemplateError::UnknownFilter {
            name: "to_jsn".into(),
            suggestion: Some("to_json".into()),
        };
        assert_eq!(err.help().as_deref(), Some("did you mean `to_json`?"));
    }
}
