//! Reading what the `dnf`/`yum` script printed: its marked sections, rpm's package lists
//! and the transaction table dnf or yum shows before it asks to go on.
//!
//! The script frames everything between `@@rpatch:` marker lines, so nothing dnf prints can
//! be mistaken for a marker; anything unexpected is an error, never a panic.

use std::collections::BTreeMap;

use serde::Serialize;

/// The marker that starts each line the script itself prints.
pub(crate) const MARK: &str = "@@rpatch:";

/// One package as rpm lists it: `name arch [epoch:]version-release`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Installed {
    /// The package name.
    pub name: String,
    /// Its architecture (`noarch`, `x86_64`, ...).
    pub arch: String,
    /// `[epoch:]version-release`.
    pub version: String,
}

/// A dnf or yum run inside the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// `plan` (`--assumeno`), `apply` (`-y`) or `cache` (`makecache`).
    pub phase: String,
    /// The dnf command (`install`, `upgrade`, `remove`, `makecache`).
    pub verb: String,
    /// Its exit code.
    pub rc: i32,
    /// Everything it printed, both streams.
    pub output: Vec<String>,
}

impl Step {
    /// The transaction dnf showed, or an empty list when there was nothing to do.
    pub(crate) fn transaction(&self) -> Vec<Planned> {
        transaction(&self.output)
    }

    /// True when dnf showed a transaction (and, under `--assumeno`, declined it); dnf5 writes
    /// `Transaction Summary:` with a colon.
    pub(crate) fn has_transaction(&self) -> bool {
        self.output
            .iter()
            .any(|line| line.trim().starts_with("Transaction Summary"))
    }

    /// The lines worth showing a user: dnf's errors, or its last words.
    pub(crate) fn complaint(&self) -> String {
        let errors: Vec<&str> = self
            .output
            .iter()
            .map(|line| line.trim())
            .filter(|line| {
                line.starts_with("Error")
                    || line.starts_with("No match for argument")
                    || line.starts_with("No package")
                    || line.contains("Unable to find a match")
            })
            .collect();
        if errors.is_empty() {
            let tail: Vec<&str> = self
                .output
                .iter()
                .map(|line| line.trim())
                .filter(|line| !line.is_empty())
                .collect();
            tail[tail.len().saturating_sub(3)..].join("; ")
        } else {
            errors.join("; ")
        }
    }
}

/// Everything the script reported.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    /// `dnf` or `yum`; `None` when the host has neither.
    pub manager: Option<String>,
    /// Another process held the package manager's lock: its pid and how long we waited.
    pub locked: Option<(u32, u64)>,
    /// The installed packages before anything ran.
    pub before: Vec<Installed>,
    /// The installed packages after the transactions, when something was applied.
    pub after: Option<Vec<Installed>>,
    /// The dnf/yum runs, in order.
    pub steps: Vec<Step>,
    /// The exit code of `needs-restarting -r` and which tool gave it; `None` when no tool did.
    pub reboot: Option<(i32, String)>,
    /// The host's release key (`ID-VERSION_ID` from the root's os-release).
    pub os: String,
    /// With `baseline`: installed packages newer than the baseline (name, installed, baseline).
    pub newer_than_baseline: Vec<(String, String, String)>,
    /// With `baseline`: the baseline has no packages for the host's release.
    pub baseline_os_missing: bool,
    /// With `approve`/`reject`: the words of each `held-back` marker.
    pub held_back: Vec<Vec<String>>,
}

/// The script's output did not have the expected shape.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unexpected output from the host's package script: {0}")]
pub(crate) struct ParseError(String);

