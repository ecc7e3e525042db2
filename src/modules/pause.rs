//! `pause`: wait on the controller for a while, without blocking the runtime.

use std::io::IsTerminal;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// Arguments of `pause`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseArgs {
    /// How long to pause, in seconds.
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    seconds: Option<f64>,
    /// How long to pause, in minutes.
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    minutes: Option<f64>,
    /// Text to show while waiting for input.
    prompt: Option<String>,
    /// Show what the user types.
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    echo: bool,
}

fn yes() -> bool {
    true
}

/// What `pause` registers (Ansible's shape; `start`/`stop` are UTC).
#[derive(Debug, Serialize)]
struct PauseOutcome {
    start: String,
    stop: String,
    delta: u64,
    user_input: String,
    echo: bool,
    stdout: String,
    stderr: String,
    rc: i32,
}

/// Ansible's warning when a pause would wait for input nobody can give.
const NOT_INTERACTIVE: &str = "Not waiting for response to prompt as stdin is not interactive";

/// `pause`: wait on the controller.
pub(crate) struct Pause;

#[async_trait]
impl Module for Pause {
    fn names(&self) -> &'static [&'static str] {
        &["pause", "ansible.builtin.pause", "ansible.legacy.pause"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<PauseArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, _: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        Ok(run(args).await?)
    }
}

/// Pauses for `seconds`/`minutes`; never changes anything.
///
/// Reading an answer to `prompt` needs the output layer (modules never print), so a pause
/// without a duration returns at once with a message instead of waiting for Enter.
/// The sleep is a tokio timer: dropping the future (Ctrl-C, a halted run) ends it.
async fn run(args: &Value) -> Result<ModuleResult, ArgError> {
    pause(args, std::io::stdin().is_terminal()).await
}

