//! `govc_evacuate`: empties an ESXi host of its running VMs with vMotion, then puts it into
//! maintenance mode — without trusting DRS to move them (DRS may be off, and vcsim has none).
//!
//! The VMs on the host come from `find . -type m -runtime.host HostSystem:ID`, their power
//! state from `vm.info -json`. Each powered-on VM goes to one of `targets`, or by default to
//! the other hosts of the same cluster, spread round-robin starting with the host after the
//! source in inventory order; each move is checked (`runtime.host`), then the host enters
//! maintenance mode and that is checked too. Powered-off VMs stay registered where they are.
//!
//! `state: returned` brings them home after the patch: for each VM of `vms` (names, or the
//! `moved` list the evacuation registered), `runtime.host` says where it runs now; a VM already
//! on `host` stays, any other is vMotioned back and checked like every move.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::govc::actions::{self, Enter, Placement};
use super::govc::{check_word, parse, Govc, HostRef, Inventory};
use super::govc_host_maintenance::{call_limit, not_found};
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `govc_evacuate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovcEvacuateArgs {
    /// The ESXi host to empty, or to bring the VMs back to (name or inventory path).
    host: String,
    /// `evacuated` (default) or `returned`.
    #[serde(default)]
    state: EvacuationState,
    /// `returned` only: the VMs to bring back, as names or as the evacuation's `moved` list.
    #[serde(default)]
    vms: Vec<VmRef>,
    /// Where the VMs may go; default: the other hosts of its cluster.
    #[serde(default, deserialize_with = "lenient::word_list")]
    targets: Vec<String>,
    /// Seconds vSphere may take to enter maintenance mode (`-timeout`); 0: no limit.
    #[serde(default, deserialize_with = "lenient::whole")]
    timeout: u64,
}

/// `state`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum EvacuationState {
    #[default]
    Evacuated,
    Returned,
}

/// A VM to bring back: its name, or an entry of the evacuation's `moved` list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum VmRef {
    Name(String),
    Moved { vm: String },
}

impl VmRef {
    fn name(&self) -> &str {
        match self {
            Self::Name(name) | Self::Moved { vm: name } => name,
        }
    }
}

/// What `state: returned` registers.
#[derive(Debug, Serialize)]
struct Returned<'a> {
    host: &'a str,
    /// The VMs vMotioned back.
    returned: &'a [String],
    /// The VMs already on the host.
    home: &'a [String],
}

/// One planned or done vMotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Move {
    vm: String,
    to: String,
}

/// What the task registers.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    host: &'a str,
    /// The running VMs moved, and where.
    moved: &'a [Move],
    /// The VMs left on the host (not powered on).
    stayed: &'a [String],
    in_maintenance_mode: bool,
}

/// `govc_evacuate`: vMotion the running VMs away, then enter maintenance mode.
pub(crate) struct GovcEvacuate;

#[async_trait]
impl Module for GovcEvacuate {
    fn names(&self) -> &'static [&'static str] {
        &["govc_evacuate", "rpatch.govc_evacuate"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<GovcEvacuateArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: GovcEvacuateArgs = args::parse(args)?;
        check_word("host", &args.host)?;
        if args.state == EvacuationState::Returned {
            return bring_back(&args, ctx).await;
        }
        if !args.vms.is_empty() {
            return Err(ModuleError::Failed("`vms` is for `state: returned`".into()));
        }
        for target in &args.targets {
            check_word("target host", target)?;
        }
        let govc = Govc::from_vars(ctx, call_limit(args.timeout))?;
        let hosts = govc.hosts(ctx).await?;
        let source = hosts.find(&args.host).cloned().ok_or_else(|| not_found(&args.host, &hosts))?;
        let targets = targets(&hosts, &source, &args.targets)?;
        let on_host = parse::lines(
            &govc.ok(ctx, &["find", ".", "-type", "m", "-runtime.host", &source.moref()]).await?,
        );
        let mut plan = Vec::new();
        let mut stayed = Vec::new();
        for path in &on_host {
            let name = parse::base_name(path);
            let info = parse::vm_info(&govc.ok(ctx, &["vm.info", "-json", name]).await?)
                .map_err(ModuleError::Failed)?;
            match info {
                Some(info) if info.power_state == "poweredOn" => {
                    let target = &targets[plan.len() % targets.len()];
                    plan.push((name.to_string(), path.clone(), target.clone()));
                }
                _ => stayed.push(name.to_string()),
            }
        }
        let moves: Vec<Move> = plan
            .iter()
            .map(|(vm, _, to)| Move { vm: vm.clone(), to: to.name.clone() })
            .collect();
        let host = source.name.as_str();
        if ctx.check_mode {
            let inside = actions::in_maintenance(&govc, ctx, &source).await?;
            let data = Outcome { host, moved: &moves, stayed: &stayed, in_maintenance_mode: inside };
            let result = if inside && moves.is_empty() { ModuleResult::ok() } else { ModuleResult::changed() };
            return Ok(result.with_data(&data).with_msg(format!(
                "would move {} VM(s) off `{host}` and enter maintenance mode",
                moves.len()
            )));
        }
        for (index, (vm, path, target)) in plan.iter().enumerate() {
            if let Err(error) = actions::migrate(&govc, ctx, vm, path, target, Placement::default()).await {
                let data = Outcome { host, moved: &moves[..index], stayed: &stayed, in_maintenance_mode: false };
                let mut failed = ModuleResult::failed(format!("evacuating `{host}`: {error}")).with_data(&data);
                failed.changed = index > 0;
                return Ok(failed);
            }
        }
        let options = Enter { evacuate: false, timeout: args.timeout };
        actions::enter_maintenance(&govc, ctx, &args.host, Some(&source), options).await?;
        let data = Outcome { host, moved: &moves, stayed: &stayed, in_maintenance_mode: true };
        let summary: Vec<String> = moves.iter().map(|m| format!("`{}` to `{}`", m.vm, m.to)).collect();
        Ok(ModuleResult::changed().with_data(&data).with_msg(format!(
            "moved {} VM(s) off `{host}`{}{}; entered maintenance mode",
            moves.len(),
            if summary.is_empty() { "" } else { ": " },
            summary.join(", ")
        )))
    }
}

/// `state: returned`: vMotion each of `vms` back to `host` unless it runs there already.
async fn bring_back(args: &GovcEvacuateArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    for vm in &args.vms {
        check_word("VM", vm.name())?;
    }
    let govc = Govc::from_vars(ctx, call_limit(args.timeout))?;
    let hosts = govc.hosts(ctx).await?;
    let home = hosts.find(&args.host).cloned().ok_or_else(|| not_found(&args.host, &hosts))?;
    let host = home.name.as_str();
    if args.vms.is_empty() {
        let data = Returned { host, returned: &[], home: &[] };
        return Ok(ModuleResult::ok().with_data(&data).with_msg(format!("no VM to bring back to `{host}`")));
    }
    let paths = parse::lines(&govc.ok(ctx, &["find", "/", "-type", "m"]).await?);
    let mut returned = Vec::new();
    let mut already = Vec::new();
    for vm in &args.vms {
        let name = vm.name();
        let path = paths
            .iter()
            .find(|p| p.as_str() == name || parse::base_name(p) == name)
            .ok_or_else(|| ModuleError::Failed(format!("VM `{name}` not found in vSphere")))?;
        let now = govc.property(ctx, &parse::relative(path), "runtime.host").await?;
        if now.rsplit(':').next() == Some(home.id.as_str()) {
            already.push(name.to_string());
            continue;
        }
        if ctx.check_mode {
            returned.push(name.to_string());
            continue;
        }
        if let Err(error) = actions::migrate(&govc, ctx, name, path, &home, Placement::default()).await {
            let data = Returned { host, returned: &returned, home: &already };
            let mut failed = ModuleResult::failed(format!("bringing `{name}` back to `{host}`: {error}")).with_data(&data);
            failed.changed = !returned.is_empty();
            return Ok(failed);
        }
        returned.push(name.to_string());
    }
    let data = Returned { host, returned: &returned, home: &already };
    let verb = if ctx.check_mode { "would move" } else { "moved" };
    let result = if returned.is_empty() { ModuleResult::ok() } else { ModuleResult::changed() };
    Ok(result.with_data(&data).with_msg(format!(
        "{verb} {} VM(s) back to `{host}`; {} already there",
        returned.len(),
        already.len()
    )))
}

/// Where VMs may go, in the order they are handed out: the named `targets`, or the other
/// hosts of the source's cluster starting with the one after it.
fn targets(hosts: &Inventory, source: &HostRef, named: &[String]) -> Result<Vec<HostRef>, ModuleError> {
    if !named.is_empty() {
        return named
            .iter()
            .map(|name| {
                let host = hosts.find(name).ok_or_else(|| not_found(name, hosts))?;
                if host.id == source.id {
                    return Err(ModuleError::Failed(format!("target `{name}` is the host being evacuated")));
                }
                Ok(host.clone())
            })
            .collect();
    }
    let cluster: Vec<&HostRef> = hosts.hosts.iter().filter(|h| h.cluster == source.cluster).collect();
    let at = cluster.iter().position(|h| h.id == source.id).unwrap_or(0);
    let others: Vec<HostRef> = cluster[at + 1..]
        .iter()
        .chain(&cluster[..at])
        .map(|h| (*h).clone())
        .collect();
    if others.is_empty() {
        return Err(ModuleError::Failed(format!(
            "`{}` has no other host in `{}` to move its VMs to: name `targets`",
            source.name, source.cluster
        )));
    }
    Ok(others)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory() -> Inventory {
        let paths = "/DC0/host/DC0_H0/DC0_H0\n/DC0/host/DC0_C0/DC0_C0_H0\n/DC0/host/DC0_C0/DC0_C0_H1\n/DC0/host/DC0_C0/DC0_C0_H2\n";
        let ids = "HostSystem:host-22\nHostSystem:host-38\nHostSystem:host-48\nHostSystem:host-58\n";
        Inventory::pair(paths, ids).expect("pairs")
    }

    fn names(hosts: &[HostRef]) -> Vec<&str> {
        hosts.iter().map(|h| h.name.as_str()).collect()
    }

    #[test]
    fn targets_are_the_cluster_siblings_starting_after_the_source() {
        let hosts = inventory();
        let pick = |name: &str, named: &[&str]| {
            let source = hosts.find(name).expect("host").clone();
            let named: Vec<String> = named.iter().map(|s| s.to_string()).collect();
            targets(&hosts, &source, &named)
        };
        assert_eq!(names(&pick("DC0_C0_H1", &[]).expect("targets")), ["DC0_C0_H2", "DC0_C0_H0"]);
        assert_eq!(names(&pick("DC0_C0_H2", &[]).expect("targets")), ["DC0_C0_H0", "DC0_C0_H1"]);
        let alone = pick("DC0_H0", &[]).expect_err("standalone").to_string();
        assert!(alone.contains("no other host in `/DC0/host/DC0_H0`"), "{alone}");
        assert_eq!(names(&pick("DC0_H0", &["DC0_C0_H0"]).expect("named")), ["DC0_C0_H0"]);
        assert!(pick("DC0_C0_H1", &["DC0_C0_H1"]).is_err());
        assert!(pick("DC0_C0_H1", &["nope"]).expect_err("unknown").to_string().contains("hosts: DC0_H0"));
    }
}
