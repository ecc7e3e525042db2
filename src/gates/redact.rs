//! Keeping secrets out of gate and notification messages: URLs lose their userinfo and query
//! values, and webhook URLs their path tokens too.

use super::url::{mask_query, GateUrl};

/// The URL with any `user:password@` removed and every query value replaced by `***`.
///
/// Gate messages go to the terminal, JSON events, tracing and the journal; URLs in playbooks often
/// carry credentials (`https://user:token@host/…`, `?api_key=…`), so only the shape is shown. A
/// URL that [`GateUrl`] accepts is shown from its parsed parts. Anything else (a template not yet
/// rendered, a malformed URL in an error message) keeps only what follows the last `@`, since
/// userinfo always ends at an `@` however many `/ ? #` it holds; the fragment is dropped.
pub fn redact_url(url: &str) -> String {
    if let Ok(parsed) = GateUrl::parse(url) {
        return parsed.shown().to_string();
    }
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let rest = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    match rest.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            out.push_str(&mask_query(query));
        }
        None => out.push_str(rest),
    }
    out
}

/// A webhook URL safe to print: [`redact_url`], and every path segment after the first replaced
/// by one `***`.
///
/// Webhook services put their secret in the path (Slack's `/services/T…/B…/XXXX`, Teams'
/// `/webhookb2/…/IncomingWebhook/…`, Discord's `/api/webhooks/ID/TOKEN`), so only the scheme,
/// host, port and first segment are kept: `https://hooks.slack.com/services/***`.
pub fn redact_webhook_url(url: &str) -> String {
    let shown = redact_url(url);
    let (scheme, rest) = match shown.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest.to_string()),
        None => (String::new(), shown.clone()),
    };
    let (path_part, query) = match rest.split_once('?') {
        Some((path, query)) => (path.to_string(), Some(query.to_string())),
        None => (rest, None),
    };
    let mut segments = path_part.splitn(3, '/');
    let host = segments.next().unwrap_or_default();
    let first = segments.next();
    let more = segments.next().is_some_and(|rest| !rest.is_empty());
    let mut out = format!("{scheme}{host}");
    if let Some(first) = first {
        out.push('/');
        out.push_str(first);
        if more {
            out.push_str("/***");
        }
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(&query);
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
        assert_eq!(redact_url("http://token@h:8080"), "http://h:8080/");
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
    fn passwords_with_unescaped_delimiters_are_never_shown() {
        for (url, shown) in [
            ("https://u:p/a#b?c@host/x", "https://host/x"),
            ("https://u:p/a?c@host/x", "https://host/x"),
            ("https://u:p#a@host", "https://host"),
            ("https://u:12/34@host/x?k=v", "https://host/x?k=***"),
            ("https://admin:p/a#b@{{ host }}/x", "https://{{ host }}/x"),
            ("u:p/a#b?c@host/x", "host/x"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn webhook_path_tokens_are_hidden_after_the_first_segment() {
        for (url, shown) in [
            (
                "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
                "https://hooks.slack.com/services/***",
            ),
            (
                "https://x.webhook.office.com/webhookb2/a%40b/IncomingWebhook/c/d",
                "https://x.webhook.office.com/webhookb2/***",
            ),
            (
                "https://u:pw@h:8443/api/webhooks/1/tok?sig=abc&x",
                "https://h:8443/api/***?sig=***&x",
            ),
            ("http://127.0.0.1:9/hook", "http://127.0.0.1:9/hook"),
            ("http://127.0.0.1:9/", "http://127.0.0.1:9/"),
            ("not a url/with/token", "not a url/with/***"),
        ] {
            assert_eq!(redact_webhook_url(url), shown, "{url}");
        }
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
