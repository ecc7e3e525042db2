//! The KVM lab: real libvirtd + QEMU "hypervisors" on this machine, reached over SSH like real
//! ones, built by the tests from the recipe in the shared notes (labs/kvm-lab.md).
//!
//! `KvmLab::new().guest(1, "web01").guest(2, "db01").start()` gives two hypervisors,
//! `virthost01` and `virthost02`. Each is its own mount+UTS namespace (`unshare`) with private
//! libvirt directories under the lab's temp dir, its own `libvirtd`, and its own sshd of a test
//! [`Fleet`] started inside the namespace (`nsenter`), so `virsh` run over SSH there talks to
//! that host's libvirtd only. Guests are tiny real QEMU domains (64 MiB, a boot sector that
//! powers off on ACPI shutdown). The shell side is `tests/lab/kvm-lab.sh`.
//!
//! For live migration each libvirtd also listens on `qemu+tcp://127.0.0.1:PORT/system` (a free
//! port picked per host, no authentication, loopback only) — the inventory's
//! `rpatch_libvirt_uri` of the host — and every namespace's /etc/hosts names every
//! `virthostNN` at its own 127.0.1.N address. A [`KvmLabBuilder::shared_guest`]'s image lives
//! in a directory every hypervisor sees, like an NFS export.
//!
//! Everything is stopped by PID on drop: every process living in a hypervisor's namespace
//! (domains destroyed first). Each lab dir names its owner (`pid start`); at the first start
//! in a test process, labs whose owner is gone (a crashed or killed run) are stopped and
//! removed. A missing prerequisite fails the test naming the package.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::fleet::Fleet;
use super::Project;

/// Where every lab's directory is made, as `rpatch-kvm-lab-*`.
const LAB_PARENT: &str = "/tmp";
const LAB_PREFIX: &str = "rpatch-kvm-lab-";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/kvm-lab.sh")
}

/// How a lab is laid out.
pub struct KvmLabBuilder {
    hypervisors: usize,
    guests: Vec<(usize, String, Option<&'static str>)>,
    guest_systems: bool,
}

/// A running lab; stopped on drop.
pub struct KvmLab {
    dir: PathBuf,
    holders: Vec<Child>,
    /// Each hypervisor's libvirtd TCP port (loopback only).
    ports: Vec<u16>,
    /// The guests (home hypervisor, name), in the order they were asked for.
    guests: Vec<(usize, String)>,
    /// With [`KvmLabBuilder::guest_systems`]: the fleet's hosts after the hypervisors are
    /// the guests' systems, in `guests` order.
    guest_systems: bool,
    /// The hypervisors' sshd processes (inventory `virthost01`, …); dropped after the lab
    /// has stopped everything in the namespaces.
    pub fleet: Fleet,
    /// How long building took.
    pub setup_time: Duration,
}

impl KvmLab {
    /// A builder for a lab of two hypervisors without guests.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> KvmLabBuilder {
        KvmLabBuilder {
            hypervisors: 2,
            guests: Vec::new(),
            guest_systems: false,
        }
    }
}

impl KvmLabBuilder {
    /// How many hypervisors.
    pub fn hypervisors(mut self, count: usize) -> Self {
        self.hypervisors = count;
        self
    }

    /// A running guest `name` on hypervisor `host` (1-based).
    pub fn guest(mut self, host: usize, name: &str) -> Self {
        self.guests.push((host, name.to_string(), None));
        self
    }

    /// A running guest `name` on hypervisor `host` whose image is on storage every
    /// hypervisor of the lab sees: it can migrate live (with `unsafe`, as libvirt cannot
    /// prove a local path is shared).
    pub fn shared_guest(mut self, host: usize, name: &str) -> Self {
        self.guests.push((host, name.to_string(), Some("shared")));
        self
    }

    /// A running guest `name` on hypervisor `host` that never answers ACPI shutdown: its
    /// disk is blank, so SeaBIOS loops looking for something to boot, as a hung OS would.
    pub fn hung_guest(mut self, host: usize, name: &str) -> Self {
        self.guests.push((host, name.to_string(), Some("hung")));
        self
    }

