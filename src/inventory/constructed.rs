//! The `constructed` layer (Ansible's `constructed` plugin and the `Constructable` options of
//! every inventory plugin): `compose` new host variables, add hosts to `groups` whose condition
//! holds, and to `keyed_groups` named after a variable's value.
//!
//! Per host, in Ansible's order: every `compose` entry is rendered against the host's
//! variables as they were before any of them (a composed variable cannot feed another), then
//! `groups` and `keyed_groups` see the composed variables. The variables are the inventory's
//! own (group vars by precedence, then host vars, plus `inventory_hostname`, `group_names`);
//! `group_vars/`/`host_vars/` only with `use_vars_plugins: true`, as in Ansible. With
//! `strict: false` (the default) an entry that fails to render is skipped for that host.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::template::{Scope, Templar};
use crate::vars::{Value, Vars};

use super::dynamic_error::DynamicError;
use super::error::InventoryError;
use super::model::Inventory;
use super::trust::Origins;

/// The options of the constructed layer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constructable {
    /// Variable name → Jinja expression.
    #[serde(default)]
    pub compose: IndexMap<String, Json>,
    /// Group name → Jinja condition.
    #[serde(default)]
    pub groups: IndexMap<String, Json>,
    /// Groups named after the value of an expression.
    #[serde(default)]
    pub keyed_groups: Vec<KeyedGroup>,
    /// Fail on an entry that does not render instead of skipping it.
    #[serde(default)]
    pub strict: bool,
    /// With an empty `prefix`, still start the name with the separator (Ansible's default).
    #[serde(default = "yes")]
    pub leading_separator: bool,
    /// Let expressions see `group_vars/` and `host_vars/` too.
    #[serde(default)]
    pub use_vars_plugins: bool,
}

fn yes() -> bool {
    true
}

/// One `keyed_groups` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyedGroup {
    /// The expression whose value names the group(s): a string, a list or a mapping.
    pub key: String,
    /// Put before the value.
    #[serde(default)]
    pub prefix: String,
    /// Between prefix and value (default `_`).
    #[serde(default = "underscore")]
    pub separator: String,
    /// The name used when the value is empty.
    pub default_value: Option<String>,
    /// For a mapping value that is empty: `false` leaves out the trailing separator.
    pub trailing_separator: Option<bool>,
    /// A group (a template) every keyed group becomes a child of.
    pub parent_group: Option<String>,
}

fn underscore() -> String {
    "_".into()
}

impl Constructable {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.compose.is_empty() && self.groups.is_empty() && self.keyed_groups.is_empty()
    }
}

/// Variables Ansible computes as new (untrusted) strings: passed through by `compose`, they
/// are still marked in `--list`.
const MADE_BY_ANSIBLE: [&str; 3] = [
    "inventory_hostname",
    "inventory_hostname_short",
    "group_names",
];

/// Characters Ansible replaces in constructed group names (`C.INVALID_VARIABLE_NAMES`).
static INVALID: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[\d\W]|[^\w]").unwrap_or_else(|_| unreachable!()));

/// A group name made safe as Ansible's `to_safe_group_name(force=True)` does.
pub fn safe_group_name(name: &str) -> String {
    INVALID.replace_all(name, "_").into_owned()
}

