//! Typed access to YAML nodes of one file, turning shape mistakes into located errors.

use std::sync::Arc;

use super::error::PlaybookError;
use crate::diagnostic::{Location, Source};
use crate::vars::{self, Vars};
use crate::yaml::{Key, Node, NodeKind};

/// A parsed file and its root node.
pub struct FileNode {
    /// The file's text, for locations.
    pub source: Arc<Source>,
    /// Its root.
    pub node: Node,
}

impl FileNode {
    /// The location of a node in this file.
    pub fn at(&self, node: &Node) -> Location {
        Location::new(self.source.clone(), node.span)
    }

    /// The location of a mapping key in this file.
    pub fn key_at(&self, key: &Key) -> Location {
        Location::new(self.source.clone(), key.span)
    }

    /// A mapping node as variables.
    pub fn vars(&self, node: &Node, key: &str) -> Result<Vars, PlaybookError> {
        vars::vars_from_node(node).ok_or_else(|| wrong_type(self, node, key, "a mapping"))
    }
}

/// The error for a value of the wrong shape.
pub fn wrong_type(
    file: &FileNode,
    node: &Node,
    key: &str,
    expected: &'static str,
) -> PlaybookError {
    PlaybookError::WrongType {
        key: key.to_string(),
        expected,
        found: node.type_name(),
        at: file.at(node),
    }
}

/// The node as a list (null is an empty list).
pub fn expect_seq<'n>(
    file: &FileNode,
    node: &'n Node,
    key: &str,
) -> Result<&'n [Node], PlaybookError> {
    match &node.kind {
        NodeKind::Seq(items) => Ok(items),
        NodeKind::Null => Ok(&[]),
        _ => Err(wrong_type(file, node, key, "a list")),
    }
}

/// The node as a mapping.
pub fn expect_map<'n>(
    file: &FileNode,
    node: &'n Node,
    key: &str,
) -> Result<&'n [(Key, Node)], PlaybookError> {
    node.as_map()
        .ok_or_else(|| wrong_type(file, node, key, "a mapping"))
}

/// The node as a string (numbers and booleans are accepted and stringified by the caller).
pub fn expect_str<'n>(
    file: &FileNode,
    node: &'n Node,
    key: &str,
) -> Result<&'n str, PlaybookError> {
    node.as_str()
        .ok_or_else(|| wrong_type(file, node, key, "a string"))
}

/// The node as a boolean.
pub fn as_bool(file: &FileNode, node: &Node, key: &str) -> Result<bool, PlaybookError> {
    match node.kind {
        NodeKind::Bool(value) => Ok(value),
        _ => Err(wrong_type(
            file,
            node,
            key,
            "a boolean (true/false, yes/no)",
        )),
    }
}

/// A string or a list of strings; a string with commas is split (as Ansible does for tags).
pub fn string_list(file: &FileNode, node: &Node, key: &str) -> Result<Vec<String>, PlaybookError> {
    let scalar = |item: &Node| match &item.kind {
        NodeKind::Str(text) => Ok(text.clone()),
        NodeKind::Int(number) => Ok(number.to_string()),
        _ => Err(wrong_type(file, item, key, "a string or a list of strings")),
    };
    match &node.kind {
        NodeKind::Seq(items) => items.iter().map(scalar).collect(),
        NodeKind::Null => Ok(Vec::new()),
        _ => scalar(node).map(|one| vec![one]),
    }
}
