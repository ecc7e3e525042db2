//! Reading a play's `notifications:` list into [`SinkSpec`]s, with located errors.
//!
//! ```yaml
//! notifications:
//!   - webhook: { url: "{{ slack_hook }}", format: slack }   # or just the URL
//!     notify_on: [start, halt, end]    # default: all four
//!     retries: 3                       # further attempts, 0-10 (default 3)
//!     delay: 1s                        # first pause, doubled each retry (default 1s)
//!     timeout: 10s                     # per attempt (default 10s)
//!   - command: [/usr/local/bin/page-oncall, --team, ops]  # argv; JSON summary on stdin
//!     notify_on: [halt]
//!   - email: { to: [ops@example.com], from: rpatch@example.com }
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

use super::error::NotifySpecError;
use super::spec::{
    NotifyEvent, PayloadFormat, SinkKind, SinkSpec, DEFAULT_DELAY, DEFAULT_RETRIES,
    DEFAULT_SENDMAIL, DEFAULT_TIMEOUT, KIND_KEYS, MAX_RETRIES,
};
use crate::diagnostic::{did_you_mean, Location, Source};
use crate::gates::{parse_duration, redact_webhook_url, redacted_location, GateUrl, UrlError};
use crate::yaml::{Key, Node, NodeKind};

const SINK_KEYS: [&str; 5] = ["name", "notify_on", "retries", "delay", "timeout"];
const WEBHOOK_KEYS: [&str; 5] = ["url", "format", "headers", "validate_certs", "ca_file"];
const EMAIL_KEYS: [&str; 3] = ["to", "from", "sendmail"];

/// Parses a play's `notifications:` value: a list of sinks (null is an empty list).
pub fn parse_sinks(node: &Node, source: &Arc<Source>) -> Result<Vec<SinkSpec>, NotifySpecError> {
    let file = File { source };
    match &node.kind {
        NodeKind::Null => Ok(Vec::new()),
        NodeKind::Seq(items) => items.iter().map(|item| file.sink(item)).collect(),
        _ => Err(file.wrong_type(node, "notifications", "a list of sinks")),
    }
}

struct File<'a> {
    source: &'a Arc<Source>,
}

