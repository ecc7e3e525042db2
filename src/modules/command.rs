//! `command`, `shell` and `raw`: run something on the host and report its output.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::{CheckMode, FreeForm, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::{quote, ExecOutput, ExecRequest};
use crate::vars::Value;

/// Arguments of `command`, `shell` and `raw`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandArgs {
    /// The free-form command line.
    #[serde(rename = "_raw_params")]
    raw_params: Option<String>,
    /// The command line, as a named argument.
    cmd: Option<String>,
    /// The program and its arguments, never split or expanded.
    argv: Option<Vec<String>>,
    /// Directory to run in.
    chdir: Option<String>,
    /// Skip when this path exists.
    creates: Option<String>,
    /// Skip unless this path exists.
    removes: Option<String>,
    /// Data for the command's standard input.
    stdin: Option<String>,
    /// Add a newline after `stdin`.
    #[serde(default = "default_true")]
    stdin_add_newline: bool,
    /// Strip trailing newlines from the output.
    #[serde(default = "default_true")]
    strip_empty_ends: bool,
    /// The shell to use (`shell` only).
    executable: Option<String>,
    /// Removed from Ansible in 2.14 (it silenced hints about modules): accepted and ignored,
    /// with a warning, as older playbooks still pass it.
    warn: Option<serde::de::IgnoredAny>,
}

fn default_true() -> bool {
    true
}

/// What `command`/`shell`/`raw` register.
#[derive(Debug, Serialize)]
struct CommandOutcome {
    cmd: String,
    rc: i32,
    stdout: String,
    stderr: String,
    stdout_lines: Vec<String>,
    stderr_lines: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    output_truncated: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    Command,
    Shell,
    Raw,
}

impl Flavor {
    /// The module's name, for warnings.
    fn name(self) -> &'static str {
        match self {
            Flavor::Command => "command",
            Flavor::Shell => "shell",
            Flavor::Raw => "raw",
        }
    }
}

/// A command line given as a string: the command itself, with these `k=v` options pulled
/// out of it (`shell: make chdir=/src`).
const FREE_FORM: FreeForm = FreeForm::Command {
    options: &[
        "chdir",
        "creates",
        "removes",
        "executable",
        "stdin",
        "stdin_add_newline",
        "strip_empty_ends",
        "warn",
    ],
};

/// `command`: the words are quoted so no shell expansion happens.
pub(crate) struct Command;

#[async_trait]
impl Module for Command {
    fn names(&self) -> &'static [&'static str] {
        &["command", "ansible.builtin.command", "ansible.legacy.command"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<CommandArgs>(args, templated)
    }

    fn free_form(&self) -> FreeForm {
        FREE_FORM
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(Flavor::Command, args, ctx).await
    }
}

/// `shell`: the line goes through the shell.
pub(crate) struct Shell;

#[async_trait]
impl Module for Shell {
    fn names(&self) -> &'static [&'static str] {
        &["shell", "ansible.builtin.shell", "ansible.legacy.shell"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<CommandArgs>(args, templated)
    }

    fn free_form(&self) -> FreeForm {
        FREE_FORM
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(Flavor::Shell, args, ctx).await
    }
}

/// `raw`: the line is sent as-is, without escalation or environment.
pub(crate) struct Raw;

#[async_trait]
impl Module for Raw {
    fn names(&self) -> &'static [&'static str] {
        &["raw", "ansible.builtin.raw", "ansible.legacy.raw"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<CommandArgs>(args, templated)
    }

    fn free_form(&self) -> FreeForm {
        FREE_FORM
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(Flavor::Raw, args, ctx).await
    }
}

