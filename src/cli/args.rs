//! Command-line definitions (clap derive): what users can type.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Agentless, Ansible-style rolling patch runner for fleets of hypervisors and their guests.
#[derive(Debug, Parser)]
#[command(name = "rpatch", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More output: -v shows task results, -vv adds debug logs, -vvv adds transport traces.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a playbook against the inventory.
    Run(RunArgs),
    /// Parse and validate a playbook, its roles, the inventory and templates; touch nothing.
    Check(CheckArgs),
    /// Show the inventory, like ansible-inventory.
    Inventory(InventoryArgs),
    /// Show each play's batches, order, gates and window without contacting any host.
    Plan(PlanArgs),
    /// List past runs, or show one run's recap from its journal.
    Runs(RunsArgs),
    /// Continue an interrupted, halted or paused run from its journal.
    Resume(ResumeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// For example: `rpatch completions bash > /etc/bash_completion.d/rpatch`.
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    ///
    /// For example: `rpatch man > /usr/local/share/man/man1/rpatch.1`.
    Man,
}

/// Arguments of `rpatch completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Where run journals live. Run locks are not affected: they always live in the state
/// directory's `locks/`, so a different `--runs-dir` cannot start a second run of one rollout.
#[derive(Debug, Args)]
pub struct RunsDir {
    /// Keep run journals here instead of the state directory's runs/ ($RPATCH_STATE_DIR, else
    /// $XDG_STATE_HOME/rpatch, else ~/.local/state/rpatch); run locks always stay there.
    #[arg(long, value_name = "DIR", env = "RPATCH_RUNS_DIR")]
    pub runs_dir: Option<PathBuf>,
}

/// Where hosts come from, and extra variables.
#[derive(Debug, Args)]
pub struct Sources {
    /// Inventory file or directory (repeatable) [default: $RPATCH_INVENTORY, else ./inventory].
    #[arg(short, long = "inventory", value_name = "PATH")]
    pub inventory: Vec<PathBuf>,

    /// Extra variables: `key=value ...`, a JSON/YAML mapping, or `@file` (repeatable; later wins).
    #[arg(short, long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,

    /// Ignore cached inventory discoveries (`cache: true` sources) and refresh them.
    #[arg(long)]
    pub flush_cache: bool,
}

/// `rpatch run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The playbook to run.
    pub playbook: PathBuf,

    #[command(flatten)]
    pub sources: Sources,

    /// Only run on hosts matching this pattern (`web*:!web03`, `@file` with one per line).
    #[arg(short, long, value_name = "PATTERN")]
    pub limit: Option<String>,

    /// Only run tasks with these tags (comma-separated, repeatable).
    #[arg(short, long, value_name = "TAGS")]
    pub tags: Vec<String>,

    /// Skip tasks with these tags (comma-separated, repeatable).
    #[arg(long, value_name = "TAGS")]
    pub skip_tags: Vec<String>,

    /// Report what would change without changing anything.
    #[arg(short = 'C', long)]
    pub check: bool,

    /// Show before/after differences of changed files.
    #[arg(short = 'D', long)]
    pub diff: bool,

    /// How many hosts run a task at the same time.
    #[arg(short, long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub forks: u32,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Batch sizes for every play, overriding `serial:` (e.g. `1,10%,50%`).
    #[arg(long, value_name = "SIZES")]
    pub serial: Option<String>,

    /// Run notified handlers even on hosts that failed (every play, as `force_handlers: true`).
    #[arg(long)]
    pub force_handlers: bool,

    /// Ignore maintenance windows (recorded in the journal as an emergency run).
    #[arg(long)]
    pub emergency: bool,

    #[command(flatten)]
    pub runs: RunsDir,

    /// List the hosts each play would run on, then exit.
    #[arg(long)]
    pub list_hosts: bool,

    /// List the tasks each play would run, then exit.
    #[arg(long)]
    pub list_tasks: bool,

    /// Print one JSON object per event on standard output instead of text.
    #[arg(long)]
    pub json: bool,

    /// Write the run's report here when it ends: .json (summary), .xml (JUnit) or .html (page).
    #[arg(long, value_name = "FILE", value_parser = parse_report)]
    pub report: Option<crate::output::report::ReportTarget>,
}

