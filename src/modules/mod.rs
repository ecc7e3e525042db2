//! Built-in modules: what a task can do on a host.
//!
//! Each module family lives in its own file with a typed argument struct (unknown arguments
//! are errors) and a typed result. [`ModuleKind`] is the registry that maps the names users
//! write (short or `ansible.builtin.`-qualified) to implementations. Modules never print: they
//! return a [`ModuleResult`] and the runner turns it into events.

mod apt;
pub mod args;
mod assert_fail;
mod command;
mod context;
mod copy;
mod debug;
mod fetch;
mod file;
mod lenient;
mod lineinfile;
mod pause;
mod ping;
mod registry;
mod remote_file;
mod result;
mod set_fact;
mod setup;
mod stat;
mod template_module;
mod wait_for;

pub use args::{ArgError, FreeForm};
pub use context::ModuleContext;
pub use registry::ModuleKind;
pub use result::{Diff, ModuleResult};

use crate::vars::Value;

/// Runs a module with already-rendered arguments.
pub async fn run(kind: ModuleKind, args: &Value, ctx: &ModuleContext<'_>) -> ModuleResult {
    let outcome = match kind {
        ModuleKind::Command => command::run_command(args, ctx).await,
        ModuleKind::Shell => command::run_shell(args, ctx).await,
        ModuleKind::Raw => command::run_raw(args, ctx).await,
        ModuleKind::Debug => debug::run(args, ctx),
        ModuleKind::SetFact => set_fact::run(args),
        ModuleKind::Assert => assert_fail::run_assert(args, ctx),
        ModuleKind::Fail => assert_fail::run_fail(args),
        ModuleKind::Ping => ping::run(args, ctx).await,
        ModuleKind::Stat => stat::run(args, ctx).await,
        ModuleKind::Pause => pause::run(args).await,
        ModuleKind::WaitFor => wait_for::run(args, ctx).await,
        ModuleKind::Setup => setup::run(args, ctx).await,
        ModuleKind::Copy => copy::run(args, ctx).await,
        ModuleKind::Template => template_module::run(args, ctx).await,
        ModuleKind::File => file::run(args, ctx).await,
        ModuleKind::Fetch => fetch::run(args, ctx).await,
        ModuleKind::Lineinfile => lineinfile::run(args, ctx).await,
        ModuleKind::Apt => apt::run(args, ctx).await,
    };
    outcome.unwrap_or_else(|error| ModuleResult::failed(error.to_string()))
}
