//! A throwaway apt repository and an isolated apt configuration for the `apt` module's tests.
//!
//! [`AptLab::start`] builds real `.deb` packages with `dpkg-deb --build`, lays them out as a
//! local `file:` repository with two suites, and writes apt configuration files that point apt
//! at that repository only: the machine's sources, preferences, package lists and caches are
//! replaced by the lab's (`Dir::Etc::SourceList`, `Dir::Etc::SourceParts`, `Dir::State`,
//! `Dir::Cache` …), so `apt-get update` never leaves 127.0.0.1 — it reads files. dpkg itself is
//! the machine's real dpkg: packages are really installed and removed.
//!
//! The suites:
//! - `stable` (`Suite: stable`): `rpatch-testpkg` 1.0 and 1.1, `rpatch-secpkg` 1.0,
//!   `rpatch-holdpkg` 1.0 and 1.1;
//! - `rpatch-security` (`Suite: stable-security`, `Codename: rpatch-security`, `Label:
//!   rpatch-test-security`): `rpatch-secpkg` 1.0.1.
//!
//! A test using a lab runs alone: the lab holds a process-wide mutex and an exclusive `flock`
//! on a file in /run/lock (so two test processes, e.g. two worktrees, do not interleave
//! either) for its whole life. On drop — also when the test panics — it unholds and purges the
//! lab's packages and restores the reboot-required files it replaced.
//!
//! The package indexes and the `Release` files are written here (with `sha256sum` for the
//! hashes) rather than by `apt-ftparchive` or `dpkg-scanpackages`, so the tests need nothing
//! beyond what every Debian system has: dpkg, apt and coreutils.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The packages a lab builds, and removes again.
pub const PACKAGES: [&str; 3] = ["rpatch-testpkg", "rpatch-secpkg", "rpatch-holdpkg"];

/// The `(package, version, suite)` triples of the lab repository.
const DEBS: [(&str, &str, &str); 6] = [
    ("rpatch-testpkg", "1.0", "stable"),
    ("rpatch-testpkg", "1.1", "stable"),
    ("rpatch-secpkg", "1.0", "stable"),
    ("rpatch-secpkg", "1.0.1", "rpatch-security"),
    ("rpatch-holdpkg", "1.0", "stable"),
    ("rpatch-holdpkg", "1.1", "stable"),
];

/// How long the lab waits for an apt or dpkg run by someone else on the machine.
const LOCK_PATIENCE: Duration = Duration::from_secs(120);

/// Serialises the tests that touch the system's dpkg within this process.
static SERIAL: Mutex<()> = Mutex::new(());

/// Which suites an apt configuration of the lab lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sources {
    /// `stable` and the security suite.
    WithSecurity,
    /// `stable` only.
    StableOnly,
}

/// A lab: the repository, its apt configurations and the serialisation it holds.
pub struct AptLab {
    dir: TempDir,
    /// The `(package, version, suite)` triples the repository serves now.
    debs: Vec<(String, String, String)>,
    /// The `Date:` of each suite's Release file, where a test set one.
    dates: Vec<(String, String)>,
    reboot: Option<RebootFiles>,
    // Released last (fields drop in order): the lab's cleanup runs while it is still held.
    _flock: File,
    _serial: MutexGuard<'static, ()>,
}

