//! String filters Ansible adds to Jinja: regular expressions, base64, paths and shell quoting.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use base64::Engine as _;
use minijinja::value::{Kwargs, Rest};
use minijinja::{Error, ErrorKind, Value};
use regex::Regex;

/// Most distinct patterns kept compiled; beyond this, patterns are compiled per call.
const REGEX_CACHE_LIMIT: usize = 1024;

type RegexCache = RwLock<HashMap<(String, bool, bool), Regex>>;

/// Compiles a (Python-flavoured) pattern, caching it: playbooks reuse a handful of patterns
/// across thousands of hosts. Read-mostly lock; writers only on a first use.
pub(crate) fn regex(pattern: &str, ignorecase: bool, multiline: bool) -> Result<Regex, Error> {
    static CACHE: OnceLock<RegexCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (pattern.to_string(), ignorecase, multiline);
    if let Ok(map) = cache.read() {
        if let Some(re) = map.get(&key) {
            return Ok(re.clone());
        }
    }
    let re = regex::RegexBuilder::new(pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("invalid regular expression {pattern:?}: {e}"),
            )
        })?;
    if let Ok(mut map) = cache.write() {
        if map.len() < REGEX_CACHE_LIMIT {
            map.insert(key, re.clone());
        }
    }
    Ok(re)
}

/// Reads the `ignorecase` / `multiline` keyword arguments shared by the regex filters and tests.
pub(crate) fn regex_flags(kwargs: &Kwargs) -> Result<(bool, bool), Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    Ok((ignorecase, multiline))
}

/// `regex_search(pattern, '\\1', '\\g<name>', ignorecase=, multiline=)`: the first match (or the
/// listed groups of it), or none when nothing matches.
pub fn regex_search(
    value: &str,
    pattern: &str,
    groups: Rest<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let re = regex(pattern, ignorecase, multiline)?;
    let Some(caps) = re.captures(value) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(caps.get(0).map_or("", |m| m.as_str())));
    }
    let mut out = Vec::with_capacity(groups.len());
    for group in groups.iter() {
        let text = if let Some(name) = group.strip_prefix("\\g<").and_then(|g| g.strip_suffix('>'))
        {
            match name.parse::<usize>() {
                Ok(index) => caps.get(index),
                Err(_) => caps.name(name),
            }
        } else if let Some(index) = group.strip_prefix('\\') {
            let index = index.parse::<usize>().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("unknown regex_search group {group:?}"),
                )
            })?;
            caps.get(index)
        } else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("unknown regex_search group {group:?}, expected '\\\\1' or '\\\\g<name>'"),
            ));
        };
        out.push(text.map_or(Value::from(()), |m| Value::from(m.as_str())));
    }
    Ok(Value::from(out))
}

/// Translates a Python replacement string (`\1`, `\g<1>`, `\g<name>`) to the regex crate's
/// syntax (`${1}`, `${name}`), escaping literal `$`.
fn python_replacement(replacement: &str) -> String {
    let mut out = String::with_capacity(replacement.len() + 4);
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut digits = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        digits.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{digits}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// `regex_replace(pattern, replacement='', ignorecase=, multiline=, count=0)`.
pub fn regex_replace(
    value: &str,
    pattern: &str,
    replacement: Option<&str>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    kwargs.assert_all_used()?;
    let re = regex(pattern, ignorecase, multiline)?;
    let replacement = python_replacement(replacement.unwrap_or(""));
    Ok(Value::from(
        re.replacen(value, count, replacement.as_str()).into_owned(),
    ))
}

/// `regex_findall(pattern)`: every match; with one group its text, with several a list of them.
pub fn regex_findall(value: &str, pattern: &str, kwargs: Kwargs) -> Result<Value, Error> {
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let re = regex(pattern, ignorecase, multiline)?;
    let groups = re.captures_len() - 1;
    let text = |m: Option<regex::Match<'_>>| Value::from(m.map_or("", |m| m.as_str()));
    Ok(re
        .captures_iter(value)
        .map(|caps| match groups {
            0 => text(caps.get(0)),
            1 => text(caps.get(1)),
            n => Value::from((1..=n).map(|i| text(caps.get(i))).collect::<Vec<_>>()),
        })
        .collect())
}

/// `b64encode`: base64 of the UTF-8 text.
pub fn b64encode(value: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
}

/// `b64decode`: decodes base64 to UTF-8 text.
pub fn b64decode(value: &str) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim().as_bytes())
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("b64decode: {e}")))?;
    String::from_utf8(bytes).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            "b64decode: decoded data is not UTF-8 text",
        )
    })
}

