//! The clock maintenance windows are read against: the system's, or a fixed instant.
//!
//! `RPATCH_NOW=2026-10-25T01:00:00Z` makes `rpatch plan`, `run` and `resume` decide windows as
//! if it were that instant (the journal still records real times). It exists to rehearse a
//! rollout's window ("what would plan say on the night the clocks change?") and to test the
//! window code end to end; an unparsable value is an error, never silently the system time.

use jiff::Timestamp;

/// The environment variable that fixes the window clock.
pub const NOW_ENV: &str = "RPATCH_NOW";

/// Where "now" comes from when a window is checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// Always this instant (from `RPATCH_NOW`).
    Fixed(Timestamp),
}

/// `RPATCH_NOW` holds something that is not an instant.
#[derive(Debug, thiserror::Error)]
#[error("{NOW_ENV}=`{value}` is not an instant like 2026-10-25T01:00:00Z: {reason}")]
pub struct ClockError {
    /// The value as set.
    pub value: String,
    /// What the parser said.
    pub reason: String,
}

impl Clock {
    /// The clock `RPATCH_NOW` asks for: fixed when it is set and not empty, else the system's.
    pub fn from_env() -> Result<Self, ClockError> {
        match std::env::var(NOW_ENV) {
            Ok(value) if !value.trim().is_empty() => Self::parse(&value),
            _ => Ok(Self::System),
        }
    }

    /// A fixed clock from an RFC 3339 instant with an offset (`Z`, `+01:00`).
    pub fn parse(value: &str) -> Result<Self, ClockError> {
        value
            .trim()
            .parse::<Timestamp>()
            .map(Self::Fixed)
            .map_err(|error| ClockError {
                value: value.to_string(),
                reason: error.to_string(),
            })
    }

    /// The current instant by this clock.
    pub fn now(&self) -> Timestamp {
        match self {
            Self::System => Timestamp::now(),
            Self::Fixed(at) => *at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_reads_rfc3339_instants() {
        let clock = Clock::parse("2026-10-25T01:00:00Z").expect("instant");
        assert_eq!(clock.now().as_second(), 1_792_890_000);
        let offset = Clock::parse(" 2026-10-25T03:00:00+02:00 ").expect("instant");
        assert_eq!(offset, clock);
    }

    #[test]
    fn a_clock_that_is_not_an_instant_is_an_error() {
        for bad in ["tomorrow", "2026-10-25T01:00:00", "2026-10-25"] {
            let error = Clock::parse(bad).expect_err(bad);
            assert!(error.to_string().starts_with("RPATCH_NOW=`"), "{error}");
        }
    }
}
