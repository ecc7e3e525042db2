//! The YAML (and JSON) inventory format: groups at the top level (usually just `all`), each a
//! mapping of `hosts`, `vars` and `children`.

use std::sync::Arc;

use crate::diagnostic::{did_you_mean, Location, Source};
use crate::vars::{self, Vars};
use crate::yaml::{Node, NodeKind};

use super::address;
use super::error::InventoryError;
use super::model::Inventory;

const GROUP_KEYS: [&str; 3] = ["hosts", "vars", "children"];

/// Adds the groups, hosts and variables of a YAML inventory to `inventory`.
pub(crate) fn parse(inventory: &mut Inventory, source: &Arc<Source>) -> Result<(), InventoryError> {
    let root = crate::yaml::parse(source)?;
    let mut parser = Parser {
        inventory,
        source,
        seen: address::Listed::default(),
    };
    match &root.kind {
        NodeKind::Null => Ok(()),
        NodeKind::Map(groups) => {
            for (key, value) in groups {
                parser.group(&key.name, value)?;
            }
            Ok(())
        }
        _ => Err(parser.wrong_type(
            "a YAML inventory".into(),
            "a mapping of group names (usually just `all:`)",
            &root,
        )),
    }
}

struct Parser<'a> {
    inventory: &'a mut Inventory,
    source: &'a Arc<Source>,
    seen: address::Listed,
}

