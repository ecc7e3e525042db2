//! Lookup plugins behind `lookup()` / `query()` / `q()`, run on the controller as Ansible's are.
//!
//! Terms are the call's positional arguments. Relative paths are searched as Ansible does: the
//! role's `<subdir>`, the role, the playbook's `<subdir>`, the playbook's directory. Plugins that
//! are also loop keywords (`items`, `first_found`, `fileglob`, ...) share the `with_<name>` code.
//! `errors='ignore'` / `'warn'` turn a failing lookup into `None` (`[]` for `query`).

use std::path::{Path, PathBuf};

use minijinja::value::{Kwargs, Rest};
use minijinja::{Error, ErrorKind, State, Value};
use serde_json::Value as Json;

use crate::playbook::LoopKind;
use crate::runner::loops::{self, SearchPaths};

/// Every lookup plugin name rpatch knows (without the `ansible.builtin.` prefix).
pub(crate) const NAMES: &[&str] = &[
    "env",
    "file",
    "pipe",
    "template",
    "vars",
    "items",
    "list",
    "flattened",
    "dict",
    "indexed_items",
    "together",
    "nested",
    "cartesian",
    "subelements",
    "sequence",
    "fileglob",
    "first_found",
    "lines",
    "random_choice",
];

/// Whether `name` (short or `ansible.builtin.`) is a known lookup plugin.
pub(crate) fn is_known(name: &str) -> bool {
    NAMES.contains(&short(name))
}

fn short(name: &str) -> &str {
    name.strip_prefix("ansible.builtin.").unwrap_or(name)
}

fn failed(plugin: &str, message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("The lookup plugin '{plugin}' failed: {message}"),
    )
}

/// What a plugin made of its terms: its results, or why it failed.
type Outcome = Result<Vec<Value>, Error>;

/// `lookup(plugin, *terms, wantlist=False, errors='strict', ...)`: one result as it is, text
/// results joined with `,`, other results as a list.
pub fn lookup(
    state: &State,
    plugin: &str,
    terms: Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let wantlist = kwargs.get::<Option<bool>>("wantlist")?.unwrap_or(false);
    let Some(results) = run_checked(state, plugin, &terms, &kwargs)? else {
        return Ok(Value::from(()));
    };
    if wantlist || results.is_empty() {
        return Ok(Value::from(results));
    }
    if results.len() == 1 {
        return Ok(results.into_iter().next().unwrap_or_default());
    }
    if results.iter().all(|v| v.as_str().is_some()) {
        let joined: Vec<&str> = results.iter().filter_map(Value::as_str).collect();
        return Ok(Value::from(joined.join(",")));
    }
    Ok(Value::from(results))
}

/// `query(plugin, *terms)` / `q`: the results as a list.
pub fn query(
    state: &State,
    plugin: &str,
    terms: Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    // `wantlist` is accepted and always true, as Ansible's `query` forces it.
    let _ = kwargs.get::<Option<bool>>("wantlist")?;
    let results = run_checked(state, plugin, &terms, &kwargs)?.unwrap_or_default();
    Ok(Value::from(results))
}

/// Runs the plugin and applies `errors=`: `None` when a failure is ignored.
fn run_checked(
    state: &State,
    plugin: &str,
    terms: &[Value],
    kwargs: &Kwargs,
) -> Result<Option<Vec<Value>>, Error> {
    let errors = kwargs.get::<Option<String>>("errors")?;
    if !is_known(plugin) {
        return Err(Error::new(
            ErrorKind::UnknownFunction,
            format!("The lookup plugin '{plugin}' was not found."),
        ));
    }
    let outcome = run(state, short(plugin), terms, kwargs);
    let outcome = outcome.and_then(|results| {
        kwargs.assert_all_used()?;
        Ok(results)
    });
    match (outcome, errors.as_deref()) {
        (Ok(results), _) => Ok(Some(results)),
        (Err(_), Some("ignore")) => Ok(None),
        (Err(error), Some("warn")) => {
            tracing::warn!("An error occurred while running the lookup plugin '{plugin}': {error}");
            Ok(None)
        }
        (Err(error), Some("strict") | None) => Err(error),
        (Err(_), Some(other)) => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("lookup errors= must be strict, warn or ignore, not {other:?}"),
        )),
    }
}

/// The search paths for relative names, from the template's `role_path` and `playbook_dir`.
fn search_paths(state: &State, subdir: &'static str) -> SearchPaths {
    let dir = |name: &str| {
        state
            .lookup(name)
            .and_then(|v| v.as_str().map(PathBuf::from))
    };
    SearchPaths {
        role: dir("role_path"),
        playbook: dir("playbook_dir"),
        subdir,
    }
}

