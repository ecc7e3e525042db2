//! One delivery of one event to one sink, with retries: the webhook `POST`, the `command` run
//! with the JSON on stdin, the mail handed to `sendmail -t`.
//!
//! Each attempt gets the sink's `timeout` (a command or sendmail still running then is
//! killed); a failed attempt is retried after `delay`, doubled each time. Messages name the sink
//! without secrets (webhook URLs are shown by [`crate::gates::redact_webhook_url`]).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::payload::NotifyPayload;
use super::spec::{NotifyEvent, PayloadFormat, SinkSpec};
use crate::gates::{redact_url, redact_webhook_url, HttpRequest};

/// A sink ready to deliver: templates rendered, the HTTP client built.
pub(crate) struct ReadySink {
    /// The sink as written (name, events, retries, timings).
    pub spec: SinkSpec,
    /// What it delivers with.
    pub target: Target,
}

/// The rendered destination of a sink.
pub(crate) enum Target {
    /// A webhook's client, its body shape and the raw URL (to scrub from error messages).
    Webhook {
        request: HttpRequest,
        format: PayloadFormat,
        raw_url: String,
    },
    /// Program and arguments.
    Command { argv: Vec<String> },
    /// sendmail, recipients and sender.
    Email {
        sendmail: std::path::PathBuf,
        to: Vec<String>,
        from: Option<String>,
    },
}

/// How a delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// Whether an attempt succeeded.
    pub delivered: bool,
    /// Attempts made.
    pub attempts: u32,
    /// What the last attempt saw (no secrets).
    pub message: String,
}

impl ReadySink {
    /// Delivers `payload`, with at most `retries` retries after backoff pauses; never longer than
    /// `(retries + 1) × timeout` plus the pauses.
    pub(crate) async fn deliver(&self, payload: &NotifyPayload, retries: u32) -> Delivery {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let outcome = match tokio::time::timeout(self.spec.timeout, self.attempt(payload)).await
            {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("timed out after {}", seconds(self.spec.timeout))),
            };
            match outcome {
                Ok(message) => {
                    return Delivery {
                        delivered: true,
                        attempts,
                        message,
                    }
                }
                Err(message) if attempts > retries => {
                    return Delivery {
                        delivered: false,
                        attempts,
                        message,
                    }
                }
                Err(message) => {
                    tracing::debug!(sink = %self.spec.name, attempts, %message, "notification attempt failed");
                    tokio::time::sleep(self.spec.backoff(attempts)).await;
                }
            }
        }
    }

    async fn attempt(&self, payload: &NotifyPayload) -> Result<String, String> {
        match &self.target {
            Target::Webhook {
                request,
                format,
                raw_url,
            } => {
                let response = request
                    .clone()
                    .with_body(webhook_body(payload, *format))
                    .send(false)
                    .await
                    .map_err(|why| scrub(&why, raw_url))?;
                if (200..300).contains(&response.status) {
                    Ok(format!("status {}", response.status))
                } else {
                    Err(format!("status {}", response.status))
                }
            }
            Target::Command { argv } => {
                let json = serde_json::to_vec(payload).unwrap_or_default();
                run_with_stdin(argv, &json, payload.event, &payload.run_id).await
            }
            Target::Email { sendmail, to, from } => {
                let mail = mail(payload, to, from.as_deref());
                let argv = vec![
                    sendmail.display().to_string(),
                    "-t".to_string(),
                    "-i".to_string(),
                ];
                run_with_stdin(&argv, mail.as_bytes(), payload.event, &payload.run_id).await
            }
        }
    }
}

/// The JSON bytes a webhook of `format` is sent.
fn webhook_body(payload: &NotifyPayload, format: PayloadFormat) -> Vec<u8> {
    serde_json::to_vec(&payload.body(format)).unwrap_or_default()
}

