//! `rpatch check`: load and validate everything, contact nothing.

use super::ansible_cfg::AnsibleConfig;
use super::args::CheckArgs;
use super::error::CliError;
use super::load::load_all_in;
use crate::playbook::TaskNode;
use crate::runner::exit;
use crate::runner::plan;

/// Validates the playbook, roles, inventory and templates; prints a one-line summary.
pub fn check(mut args: CheckArgs) -> Result<i32, CliError> {
    let roles_path = AnsibleConfig::for_sources(&mut args.sources)?;
    let loaded = load_all_in(&args.playbook, None, &args.sources, &roles_path)?;
    let targeted = args
        .limit
        .as_deref()
        .map(|limit| loaded.inventory.select_limit(limit))
        .transpose()?;
    warn_unmatched_patterns(&loaded)?;
    let plays = loaded.playbook.plays.len();
    let tasks: usize = loaded
        .playbook
        .plays
        .iter()
        .map(|play| {
            count(&play.pre_tasks)
                + count(&play.tasks)
                + count(&play.post_tasks)
                + play.handlers.len()
        })
        .sum();
    let hosts = loaded.inventory.hosts().count();
    let limited = targeted.map_or_else(String::new, |targeted| {
        format!(", {} in the limit", targeted.len())
    });
    outln!(
        "{}: OK ({plays} play{}, {tasks} task{}, {hosts} inventory host{}{limited})",
        args.playbook.display(),
        plural(plays),
        plural(tasks),
        plural(hosts)
    );
    Ok(exit::OK)
}

/// Warns, as a run would, about each play's `hosts:` element that matches nothing; a pattern
/// that cannot be evaluated is an error.
pub(super) fn warn_unmatched_patterns(loaded: &super::load::Loaded) -> Result<(), CliError> {
    for play in &loaded.playbook.plays {
        let (_, selection) =
            plan::play_hosts(play, &loaded.inventory, &loaded.templar, &loaded.extra_vars)?;
        plan::warn_unmatched(&selection);
    }
    Ok(())
}

fn count(nodes: &[TaskNode]) -> usize {
    nodes
        .iter()
        .map(|node| match node {
            TaskNode::Task(task) => match &task.action {
                crate::playbook::Action::Include { tasks, .. } => 1 + count(tasks),
                _ => 1,
            },
            TaskNode::Block(block) => {
                count(&block.block) + count(&block.rescue) + count(&block.always)
            }
        })
        .sum()
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
