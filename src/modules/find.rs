//! `find`: list the files under some directories that match name patterns, type, age and
//! size, in one round trip: `find` walks, `stat` describes each entry, and every field travels
//! NUL-terminated, so names with spaces or newlines come back intact. Filtering by name, age
//! and size happens here, on the controller, with Ansible's rules.
//!
//! Ansible's behaviour kept: patterns and excludes match the base name (shell globs as Python's
//! `fnmatch`, or with `use_regex` regexes anchored at the start as `re.match`); excludes only
//! apply to names a pattern matched; hidden names are skipped unless `hidden`, but hidden
//! directories are still descended into; entries are described without following links;
//! `age` (`[-]N[smhdw]`) compares with the host's clock and `size` (`[-]N[bkmgt]`) applies to
//! regular files only; a path that is not a directory is reported in `skipped_paths`.
//!
//! Deviations from Ansible: `contains`, `read_whole_file`, `follow`, `get_checksum`, `mode`,
//! `exact_mode`, `checksum_algorithm` and `encoding` are not supported (unknown arguments fail
//! at load); regexes use Rust's `regex` syntax (no look-around); the listing is refused when it
//! exceeds the transport's 4 MiB output cap; `mtime`/`atime`/`ctime` are whole seconds; the
//! host needs `find` with `-mindepth`/`-maxdepth` and `stat -c` (GNU or BusyBox).

use async_trait::async_trait;
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::remote_file::{self, shell_path};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::{quote, OUTPUT_CAP};
use crate::vars::Value;

/// Arguments of `find`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindArgs {
    /// Directories to search (a list, or one comma-separated string).
    #[serde(default, deserialize_with = "opt_words")]
    paths: Option<Vec<String>>,
    /// Alias of `paths`.
    #[serde(default, deserialize_with = "opt_words")]
    path: Option<Vec<String>>,
    /// Alias of `paths`.
    #[serde(default, deserialize_with = "opt_words")]
    name: Option<Vec<String>>,
    /// Base-name patterns; an entry must match one (default: every name).
    #[serde(default, deserialize_with = "opt_words")]
    patterns: Option<Vec<String>>,
    /// Alias of `patterns`.
    #[serde(default, deserialize_with = "opt_words")]
    pattern: Option<Vec<String>>,
    /// Base-name patterns of entries to leave out.
    #[serde(default, deserialize_with = "opt_words")]
    excludes: Option<Vec<String>>,
    /// Alias of `excludes`.
    #[serde(default, deserialize_with = "opt_words")]
    exclude: Option<Vec<String>>,
    /// Patterns are regexes rather than shell globs.
    #[serde(default, deserialize_with = "lenient::bool")]
    use_regex: bool,
    /// `file` (default), `directory`, `link` or `any`.
    #[serde(default)]
    file_type: FileType,
    /// Descend into subdirectories.
    #[serde(default, deserialize_with = "lenient::bool")]
    recurse: bool,
    /// How many levels to descend with `recurse` (default: all).
    #[serde(default, deserialize_with = "opt_whole")]
    depth: Option<u64>,
    /// Include names starting with a dot.
    #[serde(default, deserialize_with = "lenient::bool")]
    hidden: bool,
    /// `N` (at least that old) or `-N` (at most that old), with a unit `s`, `m`, `h`, `d`, `w`.
    #[serde(default, deserialize_with = "opt_text")]
    age: Option<String>,
    /// Which time `age` looks at: `mtime` (default), `atime` or `ctime`.
    #[serde(default)]
    age_stamp: AgeStamp,
    /// `N` (at least that big) or `-N` (at most), with a unit `b`, `k`, `m`, `g`, `t`.
    #[serde(default, deserialize_with = "opt_text")]
    size: Option<String>,
}

fn opt_words<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Vec<String>>, D::Error> {
    lenient::word_list(de).map(Some)
}

fn opt_whole<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    lenient::whole(de).map(Some)
}

