//! Loop items: how a task's rendered loop value becomes the list of items it runs over, for
//! `loop` and each `with_<lookup>` keyword, the way Ansible's lookups build them.
//!
//! Lookups that read the controller (`with_fileglob`, `with_first_found`) search relative
//! paths as Ansible does: the role's `<subdir>`, the role, the playbook's `<subdir>`, then
//! the playbook's directory. `with_lines` runs its commands on the controller, as Ansible.

use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};

use crate::playbook::LoopKind;

/// Where controller files are looked for.
pub struct SearchPaths {
    /// `role_path`, when the task comes from a role.
    pub role: Option<PathBuf>,
    /// `playbook_dir`.
    pub playbook: Option<PathBuf>,
    /// The subdirectory the task's action reads from (`vars`, `templates`, `files`).
    pub subdir: &'static str,
}

impl SearchPaths {
    /// Candidate paths for a relative name, most specific first.
    pub(crate) fn candidates(&self, name: &str) -> Vec<PathBuf> {
        let given = Path::new(name);
        if given.is_absolute() {
            return vec![given.to_path_buf()];
        }
        let mut bases = Vec::new();
        for base in [&self.role, &self.playbook].into_iter().flatten() {
            bases.push(base.join(self.subdir));
            bases.push(base.clone());
        }
        bases.push(PathBuf::from("."));
        bases.iter().map(|base| base.join(given)).collect()
    }
}

/// The items of a loop of `kind` over the rendered value; `Err` says why the value does not fit.
pub fn expand(kind: LoopKind, value: Json, paths: &SearchPaths) -> Result<Vec<Json>, String> {
    let list = || -> Vec<Json> {
        match &value {
            Json::Array(items) => items.clone(),
            Json::String(text) => text.split(',').map(|s| json!(s.trim())).collect(),
            Json::Null => Vec::new(),
            other => vec![other.clone()],
        }
    };
    Ok(match kind {
        LoopKind::List => list(),
        LoopKind::Items => flatten(list(), 1),
        LoopKind::Flattened => flatten(list(), usize::MAX),
        LoopKind::Dict => match value {
            Json::Object(map) => map
                .into_iter()
                .map(|(key, value)| json!({"key": key, "value": value}))
                .collect(),
            other => {
                return Err(format!(
                    "with_dict expects a dict, got {}",
                    type_name(&other)
                ))
            }
        },
        LoopKind::IndexedItems => flatten(list(), 1)
            .into_iter()
            .enumerate()
            .map(|(index, item)| json!([index, item]))
            .collect(),
        LoopKind::Together => together(&lists(list())?),
        LoopKind::Nested => nested(&lists(list())?),
        LoopKind::Subelements => subelements(list())?,
        LoopKind::Sequence => list()
            .iter()
            .map(|term| sequence(term.as_str().unwrap_or_default()))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect(),
        LoopKind::Fileglob => fileglob(&flatten(list(), 1), paths)?,
        LoopKind::FirstFound => first_found(&value, paths)?,
        LoopKind::Lines => lines(&flatten(list(), 1))?,
        LoopKind::RandomChoice => random_choice(list())?,
    })
}

fn type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a dict",
    }
}

/// Lists inside lists are spliced into their parent, down to `depth` levels.
fn flatten(items: Vec<Json>, depth: usize) -> Vec<Json> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Json::Array(inner) if depth > 0 => out.extend(flatten(inner, depth - 1)),
            other => out.push(other),
        }
    }
    out
}

/// The terms of `with_together`/`with_nested`: each must be a list (a lone value is one).
fn lists(terms: Vec<Json>) -> Result<Vec<Vec<Json>>, String> {
    if terms.is_empty() {
        return Err("with_together and with_nested need at least one list".into());
    }
    Ok(terms
        .into_iter()
        .map(|term| match term {
            Json::Array(items) => items,
            other => vec![other],
        })
        .collect())
}

/// Zips the lists, padding shorter ones with null (Python's `zip_longest`).
fn together(lists: &[Vec<Json>]) -> Vec<Json> {
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .map(|i| {
            Json::Array(
                lists
                    .iter()
                    .map(|l| l.get(i).cloned().unwrap_or(Json::Null))
                    .collect(),
            )
        })
        .collect()
}

/// Every combination, the first list varying slowest.
fn nested(lists: &[Vec<Json>]) -> Vec<Json> {
    let mut combos: Vec<Vec<Json>> = vec![Vec::new()];
    for list in lists {
        combos = combos
            .into_iter()
            .flat_map(|prefix| {
                list.iter().map(move |item| {
                    let mut next = prefix.clone();
                    next.push(item.clone());
                    next
                })
            })
            .collect();
    }
    combos.into_iter().map(Json::Array).collect()
}

