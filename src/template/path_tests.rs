//! Ansible's path tests (`path is abs`, `is file`, ...): they look at the controller's file
//! system, as Ansible's do. A value that is not a string is not a path, so every test is false.

use std::path::Path;

use minijinja::Value;

fn path(value: &Value) -> Option<&Path> {
    value.as_str().map(Path::new)
}

/// `abs`: an absolute path.
pub fn abs(value: &Value) -> bool {
    path(value).is_some_and(Path::is_absolute)
}

/// `exists`: something is there (a broken symlink is not).
pub fn exists(value: &Value) -> bool {
    path(value).is_some_and(Path::exists)
}

/// `file`: a regular file (through symlinks).
pub fn file(value: &Value) -> bool {
    path(value).is_some_and(Path::is_file)
}

/// `directory`: a directory (through symlinks).
pub fn directory(value: &Value) -> bool {
    path(value).is_some_and(Path::is_dir)
}

/// `link`: a symbolic link, whether or not its target exists.
pub fn link(value: &Value) -> bool {
    path(value).is_some_and(Path::is_symlink)
}

/// `same_file`: both paths name the same file (same device and inode).
pub fn same_file(value: &Value, other: &Value) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (path(value), path(other)) {
        (Some(a), Some(b)) => match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_tests_look_at_the_controller_file_system() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file_path = dir.path().join("f");
        std::fs::write(&file_path, "x").expect("write");
        let link_path = dir.path().join("l");
        std::os::unix::fs::symlink(&file_path, &link_path).expect("symlink");
        let v = |p: &Path| Value::from(p.display().to_string());
        assert!(abs(&v(dir.path())) && !abs(&Value::from("rel/x")));
        assert!(exists(&v(&file_path)) && !exists(&Value::from("/nonexistent/x")));
        assert!(file(&v(&file_path)) && !file(&v(dir.path())));
        assert!(directory(&v(dir.path())) && !directory(&v(&file_path)));
        assert!(link(&v(&link_path)) && !link(&v(&file_path)));
        assert!(same_file(&v(&file_path), &v(&link_path)));
        assert!(!abs(&Value::from(3)));
    }
}
