//! Reading ssh_config files into lines: OpenSSH's word splitting (quotes, backslashes,
//! comments), `Host`/`Match` headers, `Include` (globs, read in place, conditional on the
//! enclosing block), and every option checked against the keyword table as it is read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::keywords::{self, Setting};
use super::ConfigError;

/// How deep `Include`s may nest (OpenSSH's `READCONF_MAX_DEPTH`).
const MAX_DEPTH: usize = 16;

/// Where a line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    /// The file.
    pub path: Arc<str>,
    /// 1-based line number.
    pub line: usize,
}

impl Loc {
    /// An error at this line.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: self.path.to_string(),
            line: self.line,
            message: message.into(),
        }
    }
}

/// One `Match` criterion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion {
    /// Written with `!`.
    pub negate: bool,
    /// Which test.
    pub attribute: Attribute,
    /// Its argument (a pattern list or a command); empty for `all`, `final`, `canonical`.
    pub argument: String,
}

/// The `Match` criteria OpenSSH 9.2 knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    /// `all`.
    All,
    /// `canonical` (true in the final pass).
    Canonical,
    /// `final` (true in the final pass; asks for one).
    Final,
    /// `host`: the host name after `HostName`.
    Host,
    /// `originalhost`: the name given.
    OriginalHost,
    /// `user`: the remote user so far.
    User,
    /// `localuser`.
    LocalUser,
    /// `exec`: a shell command's exit status.
    Exec,
}

/// One meaningful line.
#[derive(Debug, Clone)]
pub enum Line {
    /// `Host` patterns.
    Host(Vec<String>),
    /// `Match` criteria.
    Match(Vec<Criterion>, Loc),
    /// The files an `Include` read, in glob order.
    Include(Vec<Vec<Line>>),
    /// A known option.
    Option(Setting, Loc),
    /// A keyword OpenSSH does not know: an error unless `IgnoreUnknown` covers it.
    Unknown(String, Loc),
}

/// Whether a file is a user configuration (`~/.ssh/config`, `-F`) or the system one:
/// relative `Include`s resolve against `~/.ssh` or `/etc/ssh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `~/.ssh/config` or `-F FILE`.
    User,
    /// `/etc/ssh/ssh_config`.
    System,
}

/// Reads a file; `Ok(None)` when it does not exist. With `check_owner` (included files and
/// `~/.ssh/config`, as OpenSSH's `SSHCONF_CHECKPERM`) a file owned by another user than root
/// or this one, or writable by group or others, is an error.
pub fn read_file(
    path: &Path,
    origin: Origin,
    depth: usize,
    check_owner: bool,
) -> Result<Option<Vec<Line>>, ConfigError> {
    // A directory opens and reads as empty in OpenSSH (fopen succeeds, getline ends at once).
    if path.is_dir() {
        return Ok(Some(Vec::new()));
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => {
            if check_owner {
                check_permissions(path)?;
            }
            text
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(ConfigError {
                path: path.display().to_string(),
                line: 0,
                message: format!("cannot read: {error}"),
            })
        }
    };
    parse_text(&text, path, origin, depth).map(Some)
}

