//! The one place rpatch parses and emits YAML.
//!
//! Playbooks, inventories and vars files are parsed into a [`Node`] tree that remembers where
//! every value came from, so later stages can point at the exact line and column of a mistake.
//! serde_yaml gives no source positions, so parsing uses yaml-rust2's marked event stream;
//! emitting (the `to_yaml` filter, `rpatch inventory --list --yaml`) uses serde_yaml. Swapping
//! either library is a change to this file only.
//!
//! Plain scalars are resolved with YAML 1.1 rules, as PyYAML (and so Ansible) does:
//! `yes`/`no`/`on`/`off` are booleans and `0644` is an octal integer.

use std::collections::HashMap;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diagnostic::{Diagnose, Location, Source, Span};

/// A YAML value with the place it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub kind: NodeKind,
    /// Where it starts; `len` covers a scalar's text.
    pub span: Span,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `~`, `null` or nothing.
    Null,
    /// A YAML 1.1 boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (any quoted scalar, or a plain one that is nothing else).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order. Keys are strings (other scalars are stringified).
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key text.
    pub name: String,
    /// Where the key is written.
    pub span: Span,
}

impl Node {
    /// A null node at `span` (used for absent optional values).
    pub fn null(span: Span) -> Self {
        Self {
            kind: NodeKind::Null,
            span,
        }
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// Looks up a key in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// True for `~`/`null`/empty.
    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    /// A short name of the node's type for error messages ("a mapping", "a string", ...).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// Converts to a JSON value (positions are dropped).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.kind {
            NodeKind::Null => serializer.serialize_unit(),
            NodeKind::Bool(b) => serializer.serialize_bool(*b),
            NodeKind::Int(i) => serializer.serialize_i64(*i),
            NodeKind::Float(f) => serializer.serialize_f64(*f),
            NodeKind::Str(s) => serializer.serialize_str(s),
            NodeKind::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            NodeKind::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(&key.name, value)?;
                }
                map.end()
            }
        }
    }
}

/// A document that is not valid YAML.
#[derive(Debug, thiserror::Error)]
#[error("YAML syntax error: {message}")]
pub struct YamlError {
    /// What the parser said.
    pub message: String,
    /// Where it stopped.
    pub at: Location,
}

impl Diagnose for YamlError {
    fn location(&self) -> Option<&Location> {
        Some(&self.at)
    }

    fn help(&self) -> Option<String> {
        Some("check the indentation and quoting around this line; a value that starts with `{{` must be quoted".into())
    }
}

/// Parses the first document of `source` (an empty file is [`NodeKind::Null`]).
pub fn parse(source: &Arc<Source>) -> Result<Node, YamlError> {
    let mut builder = TreeBuilder::default();
    let mut parser = Parser::new_from_str(source.text());
    parser.load(&mut builder, false).map_err(|error| {
        let mark = error.marker();
        YamlError {
            message: error.info().to_string(),
            at: Location::new(source.clone(), span_at(mark, 1)),
        }
    })?;
    Ok(builder
        .document
        .unwrap_or_else(|| Node::null(Span::new(1, 1, 1))))
}

/// Serializes any value as YAML text (block style, as Ansible's `to_yaml` does).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(value)
}

fn span_at(mark: &Marker, len: usize) -> Span {
    Span::new(
        u32::try_from(mark.line()).unwrap_or(u32::MAX),
        u32::try_from(mark.col() + 1).unwrap_or(u32::MAX),
        u32::try_from(len).unwrap_or(u32::MAX),
    )
}

/// A container being filled while events stream in.
enum Open {
    Seq {
        items: Vec<Node>,
        span: Span,
        anchor: usize,
    },
    Map {
        entries: Vec<(Key, Node)>,
        pending_key: Option<Node>,
        span: Span,
        anchor: usize,
    },
}

/// Builds a [`Node`] tree from yaml-rust2's marked events.
#[derive(Default)]
struct TreeBuilder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    document: Option<Node>,
}

impl TreeBuilder {
    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.document.is_none() {
                    self.document = Some(node);
                }
            }
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => insert_entry(entries, key, node),
            },
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }
}

/// Adds `key: value` to a mapping: a later duplicate wins (as in PyYAML), and `<<` merges.
fn insert_entry(entries: &mut Vec<(Key, Node)>, key: Node, value: Node) {
    let name = match &key.kind {
        NodeKind::Str(s) => s.clone(),
        NodeKind::Null => "null".to_string(),
        other => scalar_text(other),
    };
    if name == "<<" && !matches!(key.kind, NodeKind::Null) {
        let sources: Vec<Node> = match value.kind {
            NodeKind::Seq(items) => items,
            _ => vec![value],
        };
        for source in sources {
            if let NodeKind::Map(merged) = source.kind {
                for (merged_key, merged_value) in merged {
                    if !entries.iter().any(|(k, _)| k.name == merged_key.name) {
                        entries.push((merged_key, merged_value));
                    }
                }
            }
        }
        return;
    }
    let key = Key {
        name,
        span: key.span,
    };
    match entries.iter_mut().find(|(k, _)| k.name == key.name) {
        Some(existing) => *existing = (key, value),
        None => entries.push((key, value)),
    }
}