/// `[elements, "key.path", {skip_missing}]` → `[parent, child]` for each child of each parent.
fn subelements(terms: Vec<Json>) -> Result<Vec<Json>, String> {
    let usage = "with_subelements expects [a list (or dict) of dicts, \"key\"] and an optional \
                 {skip_missing: true}";
    let (elements, key, flags) = match terms.as_slice() {
        [elements, Json::String(key)] => (elements, key, None),
        [elements, Json::String(key), flags] => (elements, key, Some(flags)),
        _ => return Err(usage.into()),
    };
    let skip_missing = flags
        .and_then(|f| f.get("skip_missing"))
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let parents: Vec<Json> = match elements {
        Json::Array(list) => list.clone(),
        Json::Object(map) => map.values().cloned().collect(),
        _ => return Err(usage.into()),
    };
    let mut out = Vec::new();
    for parent in parents {
        let mut node = Some(&parent);
        for part in key.split('.') {
            node = node.and_then(|n| n.get(part));
        }
        match node {
            Some(Json::Array(children)) => {
                out.extend(children.iter().map(|child| json!([parent, child])));
            }
            None if skip_missing => {}
            None => {
                return Err(format!(
                    "with_subelements: could not find '{key}' key in iterated item {parent}"
                ))
            }
            Some(other) => {
                return Err(format!(
                    "with_subelements: the key '{key}' should point to a list, got {}",
                    type_name(other)
                ))
            }
        }
    }
    Ok(out)
}

/// `with_sequence`: `start=1 end=10 stride=2 format=host%02d`, `count=3`, or the shortcut
/// `[start-]end[/stride][:format]`. Items are strings, as Ansible makes them.
fn sequence(term: &str) -> Result<Vec<Json>, String> {
    let bad = |what: &str| format!("with_sequence: {what} in `{term}`");
    let number = |text: &str| -> Result<i64, String> {
        let text = text.trim();
        let parsed = if let Some(hex) = text.strip_prefix("0x") {
            i64::from_str_radix(hex, 16)
        } else if let Some(oct) = text.strip_prefix("0o") {
            i64::from_str_radix(oct, 8)
        } else {
            text.parse()
        };
        parsed.map_err(|_| bad(&format!("`{text}` is not a number")))
    };
    let (mut start, mut end, mut count, mut stride, mut format) =
        (1, None, None, 1, "%d".to_string());
    if term.contains('=') {
        for pair in term.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| bad("expected key=value"))?;
            match key {
                "start" => start = number(value)?,
                "end" => end = Some(number(value)?),
                "count" => count = Some(number(value)?),
                "stride" => stride = number(value)?,
                "format" => format = value.to_string(),
                other => return Err(bad(&format!("unknown key `{other}`"))),
            }
        }
    } else {
        let (range, fmt) = term.split_once(':').unwrap_or((term, "%d"));
        format = fmt.to_string();
        let (range, step) = range.split_once('/').unwrap_or((range, "1"));
        stride = number(step)?;
        match range.split_once('-') {
            Some((from, to)) => {
                start = number(from)?;
                end = Some(number(to)?);
            }
            None => end = Some(number(range)?),
        }
    }
    let end = match (end, count) {
        (Some(_), Some(_)) => return Err(bad("give end or count, not both")),
        (Some(end), None) => end,
        (None, Some(0)) => return Ok(Vec::new()),
        (None, Some(count)) => start + (count - 1) * stride,
        (None, None) => return Err(bad("end or count is required")),
    };
    if stride == 0 {
        return Err(bad("stride must not be 0"));
    }
    if (stride > 0 && end < start) || (stride < 0 && end > start) {
        return Err(bad("the range is empty for this stride"));
    }
    let steps = (end - start) / stride;
    if steps > 1_000_000 {
        return Err(bad("more than a million items"));
    }
    (0..=steps)
        .map(|i| {
            printf(&format, start + i * stride)
                .map(Json::String)
                .map_err(|e| bad(&e))
        })
        .collect()
}

/// A printf-style format with one integer directive (`%d`, `%02x`, `%o`, `%s`, `%%`).
fn printf(format: &str, value: i64) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut used = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let zero = chars.peek() == Some(&'0');
        let mut width = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(*d);
            chars.next();
        }
        let width: usize = width.parse().unwrap_or(0);
        let text = match chars.next() {
            Some('d' | 'i' | 's' | 'u') => value.to_string(),
            Some('x') => format!("{value:x}"),
            Some('X') => format!("{value:X}"),
            Some('o') => format!("{value:o}"),
            other => {
                return Err(format!(
                    "unsupported format directive %{}",
                    other.unwrap_or(' ')
                ))
            }
        };
        used = true;
        let pad = if zero { '0' } else { ' ' };
        out.extend(std::iter::repeat_n(pad, width.saturating_sub(text.len())));
        out.push_str(&text);
    }
    if used {
        Ok(out)
    } else {
        Err(format!("format `{format}` has no % directive"))
    }
}

