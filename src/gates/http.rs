//! The `http` gate, and the HTTP client setup it shares with the `prometheus` gate.
//!
//! Requests go through ureq (blocking, rustls) on tokio's blocking pool. Certificates are checked
//! against the system's trust store unless the gate names a `ca_file` (then only its CAs are
//! trusted) or says `validate_certs: false`. Messages show URLs without userinfo or query
//! values, and never header values.
//!
//! Redirects are followed here, not by ureq, so that credentials stay on their origin: a
//! followed redirect keeps the URL's user name and password and the gate's headers only while it
//! stays on the original scheme, host and port; on any other origin it is sent without them.
//! At most [`MAX_REDIRECTS`] are followed; `follow_redirects` says which (see
//! [`FollowRedirects`]).

use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;
use ureq::http::header::{HeaderValue, LOCATION};
use ureq::http::uri::Authority;
use ureq::http::Uri;
use ureq::tls::{parse_pem, Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};
use ureq::Agent;

use super::check::Attempt;
use super::context::GateContext;
use super::redact::{redact_in, redact_url};
use super::spec::{FollowRedirects, HttpCheck, HttpMethod, TlsOptions};
use super::url::{strip_userinfo, GateUrl};

/// The most of a response body that is read (for `body_regex` and Prometheus answers).
pub(crate) const BODY_LIMIT: u64 = 10 * 1024 * 1024;
/// The most redirects one request follows (curl's and Python's urllib's limit is about this).
pub(crate) const MAX_REDIRECTS: usize = 10;

/// An `http` gate ready to attempt: strings rendered, client configured.
pub(crate) struct HttpProbe {
    request: Request,
    status: Vec<u16>,
    body_regex: Option<Regex>,
}

impl HttpProbe {
    /// Renders the URL and header values and builds the client.
    pub(crate) fn new(
        check: &HttpCheck,
        ctx: &GateContext<'_>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let body_regex = check
            .body_regex
            .as_deref()
            .map(Regex::new)
            .transpose()
            .map_err(|error| format!("invalid body_regex: {error}"))?;
        Ok(Self {
            request: Request::new(
                check.method,
                ctx.render("url", &check.url)?,
                render_headers(&check.headers, ctx)?,
                &check.tls,
                timeout,
                check.follow_redirects,
            )?,
            status: check.status.clone(),
            body_regex,
        })
    }

    /// One request: the status must be listed and the body must match `body_regex`.
    pub(crate) async fn attempt(&self) -> Attempt {
        let mut what = self.request.describe();
        let response = match self.request.send(self.body_regex.is_some()).await {
            Ok(response) => response,
            Err(why) => return Attempt::Fail(format!("{what}: {why}")),
        };
        if let Some(last) = &response.redirected_to {
            what = format!("{what} (redirected to {last})");
        }
        if !self.status.contains(&response.status) {
            return Attempt::Fail(format!(
                "{what}: status {}, expected {}",
                response.status,
                list(&self.status)
            ));
        }
        if let Some(regex) = &self.body_regex {
            if !regex.is_match(&response.body) {
                return Attempt::Fail(format!(
                    "{what}: status {} but the body does not match /{regex}/",
                    response.status
                ));
            }
        }
        Attempt::Pass(format!("{what}: status {}", response.status))
    }
}

/// Renders header values (they may hold tokens from vaulted variables).
pub(crate) fn render_headers(
    headers: &indexmap::IndexMap<String, String>,
    ctx: &GateContext<'_>,
) -> Result<Vec<(String, String)>, String> {
    headers
        .iter()
        .map(|(name, value)| Ok((name.clone(), ctx.render(&format!("header {name}"), value)?)))
        .collect()
}

fn list(codes: &[u16]) -> String {
    let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
    codes.join(" or ")
}

/// One configured request that can be sent repeatedly.
#[derive(Clone)]
pub(crate) struct Request {
    agent: Agent,
    method: HttpMethod,
    url: GateUrl,
    headers: Vec<(String, String)>,
    follow: FollowRedirects,
    body: Option<Vec<u8>>,
}

/// What came back.
pub(crate) struct Response {
    pub status: u16,
    /// The body (lossy UTF-8), or empty when it was not asked for.
    pub body: String,
    /// Where the last followed redirect led (safe to print), if one was followed.
    pub redirected_to: Option<String>,
}

