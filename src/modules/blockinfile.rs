//! `blockinfile`: keep a block of lines between two marker lines in a file (insert, update or
//! remove it); the file is read, edited here and installed as `copy` installs it.
//!
//! The edit follows Ansible's algorithm: an existing block (both markers present) is
//! replaced where it is; otherwise the block goes after the last line matching
//! `insertafter` (default `EOF`) or before the last line matching `insertbefore` (or `BOF`),
//! and at the end of the file when the pattern matches no line. Lines are bytes, so a file
//! that is not UTF-8 is edited without being mangled.
//!
//! Deviations from Ansible: `insertafter`/`insertbefore` use Rust's `regex` syntax and are
//! always matched line by line (Ansible searches the whole file when the pattern carries
//! `(?m)`); `state: absent` with `create: true` on a missing file creates no parent
//! directories (Ansible makes them, then writes nothing); files larger than 4 MiB are refused.

use async_trait::async_trait;
use regex::bytes::Regex;
use serde::Deserialize;

use super::args::{self, ArgError};
use super::file_edit::{self, one_of, WriteOptions};
use super::lenient;
use super::remote_file::{Attrs, ModeArg, Principal};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `blockinfile`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockinfileArgs {
    /// The file to edit.
    path: Option<String>,
    /// Alias of `path`.
    dest: Option<String>,
    /// Alias of `path`.
    destfile: Option<String>,
    /// Alias of `path`.
    name: Option<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    state: State,
    /// The marker line template; `{mark}` becomes `marker_begin` or `marker_end`.
    #[serde(default = "default_marker")]
    marker: String,
    /// What `{mark}` becomes in the first marker.
    #[serde(default = "default_begin")]
    marker_begin: String,
    /// What `{mark}` becomes in the last marker.
    #[serde(default = "default_end")]
    marker_end: String,
    /// The lines between the markers (empty: the block is removed).
    block: Option<String>,
    /// Alias of `block`.
    content: Option<String>,
    /// Insert after the last line matching this regexp, or `EOF` (default).
    insertafter: Option<String>,
    /// Insert before the last line matching this regexp, or `BOF`.
    insertbefore: Option<String>,
    /// Create the file when it is missing (otherwise a missing file fails).
    #[serde(default, deserialize_with = "lenient::bool")]
    create: bool,
    /// Keep a timestamped copy of the file before changing it.
    #[serde(default, deserialize_with = "lenient::bool")]
    backup: bool,
    /// Add a blank line after the block unless one follows or the block ends the file.
    #[serde(default, deserialize_with = "lenient::bool")]
    append_newline: bool,
    /// Add a blank line before the block unless one precedes or the block starts the file.
    #[serde(default, deserialize_with = "lenient::bool")]
    prepend_newline: bool,
    /// A command that must accept the new file (`%s` is its path) before it replaces the old.
    validate: Option<String>,
    /// Permission bits to set.
    mode: Option<ModeArg>,
    /// Owner to set.
    owner: Option<Principal>,
    /// Group to set.
    group: Option<Principal>,
    /// Accepted for compatibility; writes are always atomic.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    unsafe_writes: Option<bool>,
}

fn default_marker() -> String {
    "# {mark} ANSIBLE MANAGED BLOCK".into()
}

fn default_begin() -> String {
    "BEGIN".into()
}

fn default_end() -> String {
    "END".into()
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    #[default]
    Present,
    Absent,
}

/// `blockinfile`: a marked block of lines in a file.
pub(crate) struct Blockinfile;

#[async_trait]
impl Module for Blockinfile {
    fn names(&self) -> &'static [&'static str] {
        &[
            "blockinfile",
            "ansible.builtin.blockinfile",
            "ansible.legacy.blockinfile",
        ]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<BlockinfileArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: BlockinfileArgs = args::parse(args)?;
        blockinfile(&args, ctx).await
    }
}

/// Where a block without markers in the file goes.
#[derive(Debug)]
enum Insert {
    Eof,
    Bof,
    After(Regex),
    Before(Regex),
}

