//! OpenSSH client configuration (`~/.ssh/config`, `-F FILE`): the options rpatch honours.
//!
//! As in OpenSSH, the first value found for an option wins (except `IdentityFile`, which
//! accumulates), `Host` takes patterns with `*`, `?` and `!` negation, and `Include` pulls in
//! more files. `Match` blocks are not evaluated and never apply. Unknown options are ignored.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use std::collections::HashMap;

/// A problem in an ssh_config file.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One `Host` (or implicit leading) block.
#[derive(Debug, Clone)]
struct Block {
    /// `(negated, pattern)`; `None` for a `Match` block, which never applies.
    patterns: Option<Vec<(bool, String)>>,
    /// Lower-cased keyword and its arguments, in file order.
    options: Vec<(String, Vec<String>, usize)>,
    path: Arc<str>,
}

/// A parsed configuration: the blocks of one or more files, in the order OpenSSH reads them.
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    blocks: Vec<Block>,
}

/// The options that apply to one host, after pattern matching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// `HostName`, with `%h` expanded.
    pub hostname: Option<String>,
    /// `User`.
    pub user: Option<String>,
    /// `Port`.
    pub port: Option<u16>,
    /// `IdentityFile`s, `~` expanded, in order.
    pub identity_files: Vec<PathBuf>,
    /// `CertificateFile`s, `~` expanded, in order (they accumulate, like `IdentityFile`).
    pub certificate_files: Vec<PathBuf>,
    /// `IdentitiesOnly`.
    pub identities_only: Option<bool>,
    /// `ProxyJump` (comma-separated hops, or `none`).
    pub proxy_jump: Option<String>,
    /// `ConnectTimeout` in seconds.
    pub connect_timeout: Option<u64>,
    /// `ServerAliveInterval` in seconds.
    pub server_alive_interval: Option<u64>,
    /// `ServerAliveCountMax`.
    pub server_alive_count_max: Option<usize>,
    /// `StrictHostKeyChecking`.
    pub strict_host_key_checking: Option<String>,
    /// `UserKnownHostsFile`s.
    pub user_known_hosts_files: Option<Vec<PathBuf>>,
    /// `GlobalKnownHostsFile`s.
    pub global_known_hosts_files: Option<Vec<PathBuf>>,
}

