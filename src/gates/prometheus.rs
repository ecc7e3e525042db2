//! The `prometheus` gate: an instant query that must return no (matching) series.
//!
//! `query` goes to `<url>/api/v1/query` (or to `url` itself when it already ends in
//! `/api/v1/query`). The gate passes when the result vector is empty after dropping the series
//! whose `alertname` label does not match `alert_regex` (when one is given). So
//! `ALERTS{alertstate="firing",severity="critical"}` passes while no critical alert fires.
//!
//! It fails closed: only a 2xx answer with `"status": "success"`, `"resultType": "vector"` and a
//! `result` list can pass; a missing or null `result`, another status or result type, or a non-2xx
//! HTTP status (even with a success-looking body) fails the gate and the message says which.

use std::time::Duration;

use regex::Regex;
use serde_json::Value as Json;

use super::check::Attempt;
use super::context::GateContext;
use super::http::{render_headers, Request};
use super::spec::{FollowRedirects, HttpMethod, PrometheusCheck};

/// How many offending series a message names before it says "and N more".
const NAMED_SERIES: usize = 10;

/// A `prometheus` gate ready to attempt.
pub(crate) struct PrometheusProbe {
    request: Request,
    alert_regex: Option<Regex>,
}

impl PrometheusProbe {
    /// Renders the URL, query and headers and builds the client.
    pub(crate) fn new(
        check: &PrometheusCheck,
        ctx: &GateContext<'_>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let alert_regex = check
            .alert_regex
            .as_deref()
            .map(Regex::new)
            .transpose()
            .map_err(|error| format!("invalid alert_regex: {error}"))?;
        let url = query_url(
            &ctx.render("url", &check.url)?,
            &ctx.render("query", &check.query)?,
        );
        Ok(Self {
            request: Request::new(
                HttpMethod::Get,
                url,
                render_headers(&check.headers, ctx)?,
                &check.tls,
                timeout,
                // Prometheus queries are GETs: redirects are followed, credentials stay on
                // their origin.
                FollowRedirects::Safe,
            )?,
            alert_regex,
        })
    }

    /// One query: passes when no series (matching `alert_regex`) comes back.
    pub(crate) async fn attempt(&self) -> Attempt {
        let what = format!("prometheus {}", self.request.describe_base());
        let response = match self.request.send(true).await {
            Ok(response) => response,
            Err(why) => return Attempt::Fail(format!("{what}: {why}")),
        };
        match judge(response.status, &response.body, self.alert_regex.as_ref()) {
            Ok(message) => Attempt::Pass(format!("{what}: {message}")),
            Err(message) => Attempt::Fail(format!("{what}: {message}")),
        }
    }
}

