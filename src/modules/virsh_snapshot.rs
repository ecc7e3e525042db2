//! `virsh_snapshot`: take, delete (with retention) and revert to snapshots of the domains of
//! the hypervisor the task runs on.
//!
//! `state: present` takes snapshot `name` of each chosen domain that does not have it yet (a
//! domain that has it is `ok`, so a re-run changes nothing); `absent` deletes `name`, or with
//! `keep_last`/`older_than` every snapshot (matching `name` as a glob, if given) except the
//! newest `keep_last` and those younger than `older_than`; `reverted` reverts to `name`
//! (always a change). The domains are `domain: NAME` or `guests: all | running | [names]`.
//!
//! One round trip reads the host ([`super::virsh::gather`]); the plan is made from that in
//! Rust (all check mode does); one more round trip applies it. Names reach virsh quoted
//! (`a;b` is a snapshot called `a;b`); names virsh would misread are refused before anything
//! runs (see [`super::virsh::check_name`]).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::needrestart::glob_match;
use super::virsh::{self, one_line, parse, Step};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `virsh_snapshot`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirshSnapshotArgs {
    /// `present` (default), `absent` or `reverted`.
    #[serde(default)]
    state: SnapshotState,
    /// The snapshot; with `state: absent` and retention, a glob (`rpatch-*`) choosing which
    /// snapshots retention applies to.
    #[serde(default)]
    name: Option<String>,
    /// One domain.
    #[serde(default)]
    domain: Option<String>,
    /// Several: `all`, `running` (the domains running now) or a list of names.
    #[serde(default, deserialize_with = "lenient::word_list")]
    guests: Vec<String>,
    /// `present`: snapshot the disks only (`--disk-only`, external overlay files).
    #[serde(default, deserialize_with = "lenient::bool")]
    disk_only: bool,
    /// `present`: freeze guest file systems first (`--quiesce`, needs the guest agent).
    #[serde(default, deserialize_with = "lenient::bool")]
    quiesce: bool,
    /// `present`: all disks or none (`--atomic`).
    #[serde(default, deserialize_with = "lenient::bool")]
    atomic: bool,
    /// `present`: the snapshot's description.
    #[serde(default)]
    description: Option<String>,
    /// `absent`: keep this many newest snapshots.
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    keep_last: Option<f64>,
    /// `absent`: delete only snapshots older than this: seconds, or `90s`, `15m`, `12h`,
    /// `7d`, `2w`.
    #[serde(default)]
    older_than: Option<Age>,
    /// Give up after this many seconds (a snapshot of a big guest takes a while).
    #[serde(default = "default_timeout", deserialize_with = "lenient::whole")]
    timeout: u64,
}

fn default_timeout() -> u64 {
    1800
}

/// What to do with the snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SnapshotState {
    #[default]
    Present,
    Absent,
    Reverted,
}

/// `older_than` as written: a number of seconds or a text with a unit.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Age {
    Seconds(u64),
    Text(String),
}

impl Age {
    /// The age in seconds, or why the text is not one.
    pub(crate) fn seconds(&self) -> Result<u64, String> {
        let text = match self {
            Self::Seconds(seconds) => return Ok(*seconds),
            Self::Text(text) => text.trim(),
        };
        let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
            Some(at) => text.split_at(at),
            None => (text, "s"),
        };
        let factor = match unit.trim() {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => 0,
        };
        match number.parse::<u64>() {
            Ok(n) if factor > 0 => Ok(n.saturating_mul(factor)),
            _ => Err(format!(
                "older_than `{text}` is not a duration (seconds, or a number with s, m, h, d or w)"
            )),
        }
    }
}

/// Which domains: one, all, the running ones, or named ones.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Guests {
    All,
    Running,
    Named(Vec<String>),
}

/// The arguments, checked together.
#[derive(Debug)]
struct Request {
    state: SnapshotState,
    name: Option<String>,
    guests: Guests,
    keep_last: Option<usize>,
    older_than: Option<u64>,
}

