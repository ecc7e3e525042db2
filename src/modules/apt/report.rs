//! Reading what the `apt` script printed: its marker lines and apt-get's simulation lines.
//!
//! Parsing never fails and never panics: anything unexpected is kept as plain output, and a
//! script that did not reach its end (no `done` marker) is reported as incomplete.

use serde::Serialize;

use super::script::MARKER;
use super::version;

/// Everything the script reported.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    /// The script reached its end.
    pub complete: bool,
    /// Why the script stopped early, when it did.
    pub fatal: Option<Fatal>,
    /// apt's or dpkg's lock was still held at the deadline.
    pub lock_timeout: bool,
    /// The processes holding a lock then.
    pub lock_holders: Vec<LockHolder>,
    /// The lists were refreshed.
    pub cache_updated: bool,
    /// The lists would have been refreshed (check mode).
    pub cache_would_update: bool,
    /// The time of the last successful update (epoch seconds, 0 when unknown).
    pub cache_time: i64,
    /// Packages pinned at their installed version: held or excluded.
    pub frozen: Vec<Frozen>,
    /// Named packages left alone because they are held.
    pub kept: Vec<String>,
    /// What the simulation of the step would change, in apt's order.
    pub plan: Vec<Change>,
    /// The step ran for real, with this exit code.
    pub applied: Option<i32>,
    /// dpkg's view of the planned packages after the step ran.
    pub after: Vec<AfterState>,
    /// `apt-get clean` ran (or, in check mode, would have).
    pub cleaned: bool,
    /// How many cached package files `apt-get autoclean` deleted (or would have).
    pub autocleaned: usize,
    /// `/var/run/reboot-required` exists.
    pub reboot_required: bool,
    /// The packages listed in `/var/run/reboot-required.pkgs`, without duplicates.
    pub reboot_pkgs: Vec<String>,
    /// The simulation's output.
    pub plan_output: String,
    /// The real run's output, when the step ran.
    pub apply_output: Option<String>,
    /// The host's release key (`ID-VERSION_ID` from os-release).
    pub os: String,
    /// Packages installed at a newer version than the baseline's (left as they are).
    pub newer_than_baseline: Vec<NewerThanBaseline>,
    /// The words of each `held-back` line (see [`crate::modules::approval::HeldBack`]).
    pub held_back: Vec<Vec<String>>,
}

/// An installed package newer than the baseline asks for: never downgraded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewerThanBaseline {
    /// The package.
    pub name: String,
    /// The version installed.
    pub installed: String,
    /// The baseline's version.
    pub baseline: String,
}

impl Report {
    /// What apt printed for the step, as Ansible registers it: the real run's output, or the
    /// simulation's when nothing ran (check mode, nothing to do).
    pub fn stdout(&self) -> &str {
        self.apply_output.as_deref().unwrap_or(&self.plan_output)
    }
}

/// Why the script stopped before doing its work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fatal {
    /// apt-get, apt-cache or dpkg-query is missing.
    NoApt,
    /// `mktemp -d` failed.
    NoTmp,
    /// `APT_CONFIG` names a file the script cannot read.
    BadAptConfig,
    /// A change was needed but the script does not run as root.
    NotRoot,
    /// `security_only` with no `*-security` suite among apt's sources.
    NoSecuritySuite,
    /// `apt-get update` failed (after its retries) with this code.
    Update(i32),
    /// The simulation failed with this code (unknown package, broken dependencies, …).
    Plan(i32),
    /// The real run failed with this code.
    Apply(i32),
    /// `apt-get clean` or `apt-get autoclean` (the word) failed with this code.
    Cleanup(String, i32),
    /// The baseline has no packages for this release key.
    BaselineOs(String),
    /// A baseline version the repositories no longer offer: package, version.
    BaselineMissing(String, String),
    /// A marker this version of rpatch does not know.
    Other(String),
}

/// A process holding one of apt's or dpkg's lock files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockHolder {
    /// The lock file.
    pub path: String,
    /// The holding process.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`), when readable.
    pub command: String,
}