/// Terms as text, one level of lists spliced in (`lookup('file', ['a', 'b'])`).
fn texts(plugin: &str, terms: &[Value]) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for term in terms {
        let items: Vec<Value> = if term.as_str().is_none() && term.try_iter().is_ok() {
            term.try_iter().map(Iterator::collect).unwrap_or_default()
        } else {
            vec![term.clone()]
        };
        for item in items {
            match item.as_str() {
                Some(text) => out.push(text.to_string()),
                None => return Err(failed(plugin, format!("expected text terms, got {item}"))),
            }
        }
    }
    Ok(out)
}

fn to_json(value: &Value) -> Json {
    crate::vars::to_json(value)
}

fn from_json(value: &Json) -> Value {
    crate::vars::from_json(value)
}

/// The loop-keyword plugins: `with_<name>` turns its value into items the same way.
fn as_loop(name: &str) -> Option<LoopKind> {
    let kind = match name {
        "items" => LoopKind::Items,
        "flattened" => LoopKind::Flattened,
        "indexed_items" => LoopKind::IndexedItems,
        "together" => LoopKind::Together,
        "nested" | "cartesian" => LoopKind::Nested,
        "subelements" => LoopKind::Subelements,
        "sequence" => LoopKind::Sequence,
        "fileglob" => LoopKind::Fileglob,
        "first_found" => LoopKind::FirstFound,
        "lines" => LoopKind::Lines,
        "random_choice" => LoopKind::RandomChoice,
        _ => return None,
    };
    Some(kind)
}

fn run(state: &State, plugin: &str, terms: &[Value], kwargs: &Kwargs) -> Outcome {
    if let Some(kind) = as_loop(plugin) {
        let mut value = Json::Array(terms.iter().map(to_json).collect());
        if kind == LoopKind::FirstFound {
            // `files=` / `paths=` / `skip=` given as keywords join the terms as one dict.
            let mut spec = serde_json::Map::new();
            for key in ["files", "paths", "skip"] {
                if let Some(v) = kwargs.get::<Option<Value>>(key)? {
                    spec.insert(key.to_string(), to_json(&v));
                }
            }
            if !spec.is_empty() {
                if let Json::Array(items) = &mut value {
                    if items.is_empty() {
                        items.push(Json::Object(spec));
                    } else {
                        let skip = spec.get("skip").cloned();
                        let paths = spec.get("paths").cloned();
                        let files = std::mem::take(items);
                        let mut merged = serde_json::Map::new();
                        merged.insert("files".into(), Json::Array(loops_flatten(files)));
                        if let Some(paths) = paths {
                            merged.insert("paths".into(), paths);
                        }
                        if let Some(skip) = skip {
                            merged.insert("skip".into(), skip);
                        }
                        items.push(Json::Object(merged));
                    }
                }
            }
        }
        let paths = search_paths(state, "files");
        return loops::expand(kind, value, &paths)
            .map(|items| items.iter().map(from_json).collect())
            .map_err(|message| failed(plugin, message));
    }
    match plugin {
        "env" => {
            let default = kwargs.get::<Option<Value>>("default")?;
            Ok(texts(plugin, terms)?
                .iter()
                .map(|name| match std::env::var(name) {
                    Ok(v) => Value::from(v),
                    Err(_) => default.clone().unwrap_or_else(|| Value::from("")),
                })
                .collect())
        }
        "file" => {
            let rstrip = kwargs.get::<Option<bool>>("rstrip")?.unwrap_or(true);
            let lstrip = kwargs.get::<Option<bool>>("lstrip")?.unwrap_or(false);
            let paths = search_paths(state, "files");
            texts(plugin, terms)?
                .iter()
                .map(|name| {
                    let text = read(plugin, &paths, name)?;
                    let text = if rstrip { text.trim_end() } else { &text };
                    let text = if lstrip { text.trim_start() } else { text };
                    Ok(Value::from(text))
                })
                .collect()
        }
        "template" => {
            let extra = kwargs.get::<Option<Value>>("template_vars")?;
            let _ = kwargs.get::<Option<bool>>("convert_data")?;
            let paths = search_paths(state, "templates");
            texts(plugin, terms)?
                .iter()
                .map(|name| {
                    let text = read(plugin, &paths, name)?;
                    render(state, &text, extra.as_ref()).map(Value::from)
                })
                .collect()
        }
        "pipe" => {
            let cwd = search_paths(state, "files").playbook;
            texts(plugin, terms)?
                .iter()
                .map(|command| pipe(plugin, command, cwd.as_deref()))
                .collect()
        }
        "vars" => {
            let default = kwargs.get::<Option<Value>>("default")?;
            texts(plugin, terms)?
                .iter()
                .map(|name| match state.lookup(name) {
                    Some(v) if !v.is_undefined() => Ok(v),
                    _ => default.clone().ok_or_else(|| {
                        failed(plugin, format!("No variable named '{name}' was found."))
                    }),
                })
                .collect()
        }
        "list" => Ok(terms.to_vec()),
        "dict" => {
            let mut out = Vec::new();
            for term in terms {
                let Json::Object(map) = to_json(term) else {
                    return Err(failed(
                        plugin,
                        format!("with_dict expects a dict, got {term}"),
                    ));
                };
                out.extend(map.into_iter().map(|(key, value)| {
                    from_json(&serde_json::json!({"key": key, "value": value}))
                }));
            }
            Ok(out)
        }
        other => Err(failed(other, "is not supported")),
    }
}

