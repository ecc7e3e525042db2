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

    /// `Basic …` from the URL's user name and password, percent-decoded first as curl and
    /// Python do (ureq would send them still encoded); `None` without userinfo.
    pub fn basic_auth(&self) -> Option<String> {
        use base64::Engine;
        let authority = self.uri.authority()?.as_str();
        let (userinfo, _) = authority.rsplit_once('@')?;
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let mut credentials = percent_decode(user);
        credentials.push(b':');
        credentials.extend(percent_decode(password));
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        ))
    }

    /// The URL to send: userinfo removed (it travels as [`GateUrl::basic_auth`] instead).
    pub fn without_userinfo(&self) -> Uri {
        strip_userinfo(&self.uri)
    }
}

/// `uri` without any `user:password@`.
pub(crate) fn strip_userinfo(uri: &Uri) -> Uri {
    let Some(authority) = uri.authority() else {
        return uri.clone();
    };
    let Some((_, host_port)) = authority.as_str().rsplit_once('@') else {
        return uri.clone();
    };
    let mut parts = uri.clone().into_parts();
    match host_port.parse() {
        Ok(authority) => parts.authority = Some(authority),
        Err(_) => return uri.clone(),
    }
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

/// `%XX` sequences as the bytes they stand for; anything else as is.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
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
    fn basic_auth_decodes_the_user_name_and_password() {
        use base64::Engine;
        let url = GateUrl::parse("https://ad%40min:p%2Fa%23b%3Fc%zz@host/x").expect("valid");
        let expected = base64::engine::general_purpose::STANDARD.encode("ad@min:p/a#b?c%zz");
        assert_eq!(url.basic_auth(), Some(format!("Basic {expected}")));
        assert_eq!(url.without_userinfo().to_string(), "https://host/x");
        let token = GateUrl::parse("https://t0k@host/").expect("valid");
        let expected = base64::engine::general_purpose::STANDARD.encode("t0k:");
        assert_eq!(token.basic_auth(), Some(format!("Basic {expected}")));
        assert_eq!(
            GateUrl::parse("https://host/").expect("valid").basic_auth(),
            None
        );
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
