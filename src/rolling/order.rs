//! `order`: the sequence hosts go through a play in, and the `topology` order that also decides
//! the batches so a hypervisor never goes down with its own guests and no service loses more
//! than its share at once.
//!
//! `inventory`, `reverse_inventory`, `sorted`, `reverse_sorted` and `shuffle` are Ansible's
//! (sorting is by host name, byte order, as Python's `sorted` on names). `shuffle` is seeded so
//! `rpatch plan` and the run agree and a resumed run keeps its order: the seed is recorded with
//! the plan. It uses SplitMix64 — a few lines, statistically fine for ordering hosts — rather
//! than pulling in `rand`; it is not Ansible's sequence (Ansible's shuffle cannot be seeded).
//!
//! `topology` keeps the inventory order but plans the batches itself with these guarantees:
//! - a guest that names its hypervisor (`rpatch_hypervisor`) goes in an *earlier* batch than
//!   that hypervisor when both are in the run, so the two never share a batch;
//! - no batch takes more members of a service than the service's `max_unavailable`;
//! - within those rules hosts keep their order and batches are filled as `serial` asks; a batch
//!   that cannot be filled is planned smaller, with the reason, never by breaking a rule.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

use crate::diagnostic::{did_you_mean, Source};
use crate::rolling::serial::Serial;
use crate::rolling::SpecError;
use crate::yaml::Node;

/// The `order` of a play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// As the inventory lists them (Ansible's default).
    #[default]
    Inventory,
    /// The inventory's order, backwards.
    ReverseInventory,
    /// By host name.
    Sorted,
    /// By host name, backwards.
    ReverseSorted,
    /// A seeded random order.
    Shuffle,
    /// Inventory order, batches planned by [`plan_topology`].
    Topology,
}

const ORDER_NAMES: [(&str, Order); 6] = [
    ("inventory", Order::Inventory),
    ("reverse_inventory", Order::ReverseInventory),
    ("sorted", Order::Sorted),
    ("reverse_sorted", Order::ReverseSorted),
    ("shuffle", Order::Shuffle),
    ("topology", Order::Topology),
];

impl Order {
    /// The order named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        ORDER_NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, order)| *order)
    }

    /// The name as written in a playbook.
    pub fn name(self) -> &'static str {
        ORDER_NAMES
            .iter()
            .find(|(_, order)| *order == self)
            .map_or("inventory", |(name, _)| name)
    }

    /// Reads `order` from a play.
    pub fn from_node(node: &Node, source: &Arc<Source>) -> Result<Self, SpecError> {
        let names = || ORDER_NAMES.iter().map(|(name, _)| *name);
        let Some(text) = node.as_str() else {
            return Err(SpecError::at_node(
                "order",
                format!("expected an order name, found {}", node.type_name()),
                source,
                node,
            )
            .with_hint(format!(
                "one of: {}",
                names().collect::<Vec<_>>().join(", ")
            )));
        };
        Self::parse(text).ok_or_else(|| {
            let hint = match did_you_mean(text, names()) {
                Some(name) => format!("did you mean `{name}`?"),
                None => format!("one of: {}", names().collect::<Vec<_>>().join(", ")),
            };
            SpecError::at_node("order", format!("unknown order `{text}`"), source, node)
                .with_hint(hint)
        })
    }

    /// Puts `hosts` (in inventory order) in this order; `seed` is used by `shuffle` only.
    /// `topology` returns the inventory order: its batches come from [`plan_topology`].
    pub fn arrange(self, hosts: &[String], seed: u64) -> Vec<String> {
        let mut hosts = hosts.to_vec();
        match self {
            Order::Inventory | Order::Topology => {}
            Order::ReverseInventory => hosts.reverse(),
            Order::Sorted => hosts.sort(),
            Order::ReverseSorted => {
                hosts.sort();
                hosts.reverse();
            }
            Order::Shuffle => shuffle(&mut hosts, seed),
        }
        hosts
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// SplitMix64: a tiny, well-known 64-bit generator; the same seed always gives the same numbers.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0), without modulo bias worth caring about for
    /// orderings of at most a few thousand hosts (Lemire's multiply-shift).
    pub fn below(&mut self, bound: usize) -> usize {
        let wide = u128::from(self.next_u64()) * bound as u128;
        usize::try_from(wide >> 64).unwrap_or(0)
    }
}

