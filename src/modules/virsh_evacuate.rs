//! `virsh_evacuate`: empty the hypervisor the task runs on before it is patched
//! (`state: evacuated`), and bring its guests back afterwards (`state: returned`).
//!
//! Evacuation moves every running guest (with `include_shutoff`, also shut-off persistent
//! ones) to `targets` (inventory hypervisors or groups; by default the play's other hosts).
//! Everything is decided before the first guest moves: pinned guests (`rpatch_pinned: true`
//! on the guest's inventory host) are handled per `pinned_action` (`fail` refuses the whole
//! evacuation), guests with snapshots are refused unless `migrate.remove_snapshots`, and
//! [`super::virsh::placement`] places each guest by free memory, keeping `reserve_mb` free on
//! every target and guests of one `rpatch_service` apart. A plan that does not fit moves
//! nothing. Then up to `parallel` guests move at once, each through
//! [`super::virsh_migrate::move_domain`] (the one place a migration is made).
//!
//! Before a guest moves, its libvirt metadata (namespace `urn:rpatch:evacuation`) records its
//! home (`<evacuated from="HOST" action="migrated"/>`); the metadata travels with the domain.
//! `state: returned` reads it on every target (and on this host, for pinned guests that were
//! shut down or saved) and brings those guests home, so it works from a later run or after a
//! crash, with nothing but libvirt to go on. The task's result lists where each guest went
//! (and the run journal keeps that list with the task's record).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::virsh::placement::{self, Placement};
use super::virsh::{self, one_line, parse, script::EVACUATION_NS, Step};
use super::virsh_migrate::{self, MoveOptions, Source, Target, VirshMigrateArgs};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult, JOURNAL_KEY};
use crate::vars::Value;

/// Arguments of `virsh_evacuate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirshEvacuateArgs {
    /// `evacuated` (default) or `returned`.
    #[serde(default)]
    state: EvacuationState,
    /// Where guests may go: inventory hypervisors or groups of them (default: the play's
    /// other hosts). `returned` looks for this host's guests on the same hosts.
    #[serde(default, deserialize_with = "lenient::word_list")]
    targets: Vec<String>,
    /// MiB every target keeps free after taking its guests.
    #[serde(default = "default_reserve", deserialize_with = "lenient::whole")]
    reserve_mb: u64,
    /// Also move shut-off persistent guests (offline: just their definition).
    #[serde(default, deserialize_with = "lenient::bool")]
    include_shutoff: bool,
    /// What to do with a pinned guest (`rpatch_pinned: true`): `fail` (default: nothing
    /// moves), `skip` (it stays and runs), `shutdown` or `save` (managed save); `returned`
    /// starts a guest that was shut down or saved.
    #[serde(default)]
    pinned_action: PinnedAction,
    /// How many guests move at once (never two into one hypervisor at once, so guests come
    /// back home one after the other).
    #[serde(default = "default_parallel", deserialize_with = "lenient::whole")]
    parallel: u64,
    /// Seconds a pinned guest gets to shut down.
    #[serde(default = "default_shutdown_timeout", deserialize_with = "lenient::whole")]
    shutdown_timeout: u64,
    /// How each guest migrates: `live`, `p2p`, `unsafe`, `copy_storage`, `bandwidth`,
    /// `remove_snapshots`, `timeout`, `on_timeout`, as for `virsh_migrate`.
    #[serde(default)]
    migrate: MoveOptions,
}

fn default_reserve() -> u64 {
    1024
}

fn default_parallel() -> u64 {
    2
}

fn default_shutdown_timeout() -> u64 {
    300
}

/// `state`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum EvacuationState {
    #[default]
    Evacuated,
    Returned,
}

/// `pinned_action`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum PinnedAction {
    #[default]
    Fail,
    Skip,
    Shutdown,
    Save,
}

impl PinnedAction {
    fn word(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::Skip => "skip",
            Self::Shutdown => "shutdown",
            Self::Save => "save",
        }
    }
}

