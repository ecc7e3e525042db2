//! Path filters with Python's `os.path` results, on the controller: `path_join`, `splitext`,
//! `realpath`, `relpath`, `expanduser`.

use std::path::{Component, Path, PathBuf};

use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, Value};

/// `path_join`: `os.path.join(*paths)` (an absolute member restarts the path).
pub fn path_join(value: &Value) -> Result<String, Error> {
    let parts: Vec<String> = match value.kind() {
        ValueKind::String => return Ok(value.as_str().unwrap_or("").to_string()),
        ValueKind::Seq | ValueKind::Iterable => value
            .try_iter()?
            .map(|part| super::repr::python_str(&part))
            .collect(),
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "|path_join expects string or sequence",
            ))
        }
    };
    let mut out = String::new();
    for part in parts {
        if part.starts_with('/') {
            out = part;
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(&part);
        } else {
            out.push('/');
            out.push_str(&part);
        }
    }
    Ok(out)
}

/// `splitext`: `[root, ext]`; a leading dot does not start an extension.
pub fn splitext(path: &str) -> Value {
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    let name = &path[name_start..];
    let stem_len = name.len() - name.trim_start_matches('.').len();
    match name[stem_len..].rfind('.') {
        Some(dot) => {
            let at = name_start + stem_len + dot;
            Value::from(vec![path[..at].to_string(), path[at..].to_string()])
        }
        None => Value::from(vec![path.to_string(), String::new()]),
    }
}

/// `realpath`: symlinks resolved; a missing tail is kept, as Python's (non-strict) realpath.
pub fn realpath(path: &str) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path));
    let mut resolved = PathBuf::new();
    let mut components = absolute.components();
    for component in components.by_ref() {
        resolved.push(component);
        match std::fs::canonicalize(&resolved) {
            Ok(real) => resolved = real,
            Err(_) => break,
        }
    }
    for component in components {
        match component {
            Component::ParentDir => {
                resolved.pop();
            }
            Component::CurDir => {}
            other => resolved.push(other),
        }
    }
    resolved.display().to_string()
}

/// `relpath(start=cwd)`.
pub fn relpath(path: &str, start: Option<&str>) -> String {
    let normal = |p: &Path| -> Vec<String> {
        let absolute = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let mut parts: Vec<String> = Vec::new();
        for component in absolute.components() {
            match component {
                Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
                Component::ParentDir => {
                    parts.pop();
                }
                _ => {}
            }
        }
        parts
    };
    let target = normal(Path::new(path));
    let base = normal(Path::new(start.unwrap_or(".")));
    let common = target.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); base.len() - common];
    parts.extend(target[common..].iter().cloned());
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// `expanduser`: a leading `~` becomes `$HOME`.
pub fn expanduser(path: &str) -> String {
    match (path.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{}{rest}", home.trim_end_matches('/'))
        }
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::template::testing::eval;
    use serde_json::json;

    // Expected values printed by Python's os.path.
    #[test]
    fn paths_join_and_split_as_python() {
        assert_eq!(eval("['a', 'b', '/c', 'd'] | path_join"), json!("/c/d"));
        assert_eq!(eval("['/etc', 'ssh/'] | path_join"), json!("/etc/ssh/"));
        assert_eq!(eval("'/x/a.tar.gz' | splitext"), json!(["/x/a.tar", ".gz"]));
        assert_eq!(eval("'.bashrc' | splitext"), json!([".bashrc", ""]));
        assert_eq!(eval("'/etc/ssh/x' | relpath('/etc')"), json!("ssh/x"));
        assert_eq!(eval("'/etc' | relpath('/etc/ssh')"), json!(".."));
        assert_eq!(eval("'/nonexistent/../tmp' | realpath"), json!("/tmp"));
    }
}
