//! `win_shell` and `win_command` for Windows hosts reached over OpenSSH, with the arguments
//! of Ansible's `ansible.windows` modules: `win_shell` runs PowerShell (or cmd.exe with
//! `executable: cmd`), `win_command` runs one program with its arguments, each passed as a
//! literal PowerShell string so nothing in them is expanded. Both travel as `-EncodedCommand`;
//! `chdir`, `creates` and `removes` are done inside the same script, and the exit code is the
//! program's (`$LASTEXITCODE`), or 1 when the last PowerShell statement failed.

use async_trait::async_trait;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::command::outcome;
use super::powershell::{check_context, encoded_command, quote};
use super::{CheckMode, FreeForm, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::ExecRequest;
use crate::vars::Value;

/// Arguments of `win_shell` and `win_command`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WinCommandArgs {
    /// The free-form command.
    #[serde(rename = "_raw_params")]
    raw_params: Option<String>,
    /// The command, as a named argument.
    cmd: Option<String>,
    /// `win_command` only: the program and its arguments, never split.
    argv: Option<Vec<String>>,
    /// Directory to run in.
    chdir: Option<String>,
    /// Skip when this path exists.
    creates: Option<String>,
    /// Skip unless this path exists.
    removes: Option<String>,
    /// `win_shell` only: `powershell` (default) or `cmd`.
    executable: Option<String>,
}

/// A command line given as a string, with these `k=v` options pulled out of it.
const FREE_FORM: FreeForm = FreeForm::Command {
    options: &["chdir", "creates", "removes", "executable"],
};

/// Which module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Shell,
    Command,
}

/// Marks the line a script prints when `creates`/`removes` says not to run.
const SKIP_MARKER: &str = "@@rpatch:skip ";

/// Splits a Windows command line into words: whitespace separates, double quotes group,
/// `\"` is a literal quote, every other backslash is literal (paths stay paths).
fn split_windows(text: &str) -> Result<Vec<String>, ArgError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'"') => {
                word.push('"');
                chars.next();
                in_word = true;
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err(ArgError::Invalid(format!(
            "unbalanced double quote in command line: {text}"
        )));
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// The command as the user wrote it (for `cmd` in the result) and the PowerShell that runs it.
fn script(flavor: Flavor, args: &WinCommandArgs) -> Result<(String, String), ArgError> {
    let text = args
        .raw_params
        .as_deref()
        .or(args.cmd.as_deref())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let (shown, body) = match (flavor, &args.argv) {
        (Flavor::Command, Some(argv)) if !argv.is_empty() => (argv.join(" "), invoke(argv)),
        (Flavor::Shell, Some(_)) => {
            return Err(ArgError::Invalid("`argv` is for win_command, not win_shell".into()))
        }
        (Flavor::Command, _) => {
            let text = text.ok_or_else(|| ArgError::Invalid("no command given".into()))?;
            (text.to_string(), invoke(&split_windows(text)?))
        }
        (Flavor::Shell, _) => {
            let text = text.ok_or_else(|| ArgError::Invalid("no command given".into()))?;
            let body = match args.executable.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("powershell" | "powershell.exe") => text.to_string(),
                Some("cmd" | "cmd.exe") => format!("& $env:ComSpec /c {}", quote(text)),
                Some(other) => {
                    return Err(ArgError::Invalid(format!(
                        "executable `{other}` is not supported: use `powershell` or `cmd`"
                    )))
                }
            };
            (text.to_string(), body)
        }
    };
    if flavor == Flavor::Command && args.executable.is_some() {
        return Err(ArgError::Invalid("`executable` is for win_shell, not win_command".into()));
    }
    let mut script = String::from(
        "$ProgressPreference = 'SilentlyContinue'\n[Console]::OutputEncoding = [Text.Encoding]::UTF8\n",
    );
    if let Some(path) = &args.creates {
        script.push_str(&format!(
            "if (Test-Path -LiteralPath {}) {{ '{SKIP_MARKER}exists'; exit 0 }}\n",
            quote(path)
        ));
    }
    if let Some(path) = &args.removes {
        script.push_str(&format!(
            "if (-not (Test-Path -LiteralPath {})) {{ '{SKIP_MARKER}missing'; exit 0 }}\n",
            quote(path)
        ));
    }
    if let Some(dir) = &args.chdir {
        script.push_str(&format!("Set-Location -LiteralPath {} -ErrorAction Stop\n", quote(dir)));
    }
    script.push_str(&format!(
        "$global:LASTEXITCODE = 0\n{body}\n\
         if (-not $?) {{ if ($global:LASTEXITCODE) {{ exit $global:LASTEXITCODE }}; exit 1 }}\n\
         exit $global:LASTEXITCODE\n"
    ));
    Ok((shown, script))
}

/// `& 'program' 'arg' …`: every word a literal.
fn invoke(words: &[String]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| quote(w)).collect();
    format!("& {}", quoted.join(" "))
}

