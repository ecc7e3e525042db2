//! `serial`: how many hosts go through a play at once — an integer, a percentage or a ramp list.
//!
//! Batch sizes follow ansible-playbook exactly (`PlaybookExecutor._get_serialized_batches` with
//! `ansible.utils.helpers.pct_to_int`): a percentage is of *all* the play's hosts (not of those
//! left), computed in floating point as `int((pct / 100.0) * hosts)` and raised to 1 when that
//! truncates to 0; a ramp list uses its items in turn and repeats its last one; the last batch
//! takes whatever remains. The floating point matters: Ansible makes `"29%"` of 100 hosts 28.
//!
//! rpatch is stricter than Ansible about values that Ansible accepts but that cannot mean what
//! the author wanted:
//! - `0` (and negatives): Ansible runs every remaining host in one batch, the opposite of a
//!   cautious rollout. Leave `serial` out for that.
//! - `"0%"`: Ansible turns it into 1 host while `0` means all hosts; with two opposite readings
//!   so close together we ask the author to write `1`.
//! - more than `"100%"`: Ansible quietly takes everything; almost surely a typo.
//! - fractions (`2.5`, `"12.5%"`): Ansible truncates the first and crashes on the second.

use std::num::NonZeroUsize;
use std::sync::Arc;

use crate::diagnostic::Source;
use crate::rolling::SpecError;
use crate::yaml::{Node, NodeKind};

const KEY: &str = "serial";
const HINT: &str = "write a positive number of hosts (`serial: 2`), a percentage from 1% to 100% \
(`serial: \"25%\"`) or a ramp list (`serial: [1, \"10%\", \"50%\"]`); leave `serial` out to run \
all hosts at once";

/// One item of a `serial` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialStep {
    /// A number of hosts.
    Hosts(NonZeroUsize),
    /// A percentage (1..=100) of all the play's hosts, at least one host.
    Percent(u8),
}

impl SerialStep {
    /// The batch size this step gives for a play of `total` hosts (Ansible's `pct_to_int`).
    pub fn size(self, total: usize) -> usize {
        match self {
            SerialStep::Hosts(count) => count.get(),
            SerialStep::Percent(pct) => {
                // Same IEEE arithmetic as Python's `int((pct / 100.0) * total)`.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let size = ((f64::from(pct) / 100.0) * total as f64) as usize;
                size.max(1)
            }
        }
    }
}

impl std::fmt::Display for SerialStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SerialStep::Hosts(count) => write!(f, "{count}"),
            SerialStep::Percent(pct) => write!(f, "{pct}%"),
        }
    }
}

/// A validated `serial` value: at least one step, the last one repeating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serial {
    steps: Vec<SerialStep>,
}

impl Serial {
    /// A serial value from steps; `None` when there are none.
    pub fn new(steps: Vec<SerialStep>) -> Option<Self> {
        (!steps.is_empty()).then_some(Self { steps })
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[SerialStep] {
        &self.steps
    }

    /// Reads `serial` from a play: an integer, a percentage string or a non-empty list of them.
    pub fn from_node(node: &Node, source: &Arc<Source>) -> Result<Self, SpecError> {
        let steps = match &node.kind {
            NodeKind::Seq(items) if items.is_empty() => {
                return Err(
                    SpecError::at_node(KEY, "the ramp list is empty", source, node).with_hint(HINT),
                );
            }
            NodeKind::Seq(items) => items
                .iter()
                .map(|item| step_from_node(item, source))
                .collect::<Result<Vec<_>, _>>()?,
            _ => vec![step_from_node(node, source)?],
        };
        Ok(Self { steps })
    }

    /// Reads `--serial` from the command line: `2`, `25%` or a comma-separated ramp `1,10%,50%`.
    pub fn parse_cli(text: &str) -> Result<Self, SpecError> {
        let steps = text
            .split(',')
            .map(|item| parse_step_text(item).map_err(|message| SpecError::unlocated(KEY, message)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| error.with_hint(HINT))?;
        Ok(Self { steps })
    }

    /// The size of batch number `index` (0-based) for a play of `total` hosts, before the
    /// remainder rule: the ramp's item at `index`, or its last item past the end.
    pub fn batch_size(&self, index: usize, total: usize) -> usize {
        let step = self
            .steps
            .get(index)
            .or(self.steps.last())
            .copied()
            .unwrap_or(SerialStep::Hosts(NonZeroUsize::MIN));
        step.size(total)
    }

    /// The sizes of the batches `hosts` hosts are split into, exactly as ansible-playbook
    /// splits them. Empty for no hosts; the sizes always add up to `hosts`.
    pub fn batches(&self, hosts: usize) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut left = hosts;
        while left > 0 {
            let size = self.batch_size(sizes.len(), hosts).min(left);
            sizes.push(size);
            left -= size;
        }
        sizes
    }

    /// Splits `hosts` (already in run order) into batches of [`Serial::batches`] sizes.
    pub fn split<T: Clone>(&self, hosts: &[T]) -> Vec<Vec<T>> {
        split_by_sizes(hosts, &self.batches(hosts.len()))
    }
}

impl std::fmt::Display for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{step}")?;
        }
        Ok(())
    }
}

