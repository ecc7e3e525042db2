//! Reading what the virsh scripts printed: the facts report (`virsh dominfo`, `nodeinfo`,
//! `nodememstats`, `freecell`, `snapshot-list`, `domblklist --details`) and apply reports.
//!
//! Tested on output captured from the real lab (tests/fixtures/virsh/). Nothing here trusts
//! the host: a missing or malformed field is `None`/empty, never a panic.

use std::collections::BTreeMap;

use serde::Serialize;

/// Everything one facts round trip reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Report {
    /// The script ran to its end.
    pub complete: bool,
    /// The host has no `virsh`.
    pub no_virsh: bool,
    /// `virsh list` failed (libvirtd down, permission denied): its exit code and output.
    pub error: Option<(i32, String)>,
    /// The host's clock, seconds since the epoch.
    pub now: Option<i64>,
    /// The host.
    pub host: HostFacts,
    /// Every domain (running or not), by name.
    pub domains: BTreeMap<String, Domain>,
    /// Lines virsh complained with that did not stop the report.
    pub warnings: Vec<String>,
}

/// The hypervisor's capacity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct HostFacts {
    /// `nodeinfo` CPU model.
    pub cpu_model: Option<String>,
    /// `nodeinfo` CPU(s).
    pub cpus: Option<u64>,
    /// `nodememstats` total, MiB.
    pub memory_total_mb: Option<u64>,
    /// `nodememstats` free, MiB.
    pub memory_free_mb: Option<u64>,
    /// free + buffers + cached, MiB: what the host can give a guest without swapping.
    pub memory_available_mb: Option<u64>,
    /// `freecell` total, MiB (libvirt's own count of free memory over NUMA cells).
    pub freecell_mb: Option<u64>,
}

/// One snapshot of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Snapshot {
    /// Its name.
    pub name: String,
    /// Creation time, seconds since the epoch (0 when virsh did not say).
    pub created: i64,
    /// The snapshot it was taken on top of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// One disk of a domain (`domblklist --details`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Disk {
    /// `file`, `block`, `network`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// `disk`, `cdrom`, …
    pub device: String,
    /// `vda`, `sda`, …
    pub target: String,
    /// Image path (`None` for an empty drive).
    pub source: Option<String>,
    /// File system holding the image (`stat -f`), when known.
    pub filesystem: Option<String>,
    /// On a network or cluster file system (or network storage): migration needs no copy.
    pub shared: bool,
}

/// One domain.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Domain {
    /// `running`, `shut off`, `paused`, `in shutdown`, `crashed`, `pmsuspended`, `idle`.
    pub state: String,
    /// Numeric id while it runs.
    pub id: Option<u64>,
    /// Its UUID.
    pub uuid: Option<String>,
    /// vCPUs.
    pub vcpus: Option<u64>,
    /// Memory it may use, MiB.
    pub max_memory_mb: Option<u64>,
    /// Memory it uses now, MiB.
    pub memory_mb: Option<u64>,
    /// Defined (survives a shut-off) rather than transient.
    pub persistent: bool,
    /// Started when libvirtd starts.
    pub autostart: bool,
    /// Has a managed save image.
    pub managed_save: bool,
    /// Snapshot names, oldest first.
    pub snapshots: Vec<String>,
    /// Snapshots with creation times and parents, oldest first.
    pub snapshot_details: Vec<Snapshot>,
    /// `snapshot-current`.
    pub current_snapshot: Option<String>,
    /// Disks.
    pub disks: Vec<Disk>,
    /// Every disk with an image is on shared storage (and there is at least one).
    pub shared_storage: bool,
    /// What `virsh_evacuate` recorded in the domain's metadata when it moved it off its
    /// home hypervisor, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evacuation: Option<Evacuation>,
}

/// Where an evacuated guest came from (its `urn:rpatch:evacuation` metadata).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Evacuation {
    /// The inventory name of its home hypervisor.
    pub from: String,
    /// `migrated`, or what was done to a pinned guest: `shutdown`, `save`.
    pub action: String,
}