/// Runs one flavor. Check mode is honoured here: `creates`/`removes` are still evaluated,
/// the command itself is skipped.
async fn run(
    flavor: Flavor,
    args: &Value,
    ctx: &ModuleContext<'_>,
) -> Result<ModuleResult, ModuleError> {
    let args: CommandArgs = args::parse(args)?;
    let line = command_line(flavor, &args)?;
    let warnings = args::ignored(flavor.name(), &[("warn", args.warn.is_some())]);
    if let Some(skip) = guard(args.creates.as_deref(), args.removes.as_deref(), ctx).await {
        return Ok(skip.with_warnings(warnings));
    }
    if ctx.check_mode {
        return Ok(
            ModuleResult::skipped("Command would have run if not in check mode")
                .with_warnings(warnings),
        );
    }
    let mut request = ExecRequest::new(line.clone());
    request.chdir = args.chdir.clone();
    request.stdin = args.stdin.as_ref().map(|data| {
        let mut bytes = data.clone().into_bytes();
        if args.stdin_add_newline {
            bytes.push(b'\n');
        }
        bytes
    });
    let output = if flavor == Flavor::Raw {
        ctx.transport.exec(&request).await?
    } else {
        ctx.exec_request(request).await?
    };
    Ok(outcome(line, &output, args.strip_empty_ends).with_warnings(warnings))
}

fn command_line(flavor: Flavor, args: &CommandArgs) -> Result<String, ArgError> {
    if let Some(argv) = &args.argv {
        return Ok(argv
            .iter()
            .map(|word| quote(word))
            .collect::<Vec<_>>()
            .join(" "));
    }
    let text = args
        .raw_params
        .as_deref()
        .or(args.cmd.as_deref())
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .ok_or_else(|| ArgError::Invalid("no command given".into()))?;
    Ok(match flavor {
        Flavor::Command => {
            let words = shlex::split(text)
                .ok_or_else(|| ArgError::Invalid(format!("cannot split command line: {text}")))?;
            words
                .iter()
                .map(|word| quote(word))
                .collect::<Vec<_>>()
                .join(" ")
        }
        Flavor::Shell => match &args.executable {
            Some(shell) => format!("{} -c {}", quote(shell), quote(text)),
            None => text.to_string(),
        },
        Flavor::Raw => text.to_string(),
    })
}

/// Honours `creates`/`removes`: returns a skip result when the command need not run.
pub(super) async fn guard(
    creates: Option<&str>,
    removes: Option<&str>,
    ctx: &ModuleContext<'_>,
) -> Option<ModuleResult> {
    let (path, want_exists) = match (creates, removes) {
        (Some(path), _) => (path, false),
        (None, Some(path)) => (path, true),
        (None, None) => return None,
    };
    let exists = ctx
        .exec(format!("test -e {}", quote(path)))
        .await
        .map(|output| output.status.success())
        .unwrap_or(false);
    if exists == want_exists {
        return None;
    }
    let why = if want_exists {
        format!("Did not run command since '{path}' does not exist")
    } else {
        format!("Did not run command since '{path}' exists")
    };
    Some(
        ModuleResult::ok()
            .with_msg(why)
            .with_data(&serde_json::json!({"rc": 0, "stdout": "", "stderr": ""})),
    )
}

/// The registered result of a finished command (also `win_command`/`win_shell`'s).
pub(super) fn outcome(cmd: String, output: &ExecOutput, strip: bool) -> ModuleResult {
    let tidy = |text: String| {
        if strip {
            text.trim_end_matches(['\n', '\r']).to_string()
        } else {
            text
        }
    };
    let stdout = tidy(output.stdout_text());
    let stderr = tidy(output.stderr_text());
    let rc = output.status.rc();
    let failure = crate::transport::escalation_failure(&stderr).unwrap_or("non-zero return code");
    let data = CommandOutcome {
        cmd,
        rc,
        stdout_lines: stdout.lines().map(str::to_string).collect(),
        stderr_lines: stderr.lines().map(str::to_string).collect(),
        stdout,
        stderr,
        output_truncated: output.truncated,
    };
    let result = ModuleResult::changed().with_data(&data);
    match output.status {
        crate::transport::ExitStatus::TimedOut => ModuleResult {
            failed: true,
            ..result
        }
        .with_msg("command timed out"),
        status if !status.success() => ModuleResult {
            failed: true,
            ..result
        }
        .with_msg(failure),
        _ => result,
    }
}
