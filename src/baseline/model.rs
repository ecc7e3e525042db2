//! What a baseline holds, and how a run's journal records become one.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The baseline file format written by this version of rpatch.
pub const FORMAT: u32 = 1;

/// The packages one run installed, per operating system release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// File format version.
    pub format: u32,
    /// The run that installed the packages (also the baseline's name).
    pub run_id: String,
    /// When the baseline was recorded.
    pub created: Timestamp,
    /// The playbook of that run.
    pub playbook: String,
    /// How that run ended (`completed`, `halted`, `interrupted`).
    pub run_status: String,
    /// Per release key (`debian-12`, `rocky-9.3`): the versions installed and where.
    pub systems: BTreeMap<String, System>,
}

/// What one operating system release received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// The hosts that received these packages.
    pub hosts: BTreeSet<String>,
    /// Package name → the exact version installed (apt `version`, dnf `version-release`).
    pub packages: BTreeMap<String, String>,
    /// Packages that reached two hosts at different versions (the mirror changed during the
    /// run): every version seen. A baseline with conflicts is refused by `baseline:`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conflicts: BTreeMap<String, BTreeSet<String>>,
}

/// What a package task asks the journal to keep: `{"baseline": {...}}` under the result's
/// journal key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineRecord {
    /// The host's release key, from os-release: `ID-VERSION_ID`.
    pub os: String,
    /// Package name → version installed by the task.
    pub packages: BTreeMap<String, String>,
}

impl BaselineRecord {
    /// The key of the journal record that holds it.
    pub const KEY: &'static str = "baseline";

    /// The record as the value a module keeps under [`BaselineRecord::KEY`].
    pub fn to_journal(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The record inside a task's journal record, if it holds one.
    pub fn from_journal(record: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(record.get(Self::KEY)?.clone()).ok()
    }
}

impl Baseline {
    /// An empty baseline for a run.
    pub fn new(run_id: &str, playbook: &str, created: Timestamp) -> Self {
        Self {
            format: FORMAT,
            run_id: run_id.to_string(),
            created,
            playbook: playbook.to_string(),
            run_status: "unfinished".into(),
            systems: BTreeMap::new(),
        }
    }

    /// Adds what one task installed on one host.
    pub fn add(&mut self, host: &str, record: &BaselineRecord) {
        self.add_tracked(host, record, &mut BTreeMap::new());
    }

    /// [`Baseline::add`] for the records of one run, in journal order: `set_by` remembers which
    /// host set each `(release, package)`, so a later task on the same host supersedes its
    /// earlier version, while another host with another version is a conflict.
    pub fn add_tracked(
        &mut self,
        host: &str,
        record: &BaselineRecord,
        set_by: &mut BTreeMap<(String, String), String>,
    ) {
        let system = self.systems.entry(record.os.clone()).or_default();
        system.hosts.insert(host.to_string());
        for (name, version) in &record.packages {
            let key = (record.os.clone(), name.clone());
            let same_host = set_by.get(&key).is_some_and(|by| by == host);
            match system.packages.get(name) {
                Some(_) if same_host => {
                    system.packages.insert(name.clone(), version.clone());
                }
                Some(known) if known != version => {
                    let seen = system.conflicts.entry(name.clone()).or_default();
                    seen.insert(known.clone());
                    seen.insert(version.clone());
                }
                Some(_) => {}
                None => {
                    system.packages.insert(name.clone(), version.clone());
                    set_by.insert(key, host.to_string());
                }
            }
        }
    }

    /// Number of packages over every release.
    pub fn package_count(&self) -> usize {
        self.systems.values().map(|s| s.packages.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(os: &str, packages: &[(&str, &str)]) -> BaselineRecord {
        BaselineRecord {
            os: os.into(),
            packages: packages
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn records_fold_per_release_with_their_hosts() {
        let mut baseline = Baseline::new("r", "p.yml", Timestamp::UNIX_EPOCH);
        baseline.add("web1", &record("debian-12", &[("openssl", "3.0.15-1")]));
        baseline.add(
            "web2",
            &record("debian-12", &[("openssl", "3.0.15-1"), ("curl", "7.88")]),
        );
        baseline.add("db1", &record("rocky-9.3", &[("openssl", "3.0.7-27.el9")]));
        let debian = &baseline.systems["debian-12"];
        assert_eq!(debian.hosts.len(), 2);
        assert_eq!(debian.packages["curl"], "7.88");
        assert!(debian.conflicts.is_empty());
        assert_eq!(
            baseline.systems["rocky-9.3"].packages["openssl"],
            "3.0.7-27.el9"
        );
        assert_eq!(baseline.package_count(), 3);
    }

    #[test]
    fn two_versions_of_one_package_on_one_release_are_a_conflict() {
        let mut baseline = Baseline::new("r", "p.yml", Timestamp::UNIX_EPOCH);
        baseline.add("a", &record("debian-12", &[("curl", "1")]));
        baseline.add("b", &record("debian-12", &[("curl", "2")]));
        let seen: Vec<&str> = baseline.systems["debian-12"].conflicts["curl"]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(seen, ["1", "2"]);
        // One host upgraded twice in a run: the later version is the baseline's.
        let mut baseline = Baseline::new("r", "p.yml", Timestamp::UNIX_EPOCH);
        let mut set_by = BTreeMap::new();
        baseline.add_tracked("a", &record("debian-12", &[("curl", "1")]), &mut set_by);
        baseline.add_tracked("a", &record("debian-12", &[("curl", "2")]), &mut set_by);
        let system = &baseline.systems["debian-12"];
        assert_eq!(system.packages["curl"], "2");
        assert!(system.conflicts.is_empty());
    }

    #[test]
    fn a_record_survives_the_journal_round_trip() {
        let record = record("debian-12", &[("curl", "7.88")]);
        let journal = serde_json::json!({ BaselineRecord::KEY: record.to_journal() });
        assert_eq!(BaselineRecord::from_journal(&journal), Some(record));
        assert_eq!(
            BaselineRecord::from_journal(&serde_json::json!({"moved": 1})),
            None
        );
    }
}
