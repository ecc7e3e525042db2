//! Reading a play's rolling-patch settings: `serial`, failure budgets, `order`,
//! `max_unavailable` and maintenance `window`s.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use super::error::PlaybookError;
use super::nodes::FileNode;
use crate::gates::{parse_gates, GateSpec, GateSpecError};
use crate::rolling::failure::{percentage_from_node, FailurePolicy};
use crate::rolling::order::{MaxUnavailable, Order, TopologyConfig};
use crate::rolling::serial::Serial;
use crate::rolling::window::Windows;
use crate::rolling::SpecError;
use crate::yaml::{Node, NodeKind};

/// How a play rolls through its hosts.
#[derive(Debug, Clone, Default)]
pub struct Rollout {
    /// Batch sizes; `None` runs every host in one batch (or `serial` is templated).
    pub serial: Option<Serial>,
    /// A templated `serial` (`"{{ batch }}"`), rendered with the play's vars and `-e` when
    /// the batches are planned, as Ansible does before any host is contacted.
    pub serial_template: Option<SerialTemplate>,
    /// When a batch's failures halt the run.
    pub failure: FailurePolicy,
    /// The order hosts are taken in.
    pub order: Order,
    /// Seed for `order: shuffle`.
    pub shuffle_seed: Option<u64>,
    /// Service limits for `order: topology`.
    pub topology: TopologyConfig,
    /// When new batches may start; `None` is always.
    pub windows: Option<Windows>,
    /// Health checks run before the first batch.
    pub preflight_gates: Vec<GateSpec>,
    /// Health checks run after every batch.
    pub gates: Vec<GateSpec>,
    /// What a failed gate leads to.
    pub on_gate_failure: GateFailure,
    /// `stages` and `promote_after`, when the play declares them.
    pub stages: Option<crate::stages::Stages>,
}

/// A `serial` value holding templates, kept with its position for errors once rendered.
#[derive(Debug, Clone)]
pub struct SerialTemplate {
    node: Node,
    source: std::sync::Arc<crate::diagnostic::Source>,
}

impl SerialTemplate {
    /// Renders the value with `scope` and reads it as `serial`; an error names where it is
    /// written and what it rendered to.
    pub fn render(
        &self,
        templar: &crate::template::Templar,
        scope: &crate::vars::Value,
    ) -> Result<Serial, SpecError> {
        let rendered = templar
            .render_value(&crate::vars::from_node(&self.node), scope)
            .map_err(|error| {
                SpecError::at_node("serial", error.to_string(), &self.source, &self.node)
            })?;
        let node = value_node(&rendered, &self.node);
        Serial::from_node(&node, &self.source)
    }
}

/// A rendered value as a node at `at`'s position (for the same checks as a literal value).
fn value_node(value: &crate::vars::Value, at: &Node) -> Node {
    use minijinja::value::ValueKind;
    let kind = match value.kind() {
        ValueKind::Bool => NodeKind::Bool(value.is_true()),
        ValueKind::Number => match i64::try_from(value.clone()) {
            Ok(n) if value.as_i64().is_some() => NodeKind::Int(n),
            _ => NodeKind::Float(f64::try_from(value.clone()).unwrap_or(f64::NAN)),
        },
        ValueKind::String => NodeKind::Str(value.as_str().unwrap_or_default().to_string()),
        ValueKind::Seq => NodeKind::Seq(
            value
                .try_iter()
                .map(|items| items.map(|item| value_node(&item, at)).collect())
                .unwrap_or_default(),
        ),
        ValueKind::None | ValueKind::Undefined => NodeKind::Null,
        _ => NodeKind::Str(value.to_string()),
    };
    Node {
        kind,
        span: at.span,
    }
}

/// What happens when a gate fails after a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GateFailure {
    /// Stop: later batches do not start.
    #[default]
    Halt,
    /// Run the play's `rollback` tasks on the batch's hosts, then stop.
    Rollback,
}