impl VirshSnapshotArgs {
    fn request(&self) -> Result<Request, ModuleError> {
        let fail = |m: String| Err(ModuleError::Failed(m));
        let guests = match (&self.domain, self.guests.as_slice()) {
            (Some(_), [_, ..]) => return fail("give `domain` or `guests`, not both".into()),
            (None, []) => {
                return fail(
                    "which domains? give `domain: NAME` or `guests: all|running|[names]`".into(),
                )
            }
            (Some(domain), []) => Guests::Named(vec![domain.clone()]),
            (None, [one]) if one == "all" => Guests::All,
            (None, [one]) if one == "running" => Guests::Running,
            (None, names) => Guests::Named(names.to_vec()),
        };
        if let Guests::Named(names) = &guests {
            for name in names {
                virsh::check_name("domain", name)?;
            }
        }
        let keep_last = match self.keep_last {
            Some(n) if n.fract() != 0.0 => return fail(format!("keep_last {n} is not a whole number")),
            Some(n) => Some(n as usize),
            None => None,
        };
        let older_than = match &self.older_than {
            Some(age) => Some(age.seconds().map_err(ModuleError::Failed)?),
            None => None,
        };
        let retention = keep_last.is_some() || older_than.is_some();
        let creating = self.disk_only || self.quiesce || self.atomic || self.description.is_some();
        match self.state {
            SnapshotState::Present | SnapshotState::Reverted if self.name.is_none() => {
                return fail(format!("state {} needs the snapshot's `name`", self.state_word()));
            }
            SnapshotState::Present | SnapshotState::Reverted if retention => {
                return fail("keep_last and older_than go with state: absent".into());
            }
            SnapshotState::Absent if self.name.is_none() && !retention => {
                return fail(
                    "state absent needs the snapshot's `name`, or keep_last/older_than".into(),
                );
            }
            SnapshotState::Absent | SnapshotState::Reverted if creating => {
                return fail(
                    "disk_only, quiesce, atomic and description go with state: present".into(),
                );
            }
            _ => {}
        }
        if let Some(name) = &self.name {
            // With retention the name is a glob that only selects: only control characters
            // (which would split the report) are refused there.
            let pattern = self.state == SnapshotState::Absent && retention;
            if !pattern || name.chars().any(char::is_control) {
                virsh::check_name("snapshot", name)?;
            }
        }
        Ok(Request {
            state: self.state,
            name: self.name.clone(),
            guests,
            keep_last,
            older_than,
        })
    }

    fn state_word(&self) -> &'static str {
        match self.state {
            SnapshotState::Present => "present",
            SnapshotState::Absent => "absent",
            SnapshotState::Reverted => "reverted",
        }
    }
}

/// `virsh_snapshot`: manage snapshots of a hypervisor's domains.
pub(crate) struct VirshSnapshot;

#[async_trait]
impl Module for VirshSnapshot {
    fn names(&self) -> &'static [&'static str] {
        &["virsh_snapshot", "rpatch.virsh_snapshot"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<VirshSnapshotArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    fn runs_on_hypervisor(&self) -> bool {
        true
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let mut args: VirshSnapshotArgs = args::parse(args)?;
        if args.domain.is_none() && args.guests.is_empty() {
            args.domain = virsh::guest_domain(ctx);
        }
        let request = args.request()?;
        let report = virsh::gather(ctx).await?;
        let plan = plan(&request, &args, &report)?;
        if ctx.check_mode || plan.steps.is_empty() {
            return Ok(outcome(&plan, &[], ctx.check_mode));
        }
        let applied = virsh::run_script(
            ctx,
            virsh::script::apply(&plan.steps),
            Duration::from_secs(args.timeout.max(1)),
        )
        .await?;
        Ok(outcome(&plan, &applied.steps, false))
    }
}

/// One change to one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Change {
    domain: String,
    snapshot: String,
    /// `created`, `deleted` or `reverted`.
    action: &'static str,
}

/// What the task will do: virsh steps, one per change, in the same order.
#[derive(Debug, Default)]
struct Plan {
    changes: Vec<Change>,
    steps: Vec<Step>,
    /// Each chosen domain's snapshots once the plan is through.
    snapshots: BTreeMap<String, Vec<String>>,
}

/// Decides from the host's report what to do.
fn plan(request: &Request, args: &VirshSnapshotArgs, report: &parse::Report) -> Result<Plan, ModuleError> {
    let domains: Vec<(&String, &parse::Domain)> = match &request.guests {
        Guests::All => report.domains.iter().collect(),
        Guests::Running => report
            .domains
            .iter()
            .filter(|(_, d)| d.state == "running")
            .collect(),
        Guests::Named(names) => names
            .iter()
            .map(|name| {
                report
                    .domains
                    .get_key_value(name)
                    .ok_or_else(|| virsh::unknown_domain(name, report))
            })
            .collect::<Result<_, _>>()?,
    };
    let mut plan = Plan::default();
    for (domain, info) in domains {
        let mut after: Vec<String> = info.snapshots.clone();
        let name = request.name.as_deref().unwrap_or_default();
        match request.state {
            SnapshotState::Present => {
                if info.snapshot(name).is_none() {
                    let mut words = vec!["snapshot-create-as", "--domain", domain, "--name", name];
                    if let Some(description) = &args.description {
                        words.extend(["--description", description]);
                    }
                    for (flag, on) in [
                        ("--disk-only", args.disk_only),
                        ("--quiesce", args.quiesce),
                        ("--atomic", args.atomic),
                    ] {
                        if on {
                            words.push(flag);
                        }
                    }
                    plan.add(domain, name, "created", &words);
                    after.push(name.to_string());
                }
            }
            SnapshotState::Reverted => {
                if info.snapshot(name).is_none() {
                    return Err(ModuleError::Failed(format!(
                        "domain `{domain}` has no snapshot `{name}` (snapshots: {})",
                        if info.snapshots.is_empty() {
                            "none".to_string()
                        } else {
                            info.snapshots.join(", ")
                        }
                    )));
                }
                plan.add(
                    domain,
                    name,
                    "reverted",
                    &["snapshot-revert", "--domain", domain, "--snapshotname", name],
                );
            }
            SnapshotState::Absent => {
                for doomed in doomed(request, info, report.now.unwrap_or(0)) {
                    plan.add(
                        domain,
                        &doomed,
                        "deleted",
                        &["snapshot-delete", "--domain", domain, "--snapshotname", &doomed],
                    );
                    after.retain(|s| s != &doomed);
                }
            }
        }
        plan.snapshots.insert(domain.clone(), after);
    }
    Ok(plan)
}

