//! The client and its call: pick a chain, lease its token, send one
//! attempt, read the reply, and replay within the call's budgets.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::attempt::{self, Sender};
use crate::cache::{CachePolicy, CacheStatus, ResponseCache, Stored};
use crate::core::{Expired, Mode};
use crate::error::Error;
use crate::options::{CallOptions, Response};
use crate::reply::{Reader, Reply};
use crate::request::Request;
use crate::retry::RetryPolicy;
use crate::session::{ChainStatus, Sessions};
use crate::stats::{Count, Counters, Stats};
use crate::transport::{self, BodyError, SentTo};

mod builder;
mod call;

pub use builder::{ClientBuilder, MAX_REPLAYS_LIMIT};
pub use call::Call;
use call::Decode;

/// The most stale replays one call makes, on top of `max_replays`: replays
/// after a refusal of a token its chain had already replaced (or was
/// already renewing). Such a refusal says nothing against the new token,
/// so it does not spend `max_replays`; this bound only stops a call from
/// chasing tokens replaced faster than one request completes.
pub const MAX_STALE_REPLAYS: u32 = 8;

/// A typed-API client that keeps its session tokens valid.
///
/// Cheap to clone: clones share the token chains, the store and the
/// connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// Set on a view made by [`Client::with_options`].
    options: Option<Arc<CallOptions>>,
}

struct Inner {
    sender: Arc<Sender>,
    reader: Reader,
    sessions: Arc<Sessions>,
    max_replays: u32,
    retry: RetryPolicy,
    stats: Arc<Counters>,
    cache_limits: crate::cache::Limits,
    /// Made on the first cached call: most clients never pay for one.
    cache: std::sync::OnceLock<ResponseCache>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.sender.base)
            .field("placement", &self.inner.sender.placement)
            .field("mode", &self.inner.sessions.mode())
            .field("chains", &self.inner.sessions.len())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Makes the call and decodes the value (unwrapped from the envelope,
    /// if there is one) as `T`.
    pub async fn call<T: DeserializeOwned>(&self, request: Request) -> Result<T, Error> {
        self.value(request, &Decode::value()).await
    }

    /// Like [`call`](Client::call), with the reply's status and headers
    /// beside the value.
    pub async fn call_with_response<T: DeserializeOwned>(
        &self,
        request: Request,
    ) -> Result<Response<T>, Error> {
        self.response(request, &Decode::value()).await
    }

    async fn value<T>(&self, request: Request, decode: &Decode<T>) -> Result<T, Error> {
        let request = self.with_own_options(request);
        if let Some(policy) = cache_policy(&request) {
            let (stored, _) = self.inner.cached(&request, policy).await?;
            return (decode.shared)(&stored.reply);
        }
        (decode.owned)(self.inner.run(&request, false).await?.reply)
    }

    async fn response<T>(&self, request: Request, decode: &Decode<T>) -> Result<Response<T>, Error> {
        let request = self.with_own_options(request);
        if let Some(policy) = cache_policy(&request) {
            let (stored, cache) = self.inner.cached(&request, policy).await?;
            return Ok(Response {
                value: (decode.shared)(&stored.reply)?,
                status: stored.status(),
                headers: stored.headers.clone(),
                cache,
            });
        }
        let fetched = self.inner.run(&request, true).await?;
        Ok(Response {
            status: fetched.reply.status(),
            value: (decode.owned)(fetched.reply)?,
            headers: fetched.headers.unwrap_or_default(),
            cache: CacheStatus::Uncached,
        })
    }

    /// A view of this client whose calls all carry `options` (a timeout,
    /// headers, a retry policy); it shares everything else with this one.
    #[must_use]
    pub fn with_options(&self, options: CallOptions) -> Client {
        Client {
            inner: Arc::clone(&self.inner),
            options: Some(Arc::new(options)),
        }
    }

    fn with_own_options(&self, request: Request) -> Request {
        match &self.options {
            Some(options) => options.apply(request),
            None => request,
        }
    }

    /// What this client has done so far.
    pub fn stats(&self) -> Stats {
        self.inner.stats.snapshot()
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.inner.sender.base
    }

    /// The state of each chain (index = chain number), for health checks:
    /// whether it has a token, is logging in, or is cooling down after
    /// failed logins, and with which error.
    pub fn chain_status(&self) -> Vec<ChainStatus> {
        self.inner.sessions.status()
    }
}

/// The cache policy of a cacheable, well-formed request (a malformed one
/// fails in `run` without touching the cache).
fn cache_policy(req: &Request) -> Option<CachePolicy> {
    req.cache.filter(|_| req.error.is_none())
}

