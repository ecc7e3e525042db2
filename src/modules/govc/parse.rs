//! Reading what govc prints: progress codes stripped, one-line errors classified, JSON with
//! camelCase (govc >= 0.31) or PascalCase (older) keys, `find` listings, snapshot trees.
//!
//! Every parser here is tested on real govc 0.38.0 output captured against vcsim
//! (tests/fixtures/govc).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// Output without terminal codes: each line keeps only what follows its last `\r` (govc
/// redraws progress lines with `\r\e[K`), with ANSI escape sequences removed.
pub(crate) fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let last = line.rsplit('\r').find(|part| !strip_ansi(part).is_empty());
        out.push_str(&strip_ansi(last.unwrap_or_default()));
    }
    out
}

/// `text` without CSI escape sequences (`ESC [ … final-byte`) and other lone escapes.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// govc's error: the last non-empty line of stderr, cleaned, without its `govc: ` prefix.
pub(crate) fn error_line(stderr: &str) -> String {
    let cleaned = clean(stderr);
    let line = cleaned
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or_default();
    line.strip_prefix("govc: ").unwrap_or(line).to_string()
}

/// What a govc error line means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `host 'X' not found`, `vm 'X' not found`, `snapshot "X" not found`.
    NotFound {
        /// `host`, `vm`, `snapshot`…
        kind: String,
        /// The name govc was given.
        name: String,
    },
    /// `no snapshots for this VM`.
    NoSnapshots,
    /// `"X" resolves to 2 snapshots`: snapshot names need not be unique.
    Ambiguous {
        /// The name.
        name: String,
        /// How many snapshots carry it.
        count: String,
    },
    /// `default host resolves to multiple instances, please specify`.
    NeedsHost,
    /// Anything else, as govc said it.
    Other(String),
}

impl Failure {
    /// Reads one error line (see [`error_line`]).
    pub(crate) fn classify(line: &str) -> Self {
        if line == "no snapshots for this VM" {
            return Self::NoSnapshots;
        }
        if line.starts_with("default host resolves to multiple instances") {
            return Self::NeedsHost;
        }
        if let Some(front) = line.strip_suffix(" not found") {
            for quote in ['\'', '"'] {
                if let Some((kind, name)) = front.split_once(quote) {
                    if let Some(name) = name.strip_suffix(quote) {
                        return Self::NotFound {
                            kind: kind.trim().to_string(),
                            name: name.to_string(),
                        };
                    }
                }
            }
        }
        if let Some(rest) = line.strip_prefix('"') {
            if let Some((name, tail)) = rest.rsplit_once("\" resolves to ") {
                if let Some(count) = tail.strip_suffix(" snapshots") {
                    return Self::Ambiguous {
                        name: name.to_string(),
                        count: count.to_string(),
                    };
                }
            }
        }
        Self::Other(line.to_string())
    }

    /// The failure in words for a task's message.
    pub(crate) fn explain(&self) -> String {
        match self {
            Self::NotFound { kind, name } => {
                let kind = if kind == "vm" { "VM" } else { kind.as_str() };
                format!("{kind} `{name}` not found in vSphere")
            }
            Self::NoSnapshots => "the VM has no snapshots".into(),
            Self::Ambiguous { name, count } => format!(
                "{count} snapshots are named `{name}`, so govc cannot tell which one is meant \
                 (rename or remove the extra ones in vSphere)"
            ),
            Self::NeedsHost => "this vCenter has several hosts: name one".into(),
            Self::Other(line) if line.is_empty() => "govc printed no error".into(),
            Self::Other(line) => line.clone(),
        }
    }
}

/// The password in a URL's `user:password@`, if any.
pub(crate) fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| password.to_string())
}

