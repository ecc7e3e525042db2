//! `cron`: keep one named job in a crontab — a user's (`crontab -l`/`crontab -`) or a file
//! under /etc/cron.d (`cron_file`, with a user field). Each job is the pair of lines Ansible
//! writes: `#Ansible: NAME` and the schedule line after it.
//!
//! A `cron_file` is edited like `blockinfile` edits a file (check mode, `--diff`, atomic and
//! checksum-idempotent through [`file_edit`]); a user's crontab is read with `crontab -l`,
//! edited here and, when it changed and this is not check mode, installed with `crontab -`.
//!
//! Deviations from ansible.builtin.cron: `name` is required (Ansible only warns); `env`,
//! `insertafter`/`insertbefore` and `backup` are not supported; an unnamed job already in the
//! crontab is not adopted; `state: absent` leaves an emptied `cron_file` in place (Ansible
//! deletes it); the `DO NOT EDIT` header some `crontab -l` print is kept as it is.

use async_trait::async_trait;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::file_edit::{self, WriteOptions};
use super::lenient;
use super::remote_file::{host_failure, Attrs};
use super::{CheckMode, Diff, Module, ModuleContext, ModuleError, ModuleResult};
use crate::shell::quote;
use crate::vars::Value;

/// Arguments of `cron`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronArgs {
    /// The job's name, written as the `#Ansible: NAME` line.
    name: Option<String>,
    /// The command (required with `state: present`).
    #[serde(alias = "value")]
    job: Option<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    state: State,
    /// Whose crontab (and the user field of a `cron_file`).
    user: Option<String>,
    /// A file under /etc/cron.d (a bare name) or an absolute path, instead of a user's crontab.
    cron_file: Option<String>,
    #[serde(default = "star", deserialize_with = "field")]
    minute: String,
    #[serde(default = "star", deserialize_with = "field")]
    hour: String,
    #[serde(default = "star", deserialize_with = "field", alias = "dom")]
    day: String,
    #[serde(default = "star", deserialize_with = "field")]
    month: String,
    #[serde(default = "star", deserialize_with = "field", alias = "dow")]
    weekday: String,
    /// `reboot`, `yearly`, `annually`, `monthly`, `weekly`, `daily` or `hourly`.
    special_time: Option<String>,
    /// Write the job commented out.
    #[serde(default, deserialize_with = "lenient::bool")]
    disabled: bool,
}

fn star() -> String {
    "*".into()
}

/// A schedule field written as a number or text.
fn field<'de, D: serde::Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Field {
        Text(String),
        Number(i64),
    }
    Ok(match Field::deserialize(de)? {
        Field::Text(text) => text,
        Field::Number(number) => number.to_string(),
    })
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    #[default]
    Present,
    Absent,
}

const SPECIAL: &[&str] = &[
    "reboot", "yearly", "annually", "monthly", "weekly", "daily", "hourly",
];

/// `cron`: a named job in a crontab.
pub(crate) struct Cron;

#[async_trait]
impl Module for Cron {
    fn names(&self) -> &'static [&'static str] {
        &["cron", "ansible.builtin.cron", "ansible.legacy.cron"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<CronArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: CronArgs = args::parse(args)?;
        cron(&args, ctx).await
    }
}

/// The two lines of a job, decided from the arguments alone.
#[derive(Debug)]
struct Plan {
    marker: String,
    /// The schedule line (None: remove the job).
    line: Option<String>,
}

