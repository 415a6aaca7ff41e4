//! One attempt of a call: the request built from its parts with the token
//! stamped on, sent, and, in single-use mode, the successor token handed
//! to the chain as soon as the reply's headers arrive, even when the
//! caller is dropped mid-flight.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::config::Placement;
use crate::error::{Error, LoginError};
use crate::login::with_joined_url;
use crate::request::Request;
use crate::secret::Secret;
use crate::session::Lease;
use crate::transport::{self, SentTo};

/// How a client's attempts go out.
#[derive(Debug)]
pub(crate) struct Sender {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Arc<str>,
    pub(crate) placement: Placement,
    /// Single-use: the reply header that carries the next token.
    pub(crate) next_token: Option<HeaderName>,
    /// Set on each request only for a user-supplied HTTP client; a client
    /// the runtime builds carries the timeout itself.
    pub(crate) per_request_timeout: Option<Duration>,
    /// A user-supplied HTTP client, which may follow redirects.
    pub(crate) foreign_http: bool,
}

impl Sender {
    /// The request as it goes on the wire; an error here sends nothing.
    /// A reply's headers as a caller may see them: without the single-use
    /// successor, a secret the chain has already taken.
    pub(crate) fn shown_headers(&self, resp: &reqwest::Response) -> http::HeaderMap {
        let mut headers = resp.headers().clone();
        if let Some(name) = &self.next_token {
            headers.remove(name);
        }
        headers
    }

    pub(crate) fn prepare(&self, req: &Request, token: Option<&Secret>) -> Result<reqwest::Request, Error> {
        self.build(req, token)?
            .build()
            .map_err(|e| Error::request(format!("cannot build the request: {}", e.without_url())))
    }

    fn build(&self, req: &Request, token: Option<&Secret>) -> Result<reqwest::RequestBuilder, Error> {
        let mut rb = with_joined_url(&self.base, &req.path, |url| {
            self.http.request(req.method.clone(), url)
        });
        if let Some(t) = req.timeout.or(self.per_request_timeout) {
            rb = rb.timeout(t);
        }
        if !req.query.is_empty() {
            rb = rb.query(&req.query);
        }
        // Headers go through a map only when the request has its own, which
        // the token must replace; otherwise straight onto the request (a map
        // to merge costs two allocations per call).
        let mut own = (!req.headers.is_empty()).then(|| req.headers.clone());
        let mut set = |rb: reqwest::RequestBuilder, name: HeaderName, value: HeaderValue| match own.as_mut() {
            Some(headers) => {
                headers.insert(name, value);
                rb
            }
            None => rb.header(name, value),
        };
        let mut body = None;
        if let Some(token) = token {
            match &self.placement {
                Placement::Header(_) | Placement::Bearer => {
                    // Login and stored tokens are checked when they arrive
                    // (`check_token`) and successors come from reply headers,
                    // so this cannot fail today; an error, not a panic, if it
                    // ever does.
                    let (name, value) = token_header(&self.placement, token)
                        .map_err(Error::request)?
                        .expect("a header placement");
                    rb = set(rb, name, value);
                }
                Placement::Query(name) => rb = rb.query(&[(name.as_str(), token.expose())]),
                Placement::JsonBody(path) => {
                    let mut b = req
                        .body
                        .clone()
                        .unwrap_or_else(|| Value::Object(Default::default()));
                    path.set(&mut b, Value::String(token.expose().to_owned()))
                        .map_err(Error::request)?;
                    body = Some(b);
                }
            }
        }
        if let Some(b) = body.as_ref().or(req.body.as_ref()) {
            let bytes = serde_json::to_vec(b).map_err(|e| Error::request(e.to_string()))?;
            rb = set(rb, CONTENT_TYPE, HeaderValue::from_static("application/json")).body(bytes);
        }
        Ok(match own {
            Some(headers) => rb.headers(headers),
            None => rb,
        })
    }