/// Batch sizes for a play whose `serial` may be absent (then all hosts form one batch).
pub fn batch_sizes(serial: Option<&Serial>, hosts: usize) -> Vec<usize> {
    match serial {
        Some(serial) => serial.batches(hosts),
        None if hosts == 0 => Vec::new(),
        None => vec![hosts],
    }
}

fn split_by_sizes<T: Clone>(hosts: &[T], sizes: &[usize]) -> Vec<Vec<T>> {
    let mut rest = hosts;
    sizes
        .iter()
        .map(|&size| {
            let (batch, tail) = rest.split_at(size.min(rest.len()));
            rest = tail;
            batch.to_vec()
        })
        .collect()
}

fn step_from_node(node: &Node, source: &Arc<Source>) -> Result<SerialStep, SpecError> {
    let error = |message: String| SpecError::at_node(KEY, message, source, node).with_hint(HINT);
    match &node.kind {
        NodeKind::Int(value) => step_from_int(*value).map_err(error),
        NodeKind::Str(text) => parse_step_text(text).map_err(error),
        NodeKind::Float(value) => Err(error(format!("{value} is not a whole number of hosts"))),
        _ => Err(error(format!(
            "expected a number of hosts or a percentage, found {}",
            node.type_name()
        ))),
    }
}

fn step_from_int(value: i64) -> Result<SerialStep, String> {
    if value <= 0 {
        return Err(format!(
            "{value} is not a batch size: a batch needs at least 1 host (Ansible would run \
             every host at once)"
        ));
    }
    usize::try_from(value)
        .ok()
        .and_then(NonZeroUsize::new)
        .map(SerialStep::Hosts)
        .ok_or_else(|| format!("{value} hosts is too many"))
}

