//! Everything a module may use while it runs on one host.

use crate::template::Templar;
use crate::transport::{
    Become, ExecOutput, ExecRequest, LocalTransport, Transport, TransportError,
};
use crate::vars::Value;

/// The host, connection and settings a module runs with.
pub struct ModuleContext<'a> {
    /// The inventory name of the host.
    pub host: &'a str,
    /// How to reach it.
    pub transport: &'a dyn Transport,
    /// Report what would change without changing it.
    pub check_mode: bool,
    /// Produce before/after diffs.
    pub diff: bool,
    /// Privilege escalation for commands, if the task asks for it.
    pub escalation: Option<Become>,
    /// Environment variables for commands (`environment:`).
    pub env: Vec<(String, String)>,
    /// Default limit for each command, unless the module sets its own.
    pub timeout: Option<std::time::Duration>,
    /// The templating engine, for modules that evaluate expressions (`assert`, `debug var=`).
    pub templar: &'a Templar,
    /// The host's variables for this task.
    pub scope: &'a Value,
}

impl<'a> ModuleContext<'a> {
    /// A context for the controller itself with default settings.
    pub fn local(templar: &'a Templar, scope: &'a Value) -> Self {
        Self {
            host: "localhost",
            transport: &LocalTransport,
            check_mode: false,
            diff: false,
            escalation: None,
            env: Vec::new(),
            timeout: None,
            templar,
            scope,
        }
    }

    /// Runs a shell command line on the host with the task's environment and escalation.
    pub async fn exec(&self, command: impl Into<String>) -> Result<ExecOutput, TransportError> {
        self.exec_request(ExecRequest::new(command)).await
    }

    /// Runs a prepared request, adding the task's environment and escalation.
    pub async fn exec_request(
        &self,
        mut request: ExecRequest,
    ) -> Result<ExecOutput, TransportError> {
        if request.timeout.is_none() {
            request.timeout = self.timeout;
        }
        if request.escalation.is_none() {
            request.escalation = self.escalation.clone();
        }
        let mut env = self.env.clone();
        env.append(&mut request.env);
        request.env = env;
        self.transport.exec(&request).await
    }
}
