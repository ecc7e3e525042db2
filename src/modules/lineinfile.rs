//! `lineinfile`: make sure a line is in a file (replacing the one a regexp matches) or that
//! no matching line is; the file is read, edited here and installed as `copy` installs.

use regex::{Captures, Regex};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::copy::{install, InstallOptions};
use super::lenient;
use super::remote_file::{self, Attrs, Kind, ModeArg, Principal, Probe};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::OUTPUT_CAP;
use crate::vars::Value;

/// Arguments of `lineinfile`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineinfileArgs {
    /// The file to edit.
    path: Option<String>,
    /// Alias of `path`.
    dest: Option<String>,
    /// Alias of `path`.
    destfile: Option<String>,
    /// Alias of `path`.
    name: Option<String>,
    /// The line to insert or to replace the matched one with.
    line: Option<String>,
    /// Alias of `line`.
    value: Option<String>,
    /// A regular expression selecting the line to replace (present) or remove (absent).
    regexp: Option<String>,
    /// Alias of `regexp`.
    regex: Option<String>,
    /// A literal string selecting the line, instead of a regexp.
    search_string: Option<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    state: State,
    /// Insert after the last line matching this regexp, or `EOF` (default) / `BOF`.
    insertafter: Option<String>,
    /// Insert before the last line matching this regexp, or `BOF`.
    insertbefore: Option<String>,
    /// Use the first match of regexp/insertafter/insertbefore instead of the last.
    #[serde(default, deserialize_with = "lenient::bool")]
    firstmatch: bool,
    /// Create the file when it is missing (otherwise a missing file fails).
    #[serde(default, deserialize_with = "lenient::bool")]
    create: bool,
    /// Expand `\1`/`\g<name>` in `line` from the regexp match; insert nothing without one.
    #[serde(default, deserialize_with = "lenient::bool")]
    backrefs: bool,
    /// Permission bits to set.
    mode: Option<ModeArg>,
    /// Owner to set.
    owner: Option<Principal>,
    /// Group to set.
    group: Option<Principal>,
    /// Keep a timestamped copy of the file before changing it.
    #[serde(default, deserialize_with = "lenient::bool")]
    backup: bool,
    /// A command that must accept the new file (`%s` is its path) before it replaces the old.
    validate: Option<String>,
    /// Accepted for compatibility; writes are always atomic.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    unsafe_writes: Option<bool>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    #[default]
    Present,
    Absent,
}

/// What `lineinfile` registers.
#[derive(Debug, Serialize)]
struct LineinfileOutcome {
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
}

/// How lines are selected.
enum Matcher {
    Regex(Regex),
    Literal(String),
    Exact,
}

/// `lineinfile`: make sure a line is (or is not) in a file.
pub(crate) struct Lineinfile;

#[async_trait]
impl Module for Lineinfile {
    fn names(&self) -> &'static [&'static str] {
        &["lineinfile", "ansible.builtin.lineinfile", "ansible.legacy.lineinfile"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<LineinfileArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: LineinfileArgs = args::parse(args)?;
        lineinfile(&args, ctx).await
    }
}

fn one_of<'a>(names: &str, values: &[&'a Option<String>]) -> Result<Option<&'a str>, ArgError> {
    let given: Vec<&str> = values.iter().filter_map(|v| v.as_deref()).collect();
    match given.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(ArgError::Invalid(format!(
            "{names} are aliases; give only one"
        ))),
    }
}

fn compile(pattern: &str, what: &str) -> Result<Regex, ArgError> {
    Regex::new(pattern)
        .map_err(|error| ArgError::Invalid(format!("{what} `{pattern}` is not valid: {error}")))
}

