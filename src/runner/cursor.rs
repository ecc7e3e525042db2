//! A host's position in a task list: the state machine behind block/rescue/always.
//!
//! Each host has its own cursor, so hosts can be in different branches (one rescuing, others
//! going on) while the play still advances task by task.

use std::sync::Arc;

use crate::playbook::{Block, Task, TaskNode};
use crate::vars::Vars;

/// Which part of a block a frame walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Main,
    Rescue,
    Always,
}

/// The list a frame walks.
#[derive(Debug, Clone)]
enum List {
    Tasks(Arc<Vec<TaskNode>>),
    Block(Arc<Block>, Phase),
}

impl List {
    fn nodes(&self) -> &[TaskNode] {
        match self {
            Self::Tasks(nodes) => nodes,
            Self::Block(block, Phase::Main) => &block.block,
            Self::Block(block, Phase::Rescue) => &block.rescue,
            Self::Block(block, Phase::Always) => &block.always,
        }
    }
}

#[derive(Debug, Clone)]
struct Frame {
    list: List,
    index: usize,
    /// A failure is pending: after `always`, it propagates to the parent.
    failing: bool,
    /// Variables of the `include_tasks` (loop item included) this frame came from.
    vars: Option<Arc<Vars>>,
    /// The id of the include task this frame's tasks came from.
    origin: Option<usize>,
}

/// What a host does next.
#[derive(Debug, Clone)]
pub enum Step {
    /// Run this task, with these extra variables from an include, at this place in the
    /// play's order ([`Cursor`] orders tasks by it: the ids of the includes the task came
    /// through, then its own).
    Run(Arc<Task>, Vec<Arc<Vars>>, Vec<usize>),
    /// A failure nothing rescued has finished running `always` sections: the host has failed.
    Failed,
    /// The list is done.
    Done,
}

/// What a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// A `rescue` section takes over: the failure is counted as rescued.
    Rescued,
    /// No rescue, but `always` sections run before the host fails ([`Step::Failed`]).
    AlwaysThenFail,
    /// No rescue and nothing left to run: the host has failed.
    HostFailed,
}

/// Where a failure went while unwinding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unwound {
    Rescued,
    Failed,
}

/// A host's position in a task list.
#[derive(Debug, Clone)]
pub struct Cursor {
    stack: Vec<Frame>,
}

impl Cursor {
    /// Starts at the top of a task list.
    pub fn new(tasks: Arc<Vec<TaskNode>>) -> Self {
        Self {
            stack: vec![Frame {
                list: List::Tasks(tasks),
                index: 0,
                failing: false,
                vars: None,
                origin: None,
            }],
        }
    }

    /// Runs an included task list next, with the include's variables; `origin` is the id of
    /// the include task (tasks loaded at run time are ordered after it, before the next one).
    pub fn enter_include(&mut self, tasks: Arc<Vec<TaskNode>>, vars: Arc<Vars>, origin: usize) {
        self.stack.push(Frame {
            list: List::Tasks(tasks),
            index: 0,
            failing: false,
            vars: Some(vars),
            origin: Some(origin),
        });
    }

    /// The next step for this host.
    pub fn next_step(&mut self) -> Step {
        loop {
            let Some(frame) = self.stack.last_mut() else {
                return Step::Done;
            };
            if let Some(node) = frame.list.nodes().get(frame.index).cloned() {
                frame.index += 1;
                match node {
                    TaskNode::Task(task) => {
                        let mut order: Vec<usize> =
                            self.stack.iter().filter_map(|frame| frame.origin).collect();
                        order.push(task.id);
                        return Step::Run(task, self.include_vars(), order);
                    }
                    TaskNode::Block(block) => self.stack.push(Frame {
                        list: List::Block(block, Phase::Main),
                        index: 0,
                        failing: false,
                        vars: None,
                        origin: None,
                    }),
                }
                continue;
            }
            match &frame.list {
                List::Block(block, Phase::Main | Phase::Rescue) => {
                    frame.list = List::Block(block.clone(), Phase::Always);
                    frame.index = 0;
                }
                List::Block(_, Phase::Always) | List::Tasks(_) => {
                    let failing = frame.failing;
                    self.stack.pop();
                    if failing
                        && self.propagate_failure() == Unwound::Failed
                        && self.stack.is_empty()
                    {
                        return Step::Failed;
                    }
                }
            }
        }
    }