impl Evacuation {
    /// Reads `<evacuated from="…" action="…"/>`.
    pub(crate) fn from_xml(xml: &str) -> Option<Self> {
        let attribute = |name: &str| {
            let start = xml.find(&format!(" {name}=\""))? + name.len() + 3;
            let end = xml[start..].find('"')? + start;
            Some(xml_unescape(&xml[start..end]))
        };
        Some(Self {
            from: attribute("from")?,
            action: attribute("action").unwrap_or_else(|| "migrated".into()),
        })
    }

    /// The metadata element for this record, attribute values escaped.
    pub(crate) fn to_xml(&self) -> String {
        format!(
            "<evacuated from=\"{}\" action=\"{}\"/>",
            xml_escape(&self.from),
            xml_escape(&self.action)
        )
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

impl Domain {
    /// True while QEMU runs for it (running, paused, …): not shut off.
    pub(crate) fn is_active(&self) -> bool {
        !matches!(self.state.as_str(), "shut off" | "crashed" | "")
    }

    /// The snapshot called `name`.
    pub(crate) fn snapshot(&self, name: &str) -> Option<&Snapshot> {
        self.snapshot_details.iter().find(|s| s.name == name)
    }
}

/// File systems whose images another host can open too.
const SHARED_FILESYSTEMS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb2",
    "smb",
    "ceph",
    "fuse.glusterfs",
    "glusterfs",
    "gfs2",
    "gfs/gfs2",
    "ocfs2",
    "fuse.ceph",
    "lustre",
    "beegfs",
    "gpfs",
];

/// Which section of the facts report a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Error,
    NodeInfo,
    NodeMemStats,
    FreeCell,
    DomInfo,
    Snapshots,
    Current,
    Disks,
}

/// Reads a facts report.
pub(crate) fn facts(stdout: &str) -> Report {
    let mut report = Report::default();
    let mut section = Section::None;
    let mut domain: Option<String> = None;
    let mut error_lines: Vec<String> = Vec::new();
    let mut memstats: BTreeMap<String, u64> = BTreeMap::new();
    for line in stdout.lines() {
        if let Some(tag) = line.strip_prefix("@@rpatch:") {
            let (key, rest) = tag.split_once(' ').unwrap_or((tag, ""));
            section = match key {
                "start" | "end" => {
                    report.complete = key == "end";
                    Section::None
                }
                "novirsh" => {
                    report.no_virsh = true;
                    report.complete = true;
                    Section::None
                }
                "now" => {
                    report.now = rest.trim().parse().ok();
                    Section::None
                }
                "error" => {
                    report.error = Some((rest.trim().parse().unwrap_or(1), String::new()));
                    Section::Error
                }
                "nodeinfo" => Section::NodeInfo,
                "nodememstats" => Section::NodeMemStats,
                "freecell" => Section::FreeCell,
                "domain" => {
                    report.domains.insert(rest.to_string(), Domain::default());
                    domain = Some(rest.to_string());
                    Section::DomInfo
                }
                "snapshots" => Section::Snapshots,
                "current" => Section::Current,
                "disks" => Section::Disks,
                "warning" => {
                    report.warnings.push(rest.to_string());
                    section
                }
                "evacuated" => {
                    if let Some(d) = domain.as_ref().and_then(|d| report.domains.get_mut(d)) {
                        d.evacuation = Evacuation::from_xml(rest);
                    }
                    section
                }
                "parent" => {
                    if let Some(snapshot) = domain
                        .as_ref()
                        .and_then(|d| report.domains.get_mut(d))
                        .and_then(|d| d.snapshot_details.last_mut())
                    {
                        snapshot.parent = Some(xml_unescape(rest));
                    }
                    section
                }
                _ => section,
            };
            continue;
        }
        let current = domain.as_ref().and_then(|d| report.domains.get_mut(d));
        match (section, current) {
            (Section::Error, _) => error_lines.push(line.to_string()),
            (Section::NodeInfo, _) => {
                if let Some((key, value)) = line.split_once(':') {
                    match key.trim() {
                        "CPU model" => report.host.cpu_model = Some(value.trim().to_string()),
                        "CPU(s)" => report.host.cpus = value.trim().parse().ok(),
                        _ => {}
                    }
                }
            }
            (Section::NodeMemStats, _) => {
                if let Some((key, value)) = line.split_once(':') {
                    if let Some(kib) = kib(value) {
                        memstats.insert(key.trim().to_string(), kib);
                    }
                }
            }
            (Section::FreeCell, _) => {
                // `Total: N KiB` (one cell) or per-cell lines then `Total:`.
                if let Some(value) = line.trim().strip_prefix("Total:") {
                    report.host.freecell_mb = kib(value).map(mib);
                }
            }
            (Section::DomInfo, Some(d)) => dominfo_line(d, line),
            (Section::Snapshots, Some(d)) => {
                let (time, name) = line.split_once(' ').unwrap_or(("0", line));
                if !name.is_empty() {
                    d.snapshot_details.push(Snapshot {
                        name: name.to_string(),
                        created: time.parse().unwrap_or(0),
                        parent: None,
                    });
                }
            }
            (Section::Current, Some(d)) if !line.is_empty() => {
                d.current_snapshot = Some(line.to_string());
            }
            (Section::Disks, Some(d)) => {
                if let Some(disk) = disk_line(line) {
                    d.disks.push(disk);
                }
            }
            _ => {}
        }
    }
    if let Some((_, text)) = report.error.as_mut() {
        *text = error_lines.join("\n").trim().to_string();
    }
    report.host.memory_total_mb = memstats.get("total").copied().map(mib);
    report.host.memory_free_mb = memstats.get("free").copied().map(mib);
    report.host.memory_available_mb = memstats.get("free").map(|free| {
        mib(free + memstats.get("buffers").unwrap_or(&0) + memstats.get("cached").unwrap_or(&0))
    });
    for domain in report.domains.values_mut() {
        order_snapshots(&mut domain.snapshot_details);
        domain.snapshots = domain
            .snapshot_details
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let images: Vec<&Disk> = domain.disks.iter().filter(|d| d.source.is_some()).collect();
        domain.shared_storage = !images.is_empty() && images.iter().all(|d| d.shared);
    }
    report
}