/// `with_fileglob`: files (not directories) matching each pattern, from the first search
/// directory with a match, in directory order (unsorted, as Python's `glob.glob`).
fn fileglob(patterns: &[Json], paths: &SearchPaths) -> Result<Vec<Json>, String> {
    let mut out = Vec::new();
    for pattern in patterns {
        let Some(pattern) = pattern.as_str() else {
            return Err("with_fileglob expects file patterns".into());
        };
        let (dir, name) = match pattern.rsplit_once('/') {
            Some((dir, name)) => (dir, name),
            None => ("", pattern),
        };
        let dir = if dir.is_empty() && pattern.starts_with('/') {
            "/"
        } else if dir.is_empty() {
            "."
        } else {
            dir
        };
        let matcher = regex::Regex::new(&crate::modules::glob_to_regex(name))
            .map_err(|error| format!("with_fileglob: `{pattern}`: {error}"))?;
        for found_dir in paths.candidates(dir).into_iter().filter(|d| d.is_dir()) {
            let matches: Vec<String> = std::fs::read_dir(&found_dir)
                .map_err(|error| format!("with_fileglob: {}: {error}", found_dir.display()))?
                .flatten()
                .filter(|entry| entry.path().is_file())
                .filter(|entry| {
                    let file = entry.file_name().to_string_lossy().into_owned();
                    // As glob: a leading dot is matched only by a pattern starting with one.
                    matcher.is_match(&file) && (!file.starts_with('.') || name.starts_with('.'))
                })
                .map(|entry| absolute(&entry.path()))
                .collect();
            if !matches.is_empty() {
                out.extend(matches.into_iter().map(Json::String));
                break;
            }
        }
    }
    Ok(out)
}

/// `with_first_found`: the first existing file among the terms (names, or `{files, paths,
/// skip}` dicts), as one item; none is an error unless `skip: true`.
fn first_found(value: &Json, paths: &SearchPaths) -> Result<Vec<Json>, String> {
    let terms = match value {
        Json::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let mut skip = false;
    let mut candidates: Vec<PathBuf> = Vec::new();
    for term in flatten(terms, usize::MAX) {
        match term {
            Json::String(name) => candidates.extend(paths.candidates(&name)),
            Json::Object(map) => {
                skip |= map.get("skip").and_then(Json::as_bool).unwrap_or(false);
                let split = |key: &str| -> Vec<String> {
                    match map.get(key) {
                        Some(Json::String(text)) => text
                            .split([',', ';'])
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                        Some(Json::Array(items)) => items
                            .iter()
                            .filter_map(|i| i.as_str().map(str::to_string))
                            .collect(),
                        _ => Vec::new(),
                    }
                };
                let dirs = split("paths");
                for file in split("files") {
                    if dirs.is_empty() {
                        candidates.extend(paths.candidates(&file));
                    }
                    for dir in &dirs {
                        candidates.extend(paths.candidates(&format!("{dir}/{file}")));
                    }
                }
            }
            other => {
                return Err(format!(
                    "with_first_found expects file names or dicts, got {}",
                    type_name(&other)
                ))
            }
        }
    }
    match candidates.iter().find(|path| path.is_file()) {
        Some(found) => Ok(vec![Json::String(absolute(found))]),
        None if skip => Ok(Vec::new()),
        None => Err("No file was found when using first_found.".into()),
    }
}

/// `with_lines`: each command runs through `sh -c` on the controller; its output lines are
/// the items. A command that fails fails the task.
fn lines(commands: &[Json]) -> Result<Vec<Json>, String> {
    let mut out = Vec::new();
    for command in commands {
        let Some(command) = command.as_str() else {
            return Err("with_lines expects commands".into());
        };
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|error| format!("with_lines: cannot run sh: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "with_lines: `{command}` exited with {}",
                output.status.code().unwrap_or(-1)
            ));
        }
        out.extend(
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(|line| Json::String(line.to_string())),
        );
    }
    Ok(out)
}

