//! Real rpm packages and rpm-md repositories for the `dnf` and `zypper` tests: throwaway
//! noarch rpms built with `rpmbuild`, local repositories made with `createrepo_c` (one carrying
//! an `updateinfo.xml` with a security and a recommended advisory, added with `modifyrepo_c`),
//! and an empty root per test (dnf's `--installroot`, zypper's `--root`), so real dnf and
//! zypper run without touching the host's rpm database.
//!
//! The rpms and repositories are built once per test process, under cargo's
//! `CARGO_TARGET_TMPDIR`; each [`RpmRoot`] lives in its own temp dir and goes with it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tempfile::TempDir;

/// The packages in the repositories: name and versions, all release 1.
///
/// `rpatch-basepkg` has a third version for the baseline tests (a mirror that moved on).
/// `rpatch-testpkg` 1.1 is the one security advisory (`rpatch-other` 1.1 a recommended one);
/// `linux-firmware` is a name `dnf needs-restarting -r` counts as a core package, and the
/// zypper roots list it in libzypp's `/etc/zypp/needreboot`, so installing it asks for a reboot.
pub const PACKAGES: &[(&str, &[&str])] = &[
    ("rpatch-testpkg", &["1.0", "1.1"]),
    ("rpatch-other", &["1.0", "1.1"]),
    ("linux-firmware", &["1.0"]),
    ("rpatch-basepkg", &["1.0", "1.1", "1.2"]),
];

/// Which repository an installroot uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repo {
    /// Every package, and an updateinfo marking `rpatch-testpkg-1.1-1` as a security fix and
    /// `rpatch-other-1.1-1` as a recommended (bug-fix) update.
    WithAdvisories,
    /// The same packages, no updateinfo at all.
    Plain,
}

/// The built repositories.
struct Built {
    advisories: PathBuf,
    plain: PathBuf,
}

/// Runs a tool the tests need, failing with its name and output.
fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| {
        panic!("cannot run {command:?} (apt-get install -y dnf rpm createrepo-c): {e}")
    });
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds the rpms and both repositories, once per test process.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        remove_stale(tmp);
        let base = tmp.join(format!("rpm-repos-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let top = base.join("rpmbuild");
        let spec = base.join("pkg.spec");
        std::fs::create_dir_all(&top).expect("rpmbuild dir");
        std::fs::write(
            &spec,
            "Name: %{pkg}\nVersion: %{ver}\nRelease: 1\nSummary: rpatch test package\n\
             License: MIT\nBuildArch: noarch\n%description\nA throwaway package for rpatch tests.\n\
             %install\nmkdir -p %{buildroot}/usr/share/%{pkg}\n\
             echo %{ver} > %{buildroot}/usr/share/%{pkg}/version\n\
             %files\n/usr/share/%{pkg}/version\n",
        )
        .expect("write spec");
        for (name, versions) in PACKAGES {
            for version in *versions {
                run(Command::new("rpmbuild")
                    .arg("-bb")
                    .arg("--define")
                    .arg(format!("_topdir {}", top.display()))
                    .arg("--define")
                    .arg(format!("pkg {name}"))
                    .arg("--define")
                    .arg(format!("ver {version}"))
                    .arg(&spec));
            }
        }
        let rpms = top.join("RPMS/noarch");
        let make_repo = |dir: &Path| {
            std::fs::create_dir_all(dir).expect("repo dir");
            for entry in std::fs::read_dir(&rpms).expect("built rpms") {
                let path = entry.expect("rpm").path();
                std::fs::copy(&path, dir.join(path.file_name().expect("file name")))
                    .expect("copy rpm");
            }
            run(Command::new("createrepo_c").arg("--quiet").arg(dir));
        };
        let advisories = base.join("advisories");
        let plain = base.join("plain");
        make_repo(&advisories);
        make_repo(&plain);
        let updateinfo = base.join("updateinfo.xml");
        std::fs::write(&updateinfo, UPDATEINFO).expect("write updateinfo");
        run(Command::new("modifyrepo_c")
            .arg("--mdtype=updateinfo")
            .arg(&updateinfo)
            .arg(advisories.join("repodata")));
        Built { advisories, plain }
    })
}

