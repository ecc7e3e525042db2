//! The difference between two baselines, package by package.

use std::collections::BTreeSet;

use super::Baseline;

/// One package that differs between baseline `a` and baseline `b` on one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    /// The release key.
    pub os: String,
    /// The package.
    pub package: String,
    /// Its version in `a`, if `a` has it.
    pub a: Option<String>,
    /// Its version in `b`, if `b` has it.
    pub b: Option<String>,
}

impl std::fmt::Display for DiffLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        write!(
            f,
            "{}  {}  {} -> {}",
            self.os,
            self.package,
            side(&self.a),
            side(&self.b)
        )
    }
}

/// Every package whose version differs (or that only one side has), by release then name.
pub fn diff(a: &Baseline, b: &Baseline) -> Vec<DiffLine> {
    let releases: BTreeSet<&String> = a.systems.keys().chain(b.systems.keys()).collect();
    let mut lines = Vec::new();
    for os in releases {
        let packages_a = a.systems.get(os).map(|s| &s.packages);
        let packages_b = b.systems.get(os).map(|s| &s.packages);
        let names: BTreeSet<&String> = packages_a
            .into_iter()
            .flat_map(|p| p.keys())
            .chain(packages_b.into_iter().flat_map(|p| p.keys()))
            .collect();
        for name in names {
            let va = packages_a.and_then(|p| p.get(name)).cloned();
            let vb = packages_b.and_then(|p| p.get(name)).cloned();
            if va != vb {
                lines.push(DiffLine {
                    os: os.clone(),
                    package: name.clone(),
                    a: va,
                    b: vb,
                });
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::BaselineRecord;
    use jiff::Timestamp;

    fn baseline(packages: &[(&str, &str)]) -> Baseline {
        let mut baseline = Baseline::new("r", "p", Timestamp::UNIX_EPOCH);
        baseline.add(
            "h",
            &BaselineRecord {
                os: "debian-12".into(),
                packages: packages
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
            },
        );
        baseline
    }

    #[test]
    fn changed_added_and_dropped_packages_are_listed_in_order() {
        let a = baseline(&[("curl", "1"), ("openssl", "3.0"), ("vim", "9")]);
        let b = baseline(&[("curl", "2"), ("openssl", "3.0"), ("zstd", "1.5")]);
        let text: Vec<String> = diff(&a, &b).iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "debian-12  curl  1 -> 2",
                "debian-12  vim  9 -> -",
                "debian-12  zstd  - -> 1.5"
            ]
        );
        assert!(diff(&a, &a).is_empty());
    }
}
