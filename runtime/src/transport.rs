//! The HTTP layer under the auth layer: how the default client is configured
//! (no retries, no redirects, no `Referer`), how a reply body is read under a
//! size limit, how a transport error is classified (could the request have
//! reached the server?), and how a redirect is reported without leaking a
//! token.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::Url;

/// The response body limit unless configured (`ClientBuilder::max_response_bytes`).
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// How long idle pooled connections are kept unless configured.
pub(crate) const DEFAULT_POOL_IDLE: Duration = Duration::from_secs(30);

/// Applies what the runtime needs of any HTTP client it builds: no retries
/// (only the auth-aware replay resends, F11/F12), no redirects (a followed
/// redirect resends the token, maybe to another host, and re-executes or
/// loses a single-use successor), no `Referer` (it would carry a query-placed
/// token to wherever a link points), and a connect timeout below the request
/// timeout, so a connect that never completes ends as a connect error ("never
/// sent", safe to replay) rather than as a request timeout ("may have
/// executed").
pub(crate) fn harden(
    builder: reqwest::ClientBuilder,
    request_timeout: Option<Duration>,
) -> reqwest::ClientBuilder {
    let builder = builder
        .retry(reqwest::retry::never())
        .redirect(reqwest::redirect::Policy::none())
        .referer(false);
    match request_timeout {
        // Set once on the client, not on each request (a request's own
        // timeout costs three allocations per call). A quarter of the budget
        // is left for the request itself: the request timer starts when the
        // send does, the connect timer a little later.
        Some(t) if !t.is_zero() => builder.timeout(t).connect_timeout(t * 3 / 4),
        _ => builder,
    }
}

/// Why a body could not be read.
pub(crate) enum BodyError {
    /// It is (or announced it would be) longer than the limit.
    TooLarge,
    /// The connection failed mid-body.
    Transport(reqwest::Error),
}

/// Reads a body chunk by chunk, refusing it as soon as it would pass
/// `limit`: an announced `Content-Length` above the limit is refused before
/// anything is read, and an unannounced one never has more than the limit
/// plus one chunk in memory.
pub(crate) async fn read_body(mut resp: reqwest::Response, limit: u64) -> Result<Bytes, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let mut len = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        len += chunk.len() as u64;
        if len > limit {
            return Err(BodyError::TooLarge);
        }
        // Most bodies arrive in one chunk: keep it as is, copy only from the second on.
        match (&mut first, &mut rest) {
            (None, _) => first = Some(chunk),
            (Some(f), None) => {
                let mut buf = BytesMut::with_capacity(f.len() + chunk.len());
                buf.extend_from_slice(f);
                buf.extend_from_slice(&chunk);
                rest = Some(buf);
            }
            (Some(_), Some(buf)) => buf.extend_from_slice(&chunk),
        }
    }
    Ok(match (first, rest) {
        (_, Some(buf)) => buf.freeze(),
        (Some(f), None) => f,
        (None, None) => Bytes::new(),
    })
}

/// Whether a failed send certainly never reached the server, so its token
/// was not spent and the request did not execute: the request could not be
/// built, or no connection was made. A timeout alone proves nothing (it may
/// fire after the request was written), so it counts as sent unless the
/// error also says the connect failed.
pub(crate) fn never_sent(e: &reqwest::Error) -> bool {
    e.is_builder() || e.is_connect()
}

/// Where a request was sent, kept only when the HTTP client may follow a
/// redirect behind the runtime's back (a user-supplied one); a client the
/// runtime built never does, so its replies come from the sent URL and
/// nothing needs keeping (a URL copy per call).
pub(crate) struct SentTo(Option<Url>);

impl SentTo {
    pub(crate) fn new(request: &reqwest::Request, foreign_client: bool) -> Self {
        SentTo(foreign_client.then(|| request.url().clone()))
    }

    /// Whether the reply comes from somewhere else (see [`was_redirected`]).
    pub(crate) fn redirected(&self, resp: &reqwest::Response) -> bool {
        self.0.as_ref().is_some_and(|sent| was_redirected(resp, sent))
    }

    /// The reply's redacted `Location` (see [`location`]).
    pub(crate) fn location(&self, resp: &reqwest::Response) -> Option<String> {
        location(resp, self.0.as_ref().unwrap_or(resp.url()))
    }
}

/// Whether the client followed a redirect: the reply is not from the URL
/// the request was sent to (only a user-supplied client can do this).
pub(crate) fn was_redirected(resp: &reqwest::Response, sent: &Url) -> bool {
    resp.url() != sent
}

/// The reply's `Location`, resolved against the request URL, fit for an
/// error message: user info dropped, every query value and the fragment
/// replaced by `***` (a redirect may carry a token there).
pub(crate) fn location(resp: &reqwest::Response, sent: &Url) -> Option<String> {
    let raw = resp.headers().get(http::header::LOCATION)?.to_str().ok()?;
    sent.join(raw).ok().map(|u| redact(&u))
}

/// A URL with no secrets left in it (see [`location`]).
pub(crate) fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if let Some(q) = u.query() {
        // Names stay (they say which parameter was there); a bare item may
        // itself be the token.
        let q = q
            .split('&')
            .map(|pair| {
                pair.split_once('=')
                    .map_or_else(|| "***".to_owned(), |(k, _)| format!("{k}=***"))
            })
            .collect::<Vec<_>>()
            .join("&");
        u.set_query(Some(&q));
    }
    if u.fragment().is_some() {
        u.set_fragment(Some("***"));
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_keeps_where_and_drops_what() {
        let u = Url::parse("https://user:pw@other.example/cb?access_token=t0&x=1#tok").unwrap();
        assert_eq!(redact(&u), "https://other.example/cb?access_token=***&x=***#***");
        let u = Url::parse("http://h/p?justatoken").unwrap();
        assert_eq!(redact(&u), "http://h/p?***");
        let u = Url::parse("http://h/p").unwrap();
        assert_eq!(redact(&u), "http://h/p");
    }
}
