//! Global functions: `lookup` / `query` with the `env` and `file` plugins.
//!
//! `range` and `dict` come from minijinja itself. Lookups run on the control node, like
//! Ansible's; `file` paths are relative to the current directory.

use minijinja::value::{Kwargs, Rest};
use minijinja::{Error, ErrorKind, Value};

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Runs lookup plugin `plugin` over `terms`, one result per term.
fn run_lookup(plugin: &str, terms: &[String], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    match plugin {
        "env" | "ansible.builtin.env" => {
            let default = kwargs.get::<Option<Value>>("default")?;
            Ok(terms
                .iter()
                .map(|name| match std::env::var(name) {
                    Ok(v) => Value::from(v),
                    Err(_) => default.clone().unwrap_or_else(|| Value::from("")),
                })
                .collect())
        }
        "file" | "ansible.builtin.file" => {
            let rstrip = kwargs.get::<Option<bool>>("rstrip")?.unwrap_or(true);
            let lstrip = kwargs.get::<Option<bool>>("lstrip")?.unwrap_or(false);
            terms
                .iter()
                .map(|path| {
                    let text = crate::input::read_text(std::path::Path::new(path))
                        .map_err(|e| invalid(format!("lookup('file'): {e}")))?;
                    let text = if rstrip { text.trim_end() } else { &text };
                    let text = if lstrip { text.trim_start() } else { text };
                    Ok(Value::from(text))
                })
                .collect()
        }
        other => Err(invalid(format!(
            "lookup plugin {other:?} is not supported (supported: env, file)"
        ))),
    }
}

/// `lookup(plugin, *terms, wantlist=False)`: the results joined with `,` (or a list with
/// `wantlist=True`).
pub fn lookup(plugin: &str, terms: Rest<String>, kwargs: Kwargs) -> Result<Value, Error> {
    let wantlist = kwargs.get::<Option<bool>>("wantlist")?.unwrap_or(false);
    let results = run_lookup(plugin, &terms, &kwargs)?;
    kwargs.assert_all_used()?;
    if wantlist {
        return Ok(Value::from(results));
    }
    if results.len() == 1 {
        return Ok(results.into_iter().next().unwrap_or_default());
    }
    let joined: Vec<String> = results.iter().map(ToString::to_string).collect();
    Ok(Value::from(joined.join(",")))
}

/// `query(plugin, *terms)` / `q`: the results as a list.
pub fn query(plugin: &str, terms: Rest<String>, kwargs: Kwargs) -> Result<Value, Error> {
    let results = run_lookup(plugin, &terms, &kwargs)?;
    kwargs.assert_all_used()?;
    Ok(Value::from(results))
}