/// A package pinned at its installed version while apt ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frozen {
    /// `hold` or `exclude`.
    pub reason: String,
    /// The package.
    pub name: String,
    /// The version it stays at.
    pub version: String,
}

/// What happens to one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Newly installed.
    Install,
    /// Replaced by a newer version.
    Upgrade,
    /// Replaced by an older version.
    Downgrade,
    /// Installed again at the same version.
    Reinstall,
    /// Removed, configuration kept.
    Remove,
    /// Removed with its configuration.
    Purge,
}

/// One package's change, as apt-get's simulation announces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The package (with `:arch` when apt prints one).
    pub name: String,
    /// What happens to it.
    pub action: ChangeKind,
    /// The installed version before, if any (`before` in results, as `dnf` names it).
    #[serde(rename = "before")]
    pub old: Option<String>,
    /// The version after, for installs and upgrades (`after` in results).
    #[serde(rename = "after")]
    pub new: Option<String>,
    /// Where the new version comes from, as apt prints it (`Debian-Security:12/stable-security`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The new version comes from a `*-security` archive.
    pub security: bool,
}

/// dpkg's state of a package after the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterState {
    /// The package.
    pub name: String,
    /// dpkg's three-letter status (`ii `), empty when dpkg no longer knows it.
    pub status: String,
    /// The version dpkg has, if any.
    pub version: String,
}

impl AfterState {
    /// dpkg has the package installed.
    pub fn installed(&self) -> bool {
        self.status.as_bytes().get(1) == Some(&b'i')
    }
}

impl Change {
    /// True when dpkg's state after the run shows this change was made.
    pub fn done_in(&self, after: &AfterState) -> bool {
        match self.action {
            ChangeKind::Install
            | ChangeKind::Upgrade
            | ChangeKind::Downgrade
            | ChangeKind::Reinstall => {
                after.installed() && Some(after.version.as_str()) == self.new.as_deref()
            }
            ChangeKind::Remove => !after.installed(),
            ChangeKind::Purge => {
                after.status.is_empty() || after.status.as_bytes().get(1) == Some(&b'n')
            }
        }
    }
}

/// Parses one line of `apt-get -s` output: `Inst`, `Remv` and `Purg` lines; others are `None`.
///
/// `Inst name [old] (new origin, origin [arch]) []`, `Remv name [old]`, `Purg name [old]`.
pub fn parse_sim_line(line: &str) -> Option<Change> {
    let (verb, rest) = line.split_once(' ')?;
    let (name, rest) = match rest.split_once(' ') {
        Some((name, rest)) => (name, rest.trim_start()),
        None => (rest, ""),
    };
    if name.is_empty() {
        return None;
    }
    let (old, rest) = match rest.strip_prefix('[') {
        Some(bracketed) => {
            let (old, rest) = bracketed.split_once(']')?;
            (Some(old.to_string()), rest.trim_start())
        }
        None => (None, rest),
    };
    match verb {
        "Remv" | "Purg" => Some(Change {
            name: name.to_string(),
            action: if verb == "Purg" {
                ChangeKind::Purge
            } else {
                ChangeKind::Remove
            },
            old,
            new: None,
            origin: None,
            security: false,
        }),
        "Inst" => {
            let inner = rest.strip_prefix('(')?;
            let inner = &inner[..inner.rfind(')')?];
            let (new, origin) = match inner.split_once(' ') {
                Some((new, origin)) => (new, strip_arch(origin)),
                None => (inner, ""),
            };
            if new.is_empty() {
                return None;
            }
            let action = match &old {
                None => ChangeKind::Install,
                Some(old) => match version::compare(new, old) {
                    std::cmp::Ordering::Greater => ChangeKind::Upgrade,
                    std::cmp::Ordering::Less => ChangeKind::Downgrade,
                    std::cmp::Ordering::Equal => ChangeKind::Reinstall,
                },
            };
            Some(Change {
                name: name.to_string(),
                action,
                old,
                new: Some(new.to_string()),
                security: is_security_origin(origin),
                origin: (!origin.is_empty()).then(|| origin.to_string()),
            })
        }
        _ => None,
    }
}