impl AptLab {
    /// Waits for the other apt tests, builds the repository and refreshes both configurations'
    /// package lists. Leftovers of an interrupted earlier run are purged first.
    pub fn start() -> Self {
        let serial = SERIAL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let flock = system_lock();
        prerequisites();
        purge_lab_packages();
        for package in PACKAGES {
            let leftover = Command::new("dpkg-query")
                .args(["-W", package])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            assert!(
                !leftover,
                "{package} is still known to dpkg and cannot be purged"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("rpatch-apt-")
            .tempdir()
            .expect("temp dir");
        // apt downloads as the `_apt` user, who must be able to read the repository.
        chmod(dir.path(), 0o755);
        let lab = Self {
            dir,
            debs: DEBS
                .iter()
                .map(|(p, v, s)| (p.to_string(), v.to_string(), s.to_string()))
                .collect(),
            dates: Vec::new(),
            reboot: None,
            _flock: flock,
            _serial: serial,
        };
        lab.build_repository();
        for sources in [Sources::WithSecurity, Sources::StableOnly] {
            lab.write_config(sources);
            lab.apt(sources, &["update", "-q"]);
        }
        lab
    }

    /// The lab directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The apt configuration file (for `APT_CONFIG`) listing `sources`.
    pub fn config(&self, sources: Sources) -> PathBuf {
        self.path().join(format!("{}.conf", config_name(sources)))
    }

    /// The directory of downloaded package files (`Dir::Cache::archives`) of a configuration.
    pub fn archives(&self, sources: Sources) -> PathBuf {
        self.path()
            .join(config_name(sources))
            .join("cache")
            .join("archives")
    }

    /// The package lists directory of a configuration.
    pub fn lists(&self, sources: Sources) -> PathBuf {
        self.path()
            .join(config_name(sources))
            .join("state")
            .join("lists")
    }

    /// Installs `package` at `version` with dpkg directly (a test's starting point).
    pub fn install(&self, package: &str, version: &str) {
        let deb = self.deb(package, version);
        run("dpkg", &["-i", &deb.display().to_string()], &[]);
    }

    /// The installed version of `package`, if dpkg has it installed.
    pub fn installed(&self, package: &str) -> Option<String> {
        let output = Command::new("dpkg-query")
            .args(["-W", "-f=${db:Status-Abbrev}|${Version}", package])
            .stderr(Stdio::null())
            .output()
            .expect("run dpkg-query");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (status, version) = text.split_once('|')?;
        (status.as_bytes().get(1) == Some(&b'i')).then(|| version.to_string())
    }

    /// True when dpkg still knows `package` at all (installed or configuration left).
    pub fn known(&self, package: &str) -> bool {
        let output = Command::new("dpkg-query")
            .args(["-W", "-f=${db:Status-Abbrev}", package])
            .stderr(Stdio::null())
            .output()
            .expect("run dpkg-query");
        let status = String::from_utf8_lossy(&output.stdout).into_owned();
        !status.is_empty() && status.as_bytes().get(1) != Some(&b'n')
    }

    /// `dpkg-query -W` of the lab's packages: what a test compares before and after.
    pub fn dpkg_state(&self) -> String {
        let output = Command::new("dpkg-query")
            .arg("-W")
            .arg("-f=${Package} ${db:Status-Abbrev} ${Version}\n")
            .args(PACKAGES)
            .stderr(Stdio::null())
            .output()
            .expect("run dpkg-query");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Puts `package` on hold (`apt-mark hold`, dpkg's selection state).
    pub fn hold(&self, package: &str) {
        run("apt-mark", &["hold", package], &[]);
    }

    /// Marks `package` automatically installed, in the lab's own `extended_states`.
    pub fn mark_auto(&self, package: &str, sources: Sources) {
        let config = self.config(sources).display().to_string();
        run("apt-mark", &["auto", package], &[("APT_CONFIG", &config)]);
    }

    /// Writes `/var/run/reboot-required` and its `.pkgs` listing `packages`; the originals (if
    /// any) come back when the lab is dropped.
    pub fn require_reboot(&mut self, packages: &[&str]) {
        if self.reboot.is_none() {
            self.reboot = Some(RebootFiles::save());
        }
        std::fs::write(REBOOT_REQUIRED, "*** System restart required ***\n")
            .expect("write reboot-required");
        let list: String = packages.iter().map(|p| format!("{p}\n")).collect();
        std::fs::write(REBOOT_REQUIRED_PKGS, list).expect("write reboot-required.pkgs");
    }

    /// Removes `/var/run/reboot-required` and its `.pkgs` (the machine needs no reboot while
    /// the lab lives); the originals (if any) come back when the lab is dropped.
    pub fn no_reboot_required(&mut self) {
        if self.reboot.is_none() {
            self.reboot = Some(RebootFiles::save());
        }
        for path in [REBOOT_REQUIRED, REBOOT_REQUIRED_PKGS] {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Holds dpkg's frontend lock (an `fcntl` lock, as apt and dpkg take it) until the guard
    /// is dropped.
    pub fn hold_dpkg_lock(&self) -> DpkgLock {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(DPKG_FRONTEND_LOCK)
            .expect("open dpkg's lock-frontend");
        // Another apt or dpkg on the machine may hold it for a moment: wait, as apt would.
        let deadline = Instant::now() + LOCK_PATIENCE;
        while let Err(error) =
            rustix::fs::fcntl_lock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        {
            assert!(
                Instant::now() < deadline,
                "cannot take dpkg's frontend lock: {error} (another apt or dpkg kept it)"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        DpkgLock { _file: file }
    }

    /// Publishes a new version of a lab package in `suite` (a mirror moving on), and
    /// refreshes both configurations' package lists.
    pub fn publish(&mut self, package: &str, version: &str, suite: &str) {
        assert!(
            PACKAGES.contains(&package),
            "{package} is not a lab package"
        );
        self.debs
            .push((package.to_string(), version.to_string(), suite.to_string()));
        self.build_deb(package, version, suite);
        self.refresh();
    }

    /// Takes a version out of the repository indexes (a mirror that dropped it), and
    /// refreshes both configurations' package lists.
    pub fn withdraw(&mut self, package: &str, version: &str) {
        self.debs
            .retain(|(p, v, _)| !(p == package && v == version));
        self.refresh();
    }

    /// Sets the `Date:` of `suite`'s Release file (RFC 2822, as apt writes it: `Thu, 01 Jan
    /// 2026 00:00:00 UTC`; the lab's default), and refreshes both configurations' lists.
    pub fn set_release_date(&mut self, suite: &str, date: &str) {
        self.dates.retain(|(s, _)| s != suite);
        self.dates.push((suite.to_string(), date.to_string()));
        self.refresh();
    }

    fn refresh(&self) {
        self.write_indexes();
        for sources in [Sources::WithSecurity, Sources::StableOnly] {
            self.apt(sources, &["update", "-q"]);
        }
    }

    fn deb(&self, package: &str, version: &str) -> PathBuf {
        let (_, _, suite) = self
            .debs
            .iter()
            .find(|(p, v, _)| p == package && v == version)
            .unwrap_or_else(|| panic!("the lab has no {package} {version}"));
        self.path()
            .join("repo/pool")
            .join(suite)
            .join(format!("{package}_{version}_all.deb"))
    }

    fn build_repository(&self) {
        for (package, version, suite) in DEBS {
            self.build_deb(package, version, suite);
        }
        self.write_indexes();
    }

    fn build_deb(&self, package: &str, version: &str, suite: &str) {
        let repo = self.path().join("repo");
        {
            let root = self
                .path()
                .join("build")
                .join(format!("{package}-{version}"));
            std::fs::create_dir_all(root.join("DEBIAN")).expect("create DEBIAN");
            let share = root.join("usr/share").join(package);
            std::fs::create_dir_all(&share).expect("create share dir");
            std::fs::write(share.join("version"), format!("{version}\n")).expect("payload");
            std::fs::write(
                root.join("DEBIAN/control"),
                format!(
                    "Package: {package}\nVersion: {version}\nArchitecture: all\n\
                     Maintainer: rpatch tests <rpatch-tests@example.invalid>\n\
                     Section: misc\nPriority: optional\n\
                     Description: throwaway package of rpatch's apt tests\n"
                ),
            )
            .expect("write control");
            let pool = repo.join("pool").join(suite);
            std::fs::create_dir_all(&pool).expect("create pool");
            let deb = pool.join(format!("{package}_{version}_all.deb"));
            run(
                "dpkg-deb",
                &[
                    "--build",
                    "--root-owner-group",
                    &root.display().to_string(),
                    &deb.display().to_string(),
                ],
                &[],
            );
        }
    }

    /// The `Packages` and `Release` files of both suites, from what the lab serves now.
    fn write_indexes(&self) {
        let repo = self.path().join("repo");
        for (suite, archive, label) in [
            ("stable", "stable", "rpatch-test"),
            ("rpatch-security", "stable-security", "rpatch-test-security"),
        ] {
            let dist = repo.join("dists").join(suite);
            let index_dir = dist.join("main/binary-all");
            std::fs::create_dir_all(&index_dir).expect("create dists");
            let mut index = String::new();
            for (package, version, _) in self.debs.iter().filter(|(_, _, s)| s == suite) {
                let deb = self.deb(package, version);
                let size = std::fs::metadata(&deb).expect("deb size").len();
                index.push_str(&format!(
                    "Package: {package}\nVersion: {version}\nArchitecture: all\n\
                     Maintainer: rpatch tests <rpatch-tests@example.invalid>\n\
                     Section: misc\nPriority: optional\n\
                     Filename: pool/{suite}/{package}_{version}_all.deb\nSize: {size}\n\
                     SHA256: {}\nDescription: throwaway package of rpatch's apt tests\n\n",
                    sha256(&deb)
                ));
            }
            let date = self
                .dates
                .iter()
                .find(|(s, _)| s == suite)
                .map_or("Thu, 01 Jan 2026 00:00:00 UTC", |(_, date)| date.as_str());
            let packages = index_dir.join("Packages");
            std::fs::write(&packages, &index).expect("write Packages");
            std::fs::write(
                dist.join("Release"),
                format!(
                    "Origin: rpatch-test\nLabel: {label}\nSuite: {archive}\nCodename: {suite}\n\
                     Date: {date}\nArchitectures: all\nComponents: main\n\
                     Description: rpatch apt test repository\nSHA256:\n {} {} main/binary-all/Packages\n",
                    sha256(&packages),
                    index.len()
                ),
            )
            .expect("write Release");
        }
    }

    fn write_config(&self, sources: Sources) {
        let name = config_name(sources);
        let base = self.path().join(name);
        for sub in [
            "sources.list.d",
            "preferences.d",
            "state/lists/partial",
            "cache/archives/partial",
        ] {
            std::fs::create_dir_all(base.join(sub)).expect("create apt dirs");
        }
        let repo = self.path().join("repo");
        let mut list = format!("deb [trusted=yes] file:{} stable main\n", repo.display());
        if sources == Sources::WithSecurity {
            list.push_str(&format!(
                "deb [trusted=yes] file:{} rpatch-security main\n",
                repo.display()
            ));
        }
        std::fs::write(base.join("sources.list"), list).expect("write sources.list");
        let b = base.display();
        std::fs::write(
            self.config(sources),
            format!(
                "Dir::Etc::SourceList \"{b}/sources.list\";\n\
                 Dir::Etc::SourceParts \"{b}/sources.list.d\";\n\
                 Dir::Etc::Preferences \"{b}/preferences\";\n\
                 Dir::Etc::PreferencesParts \"{b}/preferences.d\";\n\
                 Dir::State \"{b}/state\";\n\
                 Dir::Cache \"{b}/cache\";\n\
                 Acquire::Languages \"none\";\n"
            ),
        )
        .expect("write apt.conf");
    }

    fn apt(&self, sources: Sources, args: &[&str]) {
        let config = self.config(sources).display().to_string();
        run("apt-get", args, &[("APT_CONFIG", &config)]);
    }
}

impl Drop for AptLab {
    fn drop(&mut self) {
        purge_lab_packages();
        if let Some(reboot) = self.reboot.take() {
            reboot.restore();
        }
    }
}

/// Holds dpkg's frontend lock while alive (see [`AptLab::hold_dpkg_lock`]).
pub struct DpkgLock {
    _file: File,
}

const DPKG_FRONTEND_LOCK: &str = "/var/lib/dpkg/lock-frontend";
const REBOOT_REQUIRED: &str = "/var/run/reboot-required";
const REBOOT_REQUIRED_PKGS: &str = "/var/run/reboot-required.pkgs";

/// The reboot-required files as they were before a test replaced them.
struct RebootFiles {
    flag: Option<Vec<u8>>,
    pkgs: Option<Vec<u8>>,
}

impl RebootFiles {
    fn save() -> Self {
        Self {
            flag: std::fs::read(REBOOT_REQUIRED).ok(),
            pkgs: std::fs::read(REBOOT_REQUIRED_PKGS).ok(),
        }
    }

    fn restore(self) {
        for (path, saved) in [
            (REBOOT_REQUIRED, self.flag),
            (REBOOT_REQUIRED_PKGS, self.pkgs),
        ] {
            match saved {
                Some(bytes) => {
                    let _ = std::fs::write(path, bytes);
                }
                None => {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}

fn config_name(sources: Sources) -> &'static str {
    match sources {
        Sources::WithSecurity => "apt-security",
        Sources::StableOnly => "apt-stable",
    }
}

/// Takes the machine-wide lock of the apt tests (blocking until other test processes are done).
fn system_lock() -> File {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open({
            let _ = std::fs::create_dir_all("/run/lock");
            "/run/lock/rpatch-apt-tests.lock"
        })
        .expect("open /run/lock/rpatch-apt-tests.lock");
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .expect("lock /run/lock/rpatch-apt-tests.lock");
    file
}

/// Unholds and purges the lab's packages that dpkg knows. Never panics (it runs in `drop`).
fn purge_lab_packages() {
    for package in PACKAGES {
        let known = Command::new("dpkg-query")
            .args(["-W", package])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if known {
            let _ = attempt("apt-mark", &["unhold", package], &[]);
            let _ = attempt("dpkg", &["--force-hold", "--purge", package], &[]);
        }
    }
}

fn sha256(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(output.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .expect("a hash")
        .to_string()
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Runs a command, tried again while another apt or dpkg holds dpkg's lock.
fn attempt(program: &str, args: &[&str], env: &[(&str, &str)]) -> std::io::Result<Output> {
    let deadline = Instant::now() + LOCK_PATIENCE;
    loop {
        let output = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()?;
        let locked =
            !output.status.success() && String::from_utf8_lossy(&output.stderr).contains("lock");
        if !locked || Instant::now() > deadline {
            return Ok(output);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs a setup command that must succeed.
fn run(program: &str, args: &[&str], env: &[(&str, &str)]) {
    let output = attempt(program, args, env).unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The apt tests change the system's packages: they need root, dpkg, apt and coreutils.
fn prerequisites() {
    for (path, package) in [
        ("/usr/bin/dpkg-deb", "dpkg"),
        ("/usr/bin/dpkg-query", "dpkg"),
        ("/usr/bin/apt-get", "apt"),
        ("/usr/bin/apt-mark", "apt"),
        ("/usr/bin/sha256sum", "coreutils"),
    ] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: the apt tests need it (apt-get install {package})"
        );
    }
    let uid = Command::new("id").arg("-u").output().expect("run id");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "the apt tests install and remove packages with the system's dpkg: run them as root"
    );
}
