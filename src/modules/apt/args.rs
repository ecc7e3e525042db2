//! `apt`'s arguments: the struct users write ([`AptArgs`], Ansible's names and aliases) and the
//! checked [`Request`] the script is built from.
//!
//! Everything that can be wrong with a task is found here, before anything runs: unknown
//! arguments, an unknown `upgrade` value, a package name that is not Debian syntax, and
//! combinations that make no sense. When no argument is templated this happens at load time.

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

use super::spec::{PackageSpec, SpecError};
use crate::modules::lenient;

/// The arguments as written in a playbook (Ansible's `apt` plus `security_only` and `exclude`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptArgs {
    /// Packages: a string, a comma-separated string or a list; `*` with `state: latest`.
    #[serde(
        default,
        alias = "pkg",
        alias = "package",
        deserialize_with = "word_list"
    )]
    name: Vec<String>,
    /// What to make of the named packages.
    #[serde(default)]
    state: State,
    /// Run `apt-get update` first.
    #[serde(
        default,
        alias = "update-cache",
        deserialize_with = "lenient::opt_bool"
    )]
    update_cache: Option<bool>,
    /// Only update when the cache is older than this many seconds (implies `update_cache`).
    #[serde(default, deserialize_with = "lenient::whole")]
    cache_valid_time: u64,
    /// How many times `apt-get update` is tried.
    #[serde(default = "five", deserialize_with = "lenient::whole")]
    update_cache_retries: u64,
    /// The longest pause between two `apt-get update` attempts, in seconds.
    #[serde(default = "twelve", deserialize_with = "lenient::whole")]
    update_cache_retry_max_delay: u64,
    /// Upgrade what is installed: `dist`/`full`, `safe`/`yes`, or `no`.
    #[serde(default, deserialize_with = "upgrade_mode")]
    upgrade: Upgrade,
    /// Only upgrade named packages that are installed; never install new ones.
    #[serde(default, deserialize_with = "lenient::bool")]
    only_upgrade: bool,
    /// Upgrade only packages whose candidate comes from a `*-security` suite.
    #[serde(default, deserialize_with = "lenient::bool")]
    security_only: bool,
    /// Packages never installed, upgraded or removed by this task.
    #[serde(default, deserialize_with = "word_list")]
    exclude: Vec<String>,
    /// Remove packages nothing depends on any more.
    #[serde(default, deserialize_with = "lenient::bool")]
    autoremove: bool,
    /// Fail instead of removing packages an upgrade or install would remove.
    #[serde(default, deserialize_with = "lenient::bool")]
    fail_on_autoremove: bool,
    /// Remove configuration files too.
    #[serde(default, deserialize_with = "lenient::bool")]
    purge: bool,
    /// dpkg `--force-…` options, comma-separated.
    #[serde(default = "default_dpkg_options")]
    dpkg_options: String,
    /// Accepted for compatibility: rpatch always uses `apt-get`.
    #[serde(default, deserialize_with = "lenient::bool")]
    force_apt_get: bool,
    /// How long to wait for apt's and dpkg's locks, in seconds.
    #[serde(default = "sixty", deserialize_with = "lenient::whole")]
    lock_timeout: u64,
    /// Install recommended packages (apt's configuration decides when unset).
    #[serde(
        default,
        alias = "install-recommends",
        deserialize_with = "lenient::opt_bool"
    )]
    install_recommends: Option<bool>,
    /// Install packages that cannot be authenticated.
    #[serde(
        default,
        alias = "allow-unauthenticated",
        deserialize_with = "lenient::bool"
    )]
    allow_unauthenticated: bool,
    /// Allow a named version older than the installed one.
    #[serde(
        default,
        alias = "allow-downgrade",
        alias = "allow_downgrades",
        alias = "allow-downgrades",
        deserialize_with = "lenient::bool"
    )]
    allow_downgrade: bool,
    /// Let apt change held packages (holds are respected otherwise).
    #[serde(default, deserialize_with = "lenient::bool")]
    allow_change_held_packages: bool,
    /// `apt-get -t`: the release whose versions are preferred.
    #[serde(default, alias = "default-release")]
    default_release: Option<String>,
    /// Upgrade to exactly the versions of a recorded baseline (a run id, `latest` or a file),
    /// never newer.
    #[serde(default)]
    baseline: Option<String>,
    /// Approval delays after publication: `{ security: 0d, other: 7d }`.
    #[serde(default)]
    approve: Option<crate::modules::approval::ApproveArgs>,
    /// Packages (names or globs) whose updates are always held back.
    #[serde(default, deserialize_with = "word_list")]
    reject: Vec<String>,
    /// `apt-get clean` first: empty the cache of downloaded package files.
    #[serde(default, deserialize_with = "lenient::bool")]
    clean: bool,
    /// `apt-get autoclean` after the step: drop cached package files that can no longer be
    /// downloaded.
    #[serde(default, deserialize_with = "lenient::bool")]
    autoclean: bool,
}

