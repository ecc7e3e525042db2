//! Reading a play's `gates:` list from YAML into [`GateSpec`]s, with located errors.
//!
//! ```yaml
//! gates:
//!   - name: API answers
//!     http: { url: "https://api/healthz", status: [200, 204], follow_redirects: safe }
//!     retries: 20
//!     delay: 15          # seconds, or "15s", "2m", "1h", "1m30s", "500ms"
//!     timeout: 5s        # per attempt
//!   - tcp: "db01:5432"                       # or { host: db01, port: 5432 }
//!   - command: "test -e /srv/ok"             # on the controller
//!   - on_hosts: { command: "systemctl is-active libvirtd", group: hypervisors }
//!   - prometheus:
//!       url: http://prometheus:9090
//!       query: 'ALERTS{alertstate="firing",severity="critical"}'
//!       alert_regex: "^(HostDown|CephHealth)"
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

use super::error::GateSpecError;
use super::redact::redact_url;
use super::spec::{
    FollowRedirects, GateKind, GateSpec, HttpCheck, HttpMethod, PrometheusCheck, TlsOptions,
    DEFAULT_DELAY, DEFAULT_RETRIES, DEFAULT_TIMEOUT, KIND_KEYS,
};
use super::url::{GateUrl, UrlError, URL_HINT};
use crate::diagnostic::{did_you_mean, Location, Source};
use crate::yaml::{Key, Node, NodeKind};

/// Keys a gate may have besides its kind.
const GATE_KEYS: [&str; 4] = ["name", "retries", "delay", "timeout"];
const HTTP_KEYS: [&str; 8] = [
    "url",
    "method",
    "status",
    "body_regex",
    "headers",
    "validate_certs",
    "ca_file",
    "follow_redirects",
];
const TCP_KEYS: [&str; 2] = ["host", "port"];
const COMMAND_KEYS: [&str; 1] = ["command"];
const ON_HOSTS_KEYS: [&str; 2] = ["command", "group"];
const PROMETHEUS_KEYS: [&str; 6] = [
    "url",
    "query",
    "alert_regex",
    "headers",
    "validate_certs",
    "ca_file",
];

/// Parses a play's `gates:` value: a list of gates (null is an empty list).
pub fn parse_gates(node: &Node, source: &Arc<Source>) -> Result<Vec<GateSpec>, GateSpecError> {
    let file = File { source };
    match &node.kind {
        NodeKind::Null => Ok(Vec::new()),
        NodeKind::Seq(items) => items.iter().map(|item| file.gate(item)).collect(),
        _ => Err(file.wrong_type(node, "gates", "a list of gates")),
    }
}

/// Parses one gate (a mapping with one kind key and optional `name`/`retries`/`delay`/`timeout`).
pub fn parse_gate(node: &Node, source: &Arc<Source>) -> Result<GateSpec, GateSpecError> {
    File { source }.gate(node)
}

/// Reads a duration: whole seconds as a number, or a string of `<n><unit>` parts with units
/// `ms`, `s`, `m`, `h` (`"90"`, `"30s"`, `"2m"`, `"1m30s"`, `"500ms"`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value.checked_mul(60)?),
            "h" => Duration::from_secs(value.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// The file being read, for locations.
struct File<'a> {
    source: &'a Arc<Source>,
}

