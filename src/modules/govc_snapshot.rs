//! `govc_snapshot`: take, delete (with retention) and revert to snapshots of a vSphere VM.
//!
//! `state: present` takes snapshot `name` unless the VM has one of that name (read from
//! `snapshot.tree`), so a re-run changes nothing; `absent` removes `name` (a VM without it is
//! `ok`), or with `keep_last`/`older_than` every snapshot matching `name` as a glob (all when
//! no `name`) except the newest `keep_last` and those younger than `older_than` (read from
//! `snapshot.tree -D -i -d` and `snapshot.tree -json`); `reverted` reverts to `name` (always a
//! change). Snapshot names need not be unique in vSphere and govc addresses them by name, so
//! retention refuses to remove a name two snapshots share.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::govc::{self, check_word, parse, Failure, Govc};
use super::lenient;
use super::needrestart::glob_match;
use super::virsh_snapshot::Age;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `govc_snapshot`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovcSnapshotArgs {
    /// `present` (default), `absent` or `reverted`.
    #[serde(default)]
    state: SnapshotState,
    /// The VM (name or inventory path).
    vm: String,
    /// The snapshot; with `state: absent` and retention, a glob choosing the snapshots.
    #[serde(default)]
    name: Option<String>,
    /// `present`: the snapshot's description (`-d`).
    #[serde(default)]
    description: Option<String>,
    /// `present`: include the memory (`-m`, govc's default is true).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    memory: Option<bool>,
    /// `present`: quiesce the guest file systems (`-q`, needs VMware Tools).
    #[serde(default, deserialize_with = "lenient::bool")]
    quiesce: bool,
    /// `absent`: keep this many newest snapshots.
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    keep_last: Option<f64>,
    /// `absent`: remove only snapshots older than this (seconds, or `12h`, `7d`, `2w`).
    #[serde(default)]
    older_than: Option<Age>,
    /// `absent`: remove the snapshot's children too (`-r`).
    #[serde(default, deserialize_with = "lenient::bool")]
    remove_children: bool,
    /// Give up on one govc call after this many seconds.
    #[serde(default = "default_timeout", deserialize_with = "lenient::whole")]
    timeout: u64,
    /// How govc is told which VM `vm` is: `-vm` (name or inventory path) unless an alias
    /// with other arguments says `-vm.uuid`.
    #[serde(skip)]
    vm_flag: VmFlag,
}

/// The govc flag that picks the VM.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum VmFlag {
    /// `-vm NAME_OR_PATH`.
    #[default]
    Name,
    /// `-vm.uuid UUID` (the BIOS UUID).
    Uuid,
}

impl VmFlag {
    /// The flag itself.
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Self::Name => "-vm",
            Self::Uuid => "-vm.uuid",
        }
    }
}

fn default_timeout() -> u64 {
    1800
}

/// What to do with the snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SnapshotState {
    #[default]
    Present,
    Absent,
    Reverted,
}

/// Retention: how many to keep and from what age on to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Retention {
    keep_last: usize,
    older_than: Option<u64>,
}

impl GovcSnapshotArgs {
    /// The arguments of an alias that speaks another module's language (no retention, the
    /// default timeout).
    pub(crate) fn new(state: SnapshotState, vm: String, vm_flag: VmFlag, name: String) -> Self {
        Self {
            state,
            vm,
            name: Some(name),
            description: None,
            memory: None,
            quiesce: false,
            keep_last: None,
            older_than: None,
            remove_children: false,
            timeout: default_timeout(),
            vm_flag,
        }
    }

    /// `present`: with this description, memory, quiescing.
    pub(crate) fn creating(mut self, description: Option<String>, memory: bool, quiesce: bool) -> Self {
        self.description = description;
        self.memory = Some(memory);
        self.quiesce = quiesce;
        self
    }

    /// `absent`: removing the children too.
    pub(crate) fn with_children(mut self, remove_children: bool) -> Self {
        self.remove_children = remove_children;
        self
    }