/// `basename`: like Python's `os.path.basename` (`/a/b/` → ``).
pub fn basename(path: &str) -> String {
    path.rsplit('/').next().unwrap_or("").to_string()
}

/// `dirname`: like Python's `os.path.dirname` (`/a/b` → `/a`, `/a` → `/`).
pub fn dirname(path: &str) -> String {
    let head = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => return String::new(),
    };
    if head.chars().all(|c| c == '/') {
        head.to_string()
    } else {
        head.trim_end_matches('/').to_string()
    }
}

/// `quote`: shell-quotes like Python's `shlex.quote`.
pub fn quote(value: &Value) -> String {
    let text = if value.is_none() || value.is_undefined() {
        String::new()
    } else {
        value.to_string()
    };
    crate::shell::quote(&text)
}

/// `hash(algorithm='sha1')`: the hex digest of the UTF-8 text (sha1, sha256, sha512).
pub fn hash(value: &str, algorithm: Option<&str>) -> Result<String, Error> {
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }
    use sha2::Digest as _;
    let data = value.as_bytes();
    Ok(match algorithm.unwrap_or("sha1") {
        "sha1" => hex(&sha1::Sha1::digest(data)),
        "sha256" => hex(&sha2::Sha256::digest(data)),
        "sha512" => hex(&sha2::Sha512::digest(data)),
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("hash: unsupported algorithm `{other}` (sha1, sha256, sha512)"),
            ))
        }
    })
}

/// `checksum`: the SHA-1 hex digest, as Ansible's.
pub fn checksum(value: &str) -> Result<String, Error> {
    hash(value, Some("sha1"))
}

