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
//!
//! Every document is parsed within fixed limits, so a small hostile file cannot take the
//! machine's memory or stack ("billion laughs"): at most [`MAX_ALIASES`] alias uses, at most
//! [`MAX_COPIED_NODES`] nodes copied by anchors and aliases, and at most [`MAX_DEPTH`] levels
//! of nesting. Exceeding one is a [`YamlError`] at the offending alias or collection. The
//! event stream is pulled in a loop (not through yaml-rust2's recursive `load`), and duplicate
//! keys are found through an index, so parse time is linear in the input plus what aliases copy.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use yaml_rust2::parser::{Event, Parser};
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

/// An `!unsafe` scalar as a string that templating gives back verbatim and never templates
/// again: the text inside `{% raw %}` (split where it holds an `{% endraw %}` of its own).
fn unsafe_text(text: &str) -> String {
    if !crate::template::is_template(text) {
        return text.to_string();
    }
    let inner = text.replace("{% endraw %}", "{% endraw %}{{ '{% endraw %}' }}{% raw %}");
    format!("{{% raw %}}{inner}{{% endraw %}}")
}

/// The most alias uses (`*name`) in one document.
pub const MAX_ALIASES: usize = 100_000;

/// The most nodes that anchors and aliases may copy in one document: a `<<: *defaults` on every
/// one of thousands of hosts fits; an alias bomb (each level nine aliases of the last) does not.
pub const MAX_COPIED_NODES: usize = 1_000_000;

/// The deepest nesting of sequences and mappings in one document (as serde_yaml's limit).
pub const MAX_DEPTH: usize = 128;

/// A document that is not valid YAML, or that exceeds a parsing limit.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct YamlError {
    /// What is wrong.
    pub kind: YamlErrorKind,
    /// Where: the syntax error, or the alias or collection that crossed a limit.
    pub at: Location,
}

/// What is wrong with a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YamlErrorKind {
    /// The parser's own message.
    Syntax(String),
    /// More than [`MAX_ALIASES`] alias uses.
    TooManyAliases,
    /// Aliases that would copy more than [`MAX_COPIED_NODES`] nodes.
    TooManyCopies,
    /// Collections nested more than [`MAX_DEPTH`] deep.
    TooDeep,
}

impl fmt::Display for YamlErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(message) => write!(f, "YAML syntax error: {message}"),
            Self::TooManyAliases => write!(
                f,
                "YAML aliases are used more than {MAX_ALIASES} times in this document"
            ),
            Self::TooManyCopies => write!(
                f,
                "YAML anchors and aliases expand to more than {MAX_COPIED_NODES} nodes in this document"
            ),
            Self::TooDeep => write!(
                f,
                "YAML lists and mappings are nested more than {MAX_DEPTH} levels deep"
            ),
        }
    }
}

impl Diagnose for YamlError {
    fn location(&self) -> Option<&Location> {
        Some(&self.at)
    }

    fn help(&self) -> Option<String> {
        Some(match self.kind {
            YamlErrorKind::Syntax(_) => "check the indentation and quoting around this line; a value that starts with `{{` must be quoted".into(),
            YamlErrorKind::TooManyAliases | YamlErrorKind::TooManyCopies => {
                "aliases that refer to aliases multiply (an \"alias bomb\"); write the data out or use fewer levels of aliases".into()
            }
            YamlErrorKind::TooDeep => "flatten the structure".into(),
        })
    }
}

