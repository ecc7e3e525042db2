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
}

/// What a host does next.
#[derive(Debug, Clone)]
pub enum Step {
    /// Run this task, with these extra variables from an include.
    Run(Arc<Task>, Vec<Arc<Vars>>),
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
            }],
        }
    }

    /// Runs an included task list next, with the include's variables.
    pub fn enter_include(&mut self, tasks: Arc<Vec<TaskNode>>, vars: Arc<Vars>) {
        self.stack.push(Frame {
            list: List::Tasks(tasks),
            index: 0,
            failing: false,
            vars: Some(vars),
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
                    TaskNode::Task(task) => return Step::Run(task, self.include_vars()),
                    TaskNode::Block(block) => self.stack.push(Frame {
                        list: List::Block(block, Phase::Main),
                        index: 0,
                        failing: false,
                        vars: None,
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
    pub fn task_failed(&mut self) -> FailOutcome {
        match self.propagate_failure() {
            Unwound::Rescued => FailOutcome::Rescued,
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
