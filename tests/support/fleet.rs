//! A fleet of private OpenSSH `sshd` processes on 127.0.0.1 for SSH tests: throwaway host and
//! user keys, a known_hosts file and an ssh config in a temp dir, torn down by PID on drop.
//!
//! `Fleet::new().hosts(3).start()` gives one sshd per host (so a test can kill one);
//! `.hosts_per_sshd(16)` puts many hosts (one port each) on one sshd for scale. The remote
//! users are throwaway accounts of this test process with plain start-up files (see
//! `support::users`): [`user`] (passwordless sudo), [`password_user`] (sudo asks for
//! [`password`]) and [`cached_user`] (sudo asks once, then trusts its timestamp). Only the
//! fleet's sshd lets them in, with the fleet's key. Missing prerequisites fail the test with
//! the package to install; nothing is skipped.
//!
//! Certificates: `.user_ca()` makes sshd trust a throwaway user CA (`TrustedUserCAKeys`)
//! *instead of* authorized_keys; `.host_certificate(principals, validity)` gives every sshd a
//! host certificate signed by a throwaway host CA (`HostCertificate`).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::users;
use super::Project;

pub use super::users::{cached_user, password, password_user, user};

/// How a fleet is laid out.
pub struct FleetBuilder {
    hosts: usize,
    per_sshd: usize,
    user: &'static str,
    debug_log: bool,
    prefix: String,
    launchers: Vec<Vec<String>>,
    user_ca: bool,
    host_certificate: Option<(String, String)>,
}

/// One simulated host.
#[derive(Debug, Clone)]
pub struct FleetHost {
    /// Inventory name.
    pub name: String,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Index of the sshd serving it.
    pub sshd: usize,
}

struct Sshd {
    child: Child,
    log: PathBuf,
}

/// Starts sshd, through `launcher` (a command prefix such as `nsenter -t PID -m -u --`) if any.
fn spawn_sshd(config: &Path, log: &Path, launcher: &[String]) -> Sshd {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("sshd log");
    let mut command = match launcher.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg("/usr/sbin/sshd");
            command
        }
        None => Command::new("/usr/sbin/sshd"),
    };
    let child = command
        .args(["-D", "-e", "-f"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("sshd log"))
        .stderr(file)
        .spawn()
        .expect("start sshd");
    Sshd {
        child,
        log: log.to_path_buf(),
    }
}

/// Running sshd processes and the files that describe them.
pub struct Fleet {
    dir: TempDir,
    sshds: Vec<Option<Sshd>>,
    /// The hosts, in inventory order.
    pub hosts: Vec<FleetHost>,
    user: &'static str,
    launchers: Vec<Vec<String>>,
}

impl Fleet {
    /// A builder for a one-host fleet.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> FleetBuilder {
        FleetBuilder {
            hosts: 1,
            per_sshd: 1,
            user: user(),
            debug_log: false,
            prefix: "node".into(),
            launchers: Vec::new(),
            user_ca: false,
            host_certificate: None,
        }
    }
}

impl FleetBuilder {
    /// How many hosts.
    pub fn hosts(mut self, count: usize) -> Self {
        self.hosts = count;
        self
    }

    /// How many hosts share one sshd (each on its own port; sshd listens on at most 16).
    pub fn hosts_per_sshd(mut self, count: usize) -> Self {
        self.per_sshd = count.clamp(1, 16);
        self
    }

    /// Log in as this user instead of [`user`].
    pub fn user(mut self, user: &'static str) -> Self {
        self.user = user;
        self
    }

    /// sshd `LogLevel DEBUG`, to count channels in its log.
    pub fn debug_log(mut self) -> Self {
        self.debug_log = true;
        self
    }

