//! Host entries as written in inventory files: a name or address, with ranges, optionally
//! followed by `:port` (`web[01:10]:2222`, `[2001:db8::1]:22`, `fe80::1`).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::diagnostic::Location;
use crate::vars::{Value, Vars};

use super::error::InventoryError;
use super::model::Inventory;
use super::range;

/// A host entry split into its name pattern and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    /// The name, possibly with ranges still in it.
    pub pattern: String,
    /// The port after `:`, if any.
    pub port: Option<u16>,
}

/// Why an entry's port is not a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPort;

/// Splits `host:port`; IPv6 addresses keep their colons (`[addr]:port` carries a port).
pub fn split_port(entry: &str) -> Result<HostEntry, BadPort> {
    let plain = |pattern: &str| HostEntry {
        pattern: pattern.to_string(),
        port: None,
    };
    if let Some(inner) = entry.strip_prefix('[') {
        if let Some(close) = inner.find(']') {
            let (address, rest) = (&inner[..close], &inner[close + 1..]);
            if is_ipv6(address) {
                return match rest.strip_prefix(':') {
                    None if rest.is_empty() => Ok(plain(address)),
                    Some(port) => Ok(HostEntry {
                        pattern: address.to_string(),
                        port: Some(port.parse().map_err(|_| BadPort)?),
                    }),
                    None => Err(BadPort),
                };
            }
        }
    }
    let mut depth = 0usize;
    let mut colons = Vec::new();
    for (index, c) in entry.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => colons.push(index),
            _ => {}
        }
    }
    match colons.as_slice() {
        [] => Ok(plain(entry)),
        [colon] => {
            let port = &entry[colon + 1..];
            Ok(HostEntry {
                pattern: entry[..*colon].to_string(),
                port: Some(port.parse().map_err(|_| BadPort)?),
            })
        }
        _ => Ok(plain(entry)),
    }
}

/// True for text that is an IPv6 address (hex groups and at least two colons).
pub fn is_ipv6(text: &str) -> bool {
    let address = text.split('%').next().unwrap_or(text);
    address.matches(':').count() >= 2
        && address
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
}

/// The hosts one inventory file has listed so far.
#[derive(Debug, Default)]
pub(crate) struct Listed {
    /// The hosts listed in each group: a range that produces one again is an error.
    groups: HashMap<String, HashSet<String>>,
    /// How many names the file's ranges have produced, capped at [`range::MAX_EXPANDED`]
    /// so a few short lines cannot add millions of hosts.
    expanded: usize,
}

/// Adds the hosts of one entry to `group` with `vars`.
///
/// `seen` holds the hosts already listed for each group in this file: an entry with a range
/// that produces one of them again is an error, as is a range that repeats a name itself.
pub(crate) fn add_entry(
    inventory: &mut Inventory,
    group: &str,
    entry: &str,
    mut vars: Vars,
    at: &Location,
    seen: &mut Listed,
    source: &Path,
) -> Result<(), InventoryError> {
    let HostEntry { pattern, port } =
        split_port(entry).map_err(|BadPort| InventoryError::BadPort {
            pattern: entry.to_string(),
            at: at.clone(),
        })?;
    let has_range = range::has_range(&pattern) && !is_ipv6(&pattern);
    let names = if has_range {
        let range_error = |reason| InventoryError::Range {
            pattern: pattern.clone(),
            reason,
            at: at.clone(),
        };
        let names = range::expand(&pattern).map_err(range_error)?;
        seen.expanded = seen
            .expanded
            .checked_add(names.len())
            .filter(|total| *total <= range::MAX_EXPANDED)
            .ok_or_else(|| range_error(range::RangeError::TooMany))?;
        names
    } else {
        vec![pattern.clone()]
    };
    if let Some(port) = port {
        vars.insert("ansible_port".into(), Value::from(port));
    }
    let listed = seen.groups.entry(group.to_string()).or_default();
    let mut this_entry = HashSet::new();
    for name in &names {
        let repeated = !this_entry.insert(name.clone()) || listed.contains(name);
        if has_range && repeated {
            return Err(InventoryError::DuplicateHost {
                host: name.clone(),
                group: group.to_string(),
                pattern,
                at: at.clone(),
            });
        }
    }
    for name in names {
        listed.insert(name.clone());
        inventory.add_host(&name, group, Some(source));
        inventory.set_host_vars(&name, vars.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(entry: &str) -> (String, Option<u16>) {
        let HostEntry { pattern, port } = split_port(entry).unwrap();
        (pattern, port)
    }

    #[test]
    fn a_port_after_a_name_or_range_is_split_off() {
        assert_eq!(split("web1:2222"), ("web1".into(), Some(2222)));
        assert_eq!(split("web[01:03]:22"), ("web[01:03]".into(), Some(22)));
        assert_eq!(split("10.0.0.1:2200"), ("10.0.0.1".into(), Some(2200)));
        assert_eq!(split("web[1:3]"), ("web[1:3]".into(), None));
    }

    #[test]
    fn ipv6_addresses_keep_their_colons() {
        assert_eq!(split("fe80::1"), ("fe80::1".into(), None));
        assert_eq!(split("2001:db8::10"), ("2001:db8::10".into(), None));
        assert_eq!(
            split("[2001:db8::10]:2222"),
            ("2001:db8::10".into(), Some(2222))
        );
        assert_eq!(split("[fe80::1]"), ("fe80::1".into(), None));
    }

    #[test]
    fn a_non_numeric_port_is_rejected() {
        assert_eq!(split_port("web:ssh"), Err(BadPort));
        assert_eq!(split_port("web:"), Err(BadPort));
    }
}