/// Text, also from a YAML number (`age: 3600`).
fn opt_text<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrNumber {
        Text(String),
        Int(i64),
    }
    Ok(Some(match TextOrNumber::deserialize(de)? {
        TextOrNumber::Text(text) => text,
        TextOrNumber::Int(number) => number.to_string(),
    }))
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FileType {
    #[default]
    File,
    Directory,
    Link,
    Any,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum AgeStamp {
    #[default]
    Mtime,
    Atime,
    Ctime,
}

/// What `find` registers.
#[derive(Debug, Serialize)]
struct FindOutcome {
    files: Vec<Found>,
    matched: usize,
    examined: usize,
    skipped_paths: indexmap::IndexMap<String, String>,
}

/// One entry, with the fields of Ansible's `stat`-like dictionaries.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Found {
    path: String,
    mode: String,
    isdir: bool,
    isreg: bool,
    islnk: bool,
    uid: u32,
    gid: u32,
    pw_name: String,
    gr_name: String,
    size: u64,
    inode: u64,
    dev: u64,
    nlink: u64,
    atime: i64,
    mtime: i64,
    ctime: i64,
}

/// `find`: search directories on the host.
pub(crate) struct Find;

#[async_trait]
impl Module for Find {
    fn names(&self) -> &'static [&'static str] {
        &["find", "ansible.builtin.find", "ansible.legacy.find"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<FindArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: FindArgs = args::parse(args)?;
        let filter = Filter::new(&args)?;
        let paths = one_list("paths, path and name", [args.paths, args.path, args.name])?
            .filter(|paths| !paths.is_empty())
            .ok_or_else(|| ArgError::Invalid("paths is required".into()))?;
        let depth = if args.recurse { args.depth } else { Some(1) };
        let output = ctx.exec(script(&paths, depth, args.file_type)).await?;
        if !output.status.success() {
            return Err(remote_file::host_failure("cannot search", &output));
        }
        if output.truncated {
            return Err(ModuleError::Failed(format!(
                "the listing is larger than {OUTPUT_CAP} bytes; narrow the search \
                 (patterns, file_type, depth)"
            )));
        }
        let listing = parse(&output.stdout)?;
        let files: Vec<Found> = listing
            .entries
            .iter()
            .filter(|entry| filter.keeps(entry, listing.now))
            .cloned()
            .collect();
        let msg = if listing.skipped.is_empty() {
            "All paths examined"
        } else {
            "Not all paths examined, check warnings for details"
        };
        Ok(ModuleResult::ok().with_msg(msg).with_data(&FindOutcome {
            matched: files.len(),
            examined: listing.entries.len(),
            files,
            skipped_paths: listing
                .skipped
                .into_iter()
                .map(|path| {
                    let why = format!("'{path}' is not a directory");
                    (path, why)
                })
                .collect(),
        }))
    }
}

/// The one list given among aliases.
fn one_list<const N: usize>(
    names: &str,
    values: [Option<Vec<String>>; N],
) -> Result<Option<Vec<String>>, ArgError> {
    let mut given = values.into_iter().flatten();
    let first = given.next();
    if given.next().is_some() {
        return Err(ArgError::Invalid(format!(
            "{names} are aliases; give only one"
        )));
    }
    Ok(first)
}

/// The walk: `N\0now\0` first, then `S\0path\0` for each path that is not a directory and
/// `F\0stat line\0path\0` for each entry (an empty stat line when it vanished meanwhile).
fn script(paths: &[String], depth: Option<u64>, file_type: FileType) -> String {
    let words: Vec<String> = paths.iter().map(|path| shell_path(path)).collect();
    let depth = depth.map_or(String::new(), |depth| format!(" -maxdepth {depth}"));
    let kind = match file_type {
        FileType::File => " -type f",
        FileType::Directory => " -type d",
        FileType::Link => " -type l",
        FileType::Any => "",
    };
    let describe = quote(
        "for f do printf 'F\\0'; \
         LC_ALL=C stat -c '%f %s %Y %X %Z %u %g %i %h %d %U %G' -- \"$f\" 2>/dev/null; \
         printf '\\0%s\\0' \"$f\"; done",
    );
    format!(
        "printf 'N\\0%s\\0' \"$(date +%s)\"\n\
         for p in {paths}; do\n\
         \x20 if [ ! -d \"$p\" ]; then printf 'S\\0%s\\0' \"$p\"; continue; fi\n\
         \x20 find \"$p\" -mindepth 1{depth}{kind} -exec sh -c {describe} sh {{}} + 2>/dev/null\n\
         done\n\
         exit 0\n",
        paths = words.join(" "),
    )
}

