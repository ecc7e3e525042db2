//! Durations and counts that users write (`loop_control.pause`, `until`'s `retries`/`delay`,
//! `pause`, gate `timeout`/`delay`, `ansible_timeout`, `--timeout`): the one range they must
//! fall in, and checked conversions into [`Duration`] and counts.
//!
//! Invariant: every duration built from user input is finite, non-negative and at most
//! [`MAX_SECONDS`], and every count at most [`MAX_COUNT`]. So `Duration::from_secs_f64` cannot
//! panic, `Instant + duration` cannot overflow, and `retries + 1` cannot wrap. Literal values
//! are checked when the playbook loads (exit 4 at file:line:col); values that come from
//! templates are checked when rendered, failing that host's task with the same message.

use std::time::Duration;

/// The longest duration accepted anywhere: 2^32 - 1 seconds (about 136 years), "forever" in
/// practice while leaving clock arithmetic far from overflow.
pub const MAX_SECONDS: u64 = u32::MAX as u64;

/// The largest count (of retries, ...) accepted anywhere.
pub const MAX_COUNT: u64 = u32::MAX as u64;

/// A value that is not a duration or count rpatch accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, found {found}")]
pub struct NumberError {
    /// What fits, e.g. "a number of seconds from 0 to 4294967295".
    pub expected: String,
    /// What was written, as text.
    pub found: String,
}

fn seconds_error(found: impl Into<String>) -> NumberError {
    NumberError {
        expected: format!("a number of seconds from 0 to {MAX_SECONDS}"),
        found: found.into(),
    }
}

fn count_error(found: impl Into<String>) -> NumberError {
    NumberError {
        expected: format!("a whole number from 0 to {MAX_COUNT}"),
        found: found.into(),
    }
}

/// A number of seconds (fractions allowed): finite, from 0 to [`MAX_SECONDS`].
pub fn seconds(value: f64) -> Result<Duration, NumberError> {
    #[allow(clippy::cast_precision_loss)]
    let max = MAX_SECONDS as f64;
    if !(0.0..=max).contains(&value) {
        return Err(seconds_error(value.to_string()));
    }
    Duration::try_from_secs_f64(value).map_err(|_| seconds_error(value.to_string()))
}

/// A whole number of seconds, from 0 to [`MAX_SECONDS`].
pub fn whole_seconds(value: i64) -> Result<Duration, NumberError> {
    u64::try_from(value)
        .ok()
        .filter(|seconds| *seconds <= MAX_SECONDS)
        .map(Duration::from_secs)
        .ok_or_else(|| seconds_error(value.to_string()))
}

/// A whole count, from 0 to [`MAX_COUNT`].
pub fn count(value: i64) -> Result<u64, NumberError> {
    u64::try_from(value)
        .ok()
        .filter(|count| *count <= MAX_COUNT)
        .ok_or_else(|| count_error(value.to_string()))
}

/// Seconds written as text (a rendered template, `key=value` arguments, an inventory
/// variable): a decimal number, surrounding space allowed.
pub fn seconds_from_text(text: &str) -> Result<Duration, NumberError> {
    let trimmed = text.trim();
    let parsed = match trimmed.parse::<i64>() {
        Ok(whole) => whole_seconds(whole),
        Err(_) => trimmed
            .parse::<f64>()
            .map_err(|_| seconds_error(""))
            .and_then(seconds),
    };
    parsed.map_err(|_| seconds_error(format!("`{text}`")))
}

/// A count written as text: a whole decimal number, surrounding space allowed.
pub fn count_from_text(text: &str) -> Result<u64, NumberError> {
    let trimmed = text.trim();
    match trimmed.parse::<i64>() {
        Ok(value) => count(value),
        // A float that is whole (`3.0`) is a count, as Python's int() of it would be.
        Err(_) => match trimmed.parse::<f64>() {
            Ok(value) if value.fract() == 0.0 && (0.0..=4_294_967_295.0).contains(&value) =>
            {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(value as u64)
            }
            _ => Err(count_error(format!("`{text}`"))),
        },
    }
}

/// Seconds from a rendered template value: a number, or text holding one.
pub fn seconds_from_value(value: &minijinja::Value) -> Result<Duration, NumberError> {
    if let Some(text) = value.as_str() {
        return seconds_from_text(text);
    }
    if let Some(whole) = value.as_i64() {
        return whole_seconds(whole);
    }
    match f64::try_from(value.clone()) {
        Ok(number) if !value.is_undefined() && !value.is_none() => seconds(number),
        _ => Err(seconds_error(value.to_string())),
    }
}

/// A count from a rendered template value: a whole number, or text holding one.
pub fn count_from_value(value: &minijinja::Value) -> Result<u64, NumberError> {
    if let Some(text) = value.as_str() {
        return count_from_text(text);
    }
    if let Some(whole) = value.as_i64() {
        return count(whole);
    }
    match f64::try_from(value.clone()) {
        Ok(number) if !value.is_undefined() && !value.is_none() => {
            count_from_text(&number.to_string())
        }
        _ => Err(count_error(value.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::Value;

    #[test]
    fn seconds_must_be_finite_non_negative_and_in_range() {
        assert_eq!(seconds(1.5), Ok(Duration::from_millis(1500)));
        assert_eq!(seconds(0.0), Ok(Duration::ZERO));
        for bad in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -1.0, 1e30] {
            let error = seconds(bad).expect_err("out of range");
            assert!(
                error
                    .to_string()
                    .starts_with("expected a number of seconds from 0 to 4294967295"),
                "{error}"
            );
        }
        assert_eq!(whole_seconds(-1).map_err(|e| e.found), Err("-1".into()));
        assert!(whole_seconds(i64::MAX).is_err());
        assert_eq!(
            whole_seconds(4_294_967_295),
            Ok(Duration::from_secs(MAX_SECONDS))
        );
    }

    #[test]
    fn counts_must_be_whole_and_in_range() {
        assert_eq!(count(3), Ok(3));
        assert!(count(-1).is_err());
        assert!(count(4_294_967_296).is_err());
        assert_eq!(count_from_text(" 7 "), Ok(7));
        assert_eq!(count_from_text("3.0"), Ok(3));
        for bad in [
            "1e30",
            "18446744073709551616",
            "-2",
            "2.5",
            "nan",
            "inf",
            "many",
        ] {
            assert!(count_from_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_and_template_values_convert_with_checks() {
        assert_eq!(seconds_from_text("0.25"), Ok(Duration::from_millis(250)));
        for bad in [
            "18446744073709551616",
            "1e30",
            "-5",
            ".inf",
            "inf",
            "NaN",
            "soon",
        ] {
            assert!(seconds_from_text(bad).is_err(), "{bad}");
        }
        assert_eq!(
            seconds_from_value(&Value::from(2)),
            Ok(Duration::from_secs(2))
        );
        assert_eq!(
            seconds_from_value(&Value::from(0.5)),
            Ok(Duration::from_millis(500))
        );
        assert!(seconds_from_value(&Value::from(f64::INFINITY)).is_err());
        assert!(seconds_from_value(&Value::from(f64::NAN)).is_err());
        assert!(seconds_from_value(&Value::from(-3)).is_err());
        assert!(seconds_from_value(&Value::UNDEFINED).is_err());
        assert!(seconds_from_value(&Value::from(vec![1])).is_err());
        assert_eq!(count_from_value(&Value::from(4)), Ok(4));
        assert_eq!(count_from_value(&Value::from("5")), Ok(5));
        assert!(count_from_value(&Value::from(1e30)).is_err());
        assert!(count_from_value(&Value::from(u64::MAX)).is_err());
    }
}
