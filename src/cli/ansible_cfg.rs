//! `ansible.cfg` and the `ANSIBLE_*` environment variables, as defaults under the command line.
//!
//! The file is the first found of `$ANSIBLE_CONFIG`, `./ansible.cfg`, `~/.ansible.cfg` and
//! `/etc/ansible/ansible.cfg` (Ansible's order; only that one is read). Precedence, as in
//! Ansible: command line > environment > file > rpatch's defaults. rpatch's own variables
//! (`RPATCH_INVENTORY`, `RPATCH_HOST_KEY_CHECKING`) win over the Ansible ones. A key or an
//! `ANSIBLE_*` variable rpatch has no equivalent for is named in a warning, never dropped
//! silently. The format is Python's configparser as Ansible uses it: `[section]`, `key = value`
//! or `key: value`, `#`/`;` comment lines, ` ;` inline comments, indented continuation lines.

use std::path::{Path, PathBuf};

use super::args::{ConnectionArgs, Sources};
use super::error::CliError;
use crate::transport::ssh::expand_tilde;
use crate::transport::HostKeyPolicy;

/// What a setting means to rpatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Inventory,
    RemoteUser,
    Forks,
    HostKeyChecking,
    PrivateKeyFile,
    Timeout,
    RolesPath,
    CollectionsPaths,
    AskPass,
    Become,
    BecomeUser,
    BecomeMethod,
    BecomeAskPass,
    SshArgs,
    SshCommonArgs,
    SshExtraArgs,
}

/// The settings rpatch has an equivalent for: section, key (and its older spellings), variable.
const KEYS: &[(&str, &[&str], &str, Key)] = &[
    (
        "defaults",
        &["inventory", "hostfile"],
        "ANSIBLE_INVENTORY",
        Key::Inventory,
    ),
    (
        "defaults",
        &["remote_user"],
        "ANSIBLE_REMOTE_USER",
        Key::RemoteUser,
    ),
    ("defaults", &["forks"], "ANSIBLE_FORKS", Key::Forks),
    (
        "defaults",
        &["host_key_checking"],
        "ANSIBLE_HOST_KEY_CHECKING",
        Key::HostKeyChecking,
    ),
    (
        "defaults",
        &["private_key_file"],
        "ANSIBLE_PRIVATE_KEY_FILE",
        Key::PrivateKeyFile,
    ),
    ("defaults", &["timeout"], "ANSIBLE_TIMEOUT", Key::Timeout),
    (
        "defaults",
        &["roles_path"],
        "ANSIBLE_ROLES_PATH",
        Key::RolesPath,
    ),
    (
        "defaults",
        &["collections_path", "collections_paths"],
        "ANSIBLE_COLLECTIONS_PATH",
        Key::CollectionsPaths,
    ),
    // Ansible's older spelling of the variable.
    (
        "defaults",
        &[],
        "ANSIBLE_COLLECTIONS_PATHS",
        Key::CollectionsPaths,
    ),
    ("defaults", &["ask_pass"], "ANSIBLE_ASK_PASS", Key::AskPass),
    (
        "privilege_escalation",
        &["become"],
        "ANSIBLE_BECOME",
        Key::Become,
    ),
    (
        "privilege_escalation",
        &["become_user"],
        "ANSIBLE_BECOME_USER",
        Key::BecomeUser,
    ),
    (
        "privilege_escalation",
        &["become_method"],
        "ANSIBLE_BECOME_METHOD",
        Key::BecomeMethod,
    ),
    (
        "privilege_escalation",
        &["become_ask_pass"],
        "ANSIBLE_BECOME_ASK_PASS",
        Key::BecomeAskPass,
    ),
    (
        "ssh_connection",
        &["ssh_args"],
        "ANSIBLE_SSH_ARGS",
        Key::SshArgs,
    ),
    (
        "ssh_connection",
        &["ssh_common_args"],
        "ANSIBLE_SSH_COMMON_ARGS",
        Key::SshCommonArgs,
    ),
    (
        "ssh_connection",
        &["ssh_extra_args"],
        "ANSIBLE_SSH_EXTRA_ARGS",
        Key::SshExtraArgs,
    ),
];

/// Variables that choose the file or are read elsewhere, so they are not "unsupported".
const KNOWN_ELSEWHERE: &[&str] = &["ANSIBLE_CONFIG"];

/// One setting's value and where it came from (for error messages).
#[derive(Debug, Clone)]
struct Found {
    key: Key,
    value: String,
    origin: String,
}

