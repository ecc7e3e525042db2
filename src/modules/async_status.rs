//! `async_status` and the table of background jobs it reads: tasks run with `async:` are jobs
//! the runner starts on the controller (over the host's connection), registered here under
//! an Ansible-style job id; `async_status: jid=...` reports whether one has finished and, once
//! it has, its result.
//!
//! The table lives for the rpatch process: a fire-and-forget job (`poll: 0`) that outlives the
//! run stops with it. As Ansible does, each job's status is also written to `results_file` on
//! the host (`~/.ansible_async/<jid>`, owner-only), which `mode: cleanup` removes.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard};

use async_trait::async_trait;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::ExecRequest;
use crate::vars::Value;

/// Where a job stands.
#[derive(Debug, Clone)]
enum JobState {
    /// Still running.
    Running,
    /// Done, with the module's result (job keys included).
    Finished(Box<ModuleResult>),
}

/// A background job: where its results file is, and how it stands.
#[derive(Debug, Clone)]
struct Job {
    results_file: String,
    state: JobState,
}

static JOBS: LazyLock<Mutex<HashMap<String, Job>>> = LazyLock::new(Mutex::default);

/// The table, even if a panicking job poisoned the lock (its entries are still whole values).
fn jobs() -> MutexGuard<'static, HashMap<String, Job>> {
    JOBS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A new job id in Ansible's shape: `j` + 12 digits + `.` + the controller's process id.
pub(crate) fn new_job_id() -> String {
    let mut bytes = [0u8; 8];
    // A clock-derived fallback if the OS has no randomness to give: ids need only be unique.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        bytes = (nanos as u64).to_le_bytes();
    }
    let digits = u64::from_le_bytes(bytes) % 1_000_000_000_000;
    format!("j{digits:012}.{}", std::process::id())
}

/// Records a started job.
pub(crate) fn job_started(jid: &str, results_file: &str) {
    jobs().insert(
        jid.to_string(),
        Job {
            results_file: results_file.to_string(),
            state: JobState::Running,
        },
    );
}

/// Records a job's final result.
pub(crate) fn job_finished(jid: &str, result: &ModuleResult) {
    if let Some(job) = jobs().get_mut(jid) {
        job.state = JobState::Finished(Box::new(result.clone()));
    }
}

/// The job keys Ansible adds to a result: id, `started`, `finished`, `results_file`.
pub(crate) fn job_keys(result: &mut ModuleResult, jid: &str, results_file: &str, finished: bool) {
    result
        .data
        .insert("ansible_job_id".into(), Value::from(jid));
    result.data.insert("started".into(), Value::from(1));
    result
        .data
        .insert("finished".into(), Value::from(i32::from(finished)));
    result
        .data
        .insert("results_file".into(), Value::from(results_file));
}

/// Creates `~/.ansible_async` (owner-only) on the host and returns the job's results file,
/// with a first status in it, as Ansible's async wrapper leaves one.
pub(crate) async fn open_results_file(
    ctx: &ModuleContext<'_>,
    jid: &str,
) -> Result<String, ModuleError> {
    let script = format!(
        "umask 077 && mkdir -p \"$HOME/.ansible_async\" && f=\"$HOME/.ansible_async/\"{} && \
         cat > \"$f\" && printf '%s' \"$f\"",
        crate::transport::quote(jid)
    );
    let first = serde_json::json!({"started": 1, "finished": 0, "ansible_job_id": jid});
    let mut request = ExecRequest::new(script);
    request.stdin = Some(first.to_string().into_bytes());
    let output = ctx.exec_request(request).await?;
    if !output.status.success() {
        return Err(ModuleError::Failed(format!(
            "could not create the async results file: {}",
            output.stderr_text().trim()
        )));
    }
    Ok(output.stdout_text().trim().to_string())
}

/// Writes a finished job's result to its results file on the host; a host that is gone (a
/// job that rebooted it) keeps the result in the controller's table only.
pub(crate) async fn write_results_file(ctx: &ModuleContext<'_>, path: &str, result: &ModuleResult) {
    let mut request = ExecRequest::new(format!(
        "umask 077 && cat > {}",
        crate::transport::quote(path)
    ));
    request.stdin = Some(crate::vars::to_json(&result.to_value()).to_string().into_bytes());
    // Best effort by design: the result the playbook reads is the controller's.
    let _ = ctx.exec_request(request).await;
}

