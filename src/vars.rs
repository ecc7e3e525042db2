//! Variables: the value type every layer (inventory, play, task, registered results) shares.
//!
//! Values are [`minijinja::Value`]s so templates read them without conversion, and cloning one
//! is a reference-count bump — cheap enough to hand every host its own view.

use indexmap::IndexMap;

use crate::yaml::{Node, NodeKind};

/// A variable value.
pub type Value = minijinja::Value;

/// A named set of variables, in the order they were written.
pub type Vars = IndexMap<String, Value>;

/// Converts a YAML node to a value.
pub fn from_node(node: &Node) -> Value {
    Value::from(minijinja::value::Serde(node))
}

/// Converts a YAML mapping to variables; `None` if the node is not a mapping (null is empty).
pub fn vars_from_node(node: &Node) -> Option<Vars> {
    match &node.kind {
        NodeKind::Null => Some(Vars::new()),
        NodeKind::Map(entries) => Some(
            entries
                .iter()
                .map(|(key, value)| (key.name.clone(), from_node(value)))
                .collect(),
        ),
        _ => None,
    }
}

/// Turns variables into one mapping value, keeping their order.
pub fn to_value(vars: Vars) -> Value {
    let map: IndexMap<Value, Value> = vars
        .into_iter()
        .map(|(name, value)| (Value::from(name), value))
        .collect();
    Value::from(map)
}

/// Converts a JSON value to a variable value.
pub fn from_json(value: &serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// Converts a variable value to JSON (undefined becomes null).
pub fn to_json(value: &Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Source;

    #[test]
    fn yaml_mappings_become_ordered_vars() {
        let node = crate::yaml::parse(&Source::new("v.yml", "z: 1\na: [x]\n")).expect("yaml");
        let vars = vars_from_node(&node).expect("mapping");
        assert_eq!(vars.keys().collect::<Vec<_>>(), ["z", "a"]);
        assert_eq!(to_json(&vars["a"]), serde_json::json!(["x"]));
    }

    #[test]
    fn to_value_builds_an_ordered_mapping() {
        let mut vars = Vars::new();
        vars.insert("b".into(), Value::from(1));
        vars.insert("a".into(), Value::from(2));
        assert_eq!(to_json(&to_value(vars)).to_string(), r#"{"b":1,"a":2}"#);
    }

    #[test]
    fn non_mappings_are_rejected() {
        let node = crate::yaml::parse(&Source::new("v.yml", "- 1\n")).expect("yaml");
        assert!(vars_from_node(&node).is_none());
    }
}
