//! Host patterns, as in a play's `hosts:` and `--limit`: names, groups, `*`/`?` globs,
//! `~regex`, `all`, unions (`a:b`, `a,b`), intersections (`&g`), exclusions (`!g`) and
//! subscripts (`g[0]`, `g[1:3]`, `g[-1]`), with Ansible's evaluation order.

use std::path::Path;
use std::sync::LazyLock;

use indexmap::IndexSet;
use regex::Regex;

use crate::diagnostic::did_you_mean;

use super::address;
use super::error::{EmptyLimit, PatternError};
use super::model::{Inventory, ALL, LOCALHOST_NAMES};

/// The hosts a pattern selected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// Host names, in evaluation order (each element's matches in inventory order),
    /// without repeats. May name the implicit `localhost`; see [`Inventory::host_or_implicit`].
    pub hosts: Vec<String>,
    /// Pattern elements (as written, with any `&`/`!`) that matched no host or group.
    pub unmatched: Vec<String>,
}

/// `x:y`-separated elements, where `:` inside `[...]` does not separate (Ansible's fallback).
static COLON_SEPARATED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").unwrap_or_else(|_| unreachable!()));

/// `expr[3]`, `expr[-1]`, `expr[1:3]`, `expr[2:]` (and the old `expr[1-3]`).
static SUBSCRIPT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
        .unwrap_or_else(|_| unreachable!())
});

/// Splits a pattern into elements: on `,` if it has any, else it is one address (IPv6, a
/// name with ranges, `host:port`) if it parses as one, else it splits on `:` outside brackets.
pub fn split_pattern(pattern: &str) -> Vec<String> {
    let parts: Vec<&str> = if pattern.contains(',') {
        pattern.split(',').collect()
    } else if is_single_address(pattern.trim()) {
        vec![pattern]
    } else {
        COLON_SEPARATED
            .find_iter(pattern)
            .map(|m| m.as_str())
            .collect()
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

/// Plain elements first, then `&` intersections, then `!` exclusions; only `&`/`!` means
/// they apply to `all`.
pub fn order_elements(elements: Vec<String>) -> Vec<String> {
    let (mut regular, mut intersect, mut exclude) = (Vec::new(), Vec::new(), Vec::new());
    for element in elements {
        match element.chars().next() {
            Some('!') => exclude.push(element),
            Some('&') => intersect.push(element),
            Some(_) => regular.push(element),
            None => {}
        }
    }
    if regular.is_empty() {
        regular.push(ALL.to_string());
    }
    regular.extend(intersect);
    regular.extend(exclude);
    regular
}

fn is_single_address(text: &str) -> bool {
    let Ok(entry) = address::split_port(text) else {
        return false;
    };
    if address::is_ipv6(&entry.pattern) {
        return true;
    }
    let mut rest = entry.pattern.as_str();
    if rest.is_empty() {
        return false;
    }
    while let Some(c) = rest.chars().next() {
        if c == '[' {
            let Some(close) = rest.find(']') else {
                return false;
            };
            let body: Vec<&str> = rest[1..close].split(':').collect();
            let bound = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric());
            let valid = matches!(body.len(), 2 | 3)
                && bound(body[0])
                && !body[1].is_empty()
                && bound(body[1])
                && body
                    .get(2)
                    .is_none_or(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()));
            if !valid {
                return false;
            }
            rest = &rest[close + 1..];
        } else if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
            rest = &rest[c.len_utf8()..];
        } else {
            return false;
        }
    }
    true
}

/// A subscript: one index, or an inclusive range (`end` `None` means to the last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscript {
    Index(i64),
    Range(usize, Option<usize>),
}

fn split_subscript(expr: &str) -> (&str, Option<Subscript>) {
    if expr.starts_with('~') {
        return (expr, None);
    }
    let Some(captures) = SUBSCRIPT.captures(expr) else {
        return (expr, None);
    };
    let base = captures.get(1).map_or(expr, |m| m.as_str());
    if let Some(index) = captures.get(2).and_then(|m| m.as_str().parse().ok()) {
        return (base, Some(Subscript::Index(index)));
    }
    let start = captures.get(3).and_then(|m| m.as_str().parse().ok());
    let end = captures
        .get(5)
        .map(|m| m.as_str())
        .filter(|s| !s.is_empty());
    match (start, end) {
        (Some(start), None) => (base, Some(Subscript::Range(start, None))),
        (Some(start), Some(end)) => match end.parse::<usize>() {
            // Ansible treats an end of 0 as "no end given": `[x:0]` is `[x]`.
            Ok(0) => (
                base,
                Some(Subscript::Index(i64::try_from(start).unwrap_or(i64::MAX))),
            ),
            Ok(end) => (base, Some(Subscript::Range(start, Some(end)))),
            Err(_) => (expr, None),
        },
        _ => (expr, None),
    }
}

