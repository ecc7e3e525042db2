//! Keeping secrets out of gate messages: URLs lose their userinfo and query values.

/// The URL with any `user:password@` removed and every query value replaced by `***`.
///
/// Gate messages go to the terminal, JSON events and the journal; URLs in playbooks often carry
/// credentials (`https://user:token@host/…`, `?api_key=…`), so only the shape is shown.
pub fn redact_url(url: &str) -> String {
    let (before_fragment, _) = url.split_once('#').unwrap_or((url, ""));
    let (scheme, rest) = match before_fragment.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, before_fragment),
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    out.push_str(host);
    out.push_str(path);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{name}=***"),
                None => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// `text` with every occurrence of `url` (as given) replaced by its redacted form, for error
/// messages from libraries that quote the URL they were handed.
pub(crate) fn redact_in(text: &str, url: &str) -> String {
    if url.is_empty() {
        return text.to_string();
    }
    text.replace(url, &redact_url(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_removed() {
        assert_eq!(
            redact_url("https://admin:hunter2@api.example/healthz"),
            "https://api.example/healthz"
        );
        assert_eq!(redact_url("http://token@h:8080"), "http://h:8080");
    }

    #[test]
    fn query_values_are_masked_but_names_kept() {
        assert_eq!(
            redact_url("https://h/x?api_key=s3cret&verbose&a=1#frag"),
            "https://h/x?api_key=***&verbose&a=***"
        );
    }

    #[test]
    fn plain_urls_are_unchanged() {
        assert_eq!(redact_url("https://h:443/a/b"), "https://h:443/a/b");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn at_sign_in_path_is_not_userinfo() {
        assert_eq!(redact_url("https://h/users/@me"), "https://h/users/@me");
    }

    #[test]
    fn redact_in_rewrites_quoted_urls() {
        let url = "http://u:p@h/x";
        assert_eq!(
            redact_in(&format!("bad url {url}"), url),
            "bad url http://h/x"
        );
    }
}
