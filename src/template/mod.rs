//! Templating: Jinja rendering with Ansible's semantics on top of minijinja.
//!
//! [`Templar`] renders playbook strings (native values for a lone `{{ expr }}`), evaluates
//! conditions and checks templates statically; [`Scope`] layers variables without merging them.

mod cache;
mod check;
mod environment;
mod error;
mod escapes;
mod filters_convert;
mod filters_data;
mod filters_lists;
mod filters_math;
mod filters_path;
mod filters_text;
mod jinja_tests;
mod lookups;
mod path_tests;
mod python_json;
mod python_yaml;
mod repr;
mod scope;
mod templar;

pub use error::TemplateError;
pub use scope::Scope;
pub use templar::{has_jinja as is_template, Templar};

/// `json.dumps(value)` with Python's defaults (what Ansible writes for non-text content).
pub fn python_json_dumps(value: &serde_json::Value) -> String {
    python_json::dumps(
        value,
        python_json::DumpOptions {
            indent: None,
            sort_keys: false,
            ensure_ascii: true,
        },
    )
}

/// A task result as Ansible's default output shows it after `=>`: `json.dumps` with sorted
/// keys and non-ASCII kept, on one line (`indent: None`) or indented.
pub fn result_json(value: &serde_json::Value, indent: Option<usize>) -> String {
    python_json::dumps(
        value,
        python_json::DumpOptions {
            indent,
            sort_keys: true,
            ensure_ascii: false,
        },
    )
}

/// Helpers shared by this module's tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, OnceLock};

    use super::{Scope, Templar, TemplateError};
    use crate::vars::Value;

    /// One templar for all tests, as the runner shares one.
    pub fn templar() -> &'static Templar {
        static TEMPLAR: OnceLock<Templar> = OnceLock::new();
        TEMPLAR.get_or_init(Templar::new)
    }

    /// A one-layer scope from a JSON object.
    pub fn scope(vars: serde_json::Value) -> Value {
        let layer = match vars {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), crate::vars::from_json(v)))
                .collect(),
            _ => Default::default(),
        };
        Scope::new(vec![Arc::new(layer)])
    }

    /// Evaluates a bare expression with `vars`, as JSON.
    pub fn eval_with(
        expr: &str,
        vars: serde_json::Value,
    ) -> Result<serde_json::Value, TemplateError> {
        templar()
            .eval_expression(expr, &scope(vars))
            .map(|v| crate::vars::to_json(&v))
    }

    /// Evaluates a bare expression without variables, as JSON; panics on error.
    pub fn eval(expr: &str) -> serde_json::Value {
        eval_with(expr, serde_json::json!({})).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// Renders a template to text without variables; panics on error.
    pub fn render(text: &str) -> String {
        templar()
            .render_to_string(text, &scope(serde_json::json!({})))
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// The error message of evaluating `expr` without variables.
    pub fn eval_err(expr: &str) -> String {
        match eval_with(expr, serde_json::json!({})) {
            Ok(v) => panic!("{expr}: expected an error, got {v}"),
            Err(e) => e.to_string(),
        }
    }
}