/// The edit, decided from the arguments alone.
#[derive(Debug)]
struct Plan {
    begin: Vec<u8>,
    end: Vec<u8>,
    /// The block's lines, each ending in a newline; empty removes the block.
    block: Vec<Vec<u8>>,
    insert: Insert,
    append_newline: bool,
    prepend_newline: bool,
}

impl Plan {
    fn new(args: &BlockinfileArgs) -> Result<Self, ArgError> {
        let block = one_of("block and content", &[&args.block, &args.content])?.unwrap_or("");
        if args.insertafter.is_some() && args.insertbefore.is_some() {
            return Err(ArgError::Invalid(
                "insertafter and insertbefore are mutually exclusive".into(),
            ));
        }
        let compile = |pattern: &str, what: &str| {
            Regex::new(pattern).map_err(|error| {
                ArgError::Invalid(format!("{what} `{pattern}` is not valid: {error}"))
            })
        };
        let insert = match (args.insertafter.as_deref(), args.insertbefore.as_deref()) {
            (Some("EOF") | None, None) => Insert::Eof,
            (Some(after), _) => Insert::After(compile(after, "insertafter")?),
            (None, Some("BOF")) => Insert::Bof,
            (None, Some(before)) => Insert::Before(compile(before, "insertbefore")?),
        };
        let marker = |mark: &str| format!("{}\n", args.marker.replace("{mark}", mark)).into_bytes();
        let block = if args.state == State::Present && !block.is_empty() {
            let mut text = block.to_string();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.split_inclusive('\n')
                .map(|line| line.as_bytes().to_vec())
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            begin: marker(&args.marker_begin),
            end: marker(&args.marker_end),
            block,
            insert,
            append_newline: args.append_newline,
            prepend_newline: args.prepend_newline,
        })
    }

    /// The file's new content.
    fn apply(&self, content: &[u8]) -> Vec<u8> {
        let mut lines: Vec<Vec<u8>> = split_lines(content);
        let begin = lines.iter().rposition(|line| *line == self.begin);
        let end = lines.iter().rposition(|line| *line == self.end);
        let mut at = match (begin, end) {
            (Some(begin), Some(end)) => {
                let (first, last) = (begin.min(end), begin.max(end));
                lines.drain(first..=last);
                first
            }
            _ => match &self.insert {
                Insert::Eof => lines.len(),
                Insert::Bof => 0,
                Insert::After(regex) => lines
                    .iter()
                    .rposition(|line| regex.is_match(bare(line)))
                    .map_or(lines.len(), |found| found + 1),
                Insert::Before(regex) => lines
                    .iter()
                    .rposition(|line| regex.is_match(bare(line)))
                    .unwrap_or(lines.len()),
            },
        };
        if self.block.is_empty() {
            return lines.concat();
        }
        if at > 0 && !lines[at - 1].ends_with(b"\n") {
            lines[at - 1].push(b'\n');
        }
        if self.prepend_newline && at > 0 && lines[at - 1] != b"\n" {
            lines.insert(at, b"\n".to_vec());
            at += 1;
        }
        let mut block = Vec::with_capacity(self.block.len() + 2);
        block.push(self.begin.clone());
        block.extend(self.block.iter().cloned());
        block.push(self.end.clone());
        let after = at + block.len();
        lines.splice(at..at, block);
        if self.append_newline && after < lines.len() && lines[after] != b"\n" {
            lines.insert(after, b"\n".to_vec());
        }
        lines.concat()
    }
}