impl Plan {
    fn add(&mut self, domain: &str, snapshot: &str, action: &'static str, words: &[&str]) {
        let verb = match action {
            "created" => "create",
            "deleted" => "delete",
            _ => "revert to",
        };
        self.steps.push(Step::new(
            format!("{verb} snapshot `{snapshot}` of `{domain}`"),
            words,
        ));
        self.changes.push(Change {
            domain: domain.to_string(),
            snapshot: snapshot.to_string(),
            action,
        });
    }
}

/// The snapshots of one domain `state: absent` deletes, oldest first.
fn doomed(request: &Request, domain: &parse::Domain, now: i64) -> Vec<String> {
    let name = request.name.as_deref();
    if request.keep_last.is_none() && request.older_than.is_none() {
        return name
            .filter(|n| domain.snapshot(n).is_some())
            .map(|n| vec![n.to_string()])
            .unwrap_or_default();
    }
    let candidates: Vec<&parse::Snapshot> = domain
        .snapshot_details
        .iter()
        .filter(|s| name.is_none_or(|pattern| glob_match(pattern, &s.name)))
        .collect();
    let keep = request.keep_last.unwrap_or(0).min(candidates.len());
    candidates[..candidates.len() - keep]
        .iter()
        .filter(|s| {
            request
                .older_than
                .is_none_or(|age| s.created <= now.saturating_sub(i64::try_from(age).unwrap_or(i64::MAX)))
        })
        .map(|s| s.name.clone())
        .collect()
}

/// What the task registers.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    /// Each change made (or that would be, in check mode).
    changes: &'a [Change],
    /// Each chosen domain's snapshots afterwards.
    snapshots: &'a BTreeMap<String, Vec<String>>,
}

