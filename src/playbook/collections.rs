//! Roles from Ansible collections: `ns.coll.role` in `roles:`, `import_role` and
//! `include_role`, and short names through a play's `collections:` keyword.
//!
//! A collection's roles live at `ROOT/ansible_collections/NS/COLL/roles/ROLE`, where the roots
//! are `collections/` next to the playbook, then the configured collections paths
//! (`collections_path` in ansible.cfg, `ANSIBLE_COLLECTIONS_PATH`; by default
//! `~/.ansible/collections` and `/usr/share/ansible/collections`). A root that is itself an
//! `ansible_collections` directory is taken as it is, as Ansible does.

use std::path::{Path, PathBuf};

/// `(namespace, collection, role)` of a fully qualified role name; `None` for a short name.
pub(super) fn split_fqcn(name: &str) -> Option<(&str, &str, &str)> {
    let mut parts = name.split('.');
    let (ns, coll, role) = (parts.next()?, parts.next()?, parts.next()?);
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (parts.next().is_none() && word(ns) && word(coll) && word(role)).then_some((ns, coll, role))
}

/// The `ansible_collections` directories to search, in order.
pub(super) fn roots(base_dir: &Path, configured: &[PathBuf]) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = std::iter::once(base_dir.join("collections"))
        .chain(configured.iter().cloned())
        .map(|root| {
            if root.file_name().is_some_and(|n| n == "ansible_collections") {
                root
            } else {
                root.join("ansible_collections")
            }
        })
        .collect();
    roots.dedup();
    roots
}

/// Where role `role` of collection `collection` (`ns.coll`) would be under each root.
pub(super) fn candidates(roots: &[PathBuf], collection: &str, role: &str) -> Vec<PathBuf> {
    let Some((ns, coll)) = collection.split_once('.') else {
        return Vec::new();
    };
    roots
        .iter()
        .map(|root| root.join(ns).join(coll).join("roles").join(role))
        .collect()
}

/// The collection (`ns.coll`) a role directory belongs to, when it is a collection's role.
pub(super) fn collection_of(role_dir: &Path) -> Option<String> {
    let roles = role_dir.parent()?;
    if roles.file_name()? != "roles" {
        return None;
    }
    let coll = roles.parent()?;
    let ns = coll.parent()?;
    if ns.parent()?.file_name()? != "ansible_collections" {
        return None;
    }
    Some(format!(
        "{}.{}",
        ns.file_name()?.to_str()?,
        coll.file_name()?.to_str()?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_three_plain_words_make_a_collection_role_name() {
        assert_eq!(split_fqcn("ns.coll.role"), Some(("ns", "coll", "role")));
        assert_eq!(split_fqcn("geerlingguy.docker"), None);
        assert_eq!(split_fqcn("common"), None);
        assert_eq!(split_fqcn("a.b.c.d"), None);
        assert_eq!(split_fqcn("a..c"), None);
        assert_eq!(split_fqcn("{{ r }}.b.c"), None);
    }

    #[test]
    fn roots_end_in_ansible_collections_and_the_playbooks_own_come_first() {
        let roots = roots(
            Path::new("/p"),
            &[PathBuf::from("/c"), PathBuf::from("/d/ansible_collections")],
        );
        assert_eq!(
            roots,
            [
                PathBuf::from("/p/collections/ansible_collections"),
                PathBuf::from("/c/ansible_collections"),
                PathBuf::from("/d/ansible_collections"),
            ]
        );
        let dir = Path::new("/c/ansible_collections/acme/patching/roles/reboot");
        assert_eq!(collection_of(dir).as_deref(), Some("acme.patching"));
        assert_eq!(collection_of(Path::new("/p/roles/reboot")), None);
    }
}
