//! `zypper_repository` (community.general.zypper_repository): add, change and remove zypper
//! repositories.
//!
//! Deciding comes before doing: one round trip lists the repositories (`zypper --xmlout
//! repos`); the module compares the one named (by alias, or by URI) with what the task asks
//! and, unless in check mode, sends a second script that removes and re-adds it (as Ansible's
//! module does for a changed repository), adds it, or removes it — then refreshes it with
//! `runrefresh`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self as module_args, ArgError};
use super::lenient;
use super::zypper::xml::{self, Repo};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::shell::quote;
use crate::vars::Value;

/// `zypper_repository`: manage zypper repositories.
pub(crate) struct ZypperRepository;

/// Arguments of `zypper_repository`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    /// The repository's alias.
    #[serde(default)]
    name: Option<String>,
    /// Its URI (`https://...`, `dir:/...`).
    #[serde(default)]
    repo: Option<String>,
    /// `present` or `absent`.
    #[serde(default)]
    state: RepoState,
    /// Its display name.
    #[serde(default)]
    description: Option<String>,
    /// Turn GPG checks off for it.
    #[serde(default, deserialize_with = "lenient::bool")]
    disable_gpg_check: bool,
    /// Refresh it automatically (Ansible's default: yes).
    #[serde(default = "yes", alias = "refresh", deserialize_with = "lenient::bool")]
    autorefresh: bool,
    /// Its priority: lower wins (zypper's default is 99).
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    priority: Option<u64>,
    /// Enabled (default yes).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    enabled: bool,
    /// Refresh its metadata now.
    #[serde(default, deserialize_with = "lenient::bool")]
    runrefresh: bool,
    /// Import new signing keys without asking when refreshing.
    #[serde(default, deserialize_with = "lenient::bool")]
    auto_import_keys: bool,
    /// Replace every repository the alias or URI matches, not only one.
    #[serde(default, deserialize_with = "lenient::bool")]
    overwrite_multiple: bool,
    /// rpatch's own: the system under this directory (zypper's `--root`).
    #[serde(default)]
    root: Option<String>,
}

fn yes() -> bool {
    true
}

/// `state:` of `zypper_repository`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RepoState {
    #[default]
    Present,
    Absent,
}

impl Args {
    /// Checks the combination and every word that reaches the command line.
    fn check(&self) -> Result<(), ArgError> {
        let word = |what: &str, text: &str, extra: &str| {
            let allowed = |c: char| c.is_ascii_alphanumeric() || extra.contains(c);
            if text.is_empty() || text.starts_with('-') || !text.chars().all(allowed) {
                return Err(ArgError::Invalid(format!(
                    "`{text}` is not a repository {what} (letters, digits and `{extra}` only)"
                )));
            }
            Ok(())
        };
        if let Some(name) = &self.name {
            word("alias", name, "._+-:@")?;
        }
        if let Some(repo) = &self.repo {
            word("URI", repo, "._+-:@/%?=&~,$")?;
        }
        if let Some(root) = &self.root {
            if !root.starts_with('/') {
                return Err(ArgError::Invalid(format!(
                    "`{root}` is not an absolute path (root must be)"
                )));
            }
        }
        if self.priority.is_some_and(|p| !(1..=200).contains(&p)) {
            return Err(ArgError::Invalid("priority must be between 1 and 200".into()));
        }
        match self.state {
            RepoState::Present if self.name.is_none() || self.repo.is_none() => Err(
                ArgError::Invalid("state: present needs both name (the alias) and repo".into()),
            ),
            RepoState::Absent if self.name.is_none() && self.repo.is_none() => Err(
                ArgError::Invalid("state: absent needs name or repo".into()),
            ),
            _ => Ok(()),
        }
    }

    /// The global options before each zypper command.
    fn global(&self) -> String {
        let mut global = String::from("--non-interactive --xmlout");
        if let Some(root) = &self.root {
            global.push_str(&format!(" --root {}", quote(root)));
        }
        global
    }

    /// True when `repo` already is what the task asks for.
    fn matches(&self, repo: &Repo) -> bool {
        Some(&repo.alias) == self.name.as_ref()
            && Some(&repo.url) == self.repo.as_ref()
            && repo.enabled == self.enabled
            && repo.autorefresh == self.autorefresh
            && repo.gpgcheck != self.disable_gpg_check
            && u64::from(repo.priority) == self.priority.unwrap_or(99)
            && self
                .description
                .as_ref()
                .is_none_or(|description| *description == repo.name)
    }

    /// `zypper addrepo` with the task's settings.
    fn addrepo(&self, alias: &str, url: &str) -> String {
        let mut command = format!("zypper {} addrepo", self.global());
        if let Some(description) = &self.description {
            command.push_str(&format!(" --name {}", quote(description)));
        }
        if let Some(priority) = self.priority {
            command.push_str(&format!(" --priority {priority}"));
        }
        if self.autorefresh {
            command.push_str(" --refresh");
        }
        if !self.enabled {
            command.push_str(" --disable");
        }
        command.push_str(if self.disable_gpg_check {
            " --no-gpgcheck"
        } else {
            " --gpgcheck"
        });
        command.push_str(&format!(" -- {} {}", quote(url), quote(alias)));
        command
    }
}

/// What `zypper_repository` registers.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    /// The alias.
    repo_alias: Option<&'a str>,
    /// The zypper commands run (or that would run, in check mode).
    commands: &'a [String],
}