impl Plan {
    fn new(args: &CronArgs) -> Result<Self, ArgError> {
        let name = args
            .name
            .as_deref()
            .filter(|name| !name.trim().is_empty())
            .ok_or_else(|| ArgError::Invalid("name is required".into()))?;
        let single = |what: &str, text: &str| {
            if text.contains(['\n', '\r']) {
                Err(ArgError::Invalid(format!("{what} must be one line")))
            } else {
                Ok(())
            }
        };
        single("name", name)?;
        let line = match args.state {
            State::Absent => None,
            State::Present => {
                let job = args
                    .job
                    .as_deref()
                    .filter(|job| !job.trim().is_empty())
                    .ok_or_else(|| ArgError::Invalid("job is required with state=present".into()))?;
                single("job", job)?;
                let when = match args.special_time.as_deref() {
                    Some(special) if SPECIAL.contains(&special) => format!("@{special}"),
                    Some(other) => {
                        return Err(ArgError::Invalid(format!(
                            "special_time must be one of {}, not `{other}`",
                            SPECIAL.join(", ")
                        )))
                    }
                    None => {
                        let fields = [
                            &args.minute,
                            &args.hour,
                            &args.day,
                            &args.month,
                            &args.weekday,
                        ];
                        for field in fields {
                            if field.trim().is_empty() || field.split_whitespace().count() != 1 {
                                return Err(ArgError::Invalid(format!(
                                    "invalid schedule field `{field}`"
                                )));
                            }
                        }
                        fields.map(|f| f.trim()).join(" ")
                    }
                };
                let user = match (&args.cron_file, &args.user) {
                    (Some(_), Some(user)) => format!(" {user}"),
                    (Some(_), None) => {
                        return Err(ArgError::Invalid(
                            "To use cron_file=... parameter you must specify user=... as well"
                                .into(),
                        ))
                    }
                    (None, _) => String::new(),
                };
                let hash = if args.disabled { "#" } else { "" };
                Some(format!("{hash}{when}{user} {job}"))
            }
        };
        Ok(Self {
            marker: format!("#Ansible: {name}"),
            line,
        })
    }

    /// The crontab's new text: the job replaced where its marker is, appended when missing,
    /// or removed (its marker and the line after it).
    fn apply(&self, content: &str) -> String {
        let mut lines: Vec<&str> = content.lines().collect();
        let found = lines.iter().position(|line| *line == self.marker);
        match (found, &self.line) {
            (Some(at), Some(line)) => {
                if at + 1 < lines.len() {
                    lines[at + 1] = line;
                } else {
                    lines.push(line);
                }
            }
            (Some(at), None) => {
                let end = (at + 2).min(lines.len());
                lines.drain(at..end);
            }
            (None, Some(line)) => {
                lines.push(&self.marker);
                lines.push(line);
            }
            (None, None) => {}
        }
        let mut out = lines.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }
}

/// The path of a `cron_file`: bare names live in /etc/cron.d.
fn cron_path(file: &str) -> String {
    if file.starts_with('/') {
        file.to_string()
    } else {
        format!("/etc/cron.d/{file}")
    }
}

/// What `cron` registers besides `msg`.
#[derive(Debug, serde::Serialize)]
struct CronOutcome {
    /// The job names the crontab holds afterwards.
    jobs: Vec<String>,
}

fn jobs(content: &str) -> CronOutcome {
    CronOutcome {
        jobs: content
            .lines()
            .filter_map(|line| line.strip_prefix("#Ansible: "))
            .map(String::from)
            .collect(),
    }
}

