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
    /// Read the patch baselines runs recorded: the exact package versions they installed.
    Baseline(BaselineArgs),
    /// Where each host of the inventory stands: last successful patch run, baseline, pending
    /// updates, reboot required, last failure (read from the run journals; no SSH).
    Status(StatusArgs),
    /// Run one module on the hosts a pattern matches, as `ansible PATTERN -m MODULE -a ARGS`:
    /// a rolling, gated, journaled (resumable) run of a one-task play.
    Adhoc(AdhocArgs),
    /// Patch the hosts a pattern matches now: a rolling play (serial ramp 1, 10%, 25%; stop when
    /// more than max_fail_percentage fail; topology order) of patch_facts, apt/dnf upgrade, then
    /// needrestart or a reboot when the updates require one.
    Patch(PatchArgs),
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
#[derive(Debug, Args, Clone)]
pub struct RunsDir {
    /// Keep run journals here instead of the state directory's runs/ ($RPATCH_STATE_DIR, else
    /// $XDG_STATE_HOME/rpatch, else ~/.local/state/rpatch); run locks always stay there.
    #[arg(long, value_name = "DIR", env = "RPATCH_RUNS_DIR")]
    pub runs_dir: Option<PathBuf>,
}

/// Where hosts come from, and extra variables.
#[derive(Debug, Args, Clone, Default)]
pub struct Sources {
    /// Inventory file or directory (repeatable) [default: $RPATCH_INVENTORY, else
    /// $ANSIBLE_INVENTORY or ansible.cfg's inventory, else ./inventory].
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
    /// The playbook to run; `-` reads it from standard input (its directory is then the
    /// current one, for roles and relative paths).
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

    /// How many hosts run a task at the same time [default: ansible.cfg's forks, else 50].
    #[arg(short, long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub forks: Option<u32>,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Batch sizes for every play, overriding `serial:` (e.g. `1,10%,50%`).
    #[arg(long, value_name = "SIZES")]
    pub serial: Option<String>,

    /// Start at the first task with this name (as `--list-tasks` shows it); earlier tasks
    /// of every play are skipped.
    #[arg(long, value_name = "TASK")]
    pub start_at_task: Option<String>,

    /// Run notified handlers even on hosts that failed (every play, as `force_handlers: true`).
    #[arg(long)]
    pub force_handlers: bool,

    /// Ignore maintenance windows, and start a later stage before the previous stage's run
    /// soaked or passed its promotion gate (recorded in the journal as an emergency run).
    #[arg(long)]
    pub emergency: bool,

    /// Run this stage of the playbook's `stages:` (its group limits the hosts); without it,
    /// the stage is the one whose group holds the targeted hosts.
    #[arg(long, value_name = "NAME")]
    pub stage: Option<String>,

    #[command(flatten)]
    pub runs: RunsDir,

    /// List the hosts each play would run on, then exit.
    #[arg(long)]
    pub list_hosts: bool,

    /// List the tasks each play would run, then exit.
    #[arg(long)]
    pub list_tasks: bool,

    /// List the tags of each play's tasks, then exit.
    #[arg(long)]
    pub list_tags: bool,

    /// Check the playbook's syntax (as `rpatch check`), then exit.
    #[arg(long)]
    pub syntax_check: bool,

    /// Print one JSON object per event on standard output instead of text.
    #[arg(long)]
    pub json: bool,

    /// Write the run's report here when it ends: .json (summary), .xml (JUnit) or .html (page).
    #[arg(long, value_name = "FILE", value_parser = parse_report)]
    pub report: Option<crate::output::report::ReportTarget>,

    /// Write Prometheus text-format metrics here when the run ends (per host last success,
    /// pending updates, reboot required; run duration and result), for node_exporter's
    /// textfile collector. Written atomically (a temporary file renamed over it).
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
}

