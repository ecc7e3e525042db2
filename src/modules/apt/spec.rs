//! Debian package names as `apt` accepts them: `name`, `name:arch`, `name=version`.
//!
//! Invariant: a [`PackageSpec`] only ever holds characters from Debian policy's package-name
//! and version alphabets (`a-z 0-9 + - . ~ :` and, in versions, upper-case letters), so it can
//! never carry a shell metacharacter. The script quotes every spec anyway.

use std::fmt;

/// One package a task names, checked against Debian policy (§5.6.1, §5.6.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSpec {
    /// The package, with its `:arch` qualifier when one was given.
    pub name: String,
    /// The exact version asked for (`name=version`).
    pub version: Option<String>,
}

/// A package name that Debian would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a Debian package name: {why} (expected lower-case letters, digits, `+`, `-` \
     and `.`, starting with a letter or digit, optionally followed by `:arch` and `=version`)"
)]
pub struct SpecError {
    /// The text as written.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl PackageSpec {
    /// Parses `name[:arch][=version]`.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let fail = |why| SpecError {
            text: text.to_string(),
            why,
        };
        let (package, version) = match text.split_once('=') {
            Some((package, version)) => (package, Some(version)),
            None => (text, None),
        };
        let (name, arch) = match package.split_once(':') {
            Some((name, arch)) => (name, Some(arch)),
            None => (package, None),
        };
        if !is_name(name) {
            return Err(fail(if name.len() < 2 {
                "a name has at least two characters"
            } else {
                "the name has a character Debian does not allow"
            }));
        }
        if let Some(arch) = arch {
            if !is_arch(arch) {
                return Err(fail("the architecture is not `[a-z0-9-]+`"));
            }
        }
        if let Some(version) = version {
            if !is_version(version) {
                return Err(fail("the version is not a Debian version"));
            }
        }
        Ok(Self {
            name: package.to_string(),
            version: version.map(str::to_string),
        })
    }

    /// Parses a name that may not carry a version (`exclude`, `state: absent`).
    pub fn parse_unversioned(text: &str) -> Result<Self, SpecError> {
        let spec = Self::parse(text)?;
        if spec.version.is_some() {
            return Err(SpecError {
                text: text.to_string(),
                why: "a version is not allowed here",
            });
        }
        Ok(spec)
    }
}

impl fmt::Display for PackageSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(version) => write!(f, "{}={version}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Debian policy §5.6.1: `[a-z0-9][a-z0-9+.-]+`.
fn is_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 2
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b))
}

/// dpkg architecture names (`amd64`, `arm64`, `any`, `all`, `musl-linux-amd64`).
fn is_arch(arch: &str) -> bool {
    !arch.is_empty()
        && arch
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Debian policy §5.6.12: `[epoch:]upstream[-revision]`, starting with a digit.
fn is_version(version: &str) -> bool {
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) => (Some(epoch), rest),
        None => (None, version),
    };
    if let Some(epoch) = epoch {
        if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    rest.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+.~-:".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_arches_and_versions_parse() {
        assert_eq!(
            PackageSpec::parse("libc6").map(|s| s.to_string()),
            Ok("libc6".into())
        );
        let spec = PackageSpec::parse("libssl3:amd64=3.0.11-1~deb12u2").expect("valid");
        assert_eq!(spec.name, "libssl3:amd64");
        assert_eq!(spec.version.as_deref(), Some("3.0.11-1~deb12u2"));
        let epoch = PackageSpec::parse("qemu-system-x86=1:7.2+dfsg-7").expect("epoch");
        assert_eq!(epoch.version.as_deref(), Some("1:7.2+dfsg-7"));
        assert!(PackageSpec::parse("g++").is_ok());
    }

    #[test]
    fn shell_metacharacters_and_bad_syntax_are_refused() {
        for bad in [
            "rpatch; rm -rf /",
            "$(reboot)",
            "pkg`id`",
            "a",
            "Upper",
            "-dash",
            "pkg name",
            "pkg=",
            "pkg=1.0;id",
            "pkg=a1",
            "pkg:",
            "pkg:AMD64",
            "pkg=x:1",
            "pkg*",
            "",
            "pkg\nid",
        ] {
            let error = PackageSpec::parse(bad).expect_err(bad);
            assert!(error.to_string().contains("is not a Debian package name"));
        }
    }

    #[test]
    fn versions_are_refused_where_they_make_no_sense() {
        assert!(PackageSpec::parse_unversioned("curl").is_ok());
        let error = PackageSpec::parse_unversioned("curl=7.88").expect_err("versioned");
        assert_eq!(error.why, "a version is not allowed here");
    }
}