impl SshConfig {
    /// Parses one file's text; `Include`s are resolved relative to `include_base`.
    pub fn parse(text: &str, path: &Path, include_base: &Path) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        config.read_text(text, path, include_base, None, 0)?;
        Ok(config)
    }

    /// Reads a file (a missing file is an empty configuration).
    pub fn load(path: &Path, include_base: &Path) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        config.read_file(path, include_base, None, 0)?;
        Ok(config)
    }

    /// The configuration OpenSSH would use: `explicit` alone when given (as `ssh -F`), else
    /// `~/.ssh/config` then `/etc/ssh/ssh_config`. Parsed once per process and path set.
    pub fn standard(explicit: Option<&Path>) -> Result<Arc<Self>, ConfigError> {
        static CACHE: OnceLock<Mutex<HashMap<Option<PathBuf>, Arc<SshConfig>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let key = explicit.map(Path::to_path_buf);
        if let Some(found) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(found.clone());
        }
        let mut config = Self::default();
        let home_ssh = home_dir().join(".ssh");
        match explicit {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError {
                        path: path.display().to_string(),
                        line: 0,
                        message: "ssh config file not found".into(),
                    });
                }
                config.read_file(path, &home_ssh, None, 0)?;
            }
            None => {
                config.read_file(&home_ssh.join("config"), &home_ssh, None, 0)?;
                let etc = Path::new("/etc/ssh");
                config.read_file(&etc.join("ssh_config"), etc, None, 0)?;
            }
        }
        let config = Arc::new(config);
        cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, config.clone());
        Ok(config)
    }

    fn read_file(
        &mut self,
        path: &Path,
        include_base: &Path,
        inherited: Option<Vec<(bool, String)>>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Ok(());
        };
        self.read_text(&text, path, include_base, inherited, depth)
    }

    fn read_text(
        &mut self,
        text: &str,
        path: &Path,
        include_base: &Path,
        inherited: Option<Vec<(bool, String)>>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let origin: Arc<str> = Arc::from(path.display().to_string());
        let error = |line: usize, message: String| ConfigError {
            path: origin.to_string(),
            line,
            message,
        };
        // Lines before the first Host apply to every host (or to the including block).
        let mut current = Block {
            patterns: Some(inherited.unwrap_or_else(|| vec![(false, "*".into())])),
            options: Vec::new(),
            path: origin.clone(),
        };
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let Some((keyword, args)) = split_line(raw).map_err(|m| error(number, m))? else {
                continue;
            };
            match keyword.as_str() {
                "host" => {
                    if args.is_empty() {
                        return Err(error(number, "`Host` needs at least one pattern".into()));
                    }
                    let patterns = args
                        .iter()
                        .map(|p| match p.strip_prefix('!') {
                            Some(rest) => (true, rest.to_ascii_lowercase()),
                            None => (false, p.to_ascii_lowercase()),
                        })
                        .collect();
                    self.blocks.push(std::mem::replace(
                        &mut current,
                        Block {
                            patterns: Some(patterns),
                            options: Vec::new(),
                            path: origin.clone(),
                        },
                    ));
                }
                "match" => {
                    let all = args.len() == 1 && args[0].eq_ignore_ascii_case("all");
                    let patterns = all.then(|| vec![(false, "*".to_string())]);
                    self.blocks.push(std::mem::replace(
                        &mut current,
                        Block {
                            patterns,
                            options: Vec::new(),
                            path: origin.clone(),
                        },
                    ));
                }
                "include" => {
                    if depth > 8 {
                        return Err(error(number, "`Include` nested too deeply".into()));
                    }
                    self.blocks.push(Block {
                        patterns: current.patterns.clone(),
                        options: std::mem::take(&mut current.options),
                        path: origin.clone(),
                    });
                    for pattern in &args {
                        let full = expand_tilde(pattern);
                        let full = if full.is_absolute() {
                            full
                        } else {
                            include_base.join(full)
                        };
                        for file in glob_files(&full) {
                            self.read_file(
                                &file,
                                include_base,
                                current.patterns.clone(),
                                depth + 1,
                            )?;
                        }
                    }
                }
                _ => current.options.push((keyword, args, number)),
            }
        }
        self.blocks.push(current);
        Ok(())
    }

    /// The options for `host` (the name given to ssh, before `HostName`).
    pub fn resolve(&self, host: &str) -> Result<HostConfig, ConfigError> {
        let lowered = host.to_ascii_lowercase();
        let mut out = HostConfig::default();
        for block in &self.blocks {
            let Some(patterns) = &block.patterns else {
                continue;
            };
            if !patterns_match(patterns, &lowered) {
                continue;
            }
            for (keyword, args, line) in &block.options {
                let error = |message: String| ConfigError {
                    path: block.path.to_string(),
                    line: *line,
                    message,
                };
                let first = || {
                    args.first()
                        .cloned()
                        .ok_or_else(|| error(format!("`{keyword}` needs a value")))
                };
                match keyword.as_str() {
                    "hostname" if out.hostname.is_none() => {
                        out.hostname = Some(first()?.replace("%h", host));
                    }
                    "user" if out.user.is_none() => out.user = Some(first()?),
                    "port" if out.port.is_none() => {
                        let value = first()?;
                        out.port =
                            Some(value.parse().map_err(|_| {
                                error(format!("`Port {value}` is not a port number"))
                            })?);
                    }
                    "identityfile" => {
                        let value = first()?;
                        if !value.eq_ignore_ascii_case("none") {
                            out.identity_files.push(expand_tilde(&value));
                        }
                    }
                    "certificatefile" => {
                        let value = first()?;
                        if !value.eq_ignore_ascii_case("none") {
                            out.certificate_files.push(expand_tilde(&value));
                        }
                    }
                    "identitiesonly" if out.identities_only.is_none() => {
                        out.identities_only = Some(yes_no(&first()?).map_err(error)?);
                    }
                    "proxyjump" if out.proxy_jump.is_none() => out.proxy_jump = Some(first()?),
                    "connecttimeout" if out.connect_timeout.is_none() => {
                        out.connect_timeout = Some(number(&first()?).map_err(error)?);
                    }
                    "serveraliveinterval" if out.server_alive_interval.is_none() => {
                        out.server_alive_interval = Some(number(&first()?).map_err(error)?);
                    }
                    "serveralivecountmax" if out.server_alive_count_max.is_none() => {
                        out.server_alive_count_max =
                            Some(number(&first()?).map_err(error)? as usize);
                    }
                    "stricthostkeychecking" if out.strict_host_key_checking.is_none() => {
                        out.strict_host_key_checking = Some(first()?);
                    }
                    "userknownhostsfile" if out.user_known_hosts_files.is_none() => {
                        out.user_known_hosts_files =
                            Some(args.iter().map(|a| expand_tilde(a)).collect());
                    }
                    "globalknownhostsfile" if out.global_known_hosts_files.is_none() => {
                        out.global_known_hosts_files =
                            Some(args.iter().map(|a| expand_tilde(a)).collect());
                    }
                    _ => {}
                }
            }
        }
        Ok(out)
    }
}

fn yes_no(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        other => Err(format!("expected yes or no, found `{other}`")),
    }
}