/// `with_random_choice`: one of the items.
fn random_choice(items: Vec<Json>) -> Result<Vec<Json>, String> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|error| format!("with_random_choice: {error}"))?;
    let index = u64::from_le_bytes(bytes) % items.len() as u64;
    Ok(items
        .into_iter()
        .nth(usize::try_from(index).unwrap_or(0))
        .into_iter()
        .collect())
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> SearchPaths {
        SearchPaths {
            role: None,
            playbook: None,
            subdir: "files",
        }
    }

    fn run(kind: LoopKind, value: Json) -> Json {
        Json::Array(expand(kind, value, &none()).expect("items"))
    }

    #[test]
    fn with_items_flattens_one_level_and_with_flattened_all() {
        let value = json!([1, [2, [3]]]);
        assert_eq!(run(LoopKind::Items, value.clone()), json!([1, 2, [3]]));
        assert_eq!(run(LoopKind::Flattened, value.clone()), json!([1, 2, 3]));
        assert_eq!(run(LoopKind::List, value.clone()), value);
    }

    #[test]
    fn with_dict_indexed_together_and_nested_shape_items_as_ansible() {
        assert_eq!(
            run(LoopKind::Dict, json!({"a": 1, "b": 2})),
            json!([{"key": "a", "value": 1}, {"key": "b", "value": 2}])
        );
        assert_eq!(
            run(LoopKind::IndexedItems, json!(["x", "y"])),
            json!([[0, "x"], [1, "y"]])
        );
        assert_eq!(
            run(LoopKind::Together, json!([[1, 2, 3], ["a", "b"]])),
            json!([[1, "a"], [2, "b"], [3, null]])
        );
        assert_eq!(
            run(LoopKind::Nested, json!([["a", "b"], [1, 2]])),
            json!([["a", 1], ["a", 2], ["b", 1], ["b", 2]])
        );
    }

    #[test]
    fn with_subelements_pairs_parents_with_children_and_can_skip_missing() {
        let users = json!([{"name": "a", "keys": ["k1", "k2"]}, {"name": "b"}]);
        let error = expand(
            LoopKind::Subelements,
            json!([users.clone(), "keys"]),
            &none(),
        )
        .expect_err("b has no keys");
        assert!(error.contains("could not find 'keys'"), "{error}");
        let items = run(
            LoopKind::Subelements,
            json!([users, "keys", {"skip_missing": true}]),
        );
        assert_eq!(items.as_array().map(Vec::len), Some(2));
        assert_eq!(items[1][1], json!("k2"));
    }

    #[test]
    fn with_sequence_reads_keys_counts_shortcuts_and_formats() {
        assert_eq!(
            run(LoopKind::Sequence, json!("start=1 end=5 stride=2")),
            json!(["1", "3", "5"])
        );
        assert_eq!(
            run(LoopKind::Sequence, json!("count=3 format=host%02d")),
            json!(["host01", "host02", "host03"])
        );
        assert_eq!(
            run(LoopKind::Sequence, json!("4-8/2:web%x")),
            json!(["web4", "web6", "web8"])
        );
        assert!(expand(LoopKind::Sequence, json!("start=5 end=1"), &none()).is_err());
    }

    #[test]
    fn first_found_returns_the_first_existing_file_or_fails_unless_skipped() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("vars")).expect("mkdir");
        std::fs::write(dir.path().join("vars/Debian.yml"), "x: 1\n").expect("write");
        let paths = SearchPaths {
            role: None,
            playbook: Some(dir.path().to_path_buf()),
            subdir: "vars",
        };
        let found = expand(
            LoopKind::FirstFound,
            json!(["RedHat.yml", "Debian.yml"]),
            &paths,
        )
        .expect("found");
        assert_eq!(found.len(), 1);
        assert!(found[0]
            .as_str()
            .is_some_and(|p| p.ends_with("vars/Debian.yml")));
        assert!(expand(LoopKind::FirstFound, json!(["Arch.yml"]), &paths).is_err());
        let skipped = expand(
            LoopKind::FirstFound,
            json!([{"files": ["Arch.yml"], "skip": true}]),
            &paths,
        )
        .expect("skip");
        assert!(skipped.is_empty());
    }

    #[test]
    fn with_lines_and_fileglob_read_the_controller() {
        assert_eq!(
            run(LoopKind::Lines, json!(["printf 'a\\nb\\n'"])),
            json!(["a", "b"])
        );
        let dir = tempfile::tempdir().expect("temp dir");
        for name in ["a.conf", "b.conf", "c.txt"] {
            std::fs::write(dir.path().join(name), "").expect("write");
        }
        let pattern = format!("{}/*.conf", dir.path().display());
        let found = run(LoopKind::Fileglob, json!([pattern]));
        assert_eq!(found.as_array().map(Vec::len), Some(2));
    }
}
