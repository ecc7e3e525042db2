//! Reads what the `patch_facts` script printed (`tag|text` lines, see `script.rs`) into
//! [`PatchFacts`].
//!
//! Pure and total: any input gives facts. A line with an unknown tag, or a tool line that does
//! not have the expected shape, is ignored; a source that is missing (tool not installed,
//! output cut short) leaves its part `unknown` (strings) or empty; nothing here panics.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::modules::setup::{distribution_name, os_family, unquote};

/// Written for a value no source reported.
pub(crate) const UNKNOWN: &str = "unknown";

/// Why a host needs a reboot: the stable words in `reboot_reasons`.
pub(crate) mod reason {
    /// `/var/run/reboot-required` exists (Debian, Ubuntu).
    pub const REBOOT_REQUIRED_FILE: &str = "reboot_required_file";
    /// `needs-restarting -r` exited 1 (RHEL family).
    pub const NEEDS_RESTARTING: &str = "needs_restarting";
    /// A kernel newer than the running one is installed.
    pub const NEWER_KERNEL: &str = "newer_kernel_installed";
    /// needrestart reports a pending kernel upgrade (`NEEDRESTART-KSTA` 2 or 3).
    pub const NEEDRESTART_KERNEL: &str = "needrestart_kernel";
}

/// The patch state of one host: `ansible_facts.patch`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PatchFacts {
    /// Ansible's `ansible_os_family` (`Debian`, `RedHat`, `Suse`, ...).
    pub os_family: String,
    /// Ansible's spelling of the distribution (`Debian`, `Ubuntu`, `RedHat`, `Rocky`, ...).
    pub distribution: String,
    /// os-release `VERSION_ID` (`12`, `22.04`, `9.3`).
    pub distribution_version: String,
    /// os-release `VERSION_CODENAME` (`bookworm`), `unknown` when absent.
    pub distribution_release: String,
    /// `apt`, `dnf`, `yum`, `zypper` or `unknown`.
    pub pkg_mgr: String,
    /// Running and installed kernels.
    pub kernel: Kernel,
    /// Updates the package manager would install.
    pub pending: Pending,
    /// True when any of `reboot_reasons` holds.
    pub reboot_required: bool,
    /// Why a reboot is needed (words from [`reason`]), empty when it is not.
    pub reboot_reasons: Vec<String>,
    /// Packages that asked for the reboot (`reboot-required.pkgs`, `needs-restarting -r`).
    pub reboot_required_pkgs: Vec<String>,
    /// Services running old code (needrestart), to restart without a reboot.
    pub services_needing_restart: Vec<String>,
    /// What needrestart said, when it is installed.
    pub needrestart: NeedRestart,
    /// Live kernel patching, where present.
    pub livepatch: Livepatch,
    /// False when the script's output stopped early (a timeout, a killed shell).
    pub complete: bool,
}

/// Running and installed kernels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Kernel {
    /// `uname -r`.
    pub running: String,
    /// Installed kernel releases (as `uname -r` would print them), oldest first.
    pub installed: Vec<String>,
    /// The newest of `installed`, `unknown` when none is known.
    pub newest_installed: String,
    /// A kernel newer than the running one is installed.
    pub newer_installed: bool,
}

/// Pending updates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Pending {
    /// `ok` (listed), `skipped` (`pending: false`), `error` or `unknown` (no supported tool).
    pub status: String,
    /// How many updates; 0 unless `status` is `ok`.
    pub count: usize,
    /// How many of them come from a security source.
    pub security_count: usize,
    /// The updates, by name.
    pub updates: Vec<Update>,
    /// What the package manager said when `status` is `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One pending update.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Update {
    /// Package name (`libssl3`, `kernel-core`).
    pub name: String,
    /// Architecture (`amd64`, `x86_64`), `unknown` when not said.
    pub arch: String,
    /// Installed version, `unknown` for a package that is new.
    pub current: String,
    /// The version that would be installed.
    pub candidate: String,
    /// The candidate comes from a security source (a `*-security` suite, a security advisory).
    pub security: bool,
    /// Where the candidate comes from (apt suites, the dnf repository).
    pub sources: Vec<String>,
}