/// Parses one step written as text: `"3"` (Ansible accepts numeric strings) or `"25%"`.
fn parse_step_text(text: &str) -> Result<SerialStep, String> {
    let trimmed = text.trim();
    if let Some(number) = trimmed.strip_suffix('%') {
        let number = number.trim();
        let pct: i64 = number
            .parse()
            .map_err(|_| format!("`{trimmed}` is not a whole percentage"))?;
        return match pct {
            0 => Err("0% is not a batch size (Ansible would make it 1 host; write `1`)".into()),
            1..=100 => Ok(SerialStep::Percent(u8::try_from(pct).unwrap_or(100))),
            _ if pct < 0 => Err(format!("{pct}% is not a batch size")),
            _ => Err(format!("{pct}% is more than all the hosts")),
        };
    }
    match trimmed.parse::<i64>() {
        Ok(value) => step_from_int(value),
        Err(_) if trimmed.contains("{{") => Err(format!(
            "`{trimmed}` is a template; serial must be known before any host is contacted"
        )),
        Err(_) => Err(format!(
            "`{trimmed}` is neither a number of hosts nor a percentage"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{render, Source};

    fn parse(text: &str) -> Result<Serial, SpecError> {
        let source = Source::new("play.yml", format!("serial: {text}\n"));
        let doc = crate::yaml::parse(&source).expect("yaml");
        Serial::from_node(doc.get("serial").expect("serial key"), &source)
    }

    fn serial(text: &str) -> Serial {
        parse(text).expect("valid serial")
    }

    // The tables below were produced once by a 20-line Python copy of Ansible's `pct_to_int`
    // and `_get_serialized_batches` (ansible/executor/playbook_executor.py), not by this code.
    // Index i holds the batch sizes for i + 1 hosts.

    /// Ansible's batch sizes for `serial: [3]` with 1..=30 hosts.
    const INT_3: [&[usize]; 30] = [
        &[1],
        &[2],
        &[3],
        &[3, 1],
        &[3, 2],
        &[3, 3],
        &[3, 3, 1],
        &[3, 3, 2],
        &[3, 3, 3],
        &[3, 3, 3, 1],
        &[3, 3, 3, 2],
        &[3, 3, 3, 3],
        &[3, 3, 3, 3, 1],
        &[3, 3, 3, 3, 2],
        &[3, 3, 3, 3, 3],
        &[3, 3, 3, 3, 3, 1],
        &[3, 3, 3, 3, 3, 2],
        &[3, 3, 3, 3, 3, 3],
        &[3, 3, 3, 3, 3, 3, 1],
        &[3, 3, 3, 3, 3, 3, 2],
        &[3, 3, 3, 3, 3, 3, 3],
        &[3, 3, 3, 3, 3, 3, 3, 1],
        &[3, 3, 3, 3, 3, 3, 3, 2],
        &[3, 3, 3, 3, 3, 3, 3, 3],
        &[3, 3, 3, 3, 3, 3, 3, 3, 1],
        &[3, 3, 3, 3, 3, 3, 3, 3, 2],
        &[3, 3, 3, 3, 3, 3, 3, 3, 3],
        &[3, 3, 3, 3, 3, 3, 3, 3, 3, 1],
        &[3, 3, 3, 3, 3, 3, 3, 3, 3, 2],
        &[3, 3, 3, 3, 3, 3, 3, 3, 3, 3],
    ];
    /// Ansible's batch sizes for `serial: [10]` with 1..=30 hosts.
    const INT_10: [&[usize]; 30] = [
        &[1],
        &[2],
        &[3],
        &[4],
        &[5],
        &[6],
        &[7],
        &[8],
        &[9],
        &[10],
        &[10, 1],
        &[10, 2],
        &[10, 3],
        &[10, 4],
        &[10, 5],
        &[10, 6],
        &[10, 7],
        &[10, 8],
        &[10, 9],
        &[10, 10],
        &[10, 10, 1],
        &[10, 10, 2],
        &[10, 10, 3],
        &[10, 10, 4],
        &[10, 10, 5],
        &[10, 10, 6],
        &[10, 10, 7],
        &[10, 10, 8],
        &[10, 10, 9],
        &[10, 10, 10],
    ];
    /// Ansible's batch sizes for `serial: ['25%']` with 1..=30 hosts.
    const PCT_25: [&[usize]; 30] = [
        &[1],
        &[1, 1],
        &[1, 1, 1],
        &[1, 1, 1, 1],
        &[1, 1, 1, 1, 1],
        &[1, 1, 1, 1, 1, 1],
        &[1, 1, 1, 1, 1, 1, 1],
        &[2, 2, 2, 2],
        &[2, 2, 2, 2, 1],
        &[2, 2, 2, 2, 2],
        &[2, 2, 2, 2, 2, 1],
        &[3, 3, 3, 3],
        &[3, 3, 3, 3, 1],
        &[3, 3, 3, 3, 2],
        &[3, 3, 3, 3, 3],
        &[4, 4, 4, 4],
        &[4, 4, 4, 4, 1],
        &[4, 4, 4, 4, 2],
        &[4, 4, 4, 4, 3],
        &[5, 5, 5, 5],
        &[5, 5, 5, 5, 1],
        &[5, 5, 5, 5, 2],
        &[5, 5, 5, 5, 3],
        &[6, 6, 6, 6],
        &[6, 6, 6, 6, 1],
        &[6, 6, 6, 6, 2],
        &[6, 6, 6, 6, 3],
        &[7, 7, 7, 7],
        &[7, 7, 7, 7, 1],
        &[7, 7, 7, 7, 2],
    ];
    /// Ansible's batch sizes for `serial: ['33%']` with 1..=30 hosts.
    const PCT_33: [&[usize]; 30] = [
        &[1],
        &[1, 1],
        &[1, 1, 1],
        &[1, 1, 1, 1],
        &[1, 1, 1, 1, 1],
        &[1, 1, 1, 1, 1, 1],
        &[2, 2, 2, 1],
        &[2, 2, 2, 2],
        &[2, 2, 2, 2, 1],
        &[3, 3, 3, 1],
        &[3, 3, 3, 2],
        &[3, 3, 3, 3],
        &[4, 4, 4, 1],
        &[4, 4, 4, 2],
        &[4, 4, 4, 3],
        &[5, 5, 5, 1],
        &[5, 5, 5, 2],
        &[5, 5, 5, 3],
        &[6, 6, 6, 1],
        &[6, 6, 6, 2],
        &[6, 6, 6, 3],
        &[7, 7, 7, 1],
        &[7, 7, 7, 2],
        &[7, 7, 7, 3],
        &[8, 8, 8, 1],
        &[8, 8, 8, 2],
        &[8, 8, 8, 3],
        &[9, 9, 9, 1],
        &[9, 9, 9, 2],
        &[9, 9, 9, 3],
    ];
    /// Ansible's batch sizes for `serial: ['50%']` with 1..=30 hosts.
    const PCT_50: [&[usize]; 30] = [
        &[1],
        &[1, 1],
        &[1, 1, 1],
        &[2, 2],
        &[2, 2, 1],
        &[3, 3],
        &[3, 3, 1],
        &[4, 4],
        &[4, 4, 1],
        &[5, 5],
        &[5, 5, 1],
        &[6, 6],
        &[6, 6, 1],
        &[7, 7],
        &[7, 7, 1],
        &[8, 8],
        &[8, 8, 1],
        &[9, 9],
        &[9, 9, 1],
        &[10, 10],
        &[10, 10, 1],
        &[11, 11],
        &[11, 11, 1],
        &[12, 12],
        &[12, 12, 1],
        &[13, 13],
        &[13, 13, 1],
        &[14, 14],
        &[14, 14, 1],
        &[15, 15],
    ];
    /// Ansible's batch sizes for `serial: ['100%']` with 1..=30 hosts.
    const PCT_100: [&[usize]; 30] = [
        &[1],
        &[2],
        &[3],
        &[4],
        &[5],
        &[6],
        &[7],
        &[8],
        &[9],
        &[10],
        &[11],
        &[12],
        &[13],
        &[14],
        &[15],
        &[16],
        &[17],
        &[18],
        &[19],
        &[20],
        &[21],
        &[22],
        &[23],
        &[24],
        &[25],
        &[26],
        &[27],
        &[28],
        &[29],
        &[30],
    ];
    /// Ansible's batch sizes for `serial: [1, '10%', '50%']` with 1..=30 hosts.
    const RAMP_1_10PCT_50PCT: [&[usize]; 30] = [
        &[1],
        &[1, 1],
        &[1, 1, 1],
        &[1, 1, 2],
        &[1, 1, 2, 1],
        &[1, 1, 3, 1],
        &[1, 1, 3, 2],
        &[1, 1, 4, 2],
        &[1, 1, 4, 3],
        &[1, 1, 5, 3],
        &[1, 1, 5, 4],
        &[1, 1, 6, 4],
        &[1, 1, 6, 5],
        &[1, 1, 7, 5],
        &[1, 1, 7, 6],
        &[1, 1, 8, 6],
        &[1, 1, 8, 7],
        &[1, 1, 9, 7],
        &[1, 1, 9, 8],
        &[1, 2, 10, 7],
        &[1, 2, 10, 8],
        &[1, 2, 11, 8],
        &[1, 2, 11, 9],
        &[1, 2, 12, 9],
        &[1, 2, 12, 10],
        &[1, 2, 13, 10],
        &[1, 2, 13, 11],
        &[1, 2, 14, 11],
        &[1, 2, 14, 12],
        &[1, 3, 15, 11],
    ];
    /// Ansible's batch sizes for `serial: ['10%', 2, 4]` with 1..=30 hosts.
    const RAMP_10PCT_2_4: [&[usize]; 30] = [
        &[1],
        &[1, 1],
        &[1, 2],
        &[1, 2, 1],
        &[1, 2, 2],
        &[1, 2, 3],
        &[1, 2, 4],
        &[1, 2, 4, 1],
        &[1, 2, 4, 2],
        &[1, 2, 4, 3],
        &[1, 2, 4, 4],
        &[1, 2, 4, 4, 1],
        &[1, 2, 4, 4, 2],
        &[1, 2, 4, 4, 3],
        &[1, 2, 4, 4, 4],
        &[1, 2, 4, 4, 4, 1],
        &[1, 2, 4, 4, 4, 2],
        &[1, 2, 4, 4, 4, 3],
        &[1, 2, 4, 4, 4, 4],
        &[2, 2, 4, 4, 4, 4],
        &[2, 2, 4, 4, 4, 4, 1],
        &[2, 2, 4, 4, 4, 4, 2],
        &[2, 2, 4, 4, 4, 4, 3],
        &[2, 2, 4, 4, 4, 4, 4],
        &[2, 2, 4, 4, 4, 4, 4, 1],
        &[2, 2, 4, 4, 4, 4, 4, 2],
        &[2, 2, 4, 4, 4, 4, 4, 3],
        &[2, 2, 4, 4, 4, 4, 4, 4],
        &[2, 2, 4, 4, 4, 4, 4, 4, 1],
        &[3, 2, 4, 4, 4, 4, 4, 4, 1],
    ];

    #[test]
    fn batch_sizes_match_ansible_for_1_to_30_hosts() {
        let cases: [(&str, &[&[usize]; 30]); 8] = [
            ("3", &INT_3),
            ("10", &INT_10),
            ("\"25%\"", &PCT_25),
            ("\"33%\"", &PCT_33),
            ("\"50%\"", &PCT_50),
            ("\"100%\"", &PCT_100),
            ("[1, \"10%\", \"50%\"]", &RAMP_1_10PCT_50PCT),
            ("[\"10%\", 2, 4]", &RAMP_10PCT_2_4),
        ];
        for (text, table) in cases {
            let serial = serial(text);
            for (index, expected) in table.iter().enumerate() {
                let hosts = index + 1;
                assert_eq!(
                    serial.batches(hosts),
                    *expected,
                    "serial: {text} with {hosts} hosts"
                );
            }
        }
    }

    #[test]
    fn percentages_use_ansibles_floating_point_truncation() {
        // Python: int((29 / 100.0) * 100) == 28, int((57 / 100.0) * 100) == 56.
        assert_eq!(SerialStep::Percent(29).size(100), 28);
        assert_eq!(SerialStep::Percent(57).size(100), 56);
        assert_eq!(SerialStep::Percent(50).size(100), 50);
    }

    #[test]
    fn a_percentage_is_of_all_hosts_not_of_those_left() {
        // 50% of 10 is 5 for every batch, so the ramp [1, "50%"] gives 1, 5, 4.
        assert_eq!(serial("[1, \"50%\"]").batches(10), [1, 5, 4]);
    }

    #[test]
    fn no_hosts_means_no_batches() {
        assert!(serial("2").batches(0).is_empty());
        assert!(batch_sizes(None, 0).is_empty());
    }

    #[test]
    fn absent_serial_runs_all_hosts_in_one_batch() {
        assert_eq!(batch_sizes(None, 7), [7]);
        assert_eq!(batch_sizes(Some(&serial("3")), 7), [3, 3, 1]);
    }

    #[test]
    fn numeric_strings_are_accepted_as_ansible_does() {
        assert_eq!(serial("\"4\"").batches(9), [4, 4, 1]);
        assert_eq!(serial("\" 50 % \"").batches(4), [2, 2]);
    }

    #[test]
    fn split_keeps_host_order() {
        let hosts = ["a", "b", "c", "d", "e"];
        assert_eq!(
            serial("[1, 2]").split(&hosts),
            vec![vec!["a"], vec!["b", "c"], vec!["d", "e"]]
        );
    }

    #[test]
    fn cli_serial_accepts_a_comma_separated_ramp() {
        let cli = Serial::parse_cli("1,10%,50%").expect("valid");
        assert_eq!(cli, serial("[1, \"10%\", \"50%\"]"));
        assert_eq!(cli.to_string(), "1, 10%, 50%");
        let error = Serial::parse_cli("1,,2").expect_err("empty item");
        assert!(error.at.is_none());
    }

    #[test]
    fn bad_values_are_located_errors() {
        let cases = [
            ("0", "at least 1 host", 1, 9),
            ("-2", "at least 1 host", 1, 9),
            ("\"150%\"", "more than all the hosts", 1, 9),
            ("\"0%\"", "write `1`", 1, 9),
            ("\"-5%\"", "not a batch size", 1, 9),
            ("\"12.5%\"", "not a whole percentage", 1, 9),
            ("2.5", "not a whole number", 1, 9),
            ("[]", "ramp list is empty", 1, 9),
            ("many", "neither a number", 1, 9),
            ("\"{{ n }}\"", "is a template", 1, 9),
            ("yes", "found a boolean", 1, 9),
            ("{a: 1}", "found a mapping", 1, 10),
            ("[1, \"25%\", 0]", "at least 1 host", 1, 20),
        ];
        for (text, message, line, col) in cases {
            let error = parse(text).expect_err(text);
            let at = error.at.as_ref().expect("located");
            assert_eq!(
                (at.span.line, at.span.col),
                (line, col),
                "location of error for {text}"
            );
            let rendered = render(&error);
            assert!(rendered.contains(message), "{text}: {rendered}");
            assert!(rendered.contains("play.yml:1:"), "{text}: {rendered}");
            assert!(rendered.contains("help:"), "{text}: {rendered}");
        }
    }
}