/// Parses the first document of `source` (an empty file is [`NodeKind::Null`]).
pub fn parse(source: &Arc<Source>) -> Result<Node, YamlError> {
    let mut builder = TreeBuilder::default();
    let mut parser = Parser::new_from_str(source.text());
    let error = |kind, span| YamlError {
        kind,
        at: Location::new(source.clone(), span),
    };
    loop {
        let (event, mark) = parser.next_token().map_err(|scan| {
            error(
                YamlErrorKind::Syntax(scan.info().to_string()),
                span_at(scan.marker(), 1),
            )
        })?;
        match event {
            // Only the first document is read, as before.
            Event::StreamEnd | Event::DocumentEnd => break,
            event => builder
                .on_event(event, &mark)
                .map_err(|kind| error(kind, span_at(&mark, 1)))?,
        }
    }
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

/// A mapping being filled: its entries and, once it is large, an index of their names, so a
/// duplicate key or a merge is found without scanning every entry.
#[derive(Default)]
struct MapEntries {
    entries: Vec<(Key, Node)>,
    index: Option<HashMap<String, usize>>,
}

/// Below this many entries a scan is cheaper than keeping an index.
const INDEX_FROM: usize = 16;

impl MapEntries {
    fn position(&mut self, name: &str) -> Option<usize> {
        if self.index.is_none() && self.entries.len() >= INDEX_FROM {
            let index = self
                .entries
                .iter()
                .enumerate()
                .map(|(position, (key, _))| (key.name.clone(), position))
                .collect();
            self.index = Some(index);
        }
        match &self.index {
            Some(index) => index.get(name).copied(),
            None => self.entries.iter().position(|(key, _)| key.name == name),
        }
    }

    /// Sets `key: value`; a later duplicate replaces the earlier (as in PyYAML).
    fn set(&mut self, key: Key, value: Node) {
        match self.position(&key.name) {
            Some(position) => {
                if let Some(entry) = self.entries.get_mut(position) {
                    *entry = (key, value);
                }
            }
            None => self.push(key, value),
        }
    }

    /// Adds `key: value` unless the key is there already (a merged entry never overrides).
    fn set_default(&mut self, key: Key, value: Node) {
        if self.position(&key.name).is_none() {
            self.push(key, value);
        }
    }

    fn push(&mut self, key: Key, value: Node) {
        if let Some(index) = &mut self.index {
            index.insert(key.name.clone(), self.entries.len());
        }
        self.entries.push((key, value));
    }
}

/// The measures of a finished node that the limits need.
#[derive(Clone, Copy)]
struct Measure {
    /// Nodes in it, itself included: what an alias of it copies.
    size: usize,
    /// Levels of collections in it (0 for a scalar): an alias must not nest deeper than
    /// [`MAX_DEPTH`] where it is used.
    height: usize,
}

const SCALAR: Measure = Measure { size: 1, height: 0 };

/// A container being filled while events stream in, with the measures of its contents so far.
enum Open {
    Seq {
        items: Vec<Node>,
        span: Span,
        anchor: usize,
        measure: Measure,
    },
    Map {
        entries: MapEntries,
        pending_key: Option<Node>,
        span: Span,
        anchor: usize,
        measure: Measure,
    },
}

/// Builds a [`Node`] tree from yaml-rust2's marked events, within the limits.
#[derive(Default)]
struct TreeBuilder {
    stack: Vec<Open>,
    /// Anchored nodes with their measures.
    anchors: HashMap<usize, (Node, Measure)>,
    document: Option<Node>,
    aliases: usize,
    copied: usize,
}

impl TreeBuilder {
    fn push_value(&mut self, node: Node, measure: Measure) {
        let grow = |total: &mut Measure| {
            total.size = total.size.saturating_add(measure.size);
            total.height = total.height.max(measure.height + 1);
        };
        match self.stack.last_mut() {
            None => {
                if self.document.is_none() {
                    self.document = Some(node);
                }
            }
            Some(Open::Seq {
                items,
                measure: total,
                ..
            }) => {
                items.push(node);
                grow(total);
            }
            Some(Open::Map {
                entries,
                pending_key,
                measure: total,
                ..
            }) => {
                grow(total);
                match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => insert_entry(entries, key, node),
                }
            }
        }
    }

    /// Counts `size` more copied nodes against [`MAX_COPIED_NODES`].
    fn copy(&mut self, size: usize) -> Result<(), YamlErrorKind> {
        self.copied = self
            .copied
            .checked_add(size)
            .filter(|copied| *copied <= MAX_COPIED_NODES)
            .ok_or(YamlErrorKind::TooManyCopies)?;
        Ok(())
    }

    /// Keeps a copy of an anchored node for its aliases; the copy counts against the limit.
    fn remember(
        &mut self,
        anchor: usize,
        node: &Node,
        measure: Measure,
    ) -> Result<(), YamlErrorKind> {
        if anchor > 0 {
            self.copy(measure.size)?;
            self.anchors.insert(anchor, (node.clone(), measure));
        }
        Ok(())
    }

    fn open(&mut self, container: Open) -> Result<(), YamlErrorKind> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlErrorKind::TooDeep);
        }
        self.stack.push(container);
        Ok(())
    }

    fn on_event(&mut self, event: Event, mark: &Marker) -> Result<(), YamlErrorKind> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let len = text.chars().count().max(1);
                let plain = style == TScalarStyle::Plain && tag.is_none();
                let is_unsafe = tag
                    .as_ref()
                    .is_some_and(|t| t.handle == "!" && t.suffix == "unsafe");
                let kind = if plain {
                    resolve_plain(&text)
                } else if is_unsafe {
                    NodeKind::Str(unsafe_text(&text))
                } else {
                    NodeKind::Str(text)
                };
                let node = Node {
                    kind,
                    span: span_at(mark, len),
                };
                self.remember(anchor, &node, SCALAR)?;
                self.push_value(node, SCALAR);
            }
            Event::SequenceStart(anchor, _) => self.open(Open::Seq {
                items: Vec::new(),
                span: span_at(mark, 1),
                anchor,
                measure: Measure { size: 1, height: 1 },
            })?,
            Event::MappingStart(anchor, _) => self.open(Open::Map {
                entries: MapEntries::default(),
                pending_key: None,
                span: span_at(mark, 1),
                anchor,
                measure: Measure { size: 1, height: 1 },
            })?,
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, measure) = match self.stack.pop() {
                    Some(Open::Seq {
                        items,
                        span,
                        anchor,
                        measure,
                    }) => {
                        let node = Node {
                            kind: NodeKind::Seq(items),
                            span,
                        };
                        (node, anchor, measure)
                    }
                    Some(Open::Map {
                        entries,
                        span,
                        anchor,
                        measure,
                        ..
                    }) => {
                        let entries = entries.entries;
                        // Point a mapping at its first key: that is where readers look.
                        let span = entries.first().map_or(span, |(key, _)| key.span);
                        let node = Node {
                            kind: NodeKind::Map(entries),
                            span,
                        };
                        (node, anchor, measure)
                    }
                    None => return Ok(()),
                };
                self.remember(anchor, &node, measure)?;
                self.push_value(node, measure);
            }
            Event::Alias(anchor) => {
                self.aliases += 1;
                if self.aliases > MAX_ALIASES {
                    return Err(YamlErrorKind::TooManyAliases);
                }
                let measure = self.anchors.get(&anchor).map(|(_, measure)| *measure);
                let Some(measure) = measure else {
                    // An alias of an anchor not (yet) defined reads as null.
                    self.push_value(Node::null(span_at(mark, 1)), SCALAR);
                    return Ok(());
                };
                if self.stack.len() + measure.height > MAX_DEPTH {
                    return Err(YamlErrorKind::TooDeep);
                }
                self.copy(measure.size)?;
                if let Some(node) = self.anchors.get(&anchor).map(|(node, _)| node.clone()) {
                    self.push_value(node, measure);
                }
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
        Ok(())
    }
}