/// `text` with the password of every `scheme://user:password@` masked.
pub(crate) fn mask_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '/' | '"' | '\'' | '?' | '#'))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split_once(':').map_or("", |(u, _)| u);
                out.push_str(&format!("{user}:{}@{host}", super::MASK));
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The same JSON with every object key starting in lower case, so `VirtualMachines` (govc
/// before 0.31) and `virtualMachines` read alike.
pub(crate) fn normalize_keys(json: Json) -> Json {
    match json {
        Json::Object(map) => Json::Object(
            map.into_iter()
                .map(|(key, value)| (lower_first(&key), normalize_keys(value)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.into_iter().map(normalize_keys).collect()),
        other => other,
    }
}

fn lower_first(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Parses govc's JSON output, keys normalised (see [`normalize_keys`]).
pub(crate) fn json(text: &str, what: &str) -> Result<Json, String> {
    serde_json::from_str::<Json>(text.trim())
        .map(normalize_keys)
        .map_err(|error| format!("govc {what} printed no JSON govc is known to print: {error}"))
}

/// The non-empty lines of a listing (`find`).
pub(crate) fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The path relative to its datacenter, as `object.collect` takes it:
/// `/DC0/host/DC0_C0/DC0_C0_H1` is `host/DC0_C0/DC0_C0_H1`, `/DC0/vm/web` is `vm/web`.
pub(crate) fn relative(path: &str) -> String {
    for folder in ["/host/", "/vm/"] {
        if let Some(at) = path.find(folder) {
            return path[at + 1..].to_string();
        }
    }
    path.trim_start_matches('/').to_string()
}

/// The last part of an inventory path: the object's name.
pub(crate) fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// One ESXi host: its name, inventory path and managed-object id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct HostRef {
    /// `DC0_C0_H1`.
    pub name: String,
    /// `/DC0/host/DC0_C0/DC0_C0_H1`.
    pub path: String,
    /// `host-48`.
    pub id: String,
    /// The compute resource it belongs to: `/DC0/host/DC0_C0` (a cluster, or the host's own
    /// standalone resource).
    pub cluster: String,
}

impl HostRef {
    /// `HostSystem:host-48`, as `find -runtime.host` wants it.
    pub(crate) fn moref(&self) -> String {
        format!("HostSystem:{}", self.id)
    }
}

/// The hosts of a vCenter, in inventory order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inventory {
    /// Each host.
    pub hosts: Vec<HostRef>,
}

impl Inventory {
    /// Pairs `find / -type h` with `find -i / -type h` line by line.
    pub(crate) fn pair(paths: &str, ids: &str) -> Result<Self, String> {
        let paths = lines(paths);
        let ids = lines(ids);
        if paths.len() != ids.len() {
            return Err(format!(
                "govc listed {} host paths but {} host ids; the inventory changed while it was read",
                paths.len(),
                ids.len()
            ));
        }
        let hosts = paths
            .into_iter()
            .zip(ids)
            .map(|(path, id)| HostRef {
                name: base_name(&path).to_string(),
                cluster: path
                    .rsplit_once('/')
                    .map_or("", |(parent, _)| parent)
                    .to_string(),
                id: id.rsplit(':').next().unwrap_or(&id).to_string(),
                path,
            })
            .collect();
        Ok(Self { hosts })
    }

    /// The host called `name` (or with that inventory path).
    pub(crate) fn find(&self, name: &str) -> Option<&HostRef> {
        self.hosts
            .iter()
            .find(|h| h.path == name)
            .or_else(|| self.hosts.iter().find(|h| h.name == name))
    }

    /// The host with this id (`host-48` or `HostSystem:host-48`).
    pub(crate) fn by_id(&self, id: &str) -> Option<&HostRef> {
        let id = id.rsplit(':').next().unwrap_or(id);
        self.hosts.iter().find(|h| h.id == id)
    }

    /// The names, for messages.
    pub(crate) fn names(&self) -> String {
        let names: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }
}

/// What `vm.info -json VM` says about one VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct VmInfo {
    /// The VM's name.
    pub name: String,
    /// The id of the host it runs on (`host-48`).
    pub host: Option<String>,
    /// `poweredOn`, `poweredOff`, `suspended`.
    pub power_state: String,
}

/// Reads `vm.info -json`; `Ok(None)` for a VM govc did not find (`"virtualMachines": null`).
pub(crate) fn vm_info(text: &str) -> Result<Option<VmInfo>, String> {
    let json = json(text, "vm.info")?;
    let Some(vm) = json
        .get("virtualMachines")
        .and_then(Json::as_array)
        .and_then(|list| list.first())
    else {
        return Ok(None);
    };
    let runtime = vm.get("runtime");
    let text = |value: Option<&Json>| value.and_then(Json::as_str).unwrap_or_default().to_string();
    Ok(Some(VmInfo {
        name: text(vm.get("name")),
        host: runtime
            .and_then(|r| r.get("host"))
            .and_then(|h| h.get("value"))
            .and_then(Json::as_str)
            .map(str::to_string),
        power_state: text(runtime.and_then(|r| r.get("powerState"))),
    }))
}

/// `about`'s `Key: value` lines.
pub(crate) fn about(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .filter(|(key, _)| !key.is_empty())
        .collect()
}

/// One node of `snapshot.tree -json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotRecord {
    name: String,
    #[serde(default)]
    current: bool,
    #[serde(default)]
    child_snapshot_list: Option<Vec<SnapshotRecord>>,
}

