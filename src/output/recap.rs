//! The PLAY RECAP block, formatted as ansible-playbook prints it.

use indexmap::IndexMap;

use crate::runner::HostStats;

/// The recap heading and one line per host.
pub fn recap_lines(stats: &IndexMap<String, HostStats>) -> Vec<String> {
    let mut lines = vec![super::human::banner("PLAY RECAP")];
    for (host, s) in stats {
        lines.push(format!(
            "{host:<26} : ok={:<4} changed={:<4} unreachable={:<4} failed={:<4} skipped={:<4} rescued={:<4} ignored={:<4}",
            s.ok, s.changed, s.unreachable, s.failed, s.skipped, s.rescued, s.ignored
        ).trim_end().to_string());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recap_matches_ansible_layout() {
        let mut stats = IndexMap::new();
        stats.insert(
            "web01".to_string(),
            HostStats {
                ok: 3,
                changed: 1,
                ..HostStats::default()
            },
        );
        let lines = recap_lines(&stats);
        assert!(lines[0].starts_with("PLAY RECAP *"));
        assert_eq!(
            lines[1],
            "web01                      : ok=3    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0"
        );
    }
}
