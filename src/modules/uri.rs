//! `uri`: make an HTTP(S) request from the host with `curl`, and register the status, the
//! headers and (with `return_content`) the body, decoded as JSON when it is JSON.
//!
//! One round trip. The URL and headers go to `curl -K` as a config file and the body as a file,
//! both written from the command's standard input, so neither a token in a header nor the
//! body appears in the host's process list; the answer comes back as `code\0headers\0body`.
//! With `delegate_to: localhost` the request runs on the controller the same way.
//!
//! Deviations from Ansible: needs `curl` on the host (a clear failure without it; `wget` is not
//! used); only `url`, `method`, `body`, `body_format` (`raw`, `json`, `form-urlencoded`),
//! `headers`, `status_code`, `return_content`, `timeout`, `validate_certs` and
//! `follow_redirects` are supported (others fail at load); skipped in check mode, as Ansible's
//! `uri` does not support it; `follow_redirects` is all-or-nothing (`none`/`no` or any other
//! value, which follows every redirect).

use std::time::Instant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::remote_file;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::{ExecRequest, OUTPUT_CAP};
use crate::vars::{self, Value};

/// Arguments of `uri`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UriArgs {
    /// `http://` or `https://` URL.
    url: String,
    /// The HTTP method (default `GET`).
    #[serde(default = "default_method")]
    method: String,
    /// The request body: text, or with `body_format: json`/`form-urlencoded` a structure.
    body: Option<serde_json::Value>,
    /// How `body` is encoded.
    #[serde(default)]
    body_format: BodyFormat,
    /// Request headers.
    #[serde(default)]
    headers: indexmap::IndexMap<String, serde_json::Value>,
    /// Status codes that count as success (default `[200]`).
    #[serde(default = "default_status", deserialize_with = "status_list")]
    status_code: Vec<i64>,
    /// Register the body as `content` (and `json` when it is JSON).
    #[serde(default, deserialize_with = "lenient::bool")]
    return_content: bool,
    /// Seconds the whole request may take (default 30).
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    timeout: Option<f64>,
    /// Check the server's TLS certificate (default yes).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    validate_certs: bool,
    /// `safe` (default), `all`, `none` ... : anything but `none`/`no` follows redirects.
    follow_redirects: Option<serde_json::Value>,
}

fn default_method() -> String {
    "GET".into()
}

fn default_status() -> Vec<i64> {
    vec![200]
}

fn yes() -> bool {
    true
}

/// One status code or a list, numbers or numeric strings (`"200,201"` too).
fn status_list<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<i64>, D::Error> {
    use serde::de::Error;
    let value = serde_json::Value::deserialize(de)?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::String(text) => text
            .split(',')
            .map(|part| serde_json::Value::String(part.trim().to_string()))
            .collect(),
        other => vec![other],
    };
    items
        .iter()
        .map(|item| match item {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| D::Error::custom("status_code must be a list of numbers"))
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum BodyFormat {
    #[default]
    Raw,
    Json,
    FormUrlencoded,
}

/// `uri`: an HTTP request from the host.
pub(crate) struct Uri;

#[async_trait]
impl Module for Uri {
    fn names(&self) -> &'static [&'static str] {
        &["uri", "ansible.builtin.uri", "ansible.legacy.uri"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<UriArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Unsupported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: UriArgs = args::parse(args)?;
        uri(&args, ctx).await
    }
}

/// Exit status of the script when the host has no curl.
const NO_CURL: i32 = 127;

/// What the request sends: curl's config and the body.
#[derive(Debug, PartialEq)]
struct Request {
    config: String,
    body: Option<Vec<u8>>,
}

/// A value for a curl config file: double-quoted, with `\` and `"` escaped.
pub(super) fn config_value(text: &str) -> Result<String, ArgError> {
    if text.contains(['\n', '\r', '\0']) {
        return Err(ArgError::Invalid(format!(
            "`{}` holds a line break or NUL, which HTTP does not allow here",
            text.escape_debug()
        )));
    }
    Ok(format!(
        "\"{}\"",
        text.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

fn scalar_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn build(args: &UriArgs) -> Result<Request, ArgError> {
    if !(args.url.starts_with("http://") || args.url.starts_with("https://")) {
        return Err(ArgError::Invalid(format!(
            "url `{}` must start with http:// or https://",
            args.url
        )));
    }
    let method = args.method.to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ArgError::Invalid(format!(
            "method `{}` is not an HTTP method",
            args.method
        )));
    }
    let mut headers: Vec<(String, String)> = args
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), scalar_text(value)))
        .collect();
    let has_header = |headers: &[(String, String)], name: &str| {
        headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(name))
    };
    let body = match (&args.body, args.body_format) {
        (None, _) => None,
        (Some(body), BodyFormat::Raw) => Some(scalar_text(body).into_bytes()),
        (Some(body), BodyFormat::Json) => {
            if !has_header(&headers, "content-type") {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
            let text = match body {
                // A string is taken as JSON text already, as Ansible does.
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            Some(text.into_bytes())
        }
        (Some(body), BodyFormat::FormUrlencoded) => {
            if !has_header(&headers, "content-type") {
                headers.push((
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ));
            }
            let text = match body {
                serde_json::Value::Object(map) => map
                    .iter()
                    .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(&scalar_text(v))))
                    .collect::<Vec<_>>()
                    .join("&"),
                other => scalar_text(other),
            };
            Some(text.into_bytes())
        }
    };
    let mut config = format!(
        "url = {}\nrequest = {}\n",
        config_value(&args.url)?,
        config_value(&method)?
    );
    for (name, value) in &headers {
        config.push_str(&format!(
            "header = {}\n",
            config_value(&format!("{name}: {value}"))?
        ));
    }
    Ok(Request { config, body })
}