/// The result; a failed step fails the task, naming each failure with virsh's words.
fn outcome(plan: &Plan, done: &[parse::StepOutcome], check_mode: bool) -> ModuleResult {
    let mut failures = Vec::new();
    if !check_mode {
        for (index, step) in plan.steps.iter().enumerate() {
            match done.get(index) {
                Some(outcome) if outcome.rc == Some(0) => {}
                Some(outcome) => failures.push(format!("{}: {}", step.what, one_line(&outcome.output))),
                None => failures.push(format!("{}: no answer from virsh", step.what)),
            }
        }
    }
    let data = Outcome {
        changes: &plan.changes,
        snapshots: &plan.snapshots,
    };
    if !failures.is_empty() {
        let mut result = ModuleResult::failed(failures.join("; ")).with_data(&data);
        result.changed = failures.len() < plan.steps.len();
        return result;
    }
    let summary: Vec<String> = plan
        .changes
        .iter()
        .map(|c| format!("{} `{}` of `{}`", c.action, c.snapshot, c.domain))
        .collect();
    let msg = match (summary.is_empty(), check_mode) {
        (true, _) => "snapshots already as requested".to_string(),
        (false, true) => format!("would have {}", summary.join(", ")),
        (false, false) => summary.join(", "),
    };
    let result = if plan.changes.is_empty() {
        ModuleResult::ok()
    } else {
        ModuleResult::changed()
    };
    result.with_data(&data).with_msg(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(json: serde_json::Value) -> VirshSnapshotArgs {
        args::parse(&crate::vars::from_json(&json)).expect("valid arguments")
    }

    fn report() -> parse::Report {
        parse::facts(include_str!("../../tests/fixtures/virsh/facts.txt"))
    }

    fn plan_for(json: serde_json::Value) -> Result<Plan, ModuleError> {
        let args = args(json);
        let request = args.request()?;
        plan(&request, &args, &report())
    }

    #[test]
    fn present_creates_only_where_missing_with_every_word_quoted() {
        let plan = plan_for(serde_json::json!({"guests": "all", "name": "before-patch", "atomic": true}))
            .expect("plan");
        // web01 has it already; app01 (shut off) gets one.
        assert_eq!(
            plan.changes,
            [Change { domain: "app01".into(), snapshot: "before-patch".into(), action: "created" }]
        );
        assert_eq!(
            plan.steps[0].words,
            ["snapshot-create-as", "--domain", "app01", "--name", "before-patch", "--atomic"]
        );
        let running = plan_for(serde_json::json!({"guests": "running", "name": "x;y"})).expect("plan");
        assert_eq!(running.changes.len(), 1);
        assert_eq!(running.changes[0].domain, "web01");
        let script = virsh::script::apply(&running.steps);
        assert!(script.contains("--name 'x;y'"), "{script}");
    }

    #[test]
    fn retention_keeps_the_newest_and_spares_the_young() {
        let plan = plan_for(serde_json::json!({"domain": "web01", "state": "absent", "keep_last": 1}))
            .expect("plan");
        let deleted: Vec<&str> = plan.changes.iter().map(|c| c.snapshot.as_str()).collect();
        assert_eq!(deleted, ["before-patch", "we ird;$x"]);
        assert_eq!(plan.snapshots["web01"], ["a&b<c>"]);
        // now is 1796286751; a&b<c> is 0 s old, the others 17 s.
        let plan = plan_for(serde_json::json!({"domain": "web01", "state": "absent", "older_than": "10s"}))
            .expect("plan");
        assert_eq!(plan.changes.len(), 2);
        let plan = plan_for(serde_json::json!({"domain": "web01", "state": "absent", "older_than": "1m"}))
            .expect("plan");
        assert!(plan.changes.is_empty());
        let plan = plan_for(serde_json::json!({"domain": "web01", "state": "absent", "name": "we*", "keep_last": 0}))
            .expect("plan");
        assert_eq!(plan.changes[0].snapshot, "we ird;$x");
        assert_eq!(plan.changes.len(), 1);
    }

    #[test]
    fn absent_and_reverted_name_what_is_missing() {
        let plan = plan_for(serde_json::json!({"domain": "web01", "state": "absent", "name": "gone"}))
            .expect("plan");
        assert!(plan.changes.is_empty());
        let error = plan_for(serde_json::json!({"domain": "app01", "state": "reverted", "name": "gone"}))
            .expect_err("no such snapshot");
        assert_eq!(error.to_string(), "domain `app01` has no snapshot `gone` (snapshots: none)");
        let error = plan_for(serde_json::json!({"domain": "nosuch", "name": "a"})).expect_err("unknown");
        assert_eq!(
            error.to_string(),
            "domain `nosuch` is not defined on this host (domains: app01, web01)"
        );
    }

    #[test]
    fn contradictory_or_unsafe_arguments_are_refused_before_anything_runs() {
        for (json, message) in [
            (serde_json::json!({"name": "a"}), "which domains?"),
            (serde_json::json!({"domain": "a", "guests": "all", "name": "a"}), "not both"),
            (serde_json::json!({"domain": "a"}), "needs the snapshot's `name`"),
            (serde_json::json!({"domain": "a", "name": "a", "keep_last": 2}), "go with state: absent"),
            (serde_json::json!({"domain": "a", "state": "absent"}), "keep_last/older_than"),
            (serde_json::json!({"domain": "a", "name": "a/b"}), "contains `/`"),
            (serde_json::json!({"domain": "-a", "name": "a"}), "starts with `-`"),
            (serde_json::json!({"domain": "a", "state": "absent", "older_than": "soon"}), "not a duration"),
            (serde_json::json!({"domain": "a", "state": "reverted", "name": "a", "atomic": true}), "go with state: present"),
        ] {
            let error = args(json.clone()).request().expect_err("refused").to_string();
            assert!(error.contains(message), "{json}: {error}");
        }
    }

    #[test]
    fn failed_steps_fail_the_task_with_virshs_words_and_check_mode_only_reports() {
        let plan = plan_for(serde_json::json!({"guests": ["web01", "app01"], "name": "n"})).expect("plan");
        let preview = outcome(&plan, &[], true);
        assert!(preview.changed && !preview.failed);
        assert_eq!(
            preview.msg.as_deref(),
            Some("would have created `n` of `web01`, created `n` of `app01`")
        );
        let done = [
            parse::StepOutcome { rc: Some(0), output: String::new() },
            parse::StepOutcome { rc: Some(1), output: "error: boom\n".into() },
        ];
        let result = outcome(&plan, &done, false);
        assert!(result.failed && result.changed, "{result:?}");
        assert_eq!(
            result.msg.as_deref(),
            Some("create snapshot `n` of `app01`: error: boom")
        );
    }
}