/// needrestart's batch output (`needrestart -b`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct NeedRestart {
    /// needrestart ran and answered.
    pub checked: bool,
    /// `NEEDRESTART-KSTA`: 0 unknown, 1 current, 2 ABI-compatible upgrade pending, 3 version
    /// upgrade pending; absent when needrestart did not say.
    pub kernel_status: Option<u8>,
    /// `NEEDRESTART-KEXP`: the kernel it expects to be running.
    pub kernel_expected: Option<String>,
    /// `NEEDRESTART-SVC` lines: services to restart.
    pub services: Vec<String>,
    /// `NEEDRESTART-CONT` lines: containers to restart.
    pub containers: Vec<String>,
}

/// Live kernel patching.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Livepatch {
    /// `canonical-livepatch`, `kpatch` or `none`.
    pub tool: String,
    /// canonical-livepatch's `patch state`, `loaded` / `none loaded` for kpatch, `unknown`.
    pub state: String,
    /// Loaded patch modules (kpatch) or the patch version (canonical-livepatch).
    pub patches: Vec<String>,
}

/// The script's output split by tag, in order.
struct Lines<'a> {
    by_tag: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'a> Lines<'a> {
    fn new(output: &'a str) -> Self {
        let mut by_tag: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for line in output.lines() {
            if let Some((tag, text)) = line.split_once('|') {
                by_tag.entry(tag).or_default().push(text);
            }
        }
        Self { by_tag }
    }

    fn all(&self, tag: &str) -> &[&'a str] {
        self.by_tag.get(tag).map_or(&[], Vec::as_slice)
    }

    fn first(&self, tag: &str) -> Option<&'a str> {
        self.all(tag).first().copied()
    }

    fn has(&self, tag: &str, text: &str) -> bool {
        self.all(tag).contains(&text)
    }
}