/// How a run connects and escalates: `rpatch run` journals these (never a password) and
/// `rpatch resume` repeats them; given to `resume`, each overrides the journaled value.
/// Connection settings are defaults, as in Ansible: a host's inventory variables
/// (`ansible_user`, `ansible_ssh_private_key_file`, `ansible_timeout`, ...) win over them.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnectionArgs {
    /// Connect as this user (a host's `ansible_user` wins).
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,

    /// Authenticate with this private key file.
    #[arg(long = "private-key", visible_alias = "key-file", value_name = "FILE")]
    pub private_key: Option<PathBuf>,

    /// Ask for the SSH password (read without echo; never logged or journaled).
    #[arg(short = 'k', long)]
    pub ask_pass: bool,

    /// Connection type: `ssh` or `local` (a host's `ansible_connection` wins).
    #[arg(short = 'c', long, value_name = "TYPE", value_parser = ["ssh", "local"])]
    pub connection: Option<String>,

    /// Connection timeout in seconds (as ansible's -T).
    #[arg(short = 'T', long = "timeout", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=crate::seconds::MAX_SECONDS))]
    pub connect_timeout: Option<u64>,

    /// Kill any single command that runs longer than this many seconds.
    #[arg(long = "task-timeout", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(0..=crate::seconds::MAX_SECONDS))]
    pub timeout: Option<u64>,

    /// Run every task with privilege escalation.
    #[arg(short = 'b', long = "become")]
    pub escalate: bool,

    /// Escalate to this user [default: root].
    #[arg(long, value_name = "USER")]
    pub become_user: Option<String>,

    /// Escalate with this method: `sudo` or `su`.
    #[arg(long, value_name = "METHOD", value_parser = ["sudo", "su"])]
    pub become_method: Option<String>,

    /// Ask for the privilege escalation password (read without echo; never logged or journaled).
    #[arg(short = 'K', long)]
    pub ask_become_pass: bool,

    /// Extra ssh arguments for every host, as ansible's (`-o Keyword=value` rpatch understands;
    /// others are named in a warning and not used).
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub ssh_common_args: Option<String>,

    /// More ssh arguments for every host (as --ssh-common-args).
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub ssh_extra_args: Option<String>,

    /// Use this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config [env: RPATCH_SSH_CONFIG].
    #[arg(short = 'F', long = "ssh-config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Use this known_hosts file (repeatable) instead of ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts.
    #[arg(long = "known-hosts", value_name = "FILE")]
    pub known_hosts: Vec<PathBuf>,

    /// Unknown host keys: `strict` refuses them (default), `accept-new` records them; a changed key is always refused.
    #[arg(long, value_name = "POLICY", value_parser = parse_host_key_policy)]
    pub host_key_checking: Option<crate::transport::HostKeyPolicy>,
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

/// `rpatch baseline`.
#[derive(Debug, Args)]
#[command(
    after_help = "A run that installs packages with apt records a baseline named after the run \
id. Give it to a later run's apt task as `baseline: ID` (or `latest`, or an exported file) to \
install exactly those versions, never newer ones."
)]
pub struct BaselineArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: BaselineAction,
}

/// `rpatch baseline` subcommands.
#[derive(Debug, Subcommand)]
pub enum BaselineAction {
    /// List the recorded baselines, oldest first.
    List,
    /// Print a baseline's packages per release.
    Show {
        /// A run id, `latest`, or a baseline file.
        baseline: String,
    },
    /// Print the packages whose versions differ between two baselines.
    Diff {
        /// A run id, `latest`, or a baseline file.
        a: String,
        /// A run id, `latest`, or a baseline file.
        b: String,
    },
    /// Write a baseline to a file (to commit next to the playbooks).
    Export {
        /// A run id, `latest`, or a baseline file.
        baseline: String,
        /// The file to write.
        file: PathBuf,
    },
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

    /// Write Prometheus text-format metrics here when the run ends (per host last success,
    /// pending updates, reboot required; run duration and result), for node_exporter's
    /// textfile collector. Written atomically (a temporary file renamed over it).
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
}