    /// Sends `request`, which carries `lease`'s token, and settles the
    /// token by the outcome. A single-use exchange must finish even if its
    /// caller is dropped mid-flight, or the successor token, and with it
    /// the chain, is lost (`docs/faults.md`, F3).
    pub(crate) async fn send(
        self: &Arc<Self>,
        mut lease: Lease,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, reqwest::Error> {
        lease.sending();
        let exchange = exchange(Arc::clone(self), lease, request);
        if self.next_token.is_some() {
            Detached(Some(Box::pin(exchange))).await
        } else {
            exchange.await
        }
    }

    /// Whether a reply carries the next single-use token, as `exchange`
    /// reads it.
    pub(crate) fn carries_successor(&self, resp: &reqwest::Response, sent: &SentTo) -> bool {
        self.successor(resp, sent).is_some()
    }

    /// The next single-use token a reply carries. A reply from another URL
    /// (a user-supplied client followed a redirect) carries none of ours.
    fn successor<'r>(&self, resp: &'r reqwest::Response, sent: &SentTo) -> Option<&'r str> {
        let name = self.next_token.as_ref()?;
        if sent.redirected(resp) {
            return None;
        }
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    }
}

type Exchange = Pin<Box<dyn Future<Output = Result<reqwest::Response, reqwest::Error>> + Send>>;

/// Polls an exchange in the caller's task; if the caller is dropped before
/// it completes, the rest of it is spawned, so it still settles its token.
/// (Spawning every exchange up front would cost a task and a cross-thread
/// wake-up per call.)
struct Detached(Option<Exchange>);

impl Future for Detached {
    type Output = Result<reqwest::Response, reqwest::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut().expect("polled after completion");
        let out = std::task::ready!(fut.as_mut().poll(cx));
        self.0 = None;
        Poll::Ready(out)
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        if let Some(rest) = self.0.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(rest);
        }
    }
}

/// Sends one attempt and settles its token as soon as the reply's headers
/// arrive: the successor, if any, goes to the chain before the body is read
/// (the next caller needs only the header).
async fn exchange(
    sender: Arc<Sender>,
    lease: Lease,
    request: reqwest::Request,
) -> Result<reqwest::Response, reqwest::Error> {
    let sent = SentTo::new(&request, sender.foreign_http);
    match sender.http.execute(request).await {
        Ok(resp) => {
            // A reply without a successor of ours spent the token: it was
            // sent at least once.
            lease
                .replied(sender.successor(&resp, &sent).map(Secret::from))
                .await;
            Ok(resp)
        }
        Err(e) => {
            // A request never built or connected never carried the token;
            // anything later may have reached the server, so it is spent.
            if transport::never_sent(&e) {
                lease.never_sent().await;
            } else {
                lease.spent().await;
            }
            Err(e)
        }
    }
}

/// A redirect is an error, never followed (see `transport::harden`),
/// unless an expiry rule names its status. A reply from another URL
/// means a user-supplied client followed one anyway: refused as well,
/// since its body is not this request's answer.
pub(crate) fn refuse_redirect(
    resp: &reqwest::Response,
    sent: &SentTo,
    idempotent: bool,
    head_expired: bool,
) -> Result<(), Error> {
    if sent.redirected(resp) {
        tracing::warn!(
            target: "seamless",
            "the HTTP client followed a redirect; build it with redirect::Policy::none()"
        );
        return Err(Error::redirect(
            None,
            Some(transport::redact(resp.url())),
            !idempotent,
        ));
    }
    let status = resp.status();
    if status.is_redirection() && !head_expired {
        return Err(Error::redirect(Some(status), sent.location(resp), !idempotent));
    }
    Ok(())
}

/// The header a token is sent in, `None` for placements outside headers
/// (a query parameter is percent-encoded and a JSON string escaped, so any
/// token fits there). The error says why, without the token.
fn token_header(
    placement: &Placement,
    token: &Secret,
) -> Result<Option<(HeaderName, HeaderValue)>, &'static str> {
    let (name, value) = match placement {
        Placement::Header(name) => (name.clone(), token.header_value(false)),
        Placement::Bearer => (AUTHORIZATION, token.header_value(true)),
        Placement::Query(_) | Placement::JsonBody(_) => return Ok(None),
    };
    let value = value.ok_or("the token is not a valid HTTP header value")?;
    Ok(Some((name, value)))
}

/// A token that can never be sent must not enter a chain: handed back
/// unsent by every call that draws it, it would wedge the chain (and be
/// stored for the next process) without ever causing a new login.
pub(crate) fn check_token(placement: &Placement, token: &Secret) -> Result<(), LoginError> {
    token_header(placement, token)
        .map(drop)
        .map_err(|why| LoginError::UnusableToken(why.to_owned()))
}