/// Reads the script's output.
pub(crate) fn parse(output: &str) -> PatchFacts {
    let lines = Lines::new(output);
    let os: BTreeMap<&str, String> = lines
        .all("os")
        .iter()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim(), unquote(value)))
        .collect();
    let os_value = |key: &str| os.get(key).cloned().unwrap_or_default();
    let distribution = match os_value("ID") {
        id if id.is_empty() => String::new(),
        id => distribution_name(&id),
    };
    let family = os_family(&distribution, &os_value("ID_LIKE"));
    let non_empty = |value: String| {
        if value.is_empty() {
            UNKNOWN.to_string()
        } else {
            value
        }
    };

    let running = non_empty(lines.first("kernel").unwrap_or_default().trim().to_string());
    let mut installed: Vec<String> = lines
        .all("deb_kernel")
        .iter()
        .filter_map(|line| debian_kernel(line))
        .chain(lines.all("rpm_kernel").iter().filter_map(|line| rpm_kernel(line)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    installed.sort_by(|a, b| compare_versions(a, b));
    let newest = installed.last().cloned();
    let newer_installed = newest
        .as_deref()
        .is_some_and(|n| running != UNKNOWN && compare_versions(n, &running) == Ordering::Greater);
    let kernel = Kernel {
        running,
        newest_installed: newest.unwrap_or_else(|| UNKNOWN.into()),
        installed,
        newer_installed,
    };

    let needrestart = needrestart(lines.all("needrestart"));
    let pending = if lines.has("apt_done", "1") {
        apt_pending(lines.all("apt"))
    } else if lines.first("check_update_rc").is_some() {
        dnf_pending(&lines)
    } else if lines.has("pending", "skipped") {
        Pending::empty("skipped")
    } else {
        Pending::empty(UNKNOWN)
    };

    let mut reasons = Vec::new();
    let mut reboot_pkgs: Vec<String> = Vec::new();
    if lines.first("reboot_file").is_some() {
        reasons.push(reason::REBOOT_REQUIRED_FILE.to_string());
        reboot_pkgs.extend(
            lines
                .all("reboot_pkg")
                .iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty()),
        );
    }
    if lines.first("needs_restarting_rc").map(str::trim) == Some("1") {
        reasons.push(reason::NEEDS_RESTARTING.to_string());
        reboot_pkgs.extend(
            lines
                .all("needs_restarting")
                .iter()
                .filter_map(|line| line.trim().strip_prefix("* "))
                .map(|p| p.trim().to_string()),
        );
    }
    if kernel.newer_installed {
        reasons.push(reason::NEWER_KERNEL.to_string());
    }
    if matches!(needrestart.kernel_status, Some(2 | 3)) {
        reasons.push(reason::NEEDRESTART_KERNEL.to_string());
    }
    let mut seen = BTreeSet::new();
    reboot_pkgs.retain(|p| seen.insert(p.clone()));

    let tools = lines.all("tool");
    let pkg_mgr = ["apt-get", "dnf", "yum", "zypper"]
        .into_iter()
        .filter(|t| tools.contains(t))
        .find(|t| match family.as_str() {
            "Debian" => *t == "apt-get",
            "RedHat" => matches!(*t, "dnf" | "yum"),
            "Suse" => *t == "zypper",
            _ => true,
        })
        .map_or(UNKNOWN, |t| if t == "apt-get" { "apt" } else { t });

    PatchFacts {
        os_family: non_empty(family),
        distribution: non_empty(distribution),
        distribution_version: non_empty(os_value("VERSION_ID")),
        distribution_release: non_empty(os_value("VERSION_CODENAME")),
        pkg_mgr: pkg_mgr.to_string(),
        kernel,
        pending,
        reboot_required: !reasons.is_empty(),
        reboot_reasons: reasons,
        reboot_required_pkgs: reboot_pkgs,
        services_needing_restart: needrestart.services.clone(),
        needrestart,
        livepatch: livepatch(&lines),
        complete: lines.has("end", "1"),
    }
}

impl Pending {
    fn empty(status: &str) -> Self {
        Self {
            status: status.into(),
            count: 0,
            security_count: 0,
            updates: Vec::new(),
            error: None,
        }
    }

    fn listed(updates: Vec<Update>) -> Self {
        Self {
            status: "ok".into(),
            count: updates.len(),
            security_count: updates.iter().filter(|u| u.security).count(),
            updates,
            error: None,
        }
    }
}

/// `6.1.0-18-amd64` from dpkg-query's `linux-image-6.1.0-18-amd64 6.1.76-1 ii `; meta packages
/// (`linux-image-amd64`) and removed ones (`rc`) give nothing.
fn debian_kernel(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let package = words.next()?;
    let _version = words.next()?;
    let status = words.next()?;
    if status != "ii" {
        return None;
    }
    let release = package.strip_prefix("linux-image-")?;
    let release = release.strip_prefix("unsigned-").unwrap_or(release);
    let release = release.strip_suffix("-dbg").map_or(release, |_| "");
    release
        .starts_with(|c: char| c.is_ascii_digit())
        .then(|| release.to_string())
}

/// `5.14.0-362.8.1.el9_3.x86_64` from rpm's `kernel-core 5.14.0-362.8.1.el9_3.x86_64`.
fn rpm_kernel(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let name = words.next()?;
    let release = words.next()?;
    if words.next().is_some() || !matches!(name, "kernel" | "kernel-core") {
        return None;
    }
    release
        .starts_with(|c: char| c.is_ascii_digit())
        .then(|| release.to_string())
}

/// Pending updates from `apt-get -s dist-upgrade` `Inst` lines.
fn apt_pending(lines: &[&str]) -> Pending {
    let updates: Vec<Update> = lines.iter().filter_map(|line| apt_inst(line)).collect();
    if updates.is_empty() {
        let errors: Vec<&str> = lines
            .iter()
            .filter(|line| line.starts_with("E:"))
            .copied()
            .collect();
        if !errors.is_empty() {
            return Pending {
                error: Some(errors.join("; ")),
                ..Pending::empty("error")
            };
        }
    }
    Pending::listed(updates)
}