fn scalar_text(kind: &NodeKind) -> String {
    match kind {
        NodeKind::Bool(b) => b.to_string(),
        NodeKind::Int(i) => i.to_string(),
        NodeKind::Float(f) => f.to_string(),
        NodeKind::Str(s) => s.clone(),
        _ => String::new(),
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let len = text.chars().count().max(1);
                let plain = style == TScalarStyle::Plain && tag.is_none();
                let kind = if plain {
                    resolve_plain(&text)
                } else {
                    NodeKind::Str(text)
                };
                let node = Node {
                    kind,
                    span: span_at(&mark, len),
                };
                self.remember(anchor, &node);
                self.push_value(node);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Seq {
                items: Vec::new(),
                span: span_at(&mark, 1),
                anchor,
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Open::Map {
                entries: Vec::new(),
                pending_key: None,
                span: span_at(&mark, 1),
                anchor,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Open::Seq {
                        items,
                        span,
                        anchor,
                    }) => {
                        let node = Node {
                            kind: NodeKind::Seq(items),
                            span,
                        };
                        self.remember(anchor, &node);
                        node
                    }
                    Some(Open::Map {
                        entries,
                        span,
                        anchor,
                        ..
                    }) => {
                        // Point a mapping at its first key: that is where readers look.
                        let span = entries.first().map_or(span, |(key, _)| key.span);
                        let node = Node {
                            kind: NodeKind::Map(entries),
                            span,
                        };
                        self.remember(anchor, &node);
                        node
                    }
                    None => return,
                };
                self.push_value(node);
            }
            Event::Alias(anchor) => {
                let node = self
                    .anchors
                    .get(&anchor)
                    .cloned()
                    .unwrap_or_else(|| Node::null(span_at(&mark, 1)));
                self.push_value(node);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Resolves a plain scalar with YAML 1.1 (PyYAML) rules.
fn resolve_plain(text: &str) -> NodeKind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return NodeKind::Bool(true)
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return NodeKind::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return NodeKind::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return NodeKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeKind::Float(f64::NAN),
        _ => {}
    }
    if let Some(int) = resolve_int(text) {
        return NodeKind::Int(int);
    }
    if looks_like_float(text) {
        if let Ok(float) = text.replace('_', "").parse::<f64>() {
            return NodeKind::Float(float);
        }
    }
    NodeKind::Str(text.to_string())
}

fn resolve_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || digits.starts_with('_') {
        return None;
    }
    let digits = digits.replace('_', "");
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(octal) = digits.strip_prefix("0o") {
        i64::from_str_radix(octal, 8).ok()?
    } else if let Some(binary) = digits.strip_prefix("0b") {
        i64::from_str_radix(binary, 2).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if negative { -value } else { value })
}

fn looks_like_float(text: &str) -> bool {
    let body = text.trim_start_matches(['-', '+']);
    body.contains('.')
        && body
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'e' | b'E' | b'-' | b'+'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Node {
        parse(&Source::new("t.yml", text)).expect("valid yaml")
    }

    #[test]
    fn positions_are_one_based_and_point_at_keys_and_values() {
        let doc = parse_str("- hosts: all\n  tasks:\n    - nmae: x\n");
        let play = &doc.as_seq().expect("seq")[0];
        let tasks = play.get("tasks").expect("tasks");
        let task = &tasks.as_seq().expect("seq")[0];
        let (key, value) = &task.as_map().expect("map")[0];
        assert_eq!(key.name, "nmae");
        assert_eq!((key.span.line, key.span.col, key.span.len), (3, 7, 4));
        assert_eq!((value.span.line, value.span.col), (3, 13));
    }

    #[test]
    fn plain_scalars_follow_yaml_1_1() {
        let doc = parse_str(
            "a: yes\nb: off\nc: 0644\nd: '0644'\ne: 1.5\nf: ~\ng: 0x1F\nh: 1_000\ni: 1.2.3\n",
        );
        assert_eq!(doc.get("a").map(|n| &n.kind), Some(&NodeKind::Bool(true)));
        assert_eq!(doc.get("b").map(|n| &n.kind), Some(&NodeKind::Bool(false)));
        assert_eq!(doc.get("c").map(|n| &n.kind), Some(&NodeKind::Int(420)));
        assert_eq!(doc.get("d").and_then(Node::as_str), Some("0644"));
        assert_eq!(doc.get("e").map(|n| &n.kind), Some(&NodeKind::Float(1.5)));
        assert_eq!(doc.get("f").map(|n| &n.kind), Some(&NodeKind::Null));
        assert_eq!(doc.get("g").map(|n| &n.kind), Some(&NodeKind::Int(31)));
        assert_eq!(doc.get("h").map(|n| &n.kind), Some(&NodeKind::Int(1000)));
        assert_eq!(doc.get("i").and_then(Node::as_str), Some("1.2.3"));
    }

    #[test]
    fn anchors_aliases_and_merge_keys_resolve() {
        let doc = parse_str("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\nsame: *b\n");
        let derived = doc.get("derived").expect("derived");
        assert_eq!(derived.get("x").map(|n| &n.kind), Some(&NodeKind::Int(1)));
        assert_eq!(derived.get("y").map(|n| &n.kind), Some(&NodeKind::Int(3)));
        assert_eq!(
            doc.get("same").and_then(|n| n.get("y")).map(|n| &n.kind),
            Some(&NodeKind::Int(2))
        );
    }

    #[test]
    fn syntax_errors_carry_a_location() {
        let error = parse(&Source::new("bad.yml", "a: [1, 2\nb: 3\n")).expect_err("invalid");
        assert_eq!(error.at.source.path().to_str(), Some("bad.yml"));
        assert!(error.at.span.line >= 1);
    }

    #[test]
    fn empty_document_is_null() {
        assert!(parse_str("").is_null());
        assert!(parse_str("# only a comment\n").is_null());
    }

    #[test]
    fn converts_to_json_in_document_order() {
        let doc = parse_str("b: 1\na: [x, true]\n");
        assert_eq!(doc.to_json().to_string(), r#"{"b":1,"a":["x",true]}"#);
    }
}
