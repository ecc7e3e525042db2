//! `replace`: replace every match of a regular expression in a file (optionally only in the
//! section between `after` and `before`); the file is read, edited here and installed as
//! `copy` installs it.
//!
//! Regexes follow Ansible's: `regexp` is compiled MULTILINE (`^`/`$` match at line breaks),
//! the `after`/`before` section pattern DOTALL, and `replace` is a Python `re.sub` template
//! (`\1`, `\g<name>`, `\g<1>`, `\n`, `\t`, `\\`). Matching is on bytes, so a file that is not
//! UTF-8 is edited without being mangled.
//!
//! Deviations from Ansible: regexes use Rust's `regex` syntax, which lacks look-around and
//! backreferences inside the pattern (such a regexp is an argument error, not a silent
//! mismatch); `encoding` is accepted and ignored (bytes are matched as they are); files
//! larger than 4 MiB are refused.

use async_trait::async_trait;
use regex::bytes::{Captures, Regex};
use serde::Deserialize;

use super::args::{self, ArgError};
use super::file_edit::{self, one_of, WriteOptions};
use super::lenient;
use super::remote_file::{Attrs, ModeArg, Principal};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `replace`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceArgs {
    /// The file to edit.
    path: Option<String>,
    /// Alias of `path`.
    dest: Option<String>,
    /// Alias of `path`.
    destfile: Option<String>,
    /// Alias of `path`.
    name: Option<String>,
    /// The regular expression to look for (MULTILINE).
    regexp: Option<String>,
    /// What each match becomes (default: nothing, i.e. matches are removed).
    #[serde(default)]
    replace: String,
    /// Only replace after the first match of this pattern.
    after: Option<String>,
    /// Only replace before the last match of this pattern (the first after `after`, with both).
    before: Option<String>,
    /// Keep a timestamped copy of the file before changing it.
    #[serde(default, deserialize_with = "lenient::bool")]
    backup: bool,
    /// A command that must accept the new file (`%s` is its path) before it replaces the old.
    validate: Option<String>,
    /// Accepted for compatibility; bytes are matched as they are.
    encoding: Option<String>,
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

/// `replace`: substitute a regexp's matches throughout a file.
pub(crate) struct Replace;

#[async_trait]
impl Module for Replace {
    fn names(&self) -> &'static [&'static str] {
        &["replace", "ansible.builtin.replace", "ansible.legacy.replace"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<ReplaceArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: ReplaceArgs = args::parse(args)?;
        replace(&args, ctx).await
    }
}

/// The work, decided before anything is written.
struct Plan {
    regexp: Regex,
    template: Template,
    /// The section regex and the pattern as composed (Ansible's message names it).
    section: Option<(Regex, String)>,
}

impl Plan {
    fn new(args: &ReplaceArgs) -> Result<Self, ArgError> {
        let regexp = args
            .regexp
            .as_deref()
            .ok_or_else(|| ArgError::Invalid("regexp is required".into()))?;
        let regexp = compile(&format!("(?m){regexp}"), regexp, "regexp")?;
        let template = Template::parse(&args.replace)?;
        for group in template.groups() {
            let known = match group {
                Group::Number(n) => *n < regexp.captures_len(),
                Group::Name(name) => regexp.capture_names().flatten().any(|g| g == name),
            };
            if !known {
                return Err(ArgError::Invalid(format!(
                    "replace refers to group {group} which regexp does not have"
                )));
            }
        }
        let section = match (&args.after, &args.before) {
            (Some(after), Some(before)) => Some(format!("{after}(?P<subsection>.*?){before}")),
            (Some(after), None) => Some(format!("{after}(?P<subsection>.*)")),
            (None, Some(before)) => Some(format!("(?P<subsection>.*){before}")),
            (None, None) => None,
        };
        let section = section
            .map(|pattern| {
                compile(&format!("(?s){pattern}"), &pattern, "after/before")
                    .map(|regex| (regex, pattern))
            })
            .transpose()?;
        Ok(Self {
            regexp,
            template,
            section,
        })
    }

    /// The new content and how many replacements were made, or why nothing was done.
    fn apply(&self, content: &[u8]) -> Result<(Vec<u8>, usize), String> {
        let (start, end) = match &self.section {
            Some((section, pattern)) => {
                let found = section
                    .captures(content)
                    .and_then(|c| c.name("subsection"))
                    .ok_or_else(|| {
                        format!(
                            "Pattern for before/after params did not match the given file: \
                             {pattern}"
                        )
                    })?;
                (found.start(), found.end())
            }
            None => (0, content.len()),
        };
        let mut count = 0;
        let replaced = self
            .regexp
            .replace_all(&content[start..end], |captures: &Captures<'_>| {
                count += 1;
                self.template.expand(captures)
            });
        let mut out = Vec::with_capacity(content.len());
        out.extend_from_slice(&content[..start]);
        out.extend_from_slice(&replaced);
        out.extend_from_slice(&content[end..]);
        Ok((out, count))
    }
}

