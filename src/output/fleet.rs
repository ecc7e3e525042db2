//! The fleet summary printed after the PLAY RECAP of a run whose package modules reported a
//! patch state: how many hosts have updates pending, got them applied, need a reboot or
//! failed — one line each instead of every host's package list.

use super::human::banner;
use crate::rolling::summary::RunSummary;

/// Host names shown per line; more are counted.
const NAMES_SHOWN: usize = 10;

/// The summary's lines, or nothing when no package module reported a patch state.
pub fn fleet_lines(summary: &RunSummary) -> Vec<String> {
    let Some(fleet) = &summary.patch else {
        return Vec::new();
    };
    let applied = if summary.check_mode {
        "would be applied"
    } else {
        "updates applied"
    };
    let mut lines = vec![banner("PATCH SUMMARY")];
    for (label, hosts) in [
        ("updates pending", &fleet.pending),
        (applied, &fleet.applied),
        ("reboot required", &fleet.reboot_required),
        ("failed", &fleet.failed),
        ("up to date", &fleet.up_to_date),
    ] {
        let mut line = format!("{label:<17}: {:>5} host(s)", hosts.len());
        if !hosts.is_empty() {
            let shown = hosts.iter().take(NAMES_SHOWN).cloned().collect::<Vec<_>>();
            line.push_str(&format!("  {}", shown.join(", ")));
            if hosts.len() > NAMES_SHOWN {
                line.push_str(&format!(" and {} more", hosts.len() - NAMES_SHOWN));
            }
        }
        lines.push(line);
    }
    lines
}