/// The Ansible defaults in force: from the file, overlaid by the environment.
#[derive(Debug, Default)]
pub struct AnsibleConfig {
    found: Vec<Found>,
    /// One line per setting rpatch does not support.
    pub warnings: Vec<String>,
}

impl AnsibleConfig {
    /// Reads the first ansible.cfg found and the `ANSIBLE_*` variables of this process.
    pub fn load() -> Result<Self, CliError> {
        let vars: Vec<(String, String)> = std::env::vars()
            .filter(|(name, _)| name.starts_with("ANSIBLE_"))
            .collect();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let config = std::env::var_os("ANSIBLE_CONFIG").map(PathBuf::from);
        let file = find_file(config.as_deref(), home.as_deref());
        let text = match &file {
            Some(path) => Some(
                std::fs::read_to_string(path).map_err(|source| CliError::Read {
                    path: path.clone(),
                    source,
                })?,
            ),
            None => None,
        };
        Ok(Self::from_parts(
            file.zip(text)
                .as_ref()
                .map(|(p, t)| (p.as_path(), t.as_str())),
            &vars,
        ))
    }

    /// The settings of `file` (path and text) overlaid by `vars`.
    fn from_parts(file: Option<(&Path, &str)>, vars: &[(String, String)]) -> Self {
        let mut config = Self::default();
        if let Some((path, text)) = file {
            tracing::debug!("reading settings from {}", path.display());
            for entry in parse(text) {
                let origin = format!("{}:{}", path.display(), entry.line);
                let known = KEYS.iter().find(|(section, names, _, _)| {
                    *section == entry.section && names.contains(&entry.key.as_str())
                });
                match known {
                    Some((_, _, _, key)) => config.set(*key, entry.value, origin),
                    None => config.warnings.push(format!(
                        "{origin}: [{}] {} is not supported by rpatch; ignoring it",
                        entry.section, entry.key
                    )),
                }
            }
        }
        for (name, value) in vars {
            match KEYS.iter().find(|(_, _, var, _)| var == name) {
                Some((_, _, _, key)) => config.set(*key, value.clone(), name.clone()),
                None if KNOWN_ELSEWHERE.contains(&name.as_str()) => {}
                None => config
                    .warnings
                    .push(format!("{name} is not supported by rpatch; ignoring it")),
            }
        }
        config
    }

    fn set(&mut self, key: Key, value: String, origin: String) {
        self.found.retain(|found| found.key != key);
        self.found.push(Found { key, value, origin });
    }

    fn get(&self, key: Key) -> Option<&Found> {
        self.found.iter().find(|found| found.key == key)
    }

    /// Prints the warnings (once per command).
    pub fn warn(&self) {
        for warning in &self.warnings {
            eprintln!("[WARNING]: {warning}");
        }
    }

    /// For commands that only load (check, plan, inventory): reads the settings, warns, and
    /// fills the inventory the command line left unset; returns the role directories.
    pub fn for_sources(sources: &mut Sources) -> Result<Vec<PathBuf>, CliError> {
        let cfg = Self::load()?;
        cfg.warn();
        cfg.apply(sources, &mut None, &mut ConnectionArgs::default())?;
        Ok(cfg.roles_path())
    }

    /// The role directories (`roles_path`), `:`-separated.
    pub fn roles_path(&self) -> Vec<PathBuf> {
        self.get(Key::RolesPath)
            .map(|found| paths(&found.value, ':'))
            .unwrap_or_default()
    }

    /// The collection directories (`collections_path`, `:`-separated), by default Ansible's
    /// `~/.ansible/collections:/usr/share/ansible/collections`.
    pub fn collections_paths(&self) -> Vec<PathBuf> {
        let value = self.get(Key::CollectionsPaths).map_or(
            "~/.ansible/collections:/usr/share/ansible/collections",
            |found| found.value.as_str(),
        );
        paths(value, ':')
    }