/// `virsh_evacuate`: move this hypervisor's guests elsewhere, and back.
pub(crate) struct VirshEvacuate;

#[async_trait]
impl Module for VirshEvacuate {
    fn names(&self) -> &'static [&'static str] {
        &["virsh_evacuate", "rpatch.virsh_evacuate"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<VirshEvacuateArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: VirshEvacuateArgs = args::parse(args)?;
        let targets = target_names(&args, ctx)?
            .iter()
            .map(|name| virsh_migrate::hypervisor(name, ctx))
            .collect::<Result<Vec<Target>, ModuleError>>()?;
        match args.state {
            EvacuationState::Evacuated => evacuate(&args, ctx, &targets).await,
            EvacuationState::Returned => bring_back(&args, ctx, &targets).await,
        }
    }
}

/// The target hosts: `targets` (a group stands for its hosts), else the play's hosts; never
/// this host; each once.
fn target_names(args: &VirshEvacuateArgs, ctx: &ModuleContext<'_>) -> Result<Vec<String>, ModuleError> {
    let groups = ctx.scope.get_attr("groups").ok();
    let members = |word: &str| -> Option<Vec<String>> {
        let hosts = groups.as_ref()?.get_attr(word).ok()?;
        if hosts.is_undefined() || hosts.is_none() {
            return None;
        }
        Some(strings(&hosts))
    };
    let mut names: Vec<String> = Vec::new();
    if args.targets.is_empty() {
        let play = ctx.scope.get_attr("ansible_play_hosts_all").ok();
        names.extend(play.as_ref().map(strings).unwrap_or_default());
    } else {
        for word in &args.targets {
            match members(word) {
                Some(hosts) => names.extend(hosts),
                None => names.push(word.clone()),
            }
        }
    }
    let mut seen = BTreeSet::new();
    names.retain(|name| name != ctx.host && seen.insert(name.clone()));
    if names.is_empty() {
        return Err(ModuleError::Failed(
            "no target hypervisor: name `targets` (hosts or groups), or run the play on more \
             than one hypervisor"
                .into(),
        ));
    }
    Ok(names)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .try_iter()
        .map(|items| {
            items
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What the inventory says about a guest's domain.
#[derive(Debug, Clone, Default)]
struct GuestInfo {
    pinned: bool,
    services: Vec<String>,
}

/// Every inventory host as a possible guest, by domain name: its `rpatch_domain`, else its
/// name (an explicit `rpatch_domain` wins over a host that merely has the domain's name).
fn inventory_guests(ctx: &ModuleContext<'_>) -> BTreeMap<String, GuestInfo> {
    let Ok(hostvars) = ctx.scope.get_attr("hostvars") else {
        return BTreeMap::new();
    };
    let mut by_name = BTreeMap::new();
    let mut by_domain = BTreeMap::new();
    for name in strings(&hostvars) {
        let Ok(vars) = hostvars.get_attr(&name) else {
            continue;
        };
        let get = |key: &str| {
            vars.get_attr(key)
                .ok()
                .filter(|v| !v.is_undefined() && !v.is_none())
        };
        let pinned = get("rpatch_pinned").is_some_and(|v| match v.as_str() {
            Some(text) => matches!(
                text.to_ascii_lowercase().as_str(),
                "true" | "yes" | "1" | "on"
            ),
            None => v.is_true(),
        });
        let services = get("rpatch_service")
            .map(|v| match v.as_str() {
                Some(one) => vec![one.to_string()],
                None => strings(&v),
            })
            .unwrap_or_default();
        let info = GuestInfo { pinned, services };
        match get("rpatch_domain").and_then(|v| v.as_str().map(str::to_string)) {
            Some(domain) => by_domain.insert(domain, info),
            None => by_name.insert(name, info),
        };
    }
    by_name.extend(by_domain);
    by_name
}

/// One guest moved (or to be moved), as the result lists it.
#[derive(Debug, Clone, Serialize)]
struct Moved {
    domain: String,
    /// Where it went (evacuated) or came from (returned).
    host: String,
    /// Seconds the migration took (0 in check mode).
    elapsed: f64,
}

/// What a pinned guest got.
#[derive(Debug, Clone, Serialize)]
struct Pinned {
    domain: String,
    action: PinnedAction,
}

/// What the task registers.
#[derive(Debug, Serialize)]
struct Outcome {
    state: &'static str,
    /// Each guest and where it went (evacuated) or came back from (returned).
    moved: Vec<Moved>,
    /// Domain → target, the plan (in check mode: what would happen).
    placements: BTreeMap<String, String>,
    /// Pinned guests and what was done with them (evacuated).
    pinned: Vec<Pinned>,
    /// Guests started again here (returned: pinned guests that were shut down or saved).
    started: Vec<String>,
    /// Guests that could not move, with virsh's words.
    failed: BTreeMap<String, String>,
}

/// `state: evacuated`.
async fn evacuate(
    args: &VirshEvacuateArgs,
    ctx: &ModuleContext<'_>,
    targets: &[Target],
) -> Result<ModuleResult, ModuleError> {
    let own = virsh::gather(ctx).await?;
    let guests = inventory_guests(ctx);
    let mut moving: Vec<(&String, &parse::Domain)> = Vec::new();
    let mut pinned: Vec<&String> = Vec::new();
    for (name, domain) in &own.domains {
        if !(domain.is_active() || (args.include_shutoff && domain.persistent)) {
            continue;
        }
        if guests.get(name).is_some_and(|g| g.pinned) {
            pinned.push(name);
        } else {
            moving.push((name, domain));
        }
    }
    let nothing_moved = "; nothing was moved";
    if !pinned.is_empty() && args.pinned_action == PinnedAction::Fail {
        return Err(ModuleError::Failed(format!(
            "pinned guest(s) {} (rpatch_pinned) cannot leave this host and pinned_action is \
             `fail`: set pinned_action to skip, shutdown or save{nothing_moved}",
            list(pinned.iter().map(|s| s.as_str()))
        )));
    }
    let with_snapshots: Vec<String> = moving
        .iter()
        .filter(|(_, d)| !d.snapshots.is_empty())
        .map(|(name, d)| format!("`{name}` ({})", d.snapshots.join(", ")))
        .collect();
    if !with_snapshots.is_empty() && !args.migrate.remove_snapshots {
        return Err(ModuleError::Failed(format!(
            "guest(s) with snapshots cannot migrate (libvirt: `cannot migrate domain with N \
             snapshots`): {}; delete them first or set `migrate: {{remove_snapshots: true}}`\
             {nothing_moved}",
            with_snapshots.join(", ")
        )));
    }
    let reports = join_all(targets.iter().map(|t| virsh::gather_at(ctx, Some(&t.uri)))).await;
    let mut candidates = Vec::new();
    for (target, report) in targets.iter().zip(&reports) {
        let report = report.as_ref().map_err(|error| {
            ModuleError::Failed(format!(
                "target {} (`{}`): {error}{nothing_moved}",
                target.name, target.uri
            ))
        })?;
        let host = &report.host;
        candidates.push(placement::Target {
            name: target.name.clone(),
            free_mb: host
                .memory_available_mb
                .or(host.memory_free_mb)
                .or(host.freecell_mb),
            services: report
                .domains
                .iter()
                .filter(|(_, d)| d.is_active())
                .filter_map(|(name, _)| guests.get(name))
                .flat_map(|g| g.services.iter().cloned())
                .collect(),
        });
    }
    let wanted: Vec<placement::Guest> = moving
        .iter()
        .map(|(name, d)| placement::Guest {
            domain: (*name).clone(),
            memory_mb: d.max_memory_mb.or(d.memory_mb).unwrap_or(0),
            services: guests
                .get(*name)
                .map(|g| g.services.clone())
                .unwrap_or_default(),
        })
        .collect();
    let plan = placement::place(&wanted, &candidates, args.reserve_mb)
        .map_err(|why| ModuleError::Failed(format!("{why}{nothing_moved}")))?;
    let acting: Vec<Pinned> = pinned
        .iter()
        .map(|name| Pinned {
            domain: (*name).clone(),
            action: args.pinned_action,
        })
        .collect();
    let mut outcome = Outcome {
        state: "evacuated",
        moved: Vec::new(),
        placements: plan
            .iter()
            .map(|p| (p.domain.clone(), p.target.clone()))
            .collect(),
        pinned: acting.clone(),
        started: Vec::new(),
        failed: BTreeMap::new(),
    };
    let acts = acting.iter().any(|p| p.action != PinnedAction::Skip);
    if plan.is_empty() && !acts {
        let result = ModuleResult::ok().with_msg("no guest to move off this host");
        return Ok(with_record(result, &outcome));
    }
    if ctx.check_mode {
        let result = ModuleResult::changed().with_msg(format!(
            "would move {}",
            list(plan.iter().map(|p| format!("{} to {}", p.domain, p.target)))
        ));
        return Ok(with_record(result, &outcome));
    }
    let source = Source {
        name: ctx.host,
        uri: None,
    };
    let parallel = usize::try_from(args.parallel).unwrap_or(1);
    for batch in placement::waves(plan.iter().collect(), parallel, |p| p.target.as_str()) {
        let moves = batch
            .iter()
            .map(|p| evacuate_one(args, ctx, &own, &source, targets, p));
        for (p, moved) in batch.iter().zip(join_all(moves).await) {
            match moved {
                Ok(elapsed) => outcome.moved.push(Moved {
                    domain: p.domain.clone(),
                    host: p.target.clone(),
                    elapsed,
                }),
                Err(error) => {
                    outcome.failed.insert(p.domain.clone(), error.to_string());
                }
            }
        }
        if !outcome.failed.is_empty() {
            break;
        }
    }
    if outcome.failed.is_empty() {
        for p in &acting {
            if let Err(error) = park(args, ctx, &own, p).await {
                outcome.failed.insert(p.domain.clone(), error.to_string());
            }
        }
    }
    let moved = list(outcome.moved.iter().map(|m| format!("{} to {}", m.domain, m.host)));
    let result = if outcome.failed.is_empty() {
        let parked: Vec<String> = acting
            .iter()
            .map(|p| format!("{} ({})", p.domain, p.action.word()))
            .collect();
        let mut msg = format!("moved {moved}");
        if !parked.is_empty() {
            msg.push_str(&format!("; pinned: {}", parked.join(", ")));
        }
        ModuleResult::changed().with_msg(msg)
    } else {
        let mut result = ModuleResult::failed(format!(
            "evacuation stopped: {}; moved before that: {moved}",
            failures(&outcome.failed)
        ));
        result.changed = !outcome.moved.is_empty();
        result
    };
    Ok(with_record(result, &outcome))
}

/// Records this host as `domain`'s home in its metadata, then moves it; the seconds taken.
async fn evacuate_one(
    args: &VirshEvacuateArgs,
    ctx: &ModuleContext<'_>,
    own: &parse::Report,
    source: &Source<'_>,
    targets: &[Target],
    placement: &Placement,
) -> Result<f64, ModuleError> {
    let d = placement.domain.as_str();
    let domain = own
        .domains
        .get(d)
        .ok_or_else(|| virsh::unknown_domain(d, own))?;
    let target = targets
        .iter()
        .find(|t| t.name == placement.target)
        .ok_or_else(|| ModuleError::Failed(format!("target {} vanished", placement.target)))?;
    mark(ctx, d, domain, ctx.host, "migrated").await?;
    let migrate = VirshMigrateArgs::moving(d, &target.name, domain.is_active(), &args.migrate);
    let result = virsh_migrate::move_domain(ctx, &migrate, source, target, own).await?;
    Ok(elapsed_of(&result))
}

fn elapsed_of(result: &ModuleResult) -> f64 {
    result
        .data
        .get("elapsed")
        .and_then(|v| f64::try_from(v.clone()).ok())
        .unwrap_or(0.0)
}

/// `--live` and/or `--config`: where a change to a domain's metadata must go to last.
fn scope_flags(domain: &parse::Domain) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if domain.is_active() {
        flags.push("--live");
    }
    if domain.persistent {
        flags.push("--config");
    }
    flags
}

/// Writes `<evacuated from=HOME action=ACTION/>` into `name`'s metadata on this host.
async fn mark(
    ctx: &ModuleContext<'_>,
    name: &str,
    domain: &parse::Domain,
    home: &str,
    action: &str,
) -> Result<(), ModuleError> {
    let xml = parse::Evacuation {
        from: home.to_string(),
        action: action.to_string(),
    }
    .to_xml();
    let mut words = vec![
        "metadata", "--domain", name, "--uri", EVACUATION_NS, "--key", "rpatch", "--set", &xml,
    ];
    words.extend(scope_flags(domain));
    one_step(ctx, Step::new(format!("record the home of {name}"), &words)).await
}

/// Removes the evacuation record from `name`'s metadata on this host.
async fn unmark(ctx: &ModuleContext<'_>, name: &str, active: bool) -> Result<(), ModuleError> {
    let mut words = vec!["metadata", "--domain", name, "--uri", EVACUATION_NS, "--remove"];
    if active {
        words.push("--live");
    }
    words.push("--config");
    one_step(ctx, Step::new(format!("clear the evacuation record of {name}"), &words)).await
}

async fn one_step(ctx: &ModuleContext<'_>, step: Step) -> Result<(), ModuleError> {
    let limit = ctx.timeout.unwrap_or(Duration::from_secs(120));
    let applied = virsh::run_script(ctx, virsh::script::apply(std::slice::from_ref(&step)), limit)
        .await?;
    match applied.steps.first() {
        Some(s) if s.rc == Some(0) => Ok(()),
        Some(s) => Err(ModuleError::Failed(format!(
            "{} failed: {}",
            step.what,
            one_line(&s.output)
        ))),
        None => Err(ModuleError::Failed(format!("{}: no answer from virsh", step.what))),
    }
}

/// Shuts down or saves a pinned guest, after recording it so `returned` starts it again.
async fn park(
    args: &VirshEvacuateArgs,
    ctx: &ModuleContext<'_>,
    own: &parse::Report,
    pinned: &Pinned,
) -> Result<(), ModuleError> {
    let d = pinned.domain.as_str();
    let Some(domain) = own.domains.get(d) else {
        return Err(virsh::unknown_domain(d, own));
    };
    if pinned.action == PinnedAction::Skip || !domain.is_active() {
        return Ok(());
    }
    if !domain.persistent {
        return Err(ModuleError::Failed(format!(
            "pinned guest `{d}` is transient: shut down or saved it would be gone"
        )));
    }
    mark(ctx, d, domain, ctx.host, pinned.action.word()).await?;
    match pinned.action {
        PinnedAction::Save => {
            one_step(
                ctx,
                Step::new(format!("managed save of {d}"), &["managedsave", "--domain", d]),
            )
            .await
        }
        _ => {
            let wait = args.shutdown_timeout;
            let limit = Duration::from_secs(wait.saturating_add(120));
            let applied = virsh::run_script(ctx, virsh::script::shutdown(d, wait, false), limit)
                .await?;
            if applied.marker("off").is_some() {
                Ok(())
            } else {
                let why = applied
                    .steps
                    .first()
                    .filter(|s| s.rc != Some(0))
                    .map(|s| one_line(&s.output))
                    .or_else(|| applied.marker("timeout").map(|s| format!("still {s}")))
                    .unwrap_or_default();
                Err(ModuleError::Failed(format!(
                    "pinned guest `{d}` did not shut down within {wait} s: {why}"
                )))
            }
        }
    }
}

/// `state: returned`.
async fn bring_back(
    args: &VirshEvacuateArgs,
    ctx: &ModuleContext<'_>,
    targets: &[Target],
) -> Result<ModuleResult, ModuleError> {
    let home = virsh_migrate::hypervisor(ctx.host, ctx)?;
    let own = virsh::gather(ctx).await?;
    let reports = join_all(targets.iter().map(|t| virsh::gather_at(ctx, Some(&t.uri)))).await;
    let mut away: Vec<(&Target, &parse::Report, String)> = Vec::new();
    for (target, report) in targets.iter().zip(&reports) {
        let report = report.as_ref().map_err(|error| {
            ModuleError::Failed(format!(
                "target {} (`{}`), where guests of this host may be: {error}; nothing was moved",
                target.name, target.uri
            ))
        })?;
        for (name, domain) in &report.domains {
            let ours = domain
                .evacuation
                .as_ref()
                .is_some_and(|e| e.from == ctx.host && e.action == "migrated");
            if ours {
                away.push((target, report, name.clone()));
            }
        }
    }
    // Here already: a pinned guest that was shut down or saved, or one whose move failed.
    let here: Vec<(&String, &parse::Domain)> = own
        .domains
        .iter()
        .filter(|(_, d)| d.evacuation.as_ref().is_some_and(|e| e.from == ctx.host))
        .collect();
    let mut outcome = Outcome {
        state: "returned",
        moved: Vec::new(),
        placements: away
            .iter()
            .map(|(t, _, d)| (d.clone(), t.name.clone()))
            .collect(),
        pinned: Vec::new(),
        started: Vec::new(),
        failed: BTreeMap::new(),
    };
    if away.is_empty() && here.is_empty() {
        let result = ModuleResult::ok().with_msg("no guest of this host is away");
        return Ok(with_record(result, &outcome));
    }
    if ctx.check_mode {
        let result = ModuleResult::changed().with_msg(format!(
            "would bring back {}",
            list(away.iter().map(|(t, _, d)| format!("{d} from {}", t.name)))
        ));
        return Ok(with_record(result, &outcome));
    }
    for (name, domain) in &here {
        let parked = domain
            .evacuation
            .as_ref()
            .is_some_and(|e| e.action != "migrated");
        let started = if parked && !domain.is_active() {
            one_step(
                ctx,
                Step::new(format!("start {name}"), &["start", "--domain", name.as_str()]),
            )
            .await
            .map(|()| true)
        } else {
            Ok(false)
        };
        let cleared = match started {
            Ok(started) => unmark(ctx, name, started || domain.is_active())
                .await
                .map(|()| started),
            Err(error) => Err(error),
        };
        match cleared {
            Ok(true) => outcome.started.push((*name).clone()),
            Ok(false) => {}
            Err(error) => {
                outcome.failed.insert((*name).clone(), error.to_string());
            }
        }
    }
    // Every guest comes back to this one host: one at a time (see `placement::waves`).
    let parallel = usize::try_from(args.parallel).unwrap_or(1);
    for batch in placement::waves(away.iter().collect(), parallel, |_| "home") {
        let moves = batch
            .iter()
            .map(|(target, report, name)| return_one(args, ctx, &home, target, report, name));
        for ((target, _, name), moved) in batch.iter().zip(join_all(moves).await) {
            match moved {
                Ok(elapsed) => outcome.moved.push(Moved {
                    domain: name.clone(),
                    host: target.name.clone(),
                    elapsed,
                }),
                Err(error) => {
                    outcome.failed.insert(name.clone(), error.to_string());
                }
            }
        }
    }
    let moved = list(outcome.moved.iter().map(|m| format!("{} from {}", m.domain, m.host)));
    let result = if outcome.failed.is_empty() {
        let mut msg = format!("brought back {moved}");
        if !outcome.started.is_empty() {
            msg.push_str(&format!("; started {}", outcome.started.join(", ")));
        }
        ModuleResult::changed().with_msg(msg)
    } else {
        let mut result = ModuleResult::failed(format!(
            "not every guest came back: {}; brought back: {moved}",
            failures(&outcome.failed)
        ));
        result.changed = !outcome.moved.is_empty() || !outcome.started.is_empty();
        result
    };
    Ok(with_record(result, &outcome))
}

/// Moves `name` from `target` back to this host, then clears its evacuation record.
async fn return_one(
    args: &VirshEvacuateArgs,
    ctx: &ModuleContext<'_>,
    home: &Target,
    target: &Target,
    report: &parse::Report,
    name: &str,
) -> Result<f64, ModuleError> {
    let active = report.domains.get(name).is_some_and(parse::Domain::is_active);
    let migrate = VirshMigrateArgs::moving(name, ctx.host, active, &args.migrate);
    let source = Source {
        name: &target.name,
        uri: Some(&target.uri),
    };
    let result = virsh_migrate::move_domain(ctx, &migrate, &source, home, report).await?;
    unmark(ctx, name, active).await?;
    Ok(elapsed_of(&result))
}

/// The result with the outcome as its data, and the moves for the run journal.
fn with_record(result: ModuleResult, outcome: &Outcome) -> ModuleResult {
    let mut result = result.with_data(outcome);
    let record = serde_json::json!({
        "state": outcome.state,
        "moved": outcome.moved,
        "pinned": outcome.pinned,
        "started": outcome.started,
        "failed": outcome.failed.keys().collect::<Vec<_>>(),
    });
    result
        .data
        .insert(JOURNAL_KEY.into(), crate::vars::from_json(&record));
    result
}

fn list<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
    let items: Vec<String> = items.map(|s| s.as_ref().to_string()).collect();
    if items.is_empty() {
        "nothing".into()
    } else {
        items.join(", ")
    }
}

/// Guests that could not be moved, for the task's message: "`web01`: reason; ...".
fn failures(failed: &BTreeMap<String, String>) -> String {
    failed
        .iter()
        .map(|(domain, error)| format!("`{domain}`: {error}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(yaml: &str) -> VirshEvacuateArgs {
        let json: serde_json::Value = serde_yaml::from_str(yaml).expect("yaml");
        args::parse(&crate::vars::from_json(&json)).expect("valid arguments")
    }

    #[test]
    fn arguments_default_to_a_safe_evacuation_and_reject_typos() {
        let a = args("{}");
        assert_eq!(a.state, EvacuationState::Evacuated);
        assert_eq!(a.pinned_action, PinnedAction::Fail);
        assert_eq!((a.reserve_mb, a.parallel), (1024, 2));
        assert!(a.migrate.live && !a.migrate.remove_snapshots);
        let a = args(
            "{state: returned, targets: [kvm, virthost03], pinned_action: save, \
             migrate: {unsafe: true, p2p: yes}}",
        );
        assert_eq!(a.targets, ["kvm", "virthost03"]);
        assert!(a.migrate.r#unsafe && a.migrate.p2p);
        let json = serde_json::json!({"reserve": 5});
        assert!(args::parse::<VirshEvacuateArgs>(&crate::vars::from_json(&json)).is_err());
        let json = serde_json::json!({"migrate": {"unsafer": true}});
        assert!(args::parse::<VirshEvacuateArgs>(&crate::vars::from_json(&json)).is_err());
    }

    #[test]
    fn metadata_changes_go_where_the_domain_lives() {
        let running = parse::Domain {
            state: "running".into(),
            persistent: true,
            ..parse::Domain::default()
        };
        assert_eq!(scope_flags(&running), ["--live", "--config"]);
        let off = parse::Domain {
            state: "shut off".into(),
            persistent: true,
            ..parse::Domain::default()
        };
        assert_eq!(scope_flags(&off), ["--config"]);
    }
}