    /// The timeout of one govc call.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.max(1))
    }

    /// Checks the arguments together; `Some` retention for `absent` with keep_last/older_than.
    fn check(&self) -> Result<Option<Retention>, ModuleError> {
        let fail = |m: &str| Err(ModuleError::Failed(m.to_string()));
        check_word("VM", &self.vm)?;
        let keep_last = match self.keep_last {
            Some(n) if n.fract() != 0.0 || n < 0.0 => {
                return Err(ModuleError::Failed(format!("keep_last {n} is not a whole number")))
            }
            Some(n) => Some(n as usize),
            None => None,
        };
        let older_than = match &self.older_than {
            Some(age) => Some(age.seconds().map_err(ModuleError::Failed)?),
            None => None,
        };
        let retention = (keep_last.is_some() || older_than.is_some()).then_some(Retention {
            keep_last: keep_last.unwrap_or(0),
            older_than,
        });
        let creating = self.description.is_some() || self.memory.is_some() || self.quiesce;
        match self.state {
            SnapshotState::Present | SnapshotState::Reverted if self.name.is_none() => {
                return fail("state present and reverted need the snapshot's `name`");
            }
            SnapshotState::Present | SnapshotState::Reverted if retention.is_some() => {
                return fail("keep_last and older_than go with state: absent");
            }
            SnapshotState::Absent if self.name.is_none() && retention.is_none() => {
                return fail("state absent needs the snapshot's `name`, or keep_last/older_than");
            }
            SnapshotState::Absent | SnapshotState::Reverted if creating => {
                return fail("description, memory and quiesce go with state: present");
            }
            SnapshotState::Present | SnapshotState::Reverted if self.remove_children => {
                return fail("remove_children goes with state: absent");
            }
            _ => {}
        }
        if let Some(name) = &self.name {
            if retention.is_none() {
                check_word("snapshot name", name)?;
            } else if name.chars().any(char::is_control) {
                return fail("the snapshot name pattern contains a control character");
            }
        }
        Ok(retention)
    }
}

/// `govc_snapshot`: manage the snapshots of a vSphere VM.
pub(crate) struct GovcSnapshot;

#[async_trait]
impl Module for GovcSnapshot {
    fn names(&self) -> &'static [&'static str] {
        &["govc_snapshot", "rpatch.govc_snapshot"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<GovcSnapshotArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: GovcSnapshotArgs = args::parse(args)?;
        let govc = Govc::from_vars(ctx, args.timeout())?;
        apply(&govc, ctx, &args).await
    }
}

/// Brings the snapshots of `args.vm` to `args.state` through `govc` (the connection the
/// caller chose: `govc_*` variables, or an alias's own arguments over them).
pub(crate) async fn apply(
    govc: &Govc,
    ctx: &ModuleContext<'_>,
    args: &GovcSnapshotArgs,
) -> Result<ModuleResult, ModuleError> {
        let retention = args.check()?;
        let flag = args.vm_flag.flag();
        let vm = args.vm.as_str();
        let name = args.name.as_deref().unwrap_or_default();
        match (args.state, retention) {
            (_, Some(retention)) => prune(govc, ctx, flag, vm, args.name.as_deref(), retention).await,
            (SnapshotState::Present, None) => {
                let tree = parse::snapshot_tree_text(&govc.ok(ctx, &["snapshot.tree", flag, vm]).await?);
                if tree.iter().any(|s| s.name == name) {
                    return Ok(done(false, vm, name, "exists", format!("`{vm}` has snapshot `{name}`")));
                }
                if ctx.check_mode {
                    return Ok(done(true, vm, name, "created", format!("would create snapshot `{name}` of `{vm}`")));
                }
                let memory = (args.memory == Some(false)).then_some("-m=false");
                let mut words = vec!["snapshot.create", flag, vm];
                if let Some(description) = &args.description {
                    words.extend(["-d", description]);
                }
                words.extend(memory);
                if args.quiesce {
                    words.push("-q");
                }
                words.push(name);
                govc.ok(ctx, &words).await?;
                Ok(done(true, vm, name, "created", format!("created snapshot `{name}` of `{vm}`")))
            }
            (SnapshotState::Reverted, None) => {
                if ctx.check_mode {
                    let tree = parse::snapshot_tree_text(&govc.ok(ctx, &["snapshot.tree", flag, vm]).await?);
                    if !tree.iter().any(|s| s.name == name) {
                        return Err(ModuleError::Failed(format!("`{vm}` has no snapshot `{name}`")));
                    }
                    return Ok(done(true, vm, name, "reverted", format!("would revert `{vm}` to `{name}`")));
                }
                let words = ["snapshot.revert", flag, vm, name];
                let reply = govc.call(ctx, &words).await?;
                if reply.rc != 0 {
                    return Err(ModuleError::Failed(format!(
                        "cannot revert `{vm}` to snapshot `{name}`: {}",
                        Failure::classify(&reply.error).explain()
                    )));
                }
                Ok(done(true, vm, name, "reverted", format!("reverted `{vm}` to snapshot `{name}`")))
            }
            (SnapshotState::Absent, None) => {
                if ctx.check_mode {
                    let tree = parse::snapshot_tree_text(&govc.ok(ctx, &["snapshot.tree", flag, vm]).await?);
                    let there = tree.iter().any(|s| s.name == name);
                    let msg = if there { "would remove" } else { "no" };
                    return Ok(done(there, vm, name, "removed", format!("{msg} snapshot `{name}` of `{vm}`")));
                }
                let mut words = vec!["snapshot.remove", flag, vm];
                if args.remove_children {
                    words.push("-r");
                }
                words.push(name);
                let reply = govc.call(ctx, &words).await?;
                match Failure::classify(&reply.error) {
                    _ if reply.rc == 0 => {
                        Ok(done(true, vm, name, "removed", format!("removed snapshot `{name}` of `{vm}`")))
                    }
                    Failure::NoSnapshots => Ok(done(false, vm, name, "absent", format!("`{vm}` has no snapshots"))),
                    Failure::NotFound { kind, .. } if kind == "snapshot" => {
                        Ok(done(false, vm, name, "absent", format!("`{vm}` has no snapshot `{name}`")))
                    }
                    _ => Err(govc::failed(&words, &reply)),
                }
            }
        }
}