/// How a run connects and escalates: `rpatch run` journals these (never the password) and
/// `rpatch resume` repeats them; given to `resume`, each overrides the journaled value.
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Connect as this user.
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,

    /// Run every task with privilege escalation (sudo).
    #[arg(short = 'b', long = "become")]
    pub escalate: bool,

    /// Ask for the privilege escalation password (read without echo; never logged or journaled).
    #[arg(short = 'K', long)]
    pub ask_become_pass: bool,

    /// Use this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config [env: RPATCH_SSH_CONFIG].
    #[arg(short = 'F', long = "ssh-config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Use this known_hosts file (repeatable) instead of ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts.
    #[arg(long = "known-hosts", value_name = "FILE")]
    pub known_hosts: Vec<PathBuf>,

    /// Unknown host keys: `strict` refuses them (default), `accept-new` records them; a changed key is always refused.
    #[arg(long, value_name = "POLICY", value_parser = parse_host_key_policy)]
    pub host_key_checking: Option<crate::transport::HostKeyPolicy>,

    /// Kill any single command that runs longer than this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(0..=crate::seconds::MAX_SECONDS))]
    pub timeout: Option<u64>,
}

fn parse_report(text: &str) -> Result<crate::output::report::ReportTarget, String> {
    crate::output::report::ReportTarget::parse(text).map_err(|error| error.to_string())
}

fn parse_host_key_policy(text: &str) -> Result<crate::transport::HostKeyPolicy, String> {
    crate::transport::HostKeyPolicy::parse(text)
        .ok_or_else(|| format!("`{text}` is not one of strict, accept-new, off"))
}

/// `rpatch plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The playbook to plan.
    pub playbook: PathBuf,

    #[command(flatten)]
    pub sources: Sources,

    /// Only plan for hosts matching this pattern (`@file` with one per line).
    #[arg(short, long, value_name = "PATTERN")]
    pub limit: Option<String>,

    /// Batch sizes for every play, overriding `serial:`.
    #[arg(long, value_name = "SIZES")]
    pub serial: Option<String>,
}

/// `rpatch runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    pub runs: RunsDir,

    /// What to show.
    #[command(subcommand)]
    pub action: Option<RunsAction>,
}

/// `rpatch runs show`.
#[derive(Debug, Subcommand)]
pub enum RunsAction {
    /// Print a run's recap and progress from its journal.
    Show {
        /// The run id (as `rpatch runs` lists it).
        id: String,
    },
}

/// `rpatch resume`.
#[derive(Debug, Args)]
#[command(
    after_help = "Hosts that finished are not run again; unreachable hosts are, failed ones with \
--retry-failed. A run halted by a gate checks that gate again before its next batch. The run's \
connection options are journaled and repeated (-K asks for the password again); options given \
here override them for this resume. A playbook changed since the run started is refused \
unless --force."
)]
pub struct ResumeArgs {
    /// The run id (as `rpatch runs` lists it).
    pub id: String,

    #[command(flatten)]
    pub runs: RunsDir,

    /// The run's extra variables again (their values are never journaled).
    #[arg(short, long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,

    /// Ignore maintenance windows from now on.
    #[arg(long)]
    pub emergency: bool,

    /// Run hosts that failed again (hosts that were unreachable always are).
    #[arg(long)]
    pub retry_failed: bool,

    /// Resume even though the playbook or a file it loads changed since the run started.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Print one JSON object per event on standard output instead of text.
    #[arg(long)]
    pub json: bool,

    /// Write the run's report here when it ends: .json (summary), .xml (JUnit) or .html (page).
    #[arg(long, value_name = "FILE", value_parser = parse_report)]
    pub report: Option<crate::output::report::ReportTarget>,
}

/// `rpatch check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The playbook to validate.
    pub playbook: PathBuf,

    #[command(flatten)]
    pub sources: Sources,

    /// Also check this limit as `run -l` would: every element matches and some host is left.
    #[arg(short, long, value_name = "PATTERN")]
    pub limit: Option<String>,
}

/// `rpatch inventory`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("view").required(true).args(["list", "graph", "host", "discover"])))]
pub struct InventoryArgs {
    #[command(flatten)]
    pub sources: Sources,

    /// Every group and host with its variables, as JSON.
    #[arg(long)]
    pub list: bool,

    /// The group tree (of GROUP, default all).
    #[arg(long, value_name = "GROUP", num_args = 0..=1, default_missing_value = "all")]
    pub graph: Option<String>,

    /// One host's variables, as JSON.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,

    /// Ask each hypervisor (virsh, over SSH) which domains it runs, match them to inventory
    /// guests by `rpatch_domain` or name, and keep that topology for later runs and plans.
    #[arg(long)]
    pub discover: bool,

    /// With --discover: the hypervisors to ask [default: the `hypervisors` group, hosts with
    /// `rpatch_libvirt_uri`, and every host a guest names as `rpatch_hypervisor`].
    #[arg(long, value_name = "PATTERN", requires = "discover")]
    pub hypervisors: Option<String>,

    /// With --discover: run virsh with privilege escalation (sudo).
    #[arg(short = 'b', long = "become", requires = "discover")]
    pub escalate: bool,

    /// Show only hosts matching this pattern in --list and --graph (`@file`: one per line).
    #[arg(short, long, value_name = "PATTERN", conflicts_with = "host")]
    pub limit: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
