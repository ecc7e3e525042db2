//! Simulated reboots of fleet hosts, for the `reboot` module's tests.
//!
//! A fleet host "reboots" like this: its playbook's `reboot_command` writes a marker file
//! ([`marker`]) and its `boot_time_command` reads a boot id file ([`boot_id_file`]), both in the
//! fleet directory. A [`Rebooter`] thread owns the fleet while the run goes on: when a host's
//! marker appears it takes that host's sshd down (per its [`Outage`]), waits the planned
//! downtime, writes a new boot id (unless told not to) and brings the sshd back (unless told
//! not to). [`Rebooter::finish`] returns the fleet with every sshd running again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::fleet::Fleet;

/// The file a host's `boot_time_command` should `cat`.
pub fn boot_id_file(fleet: &Fleet, host: &str) -> PathBuf {
    fleet.dir().join(format!("{host}.bootid"))
}

/// The file a host's `reboot_command` should create.
pub fn marker(fleet: &Fleet, host: &str) -> PathBuf {
    fleet.dir().join(format!("{host}.reboot-requested"))
}

/// How a host goes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Its sshd is killed with every session ([`Fleet::kill`]) and started again
    /// ([`Fleet::restart`]): connections are refused meanwhile. Only for one-sshd-at-a-time
    /// tests: `Fleet::restart` waits for every host of the fleet to listen.
    Kill,
    /// Its sessions are killed and its sshd is stopped (SIGSTOP) until it comes back
    /// (SIGCONT): connections hang, as to a powered-off host. Safe with other outages at once.
    Freeze,
}

/// What happens to one host when its reboot is requested.
#[derive(Debug, Clone)]
pub struct RebootPlan {
    /// How it goes down.
    pub outage: Outage,
    /// How long it stays down.
    pub downtime: Duration,
    /// False: it never comes back (until [`Rebooter::finish`]).
    pub comes_back: bool,
    /// False: it comes back with the same boot id.
    pub new_boot_id: bool,
    /// True: it comes back with new host keys (only with [`Outage::Kill`]).
    pub new_host_key: bool,
}

impl RebootPlan {
    /// Down for `downtime`, back with a new boot id.
    pub fn reboots(outage: Outage, downtime: Duration) -> Self {
        Self {
            outage,
            downtime,
            comes_back: true,
            new_boot_id: true,
            new_host_key: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Up,
    Down(Instant),
    Back,
    Gone,
}

/// The thread that plays the hosts' reboots.
pub struct Rebooter {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Fleet>,
}

impl Rebooter {
    /// Writes each planned host's first boot id (`boot-1`) and starts watching for markers.
    pub fn start(fleet: Fleet, plans: Vec<(&str, RebootPlan)>) -> Self {
        let plans: BTreeMap<String, RebootPlan> = plans
            .into_iter()
            .map(|(host, plan)| (host.to_string(), plan))
            .collect();
        for host in plans.keys() {
            std::fs::write(boot_id_file(&fleet, host), "boot-1\n").expect("write boot id");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || play(fleet, plans, &flag));
        Self { stop, handle }
    }

    /// Stops watching, brings every host back up and returns the fleet.
    pub fn finish(self) -> Fleet {
        self.stop.store(true, Ordering::SeqCst);
        match self.handle.join() {
            Ok(fleet) => fleet,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

fn play(mut fleet: Fleet, plans: BTreeMap<String, RebootPlan>, stop: &AtomicBool) -> Fleet {
    let mut phases: BTreeMap<String, Phase> =
        plans.keys().map(|host| (host.clone(), Phase::Up)).collect();
    let give_up = Instant::now() + Duration::from_secs(180);
    while !stop.load(Ordering::SeqCst) && Instant::now() < give_up {
        for (host, plan) in &plans {
            let phase = phases[host];
            let next = match phase {
                Phase::Up if marker(&fleet, host).exists() => {
                    take_down(&mut fleet, host, plan.outage);
                    Phase::Down(Instant::now())
                }
                Phase::Down(since) if since.elapsed() >= plan.downtime => {
                    if plan.new_boot_id {
                        std::fs::write(boot_id_file(&fleet, host), "boot-2\n")
                            .expect("write boot id");
                    }
                    if plan.new_host_key {
                        new_host_keys(&fleet);
                    }
                    if plan.comes_back {
                        bring_up(&mut fleet, host, plan.outage);
                        Phase::Back
                    } else {
                        Phase::Gone
                    }
                }
                other => other,
            };
            phases.insert(host.clone(), next);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for (host, plan) in &plans {
        if matches!(phases[host], Phase::Down(_) | Phase::Gone) {
            bring_up(&mut fleet, host, plan.outage);
        }
    }
    fleet
}

fn take_down(fleet: &mut Fleet, host: &str, outage: Outage) {
    match outage {
        Outage::Kill => fleet.kill(host),
        Outage::Freeze => {
            let listener = listener_pid(fleet, host);
            signal("STOP", &[listener]);
            signal("KILL", &descendants(listener));
        }
    }
}

fn bring_up(fleet: &mut Fleet, host: &str, outage: Outage) {
    match outage {
        Outage::Kill => fleet.restart(host),
        Outage::Freeze => signal("CONT", &[listener_pid(fleet, host)]),
    }
}

/// Replaces the fleet's host keys (read by an sshd when it starts); known_hosts keeps the old.
fn new_host_keys(fleet: &Fleet) {
    for kind in ["ed25519", "ecdsa"] {
        let path = fleet.dir().join(format!("host_{kind}"));
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(path.with_extension("pub"));
        let status = Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                kind,
                "-N",
                "",
                "-C",
                "rpatch-test-rebooted",
                "-f",
            ])
            .arg(&path)
            .stdin(Stdio::null())
            .status()
            .expect("ssh-keygen");
        assert!(status.success(), "ssh-keygen -t {kind} failed");
    }
}

/// The listening sshd of `host`: the process started with its config file.
fn listener_pid(fleet: &Fleet, host: &str) -> u32 {
    let config = fleet
        .dir()
        .join(format!("sshd_{}.conf", fleet.host(host).sshd));
    // sshd rewrites its title ("sshd: /usr/sbin/sshd -D -e -f CONFIG [listener] …"), so the
    // config path is looked for anywhere in the command line.
    let config = config.to_string_lossy().into_owned();
    processes()
        .into_iter()
        .find(|(pid, _)| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(&config))
        })
        .map(|(pid, _)| pid)
        .unwrap_or_else(|| panic!("no sshd running with {config}"))
}

/// Every process as (pid, parent pid).
fn processes() -> Vec<(u32, u32)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse().ok());
        if let Some(parent) = parent {
            found.push((pid, parent));
        }
    }
    found
}

fn descendants(root: u32) -> Vec<u32> {
    let all = processes();
    let mut tree = vec![root];
    let mut index = 0;
    while index < tree.len() {
        let parent = tree[index];
        tree.extend(
            all.iter()
                .filter(|(_, p)| *p == parent)
                .map(|(pid, _)| *pid),
        );
        index += 1;
    }
    tree.remove(0);
    tree
}

fn signal(name: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}