    /// Each guest also gets an sshd of the fleet, outside the hypervisors' namespaces, standing
    /// for the guest's operating system (the QEMU domain boots none): see
    /// [`KvmLab::guest_inventory`].
    pub fn guest_systems(mut self) -> Self {
        self.guest_systems = true;
        self
    }

    /// Builds the hypervisors and guests; waits until every libvirtd answers.
    pub fn start(self) -> KvmLab {
        let started = Instant::now();
        prerequisites();
        let dir = tempfile::Builder::new()
            .prefix(LAB_PREFIX)
            .tempdir_in(LAB_PARENT)
            .expect("lab dir")
            .keep();
        let me = std::process::id();
        std::fs::write(
            dir.join("owner"),
            format!("{me} {}\n", start_time(me).expect("own start time")),
        )
        .expect("lab owner file");
        let mut holders = Vec::new();
        let ports: Vec<u16> = (0..self.hypervisors).map(|_| free_port()).collect();
        for n in 1..=self.hypervisors {
            let log = std::fs::File::create(dir.join(format!("h{n}.out"))).expect("holder log");
            let holder = Command::new("unshare")
                .args(["-m", "-u", "--propagation", "private", "sh"])
                .arg(script())
                .arg("host")
                .arg(&dir)
                .arg(n.to_string())
                .arg(ports[n - 1].to_string())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("holder log"))
                .stderr(log)
                .spawn()
                .expect("start unshare");
            holders.push(holder);
        }
        // The lab exists from here on: a failure below still stops what started.
        let mut lab = PartialLab {
            dir: Some(dir.clone()),
            holders,
        };
        lab.wait_ready(self.hypervisors);
        let launchers = lab
            .holders
            .iter()
            .map(|holder| {
                ["nsenter", "-t", &holder.id().to_string(), "-m", "-u", "--"]
                    .map(String::from)
                    .to_vec()
            })
            .collect();
        let systems = if self.guest_systems {
            self.guests.len()
        } else {
            0
        };
        let fleet = Fleet::new()
            .hosts(self.hypervisors + systems)
            .prefix("virthost")
            .launchers(launchers)
            .start();
        let pids: Vec<u32> = lab.holders.iter().map(Child::id).collect();
        std::thread::scope(|scope| {
            let dir = &dir;
            let pids = &pids;
            let runs: Vec<_> = self
                .guests
                .iter()
                .map(|(host, name, kind)| {
                    scope.spawn(move || {
                        let output = guest_command(pids[host - 1], dir, *host, name, *kind)
                            .output()
                            .expect("run kvm-lab.sh guest");
                        (name.clone(), output)
                    })
                })
                .collect();
            for run in runs {
                let (name, output) = run.join().expect("guest thread");
                assert!(
                    output.status.success(),
                    "guest {name} did not start: {}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        });
        let (dir, holders) = lab.take();
        KvmLab {
            dir,
            holders,
            ports,
            guests: self
                .guests
                .iter()
                .map(|(host, name, _)| (*host, name.clone()))
                .collect(),
            guest_systems: self.guest_systems,
            fleet,
            setup_time: started.elapsed(),
        }
    }
}

/// A lab being built: stops itself if building panics.
struct PartialLab {
    dir: Option<PathBuf>,
    holders: Vec<Child>,
}

impl PartialLab {
    fn wait_ready(&mut self, count: usize) {
        let dir = self.dir.clone().expect("lab dir");
        let deadline = Instant::now() + Duration::from_secs(60);
        for n in 1..=count {
            while !dir.join(format!("h{n}/ready")).exists() {
                let log =
                    || std::fs::read_to_string(dir.join(format!("h{n}.out"))).unwrap_or_default();
                if let Ok(Some(status)) = self.holders[n - 1].try_wait() {
                    panic!(
                        "hypervisor virthost{n:02} did not start ({status}):\n{}",
                        log()
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "hypervisor virthost{n:02} not ready after 60 s:\n{}",
                    log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn take(&mut self) -> (PathBuf, Vec<Child>) {
        (
            self.dir.take().expect("lab dir"),
            std::mem::take(&mut self.holders),
        )
    }
}

impl Drop for PartialLab {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            stop(&dir, &mut self.holders);
        }
    }
}

impl KvmLab {
    /// The lab's directory (hypervisor N's libvirt files are under `hN/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Inventory name of hypervisor `n` (1-based).
    pub fn host(n: usize) -> String {
        format!("virthost{n:02}")
    }

    /// A project whose inventory is the hypervisors, with the fleet's environment; each
    /// hypervisor's `rpatch_libvirt_uri` is its [`KvmLab::uri`].
    pub fn project(&self) -> Project {
        self.project_with("")
    }

    /// [`KvmLab::project`] with `extra` appended to its YAML inventory (more hosts under
    /// `all.hosts`, indented by four spaces, or `  children:` groups).
    pub fn project_with(&self, extra: &str) -> Project {
        let mut inventory = String::from("all:\n  hosts:\n");
        for n in 1..=self.ports.len() {
            inventory
                .push_str(&self.fleet_block(self.fleet.hosts[n - 1].name.as_str(), &Self::host(n)));
            inventory.push_str(&format!("      rpatch_libvirt_uri: {}\n", self.uri(n)));
        }
        inventory.push_str(extra);
        self.fleet.project_with_inventory(&inventory)
    }

    /// With [`KvmLabBuilder::guest_systems`]: YAML inventory lines (under `all.hosts`) for
    /// guest `name`, reached over SSH at its own sshd, with `rpatch_hypervisor` its home
    /// hypervisor and `rpatch_domain` its QEMU domain.
    pub fn guest_inventory(&self, name: &str) -> String {
        assert!(
            self.guest_systems,
            "the lab was built without guest_systems()"
        );
        let index = self
            .guests
            .iter()
            .position(|(_, guest)| guest == name)
            .unwrap_or_else(|| panic!("no guest {name} in the lab"));
        let (home, _) = &self.guests[index];
        let system = &self.fleet.hosts[self.ports.len() + index].name;
        format!(
            "{}      rpatch_hypervisor: {}\n      rpatch_domain: {name}\n",
            self.fleet_block(system, name),
            Self::host(*home)
        )
    }

    /// The fleet's inventory lines for its host `fleet_name`, named `name`.
    fn fleet_block(&self, fleet_name: &str, name: &str) -> String {
        let mut block = String::new();
        let mut inside = false;
        for line in self.fleet.inventory().lines() {
            if line.starts_with("    ") && !line.starts_with("      ") {
                inside = line.trim().trim_end_matches(':') == fleet_name;
                if inside {
                    block.push_str(&format!("    {name}:\n"));
                }
            } else if inside {
                block.push_str(line);
                block.push('\n');
            }
        }
        assert!(!block.is_empty(), "no fleet host {fleet_name}");
        block
    }

    /// How the other hypervisors reach hypervisor `n`'s libvirtd.
    pub fn uri(&self, n: usize) -> String {
        format!("qemu+tcp://127.0.0.1:{}/system", self.ports[n - 1])
    }

    /// Runs `virsh ARGS` on hypervisor `n` directly (not over SSH): the test's own view.
    pub fn virsh(&self, n: usize, args: &[&str]) -> std::process::Output {
        nsenter(self.holders[n - 1].id())
            .arg("virsh")
            .args(args)
            .output()
            .expect("run virsh in the lab")
    }

    /// `virsh ARGS` on hypervisor `n`, which must succeed; its standard output.
    pub fn virsh_ok(&self, n: usize, args: &[&str]) -> String {
        let output = self.virsh(n, args);
        assert!(
            output.status.success(),
            "virsh {args:?} on {} failed: {}",
            Self::host(n),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `virsh domstate DOMAIN` on hypervisor `n`.
    pub fn state(&self, n: usize, domain: &str) -> String {
        self.virsh_ok(n, &["domstate", domain]).trim().to_string()
    }

    /// Snapshot names of `domain` on hypervisor `n`, as `virsh snapshot-list --name` lists them.
    pub fn snapshots(&self, n: usize, domain: &str) -> Vec<String> {
        self.virsh_ok(n, &["snapshot-list", "--domain", domain, "--name"])
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Defines and starts guest `name` on hypervisor `n` unless it is running there already
    /// (the lab's setup is idempotent: a running guest is left alone).
    pub fn ensure_guest(&self, n: usize, name: &str) {
        let output = guest_command(self.holders[n - 1].id(), &self.dir, n, name, None)
            .output()
            .expect("run kvm-lab.sh guest");
        assert!(
            output.status.success(),
            "guest {name} on {}: {}",
            Self::host(n),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Runs a command in hypervisor `n`'s namespaces (to break it on purpose).
    pub fn inside(&self, n: usize, args: &[&str]) {
        let status = nsenter(self.holders[n - 1].id())
            .args(args)
            .status()
            .expect("nsenter");
        assert!(status.success(), "{args:?} in {} failed", Self::host(n));
    }
}

impl Drop for KvmLab {
    fn drop(&mut self) {
        stop(&self.dir, &mut self.holders);
    }
}

fn nsenter(pid: u32) -> Command {
    let mut command = Command::new("nsenter");
    command
        .args(["-t", &pid.to_string(), "-m", "-u", "--"])
        .stdin(Stdio::null());
    command
}

/// `kvm-lab.sh guest DIR N NAME [hung|shared]` inside hypervisor `n` (whose holder is `pid`).
fn guest_command(pid: u32, dir: &Path, n: usize, name: &str, kind: Option<&str>) -> Command {
    let mut command = nsenter(pid);
    command
        .arg("sh")
        .arg(script())
        .arg("guest")
        .arg(dir)
        .arg(n.to_string())
        .arg(name)
        .args(kind);
    command
}

/// Stops every process of the lab in `dir` by PID, reaps the holders, removes the dir.
fn stop(dir: &Path, holders: &mut [Child]) {
    let _ = Command::new("sh")
        .arg(script())
        .arg("down")
        .arg(dir)
        .stdin(Stdio::null())
        .status();
    for holder in holders.iter_mut() {
        let _ = holder.kill();
        let _ = holder.wait();
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A TCP port free on 127.0.0.1 now (the kernel's pick), for a libvirtd to listen on.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}

/// Field 22 of /proc/PID/stat: when the process started, telling a reused PID apart.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Labs left by test processes that are gone: stopped and removed. Labs of live processes
/// (another `cargo test` on the machine) are not touched.
fn clean_leftovers() {
    let Ok(entries) = std::fs::read_dir(LAB_PARENT) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if !entry.file_name().to_string_lossy().starts_with(LAB_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let owner = std::fs::read_to_string(dir.join("owner")).unwrap_or_default();
        let mut fields = owner.split_whitespace().map(str::parse::<u64>);
        let alive = match (fields.next(), fields.next()) {
            (Some(Ok(pid)), Some(Ok(start))) => u32::try_from(pid)
                .ok()
                .and_then(start_time)
                .is_some_and(|now| now == start),
            // Being written by a process that just started: leave it.
            _ => dir
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() < Duration::from_secs(60)),
        };
        if !alive {
            stop(&dir, &mut []);
        }
    }
}

/// Checks root and the programs, and cleans leftovers of crashed runs (once per process).
fn prerequisites() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        for (path, package) in [
            ("/usr/sbin/libvirtd", "libvirt-daemon"),
            ("/usr/bin/virsh", "libvirt-clients"),
            (
                "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so",
                "libvirt-daemon-driver-qemu",
            ),
            ("/usr/bin/qemu-system-x86_64", "qemu-system-x86"),
            ("/usr/bin/qemu-img", "qemu-utils"),
            ("/usr/bin/unshare", "util-linux"),
            ("/usr/bin/nsenter", "util-linux"),
        ] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the KVM lab tests need it (scripts/test installs it: \
                 apt-get install --allow-downgrades {package})"
            );
        }
        super::fleet::prerequisites();
        clean_leftovers();
    });
}