/// The query endpoint for `base` with `query` added as a parameter.
pub(crate) fn query_url(base: &str, query: &str) -> String {
    let trimmed = base.trim_end_matches('/');
    let (path, existing) = match trimmed.split_once('?') {
        Some((path, existing)) => (path.trim_end_matches('/'), Some(existing)),
        None => (trimmed, None),
    };
    let mut url = if path.ends_with("/api/v1/query") {
        path.to_string()
    } else {
        format!("{path}/api/v1/query")
    };
    url.push('?');
    if let Some(existing) = existing.filter(|e| !e.is_empty()) {
        url.push_str(existing);
        url.push('&');
    }
    url.push_str("query=");
    url.push_str(&encode_component(query));
    url
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Reads Prometheus's answer: `Ok` (with a summary) when no offending series came back.
///
/// Fails closed: anything but a 2xx status carrying `"status": "success"` and a `data` object
/// with `"resultType": "vector"` and a `result` list fails the gate, naming what was wrong, so a
/// proxy's error page or a half-written answer never reads as "no alerts".
fn judge(status: u16, body: &str, alert_regex: Option<&Regex>) -> Result<String, String> {
    let json: Json = match serde_json::from_str(body) {
        Ok(json) => json,
        Err(_) if !(200..300).contains(&status) => return Err(format!("status {status}")),
        Err(error) => return Err(format!("the answer is not Prometheus JSON: {error}")),
    };
    if json["status"] == "error" {
        let kind = json["errorType"].as_str().unwrap_or("error");
        let error = json["error"].as_str().unwrap_or("no error message");
        return Err(format!("query failed (status {status}, {kind}): {error}"));
    }
    if !(200..300).contains(&status) {
        return Err(format!(
            "status {status}: only a 2xx answer can pass, whatever its body says"
        ));
    }
    if json["status"] != "success" {
        return Err(format!(
            "the answer's status is {}, not \"success\"",
            shown(&json["status"])
        ));
    }
    let data = &json["data"];
    if !data.is_object() {
        return Err(format!(
            "the answer's data is {}, not an object",
            shown(data)
        ));
    }
    if data["resultType"] != "vector" {
        return Err(format!(
            "the query must return an instant vector, got resultType {}",
            shown(&data["resultType"])
        ));
    }
    let Some(series) = data["result"].as_array() else {
        return Err(format!(
            "the answer's data.result is {}, not a list of series",
            shown(&data["result"])
        ));
    };
    let offending: Vec<String> = series
        .iter()
        .filter(|one| match alert_regex {
            None => true,
            Some(regex) => one["metric"]["alertname"]
                .as_str()
                .is_some_and(|name| regex.is_match(name)),
        })
        .map(|one| series_name(&one["metric"]))
        .collect();
    if offending.is_empty() {
        return Ok(match (series.len(), alert_regex) {
            (0, _) => "no series returned".to_string(),
            (n, Some(regex)) => {
                format!("{n} series returned, none with an alertname matching /{regex}/")
            }
            (n, None) => format!("{n} series returned"),
        });
    }
    let mut named: Vec<String> = offending.iter().take(NAMED_SERIES).cloned().collect();
    if offending.len() > NAMED_SERIES {
        named.push(format!("and {} more", offending.len() - NAMED_SERIES));
    }
    Err(format!("{} firing: {}", offending.len(), named.join(", ")))
}

/// A JSON value for a message: `missing` for an absent key, else compact JSON cut short.
fn shown(value: &Json) -> String {
    const LONGEST: usize = 60;
    if value.is_null() {
        return "missing or null".to_string();
    }
    let text = value.to_string();
    match text.char_indices().nth(LONGEST) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// `HostDown{instance="kvm03:9100"}`: the alert (or metric) name and its instance if any.
fn series_name(metric: &Json) -> String {
    let name = metric["alertname"]
        .as_str()
        .or_else(|| metric["__name__"].as_str())
        .unwrap_or("series");
    match metric["instance"].as_str() {
        Some(instance) => format!("{name}{{instance=\"{instance}\"}}"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    use super::super::test_support::{gate, Reply, TestServer};
    use super::super::{run_gate, GateKind, GateOutcome, TlsOptions};
    use super::*;
    use crate::template::testing::{scope, templar};

    const CRITICAL: &str = r#"ALERTS{alertstate="firing",severity="critical"}"#;

    fn vector(series: serde_json::Value) -> Reply {
        Reply::json(
            200,
            json!({"status": "success", "data": {"resultType": "vector", "result": series}}),
        )
    }

    fn alert(name: &str, instance: &str) -> serde_json::Value {
        json!({
            "metric": {"__name__": "ALERTS", "alertname": name, "alertstate": "firing", "instance": instance},
            "value": [1_700_000_000.0, "1"]
        })
    }

    async fn run(url: String, alert_regex: Option<&str>) -> GateOutcome {
        let check = PrometheusCheck {
            url,
            query: CRITICAL.into(),
            alert_regex: alert_regex.map(str::to_string),
            headers: IndexMap::new(),
            tls: TlsOptions::default(),
        };
        let scope = scope(json!({}));
        let ctx = GateContext::new(templar(), &scope, CancellationToken::new());
        run_gate(&gate(GateKind::Prometheus(check), 0), &ctx).await
    }

    #[tokio::test]
    async fn an_empty_vector_passes_and_the_query_is_sent_encoded() {
        let server = TestServer::start(|_, _| vector(json!([])));
        let outcome = run(server.url(""), None).await;
        assert!(outcome.passed, "{outcome:?}");
        assert_eq!(
            outcome.message,
            format!(
                "prometheus {}: no series returned",
                server.url("/api/v1/query")
            )
        );
        let head = &server.heads()[0];
        assert!(
            head.starts_with(
                "GET /api/v1/query?query=ALERTS%7Balertstate%3D%22firing%22%2Cseverity%3D%22critical%22%7D HTTP/1.1"
            ),
            "{head}"
        );
    }

    #[tokio::test]
    async fn a_firing_alert_fails_naming_it() {
        let server = TestServer::start(|_, _| {
            vector(json!([
                alert("HostDown", "kvm03:9100"),
                alert("CephHealthError", "ceph1")
            ]))
        });
        let outcome = run(server.url("/api/v1/query"), None).await;
        assert!(!outcome.passed);
        assert!(
            outcome.message.ends_with(
                r#"2 firing: HostDown{instance="kvm03:9100"}, CephHealthError{instance="ceph1"}"#
            ),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn alert_regex_only_counts_matching_alerts() {
        let server = TestServer::start(|_, _| {
            vector(json!([alert("Watchdog", "p"), alert("HostDown", "kvm03")]))
        });
        let outcome = run(server.url("/"), Some("^Ceph")).await;
        assert!(outcome.passed, "{outcome:?}");
        assert!(outcome
            .message
            .ends_with("2 series returned, none with an alertname matching /^Ceph/"));
        let outcome = run(server.url("/"), Some("Host")).await;
        assert!(!outcome.passed);
        assert!(
            outcome
                .message
                .ends_with(r#"1 firing: HostDown{instance="kvm03"}"#),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn a_query_error_is_reported() {
        let server = TestServer::start(|_, _| {
            Reply::json(
                400,
                json!({"status": "error", "errorType": "bad_data", "error": "parse error at char 7"}),
            )
        });
        let outcome = run(server.url(""), None).await;
        assert!(!outcome.passed);
        assert!(
            outcome
                .message
                .ends_with("query failed (status 400, bad_data): parse error at char 7"),
            "{}",
            outcome.message
        );
    }

    #[test]
    fn answers_without_a_result_list_fail_closed() {
        let cases = [
            (json!({"status": "success"}), "data is missing or null"),
            (
                json!({"status": "success", "data": null}),
                "data is missing or null",
            ),
            (
                json!({"status": "success", "data": {"resultType": "vector"}}),
                "data.result is missing or null",
            ),
            (
                json!({"status": "success", "data": {"resultType": "vector", "result": null}}),
                "data.result is missing or null",
            ),
            (
                json!({"status": "success", "data": {"resultType": "vector", "result": {}}}),
                "data.result is {}",
            ),
            (
                json!({"data": {"resultType": "vector", "result": []}}),
                "status is missing or null, not \"success\"",
            ),
            (
                json!({"status": "partial", "data": {"resultType": "vector", "result": []}}),
                "status is \"partial\"",
            ),
            (
                json!({"status": "success", "data": {"result": []}}),
                "got resultType missing or null",
            ),
            (
                json!({"status": "success", "data": {"resultType": "matrix", "result": []}}),
                "got resultType \"matrix\"",
            ),
        ];
        for (answer, says) in cases {
            let why = judge(200, &answer.to_string(), None).expect_err(&answer.to_string());
            assert!(why.contains(says), "{answer}: {why}");
        }
    }

    #[test]
    fn a_non_2xx_status_fails_even_with_a_success_body() {
        let empty = json!({"status": "success", "data": {"resultType": "vector", "result": []}});
        for status in [503, 500, 302, 404, 100] {
            let why = judge(status, &empty.to_string(), None).expect_err("non-2xx");
            assert!(
                why.starts_with(&format!("status {status}: only a 2xx answer can pass")),
                "{why}"
            );
        }
        assert!(judge(203, &empty.to_string(), None).is_ok());
    }

    #[tokio::test]
    async fn a_503_with_a_success_body_fails_the_gate() {
        let server = TestServer::start(|_, _| {
            Reply::json(
                503,
                json!({"status": "success", "data": {"resultType": "vector", "result": []}}),
            )
        });
        let outcome = run(server.url(""), None).await;
        assert!(!outcome.passed, "{outcome:?}");
        assert!(
            outcome
                .message
                .contains("status 503: only a 2xx answer can pass"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn a_null_result_fails_the_gate() {
        let server = TestServer::start(|_, _| {
            Reply::json(
                200,
                json!({"status": "success", "data": {"resultType": "vector", "result": null}}),
            )
        });
        let outcome = run(server.url(""), None).await;
        assert!(!outcome.passed, "{outcome:?}");
        assert!(
            outcome
                .message
                .ends_with("data.result is missing or null, not a list of series"),
            "{}",
            outcome.message
        );
    }

    #[test]
    fn non_vector_and_non_json_answers_fail() {
        let scalar =
            json!({"status": "success", "data": {"resultType": "scalar", "result": [1, "1"]}});
        assert!(judge(200, &scalar.to_string(), None)
            .unwrap_err()
            .contains("instant vector"));
        assert_eq!(judge(502, "<html>", None), Err("status 502".into()));
        assert!(judge(200, "<html>", None)
            .unwrap_err()
            .contains("not Prometheus JSON"));
    }

    #[test]
    fn query_urls_accept_a_base_or_the_endpoint() {
        assert_eq!(
            query_url("http://p:9090", "up"),
            "http://p:9090/api/v1/query?query=up"
        );
        assert_eq!(
            query_url("http://p:9090/", "up"),
            "http://p:9090/api/v1/query?query=up"
        );
        assert_eq!(
            query_url("http://p/prom/api/v1/query", "a b"),
            "http://p/prom/api/v1/query?query=a%20b"
        );
        assert_eq!(
            query_url("http://p/api/v1/query?timeout=5s", "up"),
            "http://p/api/v1/query?timeout=5s&query=up"
        );
    }
}