async fn pause(args: &Value, interactive: bool) -> Result<ModuleResult, ArgError> {
    let args: PauseArgs = args::parse(args)?;
    let (amount, unit) = match (args.seconds, args.minutes) {
        (Some(_), Some(_)) => {
            return Err(ArgError::Invalid(
                "parameters are mutually exclusive: minutes|seconds".into(),
            ))
        }
        (Some(seconds), None) => (Some(seconds), "seconds"),
        (None, Some(minutes)) => (Some(minutes * 60.0), "minutes"),
        (None, None) => (None, "seconds"),
    };
    let amount = amount
        .map(crate::seconds::seconds)
        .transpose()
        .map_err(|error| ArgError::Invalid(format!("{unit}: {error}")))?;
    let start = SystemTime::now();
    let clock = Instant::now();
    let mut msg = None;
    match amount {
        Some(duration) => tokio::time::sleep(duration).await,
        None if interactive => {
            msg = Some("interactive pause prompts are not supported yet; not waiting for input");
        }
        None => msg = Some(NOT_INTERACTIVE),
    }
    let elapsed = clock.elapsed().as_secs_f64();
    let shown = if unit == "minutes" {
        elapsed / 60.0
    } else {
        elapsed
    };
    let outcome = PauseOutcome {
        start: timestamp(start),
        stop: timestamp(SystemTime::now()),
        delta: elapsed as u64,
        user_input: String::new(),
        echo: args.echo,
        stdout: format!("Paused for {} {unit}", (shown * 100.0).round() / 100.0),
        stderr: String::new(),
        rc: 0,
    };
    let _prompt_not_shown = args.prompt;
    let result = ModuleResult::ok().with_data(&outcome);
    Ok(match msg {
        Some(msg) => result.with_msg(msg),
        None => result,
    })
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, the shape of Python's `str(datetime)`.
fn timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_micros()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn args(json: serde_json::Value) -> Value {
        crate::vars::from_json(&json)
    }

    #[tokio::test]
    async fn pauses_for_the_given_seconds_and_registers_timings() {
        let clock = Instant::now();
        let result = pause(&args(serde_json::json!({"seconds": 0.3})), false)
            .await
            .expect("valid");
        assert!(clock.elapsed() >= Duration::from_millis(300));
        assert!(!result.changed && !result.failed);
        assert!(result.msg.is_none());
        assert_eq!(result.data["delta"].as_i64(), Some(0));
        assert_eq!(result.data["user_input"].as_str(), Some(""));
        assert!(result.data["echo"].is_true());
        let stdout = result.data["stdout"].to_string();
        assert!(stdout.starts_with("Paused for 0.3"), "{stdout}");
        let start = result.data["start"].to_string();
        let stop = result.data["stop"].to_string();
        assert_eq!(start.len(), "2024-01-01 00:00:00.000000".len());
        assert!(stop > start, "{start} < {stop}");
    }

    #[tokio::test]
    async fn key_value_strings_are_accepted_as_durations() {
        let result = pause(
            &args(serde_json::json!({"seconds": "0", "echo": "no"})),
            false,
        )
        .await
        .expect("valid");
        assert!(!result.data["echo"].is_true());
    }

    #[tokio::test]
    async fn minutes_are_reported_in_minutes() {
        let result = pause(&args(serde_json::json!({"minutes": 0})), false)
            .await
            .expect("valid");
        assert_eq!(result.data["stdout"].as_str(), Some("Paused for 0 minutes"));
    }

    #[tokio::test]
    async fn prompt_without_a_terminal_returns_at_once_with_a_warning() {
        // Waiting for input would never end: the timeout only turns a hang into a failure.
        let result = tokio::time::timeout(
            Duration::from_secs(60),
            pause(&args(serde_json::json!({"prompt": "Continue?"})), false),
        )
        .await
        .expect("a prompt without a terminal must not wait for input")
        .expect("valid");
        assert_eq!(result.msg.as_deref(), Some(NOT_INTERACTIVE));
        assert!(!result.failed);
    }

    #[tokio::test]
    async fn prompt_with_seconds_still_pauses_without_a_terminal() {
        let clock = Instant::now();
        let result = pause(
            &args(serde_json::json!({"prompt": "Look now", "seconds": 0.2})),
            false,
        )
        .await
        .expect("valid");
        assert!(clock.elapsed() >= Duration::from_millis(200));
        assert!(result.msg.is_none());
    }

    #[tokio::test]
    async fn minutes_and_seconds_together_are_an_error() {
        let error = pause(
            &args(serde_json::json!({"minutes": 1, "seconds": 1})),
            false,
        )
        .await
        .expect_err("exclusive");
        assert!(error.to_string().contains("mutually exclusive"));
    }

    #[tokio::test]
    async fn negative_or_unparsable_durations_are_rejected() {
        for bad in [serde_json::json!(-1), serde_json::json!("soon")] {
            let outcome = pause(&args(serde_json::json!({ "seconds": bad })), false).await;
            assert!(matches!(outcome, Err(ArgError::Invalid(_))), "{bad}");
        }
    }

    #[tokio::test]
    async fn infinite_nan_or_huge_durations_are_rejected_not_slept_or_panicked_on() {
        for bad in [
            serde_json::json!({"seconds": 1e30}),
            serde_json::json!({"seconds": "inf"}),
            serde_json::json!({"seconds": "NaN"}),
            serde_json::json!({"seconds": "18446744073709551616"}),
            serde_json::json!({"minutes": "-inf"}),
            serde_json::json!({"minutes": 1e8}),
        ] {
            let outcome = pause(&args(bad.clone()), false).await;
            let Err(ArgError::Invalid(message)) = outcome else {
                panic!("{bad} was accepted: {outcome:?}");
            };
            assert!(message.contains("4294967295"), "{bad}: {message}");
        }
    }

    #[test]
    fn timestamps_are_gregorian_utc() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00:00:00.000000");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400) + Duration::from_micros(5);
        assert_eq!(timestamp(leap_day), "2000-02-29 00:00:00.000005");
        let later = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        assert_eq!(timestamp(later), "2024-02-29 23:59:59.000000");
    }
}
