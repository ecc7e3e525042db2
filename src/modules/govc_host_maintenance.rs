//! `govc_host_maintenance`: puts an ESXi host into maintenance mode or takes it out.
//!
//! `state: enter` runs `host.maintenance.enter` (with `-evacuate` and `-timeout` when asked)
//! and then checks `runtime.inMaintenanceMode`; `state: exit` reads that property first, so a
//! host already out is `ok`. The VMs on the host are vSphere's business here (DRS, or
//! `evacuate` for the powered-off ones); `govc_evacuate` moves the running ones itself.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::govc::actions::{self, Enter};
use super::govc::{self, check_word, Govc};
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `govc_host_maintenance`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovcHostMaintenanceArgs {
    /// The ESXi host (name or inventory path).
    host: String,
    /// `enter` (default) or `exit`.
    #[serde(default)]
    state: MaintenanceState,
    /// `enter`: have vSphere move the powered-off VMs too (`-evacuate`).
    #[serde(default, deserialize_with = "lenient::bool")]
    evacuate: bool,
    /// `enter`: seconds vSphere may take (`-timeout`); 0 waits as long as it takes.
    #[serde(default, deserialize_with = "lenient::whole")]
    timeout: u64,
}

/// In or out of maintenance mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum MaintenanceState {
    #[default]
    Enter,
    Exit,
}

/// What the task registers.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    host: &'a str,
    in_maintenance_mode: bool,
}

/// The limit of one govc call: vSphere's own timeout and a minute, or an hour.
pub(crate) fn call_limit(timeout: u64) -> Duration {
    Duration::from_secs(if timeout > 0 { timeout + 60 } else { 3600 })
}

/// `govc_host_maintenance`: enter or exit maintenance mode.
pub(crate) struct GovcHostMaintenance;

#[async_trait]
impl Module for GovcHostMaintenance {
    fn names(&self) -> &'static [&'static str] {
        &["govc_host_maintenance", "rpatch.govc_host_maintenance"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<GovcHostMaintenanceArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: GovcHostMaintenanceArgs = args::parse(args)?;
        check_word("host", &args.host)?;
        if args.state == MaintenanceState::Exit && (args.evacuate || args.timeout > 0) {
            return Err(ModuleError::Failed("evacuate and timeout go with state: enter".into()));
        }
        let govc = Govc::from_vars(ctx, call_limit(args.timeout))?;
        let name = args.host.as_str();
        let hosts = govc.hosts(ctx).await?;
        let known = hosts.find(name).cloned();
        let result = |changed: bool, inside: bool, msg: String| {
            let result = if changed { ModuleResult::changed() } else { ModuleResult::ok() };
            result.with_data(&Outcome { host: name, in_maintenance_mode: inside }).with_msg(msg)
        };
        match args.state {
            MaintenanceState::Enter => {
                if ctx.check_mode {
                    let host = known.ok_or_else(|| not_found(name, &hosts))?;
                    let inside = actions::in_maintenance(&govc, ctx, &host).await?;
                    let msg = if inside { "is in maintenance mode" } else { "would enter maintenance mode" };
                    return Ok(result(!inside, inside, format!("`{name}` {msg}")));
                }
                let options = Enter { evacuate: args.evacuate, timeout: args.timeout };
                actions::enter_maintenance(&govc, ctx, name, known.as_ref(), options).await?;
                Ok(result(true, true, format!("`{name}` entered maintenance mode")))
            }
            MaintenanceState::Exit => {
                let host = known.ok_or_else(|| not_found(name, &hosts))?;
                if !actions::in_maintenance(&govc, ctx, &host).await? {
                    return Ok(result(false, false, format!("`{name}` is not in maintenance mode")));
                }
                if ctx.check_mode {
                    return Ok(result(true, false, format!("`{name}` would exit maintenance mode")));
                }
                govc.ok(ctx, &["host.maintenance.exit", name]).await?;
                Ok(result(true, false, format!("`{name}` exited maintenance mode")))
            }
        }
    }
}

/// A host the vCenter does not list, with the ones it does.
pub(crate) fn not_found(name: &str, hosts: &govc::Inventory) -> ModuleError {
    ModuleError::Failed(format!("host `{name}` not found in vSphere (hosts: {})", hosts.names()))
}
