//! `--start-at-task`: drop every task before the first one with a given name, as
//! ansible-playbook does (handlers stay; a block that holds the task keeps its rescue/always).

use std::sync::Arc;

use super::model::{Block, Playbook, Task, TaskNode};

/// Removes the tasks of every play that come before the first task named `name` (its own name
/// or `role : name`); returns false, changing nothing, when no task has that name.
pub fn start_at_task(playbook: &mut Playbook, name: &str) -> bool {
    let mut probe = false;
    for play in &playbook.plays {
        for section in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
            trimmed(section, name, &mut probe);
        }
    }
    if !probe {
        return false;
    }
    let mut found = false;
    for play in &mut playbook.plays {
        for section in [&mut play.pre_tasks, &mut play.tasks, &mut play.post_tasks] {
            *section = trimmed(section, name, &mut found);
        }
    }
    true
}

fn named(task: &Task, name: &str) -> bool {
    task.name.as_deref() == Some(name) || task.display_name() == name
}

/// The nodes from the named task on (all of them once `found`).
fn trimmed(nodes: &[TaskNode], name: &str, found: &mut bool) -> Vec<TaskNode> {
    let mut kept = Vec::new();
    for node in nodes {
        if *found {
            kept.push(node.clone());
            continue;
        }
        match node {
            TaskNode::Task(task) => {
                if named(task, name) {
                    *found = true;
                    kept.push(node.clone());
                }
            }
            TaskNode::Block(block) => {
                let inner = trimmed(&block.block, name, found);
                if *found {
                    kept.push(TaskNode::Block(Arc::new(Block {
                        name: block.name.clone(),
                        block: inner,
                        rescue: block.rescue.clone(),
                        always: block.always.clone(),
                        at: block.at.clone(),
                    })));
                }
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::{load, LoadOptions};
    use crate::template::Templar;

    fn names(nodes: &[TaskNode]) -> Vec<String> {
        nodes
            .iter()
            .flat_map(|node| match node {
                TaskNode::Task(task) => vec![task.display_name()],
                TaskNode::Block(block) => names(&block.block),
            })
            .collect()
    }

    #[test]
    fn tasks_before_the_named_one_are_dropped_in_blocks_and_later_plays_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("site.yml");
        std::fs::write(
            &path,
            "- hosts: all\n  tasks:\n    - name: one\n      debug: msg=1\n    - block:\n        - name: two\n          debug: msg=2\n        - name: three\n          debug: msg=3\n- hosts: all\n  tasks:\n    - name: four\n      debug: msg=4\n",
        )
        .expect("write");
        let mut playbook = load(&path, &Templar::new(), &LoadOptions::default()).expect("playbook");
        assert!(!start_at_task(&mut playbook, "nowhere"));
        assert_eq!(names(&playbook.plays[0].tasks), ["one", "two", "three"]);
        assert!(start_at_task(&mut playbook, "three"));
        assert_eq!(names(&playbook.plays[0].tasks), ["three"]);
        assert_eq!(names(&playbook.plays[1].tasks), ["four"]);
    }
}