/// Reads the script's standard output.
pub(crate) fn report(stdout: &str) -> Result<Report, ParseError> {
    let mut report = Report::default();
    let mut lines = stdout.lines();
    let mut seen_start = false;
    while let Some(line) = lines.next() {
        let Some(marker) = line.strip_prefix(MARK) else {
            continue;
        };
        let words: Vec<&str> = marker.split_whitespace().collect();
        let mut body = || -> Result<Vec<String>, ParseError> {
            let mut body = Vec::new();
            for line in lines.by_ref() {
                if line == format!("{MARK}end") {
                    return Ok(body);
                }
                body.push(line.to_string());
            }
            Err(ParseError(format!("`{marker}` section never ends")))
        };
        match words.as_slice() {
            ["start"] => seen_start = true,
            ["nopm"] => report.manager = None,
            ["pm", manager] => report.manager = Some((*manager).to_string()),
            ["locked", pid, waited] => {
                report.locked = Some((number(pid)?, number(waited)?));
            }
            ["before"] => report.before = installed(&body()?)?,
            ["after"] => report.after = Some(installed(&body()?)?),
            [phase @ ("plan" | "apply" | "cache"), verb, rc] => {
                let rc = number(rc)?;
                report.steps.push(Step {
                    phase: (*phase).to_string(),
                    verb: (*verb).to_string(),
                    rc,
                    output: body()?,
                });
            }
            ["reboot", rc, tool] => report.reboot = Some((number(rc)?, (*tool).to_string())),
            ["reboot", "none"] => report.reboot = None,
            ["os", os] => report.os = (*os).to_string(),
            ["baseline-os", ..] => report.baseline_os_missing = true,
            ["held-back", rest @ ..] => report
                .held_back
                .push(rest.iter().map(|w| (*w).to_string()).collect()),
            ["baseline-newer", name, have, want] => report.newer_than_baseline.push((
                (*name).to_string(),
                (*have).to_string(),
                (*want).to_string(),
            )),
            _ => return Err(ParseError(format!("unknown marker `{marker}`"))),
        }
    }
    if seen_start {
        Ok(report)
    } else {
        Err(ParseError("the script did not start".into()))
    }
}

fn number<T: std::str::FromStr>(word: &str) -> Result<T, ParseError> {
    word.parse()
        .map_err(|_| ParseError(format!("`{word}` is not a number")))
}

/// Reads `rpm -qa` lines in the script's `name arch version` format.
fn installed(lines: &[String]) -> Result<Vec<Installed>, ParseError> {
    let mut packages = Vec::new();
    for line in lines.iter().filter(|line| !line.trim().is_empty()) {
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            [name, arch, version] => packages.push(Installed {
                name: (*name).to_string(),
                arch: (*arch).to_string(),
                version: (*version).to_string(),
            }),
            _ => return Err(ParseError(format!("`{line}` is not an rpm package line"))),
        }
    }
    packages.sort();
    Ok(packages)
}

/// What a transaction does to one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Action {
    /// Newly installed.
    #[serde(rename = "install")]
    Installed,
    /// Replaced by a newer version.
    #[serde(rename = "upgrade")]
    Upgraded,
    /// Replaced by an older version.
    #[serde(rename = "downgrade")]
    Downgraded,
    /// Installed again at the same version.
    #[serde(rename = "reinstall")]
    Reinstalled,
    /// Removed.
    #[serde(rename = "remove")]
    Removed,
}

impl Action {
    /// How Ansible's `results` lines name it.
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Self::Installed => "Installed",
            Self::Upgraded => "Upgraded",
            Self::Downgraded => "Downgraded",
            Self::Reinstalled => "Reinstalled",
            Self::Removed => "Removed",
        }
    }

    /// The action of a section of dnf's (`Upgrading:`) or yum's (`Updating:`) table.
    fn of_section(title: &str) -> Option<Self> {
        let title = title.to_ascii_lowercase();
        if title.starts_with("reinstall") {
            Some(Self::Reinstalled)
        } else if title.starts_with("downgrad") {
            Some(Self::Downgraded)
        } else if title.starts_with("upgrad") || title.starts_with("updat") {
            Some(Self::Upgraded)
        } else if title.starts_with("remov") || title.starts_with("eras") {
            Some(Self::Removed)
        } else if title.starts_with("install") {
            Some(Self::Installed)
        } else {
            None
        }
    }
}

/// One row of a transaction table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planned {
    /// What happens to the package.
    pub action: Action,
    /// Its name.
    pub name: String,
    /// Its architecture.
    pub arch: String,
    /// The version the row names (the new one, or the removed one).
    pub version: String,
}

/// Reads the table dnf and yum print before a transaction:
///
/// ```text
/// Upgrading:
///  rpatch-testpkg         noarch         1.1-1          rpatch-test         6.0 k
/// ```
///
/// A name too long for its column is printed alone with the rest on the next line; lines
/// such as `replacing  foo.noarch 1.0-1` belong to the row above and are skipped.
pub(crate) fn transaction(lines: &[String]) -> Vec<Planned> {
    let mut planned = Vec::new();
    let mut section: Option<Action> = None;
    let mut pending: Option<String> = None;
    for line in lines {
        if line.trim().starts_with("Transaction Summary") {
            break;
        }
        if !line.starts_with(' ') {
            let title = line.trim();
            section = title.strip_suffix(':').and_then(Action::of_section);
            pending = None;
            continue;
        }
        let Some(action) = section else { continue };
        let mut words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"replacing") {
            continue;
        }
        let joined;
        if let Some(name) = pending.take() {
            joined = name;
            words.insert(0, &joined);
        } else if words.len() == 1 {
            pending = words.first().map(|name| (*name).to_string());
            continue;
        }
        if let [name, arch, version, ..] = words.as_slice() {
            planned.push(Planned {
                action,
                name: (*name).to_string(),
                arch: (*arch).to_string(),
                version: (*version).to_string(),
            });
        }
    }
    planned
}