/// One `Inst name [current] (candidate Origin:Version/suite, ... [arch]) [...]` line.
fn apt_inst(line: &str) -> Option<Update> {
    let rest = line.strip_prefix("Inst ")?;
    let (name, rest) = rest.split_once(' ')?;
    let rest = rest.trim_start();
    let (current, rest) = match rest.strip_prefix('[') {
        Some(inner) => {
            let (current, rest) = inner.split_once(']')?;
            (current.trim().to_string(), rest.trim_start())
        }
        None => (UNKNOWN.to_string(), rest),
    };
    let inner = rest.strip_prefix('(')?;
    let inner = &inner[..inner.find(')')?];
    let (candidate, origins) = inner.split_once(' ').unwrap_or((inner, ""));
    let (origins, arch) = match origins.rfind('[') {
        Some(at) => (
            &origins[..at],
            origins[at + 1..].trim_end_matches(']').trim().to_string(),
        ),
        None => (origins, UNKNOWN.to_string()),
    };
    let sources: Vec<String> = origins
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let security = sources.iter().any(|source| {
        source
            .rsplit('/')
            .next()
            .is_some_and(|suite| suite.ends_with("-security"))
    });
    Some(Update {
        name: name.to_string(),
        arch,
        current,
        candidate: candidate.to_string(),
        security,
        sources,
    })
}

/// Pending updates from `dnf check-update` (exit 100: updates, 0: none, else an error),
/// `dnf updateinfo list --security` and `rpm -q` of the installed versions.
fn dnf_pending(lines: &Lines<'_>) -> Pending {
    let rc = lines.first("check_update_rc").map(str::trim);
    if !matches!(rc, Some("0" | "100")) {
        let said: Vec<&str> = lines
            .all("check_update")
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect();
        return Pending {
            error: Some(format!(
                "check-update exited {}: {}",
                rc.unwrap_or(UNKNOWN),
                said.join("; ")
            )),
            ..Pending::empty("error")
        };
    }
    let security: BTreeSet<&str> = lines
        .all("security")
        .iter()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[..] {
                [_advisory, kind, nevra] if kind.ends_with("/Sec.") || kind == "security" => {
                    Some(nevra)
                }
                _ => None,
            }
        })
        .collect();
    let mut installed: BTreeMap<&str, &str> = BTreeMap::new();
    for line in lines.all("installed") {
        if let Some((name_arch, version)) = line.split_once(' ') {
            let version = version.trim();
            let newer = installed
                .get(name_arch)
                .is_none_or(|old| compare_versions(version, old) == Ordering::Greater);
            if newer && !version.contains(' ') {
                installed.insert(name_arch, version);
            }
        }
    }
    let mut updates = Vec::new();
    for line in lines.all("check_update") {
        if line.trim() == "Obsoleting Packages" {
            break;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [name_arch, candidate, repo] = words[..] else {
            continue;
        };
        if line.starts_with(char::is_whitespace) {
            continue;
        }
        let Some((name, arch)) = name_arch.rsplit_once('.') else {
            continue;
        };
        let bare = |v: &str| v.split_once(':').map_or(v, |(_, rest)| rest).to_string();
        // dnf prints an advisory's NEVRA with the epoch when it is not 0, yum without.
        let nevras = [
            format!("{name}-{candidate}.{arch}"),
            format!("{name}-{}.{arch}", bare(candidate)),
        ];
        updates.push(Update {
            name: name.to_string(),
            arch: arch.to_string(),
            current: installed
                .get(name_arch)
                .map_or_else(|| UNKNOWN.to_string(), |v| strip_zero_epoch(v)),
            candidate: candidate.to_string(),
            security: nevras.iter().any(|n| security.contains(n.as_str())),
            sources: vec![repo.to_string()],
        });
    }
    Pending::listed(updates)
}