/// Oldest first: by creation time (seconds), and within one second a snapshot after its
/// ancestors (internal snapshots form a tree; a new one's parent is the current one).
fn order_snapshots(snapshots: &mut [Snapshot]) {
    let parents: BTreeMap<String, Option<String>> = snapshots
        .iter()
        .map(|s| (s.name.clone(), s.parent.clone()))
        .collect();
    let depth = |name: &str| {
        let mut depth = 0usize;
        let mut at = parents.get(name).cloned().flatten();
        while let Some(parent) = at {
            depth += 1;
            if depth > parents.len() {
                break; // a loop would be libvirt's bug; do not hang on it
            }
            at = parents.get(&parent).cloned().flatten();
        }
        depth
    };
    let mut keyed: Vec<(i64, usize, Snapshot)> = snapshots
        .iter()
        .map(|s| (s.created, depth(&s.name), s.clone()))
        .collect();
    keyed.sort_by(|a, b| (a.0, a.1, &a.2.name).cmp(&(b.0, b.1, &b.2.name)));
    for (slot, (_, _, snapshot)) in snapshots.iter_mut().zip(keyed) {
        *slot = snapshot;
    }
}

fn dominfo_line(domain: &mut Domain, line: &str) {
    let Some((key, value)) = line.split_once(':') else {
        return;
    };
    let value = value.trim();
    let yes = || value == "yes" || value == "enable";
    match key.trim() {
        "Id" => domain.id = value.parse().ok(),
        "UUID" => domain.uuid = Some(value.to_string()),
        "State" => domain.state = value.to_string(),
        "CPU(s)" => domain.vcpus = value.parse().ok(),
        "Max memory" => domain.max_memory_mb = kib(value).map(mib),
        "Used memory" => domain.memory_mb = kib(value).map(mib),
        "Persistent" => domain.persistent = yes(),
        "Autostart" => domain.autostart = yes(),
        "Managed save" => domain.managed_save = yes(),
        _ => {}
    }
}