/// Drops the trailing ` [arch]` of an origin list.
fn strip_arch(origin: &str) -> &str {
    match origin.rfind(" [") {
        Some(at) if origin.ends_with(']') => &origin[..at],
        _ => origin,
    }
}

/// True when any `origin:version/archive` of the list has an archive ending in `-security` —
/// the rule the script's `security_only` selection applies (see [`super::script`]).
pub fn is_security_origin(origins: &str) -> bool {
    origins.split(", ").any(|entry| {
        let archive = entry.split_once(':').map_or(entry, |(_, rest)| rest);
        let archive = archive.rsplit('/').next().unwrap_or(archive);
        archive.ends_with("-security")
    })
}

/// Reads the script's standard output (apt-get update's own output is not kept: its errors
/// are on standard error).
pub fn parse(stdout: &str) -> Report {
    let mut report = Report::default();
    let mut section: Option<String> = None;
    let (mut plan, mut apply) = (Vec::new(), None::<Vec<&str>>);
    for line in stdout.lines() {
        let Some(rest) = line
            .strip_prefix(MARKER)
            .and_then(|rest| rest.strip_prefix(' '))
        else {
            // dpkg redraws its progress with carriage returns: keep the last state.
            let line = line.rsplit('\r').next().unwrap_or(line);
            match section.as_deref() {
                Some("plan") => {
                    report.plan.extend(parse_sim_line(line));
                    plan.push(line);
                }
                Some("apply") => apply.get_or_insert_with(Vec::new).push(line),
                Some("after") => report.after.extend(parse_after(line)),
                _ => {}
            }
            continue;
        };
        if let Some(fields) = rest.strip_prefix("lock-holder\t") {
            let mut fields = fields.splitn(3, '\t');
            if let (Some(path), Some(Ok(pid))) = (fields.next(), fields.next().map(str::parse)) {
                report.lock_holders.push(LockHolder {
                    path: path.to_string(),
                    pid,
                    command: fields.next().unwrap_or_default().to_string(),
                });
            }
            continue;
        }
        let mut words = rest.split(' ');
        let keyword = words.next().unwrap_or_default();
        let first = words.next().unwrap_or_default();
        let mut code = || words.next().map_or(-1, |code| code.parse().unwrap_or(-1));
        match keyword {
            "done" => report.complete = true,
            "begin" => {
                if first == "apply" {
                    apply.get_or_insert_with(Vec::new);
                }
                section = Some(first.to_string());
            }
            "end" => {
                if first == "apply" {
                    report.applied = Some(code());
                }
                section = None;
            }
            "cache-updated" => report.cache_updated = true,
            "cache-would-update" => report.cache_would_update = true,
            "cache-time" => report.cache_time = first.parse().unwrap_or(0),
            "lock-timeout" => report.lock_timeout = true,
            "cleaned" | "would-clean" => report.cleaned = true,
            "autocleaned" => report.autocleaned = first.parse().unwrap_or(0),
            "reboot-required" => report.reboot_required = true,
            "reboot-pkg" => {
                let package = rest["reboot-pkg".len()..].trim();
                if !package.is_empty() && !report.reboot_pkgs.iter().any(|p| p == package) {
                    report.reboot_pkgs.push(package.to_string());
                }
            }
            "kept" => report.kept.push(first.to_string()),
            "held-back" => report.held_back.push(
                std::iter::once(first)
                    .chain(words.by_ref())
                    .map(str::to_string)
                    .collect(),
            ),
            "os" => report.os = first.to_string(),
            "baseline-newer" => {
                if let (Some(installed), Some(baseline)) = (words.next(), words.next()) {
                    report.newer_than_baseline.push(NewerThanBaseline {
                        name: first.to_string(),
                        installed: installed.to_string(),
                        baseline: baseline.to_string(),
                    });
                }
            }
            "frozen" => {
                if let (Some(name), Some(version)) = (words.next(), words.next()) {
                    report.frozen.push(Frozen {
                        reason: first.to_string(),
                        name: name.to_string(),
                        version: version.to_string(),
                    });
                }
            }
            "fatal" => {
                report.fatal = Some(match first {
                    "no-apt" => Fatal::NoApt,
                    "no-tmp" => Fatal::NoTmp,
                    "bad-apt-config" => Fatal::BadAptConfig,
                    "not-root" => Fatal::NotRoot,
                    "no-security-suite" => Fatal::NoSecuritySuite,
                    "update" => Fatal::Update(code()),
                    "plan" => Fatal::Plan(code()),
                    "apply" => Fatal::Apply(code()),
                    "clean" | "autoclean" => Fatal::Cleanup(first.to_string(), code()),
                    "baseline-os" => Fatal::BaselineOs(words.next().unwrap_or_default().into()),
                    "baseline-missing" => Fatal::BaselineMissing(
                        words.next().unwrap_or_default().into(),
                        words.next().unwrap_or_default().into(),
                    ),
                    other => Fatal::Other(other.to_string()),
                });
            }
            _ => {}
        }
    }
    report.plan_output = plan.join("\n");
    report.apply_output = apply.map(|lines| lines.join("\n"));
    report
}