impl Request {
    /// A request with a client honouring `tls` and giving up after `timeout`.
    pub(crate) fn new(
        method: HttpMethod,
        url: String,
        headers: Vec<(String, String)>,
        tls: &TlsOptions,
        timeout: Duration,
        follow: FollowRedirects,
    ) -> Result<Self, String> {
        let url = GateUrl::parse(&url).map_err(|error| format!("the url {error}"))?;
        let config = Agent::config_builder()
            .tls_config(tls_config(tls)?)
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("rpatch/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Self {
            agent: Agent::new_with_config(config),
            method,
            url,
            headers,
            follow,
            body: None,
        })
    }

    /// The request with a body (a notification's JSON), sent with every attempt.
    pub(crate) fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// "GET https://host/path", safe to print.
    pub(crate) fn describe(&self) -> String {
        format!("{} {}", self.method.as_str(), self.url.shown())
    }

    /// The URL without its query, safe to print.
    pub(crate) fn describe_base(&self) -> String {
        let url = self.url.shown();
        url.split_once('?')
            .map_or(url.to_string(), |(base, _)| base.to_string())
    }

    /// Sends the request on the blocking pool; reads the body when `read_body`.
    pub(crate) async fn send(&self, read_body: bool) -> Result<Response, String> {
        let (agent, method, uri, follow, body) = (
            self.agent.clone(),
            self.method,
            self.url.without_userinfo(),
            self.follow,
            self.body.clone(),
        );
        let mut headers = self.headers.clone();
        if let Some(basic) = self.url.basic_auth() {
            // A header the gate names itself wins over the URL's userinfo, as in ureq and curl.
            if !headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            {
                headers.push(("Authorization".into(), basic));
            }
        }
        let task = tokio::task::spawn_blocking(move || {
            send_blocking(
                &agent,
                method,
                &uri,
                &headers,
                follow,
                (read_body, body.as_deref()),
            )
        });
        let raw = self.url.uri().to_string();
        match task.await {
            Ok(result) => result.map_err(|why| redact_in(&why, &raw)),
            Err(error) => Err(format!("the request task failed: {error}")),
        }
    }
}