impl File<'_> {
    fn at(&self, node: &Node) -> Location {
        Location::new(self.source.clone(), node.span)
    }

    fn wrong_type(&self, node: &Node, key: &str, expected: &'static str) -> NotifySpecError {
        NotifySpecError::WrongType {
            key: key.to_string(),
            expected,
            found: node.type_name(),
            at: self.at(node),
        }
    }

    fn unknown(&self, context: &'static str, key: &Key, known: &[&str]) -> NotifySpecError {
        NotifySpecError::UnknownKey {
            context,
            key: key.name.clone(),
            suggestion: did_you_mean(&key.name, known.iter().copied()),
            at: Location::new(self.source.clone(), key.span),
        }
    }

    fn map<'n>(&self, node: &'n Node, key: &str) -> Result<&'n [(Key, Node)], NotifySpecError> {
        node.as_map()
            .ok_or_else(|| self.wrong_type(node, key, "a mapping"))
    }

    fn text(&self, node: &Node, key: &str) -> Result<String, NotifySpecError> {
        match &node.kind {
            NodeKind::Str(text) => Ok(text.clone()),
            NodeKind::Int(int) => Ok(int.to_string()),
            NodeKind::Float(float) => Ok(float.to_string()),
            NodeKind::Bool(flag) => Ok(flag.to_string()),
            _ => Err(self.wrong_type(node, key, "a string")),
        }
    }

    fn required_text(&self, node: &Node, key: &'static str) -> Result<String, NotifySpecError> {
        let text = self.text(node, key)?;
        if text.trim().is_empty() {
            return Err(NotifySpecError::Invalid {
                key,
                problem: "must not be empty".into(),
                at: self.at(node),
                hint: None,
            });
        }
        Ok(text)
    }

    /// A string or a list of strings.
    fn texts(&self, node: &Node, key: &'static str) -> Result<Vec<String>, NotifySpecError> {
        let list = match &node.kind {
            NodeKind::Seq(items) => items
                .iter()
                .map(|item| self.required_text(item, key))
                .collect::<Result<Vec<_>, _>>()?,
            _ => vec![self.required_text(node, key)?],
        };
        if list.is_empty() {
            return Err(NotifySpecError::Invalid {
                key,
                problem: "must not be empty".into(),
                at: self.at(node),
                hint: None,
            });
        }
        Ok(list)
    }

    fn sink(&self, node: &Node) -> Result<SinkSpec, NotifySpecError> {
        let entries = self.map(node, "notification")?;
        let mut name = None;
        let mut events = NotifyEvent::ALL.to_vec();
        let mut retries = DEFAULT_RETRIES;
        let mut delay = DEFAULT_DELAY;
        let mut timeout = DEFAULT_TIMEOUT;
        let mut kind: Option<(&Key, SinkKind)> = None;
        for (key, value) in entries {
            match key.name.as_str() {
                "name" => name = Some(self.required_text(value, "name")?),
                "notify_on" => events = self.events(value)?,
                "retries" => retries = self.retries(value)?,
                "delay" => delay = self.duration(value, "delay")?,
                "timeout" => {
                    timeout = self.duration(value, "timeout")?;
                    if timeout.is_zero() {
                        return Err(NotifySpecError::Invalid {
                            key: "timeout",
                            problem: "must be longer than zero".into(),
                            at: self.at(value),
                            hint: Some("leave it out for the default of 10 seconds".into()),
                        });
                    }
                }
                other if KIND_KEYS.contains(&other) => {
                    if let Some((first, _)) = &kind {
                        return Err(NotifySpecError::TwoKinds {
                            first: first.name.clone(),
                            second: key.name.clone(),
                            at: Location::new(self.source.clone(), key.span),
                        });
                    }
                    kind = Some((key, self.kind(key, value)?));
                }
                _ => {
                    let known: Vec<&str> = SINK_KEYS.iter().chain(&KIND_KEYS).copied().collect();
                    return Err(self.unknown("notification", key, &known));
                }
            }
        }
        let Some((_, kind)) = kind else {
            return Err(NotifySpecError::NoKind { at: self.at(node) });
        };
        Ok(SinkSpec {
            name: name.unwrap_or_else(|| describe(&kind)),
            kind,
            events,
            retries,
            delay,
            timeout,
        })
    }

    fn events(&self, node: &Node) -> Result<Vec<NotifyEvent>, NotifySpecError> {
        let items: Vec<&Node> = match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            NodeKind::Str(_) => vec![node],
            _ => return Err(self.wrong_type(node, "notify_on", "a list of events")),
        };
        let mut events = Vec::new();
        for item in items {
            let text = self.text(item, "notify_on")?;
            let event =
                NotifyEvent::parse(text.trim()).ok_or_else(|| NotifySpecError::UnknownEvent {
                    suggestion: did_you_mean(
                        text.trim(),
                        NotifyEvent::ALL.iter().map(|e| e.as_str()),
                    ),
                    value: text.clone(),
                    at: self.at(item),
                })?;
            if !events.contains(&event) {
                events.push(event);
            }
        }
        if events.is_empty() {
            return Err(NotifySpecError::Invalid {
                key: "notify_on",
                problem: "must name at least one event".into(),
                at: self.at(node),
                hint: Some("start, batch, halt or end; leave it out for all four".into()),
            });
        }
        events.sort();
        Ok(events)
    }

    fn retries(&self, node: &Node) -> Result<u32, NotifySpecError> {
        match node.kind {
            NodeKind::Int(value) => u32::try_from(value)
                .ok()
                .filter(|retries| *retries <= MAX_RETRIES)
                .ok_or_else(|| NotifySpecError::Invalid {
                    key: "retries",
                    problem: format!("must be from 0 to {MAX_RETRIES}, found {value}"),
                    at: self.at(node),
                    hint: Some("use 0 for a single attempt".into()),
                }),
            _ => Err(self.wrong_type(node, "retries", "a whole number")),
        }
    }

    fn duration(&self, node: &Node, key: &'static str) -> Result<Duration, NotifySpecError> {
        let bad = |value: String| NotifySpecError::BadDuration {
            key,
            value,
            at: self.at(node),
        };
        match &node.kind {
            NodeKind::Int(seconds) => {
                crate::seconds::whole_seconds(*seconds).map_err(|_| bad(seconds.to_string()))
            }
            NodeKind::Float(seconds) => {
                crate::seconds::seconds(*seconds).map_err(|_| bad(seconds.to_string()))
            }
            NodeKind::Str(text) => parse_duration(text)
                .filter(|duration| duration.as_secs() <= crate::seconds::MAX_SECONDS)
                .ok_or_else(|| bad(format!("{text:?}"))),
            _ => Err(bad(node.type_name().to_string())),
        }
    }

    fn kind(&self, key: &Key, value: &Node) -> Result<SinkKind, NotifySpecError> {
        match key.name.as_str() {
            "webhook" => self.webhook(value),
            "command" => self.command(value),
            _ => self.email(key, value),
        }
    }

    fn webhook(&self, node: &Node) -> Result<SinkKind, NotifySpecError> {
        let mut url = None;
        let mut format = PayloadFormat::default();
        let mut headers = IndexMap::new();
        let mut validate_certs = true;
        let mut ca_file = None;
        match &node.kind {
            NodeKind::Map(entries) => {
                for (key, value) in entries {
                    match key.name.as_str() {
                        "url" => url = Some(self.url(value)?),
                        "format" => format = self.format(value)?,
                        "headers" => {
                            for (name, header) in self.map(value, "headers")? {
                                headers.insert(name.name.clone(), self.text(header, "headers")?);
                            }
                        }
                        "validate_certs" => match value.kind {
                            NodeKind::Bool(flag) => validate_certs = flag,
                            _ => return Err(self.wrong_type(value, "validate_certs", "a boolean")),
                        },
                        "ca_file" => {
                            ca_file = Some(PathBuf::from(self.required_text(value, "ca_file")?))
                        }
                        _ => return Err(self.unknown("webhook", key, &WEBHOOK_KEYS)),
                    }
                }
            }
            _ => url = Some(self.url(node)?),
        }
        let Some(url) = url else {
            return Err(NotifySpecError::Missing {
                context: "webhook",
                key: "url",
                at: self.at(node),
            });
        };
        Ok(SinkKind::Webhook {
            url,
            format,
            headers,
            validate_certs,
            ca_file,
        })
    }

    /// A webhook URL: a template is checked once rendered, at run start; anything else now.
    fn url(&self, node: &Node) -> Result<String, NotifySpecError> {
        let url = self.required_text(node, "url")?;
        if crate::template::is_template(&url) {
            return Ok(url);
        }
        match GateUrl::parse(&url) {
            Ok(_) => Ok(url),
            Err(error) => {
                let shown = redact_webhook_url(&url);
                let problem = match error {
                    UrlError::Scheme => {
                        format!("must start with http:// or https://, found {shown:?}")
                    }
                    other => other.to_string(),
                };
                Err(NotifySpecError::Invalid {
                    key: "url",
                    problem,
                    at: redacted_location(self.source, node, &url, &shown),
                    hint: Some(crate::gates::URL_HINT.into()),
                })
            }
        }
    }

    fn format(&self, node: &Node) -> Result<PayloadFormat, NotifySpecError> {
        let text = self.text(node, "format")?;
        PayloadFormat::ALL
            .into_iter()
            .find(|format| format.as_str() == text.trim())
            .ok_or_else(|| NotifySpecError::Invalid {
                key: "format",
                problem: format!(
                    "must be generic, slack, teams or teams_messagecard, found {text:?}"
                ),
                at: self.at(node),
                hint: did_you_mean(text.trim(), PayloadFormat::ALL.iter().map(|f| f.as_str()))
                    .map(|s| format!("did you mean `{s}`?")),
            })
    }

    fn command(&self, node: &Node) -> Result<SinkKind, NotifySpecError> {
        let NodeKind::Seq(items) = &node.kind else {
            return Err(NotifySpecError::Invalid {
                key: "command",
                problem: format!("must be a list (program and arguments), found {}", node.type_name()),
                at: self.at(node),
                hint: Some(
                    "write `command: [/usr/local/bin/notify, --flag]`; for a shell line, `command: [sh, -c, \"...\"]`"
                        .into(),
                ),
            });
        };
        let argv = items
            .iter()
            .map(|item| self.required_text(item, "command"))
            .collect::<Result<Vec<_>, _>>()?;
        if argv.is_empty() {
            return Err(NotifySpecError::Invalid {
                key: "command",
                problem: "must name a program".into(),
                at: self.at(node),
                hint: None,
            });
        }
        Ok(SinkKind::Command { argv })
    }

    fn email(&self, key: &Key, node: &Node) -> Result<SinkKind, NotifySpecError> {
        let entries = match &node.kind {
            NodeKind::Map(entries) => entries.as_slice(),
            NodeKind::Str(_) | NodeKind::Seq(_) => {
                return self.email_to(key, self.texts(node, "to")?, None, None)
            }
            _ => return Err(self.wrong_type(node, "email", "a mapping or an address")),
        };
        let (mut to, mut from, mut sendmail) = (None, None, None);
        for (entry, value) in entries {
            match entry.name.as_str() {
                "to" => to = Some(self.texts(value, "to")?),
                "from" => from = Some(self.required_text(value, "from")?),
                "sendmail" => {
                    sendmail = Some(PathBuf::from(self.required_text(value, "sendmail")?))
                }
                _ => return Err(self.unknown("email", entry, &EMAIL_KEYS)),
            }
        }
        let Some(to) = to else {
            return Err(NotifySpecError::Missing {
                context: "email",
                key: "to",
                at: self.at(node),
            });
        };
        self.email_to(key, to, from, sendmail)
    }

    fn email_to(
        &self,
        key: &Key,
        to: Vec<String>,
        from: Option<String>,
        sendmail: Option<PathBuf>,
    ) -> Result<SinkKind, NotifySpecError> {
        let sendmail = sendmail.unwrap_or_else(|| PathBuf::from(DEFAULT_SENDMAIL));
        if !is_executable(&sendmail) {
            return Err(NotifySpecError::NoSendmail {
                path: sendmail,
                at: Location::new(self.source.clone(), key.span),
            });
        }
        Ok(SinkKind::Email { to, from, sendmail })
    }
}