impl File<'_> {
    fn at(&self, node: &Node) -> Location {
        Location::new(self.source.clone(), node.span)
    }

    fn key_at(&self, key: &Key) -> Location {
        Location::new(self.source.clone(), key.span)
    }

    fn wrong_type(&self, node: &Node, key: &str, expected: &'static str) -> GateSpecError {
        GateSpecError::WrongType {
            key: key.to_string(),
            expected,
            found: node.type_name(),
            at: self.at(node),
        }
    }

    fn unknown(&self, context: &'static str, key: &Key, known: &[&str]) -> GateSpecError {
        GateSpecError::UnknownKey {
            context,
            key: key.name.clone(),
            suggestion: did_you_mean(&key.name, known.iter().copied()),
            at: self.key_at(key),
        }
    }

    fn map<'n>(&self, node: &'n Node, key: &str) -> Result<&'n [(Key, Node)], GateSpecError> {
        node.as_map()
            .ok_or_else(|| self.wrong_type(node, key, "a mapping"))
    }

    /// A scalar as text (numbers and booleans stringified, as Ansible does).
    fn text(&self, node: &Node, key: &str) -> Result<String, GateSpecError> {
        match &node.kind {
            NodeKind::Str(text) => Ok(text.clone()),
            NodeKind::Int(int) => Ok(int.to_string()),
            NodeKind::Float(float) => Ok(float.to_string()),
            NodeKind::Bool(flag) => Ok(flag.to_string()),
            _ => Err(self.wrong_type(node, key, "a string")),
        }
    }

    /// A non-empty string.
    fn required_text(&self, node: &Node, key: &'static str) -> Result<String, GateSpecError> {
        let text = self.text(node, key)?;
        if text.trim().is_empty() {
            return Err(GateSpecError::Invalid {
                key,
                problem: "must not be empty".into(),
                at: self.at(node),
                hint: None,
            });
        }
        Ok(text)
    }

    fn bool(&self, node: &Node, key: &str) -> Result<bool, GateSpecError> {
        match node.kind {
            NodeKind::Bool(flag) => Ok(flag),
            _ => Err(self.wrong_type(node, key, "a boolean")),
        }
    }

    fn gate(&self, node: &Node) -> Result<GateSpec, GateSpecError> {
        let entries = self.map(node, "gate")?;
        let mut name = None;
        let mut retries = DEFAULT_RETRIES;
        let mut delay = DEFAULT_DELAY;
        let mut timeout = DEFAULT_TIMEOUT;
        let mut kind: Option<(&Key, GateKind)> = None;
        for (key, value) in entries {
            match key.name.as_str() {
                "name" => name = Some(self.text(value, "name")?),
                "retries" => retries = self.retries(value)?,
                "delay" => delay = self.duration(value, "delay")?,
                "timeout" => {
                    timeout = self.duration(value, "timeout")?;
                    if timeout.is_zero() {
                        return Err(GateSpecError::Invalid {
                            key: "timeout",
                            problem: "must be longer than zero".into(),
                            at: self.at(value),
                            hint: Some("leave it out for the default of 10 seconds".into()),
                        });
                    }
                }
                other if KIND_KEYS.contains(&other) => {
                    if let Some((first, _)) = &kind {
                        return Err(GateSpecError::TwoKinds {
                            first: first.name.clone(),
                            second: key.name.clone(),
                            at: self.key_at(key),
                        });
                    }
                    kind = Some((key, self.kind(key, value)?));
                }
                _ => {
                    let known: Vec<&str> = GATE_KEYS.iter().chain(&KIND_KEYS).copied().collect();
                    return Err(self.unknown("gate", key, &known));
                }
            }
        }
        let Some((_, kind)) = kind else {
            return Err(GateSpecError::NoKind { at: self.at(node) });
        };
        Ok(GateSpec {
            name: name.unwrap_or_else(|| describe(&kind)),
            kind,
            retries,
            delay,
            timeout,
        })
    }

    fn retries(&self, node: &Node) -> Result<u32, GateSpecError> {
        match node.kind {
            NodeKind::Int(value) if value < 0 => Err(GateSpecError::NegativeRetries {
                value,
                at: self.at(node),
            }),
            NodeKind::Int(value) => u32::try_from(value).map_err(|_| GateSpecError::Invalid {
                key: "retries",
                problem: format!("is too large: {value}"),
                at: self.at(node),
                hint: None,
            }),
            _ => Err(self.wrong_type(node, "retries", "a whole number")),
        }
    }

    fn duration(&self, node: &Node, key: &'static str) -> Result<Duration, GateSpecError> {
        let bad = |value: String| GateSpecError::BadDuration {
            key,
            value,
            at: self.at(node),
        };
        // Every duration stays within the range clock arithmetic is safe for.
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

    fn kind(&self, key: &Key, value: &Node) -> Result<GateKind, GateSpecError> {
        match key.name.as_str() {
            "http" => self.http(value).map(GateKind::Http),
            "tcp" => self.tcp(value),
            "command" => self.command(value),
            "on_hosts" => self.on_hosts(value),
            _ => self.prometheus(value).map(GateKind::Prometheus),
        }
    }

    fn http(&self, node: &Node) -> Result<HttpCheck, GateSpecError> {
        if node.as_str().is_some() {
            return Ok(HttpCheck {
                url: self.url(node)?,
                method: HttpMethod::Get,
                status: vec![200],
                body_regex: None,
                headers: IndexMap::new(),
                tls: TlsOptions::default(),
                follow_redirects: FollowRedirects::default(),
            });
        }
        let entries = self.map(node, "http")?;
        let mut url = None;
        let mut method = HttpMethod::Get;
        let mut status = vec![200];
        let mut body_regex = None;
        let mut headers = IndexMap::new();
        let mut tls = TlsOptions::default();
        let mut follow_redirects = FollowRedirects::default();
        for (key, value) in entries {
            match key.name.as_str() {
                "url" => url = Some(self.url(value)?),
                "method" => method = self.method(value)?,
                "follow_redirects" => follow_redirects = self.follow_redirects(value)?,
                "status" => status = self.status(value)?,
                "body_regex" => body_regex = Some(self.regex(value, "body_regex")?),
                "headers" => headers = self.headers(value)?,
                "validate_certs" | "ca_file" => self.tls(key, value, &mut tls)?,
                _ => return Err(self.unknown("http gate", key, &HTTP_KEYS)),
            }
        }
        let url = url.ok_or_else(|| GateSpecError::Missing {
            context: "http gate",
            key: "url",
            at: self.at(node),
        })?;
        Ok(HttpCheck {
            url,
            method,
            status,
            body_regex,
            headers,
            tls,
            follow_redirects,
        })
    }

    fn tls(&self, key: &Key, value: &Node, tls: &mut TlsOptions) -> Result<(), GateSpecError> {
        if key.name == "validate_certs" {
            tls.validate_certs = self.bool(value, "validate_certs")?;
        } else {
            tls.ca_file = Some(PathBuf::from(self.required_text(value, "ca_file")?));
        }
        Ok(())
    }

    /// An http(s) URL checked now, or a template (checked once rendered, when the gate runs).
    fn url(&self, node: &Node) -> Result<String, GateSpecError> {
        let url = self.required_text(node, "url")?;
        if url.contains("{{") || url.contains("{%") {
            return Ok(url);
        }
        match GateUrl::parse(&url) {
            Ok(_) => Ok(url),
            Err(UrlError::Scheme) => Err(GateSpecError::Invalid {
                key: "url",
                problem: format!(
                    "must start with http:// or https://, found {:?}",
                    redact_url(&url)
                ),
                at: self.at(node),
                hint: None,
            }),
            Err(error) => Err(GateSpecError::Invalid {
                key: "url",
                problem: error.to_string(),
                at: self.at_redacted(node, &url),
                hint: Some(URL_HINT.into()),
            }),
        }
    }

    /// Where `node` is, in a copy of the file whose quoted line shows `url` redacted: the error
    /// for a URL that holds credentials must not print them, not even in the quoted line.
    fn at_redacted(&self, node: &Node, url: &str) -> Location {
        redacted_location(self.source, node, url, &redact_url(url))
    }

    fn follow_redirects(&self, node: &Node) -> Result<FollowRedirects, GateSpecError> {
        let text = self.text(node, "follow_redirects")?;
        FollowRedirects::ALL
            .into_iter()
            .find(|value| value.as_str() == text)
            .ok_or_else(|| GateSpecError::Invalid {
                key: "follow_redirects",
                problem: format!("must be none, safe or all, found {text:?}"),
                at: self.at(node),
                hint: Some(
                    "`safe` (the default) follows redirects of GET and HEAD only; Ansible's \
                     deprecated yes/no/urllib2 are not accepted"
                        .into(),
                ),
            })
    }

    fn method(&self, node: &Node) -> Result<HttpMethod, GateSpecError> {
        let text = self.text(node, "method")?;
        HttpMethod::parse(&text).ok_or_else(|| GateSpecError::Invalid {
            key: "method",
            problem: format!("must be an HTTP method, found {text:?}"),
            at: self.at(node),
            hint: Some(format!(
                "one of {}",
                HttpMethod::ALL.map(HttpMethod::as_str).join(", ")
            )),
        })
    }

    fn status(&self, node: &Node) -> Result<Vec<u16>, GateSpecError> {
        let items: Vec<&Node> = match &node.kind {
            NodeKind::Seq(items) if items.is_empty() => {
                return Err(GateSpecError::BadStatus {
                    value: "an empty list".into(),
                    at: self.at(node),
                })
            }
            NodeKind::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        items
            .into_iter()
            .map(|item| {
                let code = match &item.kind {
                    NodeKind::Int(code) => Some(*code),
                    NodeKind::Str(text) => text.trim().parse().ok(),
                    _ => None,
                };
                code.filter(|code| (100..=599).contains(code))
                    .and_then(|code| u16::try_from(code).ok())
                    .ok_or_else(|| GateSpecError::BadStatus {
                        value: match &item.kind {
                            NodeKind::Str(text) => format!("{text:?}"),
                            NodeKind::Int(code) => code.to_string(),
                            _ => item.type_name().to_string(),
                        },
                        at: self.at(item),
                    })
            })
            .collect()
    }

    fn regex(&self, node: &Node, key: &'static str) -> Result<String, GateSpecError> {
        let text = self.text(node, key)?;
        regex::Regex::new(&text).map_err(|error| GateSpecError::BadRegex {
            key,
            reason: regex_reason(&error),
            at: self.at(node),
        })?;
        Ok(text)
    }

    fn headers(&self, node: &Node) -> Result<IndexMap<String, String>, GateSpecError> {
        let entries = self.map(node, "headers")?;
        entries
            .iter()
            .map(|(key, value)| {
                let valid_name = !key.name.is_empty()
                    && key
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !valid_name {
                    return Err(GateSpecError::Invalid {
                        key: "headers",
                        problem: format!("has an invalid header name {:?}", key.name),
                        at: self.key_at(key),
                        hint: None,
                    });
                }
                Ok((key.name.clone(), self.text(value, &key.name)?))
            })
            .collect()
    }

    fn tcp(&self, node: &Node) -> Result<GateKind, GateSpecError> {
        if let Some(text) = node.as_str() {
            let parsed = text
                .rsplit_once(':')
                .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
                .filter(|(host, port)| !host.is_empty() && *port > 0);
            let Some((host, port)) = parsed else {
                return Err(GateSpecError::Invalid {
                    key: "tcp",
                    problem: format!("must be \"host:port\" or {{ host, port }}, found {text:?}"),
                    at: self.at(node),
                    hint: None,
                });
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            return Ok(GateKind::Tcp {
                host: host.to_string(),
                port,
            });
        }
        let entries = self.map(node, "tcp")?;
        let mut host = None;
        let mut port = None;
        for (key, value) in entries {
            match key.name.as_str() {
                "host" => host = Some(self.required_text(value, "host")?),
                "port" => port = Some(self.port(value)?),
                _ => return Err(self.unknown("tcp gate", key, &TCP_KEYS)),
            }
        }
        let missing = |key| GateSpecError::Missing {
            context: "tcp gate",
            key,
            at: self.at(node),
        };
        Ok(GateKind::Tcp {
            host: host.ok_or_else(|| missing("host"))?,
            port: port.ok_or_else(|| missing("port"))?,
        })
    }

    fn port(&self, node: &Node) -> Result<u16, GateSpecError> {
        let port = match &node.kind {
            NodeKind::Int(port) => Some(*port),
            NodeKind::Str(text) => text.trim().parse().ok(),
            _ => None,
        };
        port.filter(|port| (1..=65535).contains(port))
            .and_then(|port| u16::try_from(port).ok())
            .ok_or_else(|| GateSpecError::Invalid {
                key: "port",
                problem: "must be a port number from 1 to 65535".into(),
                at: self.at(node),
                hint: None,
            })
    }

    fn command(&self, node: &Node) -> Result<GateKind, GateSpecError> {
        if node.as_map().is_none() {
            return Ok(GateKind::Command {
                command: self.required_text(node, "command")?,
            });
        }
        let mut command = None;
        for (key, value) in self.map(node, "command")? {
            match key.name.as_str() {
                "command" => command = Some(self.required_text(value, "command")?),
                _ => return Err(self.unknown("command gate", key, &COMMAND_KEYS)),
            }
        }
        Ok(GateKind::Command {
            command: command.ok_or_else(|| GateSpecError::Missing {
                context: "command gate",
                key: "command",
                at: self.at(node),
            })?,
        })
    }

    fn on_hosts(&self, node: &Node) -> Result<GateKind, GateSpecError> {
        if node.as_map().is_none() {
            return Ok(GateKind::OnHosts {
                command: self.required_text(node, "on_hosts")?,
                group: None,
            });
        }
        let mut command = None;
        let mut group = None;
        for (key, value) in self.map(node, "on_hosts")? {
            match key.name.as_str() {
                "command" => command = Some(self.required_text(value, "command")?),
                "group" => group = Some(self.required_text(value, "group")?),
                _ => return Err(self.unknown("on_hosts gate", key, &ON_HOSTS_KEYS)),
            }
        }
        Ok(GateKind::OnHosts {
            command: command.ok_or_else(|| GateSpecError::Missing {
                context: "on_hosts gate",
                key: "command",
                at: self.at(node),
            })?,
            group,
        })
    }

    fn prometheus(&self, node: &Node) -> Result<PrometheusCheck, GateSpecError> {
        let entries = self.map(node, "prometheus")?;
        let mut url = None;
        let mut query = None;
        let mut alert_regex = None;
        let mut headers = IndexMap::new();
        let mut tls = TlsOptions::default();
        for (key, value) in entries {
            match key.name.as_str() {
                "url" => url = Some(self.url(value)?),
                "query" => query = Some(self.required_text(value, "query")?),
                "alert_regex" => alert_regex = Some(self.regex(value, "alert_regex")?),
                "headers" => headers = self.headers(value)?,
                "validate_certs" | "ca_file" => self.tls(key, value, &mut tls)?,
                _ => return Err(self.unknown("prometheus gate", key, &PROMETHEUS_KEYS)),
            }
        }
        let missing = |key| GateSpecError::Missing {
            context: "prometheus gate",
            key,
            at: self.at(node),
        };
        Ok(PrometheusCheck {
            url: url.ok_or_else(|| missing("url"))?,
            query: query.ok_or_else(|| missing("query"))?,
            alert_regex,
            headers,
            tls,
        })
    }
}

/// The last line of a regex error (the others repeat the pattern with a caret).
fn regex_reason(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or(&text)
        .trim()
        .trim_start_matches("error: ")
        .to_string()
}

/// A name for a gate that has none: its kind and target, without secrets.
fn describe(kind: &GateKind) -> String {
    match kind {
        GateKind::Http(http) => format!("http {} {}", http.method.as_str(), redact_url(&http.url)),
        GateKind::Tcp { host, port } => format!("tcp {host}:{port}"),
        GateKind::Command { .. } => "command".to_string(),
        GateKind::OnHosts { group, .. } => match group {
            Some(group) => format!("on_hosts {group}"),
            None => "on_hosts".to_string(),
        },
        GateKind::Prometheus(prometheus) => format!("prometheus {}", redact_url(&prometheus.url)),
    }
}

/// Where `node` (holding `url`) is, in a copy of the file whose line shows `shown` instead of
/// the URL (or nothing after the column, when the URL is written with escapes or over several
/// lines), so a rendered error never quotes the URL's secrets.
pub(crate) fn redacted_location(
    source: &Arc<Source>,
    node: &Node,
    url: &str,
    shown: &str,
) -> Location {
    let number = usize::try_from(node.span.line).unwrap_or(0);
    let text: Vec<String> = source
        .text()
        .lines()
        .enumerate()
        .map(|(index, line)| match index + 1 == number {
            false => line.to_string(),
            true if line.contains(url) => line.replace(url, shown),
            // Written with escapes or over several lines: show nothing after the column.
            true => line
                .chars()
                .take(node.span.col.saturating_sub(1) as usize)
                .chain("…".chars())
                .collect(),
        })
        .collect();
    let len = u32::try_from(shown.chars().count() + 2).unwrap_or(1);
    let mut span = node.span;
    span.len = len.min(node.span.len.max(1));
    Location::new(Source::new(source.path(), text.join("\n")), span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{render, Diagnose};
    use crate::yaml;

    fn parse_text(text: &str) -> Result<Vec<GateSpec>, GateSpecError> {
        let source = Source::new("site.yml", text);
        let node = yaml::parse(&source).expect("valid yaml");
        parse_gates(&node, &source)
    }

    fn gates(text: &str) -> Vec<GateSpec> {
        parse_text(text).unwrap_or_else(|e| panic!("{}", render(&e)))
    }

    /// The error and its `file:line:col`.
    fn reject(text: &str) -> (GateSpecError, String) {
        let error = parse_text(text).expect_err("should be rejected");
        let at = error.location().expect("located").to_string();
        (error, at)
    }

    #[test]
    fn the_design_example_parses_with_defaults_filled_in() {
        let parsed = gates(
            "- name: API answers\n  http: { url: \"https://api/healthz\", status: 200 }\n  retries: 20\n  delay: 15\n",
        );
        assert_eq!(
            parsed,
            vec![GateSpec {
                name: "API answers".into(),
                kind: GateKind::Http(HttpCheck {
                    url: "https://api/healthz".into(),
                    method: HttpMethod::Get,
                    status: vec![200],
                    body_regex: None,
                    headers: IndexMap::new(),
                    tls: TlsOptions::default(),
                    follow_redirects: FollowRedirects::Safe,
                }),
                retries: 20,
                delay: Duration::from_secs(15),
                timeout: DEFAULT_TIMEOUT,
            }]
        );
    }

    #[test]
    fn every_kind_parses_in_long_and_short_forms() {
        let parsed = gates(concat!(
            "- http:\n",
            "    url: https://u:p@api/x\n",
            "    method: head\n",
            "    status: [200, \"204\"]\n",
            "    body_regex: '\"ok\"'\n",
            "    headers: { Authorization: \"Bearer {{ token }}\" }\n",
            "    validate_certs: false\n",
            "    ca_file: /etc/ssl/ca.pem\n",
            "  timeout: 2m\n",
            "- tcp: \"db01:5432\"\n",
            "- tcp: { host: \"::1\", port: 22 }\n",
            "- command: test -e /srv/ok\n",
            "- on_hosts: systemctl is-active libvirtd\n",
            "- on_hosts: { command: \"true\", group: hypervisors }\n",
            "- prometheus:\n",
            "    url: http://prom:9090\n",
            "    query: 'ALERTS{alertstate=\"firing\"}'\n",
            "    alert_regex: ^Host\n",
            "  delay: 1m30s\n",
        ));
        assert_eq!(parsed.len(), 7);
        let GateKind::Http(http) = &parsed[0].kind else {
            panic!("http")
        };
        assert_eq!(http.method, HttpMethod::Head);
        assert_eq!(http.status, vec![200, 204]);
        assert_eq!(http.body_regex.as_deref(), Some("\"ok\""));
        assert_eq!(http.headers["Authorization"], "Bearer {{ token }}");
        assert!(!http.tls.validate_certs);
        assert_eq!(http.tls.ca_file, Some(PathBuf::from("/etc/ssl/ca.pem")));
        assert_eq!(parsed[0].timeout, Duration::from_secs(120));
        assert_eq!(
            parsed[0].name, "http HEAD https://api/x",
            "no password in the name"
        );
        assert_eq!(
            parsed[1].kind,
            GateKind::Tcp {
                host: "db01".into(),
                port: 5432
            }
        );
        assert_eq!(
            parsed[2].kind,
            GateKind::Tcp {
                host: "::1".into(),
                port: 22
            }
        );
        assert_eq!(
            parsed[3].kind,
            GateKind::Command {
                command: "test -e /srv/ok".into()
            }
        );
        assert_eq!(
            parsed[4].kind,
            GateKind::OnHosts {
                command: "systemctl is-active libvirtd".into(),
                group: None
            }
        );
        assert_eq!(
            parsed[5].kind,
            GateKind::OnHosts {
                command: "true".into(),
                group: Some("hypervisors".into())
            }
        );
        let GateKind::Prometheus(prom) = &parsed[6].kind else {
            panic!("prometheus")
        };
        assert_eq!(prom.query, "ALERTS{alertstate=\"firing\"}");
        assert_eq!(prom.alert_regex.as_deref(), Some("^Host"));
        assert_eq!(parsed[6].delay, Duration::from_secs(90));
        assert_eq!(parsed[6].retries, 0);
    }

    #[test]
    fn null_gates_is_an_empty_list() {
        assert!(gates("~\n").is_empty());
    }

    #[test]
    fn durations_read_seconds_and_units() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        for bad in ["", "s", "5x", "1.5m", "-3s", "m5"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_gate_with_no_kind_is_located_at_the_gate() {
        let (error, at) = reject("- name: nothing\n  retries: 2\n");
        assert!(matches!(error, GateSpecError::NoKind { .. }), "{error}");
        assert_eq!(at, "site.yml:1:3");
        assert!(render(&error).contains("help: add one check"));
    }

    #[test]
    fn a_gate_with_two_kinds_points_at_the_second() {
        let (error, at) = reject("- name: both\n  tcp: db:5432\n  command: \"true\"\n");
        assert_eq!(error.to_string(), "gate has two kinds: `tcp` and `command`");
        assert_eq!(at, "site.yml:3:3");
    }

    #[test]
    fn unknown_keys_suggest_the_closest() {
        let (error, at) = reject("- name: x\n  htp: { url: \"https://a\" }\n");
        assert_eq!(error.to_string(), "unknown gate key `htp`");
        assert_eq!(error.help().as_deref(), Some("did you mean `http`?"));
        assert_eq!(at, "site.yml:2:3");

        let (error, at) = reject("- http: { url: \"https://a\", stauts: 200 }\n");
        assert_eq!(error.to_string(), "unknown http gate key `stauts`");
        assert_eq!(error.help().as_deref(), Some("did you mean `status`?"));
        assert_eq!(at, "site.yml:1:29");

        let (error, _) = reject("- tcp: db:1\n  retires: 3\n");
        assert_eq!(error.help().as_deref(), Some("did you mean `retries`?"));
    }

    #[test]
    fn a_prometheus_gate_needs_a_query() {
        let (error, at) = reject("- prometheus:\n    url: http://prom:9090\n");
        assert_eq!(error.to_string(), "prometheus gate needs `query`");
        assert_eq!(at, "site.yml:2:5");
        assert!(error.help().is_some_and(|h| h.contains("ALERTS")));
    }

    #[test]
    fn negative_retries_are_rejected() {
        let (error, at) = reject("- tcp: db:1\n  retries: -1\n");
        assert_eq!(error.to_string(), "`retries` must be 0 or more, found -1");
        assert_eq!(at, "site.yml:2:12");
    }

    #[test]
    fn bad_regexes_are_rejected_with_the_reason() {
        let (error, at) = reject("- http: { url: \"http://a\", body_regex: \"(ok\" }\n");
        assert!(matches!(
            error,
            GateSpecError::BadRegex {
                key: "body_regex",
                ..
            }
        ));
        assert!(error.to_string().contains("unclosed group"), "{error}");
        assert_eq!(at, "site.yml:1:40");

        let (error, at) =
            reject("- prometheus:\n    url: http://p\n    query: up\n    alert_regex: \"[a-\"\n");
        assert!(matches!(
            error,
            GateSpecError::BadRegex {
                key: "alert_regex",
                ..
            }
        ));
        assert_eq!(at, "site.yml:4:18");
    }

    #[test]
    fn bad_status_codes_are_rejected() {
        let (error, at) = reject("- http: { url: \"http://a\", status: [200, 999] }\n");
        assert_eq!(
            error.to_string(),
            "`status` must hold HTTP status codes (100-599), found 999"
        );
        assert_eq!(at, "site.yml:1:42");
        let (error, _) = reject("- http: { url: \"http://a\", status: ok }\n");
        assert!(error.to_string().ends_with("found \"ok\""), "{error}");
        let (error, _) = reject("- http: { url: \"http://a\", status: [] }\n");
        assert!(matches!(error, GateSpecError::BadStatus { .. }));
    }

    #[test]
    fn bad_durations_are_rejected() {
        let (error, at) = reject("- tcp: db:1\n  delay: soon\n");
        assert!(matches!(
            error,
            GateSpecError::BadDuration { key: "delay", .. }
        ));
        assert_eq!(at, "site.yml:2:10");
        let (error, _) = reject("- tcp: db:1\n  timeout: 0\n");
        assert!(error.to_string().contains("longer than zero"), "{error}");
        let (error, _) = reject("- tcp: db:1\n  delay: -5\n");
        assert!(matches!(error, GateSpecError::BadDuration { .. }));
    }

    #[test]
    fn durations_too_large_for_clock_arithmetic_are_rejected() {
        for value in [
            "18446744073709551615",
            "4294967296",
            "1.8e19",
            ".inf",
            ".nan",
            "-.inf",
            "5124095576030431h",
            "\"4294967296s\"",
        ] {
            let (error, at) = reject(&format!("- tcp: db:1\n  timeout: {value}\n"));
            assert!(
                matches!(error, GateSpecError::BadDuration { key: "timeout", .. }),
                "{value}: {error}"
            );
            assert!(
                error.to_string().contains("at most 4294967295 seconds"),
                "{error}"
            );
            assert_eq!(at, "site.yml:2:12", "{value}");
        }
        assert_eq!(
            gates("- tcp: db:1\n  delay: 4294967295\n")[0].delay,
            Duration::from_secs(4_294_967_295)
        );
    }

    #[test]
    fn follow_redirects_reads_none_safe_or_all_and_defaults_to_safe() {
        let parsed = gates(
            "- http: { url: \"http://a/\", follow_redirects: none, status: 302 }\n- http: { url: \"http://a/\", follow_redirects: all }\n- http: http://a/\n",
        );
        let follows: Vec<FollowRedirects> = parsed
            .iter()
            .map(|gate| match &gate.kind {
                GateKind::Http(http) => http.follow_redirects,
                _ => panic!("http"),
            })
            .collect();
        assert_eq!(
            follows,
            [
                FollowRedirects::None,
                FollowRedirects::All,
                FollowRedirects::Safe
            ]
        );
    }

    #[test]
    fn a_url_with_an_unescaped_password_is_refused_at_load_without_showing_it() {
        for (url, says) in [
            ("https://u:p/a#b?c@host/x", "has a `#`"),
            ("https://u:p/a?c@host/x", "invalid port:"),
            ("https://u:12/34@host/x", "`@` after the host"),
            ("https://u:secret@host:99999/", "invalid port:"),
        ] {
            let (error, at) = reject(&format!("- http: {{ url: \"{url}\" }}\n"));
            assert_eq!(at, "site.yml:1:16", "{url}");
            let shown = render(&error);
            assert!(shown.contains(says), "{url}: {shown}");
            for secret in ["p/a", "b?c", "12/34", "secret", "u:p"] {
                assert!(!shown.contains(secret), "{url}: {shown}");
            }
        }
        // A template is checked once rendered, when the gate runs.
        gates("- http: \"https://{{ user }}:{{ password }}@api/x\"\n");
    }

    #[test]
    fn other_shape_mistakes_are_located() {
        let cases = [
            ("3\n", "site.yml:1:1", "must be a list of gates"),
            (
                "- just a string\n",
                "site.yml:1:3",
                "`gate` must be a mapping",
            ),
            (
                "- http: { method: GET }\n",
                "site.yml:1:11",
                "http gate needs `url`",
            ),
            (
                "- http: ftp://a\n",
                "site.yml:1:9",
                "must start with http://",
            ),
            (
                "- http: { url: \"http://a:99999/\" }\n",
                "site.yml:1:16",
                "invalid port `99999`: ports are 1 to 65535",
            ),
            (
                "- prometheus: { url: \"http://p:0\", query: up }\n",
                "site.yml:1:22",
                "invalid port `0`",
            ),
            (
                "- http: { url: \"http://a/\", follow_redirects: sometimes }\n",
                "site.yml:1:47",
                "must be none, safe or all, found \"sometimes\"",
            ),
            (
                "- http: { url: \"http://a\", method: FETCH }\n",
                "site.yml:1:36",
                "HTTP method",
            ),
            ("- tcp: db\n", "site.yml:1:8", "\"host:port\""),
            (
                "- tcp: { host: db, port: 70000 }\n",
                "site.yml:1:26",
                "1 to 65535",
            ),
            (
                "- tcp: { host: db }\n",
                "site.yml:1:10",
                "tcp gate needs `port`",
            ),
            ("- command: \"\"\n", "site.yml:1:12", "must not be empty"),
            (
                "- on_hosts: { group: kvm }\n",
                "site.yml:1:15",
                "needs `command`",
            ),
            (
                "- http: { url: \"http://a\", validate_certs: maybe }\n",
                "site.yml:1:44",
                "a boolean",
            ),
            (
                "- http: { url: \"http://a\", headers: { \"X Y\": 1 } }\n",
                "site.yml:1:39",
                "header name",
            ),
            (
                "- tcp: db:1\n  retries: many\n",
                "site.yml:2:12",
                "a whole number",
            ),
        ];
        for (text, where_, says) in cases {
            let error = parse_text(text).expect_err(text);
            let at = error.location().expect("located").to_string();
            assert!(error.to_string().contains(says), "{text}: {error}");
            assert_eq!(at, where_, "{text}: {error}");
        }
    }
}
