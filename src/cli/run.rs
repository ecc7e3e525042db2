//! `rpatch run`: load, plan, lock, journal, run with output, map the outcome to an exit code.

use std::io::IsTerminal;
use std::path::PathBuf;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::ansible_cfg::AnsibleConfig;
use super::args::RunArgs;
use super::error::CliError;
use super::inline_playbook::PlaybookSource;
use super::journal::{absolute, lock_run, runs_dir, start_journal, Locked};
use super::load::{inventory_paths, load_all_in, Loaded};
use super::settings::{ask_passwords, check_ssh_config, connection_from_flags, run_options};
use super::stage::{start_stage, StageRequest, StageStart};
use crate::notify::{Notifier, NotifyRender};
use crate::output::report::ReportTarget;
use crate::output::{self, AdhocRenderer, HumanRenderer, JsonRenderer, Renderer};
use crate::playbook::digest::digest;
use crate::playbook::{Action, TagFilter, TaskNode};
use crate::rolling::clock::Clock;
use crate::rolling::journal::{RunSettings, JOURNAL_FILE};
use crate::rolling::serial::Serial;
use crate::rolling::summary::RunSummary;
use crate::runner::plan::{plan_playbook, PlanInputs, PlayPlan};
use crate::runner::{self, exit, RunControl, RunInput, RunOptions};

/// Runs a playbook and returns the exit code.
pub async fn run(mut args: RunArgs, verbosity: u8) -> Result<i32, CliError> {
    let cfg = apply_ansible_cfg(&mut args)?;
    let source = PlaybookSource::from_argument(&args.playbook)?;
    start(args, source, &cfg.roles_path(), verbosity, Style::Playbook).await
}

/// Reads ansible.cfg and the `ANSIBLE_*` variables, warns about what rpatch does not
/// support, and fills what the command line left unset.
pub(super) fn apply_ansible_cfg(args: &mut RunArgs) -> Result<AnsibleConfig, CliError> {
    let cfg = AnsibleConfig::load()?;
    cfg.warn();
    cfg.apply(&mut args.sources, &mut args.forks, &mut args.connection)?;
    Ok(cfg)
}

/// How results print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    /// ansible-playbook's banners and task lines.
    Playbook,
    /// ansible's ad-hoc lines: `host | CHANGED | rc=0 >>`.
    Adhoc,
    /// Nothing on standard output (a run whose results another command prints: `status`).
    Silent,
}

