//! Which inventory strings ansible-inventory 2.19 would print as untrusted
//! (`{"__ansible_unsafe": "..."}` in `--list`): strings a `compose` template made, as opposed to
//! strings it passed through from the sources (script JSON, INI, YAML, vars files), which stay
//! trusted. Ansible decides this by object identity (a Python string carries its trust tag, a
//! new string has none), and so does this module.
//!
//! Invariants: a string is recorded untrusted by the address of its `Arc<str>` buffer, and the
//! recorded value is kept alive here, so no other string can be allocated at that address while
//! the set exists; cloning a value (merging variables, cloning the inventory) shares the buffer,
//! so the mark follows the value wherever it is copied. Only strings a template produced are
//! ever recorded, so loading and every other use of the inventory are unaffected.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::value::ValueKind;

use crate::vars::Value;

/// The untrusted strings of one inventory.
#[derive(Debug, Clone, Default)]
pub struct Untrusted {
    addresses: HashSet<usize>,
    keep: Vec<Value>,
}

/// A string value backed by its own `Arc<str>`, so that its buffer has a stable address
/// (minijinja keeps short strings inline, where they have none).
fn shared_string(text: &str) -> Value {
    Value::from(Arc::<str>::from(text))
}

fn address(value: &Value) -> Option<usize> {
    (value.kind() == ValueKind::String)
        .then(|| value.as_str().map(|text| text.as_ptr() as usize))
        .flatten()
}

impl Untrusted {
    /// True when `value` is a string recorded as untrusted.
    pub fn contains(&self, value: &Value) -> bool {
        address(value).is_some_and(|at| self.addresses.contains(&at))
    }

    fn record(&mut self, value: &Value) {
        if let Some(at) = address(value) {
            if self.addresses.insert(at) {
                self.keep.push(value.clone());
            }
        }
    }
}

/// The variables a template sees, copied so that every string has an address of its own, with
/// a map from those addresses back to the original value and whether it is untrusted. What a
/// template passes through can then be told from what it made.
#[derive(Default)]
pub struct Origins {
    by_address: HashMap<usize, (Value, bool)>,
}

impl Origins {
    /// A copy of `value` whose strings (not mapping keys, which Ansible does not mark as
    /// trusted either) are remembered as coming from `value`; `untrusted` marks them all so
    /// (`inventory_hostname`, `group_names`), else each keeps the mark it has in `marks`.
    pub fn track(&mut self, value: &Value, marks: &Untrusted, untrusted: bool) -> Value {
        match value.kind() {
            ValueKind::String => {
                let text = value.as_str().unwrap_or_default();
                let copy = shared_string(text);
                if let Some(at) = address(&copy) {
                    let origin = if marks.contains(value) {
                        (value.clone(), true)
                    } else if untrusted {
                        // A new string: the copy is the one to mark (an inline original has
                        // no address).
                        (copy.clone(), true)
                    } else {
                        (value.clone(), false)
                    };
                    self.by_address.insert(at, origin);
                }
                copy
            }
            ValueKind::Seq => {
                let items: Vec<Value> = value
                    .try_iter()
                    .map(|items| {
                        items
                            .map(|item| self.track(&item, marks, untrusted))
                            .collect()
                    })
                    .unwrap_or_default();
                Value::from(items)
            }
            ValueKind::Map => {
                let mut map: IndexMap<Value, Value> = IndexMap::new();
                if let Ok(keys) = value.try_iter() {
                    for key in keys {
                        let item = value.get_item(&key).unwrap_or_default();
                        map.insert(key, self.track(&item, marks, untrusted));
                    }
                }
                Value::from(map)
            }
            _ => value.clone(),
        }
    }

    /// `result` of a template made storable: strings passed through become the original
    /// values again, strings the template made are recorded in `marks` as untrusted.
    pub fn settle(&self, result: &Value, marks: &mut Untrusted) -> Value {
        match result.kind() {
            ValueKind::String => match address(result).and_then(|at| self.by_address.get(&at)) {
                Some((original, untrusted)) => {
                    if *untrusted {
                        marks.record(original);
                    }
                    original.clone()
                }
                None => {
                    let made = shared_string(result.as_str().unwrap_or_default());
                    marks.record(&made);
                    made
                }
            },
            ValueKind::Seq => {
                let items: Vec<Value> = result
                    .try_iter()
                    .map(|items| items.map(|item| self.settle(&item, marks)).collect())
                    .unwrap_or_default();
                Value::from(items)
            }
            ValueKind::Map => {
                let mut map: IndexMap<Value, Value> = IndexMap::new();
                if let Ok(keys) = result.try_iter() {
                    for key in keys {
                        let item = result.get_item(&key).unwrap_or_default();
                        map.insert(key, self.settle(&item, marks));
                    }
                }
                Value::from(map)
            }
            _ => result.clone(),
        }
    }
}