/// `TYPE DEVICE TARGET FS SOURCE…` as the facts script prints each `domblklist` row.
fn disk_line(line: &str) -> Option<Disk> {
    let mut fields = line.splitn(5, ' ');
    let kind = fields.next()?.to_string();
    let device = fields.next()?.to_string();
    let target = fields.next()?.to_string();
    let filesystem = fields.next()?;
    let source = fields.next().unwrap_or("-");
    let source = (source != "-" && !source.is_empty()).then(|| source.to_string());
    let filesystem = (filesystem != "-").then(|| filesystem.to_string());
    let shared = kind == "network"
        || filesystem
            .as_deref()
            .is_some_and(|fs| SHARED_FILESYSTEMS.contains(&fs));
    Some(Disk {
        kind,
        device,
        target,
        source,
        filesystem,
        shared,
    })
}

/// `65536 KiB` → 65536.
fn kib(value: &str) -> Option<u64> {
    value.trim().strip_suffix("KiB")?.trim().parse().ok()
}

fn mib(kib: u64) -> u64 {
    kib / 1024
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// What one step of an apply script reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StepOutcome {
    /// virsh's exit code (`None` when the report stopped before it).
    pub rc: Option<i32>,
    /// What virsh printed, trimmed.
    pub output: String,
}

/// An apply report: each step's outcome by index, and the markers of the shutdown script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    /// The script ran to its end.
    pub complete: bool,
    /// The host has no `virsh`.
    pub no_virsh: bool,
    /// Outcomes, in step order.
    pub steps: Vec<StepOutcome>,
    /// Markers printed after the steps (`off`, `forced`, `timeout STATE`).
    pub markers: Vec<String>,
}

impl Applied {
    /// The marker `name`, or its argument when it has one.
    pub(crate) fn marker(&self, name: &str) -> Option<&str> {
        self.markers.iter().find_map(|m| {
            let (key, rest) = m.split_once(' ').unwrap_or((m.as_str(), ""));
            (key == name).then_some(rest)
        })
    }
}