    /// Host names are `PREFIX01`, `PREFIX02`, …
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_string();
        self
    }

    /// Starts sshd number N through `launchers[N]`, a command prefix that must exec sshd
    /// (so its PID is sshd's): `nsenter -t PID -m -u --` puts it in another namespace.
    pub fn launchers(mut self, launchers: Vec<Vec<String>>) -> Self {
        self.launchers = launchers;
        self
    }

    /// sshd trusts the user CA ([`Fleet::user_ca`]) through `TrustedUserCAKeys`, and the
    /// authorized_keys file is empty: only certificates let anyone in.
    pub fn user_ca(mut self) -> Self {
        self.user_ca = true;
        self
    }

    /// sshd presents a host certificate for its ed25519 key, signed by [`Fleet::host_ca`] for
    /// `principals` (comma-separated) and `validity` (`ssh-keygen -V`, e.g. `-5m:+1h`).
    pub fn host_certificate(mut self, principals: &str, validity: &str) -> Self {
        self.host_certificate = Some((principals.to_string(), validity.to_string()));
        self
    }

    /// Creates keys and files and starts the sshd processes; waits until they accept.
    pub fn start(self) -> Fleet {
        prerequisites();
        let dir = tempfile::Builder::new()
            .prefix("rpatch-fleet-")
            .tempdir()
            .expect("temp dir");
        // sshd reads authorized_keys as the login user.
        chmod(dir.path(), 0o755);
        let d = dir.path();
        keygen(&d.join("host_ed25519"), "ed25519");
        keygen(&d.join("host_ecdsa"), "ecdsa");
        keygen(&d.join("user_key"), "ed25519");
        if self.user_ca {
            keygen(&d.join("user_ca"), "ed25519");
            std::fs::write(d.join("authorized_keys"), "").expect("authorized_keys");
        } else {
            std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys"))
                .expect("authorized_keys");
        }
        chmod(&d.join("authorized_keys"), 0o644);
        if let Some((principals, validity)) = &self.host_certificate {
            keygen(&d.join("host_ca"), "ed25519");
            sign(
                &d.join("host_ca"),
                &d.join("host_ed25519.pub"),
                &["-h", "-n", principals, "-V", validity],
            );
        }

        let ports = free_ports(self.hosts);
        let host_key = read_pub(&d.join("host_ed25519.pub"));
        let mut known = String::new();
        let mut hosts = Vec::new();
        for (index, port) in ports.iter().enumerate() {
            known.push_str(&format!("[127.0.0.1]:{port} {host_key}\n"));
            hosts.push(FleetHost {
                name: format!("{}{:02}", self.prefix, index + 1),
                port: *port,
                sshd: index / self.per_sshd,
            });
        }
        std::fs::write(d.join("known_hosts"), known).expect("known_hosts");
        std::fs::write(d.join("ssh_config"), "# rpatch test fleet: no options\n")
            .expect("ssh_config");

        let mut sshds = Vec::new();
        for (index, group) in ports.chunks(self.per_sshd).enumerate() {
            let config = d.join(format!("sshd_{index}.conf"));
            let mut text = sshd_config(d, group, self.debug_log);
            if self.user_ca {
                text.push_str(&format!(
                    "TrustedUserCAKeys {}\n",
                    d.join("user_ca.pub").display()
                ));
            }
            if self.host_certificate.is_some() {
                text.push_str(&format!(
                    "HostCertificate {}\n",
                    d.join("host_ed25519-cert.pub").display()
                ));
            }
            std::fs::write(&config, text).expect("sshd config");
            let log = d.join(format!("sshd_{index}.log"));
            let launcher = self.launchers.get(index).map_or(&[][..], Vec::as_slice);
            sshds.push(Some(spawn_sshd(&config, &log, launcher)));
        }
        let fleet = Fleet {
            dir,
            sshds,
            hosts,
            user: self.user,
            launchers: self.launchers,
        };
        fleet.wait_listening();
        fleet
    }
}