/// Removes the repositories of earlier test processes that are gone (statics are never
/// dropped, so each process leaves its own behind until the next one starts).
fn remove_stale(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("rpm-repos-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// `rpatch-testpkg-1.1-1` is a security update; `rpatch-other-1.1-1` a recommended one, which
/// neither `dnf --security` nor `zypper patch --category security` takes.
const UPDATEINFO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="rpatch@example.invalid" status="stable" type="security" version="2.0">
    <id>RPATCH-SA-2026:0001</id>
    <title>rpatch-testpkg security update</title>
    <issued date="2026-01-01 00:00:00"/>
    <severity>Important</severity>
    <description>Fixes a test vulnerability.</description>
    <pkglist>
      <collection short="rpatch">
        <name>rpatch</name>
        <package name="rpatch-testpkg" version="1.1" release="1" epoch="0" arch="noarch">
          <filename>rpatch-testpkg-1.1-1.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
  <update from="rpatch@example.invalid" status="stable" type="recommended" version="2.0">
    <id>RPATCH-RA-2026:0002</id>
    <title>rpatch-other bug fix</title>
    <issued date="2026-01-02 00:00:00"/>
    <severity>Moderate</severity>
    <description>Fixes a test bug.</description>
    <pkglist>
      <collection short="rpatch">
        <name>rpatch</name>
        <package name="rpatch-other" version="1.1" release="1" epoch="0" arch="noarch">
          <filename>rpatch-other-1.1-1.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
"#;

/// The directory of one of the test repositories.
fn repo_dir(repo: Repo) -> &'static Path {
    let built = built();
    match repo {
        Repo::WithAdvisories => &built.advisories,
        Repo::Plain => &built.plain,
    }
}

/// An empty root whose only repository is one of the test repositories.
pub struct RpmRoot {
    dir: TempDir,
}

impl RpmRoot {
    /// A fresh root for dnf, which finds the repository in the root's own `/etc/yum.repos.d`.
    pub fn new(repo: Repo) -> Self {
        let url = repo_dir(repo);
        let dir = tempfile::tempdir().expect("installroot");
        let repos = dir.path().join("etc/yum.repos.d");
        std::fs::create_dir_all(&repos).expect("repos dir");
        std::fs::write(
            repos.join("rpatch-test.repo"),
            format!(
                "[rpatch-test]\nname=rpatch test\nbaseurl=file://{}\nenabled=1\ngpgcheck=0\n\
                 metadata_expire=0\n",
                url.display()
            ),
        )
        .expect("repo file");
        Self { dir }
    }

    /// A fresh root for zypper: the repository (`dir:`, no GPG check) in the root's
    /// `/etc/zypp/repos.d`, and `linux-firmware` in its `/etc/zypp/needreboot`, the list of
    /// packages after whose installation libzypp flags `/run/reboot-needed` (SLES lists its
    /// kernels and core libraries there).
    pub fn zypper(repo: Repo) -> Self {
        let url = repo_dir(repo);
        let dir = tempfile::tempdir().expect("zypper root");
        let zypp = dir.path().join("etc/zypp");
        std::fs::create_dir_all(zypp.join("repos.d")).expect("repos dir");
        std::fs::write(
            zypp.join("repos.d/rpatch-test.repo"),
            format!(
                "[rpatch-test]\nname=rpatch test\nbaseurl=dir:{}\nenabled=1\nautorefresh=1\n\
                 gpgcheck=0\n",
                url.display()
            ),
        )
        .expect("repo file");
        std::fs::write(zypp.join("needreboot"), "linux-firmware\n").expect("needreboot");
        Self { dir }
    }

    /// Where zypper logs for this root (`ZYPP_LOGFILE`; its default is the host's
    /// `/var/log/zypper.log`, whatever `--root` says).
    pub fn zypper_log(&self) -> PathBuf {
        self.path().join("zypper.log")
    }

    /// The root's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `dnf` arguments every test passes: this root, a release version (an empty root has
    /// no release package to read it from), no GPG keys, no weak dependencies, and the
    /// plugins off that write outside the root whatever `--installroot` says: dnf-plugins-core's
    /// `local` (copies packages into /var/lib/dnf/plugins/local) and dnf's own
    /// `generate_completion_cache` (writes /var/cache/dnf/packages.db).
    pub fn args(&self) -> String {
        format!(
            "installroot: {}\n        releasever: \"9\"\n        disable_gpg_check: true\n        \
             install_weak_deps: false\n        \
             disable_plugin: [local, generate_completion_cache]\n",
            self.path().display()
        )
    }

    /// What rpm says is installed in the root: name → version-release.
    pub fn installed(&self) -> BTreeMap<String, String> {
        let output = Command::new("rpm")
            .arg("--root")
            .arg(self.path())
            .args(["-qa", "--qf", "%{NAME} %{VERSION}-%{RELEASE}\\n"])
            .output()
            .expect("run rpm");
        assert!(output.status.success(), "rpm -qa failed: {output:?}");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(name, version)| (name.to_string(), version.to_string()))
            .collect()
    }

    /// The version of one package, if installed.
    pub fn version_of(&self, name: &str) -> Option<String> {
        self.installed().get(name).cloned()
    }
}
