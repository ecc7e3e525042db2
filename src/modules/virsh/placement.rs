//! Where `virsh_evacuate` sends each guest: a pure plan from the guests' memory and services
//! and the targets' free memory, made before the first guest moves.
//!
//! Largest guests first, each to the target with the most memory left after it, keeping
//! `reserve_mb` free on every target; a target that already holds a guest of the same service
//! (`rpatch_service`), there before or placed by this plan, is not used for another
//! (anti-affinity). When some guest fits nowhere the whole plan is refused, naming it and
//! every target's memory, so nothing moves.

use std::collections::BTreeSet;

/// A guest to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Guest {
    /// Its domain name.
    pub domain: String,
    /// The memory it takes on a target, MiB.
    pub memory_mb: u64,
    /// The services it belongs to.
    pub services: Vec<String>,
}

/// A hypervisor a guest may go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// Its inventory name.
    pub name: String,
    /// Memory it can give guests now, MiB (`None`: virsh did not say).
    pub free_mb: Option<u64>,
    /// Services of the guests it runs already.
    pub services: BTreeSet<String>,
}

/// One guest's destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    /// The guest's domain.
    pub domain: String,
    /// The target's inventory name.
    pub target: String,
}

/// Places every guest, or says which one fits nowhere and why.
pub(crate) fn place(
    guests: &[Guest],
    targets: &[Target],
    reserve_mb: u64,
) -> Result<Vec<Placement>, String> {
    if targets.is_empty() {
        return Err("there is no target hypervisor to move guests to".into());
    }
    let mut left: Vec<u64> = targets.iter().map(|t| t.free_mb.unwrap_or(0)).collect();
    let mut services: Vec<BTreeSet<String>> = targets.iter().map(|t| t.services.clone()).collect();
    let mut order: Vec<&Guest> = guests.iter().collect();
    order.sort_by(|a, b| b.memory_mb.cmp(&a.memory_mb).then(a.domain.cmp(&b.domain)));
    let mut placements = Vec::new();
    for guest in order {
        let fits = |i: usize| left[i] >= guest.memory_mb.saturating_add(reserve_mb);
        let apart = |i: usize| !guest.services.iter().any(|s| services[i].contains(s));
        let best = (0..targets.len())
            .filter(|&i| fits(i) && apart(i))
            .max_by_key(|&i| (left[i], std::cmp::Reverse(i)));
        let Some(i) = best else {
            return Err(shortfall(guest, targets, &left, &services, reserve_mb));
        };
        left[i] -= guest.memory_mb;
        services[i].extend(guest.services.iter().cloned());
        placements.push(Placement {
            domain: guest.domain.clone(),
            target: targets[i].name.clone(),
        });
    }
    Ok(placements)
}

/// The order moves run in: waves of up to `parallel`, never two into one destination at
/// once (concurrent incoming migrations into one libvirtd were seen to stall for minutes in
/// the lab, where one after the other took seconds). `destination` names each item's.
pub(crate) fn waves<T>(
    items: Vec<T>,
    parallel: usize,
    destination: impl Fn(&T) -> &str,
) -> Vec<Vec<T>> {
    let mut left: std::collections::VecDeque<T> = items.into();
    let mut waves = Vec::new();
    while !left.is_empty() {
        let mut wave: Vec<T> = Vec::new();
        let mut later = std::collections::VecDeque::new();
        while let Some(item) = left.pop_front() {
            let busy = wave.iter().any(|w| destination(w) == destination(&item));
            if busy || wave.len() >= parallel.max(1) {
                later.push_back(item);
            } else {
                wave.push(item);
            }
        }
        waves.push(wave);
        left = later;
    }
    waves
}