/// Runs the playbook `source` with `args` (shared by `run`, `adhoc` and `patch`).
pub(super) async fn start(
    args: RunArgs,
    source: PlaybookSource,
    roles_path: &[PathBuf],
    verbosity: u8,
    style: Style,
) -> Result<i32, CliError> {
    let clock = Clock::from_env()?;
    let mut loaded = load_all_in(
        &source.path,
        source.base_dir.as_deref(),
        &args.sources,
        roles_path,
    )?;
    if args.syntax_check {
        super::check::warn_unmatched_patterns(&loaded)?;
        outln!("\nplaybook: {}", args.playbook.display());
        return Ok(exit::OK);
    }
    if let Some(task) = &args.start_at_task {
        if !crate::playbook::start_at_task(&mut loaded.playbook, task) {
            return Err(CliError::NoSuchTask(task.clone()));
        }
    }
    if loaded.playbook.plays.iter().any(|play| play.discover)
        && !(args.list_hosts || args.list_tasks || args.list_tags)
    {
        let paths = inventory_paths(&args.sources)?;
        super::discover_cmd::before_run(&mut loaded.inventory, &paths, &args.connection).await?;
    }
    let limit_pattern =
        super::stage::limit_with_stage(&loaded, args.limit.as_deref(), args.stage.as_deref())?;
    let limit = match &limit_pattern {
        Some(pattern) => Some(loaded.inventory.select_limit(pattern)?),
        None => None,
    };
    let tags = TagFilter::new(
        args.tags.iter().map(String::as_str),
        args.skip_tags.iter().map(String::as_str),
    );
    if args.list_hosts || args.list_tasks || args.list_tags {
        list(&loaded, &args, limit.as_deref(), &tags);
        return Ok(exit::OK);
    }
    super::prompts::ask_prompts(
        &mut loaded.playbook,
        &loaded.extra_vars,
        &mut super::prompts::Terminal,
    )?;
    let serial_override = args.serial.as_deref().map(Serial::parse_cli).transpose()?;
    let inputs = PlanInputs {
        limit: limit.clone(),
        serial_override: serial_override.clone(),
        extra_vars: loaded.extra_vars.clone(),
    };
    let plan = plan_playbook(
        &loaded.playbook,
        &loaded.inventory,
        &loaded.templar,
        &inputs,
    )?;
    let notify = prepare_notifications(&loaded)?;
    // Absolute, so the journal means the same files to `rpatch resume` run from anywhere.
    let inventory = inventory_paths(&args.sources)?
        .iter()
        .map(|path| absolute(path))
        .collect::<Result<Vec<_>, _>>()?;
    let playbook = absolute(&source.path)?;
    let runs_dir = runs_dir(&args.runs)?;
    let request = StageRequest {
        stage: args.stage.as_deref(),
        playbook: &playbook,
        runs_dir: &runs_dir,
        emergency: args.emergency,
        check: args.check,
        clock,
    };
    let stage = match start_stage(&loaded, &plan, &request).await? {
        StageStart::Go(stage) => stage,
        StageStart::Refused => return Ok(exit::NOT_PROMOTED),
    };
    let settings = RunSettings {
        inventory: inventory.iter().map(|p| p.display().to_string()).collect(),
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        check: args.check,
        diff: args.diff,
        forks: args.forks.unwrap_or(DEFAULT_FORKS) as usize,
        become_all: args.connection.escalate,
        user: args.connection.user.clone(),
        force_handlers: args.force_handlers,
        extra_var_names: loaded.extra_vars.keys().cloned().collect(),
        connection: Some(connection_from_flags(&args.connection)?),
        digest: Some(digest(&loaded.playbook)),
        playbook_dir: source.base_dir.as_ref().map(|d| d.display().to_string()),
        start_at_task: args.start_at_task.clone(),
        stage: stage.clone(),
        roles_path: roles_path
            .iter()
            .map(|path| absolute(path).map(|p| p.display().to_string()))
            .collect::<Result<_, _>>()?,
    };
    check_ssh_config(&settings)?;
    let passwords = ask_passwords(&settings)?;
    let mut options = run_options(&settings, limit, passwords, verbosity);
    options.serial_override = serial_override;
    let _lock = match lock_run(&inventory, &playbook)? {
        Locked::Acquired(lock) => lock,
        Locked::Held(message) => {
            eprintln!("rpatch: {message}");
            return Ok(exit::LOCKED);
        }
    };
    let (journal, run_id) = start_journal(&runs_dir, &playbook, &plan, settings, args.emergency)?;
    let control = RunControl {
        journal: Some(journal),
        emergency: args.emergency,
        clock,
        done: Vec::new(),
        recheck_gates_after: None,
        run_id: Some(run_id.to_string()),
        observer: None,
        stage,
    };
    let output = OutputMode {
        json: args.json,
        verbosity,
        diff: args.diff,
        journal: runs_dir.join(run_id.as_str()).join(JOURNAL_FILE),
        run_id: run_id.to_string(),
        style,
        report: args.report,
        notify,
        metrics: args.metrics_file,
    };
    let code = execute(&loaded, &plan, options, control, output).await;
    super::baseline_cmd::record_after_run(&runs_dir.join(run_id.as_str()).join(JOURNAL_FILE));
    Ok(code)
}

/// Forks when neither the command line nor ansible.cfg says (Ansible's is 5; rpatch's
/// hosts wait on the network, not on a Python interpreter each).
pub(super) const DEFAULT_FORKS: u32 = 50;

