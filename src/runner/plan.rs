//! Resolving which hosts each play runs on, in which order and in which batches — before any
//! host is contacted. `rpatch run` journals this plan, `rpatch plan` prints it and
//! `rpatch resume` follows the journaled one.

use std::sync::Arc;

use crate::inventory::{Inventory, PatternError, Selection};
use crate::playbook::{Play, Playbook};
use crate::rolling::journal::{Plan, PlannedPlay};
use crate::rolling::order::{plan_topology, Order, TopologyError, TopologyHost};
use crate::rolling::serial::{batch_sizes, Serial};
use crate::template::{Scope, Templar};
use crate::vars::Vars;

/// One batch with the reason each host is in it.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    /// Hosts in run order, each with why it is here.
    pub hosts: Vec<(String, Vec<String>)>,
    /// Why the batch is smaller than `serial` asked for, if it is.
    pub shortfall: Option<String>,
}

/// The hosts and batches of one play.
#[derive(Debug, Clone)]
pub struct PlayPlan {
    /// The play's name.
    pub name: String,
    /// The host pattern after templating.
    pub pattern: String,
    /// Its batches, in order.
    pub batches: Vec<BatchPlan>,
    /// The batch sizes used (`--serial`, or the play's, rendered when templated).
    pub serial: Option<Serial>,
}

/// Inputs that shape a plan besides the playbook and inventory.
#[derive(Debug, Clone, Default)]
pub struct PlanInputs {
    /// `--limit`, resolved to host names.
    pub limit: Option<Vec<String>>,
    /// `--serial`, overriding every play's.
    pub serial_override: Option<Serial>,
    /// `-e` variables (for templated `hosts:` patterns).
    pub extra_vars: Arc<Vars>,
}

/// A plan that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The topology is inconsistent (a host is its own hypervisor, ...).
    #[error("play `{play}`: {source}")]
    Topology {
        /// The play.
        play: String,
        /// What is wrong.
        source: TopologyError,
    },
    /// The play's `hosts:` is not a valid pattern (a bad `~regex`, a subscript out of range).
    #[error("play `{play}`: {source}")]
    Pattern {
        /// The play.
        play: String,
        /// What is wrong.
        source: PatternError,
    },
    /// A templated `serial` does not render to a batch size.
    #[error("play `{play}`: {source}")]
    Serial {
        /// The play.
        play: String,
        /// What is wrong, where `serial` is written.
        source: crate::rolling::SpecError,
    },
}

impl crate::diagnostic::Diagnose for PlanError {
    fn location(&self) -> Option<&crate::diagnostic::Location> {
        match self {
            Self::Serial { source, .. } => source.location(),
            _ => None,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            Self::Serial { source, .. } => source.help(),
            _ => None,
        }
    }
}

/// Plans every play of a playbook.
pub fn plan_playbook(
    playbook: &Playbook,
    inventory: &Inventory,
    templar: &Templar,
    inputs: &PlanInputs,
) -> Result<Vec<PlayPlan>, PlanError> {
    playbook
        .plays
        .iter()
        .map(|play| plan_play(play, inventory, templar, inputs))
        .collect()
}

/// The plan as the journal records it (names only).
pub fn journal_plan(plans: &[PlayPlan]) -> Plan {
    Plan {
        plays: plans
            .iter()
            .map(|play| PlannedPlay {
                name: play.name.clone(),
                batches: play
                    .batches
                    .iter()
                    .map(|batch| batch.hosts.iter().map(|(name, _)| name.clone()).collect())
                    .collect(),
            })
            .collect(),
    }
}

/// A plan rebuilt from a journal (reasons are not journaled).
pub fn from_journal(plan: &Plan, playbook: &Playbook) -> Vec<PlayPlan> {
    plan.plays
        .iter()
        .zip(&playbook.plays)
        .map(|(planned, play)| PlayPlan {
            name: planned.name.clone(),
            pattern: play.hosts.clone(),
            batches: planned
                .batches
                .iter()
                .map(|hosts| BatchPlan {
                    hosts: hosts.iter().map(|h| (h.clone(), Vec::new())).collect(),
                    shortfall: None,
                })
                .collect(),
            serial: play.rollout.serial.clone(),
        })
        .collect()
}

/// A play's `hosts:` rendered with its vars and `-e` (as written when it does not render),
/// and the hosts it selects, before any `--limit`.
pub fn play_hosts(
    play: &Play,
    inventory: &Inventory,
    templar: &Templar,
    extra_vars: &Arc<Vars>,
) -> Result<(String, Selection), PlanError> {
    let scope = Scope::new(vec![play.vars.clone(), extra_vars.clone()]);
    let pattern = render_pattern(&play.hosts, templar, &scope);
    let selection = inventory
        .select(&pattern)
        .map_err(|source| PlanError::Pattern {
            play: play.name.clone(),
            source,
        })?;
    Ok((pattern, selection))
}