fn shortfall(
    guest: &Guest,
    targets: &[Target],
    left: &[u64],
    services: &[BTreeSet<String>],
    reserve_mb: u64,
) -> String {
    let memory: Vec<String> = targets
        .iter()
        .zip(left)
        .map(|(t, mb)| match t.free_mb {
            Some(_) => format!("{} {mb} MiB", t.name),
            None => format!("{} free memory unknown", t.name),
        })
        .collect();
    let roomy: Vec<&str> = targets
        .iter()
        .enumerate()
        .filter(|(i, _)| left[*i] >= guest.memory_mb.saturating_add(reserve_mb))
        .map(|(_, t)| t.name.as_str())
        .collect();
    if roomy.is_empty() {
        format!(
            "not enough memory: `{}` needs {} MiB plus reserve_mb {reserve_mb} and no target has \
             that left (free after the guests placed before it: {})",
            guest.domain,
            guest.memory_mb,
            memory.join(", ")
        )
    } else {
        let shared: Vec<String> = roomy
            .iter()
            .filter_map(|name| {
                let i = targets.iter().position(|t| t.name == *name)?;
                let clash: Vec<&str> = guest
                    .services
                    .iter()
                    .filter(|s| services[i].contains(*s))
                    .map(String::as_str)
                    .collect();
                Some(format!("{name} (service {})", clash.join(", ")))
            })
            .collect();
        format!(
            "anti-affinity: `{}` would share a target with a guest of its service on every \
             target with room: {}",
            guest.domain,
            shared.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(domain: &str, memory_mb: u64, services: &[&str]) -> Guest {
        Guest {
            domain: domain.into(),
            memory_mb,
            services: services.iter().map(|s| (*s).to_string()).collect(),
        }
    }

    fn target(name: &str, free_mb: u64, services: &[&str]) -> Target {
        Target {
            name: name.into(),
            free_mb: Some(free_mb),
            services: services.iter().map(|s| (*s).to_string()).collect(),
        }
    }

    fn placed(result: Result<Vec<Placement>, String>) -> Vec<(String, String)> {
        result
            .expect("placed")
            .into_iter()
            .map(|p| (p.domain, p.target))
            .collect()
    }

    #[test]
    fn guests_go_largest_first_to_the_target_with_most_memory_left() {
        let plan = place(
            &[guest("small", 100, &[]), guest("big", 1000, &[])],
            &[target("a", 1500, &[]), target("b", 1200, &[])],
            0,
        );
        assert_eq!(
            placed(plan),
            [("big".into(), "a".into()), ("small".into(), "b".into())]
        );
    }

    #[test]
    fn guests_of_one_service_never_share_a_target() {
        let plan = place(
            &[guest("web1", 64, &["web"]), guest("web2", 64, &["web"])],
            &[target("a", 9000, &[]), target("b", 100, &[])],
            0,
        );
        assert_eq!(
            placed(plan),
            [("web1".into(), "a".into()), ("web2".into(), "b".into())]
        );
        let refused = place(
            &[guest("web1", 64, &["web"])],
            &[target("a", 9000, &["web"])],
            0,
        )
        .expect_err("refused");
        assert_eq!(
            refused,
            "anti-affinity: `web1` would share a target with a guest of its service on every \
             target with room: a (service web)"
        );
    }

    #[test]
    fn moves_run_in_waves_with_one_move_per_destination_at_a_time() {
        let moves = vec![("a", "x"), ("b", "x"), ("c", "y"), ("d", "z")];
        let waves = waves(moves, 2, |m| m.1);
        assert_eq!(
            waves,
            [vec![("a", "x"), ("c", "y")], vec![("b", "x"), ("d", "z")]]
        );
        assert_eq!(super::waves(vec![1, 2, 3], 5, |_| "home").len(), 3);
    }

    #[test]
    fn a_reserve_no_target_can_keep_refuses_the_whole_plan() {
        let refused = place(
            &[guest("web1", 64, &[]), guest("db1", 64, &[])],
            &[target("a", 4000, &[]), target("b", 3000, &[])],
            5000,
        )
        .expect_err("refused");
        assert_eq!(
            refused,
            "not enough memory: `db1` needs 64 MiB plus reserve_mb 5000 and no target has that \
             left (free after the guests placed before it: a 4000 MiB, b 3000 MiB)"
        );
        assert!(place(&[guest("x", 1, &[])], &[], 0).is_err());
    }
}
