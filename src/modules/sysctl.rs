//! `sysctl`: keep a kernel setting in a sysctl file (`key=value` lines) and, optionally, in
//! the running kernel. The file is read, edited here and installed as `copy` installs it, so
//! check mode, `--diff` and idempotence come from [`file_edit`].
//!
//! Follows ansible.posix.sysctl: `state: present` needs `value`; booleans become `1`/`0`;
//! values compare with their whitespace squeezed (the kernel separates fields with tabs); a
//! changed file is reloaded with `sysctl -p FILE` (`-e` with `ignoreerrors`) when `reload`
//! is true; `sysctl_set` compares the live value (`sysctl -n KEY`) and sets it with
//! `sysctl -w KEY=VALUE`. A missing `sysctl_file` is created.
//!
//! Deviations from Ansible: only the lines of `name` are rewritten (Ansible rewrites every
//! `key = value` line of the file as `key=value`); a line already holding the wanted value
//! keeps its spacing; later duplicate lines of the key are removed as Ansible removes them.
//! Linux only (no BSD `sysctl` flavours); the reload always names the file (`sysctl -p FILE`),
//! where Ansible runs plain `sysctl -p` for /etc/sysctl.conf, which reads the same file.

use async_trait::async_trait;
use serde::{Deserialize, Deserializer};

use super::args::{self, ArgError};
use super::file_edit::{self, WriteOptions};
use super::lenient;
use super::remote_file::{host_failure, Attrs};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::shell::quote;
use crate::vars::Value;

/// Arguments of `sysctl`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SysctlArgs {
    /// The dot-separated key (`net.ipv4.ip_forward`).
    #[serde(alias = "key")]
    name: String,
    /// The wanted value (required with `state: present`).
    #[serde(default, alias = "val", deserialize_with = "scalar")]
    value: Option<String>,
    /// `present` (default) or `absent` (the key's lines leave the file).
    #[serde(default)]
    state: State,
    /// The file holding the settings.
    #[serde(default = "default_file")]
    sysctl_file: String,
    /// Load the file with `sysctl -p FILE` after changing it.
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    reload: bool,
    /// Also set the running kernel's value with `sysctl -w` when it differs.
    #[serde(default, deserialize_with = "lenient::bool")]
    sysctl_set: bool,
    /// Ignore unknown keys while reloading (`sysctl -e`).
    #[serde(default, deserialize_with = "lenient::bool")]
    ignoreerrors: bool,
}

fn default_file() -> String {
    "/etc/sysctl.conf".into()
}

fn yes() -> bool {
    true
}

/// A string, number or boolean as text (YAML `value: 1` is a number).
fn scalar<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(Option::<Scalar>::deserialize(de)?.map(|value| match value {
        Scalar::Text(text) => text,
        Scalar::Int(number) => number.to_string(),
        Scalar::Float(number) => number.to_string(),
        Scalar::Bool(flag) => flag.to_string(),
    }))
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    #[default]
    Present,
    Absent,
}

/// `sysctl`: a kernel setting in a sysctl file and the running kernel.
pub(crate) struct Sysctl;

#[async_trait]
impl Module for Sysctl {
    fn names(&self) -> &'static [&'static str] {
        &["sysctl", "ansible.posix.sysctl"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<SysctlArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: SysctlArgs = args::parse(args)?;
        sysctl(&args, ctx).await
    }
}

/// Ansible's `_parse_value`: booleans as `1`/`0`, other text trimmed.
fn normalize(value: &str) -> String {
    match value.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => "1".into(),
        "no" | "false" | "off" => "0".into(),
        _ => value.trim().to_string(),
    }
}

/// Whitespace squeezed, for comparing values (`4096 16384` equals `4096\t16384`).
fn squeeze(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The key and value of a setting line; None for blank lines, comments and other text.
fn setting(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
        return None;
    }
    let (key, value) = trimmed.split_once('=')?;
    Some((key.trim(), value.trim()))
}

