//! `get_url`: download a file over HTTP(S) on the host with `curl`, check its checksum, and
//! put it at `dest` (a file, or a directory to download into) only when it differs.
//!
//! One round trip: curl's config (the URL, with any credentials in it, and headers) comes from
//! the command's standard input, so no secret appears in the host's process list; the
//! download lands in a temporary file beside `dest` and is renamed into place, so a reader
//! never sees half a file. Bytes are handled by curl, `cmp` and `mv` only: binary safe.
//!
//! Deviations from Ansible: needs `curl` on the host; `checksum` takes `<algorithm>:<hex>`
//! (md5, sha1, sha224, sha256, sha384, sha512) but not a checksum file URL; with `dest` a
//! directory, the file is named after the URL's last path segment (not Content-Disposition).

use std::time::Instant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::args::{self, ArgError};
use super::lenient;
use super::remote_file::{self, Attrs, Change, ModeArg, Principal, Probe};
use super::uri::config_value;
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::transport::{quote, ExecRequest};
use crate::vars::Value;

/// Arguments of `get_url`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GetUrlArgs {
    /// `http://` or `https://` URL.
    url: String,
    /// Where to put the file: a path, or an existing directory.
    dest: String,
    /// `<algorithm>:<hex digest>` the download must match.
    checksum: Option<String>,
    /// Permissions of the file (octal or symbolic).
    mode: Option<ModeArg>,
    /// Owner of the file.
    owner: Option<Principal>,
    /// Group of the file.
    group: Option<Principal>,
    /// Seconds the download may take (default 10, as Ansible).
    #[serde(default, deserialize_with = "lenient::opt_seconds")]
    timeout: Option<f64>,
    /// Download even when `dest` exists (default: only when it is missing, or when a given
    /// `checksum` does not match it).
    #[serde(default, deserialize_with = "lenient::bool")]
    force: bool,
    /// Request headers.
    #[serde(default)]
    headers: indexmap::IndexMap<String, serde_json::Value>,
    /// Check the server's TLS certificate (default yes).
    #[serde(default = "yes", deserialize_with = "lenient::bool")]
    validate_certs: bool,
    /// Basic-auth user (sent through curl's config, never a command line).
    url_username: Option<String>,
    /// Basic-auth password.
    url_password: Option<String>,
    /// Keep a backup of a replaced file (accepted; no backup is made, a warning says so).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    backup: Option<bool>,
}

fn yes() -> bool {
    true
}

/// Hash algorithms `checksum` may name, with the tool that computes each.
const ALGORITHMS: &[(&str, &str)] = &[
    ("md5", "md5sum"),
    ("sha1", "sha1sum"),
    ("sha224", "sha224sum"),
    ("sha256", "sha256sum"),
    ("sha384", "sha384sum"),
    ("sha512", "sha512sum"),
];

/// The tool and digest of a `checksum` argument.
fn checksum(text: &str) -> Result<(&'static str, String), ArgError> {
    let (algorithm, digest) = text.split_once(':').ok_or_else(|| {
        ArgError::Invalid(format!(
            "checksum `{text}` must be `<algorithm>:<hex digest>`, e.g. sha256:9f86d0…"
        ))
    })?;
    let tool = ALGORITHMS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(algorithm.trim()))
        .map(|(_, tool)| *tool)
        .ok_or_else(|| {
            ArgError::Invalid(format!(
                "checksum algorithm `{algorithm}` is not one of md5, sha1, sha224, sha256, sha384, sha512"
            ))
        })?;
    let digest = digest.trim().to_ascii_lowercase();
    if digest.is_empty() || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ArgError::Invalid(format!(
            "checksum digest `{digest}` is not hexadecimal"
        )));
    }
    Ok((tool, digest))
}

/// The file name a URL gives a download into a directory: its last path segment.
fn url_file_name(url: &str) -> Result<String, ArgError> {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    let name = path
        .split_once('/')
        .map(|(_, path)| path.rsplit('/').next().unwrap_or_default())
        .unwrap_or_default();
    if name.is_empty() || name == "." || name == ".." {
        return Err(ArgError::Invalid(format!(
            "dest is a directory and the URL `{url}` names no file to call the download"
        )));
    }
    Ok(name.to_string())
}

/// curl's config: URL, credentials and headers.
fn curl_config(args: &GetUrlArgs) -> Result<String, ArgError> {
    if !(args.url.starts_with("http://") || args.url.starts_with("https://")) {
        return Err(ArgError::Invalid(format!(
            "url `{}` must start with http:// or https://",
            args.url
        )));
    }
    let mut config = format!("url = {}\n", config_value(&args.url)?);
    if let Some(user) = &args.url_username {
        let password = args.url_password.as_deref().unwrap_or_default();
        config.push_str(&format!(
            "user = {}\n",
            config_value(&format!("{user}:{password}"))?
        ));
    }
    for (name, value) in &args.headers {
        let value = match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        config.push_str(&format!(
            "header = {}\n",
            config_value(&format!("{name}: {value}"))?
        ));
    }
    Ok(config)
}