/// `3.0.7-25.el9` for `0:3.0.7-25.el9`, as dnf prints versions without an epoch.
fn strip_zero_epoch(version: &str) -> String {
    version.strip_prefix("0:").unwrap_or(version).to_string()
}

/// needrestart's `-b` lines.
fn needrestart(lines: &[&str]) -> NeedRestart {
    let mut facts = NeedRestart {
        checked: false,
        kernel_status: None,
        kernel_expected: None,
        services: Vec::new(),
        containers: Vec::new(),
    };
    for line in lines {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "NEEDRESTART-VER" => facts.checked = true,
            "NEEDRESTART-KSTA" => facts.kernel_status = value.parse().ok(),
            "NEEDRESTART-KEXP" if !value.is_empty() => {
                facts.kernel_expected = Some(value.to_string());
            }
            "NEEDRESTART-SVC" if !value.is_empty() => facts.services.push(value.to_string()),
            "NEEDRESTART-CONT" if !value.is_empty() => facts.containers.push(value.to_string()),
            _ => {}
        }
    }
    facts
}

/// `canonical-livepatch status` or `kpatch list`.
fn livepatch(lines: &Lines<'_>) -> Livepatch {
    let canonical = lines.all("livepatch");
    if !canonical.is_empty() {
        let field = |name: &str| {
            canonical.iter().find_map(|line| {
                let (key, value) = line.trim().split_once(':')?;
                (key.trim() == name).then(|| value.trim().to_string())
            })
        };
        let state = field("patch state")
            .map(|s| s.trim_start_matches(|c: char| !c.is_ascii_alphanumeric()).to_string())
            .unwrap_or_else(|| UNKNOWN.into());
        return Livepatch {
            tool: "canonical-livepatch".into(),
            state,
            patches: field("patch version").into_iter().collect(),
        };
    }
    let kpatch = lines.all("kpatch");
    if !kpatch.is_empty() {
        let mut loaded = Vec::new();
        let mut in_loaded = false;
        for line in kpatch {
            let line = line.trim();
            if line.ends_with(':') {
                in_loaded = line == "Loaded patch modules:";
            } else if in_loaded && !line.is_empty() {
                if let Some(module) = line.split_whitespace().next() {
                    loaded.push(module.to_string());
                }
            }
        }
        return Livepatch {
            tool: "kpatch".into(),
            state: if loaded.is_empty() { "none loaded" } else { "loaded" }.into(),
            patches: loaded,
        };
    }
    Livepatch {
        tool: "none".into(),
        state: UNKNOWN.into(),
        patches: Vec::new(),
    }
}

