//! The arguments of `zypper`, as community.general.zypper spells them, and the checks that
//! keep anything but package names, capabilities and plain options out of the command line.

use serde::Deserialize;

use crate::modules::args::ArgError;
use crate::modules::lenient;

/// Arguments of `zypper`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ZypperArgs {
    /// Packages (or patches, patterns, products): names, capabilities with a version
    /// (`name=1.0`, `name>=2`), rpm paths or URLs; `*` with `state: latest` or `dist-upgrade`
    /// means everything.
    #[serde(default, alias = "pkg", alias = "package", deserialize_with = "lenient::word_list")]
    pub name: Vec<String>,
    /// What to make of the named packages.
    #[serde(default)]
    pub state: Option<State>,
    /// What kind of thing the names are.
    #[serde(default, rename = "type")]
    pub kind: Kind,
    /// Refresh the repositories (`zypper refresh`) before anything else.
    #[serde(default, alias = "refresh", deserialize_with = "lenient::bool")]
    pub update_cache: bool,
    /// Install packages whose signature cannot be checked (`--no-gpg-checks`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub disable_gpg_check: bool,
    /// Leave recommended packages out (`--no-recommends`); Ansible's default is yes.
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    pub disable_recommends: bool,
    /// Install even when already installed (`--force`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub force: bool,
    /// Let the solver remove conflicting packages (`--force-resolution`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub force_resolution: bool,
    /// Allow installing an older version (`--oldpackage`); implied by a versioned name.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub oldpackage: bool,
    /// Let `dist-upgrade` change a package's vendor (`--allow-vendor-change`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub allow_vendor_change: bool,
    /// Replace files another package owns (`--replacefiles`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub replacefiles: bool,
    /// Remove dependencies no longer needed with `state: absent` (`--clean-deps`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub clean_deps: bool,
    /// More options for the zypper command (`--category security` for `zypper patch`).
    #[serde(default)]
    pub extra_args: Option<String>,
    /// More global options, before the zypper command.
    #[serde(default)]
    pub extra_args_precommand: Option<String>,
    /// Accepted for compatibility: rpatch reads zypper's XML output, which `--quiet` does not
    /// change.
    #[serde(default, rename = "quiet", deserialize_with = "lenient::bool")]
    pub _quiet: bool,
    /// rpatch's own: operate on the system under this directory (zypper's `--root`).
    #[serde(default)]
    pub root: Option<String>,
}

fn yes() -> bool {
    true
}

/// `state:` of `zypper`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum State {
    /// Installed, at whatever version (`installed` is the same).
    #[serde(alias = "installed")]
    Present,
    /// Installed at the newest version the repositories offer.
    Latest,
    /// Not installed (`removed` is the same).
    #[serde(alias = "removed")]
    Absent,
    /// `zypper dist-upgrade`: everything to the repositories' versions.
    DistUpgrade,
}

/// `type:` of `zypper`: the kind of thing a name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// An rpm package.
    #[default]
    Package,
    /// An update advisory (`zypper patch` for all of them).
    Patch,
    /// A pattern (a group of packages).
    Pattern,
    /// A product.
    Product,
}

impl Kind {
    /// zypper's word for it (`--type`).
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Package => "package",
            Self::Patch => "patch",
            Self::Pattern => "pattern",
            Self::Product => "product",
        }
    }
}

/// What one call is asked to do, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// The names (empty for a cache refresh alone, `*` for everything).
    pub names: Vec<String>,
    /// The effective state.
    pub state: State,
    /// Every installed package or every needed patch: `name: '*'` (or `dist-upgrade`).
    pub everything: bool,
    /// Only refresh the repositories: no names were given.
    pub cache_only: bool,
    /// `extra_args`, split and checked.
    pub extra: Vec<String>,
    /// `extra_args_precommand`, split and checked.
    pub precommand: Vec<String>,
}

impl ZypperArgs {
    /// Checks the combination of arguments and every word that reaches the command line.
    pub(crate) fn request(&self) -> Result<Request, ArgError> {
        for name in &self.name {
            check_name(name)?;
        }
        if let Some(root) = &self.root {
            if !root.starts_with('/') {
                return Err(ArgError::Invalid(format!(
                    "`{root}` is not an absolute path (root must be)"
                )));
            }
        }
        let extra = option_words("extra_args", self.extra_args.as_deref())?;
        let precommand = option_words(
            "extra_args_precommand",
            self.extra_args_precommand.as_deref(),
        )?;
        let state = self.state.unwrap_or(State::Present);
        if self.name.is_empty() {
            if self.update_cache && self.state.is_none() {
                return Ok(Request {
                    names: Vec::new(),
                    state,
                    everything: false,
                    cache_only: true,
                    extra,
                    precommand,
                });
            }
            return Err(ArgError::Invalid(
                "name is required (a package, a list, or `*` with state: latest)".into(),
            ));
        }
        let star = self.name.iter().any(|name| name == "*");
        if star && self.name.len() > 1 {
            return Err(ArgError::Invalid(
                "name `*` means every package: give it alone".into(),
            ));
        }
        if star && !matches!(state, State::Latest | State::DistUpgrade) {
            return Err(ArgError::Invalid(
                "name `*` (every package) needs state: latest or dist-upgrade".into(),
            ));
        }
        if self.kind == Kind::Patch && state == State::Absent {
            return Err(ArgError::Invalid(
                "patches cannot be removed: type: patch takes state: present or latest".into(),
            ));
        }
        if state == State::DistUpgrade && self.kind != Kind::Package {
            return Err(ArgError::Invalid(
                "state: dist-upgrade upgrades packages: it takes no `type`".into(),
            ));
        }
        Ok(Request {
            names: self.name.clone(),
            state,
            everything: star || state == State::DistUpgrade,
            cache_only: false,
            extra,
            precommand,
        })
    }

