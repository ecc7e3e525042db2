//! Reading a play's `stages: [staging, production]` and `promote_after: { soak, gate }`, and
//! the `72h`/`3d` periods that soak times and approval delays are written in.

use std::sync::Arc;
use std::time::Duration;

use crate::diagnostic::Source;
use crate::gates::{parse_gate, GateSpec, GateSpecError};
use crate::rolling::SpecError;
use crate::yaml::{Node, NodeKind};

/// A play's stages: inventory group names in promotion order, and what a later stage waits
/// for before it may start.
#[derive(Debug, Clone)]
pub struct Stages {
    /// Group names, first stage first.
    pub names: Vec<String>,
    /// What a run of a later stage waits for.
    pub promote_after: PromoteAfter,
}

/// `promote_after`: how long the previous stage's run must have soaked, and a gate that must
/// pass, before a later stage starts.
#[derive(Debug, Clone, Default)]
pub struct PromoteAfter {
    /// Time after the previous stage's run ended.
    pub soak: Option<Duration>,
    /// The soak as written (`72h`), for messages.
    pub soak_text: Option<String>,
    /// A gate (same syntax as `gates:` entries) run when the later stage starts.
    pub gate: Option<GateSpec>,
}

impl Stages {
    /// The stage before `name`, if `name` is a stage and not the first.
    pub fn previous(&self, name: &str) -> Option<&str> {
        let index = self.names.iter().position(|stage| stage == name)?;
        index
            .checked_sub(1)
            .and_then(|i| self.names.get(i))
            .map(String::as_str)
    }
}

/// Why `stages`/`promote_after` cannot be read: a located rolling setting error, or a gate's.
#[derive(Debug, thiserror::Error)]
pub enum StagesSpecError {
    /// `stages`, `promote_after` or `soak` is malformed.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// `promote_after.gate` is not a gate.
    #[error(transparent)]
    Gate(#[from] GateSpecError),
}

/// Reads a period: `<n><unit>` parts with units `s`, `m`, `h`, `d`, `w` (`72h`, `3d`,
/// `1d12h`, `0d`); `None` for anything else.
pub fn parse_period(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest.chars().next()?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return None,
        };
        total = total.checked_add(value.checked_mul(seconds)?)?;
        rest = &rest[unit.len_utf8()..];
    }
    (total <= crate::seconds::MAX_SECONDS).then(|| Duration::from_secs(total))
}

/// A period written in a playbook: a string like `72h` (or a whole number of seconds); the
/// error names the key and where it is written.
pub fn period_from_node(
    key: &'static str,
    node: &Node,
    source: &Arc<Source>,
) -> Result<(Duration, String), SpecError> {
    let text = match &node.kind {
        NodeKind::Str(text) => text.clone(),
        NodeKind::Int(n) => format!("{n}s"),
        _ => String::new(),
    };
    parse_period(&text)
        .map(|d| (d, text.clone()))
        .ok_or_else(|| {
            SpecError::at_node(
                key,
                format!(
                    "`{}` is not a period",
                    if text.is_empty() {
                        node.type_name().to_string()
                    } else {
                        text
                    }
                ),
                source,
                node,
            )
            .with_hint("write a number and a unit: s, m, h, d or w (`72h`, `3d`, `1d12h`)")
        })
}

