//! The arguments of `dnf`/`yum`, as Ansible spells them, and the checks that keep anything
//! but package names, repository ids and paths out of the command line.

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

use crate::modules::args::ArgError;
use crate::modules::lenient;

/// Arguments of `dnf` and `yum`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DnfArgs {
    /// Package specs: a string, a comma-separated string or a list; `*` means every package.
    #[serde(default, deserialize_with = "words")]
    pub name: Vec<String>,
    /// Ansible's alias of `name`.
    #[serde(default, deserialize_with = "words")]
    pub pkg: Vec<String>,
    /// What to make of the named packages.
    #[serde(default)]
    pub state: Option<State>,
    /// Refresh the metadata before anything else.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub update_cache: bool,
    /// Upgrade only to updates marked as security advisories.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub security: bool,
    /// Upgrade only to updates marked as bug-fix advisories.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub bugfix: bool,
    /// Package specs left out of every transaction.
    #[serde(default, deserialize_with = "words")]
    pub exclude: Vec<String>,
    /// With `state: latest`, upgrade installed packages and never install missing ones.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub update_only: bool,
    /// Skip GPG signature checks (`--nogpgcheck`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub disable_gpg_check: bool,
    /// Install into this root instead of `/` (`--installroot`).
    #[serde(default)]
    pub installroot: Option<String>,
    /// The release version to use (`--releasever`), needed for an empty installroot.
    #[serde(default)]
    pub releasever: Option<String>,
    /// Repositories to enable for this call.
    #[serde(default, deserialize_with = "words")]
    pub enablerepo: Vec<String>,
    /// Repositories to disable for this call.
    #[serde(default, deserialize_with = "words")]
    pub disablerepo: Vec<String>,
    /// Plugins to enable for this call.
    #[serde(default, deserialize_with = "words")]
    pub enable_plugin: Vec<String>,
    /// Plugins to disable for this call.
    #[serde(default, deserialize_with = "words")]
    pub disable_plugin: Vec<String>,
    /// Another configuration file (`--config`).
    #[serde(default)]
    pub conf_file: Option<String>,
    /// Install weak dependencies (`Recommends:`).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    pub install_weak_deps: bool,
    /// Seconds to wait for another dnf/yum holding its lock before failing.
    #[serde(default = "thirty", deserialize_with = "lenient::whole")]
    pub lock_timeout: u64,
    /// Upgrade installed packages to exactly the versions of a recorded baseline (a run id,
    /// `latest` or a file), never newer.
    #[serde(default)]
    pub baseline: Option<String>,
    /// Approval delays after publication: `{ security: 0d, other: 7d }`.
    #[serde(default)]
    pub approve: Option<crate::modules::approval::ApproveArgs>,
    /// Packages (names or globs) whose updates are always held back.
    #[serde(default, deserialize_with = "words")]
    pub reject: Vec<String>,
    /// Leave out packages whose dependencies cannot be met (`--skip-broken`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub skip_broken: bool,
    /// Let dnf replace conflicting packages (`--allowerasing`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub allowerasing: bool,
    /// Accept a candidate that is not the newest when the newest cannot be installed
    /// (`--nobest`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub nobest: bool,
    /// Ignore the `excludes` of `all`, `main` or one repository id (`--disableexcludes`).
    #[serde(default)]
    pub disable_excludes: Option<String>,
    /// Then remove packages installed only as dependencies that nothing needs any more
    /// (`dnf autoremove`, after the task's own transaction if it has one).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub autoremove: bool,
}

fn yes() -> bool {
    true
}

fn thirty() -> u64 {
    30
}

/// `state:` of `dnf`/`yum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    /// Installed, at whatever version (`installed` is the same).
    #[serde(alias = "installed")]
    Present,
    /// Installed at the newest version the repositories offer.
    Latest,
    /// Not installed (`removed` is the same).
    #[serde(alias = "removed")]
    Absent,
}

