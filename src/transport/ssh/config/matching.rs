//! Pattern matching as OpenSSH's `match.c`: `*`/`?` globs, comma-separated pattern lists with
//! `!` negation (`Match` criteria), and space-separated `Host` pattern lists.

/// `*` (any run) and `?` (one character) glob matching, as OpenSSH's `match_pattern`.
/// Case-sensitive.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        return glob(pattern.as_bytes(), text.as_bytes());
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    glob(&pattern, &text)
}

/// The matcher over bytes (ASCII) or characters.
fn glob<T: PartialEq + Copy + Wild>(pattern: &[T], text: &[T]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p].is_any() || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p].is_star() {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| c.is_star())
}

/// `*` and `?` in either representation.
trait Wild {
    fn is_star(&self) -> bool;
    fn is_any(&self) -> bool;
}

impl Wild for u8 {
    fn is_star(&self) -> bool {
        *self == b'*'
    }
    fn is_any(&self) -> bool {
        *self == b'?'
    }
}

impl Wild for char {
    fn is_star(&self) -> bool {
        *self == '*'
    }
    fn is_any(&self) -> bool {
        *self == '?'
    }
}

/// A `Host` line's patterns against the name given to ssh: case-sensitive, a matching `!`
/// pattern vetoes the block (OpenSSH's `match_pattern` per argument).
pub fn host_patterns_match(patterns: &[String], host: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard_match(negated, host) => return false,
            Some(_) => {}
            None if wildcard_match(pattern, host) => matched = true,
            None => {}
        }
    }
    matched
}

/// OpenSSH's `match_pattern_list`: a comma-separated list where any `!pattern` that matches
/// makes the whole list fail. `lower` lower-cases the patterns (and the caller the text), as
/// `match_hostname` does for `Match host` and `Match originalhost`.
pub fn pattern_list_match(text: &str, list: &str, lower: bool) -> bool {
    let mut matched = false;
    for pattern in list.split(',') {
        let pattern = if lower {
            pattern.to_ascii_lowercase()
        } else {
            pattern.to_string()
        };
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard_match(negated, text) => return false,
            Some(_) => {}
            None if wildcard_match(&pattern, text) => matched = true,
            None => {}
        }
    }
    matched
}

/// `Match host`/`Match originalhost`: case-insensitive, as OpenSSH's `match_hostname`.
pub fn hostname_match(host: &str, list: &str) -> bool {
    pattern_list_match(&host.to_ascii_lowercase(), list, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("web??", "web01"));
        assert!(!wildcard_match("web??", "web1"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("10.0.*.1", "10.0.3.1"));
        assert!(!wildcard_match("a*b", "acbd"));
        assert!(wildcard_match("h?st-é*", "höst-été"));
    }

    #[test]
    fn host_patterns_are_case_sensitive_and_negation_vetoes() {
        let patterns = vec!["Web*".to_string(), "!Web9".to_string()];
        assert!(host_patterns_match(&patterns, "Web1"));
        assert!(!host_patterns_match(&patterns, "web1"));
        assert!(!host_patterns_match(&patterns, "Web9"));
        assert!(!host_patterns_match(&["!x".to_string()], "y"));
    }

    #[test]
    fn match_lists_take_commas_and_negation_and_hostnames_ignore_case() {
        assert!(pattern_list_match("bob", "alice,b*", false));
        assert!(!pattern_list_match("bob", "*,!bob", false));
        assert!(!pattern_list_match("Bob", "bob", false));
        assert!(hostname_match("Web1.Example", "web1.example"));
        assert!(hostname_match("web1.example", "WEB1.*"));
    }
}