/// Translates an fnmatch glob (`*`, `?`, `[seq]`, `[!seq]`) to an anchored regex.
fn glob_to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::from("(?s)^(?:");
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut j = i + 1;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                } else {
                    let mut body: String = chars[i + 1..j].iter().collect();
                    body = body.replace('\\', "\\\\").replace('[', "\\[");
                    if let Some(negated) = body.strip_prefix('!') {
                        body = format!("^{negated}");
                    } else if body.starts_with('^') {
                        body = format!("\\{body}");
                    }
                    out.push('[');
                    out.push_str(&body);
                    out.push(']');
                    i = j;
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out.push_str(")$");
    out
}

/// What one element (without its `&`/`!`) matched.
struct Matched<'a> {
    hosts: Vec<&'a str>,
    /// True if the element named at least one group, even an empty one.
    any_group: bool,
}

impl Inventory {
    /// Evaluates a host pattern, Ansible-style. Elements that match nothing are reported in
    /// [`Selection::unmatched`] (a play warns about them); an invalid `~regex` or a
    /// subscript past the end is an error.
    pub fn select(&self, pattern: &str) -> Result<Selection, PatternError> {
        self.select_elements(split_pattern(pattern))
    }

    /// Evaluates a `--limit`: a pattern, or `@file` with one pattern per line (blank lines and
    /// `#` comments skipped). Unlike a play's `hosts:`, an element that matches nothing is an
    /// error, with a did-you-mean, and so is a limit that selects no host at all — an empty
    /// `-l ''` or `@file` included: a limit only ever narrows, it never means "all hosts".
    pub fn select_limit(&self, limit: &str) -> Result<Vec<String>, PatternError> {
        let (elements, empty) = match limit.strip_prefix('@') {
            Some(file) => {
                let text = crate::input::read_text(Path::new(file))
                    .map_err(|source| PatternError::LimitFile { source })?;
                let elements: Vec<String> = text
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.starts_with('#'))
                    .flat_map(split_pattern)
                    .collect();
                (elements, EmptyLimit::EmptyFile)
            }
            None => (split_pattern(limit), EmptyLimit::NoPattern),
        };
        let nothing = |reason| PatternError::NoHostsToTarget {
            limit: limit.to_string(),
            reason,
        };
        // `order_elements` reads "no plain element" as `all`: right for `!web`, wrong for "".
        if elements.is_empty() {
            return Err(nothing(empty));
        }
        let selection = self.select_elements(elements)?;
        if let Some(element) = selection.unmatched.first() {
            let wanted = element.trim_start_matches(['&', '!']);
            let wanted = split_subscript(wanted).0;
            let candidates = self
                .hosts
                .keys()
                .chain(self.groups.keys())
                .map(String::as_str);
            return Err(PatternError::NoMatch {
                element: element.clone(),
                suggestion: did_you_mean(wanted, candidates),
            });
        }
        if selection.hosts.is_empty() {
            return Err(nothing(EmptyLimit::NoHostLeft));
        }
        Ok(selection.hosts)
    }

    fn select_elements(&self, elements: Vec<String>) -> Result<Selection, PatternError> {
        let mut hosts: IndexSet<&str> = IndexSet::new();
        let mut unmatched = Vec::new();
        for element in order_elements(elements) {
            if let Some((name, _)) = self.hosts.get_key_value(element.as_str()) {
                hosts.insert(name);
                continue;
            }
            let (prefix, expr) = match element.chars().next() {
                Some(c @ ('&' | '!')) => (Some(c), &element[1..]),
                _ => (None, element.as_str()),
            };
            let matched = self.match_element(expr)?;
            if matched.hosts.is_empty() && !matched.any_group && expr != ALL {
                unmatched.push(element.clone());
            }
            match prefix {
                Some('!') => hosts.retain(|h| !matched.hosts.contains(h)),
                Some('&') => hosts.retain(|h| matched.hosts.contains(h)),
                _ => hosts.extend(matched.hosts),
            }
        }
        Ok(Selection {
            hosts: hosts.into_iter().map(String::from).collect(),
            unmatched,
        })
    }

    fn match_element(&self, element: &str) -> Result<Matched<'_>, PatternError> {
        let (expr, subscript) = split_subscript(element);
        let source = match expr.strip_prefix('~') {
            Some(regex) => format!("^(?:{regex})"),
            None => glob_to_regex(expr),
        };
        let matcher = Regex::new(&source).map_err(|source| PatternError::InvalidRegex {
            element: element.to_string(),
            source: Box::new(source),
        })?;
        let mut found: IndexSet<&str> = IndexSet::new();
        let groups: Vec<&str> = self
            .groups
            .keys()
            .map(String::as_str)
            .filter(|g| matcher.is_match(g))
            .collect();
        for group in &groups {
            found.extend(self.group_hosts(group).into_iter().map(|h| h.name.as_str()));
        }
        let wildcard = expr.starts_with('~') || expr.contains(['.', '?', '*', '[']);
        if groups.is_empty() || wildcard {
            found.extend(
                self.hosts
                    .keys()
                    .map(String::as_str)
                    .filter(|h| matcher.is_match(h)),
            );
        }
        if found.is_empty() && LOCALHOST_NAMES.contains(&expr) {
            if let Some((name, _)) = self.implicit.get_key_value(expr) {
                found.insert(name);
            }
        }
        let hosts: Vec<&str> = found.into_iter().collect();
        let hosts = match subscript {
            None => hosts,
            Some(subscript) => apply_subscript(hosts, subscript).ok_or_else(|| {
                PatternError::SubscriptOutOfRange {
                    element: element.to_string(),
                }
            })?,
        };
        Ok(Matched {
            hosts,
            any_group: !groups.is_empty(),
        })
    }
}