/// A string, a comma-separated string, or a list of either: Ansible's list arguments.
fn words<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match Option::<OneOrMany>::deserialize(de)? {
        None => return Ok(Vec::new()),
        Some(OneOrMany::One(text)) => vec![text],
        Some(OneOrMany::Many(list)) => list,
    };
    let words: Vec<String> = items
        .iter()
        .flat_map(|item| item.split(','))
        .map(str::trim)
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect();
    if items.iter().any(|item| item.contains('\n')) {
        return Err(D::Error::custom("a package list item may not span lines"));
    }
    Ok(words)
}

/// What one call is asked to do, checked: every word is safe to put on a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// Package specs (never empty unless only the cache is refreshed).
    pub names: Vec<String>,
    /// The effective state.
    pub state: State,
    /// No package transaction: only refresh the metadata and/or autoremove.
    pub cache_only: bool,
    /// Upgrade to a baseline's versions (found by this reference when the task runs).
    pub baseline: Option<String>,
    /// `approve`/`reject`: updates held back until approved, or always.
    pub approval: Option<crate::modules::approval::Approval>,
    /// Then remove the dependencies nothing needs any more (`dnf autoremove`).
    pub autoremove: bool,
}

impl DnfArgs {
    /// Checks the combination of arguments and every word that reaches the command line.
    pub(crate) fn request(&self) -> Result<Request, ArgError> {
        if !self.name.is_empty() && !self.pkg.is_empty() {
            return Err(ArgError::Invalid(
                "name and pkg are aliases; give only one".into(),
            ));
        }
        let names = if self.name.is_empty() {
            self.pkg.clone()
        } else {
            self.name.clone()
        };
        for spec in names.iter().chain(&self.exclude) {
            check_package_spec(spec)?;
        }
        for repo in self
            .enablerepo
            .iter()
            .chain(&self.disablerepo)
            .chain(&self.enable_plugin)
            .chain(&self.disable_plugin)
        {
            check_id(repo)?;
        }
        if let Some(release) = &self.releasever {
            check_id(release)?;
        }
        if let Some(excludes) = &self.disable_excludes {
            check_id(excludes)?;
        }
        for path in [&self.installroot, &self.conf_file].into_iter().flatten() {
            if !path.starts_with('/') {
                return Err(ArgError::Invalid(format!(
                    "`{path}` is not an absolute path (installroot and conf_file must be)"
                )));
            }
        }
        let state = self.state.unwrap_or(State::Present);
        let approval =
            crate::modules::approval::Approval::from_args(self.approve.as_ref(), &self.reject)
                .map_err(ArgError::Invalid)?;
        if approval.is_some() && (state != State::Latest || self.baseline.is_some()) {
            return Err(ArgError::Invalid(
                "`approve` and `reject` hold back updates: they go with `state: latest`".into(),
            ));
        }
        if let Some(reference) = &self.baseline {
            if !names.is_empty() || self.state.is_some() || self.security || self.bugfix {
                return Err(ArgError::Invalid(
                    "`baseline` upgrades installed packages to a baseline's versions; it cannot \
                     be combined with `name`, `state`, `security` or `bugfix`"
                        .into(),
                ));
            }
            return Ok(Request {
                names,
                state: State::Latest,
                cache_only: false,
                baseline: Some(reference.clone()),
                approval: None,
                autoremove: false,
            });
        }
        if names.is_empty() {
            if (self.update_cache || self.autoremove) && self.state.is_none() {
                return Ok(Request {
                    names,
                    state,
                    cache_only: true,
                    baseline: None,
                    approval: None,
                    autoremove: self.autoremove,
                });
            }
            return Err(ArgError::Invalid(
                "name is required (a package, a list, or `*` with state: latest)".into(),
            ));
        }
        let all = names.iter().any(|name| name == "*");
        if all && state != State::Latest {
            return Err(ArgError::Invalid(
                "name `*` (every package) needs state: latest".into(),
            ));
        }
        if (self.security || self.bugfix) && state != State::Latest {
            return Err(ArgError::Invalid(
                "security and bugfix select updates: they need state: latest".into(),
            ));
        }
        Ok(Request {
            names,
            state,
            cache_only: false,
            baseline: None,
            approval,
            autoremove: self.autoremove,
        })
    }
}

