//! Layered variable scopes: a stack of variable maps looked up lazily, later layers winning.
//!
//! Building a host's view of its variables by merging maps would copy every key for every task
//! on every host; a [`Scope`] keeps `Arc`s to the layers and resolves a name on lookup.

use std::sync::Arc;

use indexmap::IndexSet;
use minijinja::value::{Enumerator, Object, ObjectRepr};

use crate::vars::{Value, Vars};

/// A layered variable scope; later layers win over earlier ones.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    layers: Vec<Arc<Vars>>,
}

impl Scope {
    /// A scope over `layers` (lowest precedence first), as a template value.
    ///
    /// Cheap: only the `Arc`s are kept, nothing is merged.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(layers: Vec<Arc<Vars>>) -> Value {
        Value::from_object(Scope { layers })
    }

    /// The value of `name` in the highest layer that defines it.
    pub fn lookup(&self, name: &str) -> Option<&Value> {
        self.layers.iter().rev().find_map(|layer| layer.get(name))
    }

    /// Every defined name once, in the order the layers first define them.
    pub fn names(&self) -> IndexSet<&str> {
        self.layers
            .iter()
            .flat_map(|layer| layer.keys().map(String::as_str))
            .collect()
    }
}

impl Object for Scope {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.lookup(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let names: Vec<Value> = self.names().into_iter().map(Value::from).collect();
        Enumerator::Values(names)
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.names().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(pairs: &[(&str, Value)]) -> Arc<Vars> {
        Arc::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn later_layers_win() {
        let scope = Scope::new(vec![
            layer(&[("a", Value::from(1)), ("b", Value::from(1))]),
            layer(&[("b", Value::from(2))]),
        ]);
        assert_eq!(scope.get_attr("a").ok(), Some(Value::from(1)));
        assert_eq!(scope.get_attr("b").ok(), Some(Value::from(2)));
        assert!(scope.get_attr("c").is_ok_and(|v| v.is_undefined()));
    }

    #[test]
    fn enumeration_lists_each_name_once_in_first_definition_order() {
        let scope = Scope::new(vec![
            layer(&[("z", Value::from(1)), ("a", Value::from(1))]),
            layer(&[("a", Value::from(2)), ("m", Value::from(3))]),
        ]);
        let keys: Vec<String> = scope
            .try_iter()
            .expect("iterable")
            .map(|k| k.to_string())
            .collect();
        assert_eq!(keys, ["z", "a", "m"]);
        assert_eq!(scope.len(), Some(3));
    }

    #[test]
    fn layers_are_shared_not_copied() {
        let shared = layer(&[("x", Value::from("big"))]);
        let _scope = Scope::new(vec![shared.clone(), shared.clone()]);
        assert_eq!(Arc::strong_count(&shared), 3);
    }

    #[test]
    fn serializes_as_the_merged_map() {
        let scope = Scope::new(vec![
            layer(&[("a", Value::from(1))]),
            layer(&[("a", Value::from(2)), ("b", Value::from(true))]),
        ]);
        assert_eq!(
            crate::vars::to_json(&scope),
            serde_json::json!({"a": 2, "b": true})
        );
    }
}
