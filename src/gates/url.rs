//! Gate URLs: parsed once with the `http` crate's `Uri` (what ureq sends), checked, and shown
//! without credentials.
//!
//! A URL whose user name or password holds an unescaped `/ ? # @` cannot be read one way only
//! (`https://u:p/a#b?c@host/x` is host `u`, port `p`, path `/a` by RFC 3986), so such shapes are
//! refused instead of guessed at: a `#` anywhere (a fragment is never sent to a server anyway),
//! an `@` after the host (write `%40` in paths and queries), a port that is not 1-65535. Error
//! messages never quote a URL that holds an `@`, and never quote its port unless it has none.

use ureq::http::Uri;

/// What is wrong with a gate URL. The messages never hold the URL's credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not `http://` or `https://`.
    #[error("must start with http:// or https://")]
    Scheme,
    /// A `#` somewhere.
    #[error("has a `#`: a fragment is never sent to the server (if it is part of a user name or password, write it as %23)")]
    Fragment,
    /// The `http` crate could not parse it.
    #[error("is not a valid URL ({0})")]
    Unparsable(String),
    /// No host after `//`.
    #[error("has no host")]
    NoHost,
    /// A port that is not a number from 1 to 65535.
    #[error("has an invalid port{}: ports are 1 to 65535", .0.as_deref().map(|port| format!(" `{port}`")).unwrap_or_default())]
    Port(Option<String>),
    /// An `@` in the path or query: a password with an unescaped `/` or `?` would look like this.
    #[error("has an `@` after the host: write it as %40 in paths and queries; if it ends a user name or password, percent-encode `/ ? # @` in them (%2F %3F %23 %40)")]
    AtAfterHost,
}

/// The hint shown with a [`UrlError`] at load time.
pub const URL_HINT: &str =
    "write it like https://user:password@host:8443/path?query, with `/ ? # @ :` \
in the user name or password percent-encoded";

/// A checked `http(s)` URL.
#[derive(Debug, Clone)]
pub struct GateUrl {
    uri: Uri,
    shown: String,
}

impl GateUrl {
    /// Parses and checks `text`.
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(UrlError::Scheme);
        }
        if text.contains('#') {
            return Err(UrlError::Fragment);
        }
        let uri: Uri = text.parse().map_err(|error: ureq::http::uri::InvalidUri| {
            UrlError::Unparsable(error.to_string())
        })?;
        let authority = uri.authority().ok_or(UrlError::NoHost)?;
        let host_port = authority
            .as_str()
            .rsplit_once('@')
            .map_or(authority.as_str(), |(_, host)| host);
        check_port(host_port, text.contains('@'))?;
        if authority.host().is_empty() {
            return Err(UrlError::NoHost);
        }
        if uri
            .path_and_query()
            .is_some_and(|rest| rest.as_str().contains('@'))
        {
            return Err(UrlError::AtAfterHost);
        }
        let shown = show(&uri, host_port);
        Ok(Self { uri, shown })
    }

    /// The URL to send, credentials included.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The URL without user name, password or query values: safe to print.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// `host`, `host:port` or `[v6]:port` after any userinfo: the port, when there, must be 1-65535.
fn check_port(host_port: &str, may_hold_secrets: bool) -> Result<(), UrlError> {
    let after_host = match host_port.rfind(']') {
        Some(end) => &host_port[end + 1..],
        None => host_port,
    };
    let Some((_, port)) = after_host.rsplit_once(':') else {
        return Ok(());
    };
    match port.parse::<u16>() {
        Ok(1..) if port.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(UrlError::Port(
            (!may_hold_secrets && port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty())
                .then(|| port.to_string()),
        )),
    }
}

/// `scheme://host[:port]/path?name=***`.
fn show(uri: &Uri, host_port: &str) -> String {
    let mut out = format!(
        "{}://{host_port}{}",
        uri.scheme_str().unwrap_or("http").to_ascii_lowercase(),
        uri.path()
    );
    if let Some(query) = uri.query() {
        out.push('?');
        out.push_str(&mask_query(query));
    }
    out
}

/// Query values replaced by `***`, names kept.
pub(crate) fn mask_query(query: &str) -> String {
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}=***"),
            None => pair.to_string(),
        })
        .collect();
    pairs.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_query_values_are_never_shown() {
        let cases = [
            (
                "https://admin:hunter2@api.example/healthz",
                "https://api.example/healthz",
            ),
            ("http://token@h:8080", "http://h:8080/"),
            ("https://u:p%2Fa%23b%3Fc@host/x", "https://host/x"),
            (
                "https://u:p@ss@host/x?k=v&flag",
                "https://host/x?k=***&flag",
            ),
            ("HTTP://[::1]:9090/api", "http://[::1]:9090/api"),
        ];
        for (text, shown) in cases {
            assert_eq!(GateUrl::parse(text).expect(text).shown(), shown, "{text}");
        }
    }

    #[test]
    fn ambiguous_shapes_are_refused_without_quoting_them() {
        let cases = [
            ("https://u:p/a#b?c@host/x", UrlError::Fragment),
            ("https://u:p/a?c@host/x", UrlError::Port(None)),
            ("https://u:12/34@host/x", UrlError::AtAfterHost),
            ("https://user:pa/ss@host/", UrlError::Port(None)),
            ("https://tok/en@host/", UrlError::AtAfterHost),
            ("https://h/users/@me", UrlError::AtAfterHost),
            ("https://host:99999/x", UrlError::Port(Some("99999".into()))),
            ("https://u:secret@host:99999/x", UrlError::Port(None)),
            ("https://host:0/", UrlError::Port(Some("0".into()))),
            ("https://host:/", UrlError::Port(None)),
            ("ftp://host/", UrlError::Scheme),
            ("http:///x", UrlError::Unparsable("invalid format".into())),
        ];
        for (text, expected) in cases {
            let error = GateUrl::parse(text).expect_err(text);
            assert_eq!(
                std::mem::discriminant(&error),
                std::mem::discriminant(&expected),
                "{text}: {error}"
            );
            if let UrlError::Port(shown) = &expected {
                assert_eq!(&error, &UrlError::Port(shown.clone()), "{text}");
            }
            let message = error.to_string();
            for secret in ["secret", "p/a", "pa/ss", "12/34", "tok", "u:p"] {
                assert!(!message.contains(secret), "{text}: {message}");
            }
        }
    }
}