/// Fisher–Yates shuffle driven by [`SplitMix64`].
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = SplitMix64::new(seed);
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        items.swap(i, j);
    }
}

/// A host as topology ordering sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyHost {
    /// The inventory name.
    pub name: String,
    /// The hypervisor this host is a guest of (`rpatch_hypervisor`), if any.
    pub hypervisor: Option<String>,
    /// The services this host is a member of (`rpatch_service` and service groups).
    pub services: Vec<String>,
}

impl TopologyHost {
    /// A host with no hypervisor and no services.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            hypervisor: None,
            services: Vec::new(),
        }
    }

    /// Names the hypervisor this host is a guest of.
    pub fn on(mut self, hypervisor: impl Into<String>) -> Self {
        self.hypervisor = Some(hypervisor.into());
        self
    }

    /// Adds a service this host is a member of.
    pub fn serves(mut self, service: impl Into<String>) -> Self {
        self.services.push(service.into());
        self
    }
}

/// How many members of a service may be in one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxUnavailable {
    /// At most this many hosts.
    Hosts(NonZeroUsize),
    /// At most this percentage (1..=100) of the service's hosts in the run, rounded down,
    /// but never less than 1 host so every service can make progress.
    Percent(u8),
}

impl Default for MaxUnavailable {
    /// Half of a service, rounded down, and at least 1 host: a service of 2 or 3 loses one
    /// host at a time, a service of 10 at most 5.
    fn default() -> Self {
        MaxUnavailable::Percent(50)
    }
}

impl MaxUnavailable {
    /// How many of a service's `members` may be in one batch.
    pub fn limit(self, members: usize) -> usize {
        match self {
            MaxUnavailable::Hosts(count) => count.get(),
            MaxUnavailable::Percent(pct) => (members * usize::from(pct) / 100).max(1),
        }
    }
}

impl fmt::Display for MaxUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxUnavailable::Hosts(count) => write!(f, "{count}"),
            MaxUnavailable::Percent(pct) => write!(f, "{pct}%"),
        }
    }
}

/// The service limits topology ordering applies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopologyConfig {
    /// The limit for services not listed in `max_unavailable`.
    pub default_max_unavailable: MaxUnavailable,
    /// Limits per service name.
    pub max_unavailable: BTreeMap<String, MaxUnavailable>,
}

impl TopologyConfig {
    /// The limit that applies to `service`.
    pub fn max_unavailable_for(&self, service: &str) -> MaxUnavailable {
        self.max_unavailable
            .get(service)
            .copied()
            .unwrap_or(self.default_max_unavailable)
    }
}

/// Inventory data that cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// The same host twice in the input.
    #[error("host `{0}` is listed twice")]
    DuplicateHost(String),
    /// Hosts that are (indirectly) guests of themselves.
    #[error("hypervisor loop: {}", .0.join(" -> "))]
    HypervisorCycle(Vec<String>),
}

/// Why a host is where topology ordering put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No rule applies to it: it keeps its inventory place.
    InOrder,
    /// It is a guest of `hypervisor`, which is in the run: it goes in an earlier batch.
    BeforeHypervisor {
        /// The hypervisor.
        hypervisor: String,
    },
    /// It hosts these guests, which are in the run: they go in earlier batches.
    AfterGuests {
        /// The guests.
        guests: Vec<String>,
    },
    /// It belongs to a service whose members are spread over batches.
    Spread {
        /// The service.
        service: String,
        /// At most this many members per batch.
        limit: usize,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::InOrder => f.write_str("inventory order"),
            Reason::BeforeHypervisor { hypervisor } => {
                write!(f, "goes before its hypervisor {hypervisor}")
            }
            Reason::AfterGuests { guests } => {
                write!(f, "its guests go before it ({})", guests.join(", "))
            }
            Reason::Spread { service, limit } => {
                write!(f, "spread: service {service} at most {limit} per batch")
            }
        }
    }
}

