//! The command line: parse arguments, load inputs, dispatch to a subcommand, map to an exit code.

/// Prints to standard output; a closed pipe (`rpatch ... | head`) ends nothing badly.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Prints a line to standard output; a closed pipe (`rpatch ... | head`) ends nothing badly.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod adhoc;
mod ansible_cfg;
mod args;
mod baseline_cmd;
mod check;
mod completions;
mod discover_cmd;
mod error;
mod extra_vars;
mod inline_playbook;
mod inventory_cmd;
mod journal;
mod load;
mod patch_play;
mod plan_cmd;
mod prompts;
mod resume;
mod run;
mod runs;
mod settings;
mod stage;
mod status_cmd;

pub use args::{Cli, Command};
pub use error::CliError;

use clap::Parser;

use crate::runner::exit;

/// Runs rpatch with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                exit::BAD_OPTIONS
            } else {
                exit::OK
            };
            let _ = error.print();
            return code;
        }
    };
    init_tracing(cli.verbose);
    // Runtime threads get the main thread's 8 MiB (tokio's default is 2 MiB): templates and
    // conditions of any nesting the parsers accept are rendered there.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return exit::ERROR;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args, cli.verbose).await,
            Command::Check(args) => check::check(args),
            Command::Inventory(args) if args.discover => discover_cmd::discover(args).await,
            Command::Inventory(args) => inventory_cmd::inventory(args),
            Command::Plan(args) => plan_cmd::plan(args),
            Command::Runs(args) => runs::runs(args),
            Command::Resume(args) => resume::resume(args, cli.verbose).await,
            Command::Baseline(args) => baseline_cmd::baseline(args),
            Command::Status(args) => status_cmd::status(args, cli.verbose).await,
            Command::Adhoc(args) => adhoc::adhoc(args, cli.verbose).await,
            Command::Patch(args) => adhoc::patch(args, cli.verbose).await,
            Command::Completions(args) => completions::completions(args.shell),
            Command::Man => completions::man(),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{}", crate::diagnostic::render(&error));
            error.exit_code()
        }
    }
}

/// Logs go to standard error: warnings by default, more with -vv/-vvv, or `RUST_LOG`.
fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 | 1 => "warn",
        2 => "rpatch=debug",
        _ => "rpatch=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(stderr_colour())
        .with_target(false);
    // Warnings alone read like Ansible's; timestamps only where debug logs need them.
    let _ = if verbose < 2 {
        builder.without_time().try_init()
    } else {
        builder.try_init()
    };
}

/// Colour on standard error only for a terminal, and never with `NO_COLOR` set (cron, logs).
fn stderr_colour() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
