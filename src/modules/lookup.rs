//! Finding a module in the table by the name a task uses, and the names to suggest.
//!
//! The table is small (a few dozen names) and read only while a playbook loads, so a linear
//! scan is all the lookup needs.

use super::{Module, MODULES};

/// The module a task's action names, short or qualified (`ansible.builtin.copy`).
pub(crate) fn lookup(name: &str) -> Option<&'static dyn Module> {
    MODULES
        .iter()
        .copied()
        .find(|module| module.names().contains(&name))
}

/// The fully qualified names rpatch implements in `collection` (`community.general`).
pub(crate) fn names_in_collection(collection: &str) -> Vec<&'static str> {
    MODULES
        .iter()
        .flat_map(|module| module.names().iter().copied())
        .filter(|name| {
            name.strip_prefix(collection)
                .is_some_and(|rest| rest.starts_with('.') && !rest[1..].contains('.'))
        })
        .collect()
}

/// Every module's short name, in table order (for did-you-mean).
pub(crate) fn short_names() -> impl Iterator<Item = &'static str> {
    MODULES.iter().map(|module| module.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_qualified_names_resolve() {
        let name = |wanted: &str| lookup(wanted).map(|module| module.name());
        assert_eq!(name("shell"), Some("shell"));
        assert_eq!(name("ansible.builtin.shell"), Some("shell"));
        assert_eq!(name("ansible.legacy.command"), Some("command"));
        assert_eq!(name("shel"), None);
    }

    #[test]
    fn every_name_belongs_to_exactly_one_module() {
        let mut seen = std::collections::HashSet::new();
        for module in MODULES {
            assert!(!module.names().is_empty(), "a module without a name");
            for name in module.names() {
                assert!(seen.insert(*name), "`{name}` is in the table twice");
            }
        }
    }

    #[test]
    fn short_names_come_first_and_qualified_names_come_in_pairs() {
        for module in MODULES {
            let short = module.name();
            assert!(!short.contains('.'), "`{short}` is not a short name");
            let builtin = format!("ansible.builtin.{short}");
            let legacy = format!("ansible.legacy.{short}");
            let names = module.names();
            assert_eq!(
                names.contains(&builtin.as_str()),
                names.contains(&legacy.as_str()),
                "`{short}` must accept both or neither of `{builtin}` and `{legacy}`"
            );
        }
    }
}