impl Fleet {
    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for host in &self.hosts {
            while TcpStream::connect(("127.0.0.1", host.port)).is_err() {
                if Instant::now() > deadline {
                    let log =
                        std::fs::read_to_string(&self.sshds[host.sshd].as_ref().expect("sshd").log)
                            .unwrap_or_default();
                    panic!("sshd for {} did not start listening:\n{log}", host.name);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// The fleet's temp directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The throwaway user private key.
    pub fn user_key(&self) -> PathBuf {
        self.dir().join("user_key")
    }

    /// The known_hosts file listing every host's ed25519 key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }

    /// The (empty) ssh config used instead of ~/.ssh/config; tests may rewrite it.
    pub fn ssh_config(&self) -> PathBuf {
        self.dir().join("ssh_config")
    }

    /// The host's ed25519 public key line (`ssh-ed25519 AAAA…`).
    pub fn host_key(&self) -> String {
        read_pub(&self.dir().join("host_ed25519.pub"))
    }

    /// The user CA's private key (with [`FleetBuilder::user_ca`]).
    pub fn user_ca(&self) -> PathBuf {
        self.dir().join("user_ca")
    }

    /// The host CA's public key line (with [`FleetBuilder::host_certificate`]).
    pub fn host_ca(&self) -> String {
        read_pub(&self.dir().join("host_ca.pub"))
    }

    /// Signs the public key `public` (`NAME.pub`) with the user CA as a user certificate
    /// for `principals`, valid for `validity`; returns `NAME-cert.pub`.
    pub fn sign_user_key(&self, public: &Path, principals: &str, validity: &str) -> PathBuf {
        sign(&self.user_ca(), public, &["-n", principals, "-V", validity]);
        let name = public.to_string_lossy();
        PathBuf::from(format!(
            "{}-cert.pub",
            name.strip_suffix(".pub").unwrap_or(&name)
        ))
    }

    /// One host by name.
    pub fn host(&self, name: &str) -> &FleetHost {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no fleet host {name}"))
    }

    /// Inventory lines for every host (YAML), with the key file.
    pub fn inventory(&self) -> String {
        let mut text = String::from("all:\n  hosts:\n");
        for host in &self.hosts {
            text.push_str(&format!(
                "    {}:\n      ansible_host: 127.0.0.1\n      ansible_port: {}\n      \
                 ansible_user: {}\n      ansible_ssh_private_key_file: {}\n",
                host.name,
                host.port,
                self.user,
                self.user_key().display()
            ));
        }
        text
    }

    /// The environment that points rpatch at this fleet's known_hosts and ssh config and away
    /// from the machine's own ~/.ssh and ssh-agent.
    pub fn env(&self) -> Vec<(String, Option<String>)> {
        vec![
            (
                "RPATCH_KNOWN_HOSTS".into(),
                Some(self.known_hosts().display().to_string()),
            ),
            (
                "RPATCH_SSH_CONFIG".into(),
                Some(self.ssh_config().display().to_string()),
            ),
            ("RPATCH_HOST_KEY_CHECKING".into(), None),
            ("RPATCH_KEY_PASSPHRASE".into(), None),
            ("SSH_AUTH_SOCK".into(), None),
        ]
    }

    /// A project whose inventory is this fleet, with [`Fleet::env`] applied.
    pub fn project(&self) -> Project {
        self.project_with_inventory(&self.inventory())
    }

    /// A project with this fleet's environment and the given inventory.
    pub fn project_with_inventory(&self, inventory: &str) -> Project {
        let mut project = Project::new().file("inventory/local.yml", inventory);
        for (name, value) in self.env() {
            project = match value {
                Some(value) => project.env(&name, &value),
                None => project.env_remove(&name),
            };
        }
        project
    }

    /// What the sshd serving `host` has logged so far.
    pub fn log(&self, host: &str) -> String {
        let index = self.host(host).sshd;
        let path = self.dir().join(format!("sshd_{index}.log"));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Waits (up to 10 s) until the log of `host`'s sshd holds `count` lines with `text`
    /// — sshd logs a session's end after the client has already gone — and returns the log.
    pub fn wait_for_log(&self, host: &str, text: &str, count: usize) -> String {
        // sshd writes its log asynchronously; on a loaded machine lines can lag for seconds.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log(host);
            if log.matches(text).count() >= count || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the sshd serving `host` and every session process it started.
    pub fn kill(&mut self, host: &str) {
        let index = self.host(host).sshd;
        if let Some(mut sshd) = self.sshds[index].take() {
            kill_tree(sshd.child.id());
            let _ = sshd.child.wait();
        }
    }
}

impl Fleet {
    /// Starts the sshd serving `host` again (after [`Fleet::kill`]) and waits until it accepts.
    pub fn restart(&mut self, host: &str) {
        let index = self.host(host).sshd;
        if self.sshds[index].is_none() {
            let config = self.dir().join(format!("sshd_{index}.conf"));
            let log = self.dir().join(format!("sshd_{index}.log"));
            let launcher = self.launchers.get(index).map_or(&[][..], Vec::as_slice);
            self.sshds[index] = Some(spawn_sshd(&config, &log, launcher));
        }
        self.wait_listening();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for sshd in self.sshds.iter_mut().filter_map(Option::take) {
            let mut sshd = sshd;
            kill_tree(sshd.child.id());
            let _ = sshd.child.wait();
        }
    }
}

/// SIGKILLs `pid` and its descendants (found through /proc parent links) at once, sshd
/// processes first: like a host that dies, the client gets no exit status, just a dead socket.
fn kill_tree(pid: u32) {
    let mut tree = vec![pid];
    let mut index = 0;
    while index < tree.len() {
        tree.extend(children(tree[index]));
        index += 1;
    }
    let is_sshd = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.starts_with("sshd"))
    };
    let (mut order, rest): (Vec<u32>, Vec<u32>) = tree.into_iter().partition(is_sshd);
    order.extend(rest);
    let _ = Command::new("kill")
        .arg("-KILL")
        .args(order.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

fn children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the `(comm)`: state, ppid, …
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        if rest.split_whitespace().nth(1) == Some(pid.to_string().as_str()) {
            found.push(child);
        }
    }
    found
}

fn sshd_config(dir: &Path, ports: &[u16], debug: bool) -> String {
    let mut text = String::new();
    for port in ports {
        text.push_str(&format!("ListenAddress 127.0.0.1:{port}\n"));
    }
    let d = dir.display();
    text.push_str(&format!(
        "HostKey {d}/host_ed25519\nHostKey {d}/host_ecdsa\nPidFile none\n\
         AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
         PasswordAuthentication yes\nKbdInteractiveAuthentication no\nPermitRootLogin no\n\
         AllowUsers {} {} {}\nUseDNS no\nPrintMotd no\nPrintLastLog no\n\
         MaxStartups 500\nMaxSessions 10\nSubsystem sftp internal-sftp\nLogLevel {}\n",
        user(),
        password_user(),
        cached_user(),
        if debug { "DEBUG" } else { "INFO" }
    ));
    text
}

/// `count` distinct free ports. All are held until every one is picked: ports released one
/// by one can come back twice, and two hosts on one port would silently share a connection.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("bound port").port())
        .collect()
}

fn keygen(path: &Path, kind: &str) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", "rpatch-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(status.success(), "ssh-keygen -t {kind} failed");
}

/// `ssh-keygen -s CA -I rpatch-test ARGS PUBLIC`: writes `PUBLIC`'s `-cert.pub` beside it.
fn sign(ca: &Path, public: &Path, args: &[&str]) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(ca)
        .args(["-I", "rpatch-test"])
        .args(args)
        .arg(public)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen -s");
    assert!(
        status.success(),
        "ssh-keygen -s {} failed",
        public.display()
    );
}

fn read_pub(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("public key");
    let mut fields = text.split_whitespace();
    format!(
        "{} {}",
        fields.next().expect("key type"),
        fields.next().expect("key data")
    )
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Checks the tools exist and creates this test process's accounts (once).
pub fn prerequisites() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        for (path, package) in [
            ("/usr/sbin/sshd", "openssh-server"),
            ("/usr/bin/ssh-keygen", "openssh-client"),
            ("/usr/bin/sudo", "sudo"),
            ("/usr/sbin/useradd", "passwd"),
            ("/usr/sbin/visudo", "sudo"),
        ] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the SSH tests need it (apt-get install {package})"
            );
        }
        assert!(
            is_root(),
            "the SSH test fleet must run as root: it creates throwaway users and sudo rules \
             and starts sshd"
        );
        // sshd's privilege separation directory.
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        users::ensure_created();
    });
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