/// Sends the request, following redirects as `follow` allows; `headers` (with the URL's
/// credentials among them) go only to the original origin. `body` goes with the first request
/// only (a redirect that keeps the method is not followed with a body: see [`FollowRedirects`]).
fn send_blocking(
    agent: &Agent,
    method: HttpMethod,
    url: &Uri,
    headers: &[(String, String)],
    follow: FollowRedirects,
    (read_body, body): (bool, Option<&[u8]>),
) -> Result<Response, String> {
    let origin = Origin::of(url);
    let (mut method, mut target, mut redirected_to) = (method, url.clone(), None);
    for _ in 0..=MAX_REDIRECTS {
        let mut builder = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(target.clone());
        if Origin::of(&target) == origin {
            for (name, value) in headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        // http's errors name the part that is wrong, never the header value itself.
        let invalid = |error: ureq::http::Error| format!("invalid request: {error}");
        let response = match body.filter(|_| redirected_to.is_none()) {
            Some(bytes) => agent.run(builder.body(bytes).map_err(invalid)?),
            None => agent.run(builder.body(()).map_err(invalid)?),
        }
        .map_err(|error| describe_error(&error))?;
        let status = response.status().as_u16();
        let location = response.headers().get(LOCATION);
        match location {
            Some(location) if is_redirect(status) && follow.follows(method) => {
                target = strip_userinfo(&resolve(&target, location)?);
                method = redirected_method(method, status);
                redirected_to = Some(redact_url(&target.to_string()));
            }
            _ => return finish(response, status, read_body, redirected_to),
        }
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

fn finish(
    mut response: ureq::http::Response<ureq::Body>,
    status: u16,
    read_body: bool,
    redirected_to: Option<String>,
) -> Result<Response, String> {
    let body = if read_body {
        response
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .lossy_utf8(true)
            .read_to_string()
            .map_err(|error| format!("cannot read the body: {}", describe_error(&error)))?
    } else {
        String::new()
    };
    Ok(Response {
        status,
        body,
        redirected_to,
    })
}

/// Statuses that redirect with a `Location` (304 and 300 do not send the client anywhere).
fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The method after a redirect: 303 makes it a GET (HEAD stays), 301/302 turn a POST into a GET
/// (what browsers and Python's urllib do), 307/308 keep it.
fn redirected_method(method: HttpMethod, status: u16) -> HttpMethod {
    match (status, method) {
        (303, HttpMethod::Head) => HttpMethod::Head,
        (303, _) | (301 | 302, HttpMethod::Post) => HttpMethod::Get,
        _ => method,
    }
}

/// Scheme, host (case-insensitive) and port, with the scheme's default port filled in.
#[derive(Debug, PartialEq, Eq)]
struct Origin(String, String, u16);

impl Origin {
    fn of(uri: &Uri) -> Self {
        let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
        let default = if scheme == "https" { 443 } else { 80 };
        Self(
            scheme,
            uri.host().unwrap_or("").to_ascii_lowercase(),
            uri.port_u16().unwrap_or(default),
        )
    }
}

/// Where a `Location` points, resolved against the URL that answered (RFC 3986 section 5.2,
/// without dot-segment removal, which servers do themselves); its fragment is dropped.
fn resolve(base: &Uri, location: &HeaderValue) -> Result<Uri, String> {
    let bad = || "the redirect's Location is not a valid http(s) URL".to_string();
    let location = location.to_str().map_err(|_| bad())?.trim();
    let location = location
        .split_once('#')
        .map_or(location, |(before, _)| before);
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map_or("", Authority::as_str);
    let lower = location.to_ascii_lowercase();
    let absolute = if lower.starts_with("http://") || lower.starts_with("https://") {
        location.to_string()
    } else if location.starts_with("//") {
        format!("{scheme}:{location}")
    } else if location.contains("://")
        || lower
            .split(['/', '?'])
            .next()
            .is_some_and(|first| first.contains(':'))
    {
        return Err("the redirect leads to a URL that is not http(s)".into());
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else if location.starts_with('?') || location.is_empty() {
        format!("{scheme}://{authority}{}{location}", base.path())
    } else {
        let path = base.path();
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        format!("{scheme}://{authority}{dir}/{location}")
    };
    absolute.parse::<Uri>().map_err(|_| bad())
}

/// A ureq error as an operator reads it.
fn describe_error(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Tls(why) => format!("TLS error: {why}"),
        ureq::Error::Rustls(why) => format!("TLS error: {why}"),
        ureq::Error::Pem(why) => format!("TLS error: {why}"),
        ureq::Error::Io(why) if is_tls(why) => format!("TLS error: {why}"),
        ureq::Error::Io(why) => why.to_string(),
        ureq::Error::Timeout(which) => format!("timed out ({which})"),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        other => other.to_string(),
    }
}

/// The system's CA certificates (honouring `SSL_CERT_FILE`/`SSL_CERT_DIR`), read once.
fn system_roots() -> Result<RootCerts, String> {
    static ROOTS: OnceLock<Result<RootCerts, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                let why = found.errors.first().map(ToString::to_string);
                return Err(format!(
                    "TLS setup: no CA certificates in the system store{}; install them or set ca_file",
                    why.map(|why| format!(" ({why})")).unwrap_or_default()
                ));
            }
            Ok(found
                .certs
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned())
                .into())
        })
        .clone()
}

/// rustls reports handshake failures as I/O errors wrapping its own error.
fn is_tls(error: &std::io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

/// The TLS settings for a gate: system roots, a CA file, or no verification at all.
fn tls_config(tls: &TlsOptions) -> Result<TlsConfig, String> {
    let builder = TlsConfig::builder().provider(TlsProvider::Rustls);
    if !tls.validate_certs {
        return Ok(builder.disable_verification(true).build());
    }
    let Some(path) = &tls.ca_file else {
        return Ok(builder.root_certs(system_roots()?).build());
    };
    let pem = crate::input::read_bytes(path).map_err(|error| match error.path() {
        Some(_) => format!("ca_file: {error}").replacen("cannot read", "cannot read ca_file", 1),
        None => format!("ca_file: {error}"),
    })?;
    let mut certs = Vec::new();
    for item in parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(error) => {
                return Err(format!(
                    "ca_file {} is not valid PEM: {error}",
                    path.display()
                ))
            }
        }
    }
    if certs.is_empty() {
        return Err(format!("ca_file {} holds no certificates", path.display()));
    }
    Ok(builder
        .root_certs(RootCerts::new_with_certs(&certs))
        .build())
}