async fn cron(args: &CronArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let plan = Plan::new(args)?;
    if let Some(file) = &args.cron_file {
        let path = cron_path(file);
        let original = file_edit::read(ctx, &path).await?;
        let old = original
            .content
            .as_deref()
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned());
        let Some(new) = (match (&old, &plan.line) {
            (None, None) => None,
            (old, _) => Some(plan.apply(old.as_deref().unwrap_or(""))),
        }) else {
            return Ok(ModuleResult::ok().with_data(&jobs("")));
        };
        let options = WriteOptions {
            attrs: Attrs::default(),
            backup: false,
            validate: None,
            make_parents: false,
        };
        let result = file_edit::write(ctx, &path, &original, new.as_bytes(), None, options).await?;
        return Ok(result.with_data(&jobs(&new)));
    }

    let user = args
        .user
        .as_deref()
        .map(|user| format!(" -u {}", quote(user)))
        .unwrap_or_default();
    let output = ctx.exec(format!("crontab{user} -l")).await?;
    let old = if output.status.success() {
        output.stdout_text()
    } else if output.stderr_text().contains("no crontab") {
        String::new()
    } else {
        return Err(host_failure("crontab -l failed", &output));
    };
    let new = plan.apply(&old);
    if new == old {
        return Ok(ModuleResult::ok().with_data(&jobs(&new)));
    }
    if !ctx.check_mode {
        let output = ctx
            .exec(format!("printf '%s' {} | crontab{user} -", quote(&new)))
            .await?;
        if !output.status.success() {
            return Err(host_failure("Unable to write crontab", &output));
        }
    }
    let mut result = ModuleResult::changed().with_data(&jobs(&new));
    if ctx.diff {
        result.diff = Some(Diff {
            before: old,
            after: new,
            header: format!("crontab{user}").trim().to_string(),
        });
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::testing::{
        assert_changed, assert_failed, assert_ok, field as result_field, run, Mode, CHECK, RUN,
    };
    use super::*;
    use serde_json::json;

    fn plan(args: serde_json::Value) -> Result<Plan, ArgError> {
        let args: CronArgs = serde_json::from_value(args).expect("args");
        Plan::new(&args)
    }

    #[test]
    fn job_lines_are_written_as_ansible_writes_them() {
        let p = plan(json!({"name": "backup", "job": "/bin/backup", "minute": 5, "hour": "2"}))
            .expect("plan");
        assert_eq!(p.marker, "#Ansible: backup");
        assert_eq!(p.line.as_deref(), Some("5 2 * * * /bin/backup"));
        let p = plan(json!({"name": "b", "job": "x", "special_time": "reboot",
            "cron_file": "b", "user": "root", "disabled": true}))
        .expect("plan");
        assert_eq!(p.line.as_deref(), Some("#@reboot root x"));
        assert!(plan(json!({"name": "b", "job": "x", "cron_file": "b"})).is_err());
        assert!(plan(json!({"name": "b", "job": "x", "special_time": "often"})).is_err());
        assert!(plan(json!({"job": "x"})).is_err());
        assert!(plan(json!({"name": "b"})).is_err());
        assert!(plan(json!({"name": "b", "job": "x", "minute": "1 2"})).is_err());
    }

    #[test]
    fn apply_replaces_appends_and_removes_the_named_job() {
        let p = plan(json!({"name": "a", "job": "new"})).expect("plan");
        let text = "MAILTO=x\n#Ansible: a\n1 * * * * old\n#Ansible: b\n* * * * * b\n";
        let updated = p.apply(text);
        assert_eq!(
            updated,
            "MAILTO=x\n#Ansible: a\n* * * * * new\n#Ansible: b\n* * * * * b\n"
        );
        assert_eq!(p.apply(&updated), updated);
        assert_eq!(p.apply(""), "#Ansible: a\n* * * * * new\n");
        let gone = plan(json!({"name": "a", "state": "absent"})).expect("plan");
        assert_eq!(gone.apply(text), "MAILTO=x\n#Ansible: b\n* * * * * b\n");
        assert_eq!(gone.apply("x\n"), "x\n");
    }

    #[tokio::test]
    async fn a_cron_file_is_edited_once_and_check_mode_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rpatch-job");
        let args = json!({"name": "nightly", "job": "/bin/true", "hour": 3, "minute": 0,
            "user": "root", "cron_file": path});
        let both = Mode {
            check: true,
            diff: true,
        };
        let checked = run(Cron, args.clone(), both).await;
        assert_changed(&checked);
        assert_eq!(
            checked.diff.expect("diff").after,
            "#Ansible: nightly\n0 3 * * * root /bin/true\n"
        );
        assert!(!path.exists());
        let created = run(Cron, args.clone(), RUN).await;
        assert_changed(&created);
        assert_eq!(result_field(&created, "jobs"), json!(["nightly"]));
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "#Ansible: nightly\n0 3 * * * root /bin/true\n"
        );
        assert_ok(&run(Cron, args, CHECK).await);
        let absent = json!({"name": "nightly", "state": "absent", "cron_file": path});
        assert_changed(&run(Cron, absent.clone(), RUN).await);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "");
        assert_ok(&run(Cron, absent, RUN).await);
    }

    #[tokio::test]
    async fn argument_mistakes_are_named() {
        assert_failed(&run(Cron, json!({"job": "x"}), RUN).await, "name is required");
        assert_failed(
            &run(Cron, json!({"name": "a", "job": "x", "minuet": 1}), RUN).await,
            "unsupported argument `minuet`",
        );
    }

    #[test]
    fn bare_cron_file_names_live_in_cron_d() {
        assert_eq!(cron_path("rpatch"), "/etc/cron.d/rpatch");
        assert_eq!(cron_path("/tmp/x"), "/tmp/x");
    }
}
