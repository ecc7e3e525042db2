//! `template`: render a controller-side Jinja file with the host's variables, then install
//! it exactly as `copy` installs content.

use async_trait::async_trait;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::copy::{install, probe_dest, InstallOptions};
use super::lenient;
use super::remote_file::{find_local, Attrs, Mode, ModeArg, Principal};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `template`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateArgs {
    /// The template, found in the role/playbook `templates/` dirs.
    src: Option<String>,
    /// Where to write on the host.
    dest: Option<String>,
    /// Permission bits: octal, symbolic, or `preserve` (the template file's).
    mode: Option<ModeArg>,
    /// Owner to set.
    owner: Option<Principal>,
    /// Group to set.
    group: Option<Principal>,
    /// Keep a timestamped copy of a file that is replaced.
    #[serde(default, deserialize_with = "lenient::bool")]
    backup: bool,
    /// Replace a file whose content differs (no: only create missing files).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    force: bool,
    /// Follow a symbolic link at `dest` and write through it.
    #[serde(default, deserialize_with = "lenient::bool")]
    follow: bool,
    /// Remove the first newline after a block tag (Ansible's default: yes).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    trim_blocks: bool,
    /// Strip spaces and tabs before a block tag at the start of a line.
    #[serde(default, deserialize_with = "lenient::bool")]
    lstrip_blocks: bool,
    /// Line endings of the result: `\n` (default), `\r\n` or `\r`.
    newline_sequence: Option<String>,
    /// A command that must accept the new file (`%s` is its path) before it replaces dest.
    validate: Option<String>,
    /// Accepted for compatibility; the output is always UTF-8.
    output_encoding: Option<String>,
    /// Accepted for compatibility; writes are always atomic.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    unsafe_writes: Option<bool>,
}

fn yes() -> bool {
    true
}

/// `template`: render a controller template and put it on the host.
pub(crate) struct Template;

#[async_trait]
impl Module for Template {
    fn names(&self) -> &'static [&'static str] {
        &["template", "ansible.builtin.template", "ansible.legacy.template"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<TemplateArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: TemplateArgs = args::parse(args)?;
        template(&args, ctx).await
    }
}

async fn template(args: &TemplateArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let _accepted = (&args.output_encoding, args.unsafe_writes);
    let src = args
        .src
        .as_deref()
        .filter(|src| !src.is_empty())
        .ok_or_else(|| ArgError::Invalid("src is required".into()))?;
    let dest = args
        .dest
        .as_deref()
        .filter(|dest| !dest.is_empty())
        .ok_or_else(|| ArgError::Invalid("dest is required".into()))?;
    let newline = match args.newline_sequence.as_deref() {
        None | Some("\n") | Some("\\n") => "\n",
        Some("\r\n") | Some("\\r\\n") => "\r\n",
        Some("\r") | Some("\\r") => "\r",
        Some(other) => Err(ArgError::Invalid(format!(
            "newline_sequence must be \\n, \\r\\n or \\r, not {other:?}"
        )))?,
    };
    let mut attrs = Attrs::new(args.mode.as_ref(), args.owner.as_ref(), args.group.as_ref())?;
    let local = find_local(src, "templates", ctx)?;
    let text = crate::input::read_text(&local)
        .map_err(|error| ModuleError::Failed(format!("template: {error}")))?;
    if attrs.mode == Some(Mode::Preserve) {
        use std::os::unix::fs::PermissionsExt;
        let bits = std::fs::metadata(&local)
            .map(|meta| meta.permissions().mode() & 0o7777)
            .map_err(|error| ModuleError::Failed(format!("{}: {error}", local.display())))?;
        attrs.mode = Some(Mode::Octal(bits));
    }
    let rendered = render(ctx, &text, args.trim_blocks, args.lstrip_blocks)
        .map_err(|error| ModuleError::Failed(format!("{}: {error}", local.display())))?;
    let rendered = if newline == "\n" {
        rendered
    } else {
        rendered.replace('\n', newline)
    };
    let mut dest = dest.to_string();
    let mut before = probe_dest(ctx, &dest, args.follow).await?;
    if dest.ends_with('/') || before.kind == super::remote_file::Kind::Directory {
        let name = local
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        dest = format!("{}/{name}", dest.trim_end_matches('/'));
        before = probe_dest(ctx, &dest, args.follow).await?;
    }
    let options = InstallOptions {
        attrs,
        backup: args.backup,
        force: args.force,
        validate: args.validate.as_deref(),
        make_parents: false,
    };
    let installed = install(ctx, &dest, &before, rendered.as_bytes(), &options).await?;
    Ok(installed.result(&dest, Some(local.display().to_string())))
}

/// Renders the template with the host's variables, keeping its trailing newlines as Ansible
/// does.
fn render(
    ctx: &ModuleContext<'_>,
    text: &str,
    trim_blocks: bool,
    lstrip_blocks: bool,
) -> Result<String, crate::template::TemplateError> {
    let source = whitespace_control(text, trim_blocks, lstrip_blocks);
    let mut out = ctx.templar.render_to_string(&source, ctx.scope)?;
    // Ansible ends the output with at least as many newlines as the template ends with, even
    // where `trim_blocks` took one after a final block tag.
    let trailing = |s: &str| s.len() - s.trim_end_matches('\n').len();
    for _ in trailing(&out)..trailing(text) {
        out.push('\n');
    }
    Ok(out)
}