/// One package a call changed (or would change), with the versions on either side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Change {
    /// The package name.
    pub name: String,
    /// Its architecture.
    pub arch: String,
    /// What happened to it.
    pub action: Action,
    /// The version installed before, if any.
    pub before: Option<String>,
    /// The version installed after, if any.
    pub after: Option<String>,
}

impl Change {
    /// Ansible's `results` line: `Upgraded: name-1.1-1.noarch`.
    pub(crate) fn line(&self) -> String {
        let version = self.after.as_ref().or(self.before.as_ref());
        match version {
            Some(version) => format!(
                "{}: {}-{}.{}",
                self.action.verb(),
                self.name,
                version,
                self.arch
            ),
            None => format!("{}: {}.{}", self.action.verb(), self.name, self.arch),
        }
    }
}

/// What would change, from the planned transactions and the packages installed now.
pub(crate) fn planned_changes(plans: &[Planned], before: &[Installed]) -> Vec<Change> {
    plans
        .iter()
        .map(|plan| {
            let old = before
                .iter()
                .filter(|p| p.name == plan.name && p.arch == plan.arch)
                .map(|p| p.version.clone())
                .next_back();
            let (before, after) = match plan.action {
                Action::Removed => (Some(plan.version.clone()), None),
                Action::Installed => (None, Some(plan.version.clone())),
                _ => (old, Some(plan.version.clone())),
            };
            Change {
                name: plan.name.clone(),
                arch: plan.arch.clone(),
                action: plan.action,
                before,
                after,
            }
        })
        .collect()
}