fn five() -> u64 {
    5
}

fn twelve() -> u64 {
    12
}

fn sixty() -> u64 {
    60
}

fn default_dpkg_options() -> String {
    "force-confdef,force-confold".into()
}

/// `state`: what the named packages should be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    /// Installed (at the named version, if one is given).
    #[default]
    Present,
    /// Not installed.
    Absent,
    /// Installed at the newest candidate version.
    Latest,
    /// Installed, repairing broken dependencies first (`apt-get install -f`).
    Fixed,
}

/// `upgrade`: which upgrade of everything installed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Upgrade {
    /// No upgrade.
    #[default]
    No,
    /// `yes`/`safe`: `apt-get upgrade --with-new-pkgs`, never removing anything.
    Safe,
    /// `dist`/`full`: `apt-get dist-upgrade`, which may remove packages to resolve conflicts.
    Dist,
}

/// `upgrade` accepts Ansible's words and YAML booleans (`upgrade: yes` arrives as `true`).
fn upgrade_mode<'de, D: Deserializer<'de>>(de: D) -> Result<Upgrade, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bool(bool),
        Text(String),
    }
    match Raw::deserialize(de)? {
        Raw::Bool(true) => Ok(Upgrade::Safe),
        Raw::Bool(false) => Ok(Upgrade::No),
        Raw::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
            "dist" | "full" => Ok(Upgrade::Dist),
            "safe" | "yes" | "true" => Ok(Upgrade::Safe),
            "no" | "false" => Ok(Upgrade::No),
            _ => Err(D::Error::custom(format!(
                "unknown `upgrade` value `{text}`: expected one of dist, full, safe, yes, no"
            ))),
        },
    }
}

/// A list of words: a YAML list, or one string split on commas (as Ansible's `type: list`).
fn word_list<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    let words = match Option::<Raw>::deserialize(de)? {
        None => Vec::new(),
        Some(Raw::One(text)) => text.split(',').map(str::to_string).collect(),
        Some(Raw::Many(list)) => list,
    };
    Ok(words
        .into_iter()
        .map(|word| word.trim().to_string())
        .filter(|word| !word.is_empty())
        .collect())
}

/// A checked `apt` task: what to do, with which options. Built only from [`AptArgs`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "AptArgs")]
pub struct Request {
    /// The package operation.
    pub action: Action,
    /// Refresh the package lists first, when they are older than this.
    pub cache: Option<CacheUpdate>,
    /// Packages never changed (pinned at their installed version while apt runs).
    pub exclude: Vec<PackageSpec>,
    /// Held packages are kept as they are (`allow_change_held_packages: false`).
    pub keep_holds: bool,
    /// Seconds to wait for apt's and dpkg's locks.
    pub lock_timeout: u64,
    /// Options for every `apt-get` call.
    pub options: AptOptions,
    /// `approve`/`reject`: updates held back until approved, or always.
    pub approval: Option<crate::modules::approval::Approval>,
    /// Run `apt-get clean` before the step.
    pub clean: bool,
    /// Run `apt-get autoclean` after the step.
    pub autoclean: bool,
}

/// The package operation of a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing besides refreshing the cache.
    Nothing,
    /// Upgrade everything installed.
    Upgrade(Upgrade),
    /// Upgrade the installed packages whose candidate comes from a `*-security` suite.
    SecurityUpgrade,
    /// Upgrade installed packages to exactly the versions of a baseline (see
    /// [`crate::baseline`]), found by this reference when the task runs.
    Baseline(String),
    /// Install (or upgrade) the named packages.
    Install {
        /// The packages, possibly with versions.
        packages: Vec<PackageSpec>,
        /// Upgrade installed ones to the candidate (`state: latest`).
        latest: bool,
        /// Skip packages that are not installed (`only_upgrade`).
        only_upgrade: bool,
        /// Repair broken dependencies too (`state: fixed`).
        fix_broken: bool,
    },
    /// Remove the named packages (`purge` in [`AptOptions`] removes their configuration too).
    Remove {
        /// The packages.
        packages: Vec<PackageSpec>,
    },
    /// Only remove packages nothing depends on any more.
    Autoremove,
}