/// `rpatch adhoc`.
#[derive(Debug, Args)]
pub struct AdhocArgs {
    /// The hosts: an inventory pattern (`web*:!web03`, `kvm:&prod`).
    pub pattern: String,

    /// The module to run.
    #[arg(
        short = 'm',
        long = "module-name",
        value_name = "MODULE",
        default_value = "command"
    )]
    pub module: String,

    /// The module's arguments: `key=value ...`, a free-form command, or a YAML/JSON mapping.
    #[arg(
        short = 'a',
        long = "args",
        value_name = "ARGS",
        allow_hyphen_values = true
    )]
    pub module_args: Option<String>,

    #[command(flatten)]
    pub rollout: Rollout,
}

/// `rpatch patch`.
#[derive(Debug, Args)]
pub struct PatchArgs {
    /// The hosts: an inventory pattern (`kvm*`, `web:&prod`).
    pub pattern: String,

    /// Install only security updates (apt: *-security suites; dnf: security advisories).
    #[arg(long, conflicts_with = "packages")]
    pub security_only: bool,

    /// Upgrade only these packages (comma-separated, repeatable) instead of everything pending.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub packages: Vec<String>,

    /// `auto` reboots a host whose updates need it; `never` leaves that to you (the last patch
    /// facts of the host say it still needs one).
    #[arg(long, value_name = "WHEN", value_parser = ["auto", "never"], default_value = "auto")]
    pub reboot: String,

    /// Seconds a rebooting host has to come back.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub reboot_timeout: u64,

    /// The percentage of a batch's hosts that may fail before the rollout stops.
    #[arg(long, value_name = "PERCENT", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub max_fail_percentage: u8,

    #[command(flatten)]
    pub rollout: Rollout,
}

/// What `adhoc` and `patch` share with `run`: sources, limit, batches, gates, connection.
#[derive(Debug, Args)]
pub struct Rollout {
    #[command(flatten)]
    pub sources: Sources,

    /// Further restrict the hosts to this pattern.
    #[arg(short, long, value_name = "PATTERN")]
    pub limit: Option<String>,

    /// Batch sizes (e.g. `1,10%,50%`) [default: adhoc all at once; patch 1,10%,25%].
    #[arg(long, value_name = "SIZES")]
    pub serial: Option<String>,

    /// Check this URL (HTTP 200) after each batch before the next starts (repeatable).
    #[arg(long = "gate-http", value_name = "URL")]
    pub gate_http: Vec<String>,

    /// Run this command on the controller after each batch; exit 0 lets the next start (repeatable).
    #[arg(long = "gate-command", value_name = "CMD")]
    pub gate_command: Vec<String>,

    /// Report what would change without changing anything.
    #[arg(short = 'C', long)]
    pub check: bool,

    /// How many hosts run at the same time [default: ansible.cfg's forks, else 50].
    #[arg(short, long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub forks: Option<u32>,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Ignore maintenance windows (recorded in the journal as an emergency run).
    #[arg(long)]
    pub emergency: bool,

    #[command(flatten)]
    pub runs: RunsDir,

    /// Print one JSON object per event on standard output instead of text.
    #[arg(long)]
    pub json: bool,

    /// Write Prometheus text-format metrics here when the run ends (see `rpatch run --help`).
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
}

/// `rpatch status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub sources: Sources,

    #[command(flatten)]
    pub runs: RunsDir,

    /// Only read the run journals and the patch records in them: connect to no host. Without
    /// it, rpatch first gathers patch facts from the hosts over SSH (a journaled run).
    #[arg(long)]
    pub from_journal: bool,

    /// Gather from, and show, only the hosts this pattern matches.
    #[arg(short, long, value_name = "PATTERN")]
    pub limit: Option<String>,

    /// How many hosts are gathered from at the same time [default: ansible.cfg's forks, else 50].
    #[arg(short, long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub forks: Option<u32>,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Print the status as one JSON document.
    #[arg(long)]
    pub json: bool,

    /// Also write the status as an HTML page (the run report's style).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
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