/// What kept a host out of a batch that was not full.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Blocker {
    /// `host` waits for its guests to be patched.
    WaitsForGuests {
        /// The hypervisor.
        host: String,
    },
    /// The batch already holds as many members of `service` as allowed.
    ServiceFull {
        /// The service.
        service: String,
        /// Its limit.
        limit: usize,
    },
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::WaitsForGuests { host } => write!(f, "{host} waits for its guests"),
            Blocker::ServiceFull { service, limit } => {
                write!(f, "service {service} at most {limit} per batch")
            }
        }
    }
}

/// A host's place in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedHost {
    /// The host.
    pub name: String,
    /// Why it is where it is (at least one).
    pub reasons: Vec<Reason>,
}

/// One batch of a topology plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedBatch {
    /// How many hosts `serial` asked for (capped at the hosts left).
    pub requested: usize,
    /// The hosts, in run order.
    pub hosts: Vec<PlacedHost>,
    /// When the batch is smaller than requested: what kept the other hosts out.
    pub held_back: Vec<Blocker>,
}

impl PlannedBatch {
    /// A one-line explanation of a batch smaller than requested, for `rpatch plan`.
    pub fn shortfall(&self) -> Option<String> {
        (self.hosts.len() < self.requested).then(|| {
            let why: Vec<String> = self.held_back.iter().map(ToString::to_string).collect();
            format!(
                "{} host(s) instead of {}: {}",
                self.hosts.len(),
                self.requested,
                why.join("; ")
            )
        })
    }
}

/// The batches topology ordering planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyPlan {
    /// The batches, in run order.
    pub batches: Vec<PlannedBatch>,
}

impl TopologyPlan {
    /// Only the host names, batch by batch.
    pub fn host_batches(&self) -> Vec<Vec<String>> {
        self.batches
            .iter()
            .map(|batch| batch.hosts.iter().map(|host| host.name.clone()).collect())
            .collect()
    }
}

/// Plans batches for `hosts` (in inventory order) so that every guest goes before its
/// hypervisor and no batch takes more of a service than its limit. Batch `i` is filled up to
/// `serial`'s size for batch `i` (all hosts when `serial` is absent); a batch the rules keep
/// smaller says why in [`PlannedBatch::held_back`], and the next batch uses the next size.
pub fn plan_topology(
    hosts: &[TopologyHost],
    config: &TopologyConfig,
    serial: Option<&Serial>,
) -> Result<TopologyPlan, TopologyError> {
    let total = hosts.len();
    let index: HashMap<&str, usize> = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| (host.name.as_str(), i))
        .collect();
    if index.len() != total {
        let mut seen = BTreeSet::new();
        let duplicate = hosts
            .iter()
            .find(|host| !seen.insert(host.name.as_str()))
            .map(|host| host.name.clone())
            .unwrap_or_default();
        return Err(TopologyError::DuplicateHost(duplicate));
    }
    let parent: Vec<Option<usize>> = hosts
        .iter()
        .map(|host| {
            host.hypervisor
                .as_deref()
                .and_then(|hv| index.get(hv).copied())
        })
        .collect();
    check_cycles(hosts, &parent)?;
    let mut guests: Vec<Vec<usize>> = vec![Vec::new(); total];
    for (guest, hypervisor) in parent.iter().enumerate() {
        if let Some(hypervisor) = hypervisor {
            guests[*hypervisor].push(guest);
        }
    }
    let services: Vec<BTreeSet<&str>> = hosts
        .iter()
        .map(|host| host.services.iter().map(String::as_str).collect())
        .collect();
    let mut members: BTreeMap<&str, usize> = BTreeMap::new();
    for set in &services {
        for service in set {
            *members.entry(service).or_default() += 1;
        }
    }
    let limits: BTreeMap<&str, usize> = members
        .iter()
        .map(|(service, count)| (*service, config.max_unavailable_for(service).limit(*count)))
        .collect();

    let mut done = vec![false; total];
    let mut remaining: Vec<usize> = (0..total).collect();
    let mut batches = Vec::new();
    while !remaining.is_empty() {
        let wanted = serial.map_or(total, |serial| serial.batch_size(batches.len(), total));
        let requested = wanted.min(remaining.len());
        let mut chosen = Vec::new();
        let mut in_batch: BTreeMap<&str, usize> = BTreeMap::new();
        let mut held_back = BTreeSet::new();
        for &host in &remaining {
            if chosen.len() == requested {
                break;
            }
            if guests[host].iter().any(|&guest| !done[guest]) {
                held_back.insert(Blocker::WaitsForGuests {
                    host: hosts[host].name.clone(),
                });
                continue;
            }
            let full = services[host]
                .iter()
                .find(|service| in_batch.get(*service).copied().unwrap_or(0) >= limits[*service]);
            if let Some(service) = full {
                held_back.insert(Blocker::ServiceFull {
                    service: (*service).to_string(),
                    limit: limits[service],
                });
                continue;
            }
            for service in &services[host] {
                *in_batch.entry(service).or_default() += 1;
            }
            chosen.push(host);
        }
        for &host in &chosen {
            done[host] = true;
        }
        remaining.retain(|&host| !done[host]);
        let placed = chosen
            .iter()
            .map(|&host| PlacedHost {
                name: hosts[host].name.clone(),
                reasons: reasons(host, hosts, &parent, &guests, &services, &members, &limits),
            })
            .collect();
        let short = chosen.len() < requested;
        batches.push(PlannedBatch {
            requested,
            hosts: placed,
            held_back: if short {
                held_back.into_iter().collect()
            } else {
                Vec::new()
            },
        });
    }
    Ok(TopologyPlan { batches })
}