/// Arguments of `async_status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AsyncStatusArgs {
    /// The job id a task with `async:` registered as `ansible_job_id`.
    jid: String,
    /// `status` (default) or `cleanup` (forget the job and remove its results file).
    #[serde(default = "default_mode")]
    mode: Mode,
}

#[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Status,
    Cleanup,
}

fn default_mode() -> Mode {
    Mode::Status
}

/// `async_status`: how a background job stands.
pub(crate) struct AsyncStatus;

#[async_trait]
impl Module for AsyncStatus {
    fn names(&self) -> &'static [&'static str] {
        &[
            "async_status",
            "ansible.builtin.async_status",
            "ansible.legacy.async_status",
        ]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<AsyncStatusArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: AsyncStatusArgs = args::parse(args)?;
        let job = jobs().get(&args.jid).cloned();
        let Some(job) = job else {
            let mut result =
                ModuleResult::failed(format!("could not find job `{}`", args.jid));
            result
                .data
                .insert("ansible_job_id".into(), Value::from(args.jid.as_str()));
            result.data.insert("started".into(), Value::from(1));
            result.data.insert("finished".into(), Value::from(1));
            return Ok(result);
        };
        if args.mode == Mode::Cleanup {
            jobs().remove(&args.jid);
            ctx.exec(format!("rm -f {}", crate::transport::quote(&job.results_file)))
                .await?;
            let mut result = ModuleResult::ok();
            result
                .data
                .insert("ansible_job_id".into(), Value::from(args.jid.as_str()));
            result.data.insert("erased".into(), Value::from(job.results_file));
            return Ok(result);
        }
        Ok(match job.state {
            JobState::Running => {
                let mut result = ModuleResult::ok();
                job_keys(&mut result, &args.jid, &job.results_file, false);
                result
            }
            JobState::Finished(result) => *result,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Templar;

    async fn status(jid: &str) -> ModuleResult {
        let templar = Templar::new();
        let scope = Value::from(());
        let ctx = ModuleContext::local(&templar, &scope);
        let args = crate::vars::from_json(&serde_json::json!({ "jid": jid }));
        super::super::run(&AsyncStatus, &args, &ctx).await
    }

    #[test]
    fn job_ids_look_like_ansibles() {
        let jid = new_job_id();
        let (digits, pid) = jid
            .strip_prefix('j')
            .and_then(|rest| rest.split_once('.'))
            .expect("j<digits>.<pid>");
        assert_eq!(digits.len(), 12, "{jid}");
        assert!(digits.chars().all(|c| c.is_ascii_digit()), "{jid}");
        assert_eq!(pid, std::process::id().to_string());
        assert_ne!(new_job_id(), jid);
    }

    #[tokio::test]
    async fn status_of_a_job_is_running_then_its_result_with_the_job_keys() {
        let jid = new_job_id();
        job_started(&jid, "/nowhere/results");
        let running = status(&jid).await;
        assert!(!running.failed && !running.changed, "{running:?}");
        assert_eq!(running.data["finished"].as_i64(), Some(0));
        assert_eq!(running.data["started"].as_i64(), Some(1));
        assert_eq!(running.data["ansible_job_id"].as_str(), Some(jid.as_str()));
        let mut done = ModuleResult::changed();
        done.data.insert("rc".into(), Value::from(0));
        job_keys(&mut done, &jid, "/nowhere/results", true);
        job_finished(&jid, &done);
        let finished = status(&jid).await;
        assert!(finished.changed, "{finished:?}");
        assert_eq!(finished.data["finished"].as_i64(), Some(1));
        assert_eq!(finished.data["rc"].as_i64(), Some(0));
    }

    #[tokio::test]
    async fn an_unknown_job_id_fails_naming_it() {
        let result = status("j000000000000.1").await;
        assert!(result.failed);
        assert_eq!(
            result.msg.as_deref(),
            Some("could not find job `j000000000000.1`")
        );
    }
}