/// Accepts what RPM and dnf accept as a package spec: a name, optionally with version and
/// release (`name-1.2-3`), an epoch (`name-2:1.2-3`), arch (`name.x86_64`), a glob
/// (`kernel*`), a group (`@core`), a file path or URL of an rpm. Anything a shell would
/// treat specially is refused, and so is a leading `-`, which dnf would read as an option.
pub(crate) fn check_package_spec(spec: &str) -> Result<(), ArgError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._+-~^:*?@/%[]".contains(c);
    if spec.starts_with('-') || !spec.chars().all(allowed) {
        return Err(ArgError::Invalid(format!(
            "`{spec}` is not a package name (letters, digits and `._+-~^:*?@/%[]` only, \
             not starting with `-`)"
        )));
    }
    Ok(())
}

/// Accepts repository and plugin ids (globs allowed) and release versions.
fn check_id(id: &str) -> Result<(), ArgError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-:*?".contains(c);
    if id.is_empty() || id.starts_with('-') || !id.chars().all(allowed) {
        return Err(ArgError::Invalid(format!(
            "`{id}` is not a repository, plugin or release id"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args;

    fn parse(json: serde_json::Value) -> Result<Request, ArgError> {
        args::parse::<DnfArgs>(&crate::vars::from_json(&json))?.request()
    }

    #[test]
    fn names_come_as_a_string_a_comma_list_or_a_list() {
        let one = parse(serde_json::json!({"name": "httpd"})).expect("valid");
        assert_eq!(one.names, ["httpd"]);
        assert_eq!(one.state, State::Present);
        let commas = parse(serde_json::json!({"name": "a, b-1.2-3,c.noarch"})).expect("valid");
        assert_eq!(commas.names, ["a", "b-1.2-3", "c.noarch"]);
        let list = parse(serde_json::json!({"pkg": ["a", "b,c"], "state": "installed"}))
            .expect("valid");
        assert_eq!(list.names, ["a", "b", "c"]);
        assert_eq!(list.state, State::Present);
        let removed = parse(serde_json::json!({"name": "a", "state": "removed"})).expect("ok");
        assert_eq!(removed.state, State::Absent);
    }

    #[test]
    fn shell_metacharacters_and_options_are_not_package_names() {
        for bad in [
            "a;reboot",
            "$(id)",
            "`id`",
            "a b",
            "a|b",
            "a&b",
            "a'b",
            "a\"b",
            "a>b",
            "a\\b",
            "--installroot=/",
            "-y",
        ] {
            let error = parse(serde_json::json!({"name": bad})).expect_err(bad);
            assert!(error.to_string().contains("is not a package name"), "{bad}: {error}");
            let error = parse(serde_json::json!({"name": "ok", "exclude": [bad]})).expect_err(bad);
            assert!(error.to_string().contains("is not a package name"), "{bad}: {error}");
        }
        for good in ["kernel*", "@core", "perl-Foo-1:2.0-3.el9.x86_64", "gcc-c++", "/tmp/x.rpm"] {
            assert!(parse(serde_json::json!({"name": good})).is_ok(), "{good}");
        }
        assert!(parse(serde_json::json!({"name": "a", "enablerepo": "x;y"})).is_err());
        assert!(parse(serde_json::json!({"name": "a", "releasever": "9 && id"})).is_err());
    }

    #[test]
    fn combinations_that_make_no_sense_are_refused() {
        assert!(parse(serde_json::json!({})).is_err());
        assert!(parse(serde_json::json!({"name": "*"})).is_err());
        assert!(parse(serde_json::json!({"name": "*", "state": "latest"})).is_ok());
        assert!(parse(serde_json::json!({"name": "a", "security": true})).is_err());
        assert!(parse(serde_json::json!({"name": "a", "pkg": "b"})).is_err());
        assert!(parse(serde_json::json!({"name": "a", "installroot": "rel"})).is_err());
        assert!(parse(serde_json::json!({"name": "a", "state": "newest"})).is_err());
        assert!(parse(serde_json::json!({"name": "a", "lock_timeout": "-1"})).is_err());
        let cache = parse(serde_json::json!({"update_cache": "yes"})).expect("cache only");
        assert!(cache.cache_only);
    }
}