    /// True when a name carries a version (`name=1.0`, `name<2`), which implies
    /// `--oldpackage` as in Ansible.
    pub(crate) fn versioned(&self) -> bool {
        self.name.iter().any(|name| name.contains(['=', '<', '>']))
    }
}

/// Accepts what zypper accepts as a package argument: a name, optionally with a version
/// (`name-1.2-3`, `name=1.2`, `name>=1.2`), an arch (`name.x86_64`), a glob (`kernel*`), a
/// patch id (`SUSE-SLE-2024:123`), an rpm path or URL. Anything else a shell would treat
/// specially is refused (the words are quoted all the same), and so is a leading `-` or `+`,
/// which zypper reads as remove/install markers or as an option.
pub(crate) fn check_name(name: &str) -> Result<(), ArgError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._+-~^:*?@/%[]=<>".contains(c);
    if name.starts_with(['-', '+']) || !name.chars().all(allowed) {
        return Err(ArgError::Invalid(format!(
            "`{name}` is not a package name (letters, digits and `._+-~^:*?@/%[]=<>` only, \
             not starting with `-` or `+`)"
        )));
    }
    Ok(())
}

/// Splits `extra_args`-style text as a shell would and checks each word: options and their
/// values (`--category security`, `--severity=important`), nothing a shell treats specially.
/// `pacman`'s option arguments are read the same way.
pub(crate) fn option_words(argument: &str, text: Option<&str>) -> Result<Vec<String>, ArgError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let words = shlex::split(text).ok_or_else(|| {
        ArgError::Invalid(format!("{argument}: unbalanced quotes in `{text}`"))
    })?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._+-:=/,@".contains(c);
    for word in &words {
        if word.is_empty() || !word.chars().all(allowed) {
            return Err(ArgError::Invalid(format!(
                "{argument}: `{word}` is not an option or value (letters, digits and \
                 `._+-:=/,@` only)"
            )));
        }
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args;

    fn parse(json: serde_json::Value) -> Result<Request, ArgError> {
        args::parse::<ZypperArgs>(&crate::vars::from_json(&json))?.request()
    }

    #[test]
    fn names_come_as_a_string_a_comma_list_or_a_list_under_three_spellings() {
        let one = parse(serde_json::json!({"name": "vim"})).expect("valid");
        assert_eq!(one.names, ["vim"]);
        assert_eq!(one.state, State::Present);
        let commas = parse(serde_json::json!({"pkg": "a, b=1.2,c.noarch"})).expect("valid");
        assert_eq!(commas.names, ["a", "b=1.2", "c.noarch"]);
        let list = parse(serde_json::json!({"package": ["a", "b"], "state": "installed"}))
            .expect("valid");
        assert_eq!(list.names, ["a", "b"]);
        let removed = parse(serde_json::json!({"name": "a", "state": "removed"})).expect("ok");
        assert_eq!(removed.state, State::Absent);
        let dup = parse(serde_json::json!({"name": "*", "state": "dist-upgrade"})).expect("ok");
        assert!(dup.everything);
    }

    #[test]
    fn shell_metacharacters_and_options_are_not_package_names() {
        for bad in [
            "a;reboot", "$(id)", "`id`", "a b", "a|b", "a&b", "a'b", "a\"b", "a\\b", "a\nb",
            "--root=/", "-a", "+a",
        ] {
            let error = parse(serde_json::json!({"name": [bad]})).expect_err(bad);
            assert!(error.to_string().contains("is not a package name"), "{bad}: {error}");
        }
        for good in ["kernel-default", "vim>=9", "a=1.0-1", "SUSE-2024:123", "/tmp/x.rpm", "k*"] {
            assert!(parse(serde_json::json!({"name": good})).is_ok(), "{good}");
        }
    }

    #[test]
    fn extra_args_are_split_and_checked_word_by_word() {
        let patch = parse(serde_json::json!({
            "name": "*", "state": "latest", "type": "patch",
            "extra_args": "--category security --severity='important'"
        }))
        .expect("valid");
        assert_eq!(patch.extra, ["--category", "security", "--severity=important"]);
        for bad in ["--x; id", "--x $(id)", "--x 'a b'", "--x \"", "--x >f"] {
            let error = parse(serde_json::json!({"name": "a", "extra_args": bad})).expect_err(bad);
            assert!(error.to_string().starts_with("extra_args"), "{bad}: {error}");
        }
        assert!(parse(serde_json::json!({"name": "a", "extra_args_precommand": "--x|y"})).is_err());
    }

    #[test]
    fn combinations_that_make_no_sense_are_refused() {
        assert!(parse(serde_json::json!({})).is_err());
        assert!(parse(serde_json::json!({"name": "*"})).is_err());
        assert!(parse(serde_json::json!({"name": ["*", "a"], "state": "latest"})).is_err());
        assert!(parse(serde_json::json!({"name": "*", "state": "latest"})).is_ok());
        assert!(parse(serde_json::json!({"name": "p", "type": "patch", "state": "absent"})).is_err());
        assert!(parse(serde_json::json!({"name": "a", "root": "rel"})).is_err());
        assert!(parse(serde_json::json!({"name": "a", "state": "newest"})).is_err());
        assert!(parse(serde_json::json!({"name": "a", "type": "srpm"})).is_err());
        assert!(parse(serde_json::json!({"name": "a", "lock_timeout": 3})).is_err());
        let cache = parse(serde_json::json!({"refresh": "yes"})).expect("cache only");
        assert!(cache.cache_only);
    }
}