/// What the walk printed.
#[derive(Debug, Default)]
struct Listing {
    now: i64,
    entries: Vec<Found>,
    skipped: Vec<String>,
}

fn parse(stdout: &[u8]) -> Result<Listing, ModuleError> {
    let garbled = |what: &str| ModuleError::Failed(format!("cannot search: unexpected answer ({what})"));
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let mut fields = stdout.split(|&byte| byte == 0);
    let mut listing = Listing::default();
    while let Some(tag) = fields.next() {
        match tag {
            b"N" => {
                listing.now = fields
                    .next()
                    .and_then(|now| text(now).trim().parse().ok())
                    .ok_or_else(|| garbled("clock"))?;
            }
            b"S" => listing
                .skipped
                .push(text(fields.next().ok_or_else(|| garbled("skipped path"))?)),
            b"F" => {
                let stat = fields.next().ok_or_else(|| garbled("entry"))?;
                let path = fields.next().ok_or_else(|| garbled("entry path"))?;
                let stat = text(stat);
                if stat.trim().is_empty() {
                    continue; // gone between find and stat
                }
                listing.entries.push(
                    describe(stat.trim(), text(path)).ok_or_else(|| garbled(stat.trim()))?,
                );
            }
            b"" => {} // the end: the split after the last terminator
            _ => return Err(garbled("unknown record")),
        }
    }
    Ok(listing)
}

/// One `stat -c '%f %s %Y %X %Z %u %g %i %h %d %U %G'` line.
fn describe(stat: &str, path: String) -> Option<Found> {
    let words: Vec<&str> = stat.split_whitespace().collect();
    let [raw, size, mtime, atime, ctime, uid, gid, inode, nlink, dev, user, group] = words[..]
    else {
        return None;
    };
    let raw = u32::from_str_radix(raw, 16).ok()?;
    let kind = raw & 0o170000;
    let name = |name: &str, id: u32| match name {
        "UNKNOWN" => id.to_string(),
        name => name.to_string(),
    };
    let (uid, gid) = (uid.parse().ok()?, gid.parse().ok()?);
    Some(Found {
        path,
        mode: format!("{:04o}", raw & 0o7777),
        isdir: kind == 0o040000,
        isreg: kind == 0o100000,
        islnk: kind == 0o120000,
        uid,
        gid,
        pw_name: name(user, uid),
        gr_name: name(group, gid),
        size: size.parse().ok()?,
        inode: inode.parse().ok()?,
        dev: dev.parse().ok()?,
        nlink: nlink.parse().ok()?,
        atime: atime.parse().ok()?,
        mtime: mtime.parse().ok()?,
        ctime: ctime.parse().ok()?,
    })
}

/// The name, age and size tests, with Ansible's semantics.
#[derive(Debug)]
struct Filter {
    patterns: Vec<Regex>,
    excludes: Vec<Regex>,
    hidden: bool,
    file_type: FileType,
    age: Option<i64>,
    age_stamp: AgeStamp,
    size: Option<i64>,
}