/// A templated `hosts:`: a list (`hosts: "{{ targets }}"` with `targets: [a, b]`) is a pattern
/// of its items, as Ansible takes it; text is the pattern; as written when it does not render.
fn render_pattern(hosts: &str, templar: &Templar, scope: &crate::vars::Value) -> String {
    match templar.render_str(hosts, scope) {
        Ok(value) if value.as_str().is_some() => value.as_str().unwrap_or_default().to_string(),
        Ok(value) => match value.try_iter() {
            Ok(items) => items
                .map(|item| {
                    item.as_str()
                        .map_or_else(|| item.to_string(), str::to_string)
                })
                .collect::<Vec<_>>()
                .join(","),
            Err(_) => value.to_string(),
        },
        Err(_) => hosts.to_string(),
    }
}

/// Warns, as Ansible does, about each element of a `hosts:` pattern that matched nothing
/// (named without its `&`/`!` operator, as Ansible words it).
pub fn warn_unmatched(selection: &Selection) {
    for element in &selection.unmatched {
        let name = element.trim_start_matches(['&', '!']);
        // Ansible's own words and form, which admins grep for (printed before the run starts).
        eprintln!("[WARNING]: Could not match supplied host pattern, ignoring: {name}");
    }
}

/// Plans one play (a later play of a run whose inventory changed, see
/// `runner/inventory_change.rs`).
pub(crate) fn plan_one(
    play: &Play,
    inventory: &Inventory,
    templar: &Templar,
    inputs: &PlanInputs,
) -> Result<PlayPlan, PlanError> {
    plan_play(play, inventory, templar, inputs)
}

fn plan_play(
    play: &Play,
    inventory: &Inventory,
    templar: &Templar,
    inputs: &PlanInputs,
) -> Result<PlayPlan, PlanError> {
    let (pattern, selection) = play_hosts(play, inventory, templar, &inputs.extra_vars)?;
    warn_unmatched(&selection);
    let mut hosts = selection.hosts;
    if let Some(limit) = &inputs.limit {
        hosts.retain(|host| limit.contains(host));
    }
    let rollout = &play.rollout;
    let rendered = match (&inputs.serial_override, &rollout.serial_template) {
        (None, Some(template)) => {
            let scope = Scope::new(vec![play.vars.clone(), inputs.extra_vars.clone()]);
            Some(
                template
                    .render(templar, &scope)
                    .map_err(|source| PlanError::Serial {
                        play: play.name.clone(),
                        source,
                    })?,
            )
        }
        _ => None,
    };
    let serial = inputs
        .serial_override
        .as_ref()
        .or(rendered.as_ref())
        .or(rollout.serial.as_ref());
    let batches = if rollout.order == Order::Topology {
        let topology: Vec<TopologyHost> = hosts
            .iter()
            .map(|name| topology_host(inventory, play, name))
            .collect();
        let planned = plan_topology(&topology, &rollout.topology, serial).map_err(|source| {
            PlanError::Topology {
                play: play.name.clone(),
                source,
            }
        })?;
        planned
            .batches
            .iter()
            .map(|batch| BatchPlan {
                hosts: batch
                    .hosts
                    .iter()
                    .map(|host| {
                        (
                            host.name.clone(),
                            host.reasons.iter().map(ToString::to_string).collect(),
                        )
                    })
                    .collect(),
                shortfall: batch.shortfall(),
            })
            .collect()
    } else {
        let seed = rollout.shuffle_seed.unwrap_or_else(time_seed);
        let ordered = rollout.order.arrange(&hosts, seed);
        let reason = format!("order: {}", rollout.order.name());
        let mut rest = ordered.as_slice();
        batch_sizes(serial, ordered.len())
            .into_iter()
            .map(|size| {
                let (batch, tail) = rest.split_at(size.min(rest.len()));
                rest = tail;
                BatchPlan {
                    hosts: batch
                        .iter()
                        .map(|h| (h.clone(), vec![reason.clone()]))
                        .collect(),
                    shortfall: None,
                }
            })
            .collect()
    };
    Ok(PlayPlan {
        name: play.name.clone(),
        pattern,
        batches,
        serial: serial.cloned(),
    })
}

/// A host's place in the topology: its hypervisor and the services it belongs to
/// (`rpatch_service`, plus every group the play names in `max_unavailable`).
fn topology_host(inventory: &Inventory, play: &Play, name: &str) -> TopologyHost {
    let vars = inventory.host_vars(name);
    let mut host = TopologyHost::new(name);
    if let Some(hypervisor) = vars.get("rpatch_hypervisor").and_then(|v| v.as_str()) {
        host = host.on(hypervisor);
    }
    if let Some(service) = vars.get("rpatch_service") {
        match service.as_str() {
            Some(one) => host = host.serves(one),
            None => {
                if let Ok(items) = service.try_iter() {
                    for item in items {
                        if let Some(name) = item.as_str() {
                            host = host.serves(name);
                        }
                    }
                }
            }
        }
    }
    for group in inventory.group_names(name) {
        if play.rollout.topology.max_unavailable.contains_key(&group)
            && !host.services.contains(&group)
        {
            host = host.serves(group);
        }
    }
    host
}

/// A shuffle seed from the clock, for `order: shuffle` without `shuffle_seed`.
fn time_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0)
}