fn reasons(
    host: usize,
    hosts: &[TopologyHost],
    parent: &[Option<usize>],
    guests: &[Vec<usize>],
    services: &[BTreeSet<&str>],
    members: &BTreeMap<&str, usize>,
    limits: &BTreeMap<&str, usize>,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if let Some(hypervisor) = parent[host] {
        reasons.push(Reason::BeforeHypervisor {
            hypervisor: hosts[hypervisor].name.clone(),
        });
    }
    if !guests[host].is_empty() {
        reasons.push(Reason::AfterGuests {
            guests: guests[host]
                .iter()
                .map(|&guest| hosts[guest].name.clone())
                .collect(),
        });
    }
    for service in &services[host] {
        if limits[service] < members[service] {
            reasons.push(Reason::Spread {
                service: (*service).to_string(),
                limit: limits[service],
            });
        }
    }
    if reasons.is_empty() {
        reasons.push(Reason::InOrder);
    }
    reasons
}

/// Fails when following `hypervisor` links from some host comes back to it.
fn check_cycles(hosts: &[TopologyHost], parent: &[Option<usize>]) -> Result<(), TopologyError> {
    // 0 = unvisited, 1 = on the current path, 2 = known to reach a root.
    let mut state = vec![0u8; hosts.len()];
    for start in 0..hosts.len() {
        let mut path: Vec<usize> = Vec::new();
        let mut at = Some(start);
        while let Some(host) = at {
            match state[host] {
                2 => break,
                1 => {
                    let from = path.iter().position(|&h| h == host).unwrap_or(0);
                    let mut cycle: Vec<String> = path[from..]
                        .iter()
                        .map(|&h| hosts[h].name.clone())
                        .collect();
                    cycle.push(hosts[host].name.clone());
                    return Err(TopologyError::HypervisorCycle(cycle));
                }
                _ => {
                    state[host] = 1;
                    path.push(host);
                    at = parent[host];
                }
            }
        }
        for host in path {
            state[host] = 2;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rolling::serial::SerialStep;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    fn serial_hosts(count: usize) -> Serial {
        Serial::new(vec![SerialStep::Hosts(
            NonZeroUsize::new(count).expect("non-zero"),
        )])
        .expect("one step")
    }

    #[test]
    fn simple_orders_match_ansible() {
        let hosts = names(&["web10", "db1", "web2", "app"]);
        let cases = [
            (Order::Inventory, ["web10", "db1", "web2", "app"]),
            (Order::ReverseInventory, ["app", "web2", "db1", "web10"]),
            (Order::Sorted, ["app", "db1", "web10", "web2"]),
            (Order::ReverseSorted, ["web2", "web10", "db1", "app"]),
            (Order::Topology, ["web10", "db1", "web2", "app"]),
        ];
        for (order, expected) in cases {
            assert_eq!(order.arrange(&hosts, 0), names(&expected), "{order}");
        }
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let hosts: Vec<String> = (0..50).map(|i| format!("h{i:02}")).collect();
        let once = Order::Shuffle.arrange(&hosts, 42);
        assert_eq!(
            once,
            Order::Shuffle.arrange(&hosts, 42),
            "same seed, same order"
        );
        assert_ne!(
            once,
            Order::Shuffle.arrange(&hosts, 43),
            "another seed, another order"
        );
        assert_ne!(once, hosts, "actually shuffled");
        let mut sorted = once.clone();
        sorted.sort();
        assert_eq!(sorted, hosts, "a permutation");
    }

    #[test]
    fn splitmix64_gives_the_reference_sequence() {
        // First outputs for seed 1234567 from the reference C implementation (Vigna).
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn order_names_parse_with_located_errors() {
        let source = Source::new("play.yml", "a: reverse_sorted\nb: topolgy\nc: 3\n");
        let doc = crate::yaml::parse(&source).expect("yaml");
        let read = |key| Order::from_node(doc.get(key).expect(key), &source);
        assert_eq!(read("a").expect("valid"), Order::ReverseSorted);
        let typo = read("b").expect_err("typo");
        assert_eq!(typo.hint.as_deref(), Some("did you mean `topology`?"));
        assert_eq!(typo.at.as_ref().map(|at| at.span.line), Some(2));
        assert!(read("c")
            .expect_err("number")
            .message
            .contains("an integer"));
    }

    #[test]
    fn guests_go_before_their_hypervisor_and_batches_say_why() {
        let hosts = [
            TopologyHost::new("kvm01"),
            TopologyHost::new("web01").on("kvm01").serves("web"),
            TopologyHost::new("web02").on("kvm01").serves("web"),
            TopologyHost::new("db01").on("kvm02"),
        ];
        let config = TopologyConfig {
            max_unavailable: BTreeMap::from([(
                "web".to_string(),
                MaxUnavailable::Hosts(NonZeroUsize::MIN),
            )]),
            ..TopologyConfig::default()
        };
        let plan = plan_topology(&hosts, &config, Some(&serial_hosts(2))).expect("plan");
        assert_eq!(
            plan.host_batches(),
            vec![
                names(&["web01", "db01"]),
                names(&["web02"]),
                names(&["kvm01"])
            ]
        );
        assert_eq!(
            plan.batches[1].shortfall().as_deref(),
            Some("1 host(s) instead of 2: kvm01 waits for its guests")
        );
        let web01 = &plan.batches[0].hosts[0];
        let said: Vec<String> = web01.reasons.iter().map(ToString::to_string).collect();
        assert_eq!(
            said,
            [
                "goes before its hypervisor kvm01",
                "spread: service web at most 1 per batch"
            ]
        );
        let kvm01 = &plan.batches[2].hosts[0];
        assert_eq!(
            kvm01.reasons[0].to_string(),
            "its guests go before it (web01, web02)"
        );
        // db01's hypervisor is not in this run: no rule applies.
        assert_eq!(plan.batches[0].hosts[1].reasons, [Reason::InOrder]);
    }

    #[test]
    fn service_members_are_spread_and_later_hosts_fill_the_batch() {
        let hosts = [
            TopologyHost::new("web1").serves("web"),
            TopologyHost::new("web2").serves("web"),
            TopologyHost::new("web3").serves("web"),
            TopologyHost::new("mail"),
        ];
        let plan = plan_topology(&hosts, &TopologyConfig::default(), Some(&serial_hosts(2)))
            .expect("plan");
        assert_eq!(
            plan.host_batches(),
            vec![names(&["web1", "mail"]), names(&["web2"]), names(&["web3"])]
        );
        assert_eq!(
            plan.batches[1].shortfall().as_deref(),
            Some("1 host(s) instead of 2: service web at most 1 per batch")
        );
        assert_eq!(plan.batches[0].hosts[1].reasons, [Reason::InOrder]);
    }

    #[test]
    fn without_serial_topology_still_separates_hypervisors_from_guests() {
        let hosts = [
            TopologyHost::new("kvm01"),
            TopologyHost::new("vm1").on("kvm01"),
            TopologyHost::new("other"),
        ];
        let plan = plan_topology(&hosts, &TopologyConfig::default(), None).expect("plan");
        assert_eq!(
            plan.host_batches(),
            vec![names(&["vm1", "other"]), names(&["kvm01"])]
        );
        assert!(
            plan.batches[1].shortfall().is_none(),
            "last batch takes what is left"
        );
    }

    #[test]
    fn nested_hypervisors_go_innermost_first() {
        let hosts = [
            TopologyHost::new("metal"),
            TopologyHost::new("nested-kvm").on("metal"),
            TopologyHost::new("vm").on("nested-kvm"),
        ];
        let plan = plan_topology(&hosts, &TopologyConfig::default(), None).expect("plan");
        assert_eq!(
            plan.host_batches(),
            vec![names(&["vm"]), names(&["nested-kvm"]), names(&["metal"])]
        );
    }

    #[test]
    fn default_service_share_is_half_and_at_least_one() {
        let cases = [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (10, 5)];
        for (members, limit) in cases {
            assert_eq!(
                MaxUnavailable::default().limit(members),
                limit,
                "{members} members"
            );
        }
        assert_eq!(MaxUnavailable::Percent(10).limit(5), 1);
        assert_eq!(MaxUnavailable::Percent(100).limit(5), 5);
    }

    #[test]
    fn hypervisor_loops_and_duplicates_are_errors() {
        let hosts = [
            TopologyHost::new("a").on("b"),
            TopologyHost::new("b").on("a"),
        ];
        let error = plan_topology(&hosts, &TopologyConfig::default(), None).expect_err("loop");
        assert_eq!(error.to_string(), "hypervisor loop: a -> b -> a");
        let hosts = [TopologyHost::new("a").on("a")];
        assert!(matches!(
            plan_topology(&hosts, &TopologyConfig::default(), None),
            Err(TopologyError::HypervisorCycle(_))
        ));
        let hosts = [TopologyHost::new("a"), TopologyHost::new("a")];
        assert_eq!(
            plan_topology(&hosts, &TopologyConfig::default(), None),
            Err(TopologyError::DuplicateHost("a".into()))
        );
    }

    /// A random topology: hosts on levels 0..3 may be guests of hosts on a higher level (so
    /// there are no loops) or of hypervisors outside the run, and belong to 0..=2 services.
    fn random_case(rng: &mut SplitMix64) -> (Vec<TopologyHost>, TopologyConfig, Option<Serial>) {
        let count = 1 + rng.below(40);
        let levels: Vec<usize> = (0..count).map(|_| rng.below(3)).collect();
        let service_pool = ["web", "db", "dns", "cache"];
        let mut hosts: Vec<TopologyHost> = (0..count)
            .map(|i| TopologyHost::new(format!("h{i}")))
            .collect();
        for i in 0..count {
            if rng.below(10) < 6 {
                let higher: Vec<usize> = (0..count).filter(|&j| levels[j] > levels[i]).collect();
                hosts[i].hypervisor = if higher.is_empty() || rng.below(5) == 0 {
                    Some(format!("outside{}", rng.below(3)))
                } else {
                    Some(format!("h{}", higher[rng.below(higher.len())]))
                };
            }
            for _ in 0..rng.below(3) {
                hosts[i]
                    .services
                    .push(service_pool[rng.below(service_pool.len())].to_string());
            }
        }
        shuffle(&mut hosts, rng.next_u64());
        let limit = |rng: &mut SplitMix64| {
            if rng.below(2) == 0 {
                MaxUnavailable::Hosts(
                    NonZeroUsize::new(1 + rng.below(3)).unwrap_or(NonZeroUsize::MIN),
                )
            } else {
                MaxUnavailable::Percent(u8::try_from(1 + rng.below(100)).unwrap_or(50))
            }
        };
        let mut config = TopologyConfig {
            default_max_unavailable: limit(rng),
            ..TopologyConfig::default()
        };
        for service in service_pool {
            if rng.below(2) == 0 {
                config
                    .max_unavailable
                    .insert(service.to_string(), limit(rng));
            }
        }
        let step = |rng: &mut SplitMix64| {
            if rng.below(2) == 0 {
                SerialStep::Hosts(NonZeroUsize::new(1 + rng.below(6)).unwrap_or(NonZeroUsize::MIN))
            } else {
                SerialStep::Percent(u8::try_from(1 + rng.below(100)).unwrap_or(50))
            }
        };
        let serial = match rng.below(3) {
            0 => None,
            _ => Serial::new((0..1 + rng.below(3)).map(|_| step(rng)).collect()),
        };
        (hosts, config, serial)
    }

    #[test]
    fn random_topologies_always_keep_the_rules() {
        // A hand-rolled property test over SplitMix64 rather than proptest: no new dependency,
        // and a failing case prints its seed and the whole topology, which is enough to debug
        // a planner this small without shrinking.
        for seed in 0..2_000u64 {
            let mut rng = SplitMix64::new(seed);
            let (hosts, config, serial) = random_case(&mut rng);
            let context = format!("seed {seed}: {hosts:?} {config:?} {serial:?}");
            let plan = plan_topology(&hosts, &config, serial.as_ref()).expect(&context);
            let batches = plan.host_batches();

            let mut batch_of: HashMap<&str, usize> = HashMap::new();
            for (i, batch) in batches.iter().enumerate() {
                assert!(!batch.is_empty(), "empty batch {i}; {context}");
                for host in batch {
                    assert!(
                        batch_of.insert(host, i).is_none(),
                        "{host} twice; {context}"
                    );
                }
            }
            assert_eq!(batch_of.len(), hosts.len(), "a host is missing; {context}");

            let position: HashMap<&str, usize> = hosts
                .iter()
                .enumerate()
                .map(|(i, host)| (host.name.as_str(), i))
                .collect();
            let mut members: HashMap<&str, usize> = HashMap::new();
            for host in &hosts {
                let unique: BTreeSet<&str> = host.services.iter().map(String::as_str).collect();
                for service in unique {
                    *members.entry(service).or_default() += 1;
                }
            }
            for host in &hosts {
                if let Some(hypervisor) = host.hypervisor.as_deref() {
                    if let Some(hv_batch) = batch_of.get(hypervisor) {
                        assert!(
                            batch_of[host.name.as_str()] < *hv_batch,
                            "{} not before its hypervisor {hypervisor}; {context}",
                            host.name
                        );
                    }
                }
            }
            for (i, batch) in plan.batches.iter().enumerate() {
                let mut taken: HashMap<&str, usize> = HashMap::new();
                for host in &batch.hosts {
                    let unique: BTreeSet<&str> = hosts[position[host.name.as_str()]]
                        .services
                        .iter()
                        .map(String::as_str)
                        .collect();
                    for service in unique {
                        *taken.entry(service).or_default() += 1;
                    }
                }
                for (service, count) in taken {
                    let limit = config.max_unavailable_for(service).limit(members[service]);
                    assert!(
                        count <= limit,
                        "batch {i} takes {count} of {service}; {context}"
                    );
                }
                assert!(
                    batch.hosts.len() <= batch.requested,
                    "batch {i} too big; {context}"
                );
                if batch.hosts.len() < batch.requested {
                    assert!(
                        !batch.held_back.is_empty(),
                        "batch {i} short without reason; {context}"
                    );
                }
                let order: Vec<usize> = batch
                    .hosts
                    .iter()
                    .map(|host| position[host.name.as_str()])
                    .collect();
                assert!(
                    order.windows(2).all(|w| w[0] < w[1]),
                    "batch {i} reordered; {context}"
                );
            }

            let unconstrained = hosts.iter().all(|host| {
                host.services.is_empty()
                    && host
                        .hypervisor
                        .as_deref()
                        .is_none_or(|hv| !position.contains_key(hv))
            });
            if unconstrained {
                let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
                let expected = crate::rolling::serial::batch_sizes(serial.as_ref(), hosts.len());
                assert_eq!(sizes, expected, "no rules, so serial's sizes; {context}");
            }
        }
    }
}