    /// Records that the task just returned by [`Self::next_step`] failed.
    ///
    /// A failure that a `rescue` further out will catch counts as rescued at once, even when
    /// inner `always` sections run first (Ansible counts it so).
    pub fn task_failed(&mut self) -> FailOutcome {
        let rescued_further_out = self.stack.iter().any(
            |frame| matches!(&frame.list, List::Block(block, Phase::Main) if !block.rescue.is_empty()),
        );
        match self.propagate_failure() {
            Unwound::Rescued => FailOutcome::Rescued,
            Unwound::Failed if rescued_further_out => FailOutcome::Rescued,
            Unwound::Failed if self.stack.is_empty() => FailOutcome::HostFailed,
            Unwound::Failed => FailOutcome::AlwaysThenFail,
        }
    }

    /// Moves the failure to the nearest enclosing block that can handle it.
    fn propagate_failure(&mut self) -> Unwound {
        while let Some(frame) = self.stack.last_mut() {
            match &frame.list {
                List::Block(block, Phase::Main) if !block.rescue.is_empty() => {
                    frame.list = List::Block(block.clone(), Phase::Rescue);
                    frame.index = 0;
                    return Unwound::Rescued;
                }
                List::Block(block, Phase::Main | Phase::Rescue) => {
                    frame.list = List::Block(block.clone(), Phase::Always);
                    frame.index = 0;
                    frame.failing = true;
                    return Unwound::Failed;
                }
                List::Block(_, Phase::Always) | List::Tasks(_) => {
                    self.stack.pop();
                }
            }
        }
        Unwound::Failed
    }

    fn include_vars(&self) -> Vec<Arc<Vars>> {
        self.stack
            .iter()
            .filter_map(|frame| frame.vars.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::{load, LoadOptions, Play};
    use crate::template::Templar;

    /// Loads a one-play playbook whose tasks are `debug` tasks named after their position.
    fn play(tasks: &str) -> Play {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.yml");
        std::fs::write(&path, format!("- hosts: all\n  tasks:\n{tasks}")).expect("write");
        let mut playbook =
            load(&path, &Templar::new(), &LoadOptions::default()).expect("valid playbook");
        playbook.plays.remove(0)
    }

    /// Walks the cursor, failing the tasks named in `failing`; returns the names run and the end.
    fn walk(play: &Play, failing: &[&str]) -> (Vec<String>, &'static str) {
        let mut cursor = Cursor::new(Arc::new(play.tasks.clone()));
        let mut ran = Vec::new();
        loop {
            match cursor.next_step() {
                Step::Run(task, _, _) => {
                    let name = task.name.clone().unwrap_or_default();
                    ran.push(name.clone());
                    if failing.contains(&name.as_str())
                        && cursor.task_failed() == FailOutcome::HostFailed
                    {
                        return (ran, "host failed at once");
                    }
                }
                Step::Failed => return (ran, "failed after always"),
                Step::Done => return (ran, "done"),
            }
        }
    }

    const NESTED: &str = "    - block:\n        - name: a\n          debug: {}\n        - block:\n            - name: b\n              debug: {}\n          always:\n            - name: inner-always\n              debug: {}\n        - name: c\n          debug: {}\n      rescue:\n        - name: rescue\n          debug: {}\n      always:\n        - name: outer-always\n          debug: {}\n    - name: after\n      debug: {}\n";

    #[test]
    fn a_failure_in_a_nested_block_runs_inner_always_then_the_outer_rescue() {
        let (ran, end) = walk(&play(NESTED), &["b"]);
        assert_eq!(
            ran,
            ["a", "b", "inner-always", "rescue", "outer-always", "after"]
        );
        assert_eq!(end, "done");
    }

    #[test]
    fn a_failure_an_outer_rescue_catches_counts_as_rescued_even_before_inner_always() {
        let mut cursor = Cursor::new(Arc::new(play(NESTED).tasks.clone()));
        let mut outcomes = Vec::new();
        while let Step::Run(task, _, _) = cursor.next_step() {
            if task.name.as_deref() == Some("b") {
                outcomes.push(cursor.task_failed());
            }
        }
        assert_eq!(outcomes, [FailOutcome::Rescued]);
    }

    #[test]
    fn a_failing_rescue_runs_always_and_then_fails_the_host() {
        let (ran, end) = walk(&play(NESTED), &["b", "rescue"]);
        assert_eq!(ran, ["a", "b", "inner-always", "rescue", "outer-always"]);
        assert_eq!(end, "failed after always");
    }

    #[test]
    fn a_failure_outside_any_block_ends_the_host_immediately() {
        let (ran, end) = walk(&play(NESTED), &["after"]);
        assert_eq!(
            ran,
            ["a", "b", "inner-always", "c", "outer-always", "after"]
        );
        assert_eq!(end, "host failed at once");
    }

    #[test]
    fn a_failure_in_always_propagates_to_the_enclosing_block() {
        let (ran, end) = walk(&play(NESTED), &["inner-always"]);
        assert_eq!(
            ran,
            ["a", "b", "inner-always", "rescue", "outer-always", "after"]
        );
        assert_eq!(end, "done");
    }
}