/// Applies Jinja's `trim_blocks`/`lstrip_blocks` to the source, as the shared templar runs
/// with both off: the first newline after a `%}`/`#}` goes (unless `+%}`), and blanks before
/// a `{%`/`{#` that starts a line go (unless `{%+`). Text inside `{% raw %}` is treated alike.
fn whitespace_control(text: &str, trim_blocks: bool, lstrip_blocks: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let mut line = line;
        if lstrip_blocks {
            let rest = line.trim_start_matches([' ', '\t']);
            if (rest.starts_with("{%") || rest.starts_with("{#")) && !rest[2..].starts_with('+') {
                line = rest;
            }
        }
        if trim_blocks {
            let body = line
                .strip_suffix("\r\n")
                .or_else(|| line.strip_suffix('\n'));
            if let Some(body) = body {
                if (body.ends_with("%}") || body.ends_with("#}")) && !body.ends_with("+%}") {
                    out.push_str(body);
                    continue;
                }
            }
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_blocks_drops_the_newline_after_a_block_tag_only() {
        let text = "{% if x %}\nyes\n{% endif %}\n{{ v }}\n";
        assert_eq!(
            whitespace_control(text, true, false),
            "{% if x %}yes\n{% endif %}{{ v }}\n"
        );
        assert_eq!(whitespace_control(text, false, false), text);
        assert_eq!(whitespace_control("{% x +%}\n", true, false), "{% x +%}\n");
    }

    #[test]
    fn lstrip_blocks_drops_indentation_before_a_block_tag() {
        assert_eq!(
            whitespace_control("  {% if x %}\n  a\n\t{%+ y %}\n", false, true),
            "{% if x %}\n  a\n\t{%+ y %}\n"
        );
    }

    use super::super::remote_file::testing::{
        assert_changed, assert_failed, assert_ok, field, mode_of, run, run_with, DIFF, RUN,
    };
    use super::Template;
    use serde_json::json;

    fn write_template(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write template");
        path
    }

    #[tokio::test]
    async fn host_variables_are_rendered_and_a_rerun_is_ok() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = write_template(
            dir.path(),
            "app.conf.j2",
            "port={{ port }}\n{% for u in users %}\nuser={{ u }}\n{% endfor %}\n",
        );
        let dest = dir.path().join("app.conf");
        let vars = json!({"port": 8080, "users": ["ann", "bob"]});
        let args = json!({"src": src, "dest": dest, "mode": "0644"});
        let first = run_with(Template, args.clone(), RUN, vars.clone()).await;
        assert_changed(&first);
        assert_eq!(
            std::fs::read_to_string(&dest).expect("read"),
            "port=8080\nuser=ann\nuser=bob\n"
        );
        assert_eq!(mode_of(&dest), 0o644);
        assert_eq!(field(&first, "src"), src.to_string_lossy().as_ref());
        assert_ok(&run_with(Template, args.clone(), RUN, vars).await);
        let other = json!({"port": 9090, "users": []});
        assert_changed(&run_with(Template, args, RUN, other).await);
        assert_eq!(std::fs::read_to_string(&dest).expect("read"), "port=9090\n");
    }

    #[tokio::test]
    async fn templates_are_found_in_the_templates_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("templates")).expect("mkdir");
        write_template(&dir.path().join("templates"), "t.j2", "{{ greeting }}\n");
        let dest = dir.path().join("out");
        let vars = json!({"greeting": "hi", "playbook_dir": dir.path()});
        let result = run_with(Template, json!({"src": "t.j2", "dest": dest}), RUN, vars).await;
        assert_changed(&result);
        assert_eq!(std::fs::read_to_string(&dest).expect("read"), "hi\n");
    }

    #[tokio::test]
    async fn check_mode_and_diff_show_the_rendered_text_without_writing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = write_template(dir.path(), "t.j2", "v={{ v }}\n");
        let dest = dir.path().join("out");
        std::fs::write(&dest, "v=1\n").expect("write");
        let both = super::super::remote_file::testing::Mode {
            check: true,
            diff: true,
        };
        let result = run_with(
            Template,
            json!({"src": src, "dest": dest}),
            both,
            json!({"v": 2}),
        )
        .await;
        assert_changed(&result);
        let diff = result.diff.expect("diff");
        assert_eq!(
            (diff.before.as_str(), diff.after.as_str()),
            ("v=1\n", "v=2\n")
        );
        assert_eq!(std::fs::read_to_string(&dest).expect("read"), "v=1\n");
        let unchanged = run_with(
            Template,
            json!({"src": src, "dest": dest}),
            DIFF,
            json!({"v": 1}),
        )
        .await;
        assert_ok(&unchanged);
    }

    #[tokio::test]
    async fn backup_is_made_when_the_rendered_file_replaces_another() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = write_template(dir.path(), "t.j2", "new\n");
        let dest = dir.path().join("out");
        std::fs::write(&dest, "old\n").expect("write");
        let result = run(
            Template,
            json!({"src": src, "dest": dest, "backup": "yes"}),
            RUN,
        )
        .await;
        assert_changed(&result);
        let backup = field(&result, "backup_file");
        let backup = backup.as_str().expect("backup_file");
        assert_eq!(std::fs::read_to_string(backup).expect("read"), "old\n");
    }

    #[tokio::test]
    async fn errors_name_the_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("out");
        assert_failed(
            &run(Template, json!({"dest": dest}), RUN).await,
            "src is required",
        );
        assert_failed(
            &run(
                Template,
                json!({"src": "/nonexistent.j2", "dest": dest}),
                RUN,
            )
            .await,
            "could not find src=/nonexistent.j2",
        );
        let src = write_template(dir.path(), "t.j2", "{{ nope }}\n");
        assert_failed(
            &run(Template, json!({"src": src}), RUN).await,
            "dest is required",
        );
        let undefined = run(Template, json!({"src": src, "dest": dest}), RUN).await;
        assert_failed(&undefined, "nope");
        assert!(!dest.exists());
    }
}