/// The key of ansible-inventory's wrapper for an untrusted string.
const UNSAFE_KEY: &str = "__ansible_unsafe";

/// A value from JSON in which `{"__ansible_unsafe": "..."}` is that string, recorded in `marks`
/// as untrusted (as Ansible's JSON decoder reads a script's output).
pub fn from_marked_json(json: &serde_json::Value, marks: &mut Untrusted) -> Value {
    use serde_json::Value as Json;
    match json {
        Json::Object(map) => match (map.len(), map.get(UNSAFE_KEY)) {
            (1, Some(Json::String(text))) => {
                let value = shared_string(text);
                marks.record(&value);
                value
            }
            _ => {
                let map: IndexMap<Value, Value> = map
                    .iter()
                    .map(|(key, item)| (Value::from(key.as_str()), from_marked_json(item, marks)))
                    .collect();
                Value::from(map)
            }
        },
        Json::Array(items) => Value::from(
            items
                .iter()
                .map(|item| from_marked_json(item, marks))
                .collect::<Vec<_>>(),
        ),
        scalar => crate::vars::from_json(scalar),
    }
}

/// `value` as JSON, each untrusted string as `{"__ansible_unsafe": "..."}` (ansible-inventory's
/// `inventory_legacy` profile).
pub fn to_marked_json(value: &Value, marks: &Untrusted) -> serde_json::Value {
    use serde_json::Value as Json;
    match value.kind() {
        ValueKind::String if marks.contains(value) => {
            let mut wrapped = serde_json::Map::new();
            wrapped.insert(
                UNSAFE_KEY.into(),
                Json::from(value.as_str().unwrap_or_default()),
            );
            Json::Object(wrapped)
        }
        ValueKind::Seq => Json::Array(
            value
                .try_iter()
                .map(|items| items.map(|item| to_marked_json(&item, marks)).collect())
                .unwrap_or_default(),
        ),
        ValueKind::Map => {
            let mut map = serde_json::Map::new();
            if let Ok(keys) = value.try_iter() {
                for key in keys {
                    let item = value.get_item(&key).unwrap_or_default();
                    map.insert(key.to_string(), to_marked_json(&item, marks));
                }
            }
            Json::Object(map)
        }
        _ => crate::vars::to_json(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Scope, Templar};
    use serde_json::json;

    /// Evaluates `expr` over `vars` as the constructed layer does and prints the result the
    /// way `ansible-inventory --list` would.
    fn composed(expr: &str, vars: serde_json::Value) -> serde_json::Value {
        let mut marks = Untrusted::default();
        let mut origins = Origins::default();
        let vars = origins.track(&crate::vars::from_json(&vars), &marks, false);
        let mut layer = crate::vars::Vars::new();
        if let Ok(keys) = vars.try_iter() {
            for key in keys {
                layer.insert(key.to_string(), vars.get_item(&key).unwrap_or_default());
            }
        }
        let scope = Scope::new(vec![Arc::new(layer)]);
        let result = Templar::new().eval_expression(expr, &scope).unwrap();
        to_marked_json(&origins.settle(&result, &mut marks), &marks)
    }

    #[test]
    fn passed_through_strings_stay_trusted_and_made_ones_are_marked() {
        let vars = json!({"hv": "kvm01", "lst": ["a", "b"], "d": {"k": "v"}, "n": 5});
        let unsafe_ = |s: &str| json!({"__ansible_unsafe": s});
        assert_eq!(composed("hv", vars.clone()), json!("kvm01"));
        assert_eq!(composed("d.k", vars.clone()), json!("v"));
        assert_eq!(composed("lst | first", vars.clone()), json!("a"));
        assert_eq!(composed("nope | default(hv)", vars.clone()), json!("kvm01"));
        assert_eq!(composed("hv | lower", vars.clone()), unsafe_("kvm01"));
        assert_eq!(composed("hv ~ '-x'", vars.clone()), unsafe_("kvm01-x"));
        assert_eq!(
            composed("[hv, 'lit']", vars.clone()),
            json!(["kvm01", unsafe_("lit")])
        );
        assert_eq!(composed("n", vars), json!(5));
    }

    #[test]
    fn a_wrapped_untrusted_string_in_source_json_is_read_as_that_string_marked() {
        let mut marks = Untrusted::default();
        let json =
            json!({"u": {"__ansible_unsafe": "{{ x }}"}, "d": {"__ansible_unsafe": 1, "k": "v"}});
        let value = from_marked_json(&json, &mut marks);
        assert_eq!(value.get_attr("u").unwrap().as_str(), Some("{{ x }}"));
        assert_eq!(to_marked_json(&value, &marks), json);
        assert_eq!(
            crate::vars::to_json(&value),
            json!({"u": "{{ x }}", "d": {"__ansible_unsafe": 1, "k": "v"}})
        );
    }
}
