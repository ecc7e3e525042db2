//! Whole-play checks that need more than one task: notified handlers exist.

use super::error::PlaybookError;
use super::model::{Play, TaskNode};
use crate::diagnostic::did_you_mean;

/// Fails when a task notifies a handler name or topic that no handler answers to.
pub fn check_notify(play: &Play) -> Result<(), PlaybookError> {
    let mut names: Vec<&str> = Vec::new();
    for handler in &play.handlers {
        if let Some(name) = &handler.name {
            names.push(name);
        }
        names.extend(handler.listen.iter().map(String::as_str));
    }
    let sections = [&play.pre_tasks, &play.tasks, &play.post_tasks];
    let handler_nodes: Vec<TaskNode> = play.handlers.iter().cloned().map(TaskNode::Task).collect();
    for list in sections.into_iter().chain(std::iter::once(&handler_nodes)) {
        check_list(list, &names)?;
    }
    Ok(())
}

fn check_list(list: &[TaskNode], names: &[&str]) -> Result<(), PlaybookError> {
    for node in list {
        match node {
            TaskNode::Task(task) => {
                for notified in &task.notify {
                    if notified.contains("{{") || names.contains(&notified.as_str()) {
                        continue;
                    }
                    return Err(PlaybookError::UnknownHandler {
                        name: notified.clone(),
                        suggestion: did_you_mean(notified, names.iter().copied()),
                        at: task.at.clone(),
                    });
                }
                if let super::model::Action::Include { tasks, .. } = &task.action {
                    check_list(tasks, names)?;
                }
            }
            TaskNode::Block(block) => {
                check_list(&block.block, names)?;
                check_list(&block.rescue, names)?;
                check_list(&block.always, names)?;
            }
        }
    }
    Ok(())
}