/// Orders versions and kernel releases as `sort -V` does, close enough to dpkg and rpm for
/// kernels: runs of digits compare as numbers, everything else byte by byte, `~` sorts first.
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (Some(b'~'), Some(b'~')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let na = trim_zeros(&a[..da]);
                let nb = trim_zeros(&b[..db]);
                let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) if x.is_ascii_digit() != y.is_ascii_digit() => {
                // A number sorts after a separator or letter: 6.1.0-18 > 6.1.0-rc.
                return if x.is_ascii_digit() {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded on this Debian 12 machine (see tests/fixtures/patch_facts/README.md).
    const DEBIAN12: &str = include_str!("../../../tests/fixtures/patch_facts/debian12.txt");
    /// RHEL 9 output assembled from the tools' documentation (same README).
    const RHEL9: &str = include_str!("../../../tests/fixtures/patch_facts/rhel9_reboot.txt");

    /// The Debian recording with `extra` lines added before its end.
    fn debian_with(extra: &str) -> PatchFacts {
        parse(&DEBIAN12.replace("end|1\n", &format!("{extra}end|1\n")))
    }

    #[test]
    fn debian_without_reboot_required_reports_os_kernel_and_pending_updates() {
        let facts = parse(DEBIAN12);
        assert!(facts.complete);
        assert_eq!(facts.os_family, "Debian");
        assert_eq!(facts.distribution, "Debian");
        assert_eq!(facts.distribution_version, "12");
        assert_eq!(facts.distribution_release, "bookworm");
        assert_eq!(facts.pkg_mgr, "apt");
        assert_eq!(facts.kernel.running, "6.18.44-fc-v657");
        assert_eq!(facts.kernel.newest_installed, UNKNOWN);
        assert!(!facts.kernel.newer_installed);
        assert_eq!(facts.pending.status, "ok");
        assert_eq!(facts.pending.count, 136);
        assert_eq!(facts.pending.security_count, 90);
        assert!(!facts.reboot_required);
        assert!(facts.reboot_reasons.is_empty());
        assert!(facts.needrestart.checked);
        assert_eq!(facts.needrestart.kernel_status, Some(0));
        assert!(facts.services_needing_restart.is_empty());
        assert_eq!(facts.livepatch.tool, "none");
    }

    #[test]
    fn apt_security_is_read_from_the_candidates_suites() {
        let facts = parse(DEBIAN12);
        let update = |name: &str| {
            facts
                .pending
                .updates
                .iter()
                .find(|u| u.name == name)
                .cloned()
                .expect("listed")
        };
        let bash = update("bash");
        assert_eq!(
            (bash.current.as_str(), bash.candidate.as_str(), bash.security),
            ("5.2.15-2+b8", "5.2.15-2+b13", false)
        );
        assert_eq!(bash.arch, "amd64");
        let gcrypt = update("libgcrypt20");
        assert!(gcrypt.security);
        assert_eq!(
            gcrypt.sources,
            ["Debian:12.15/oldstable", "Debian-Security:12/oldstable-security"]
        );
        let epoch = update("libcap2");
        assert_eq!(epoch.current, "1:2.66-4+deb12u2+b2");
        assert_eq!(epoch.candidate, "1:2.66-4+deb12u3+b1");
    }

    #[test]
    fn apt_new_packages_and_ubuntu_suites_are_understood() {
        let facts = parse(
            "apt|Inst linux-image-6.1.0-18-amd64 (6.1.76-1 Debian-Security:12/stable-security [amd64])\n\
             apt|Inst libssl3 [3.0.2-0ubuntu1.12] (3.0.2-0ubuntu1.14 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])\n\
             apt|Inst vim [2:9.0.1378-2] (2:9.0.1378-2+deb12u1 Debian:12.5/stable [amd64]) []\n\
             apt_done|1\nend|1\n",
        );
        let updates = &facts.pending.updates;
        assert_eq!(updates.len(), 3);
        assert_eq!(updates[0].current, UNKNOWN);
        assert!(updates[0].security && updates[1].security && !updates[2].security);
        assert_eq!(facts.pending.security_count, 2);
    }

    #[test]
    fn debian_with_reboot_required_gives_the_reason_and_packages() {
        let facts = debian_with(
            "reboot_file|/var/run/reboot-required\nreboot_pkg|linux-image-6.1.0-18-amd64\n\
             reboot_pkg|libc6\nreboot_pkg|libc6\n",
        );
        assert!(facts.reboot_required);
        assert_eq!(facts.reboot_reasons, [reason::REBOOT_REQUIRED_FILE]);
        assert_eq!(
            facts.reboot_required_pkgs,
            ["linux-image-6.1.0-18-amd64", "libc6"]
        );
    }

    #[test]
    fn a_newer_installed_debian_kernel_requires_a_reboot() {
        let facts = parse(
            "kernel|6.1.0-13-amd64\n\
             deb_kernel|linux-image-6.1.0-13-amd64 6.1.55-1 ii \n\
             deb_kernel|linux-image-6.1.0-9-amd64 6.1.27-1 rc \n\
             deb_kernel|linux-image-6.1.0-18-amd64 6.1.76-1 ii \n\
             deb_kernel|linux-image-amd64 6.1.76-1 ii \n\
             end|1\n",
        );
        assert_eq!(facts.kernel.installed, ["6.1.0-13-amd64", "6.1.0-18-amd64"]);
        assert_eq!(facts.kernel.newest_installed, "6.1.0-18-amd64");
        assert!(facts.kernel.newer_installed);
        assert!(facts.reboot_required);
        assert_eq!(facts.reboot_reasons, [reason::NEWER_KERNEL]);
    }

    #[test]
    fn the_running_kernel_being_newest_needs_no_reboot() {
        let facts = parse(
            "kernel|6.1.0-18-amd64\n\
             deb_kernel|linux-image-6.1.0-13-amd64 6.1.55-1 ii \n\
             deb_kernel|linux-image-6.1.0-18-amd64 6.1.76-1 ii \n\
             end|1\n",
        );
        assert!(!facts.kernel.newer_installed && !facts.reboot_required);
    }

    #[test]
    fn needrestart_ksta_3_and_two_services() {
        let facts = debian_with(
            "needrestart|NEEDRESTART-VER: 3.6\n\
             needrestart|NEEDRESTART-KCUR: 6.1.0-13-amd64\n\
             needrestart|NEEDRESTART-KEXP: 6.1.0-18-amd64\n\
             needrestart|NEEDRESTART-KSTA: 3\n\
             needrestart|NEEDRESTART-SVC: libvirtd.service\n\
             needrestart|NEEDRESTART-SVC: ssh.service\n\
             needrestart|NEEDRESTART-CONT: LXC web1\n",
        );
        // The recording's own KSTA 0 comes first; the later line wins.
        assert_eq!(facts.needrestart.kernel_status, Some(3));
        assert_eq!(
            facts.needrestart.kernel_expected.as_deref(),
            Some("6.1.0-18-amd64")
        );
        assert_eq!(
            facts.services_needing_restart,
            ["libvirtd.service", "ssh.service"]
        );
        assert_eq!(facts.needrestart.containers, ["LXC web1"]);
        assert!(facts.reboot_required);
        assert_eq!(facts.reboot_reasons, [reason::NEEDRESTART_KERNEL]);
    }

    #[test]
    fn rhel_needs_restarting_exit_1_requires_a_reboot_with_its_packages() {
        let facts = parse(RHEL9);
        assert!(facts.complete);
        assert_eq!(facts.os_family, "RedHat");
        assert_eq!(facts.distribution, "RedHat");
        assert_eq!(facts.distribution_version, "9.3");
        assert_eq!(facts.distribution_release, UNKNOWN);
        assert_eq!(facts.pkg_mgr, "dnf");
        assert_eq!(facts.kernel.newest_installed, "5.14.0-362.13.1.el9_3.x86_64");
        assert!(facts.kernel.newer_installed);
        assert!(facts.reboot_required);
        assert_eq!(
            facts.reboot_reasons,
            [reason::NEEDS_RESTARTING, reason::NEWER_KERNEL]
        );
        assert_eq!(facts.reboot_required_pkgs, ["kernel", "systemd"]);
        assert_eq!(facts.livepatch.tool, "kpatch");
        assert_eq!(facts.livepatch.state, "loaded");
        assert_eq!(facts.livepatch.patches, ["kpatch_5_14_0_362_8_1_1_1"]);
    }

    #[test]
    fn rhel_pending_updates_join_check_update_updateinfo_and_rpm() {
        let facts = parse(RHEL9);
        let pending = &facts.pending;
        assert_eq!(pending.status, "ok");
        let names: Vec<&str> = pending.updates.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["kernel", "kernel-core", "openssl", "tzdata"]);
        assert_eq!(pending.security_count, 3);
        let core = &pending.updates[1];
        assert_eq!(core.current, "5.14.0-362.13.1.el9_3");
        assert_eq!(core.candidate, "5.14.0-362.18.1.el9_3");
        assert_eq!(core.arch, "x86_64");
        assert_eq!(pending.updates[0].current, UNKNOWN);
        assert_eq!(pending.updates[2].current, "1:3.0.7-24.el9");
        assert!(!pending.updates[3].security);
    }

    #[test]
    fn rhel_no_reboot_and_a_failed_check_update() {
        let facts = parse(
            "os|ID=\"rocky\"\nos|ID_LIKE=\"rhel centos fedora\"\nos|VERSION_ID=\"9.3\"\n\
             kernel|5.14.0-362.8.1.el9_3.x86_64\ntool|dnf\ntool|rpm\n\
             check_update|Error: Failed to download metadata for repo 'baseos'\n\
             check_update_rc|1\n\
             needs_restarting|No core libraries or services have been updated since boot-up.\n\
             needs_restarting|Reboot should not be necessary.\nneeds_restarting_rc|0\nend|1\n",
        );
        assert_eq!(facts.distribution, "Rocky");
        assert_eq!(facts.os_family, "RedHat");
        assert!(!facts.reboot_required);
        assert_eq!(facts.pending.status, "error");
        assert!(facts
            .pending
            .error
            .as_deref()
            .is_some_and(|e| e.contains("Failed to download metadata")));
    }

    #[test]
    fn canonical_livepatch_status_is_read() {
        let facts = parse(
            "livepatch|last check: 57 minutes ago\n\
             livepatch|kernel: 5.15.0-91.101-generic\n\
             livepatch|server check-in: succeeded\n\
             livepatch|patch state: \u{2713} all applicable livepatch modules inserted\n\
             livepatch|patch version: 98.1\nlivepatch_rc|0\nend|1\n",
        );
        assert_eq!(facts.livepatch.tool, "canonical-livepatch");
        assert_eq!(
            facts.livepatch.state,
            "all applicable livepatch modules inserted"
        );
        assert_eq!(facts.livepatch.patches, ["98.1"]);
    }

    #[test]
    fn garbage_lines_are_ignored_and_missing_tools_are_unknown() {
        let facts = parse(
            "no tag here\n|\n||||\nweird|tag\nkernel\ndeb_kernel|linux-image-\n\
             deb_kernel|linux-image-6.1 x\nrpm_kernel|kernel\napt|Inst\napt|Inst x\n\
             apt|Inst y [1.0\napt|Inst z [1] (2\nneedrestart|NEEDRESTART-KSTA: lots\n\
             needrestart|:::\ncheck_update_rc|\u{fffd}\nkpatch|:\nos|=\nos|ID\n\u{0}|\u{0}\n",
        );
        assert!(!facts.complete);
        assert_eq!(facts.distribution, UNKNOWN);
        assert_eq!(facts.pkg_mgr, UNKNOWN);
        assert_eq!(facts.kernel.running, UNKNOWN);
        assert_eq!(facts.kernel.newest_installed, UNKNOWN);
        assert_eq!(facts.needrestart.kernel_status, None);
        assert!(!facts.reboot_required);
        assert_eq!(facts.pending.status, "error");
        assert_eq!(parse("").pending.status, UNKNOWN);
        assert!(!parse("").complete);
    }

    #[test]
    fn pending_false_is_reported_as_skipped() {
        let facts = parse("pending|skipped\nend|1\n");
        assert_eq!(facts.pending.status, "skipped");
        assert_eq!(facts.pending.count, 0);
    }

    #[test]
    fn versions_compare_like_sort_v() {
        use Ordering::*;
        assert_eq!(compare_versions("6.1.0-18-amd64", "6.1.0-9-amd64"), Greater);
        assert_eq!(compare_versions("6.1.0-13-amd64", "6.1.0-13-amd64"), Equal);
        assert_eq!(
            compare_versions("5.14.0-362.8.1.el9_3.x86_64", "5.14.0-362.13.1.el9_3.x86_64"),
            Less
        );
        assert_eq!(compare_versions("1.0~rc1", "1.0"), Less);
        assert_eq!(compare_versions("010", "9"), Greater);
        assert_eq!(compare_versions("", "1"), Less);
    }
}