/// `name|XYZ|version` from the script's `after` section.
fn parse_after(line: &str) -> Option<AfterState> {
    let mut fields = line.splitn(3, '|');
    let name = fields.next()?.to_string();
    Some(AfterState {
        name,
        status: fields.next().unwrap_or_default().to_string(),
        version: fields.next().unwrap_or_default().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulation_lines_give_old_and_new_versions_and_origins() {
        let upgrade = parse_sim_line(
            "Inst libc6 [2.36-9] (2.36-9+deb12u4 Debian:12.5/stable, Debian-Security:12/stable-security [amd64]) []",
        )
        .expect("Inst");
        assert_eq!(upgrade.name, "libc6");
        assert_eq!(upgrade.action, ChangeKind::Upgrade);
        assert_eq!(upgrade.old.as_deref(), Some("2.36-9"));
        assert_eq!(upgrade.new.as_deref(), Some("2.36-9+deb12u4"));
        assert_eq!(
            upgrade.origin.as_deref(),
            Some("Debian:12.5/stable, Debian-Security:12/stable-security")
        );
        assert!(upgrade.security);

        let install =
            parse_sim_line("Inst rpatch-testpkg (1.1 rpatch-test:stable [all])").expect("Inst");
        assert_eq!(install.action, ChangeKind::Install);
        assert_eq!(install.old, None);
        assert!(!install.security);

        let down = parse_sim_line("Inst x1 [1.1] (1.0 o:stable [all])").expect("Inst");
        assert_eq!(down.action, ChangeKind::Downgrade);

        let remove = parse_sim_line("Remv rpatch-testpkg [1.0]").expect("Remv");
        assert_eq!(remove.action, ChangeKind::Remove);
        assert_eq!(remove.old.as_deref(), Some("1.0"));
        let purge = parse_sim_line("Purg rpatch-testpkg [1.0]").expect("Purg");
        assert_eq!(purge.action, ChangeKind::Purge);

        for other in [
            "Conf rpatch-testpkg (1.1 rpatch-test:stable [all])",
            "Inst",
            "Inst x1 [1.0",
            "Inst x1 (",
            "The following packages will be upgraded:",
            "",
        ] {
            assert_eq!(parse_sim_line(other), None, "{other}");
        }
    }

    #[test]
    fn security_is_the_archive_not_the_label() {
        assert!(is_security_origin("Ubuntu:22.04/jammy-security"));
        assert!(is_security_origin("rpatch-test:stable-security"));
        assert!(!is_security_origin("Debian-Security:12/stable"));
        assert!(!is_security_origin("Debian:12.5/stable-updates"));
        assert!(!is_security_origin(""));
    }

    #[test]
    fn a_full_report_is_read_and_apt_output_kept() {
        let stdout = "\
::rpatch-apt:: cache-updated
::rpatch-apt:: cache-time 1700000000
::rpatch-apt:: frozen hold rpatch-holdpkg 1.0
::rpatch-apt:: frozen exclude rpatch-testpkg 1.0
::rpatch-apt:: begin plan
Reading package lists...
Inst rpatch-secpkg [1.0] (1.0.1 rpatch-test:stable-security [all])
Conf rpatch-secpkg (1.0.1 rpatch-test:stable-security [all])
::rpatch-apt:: end plan 0
::rpatch-apt:: begin apply
(Reading database ... \r(Reading database ... 5%\r(Reading database ... 100 files and directories currently installed.)
Setting up rpatch-secpkg (1.0.1) ...
::rpatch-apt:: end apply 0
::rpatch-apt:: begin after
rpatch-secpkg|ii |1.0.1
::rpatch-apt:: end after
::rpatch-apt:: reboot-required
::rpatch-apt:: reboot-pkg linux-image-6.1.0-1
::rpatch-apt:: reboot-pkg linux-image-6.1.0-1
::rpatch-apt:: reboot-pkg libc6
::rpatch-apt:: done
";
        let report = parse(stdout);
        assert!(report.complete);
        assert!(report.cache_updated);
        assert_eq!(report.cache_time, 1_700_000_000);
        assert_eq!(report.frozen.len(), 2);
        assert_eq!(report.frozen[0].reason, "hold");
        assert_eq!(report.plan.len(), 1);
        assert_eq!(report.applied, Some(0));
        assert_eq!(report.after.len(), 1);
        assert!(report.plan[0].done_in(&report.after[0]));
        assert!(report.reboot_required);
        assert_eq!(report.reboot_pkgs, ["linux-image-6.1.0-1", "libc6"]);
        assert_eq!(
            report.plan_output,
            "Reading package lists...\n\
             Inst rpatch-secpkg [1.0] (1.0.1 rpatch-test:stable-security [all])\n\
             Conf rpatch-secpkg (1.0.1 rpatch-test:stable-security [all])"
        );
        assert_eq!(
            report.stdout(),
            "(Reading database ... 100 files and directories currently installed.)\n\
             Setting up rpatch-secpkg (1.0.1) ..."
        );
    }

    #[test]
    fn lock_failures_and_fatal_markers_are_read() {
        let report = parse(
            "::rpatch-apt:: lock-timeout\n\
             ::rpatch-apt:: lock-holder\t/var/lib/dpkg/lock-frontend\t4402\tunattended-upgr\n\
             ::rpatch-apt:: lock-holder\tbroken\n\
             ::rpatch-apt:: fatal update 100\n\
             ::rpatch-apt:: done\n",
        );
        assert!(report.lock_timeout);
        assert_eq!(
            report.lock_holders,
            [LockHolder {
                path: "/var/lib/dpkg/lock-frontend".into(),
                pid: 4402,
                command: "unattended-upgr".into()
            }]
        );
        assert_eq!(report.fatal, Some(Fatal::Update(100)));
    }

    #[test]
    fn a_script_cut_short_is_incomplete() {
        let report = parse("::rpatch-apt:: begin plan\nInst x1 (1.0 o:a [all])\n");
        assert!(!report.complete);
        assert_eq!(report.plan.len(), 1);
        assert!(!parse("").complete);
    }

    #[test]
    fn removal_is_done_when_dpkg_no_longer_has_it_installed() {
        let remove = parse_sim_line("Remv x1 [1.0]").expect("Remv");
        let purge = parse_sim_line("Purg x1 [1.0]").expect("Purg");
        let config_left = AfterState {
            name: "x1".into(),
            status: "rc ".into(),
            version: "1.0".into(),
        };
        let gone = AfterState {
            name: "x1".into(),
            status: String::new(),
            version: String::new(),
        };
        assert!(remove.done_in(&config_left));
        assert!(!purge.done_in(&config_left));
        assert!(purge.done_in(&gone));
    }
}