fn compile(pattern: &str, as_written: &str, what: &str) -> Result<Regex, ArgError> {
    Regex::new(pattern)
        .map_err(|error| ArgError::Invalid(format!("{what} `{as_written}` is not valid: {error}")))
}

async fn replace(args: &ReplaceArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let _accepted = (&args.encoding, args.unsafe_writes);
    let path = one_of(
        "path, dest, destfile and name",
        &[&args.path, &args.dest, &args.destfile, &args.name],
    )?
    .ok_or_else(|| ArgError::Invalid("path is required".into()))?;
    let plan = Plan::new(args)?;
    let attrs = Attrs::new(args.mode.as_ref(), args.owner.as_ref(), args.group.as_ref())?;
    let original = file_edit::read(ctx, path).await?;
    let Some(content) = &original.content else {
        return Err(ModuleError::Failed(format!("Path {path} does not exist !")));
    };
    let (new, msg) = match plan.apply(content) {
        Ok((new, count)) if count > 0 && new != *content => {
            (new, Some(format!("{count} replacements made")))
        }
        Ok(_) => (content.clone(), None),
        Err(reason) => return Ok(ModuleResult::ok().with_msg(reason)),
    };
    let options = WriteOptions {
        attrs,
        backup: args.backup,
        validate: args.validate.as_deref(),
        make_parents: false,
    };
    file_edit::write(ctx, path, &original, &new, msg, options).await
}

/// A group a replacement template refers to.
#[derive(Debug, Clone, PartialEq)]
enum Group {
    Number(usize),
    Name(String),
}

impl std::fmt::Display for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Name(name) => write!(f, "`{name}`"),
        }
    }
}

/// A piece of a Python `re.sub` replacement template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(Vec<u8>),
    Group(Group),
}

/// Python's `re.sub` replacement template, parsed once.
#[derive(Debug, Clone, PartialEq)]
struct Template(Vec<Piece>);