/// `application/x-www-form-urlencoded` encoding of one key or value.
fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The host side: stdin holds `config_len` bytes of curl config, then the body.
fn script(args: &UriArgs, config_len: usize, has_body: bool) -> String {
    let timeout = args.timeout.unwrap_or(30.0);
    let insecure = if args.validate_certs { "" } else { " -k" };
    let follow = match &args.follow_redirects {
        Some(serde_json::Value::String(s)) if matches!(s.as_str(), "none" | "no") => "",
        Some(serde_json::Value::Bool(false)) => "",
        _ => " -L",
    };
    let data = if has_body {
        " --data-binary \"@$d/body\""
    } else {
        ""
    };
    format!(
        "command -v curl >/dev/null 2>&1 || exit {NO_CURL}\n\
         d=$(mktemp -d) || exit 1\n\
         trap 'rm -rf -- \"$d\"' EXIT\n\
         dd bs=1 count={config_len} of=\"$d/config\" 2>/dev/null || exit 1\n\
         cat > \"$d/body\" || exit 1\n\
         code=$(curl -sS -K \"$d/config\" --max-time {timeout}{insecure}{follow}{data} \
         -D \"$d/headers\" -o \"$d/out\" -w '%{{http_code}} %{{num_redirects}} %{{url_effective}}') \
         || {{ printf '%s' \"$code\"; exit 2; }}\n\
         printf '%s\\0' \"$code\"; cat \"$d/headers\"; printf '\\0'; cat \"$d/out\"\n"
    )
}

/// What `uri` registers besides the headers.
#[derive(Debug, Serialize)]
struct UriOutcome {
    status: i64,
    url: String,
    redirected: bool,
    elapsed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    json: Option<serde_json::Value>,
}