/// A final reply, its headers when asked for (a copy the plain call does
/// not pay for), and its body's length.
struct Fetched {
    reply: Reply,
    headers: Option<http::HeaderMap>,
    size: usize,
}

impl Inner {
    /// A cached call: from the client's response cache, or fetched by `run`
    /// once for every identical call in flight.
    async fn cached(&self, req: &Request, policy: CachePolicy) -> Result<(Arc<Stored>, CacheStatus), Error> {
        let cache = self.cache.get_or_init(|| ResponseCache::new(self.cache_limits));
        let fetch = async {
            let fetched = self.run(req, true).await?;
            Ok(Stored::new(
                fetched.reply,
                fetched.headers.unwrap_or_default(),
                fetched.size,
            ))
        };
        let (stored, status) = cache.get_or_fetch(req, policy, req.bypass_cache, fetch).await?;
        self.stats.bump(match status {
            CacheStatus::Stale => Count::CacheStale,
            CacheStatus::Miss => Count::CacheMisses,
            _ => Count::CacheHits,
        });
        Ok((stored, status))
    }

    async fn run(&self, req: &Request, keep_headers: bool) -> Result<Fetched, Error> {
        if let Some(e) = &req.error {
            return Err(Error::request(e.clone()));
        }
        // One key per call, the same on every attempt.
        let keyed;
        let req = match &req.idempotency_key {
            Some(name) => {
                let mut with_key = req.clone();
                let key = uuid::Uuid::new_v4().hyphenated().to_string();
                with_key.headers.insert(
                    name.clone(),
                    http::HeaderValue::from_str(&key).expect("a UUID is ASCII"),
                );
                keyed = with_key;
                &keyed
            }
            None => req,
        };
        let idempotent = req.is_idempotent();
        if !req.auth {
            return self.run_public(req, idempotent, keep_headers).await;
        }
        let repeatable = req.is_repeatable();
        let retry = req.retry.as_deref().unwrap_or(&self.retry);
        let mut budget = Budget {
            left: retry.attempts(self.max_replays).saturating_sub(1),
            began: std::time::Instant::now(),
            retries: 0,
        };
        let single_use = self.sessions.mode() == Mode::SingleUse;
        let mut replays = 0;
        let mut stale_replays = 0;
        // A call's replays stay on the chain of its first attempt, to wait
        // for (or start) that chain's one login: another chain's ready token
        // may have died in the same server-wide expiry, and a replay sent
        // there would spend an attempt on it (found by tests/schedules.rs).
        let mut chain = None;
        loop {
            let chain = *chain.get_or_insert_with(|| self.sessions.pick());
            let lease = self.sessions.acquire(chain).await?;
            let generation = lease.generation();
            let request = self.sender.prepare(req, Some(lease.token()))?;
            let sent_to = SentTo::new(&request, self.sender.foreign_http);
            let resp = match self.sender.send(lease, request).await {
                Ok(resp) => resp,
                // Nothing went out (the token was given back); sending it
                // again would fail the same way.
                Err(e) if e.is_builder() => {
                    return Err(Error::request(format!(
                        "cannot send the request: {}",
                        e.without_url()
                    )));
                }
                Err(e) => {
                    let may_have_executed = !transport::never_sent(&e);
                    // No connection: the server may be restarting, so back
                    // off as for a transient reply rather than hammer it.
                    if e.is_connect() && retry.connect_errors {
                        if let Some(wait) = budget.wait(retry, &http::HeaderMap::new()) {
                            self.note_transient(chain, None, wait);
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                        return Err(Error::transport(e, false));
                    }
                    if (repeatable || !may_have_executed) && replays < self.max_replays && budget.spend() {
                        replays += 1;
                        self.note_replay(chain, Count::TransportReplays, "transport error");
                        continue;
                    }
                    return Err(Error::transport(e, may_have_executed && !repeatable));
                }
            };
            let head = self.reader.head(&resp);
            // Single-use: a reply without a successor spent the token; unless
            // it turns out to be an expiry, that is a lost successor, counted
            // however this attempt ends (an error, a replay, a cancellation).
            let mut lost = LostSuccessor(
                (single_use && !head.expired && !self.sender.carries_successor(&resp, &sent_to))
                    .then_some(&*self.stats),
            );
            attempt::refuse_redirect(&resp, &sent_to, repeatable, head.expired)?;
            let headers = retry.retries(head.status).then(|| resp.headers().clone());
            let kept = keep_headers.then(|| self.sender.shown_headers(&resp));
            let bytes = match self.reader.body(resp).await {
                Ok(b) => b,
                // The head alone says "expired", so not executed: a body cut
                // off or too long does not change that.
                Err(_) if head.expired => Bytes::new(),
                Err(BodyError::TooLarge) => return Err(self.reader.too_large(head.status)),
                Err(BodyError::Transport(e)) => {
                    if repeatable && replays < self.max_replays && budget.spend() {
                        replays += 1;
                        self.note_replay(chain, Count::TransportReplays, "response body lost");
                        continue;
                    }
                    return Err(Error::transport(e, !repeatable));
                }
            };
            let (expired, json) = self.reader.judge(&head, &bytes);
            if expired {
                lost.0 = None;
                self.stats.bump(Count::Expiries);
                let stale =
                    !single_use && self.sessions.report_expired(chain, generation).await? == Expired::Stale;
                tracing::debug!(
                    target: "seamless",
                    chain,
                    generation,
                    status = head.status.as_u16(),
                    stale,
                    "token expired"
                );
                // Not evidence against the token the replay will carry, so
                // not paid from `max_replays` (issue 12, item 1).
                if stale && stale_replays < MAX_STALE_REPLAYS {
                    stale_replays += 1;
                    self.note_replay(chain, Count::StaleReplays, "stale expiry");
                    continue;
                }
                if replays >= self.max_replays || !budget.spend() {
                    return Err(Error::expired(replays + stale_replays + 1));
                }
                replays += 1;
                self.note_replay(chain, Count::ExpiryReplays, "expired");
                continue;
            }
            // A transient failure of a request safe to send again: wait as
            // the reply asks (or back off) and retry, within the budget.
            if let Some(headers) = headers
                && repeatable
                && let Some(wait) = budget.wait(retry, &headers)
            {
                self.note_transient(chain, Some(head.status), wait);
                tokio::time::sleep(wait).await;
                continue;
            }
            let size = bytes.len();
            return Ok(Fetched {
                reply: self.reader.open(head.status, bytes, json)?,
                headers: kept,
                size,
            });
        }
    }

    /// Public endpoints are sent once: with no token involved there is
    /// nothing to renew, so the caller owns any retry.
    async fn run_public(
        &self,
        req: &Request,
        idempotent: bool,
        keep_headers: bool,
    ) -> Result<Fetched, Error> {
        let request = self.sender.prepare(req, None)?;
        let sent = SentTo::new(&request, self.sender.foreign_http);
        let resp = match self.sender.http.execute(request).await {
            Ok(resp) => resp,
            Err(e) => {
                let unknown = !transport::never_sent(&e) && !idempotent;
                return Err(Error::transport(e, unknown));
            }
        };
        let status = resp.status();
        attempt::refuse_redirect(&resp, &sent, idempotent, false)?;
        let kept = keep_headers.then(|| resp.headers().clone());
        let bytes = match self.reader.body(resp).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => return Err(self.reader.too_large(status)),
            Err(BodyError::Transport(e)) => return Err(Error::transport(e, !idempotent)),
        };
        let size = bytes.len();
        Ok(Fetched {
            reply: self.reader.open_public(status, bytes)?,
            headers: kept,
            size,
        })
    }