/// What did change, from rpm's lists before and after; the plans tell an upgrade from a
/// downgrade. A package installed beside an older one of the same name (a kernel) whose
/// older one is removed reads as an upgrade.
pub(crate) fn applied_changes(
    before: &[Installed],
    after: &[Installed],
    plans: &[Planned],
) -> Vec<Change> {
    let key = |p: &Installed| (p.name.clone(), p.arch.clone());
    let mut gone: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut new: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for package in before.iter().filter(|p| !after.contains(p)) {
        gone.entry(key(package))
            .or_default()
            .push(package.version.clone());
    }
    for package in after.iter().filter(|p| !before.contains(p)) {
        new.entry(key(package))
            .or_default()
            .push(package.version.clone());
    }
    let planned_action = |name: &str, arch: &str| {
        plans
            .iter()
            .find(|p| p.name == name && p.arch == arch)
            .map(|p| p.action)
    };
    let mut changes = Vec::new();
    let mut keys: Vec<&(String, String)> = gone.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    for (name, arch) in keys {
        let old = gone.get(&(name.clone(), arch.clone()));
        let fresh = new.get(&(name.clone(), arch.clone()));
        let last = |list: Option<&Vec<String>>| list.and_then(|l| l.last().cloned());
        let action = match (old, fresh) {
            (Some(_), Some(_)) => match planned_action(name, arch) {
                Some(Action::Downgraded) => Action::Downgraded,
                _ => Action::Upgraded,
            },
            (None, _) => Action::Installed,
            (Some(_), None) => Action::Removed,
        };
        changes.push(Change {
            name: name.clone(),
            arch: arch.clone(),
            action,
            before: last(old),
            after: last(fresh),
        });
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    const DNF_TABLE: &str = "\
Last metadata expiration check: 0:00:45 ago on Sun Nov 29 16:12:57 2026.
Dependencies resolved.
================================================================================
 Package                Architecture   Version        Repository           Size
================================================================================
Upgrading:
 rpatch-other           noarch         1.1-1          rpatch-test         5.9 k
 rpatch-testpkg         noarch         1.1-1          rpatch-test         6.0 k
Installing dependencies:
 a-package-with-a-name-far-too-long-for-its-column
                        x86_64         2:3.4-5.el9    baseos              1.2 M
Removing:
 old-thing              noarch         0.9-1          @System               4
Obsoleting packages:
 new-thing              noarch         1.0-1          appstream          10 k
     replacing  old-thing.noarch 0.9-1

Transaction Summary
================================================================================
Upgrade  2 Packages
";

    #[test]
    fn dnf_transaction_tables_are_read_with_wrapped_names() {
        let plans = transaction(&lines(DNF_TABLE));
        let rows: Vec<(Action, &str, &str, &str)> = plans
            .iter()
            .map(|p| (p.action, p.name.as_str(), p.arch.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                (Action::Upgraded, "rpatch-other", "noarch", "1.1-1"),
                (Action::Upgraded, "rpatch-testpkg", "noarch", "1.1-1"),
                (
                    Action::Installed,
                    "a-package-with-a-name-far-too-long-for-its-column",
                    "x86_64",
                    "2:3.4-5.el9"
                ),
                (Action::Removed, "old-thing", "noarch", "0.9-1"),
            ]
        );
    }

    #[test]
    fn yum_transaction_tables_are_read_too() {
        let yum = "\
Dependencies Resolved

================================================================================
 Package          Arch          Version                   Repository      Size
================================================================================
Updating:
 bash             x86_64        4.2.46-35.el7_9           updates        1.0 M
Installing for dependencies:
 libfoo           x86_64        1.0-1.el7                 base            20 k

Transaction Summary
";
        let plans = transaction(&lines(yum));
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0].action, Action::Upgraded);
        assert_eq!(plans[1].action, Action::Installed);
        assert!(transaction(&lines("Dependencies resolved.\nNothing to do.\nComplete!\n")).is_empty());
    }

    #[test]
    fn reports_are_read_and_garbage_is_an_error() {
        let out = "\
@@rpatch:start
@@rpatch:pm dnf
@@rpatch:before
rpatch-testpkg noarch 1.0-1
@@rpatch:end
@@rpatch:plan upgrade 1
Upgrading:
 rpatch-testpkg         noarch         1.1-1          rpatch-test         6.0 k
Transaction Summary
@@rpatch:end
@@rpatch:reboot 1 dnf
";
        let report = report(out).expect("report");
        assert_eq!(report.manager.as_deref(), Some("dnf"));
        assert_eq!(report.before.len(), 1);
        assert_eq!(report.steps[0].rc, 1);
        assert!(report.steps[0].has_transaction());
        assert_eq!(report.reboot, Some((1, "dnf".to_string())));
        assert!(super::report("").is_err());
        assert!(super::report("@@rpatch:start\n@@rpatch:before\nx y z\n").is_err());
        assert!(super::report("@@rpatch:start\n@@rpatch:plan x y\n@@rpatch:end\n").is_err());
        assert!(super::report("@@rpatch:start\n@@rpatch:bogus\n").is_err());
        assert!(super::report("@@rpatch:start\n@@rpatch:after\nonly two\n@@rpatch:end\n").is_err());
    }

    fn pkg(name: &str, version: &str) -> Installed {
        Installed {
            name: name.into(),
            arch: "noarch".into(),
            version: version.into(),
        }
    }

    #[test]
    fn applied_changes_pair_old_and_new_versions() {
        let before = [pkg("a", "1.0-1"), pkg("gone", "2-1"), pkg("same", "1-1")];
        let after = [pkg("a", "1.1-1"), pkg("fresh", "3-1"), pkg("same", "1-1")];
        let changes = applied_changes(&before, &after, &[]);
        let lines: Vec<String> = changes.iter().map(Change::line).collect();
        assert_eq!(
            lines,
            [
                "Upgraded: a-1.1-1.noarch",
                "Installed: fresh-3-1.noarch",
                "Removed: gone-2-1.noarch"
            ]
        );
        assert_eq!(changes[0].before.as_deref(), Some("1.0-1"));
        assert_eq!(changes[0].after.as_deref(), Some("1.1-1"));
        assert!(applied_changes(&before, &before, &[]).is_empty());
    }

    #[test]
    fn planned_changes_take_the_old_version_from_rpm() {
        let plans = transaction(&lines(DNF_TABLE));
        let changes = planned_changes(&plans, &[pkg("rpatch-testpkg", "1.0-1")]);
        assert_eq!(changes[1].before.as_deref(), Some("1.0-1"));
        assert_eq!(changes[1].after.as_deref(), Some("1.1-1"));
        assert_eq!(changes[0].before, None);
        assert_eq!(changes[3].action, Action::Removed);
        assert_eq!(changes[3].after, None);
    }
}