async fn uri(args: &UriArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let request = build(args)?;
    let mut stdin = request.config.clone().into_bytes();
    stdin.extend_from_slice(request.body.as_deref().unwrap_or_default());
    let mut exec = ExecRequest::new(script(
        args,
        request.config.len(),
        request.body.is_some(),
    ));
    exec.stdin = Some(stdin);
    let start = Instant::now();
    let output = ctx.exec_request(exec).await?;
    let elapsed = start.elapsed().as_secs();
    let expected = format!("{:?}", args.status_code);
    match output.status.rc() {
        0 => {}
        NO_CURL => {
            return Err(ModuleError::Failed(
                "uri needs curl on the host, and there is none in PATH".into(),
            ))
        }
        2 => {
            let detail = output.stderr_text().trim().to_string();
            return Ok(ModuleResult::failed(format!(
                "Status code was -1 and not {expected}: Request failed: {detail}"
            ))
            .with_data(&UriOutcome {
                status: -1,
                url: args.url.clone(),
                redirected: false,
                elapsed,
                content: None,
                json: None,
            }));
        }
        _ => {
            return Err(remote_file::host_failure(
                &format!("cannot request {}", args.url),
                &output,
            ))
        }
    }
    if output.truncated {
        return Err(ModuleError::Failed(format!(
            "the answer from {} is larger than {OUTPUT_CAP} bytes",
            args.url
        )));
    }
    let answer = parse(&output.stdout)
        .ok_or_else(|| ModuleError::Failed("uri: unexpected answer from the host".into()))?;
    let content = String::from_utf8_lossy(&answer.body).into_owned();
    let is_json = answer
        .headers
        .iter()
        .any(|(name, value)| name == "content_type" && value.contains("json"));
    let json = (args.return_content && is_json)
        .then(|| serde_json::from_slice(&answer.body).ok())
        .flatten();
    let outcome = UriOutcome {
        status: answer.status,
        url: answer.url.clone(),
        redirected: answer.redirects > 0,
        elapsed,
        content: args.return_content.then(|| content.clone()),
        json,
    };
    let mut result = if args.status_code.contains(&answer.status) {
        ModuleResult::ok().with_msg(format!("OK ({} bytes)", answer.body.len()))
    } else {
        let reason = answer.reason.clone();
        let mut failed = ModuleResult::failed(format!(
            "Status code was {} and not {expected}: HTTP Error {}: {reason}",
            answer.status, answer.status
        ));
        // Ansible registers the body of a failed request whatever return_content says.
        failed.data.insert("content".into(), Value::from(content.as_str()));
        failed
    }
    .with_data(&outcome);
    for (name, value) in answer.headers {
        result
            .data
            .entry(name)
            .or_insert_with(|| vars::from_json(&serde_json::Value::String(value)));
    }
    Ok(result)
}

