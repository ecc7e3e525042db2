//! Whether a later stage may start: the previous stage's newest successful run that recorded
//! a baseline ([`previous_run`]), and whether it has soaked ([`judge`]).

use std::path::Path;

use jiff::Timestamp;

use super::Stages;
use crate::baseline::BaselineStore;
use crate::rolling::summary::{RunStatus, RunSummary};

/// The previous stage's run a later stage is promoted from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousRun {
    /// Its id (also the name of the baseline it recorded).
    pub run_id: String,
    /// When it finished (its journal's last record).
    pub finished: Timestamp,
}

/// Why a later stage may not start yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The previous stage has no successful run with a baseline.
    #[error(
        "stage {stage} takes its baseline from stage {previous}, which has no successful run of \
         this playbook that recorded one yet: run stage {previous} first"
    )]
    NoRun {
        /// The stage asked for.
        stage: String,
        /// The stage before it.
        previous: String,
    },
    /// The previous stage's run has not soaked long enough.
    #[error(
        "stage {stage} waits for stage {previous}'s run {run_id}, which finished at {finished}: \
         its soak of {soak} ends at {ends} (in {left})"
    )]
    Soaking {
        /// The stage asked for.
        stage: String,
        /// The stage before it.
        previous: String,
        /// That stage's run.
        run_id: String,
        /// When it finished.
        finished: Timestamp,
        /// The soak as written.
        soak: String,
        /// When the soak ends.
        ends: Timestamp,
        /// How long until then, in words.
        left: String,
    },
    /// `promote_after.gate` did not pass.
    #[error("stage {stage}: the promotion gate `{gate}` did not pass: {message}")]
    Gate {
        /// The stage asked for.
        stage: String,
        /// The gate's name.
        gate: String,
        /// Its last output.
        message: String,
    },
}

/// The newest run of `playbook` in `stage` that ended `ok` (every host ok, not `--check`) and
/// recorded a baseline.
pub fn previous_run(
    runs_dir: &Path,
    playbook: &str,
    stage: &str,
    baselines: &BaselineStore,
) -> Option<PreviousRun> {
    let recorded: std::collections::BTreeSet<String> = baselines
        .list()
        .unwrap_or_default()
        .into_iter()
        .map(|b| b.run_id)
        .collect();
    let mut ids: Vec<String> = std::fs::read_dir(runs_dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|id| recorded.contains(id))
        .collect();
    // Run ids start with their UTC start time: the newest sorts last.
    ids.sort();
    ids.into_iter().rev().find_map(|id| {
        let journal = runs_dir
            .join(&id)
            .join(crate::rolling::journal::JOURNAL_FILE);
        let summary = RunSummary::from_journal(&journal).ok()?;
        let same_stage = summary.stage.as_ref().is_some_and(|s| s.name == stage);
        (same_stage
            && summary.playbook == playbook
            && summary.status == RunStatus::Ok
            && !summary.check_mode)
            .then_some(PreviousRun {
                run_id: summary.run_id,
                finished: summary.ended,
            })
    })
}

/// Whether a run of `stage` may start at `now` given the previous stage's run (the gate is
/// run apart, by the caller): every reason it may not.
pub fn judge(
    stages: &Stages,
    stage: &str,
    previous: Option<&PreviousRun>,
    now: Timestamp,
) -> Vec<Refusal> {
    let Some(before) = stages.previous(stage) else {
        return Vec::new();
    };
    let Some(run) = previous else {
        return vec![Refusal::NoRun {
            stage: stage.to_string(),
            previous: before.to_string(),
        }];
    };
    let mut refusals = Vec::new();
    if let Some(soak) = stages.promote_after.soak {
        let seconds = i64::try_from(soak.as_secs()).unwrap_or(i64::MAX);
        let ends = run
            .finished
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .unwrap_or(Timestamp::MAX);
        if now < ends {
            let left = ends.as_second().saturating_sub(now.as_second()).max(0);
            refusals.push(Refusal::Soaking {
                stage: stage.to_string(),
                previous: before.to_string(),
                run_id: run.run_id.clone(),
                finished: run.finished,
                soak: stages
                    .promote_after
                    .soak_text
                    .clone()
                    .unwrap_or_else(|| format!("{}s", soak.as_secs())),
                ends,
                left: words(left),
            });
        }
    }
    refusals
}

/// Seconds as `3d 4h`, `5h 02m`, `12m`.
fn words(seconds: i64) -> String {
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes:02}m")
    } else {
        format!("{}m", minutes.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::PromoteAfter;

    fn stages(soak: Option<&str>) -> Stages {
        Stages {
            names: vec!["staging".into(), "production".into()],
            promote_after: PromoteAfter {
                soak: soak.and_then(crate::stages::parse_period),
                soak_text: soak.map(str::to_string),
                gate: None,
            },
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("instant")
    }

    #[test]
    fn a_later_stage_waits_until_the_previous_run_soaked() {
        let run = PreviousRun {
            run_id: "20261201T100000Z-00aa".into(),
            finished: at("2026-12-01T10:05:00Z"),
        };
        let declared = stages(Some("72h"));
        let early = judge(
            &declared,
            "production",
            Some(&run),
            at("2026-12-02T10:05:00Z"),
        );
        assert_eq!(early.len(), 1);
        let message = early[0].to_string();
        assert!(
            message.contains("run 20261201T100000Z-00aa, which finished at 2026-12-01T10:05:00Z"),
            "{message}"
        );
        assert!(
            message.contains("soak of 72h ends at 2026-12-04T10:05:00Z (in 2d 0h)"),
            "{message}"
        );
        assert!(judge(
            &declared,
            "production",
            Some(&run),
            at("2026-12-04T10:05:00Z")
        )
        .is_empty());
        // The first stage never waits; no soak means no wait.
        assert!(judge(&declared, "staging", None, at("2026-12-01T10:05:00Z")).is_empty());
        assert!(judge(&stages(None), "production", Some(&run), run.finished).is_empty());
    }

    #[test]
    fn a_later_stage_without_a_previous_run_is_refused() {
        let refusals = judge(
            &stages(Some("1h")),
            "production",
            None,
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(
            refusals,
            [Refusal::NoRun {
                stage: "production".into(),
                previous: "staging".into()
            }]
        );
    }
}