/// Exit statuses of the host script besides 0 (done) and 1 (a host error).
const NO_CURL: i32 = 127;
const REQUEST_FAILED: i32 = 2;
const BAD_STATUS: i32 = 3;
const MISMATCH: i32 = 4;

/// The host side. Prints `dest`, then the outcome line.
fn script(args: &GetUrlArgs, config_len: usize, name: &str, check: Option<&(&str, String)>) -> String {
    let timeout = args.timeout.unwrap_or(10.0);
    let insecure = if args.validate_certs { "" } else { " -k" };
    let force = if args.force { "1" } else { "" };
    let (sum_tool, digest) = check.map_or(("", ""), |(tool, digest)| (*tool, digest.as_str()));
    format!(
        "command -v curl >/dev/null 2>&1 || exit {NO_CURL}\n\
         dest={dest}\n\
         [ -d \"$dest\" ] && dest=\"${{dest%/}}\"/{name}\n\
         printf '%s\\n' \"$dest\"\n\
         sum_tool={sum_tool}; want={digest}; force={force}\n\
         sum() {{ s=$($sum_tool < \"$1\") && printf '%s' \"${{s%% *}}\"; }}\n\
         if [ -e \"$dest\" ] && [ -z \"$force\" ]; then\n\
           if [ -z \"$sum_tool\" ] || [ \"$(sum \"$dest\")\" = \"$want\" ]; then\n\
             echo exists; exit 0; fi; fi\n\
         t=$(mktemp \"$(dirname -- \"$dest\")/.rpatch-get_url.XXXXXX\") || exit 1\n\
         c=$(mktemp) || {{ rm -f -- \"$t\"; exit 1; }}\n\
         trap 'rm -f -- \"$t\" \"$c\"' EXIT\n\
         dd bs=1 count={config_len} of=\"$c\" 2>/dev/null || exit 1\n\
         code=$(curl -sS -L -K \"$c\" --max-time {timeout}{insecure} -o \"$t\" -w '%{{http_code}}') \
         || {{ printf 'failed %s\\n' \"$code\"; exit {REQUEST_FAILED}; }}\n\
         [ \"$code\" = 200 ] || {{ printf 'status %s\\n' \"$code\"; exit {BAD_STATUS}; }}\n\
         if [ -n \"$sum_tool\" ]; then got=$(sum \"$t\"); \
         [ \"$got\" = \"$want\" ] || {{ printf 'mismatch %s\\n' \"$got\"; exit {MISMATCH}; }}; fi\n\
         size=$(wc -c < \"$t\")\n\
         if [ -f \"$dest\" ] && cmp -s \"$t\" \"$dest\"; then printf 'same %s\\n' \"$size\"; exit 0; fi\n\
         if [ -e \"$dest\" ]; then chmod --reference=\"$dest\" \"$t\" 2>/dev/null; \
         else chmod 0644 \"$t\"; fi\n\
         mv -f -- \"$t\" \"$dest\" || exit 1\n\
         printf 'changed %s\\n' \"$size\"\n",
        dest = remote_file::shell_path(&args.dest),
        name = quote(name),
        sum_tool = quote(sum_tool),
        digest = quote(digest),
    )
}