/// One snapshot of a VM, in tree order (parents before children, older siblings first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Snapshot {
    /// Its name (not necessarily unique).
    pub name: String,
    /// How deep in the tree: 0 for a root.
    pub depth: usize,
    /// True for the snapshot the VM runs from.
    pub current: bool,
    /// `snapshot-75`, when read with `-i`.
    pub id: Option<String>,
    /// Seconds since the epoch, when read with `-D`.
    pub created: Option<i64>,
}

/// Reads `snapshot.tree -json` (empty output: no snapshots).
pub(crate) fn snapshot_tree_json(text: &str) -> Result<Vec<Snapshot>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let records: Option<Vec<SnapshotRecord>> = serde_json::from_value(json(text, "snapshot.tree")?)
        .map_err(|error| format!("govc snapshot.tree -json: unexpected shape: {error}"))?;
    fn walk(records: &[SnapshotRecord], depth: usize, out: &mut Vec<Snapshot>) {
        for record in records {
            out.push(Snapshot {
                name: record.name.clone(),
                depth,
                current: record.current,
                id: None,
                created: None,
            });
            walk(
                record.child_snapshot_list.as_deref().unwrap_or_default(),
                depth + 1,
                out,
            );
        }
    }
    let mut out = Vec::new();
    walk(records.as_deref().unwrap_or_default(), 0, &mut out);
    Ok(out)
}

/// Reads plain `snapshot.tree`: each name indented two spaces per level; the current
/// snapshot is followed by a `.` line at its own depth, which is not a snapshot.
pub(crate) fn snapshot_tree_text(text: &str) -> Vec<Snapshot> {
    let mut out: Vec<Snapshot> = Vec::new();
    for line in text.lines() {
        let name = line.trim_start_matches(' ');
        if name.is_empty() {
            continue;
        }
        let depth = (line.len() - name.len()) / 2;
        if name == "." {
            if let Some(last) = out.last_mut().filter(|s| s.depth == depth) {
                last.current = true;
                continue;
            }
        }
        out.push(Snapshot {
            name: name.to_string(),
            depth,
            current: false,
            id: None,
            created: None,
        });
    }
    out
}