/// How a run prints its events.
pub(super) struct OutputMode {
    /// `--json`: one JSON object per event.
    pub json: bool,
    /// `-v` count.
    pub verbosity: u8,
    /// `--diff`.
    pub diff: bool,
    /// The run's id, carried by every JSON event.
    pub run_id: String,
    /// Playbook or ad-hoc lines.
    pub style: Style,
    /// The run's journal, read back for the fleet summary and the report.
    pub journal: PathBuf,
    /// `--report`: where to write the report when the run ends.
    pub report: Option<ReportTarget>,
    /// The plays' notification sinks, rendered (`None` when no play has any).
    pub notify: Option<Notifier>,
    /// `--metrics-file`: where to write Prometheus metrics when the run ends.
    pub metrics: Option<PathBuf>,
}

/// Renders the plays' notification sinks before anything runs (a template that does not
/// render or a rendered URL that is not http(s) stops the run here).
pub(super) fn prepare_notifications(loaded: &Loaded) -> Result<Option<Notifier>, CliError> {
    let render = NotifyRender {
        templar: &loaded.templar,
        extra_vars: loaded.extra_vars.clone(),
    };
    Ok(Notifier::prepare(&loaded.playbook, &render)?)
}

/// Runs a loaded, planned playbook with output and Ctrl-C handling; returns the exit code.
pub(super) async fn execute(
    loaded: &Loaded,
    plan: &[PlayPlan],
    options: RunOptions,
    mut control: RunControl,
    mut output: OutputMode,
) -> i32 {
    let (sender, receiver) = mpsc::channel(1024);
    let renderer: Box<dyn Renderer> = if output.json {
        Box::new(JsonRenderer::new(output.run_id.clone()))
    } else {
        match output.style {
            Style::Adhoc => Box::new(AdhocRenderer::new(output.verbosity, output.diff)),
            Style::Playbook => Box::new(HumanRenderer::new(output.verbosity, output.diff)),
            Style::Silent => Box::new(output::Silent),
        }
    };
    let printer = output::spawn(renderer, receiver);
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
            // A second Ctrl-C does not wait for running tasks.
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(exit::INTERRUPTED);
            }
        }
    });
    let notifier = match output.notify.take() {
        Some(notifier) => {
            let (observer, observed) = mpsc::unbounded_channel();
            control.observer = Some(observer);
            let journal = control.journal.clone();
            Some(
                notifier
                    .start(output.journal.clone(), journal, observed)
                    .await,
            )
        }
        None => None,
    };
    let input = RunInput {
        playbook: &loaded.playbook,
        inventory: &loaded.inventory,
        plan,
        extra_vars: loaded.extra_vars.clone(),
        options,
        templar: loaded.templar.clone(),
    };
    let summary = runner::run(input, control, sender, cancel).await;
    // The runner dropped its sender: the printer drains what is left and stops.
    let _ = printer.await;
    if let Some(notifier) = notifier {
        notifier.finish().await;
    }
    let code = summary.exit_code();
    let hosts: Vec<String> = loaded.inventory.hosts().map(|h| h.name.clone()).collect();
    match after_run(&output).and_then(|()| write_run_metrics(&output, &hosts)) {
        Ok(()) => code,
        Err(error) => {
            eprintln!("rpatch: {error}");
            if code == exit::OK {
                exit::ERROR
            } else {
                code
            }
        }
    }
}

/// What follows the recap: the fleet summary of a patching run (text output only) and the
/// `--report` file, both rebuilt from the run's journal.
fn after_run(output: &OutputMode) -> Result<(), String> {
    if output.json && output.report.is_none() {
        return Ok(());
    }
    let summary = RunSummary::from_journal(&output.journal).map_err(|error| error.to_string())?;
    if !output.json && output.style != Style::Silent {
        let lines = output::fleet_lines(&summary);
        if !lines.is_empty() {
            outln!();
            for line in lines {
                outln!("{line}");
            }
        }
    }
    if let Some(report) = &output.report {
        report.write(&summary).map_err(|error| error.to_string())?;
        eprintln!("rpatch: report written to {}", report.path.display());
    }
    Ok(())
}