fn apply_subscript(hosts: Vec<&str>, subscript: Subscript) -> Option<Vec<&str>> {
    match subscript {
        Subscript::Index(index) => {
            let len = i64::try_from(hosts.len()).ok()?;
            let index = if index < 0 { len + index } else { index };
            let index = usize::try_from(index).ok()?;
            hosts.get(index).map(|h| vec![*h])
        }
        Subscript::Range(start, end) => {
            let end = end.map_or(hosts.len(), |e| (e + 1).min(hosts.len()));
            Some(
                hosts
                    .get(start..end)
                    .map(<[&str]>::to_vec)
                    .unwrap_or_default(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::render;
    use crate::inventory::test_support::{load_text, write};

    const INVENTORY: &str = "\
[web]
web1
web2
web3
[db]
db1
db2
[prod:children]
web
db
[empty]
[edge]
edge1.example.com
10.0.0.5
";

    fn select(pattern: &str) -> Vec<String> {
        load_text("hosts", INVENTORY).select(pattern).unwrap().hosts
    }

    #[test]
    fn splitting_follows_ansible() {
        assert_eq!(split_pattern("web:db"), ["web", "db"]);
        assert_eq!(split_pattern("web, db ,"), ["web", "db"]);
        assert_eq!(split_pattern("web:&prod:!db"), ["web", "&prod", "!db"]);
        assert_eq!(split_pattern("fe80::1"), ["fe80::1"]);
        assert_eq!(split_pattern("web[1:3]"), ["web[1:3]"]);
        assert_eq!(split_pattern("web[0]:db"), ["web[0]", "db"]);
        assert_eq!(split_pattern("host:22"), ["host:22"]);
    }

    #[test]
    fn exclusions_and_intersections_apply_after_plain_elements() {
        assert_eq!(
            order_elements(vec!["!a".into(), "&b".into(), "c".into()]),
            ["c", "&b", "!a"]
        );
        assert_eq!(order_elements(vec!["!a".into()]), ["all", "!a"]);
    }

    #[test]
    fn a_host_name_selects_that_host() {
        assert_eq!(select("db2"), ["db2"]);
    }

    #[test]
    fn a_group_selects_its_hosts_including_children() {
        assert_eq!(select("db"), ["db1", "db2"]);
        assert_eq!(select("prod"), ["web1", "web2", "web3", "db1", "db2"]);
    }

    #[test]
    fn all_and_star_select_every_host_in_inventory_order() {
        let every = [
            "web1",
            "web2",
            "web3",
            "db1",
            "db2",
            "edge1.example.com",
            "10.0.0.5",
        ];
        assert_eq!(select("all"), every);
        assert_eq!(select("*"), every);
    }

    #[test]
    fn globs_match_hosts_and_groups() {
        assert_eq!(select("web?"), ["web1", "web2", "web3"]);
        assert_eq!(select("*.example.com"), ["edge1.example.com"]);
        assert_eq!(select("d*"), ["db1", "db2"]);
        assert_eq!(select("web[!2]"), ["web1", "web3"]);
        assert_eq!(select("10.0.0.*"), ["10.0.0.5"]);
    }

    #[test]
    fn regexes_match_from_the_start_of_the_name() {
        assert_eq!(select("~web[12]"), ["web1", "web2"]);
        assert_eq!(select("~eb"), Vec::<String>::new());
        assert_eq!(
            select("~(db|edge)"),
            ["db1", "db2", "edge1.example.com", "10.0.0.5"]
        );
    }

    #[test]
    fn unions_keep_element_order_without_repeats() {
        assert_eq!(select("db:web1:db1"), ["db1", "db2", "web1"]);
        assert_eq!(select("db2,web2"), ["db2", "web2"]);
    }

    #[test]
    fn intersection_and_exclusion_narrow_the_union() {
        assert_eq!(select("prod:&web"), ["web1", "web2", "web3"]);
        assert_eq!(select("prod:!web"), ["db1", "db2"]);
        assert_eq!(select("!web:db:&prod"), ["db1", "db2"]);
        assert_eq!(select("!prod"), ["edge1.example.com", "10.0.0.5"]);
        assert_eq!(
            select("all:!web2:!db"),
            ["web1", "web3", "edge1.example.com", "10.0.0.5"]
        );
    }

    #[test]
    fn subscripts_pick_by_position() {
        assert_eq!(select("web[0]"), ["web1"]);
        assert_eq!(select("web[-1]"), ["web3"]);
        assert_eq!(select("web[1:2]"), ["web2", "web3"]);
        assert_eq!(select("web[1:]"), ["web2", "web3"]);
        let error = load_text("hosts", INVENTORY).select("web[7]").unwrap_err();
        assert!(matches!(error, PatternError::SubscriptOutOfRange { .. }));
    }

    #[test]
    fn elements_matching_nothing_are_reported_but_empty_groups_are_not() {
        let selection = load_text("hosts", INVENTORY)
            .select("web1:nosuch:empty:!gone")
            .unwrap();
        assert_eq!(selection.hosts, ["web1"]);
        assert_eq!(selection.unmatched, ["nosuch", "!gone"]);
    }

    #[test]
    fn an_invalid_regex_is_an_error() {
        let error = load_text("hosts", INVENTORY).select("~web(").unwrap_err();
        assert!(matches!(error, PatternError::InvalidRegex { .. }));
    }

    #[test]
    fn localhost_matches_the_implicit_host_outside_all() {
        let inventory = load_text("hosts", INVENTORY);
        assert_eq!(inventory.select("localhost").unwrap().hosts, ["localhost"]);
        assert!(inventory.select("localhost").unwrap().unmatched.is_empty());
        assert!(!inventory
            .select("all")
            .unwrap()
            .hosts
            .contains(&"localhost".to_string()));
        assert!(inventory
            .host_or_implicit("localhost")
            .is_some_and(|h| h.implicit));
    }

    #[test]
    fn a_limit_element_matching_nothing_is_an_error_with_a_suggestion() {
        let inventory = load_text("hosts", INVENTORY);
        let error = inventory.select_limit("web1:wbe2").unwrap_err();
        let text = render(&error);
        assert!(text.contains("`wbe2` matches no host or group"), "{text}");
        assert!(text.contains("did you mean `web2`?"), "{text}");
        assert_eq!(
            inventory.select_limit("web:!web2").unwrap(),
            ["web1", "web3"]
        );
    }

    #[test]
    fn a_limit_file_holds_one_pattern_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "retry",
            "# failed last night\ndb2\n\n  web1  \n",
        );
        let inventory = load_text("hosts", INVENTORY);
        let limit = format!("@{}", file.display());
        assert_eq!(inventory.select_limit(&limit).unwrap(), ["db2", "web1"]);
        let missing = inventory.select_limit("@/nonexistent/limit").unwrap_err();
        assert!(matches!(missing, PatternError::LimitFile { .. }));
    }

    fn no_hosts(limit: &str) -> EmptyLimit {
        match load_text("hosts", INVENTORY).select_limit(limit) {
            Err(PatternError::NoHostsToTarget { reason, .. }) => reason,
            other => panic!("`{limit}` must select no host, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_limit_targets_no_host_never_all() {
        for limit in ["", "   ", ",", ":", " , ,"] {
            assert_eq!(no_hosts(limit), EmptyLimit::NoPattern, "`{limit}`");
        }
        let error = load_text("hosts", INVENTORY).select_limit("").unwrap_err();
        assert_eq!(
            error.to_string(),
            "Specified inventory, host pattern and/or --limit leaves us with no hosts to target."
        );
        assert!(render(&error).contains("leave out -l or pass -l all"));
    }

    #[test]
    fn a_limit_file_without_patterns_targets_no_host() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("empty", ""),
            ("blank", "\n  \n\t\n"),
            ("comments", "# nothing failed\n\n   # really\n"),
        ] {
            let file = write(dir.path(), name, text);
            let limit = format!("@{}", file.display());
            assert_eq!(no_hosts(&limit), EmptyLimit::EmptyFile, "{name}");
        }
    }

    #[test]
    fn a_limit_that_leaves_no_host_is_an_error() {
        for limit in ["web:!web", "web:&db", "empty", "!all"] {
            assert_eq!(no_hosts(limit), EmptyLimit::NoHostLeft, "`{limit}`");
        }
        // `!` alone still applies to all hosts, as in Ansible.
        assert_eq!(
            load_text("hosts", INVENTORY).select_limit("!prod").unwrap(),
            ["edge1.example.com", "10.0.0.5"]
        );
    }
}