/// Adds ids and creation times from `snapshot.tree -D -i -d` (lines
/// `[snapshot-75 2026-11-22T06:13:56Z]  NAME - DESCRIPTION`, the current one repeated with
/// the name `.`) to the snapshots read from `-json`, which name them unambiguously.
pub(crate) fn add_details(snapshots: &mut [Snapshot], detail: &str) -> Result<(), String> {
    let mut rows: Vec<(String, i64, String)> = Vec::new();
    for line in detail.lines() {
        let Some(inner) = line.trim_start().strip_prefix('[') else {
            continue;
        };
        let Some((meta, rest)) = inner.split_once(']') else {
            return Err(format!("unexpected snapshot.tree line `{line}`"));
        };
        let mut words = meta.split_whitespace();
        let (Some(id), Some(date)) = (words.next(), words.next()) else {
            return Err(format!("no id and date in snapshot.tree line `{line}`"));
        };
        if rows.last().is_some_and(|(last, _, _)| last == id) {
            continue;
        }
        let created = date
            .parse::<jiff::Timestamp>()
            .map_err(|error| format!("snapshot date `{date}`: {error}"))?
            .as_second();
        rows.push((id.to_string(), created, rest.trim_start().to_string()));
    }
    if rows.len() != snapshots.len() {
        return Err(format!(
            "snapshot.tree listed {} snapshots in detail but {} as JSON; the tree changed while it was read",
            rows.len(),
            snapshots.len()
        ));
    }
    for (snapshot, (id, created, rest)) in snapshots.iter_mut().zip(rows) {
        if !rest.starts_with(&snapshot.name) {
            return Err(format!(
                "snapshot.tree detail `{rest}` does not match `{}`; the tree changed while it was read",
                snapshot.name
            ));
        }
        snapshot.id = Some(id);
        snapshot.created = Some(created);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stdout and stderr of a transcript in tests/fixtures/govc.
    fn transcript(name: &str) -> (String, String) {
        let path = format!("{}/tests/fixtures/govc/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("transcript");
        let body = text.split_once("# stdout:\n").expect("stdout section").1;
        let (out, err) = if let Some(err) = body.strip_prefix("# stderr:\n") {
            ("", err)
        } else {
            let (out, err) = body.split_once("\n# stderr:\n").expect("stderr section");
            return (format!("{out}\n"), err.to_string());
        };
        (out.to_string(), err.to_string())
    }

    /// Turns every key to PascalCase, as govc before 0.31 printed them.
    fn pascal(json: Json) -> Json {
        match json {
            Json::Object(map) => Json::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let mut c = k.chars();
                        let key = c
                            .next()
                            .map(|f| f.to_uppercase().chain(c).collect())
                            .unwrap_or_default();
                        (key, pascal(v))
                    })
                    .collect(),
            ),
            Json::Array(items) => Json::Array(items.into_iter().map(pascal).collect()),
            other => other,
        }
    }

    #[test]
    fn progress_codes_are_stripped_from_output() {
        let (out, _) = transcript("24-vm-migrate.txt");
        assert!(out.starts_with("\r\u{1b}[K"));
        assert_eq!(
            clean(&out),
            "[22-11-26 06:13:56] migrating VirtualMachine:vm-69... OK\n"
        );
        assert_eq!(
            clean("\r\u{1b}[Kx (10%)\r\u{1b}[Kx (100%)\r\u{1b}[K\nnext"),
            "x (100%)\nnext"
        );
        let (out, _) = transcript("31-vm-power-off.txt");
        assert_eq!(clean(&out), "Powering off VirtualMachine:vm-66... OK\n");
    }

    #[test]
    fn govc_one_line_errors_are_classified() {
        for (file, expected) in [
            (
                "20-snapshot-revert-missing.txt",
                Failure::NotFound {
                    kind: "snapshot".into(),
                    name: "nosuch".into(),
                },
            ),
            ("22-snapshot-remove-none.txt", Failure::NoSnapshots),
            (
                "25-vm-migrate-badhost.txt",
                Failure::NotFound {
                    kind: "host".into(),
                    name: "NoSuchHost".into(),
                },
            ),
            (
                "30-maint-missing.txt",
                Failure::NotFound {
                    kind: "host".into(),
                    name: "NoSuchHost".into(),
                },
            ),
            ("10-host-info-ambiguous.txt", Failure::NeedsHost),
        ] {
            let (_, err) = transcript(file);
            assert_eq!(Failure::classify(&error_line(&err)), expected, "{file}");
        }
        // Quoted in the fixtures' README: duplicate snapshot names.
        let twice = Failure::classify("\"pre\" resolves to 2 snapshots");
        assert_eq!(
            twice,
            Failure::Ambiguous {
                name: "pre".into(),
                count: "2".into()
            }
        );
        assert!(twice.explain().contains("2 snapshots are named `pre`"));
        assert_eq!(
            Failure::classify("vm 'x' not found").explain(),
            "VM `x` not found in vSphere"
        );
        assert_eq!(Failure::classify("boom").explain(), "boom");
    }

    #[test]
    fn url_passwords_are_found_and_masked() {
        assert_eq!(
            url_password("https://admin:s3cr:et@vc.example/sdk").as_deref(),
            Some("s3cr:et")
        );
        assert_eq!(url_password("https://vc.example/sdk"), None);
        assert_eq!(url_password("admin:pw@vc"), Some("pw".into()));
        assert_eq!(
            mask_url_passwords("Post \"https://admin:pw@vc/sdk\": refused"),
            "Post \"https://admin:********@vc/sdk\": refused"
        );
        assert_eq!(mask_url_passwords("https://vc/sdk"), "https://vc/sdk");
    }

    #[test]
    fn vm_info_reads_camel_case_and_pascal_case_keys_alike() {
        let (out, _) = transcript("07-vm-info-json.txt");
        let camel = vm_info(&out).expect("parses").expect("a VM");
        assert_eq!(
            camel,
            VmInfo {
                name: "DC0_C0_RP0_VM0".into(),
                host: Some("host-48".into()),
                power_state: "poweredOn".into()
            }
        );
        let old = pascal(serde_json::from_str(&out).expect("json")).to_string();
        assert!(old.contains("\"VirtualMachines\"") && old.contains("\"PowerState\""));
        assert_eq!(vm_info(&old).expect("parses"), Some(camel));
        let (missing, _) = transcript("23-vm-missing.txt");
        assert_eq!(vm_info(&missing).expect("parses"), None);
        assert!(vm_info("not json").is_err());
    }

    #[test]
    fn host_info_json_reads_alike_with_pascal_case_keys() {
        let (out, _) = transcript("09-host-info-json.txt");
        let camel = json(&out, "host.info").expect("parses");
        let old = pascal(serde_json::from_str(&out).expect("json")).to_string();
        assert!(old.contains("\"HostSystems\"") && old.contains("\"InMaintenanceMode\""));
        let host = &camel["hostSystems"][0];
        assert_eq!(host["runtime"]["inMaintenanceMode"], false);
        assert_eq!(host["name"], "DC0_C0_H0");
        assert_eq!(json(&old, "host.info").expect("parses"), camel);
    }

    #[test]
    fn snapshot_trees_read_alike_as_text_json_and_pascal_case_json() {
        let (json_out, _) = transcript("17-snapshot-tree-json.txt");
        let from_json = snapshot_tree_json(&json_out).expect("parses");
        let (text_out, _) = transcript("14-snapshot-tree.txt");
        let from_text = snapshot_tree_text(&text_out);
        assert_eq!(from_json, from_text);
        assert_eq!(
            from_json
                .iter()
                .map(|s| (s.name.as_str(), s.depth, s.current))
                .collect::<Vec<_>>(),
            [("rpatch-pre-2026-11", 0, false), ("s2", 1, true)]
        );
        let old = pascal(serde_json::from_str(&json_out).expect("json")).to_string();
        assert!(old.contains("ChildSnapshotList"));
        assert_eq!(snapshot_tree_json(&old).expect("parses"), from_json);
        let (empty, _) = transcript("11-snapshot-tree-empty.txt");
        assert!(snapshot_tree_text(&empty).is_empty());
        assert!(snapshot_tree_json("").expect("empty").is_empty());
        assert!(snapshot_tree_json("null").expect("null").is_empty());
        let (current, _) = transcript("15-snapshot-tree-current.txt");
        assert_eq!(
            current.trim(),
            from_json.iter().find(|s| s.current).expect("current").name
        );
    }

    #[test]
    fn snapshot_details_add_ids_and_dates_and_skip_the_current_marker() {
        let (json_out, _) = transcript("17-snapshot-tree-json.txt");
        let mut snapshots = snapshot_tree_json(&json_out).expect("parses");
        let (detail, _) = transcript("16-snapshot-tree-detail.txt");
        add_details(&mut snapshots, &detail).expect("matches");
        let created: i64 = "2026-11-22T06:13:56Z"
            .parse::<jiff::Timestamp>()
            .expect("date")
            .as_second();
        assert_eq!(snapshots[0].id.as_deref(), Some("snapshot-75"));
        assert_eq!(snapshots[1].id.as_deref(), Some("snapshot-77"));
        assert!(snapshots.iter().all(|s| s.created == Some(created)));
        let mut fewer = snapshots[..1].to_vec();
        assert!(add_details(&mut fewer, &detail)
            .expect_err("mismatch")
            .contains("changed"));
    }

    #[test]
    fn listings_pair_host_paths_with_ids_and_make_relative_paths() {
        let (paths, _) = transcript("02-find-hosts.txt");
        let (ids, _) = transcript("03-find-hosts-ids.txt");
        let inventory = Inventory::pair(&paths, &ids).expect("pairs");
        let h1 = inventory.find("DC0_C0_H1").expect("H1");
        assert_eq!(h1.id, "host-48");
        assert_eq!(h1.moref(), "HostSystem:host-48");
        assert_eq!(h1.cluster, "/DC0/host/DC0_C0");
        assert_eq!(relative(&h1.path), "host/DC0_C0/DC0_C0_H1");
        assert_eq!(
            inventory
                .by_id("HostSystem:host-58")
                .map(|h| h.name.as_str()),
            Some("DC0_C0_H2")
        );
        assert_eq!(
            inventory
                .find("/DC0/host/DC0_H0/DC0_H0")
                .map(|h| h.id.as_str()),
            Some("host-22")
        );
        assert!(inventory.find("NoSuchHost").is_none());
        assert!(Inventory::pair(&paths, "HostSystem:host-1\n").is_err());
        let (vms, _) = transcript("05-find-vms-on-host.txt");
        assert_eq!(lines(&vms), ["/DC0/vm/DC0_C0_RP0_VM0"]);
        assert_eq!(relative("/DC0/vm/DC0_C0_RP0_VM0"), "vm/DC0_C0_RP0_VM0");
    }

    #[test]
    fn about_and_plain_info_read_as_key_values() {
        let (out, _) = transcript("01-about.txt");
        let about = about(&out);
        assert_eq!(about["API type"], "VirtualCenter");
        assert_eq!(about["Version"], "6.5.0");
        let (vm, _) = transcript("06-vm-info.txt");
        let vm = super::about(&vm);
        assert_eq!(vm["Host"], "DC0_C0_H1");
        assert_eq!(vm["Power state"], "poweredOn");
        let (host, _) = transcript("08-host-info.txt");
        assert_eq!(super::about(&host)["State"], "connected");
        let (on, _) = transcript("32-vm-power-on.txt");
        assert_eq!(clean(&on).trim(), "Powering on VirtualMachine:vm-66... OK");
    }
}