    /// `status`: the reply's, or `None` when no connection was made.
    fn note_transient(&self, chain: usize, status: Option<http::StatusCode>, wait: std::time::Duration) {
        self.stats.bump(Count::TransientRetries);
        self.stats.add_retry_wait(wait);
        tracing::debug!(
            target: "seamless",
            chain,
            status = status.map(|s| s.as_u16()),
            wait_ms = wait.as_millis() as u64,
            "transient failure; retrying"
        );
    }

    fn note_replay(&self, chain: usize, count: Count, reason: &'static str) {
        self.stats.bump(count);
        tracing::debug!(target: "seamless", chain, reason, "replaying request");
    }
}

/// The attempts a call may still make after its first, and its transient
/// retries so far (for the backoff).
struct Budget {
    left: u32,
    began: std::time::Instant,
    retries: u32,
}

impl Budget {
    /// Takes one attempt from the budget, if one is left.
    fn spend(&mut self) -> bool {
        let ok = self.left > 0;
        self.left = self.left.saturating_sub(1);
        ok
    }

    /// The wait before a transient retry, and the attempt it takes; `None`
    /// when the budget, the wait asked for or the call's deadline rules it out.
    fn wait(&mut self, policy: &RetryPolicy, headers: &http::HeaderMap) -> Option<std::time::Duration> {
        if self.left == 0 {
            return None;
        }
        let wait = policy.wait(self.retries + 1, headers, self.began)?;
        self.left -= 1;
        self.retries += 1;
        Some(wait)
    }
}

/// Counts a lost successor when dropped armed (see `Stats::lost_successors`).
struct LostSuccessor<'a>(Option<&'a Counters>);

impl Drop for LostSuccessor<'_> {
    fn drop(&mut self) {
        if let Some(stats) = self.0 {
            stats.bump(Count::LostSuccessors);
        }
    }
}
