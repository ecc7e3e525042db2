//! The failure budget of a batch: when the failed or unreachable hosts of one batch halt the run.
//!
//! Semantics follow ansible-playbook, which rpatch users already rely on:
//! - `max_fail_percentage`: the run halts when the share of *failed* hosts in the batch
//!   **exceeds** the value, compared in floating point as Ansible's linear strategy does
//!   (`failed / batch_size > max / 100.0`); `0` halts on the first failure, `100` never does.
//!   Unreachable hosts do not count here (Ansible keeps them apart too).
//! - `any_errors_fatal`: a failed or unreachable host fails every other host of the batch
//!   where it stands (the runner does that after each task), so the batch has failed as a
//!   whole and the run halts. As in Ansible, hosts whose `rescue` caught the failure go on,
//!   and then so does the run.
//! - a batch in which every host failed or was unreachable always halts the run, budget or not
//!   (Ansible's `PlaybookExecutor` does the same).
//!
//! rpatch adds `max_unreachable_percentage`, the same rule for unreachable hosts, because a
//! host that stops answering mid-patch (a reboot that never came back) is a different signal
//! from a task that failed. Unset, unreachable hosts only count toward the whole-batch rule.
//!
//! The verdict is a pure function of counts, so the runner may also ask it mid-batch.

use std::fmt;
use std::sync::Arc;

use crate::diagnostic::Source;
use crate::rolling::SpecError;
use crate::yaml::{Node, NodeKind};

/// How many failures a batch may have before the run halts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FailurePolicy {
    /// Halt when the percentage of failed hosts in a batch exceeds this (0..=100).
    pub max_fail_percentage: Option<f64>,
    /// Halt on any failed or unreachable host.
    pub any_errors_fatal: bool,
    /// Halt when the percentage of unreachable hosts in a batch exceeds this (0..=100).
    pub max_unreachable_percentage: Option<f64>,
}

/// What to do after a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Start the next batch.
    Continue,
    /// Stop: later batches are not started.
    Halt {
        /// Why.
        reason: HaltReason,
    },
}

/// Why a batch halted the run.
#[derive(Debug, Clone, PartialEq)]
pub enum HaltReason {
    /// `any_errors_fatal` took every host of the batch out.
    AnyErrorsFatal {
        /// Failed hosts in the batch.
        failed: usize,
        /// Unreachable hosts in the batch.
        unreachable: usize,
    },
    /// More failed hosts than `max_fail_percentage` allows.
    MaxFailPercentage {
        /// Failed hosts in the batch.
        failed: usize,
        /// Hosts in the batch.
        batch_size: usize,
        /// The configured maximum.
        max: f64,
    },
    /// More unreachable hosts than `max_unreachable_percentage` allows.
    MaxUnreachablePercentage {
        /// Unreachable hosts in the batch.
        unreachable: usize,
        /// Hosts in the batch.
        batch_size: usize,
        /// The configured maximum.
        max: f64,
    },
    /// Every host of the batch failed or was unreachable.
    WholeBatchFailed {
        /// Hosts in the batch.
        batch_size: usize,
    },
}

impl fmt::Display for HaltReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HaltReason::AnyErrorsFatal {
                failed,
                unreachable,
            } => write!(
                f,
                "any_errors_fatal: {failed} failed and {unreachable} unreachable host(s) in the batch"
            ),
            HaltReason::MaxFailPercentage {
                failed,
                batch_size,
                max,
            } => write!(
                f,
                "{failed} of {batch_size} hosts failed ({}%), more than max_fail_percentage {max}%",
                percent(*failed, *batch_size)
            ),
            HaltReason::MaxUnreachablePercentage {
                unreachable,
                batch_size,
                max,
            } => write!(
                f,
                "{unreachable} of {batch_size} hosts unreachable ({}%), more than \
                 max_unreachable_percentage {max}%",
                percent(*unreachable, *batch_size)
            ),
            HaltReason::WholeBatchFailed { batch_size } => write!(
                f,
                "all {batch_size} host(s) of the batch failed or were unreachable"
            ),
        }
    }
}