/// What the task registers.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    vm: &'a str,
    snapshot: &'a str,
    /// `created`, `removed`, `reverted`, `exists` or `absent`.
    action: &'a str,
}

fn done(changed: bool, vm: &str, snapshot: &str, action: &str, msg: String) -> ModuleResult {
    let result = if changed { ModuleResult::changed() } else { ModuleResult::ok() };
    result.with_data(&Outcome { vm, snapshot, action }).with_msg(msg)
}

/// Retention: reads the tree in detail, removes what it does not keep, oldest first.
async fn prune(
    govc: &Govc,
    ctx: &ModuleContext<'_>,
    flag: &str,
    vm: &str,
    pattern: Option<&str>,
    retention: Retention,
) -> Result<ModuleResult, ModuleError> {
    let detail = govc.ok(ctx, &["snapshot.tree", flag, vm, "-D", "-i", "-d"]).await?;
    let mut snapshots = parse::snapshot_tree_json(&govc.ok(ctx, &["snapshot.tree", flag, vm, "-json"]).await?)
        .map_err(ModuleError::Failed)?;
    parse::add_details(&mut snapshots, &detail).map_err(ModuleError::Failed)?;
    let now = jiff::Timestamp::now().as_second();
    let doomed = doomed(&snapshots, pattern, retention, now)?;
    let kept: Vec<&str> = snapshots
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| !doomed.iter().any(|d| d == n))
        .collect();
    #[derive(Serialize)]
    struct Pruned<'a> {
        vm: &'a str,
        removed: &'a [String],
        kept: &'a [&'a str],
    }
    let data = Pruned { vm, removed: &doomed, kept: &kept };
    let result = if doomed.is_empty() { ModuleResult::ok() } else { ModuleResult::changed() };
    if doomed.is_empty() {
        return Ok(result.with_data(&data).with_msg(format!("`{vm}`: no snapshot to remove")));
    }
    if ctx.check_mode {
        return Ok(result.with_data(&data).with_msg(format!("would remove {} of `{vm}`", doomed.join(", "))));
    }
    for (index, name) in doomed.iter().enumerate() {
        let words = ["snapshot.remove", flag, vm, name.as_str()];
        let reply = govc.call(ctx, &words).await?;
        if reply.rc != 0 {
            let mut failed = ModuleResult::failed(format!(
                "removing snapshot `{name}` of `{vm}`: {}",
                Failure::classify(&reply.error).explain()
            ))
            .with_data(&Pruned { vm, removed: &doomed[..index], kept: &kept });
            failed.changed = index > 0;
            return Ok(failed);
        }
    }
    Ok(result.with_data(&data).with_msg(format!("removed {} of `{vm}`", doomed.join(", "))))
}