    /// Fills what the command line left unset: inventory, forks and the connection settings.
    pub fn apply(
        &self,
        sources: &mut Sources,
        forks: &mut Option<u32>,
        connection: &mut ConnectionArgs,
    ) -> Result<(), CliError> {
        let rpatch_var = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        if sources.inventory.is_empty() && !rpatch_var("RPATCH_INVENTORY") {
            if let Some(found) = self.get(Key::Inventory) {
                sources.inventory = paths(&found.value, ',');
            }
        }
        if forks.is_none() {
            if let Some(found) = self.get(Key::Forks) {
                *forks = Some(number(found, 1, 100_000)? as u32);
            }
        }
        fill(&mut connection.user, self.get(Key::RemoteUser).map(text));
        if connection.host_key_checking.is_none() && !rpatch_var("RPATCH_HOST_KEY_CHECKING") {
            if let Some(found) = self.get(Key::HostKeyChecking) {
                connection.host_key_checking = Some(if boolean(found)? {
                    HostKeyPolicy::Strict
                } else {
                    HostKeyPolicy::Off
                });
            }
        }
        if connection.private_key.is_none() {
            connection.private_key = self
                .get(Key::PrivateKeyFile)
                .map(|found| expand_tilde(found.value.trim()));
        }
        if connection.connect_timeout.is_none() {
            if let Some(found) = self.get(Key::Timeout) {
                connection.connect_timeout = Some(number(found, 1, crate::seconds::MAX_SECONDS)?);
            }
        }
        if let Some(found) = self.get(Key::AskPass) {
            connection.ask_pass |= boolean(found)?;
        }
        if let Some(found) = self.get(Key::Become) {
            connection.escalate |= boolean(found)?;
        }
        if let Some(found) = self.get(Key::BecomeAskPass) {
            connection.ask_become_pass |= boolean(found)?;
        }
        fill(
            &mut connection.become_user,
            self.get(Key::BecomeUser).map(text),
        );
        if connection.become_method.is_none() {
            if let Some(found) = self.get(Key::BecomeMethod) {
                let method = found.value.trim();
                if !matches!(method, "sudo" | "su") {
                    return Err(invalid(found, "rpatch escalates with `sudo` or `su`"));
                }
                connection.become_method = Some(method.to_string());
            }
        }
        // ssh_args (Ansible's defaults for ssh itself, such as -C and ControlMaster) and
        // ssh_common_args both go where --ssh-common-args goes; the unsupported ones are
        // warned about there.
        if connection.ssh_common_args.is_none() {
            let words: Vec<String> = [Key::SshArgs, Key::SshCommonArgs]
                .iter()
                .filter_map(|key| self.get(*key).map(text))
                .collect();
            if !words.is_empty() {
                connection.ssh_common_args = Some(words.join(" "));
            }
        }
        fill(
            &mut connection.ssh_extra_args,
            self.get(Key::SshExtraArgs).map(text),
        );
        Ok(())
    }
}

fn fill(slot: &mut Option<String>, value: Option<String>) {
    if slot.is_none() {
        *slot = value.filter(|v| !v.is_empty());
    }
}

fn text(found: &Found) -> String {
    found.value.trim().to_string()
}

fn paths(value: &str, separator: char) -> Vec<PathBuf> {
    value
        .split(separator)
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(expand_tilde)
        .collect()
}

fn invalid(found: &Found, message: &str) -> CliError {
    let key = KEYS
        .iter()
        .find(|(_, _, _, key)| *key == found.key)
        .map_or("", |(_, names, _, _)| names[0]);
    CliError::AnsibleConfig {
        origin: found.origin.clone(),
        key: key.to_string(),
        message: format!("{message}, found `{}`", found.value.trim()),
    }
}

/// Ansible's booleans: yes/no, true/false, on/off, 1/0 (any case).
fn boolean(found: &Found) -> Result<bool, CliError> {
    match found.value.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "t" | "on" | "1" => Ok(true),
        "no" | "n" | "false" | "f" | "off" | "0" => Ok(false),
        _ => Err(invalid(found, "expected a boolean (true/false, yes/no)")),
    }
}

fn number(found: &Found, min: u64, max: u64) -> Result<u64, CliError> {
    found
        .value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            invalid(
                found,
                &format!("expected a whole number from {min} to {max}"),
            )
        })
}

/// The file Ansible would read: `$ANSIBLE_CONFIG` (a file, or a directory holding
/// ansible.cfg), `./ansible.cfg`, `~/.ansible.cfg`, `/etc/ansible/ansible.cfg`.
fn find_file(config: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = config.filter(|p| !p.as_os_str().is_empty()) {
        let path = expand_tilde(&path.to_string_lossy());
        if path.is_dir() {
            candidates.push(path.join("ansible.cfg"));
        } else {
            candidates.push(path);
        }
    }
    candidates.push(PathBuf::from("ansible.cfg"));
    if let Some(home) = home {
        candidates.push(home.join(".ansible.cfg"));
    }
    candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
    candidates.into_iter().find(|path| path.is_file())
}

/// One `key = value` of an INI file.
#[derive(Debug, PartialEq)]
struct Entry {
    section: String,
    key: String,
    value: String,
    line: usize,
}