/// Reads an apply report.
pub(crate) fn applied(stdout: &str) -> Applied {
    let mut report = Applied::default();
    let mut lines: Vec<String> = Vec::new();
    for line in stdout.lines() {
        let Some(tag) = line.strip_prefix("@@rpatch:") else {
            lines.push(line.to_string());
            continue;
        };
        let (key, rest) = tag.split_once(' ').unwrap_or((tag, ""));
        match key {
            "start" => report.complete = false,
            "end" => report.complete = true,
            "novirsh" => {
                report.no_virsh = true;
                report.complete = true;
            }
            "step" => lines.clear(),
            "rc" => report.steps.push(StepOutcome {
                rc: rest.trim().parse().ok(),
                output: lines.join("\n").trim().to_string(),
            }),
            _ => report.markers.push(tag.to_string()),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTS: &str = include_str!("../../../tests/fixtures/virsh/facts.txt");
    const DOWN: &str = include_str!("../../../tests/fixtures/virsh/facts-libvirtd-down.txt");

    #[test]
    fn real_facts_list_every_domain_with_its_state_and_resources() {
        let report = facts(FACTS);
        assert!(report.complete && !report.no_virsh && report.error.is_none());
        assert_eq!(report.now, Some(1_796_286_751));
        assert_eq!(report.host.cpus, Some(2));
        assert_eq!(report.host.memory_total_mb, Some(24_683_664 / 1024));
        assert!(report.host.memory_available_mb > report.host.memory_free_mb);
        assert!(report.host.freecell_mb.is_some());
        let names: Vec<&String> = report.domains.keys().collect();
        assert_eq!(names, ["app01", "web01"]);
        let web = &report.domains["web01"];
        assert_eq!(web.state, "running");
        assert!(web.is_active() && web.persistent && web.autostart && !web.managed_save);
        assert_eq!(
            (web.id, web.vcpus, web.memory_mb, web.max_memory_mb),
            (Some(1), Some(1), Some(64), Some(64))
        );
        let app = &report.domains["app01"];
        assert_eq!(app.state, "shut off");
        assert!(!app.is_active() && app.persistent && !app.autostart);
        assert_eq!(app.id, None);
        assert!(app.snapshots.is_empty() && app.current_snapshot.is_none());
        assert_eq!(
            app.disks,
            [Disk {
                kind: "file".into(),
                device: "disk".into(),
                target: "vda".into(),
                source: Some("/var/lib/libvirt/images/app01.qcow2".into()),
                filesystem: Some("ext2/ext3".into()),
                shared: false,
            }]
        );
        assert!(!app.shared_storage);
    }

    #[test]
    fn snapshots_are_oldest_first_even_within_one_second_and_names_stay_verbatim() {
        let web = &facts(FACTS).domains["web01"];
        // before-patch and `we ird;$x` share a second; the child comes after its parent.
        assert_eq!(web.snapshots, ["before-patch", "we ird;$x", "a&b<c>"]);
        assert_eq!(web.current_snapshot.as_deref(), Some("a&b<c>"));
        assert_eq!(
            web.snapshot("a&b<c>").and_then(|s| s.parent.as_deref()),
            Some("we ird;$x")
        );
        assert_eq!(
            web.snapshot("before-patch").map(|s| s.created),
            Some(1_796_286_734)
        );
    }

    #[test]
    fn libvirtd_down_is_an_error_with_virshs_own_words() {
        let report = facts(DOWN);
        assert!(report.complete && report.domains.is_empty());
        let (rc, text) = report.error.expect("error");
        assert_eq!(rc, 1);
        assert!(
            text.starts_with("error: failed to connect to the hypervisor"),
            "{text}"
        );
    }

    #[test]
    fn a_host_without_virsh_says_so_and_a_cut_report_is_incomplete() {
        assert!(facts("@@rpatch:start\n@@rpatch:novirsh\n").no_virsh);
        let cut = &FACTS[..FACTS.find("@@rpatch:domain app01").unwrap_or(0)];
        assert!(!facts(cut).complete);
    }

    #[test]
    fn disks_on_network_file_systems_are_shared_and_empty_drives_have_no_source() {
        let nfs = disk_line("file disk vda nfs4 /mnt/vm images/a b.qcow2").expect("disk");
        assert!(nfs.shared);
        assert_eq!(nfs.source.as_deref(), Some("/mnt/vm images/a b.qcow2"));
        let cdrom = disk_line("file cdrom sda - -").expect("disk");
        assert_eq!((cdrom.source, cdrom.shared), (None, false));
    }

    #[test]
    fn evacuation_metadata_is_read_back_as_written() {
        let record = Evacuation {
            from: "kvm\"01&<x>".into(),
            action: "migrated".into(),
        };
        let xml = record.to_xml();
        assert_eq!(Evacuation::from_xml(&xml), Some(record));
        let report = facts(
            "@@rpatch:start\n@@rpatch:domain web01\nState: running\n@@rpatch:current\n\
             @@rpatch:evacuated <evacuated from=\"virthost01\" action=\"shutdown\"/>\n@@rpatch:disks\n@@rpatch:end\n"
        );
        let web = &report.domains["web01"];
        assert_eq!(
            web.evacuation,
            Some(Evacuation {
                from: "virthost01".into(),
                action: "shutdown".into()
            })
        );
    }

    #[test]
    fn apply_reports_split_into_steps_with_their_exit_codes() {
        let report = applied(
            "@@rpatch:start\n@@rpatch:step 0\nDomain snapshot a created\n\n@@rpatch:rc 0\n\
             @@rpatch:step 1\nerror: operation failed: domain moment a already exists\n\
             @@rpatch:rc 1\n@@rpatch:timeout in shutdown\n@@rpatch:end\n",
        );
        assert!(report.complete);
        assert_eq!(report.steps.len(), 2);
        assert_eq!(report.steps[0].rc, Some(0));
        assert_eq!(
            report.steps[1].output,
            "error: operation failed: domain moment a already exists"
        );
        assert_eq!(report.marker("timeout"), Some("in shutdown"));
        assert_eq!(report.marker("forced"), None);
    }
}