fn number(value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("expected a number of seconds, found `{value}`"))
}

/// Splits `Keyword args…` or `Keyword=args…`; `None` for blank and comment lines.
fn split_line(raw: &str) -> Result<Option<(String, Vec<String>)>, String> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = line[..end].to_ascii_lowercase();
    let mut rest = line[end..].trim_start();
    if let Some(after) = rest.strip_prefix('=') {
        rest = after.trim_start();
    }
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            break;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == '"' {
                    closed = true;
                    break;
                }
                word.push(c);
            }
            if !closed {
                return Err("unterminated quote".into());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        args.push(word);
    }
    Ok(Some((keyword, args)))
}

fn patterns_match(patterns: &[(bool, String)], host: &str) -> bool {
    let mut matched = false;
    for (negated, pattern) in patterns {
        if wildcard_match(pattern, host) {
            if *negated {
                return false;
            }
            matched = true;
        }
    }
    matched
}

/// `*` (any run) and `?` (one character) glob matching, as OpenSSH's `match_pattern`.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
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
    pattern[p..].iter().all(|&c| c == '*')
}

/// The files an `Include` argument names (a `*`/`?` glob in the last component only).
fn glob_files(path: &Path) -> Vec<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return vec![path.to_path_buf()];
    }
    let Some(dir) = path.parent() else {
        return Vec::new();
    };
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .filter(|e| wildcard_match(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// The user's home directory (`$HOME`, else `/root`).
pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// Expands a leading `~/`.
pub fn expand_tilde(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home_dir().join(rest),
        None if path == "~" => home_dir(),
        None => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> SshConfig {
        SshConfig::parse(text, Path::new("test_config"), Path::new("/nonexistent")).expect("parse")
    }

    #[test]
    fn first_value_wins_and_identity_files_accumulate() {
        let cfg = config(
            "Host web*\n  User admin\n  IdentityFile /k/one\n\
             Host *\n  User nobody\n  Port 2222\n  IdentityFile /k/two\n",
        );
        let web = cfg.resolve("web01").expect("resolve");
        assert_eq!(web.user.as_deref(), Some("admin"));
        assert_eq!(web.port, Some(2222));
        assert_eq!(
            web.identity_files,
            vec![PathBuf::from("/k/one"), PathBuf::from("/k/two")]
        );
        assert_eq!(
            cfg.resolve("db01").expect("db").user.as_deref(),
            Some("nobody")
        );
    }

    #[test]
    fn negated_patterns_veto() {
        let cfg = config("Host *.lab !bastion.lab\n  ProxyJump bastion.lab\n");
        assert_eq!(
            cfg.resolve("a.lab").expect("a").proxy_jump.as_deref(),
            Some("bastion.lab")
        );
        assert_eq!(cfg.resolve("bastion.lab").expect("b").proxy_jump, None);
    }

    #[test]
    fn equals_quotes_comments_and_hostname_expansion() {
        let cfg = config(
            "# top\nHost=alias\n  HostName=%h.example.com\n  IdentityFile \"/a b/key\" # c\n\
             ConnectTimeout 3\n  ServerAliveInterval 7\n  ServerAliveCountMax 2\n  IdentitiesOnly yes\n",
        );
        let alias = cfg.resolve("alias").expect("alias");
        assert_eq!(alias.hostname.as_deref(), Some("alias.example.com"));
        assert_eq!(alias.identity_files, vec![PathBuf::from("/a b/key")]);
        assert_eq!(alias.connect_timeout, Some(3));
        assert_eq!(alias.server_alive_interval, Some(7));
        assert_eq!(alias.server_alive_count_max, Some(2));
        assert_eq!(alias.identities_only, Some(true));
    }

    #[test]
    fn match_blocks_never_apply_and_bad_values_name_the_line() {
        let cfg = config("Match user root\n  User wrong\nHost x\n  Port nope\n");
        assert_eq!(cfg.resolve("y").expect("y").user, None);
        let error = cfg.resolve("x").expect_err("bad port");
        assert_eq!(error.line, 4);
        assert!(error.to_string().contains("not a port number"));
    }

    #[test]
    fn includes_are_read_in_place() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("extra.conf"), "Host inc\n  User included\n")
            .expect("write");
        let cfg = SshConfig::parse(
            "Include *.conf\nHost *\n  User later\n",
            Path::new("main"),
            dir.path(),
        )
        .expect("parse");
        assert_eq!(
            cfg.resolve("inc").expect("inc").user.as_deref(),
            Some("included")
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("web??", "web01"));
        assert!(!wildcard_match("web??", "web1"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("10.0.*.1", "10.0.3.1"));
        assert!(!wildcard_match("a*b", "acbd"));
    }
}