/// The host's answer.
#[derive(Debug, PartialEq)]
struct Answer {
    status: i64,
    redirects: u64,
    url: String,
    reason: String,
    /// The last response's headers, named as Ansible registers them (`content_type`).
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parse(stdout: &[u8]) -> Option<Answer> {
    let first = stdout.iter().position(|&b| b == 0)?;
    let rest = &stdout[first + 1..];
    let second = rest.iter().position(|&b| b == 0)?;
    let summary = String::from_utf8_lossy(&stdout[..first]).into_owned();
    let mut words = summary.splitn(3, ' ');
    let status = words.next()?.trim().parse().ok()?;
    let redirects = words.next()?.trim().parse().ok()?;
    let url = words.next().unwrap_or_default().to_string();
    let headers_text = String::from_utf8_lossy(&rest[..second]).into_owned();
    // With redirects curl writes each response's headers; the last block is the answer.
    let last = headers_text
        .split("\r\n\r\n")
        .filter(|block| !block.trim().is_empty())
        .last()
        .unwrap_or_default();
    let mut lines = last.lines();
    let reason = lines
        .next()
        .and_then(|line| line.splitn(3, ' ').nth(2))
        .unwrap_or_default()
        .trim()
        .to_string();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| {
            (
                name.trim().to_ascii_lowercase().replace('-', "_"),
                value.trim().to_string(),
            )
        })
        .collect();
    Some(Answer {
        status,
        redirects,
        url,
        reason,
        headers,
        body: rest[second + 1..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(value: serde_json::Value) -> UriArgs {
        serde_json::from_value(value).expect("args")
    }

    #[test]
    fn json_bodies_and_headers_go_into_curls_config() {
        let request = build(&args(json!({
            "url": "https://api.example/v1?token=a\"b",
            "method": "post",
            "body": {"name": "x"},
            "body_format": "json",
            "headers": {"Authorization": "Bearer s3cret", "X-N": 5}
        })))
        .expect("build");
        assert_eq!(
            request.config,
            "url = \"https://api.example/v1?token=a\\\"b\"\nrequest = \"POST\"\n\
             header = \"Authorization: Bearer s3cret\"\nheader = \"X-N: 5\"\n\
             header = \"Content-Type: application/json\"\n"
        );
        assert_eq!(request.body.as_deref(), Some(&br#"{"name":"x"}"#[..]));
    }

    #[test]
    fn form_bodies_are_urlencoded() {
        let request = build(&args(json!({
            "url": "http://h/", "method": "POST", "body_format": "form-urlencoded",
            "body": {"a b": "c&d", "n": 1}
        })))
        .expect("build");
        assert_eq!(request.body.as_deref(), Some(&b"a+b=c%26d&n=1"[..]));
    }

    #[test]
    fn bad_urls_methods_and_headers_are_argument_errors() {
        assert!(build(&args(json!({"url": "ftp://h/"}))).is_err());
        assert!(build(&args(json!({"url": "http://h/", "method": "GET /x"}))).is_err());
        assert!(build(&args(json!({"url": "http://h/", "headers": {"X": "a\nb"}}))).is_err());
        assert!(serde_json::from_value::<UriArgs>(json!({"url": "http://h/", "status_code": ["x"]}))
            .is_err());
        assert_eq!(
            args(json!({"url": "http://h/", "status_code": "200, 201"})).status_code,
            vec![200, 201]
        );
    }

    #[test]
    fn the_answer_keeps_the_last_responses_headers_and_a_binary_body() {
        let stdout = b"200 1 https://h/new\0HTTP/1.1 301 Moved\r\nLocation: /new\r\n\r\n\
            HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Req-Id: 7\r\n\r\n\0{\"a\":1}\0\xff";
        let answer = parse(stdout).expect("parse");
        assert_eq!((answer.status, answer.redirects), (200, 1));
        assert_eq!(answer.url, "https://h/new");
        assert_eq!(answer.reason, "OK");
        assert_eq!(
            answer.headers,
            vec![
                ("content_type".to_string(), "application/json".to_string()),
                ("x_req_id".to_string(), "7".to_string())
            ]
        );
        assert_eq!(answer.body, b"{\"a\":1}\0\xff");
        assert!(parse(b"garbage").is_none());
    }

    /// Answers each request with `status` and a JSON body echoing the method, one header and
    /// the request body; the URL it listens on.
    fn echo_server(status: u16) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut seen = Vec::new();
                let mut buffer = [0u8; 4096];
                let body_start = loop {
                    let Ok(n) = stream.read(&mut buffer) else { break None };
                    if n == 0 {
                        break None;
                    }
                    seen.extend_from_slice(&buffer[..n]);
                    if let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(at + 4);
                    }
                };
                let Some(body_start) = body_start else { continue };
                let head = String::from_utf8_lossy(&seen[..body_start]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while seen.len() < body_start + length {
                    let Ok(n) = stream.read(&mut buffer) else { break };
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buffer[..n]);
                }
                let method = head.split(' ').next().unwrap_or_default().to_string();
                let token = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Authorization: "))
                    .unwrap_or_default()
                    .to_string();
                let body = String::from_utf8_lossy(&seen[body_start..]).into_owned();
                let answer = json!({"method": method, "auth": token, "body": body}).to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Teapot Or Not\r\nContent-Type: application/json\r\n\
                     X-Trace: abc\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        format!("http://127.0.0.1:{port}/api")
    }

    use super::super::remote_file::testing::{assert_failed, field, run, CHECK, RUN};

    #[tokio::test]
    async fn a_request_from_the_host_registers_status_headers_and_json() {
        let url = echo_server(201);
        let result = run(
            Uri,
            json!({"url": url, "method": "POST", "body": {"k": "v"}, "body_format": "json",
                "headers": {"Authorization": "Bearer t0ken"}, "status_code": [200, 201],
                "return_content": true}),
            RUN,
        )
        .await;
        assert!(!result.failed && !result.changed, "{result:?}");
        assert_eq!(field(&result, "status"), json!(201));
        assert_eq!(field(&result, "x_trace"), json!("abc"));
        assert_eq!(
            field(&result, "json"),
            json!({"method": "POST", "auth": "Bearer t0ken", "body": "{\"k\":\"v\"}"})
        );
        assert!(field(&result, "content").as_str().is_some());
    }

    #[tokio::test]
    async fn an_unexpected_status_or_no_server_fails_as_ansible_says() {
        let url = echo_server(404);
        let result = run(Uri, json!({"url": url}), RUN).await;
        assert_failed(&result, "Status code was 404 and not [200]");
        assert_eq!(field(&result, "status"), json!(404));
        assert!(field(&result, "content").as_str().is_some());
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let down = run(Uri, json!({"url": format!("http://127.0.0.1:{closed}/")}), RUN).await;
        assert_failed(&down, "Status code was -1 and not [200]: Request failed");
        assert!(run(Uri, json!({"url": url}), CHECK).await.skipped);
    }
}