/// `regex_escape`: Python's `re.escape` (a backslash before each special character).
pub fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `urlencode`: Jinja's, percent-encoding all but unreserved characters and `/`.
pub fn urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"_.-~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_replacements_become_regex_crate_syntax() {
        assert_eq!(
            python_replacement(r"\1-\g<2>-\g<name>"),
            "${1}-${2}-${name}"
        );
        assert_eq!(python_replacement("cost: $5"), "cost: $$5");
    }

    #[test]
    fn paths_split_like_python_os_path() {
        assert_eq!(basename("/etc/ssh/sshd_config"), "sshd_config");
        assert_eq!(basename("/etc/ssh/"), "");
        assert_eq!(basename("file"), "file");
        assert_eq!(dirname("/etc/ssh/sshd_config"), "/etc/ssh");
        assert_eq!(dirname("/etc"), "/");
        assert_eq!(dirname("file"), "");
        assert_eq!(dirname("a//b"), "a");
    }

    #[test]
    fn shell_quote_matches_shlex_quote() {
        assert_eq!(crate::shell::quote("abc-1.2/x"), "abc-1.2/x");
        assert_eq!(crate::shell::quote(""), "''");
        assert_eq!(crate::shell::quote("a b"), "'a b'");
        assert_eq!(crate::shell::quote("it's"), "'it'\"'\"'s'");
        assert_eq!(crate::shell::quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn invalid_patterns_are_errors_not_panics() {
        assert!(regex("(", false, false).is_err());
    }

    use crate::template::testing::{eval, eval_err, render};
    use serde_json::json;

    #[test]
    fn regex_search_returns_the_match_or_none() {
        assert_eq!(
            eval("'linux-5.15.0' | regex_search('[0-9.]+')"),
            json!("5.15.0")
        );
        assert_eq!(eval("'abc' | regex_search('[0-9]+')"), json!(null));
        assert_eq!(
            eval(
                r"'user=bob id=7' | regex_search('user=(\\w+) id=(?P<id>\\d+)', '\\1', '\\g<id>')"
            ),
            json!(["bob", "7"])
        );
        assert_eq!(
            eval("'ABC' | regex_search('b', ignorecase=true)"),
            json!("B")
        );
    }

    #[test]
    fn regex_replace_uses_python_backreferences() {
        assert_eq!(
            eval(r"'host-01.example' | regex_replace('^host-(\\d+)\\..*$', 'node\\1')"),
            json!("node01")
        );
        assert_eq!(
            eval("'a.b.c' | regex_replace('\\\\.', '-')"),
            json!("a-b-c")
        );
        assert_eq!(
            eval("'aaa' | regex_replace('a', 'b', count=2)"),
            json!("bba")
        );
        assert_eq!(eval("'x' | regex_replace('x')"), json!(""));
    }

    #[test]
    fn regex_findall_lists_matches_or_groups() {
        assert_eq!(
            eval("'a1b22c333' | regex_findall('[0-9]+')"),
            json!(["1", "22", "333"])
        );
        assert_eq!(
            eval("'k=v x=y' | regex_findall('(\\\\w)=(\\\\w)')"),
            json!([["k", "v"], ["x", "y"]])
        );
    }

    #[test]
    fn invalid_regex_is_a_render_error() {
        assert!(eval_err("'a' | regex_search('(')").contains("invalid regular expression"));
    }

    #[test]
    fn base64_round_trips() {
        assert_eq!(eval("'hello' | b64encode"), json!("aGVsbG8="));
        assert_eq!(eval("'aGVsbG8=' | b64decode"), json!("hello"));
        assert!(eval_err("'!!' | b64decode").contains("b64decode"));
    }

    #[test]
    fn path_and_quote_filters() {
        assert_eq!(
            eval("'/etc/ssh/sshd_config' | basename"),
            json!("sshd_config")
        );
        assert_eq!(eval("'/etc/ssh/sshd_config' | dirname"), json!("/etc/ssh"));
        assert_eq!(
            render("echo {{ \"it's here\" | quote }}"),
            "echo 'it'\"'\"'s here'"
        );
        assert_eq!(eval("'plain' | quote"), json!("plain"));
    }

    #[test]
    fn builtin_string_filters_behave_like_jinja() {
        assert_eq!(eval("'AbC' | lower"), json!("abc"));
        assert_eq!(eval("'AbC' | upper"), json!("ABC"));
        assert_eq!(eval("'  x  ' | trim"), json!("x"));
        assert_eq!(eval("'a-b-a' | replace('a', 'z')"), json!("z-b-z"));
        assert_eq!(eval("['a', 'b'] | join(',')"), json!("a,b"));
        assert_eq!(eval("[1, 2] | join"), json!("12"));
        assert_eq!(eval("' a  b\tc ' | split"), json!(["a", "b", "c"]));
        assert_eq!(eval("'a,,b' | split(',')"), json!(["a", "", "b"]));
        assert_eq!(eval("'a b c' | split(' ', 1)"), json!(["a", "b c"]));
    }

    #[test]
    fn python_string_methods_work() {
        assert_eq!(eval("'a b'.split()"), json!(["a", "b"]));
        assert_eq!(eval("'abc'.startswith('ab')"), json!(true));
        assert_eq!(eval("'abc'.upper()"), json!("ABC"));
        assert_eq!(eval("{'a': 1}.keys() | list"), json!(["a"]));
        assert_eq!(eval("{'a': 1}.items() | list"), json!([["a", 1]]));
    }

    #[test]
    fn hash_checksum_regex_escape_and_urlencode_match_ansible() {
        assert_eq!(
            eval("'hello' | hash('sha1')"),
            json!("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")
        );
        assert_eq!(
            eval("'hello' | checksum"),
            json!("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")
        );
        assert_eq!(eval("'a.b*c' | regex_escape"), json!("a\\.b\\*c"));
        assert_eq!(eval("'a b/é' | urlencode"), json!("a%20b/%C3%A9"));
    }
}