#[cfg(test)]
mod tests {
    use tokio_util::sync::CancellationToken;

    use super::super::test_support::{gate, http_check, Reply, TestServer};
    use super::super::{run_gate, GateKind, GateOutcome};
    use super::*;
    use crate::template::testing::{scope, templar};

    async fn run(check: HttpCheck, retries: u32, vars: serde_json::Value) -> GateOutcome {
        let scope = scope(vars);
        let ctx = GateContext::new(templar(), &scope, CancellationToken::new());
        run_gate(&gate(GateKind::Http(check), retries), &ctx).await
    }

    #[tokio::test]
    async fn passes_on_200() {
        let server = TestServer::always(200, "ok");
        let outcome = run(
            http_check(&server.url("/healthz")),
            0,
            serde_json::json!({}),
        )
        .await;
        assert!(outcome.passed, "{outcome:?}");
        assert_eq!(outcome.attempts, 1);
        assert_eq!(
            outcome.message,
            format!("GET {}: status 200", server.url("/healthz"))
        );
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn fails_on_503_naming_the_status() {
        let server = TestServer::always(503, "down");
        let outcome = run(http_check(&server.url("/")), 0, serde_json::json!({})).await;
        assert!(!outcome.passed);
        assert!(
            outcome.message.ends_with(": status 503, expected 200"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn passes_after_retries_when_the_server_recovers() {
        let server = TestServer::start(|n, _| Reply::text(if n < 3 { 503 } else { 200 }, "x"));
        let outcome = run(http_check(&server.url("/")), 5, serde_json::json!({})).await;
        assert!(outcome.passed, "{outcome:?}");
        assert_eq!(outcome.attempts, 3);
        assert_eq!(server.hits(), 3, "no request after the passing one");
        assert!(
            outcome.message.ends_with("(attempt 3 of 6)"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn gives_up_after_the_last_retry() {
        let server = TestServer::always(500, "");
        let outcome = run(http_check(&server.url("/")), 2, serde_json::json!({})).await;
        assert!(!outcome.passed);
        assert_eq!((outcome.attempts, server.hits()), (3, 3));
        assert!(
            outcome
                .message
                .ends_with("status 500, expected 200 (after 3 attempts)"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn a_status_list_accepts_any_listed_code() {
        let server = TestServer::always(204, "");
        let mut check = http_check(&server.url("/"));
        check.status = vec![200, 204];
        assert!(run(check, 0, serde_json::json!({})).await.passed);
    }

    #[tokio::test]
    async fn body_regex_must_match() {
        let server = TestServer::always(200, r#"{"status": "green"}"#);
        let mut check = http_check(&server.url("/"));
        check.body_regex = Some(r#""status":\s*"green""#.into());
        assert!(run(check.clone(), 0, serde_json::json!({})).await.passed);

        check.body_regex = Some("red".into());
        let outcome = run(check, 0, serde_json::json!({})).await;
        assert!(!outcome.passed);
        assert!(
            outcome
                .message
                .ends_with("status 200 but the body does not match /red/"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn headers_are_sent_templated_but_never_printed() {
        let server = TestServer::always(401, "");
        let mut check = http_check(&server.url("/"));
        check
            .headers
            .insert("Authorization".into(), "Bearer {{ token }}".into());
        check.method = HttpMethod::Head;
        let outcome = run(check, 0, serde_json::json!({"token": "s3cret"})).await;
        let head = server.heads().join("").to_ascii_lowercase();
        assert!(head.starts_with("head / http/1.1"), "{head}");
        assert!(head.contains("authorization: bearer s3cret"), "{head}");
        assert!(!outcome.message.contains("s3cret"), "{}", outcome.message);
        assert!(
            outcome.message.contains("status 401"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn url_credentials_are_used_but_never_printed() {
        let server = TestServer::always(503, "");
        let url = format!(
            "http://admin:hunter2@127.0.0.1:{}/x?token=abc",
            server.port()
        );
        let outcome = run(http_check(&url), 0, serde_json::json!({})).await;
        let head = server.heads().join("").to_ascii_lowercase();
        assert!(head.contains("authorization: basic"), "{head}");
        assert!(!outcome.message.contains("hunter2"), "{}", outcome.message);
        assert!(!outcome.message.contains("abc"), "{}", outcome.message);
        assert!(
            outcome.message.starts_with(&format!(
                "GET http://127.0.0.1:{}/x?token=***",
                server.port()
            )),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn url_credentials_are_percent_decoded_before_they_are_sent() {
        use base64::Engine;
        let server = TestServer::always(200, "");
        let url = format!(
            "http://ad%40min:p%2Fa%23b%3Fc@127.0.0.1:{}/x",
            server.port()
        );
        assert!(run(http_check(&url), 0, serde_json::json!({})).await.passed);
        let sent = base64::engine::general_purpose::STANDARD.encode("ad@min:p/a#b?c");
        let head = server.heads().join("");
        assert!(
            head.contains(&format!("authorization: Basic {sent}\r\n")),
            "{head}"
        );
    }

    #[tokio::test]
    async fn the_url_is_templated() {
        let server = TestServer::always(200, "");
        let check = http_check("http://127.0.0.1:{{ port }}/healthz");
        let outcome = run(check, 0, serde_json::json!({"port": server.port()})).await;
        assert!(outcome.passed, "{outcome:?}");
    }

    #[tokio::test]
    async fn https_against_a_plain_http_port_fails_with_a_tls_error() {
        let server = TestServer::always(200, "");
        let url = format!("https://127.0.0.1:{}/", server.port());
        for validate_certs in [true, false] {
            let mut check = http_check(&url);
            check.tls.validate_certs = validate_certs;
            let outcome = run(check, 0, serde_json::json!({})).await;
            assert!(!outcome.passed);
            assert!(outcome.message.contains("TLS"), "{}", outcome.message);
        }
        assert_eq!(server.hits(), 0, "no plain HTTP request was made");
    }

    #[tokio::test]
    async fn a_refused_connection_fails_cleanly() {
        let port = TestServer::always(200, "").port(); // dropped: the port is closed again
        let outcome = run(
            http_check(&format!("http://127.0.0.1:{port}/")),
            0,
            serde_json::json!({}),
        )
        .await;
        assert!(!outcome.passed);
        assert!(
            outcome.message.starts_with("GET http://127.0.0.1"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn a_302_can_pass_when_redirects_are_not_followed() {
        let server = TestServer::start(|_, _| Reply::redirect(302, "/login"));
        let mut check = http_check(&server.url("/app"));
        check.status = vec![302];
        check.follow_redirects = FollowRedirects::None;
        let outcome = run(check, 0, serde_json::json!({})).await;
        assert!(outcome.passed, "{outcome:?}");
        assert_eq!(server.hits(), 1);
        assert!(
            outcome.message.ends_with(": status 302"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn safe_redirects_on_the_same_origin_keep_the_credentials() {
        let server = TestServer::start(|n, _| match n {
            1 => Reply::redirect(301, "/final?x=1"),
            _ => Reply::text(200, "ok"),
        });
        let url = format!("http://admin:hunter2@127.0.0.1:{}/start", server.port());
        let mut check = http_check(&url);
        check.headers.insert("X-Api-Key".into(), "k3y".into());
        let outcome = run(check, 0, serde_json::json!({})).await;
        assert!(outcome.passed, "{outcome:?}");
        let heads = server.heads();
        assert_eq!(heads.len(), 2);
        let second = heads[1].to_ascii_lowercase();
        assert!(second.starts_with("get /final?x=1 http/1.1"), "{second}");
        assert!(second.contains("authorization: basic"), "{second}");
        assert!(second.contains("x-api-key: k3y"), "{second}");
        assert_eq!(
            outcome.message,
            format!(
                "GET http://127.0.0.1:{0}/start (redirected to http://127.0.0.1:{0}/final?x=***): status 200",
                server.port()
            )
        );
    }

    #[tokio::test]
    async fn credentials_are_never_sent_to_another_origin_on_redirect() {
        let elsewhere = TestServer::always(200, "ok");
        let target = elsewhere.url("/landing");
        let server = TestServer::start(move |_, _| Reply::redirect(302, &target));
        for follow in [FollowRedirects::Safe, FollowRedirects::All] {
            // Credentials in the URL, then in an Authorization header.
            let url = format!("http://admin:hunter2@127.0.0.1:{}/", server.port());
            let mut check = http_check(&url);
            check.follow_redirects = follow;
            check.headers.insert("X-Api-Key".into(), "k3y".into());
            assert!(run(check, 0, serde_json::json!({})).await.passed);
            let mut check = http_check(&server.url("/"));
            check.follow_redirects = follow;
            check
                .headers
                .insert("Authorization".into(), "Bearer t0ken".into());
            assert!(run(check, 0, serde_json::json!({})).await.passed);
        }
        let sent_there = elsewhere.heads().join("").to_ascii_lowercase();
        assert_eq!(elsewhere.hits(), 4);
        for secret in ["authorization", "x-api-key", "k3y", "t0ken"] {
            assert!(!sent_there.contains(secret), "{sent_there}");
        }
        let sent_here = server.heads().join("").to_ascii_lowercase();
        assert!(sent_here.contains("authorization: basic"), "{sent_here}");
        assert!(
            sent_here.contains("authorization: bearer t0ken"),
            "{sent_here}"
        );
    }

    #[tokio::test]
    async fn safe_does_not_follow_a_post_redirect_but_all_does() {
        let server = TestServer::start(|_, head| {
            if head.contains("/final") {
                Reply::text(200, "ok")
            } else {
                Reply::redirect(302, "/final")
            }
        });
        let mut check = http_check(&server.url("/"));
        check.method = HttpMethod::Post;
        let outcome = run(check.clone(), 0, serde_json::json!({})).await;
        assert!(!outcome.passed);
        assert!(
            outcome.message.ends_with("status 302, expected 200"),
            "{}",
            outcome.message
        );
        check.follow_redirects = FollowRedirects::All;
        assert!(run(check, 0, serde_json::json!({})).await.passed);
        let heads = server.heads();
        assert_eq!(heads.len(), 3);
        assert!(
            heads[2].starts_with("GET /final HTTP/1.1"),
            "302 turns POST into GET"
        );
    }

    #[tokio::test]
    async fn a_307_keeps_the_method_and_a_redirect_loop_fails() {
        let server = TestServer::start(|_, head| {
            if head.contains("/final") {
                Reply::text(200, "ok")
            } else {
                Reply::redirect(307, "final")
            }
        });
        let mut check = http_check(&server.url("/dir/start"));
        check.method = HttpMethod::Put;
        check.follow_redirects = FollowRedirects::All;
        assert!(run(check, 0, serde_json::json!({})).await.passed);
        assert!(server.heads()[1].starts_with("PUT /dir/final HTTP/1.1"));

        let looping = TestServer::start(|_, _| Reply::redirect(302, "/again"));
        let outcome = run(http_check(&looping.url("/")), 0, serde_json::json!({})).await;
        assert!(!outcome.passed);
        assert!(
            outcome.message.ends_with("more than 10 redirects"),
            "{}",
            outcome.message
        );
        assert_eq!(looping.hits(), MAX_REDIRECTS + 1);
    }

    #[tokio::test]
    async fn a_rendered_url_with_an_unescaped_password_fails_without_showing_it() {
        let server = TestServer::always(200, "");
        let check = http_check("http://u:p/a#b?c@127.0.0.1:{{ port }}/x");
        let outcome = run(check, 3, serde_json::json!({"port": server.port()})).await;
        assert!(!outcome.passed);
        assert_eq!(outcome.attempts, 0, "retrying cannot help");
        assert!(outcome.message.contains("has a `#`"), "{}", outcome.message);
        for secret in ["p/a", "b?c", "u:p"] {
            assert!(!outcome.message.contains(secret), "{}", outcome.message);
        }
        assert_eq!(server.hits(), 0);
    }

    #[tokio::test]
    async fn an_unreadable_or_empty_ca_file_stops_the_gate_before_any_request() {
        let server = TestServer::always(200, "");
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").expect("write");
        for (path, says) in [
            (dir.path().join("missing.pem"), "cannot read ca_file"),
            (empty, "holds no certificates"),
        ] {
            let mut check = http_check(&server.url("/"));
            check.tls.ca_file = Some(path);
            let outcome = run(check, 3, serde_json::json!({})).await;
            assert!(!outcome.passed);
            assert_eq!(outcome.attempts, 0, "retrying cannot help");
            assert!(outcome.message.contains(says), "{}", outcome.message);
        }
        assert_eq!(server.hits(), 0);
    }
}