/// The file's new text: the first line of `name` holds `value` (None removes every line of
/// it), later lines of `name` are dropped, and a missing key is appended.
fn edit(content: &str, name: &str, value: Option<&str>) -> String {
    let mut out = String::with_capacity(content.len() + 32);
    let mut seen = false;
    for line in content.split_inclusive('\n') {
        match setting(line) {
            Some((key, old)) if key == name => {
                if let (false, Some(value)) = (seen, value) {
                    if squeeze(old) == squeeze(value) {
                        out.push_str(line);
                        if !line.ends_with('\n') {
                            out.push('\n');
                        }
                    } else {
                        out.push_str(&format!("{name}={value}\n"));
                    }
                }
                seen = true;
            }
            _ => out.push_str(line),
        }
    }
    if let (false, Some(value)) = (seen, value) {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("{name}={value}\n"));
    }
    out
}

async fn sysctl(args: &SysctlArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let name = args.name.trim();
    if name.is_empty() || name.contains(['=', '\n']) {
        return Err(ArgError::Invalid(format!("invalid sysctl name `{name}`")).into());
    }
    let value = match (args.state, &args.value) {
        (State::Present, None) => {
            return Err(ArgError::Invalid("value is required with state=present".into()).into())
        }
        (State::Present, Some(value)) => {
            let value = normalize(value);
            if value.is_empty() || value.contains('\n') {
                return Err(ArgError::Invalid(format!("invalid sysctl value `{value}`")).into());
            }
            Some(value)
        }
        (State::Absent, _) => None,
    };
    let path = args.sysctl_file.as_str();
    let original = file_edit::read(ctx, path).await?;
    let old = original
        .content
        .as_deref()
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned());
    let new = match (&old, args.state) {
        (None, State::Absent) => None,
        (old, _) => Some(edit(old.as_deref().unwrap_or(""), name, value.as_deref())),
    };
    let file_changes = new.is_some() && new != old;

    // The running kernel, only when asked to set it.
    let mut set_live = false;
    if let (true, Some(value)) = (args.sysctl_set, &value) {
        let output = ctx.exec(format!("sysctl -n -- {}", quote(name))).await?;
        if !output.status.success() {
            return Err(host_failure(&format!("setting {name} not found"), &output));
        }
        set_live = squeeze(&output.stdout_text()) != squeeze(value);
    }

    let mut result = match &new {
        Some(new) if file_changes => {
            let options = WriteOptions {
                attrs: Attrs::default(),
                backup: false,
                validate: None,
                make_parents: false,
            };
            file_edit::write(ctx, path, &original, new.as_bytes(), None, options).await?
        }
        _ => ModuleResult::ok(),
    };
    if ctx.check_mode {
        result.changed |= set_live;
        return Ok(result);
    }
    if file_changes && args.reload {
        let flag = if args.ignoreerrors { "-e -p" } else { "-p" };
        let output = ctx.exec(format!("sysctl {flag} {}", quote(path))).await?;
        if !output.status.success() {
            return Err(host_failure("Failed to reload sysctl", &output));
        }
    }
    if let (true, Some(value)) = (set_live, &value) {
        let output = ctx
            .exec(format!("sysctl -w {}", quote(&format!("{name}={value}"))))
            .await?;
        if !output.status.success() {
            return Err(host_failure(&format!("setting {name} failed"), &output));
        }
        result.changed = true;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::testing::{
        assert_changed, assert_failed, assert_ok, run, Mode, CHECK, RUN,
    };
    use super::*;
    use serde_json::json;

    #[test]
    fn edits_touch_only_the_named_key() {
        let text = "# comment\nkernel.a = 1\nvm.swappiness=60\nvm.swappiness = 10\n";
        assert_eq!(
            edit(text, "vm.swappiness", Some("5")),
            "# comment\nkernel.a = 1\nvm.swappiness=5\n"
        );
        assert_eq!(
            edit(text, "kernel.a", Some("1")),
            text,
            "same value keeps its spacing"
        );
        assert_eq!(
            edit(text, "vm.swappiness", None),
            "# comment\nkernel.a = 1\n"
        );
        assert_eq!(edit("x=1", "y", Some("2")), "x=1\ny=2\n");
        assert_eq!(edit("", "y", Some("2 3")), "y=2 3\n");
        assert_eq!(edit("# y=1\n", "y", Some("2")), "# y=1\ny=2\n");
        assert_eq!(edit("y = 4096\t16384\n", "y", Some("4096 16384")), "y = 4096\t16384\n");
    }

    #[test]
    fn values_are_normalized_as_ansible_does() {
        assert_eq!(normalize(" yes "), "1");
        assert_eq!(normalize("False"), "0");
        assert_eq!(normalize(" 10 "), "10");
        let args: SysctlArgs =
            serde_json::from_value(json!({"name": "a", "value": 1, "reload": "no"})).expect("args");
        assert_eq!(args.value.as_deref(), Some("1"));
        assert!(!args.reload);
    }

    fn conf(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sysctl.conf");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    fn read(path: &std::path::Path) -> String {
        std::fs::read_to_string(path).expect("read")
    }

    #[tokio::test]
    async fn present_and_absent_are_idempotent_on_the_file() {
        let (_dir, path) = conf("vm.swappiness = 60\n");
        let args = json!({"name": "vm.swappiness", "value": 10, "sysctl_file": path,
            "reload": false});
        assert_changed(&run(Sysctl, args.clone(), RUN).await);
        assert_eq!(read(&path), "vm.swappiness=10\n");
        assert_ok(&run(Sysctl, args, RUN).await);
        let absent = json!({"name": "vm.swappiness", "state": "absent", "sysctl_file": path,
            "reload": "no"});
        assert_changed(&run(Sysctl, absent.clone(), RUN).await);
        assert_eq!(read(&path), "");
        assert_ok(&run(Sysctl, absent, RUN).await);
    }

    #[tokio::test]
    async fn a_missing_file_is_created_and_check_mode_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("99-rpatch.conf");
        let args = json!({"name": "net.ipv4.ip_forward", "value": true, "sysctl_file": path,
            "reload": false});
        let both = Mode {
            check: true,
            diff: true,
        };
        let checked = run(Sysctl, args.clone(), both).await;
        assert_changed(&checked);
        assert_eq!(checked.diff.expect("diff").after, "net.ipv4.ip_forward=1\n");
        assert!(!path.exists());
        assert_changed(&run(Sysctl, args.clone(), RUN).await);
        assert_eq!(read(&path), "net.ipv4.ip_forward=1\n");
        assert_ok(&run(Sysctl, args, CHECK).await);
    }

    #[tokio::test]
    async fn check_mode_compares_the_live_value_without_setting_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("live.conf");
        let live = std::fs::read_to_string("/proc/sys/kernel/ostype").unwrap_or_default();
        if live.trim().is_empty() {
            return; // no procfs here
        }
        std::fs::write(&path, format!("kernel.ostype={}\n", live.trim())).expect("write");
        let same = json!({"name": "kernel.ostype", "value": live.trim(), "sysctl_file": path,
            "sysctl_set": true, "reload": false});
        assert_ok(&run(Sysctl, same, CHECK).await);
        let other = json!({"name": "kernel.ostype", "value": "rpatch-not-this",
            "sysctl_file": path, "sysctl_set": true, "reload": false});
        assert_changed(&run(Sysctl, other, CHECK).await);
        let unknown = json!({"name": "rpatch.no.such.key", "value": 1,
            "sysctl_file": path, "sysctl_set": true, "reload": false});
        assert_failed(&run(Sysctl, unknown, CHECK).await, "not found");
    }

    #[tokio::test]
    async fn argument_mistakes_are_named() {
        assert_failed(
            &run(Sysctl, json!({"name": "a.b"}), RUN).await,
            "value is required",
        );
        assert_failed(
            &run(Sysctl, json!({"name": "a.b", "value": 1, "relaod": false}), RUN).await,
            "unsupported argument `relaod`",
        );
    }
}