/// What `get_url` registers.
#[derive(Debug, Serialize)]
struct GetUrlOutcome {
    dest: String,
    url: String,
    status_code: i64,
    elapsed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_src: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// `get_url`: download a file on the host.
pub(crate) struct GetUrl;

#[async_trait]
impl Module for GetUrl {
    fn names(&self) -> &'static [&'static str] {
        &["get_url", "ansible.builtin.get_url", "ansible.legacy.get_url"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<GetUrlArgs>(args, templated)?;
        if !templated {
            let args: GetUrlArgs = args::parse(args)?;
            if let Some(text) = &args.checksum {
                checksum(text)?;
            }
            if let Some(mode) = &args.mode {
                mode.parse()?;
            }
        }
        Ok(())
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::Unsupported
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        let args: GetUrlArgs = args::parse(args)?;
        get_url(&args, ctx).await
    }
}

async fn get_url(args: &GetUrlArgs, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
    let wanted = args.checksum.as_deref().map(checksum).transpose()?;
    let config = curl_config(args)?;
    // Only needed when dest is a directory, so a URL without a file name fails only then.
    let name = url_file_name(&args.url).unwrap_or_default();
    let mut request = ExecRequest::new(script(args, config.len(), &name, wanted.as_ref()));
    request.stdin = Some(config.into_bytes());
    let start = Instant::now();
    let output = ctx.exec_request(request).await?;
    let elapsed = start.elapsed().as_secs();
    let text = output.stdout_text();
    let mut lines = text.lines();
    let dest = lines.next().unwrap_or(&args.dest).to_string();
    let last = lines.next().unwrap_or_default().to_string();
    let (word, detail) = last.split_once(' ').unwrap_or((last.as_str(), ""));
    let mut outcome = GetUrlOutcome {
        dest: dest.clone(),
        url: redact_url(&args.url),
        status_code: -1,
        elapsed,
        size: None,
        checksum_src: None,
        warnings: Vec::new(),
    };
    if args.backup == Some(true) {
        outcome
            .warnings
            .push("get_url: `backup` is accepted but no backup is made".into());
    }
    match output.status.rc() {
        0 => {}
        NO_CURL => {
            return Err(ModuleError::Failed(
                "get_url needs curl on the host, and there is none in PATH".into(),
            ))
        }
        REQUEST_FAILED => {
            let detail = output.stderr_text().trim().replace(&args.url, &outcome.url);
            return Ok(ModuleResult::failed(format!("Request failed: {detail}")).with_data(&outcome));
        }
        BAD_STATUS => {
            outcome.status_code = detail.trim().parse().unwrap_or(-1);
            return Ok(ModuleResult::failed(format!(
                "Request failed: HTTP Error {}",
                outcome.status_code
            ))
            .with_data(&outcome));
        }
        MISMATCH => {
            outcome.status_code = 200;
            let expected = wanted.as_ref().map(|(_, d)| d.as_str()).unwrap_or_default();
            return Ok(ModuleResult::failed(format!(
                "The checksum for {dest} did not match {expected}; it was {}.",
                detail.trim()
            ))
            .with_data(&outcome));
        }
        _ => {
            return Err(remote_file::host_failure(
                &format!("cannot download to {}", args.dest),
                &output,
            ))
        }
    }
    let changed = word == "changed";
    if word != "exists" {
        outcome.status_code = 200;
        outcome.size = detail.trim().parse().ok();
    }
    if let Some((_, digest)) = &wanted {
        outcome.checksum_src = Some(digest.clone());
    }
    let mut result = if changed {
        ModuleResult::changed()
    } else {
        ModuleResult::ok()
    };
    result.msg = Some(match (word, outcome.size) {
        ("exists", _) => "file already exists".into(),
        (_, Some(size)) => format!("OK ({size} bytes)"),
        _ => "OK".into(),
    });
    let mut result = result.with_data(&outcome);
    let attrs = Attrs::new(args.mode.as_ref(), args.owner.as_ref(), args.group.as_ref())?;
    if attrs.mode.is_some() || attrs.owner.is_some() || attrs.group.is_some() {
        let current = remote_file::probe(ctx, &dest, Probe::default()).await?;
        let (mode, chown) = remote_file::attr_changes(&attrs, &current, false);
        if mode.is_some() || chown.is_some() {
            let change = Change {
                mode,
                chown,
                ..Change::default()
            };
            let applied = remote_file::apply(ctx, &dest, &change).await?;
            result.changed = true;
            result
                .data
                .insert("mode".into(), Value::from(applied.after.mode_text()));
        }
    }
    Ok(result)
}

/// The URL with any `user:password@` taken out, for what is registered and shown.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://********@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_name_an_algorithm_and_a_hex_digest() {
        assert_eq!(
            checksum("sha256:ABCdef01").expect("valid"),
            ("sha256sum", "abcdef01".to_string())
        );
        assert!(checksum("sha256").is_err());
        assert!(checksum("crc32:00ff").is_err());
        assert!(checksum("md5:xyz").is_err());
    }

    #[test]
    fn a_download_into_a_directory_is_named_after_the_urls_last_segment() {
        assert_eq!(
            url_file_name("https://h.example/pub/tool-1.2.tar.gz?x=1").expect("name"),
            "tool-1.2.tar.gz"
        );
        assert!(url_file_name("https://h.example/").is_err());
        assert!(url_file_name("https://h.example").is_err());
    }

    #[test]
    fn credentials_in_a_url_are_never_registered() {
        assert_eq!(
            redact_url("https://bob:s3cret@h.example/f?a=b@c"),
            "https://********@h.example/f?a=b@c"
        );
        assert_eq!(redact_url("http://h/f"), "http://h/f");
    }
}