/// Applies `options` (from `path`) to the hosts of `inventory` (only those in `only`, when
/// given, for a plugin's own hosts).
pub fn apply(
    inventory: &mut Inventory,
    options: &Constructable,
    path: &Path,
    only: Option<&[String]>,
) -> Result<(), InventoryError> {
    if options.is_empty() {
        return Ok(());
    }
    let mut view = inventory.clone();
    view.finalize()?;
    let templar = Templar::new();
    let hosts: Vec<String> = match only {
        Some(only) => only.to_vec(),
        None => view.hosts.keys().cloned().collect(),
    };
    let fail = |message: String| -> InventoryError {
        DynamicError::Constructed {
            path: path.to_path_buf(),
            message,
        }
        .into()
    };
    for host in hosts {
        let mut origins = Origins::default();
        let mut vars: Vars = visible_vars(&view, inventory, &host, options.use_vars_plugins)
            .into_iter()
            .map(|(name, value)| {
                let made = MADE_BY_ANSIBLE.contains(&name.as_str());
                let value = origins.track(&value, &inventory.untrusted, made);
                (name, value)
            })
            .collect();
        let scope = Scope::new(vec![Arc::new(vars.clone())]);
        let mut composed = Vars::new();
        for (name, expr) in &options.compose {
            match templar.eval_expression(&expr_text(expr), &scope) {
                Ok(value) => {
                    let value = origins.settle(&value, &mut inventory.untrusted);
                    composed.insert(name.clone(), value);
                }
                Err(e) if options.strict => {
                    return Err(fail(format!("could not set `{name}` for host {host}: {e}")))
                }
                Err(_) => {}
            }
        }
        if !composed.is_empty() {
            inventory.set_host_vars(&host, composed.clone());
            vars.extend(composed);
        }
        let scope = Scope::new(vec![Arc::new(vars)]);
        for (name, condition) in &options.groups {
            let group = safe_group_name(name);
            match condition_holds(&templar, condition, &scope) {
                Ok(true) => inventory.add_host(&host, &group, None),
                Ok(false) => {}
                Err(e) if options.strict => {
                    return Err(fail(format!(
                        "could not add host {host} to group {group}: {e}"
                    )))
                }
                Err(_) => {}
            }
        }
        for keyed in &options.keyed_groups {
            keyed_group(inventory, options, keyed, &templar, &scope, &host).map_err(fail)?;
        }
    }
    Ok(())
}

/// A `groups` condition for one host. As in ansible-core 2.19 (without
/// `ALLOW_BROKEN_CONDITIONALS`), a result that is not a boolean is an error, so with
/// `strict: false` the host is left out rather than added for a truthy string or number.
fn condition_holds(templar: &Templar, condition: &Json, scope: &Value) -> Result<bool, String> {
    if let Json::Bool(literal) = condition {
        return Ok(*literal);
    }
    let text = expr_text(condition);
    let result = templar
        .eval_expression(&text, scope)
        .map_err(|e| e.to_string())?;
    match result.kind() {
        minijinja::value::ValueKind::Bool => Ok(result.is_true()),
        _ => Err(format!(
            "conditional result ({}) was derived from `{text}`, a {}; conditionals must have a boolean result",
            if result.is_true() { "True" } else { "False" },
            py_type(&crate::vars::to_json(&result))
        )),
    }
}

/// One `keyed_groups` entry for one host; `Err` is the message of a strict failure.
fn keyed_group(
    inventory: &mut Inventory,
    options: &Constructable,
    keyed: &KeyedGroup,
    templar: &Templar,
    scope: &Value,
    host: &str,
) -> Result<(), String> {
    if keyed.trailing_separator.is_some() && keyed.default_value.is_some() {
        return Err(
            "`default_value` and `trailing_separator` are mutually exclusive in a keyed group"
                .into(),
        );
    }
    let key = match templar.eval_expression(&keyed.key, scope) {
        Ok(key) => crate::vars::to_json(&key),
        Err(e) if options.strict => {
            return Err(format!(
                "could not generate group for host {host} from `{}`: {e}",
                keyed.key
            ))
        }
        Err(_) => return Ok(()),
    };
    // Ansible 2.19: `None` and `''` take the `default_value` (for the key, a list item or a
    // mapping's value); a mapping's empty value without one drops the separator when
    // `trailing_separator: false`.
    let defaultable = |value: &Json| matches!(value, Json::Null) || value.as_str() == Some("");
    let use_default = defaultable(&key) && keyed.default_value.is_some();
    if !truthy(&key) && !use_default {
        let blank = matches!(&key, Json::Array(a) if a.is_empty())
            || matches!(&key, Json::Object(o) if o.is_empty());
        if options.strict && !blank {
            return Err(format!(
                "no key or key resulted empty for `{}` in host {host}, invalid entry",
                keyed.key
            ));
        }
        return Ok(());
    }
    let sep = &keyed.separator;
    let names: Vec<String> = match (&key, &keyed.default_value) {
        (_, Some(default)) if use_default => vec![default.clone()],
        (Json::String(name), _) => vec![name.clone()],
        (Json::Array(items), default) => items
            .iter()
            .map(|item| match default {
                Some(default) if defaultable(item) => default.clone(),
                _ => py_str(item),
            })
            .collect(),
        (Json::Object(map), default) => map
            .iter()
            .map(|(name, value)| {
                match (default, keyed.trailing_separator, defaultable(value)) {
                    (Some(default), _, true) => format!("{name}{sep}{default}"),
                    (None, Some(false), true) => name.clone(),
                    _ => format!("{name}{sep}{}", py_str(value)),
                }
            })
            .collect(),
        (other, _) => {
            return Err(format!(
                "invalid group name format from `{}` for host {host}: expected a string, a list of them or a mapping, got {}",
                keyed.key,
                py_type(other)
            ))
        }
    };
    let parent = match &keyed.parent_group {
        None => None,
        Some(template) => match templar.render_to_string(template, scope) {
            Ok(name) => Some(safe_group_name(&name)),
            Err(e) if options.strict => {
                return Err(format!("could not generate parent group {template}: {e}"))
            }
            Err(_) => return Ok(()),
        },
    };
    let sep = if keyed.prefix.is_empty() && !options.leading_separator {
        ""
    } else {
        sep.as_str()
    };
    for name in names {
        let group = safe_group_name(&format!("{}{sep}{name}", keyed.prefix));
        inventory.add_host(host, &group, None);
        if let Some(parent) = &parent {
            inventory.add_child(parent, &group, None);
        }
    }
    Ok(())
}