/// Reads the rolling keys of a play node.
pub fn rollout(
    file: &FileNode,
    play: &Node,
    any_errors_fatal: bool,
) -> Result<Rollout, PlaybookError> {
    let located = |error: SpecError| PlaybookError::Rollout(Box::new(error));
    let mut rollout = Rollout {
        failure: FailurePolicy {
            any_errors_fatal,
            ..FailurePolicy::default()
        },
        ..Rollout::default()
    };
    if let Some(node) = play.get("serial") {
        if holds_template(node) {
            rollout.serial_template = Some(SerialTemplate {
                node: node.clone(),
                source: file.source.clone(),
            });
        } else {
            rollout.serial = Some(Serial::from_node(node, &file.source).map_err(located)?);
        }
    }
    if let Some(node) = play.get("max_fail_percentage") {
        rollout.failure.max_fail_percentage =
            Some(percentage_from_node("max_fail_percentage", node, &file.source).map_err(located)?);
    }
    if let Some(node) = play.get("max_unreachable_percentage") {
        rollout.failure.max_unreachable_percentage = Some(
            percentage_from_node("max_unreachable_percentage", node, &file.source)
                .map_err(located)?,
        );
    }
    if let Some(node) = play.get("order") {
        rollout.order = Order::from_node(node, &file.source).map_err(located)?;
    }
    if let Some(node) = play.get("shuffle_seed") {
        match node.kind {
            NodeKind::Int(seed) if seed >= 0 => rollout.shuffle_seed = u64::try_from(seed).ok(),
            _ => {
                return Err(located(SpecError::at_node(
                    "shuffle_seed",
                    "must be a non-negative integer",
                    &file.source,
                    node,
                )))
            }
        }
    }
    if let Some(node) = play.get("max_unavailable") {
        rollout.topology = topology_config(file, node).map_err(located)?;
    }
    if let Some(node) = play.get("window") {
        rollout.windows = Some(Windows::from_node(node, &file.source).map_err(located)?);
    }
    let gate_error = |error: GateSpecError| PlaybookError::Gate(Box::new(error));
    if let Some(node) = play.get("gates") {
        rollout.gates = parse_gates(node, &file.source).map_err(gate_error)?;
    }
    if let Some(node) = play.get("preflight_gates") {
        rollout.preflight_gates = parse_gates(node, &file.source).map_err(gate_error)?;
    }
    rollout.stages =
        crate::stages::stages_from_play(play, &file.source).map_err(|error| match error {
            crate::stages::StagesSpecError::Spec(error) => located(error),
            crate::stages::StagesSpecError::Gate(error) => gate_error(error),
        })?;
    if let Some(node) = play.get("on_gate_failure") {
        rollout.on_gate_failure = match node.as_str() {
            Some("halt") => GateFailure::Halt,
            Some("rollback") => GateFailure::Rollback,
            _ => {
                return Err(located(SpecError::at_node(
                    "on_gate_failure",
                    "expected `halt` or `rollback`",
                    &file.source,
                    node,
                )))
            }
        };
    }
    Ok(rollout)
}

/// `max_unavailable: 1`, `"25%"`, or a mapping of service name to either.
fn topology_config(file: &FileNode, node: &Node) -> Result<TopologyConfig, SpecError> {
    let mut config = TopologyConfig::default();
    match &node.kind {
        NodeKind::Map(entries) => {
            let mut limits = BTreeMap::new();
            for (key, value) in entries {
                let limit = max_unavailable(file, value)?;
                if key.name == "default" {
                    config.default_max_unavailable = limit;
                } else {
                    limits.insert(key.name.clone(), limit);
                }
            }
            config.max_unavailable = limits;
        }
        _ => config.default_max_unavailable = max_unavailable(file, node)?,
    }
    Ok(config)
}

fn max_unavailable(file: &FileNode, node: &Node) -> Result<MaxUnavailable, SpecError> {
    let bad = || {
        SpecError::at_node(
            "max_unavailable",
            format!(
                "expected a host count (1 or more) or a percentage like \"50%\", found {}",
                node.type_name()
            ),
            &file.source,
            node,
        )
    };
    match &node.kind {
        NodeKind::Int(count) => usize::try_from(*count)
            .ok()
            .and_then(NonZeroUsize::new)
            .map(MaxUnavailable::Hosts)
            .ok_or_else(bad),
        NodeKind::Str(text) => text
            .trim()
            .strip_suffix('%')
            .and_then(|pct| pct.trim().parse::<u8>().ok())
            .filter(|pct| (1..=100).contains(pct))
            .map(MaxUnavailable::Percent)
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// True when a scalar of `node` (or of its list) is a template.
fn holds_template(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Str(text) => crate::template::is_template(text),
        NodeKind::Seq(items) => items.iter().any(holds_template),
        _ => false,
    }
}