impl Filter {
    fn new(args: &FindArgs) -> Result<Self, ArgError> {
        let patterns = one_list(
            "patterns and pattern",
            [args.patterns.clone(), args.pattern.clone()],
        )?
        .unwrap_or_default();
        let excludes = one_list(
            "excludes and exclude",
            [args.excludes.clone(), args.exclude.clone()],
        )?
        .unwrap_or_default();
        let compile = |pattern: &String| -> Result<Regex, ArgError> {
            let regex = if args.use_regex {
                format!("^(?:{pattern})")
            } else {
                glob_to_regex(pattern)
            };
            Regex::new(&regex).map_err(|error| {
                ArgError::Invalid(format!("pattern `{pattern}` is not valid: {error}"))
            })
        };
        Ok(Self {
            patterns: patterns.iter().map(compile).collect::<Result<_, _>>()?,
            excludes: excludes.iter().map(compile).collect::<Result<_, _>>()?,
            hidden: args.hidden,
            file_type: args.file_type,
            age: args
                .age
                .as_deref()
                .map(|age| amount(age, "age", &[('s', 1), ('m', 60), ('h', 3600), ('d', 86400), ('w', 604800)]))
                .transpose()?,
            age_stamp: args.age_stamp,
            size: args
                .size
                .as_deref()
                .map(|size| {
                    amount(
                        size,
                        "size",
                        &[('b', 1), ('k', 1 << 10), ('m', 1 << 20), ('g', 1 << 30), ('t', 1 << 40)],
                    )
                })
                .transpose()?,
        })
    }

    fn keeps(&self, entry: &Found, now: i64) -> bool {
        let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        if name.starts_with('.') && !self.hidden {
            return false;
        }
        let type_fits = match self.file_type {
            FileType::File => entry.isreg,
            FileType::Directory => entry.isdir,
            FileType::Link => entry.islnk,
            FileType::Any => true,
        };
        let named = (self.patterns.is_empty() || self.patterns.iter().any(|p| p.is_match(name)))
            && !self.excludes.iter().any(|e| e.is_match(name));
        let stamp = match self.age_stamp {
            AgeStamp::Mtime => entry.mtime,
            AgeStamp::Atime => entry.atime,
            AgeStamp::Ctime => entry.ctime,
        };
        let aged = match self.age {
            None => true,
            Some(age) if age >= 0 => now - stamp >= age,
            Some(age) => now - stamp <= -age,
        };
        let sized = match self.size {
            Some(size) if self.file_type == FileType::File => {
                let bytes = i64::try_from(entry.size).unwrap_or(i64::MAX);
                if size >= 0 {
                    bytes >= size
                } else {
                    bytes <= -size
                }
            }
            _ => true,
        };
        type_fits && named && aged && sized
    }
}

/// `[-]N[unit]` (unit letters case-insensitive) as a signed count of base units.
fn amount(text: &str, what: &str, units: &[(char, i64)]) -> Result<i64, ArgError> {
    let lower = text.trim().to_ascii_lowercase();
    let (number, factor) = match lower.chars().last() {
        Some(unit) if unit.is_ascii_alphabetic() => {
            let factor = units
                .iter()
                .find(|(letter, _)| *letter == unit)
                .map(|(_, factor)| *factor);
            (&lower[..lower.len() - 1], factor)
        }
        _ => (lower.as_str(), Some(1)),
    };
    match (number.parse::<i64>(), factor) {
        (Ok(number), Some(factor)) => number
            .checked_mul(factor)
            .ok_or_else(|| ArgError::Invalid(format!("{what} `{text}` is too large"))),
        _ => {
            let letters: String = units.iter().map(|(letter, _)| *letter).collect();
            Err(ArgError::Invalid(format!(
                "failed to process {what} `{text}`: expected [-]N with an optional unit of {letters}"
            )))
        }
    }
}