/// Runs one flavor.
async fn run(
    flavor: Flavor,
    args: &Value,
    ctx: &ModuleContext<'_>,
) -> Result<ModuleResult, ModuleError> {
    let args: WinCommandArgs = args::parse(args)?;
    let (shown, script) = script(flavor, &args)?;
    check_context(ctx)?;
    let mut request = ExecRequest::new(encoded_command(&script));
    request.timeout = ctx.timeout;
    let output = ctx.transport.exec(&request).await?;
    let stdout = output.stdout_text();
    if let Some(why) = stdout.lines().find_map(|l| l.trim().strip_prefix(SKIP_MARKER.trim_end())) {
        let (path, reason) = match why.trim() {
            "exists" => (args.creates.unwrap_or_default(), "exists"),
            _ => (args.removes.unwrap_or_default(), "does not exist"),
        };
        return Ok(ModuleResult::ok()
            .with_msg(format!("skipped, since {path} {reason}"))
            .with_data(&serde_json::json!({"cmd": shown, "rc": 0, "stdout": "", "stderr": ""})));
    }
    Ok(outcome(shown, &output, true))
}

/// `win_shell`: PowerShell (or cmd.exe) on a Windows host.
pub(crate) struct WinShell;

#[async_trait]
impl Module for WinShell {
    fn names(&self) -> &'static [&'static str] {
        &["win_shell", "ansible.windows.win_shell"]
    }
    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<WinCommandArgs>(args, templated)
    }
    fn free_form(&self) -> FreeForm {
        FREE_FORM
    }
    fn check_mode(&self) -> CheckMode {
        CheckMode::Unsupported
    }
    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(Flavor::Shell, args, ctx).await
    }
}

/// `win_command`: one program with literal arguments on a Windows host.
pub(crate) struct WinCommand;

#[async_trait]
impl Module for WinCommand {
    fn names(&self) -> &'static [&'static str] {
        &["win_command", "ansible.windows.win_command"]
    }
    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<WinCommandArgs>(args, templated)
    }
    fn free_form(&self) -> FreeForm {
        FREE_FORM
    }
    fn check_mode(&self) -> CheckMode {
        CheckMode::Unsupported
    }
    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        run(Flavor::Command, args, ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::powershell::tests::decode;

    fn args(json: serde_json::Value) -> WinCommandArgs {
        args::parse(&crate::vars::from_json(&json)).expect("args")
    }

    fn decoded(flavor: Flavor, json: serde_json::Value) -> String {
        let (_, script) = script(flavor, &args(json)).expect("script");
        decode(&encoded_command(&script))
    }

    #[test]
    fn win_shell_sends_the_powershell_as_written_with_guards_and_chdir() {
        let script = decoded(
            Flavor::Shell,
            serde_json::json!({"_raw_params": "Get-Service | Where-Object { $_.Status -eq 'Running' }", "chdir": "C:\\Program Files\\it's", "creates": "C:\\done.flag"}),
        );
        assert!(script.contains("if (Test-Path -LiteralPath 'C:\\done.flag') { '@@rpatch:skip exists'; exit 0 }\n"), "{script}");
        assert!(script.contains("Set-Location -LiteralPath 'C:\\Program Files\\it''s' -ErrorAction Stop\n"), "{script}");
        assert!(script.contains("\nGet-Service | Where-Object { $_.Status -eq 'Running' }\n"), "{script}");
        assert!(script.ends_with("exit $global:LASTEXITCODE\n"), "{script}");
    }

    #[test]
    fn win_shell_with_cmd_hands_the_line_to_comspec_as_one_literal() {
        let script = decoded(Flavor::Shell, serde_json::json!({"cmd": "dir C:\\ & echo %PATH%", "executable": "cmd"}));
        assert!(script.contains("& $env:ComSpec /c 'dir C:\\ & echo %PATH%'\n"), "{script}");
        let error = script_error(Flavor::Shell, serde_json::json!({"cmd": "x", "executable": "bash"}));
        assert!(error.contains("executable `bash` is not supported"), "{error}");
    }

    fn script_error(flavor: Flavor, json: serde_json::Value) -> String {
        script(flavor, &args(json)).expect_err("invalid").to_string()
    }

    #[test]
    fn win_command_passes_each_word_as_a_literal_and_keeps_backslashes() {
        let script = decoded(
            Flavor::Command,
            serde_json::json!({"_raw_params": "C:\\Windows\\System32\\sc.exe query \"Windows Update\" $(evil) it's"}),
        );
        assert!(
            script.contains("\n& 'C:\\Windows\\System32\\sc.exe' 'query' 'Windows Update' '$(evil)' 'it''s'\n"),
            "{script}"
        );
        let script = decoded(Flavor::Command, serde_json::json!({"argv": ["net", "stop", "a b"], "removes": "C:\\x"}));
        assert!(script.contains("if (-not (Test-Path -LiteralPath 'C:\\x')) { '@@rpatch:skip missing'; exit 0 }"), "{script}");
        assert!(script.contains("\n& 'net' 'stop' 'a b'\n"), "{script}");
        assert!(script_error(Flavor::Command, serde_json::json!({"cmd": "a \"b"})).contains("unbalanced"));
        assert!(script_error(Flavor::Command, serde_json::json!({})).contains("no command given"));
    }

    #[test]
    fn windows_command_lines_split_like_windows() {
        assert_eq!(
            split_windows(r#"a "b c" d\"e C:\x\"#).expect("split"),
            ["a", "b c", "d\"e", "C:\\x\\"]
        );
        assert_eq!(split_windows("\"\" x").expect("split"), ["", "x"]);
    }
}
