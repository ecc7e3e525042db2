//! Errors from dynamic inventory sources: executable scripts, plugin configs (`plugin:`), the
//! `constructed` layer and the inventory cache. Each names its source file.

use std::path::PathBuf;

/// How much of a script's standard error an error message shows.
pub const STDERR_SHOWN: usize = 2000;

/// Why a dynamic inventory source could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DynamicError {
    /// A file starting with `#!` that is not executable.
    #[error("{} looks like an inventory script (it starts with `#!`) but is not executable", path.display())]
    NotExecutable {
        /// The script.
        path: PathBuf,
    },
    /// The script could not be started.
    #[error("cannot run inventory script {}: {source}", path.display())]
    Spawn {
        /// The script.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The script ran longer than the timeout and was killed.
    #[error(
        "inventory script `{command}` did not finish within {seconds} s and was killed{}",
        stderr_part(stderr)
    )]
    Timeout {
        /// The script and its arguments.
        command: String,
        /// The timeout.
        seconds: u64,
        /// Its standard error, truncated.
        stderr: String,
    },
    /// The script exited with a non-zero status or was killed by a signal.
    #[error(
        "inventory script `{command}` failed ({status}){}",
        stderr_part(stderr)
    )]
    Failed {
        /// The script and its arguments.
        command: String,
        /// "exit code 1", "signal 9".
        status: String,
        /// Its standard error, truncated.
        stderr: String,
    },
    /// The script printed more than the input limit.
    #[error("inventory script `{command}` printed more than the input limit of {limit} bytes")]
    TooLarge {
        /// The script and its arguments.
        command: String,
        /// The limit in force.
        limit: u64,
    },
    /// The output is not the JSON the protocol expects.
    #[error(
        "inventory script `{command}` printed invalid output: {reason}{}",
        stderr_part(stderr)
    )]
    BadOutput {
        /// The script and its arguments.
        command: String,
        /// What is wrong with it.
        reason: String,
        /// Its standard error, truncated.
        stderr: String,
    },
    /// A name returned both as a host and as a group.
    #[error("inventory script {} returns `{name}` both as a host and as a group", path.display())]
    HostAndGroup {
        /// The script.
        path: PathBuf,
        /// The name.
        name: String,
    },
    /// `RPATCH_INVENTORY_TIMEOUT` is not a number of seconds.
    #[error("{}=`{value}` is not a number of seconds", super::script::TIMEOUT_ENV)]
    BadTimeout {
        /// The value as set.
        value: String,
    },
    /// A plugin config (`plugin: NAME`) names a plugin rpatch does not have.
    #[error("{}: unknown inventory plugin `{name}`", path.display())]
    UnknownPlugin {
        /// The config file.
        path: PathBuf,
        /// The plugin name.
        name: String,
        /// The closest known plugin name.
        suggestion: Option<String>,
    },
    /// A top-level option the plugin does not take.
    #[error("unknown option `{key}` for inventory plugin `{plugin}`")]
    UnknownOption {
        /// The key.
        key: String,
        /// The plugin.
        plugin: String,
        /// The closest option name.
        suggestion: Option<String>,
        /// Every option it takes.
        known: String,
        /// Where the key is written.
        at: crate::diagnostic::Location,
    },
    /// A plugin config with a missing, unknown or mistyped option.
    #[error("{}: {message}", path.display())]
    BadConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong (naming the option).
        message: String,
    },
    /// A `constructed` expression failed with `strict: true`.
    #[error("{}: {message}", path.display())]
    Constructed {
        /// The config file.
        path: PathBuf,
        /// What failed, naming the host and the entry.
        message: String,
    },
    /// A hypervisor of a `rpatch.libvirt` source could not be asked for its domains.
    #[error("{}: cannot ask hypervisor `{hypervisor}` for its domains: {message}", path.display())]
    Hypervisor {
        /// The config file.
        path: PathBuf,
        /// The hypervisor's name.
        hypervisor: String,
        /// Why (unreachable, no virsh, libvirtd down).
        message: String,
    },
    /// The vCenter of a `rpatch.govc` source could not be asked.
    #[error("{}: cannot ask the vCenter with govc: {message}", path.display())]
    VCenter {
        /// The config file.
        path: PathBuf,
        /// Why, as govc said (secrets masked).
        message: String,
    },
    /// The inventory cache could not be read or written.
    #[error("inventory cache {}: {message}", path.display())]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

fn stderr_part(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!("; its standard error:\n{}", stderr.trim_end())
    }
}

/// The first [`STDERR_SHOWN`] bytes of `bytes` as text, marked when cut.
pub fn truncate_stderr(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= STDERR_SHOWN {
        return text.into_owned();
    }
    let mut end = STDERR_SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[... {} more bytes]", &text[..end], text.len() - end)
}

impl DynamicError {
    /// Where in a file the problem is, when known.
    pub fn location(&self) -> Option<&crate::diagnostic::Location> {
        match self {
            Self::UnknownOption { at, .. } => Some(at),
            _ => None,
        }
    }

    /// What to do about it, when there is something to say.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::NotExecutable { path } => Some(format!(
                "make it executable (`chmod +x {}`) to run it as a dynamic inventory, or remove the `#!` line",
                path.display()
            )),
            Self::Timeout { .. } => Some(format!(
                "set {} to more seconds if the script is just slow, or cache its output (`plugin: rpatch.script` with `cache: true`)",
                super::script::TIMEOUT_ENV
            )),
            Self::TooLarge { .. } => Some(format!(
                "set {} to a larger number of bytes if the output is meant to be this big",
                crate::input::MAX_BYTES_ENV
            )),
            Self::BadOutput { .. } => Some(
                "`--list` must print a JSON object of groups (`hosts`, `vars`, `children`) and `_meta.hostvars`; `--host NAME` a JSON object of variables".into(),
            ),
            Self::HostAndGroup { .. } => {
                Some("rename the group or the host; a pattern could not tell them apart".into())
            }
            Self::UnknownPlugin { suggestion, .. } => Some(match suggestion {
                Some(name) => format!("did you mean `{name}`? known plugins: {}", super::plugin::known_names()),
                None => format!("known plugins: {}", super::plugin::known_names()),
            }),
            Self::UnknownOption {
                suggestion, known, ..
            } => Some(match suggestion {
                Some(key) => format!("did you mean `{key}`? it takes: {known}"),
                None => format!("it takes: {known}"),
            }),
            Self::Hypervisor { .. } => Some(
                "check its connection variables in the source, that virsh is installed there and libvirtd runs (`become: true` if virsh needs root)".into(),
            ),
            Self::Constructed { .. } => Some(
                "fix the expression, or set `strict: false` to skip hosts it fails for, as Ansible does".into(),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_stderr_is_cut_at_a_character_boundary_and_says_how_much_is_left() {
        assert_eq!(truncate_stderr(b"short\n"), "short\n");
        let long = "é".repeat(STDERR_SHOWN);
        let cut = truncate_stderr(long.as_bytes());
        let (shown, note) = cut.split_once("\n[... ").expect("marked as cut");
        assert_eq!(shown.len(), STDERR_SHOWN);
        assert_eq!(note, format!("{} more bytes]", long.len() - STDERR_SHOWN));
    }
}