fn loops_flatten(items: Vec<Json>) -> Vec<Json> {
    items
        .into_iter()
        .flat_map(|item| match item {
            Json::Array(inner) => inner,
            other => vec![other],
        })
        .collect()
}

/// Reads the first existing candidate for `name`.
fn read(plugin: &str, paths: &SearchPaths, name: &str) -> Result<String, Error> {
    let found = paths
        .candidates(name)
        .into_iter()
        .find(|path| path.is_file())
        .ok_or_else(|| {
            failed(
                plugin,
                format!("Unable to access the file '{name}': File not found."),
            )
        })?;
    crate::input::read_text(&found).map_err(|e| failed(plugin, e))
}

/// Renders a template file with the variables it uses, as the calling template sees them,
/// plus `extra`.
fn render(state: &State, text: &str, extra: Option<&Value>) -> Result<String, Error> {
    let template = state.env().template_from_str(text)?;
    let mut values: Vec<(Value, Value)> = template
        .undeclared_variables(false)
        .into_iter()
        .filter_map(|name| {
            let value = state.lookup(&name)?;
            Some((Value::from(name), value))
        })
        .collect();
    if let Some(extra) = extra {
        for key in extra.try_iter().into_iter().flatten() {
            if let Ok(value) = extra.get_item(&key) {
                values.push((key, value));
            }
        }
    }
    template.render(Value::from_pairs(values))
}

/// Runs `command` through `sh -c` on the controller; its output without trailing whitespace.
fn pipe(plugin: &str, command: &str, cwd: Option<&Path>) -> Result<Value, Error> {
    let mut process = std::process::Command::new("sh");
    process
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null());
    if let Some(dir) = cwd.filter(|d| d.is_dir()) {
        process.current_dir(dir);
    }
    let output = process
        .output()
        .map_err(|e| failed(plugin, format!("cannot run sh: {e}")))?;
    if !output.status.success() {
        return Err(failed(
            plugin,
            format!(
                "lookup_plugin.pipe({command}) returned {}",
                output.status.code().unwrap_or(-1)
            ),
        ));
    }
    Ok(Value::from(
        String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use crate::template::testing::eval_with;
    use serde_json::json;

    #[test]
    fn template_and_file_lookups_search_the_playbook_dirs() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("templates")).expect("mkdir");
        std::fs::write(dir.path().join("templates/t.j2"), "hi {{ who }}\n").expect("write");
        std::fs::write(dir.path().join("data.txt"), "data\n").expect("write");
        let vars = json!({"playbook_dir": dir.path(), "who": "there"});
        assert_eq!(
            eval_with("lookup('template', 't.j2')", vars.clone()).expect("template"),
            json!("hi there\n")
        );
        assert_eq!(
            eval_with(
                "lookup('template', 't.j2', template_vars={'who': 'x'})",
                vars.clone()
            )
            .expect("template_vars"),
            json!("hi x\n")
        );
        assert_eq!(
            eval_with("lookup('file', 'data.txt')", vars).expect("file"),
            json!("data")
        );
    }

    #[test]
    fn results_are_joined_listed_or_ignored_as_ansible_does() {
        let vars = json!({"n": 5});
        let eval = |expr: &str| eval_with(expr, vars.clone()).expect(expr);
        assert_eq!(eval("lookup('items', ['a', 'b'])"), json!("a,b"));
        assert_eq!(eval("lookup('items', [1, 2])"), json!([1, 2]));
        assert_eq!(eval("lookup('items', ['a'])"), json!("a"));
        assert_eq!(eval("lookup('items', ['a'], wantlist=True)"), json!(["a"]));
        assert_eq!(eval("query('vars', 'n')"), json!([5]));
        assert_eq!(eval("query('vars', 'n', wantlist=True)"), json!([5]));
        assert_eq!(eval("lookup('file', 'nope', errors='ignore')"), json!(null));
        assert_eq!(eval("q('file', 'nope', errors='ignore')"), json!([]));
        let error = eval_with("lookup('nope')", vars.clone()).expect_err("unknown");
        assert!(
            error.to_string().contains("'nope' was not found"),
            "{error}"
        );
    }
}