/// OpenSSH's check on a file it includes: owned by root or the user, not group or world
/// writable ("Bad owner or permissions").
fn check_permissions(path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let error = |message: String| ConfigError {
        path: path.display().to_string(),
        line: 0,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| error(format!("cannot read: {e}")))?;
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0);
    let group_writable_ok = meta.mode() & 0o020 == 0 || private_group(meta.uid(), meta.gid());
    if (meta.uid() != 0 && meta.uid() != me) || meta.mode() & 0o002 != 0 || !group_writable_ok {
        return Err(error(format!(
            "bad owner or permissions (owner uid {}, mode {:o}): OpenSSH refuses a configuration \
             file another user owns or that group or others can write",
            meta.uid(),
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Debian's OpenSSH accepts a group-writable file when the group is the owner's own: the
/// owner's primary group, with no other member listed in `/etc/group`.
fn private_group(uid: u32, gid: u32) -> bool {
    let field = |file: &str, index: usize, key: u32, want: usize| -> Option<String> {
        let text = std::fs::read_to_string(file).ok()?;
        text.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > want && fields[index].parse() == Ok(key))
                .then(|| fields[want].to_string())
        })
    };
    let Some(owner) = field("/etc/passwd", 2, uid, 0) else {
        return false;
    };
    let primary = field("/etc/passwd", 2, uid, 3).and_then(|g| g.parse::<u32>().ok());
    let members = field("/etc/group", 2, gid, 3).unwrap_or_default();
    primary == Some(gid) && members.split(',').all(|m| m.is_empty() || m == owner)
}

/// Parses one file's text.
pub fn parse_text(
    text: &str,
    path: &Path,
    origin: Origin,
    depth: usize,
) -> Result<Vec<Line>, ConfigError> {
    let name: Arc<str> = Arc::from(path.display().to_string());
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let loc = Loc {
            path: name.clone(),
            line: index + 1,
        };
        let Some((written, rest)) = split_keyword(raw) else {
            continue;
        };
        let keyword = written.to_ascii_lowercase();
        if rest.is_empty() {
            return Err(loc.error(format!("no argument after keyword `{written}`")));
        }
        let args = split_args(rest).map_err(|m| loc.error(m))?;
        let line = match (keyword.as_str(), keywords::kind(&keyword)) {
            ("host", _) => {
                if args.is_empty() || args.iter().any(String::is_empty) {
                    return Err(loc.error("`Host` needs patterns"));
                }
                Line::Host(args)
            }
            // OpenSSH reads `Match` criteria with `strdelim` (blanks or one `=` between words,
            // only double quotes), not with the option word splitting.
            ("match", _) => Line::Match(
                parse_match(&strdelim_words(rest)).map_err(|m| loc.error(m))?,
                loc,
            ),
            ("include", _) => {
                if depth >= MAX_DEPTH {
                    return Err(loc.error("`Include` nested too deeply"));
                }
                let mut files = Vec::new();
                for pattern in &args {
                    for file in include_files(pattern, origin).map_err(|m| loc.error(m))? {
                        if let Some(lines) = read_file(&file, origin, depth + 1, true)? {
                            files.push(lines);
                        }
                    }
                }
                Line::Include(files)
            }
            (_, None) => Line::Unknown(written.to_string(), loc),
            (_, Some(kind)) => {
                let setting = keywords::parse_setting(written, kind, &args, rest)
                    .map_err(|m| loc.error(m))?;
                Line::Option(setting, loc)
            }
        };
        lines.push(line);
    }
    Ok(lines)
}

/// `Keyword rest`, `Keyword=rest` or `Keyword = rest`; `None` for blank and comment lines.
fn split_keyword(raw: &str) -> Option<(&str, &str)> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = &line[..end];
    let mut rest = line[end..].trim_start();
    if let Some(after) = rest.strip_prefix('=') {
        rest = after.trim_start();
    }
    Some((keyword, rest))
}

/// OpenSSH's `argv_split` with comments: words split on blanks, `"…"`/`'…'` quoting, `\`
/// escaping a quote, a backslash or (outside quotes) a space, `#` starting a comment.
pub fn split_args(text: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut args = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' || chars[i] == '\t' {
            i += 1;
            continue;
        }
        if chars[i] == '#' {
            break;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' {
                let next = chars.get(i + 1).copied();
                match next {
                    Some(n @ ('\'' | '"' | '\\')) => {
                        word.push(n);
                        i += 1;
                    }
                    Some(' ') if quote.is_none() => {
                        word.push(' ');
                        i += 1;
                    }
                    _ => word.push(c),
                }
            } else if quote.is_none() && (c == ' ' || c == '\t') {
                break;
            } else if quote.is_none() && (c == '"' || c == '\'') {
                quote = Some(c);
            } else if quote == Some(c) {
                quote = None;
            } else {
                word.push(c);
            }
            i += 1;
        }
        if quote.is_some() {
            return Err("unterminated quote".into());
        }
        args.push(word);
    }
    Ok(args)
}