/// When and how persistently to run `apt-get update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheUpdate {
    /// Skip the update when the lists are younger than this many seconds (0: always update).
    pub valid_for: u64,
    /// Attempts before giving up (at least 1).
    pub retries: u64,
    /// The longest pause between attempts, in seconds.
    pub max_delay: u64,
}

/// Options passed to every `apt-get` call of a task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AptOptions {
    /// dpkg options without their `--` (`force-confdef`).
    pub dpkg_options: Vec<String>,
    /// `APT::Install-Recommends`, when set.
    pub install_recommends: Option<bool>,
    /// `--allow-unauthenticated`.
    pub allow_unauthenticated: bool,
    /// `--allow-downgrades`.
    pub allow_downgrade: bool,
    /// `--allow-change-held-packages`.
    pub allow_change_held_packages: bool,
    /// `-t RELEASE`.
    pub default_release: Option<String>,
    /// `--auto-remove` with the main operation.
    pub autoremove: bool,
    /// `--purge` when removing.
    pub purge: bool,
    /// `--no-remove`: fail rather than remove anything while installing or upgrading.
    pub fail_on_autoremove: bool,
}

/// Why a combination of `apt` arguments is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A package name that is not Debian syntax.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// `name` and `upgrade` together (mutually exclusive, as in Ansible).
    #[error("`name` and `upgrade` cannot be combined (as in Ansible): use one task for each")]
    NameWithUpgrade,
    /// `security_only` with `name`.
    #[error(
        "`security_only` upgrades the installed packages that have security updates; it cannot \
         be combined with `name`"
    )]
    NameWithSecurity,
    /// `*` with other names or another state.
    #[error("`name: '*'` means every installed package: use it alone, with `state: latest`")]
    Star,
    /// A version with `state: latest` or `absent`.
    #[error("`{0}` names a version: that only makes sense with `state: present`")]
    VersionNeedsPresent(String),
    /// `baseline` with `name`, `upgrade` or `security_only`.
    #[error(
        "`baseline` upgrades installed packages to a baseline's versions; it cannot be combined \
         with `name`, `upgrade` or `security_only`"
    )]
    BaselineWith,
    /// Nothing asked for.
    #[error(
        "nothing to do: give `name`, `upgrade`, `security_only`, `baseline`, `update_cache`, \
         `autoremove`, `clean` or `autoclean`"
    )]
    Nothing,
    /// A malformed dpkg option.
    #[error("`{0}` is not a dpkg option (expected e.g. `force-confdef,force-confold`)")]
    DpkgOption(String),
    /// A malformed release name.
    #[error("`{0}` is not a release name (expected e.g. `bookworm-backports`)")]
    Release(String),
    /// `approve`/`reject` with a wrong value.
    #[error("{0}")]
    Approval(String),
    /// `approve`/`reject` on a task that does not upgrade from the repositories.
    #[error(
        "`approve` and `reject` hold back updates: they go with `upgrade`, `security_only` or \
         `state: latest`"
    )]
    ApprovalWithoutUpgrade,
}

impl TryFrom<AptArgs> for Request {
    type Error = RequestError;