/// Adds `key: value` to a mapping: a later duplicate wins (as in PyYAML), and `<<` merges.
fn insert_entry(entries: &mut MapEntries, key: Node, value: Node) {
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
                    entries.set_default(merged_key, merged_value);
                }
            }
        }
        return;
    }
    entries.set(
        Key {
            name,
            span: key.span,
        },
        value,
    );
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
pub(crate) mod tests {
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

    /// The classic "billion laughs": nine levels of nine aliases of the level before.
    pub(crate) fn alias_bomb() -> String {
        let mut text = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for (previous, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            let aliases = vec![format!("*{previous}"); 9].join(",");
            text.push_str(&format!("{name}: &{name} [{aliases}]\n"));
        }
        text
    }

    fn parse_error(text: &str) -> YamlError {
        parse(&Source::new("bomb.yml", text)).expect_err("over a limit")
    }

    #[test]
    fn an_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit() {
        let text = alias_bomb();
        assert!(text.len() < 500, "{}", text.len());
        let error = parse_error(&text);
        assert_eq!(error.kind, YamlErrorKind::TooManyCopies);
        // Level f (line 6) copies nine times level e's 66 430 nodes, and keeping f itself for
        // its aliases crosses the million.
        assert!(
            error.at.to_string().starts_with("bomb.yml:6:"),
            "{:?}",
            error.at
        );
        assert!(
            error.to_string().contains("more than 1000000 nodes"),
            "{error}"
        );
    }