/// OpenSSH's `strdelim` applied until the text runs out or a word is empty: words split at
/// blanks or at a single `=` (with blanks around it), a word may hold a `"…"` part whose blanks
/// and `=` are kept; single quotes and backslashes are ordinary characters.
fn strdelim_words(text: &str) -> Vec<String> {
    let blank = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    let mut words = Vec::new();
    let mut rest = text.trim_start_matches(blank);
    while !rest.is_empty() {
        let Some(at) = rest.find(|c: char| blank(c) || c == '"' || c == '=') else {
            words.push(rest.to_string());
            break;
        };
        let delimiter = rest[at..].chars().next().unwrap_or(' ');
        let (word, after) = if delimiter == '"' {
            let inner = &rest[at + 1..];
            match inner.find('"') {
                Some(close) => (
                    format!("{}{}", &rest[..at], &inner[..close]),
                    inner[close + 1..].trim_start_matches(blank),
                ),
                // Unbalanced quotes were refused by the option splitting already.
                None => break,
            }
        } else {
            let mut after = rest[at + 1..].trim_start_matches(blank);
            if delimiter != '=' {
                if let Some(past) = after.strip_prefix('=') {
                    after = past.trim_start_matches(blank);
                }
            }
            (rest[..at].to_string(), after)
        };
        if word.is_empty() {
            break;
        }
        words.push(word);
        rest = after;
    }
    words
}

/// The criteria of a `Match` line, checked as OpenSSH's `match_cfg_line` checks them; a word
/// starting with `#` where a criterion is expected ends the line (a comment).
fn parse_match(args: &[String]) -> Result<Vec<Criterion>, String> {
    let mut criteria = Vec::new();
    let mut words = args.iter().peekable();
    while let Some(word) = words.next() {
        if word.starts_with('#') {
            break;
        }
        let (negate, name) = match word.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, word.as_str()),
        };
        let attribute = match name.to_ascii_lowercase().as_str() {
            "all" => Attribute::All,
            "canonical" => Attribute::Canonical,
            "final" => Attribute::Final,
            "host" => Attribute::Host,
            "originalhost" => Attribute::OriginalHost,
            "user" => Attribute::User,
            "localuser" => Attribute::LocalUser,
            "exec" => Attribute::Exec,
            other => return Err(format!("unsupported `Match` attribute `{other}`")),
        };
        let argument = match attribute {
            Attribute::All => {
                if criteria.len() > 1 || words.peek().is_some_and(|w| !w.starts_with('#')) {
                    return Err(format!(
                        "`{word}` cannot be combined with other `Match` attributes"
                    ));
                }
                String::new()
            }
            Attribute::Canonical | Attribute::Final => String::new(),
            _ => match words.next() {
                Some(argument) if !argument.is_empty() => argument.clone(),
                _ => return Err(format!("`Match {name}` needs an argument")),
            },
        };
        criteria.push(Criterion {
            negate,
            attribute,
            argument,
        });
    }
    if criteria.is_empty() {
        return Err("`Match` needs criteria".into());
    }
    Ok(criteria)
}

/// The files an `Include` argument names, sorted as glob(3) sorts them; relative paths are
/// under `~/.ssh` (user configurations) or `/etc/ssh` (the system one).
fn include_files(pattern: &str, origin: Origin) -> Result<Vec<PathBuf>, String> {
    if pattern.starts_with('~') && origin == Origin::System {
        return Err(format!(
            "bad include path `{pattern}`: `~` in a system configuration"
        ));
    }
    let full = if pattern.starts_with('~') {
        PathBuf::from(super::tokens::expand_tilde_user(pattern)?)
    } else if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        match origin {
            Origin::User => super::home_dir().join(".ssh").join(pattern),
            Origin::System => Path::new("/etc/ssh").join(pattern),
        }
    };
    let mut files = vec![PathBuf::from("/")];
    for component in full.components().skip(1) {
        let name = component.as_os_str().to_string_lossy();
        let mut next = Vec::new();
        for dir in &files {
            if name.contains(['*', '?', '[']) {
                let Ok(read) = std::fs::read_dir(dir) else {
                    continue;
                };
                let mut found: Vec<PathBuf> = read
                    .filter_map(Result::ok)
                    .filter(|e| {
                        let entry = e.file_name().to_string_lossy().into_owned();
                        !entry.starts_with('.') && glob_match(&name, &entry)
                    })
                    .map(|e| e.path())
                    .collect();
                found.sort();
                next.extend(found);
            } else {
                let path = dir.join(&*name);
                if path.symlink_metadata().is_ok() {
                    next.push(path);
                }
            }
        }
        files = next;
    }
    Ok(files)
}

/// One path component against a glob(3) pattern: `*`, `?`, `[...]` classes (ranges, `!`
/// or `^` negation) and `\` escapes.
fn glob_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    glob_from(&pattern, &name)
}