impl Parser<'_> {
    fn at(&self, span: crate::diagnostic::Span) -> Location {
        Location::new(self.source.clone(), span)
    }

    fn wrong_type(&self, what: String, expected: &'static str, node: &Node) -> InventoryError {
        InventoryError::WrongType {
            what,
            expected,
            found: node.type_name(),
            at: self.at(node.span),
        }
    }

    fn group(&mut self, name: &str, node: &Node) -> Result<(), InventoryError> {
        self.inventory.add_group(name);
        let entries = match &node.kind {
            NodeKind::Null => return Ok(()),
            NodeKind::Map(entries) => entries,
            _ => {
                return Err(self.wrong_type(
                    format!("group `{name}`"),
                    "a mapping with `hosts`, `vars` and/or `children`",
                    node,
                ))
            }
        };
        for (key, value) in entries {
            match key.name.as_str() {
                "hosts" => self.hosts(name, value)?,
                "vars" => {
                    let group_vars = vars::vars_from_node(value).ok_or_else(|| {
                        self.wrong_type(
                            format!("`vars` of group `{name}`"),
                            "a mapping of variable names to values",
                            value,
                        )
                    })?;
                    self.inventory.set_group_vars(name, group_vars);
                }
                "children" => self.children(name, value)?,
                other => {
                    return Err(InventoryError::UnknownGroupKey {
                        key: other.to_string(),
                        group: name.to_string(),
                        suggestion: did_you_mean(other, GROUP_KEYS),
                        at: self.at(key.span),
                    })
                }
            }
        }
        Ok(())
    }

    fn hosts(&mut self, group: &str, node: &Node) -> Result<(), InventoryError> {
        match &node.kind {
            NodeKind::Null => Ok(()),
            NodeKind::Str(entry) => self.host(group, entry, Vars::new(), node),
            NodeKind::Map(entries) => {
                for (key, value) in entries {
                    let host_vars = vars::vars_from_node(value).ok_or_else(|| {
                        self.wrong_type(
                            format!("the variables of host `{}`", key.name),
                            "a mapping of variable names to values (or empty)",
                            value,
                        )
                    })?;
                    let key_node = Node::null(key.span);
                    self.host(group, &key.name, host_vars, &key_node)?;
                }
                Ok(())
            }
            _ => Err(self.wrong_type(
                format!("`hosts` of group `{group}`"),
                "a mapping of host names to their variables (`web1:` with nothing after it for none)",
                node,
            )),
        }
    }

    fn host(
        &mut self,
        group: &str,
        entry: &str,
        host_vars: Vars,
        node: &Node,
    ) -> Result<(), InventoryError> {
        let at = self.at(node.span);
        address::add_entry(
            self.inventory,
            group,
            entry,
            host_vars,
            &at,
            &mut self.seen,
            self.source.path(),
        )
    }

    fn children(&mut self, parent: &str, node: &Node) -> Result<(), InventoryError> {
        match &node.kind {
            NodeKind::Null => Ok(()),
            NodeKind::Str(child) => {
                self.inventory
                    .add_child(parent, child, Some(self.at(node.span)));
                Ok(())
            }
            NodeKind::Map(entries) => {
                for (key, value) in entries {
                    self.group(&key.name, value)?;
                    self.inventory
                        .add_child(parent, &key.name, Some(self.at(key.span)));
                }
                Ok(())
            }
            _ => Err(self.wrong_type(
                format!("`children` of group `{parent}`"),
                "a mapping of group names to group definitions",
                node,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::render;
    use crate::inventory::test_support::{json_vars, load_text, load_text_err};
    use serde_json::json;

    #[test]
    fn hosts_vars_and_children_nest() {
        let inventory = load_text(
            "inv.yml",
            "all:\n  vars:\n    a: 1\n  hosts:\n    solo:\n  children:\n    web:\n      hosts:\n        web1: {port: 80}\n      vars: {b: 2}\n",
        );
        assert_eq!(
            inventory.group("all").unwrap().children,
            ["ungrouped", "web"]
        );
        assert_eq!(inventory.group("ungrouped").unwrap().hosts, ["solo"]);
        let vars = json_vars(&inventory, "web1");
        assert_eq!(
            (vars["a"].clone(), vars["b"].clone(), vars["port"].clone()),
            (json!(1), json!(2), json!(80))
        );
    }

    #[test]
    fn top_level_groups_other_than_all_are_accepted() {
        let inventory = load_text("inv.yaml", "web:\n  hosts:\n    web1:\ndb:\n  hosts: db1\n");
        assert_eq!(inventory.group("web").unwrap().hosts, ["web1"]);
        assert_eq!(inventory.group("db").unwrap().hosts, ["db1"]);
        assert_eq!(
            inventory.group("all").unwrap().children,
            ["ungrouped", "web", "db"]
        );
    }

    #[test]
    fn json_inventories_use_the_same_structure() {
        let inventory = load_text(
            "inv.json",
            r#"{"all": {"children": {"web": {"hosts": {"web1": {"x": true}}}}}}"#,
        );
        assert_eq!(json_vars(&inventory, "web1")["x"], json!(true));
    }

    #[test]
    fn ranges_in_host_keys_expand() {
        let inventory = load_text("inv.yml", "all:\n  hosts:\n    node[1:3]:\n      rack: a\n");
        let names: Vec<&str> = inventory.hosts().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["node1", "node2", "node3"]);
        assert_eq!(json_vars(&inventory, "node3")["rack"], json!("a"));
    }

    #[test]
    fn an_unknown_group_key_suggests_the_right_one() {
        let error = load_text_err(
            "inv.yml",
            "all:\n  children:\n    web:\n      hots:\n        web1:\n",
        );
        let text = render(&error);
        assert!(text.contains("unknown key `hots` in group `web`"), "{text}");
        assert!(text.contains("inv.yml:4:7"), "{text}");
        assert!(text.contains("did you mean `hosts`?"), "{text}");
    }

    #[test]
    fn hosts_written_as_a_list_say_a_mapping_is_expected() {
        let error = load_text_err("inv.yml", "all:\n  hosts:\n    - web1\n    - web2\n");
        let text = render(&error);
        assert!(
            text.contains("`hosts` of group `all` must be a mapping"),
            "{text}"
        );
        assert!(text.contains("found a list"), "{text}");
        assert!(text.contains("inv.yml:3:5"), "{text}");
    }

    #[test]
    fn a_range_repeating_a_host_of_the_group_is_an_error() {
        let error = load_text_err("inv.yml", "all:\n  hosts:\n    web2:\n    web[1:3]:\n");
        let text = render(&error);
        assert!(text.contains("host `web2` is listed twice"), "{text}");
        assert!(text.contains("inv.yml:4:5"), "{text}");
    }
}
