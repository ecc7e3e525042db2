//! Which stage a run is: `--stage NAME`, else the one stage group the run's hosts are in.

use std::collections::BTreeSet;

use super::Stages;

/// Why a run's stage cannot be decided (exit 5: the command line must say more).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    /// Two plays declare different stage lists.
    #[error(
        "the plays declare different stages ({a} and {b}): one playbook has one list of stages"
    )]
    Disagree {
        /// One list.
        a: String,
        /// The other.
        b: String,
    },
    /// A stage is not an inventory group.
    #[error("stage `{0}` is not a group of the inventory (stages are inventory groups)")]
    UnknownGroup(String),
    /// `--stage` with a playbook without stages.
    #[error("--stage {0}: no play of the playbook declares `stages`")]
    NoStages(String),
    /// `--stage` names no stage.
    #[error("--stage {name}: not a stage of the playbook (its stages: {known})")]
    NotAStage {
        /// As given.
        name: String,
        /// The stages.
        known: String,
    },
    /// The run's hosts are in several stages.
    #[error(
        "the run's hosts are in more than one stage ({0}): choose one with --stage NAME or --limit"
    )]
    Spans(String),
}

/// Decides the run's stage: `requested` (`--stage`) when given, else the stage whose group
/// holds the targeted hosts. `None` for a playbook without stages, or hosts in no stage group.
/// `group_hosts` answers a group's hosts, `None` for an unknown group.
pub fn choose_stage<'a>(
    declared: &[&'a Stages],
    requested: Option<&str>,
    targeted: &BTreeSet<String>,
    group_hosts: impl Fn(&str) -> Option<Vec<String>>,
) -> Result<Option<(&'a Stages, String)>, StageError> {
    let Some(first) = declared.first() else {
        return match requested {
            Some(name) => Err(StageError::NoStages(name.to_string())),
            None => Ok(None),
        };
    };
    if let Some(other) = declared.iter().find(|s| s.names != first.names) {
        return Err(StageError::Disagree {
            a: first.names.join(", "),
            b: other.names.join(", "),
        });
    }
    let mut members = Vec::new();
    for name in &first.names {
        let hosts = group_hosts(name).ok_or_else(|| StageError::UnknownGroup(name.clone()))?;
        members.push((name, hosts));
    }
    if let Some(name) = requested {
        return if first.names.iter().any(|n| n == name) {
            Ok(Some((first, name.to_string())))
        } else {
            Err(StageError::NotAStage {
                name: name.to_string(),
                known: first.names.join(", "),
            })
        };
    }
    let touched: Vec<String> = members
        .iter()
        .filter_map(|(name, hosts)| {
            let mine: Vec<&str> = hosts
                .iter()
                .filter(|h| targeted.contains(*h))
                .map(String::as_str)
                .collect();
            (!mine.is_empty()).then(|| format!("{name}: {}", mine.join(", ")))
        })
        .collect();
    match touched.len() {
        0 => Ok(None),
        1 => {
            let name = touched[0].split(':').next().unwrap_or_default().to_string();
            Ok(Some((first, name)))
        }
        _ => Err(StageError::Spans(touched.join("; "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages() -> Stages {
        Stages {
            names: vec!["staging".into(), "production".into()],
            promote_after: Default::default(),
        }
    }

    fn groups(name: &str) -> Option<Vec<String>> {
        match name {
            "staging" => Some(vec!["s1".into()]),
            "production" => Some(vec!["p1".into(), "p2".into()]),
            _ => None,
        }
    }

    fn hosts(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn the_stage_is_the_one_group_the_hosts_are_in_or_the_one_asked_for() {
        let declared = stages();
        let chosen = |requested, targeted: &[&str]| {
            choose_stage(&[&declared], requested, &hosts(targeted), groups)
                .map(|found| found.map(|(_, name)| name))
        };
        assert_eq!(chosen(None, &["p1", "p2"]), Ok(Some("production".into())));
        assert_eq!(chosen(None, &["s1", "other"]), Ok(Some("staging".into())));
        assert_eq!(chosen(None, &["other"]), Ok(None));
        assert_eq!(
            chosen(Some("production"), &["p1"]),
            Ok(Some("production".into()))
        );
        let spans = chosen(None, &["s1", "p1"]).expect_err("both");
        assert!(
            spans.to_string().contains("staging: s1; production: p1"),
            "{spans}"
        );
        let unknown = chosen(Some("prod"), &["p1"]).expect_err("no such stage");
        assert!(
            unknown
                .to_string()
                .contains("its stages: staging, production"),
            "{unknown}"
        );
    }

    #[test]
    fn a_stage_that_is_no_group_or_plays_that_disagree_are_errors() {
        let mut odd = stages();
        odd.names.push("canary".into());
        let error = choose_stage(&[&odd], None, &hosts(&["p1"]), groups).expect_err("canary");
        assert_eq!(error, StageError::UnknownGroup("canary".into()));
        let plain = stages();
        let error = choose_stage(&[&plain, &odd], None, &hosts(&["p1"]), groups).expect_err("two");
        assert!(matches!(error, StageError::Disagree { .. }));
        let error =
            choose_stage(&[], Some("production"), &hosts(&["p1"]), groups).expect_err("none");
        assert_eq!(error, StageError::NoStages("production".into()));
    }
}
