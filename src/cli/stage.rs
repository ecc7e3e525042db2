//! A staged run's start: which stage it is (`--stage`, or the stage group its hosts are in),
//! which baseline it installs, and whether it may start yet — refused with exit 9 before the
//! previous stage's run succeeded, soaked and passed its gate, unless `--emergency` (journaled
//! and printed as a warning) or `--check` (which changes nothing and only warns).

use std::collections::BTreeSet;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::error::CliError;
use super::load::Loaded;
use crate::baseline::BaselineStore;
use crate::gates::{run_gate, GateContext};
use crate::rolling::clock::Clock;
use crate::runner::plan::PlayPlan;
use crate::stages::{choose_stage, judge, previous_run, Refusal, StageRecord, Stages};

/// What the stage rules say about a run that is about to start.
pub(super) enum StageStart {
    /// Start it, with this stage (`None`: not a staged run).
    Go(Option<StageRecord>),
    /// Do not start it (the reasons are printed): exit 9.
    Refused,
}

/// The stages the plays declare.
fn declared(loaded: &Loaded) -> Vec<&Stages> {
    loaded
        .playbook
        .plays
        .iter()
        .filter_map(|play| play.rollout.stages.as_ref())
        .collect()
}

/// `--stage NAME` checked against the playbook and inventory, and folded into `--limit`
/// (`LIMIT:&NAME`), so a stage run only touches its group.
pub(super) fn limit_with_stage(
    loaded: &Loaded,
    limit: Option<&str>,
    stage: Option<&str>,
) -> Result<Option<String>, CliError> {
    let Some(stage) = stage else {
        return Ok(limit.map(str::to_string));
    };
    choose_stage(&declared(loaded), Some(stage), &BTreeSet::new(), |group| {
        group_hosts(loaded, group)
    })?;
    Ok(Some(match limit {
        Some(limit) => format!("{limit}:&{stage}"),
        None => stage.to_string(),
    }))
}

fn group_hosts(loaded: &Loaded, group: &str) -> Option<Vec<String>> {
    loaded.inventory.group(group)?;
    Some(
        loaded
            .inventory
            .group_hosts(group)
            .iter()
            .map(|host| host.name.clone())
            .collect(),
    )
}

/// How the run was asked to start.
pub(super) struct StageRequest<'a> {
    /// `--stage`.
    pub stage: Option<&'a str>,
    /// The absolute playbook path, as journaled.
    pub playbook: &'a Path,
    /// Where earlier runs' journals are.
    pub runs_dir: &'a Path,
    /// `--emergency`.
    pub emergency: bool,
    /// `--check`.
    pub check: bool,
    /// What "now" is (`RPATCH_NOW` rehearses a later date).
    pub clock: Clock,
}

/// Decides the run's stage and whether it may start; prints what it decided.
pub(super) async fn start_stage(
    loaded: &Loaded,
    plan: &[PlayPlan],
    request: &StageRequest<'_>,
) -> Result<StageStart, CliError> {
    let targeted: BTreeSet<String> = plan
        .iter()
        .flat_map(|play| &play.batches)
        .flat_map(|batch| batch.hosts.iter().map(|(host, _)| host.clone()))
        .collect();
    let declared = declared(loaded);
    let Some((stages, name)) = choose_stage(&declared, request.stage, &targeted, |group| {
        group_hosts(loaded, group)
    })?
    else {
        if let Some(stages) = declared.first() {
            eprintln!(
                "[WARNING]: the run's hosts are in no stage group ({}): it runs without stage rules",
                stages.names.join(", ")
            );
        }
        return Ok(StageStart::Go(None));
    };
    let mut record = StageRecord {
        name: name.clone(),
        previous: stages.previous(&name).map(str::to_string),
        baseline: None,
        overridden: Vec::new(),
    };
    let Some(previous) = record.previous.clone() else {
        eprintln!("rpatch: {}", record.describe());
        return Ok(StageStart::Go(Some(record)));
    };
    let store = BaselineStore::from_env()?;
    let playbook = request.playbook.display().to_string();
    let run = previous_run(request.runs_dir, &playbook, &previous, &store);
    let mut refusals = judge(stages, &name, run.as_ref(), request.clock.now());
    if let (Some(gate), true, false) = (
        &stages.promote_after.gate,
        refusals.is_empty(),
        request.emergency,
    ) {
        let scope = crate::vars::to_value((*loaded.extra_vars).clone());
        let context = GateContext::new(&loaded.templar, &scope, CancellationToken::new());
        let outcome = run_gate(gate, &context).await;
        if !outcome.passed {
            refusals.push(Refusal::Gate {
                stage: name.clone(),
                gate: gate.name.clone(),
                message: outcome.message,
            });
        }
    } else if stages.promote_after.gate.is_some() && request.emergency {
        record
            .overridden
            .push("the promotion gate was not run".to_string());
    }
    record.baseline = run.as_ref().map(|run| run.run_id.clone());
    if !refusals.is_empty() {
        if request.emergency {
            for refusal in &refusals {
                eprintln!("[WARNING]: --emergency: starting although {refusal}");
            }
            record
                .overridden
                .extend(refusals.iter().map(ToString::to_string));
        } else if request.check {
            for refusal in &refusals {
                eprintln!("[WARNING]: check mode: a real run would be refused: {refusal}");
            }
        } else {
            for refusal in &refusals {
                eprintln!("rpatch: not starting: {refusal}");
            }
            eprintln!("rpatch: --emergency starts it anyway (journaled)");
            return Ok(StageStart::Refused);
        }
    }
    if record.baseline.is_none() {
        eprintln!(
            "[WARNING]: stage {name} has no baseline from stage {previous}: its upgrades install the newest versions"
        );
    }
    eprintln!("rpatch: {}", record.describe());
    Ok(StageStart::Go(Some(record)))
}