impl Template {
    fn parse(template: &str) -> Result<Self, ArgError> {
        let mut pieces = Vec::new();
        let mut text = Vec::new();
        let bytes = template.as_bytes();
        let mut at = 0;
        let group = |pieces: &mut Vec<Piece>, text: &mut Vec<u8>, g: Group| {
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(text)));
            }
            pieces.push(Piece::Group(g));
        };
        while at < bytes.len() {
            let byte = bytes[at];
            if byte != b'\\' || at + 1 == bytes.len() {
                text.push(byte);
                at += 1;
                continue;
            }
            let next = bytes[at + 1];
            match next {
                b'0'..=b'9' => {
                    let mut end = at + 2;
                    if end < bytes.len() && bytes[end].is_ascii_digit() {
                        end += 1;
                    }
                    let number = template[at + 1..end].parse().unwrap_or(0);
                    group(&mut pieces, &mut text, Group::Number(number));
                    at = end;
                }
                b'g' => {
                    let rest = &template[at + 2..];
                    let name = rest
                        .strip_prefix('<')
                        .and_then(|rest| rest.split_once('>'))
                        .map(|(name, _)| name)
                        .filter(|name| !name.is_empty())
                        .ok_or_else(|| {
                            ArgError::Invalid(format!(
                                "replace `{template}`: \\g must be followed by <name>"
                            ))
                        })?;
                    let g = match name.parse::<usize>() {
                        Ok(number) => Group::Number(number),
                        Err(_) => Group::Name(name.to_string()),
                    };
                    group(&mut pieces, &mut text, g);
                    at += 2 + name.len() + 2;
                }
                b'n' => {
                    text.push(b'\n');
                    at += 2;
                }
                b't' => {
                    text.push(b'\t');
                    at += 2;
                }
                b'r' => {
                    text.push(b'\r');
                    at += 2;
                }
                b'\\' => {
                    text.push(b'\\');
                    at += 2;
                }
                _ => {
                    // Python keeps an unknown escape of a non-letter as written.
                    text.push(b'\\');
                    at += 1;
                }
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Self(pieces))
    }

    fn groups(&self) -> impl Iterator<Item = &Group> {
        self.0.iter().filter_map(|piece| match piece {
            Piece::Group(group) => Some(group),
            Piece::Text(_) => None,
        })
    }

    /// The replacement for one match; a group that did not take part is empty, as in Python.
    fn expand(&self, captures: &Captures<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => out.extend_from_slice(text),
                Piece::Group(Group::Number(n)) => {
                    out.extend_from_slice(captures.get(*n).map_or(&b""[..], |m| m.as_bytes()));
                }
                Piece::Group(Group::Name(name)) => {
                    out.extend_from_slice(captures.name(name).map_or(&b""[..], |m| m.as_bytes()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::testing::{
        assert_changed, assert_failed, assert_ok, field, run, Mode, CHECK, RUN,
    };
    use super::*;
    use serde_json::json;

    fn plan(args: serde_json::Value) -> Result<Plan, ArgError> {
        let args: ReplaceArgs = serde_json::from_value(args).expect("args");
        Plan::new(&args)
    }

    fn apply(args: serde_json::Value, text: &str) -> (String, usize) {
        let (out, count) = plan(args).expect("plan").apply(text.as_bytes()).expect("apply");
        (String::from_utf8(out).expect("utf8"), count)
    }

    #[test]
    fn regexp_is_multiline_and_replace_expands_python_groups() {
        let args = json!({"regexp": "^(\\w+)=(?P<v>\\d+)$", "replace": "\\1: \\g<v> \\g<2>"});
        assert_eq!(apply(args, "a=1\nb=2\nc=x\n"), ("a: 1 1\nb: 2 2\nc=x\n".into(), 2));
    }

    #[test]
    fn after_and_before_limit_the_section() {
        let text = "x=1\n<start>\nx=1\nx=1\n<end>\nx=1\n";
        let both = json!({"regexp": "x=1", "replace": "x=2", "after": "<start>", "before": "<end>"});
        assert_eq!(
            apply(both, text).0,
            "x=1\n<start>\nx=2\nx=2\n<end>\nx=1\n"
        );
        let after = json!({"regexp": "x=1", "replace": "x=2", "after": "<start>"});
        assert_eq!(
            apply(after, text).0,
            "x=1\n<start>\nx=2\nx=2\n<end>\nx=2\n"
        );
        let before = json!({"regexp": "x=1", "replace": "x=2", "before": "<end>"});
        assert_eq!(
            apply(before, text).0,
            "x=2\n<start>\nx=2\nx=2\n<end>\nx=1\n"
        );
        let missing = json!({"regexp": "x", "after": "nowhere"});
        assert!(plan(missing).expect("plan").apply(b"x").is_err());
    }

    #[test]
    fn an_empty_replace_removes_matches_and_escapes_are_python_s() {
        assert_eq!(apply(json!({"regexp": "#.*\\n"}), "a\n# c\nb\n").0, "a\nb\n");
        assert_eq!(
            apply(json!({"regexp": ",", "replace": "\\n\\t\\\\"}), "a,b").0,
            "a\n\t\\b"
        );
    }

    #[test]
    fn bad_patterns_and_unknown_groups_are_argument_errors() {
        assert!(plan(json!({"regexp": "("})).is_err());
        assert!(plan(json!({"regexp": "(a)", "replace": "\\2"})).is_err());
        assert!(plan(json!({"regexp": "(a)", "replace": "\\g<x>"})).is_err());
        assert!(plan(json!({"regexp": "(?<=a)b"})).is_err());
        assert!(plan(json!({"replace": "x"})).is_err());
    }

    #[test]
    fn bytes_that_are_not_utf8_survive() {
        let plan = plan(json!({"regexp": "a", "replace": "b"})).expect("plan");
        let (out, count) = plan.apply(b"\xff\xfea\x00a").expect("apply");
        assert_eq!((out, count), (b"\xff\xfeb\x00b".to_vec(), 2));
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
    async fn replacing_changes_the_file_once() {
        let (_dir, path) = file_with("PermitRootLogin yes\n#PermitRootLogin yes\n");
        let args = json!({"path": path, "regexp": "^PermitRootLogin .*$",
            "replace": "PermitRootLogin no", "backup": true});
        let result = run(Replace, args.clone(), RUN).await;
        assert_changed(&result);
        assert_eq!(result.msg.as_deref(), Some("1 replacements made"));
        assert_eq!(read(&path), "PermitRootLogin no\n#PermitRootLogin yes\n");
        let backup = field(&result, "backup_file");
        assert_eq!(
            read(std::path::Path::new(backup.as_str().expect("backup"))),
            "PermitRootLogin yes\n#PermitRootLogin yes\n"
        );
        let again = run(Replace, args, RUN).await;
        assert_ok(&again);
        assert_eq!(field(&again, "backup_file"), serde_json::Value::Null);
    }

    #[tokio::test]
    async fn check_mode_and_diff_report_without_writing() {
        let (_dir, path) = file_with("a=1\n");
        let args = json!({"path": path, "regexp": "1", "replace": "2"});
        let result = run(
            Replace,
            args.clone(),
            Mode {
                check: true,
                diff: true,
            },
        )
        .await;
        assert_changed(&result);
        let diff = result.diff.expect("diff");
        assert_eq!((diff.before.as_str(), diff.after.as_str()), ("a=1\n", "a=2\n"));
        assert_eq!(read(&path), "a=1\n");
        assert_changed(&run(Replace, args, CHECK).await);
        assert_eq!(read(&path), "a=1\n");
    }

    #[tokio::test]
    async fn a_missing_file_fails_and_a_missed_section_is_ok() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        assert_failed(
            &run(Replace, json!({"path": missing, "regexp": "a"}), RUN).await,
            "does not exist",
        );
        let (_dir, path) = file_with("a\n");
        let result = run(
            Replace,
            json!({"path": path, "regexp": "a", "after": "zzz"}),
            RUN,
        )
        .await;
        assert_ok(&result);
        assert_eq!(
            result.msg.as_deref(),
            Some("Pattern for before/after params did not match the given file: zzz(?P<subsection>.*)")
        );
    }

    #[tokio::test]
    async fn a_failing_validate_leaves_the_file_alone() {
        let (_dir, path) = file_with("a\n");
        let args = json!({"path": path, "regexp": "a", "replace": "b", "validate": "false %s"});
        assert_failed(&run(Replace, args, RUN).await, "validation failed");
        assert_eq!(read(&path), "a\n");
    }
}
