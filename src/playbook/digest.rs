//! The content digest of a loaded playbook: SHA-256 over every file it read, so `rpatch
//! resume` can refuse to continue a run with a playbook edited since the run started.

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::Playbook;
use crate::rolling::journal::PlaybookDigest;

/// Hashes each file's length and text in load order (the length keeps file boundaries
/// apart), and lists the files relative to the playbook's directory where they are under it.
pub fn digest(playbook: &Playbook) -> PlaybookDigest {
    let base = playbook
        .path
        .parent()
        .map(|dir| std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()))
        .unwrap_or_default();
    let mut hasher = Sha256::new();
    let mut files = Vec::with_capacity(playbook.sources.len());
    for source in &playbook.sources {
        let text = source.text().as_bytes();
        hasher.update((text.len() as u64).to_be_bytes());
        hasher.update(text);
        files.push(relative_name(source.path(), &base));
    }
    let mut sha256 = String::with_capacity(64);
    for byte in hasher.finalize().iter() {
        let _ = write!(sha256, "{byte:02x}");
    }
    PlaybookDigest { sha256, files }
}

/// `path` relative to `base` when it is under it, else as an absolute path.
fn relative_name(path: &Path, base: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute
        .strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or(absolute)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::{load, LoadOptions};
    use crate::template::Templar;

    fn load_dir(dir: &Path) -> PlaybookDigest {
        let playbook = load(
            &dir.join("site.yml"),
            &Templar::new(),
            &LoadOptions::default(),
        )
        .expect("load");
        digest(&playbook)
    }

    #[test]
    fn a_change_in_any_loaded_file_changes_the_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("write");
        };
        write(
            "site.yml",
            "- hosts: all\n  vars_files: [vars.yml]\n  tasks:\n    - debug: msg={{ x }}\n",
        );
        write("vars.yml", "x: 1\n");
        let first = load_dir(dir.path());
        assert_eq!(first.files, ["site.yml", "vars.yml"]);
        assert_eq!(first.sha256.len(), 64);
        assert_eq!(
            load_dir(dir.path()),
            first,
            "the same files, the same digest"
        );
        write("vars.yml", "x: 2\n");
        assert_ne!(load_dir(dir.path()).sha256, first.sha256);
    }
}