#[async_trait]
impl Module for ZypperRepository {
    fn names(&self) -> &'static [&'static str] {
        &["zypper_repository", "community.general.zypper_repository"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        module_args::validate::<Args>(args, templated)?;
        if !templated {
            module_args::parse::<Args>(args)?.check()?;
        }
        Ok(())
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Supported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: Args = module_args::parse(args)?;
        args.check()?;
        let listed = ctx
            .exec(format!(
                "LC_ALL=C; export LC_ALL\n\
                 command -v zypper >/dev/null 2>&1 || {{ echo '@@rpatch:nopm'; exit 0; }}\n\
                 zypper {} repos </dev/null\n",
                args.global()
            ))
            .await?;
        let text = listed.stdout_text();
        if text.starts_with("@@rpatch:nopm") {
            return Err(ModuleError::Failed(
                "zypper is not installed on this host".into(),
            ));
        }
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        // `zypper repos` with no repository at all exits 6; anything else is a failure.
        if !matches!(listed.status.rc(), 0 | 6) {
            return Err(ModuleError::Failed(format!(
                "zypper repos failed (rc {}): {}",
                listed.status.rc(),
                xml::read(&lines).complaint()
            )));
        }
        let found: Vec<Repo> = xml::repos(&text)
            .into_iter()
            .filter(|repo| {
                Some(&repo.alias) == args.name.as_ref() || Some(&repo.url) == args.repo.as_ref()
            })
            .collect();
        let mut commands = Vec::new();
        let remove = |commands: &mut Vec<String>, found: &[Repo]| {
            for repo in found {
                commands.push(format!(
                    "zypper {} removerepo -- {}",
                    args.global(),
                    quote(&repo.alias)
                ));
            }
        };
        match args.state {
            RepoState::Absent => remove(&mut commands, &found),
            RepoState::Present => {
                if found.len() > 1 && !args.overwrite_multiple {
                    return Err(ModuleError::Failed(format!(
                        "more than one repository matches the alias or URI ({}); set \
                         overwrite_multiple to replace them all",
                        found
                            .iter()
                            .map(|repo| repo.alias.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                let alias = args.name.as_deref().unwrap_or_default();
                let url = args.repo.as_deref().unwrap_or_default();
                if !(found.len() == 1 && args.matches(&found[0])) {
                    remove(&mut commands, &found);
                    commands.push(args.addrepo(alias, url));
                }
            }
        }
        let changed = !commands.is_empty();
        if args.runrefresh && args.state == RepoState::Present {
            let keys = if args.auto_import_keys {
                " --gpg-auto-import-keys"
            } else {
                ""
            };
            let alias = args.name.as_deref().unwrap_or_default();
            commands.push(format!(
                "zypper {}{keys} refresh --force -- {}",
                args.global(),
                quote(alias)
            ));
        }
        if !ctx.check_mode && !commands.is_empty() {
            let script: String = commands
                .iter()
                .map(|command| {
                    format!("out=$({command} 2>&1 </dev/null) || {{ rc=$?; printf '%s\\n' \"$out\"; exit $rc; }}\n")
                })
                .collect();
            let done = ctx
                .exec(format!("LC_ALL=C; export LC_ALL\n{script}"))
                .await?;
            if !done.status.success() {
                let lines: Vec<String> = done.stdout_text().lines().map(str::to_string).collect();
                return Ok(ModuleResult::failed(format!(
                    "zypper failed (rc {}): {}",
                    done.status.rc(),
                    xml::read(&lines).complaint()
                )));
            }
        }
        let outcome = Outcome {
            repo_alias: args.name.as_deref(),
            commands: &commands,
        };
        let result = if changed {
            ModuleResult::changed()
        } else {
            ModuleResult::ok()
        };
        let msg = match (changed, args.state) {
            (false, _) => "repository as wanted",
            (true, RepoState::Present) => "repository added or changed",
            (true, RepoState::Absent) => "repository removed",
        };
        Ok(result.with_data(&outcome).with_msg(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(json: serde_json::Value) -> Result<Args, ArgError> {
        let args: Args = module_args::parse(&crate::vars::from_json(&json))?;
        args.check()?;
        Ok(args)
    }

    #[test]
    fn present_needs_alias_and_uri_and_hostile_words_are_refused() {
        assert!(args(serde_json::json!({"name": "a"})).is_err());
        assert!(args(serde_json::json!({"repo": "dir:/x", "state": "absent"})).is_ok());
        for bad in ["a;id", "$(id)", "-x", "a b"] {
            assert!(args(serde_json::json!({"name": bad, "repo": "dir:/x"})).is_err(), "{bad}");
        }
        assert!(args(serde_json::json!({"name": "a", "repo": "dir:/x y"})).is_err());
        assert!(args(serde_json::json!({"name": "a", "repo": "dir:/x", "priority": 0})).is_err());
    }

    #[test]
    fn a_matching_repository_is_left_alone_and_addrepo_carries_the_settings() {
        let wanted = args(serde_json::json!({
            "name": "t", "repo": "dir:/srv", "priority": 20, "disable_gpg_check": true,
            "autorefresh": false, "description": "x y", "root": "/r"
        }))
        .expect("valid");
        let repo = Repo {
            alias: "t".into(),
            name: "x y".into(),
            url: "dir:/srv".into(),
            priority: 20,
            enabled: true,
            autorefresh: false,
            gpgcheck: false,
        };
        assert!(wanted.matches(&repo));
        assert!(!wanted.matches(&Repo {
            priority: 99,
            ..repo
        }));
        assert_eq!(
            wanted.addrepo("t", "dir:/srv"),
            "zypper --non-interactive --xmlout --root /r addrepo --name 'x y' --priority 20 \
             --no-gpgcheck -- dir:/srv t"
        );
    }
}