    fn try_from(args: AptArgs) -> Result<Self, RequestError> {
        let _always_apt_get = args.force_apt_get;
        let star = args.name.iter().any(|name| name == "*");
        if star && (args.name.len() > 1 || args.state != State::Latest) {
            return Err(RequestError::Star);
        }
        let exclude = args
            .exclude
            .iter()
            .map(|name| PackageSpec::parse_unversioned(name))
            .collect::<Result<Vec<_>, _>>()?;
        let packages = args
            .name
            .iter()
            .filter(|name| *name != "*")
            .map(|name| PackageSpec::parse(name))
            .collect::<Result<Vec<_>, _>>()?;
        let excluded = |spec: &PackageSpec| exclude.iter().any(|ex| ex.name == spec.name);
        let named = !args.name.is_empty();
        let action = if let Some(reference) = args.baseline {
            if named || args.security_only || args.upgrade != Upgrade::No {
                return Err(RequestError::BaselineWith);
            }
            Action::Baseline(reference)
        } else if args.security_only {
            if named {
                return Err(RequestError::NameWithSecurity);
            }
            Action::SecurityUpgrade
        } else if args.upgrade != Upgrade::No {
            if named {
                return Err(RequestError::NameWithUpgrade);
            }
            Action::Upgrade(args.upgrade)
        } else if star {
            Action::Upgrade(Upgrade::Safe)
        } else if named || args.state == State::Fixed {
            if args.state != State::Present && args.state != State::Fixed {
                if let Some(pinned) = packages.iter().find(|spec| spec.version.is_some()) {
                    return Err(RequestError::VersionNeedsPresent(pinned.to_string()));
                }
            }
            let packages: Vec<PackageSpec> = packages
                .into_iter()
                .filter(|spec| !excluded(spec))
                .collect();
            match args.state {
                State::Absent => Action::Remove { packages },
                state => Action::Install {
                    packages,
                    latest: state == State::Latest,
                    only_upgrade: args.only_upgrade,
                    fix_broken: state == State::Fixed,
                },
            }
        } else if args.autoremove {
            Action::Autoremove
        } else if args.update_cache == Some(true)
            || args.cache_valid_time > 0
            || args.clean
            || args.autoclean
        {
            Action::Nothing
        } else {
            return Err(RequestError::Nothing);
        };
        let cache =
            (args.update_cache == Some(true) || args.cache_valid_time > 0).then(|| CacheUpdate {
                valid_for: args.cache_valid_time,
                retries: args.update_cache_retries.max(1),
                max_delay: args.update_cache_retry_max_delay,
            });
        let dpkg_options = args
            .dpkg_options
            .split(',')
            .map(str::trim)
            .filter(|option| !option.is_empty())
            .map(|option| {
                let option = option.trim_start_matches('-');
                if is_option_word(option) {
                    Ok(option.to_string())
                } else {
                    Err(RequestError::DpkgOption(option.to_string()))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(release) = &args.default_release {
            if !is_option_word(release) {
                return Err(RequestError::Release(release.clone()));
            }
        }
        let approval =
            crate::modules::approval::Approval::from_args(args.approve.as_ref(), &args.reject)
                .map_err(RequestError::Approval)?;
        let upgrades = matches!(
            action,
            Action::Upgrade(_) | Action::SecurityUpgrade | Action::Install { latest: true, .. }
        );
        if approval.is_some() && !upgrades {
            return Err(RequestError::ApprovalWithoutUpgrade);
        }
        Ok(Self {
            action,
            cache,
            approval,
            exclude,
            keep_holds: !args.allow_change_held_packages,
            lock_timeout: args.lock_timeout,
            options: AptOptions {
                dpkg_options,
                install_recommends: args.install_recommends,
                allow_unauthenticated: args.allow_unauthenticated,
                allow_downgrade: args.allow_downgrade,
                allow_change_held_packages: args.allow_change_held_packages,
                default_release: args.default_release,
                autoremove: args.autoremove,
                purge: args.purge,
                fail_on_autoremove: args.fail_on_autoremove,
            },
            clean: args.clean,
            autoclean: args.autoclean,
        })
    }
}

/// A word for an apt or dpkg option value: letters, digits and `._+~=/-`, no shell syntax.
fn is_option_word(word: &str) -> bool {
    word.as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphanumeric)
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~=/-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::{self, ArgError};
    use crate::vars;

    fn request(json: serde_json::Value) -> Result<Request, ArgError> {
        args::parse::<Request>(&vars::from_json(&json))
    }

    #[test]
    fn upgrade_accepts_ansible_words_and_yaml_booleans() {
        for (value, mode) in [
            (serde_json::json!("dist"), Upgrade::Dist),
            (serde_json::json!("full"), Upgrade::Dist),
            (serde_json::json!("safe"), Upgrade::Safe),
            (serde_json::json!("yes"), Upgrade::Safe),
            (serde_json::json!(true), Upgrade::Safe),
        ] {
            let parsed = request(serde_json::json!({ "upgrade": value })).expect("valid");
            assert_eq!(parsed.action, Action::Upgrade(mode));
        }
        let none = request(serde_json::json!({"upgrade": false, "update_cache": true}));
        assert_eq!(none.expect("valid").action, Action::Nothing);
    }

    #[test]
    fn an_unknown_upgrade_value_is_named_with_the_choices() {
        let error = request(serde_json::json!({"upgrade": "distt"})).expect_err("bad");
        assert_eq!(
            error,
            ArgError::Invalid(
                "unknown `upgrade` value `distt`: expected one of dist, full, safe, yes, no".into()
            )
        );
    }

    #[test]
    fn names_come_as_lists_comma_strings_or_aliases() {
        let expected = vec![
            PackageSpec::parse("curl").expect("valid"),
            PackageSpec::parse("vim=2:9.0").expect("valid"),
        ];
        for json in [
            serde_json::json!({"name": ["curl", "vim=2:9.0"]}),
            serde_json::json!({"name": "curl, vim=2:9.0"}),
            serde_json::json!({"pkg": "curl,vim=2:9.0"}),
            serde_json::json!({"package": ["curl", "vim=2:9.0"]}),
        ] {
            match request(json).expect("valid").action {
                Action::Install { packages, .. } => assert_eq!(packages, expected),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn a_bad_package_name_is_refused() {
        let error = request(serde_json::json!({"name": "curl; touch /tmp/x"})).expect_err("bad");
        assert!(
            error
                .to_string()
                .contains("`curl; touch /tmp/x` is not a Debian package name"),
            "{error}"
        );
        let error = request(serde_json::json!({"upgrade": "dist", "exclude": ["$(id)"]}));
        assert!(error.is_err());
    }

    #[test]
    fn combinations_that_make_no_sense_are_refused() {
        for (json, expected) in [
            (
                serde_json::json!({"name": "curl", "upgrade": "dist"}),
                RequestError::NameWithUpgrade,
            ),
            (
                serde_json::json!({"name": "curl", "security_only": true}),
                RequestError::NameWithSecurity,
            ),
            (
                serde_json::json!({"name": ["*", "curl"], "state": "latest"}),
                RequestError::Star,
            ),
            (
                serde_json::json!({"name": "curl=7", "state": "latest"}),
                RequestError::VersionNeedsPresent("curl=7".into()),
            ),
            (serde_json::json!({}), RequestError::Nothing),
            (
                serde_json::json!({"upgrade": "dist", "dpkg_options": "force-confold;id"}),
                RequestError::DpkgOption("force-confold;id".into()),
            ),
        ] {
            assert_eq!(request(json), Err(ArgError::Invalid(expected.to_string())));
        }
    }

    #[test]
    fn defaults_follow_ansible() {
        let parsed = request(serde_json::json!({"upgrade": "dist"})).expect("valid");
        assert_eq!(parsed.lock_timeout, 60);
        assert!(parsed.keep_holds);
        assert_eq!(parsed.cache, None);
        assert_eq!(
            parsed.options.dpkg_options,
            ["force-confdef", "force-confold"]
        );
        let cached = request(serde_json::json!({"cache_valid_time": "3600", "upgrade": "yes"}))
            .expect("valid");
        assert_eq!(
            cached.cache,
            Some(CacheUpdate {
                valid_for: 3600,
                retries: 5,
                max_delay: 12
            })
        );
    }

    #[test]
    fn star_with_latest_upgrades_everything_and_excluded_names_are_dropped() {
        let star = request(serde_json::json!({"name": "*", "state": "latest"})).expect("valid");
        assert_eq!(star.action, Action::Upgrade(Upgrade::Safe));
        let parsed =
            request(serde_json::json!({"name": "curl,vim", "exclude": "vim"})).expect("valid");
        match parsed.action {
            Action::Install { packages, .. } => {
                assert_eq!(packages, [PackageSpec::parse("curl").expect("valid")]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn aliases_and_unknown_arguments() {
        assert!(request(serde_json::json!({"update-cache": "yes"})).is_ok());
        let error =
            request(serde_json::json!({"upgrade": "dist", "lock_timout": 2})).expect_err("unknown");
        assert_eq!(
            error,
            ArgError::Unknown {
                name: "lock_timout".into(),
                suggestion: Some("lock_timeout".into())
            }
        );
    }
}