/// A percentage rounded to one decimal for messages.
fn percent(part: usize, whole: usize) -> f64 {
    (ratio(part, whole) * 1000.0).round() / 10.0
}

#[allow(clippy::cast_precision_loss)]
fn ratio(part: usize, whole: usize) -> f64 {
    part as f64 / whole as f64
}

impl FailurePolicy {
    /// Judges a finished (or running) batch of `batch_size` hosts of which `failed` failed and
    /// `unreachable` could not be reached.
    pub fn verdict(&self, batch_size: usize, failed: usize, unreachable: usize) -> Verdict {
        let halt = |reason| Verdict::Halt { reason };
        if batch_size == 0 {
            return Verdict::Continue;
        }
        if self.any_errors_fatal && failed + unreachable >= batch_size {
            return halt(HaltReason::AnyErrorsFatal {
                failed,
                unreachable,
            });
        }
        if let Some(max) = self.max_fail_percentage {
            if ratio(failed, batch_size) > max / 100.0 {
                return halt(HaltReason::MaxFailPercentage {
                    failed,
                    batch_size,
                    max,
                });
            }
        }
        if let Some(max) = self.max_unreachable_percentage {
            if ratio(unreachable, batch_size) > max / 100.0 {
                return halt(HaltReason::MaxUnreachablePercentage {
                    unreachable,
                    batch_size,
                    max,
                });
            }
        }
        if failed + unreachable >= batch_size {
            return halt(HaltReason::WholeBatchFailed { batch_size });
        }
        Verdict::Continue
    }
}