/// Reads `stages` and `promote_after` of a play node; `None` when it has no `stages`.
pub fn stages_from_play(
    play: &Node,
    source: &Arc<Source>,
) -> Result<Option<Stages>, StagesSpecError> {
    let promote = play.get("promote_after");
    let Some(node) = play.get("stages") else {
        if let Some(promote) = promote {
            return Err(SpecError::at_node(
                "promote_after",
                "says when a later stage may start, but the play has no `stages`",
                source,
                promote,
            )
            .into());
        }
        return Ok(None);
    };
    let bad = |message: String| SpecError::at_node("stages", message, source, node);
    let NodeKind::Seq(items) = &node.kind else {
        return Err(bad(format!(
            "expected a list of inventory group names, found {}",
            node.type_name()
        ))
        .with_hint("stages: [staging, production]")
        .into());
    };
    let mut names: Vec<String> = Vec::new();
    for item in items {
        let Some(name) = item.as_str().filter(|n| !n.trim().is_empty()) else {
            return Err(SpecError::at_node(
                "stages",
                format!("expected a group name, found {}", item.type_name()),
                source,
                item,
            )
            .into());
        };
        if names.iter().any(|known| known == name) {
            return Err(SpecError::at_node(
                "stages",
                format!("`{name}` is listed twice"),
                source,
                item,
            )
            .into());
        }
        names.push(name.to_string());
    }
    if names.len() < 2 {
        return Err(bad(
            "needs at least two stages (the first is tested, the later ones get what it installed)"
                .into(),
        )
        .into());
    }
    let mut promote_after = PromoteAfter::default();
    if let Some(promote) = promote {
        let NodeKind::Map(entries) = &promote.kind else {
            return Err(SpecError::at_node(
                "promote_after",
                format!(
                    "expected a mapping with `soak` and/or `gate`, found {}",
                    promote.type_name()
                ),
                source,
                promote,
            )
            .into());
        };
        for (key, value) in entries {
            match key.name.as_str() {
                "soak" => {
                    let (soak, text) = period_from_node("soak", value, source)?;
                    promote_after.soak = Some(soak);
                    promote_after.soak_text = Some(text);
                }
                "gate" => promote_after.gate = Some(parse_gate(value, source)?),
                other => {
                    return Err(SpecError::at_node(
                        "promote_after",
                        format!("unknown key `{other}`: expected `soak` or `gate`"),
                        source,
                        value,
                    )
                    .into())
                }
            }
        }
    }
    Ok(Some(Stages {
        names,
        promote_after,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<Stages>, String> {
        let source = Source::new("site.yml", text);
        let node = crate::yaml::parse(&source).map_err(|e| e.to_string())?;
        stages_from_play(&node, &source).map_err(|error| match error {
            StagesSpecError::Spec(e) => crate::diagnostic::render(&e),
            StagesSpecError::Gate(e) => crate::diagnostic::render(&e),
        })
    }

    #[test]
    fn periods_read_seconds_to_weeks() {
        assert_eq!(parse_period("72h"), Some(Duration::from_secs(72 * 3600)));
        assert_eq!(parse_period("1d12h"), Some(Duration::from_secs(36 * 3600)));
        assert_eq!(parse_period("0d"), Some(Duration::ZERO));
        assert_eq!(parse_period("2w"), Some(Duration::from_secs(14 * 86_400)));
        for bad in ["72x", "", "h", "3", "-1d", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_period(bad), None, "{bad}");
        }
    }

    #[test]
    fn stages_with_a_soak_and_a_gate_are_read() {
        let stages = parse(
            "stages: [staging, production]\npromote_after:\n  soak: 72h\n  gate:\n    name: ok\n    command: \"true\"\n",
        )
        .expect("parses")
        .expect("stages");
        assert_eq!(stages.names, ["staging", "production"]);
        assert_eq!(
            stages.promote_after.soak,
            Some(Duration::from_secs(72 * 3600))
        );
        assert!(stages.promote_after.gate.is_some());
        assert_eq!(stages.previous("production"), Some("staging"));
        assert_eq!(stages.previous("staging"), None);
        assert_eq!(
            parse("hosts: all\n").expect("parses").map(|s| s.names),
            None
        );
    }

    #[test]
    fn a_soak_that_is_not_a_period_names_file_line_and_column() {
        let error =
            parse("stages: [staging, production]\npromote_after:\n  soak: 72x\n").expect_err("72x");
        assert!(error.contains("site.yml:3:9"), "{error}");
        assert!(error.contains("`72x` is not a period"), "{error}");
        let error = parse("stages: [staging]\n").expect_err("one stage");
        assert!(error.contains("at least two stages"), "{error}");
        let error = parse("promote_after: {soak: 1h}\n").expect_err("no stages");
        assert!(error.contains("has no `stages`"), "{error}");
        let error = parse("stages: [a, b]\npromote_after: {wait: 1h}\n").expect_err("unknown");
        assert!(error.contains("unknown key `wait`"), "{error}");
    }
}