async fn lineinfile(
    args: &LineinfileArgs,
    ctx: &ModuleContext<'_>,
) -> Result<ModuleResult, ModuleError> {
    let _accepted = args.unsafe_writes;
    let path = one_of(
        "path, dest, destfile and name",
        &[&args.path, &args.dest, &args.destfile, &args.name],
    )?
    .ok_or_else(|| ArgError::Invalid("path is required".into()))?;
    let line = one_of("line and value", &[&args.line, &args.value])?;
    let regexp = one_of("regexp and regex", &[&args.regexp, &args.regex])?;
    if regexp.is_some() && args.search_string.is_some() {
        Err(ArgError::Invalid(
            "regexp and search_string are mutually exclusive".into(),
        ))?;
    }
    if args.insertafter.is_some() && args.insertbefore.is_some() {
        Err(ArgError::Invalid(
            "insertafter and insertbefore are mutually exclusive".into(),
        ))?;
    }
    if args.backrefs && regexp.is_none() {
        Err(ArgError::Invalid("backrefs=yes requires regexp".into()))?;
    }
    let matcher = match (regexp, &args.search_string) {
        (Some(pattern), _) => Matcher::Regex(compile(pattern, "regexp")?),
        (None, Some(text)) => Matcher::Literal(text.clone()),
        (None, None) => Matcher::Exact,
    };
    if args.state == State::Present && line.is_none() {
        Err(ArgError::Invalid(
            "line is required with state=present".into(),
        ))?;
    }
    if args.state == State::Absent && line.is_none() && matches!(matcher, Matcher::Exact) {
        Err(ArgError::Invalid(
            "one of line, regexp or search_string is required with state=absent".into(),
        ))?;
    }
    let insert = match (&args.insertafter, &args.insertbefore) {
        (Some(after), _) if after == "EOF" => Insert::Eof,
        (Some(after), _) if after == "BOF" => Insert::Bof,
        (Some(after), _) => Insert::After(compile(after, "insertafter")?),
        (None, Some(before)) if before == "BOF" => Insert::Bof,
        (None, Some(before)) => Insert::Before(compile(before, "insertbefore")?),
        (None, None) => Insert::Eof,
    };
    let attrs = Attrs::new(args.mode.as_ref(), args.owner.as_ref(), args.group.as_ref())?;

    let before = remote_file::probe(
        ctx,
        path,
        Probe {
            follow: true,
            checksum: true,
            content_up_to: Some(OUTPUT_CAP as u64),
        },
    )
    .await?;
    let text = match (before.kind, &before.content) {
        (Kind::File, Some(content)) => String::from_utf8_lossy(content).into_owned(),
        (Kind::File, None) => {
            return Err(ModuleError::Failed(format!(
                "{path} is larger than {OUTPUT_CAP} bytes; lineinfile does not edit it"
            )))
        }
        (Kind::Absent, _) if args.state == State::Absent => {
            return Ok(ModuleResult::ok().with_msg("file not present"));
        }
        (Kind::Absent, _) if !args.create => {
            return Err(ModuleError::Failed(format!(
                "Destination {path} does not exist !"
            )))
        }
        (Kind::Absent, _) => String::new(),
        (Kind::Directory, _) => {
            return Err(ModuleError::Failed(format!("{path} is a directory")));
        }
        _ => return Err(ModuleError::Failed(format!("{path} is not a regular file"))),
    };
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let edit = match args.state {
        State::Present => present(
            &mut lines,
            line.unwrap_or_default(),
            &matcher,
            &insert,
            args.backrefs,
            args.firstmatch,
        ),
        State::Absent => absent(&mut lines, line, &matcher),
    };
    let new_text = lines.concat();
    let options = InstallOptions {
        attrs,
        backup: args.backup,
        force: true,
        validate: args.validate.as_deref(),
        make_parents: args.create,
    };
    if !before.exists() && edit.is_none() {
        // `create` with backrefs and nothing to match: there is no line to write.
        return Ok(ModuleResult::ok());
    }
    let (mode, chown) = remote_file::attr_changes(&options.attrs, &before, false);
    let attrs_differ = before.exists() && (mode.is_some() || chown.is_some());
    let installed = install(ctx, path, &before, new_text.as_bytes(), &options).await?;
    let attrs_msg = "ownership, perms or SE linux context changed";
    let msg = match (edit, attrs_differ) {
        (Some(edit), true) => format!("{edit} and {attrs_msg}"),
        (Some(edit), false) => edit,
        (None, true) => attrs_msg.to_string(),
        (None, false) => String::new(),
    };
    let base = if installed.changed {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    Ok(ModuleResult {
        diff: installed.diff.clone(),
        ..base.with_msg(msg).with_data(&LineinfileOutcome {
            backup: installed.backup_file.clone(),
        })
    })
}

/// Where a missing line goes.
enum Insert {
    Eof,
    Bof,
    After(Regex),
    Before(Regex),
}

fn bare(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

fn matches(matcher: &Matcher, line: &str, wanted: Option<&str>) -> bool {
    match matcher {
        Matcher::Regex(regex) => regex.is_match(bare(line)),
        Matcher::Literal(text) => line.contains(text.as_str()),
        Matcher::Exact => wanted == Some(bare(line)),
    }
}

/// Ansible's `present`: returns the message when the lines changed.
fn present(
    lines: &mut Vec<String>,
    line: &str,
    matcher: &Matcher,
    insert: &Insert,
    backrefs: bool,
    firstmatch: bool,
) -> Option<String> {
    // 1. The line the regexp (or search string) selects: the last one, or the first.
    let mut found: Option<usize> = None;
    if !matches!(matcher, Matcher::Exact) {
        for (index, current) in lines.iter().enumerate() {
            if matches(matcher, current, None) {
                found = Some(index);
                if firstmatch {
                    break;
                }
            }
        }
    }
    // 2. Without one: the line itself, and where insertafter/insertbefore point.
    let mut insert_at: Option<usize> = None;
    let mut exact = false;
    if found.is_none() {
        for (index, current) in lines.iter().enumerate() {
            if bare(current) == line {
                found = Some(index);
                exact = true;
            } else {
                match insert {
                    Insert::After(regex) if regex.is_match(bare(current)) => {
                        insert_at = Some(index + 1);
                        if firstmatch {
                            break;
                        }
                    }
                    Insert::Before(regex) if regex.is_match(bare(current)) => {
                        insert_at = Some(index);
                        if firstmatch {
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if let Some(index) = found {
        let new_line = match (backrefs, matcher, exact) {
            (true, Matcher::Regex(regex), false) => match regex.captures(bare(&lines[index])) {
                Some(captures) => expand(line, &captures),
                None => line.to_string(),
            },
            _ => line.to_string(),
        };
        let new_line = format!("{new_line}\n");
        if lines[index] != new_line {
            lines[index] = new_line;
            return Some("line replaced".into());
        }
        return None;
    }
    if backrefs {
        // Nothing matched to fill the backreferences from: Ansible inserts nothing.
        return None;
    }
    let new_line = format!("{line}\n");
    match (insert, insert_at) {
        (Insert::Bof, _) => lines.insert(0, new_line),
        (Insert::Eof, _) | (_, None) => {
            if let Some(last) = lines.last_mut() {
                if !last.ends_with('\n') {
                    last.push('\n');
                }
            }
            lines.push(new_line);
        }
        (Insert::After(_), Some(at)) => {
            if lines.get(at).map(|l| bare(l)) == Some(line)
                || (at == lines.len() && at > 0 && bare(&lines[at - 1]) == line)
            {
                return None;
            }
            if at == lines.len() {
                if let Some(last) = lines.last_mut() {
                    if !last.ends_with('\n') {
                        last.push('\n');
                    }
                }
            }
            lines.insert(at, new_line);
        }
        (Insert::Before(_), Some(at)) => lines.insert(at, new_line),
    }
    Some("line added".into())
}

/// Ansible's `absent`: removes every selected line.
fn absent(lines: &mut Vec<String>, line: Option<&str>, matcher: &Matcher) -> Option<String> {
    let before = lines.len();
    lines.retain(|current| !matches(matcher, current, line));
    let removed = before - lines.len();
    (removed > 0).then(|| format!("{removed} line(s) removed"))
}

/// Python's `match.expand`: `\1`…`\99` and `\g<name>`/`\g<1>` take the group's text.
fn expand(template: &str, captures: &Captures<'_>) -> String {
    let mut out = String::new();
    let mut chars = template.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().map(|&(_, next)| next) {
            Some(d) if d.is_ascii_digit() => {
                let mut number = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    if !d.is_ascii_digit() || number.len() == 2 {
                        break;
                    }
                    number.push(d);
                    chars.next();
                }
                let group = number.parse::<usize>().unwrap_or(0);
                out.push_str(captures.get(group).map_or("", |m| m.as_str()));
            }
            Some('g') if template[at + 2..].starts_with('<') => {
                let rest = &template[at + 3..];
                match rest.find('>') {
                    Some(end) => {
                        let name = &rest[..end];
                        let text = match name.parse::<usize>() {
                            Ok(number) => captures.get(number),
                            Err(_) => captures.name(name),
                        };
                        out.push_str(text.map_or("", |m| m.as_str()));
                        // Skip `g<name>`.
                        for _ in 0..name.chars().count() + 3 {
                            chars.next();
                        }
                    }
                    None => out.push(c),
                }
            }
            Some('n') => {
                out.push('\n');
                chars.next();
            }
            Some('t') => {
                out.push('\t');
                chars.next();
            }
            Some('\\') => {
                out.push('\\');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.split_inclusive('\n').map(str::to_string).collect()
    }

    #[test]
    fn backreferences_expand_python_style() {
        let regex = Regex::new(r"^(?P<key>\w+)=(\d+)$").expect("regex");
        let captures = regex.captures("port=80").expect("match");
        assert_eq!(expand(r"\1 is \2", &captures), "port is 80");
        assert_eq!(expand(r"\g<key>: \g<2>", &captures), "port: 80");
    }

    #[test]
    fn insertbefore_puts_the_line_above_the_last_match() {
        let mut text = lines("a\nmark\nb\nmark\nc\n");
        let insert = Insert::Before(Regex::new("^mark").expect("regex"));
        let msg = present(&mut text, "new", &Matcher::Exact, &insert, false, false);
        assert_eq!(msg.as_deref(), Some("line added"));
        assert_eq!(text.concat(), "a\nmark\nb\nnew\nmark\nc\n");
    }

    #[test]
    fn firstmatch_uses_the_first_insertafter_match() {
        let mut text = lines("mark\nb\nmark\n");
        let insert = Insert::After(Regex::new("^mark").expect("regex"));
        present(&mut text, "new", &Matcher::Exact, &insert, false, true);
        assert_eq!(text.concat(), "mark\nnew\nb\nmark\n");
    }

    #[test]
    fn appending_to_a_file_without_final_newline_adds_one() {
        let mut text = lines("a");
        present(&mut text, "b", &Matcher::Exact, &Insert::Eof, false, false);
        assert_eq!(text.concat(), "a\nb\n");
    }

    #[test]
    fn a_present_line_is_not_added_again_when_the_regexp_misses() {
        let mut text = lines("x=1\n");
        let matcher = Matcher::Regex(Regex::new("^y=").expect("regex"));
        assert_eq!(
            present(&mut text, "x=1", &matcher, &Insert::Eof, false, false),
            None
        );
    }

    use super::super::remote_file::testing::{
        assert_changed, assert_failed, assert_ok, field, mode_of, run, CHECK, DIFF, RUN,
    };
    use super::Lineinfile;
    use serde_json::json;

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
    async fn the_last_regexp_match_is_replaced_once() {
        let (_dir, path) = file_with("a=1\nport=80\nb=2\nport=81\n");
        let args = json!({"path": path, "regexp": "^port=", "line": "port=8080"});
        let result = run(Lineinfile, args.clone(), RUN).await;
        assert_changed(&result);
        assert_eq!(result.msg.as_deref(), Some("line replaced"));
        assert_eq!(read(&path), "a=1\nport=80\nb=2\nport=8080\n");
        assert_ok(&run(Lineinfile, args, RUN).await);
    }

    #[tokio::test]
    async fn a_missing_line_is_appended_once() {
        let (_dir, path) = file_with("a=1\n");
        let args = json!({"path": path, "line": "b=2"});
        let result = run(Lineinfile, args.clone(), RUN).await;
        assert_changed(&result);
        assert_eq!(result.msg.as_deref(), Some("line added"));
        assert_eq!(read(&path), "a=1\nb=2\n");
        assert_ok(&run(Lineinfile, args, RUN).await);
        let unmatched = json!({"path": path, "regexp": "^c=", "line": "c=3"});
        assert_changed(&run(Lineinfile, unmatched.clone(), RUN).await);
        assert_eq!(read(&path), "a=1\nb=2\nc=3\n");
        assert_ok(&run(Lineinfile, unmatched, RUN).await);
    }

    #[tokio::test]
    async fn absent_removes_every_matching_line() {
        let (_dir, path) = file_with("keep\n#x\nkeep too\n#y\n");
        let args = json!({"path": path, "regexp": "^#", "state": "absent"});
        let result = run(Lineinfile, args.clone(), RUN).await;
        assert_changed(&result);
        assert_eq!(result.msg.as_deref(), Some("2 line(s) removed"));
        assert_eq!(read(&path), "keep\nkeep too\n");
        assert_ok(&run(Lineinfile, args, RUN).await);
        let exact = json!({"path": path, "line": "keep too", "state": "absent"});
        assert_changed(&run(Lineinfile, exact, RUN).await);
        assert_eq!(read(&path), "keep\n");
    }

    #[tokio::test]
    async fn insertafter_and_bof_place_the_line() {
        let (_dir, path) = file_with("[main]\nx=1\n[other]\n");
        let after = json!({"path": path, "line": "y=2", "insertafter": "^\\[main\\]"});
        assert_changed(&run(Lineinfile, after.clone(), RUN).await);
        assert_eq!(read(&path), "[main]\ny=2\nx=1\n[other]\n");
        assert_ok(&run(Lineinfile, after, RUN).await);
        let bof = json!({"path": path, "line": "# managed", "insertbefore": "BOF"});
        assert_changed(&run(Lineinfile, bof.clone(), RUN).await);
        assert!(read(&path).starts_with("# managed\n[main]"));
        assert_ok(&run(Lineinfile, bof, RUN).await);
    }

    #[tokio::test]
    async fn backrefs_fill_the_line_from_the_match_and_add_nothing_without_one() {
        let (_dir, path) = file_with("listen 80;\n");
        let args = json!({"path": path, "regexp": "^listen (\\d+);$",
            "line": "listen \\1 default;", "backrefs": true});
        assert_changed(&run(Lineinfile, args, RUN).await);
        assert_eq!(read(&path), "listen 80 default;\n");
        let none = json!({"path": path, "regexp": "^missing (.*)", "line": "\\1",
            "backrefs": true});
        assert_ok(&run(Lineinfile, none, RUN).await);
        assert_eq!(read(&path), "listen 80 default;\n");
    }

    #[tokio::test]
    async fn a_missing_file_fails_unless_create_is_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("etc/app/new.conf");
        let args = json!({"path": path, "line": "x=1"});
        assert_failed(&run(Lineinfile, args, RUN).await, "does not exist");
        let create = json!({"path": path, "line": "x=1", "create": true, "mode": "0600"});
        assert_changed(&run(Lineinfile, create.clone(), RUN).await);
        assert_eq!(read(&path), "x=1\n");
        assert_eq!(mode_of(&path), 0o600);
        assert_ok(&run(Lineinfile, create, RUN).await);
        let gone = json!({"path": dir.path().join("gone"), "line": "x", "state": "absent"});
        assert_ok(&run(Lineinfile, gone, RUN).await);
    }

    #[tokio::test]
    async fn check_mode_and_diff_leave_the_file_alone() {
        let (_dir, path) = file_with("a\n");
        let both = super::super::remote_file::testing::Mode {
            check: true,
            diff: true,
        };
        let result = run(Lineinfile, json!({"path": path, "line": "b"}), both).await;
        assert_changed(&result);
        let diff = result.diff.expect("diff");
        assert_eq!(
            (diff.before.as_str(), diff.after.as_str()),
            ("a\n", "a\nb\n")
        );
        assert_eq!(read(&path), "a\n");
        assert_changed(&run(Lineinfile, json!({"path": path, "line": "b"}), CHECK).await);
        assert_eq!(read(&path), "a\n");
        assert!(run(Lineinfile, json!({"path": path, "line": "b"}), DIFF)
            .await
            .diff
            .is_some());
    }

    #[tokio::test]
    async fn backup_and_mode_changes_are_reported() {
        let (_dir, path) = file_with("a\n");
        let result = run(
            Lineinfile,
            json!({"path": path, "line": "b", "backup": true, "mode": "0600"}),
            RUN,
        )
        .await;
        assert_changed(&result);
        assert_eq!(
            result.msg.as_deref(),
            Some("line added and ownership, perms or SE linux context changed")
        );
        let backup = field(&result, "backup");
        assert_eq!(
            read(std::path::Path::new(backup.as_str().expect("backup"))),
            "a\n"
        );
        let mode_only = run(
            Lineinfile,
            json!({"path": path, "line": "b", "mode": "0640"}),
            RUN,
        )
        .await;
        assert_changed(&mode_only);
        assert_eq!(
            mode_only.msg.as_deref(),
            Some("ownership, perms or SE linux context changed")
        );
        assert_eq!(mode_of(&path), 0o640);
    }

    #[tokio::test]
    async fn argument_mistakes_are_named() {
        let (_dir, path) = file_with("");
        assert_failed(
            &run(Lineinfile, json!({"line": "x"}), RUN).await,
            "path is required",
        );
        assert_failed(
            &run(Lineinfile, json!({"path": path, "regexp": "^x"}), RUN).await,
            "line is required",
        );
        assert_failed(
            &run(
                Lineinfile,
                json!({"path": path, "line": "x", "regexp": "("}),
                RUN,
            )
            .await,
            "regexp `(` is not valid",
        );
        assert_failed(
            &run(
                Lineinfile,
                json!({"path": path, "line": "x", "backrefs": true}),
                RUN,
            )
            .await,
            "backrefs=yes requires regexp",
        );
        assert_failed(
            &run(
                Lineinfile,
                json!({"path": path, "line": "x", "insertafter": "a", "insertbefore": "b"}),
                RUN,
            )
            .await,
            "mutually exclusive",
        );
    }
}