/// A regular file with an execute bit.
fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// How a sink named after its URL shows a URL that is still a template.
pub(super) const TEMPLATED_URL: &str = "(templated URL)";

/// A sink's name when it has none: its kind and where it goes, without secrets.
fn describe(kind: &SinkKind) -> String {
    match kind {
        SinkKind::Webhook { url, format, .. } => {
            let shown = if crate::template::is_template(url) {
                TEMPLATED_URL.to_string()
            } else {
                redact_webhook_url(url)
            };
            match format {
                PayloadFormat::Generic => format!("webhook {shown}"),
                other => format!("{} webhook {shown}", other.as_str()),
            }
        }
        SinkKind::Command { argv } => format!("command {}", argv[0]),
        SinkKind::Email { to, .. } => format!("email to {}", to.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Diagnose;

    fn parse(yaml: &str) -> Result<Vec<SinkSpec>, NotifySpecError> {
        let source = Source::new("site.yml", yaml);
        let node = crate::yaml::parse(&source).expect("yaml");
        parse_sinks(&node, &source)
    }

    fn error(yaml: &str) -> (String, String) {
        let error = parse(yaml).expect_err(yaml);
        let at = error
            .location()
            .map(ToString::to_string)
            .unwrap_or_default();
        (error.to_string(), at)
    }

    #[test]
    fn sinks_parse_with_defaults_and_their_events() {
        let sinks = parse(
            "- webhook: https://hooks.slack.com/services/T1/B2/SECRET\n  notify_on: [end, start]\n\
             - webhook: { url: \"http://127.0.0.1:9/x\", format: teams }\n  retries: 0\n  delay: 250ms\n  timeout: 2s\n\
             - command: [sh, -c, \"cat > out\"]\n",
        )
        .expect("valid");
        assert_eq!(sinks.len(), 3);
        assert_eq!(sinks[0].events, [NotifyEvent::Start, NotifyEvent::End]);
        assert_eq!(
            sinks[0].name,
            "webhook https://hooks.slack.com/services/***"
        );
        assert_eq!(sinks[0].retries, DEFAULT_RETRIES);
        assert!(matches!(
            sinks[1].kind,
            SinkKind::Webhook {
                format: PayloadFormat::Teams,
                ..
            }
        ));
        assert_eq!(sinks[1].delay, Duration::from_millis(250));
        assert_eq!(sinks[2].events, NotifyEvent::ALL);
        assert_eq!(sinks[2].name, "command sh");
    }

    #[test]
    fn bad_sinks_are_located_errors() {
        for (yaml, says, at) in [
            (
                "- webhook: ftp://h/x\n",
                "must start with http",
                "site.yml:1:12",
            ),
            (
                "- webhook: http://h/x\n  notify_on: [stat]\n",
                "unknown notify_on event `stat`",
                "site.yml:2:15",
            ),
            (
                "- pager: x\n",
                "unknown notification key `pager`",
                "site.yml:1:3",
            ),
            ("- name: x\n", "has no sink", "site.yml:1:3"),
            (
                "- command: \"echo hi\"\n",
                "must be a list",
                "site.yml:1:12",
            ),
            (
                "- webhook: http://h/x\n  retries: -1\n",
                "from 0 to 10",
                "site.yml:2:12",
            ),
            (
                "- webhook: http://h/x\n  retries: 99\n",
                "from 0 to 10",
                "site.yml:2:12",
            ),
            (
                "- webhook: http://h/x\n  timeout: soon\n",
                "`timeout` must be",
                "site.yml:2:12",
            ),
            (
                "- webhook: { url: http://h/x, format: discord }\n",
                "must be generic",
                "site.yml:1:39",
            ),
            (
                "- email: { to: a@b, sendmail: /nonexistent/sendmail }\n",
                "/nonexistent/sendmail",
                "site.yml:1:3",
            ),
        ] {
            let (message, location) = error(yaml);
            assert!(message.contains(says), "{yaml}: {message}");
            assert_eq!(location, at, "{yaml}: {message}");
        }
    }

    #[test]
    fn a_bad_webhook_url_error_never_shows_its_token() {
        let error = parse("- webhook: \"https://u:pw@hooks.example:99999/services/T1/B2/TOKEN\"\n")
            .expect_err("bad port");
        let rendered = crate::diagnostic::render(&error);
        for secret in ["TOKEN", "pw", "T1/B2"] {
            assert!(!rendered.contains(secret), "{rendered}");
        }
        let error = parse("- webhook: \"gopher://hooks.example/services/T1/B2/TOKEN\"\n")
            .expect_err("scheme");
        let rendered = crate::diagnostic::render(&error);
        assert!(!rendered.contains("TOKEN"), "{rendered}");
        assert!(rendered.contains("http://"), "{rendered}");
    }
}