/// `--metrics-file`: the run's result and its inventory's compliance (from every journal in
/// the runs directory), in Prometheus text format.
fn write_run_metrics(output: &OutputMode, hosts: &[String]) -> Result<(), String> {
    let Some(path) = &output.metrics else {
        return Ok(());
    };
    let summary = RunSummary::from_journal(&output.journal).map_err(|error| error.to_string())?;
    let runs_dir = output
        .journal
        .parent()
        .and_then(std::path::Path::parent)
        .unwrap_or(std::path::Path::new("."));
    let baselines = crate::baseline::BaselineStore::from_env()
        .and_then(|store| store.list())
        .unwrap_or_default();
    let compliance = crate::compliance::compliance(hosts, runs_dir, &baselines);
    let text = crate::compliance::metrics_text(&summary, &compliance);
    crate::compliance::write_metrics(path, &text).map_err(|error| error.to_string())
}

/// `--list-hosts` / `--list-tasks`, in ansible-playbook's layout.
fn list(loaded: &Loaded, args: &RunArgs, limit: Option<&[String]>, tags: &TagFilter) {
    outln!("\nplaybook: {}", args.playbook.display());
    for (number, play) in loaded.playbook.plays.iter().enumerate() {
        let hosts: Vec<String> = crate::runner::plan::play_hosts(
            play,
            &loaded.inventory,
            &loaded.templar,
            &loaded.extra_vars,
        )
        .map(|(_, selection)| selection.hosts)
        .unwrap_or_default()
        .into_iter()
        .filter(|h| limit.is_none_or(|l| l.contains(h)))
        .collect();
        outln!("\n  play #{} ({}): {}", number + 1, play.hosts, play.name);
        if args.list_tags {
            let mut tags = std::collections::BTreeSet::new();
            for section in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
                collect_tags(section, &mut tags);
            }
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            outln!("      TASK TAGS: [{}]", tags.join(", "));
        }
        if args.list_hosts {
            outln!("    pattern: ['{}']", play.hosts);
            outln!("    hosts ({}):", hosts.len());
            for host in &hosts {
                outln!("      {host}");
            }
        }
        if args.list_tasks {
            outln!("    tasks:");
            for section in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
                print_tasks(section, tags);
            }
        }
    }
}

/// Every tag of these tasks (and of the tasks they include).
fn collect_tags(nodes: &[TaskNode], tags: &mut std::collections::BTreeSet<String>) {
    for node in nodes {
        match node {
            TaskNode::Task(task) => {
                tags.extend(task.settings.tags.iter().cloned());
                if let Action::Include { tasks, .. } = &task.action {
                    collect_tags(tasks, tags);
                }
            }
            TaskNode::Block(block) => {
                collect_tags(&block.block, tags);
                collect_tags(&block.rescue, tags);
                collect_tags(&block.always, tags);
            }
        }
    }
}

fn print_tasks(nodes: &[TaskNode], tags: &TagFilter) {
    for node in nodes {
        match node {
            TaskNode::Task(task) => {
                if !tags.should_run(&task.settings.tags) {
                    continue;
                }
                let tag_list: Vec<&str> = task.settings.tags.iter().map(String::as_str).collect();
                outln!(
                    "      {}\tTAGS: [{}]",
                    task.display_name(),
                    tag_list.join(", ")
                );
                if let Action::Include { tasks, .. } = &task.action {
                    print_tasks(tasks, tags);
                }
            }
            TaskNode::Block(block) => {
                print_tasks(&block.block, tags);
                print_tasks(&block.rescue, tags);
                print_tasks(&block.always, tags);
            }
        }
    }
}

/// Reads a password: without echo on a terminal, one line from stdin otherwise.
pub(super) fn read_password(prompt: &str) -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt).map_err(CliError::Password);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(CliError::Password)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
