//! The vSphere changes more than one module makes — a vMotion checked afterwards, maintenance
//! mode entered and checked — each as govc calls through [`Govc`].

use super::parse::{self, HostRef};
use super::{failed, Govc};
use crate::modules::{ModuleContext, ModuleError};

/// Where a VM goes besides its host.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Placement<'a> {
    /// Resource pool (`-pool`).
    pub pool: Option<&'a str>,
    /// Datastore (`-ds`).
    pub datastore: Option<&'a str>,
}

/// `vm.migrate [-pool P] [-ds D] -host HOST VM`, then `object.collect -s vm/… runtime.host`
/// must name `target`: a vMotion that returned OK but left the VM where it was fails.
pub(crate) async fn migrate(
    govc: &Govc,
    ctx: &ModuleContext<'_>,
    vm: &str,
    vm_path: &str,
    target: &HostRef,
    placement: Placement<'_>,
) -> Result<(), ModuleError> {
    let mut words = vec!["vm.migrate"];
    if let Some(pool) = placement.pool {
        words.extend(["-pool", pool]);
    }
    if let Some(datastore) = placement.datastore {
        words.extend(["-ds", datastore]);
    }
    words.extend(["-host", target.path.as_str(), vm]);
    govc.ok(ctx, &words).await?;
    let now = govc
        .property(ctx, &parse::relative(vm_path), "runtime.host")
        .await?;
    if now.rsplit(':').next() != Some(target.id.as_str()) {
        return Err(ModuleError::Failed(format!(
            "govc vm.migrate reported success, but `{vm}` runs on `{now}`, not on `{}` ({})",
            target.name,
            target.moref()
        )));
    }
    Ok(())
}

/// Options of `host.maintenance.enter`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Enter {
    /// `-evacuate`: let vSphere move the powered-off VMs too.
    pub evacuate: bool,
    /// `-timeout N` seconds for vSphere's task (0: none).
    pub timeout: u64,
}

/// `host.maintenance.enter [-evacuate] [-timeout N] HOST`; when rpatch knows the host's path,
/// `runtime.inMaintenanceMode` must then be `true`.
pub(crate) async fn enter_maintenance(
    govc: &Govc,
    ctx: &ModuleContext<'_>,
    host: &str,
    known: Option<&HostRef>,
    options: Enter,
) -> Result<(), ModuleError> {
    let timeout = options.timeout.to_string();
    let mut words = vec!["host.maintenance.enter"];
    if options.evacuate {
        words.push("-evacuate");
    }
    if options.timeout > 0 {
        words.extend(["-timeout", timeout.as_str()]);
    }
    words.push(host);
    let reply = govc.call(ctx, &words).await?;
    if reply.rc != 0 {
        return Err(failed(&words, &reply));
    }
    if let Some(known) = known {
        if !in_maintenance(govc, ctx, known).await? {
            return Err(ModuleError::Failed(format!(
                "govc host.maintenance.enter reported success, but `{}` is not in maintenance mode",
                known.name
            )));
        }
    }
    Ok(())
}

/// `runtime.inMaintenanceMode` of a host.
pub(crate) async fn in_maintenance(
    govc: &Govc,
    ctx: &ModuleContext<'_>,
    host: &HostRef,
) -> Result<bool, ModuleError> {
    let value = govc
        .property(
            ctx,
            &parse::relative(&host.path),
            "runtime.inMaintenanceMode",
        )
        .await?;
    match value.as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(ModuleError::Failed(format!(
            "govc printed `{other}` for runtime.inMaintenanceMode of `{}`, not true or false",
            host.name
        ))),
    }
}
