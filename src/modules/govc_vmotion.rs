//! `govc_vmotion`: moves a running (or powered-off) VM to another ESXi host with
//! `vm.migrate`, optionally to another resource pool or datastore, and checks afterwards that
//! the VM's `runtime.host` is the target.
//!
//! Reads first: the hosts (`find`), the VMs (`find / -type m`) and the VM itself
//! (`vm.info -json`), so a VM already on the target is `ok`. A target rpatch does not find by
//! name or inventory path is handed to govc as written (govc also takes other forms) and
//! govc's answer is the result; a VM not found is an error naming it.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::govc::actions::{self, Placement};
use super::govc::{self, check_word, parse, Govc};
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `govc_vmotion`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovcVmotionArgs {
    /// The VM (name or inventory path).
    vm: String,
    /// The ESXi host to move it to (name or inventory path).
    host: String,
    /// The resource pool to move it to (`-pool`).
    #[serde(default)]
    pool: Option<String>,
    /// The datastore to move its disks to (`-ds`, a Storage vMotion too).
    #[serde(default)]
    datastore: Option<String>,
    /// Give up on one govc call after this many seconds.
    #[serde(default = "govc::default_timeout", deserialize_with = "lenient::whole")]
    timeout: u64,
}

/// `govc_vmotion`: move a VM to another host.
pub(crate) struct GovcVmotion;

/// What the task registers.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    vm: &'a str,
    /// The host it was on (its name when rpatch knows it).
    from: Option<String>,
    /// The host it is on now.
    host: &'a str,
}

#[async_trait]
impl Module for GovcVmotion {
    fn names(&self) -> &'static [&'static str] {
        &["govc_vmotion", "rpatch.govc_vmotion"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<GovcVmotionArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: GovcVmotionArgs = args::parse(args)?;
        for (kind, word) in [("VM", Some(&args.vm)), ("host", Some(&args.host)), ("pool", args.pool.as_ref()), ("datastore", args.datastore.as_ref())] {
            if let Some(word) = word {
                check_word(kind, word)?;
            }
        }
        let govc = Govc::from_vars(ctx, Duration::from_secs(args.timeout.max(1)))?;
        let placement = Placement { pool: args.pool.as_deref(), datastore: args.datastore.as_deref() };
        let vm = args.vm.as_str();
        let hosts = govc.hosts(ctx).await?;
        let Some(target) = hosts.find(&args.host).cloned() else {
            return unknown_target(&govc, ctx, &args, placement).await;
        };
        let vms = parse::lines(&govc.ok(ctx, &["find", "/", "-type", "m"]).await?);
        let path = vms
            .iter()
            .find(|p| p.as_str() == vm)
            .or_else(|| vms.iter().find(|p| parse::base_name(p) == vm))
            .cloned();
        let info = parse::vm_info(&govc.ok(ctx, &["vm.info", "-json", vm]).await?).map_err(ModuleError::Failed)?;
        let (Some(path), Some(info)) = (path, info) else {
            return Err(ModuleError::Failed(format!("VM `{vm}` not found in vSphere")));
        };
        let from = info.host.as_deref().map(|id| hosts.by_id(id).map_or(id.to_string(), |h| h.name.clone()));
        let data = Outcome { vm, from: from.clone(), host: &target.name };
        if info.host.as_deref() == Some(target.id.as_str()) && placement.pool.is_none() && placement.datastore.is_none() {
            return Ok(ModuleResult::ok().with_data(&data).with_msg(format!("`{vm}` already runs on `{}`", target.name)));
        }
        let from = from.unwrap_or_else(|| "?".into());
        if ctx.check_mode {
            return Ok(ModuleResult::changed().with_data(&data).with_msg(format!("would move `{vm}` from `{from}` to `{}`", target.name)));
        }
        actions::migrate(&govc, ctx, vm, &path, &target, placement).await?;
        Ok(ModuleResult::changed().with_data(&data).with_msg(format!("moved `{vm}` from `{from}` to `{}`", target.name)))
    }
}

/// A target rpatch did not find: govc gets it as written, and its answer decides.
async fn unknown_target(
    govc: &Govc,
    ctx: &ModuleContext<'_>,
    args: &GovcVmotionArgs,
    placement: Placement<'_>,
) -> Result<ModuleResult, ModuleError> {
    if ctx.check_mode {
        return Err(ModuleError::Failed(format!("host `{}` not found in vSphere", args.host)));
    }
    let mut words = vec!["vm.migrate"];
    if let Some(pool) = placement.pool {
        words.extend(["-pool", pool]);
    }
    if let Some(datastore) = placement.datastore {
        words.extend(["-ds", datastore]);
    }
    words.extend(["-host", args.host.as_str(), args.vm.as_str()]);
    let reply = govc.call(ctx, &words).await?;
    if reply.rc != 0 {
        return Err(govc::failed(&words, &reply));
    }
    let data = Outcome { vm: &args.vm, from: None, host: &args.host };
    Ok(ModuleResult::changed().with_data(&data).with_msg(format!(
        "moved `{}` to `{}` (govc found the host; rpatch could not check where the VM runs)",
        args.vm, args.host
    )))
}
