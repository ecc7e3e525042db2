//! What a gate needs from the run ([`GateContext`]) and what it reports back ([`GateOutcome`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::template::Templar;
use crate::transport::Transport;
use crate::vars::Value;

/// Hosts by inventory name, each with the transport that reaches it.
pub type HostList = Vec<(String, Arc<dyn Transport>)>;

/// Looks up the hosts of an inventory group for `on_hosts` gates; `None` for an unknown group.
pub type GroupResolver<'a> = &'a (dyn Fn(&str) -> Option<HostList> + Send + Sync);

/// How many hosts an `on_hosts` gate checks at once unless told otherwise.
pub const DEFAULT_GATE_FORKS: usize = 32;

/// The run's side of a gate: variables for templating, the hosts it may run on, Ctrl-C.
pub struct GateContext<'a> {
    /// Renders the gate's templated strings.
    pub templar: &'a Templar,
    /// The play's variables (play vars, extra vars) for rendering.
    pub scope: &'a Value,
    /// The hosts of the batch just finished (`on_hosts` without `group`).
    pub batch_hosts: HostList,
    /// Where `on_hosts` gates with a `group` find its hosts.
    pub groups: Option<GroupResolver<'a>>,
    /// Cancelled on Ctrl-C (or a halt): the gate stops waiting and reports itself cancelled.
    pub cancel: CancellationToken,
    /// At most this many hosts run an `on_hosts` command at once (`--forks`).
    pub forks: usize,
}

impl<'a> GateContext<'a> {
    /// A context with no hosts and no groups.
    pub fn new(templar: &'a Templar, scope: &'a Value, cancel: CancellationToken) -> Self {
        Self {
            templar,
            scope,
            batch_hosts: Vec::new(),
            groups: None,
            cancel,
            forks: DEFAULT_GATE_FORKS,
        }
    }

    /// Sets the hosts of the batch just finished.
    pub fn with_batch_hosts(mut self, hosts: HostList) -> Self {
        self.batch_hosts = hosts;
        self
    }

    /// Sets how groups are resolved for `on_hosts` gates.
    pub fn with_groups(mut self, groups: GroupResolver<'a>) -> Self {
        self.groups = Some(groups);
        self
    }

    /// Sets how many hosts are checked at once (at least 1).
    pub fn with_forks(mut self, forks: usize) -> Self {
        self.forks = forks.max(1);
        self
    }

    /// Renders one of the gate's strings; the error names what was being rendered.
    pub(crate) fn render(&self, what: &str, text: &str) -> Result<String, String> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(text.to_string());
        }
        self.templar
            .render_to_string(text, self.scope)
            .map_err(|error| format!("cannot render {what}: {error}"))
    }

    /// The hosts an `on_hosts` gate runs on.
    pub(crate) fn hosts(&self, group: Option<&str>) -> Result<HostList, String> {
        let hosts = match group {
            None => self.batch_hosts.clone(),
            Some(group) => {
                let resolver = self
                    .groups
                    .ok_or_else(|| format!("group `{group}` cannot be resolved here"))?;
                resolver(group).ok_or_else(|| format!("unknown group `{group}`"))?
            }
        };
        if hosts.is_empty() {
            return Err(match group {
                None => "no hosts in this batch to run the check on".to_string(),
                Some(group) => format!("group `{group}` has no hosts"),
            });
        }
        Ok(hosts)
    }
}

impl fmt::Debug for GateContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GateContext")
            .field(
                "batch_hosts",
                &self.batch_hosts.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("groups", &self.groups.is_some())
            .field("forks", &self.forks)
            .finish_non_exhaustive()
    }
}

/// How a gate ended. Messages never hold secrets (no URL userinfo, no header values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateOutcome {
    /// True when an attempt passed.
    pub passed: bool,
    /// Attempts made (0 when the gate could not even start, e.g. a template error).
    pub attempts: u32,
    /// What the last attempt found.
    pub message: String,
    /// Time from the first attempt to the end.
    pub elapsed: Duration,
    /// True when the run was cancelled while the gate ran (then `passed` is false).
    pub cancelled: bool,
}
