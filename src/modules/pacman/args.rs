//! The arguments of `pacman`, as community.general.pacman spells them, and the checks that
//! keep anything but package names and plain options out of the command line.

use serde::Deserialize;

use crate::modules::args::ArgError;
use crate::modules::lenient;
use crate::modules::zypper::args::option_words;

/// Arguments of `pacman`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PacmanArgs {
    /// Package names (`repo/name` too), a string, a comma-separated string or a list.
    #[serde(default, alias = "pkg", alias = "package", deserialize_with = "lenient::word_list")]
    pub name: Vec<String>,
    /// What to make of the named packages.
    #[serde(default)]
    pub state: Option<State>,
    /// Refresh the package databases first (`pacman -Sy`).
    #[serde(default, alias = "update-cache", deserialize_with = "lenient::bool")]
    pub update_cache: bool,
    /// Upgrade every installed package (`pacman -Su`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub upgrade: bool,
    /// Removing: without dependency checks (`--nodeps --nodeps`); refreshing: every database
    /// even when up to date (`--refresh --refresh`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub force: bool,
    /// Removing: do not keep `.pacsave` copies of changed configuration files (`--nosave`).
    #[serde(default, deserialize_with = "lenient::bool")]
    pub remove_nosave: bool,
    /// More options for installing and removing.
    #[serde(default)]
    pub extra_args: Option<String>,
    /// More options for `upgrade`.
    #[serde(default)]
    pub upgrade_extra_args: Option<String>,
    /// More options for `update_cache`.
    #[serde(default)]
    pub update_cache_extra_args: Option<String>,
    /// rpatch's own: another pacman.conf (`--config`), e.g. one whose `RootDir` is elsewhere.
    #[serde(default)]
    pub config: Option<String>,
}

/// `state:` of `pacman`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    /// Installed, at whatever version (`installed` is the same).
    #[serde(alias = "installed")]
    Present,
    /// Installed at the newest version the databases offer.
    Latest,
    /// Not installed (`removed` is the same).
    #[serde(alias = "removed")]
    Absent,
}

/// What one call is asked to do, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// The names (may be empty with `upgrade` or `update_cache`).
    pub names: Vec<String>,
    /// The effective state.
    pub state: State,
    /// `extra_args`, split and checked.
    pub extra: Vec<String>,
    /// `upgrade_extra_args`, split and checked.
    pub upgrade_extra: Vec<String>,
    /// `update_cache_extra_args`, split and checked.
    pub cache_extra: Vec<String>,
}

impl PacmanArgs {
    /// Checks the combination of arguments and every word that reaches the command line.
    pub(crate) fn request(&self) -> Result<Request, ArgError> {
        for name in &self.name {
            check_name(name)?;
        }
        if let Some(config) = &self.config {
            if !config.starts_with('/') {
                return Err(ArgError::Invalid(format!(
                    "`{config}` is not an absolute path (config must be)"
                )));
            }
        }
        if self.name.is_empty() && !self.upgrade && !self.update_cache {
            return Err(ArgError::Invalid(
                "name is required, unless upgrade or update_cache is set".into(),
            ));
        }
        if self.name.is_empty() && self.state.is_some() {
            return Err(ArgError::Invalid(
                "state applies to the packages in name, and none are given".into(),
            ));
        }
        Ok(Request {
            names: self.name.clone(),
            state: self.state.unwrap_or(State::Present),
            extra: option_words("extra_args", self.extra_args.as_deref())?,
            upgrade_extra: option_words("upgrade_extra_args", self.upgrade_extra_args.as_deref())?,
            cache_extra: option_words(
                "update_cache_extra_args",
                self.update_cache_extra_args.as_deref(),
            )?,
        })
    }
}

/// Accepts pacman package names (`[a-z0-9@._+-]`, as makepkg allows, any case), optionally
/// prefixed by a repository (`core/linux`); nothing else, and no leading `-`.
pub(crate) fn check_name(name: &str) -> Result<(), ArgError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "@._+-/".contains(c);
    if name.starts_with('-') || !name.chars().all(allowed) {
        return Err(ArgError::Invalid(format!(
            "`{name}` is not a package name (letters, digits and `@._+-/` only, not starting \
             with `-`)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args;

    fn parse(json: serde_json::Value) -> Result<Request, ArgError> {
        args::parse::<PacmanArgs>(&crate::vars::from_json(&json))?.request()
    }

    #[test]
    fn names_states_and_their_aliases() {
        let one = parse(serde_json::json!({"name": "core/linux, vim"})).expect("valid");
        assert_eq!(one.names, ["core/linux", "vim"]);
        assert_eq!(one.state, State::Present);
        let removed = parse(serde_json::json!({"pkg": ["a"], "state": "removed"})).expect("ok");
        assert_eq!(removed.state, State::Absent);
        assert!(parse(serde_json::json!({"upgrade": true, "update-cache": "yes"})).is_ok());
    }

    #[test]
    fn shell_metacharacters_options_and_nonsense_are_refused() {
        for bad in ["a;id", "$(id)", "a b", "--root=/", "a>b", "a'b"] {
            let error = parse(serde_json::json!({"name": [bad]})).expect_err(bad);
            assert!(error.to_string().contains("is not a package name"), "{bad}: {error}");
        }
        assert!(parse(serde_json::json!({"name": "a", "extra_args": "--x;id"})).is_err());
        assert!(parse(serde_json::json!({})).is_err());
        assert!(parse(serde_json::json!({"upgrade": true, "state": "latest"})).is_err());
        assert!(parse(serde_json::json!({"name": "a", "config": "rel.conf"})).is_err());
        assert!(parse(serde_json::json!({"name": "a", "state": "dist-upgrade"})).is_err());
    }
}
