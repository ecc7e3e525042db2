//! `rpatch run`: load, plan, lock, journal, run with output, map the outcome to an exit code.

use std::io::IsTerminal;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::args::RunArgs;
use super::error::CliError;
use super::journal::{absolute, lock_run, runs_dir, start_journal, Locked};
use super::load::{inventory_paths, load_all, Loaded};
use super::settings::{check_ssh_config, connection_from_flags, run_options};
use crate::output::{self, HumanRenderer, JsonRenderer, Renderer};
use crate::playbook::digest::digest;
use crate::playbook::{Action, TagFilter, TaskNode};
use crate::rolling::clock::Clock;
use crate::rolling::journal::RunSettings;
use crate::rolling::serial::Serial;
use crate::runner::plan::{plan_playbook, PlanInputs, PlayPlan};
use crate::runner::{self, exit, RunControl, RunInput, RunOptions};

/// Runs a playbook and returns the exit code.
pub async fn run(args: RunArgs, verbosity: u8) -> Result<i32, CliError> {
    let clock = Clock::from_env()?;
    let mut loaded = load_all(&args.playbook, &args.sources)?;
    let limit = match &args.limit {
        Some(pattern) => Some(loaded.inventory.select_limit(pattern)?),
        None => None,
    };
    let tags = TagFilter::new(
        args.tags.iter().map(String::as_str),
        args.skip_tags.iter().map(String::as_str),
    );
    if args.list_hosts || args.list_tasks {
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
        serial_override,
        extra_vars: loaded.extra_vars.clone(),
    };
    let plan = plan_playbook(
        &loaded.playbook,
        &loaded.inventory,
        &loaded.templar,
        &inputs,
    )?;
    // Absolute, so the journal means the same files to `rpatch resume` run from anywhere.
    let inventory = inventory_paths(&args.sources)?
        .iter()
        .map(|path| absolute(path))
        .collect::<Result<Vec<_>, _>>()?;
    let playbook = absolute(&args.playbook)?;
    let runs_dir = runs_dir(&args.runs)?;
    let settings = RunSettings {
        inventory: inventory.iter().map(|p| p.display().to_string()).collect(),
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        check: args.check,
        diff: args.diff,
        forks: args.forks as usize,
        become_all: args.connection.escalate,
        user: args.connection.user.clone(),
        force_handlers: args.force_handlers,
        extra_var_names: loaded.extra_vars.keys().cloned().collect(),
        connection: Some(connection_from_flags(&args.connection)?),
        digest: Some(digest(&loaded.playbook)),
    };
    check_ssh_config(&settings)?;
    let become_password = if args.connection.ask_become_pass {
        Some(read_password()?)
    } else {
        None
    };
    let options = run_options(&settings, limit, become_password, verbosity);
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
    };
    let output = OutputMode {
        json: args.json,
        verbosity,
        diff: args.diff,
        run_id: run_id.to_string(),
    };
    Ok(execute(&loaded, &plan, options, control, output).await)
}

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
}

/// Runs a loaded, planned playbook with output and Ctrl-C handling; returns the exit code.
pub(super) async fn execute(
    loaded: &Loaded,
    plan: &[PlayPlan],
    options: RunOptions,
    control: RunControl,
    output: OutputMode,
) -> i32 {
    let (sender, receiver) = mpsc::channel(1024);
    let renderer: Box<dyn Renderer> = if output.json {
        Box::new(JsonRenderer::new(output.run_id))
    } else {
        Box::new(HumanRenderer::new(output.verbosity, output.diff))
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
    summary.exit_code()
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

/// Reads the become password: without echo on a terminal, one line from stdin otherwise.
pub(super) fn read_password() -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("BECOME password: ").map_err(CliError::Password);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(CliError::Password)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