fn glob_from(pattern: &[char], name: &[char]) -> bool {
    let Some((&first, rest)) = pattern.split_first() else {
        return name.is_empty();
    };
    match first {
        '*' => (0..=name.len()).any(|skip| glob_from(rest, &name[skip..])),
        '?' => !name.is_empty() && glob_from(rest, &name[1..]),
        '[' => match (class_match(rest, name.first().copied()), name.split_first()) {
            (Some((true, after)), Some((_, tail))) => glob_from(after, tail),
            (Some(_), _) => false,
            // No closing `]`: a literal `[`.
            (None, Some(('[', tail))) => glob_from(rest, tail),
            (None, _) => false,
        },
        '\\' if !rest.is_empty() => {
            name.first() == Some(&rest[0]) && glob_from(&rest[1..], &name[1..])
        }
        c => name.first() == Some(&c) && glob_from(rest, &name[1..]),
    }
}

/// A `[...]` class (the text after `[`) against `c`: whether it matched, and the pattern
/// after the closing `]`; `None` when there is no closing `]`.
fn class_match(class: &[char], c: Option<char>) -> Option<(bool, &[char])> {
    let (negate, mut i) = match class.first() {
        Some('!' | '^') => (true, 1),
        _ => (false, 0),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *class.get(i)?;
        if lo == ']' && !first {
            break;
        }
        first = false;
        if class.get(i + 1) == Some(&'-') && class.get(i + 2).is_some_and(|h| *h != ']') {
            let hi = class[i + 2];
            matched |= c.is_some_and(|c| lo <= c && c <= hi);
            i += 3;
        } else {
            matched |= c == Some(lo);
            i += 1;
        }
    }
    Some((matched != negate, &class[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_globs_match_as_glob_3() {
        assert!(glob_match("[ab]?.conf", "a1.conf"));
        assert!(!glob_match("[ab]?.conf", "c1.conf"));
        assert!(glob_match("[!a-b]*", "c1.conf"));
        assert!(!glob_match("[!a-b]*", "b1.conf"));
        assert!(glob_match("x[]]y", "x]y"));
        assert!(glob_match("a\\*", "a*"));
        assert!(!glob_match("a\\*", "ab"));
        assert!(glob_match("*.conf", "z.conf"));
        assert!(glob_match("[x", "[x"));
    }

    #[test]
    fn words_split_like_openssh() {
        assert_eq!(
            split_args(r#"a "b c" 'd e' f\ g h\"i # comment"#).expect("split"),
            vec!["a", "b c", "d e", "f g", "h\"i"]
        );
        assert!(split_args("\"open").is_err());
    }

    #[test]
    fn match_lines_are_checked() {
        let words = |s: &str| split_args(s).expect("split");
        assert!(parse_match(&words("host a !user b exec true")).is_ok());
        assert!(parse_match(&words("all")).is_ok());
        assert!(parse_match(&words("canonical all")).is_ok());
        assert!(parse_match(&words("host a user b all")).is_err());
        assert!(parse_match(&words("all host a")).is_err());
        assert!(parse_match(&words("host")).is_err());
        assert!(parse_match(&words("address 10.0.0.1")).is_err());
        assert!(parse_match(&words("all # comment")).is_ok());
    }

    #[test]
    fn match_words_split_as_strdelim_splits_them() {
        assert_eq!(
            strdelim_words("host=a user = b"),
            vec!["host", "a", "user", "b"]
        );
        assert_eq!(
            strdelim_words("exec \"test %h = x\" user 'b'"),
            vec!["exec", "test %h = x", "user", "'b'"]
        );
        assert_eq!(strdelim_words("host  a  # c"), vec!["host", "a", "#", "c"]);
        assert_eq!(strdelim_words("=x"), Vec::<String>::new());
    }

    #[test]
    fn lines_without_arguments_and_unknown_keywords() {
        let parse = |text: &str| parse_text(text, Path::new("cfg"), Origin::User, 0);
        let error = parse("Host a\n  User\n").expect_err("no argument");
        assert_eq!(error.line, 2);
        let lines = parse("Host a\n  Frobnicate yes\n").expect("deferred");
        assert!(matches!(&lines[1], Line::Unknown(k, _) if k == "Frobnicate"));
        assert!(parse("Host a\n  Port 0\n").is_err());
    }
}
