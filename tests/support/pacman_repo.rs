//! Real pacman packages and a pacman repository for the `pacman` tests: throwaway packages
//! (a `.PKGINFO` and one file, archived with `bsdtar`; no makepkg build), indexed with
//! `repo-add` into two databases — every package at 1.0, then at its newest version, which a
//! test publishes to play "the mirror moved on" — and an empty root per test whose own
//! `pacman.conf` puts `RootDir`, `DBPath`, `CacheDir`, `LogFile`, `GPGDir` and `HookDir` inside
//! it, so real pacman runs without touching the host.
//!
//! The packages and databases are built once per test process under `CARGO_TARGET_TMPDIR`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tempfile::TempDir;

/// The packages: name and versions (release 1, arch `any`). `linux` is Arch's kernel package
/// name, whose change the module reports as needing a reboot.
pub const PACKAGES: &[(&str, &[&str])] = &[
    ("rpatch-testpkg", &["1.0", "1.1"]),
    ("rpatch-other", &["1.0", "1.1"]),
    ("linux", &["1.0"]),
];

/// Which database a root's repository serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// Every package at 1.0.
    Old,
    /// Every package at its newest version.
    New,
}

/// The built packages and databases.
struct Built {
    packages: PathBuf,
    old: PathBuf,
    new: PathBuf,
}

/// Runs a tool the tests need, failing with its name and output.
fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {command:?} (apt-get install -y pacman-package-manager makepkg \
             libarchive-tools): {e}"
        )
    });
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds the packages and both databases, once per test process.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        remove_stale(tmp);
        let base = tmp.join(format!("pacman-repos-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let packages = base.join("packages");
        std::fs::create_dir_all(&packages).expect("packages dir");
        let mut old = Vec::new();
        let mut new = Vec::new();
        for (name, versions) in PACKAGES {
            for version in *versions {
                let tree = base.join("build").join(format!("{name}-{version}"));
                let share = tree.join("usr/share").join(name);
                std::fs::create_dir_all(&share).expect("package tree");
                std::fs::write(share.join("version"), format!("{version}\n")).expect("file");
                std::fs::write(
                    tree.join(".PKGINFO"),
                    format!(
                        "pkgname = {name}\npkgbase = {name}\npkgver = {version}-1\n\
                         pkgdesc = rpatch test package\nurl = https://example.invalid\n\
                         builddate = 1700000000\npackager = rpatch tests\nsize = 4\n\
                         arch = any\nlicense = MIT\n"
                    ),
                )
                .expect(".PKGINFO");
                let file = packages.join(format!("{name}-{version}-1-any.pkg.tar.gz"));
                run(Command::new("bsdtar")
                    .arg("-czf")
                    .arg(&file)
                    .arg("-C")
                    .arg(&tree)
                    .args([".PKGINFO", "usr"]));
                if *version == versions[0] {
                    old.push(file.clone());
                }
                if Some(version) == versions.last() {
                    new.push(file);
                }
            }
        }
        let database = |dir: &str, files: &[PathBuf]| {
            let dir = base.join(dir);
            std::fs::create_dir_all(&dir).expect("db dir");
            run(Command::new("repo-add")
                .arg("-q")
                .arg(dir.join("rpatch-test.db.tar.gz"))
                .args(files));
            dir
        };
        Built {
            old: database("old", &old),
            new: database("new", &new),
            packages,
        }
    })
}

/// Removes the repositories of earlier test processes that are gone.
fn remove_stale(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("pacman-repos-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// An empty root with its own `pacman.conf` and its own copy of the test repository.
pub struct PacmanRoot {
    dir: TempDir,
}

impl PacmanRoot {
    /// A fresh root whose repository serves `db`.
    pub fn new(db: Db) -> Self {
        let built = built();
        let dir = tempfile::tempdir().expect("pacman root");
        let root = dir.path();
        for sub in ["var/lib/pacman", "var/cache/pacman/pkg", "var/log", "repo"] {
            std::fs::create_dir_all(root.join(sub)).expect("root dirs");
        }
        for entry in std::fs::read_dir(&built.packages).expect("packages") {
            let path = entry.expect("package").path();
            std::os::unix::fs::symlink(
                &path,
                root.join("repo").join(path.file_name().expect("name")),
            )
            .expect("link package");
        }
        std::fs::write(
            root.join("pacman.conf"),
            format!(
                "[options]\nRootDir = {r}\nDBPath = {r}/var/lib/pacman/\n\
                 CacheDir = {r}/var/cache/pacman/pkg/\nLogFile = {r}/var/log/pacman.log\n\
                 GPGDir = {r}/etc/pacman.d/gnupg/\nHookDir = {r}/etc/pacman.d/hooks/\n\
                 Architecture = auto\nSigLevel = Never\n\n[rpatch-test]\nServer = file://{r}/repo\n",
                r = root.display()
            ),
        )
        .expect("pacman.conf");
        let root = Self { dir };
        root.publish(db);
        root
    }

    /// Makes the root's repository serve `db` (a mirror that moved on). The old database is
    /// dated a day back, so pacman's "modified since?" check sees the new one as newer even
    /// within the same second.
    pub fn publish(&self, db: Db) {
        let built = built();
        let (from, age) = match db {
            Db::Old => (&built.old, std::time::Duration::from_secs(86_400)),
            Db::New => (&built.new, std::time::Duration::ZERO),
        };
        let stamp = std::time::SystemTime::now() - age;
        for name in ["rpatch-test.db", "rpatch-test.files"] {
            let target = self.path().join("repo").join(name);
            let _ = std::fs::remove_file(&target);
            std::fs::copy(from.join(format!("{name}.tar.gz")), &target).expect("copy db");
            std::fs::File::options()
                .write(true)
                .open(&target)
                .and_then(|file| file.set_modified(stamp))
                .expect("date db");
        }
    }

    /// The root's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Its `pacman.conf`.
    pub fn config(&self) -> PathBuf {
        self.path().join("pacman.conf")
    }

    /// What pacman says is installed in the root: name → version-release.
    pub fn installed(&self) -> BTreeMap<String, String> {
        let output = Command::new("pacman")
            .arg("--config")
            .arg(self.config())
            .arg("-Q")
            .output()
            .expect("run pacman -Q");
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