/// Reads a percentage setting (`max_fail_percentage`, `max_unreachable_percentage`) the way
/// Ansible reads its `percent` fields: a number, or a string with an optional `%` sign.
/// rpatch rejects values outside 0..=100, which Ansible accepts but which mean "always halt"
/// or "never halt on a share" and are almost surely mistakes.
pub fn percentage_from_node(
    key: &'static str,
    node: &Node,
    source: &Arc<Source>,
) -> Result<f64, SpecError> {
    let hint = || format!("write a percentage from 0 to 100, e.g. `{key}: 25`");
    let error = |message: String| SpecError::at_node(key, message, source, node).with_hint(hint());
    #[allow(clippy::cast_precision_loss)]
    let value = match &node.kind {
        NodeKind::Int(value) => *value as f64,
        NodeKind::Float(value) => *value,
        NodeKind::Str(text) => {
            let number = text.trim().trim_end_matches('%').trim();
            number
                .parse::<f64>()
                .map_err(|_| error(format!("`{text}` is not a percentage")))?
        }
        _ => {
            return Err(error(format!(
                "expected a percentage, found {}",
                node.type_name()
            )))
        }
    };
    if !(0.0..=100.0).contains(&value) {
        return Err(error(format!("{value} is not between 0 and 100")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Source;

    fn halts(policy: &FailurePolicy, size: usize, failed: usize, unreachable: usize) -> bool {
        matches!(
            policy.verdict(size, failed, unreachable),
            Verdict::Halt { .. }
        )
    }

    #[test]
    fn max_fail_percentage_halts_only_when_exceeded() {
        // (max, batch size, failed, halts) — Ansible compares failed / size > max / 100.
        let cases = [
            (25.0, 4, 0, false),
            (25.0, 4, 1, false),
            (25.0, 4, 2, true),
            (0.0, 5, 0, false),
            (0.0, 5, 1, true),
            (33.0, 3, 1, true),
            (34.0, 3, 1, false),
            (10.0, 10, 1, false),
            (10.0, 10, 2, true),
            (20.0, 5, 1, false),
            (7.0, 100, 7, false),
            (7.0, 100, 8, true),
            (50.0, 1, 0, false),
            (99.9, 1000, 999, false),
            (99.9, 1000, 1000, true),
        ];
        for (max, size, failed, expected) in cases {
            let policy = FailurePolicy {
                max_fail_percentage: Some(max),
                ..FailurePolicy::default()
            };
            assert_eq!(
                halts(&policy, size, failed, 0),
                expected,
                "max {max}% with {failed}/{size} failed"
            );
        }
    }

    #[test]
    fn unreachable_hosts_do_not_count_toward_max_fail_percentage() {
        let policy = FailurePolicy {
            max_fail_percentage: Some(0.0),
            ..FailurePolicy::default()
        };
        assert_eq!(policy.verdict(4, 0, 3), Verdict::Continue);
    }

    #[test]
    fn max_unreachable_percentage_has_its_own_budget() {
        let policy = FailurePolicy {
            max_fail_percentage: Some(50.0),
            max_unreachable_percentage: Some(25.0),
            ..FailurePolicy::default()
        };
        assert_eq!(policy.verdict(4, 2, 1), Verdict::Continue);
        assert_eq!(
            policy.verdict(4, 0, 2),
            Verdict::Halt {
                reason: HaltReason::MaxUnreachablePercentage {
                    unreachable: 2,
                    batch_size: 4,
                    max: 25.0
                }
            }
        );
        assert_eq!(
            policy.verdict(4, 3, 0),
            Verdict::Halt {
                reason: HaltReason::MaxFailPercentage {
                    failed: 3,
                    batch_size: 4,
                    max: 50.0
                }
            }
        );
    }

    #[test]
    fn any_errors_fatal_halts_once_it_has_taken_the_batch_out() {
        let policy = FailurePolicy {
            any_errors_fatal: true,
            ..FailurePolicy::default()
        };
        assert!(!halts(&policy, 10, 0, 0));
        assert!(halts(&policy, 10, 9, 1));
        assert!(halts(&policy, 10, 10, 0));
        // A rescued host survived: the batch did not fail as a whole.
        assert!(!halts(&policy, 10, 9, 0));
    }

    #[test]
    fn without_a_budget_only_a_wholly_failed_batch_halts() {
        let policy = FailurePolicy::default();
        assert!(!halts(&policy, 3, 2, 0));
        assert!(halts(&policy, 3, 2, 1));
        assert!(halts(&policy, 1, 1, 0));
        assert!(!halts(&policy, 0, 0, 0));
        let policy = FailurePolicy {
            max_fail_percentage: Some(100.0),
            ..FailurePolicy::default()
        };
        assert_eq!(
            policy.verdict(2, 2, 0),
            Verdict::Halt {
                reason: HaltReason::WholeBatchFailed { batch_size: 2 }
            }
        );
    }

    #[test]
    fn halt_reasons_read_as_sentences() {
        let reason = HaltReason::MaxFailPercentage {
            failed: 1,
            batch_size: 3,
            max: 30.0,
        };
        assert_eq!(
            reason.to_string(),
            "1 of 3 hosts failed (33.3%), more than max_fail_percentage 30%"
        );
    }

    #[test]
    fn percentages_parse_like_ansible_percent_fields() {
        let text = "a: 25\nb: 12.5\nc: \"30%\"\nd: 101\ne: -1\nf: lots\ng: [1]\n";
        let source = Source::new("play.yml", text);
        let doc = crate::yaml::parse(&source).expect("yaml");
        let read =
            |key| percentage_from_node("max_fail_percentage", doc.get(key).expect(key), &source);
        assert_eq!(read("a").expect("int"), 25.0);
        assert_eq!(read("b").expect("float"), 12.5);
        assert_eq!(read("c").expect("string"), 30.0);
        for (key, line) in [("d", 4), ("e", 5), ("f", 6), ("g", 7)] {
            let error = read(key).expect_err(key);
            assert_eq!(
                error.at.as_ref().map(|at| at.span.line),
                Some(line),
                "{key}"
            );
            assert!(error.hint.is_some());
        }
    }
}