/// Python's `fnmatch.translate`, for the `regex` crate: `*`, `?`, `[seq]`, `[!seq]`.
pub(crate) fn glob_to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::from("^(?s:");
    let mut at = 0;
    while at < chars.len() {
        match chars[at] {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                // Find the closing bracket, allowing `]` first (after an optional `!`).
                let mut end = at + 1;
                if end < chars.len() && chars[end] == '!' {
                    end += 1;
                }
                if end < chars.len() && chars[end] == ']' {
                    end += 1;
                }
                while end < chars.len() && chars[end] != ']' {
                    end += 1;
                }
                if end >= chars.len() {
                    out.push_str("\\[");
                } else {
                    let inner: String = chars[at + 1..end].iter().collect();
                    let (negate, inner) = match inner.strip_prefix('!') {
                        Some(rest) => (true, rest.to_string()),
                        None => (false, inner),
                    };
                    let escaped: String = inner
                        .chars()
                        .map(|c| match c {
                            '\\' | '[' | ']' | '&' | '~' | '^' => format!("\\{c}"),
                            c => c.to_string(),
                        })
                        .collect();
                    out.push('[');
                    if negate {
                        out.push('^');
                    }
                    out.push_str(&escaped);
                    out.push(']');
                    at = end;
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        at += 1;
    }
    out.push_str(")$");
    out
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::testing::{assert_failed, assert_ok, field, run, CHECK, RUN};
    use super::*;
    use serde_json::json;

    fn glob(pattern: &str, name: &str) -> bool {
        Regex::new(&glob_to_regex(pattern))
            .expect("regex")
            .is_match(name)
    }

    #[test]
    fn globs_follow_fnmatch() {
        assert!(glob("*.log", "app.log"));
        assert!(!glob("*.log", "app.log.1"));
        assert!(glob("app.log.?", "app.log.1"));
        assert!(glob("[ab]*", "beta"));
        assert!(!glob("[!ab]*", "beta"));
        assert!(glob("a+b(c)", "a+b(c)"));
        assert!(glob("[", "["));
        assert!(glob("*", ".hidden\nname"));
    }

    #[test]
    fn ages_and_sizes_take_ansibles_units() {
        let ages = &[('s', 1), ('m', 60), ('d', 86400), ('w', 604800)];
        assert_eq!(amount("2d", "age", ages), Ok(172800));
        assert_eq!(amount("-1W", "age", ages), Ok(-604800));
        assert_eq!(amount("30", "age", ages), Ok(30));
        assert!(amount("1y", "age", ages).is_err());
        assert!(amount("x", "age", ages).is_err());
    }

    #[test]
    fn the_listing_keeps_odd_names_whole_and_reports_skipped_paths() {
        let stdout = b"N\x001700000000\x00S\x00/nope\x00\
            F\x0081a4 5 1690000000 1690000001 1690000002 0 0 12 1 2049 root UNKNOWN\n\x00/d/a b\nc\x00\
            F\x00\x00/d/vanished\x00";
        let listing = parse(stdout).expect("parse");
        assert_eq!(listing.now, 1_700_000_000);
        assert_eq!(listing.skipped, vec!["/nope".to_string()]);
        assert_eq!(listing.entries.len(), 1);
        let entry = &listing.entries[0];
        assert_eq!(entry.path, "/d/a b\nc");
        assert_eq!((entry.mode.as_str(), entry.isreg, entry.size), ("0644", true, 5));
        assert_eq!(entry.gr_name, "0");
        assert!(parse(b"F\x00garbage\x00/x\x00").is_err());
        assert!(parse(b"Q\x00").is_err());
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub/.hid")).expect("mkdir");
        std::fs::write(root.join("app.log"), "0123456789").expect("write");
        std::fs::write(root.join("app.log.1"), "x").expect("write");
        std::fs::write(root.join("with space\nand newline.log"), "").expect("write");
        std::fs::write(root.join(".hidden.log"), "").expect("write");
        std::fs::write(root.join("sub/deep.log"), "").expect("write");
        std::fs::write(root.join("sub/.hid/inner.log"), "").expect("write");
        std::os::unix::fs::symlink("app.log", root.join("link.log")).expect("symlink");
        dir
    }

    fn names(result: &ModuleResult) -> Vec<String> {
        let mut names: Vec<String> = field(result, "files")
            .as_array()
            .expect("files")
            .iter()
            .map(|file| file["path"].as_str().expect("path").to_string())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn patterns_type_recurse_and_hidden_select_the_files() {
        let dir = tree();
        let root = dir.path().display().to_string();
        let at = |name: &str| format!("{root}/{name}");
        let flat = run(Find, json!({"paths": root, "patterns": "*.log"}), RUN).await;
        assert_ok(&flat);
        assert_eq!(
            names(&flat),
            vec![at("app.log"), at("with space\nand newline.log")]
        );
        assert_eq!(field(&flat, "matched"), json!(2));
        let deep = run(
            Find,
            json!({"paths": [root], "patterns": ["*.log"], "recurse": true,
                "excludes": "app*"}),
            CHECK,
        )
        .await;
        assert_eq!(
            names(&deep),
            vec![
                at("sub/.hid/inner.log"),
                at("sub/deep.log"),
                at("with space\nand newline.log")
            ]
        );
        let hidden = run(
            Find,
            json!({"paths": root, "patterns": "^\\.", "use_regex": true, "hidden": true}),
            RUN,
        )
        .await;
        assert_eq!(names(&hidden), vec![at(".hidden.log")]);
        let links = run(Find, json!({"paths": root, "file_type": "link"}), RUN).await;
        assert_eq!(names(&links), vec![at("link.log")]);
        let dirs = run(
            Find,
            json!({"paths": root, "file_type": "directory", "recurse": true, "hidden": true}),
            RUN,
        )
        .await;
        assert_eq!(names(&dirs), vec![at("sub"), at("sub/.hid")]);
        let shallow = run(
            Find,
            json!({"paths": root, "recurse": true, "depth": 1, "patterns": "*.log"}),
            RUN,
        )
        .await;
        assert_eq!(field(&shallow, "matched"), json!(2));
    }

    #[tokio::test]
    async fn size_and_age_filter_and_missing_paths_are_skipped() {
        let dir = tree();
        let root = dir.path().display().to_string();
        let big = run(Find, json!({"paths": root, "size": "5b"}), RUN).await;
        assert_eq!(names(&big), vec![format!("{root}/app.log")]);
        let small = run(Find, json!({"paths": root, "size": "-1"}), RUN).await;
        assert_eq!(field(&small, "matched"), json!(2));
        let old = run(Find, json!({"paths": root, "age": "1d"}), RUN).await;
        assert_eq!(field(&old, "matched"), json!(0));
        let recent = run(Find, json!({"paths": root, "age": "-1h"}), RUN).await;
        assert_eq!(field(&recent, "matched"), json!(3));
        let file = &field(&big, "files")[0];
        assert_eq!(file["size"], json!(10));
        assert!(file["mtime"].as_i64().is_some() && file["mode"].as_str().is_some());
        let missing = format!("{root}/nope");
        let partly = run(Find, json!({"paths": [root, missing]}), RUN).await;
        assert_ok(&partly);
        assert_eq!(
            partly.msg.as_deref(),
            Some("Not all paths examined, check warnings for details")
        );
        assert_eq!(
        field(&partly, "skipped_paths")[missing.as_str()],
        json!(format!("'{missing}' is not a directory"))
    );
    }

    #[tokio::test]
    async fn argument_mistakes_are_named() {
        assert_failed(&run(Find, json!({}), RUN).await, "paths is required");
        assert_failed(
            &run(Find, json!({"paths": "/tmp", "age": "3y"}), RUN).await,
            "failed to process age",
        );
        assert_failed(
            &run(Find, json!({"paths": "/tmp", "contains": "x"}), RUN).await,
            "unsupported argument `contains`",
        );
        assert_failed(
            &run(
                Find,
                json!({"paths": "/tmp", "patterns": "(", "use_regex": true}),
                RUN,
            )
            .await,
            "pattern `(` is not valid",
        );
    }
}
