//! `apt`: install, upgrade and remove Debian/Ubuntu packages with apt-get, in one round trip.
//!
//! The module is four parts, each in its own file: the typed arguments and their checks
//! ([`args`], with Debian name syntax in [`spec`]), a pure function building the POSIX sh
//! script run on the host ([`script`]), a pure parser of what the script printed ([`report`],
//! with dpkg's version order in [`version`]), and the mapping to the task's result
//! ([`outcome`]). [`run`] only glues them to the transport.

mod args;
mod outcome;
mod report;
mod script;
mod spec;
mod version;

pub use args::Request;

use super::args::ArgError;
use super::{ModuleContext, ModuleResult};
use crate::vars::Value;

/// Runs `apt` on the host: one script that plans with `apt-get -s` and, outside check mode,
/// applies the plan.
pub async fn run(args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ArgError> {
    let request: Request = super::args::parse(args)?;
    let output = match ctx.exec(script::build(&request, ctx.check_mode)).await {
        Ok(output) => output,
        Err(error) => return Ok(ModuleResult::from_transport(&error)),
    };
    let report = report::parse(&output.stdout_text());
    Ok(outcome::result(&request, &report, &output, ctx.check_mode))
}
