//! `script`: copy a script from the controller to the host and run it there with its
//! arguments, reporting its output as `command` does.
//!
//! One round trip: the script travels on the command's standard input into a private
//! temporary file, runs (through `executable` when given, else by its own `#!` line), and is
//! removed whatever its exit status. It is found as `copy` finds `src`: in the role's and the
//! playbook's `files/` directories first. `creates`/`removes` skip it as for `command`; in
//! check mode it does not run, as Ansible's `script` without check-mode support.

use async_trait::async_trait;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::command::{guard, outcome};
use super::remote_file;
use super::{CheckMode, FreeForm, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::{quote, ExecRequest};
use crate::vars::Value;

/// Arguments of `script`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptArgs {
    /// The free-form `path arg...`.
    #[serde(rename = "_raw_params")]
    raw_params: Option<String>,
    /// The same, as a named argument.
    cmd: Option<String>,
    /// Directory to run in.
    chdir: Option<String>,
    /// Skip when this path exists on the host.
    creates: Option<String>,
    /// Skip unless this path exists on the host.
    removes: Option<String>,
    /// The interpreter to run the script with (`/usr/bin/python3`).
    executable: Option<String>,
    /// Ansible's decryption of vaulted scripts: accepted, scripts are read as they are.
    #[serde(default)]
    #[allow(dead_code)] // Read only to accept it.
    decrypt: Option<serde::de::IgnoredAny>,
}

const FREE_FORM: FreeForm = FreeForm::Command {
    options: &["chdir", "creates", "removes", "executable", "decrypt"],
};

/// `script`: run a controller script on the host.
pub(crate) struct Script;

#[async_trait]
impl Module for Script {
    fn names(&self) -> &'static [&'static str] {
        &["script", "ansible.builtin.script", "ansible.legacy.script"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<ScriptArgs>(args, templated)
    }

    fn free_form(&self) -> FreeForm {
        FREE_FORM
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: ScriptArgs = args::parse(args)?;
        script(&args, ctx).await
    }
}

/// The script's path and its arguments (kept as the user wrote them, for the host's shell).
fn split(args: &ScriptArgs) -> Result<(String, String), ArgError> {
    let text = args
        .raw_params
        .as_deref()
        .or(args.cmd.as_deref())
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .ok_or_else(|| ArgError::Invalid("no script given".into()))?;
    let words = shlex::split(text)
        .ok_or_else(|| ArgError::Invalid(format!("cannot split `{text}`")))?;
    let path = words.first().cloned().unwrap_or_default();
    let rest = text
        .split_once(char::is_whitespace)
        .map(|(_, rest)| rest.trim().to_string())
        .unwrap_or_default();
    Ok((path, rest))
}

async fn script(args: &ScriptArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let (path, rest) = split(args)?;
    let local = remote_file::find_local(&path, "files", ctx)?;
    let body = tokio::fs::read(&local).await.map_err(|error| {
        ModuleError::Failed(format!("cannot read script {}: {error}", local.display()))
    })?;
    if let Some(skip) = guard(args.creates.as_deref(), args.removes.as_deref(), ctx).await {
        return Ok(skip);
    }
    if ctx.check_mode {
        return Ok(ModuleResult::skipped(
            "Script would have run if not in check mode",
        ));
    }
    let run = match &args.executable {
        Some(interpreter) => format!("{} \"$t\"", quote(interpreter)),
        None => "\"$t\"".to_string(),
    };
    let cd = match &args.chdir {
        Some(dir) => format!("cd {} || exit 1\n", remote_file::shell_path(dir)),
        None => String::new(),
    };
    let line = format!(
        "t=$(mktemp) || exit 1\ntrap 'rm -f -- \"$t\"' EXIT\ncat > \"$t\" && chmod 700 \"$t\" || exit 1\n\
         {cd}{run} {rest} </dev/null\n"
    );
    let mut request = ExecRequest::new(line);
    request.stdin = Some(body);
    let output = ctx.exec_request(request).await?;
    let cmd = format!("{} {rest}", local.display());
    Ok(outcome(cmd.trim_end().to_string(), &output, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Templar;

    async fn run_script(args: serde_json::Value, dir: &std::path::Path) -> ModuleResult {
        let templar = Templar::new();
        let scope = crate::vars::from_json(&serde_json::json!({
            "playbook_dir": dir.display().to_string()
        }));
        let ctx = ModuleContext::local(&templar, &scope);
        super::super::run(&Script, &crate::vars::from_json(&args), &ctx).await
    }

    #[tokio::test]
    async fn a_controller_script_runs_on_the_host_with_its_arguments() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("files")).expect("files");
        std::fs::write(
            dir.path().join("files/hello.sh"),
            "#!/bin/sh\necho \"hello $1 $2\"\necho oops >&2\nexit 3\n",
        )
        .expect("write");
        let result = run_script(
            serde_json::json!({"_raw_params": "hello.sh 'big world' x"}),
            dir.path(),
        )
        .await;
        assert!(result.failed && result.changed, "{result:?}");
        assert_eq!(result.data["rc"].as_i64(), Some(3));
        assert_eq!(result.data["stdout"].as_str(), Some("hello big world x\n"));
        assert_eq!(result.data["stderr"].as_str(), Some("oops\n"));
    }

    #[tokio::test]
    async fn script_creates_skips_it_and_executable_picks_the_interpreter() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("s.txt"), "echo \"ran in $(pwd)\"\n").expect("write");
        let marker = dir.path().join("s.txt");
        let skipped = run_script(
            serde_json::json!({"cmd": "s.txt", "creates": marker.display().to_string()}),
            dir.path(),
        )
        .await;
        assert!(!skipped.changed, "{skipped:?}");
        assert!(skipped.msg.unwrap_or_default().contains("exists"));
        let ran = run_script(
            serde_json::json!({"cmd": "s.txt", "executable": "/bin/sh", "chdir": "/"}),
            dir.path(),
        )
        .await;
        assert_eq!(ran.data["stdout"].as_str(), Some("ran in /\n"), "{ran:?}");
    }

    #[tokio::test]
    async fn a_missing_script_fails_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let result = run_script(serde_json::json!({"cmd": "nope.sh"}), dir.path()).await;
        assert!(result.failed);
        assert!(result.msg.unwrap_or_default().contains("nope.sh"));
    }
}