/// Python configparser's reading, as Ansible sets it up (`inline_comment_prefixes=(';',)`).
/// Lines that are neither a section, a setting nor a continuation are skipped, as nothing in
/// them can be a setting.
fn parse(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut section = String::new();
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let line = strip_inline_comment(trimmed);
        if raw.starts_with([' ', '\t']) {
            if let Some(last) = entries.last_mut().filter(|e| e.section == section) {
                last.value.push('\n');
                last.value.push_str(line);
                continue;
            }
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        let Some(split) = line.find(['=', ':']) else {
            continue;
        };
        entries.push(Entry {
            section: section.clone(),
            key: line[..split].trim().to_ascii_lowercase(),
            value: line[split + 1..].trim().to_string(),
            line: index + 1,
        });
    }
    entries
}

/// Drops a ` ;` comment (configparser wants whitespace before an inline prefix).
fn strip_inline_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, byte) in bytes.iter().enumerate() {
        if *byte == b';' && i > 0 && bytes[i - 1].is_ascii_whitespace() {
            return line[..i].trim_end();
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "\
# a comment
[defaults]
inventory = hosts.ini ; the lab
remote_user: ops
forks = 7
host_key_checking = False
callbacks_enabled = timer

[privilege_escalation]
become = yes
become_user = admin

[ssh_connection]
ssh_args = -o ServerAliveInterval=5
pipelining = True
";

    fn config(vars: &[(&str, &str)]) -> AnsibleConfig {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AnsibleConfig::from_parts(Some((Path::new("ansible.cfg"), CFG)), &vars)
    }

    #[test]
    fn configparser_reads_sections_both_separators_and_inline_comments() {
        let entries = parse(CFG);
        assert_eq!(entries[0].key, "inventory");
        assert_eq!(entries[0].value, "hosts.ini");
        assert_eq!(entries[1].value, "ops");
        assert_eq!(entries[5].section, "privilege_escalation");
        let continued = parse("[defaults]\nroles_path = a\n  b\n");
        assert_eq!(continued[0].value, "a\nb");
    }

    #[test]
    fn the_file_fills_what_the_command_line_left_unset_and_warns_about_the_rest() {
        let config = config(&[]);
        let mut sources = Sources::default();
        let mut forks = None;
        let mut connection = ConnectionArgs {
            user: Some("cli".into()),
            ..ConnectionArgs::default()
        };
        config
            .apply(&mut sources, &mut forks, &mut connection)
            .expect("apply");
        assert_eq!(sources.inventory, [PathBuf::from("hosts.ini")]);
        assert_eq!(forks, Some(7));
        assert_eq!(connection.user.as_deref(), Some("cli"));
        assert_eq!(connection.host_key_checking, Some(HostKeyPolicy::Off));
        assert!(connection.escalate);
        assert_eq!(connection.become_user.as_deref(), Some("admin"));
        assert_eq!(
            connection.ssh_common_args.as_deref(),
            Some("-o ServerAliveInterval=5")
        );
        assert_eq!(
            config.warnings,
            [
                "ansible.cfg:7: [defaults] callbacks_enabled is not supported by rpatch; ignoring it",
                "ansible.cfg:15: [ssh_connection] pipelining is not supported by rpatch; ignoring it",
            ]
        );
    }

    #[test]
    fn the_environment_wins_over_the_file_and_unknown_variables_are_named() {
        let config = config(&[
            ("ANSIBLE_FORKS", "3"),
            ("ANSIBLE_REMOTE_USER", "envuser"),
            ("ANSIBLE_STDOUT_CALLBACK", "yaml"),
            ("ANSIBLE_CONFIG", "x"),
        ]);
        let mut forks = None;
        let mut connection = ConnectionArgs::default();
        config
            .apply(&mut Sources::default(), &mut forks, &mut connection)
            .expect("apply");
        assert_eq!(forks, Some(3));
        assert_eq!(connection.user.as_deref(), Some("envuser"));
        assert_eq!(
            config.warnings.last().map(String::as_str),
            Some("ANSIBLE_STDOUT_CALLBACK is not supported by rpatch; ignoring it")
        );
    }

    #[test]
    fn a_bad_value_names_its_file_line_and_key() {
        let config = AnsibleConfig::from_parts(
            Some((Path::new("/etc/a.cfg"), "[defaults]\nforks = many\n")),
            &[],
        );
        let error = config
            .apply(
                &mut Sources::default(),
                &mut None,
                &mut ConnectionArgs::default(),
            )
            .expect_err("refused");
        assert_eq!(
            error.to_string(),
            "/etc/a.cfg:2: forks: expected a whole number from 1 to 100000, found `many`"
        );
    }
}