/// The snapshots retention removes, oldest first: those matching `pattern` beyond the newest
/// `keep_last`, and only those older than `older_than`. A name two snapshots share is
/// refused: govc could not tell which one to remove.
fn doomed(
    snapshots: &[parse::Snapshot],
    pattern: Option<&str>,
    retention: Retention,
    now: i64,
) -> Result<Vec<String>, ModuleError> {
    let mut candidates: Vec<&parse::Snapshot> = snapshots
        .iter()
        .filter(|s| pattern.is_none_or(|p| glob_match(p, &s.name)))
        .collect();
    candidates.sort_by_key(|s| s.created.unwrap_or(0));
    let keep = retention.keep_last.min(candidates.len());
    let cutoff = retention
        .older_than
        .map(|age| now.saturating_sub(i64::try_from(age).unwrap_or(i64::MAX)));
    let doomed: Vec<String> = candidates[..candidates.len() - keep]
        .iter()
        .filter(|s| cutoff.is_none_or(|cutoff| s.created.unwrap_or(0) <= cutoff))
        .map(|s| s.name.clone())
        .collect();
    for name in &doomed {
        let count = snapshots.iter().filter(|s| &s.name == name).count();
        if count > 1 {
            return Err(ModuleError::Failed(format!(
                "retention would remove `{name}`, but {} (nothing removed)",
                Failure::Ambiguous { name: name.clone(), count: count.to_string() }.explain()
            )));
        }
    }
    Ok(doomed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(json: serde_json::Value) -> GovcSnapshotArgs {
        args::parse(&crate::vars::from_json(&json)).expect("valid arguments")
    }

    fn snap(name: &str, created: i64) -> parse::Snapshot {
        parse::Snapshot { name: name.into(), depth: 0, current: false, id: None, created: Some(created) }
    }

    #[test]
    fn retention_keeps_the_newest_spares_the_young_and_refuses_shared_names() {
        let all = [snap("rpatch-1", 100), snap("rpatch-2", 200), snap("manual", 150), snap("rpatch-3", 300)];
        let keep = |n, older| Retention { keep_last: n, older_than: older };
        assert_eq!(doomed(&all, Some("rpatch-*"), keep(1, None), 400).expect("plan"), ["rpatch-1", "rpatch-2"]);
        assert_eq!(doomed(&all, None, keep(3, None), 400).expect("plan"), ["rpatch-1"]);
        assert_eq!(doomed(&all, Some("rpatch-*"), keep(0, Some(150)), 400).expect("plan"), ["rpatch-1", "rpatch-2"]);
        assert!(doomed(&all, None, keep(0, Some(1000)), 400).expect("plan").is_empty());
        let twice = [snap("pre", 1), snap("pre", 2), snap("x", 3)];
        let error = doomed(&twice, Some("pre"), keep(0, None), 10).expect_err("ambiguous").to_string();
        assert!(error.contains("2 snapshots are named `pre`"), "{error}");
    }

    #[test]
    fn contradictory_or_unsafe_arguments_are_refused_before_anything_runs() {
        for (json, message) in [
            (serde_json::json!({"vm": "a"}), "need the snapshot's `name`"),
            (serde_json::json!({"vm": "a", "name": "n", "keep_last": 2}), "go with state: absent"),
            (serde_json::json!({"vm": "a", "state": "absent"}), "keep_last/older_than"),
            (serde_json::json!({"vm": "a", "state": "absent", "name": "n", "quiesce": true}), "go with state: present"),
            (serde_json::json!({"vm": "-a", "name": "n"}), "starts with `-`"),
            (serde_json::json!({"vm": "a", "name": "a\nb"}), "control character"),
            (serde_json::json!({"vm": "a", "state": "absent", "older_than": "soon"}), "not a duration"),
            (serde_json::json!({"vm": "a", "state": "absent", "keep_last": 1.5}), "not a whole number"),
        ] {
            let error = args(json.clone()).check().expect_err("refused").to_string();
            assert!(error.contains(message), "{json}: {error}");
        }
        assert!(args(serde_json::json!({"vm": "a", "name": "$(reboot);x"})).check().is_ok());
    }
}