/// A line without its newline, so `$` matches at its end as Python's `$` does.
fn bare(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// Lines with their newlines, as Python's `splitlines(True)` keeps them (on `\n` only).
fn split_lines(content: &[u8]) -> Vec<Vec<u8>> {
    content
        .split_inclusive(|&byte| byte == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

async fn blockinfile(
    args: &BlockinfileArgs,
    ctx: &ModuleContext<'_>,
) -> Result<ModuleResult, ModuleError> {
    let _accepted = args.unsafe_writes;
    let path = one_of(
        "path, dest, destfile and name",
        &[&args.path, &args.dest, &args.destfile, &args.name],
    )?
    .ok_or_else(|| ArgError::Invalid("path is required".into()))?;
    let plan = Plan::new(args)?;
    let attrs = Attrs::new(args.mode.as_ref(), args.owner.as_ref(), args.group.as_ref())?;
    let original = file_edit::read(ctx, path).await?;
    let content = match &original.content {
        Some(content) => content.as_slice(),
        None if !args.create => {
            return Err(ModuleError::Failed(format!("Path {path} does not exist !")));
        }
        None if args.state == State::Absent => {
            return Ok(ModuleResult::ok().with_msg(format!("File {path} not present")));
        }
        None => b"",
    };
    let new = plan.apply(content);
    let msg = match &original.content {
        Some(old) if *old == new => None,
        None => Some("File created"),
        Some(_) if plan.block.is_empty() => Some("Block removed"),
        Some(_) => Some("Block inserted"),
    };
    let options = WriteOptions {
        attrs,
        backup: args.backup,
        validate: args.validate.as_deref(),
        make_parents: args.create,
    };
    file_edit::write(ctx, path, &original, &new, msg.map(String::from), options).await
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::testing::{
        assert_changed, assert_failed, assert_ok, field, mode_of, run, Mode, CHECK, RUN,
    };
    use super::*;
    use serde_json::json;

    fn apply(args: serde_json::Value, text: &str) -> String {
        let mut args = args;
        args["path"] = json!("/unused");
        let args: BlockinfileArgs = serde_json::from_value(args).expect("args");
        let plan = Plan::new(&args).expect("plan");
        String::from_utf8(plan.apply(text.as_bytes())).expect("utf8")
    }

    const BLOCK: &str = "# BEGIN ANSIBLE MANAGED BLOCK\nx\ny\n# END ANSIBLE MANAGED BLOCK\n";

    #[test]
    fn a_new_block_goes_at_the_end_and_an_old_one_is_replaced_in_place() {
        let added = apply(json!({"block": "x\ny"}), "a\nb");
        assert_eq!(added, format!("a\nb\n{BLOCK}"));
        assert_eq!(apply(json!({"block": "x\ny\n"}), &added), added);
        let moved = format!("top\n{BLOCK}bottom\n");
        assert_eq!(
            apply(json!({"block": "z", "insertbefore": "BOF"}), &moved),
            "top\n# BEGIN ANSIBLE MANAGED BLOCK\nz\n# END ANSIBLE MANAGED BLOCK\nbottom\n"
        );
    }

    #[test]
    fn insert_positions_follow_the_last_matching_line() {
        let text = "[a]\n1\n[b]\n2\n";
        assert_eq!(
            apply(json!({"block": "x\ny", "insertafter": "^\\[a\\]$"}), text),
            format!("[a]\n{BLOCK}1\n[b]\n2\n")
        );
        assert_eq!(
            apply(json!({"block": "x\ny", "insertbefore": "^\\["}), text),
            format!("[a]\n1\n{BLOCK}[b]\n2\n")
        );
        assert_eq!(
            apply(json!({"block": "x\ny", "insertbefore": "BOF"}), text),
            format!("{BLOCK}{text}")
        );
        assert_eq!(
            apply(json!({"block": "x\ny", "insertafter": "nomatch"}), text),
            format!("{text}{BLOCK}")
        );
    }

    #[test]
    fn absent_or_an_empty_block_removes_it() {
        let text = format!("a\n{BLOCK}b\n");
        assert_eq!(apply(json!({"state": "absent"}), &text), "a\nb\n");
        assert_eq!(apply(json!({"block": ""}), &text), "a\nb\n");
        assert_eq!(apply(json!({"state": "absent"}), "a\n"), "a\n");
    }

    #[test]
    fn custom_markers_and_blank_lines_around_the_block() {
        let args = json!({"block": "k=v", "marker": "<!-- {mark} -->", "marker_begin": "start",
            "marker_end": "stop", "insertafter": "^a", "append_newline": true,
            "prepend_newline": true});
        assert_eq!(
            apply(args.clone(), "a\nb\n"),
            "a\n\n<!-- start -->\nk=v\n<!-- stop -->\n\nb\n"
        );
        assert_eq!(apply(args, "a\n"), "a\n\n<!-- start -->\nk=v\n<!-- stop -->\n");
    }

    fn file_with(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("conf");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    fn read(path: &std::path::Path) -> String {
        std::fs::read_to_string(path).expect("read")
    }

    #[tokio::test]
    async fn inserting_updating_and_removing_report_as_ansible_does() {
        let (_dir, path) = file_with("a\n");
        let args = json!({"path": path, "block": "x\ny"});
        let inserted = run(Blockinfile, args.clone(), RUN).await;
        assert_changed(&inserted);
        assert_eq!(inserted.msg.as_deref(), Some("Block inserted"));
        assert_eq!(read(&path), format!("a\n{BLOCK}"));
        assert_ok(&run(Blockinfile, args, RUN).await);
        let removed = run(
            Blockinfile,
            json!({"path": path, "state": "absent", "backup": true}),
            RUN,
        )
        .await;
        assert_changed(&removed);
        assert_eq!(removed.msg.as_deref(), Some("Block removed"));
        assert_eq!(read(&path), "a\n");
        let backup = field(&removed, "backup_file");
        assert_eq!(
            read(std::path::Path::new(backup.as_str().expect("backup"))),
            format!("a\n{BLOCK}")
        );
    }

    #[tokio::test]
    async fn create_makes_the_file_and_its_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("etc/app.conf");
        let args = json!({"path": path, "block": "x\ny"});
        assert_failed(&run(Blockinfile, args, RUN).await, "does not exist");
        let create = json!({"path": path, "block": "x\ny", "create": true, "mode": "0600"});
        let created = run(Blockinfile, create.clone(), RUN).await;
        assert_changed(&created);
        assert_eq!(created.msg.as_deref(), Some("File created"));
        assert_eq!(read(&path), BLOCK);
        assert_eq!(mode_of(&path), 0o600);
        assert_ok(&run(Blockinfile, create, RUN).await);
        let gone = dir.path().join("gone");
        let absent = json!({"path": gone, "state": "absent", "create": true});
        let result = run(Blockinfile, absent, RUN).await;
        assert_ok(&result);
        assert_eq!(
            result.msg,
            Some(format!("File {} not present", gone.display()))
        );
        assert!(!dir.path().join("gone").exists());
    }

    #[tokio::test]
    async fn check_mode_and_diff_leave_the_file_alone() {
        let (_dir, path) = file_with("a\n");
        let args = json!({"path": path, "block": "x\ny"});
        let both = Mode {
            check: true,
            diff: true,
        };
        let result = run(Blockinfile, args.clone(), both).await;
        assert_changed(&result);
        let diff = result.diff.expect("diff");
        assert_eq!(diff.before, "a\n");
        assert_eq!(diff.after, format!("a\n{BLOCK}"));
        assert_changed(&run(Blockinfile, args, CHECK).await);
        assert_eq!(read(&path), "a\n");
    }

    #[tokio::test]
    async fn argument_mistakes_are_named() {
        let (_dir, path) = file_with("");
        assert_failed(
            &run(Blockinfile, json!({"block": "x"}), RUN).await,
            "path is required",
        );
        assert_failed(
            &run(
                Blockinfile,
                json!({"path": path, "insertafter": "a", "insertbefore": "b"}),
                RUN,
            )
            .await,
            "mutually exclusive",
        );
        assert_failed(
            &run(Blockinfile, json!({"path": path, "insertafter": "("}), RUN).await,
            "insertafter `(` is not valid",
        );
        assert_failed(
            &run(Blockinfile, json!({"path": path, "blok": "x"}), RUN).await,
            "unsupported argument `blok`",
        );
    }
}