/// The variables constructed expressions see for `host`: `view` is the inventory finalized,
/// `loaded` as the sources left it. As in Ansible, where `all` and the other top-level groups
/// are linked only after every source is parsed, only groups the host reaches through links
/// the sources declared count (so `[all:vars]` is invisible to an INI host in `[web]`).
fn visible_vars(view: &Inventory, loaded: &Inventory, host: &str, with_dirs: bool) -> Vars {
    let mut vars = if with_dirs {
        view.host_vars(host)
    } else {
        let declared = declared_groups(loaded, host);
        let mut vars = Vars::new();
        for group in view.vars_order(host) {
            if declared.contains(group.name.as_str()) {
                vars.extend(group.vars.clone());
            }
        }
        if let Some(entry) = view.hosts.get(host) {
            vars.extend(entry.vars.clone());
        }
        vars
    };
    let short = host.split('.').next().unwrap_or(host);
    vars.insert("inventory_hostname".into(), Value::from(host));
    vars.insert("inventory_hostname_short".into(), Value::from(short));
    let mut names: Vec<String> = view
        .hosts
        .get(host)
        .map(|h| {
            h.all_groups
                .iter()
                .filter(|g| *g != "all")
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    vars.insert("group_names".into(), Value::from(names));
    vars
}

/// The groups `host` is in through the links the sources declared.
fn declared_groups<'a>(loaded: &'a Inventory, host: &str) -> std::collections::HashSet<&'a str> {
    let mut found = std::collections::HashSet::new();
    let mut queue: Vec<&str> = loaded
        .hosts
        .get(host)
        .map(|h| h.groups.iter().map(String::as_str).collect())
        .unwrap_or_default();
    while let Some(name) = queue.pop() {
        if found.insert(name) {
            if let Some(group) = loaded.groups.get(name) {
                queue.extend(group.parents.iter().map(String::as_str));
            }
        }
    }
    found
}

/// An expression as written: strings as they are, other YAML scalars as Python prints them.
fn expr_text(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => py_str(other),
    }
}

/// `str(value)` in Python, for the scalars and containers JSON has.
fn py_str(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        Json::Null => "None".into(),
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        Json::Number(n) => n.to_string(),
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn py_repr(value: &Json) -> String {
    match value {
        Json::String(text) => format!("'{text}'"),
        other => py_str(other),
    }
}

fn py_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "NoneType",
        Json::Bool(_) => "bool",
        Json::Number(n) if n.is_f64() => "float",
        Json::Number(_) => "int",
        Json::String(_) => "str",
        Json::Array(_) => "list",
        Json::Object(_) => "dict",
    }
}

fn truthy(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_made_safe_like_ansible() {
        assert_eq!(safe_group_name("os-rhel"), "os_rhel");
        assert_eq!(safe_group_name("1st group"), "_st_group");
        assert_eq!(safe_group_name("ok_name"), "ok_name");
    }

    #[test]
    fn python_str_of_values() {
        assert_eq!(py_str(&serde_json::json!(true)), "True");
        assert_eq!(py_str(&serde_json::json!(["a", 1])), "['a', 1]");
    }
}
