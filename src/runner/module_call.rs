//! One module call with everything it needs owned, so it can run in place or as a background
//! job (`async:`), and the async semantics themselves: `poll` > 0 waits for the job within its
//! time limit; `poll: 0` leaves it running for `async_status`.

use std::sync::Arc;
use std::time::Duration;

use crate::modules::async_jobs;
use crate::modules::{self, Module, ModuleContext, ModuleResult};
use crate::template::Templar;
use crate::transport::{Become, Transport};
use crate::vars::Value;

/// A module call, rendered and resolved for one host.
pub(super) struct ModuleCall {
    pub module: &'static dyn Module,
    pub args: Value,
    pub host: String,
    pub transport: Arc<dyn Transport>,
    pub check_mode: bool,
    pub diff: bool,
    pub escalation: Option<Become>,
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    pub templar: Arc<Templar>,
    pub scope: Value,
}

impl ModuleCall {
    fn ctx(&self) -> ModuleContext<'_> {
        ModuleContext {
            host: &self.host,
            transport: self.transport.as_ref(),
            check_mode: self.check_mode,
            diff: self.diff,
            escalation: self.escalation.clone(),
            env: self.env.clone(),
            timeout: self.timeout,
            templar: &self.templar,
            scope: &self.scope,
        }
    }

    /// Runs the module now and returns its result.
    pub async fn run(&self) -> ModuleResult {
        modules::run(self.module, &self.args, &self.ctx()).await
    }

    /// Runs the module as an async job with a time limit of `limit`: waits for it when `poll`
    /// is not zero, else starts it in the background and returns at once (Ansible's
    /// fire-and-forget, reported as changed with `finished: 0`).
    pub async fn run_async(self, limit: Duration, poll: Duration) -> ModuleResult {
        if self.check_mode {
            // As Ansible: a check run does not start jobs; the module reports what it would do.
            return self.run().await;
        }
        let jid = async_jobs::new_job_id();
        let results_file = match async_jobs::open_results_file(&self.ctx(), &jid).await {
            Ok(path) => path,
            Err(modules::ModuleError::Transport(error)) => {
                return ModuleResult::from_transport(&error)
            }
            Err(error) => return ModuleResult::failed(error.to_string()),
        };
        async_jobs::job_started(&jid, &results_file);
        if poll.is_zero() {
            let mut started = ModuleResult::changed();
            async_jobs::job_keys(&mut started, &jid, &results_file, false);
            let (job, path) = (jid.clone(), results_file.clone());
            tokio::spawn(async move {
                // Ansible's async wrapper checks its time limit every 5 seconds, so a job is
                // never cut short before then (the `sleep 2 && reboot` idiom with `async: 1`).
                let message = format!(
                    "Job reached maximum time limit of {} seconds.",
                    limit.as_secs()
                );
                let limit = limit.max(Duration::from_secs(5));
                let result = self.finish(&job, &path, limit, message).await;
                async_jobs::job_finished(&job, &result);
            });
            return started;
        }
        let message = format!(
            "async task did not complete within the requested time - {}s",
            limit.as_secs()
        );
        let result = self.finish(&jid, &results_file, limit, message).await;
        async_jobs::job_finished(&jid, &result);
        result
    }

    /// Runs the module within `limit` (else fails with `timeout_message`), adds the job keys and writes the results file.
    async fn finish(
        &self,
        jid: &str,
        results_file: &str,
        limit: Duration,
        timeout_message: String,
    ) -> ModuleResult {
        let mut result = match tokio::time::timeout(limit, self.run()).await {
            Ok(result) => result,
            Err(_) => ModuleResult::failed(timeout_message),
        };
        async_jobs::job_keys(&mut result, jid, results_file, true);
        if !result.unreachable {
            async_jobs::write_results_file(&self.ctx(), results_file, &result).await;
        }
        result
    }
}