/// `why` with the URL (raw or as `redact_url` shows it) replaced by its webhook-safe form.
fn scrub(why: &str, raw_url: &str) -> String {
    let shown = redact_webhook_url(raw_url);
    why.replace(raw_url, &shown)
        .replace(&redact_url(raw_url), &shown)
}

/// The most of a command's stderr that is read.
const STDERR_LIMIT: u64 = 64 * 1024;

/// Runs `argv` (no shell) with `input` on stdin; exit 0 passes. stdout is discarded, the end
/// of stderr explains a failure. The child is killed if the attempt times out.
async fn run_with_stdin(
    argv: &[String],
    input: &[u8],
    event: NotifyEvent,
    run_id: &str,
) -> Result<String, String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("no program to run".into());
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("RPATCH_EVENT", event.as_str())
        .env("RPATCH_RUN_ID", run_id)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot run {program}: {error}"))?;
    // Written and read at once, so a program that talks before it reads cannot block us; stdin
    // is closed once written (the program sees EOF). Only the start of stderr is kept.
    let (stdin, stderr) = (child.stdin.take(), child.stderr.take());
    let write = async move {
        if let Some(mut stdin) = stdin {
            // A program that exits without reading says so by its exit code.
            let _ = stdin.write_all(input).await;
        }
    };
    let read = async move {
        let mut text = String::new();
        if let Some(pipe) = stderr {
            let _ = pipe.take(STDERR_LIMIT).read_to_string(&mut text).await;
        }
        text
    };
    let ((), stderr) = tokio::join!(write, read);
    let status = child
        .wait()
        .await
        .map_err(|error| format!("{program}: {error}"))?;
    if status.success() {
        return Ok(format!("{program} exited 0"));
    }
    let last = stderr.lines().rev().find(|line| !line.trim().is_empty());
    let code = status
        .code()
        .map_or("was killed by a signal".to_string(), |code| {
            format!("exited {code}")
        });
    Err(match last {
        Some(line) => format!("{program} {code}: {}", line.trim()),
        None => format!("{program} {code}"),
    })
}

/// A plain-text mail for `sendmail -t`: headers (CR and LF removed from values), a blank
/// line, the summary.
fn mail(payload: &NotifyPayload, to: &[String], from: Option<&str>) -> String {
    let clean = |text: &str| text.replace(['\r', '\n'], " ");
    let mut out = String::new();
    if let Some(from) = from {
        out.push_str(&format!("From: {}\n", clean(from)));
    }
    let to: Vec<String> = to.iter().map(|address| clean(address)).collect();
    out.push_str(&format!("To: {}\n", to.join(", ")));
    out.push_str(&format!("Subject: {}\n", clean(&payload.title())));
    out.push_str("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n");
    out.push_str(&format!("X-Rpatch-Run: {}\n\n", clean(&payload.run_id)));
    out.push_str(&payload.text());
    out
}

fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(script: &str) -> Vec<String> {
        ["sh", "-c", script].map(String::from).to_vec()
    }

    #[tokio::test]
    async fn a_command_gets_its_input_and_a_failure_says_why() {
        let big = vec![b'x'; 300 * 1024];
        let ok = run_with_stdin(
            &argv("echo start >&2; test \"$(wc -c)\" -eq 307200"),
            &big,
            NotifyEvent::End,
            "r",
        )
        .await;
        assert!(ok.is_ok(), "{ok:?}");
        let failed = run_with_stdin(
            &argv("echo first >&2; echo \"no $RPATCH_EVENT\" >&2; exit 3"),
            b"{}",
            NotifyEvent::Halt,
            "r",
        )
        .await;
        assert_eq!(failed, Err("sh exited 3: no halt".to_string()));
        let missing = run_with_stdin(
            &["/nonexistent/notify".to_string()],
            b"{}",
            NotifyEvent::End,
            "r",
        )
        .await;
        assert!(missing.is_err_and(|why| why.starts_with("cannot run /nonexistent/notify")));
    }
}