    #[test]
    fn too_many_aliases_are_refused() {
        let mut text = String::from("x: &x 1\nl: [");
        text.push_str(&vec!["*x"; MAX_ALIASES + 1].join(","));
        text.push_str("]\n");
        let error = parse_error(&text);
        assert_eq!(error.kind, YamlErrorKind::TooManyAliases);
        assert_eq!(error.at.span.line, 2);
    }

    #[test]
    fn deep_nesting_is_refused_before_it_can_exhaust_the_stack() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse_error(&deep).kind, YamlErrorKind::TooDeep);
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&Source::new("ok.yml", ok)).is_ok());
        let block = format!("{}1\n", "- ".repeat(MAX_DEPTH + 1));
        assert_eq!(parse_error(&block).kind, YamlErrorKind::TooDeep);
        let mut nested = String::from("a: &a [[[[1]]]]\n");
        let mut previous = "a".to_string();
        for level in 0..MAX_DEPTH / 4 {
            let name = format!("n{level}");
            nested.push_str(&format!("{name}: &{name} [[[[*{previous}]]]]\n"));
            previous = name;
        }
        assert_eq!(parse_error(&nested).kind, YamlErrorKind::TooDeep);
    }

    #[test]
    fn a_merge_key_on_thousands_of_hosts_fits_the_limits() {
        let mut text = String::from("defaults: &defaults\n");
        for key in 0..50 {
            text.push_str(&format!("  k{key}: v\n"));
        }
        text.push_str("hosts:\n");
        for host in 0..5000 {
            text.push_str(&format!("  h{host}: {{<<: *defaults, k0: mine}}\n"));
        }
        let doc = parse_str(&text);
        let hosts = doc.get("hosts").and_then(Node::as_map).expect("hosts");
        assert_eq!(hosts.len(), 5000);
        let last = &hosts[4999].1;
        assert_eq!(last.get("k0").and_then(Node::as_str), Some("mine"));
        assert_eq!(last.get("k49").and_then(Node::as_str), Some("v"));
    }

    #[test]
    fn a_large_mapping_keeps_order_and_lets_the_last_duplicate_win() {
        let mut text: String = (0..100_000).map(|i| format!("k{i}: {i}\n")).collect();
        text.push_str("k5: last\n");
        let doc = parse_str(&text);
        let map = doc.as_map().expect("map");
        assert_eq!(map.len(), 100_000);
        assert_eq!(map[5].0.name, "k5");
        assert_eq!(doc.get("k5").and_then(Node::as_str), Some("last"));
        assert_eq!(
            doc.get("k99999").map(|n| &n.kind),
            Some(&NodeKind::Int(99_999))
        );
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
