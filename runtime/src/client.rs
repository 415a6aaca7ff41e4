//! The client: builds requests from their parts, stamps the token at send
//! time, detects expiry, drives the coordination core and replays.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::config::{Envelope, Expiry, Lifetime, Placement};
use crate::core::{Acquire, Backoff, Chain, Delivery, Expired, Fresh, Grant, Mode, StartLogin, Waiter};
use crate::error::{Error, LoginError};
use crate::login::{Login, LoginContext, Session, join_url};
use crate::request::Request;
use crate::secret::Secret;
use crate::store::{MemoryStore, StoredSession, TokenStore};
use crate::transport::{self, BodyError};

/// The most replays a call may be configured to make.
pub const MAX_REPLAYS_LIMIT: u32 = 8;

/// The most stale replays one call makes, on top of `max_replays`: replays
/// after a refusal of a token its chain had already replaced (or was
/// already renewing). Such a refusal says nothing against the new token,
/// so it does not spend `max_replays`; this bound only stops a call from
/// chasing tokens replaced faster than one request completes.
pub const MAX_STALE_REPLAYS: u32 = 8;

type Failure = Arc<LoginError>;

/// A typed-API client that keeps its session tokens valid.
///
/// Cheap to clone: clones share the token chains, the store and the
/// connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Arc<str>,
    placement: Placement,
    mode: Mode,
    next_token: Option<HeaderName>,
    expiry: Expiry,
    envelope: Option<Envelope>,
    login: Arc<dyn Login>,
    store: Arc<dyn TokenStore>,
    chains: Box<[Mutex<Chain<Parked, Failure>>]>,
    next_chain: AtomicUsize,
    max_replays: u32,
    login_timeout: Duration,
    request_timeout: Option<Duration>,
    expiry_skew: Duration,
    max_response_bytes: u64,
    stats: Counters,
    /// Ends this client's ownership of the store when the last clone and
    /// the last detached exchange are gone.
    _claim: StoreClaim,
}

/// A client's claim on its store ([`TokenStore::claim`]), released on drop,
/// also when `build` fails after claiming.
struct StoreClaim(Arc<dyn TokenStore>);

impl Drop for StoreClaim {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base)
            .field("placement", &self.inner.placement)
            .field("mode", &self.inner.mode)
            .field("chains", &self.inner.chains.len())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What a client has done so far, for dashboards and tests. Each counter
/// counts one thing; `docs/protocol.md` ("Stats") says when each moves.
///
/// A login runs as one task: a refresh grant first when the chain holds a
/// refresh token, and a full login when there is none or it failed. So
/// `refreshes - refresh_refusals` logins were refreshes that worked, and
/// every refused one is followed by a full login in the same task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Full logins run ([`Login::login`]): the first, one after a token was
    /// refused or spent without a successor, and the fallback after a
    /// refused refresh. However many callers wait on one, it counts once.
    pub full_logins: u64,
    /// Refresh grants tried ([`Login::refresh`] with the chain's refresh
    /// token), whatever their outcome.
    pub refreshes: u64,
    /// Refresh grants that failed (refused, unreachable, a 5xx); with
    /// rotating refresh tokens a refusal may mean the server detected reuse
    /// and revoked the session family. A full login follows each.
    pub refresh_refusals: u64,
    /// Login tasks that ended in an error (their refresh and full login both
    /// failed, or the login timed out or died); each starts a cool-down.
    pub login_failures: u64,
    /// Replies recognised as "token expired", stale or not.
    pub expiries: u64,
    /// Requests sent again after an expiry of the chain's current token,
    /// paid from the call's `max_replays`.
    pub expiry_replays: u64,
    /// Requests sent again after an expiry of a token the chain had already
    /// replaced, or was already renewing (or, with an exclusive session,
    /// was logging in again): not paid from `max_replays`, at most
    /// [`MAX_STALE_REPLAYS`] per call.
    pub stale_replays: u64,
    /// Requests sent again after a transport error or a response body lost
    /// after its headers, paid from `max_replays`.
    pub transport_replays: u64,
    /// Single-use tokens spent without their successor for a reason other
    /// than an expiry reply (counted in `expiries`): no reply (a transport
    /// error or timeout after sending, the caller cancelled and then the
    /// request failed), or a reply without the next-token header that is
    /// not an expiry (a proxy's error page, a redirect). The chain then
    /// recovers with a login. A reply that arrives after its caller was
    /// cancelled is not classified, so a missing successor there is not
    /// counted (a transport error there is).
    pub lost_successors: u64,
}

#[derive(Default)]
struct Counters {
    full_logins: AtomicU64,
    refreshes: AtomicU64,
    refresh_refusals: AtomicU64,
    login_failures: AtomicU64,
    expiries: AtomicU64,
    expiry_replays: AtomicU64,
    stale_replays: AtomicU64,
    transport_replays: AtomicU64,
    lost_successors: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The core never panics mid-update, so a poisoned lock holds consistent state.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A successful reply: a JSON value already parsed (to open an envelope or
/// check a body expiry rule), or, when nothing needed it, the body itself,
/// which `call` decodes straight into `T` without a `Value` in between.
enum Reply {
    Value(StatusCode, Value),
    Body(StatusCode, Bytes),
}

/// A caller parked on a chain.
struct Parked(oneshot::Sender<Delivery<Failure>>);

impl Waiter<Failure> for Parked {
    fn deliver(self, value: Delivery<Failure>) -> Result<(), Delivery<Failure>> {
        self.0.send(value)
    }

    fn is_gone(&self) -> bool {
        self.0.is_closed()
    }
}

/// Configures a [`Client`].
#[must_use]
pub struct ClientBuilder {
    base: String,
    placement: Placement,
    lifetime: Lifetime,
    expiry: Expiry,
    envelope: Option<Envelope>,
    login: Option<Arc<dyn Login>>,
    store: Option<Arc<dyn TokenStore>>,
    chains: usize,
    exclusive_session: bool,
    max_replays: u32,
    login_timeout: Duration,
    backoff: Backoff,
    request_timeout: Option<Duration>,
    expiry_skew: Duration,
    http: Option<reqwest::Client>,
    http_builder: Option<reqwest::ClientBuilder>,
    max_response_bytes: u64,
    pool_idle_timeout: Option<Duration>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base", &self.base)
            .field("placement", &self.placement)
            .field("lifetime", &self.lifetime)
            .field("chains", &self.chains)
            .field("exclusive_session", &self.exclusive_session)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring a client for the API at `base_url`.
    ///
    /// Defaults: `Authorization: Bearer`, reusable tokens, HTTP 401 means
    /// expired, no envelope, one chain, one replay, a 30 s login timeout, a
    /// login cool-down of 0.5 s doubling to 30 s, a 30 s request timeout,
    /// 10 s expiry skew, an in-memory store, a 16 MiB response body limit,
    /// and an HTTP client that follows no redirect (see
    /// [`ClientBuilder::http_client`]).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base: base_url.into(),
            placement: Placement::Bearer,
            lifetime: Lifetime::Reusable,
            expiry: Expiry::status([401]),
            envelope: None,
            login: None,
            store: None,
            chains: 1,
            exclusive_session: false,
            max_replays: 1,
            login_timeout: Duration::from_secs(30),
            backoff: Backoff {
                initial: Duration::from_millis(500),
                max: Duration::from_secs(30),
            },
            request_timeout: Some(Duration::from_secs(30)),
            expiry_skew: Duration::from_secs(10),
            http: None,
            http_builder: None,
            max_response_bytes: transport::DEFAULT_MAX_RESPONSE_BYTES,
            pool_idle_timeout: None,
        }
    }

    /// Makes the call and decodes the value (unwrapped from the envelope,
    /// if there is one) as `T`.
    pub async fn call<T: DeserializeOwned>(&self, request: Request) -> Result<T, Error> {
        match self.inner.run(&request).await? {
            Reply::Value(status, value) => {
                serde_json::from_value(value).map_err(|e| Error::decode(status, e))
            }
            Reply::Body(status, bytes) if bytes.is_empty() => {
                serde_json::from_value(Value::Null).map_err(|e| Error::decode(status, e))
            }
            Reply::Body(status, bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| Error::decode(status, e))
            }
        }
    }

    /// What this client has done so far.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.stats;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            full_logins: get(&c.full_logins),
            refreshes: get(&c.refreshes),
            refresh_refusals: get(&c.refresh_refusals),
            login_failures: get(&c.login_failures),
            expiries: get(&c.expiries),
            expiry_replays: get(&c.expiry_replays),
            stale_replays: get(&c.stale_replays),
            transport_replays: get(&c.transport_replays),
            lost_successors: get(&c.lost_successors),
        }
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The state of each chain (index = chain number), for health checks:
    /// whether it has a token, is logging in, or is cooling down after
    /// failed logins, and with which error.
    pub fn chain_status(&self) -> Vec<ChainStatus> {
        let now = Instant::now();
        self.inner
            .chains
            .iter()
            .map(|c| {
                let c = lock(c);
                let s = c.status(now);
                ChainStatus {
                    generation: s.generation,
                    has_token: s.ready,
                    in_flight: s.held,
                    logging_in: s.logging_in,
                    waiters: s.waiters,
                    failed_logins_in_a_row: s.failures,
                    login_blocked_for: s.blocked_for,
                    last_login_error: s.last_error.cloned(),
                }
            })
            .collect()
    }
}

/// One chain's state, from [`Client::chain_status`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChainStatus {
    /// How many tokens this chain has held (logins and rotations).
    pub generation: u64,
    /// A token is ready to send.
    pub has_token: bool,
    /// A single-use token is out with a request whose reply will carry the next.
    pub in_flight: bool,
    /// A login is running.
    pub logging_in: bool,
    /// Callers parked until a token arrives.
    pub waiters: usize,
    /// Logins that failed in a row (0 once one succeeds).
    pub failed_logins_in_a_row: u32,
    /// How long calls keep failing fast with `last_login_error` before the
    /// next login may start; `None` when a call may start one now.
    pub login_blocked_for: Option<Duration>,
    /// The error of the last login, while it is the latest word.
    pub last_login_error: Option<Arc<LoginError>>,
}

impl ClientBuilder {
    /// Where requests carry the token.
    pub fn placement(mut self, placement: Placement) -> Self {
        self.placement = placement;
        self
    }

    /// After a failed login, how long calls on that chain fail fast with
    /// the same error before the next login may start: `initial` after the
    /// first failure, doubling per failure in a row up to `max`, so a down
    /// identity provider sees one login per window, not one per call.
    /// `Duration::ZERO` as `initial` lets every call try again at once.
    pub fn login_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff = Backoff { initial, max };
        self
    }

    /// Single-use or reusable tokens.
    pub fn lifetime(mut self, lifetime: Lifetime) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// How the server says "expired".
    pub fn expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// Unwrap `{code, data, msg}`-style bodies.
    pub fn envelope(mut self, envelope: Envelope) -> Self {
        self.envelope = Some(envelope);
        self
    }

    /// How to obtain a session. Required.
    pub fn login(mut self, login: impl Login) -> Self {
        self.login = Some(Arc::new(login));
        self
    }

    /// Where sessions are kept (default: memory).
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Independent sessions to spread calls over (default 1). Useful with
    /// single-use tokens, where each chain carries one request at a time;
    /// only use more than one when the backend allows several sessions.
    pub fn chains(mut self, n: usize) -> Self {
        self.chains = n;
        self
    }

    /// The server keeps one session per client: each login revokes the
    /// token of every login before it (WeChat-style APIs). Several chains
    /// would then revoke each other's tokens, so `build` refuses `chains`
    /// above 1; and a refusal of the token the chain's own running login is
    /// replacing is replayed as stale. Default `false`.
    pub fn exclusive_session(mut self, exclusive: bool) -> Self {
        self.exclusive_session = exclusive;
        self
    }

    /// How many times one call may be sent again after an expiry (with a
    /// re-login when needed) or a replay-safe transport error. Default 1,
    /// at most [`MAX_REPLAYS_LIMIT`].
    pub fn max_replays(mut self, n: u32) -> Self {
        self.max_replays = n;
        self
    }

    /// How long a login (including its refresh attempt) may take.
    pub fn login_timeout(mut self, d: Duration) -> Self {
        self.login_timeout = d;
        self
    }

    /// How long each request attempt may take; `None` for no limit, which
    /// single-use tokens refuse (`build` fails): the holder of a chain's
    /// token must end, or every call of that chain waits for ever.
    pub fn request_timeout(mut self, d: Option<Duration>) -> Self {
        self.request_timeout = d;
        self
    }

    /// How long before a known expiry a token is renewed instead of sent
    /// (default 10 s). Never more than half the token's lifetime, so a
    /// short-lived token is still used rather than renewed on every call.
    pub fn expiry_skew(mut self, d: Duration) -> Self {
        self.expiry_skew = d;
        self
    }

    /// Use this HTTP client (for TLS, proxies, pool settings) as it is.
    /// Prefer [`ClientBuilder::http_client_builder`], which applies what
    /// follows for you. A client given here must be built with
    ///
    /// - `.retry(reqwest::retry::never())`: seamless owns replays, and a
    ///   lower-layer retry would resend spent single-use tokens;
    /// - `.redirect(reqwest::redirect::Policy::none())`: reqwest follows up
    ///   to 10 redirects by default, resending the token (custom token
    ///   headers even to another host), losing a single-use successor, and
    ///   re-executing or re-POSTing requests and logins. The runtime notices
    ///   a reply that does not come from the URL it sent to and refuses it
    ///   ([`Error::is_redirect`]; the single-use token counts as spent), but
    ///   by then the redirect was followed; and a connect error after a
    ///   followed redirect looks like one before sending;
    /// - `.referer(false)`, so no `Referer` carries a query-placed token;
    /// - a `connect_timeout` below [`ClientBuilder::request_timeout`], so a
    ///   connect that never completes is known to have sent nothing.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Build the HTTP client from this builder (for TLS, proxies, pool
    /// settings), with the settings the runtime relies on applied on top:
    /// no retries, no redirects, no `Referer`, and a connect timeout of
    /// three quarters of the request timeout.
    pub fn http_client_builder(mut self, builder: reqwest::ClientBuilder) -> Self {
        self.http_builder = Some(builder);
        self
    }

    /// The largest response body read, for API calls and logins alike
    /// (default 16 MiB). A longer one ends the call with
    /// [`Error::is_too_large`]: an announced `Content-Length` past it is
    /// refused before reading, an unannounced body is read incrementally and
    /// dropped once it passes the limit, so a hostile or broken server cannot
    /// exhaust memory.
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// How long the default HTTP client keeps an idle pooled connection
    /// (default 30 s). Set it below the server's keep-alive timeout, so the
    /// client closes idle connections before the server can close one under
    /// a new request (`docs/faults.md`, F16). Not for a client given with
    /// [`ClientBuilder::http_client`]; configure that one yourself.
    pub fn pool_idle_timeout(mut self, d: Duration) -> Self {
        self.pool_idle_timeout = Some(d);
        self
    }

    /// Checks the configuration, loads stored sessions and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let mut problems = Vec::new();
        if reqwest::Url::parse(&self.base).is_err() {
            problems.push(format!("base URL `{}` is not an absolute URL", self.base));
        }
        if self.login.is_none() {
            problems.push("no login configured; call `.login(...)`".to_owned());
        }
        if self.chains == 0 {
            problems.push("`chains` must be at least 1".to_owned());
        }
        if self.exclusive_session && self.chains > 1 {
            problems.push(format!(
                "`chains({})` with `exclusive_session(true)`: each login revokes the session \
                 before it, so the chains would revoke each other's tokens; use one chain",
                self.chains
            ));
        }
        if self.max_replays > MAX_REPLAYS_LIMIT {
            problems.push(format!(
                "`max_replays` is {}; at most {MAX_REPLAYS_LIMIT} is allowed",
                self.max_replays
            ));
        }
        if self.login_timeout.is_zero() {
            problems.push("`login_timeout` must be above zero".to_owned());
        }
        if self.backoff.max < self.backoff.initial {
            problems.push("`login_backoff`: `max` must be at least `initial`".to_owned());
        }
        if self.request_timeout.is_none() && matches!(self.lifetime, Lifetime::SingleUse { .. }) {
            // A request that never ends would hold its chain's token forever
            // and park every other call of that chain with it.
            problems.push(
                "`request_timeout(None)` is not allowed with single-use tokens: a stalled \
                 request would hold its chain forever"
                    .to_owned(),
            );
        }
        if self.max_response_bytes == 0 {
            problems.push("`max_response_bytes` must be above zero".to_owned());
        }
        if self.http.is_some() && (self.http_builder.is_some() || self.pool_idle_timeout.is_some()) {
            problems.push(
                "`http_client` takes a finished client: configure it there, not with \
                 `http_client_builder` or `pool_idle_timeout`"
                    .to_owned(),
            );
        }
        if !problems.is_empty() {
            return Err(Error::builder(problems.join("; ")));
        }
        let (mode, next_token) = match self.lifetime {
            Lifetime::SingleUse { next_token } => (Mode::SingleUse, Some(next_token)),
            Lifetime::Reusable => (Mode::Reusable, None),
        };
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        store.claim().map_err(Error::store)?;
        let claim = StoreClaim(Arc::clone(&store));
        let mut chains = Vec::with_capacity(self.chains);
        for i in 0..self.chains {
            let mut chain = Chain::new(mode, self.backoff);
            chain.set_exclusive(self.exclusive_session);
            if let Some(saved) = store.load(i).map_err(Error::store)? {
                let out_of_range = || {
                    Error::store(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("chain {i}: the stored expiry is out of range"),
                    ))
                };
                let (renew_at, valid_until) = match saved.expires_at {
                    Some(at) => (
                        Some(to_instant(at, self.expiry_skew).ok_or_else(out_of_range)?),
                        Some(to_instant(at, Duration::ZERO).ok_or_else(out_of_range)?),
                    ),
                    None => (None, None),
                };
                // An unsendable token (stored by an older version or by
                // hand) is dropped: the chain logs in instead of wedging.
                let token = saved
                    .token
                    .filter(|t| check_token(&self.placement, t).is_ok())
                    .map(|t| (t, renew_at, valid_until));
                chain.resume(token, saved.refresh_token);
            }
            chains.push(Mutex::new(chain));
        }
        let http = match self.http {
            Some(h) => h,
            None => {
                let builder = match (self.http_builder, self.pool_idle_timeout) {
                    (Some(b), None) => b,
                    (b, d) => b
                        .unwrap_or_default()
                        .pool_idle_timeout(d.unwrap_or(transport::DEFAULT_POOL_IDLE)),
                };
                transport::harden(builder, self.request_timeout)
                    .build()
                    .map_err(|e| Error::builder(format!("cannot build the HTTP client: {e}")))?
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base: self.base.trim_end_matches('/').into(),
                placement: self.placement,
                mode,
                next_token,
                expiry: self.expiry,
                envelope: self.envelope,
                login: self.login.expect("checked above"),
                store,
                chains: chains.into_boxed_slice(),
                next_chain: AtomicUsize::new(0),
                max_replays: self.max_replays,
                login_timeout: self.login_timeout,
                request_timeout: self.request_timeout,
                expiry_skew: self.expiry_skew,
                max_response_bytes: self.max_response_bytes,
                stats: Counters::default(),
                _claim: claim,
            }),
        })
    }
}

/// When to renew a token that the server accepts for `lifetime`: `skew`
/// early, but never more than half the lifetime early, so a short-lived
/// token is still used rather than renewed on every call.
///
/// `None` when the instant is beyond what the clock can represent: checked,
/// because lifetimes come from servers, custom logins and stores.
fn renew_at(now: Instant, lifetime: Duration, skew: Duration) -> Option<Instant> {
    now.checked_add(lifetime - skew.min(lifetime / 2))
}

/// A stored expiry as a renewal instant; `None` when it is out of range
/// (a corrupt or hostile store), which the caller reports as a store error.
fn to_instant(at: SystemTime, skew: Duration) -> Option<Instant> {
    let now = Instant::now();
    match at.duration_since(SystemTime::now()) {
        Ok(left) => renew_at(now, left, skew),
        // Already past: any instant not after now reads as expired.
        Err(_) => Some(now),
    }
}

fn to_system(at: Instant) -> Option<SystemTime> {
    SystemTime::now().checked_add(at.saturating_duration_since(Instant::now()))
}

/// The header a token is sent in, `None` for placements outside headers
/// (a query parameter is percent-encoded and a JSON string escaped, so any
/// token fits there). The error says why, without the token.
fn token_header(
    placement: &Placement,
    token: &Secret,
) -> Result<Option<(HeaderName, HeaderValue)>, &'static str> {
    let (name, value) = match placement {
        Placement::Header(name) => (name.clone(), HeaderValue::try_from(token.expose())),
        Placement::Bearer => (
            AUTHORIZATION,
            HeaderValue::try_from(format!("Bearer {}", token.expose())),
        ),
        Placement::Query(_) | Placement::JsonBody(_) => return Ok(None),
    };
    let mut value = value.map_err(|_| "the token is not a valid HTTP header value")?;
    value.set_sensitive(true);
    Ok(Some((name, value)))
}

/// A token that can never be sent must not enter a chain: handed back
/// unsent by every call that draws it, it would wedge the chain (and be
/// stored for the next process) without ever causing a new login.
fn check_token(placement: &Placement, token: &Secret) -> Result<(), LoginError> {
    token_header(placement, token)
        .map(drop)
        .map_err(|why| LoginError::UnusableToken(why.to_owned()))
}

/// A token out for one attempt. Dropping it settles the token: given back
/// if it was never sent, spent if it may have been (single-use).
struct Lease {
    inner: Arc<Inner>,
    chain: usize,
    grant: Grant,
    state: LeaseState,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LeaseState {
    Unsent,
    Sent,
    Done,
}

impl Lease {
    /// Single-use: store the successor (or mark the token spent) and pass
    /// the chain on. A no-op for reusable tokens. `replied`: a reply came,
    /// which `run` classifies (an expiry reply is not a lost successor).
    fn finish(&mut self, next: Option<Secret>, replied: bool) {
        if self.state == LeaseState::Done {
            return;
        }
        let was_sent = self.state == LeaseState::Sent;
        self.state = LeaseState::Done;
        if self.inner.mode != Mode::SingleUse {
            return;
        }
        if !was_sent {
            let grant = self.grant.clone();
            self.inner.with_chain(self.chain, |c| c.give_back(grant));
            return;
        }
        if next.is_none() {
            if !replied {
                bump(&self.inner.stats.lost_successors);
            }
            tracing::info!(
                target: "seamless",
                chain = self.chain,
                generation = self.grant.generation,
                "single-use token spent without a successor; the chain will log in again"
            );
        }
        let generation = self.grant.generation;
        let fresh = next.map(|token| Fresh {
            token,
            expires_at: None,
            valid_until: None,
            refresh: None,
        });
        let start = self
            .inner
            .with_chain(self.chain, |c| c.release(generation, fresh));
        if let Some(start) = start {
            self.inner.spawn_login(self.chain, start);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.finish(None, false);
    }
}

/// A parked caller's receiving end. Dropping it (the caller was cancelled)
/// hands a token that already arrived back to the chain.
struct Parking<'a> {
    inner: &'a Arc<Inner>,
    chain: usize,
    rx: Option<oneshot::Receiver<Delivery<Failure>>>,
}

impl Drop for Parking<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            let arrived = rx.try_recv();
            self.inner.with_chain(self.chain, |c| {
                if let Ok(Ok(grant)) = arrived {
                    c.give_back(grant);
                }
                // Leave the queue too, or cancelled callers pile up behind
                // a slow holder (found with a stalled server).
                c.forget_departed();
            });
        }
    }
}

/// Runs a login to the end and reports it; if the task dies first (a panic
/// in a custom login, runtime shutdown), dropping it still ends the waiters.
struct LoginTask {
    inner: Arc<Inner>,
    chain: usize,
    armed: bool,
}

impl LoginTask {
    async fn run(mut self, start: StartLogin) {
        let inner = Arc::clone(&self.inner);
        let began = Instant::now();
        tracing::info!(
            target: "seamless",
            chain = self.chain,
            after_generation = start.after_generation,
            refresh = start.refresh.is_some(),
            "login started"
        );
        let cx = LoginContext {
            http: inner.http.clone(),
            base: Arc::clone(&inner.base),
            envelope: inner.envelope.clone(),
            chain: self.chain,
            max_response_bytes: inner.max_response_bytes,
        };
        // A refresh token the store could not record as taken may still be
        // there for the next process: presenting it now could make that a
        // reuse (and revoke the family), so a full login is safer.
        let refresh = start
            .refresh
            .filter(|_| inner.with_chain(self.chain, |c| c.save_failure().is_none()));
        let attempt = async {
            if let Some(refresh) = refresh {
                bump(&inner.stats.refreshes);
                match inner.login.refresh(cx.clone(), refresh.clone()).await {
                    // A reply without a new refresh token means the server
                    // keeps the old one (RFC 6749 §6): keep using it. One
                    // that rotated replaces it, so a spent one is never kept.
                    Ok(mut session) => {
                        session.refresh_token.get_or_insert(refresh);
                        return Ok(session);
                    }
                    Err(e) => {
                        // With rotating refresh tokens a refusal can mean the
                        // server saw reuse and revoked the family (RFC 9700
                        // §4.14.2): worth an operator's eye.
                        bump(&inner.stats.refresh_refusals);
                        tracing::warn!(
                            target: "seamless",
                            chain = self.chain,
                            error = %e,
                            security = true,
                            "refresh token refused (expired, or revoked after reuse); falling back to one full login"
                        )
                    }
                }
            }
            bump(&inner.stats.full_logins);
            inner.login.login(cx).await
        };
        let result = match tokio::time::timeout(inner.login_timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(LoginError::Timeout(inner.login_timeout)),
        }
        .and_then(|s| check_token(&inner.placement, &s.token).map(|()| s));
        let elapsed_ms = began.elapsed().as_secs_f64() * 1e3;
        match &result {
            Ok(_) => {
                tracing::info!(target: "seamless", chain = self.chain, elapsed_ms, "login succeeded")
            }
            Err(e) => {
                tracing::warn!(target: "seamless", chain = self.chain, elapsed_ms, error = %e, "login failed")
            }
        }
        self.complete(result);
    }

    fn complete(&mut self, result: Result<Session, LoginError>) {
        self.armed = false;
        if result.is_err() {
            bump(&self.inner.stats.login_failures);
        }
        let now = Instant::now();
        let skew = self.inner.expiry_skew;
        let result = result
            .map(|s| Fresh {
                token: s.token,
                // Beyond the clock's range means no expiry worth tracking.
                expires_at: s.expires_in.and_then(|d| renew_at(now, d, skew)),
                valid_until: s.expires_in.and_then(|d| now.checked_add(d)),
                refresh: s.refresh_token,
            })
            .map_err(Arc::new);
        self.inner.with_chain(self.chain, |c| c.login_done(result, now));
    }
}

impl Drop for LoginTask {
    fn drop(&mut self) {
        if self.armed {
            self.complete(Err(LoginError::Aborted));
        }
    }
}

impl Inner {
    /// Runs `f` on a chain under its lock, then writes whatever the store
    /// must see, still under the lock so saves keep their order.
    fn with_chain<R>(&self, index: usize, f: impl FnOnce(&mut Chain<Parked, Failure>) -> R) -> R {
        let mut chain = lock(&self.chains[index]);
        let r = f(&mut chain);
        let mut result = None;
        for snap in chain.drain_journal() {
            let (token, expires_at) = match snap.token {
                Some((t, at)) => (Some(t), at.and_then(to_system)),
                None => (None, None),
            };
            let saved = StoredSession {
                token,
                expires_at,
                refresh_token: snap.refresh,
            };
            // The last save decides: it holds the state now in force.
            result = Some(self.store.save(index, &saved).map_err(|e| {
                tracing::warn!(target: "seamless", chain = index, error = %e, "token store save failed");
                e.to_string()
            }));
        }
        if let Some(result) = result {
            chain.saved(result);
        }
        r
    }

    /// Single-use: the error to fail a call with instead of sending its
    /// token, when the store could not record that the token is on the wire
    /// (it may still hold it, and a crash would resume it spent). Taking the
    /// lock also waits for the save of a hand-off still in progress.
    fn unsaved(&self, chain: usize) -> Option<Error> {
        let why = self.with_chain(chain, |c| c.save_failure().map(str::to_owned))?;
        Some(Error::store(std::io::Error::other(format!(
            "the token store could not record that the token is in use, so it was not sent: {why}"
        ))))
    }

    fn spawn_login(self: &Arc<Self>, chain: usize, start: StartLogin) {
        let task = LoginTask {
            inner: Arc::clone(self),
            chain,
            armed: true,
        };
        // Its own task: a cancelled caller must not take the login with it.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(task.run(start));
            }
            Err(_) => drop(task),
        }
    }

    /// The chain for the next attempt: an idle one if any, else round robin
    /// among those that would not fail fast in a login cool-down (a cooling
    /// chain has no waiters, so it would otherwise look the least busy and
    /// take calls a healthy chain could serve); a cooling one only when all
    /// are.
    fn pick_chain(&self) -> usize {
        let n = self.chains.len();
        if n == 1 {
            return 0;
        }
        let start = self.next_chain.fetch_add(1, Ordering::Relaxed) % n;
        let now = Instant::now();
        for i in 0..n {
            let index = (start + i) % n;
            if let Ok(chain) = self.chains[index].try_lock()
                && chain.is_idle(now)
            {
                return index;
            }
        }
        (0..n)
            .map(|i| (start + i) % n)
            .min_by_key(|&i| {
                let c = lock(&self.chains[i]);
                (c.fails_fast(now), c.is_logging_in(), c.waiters())
            })
            .unwrap_or(start)
    }

    async fn acquire(self: &Arc<Self>, chain: usize) -> Result<Grant, Error> {
        let mut rx = None;
        let got = self.with_chain(chain, |c| {
            c.acquire(Instant::now(), || {
                let (tx, r) = oneshot::channel();
                rx = Some(r);
                Parked(tx)
            })
        });
        match got {
            Acquire::Granted(grant) => return Ok(grant),
            Acquire::GrantedStartLogin(grant, start) => {
                self.spawn_login(chain, start);
                return Ok(grant);
            }
            Acquire::Parked => {}
            Acquire::ParkedStartLogin(start) => self.spawn_login(chain, start),
            Acquire::CoolingDown(e) => {
                tracing::debug!(target: "seamless", chain, "login cooling down after a failure; failing fast");
                return Err(Error::login(e));
            }
        }
        let mut parking = Parking {
            inner: self,
            chain,
            rx,
        };
        let delivery = match parking.rx.as_mut() {
            Some(rx) => rx.await,
            None => unreachable!("the core parks only through the closure"),
        };
        parking.rx = None;
        match delivery {
            Ok(Ok(grant)) => Ok(grant),
            Ok(Err(e)) => Err(Error::login(e)),
            // The sender went away undelivered: the chain itself is gone.
            Err(_) => Err(Error::login(Arc::new(LoginError::Aborted))),
        }
    }

    fn build(
        &self,
        req: &Request,
        url: &str,
        token: Option<&Secret>,
    ) -> Result<reqwest::RequestBuilder, Error> {
        let mut rb = self.http.request(req.method.clone(), url);
        if let Some(t) = self.request_timeout {
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

    async fn run(self: &Arc<Self>, req: &Request) -> Result<Reply, Error> {
        if let Some(e) = &req.error {
            return Err(Error::request(e.clone()));
        }
        let url = join_url(&self.base, &req.path);
        let idempotent = req.is_idempotent();
        if !req.auth {
            // Public endpoints are sent once: with no token involved there
            // is nothing to renew, so the caller owns any retry.
            let request = self.prepare(req, &url, None)?;
            let sent = request.url().clone();
            let resp = match self.http.execute(request).await {
                Ok(resp) => resp,
                Err(e) => {
                    let unknown = !transport::never_sent(&e) && !idempotent;
                    return Err(Error::transport(e, unknown));
                }
            };
            let status = resp.status();
            self.refuse_redirect(&resp, &sent, idempotent, false)?;
            let bytes = match transport::read_body(resp, self.max_response_bytes).await {
                Ok(b) => b,
                Err(BodyError::TooLarge) => return Err(Error::too_large(status, self.max_response_bytes)),
                Err(BodyError::Transport(e)) => return Err(Error::transport(e, !idempotent)),
            };
            let json = self.envelope.as_ref().and_then(|_| parse(&bytes));
            return self.open(status, bytes, json);
        }
        let mut replays = 0;
        let mut stale_replays = 0;
        // A call's replays stay on the chain of its first attempt, to wait
        // for (or start) that chain's one login: another chain's ready token
        // may have died in the same server-wide expiry, and a replay sent
        // there would spend an attempt on it (found by tests/schedules.rs).
        let mut chain = None;
        loop {
            let chain = *chain.get_or_insert_with(|| self.pick_chain());
            let grant = self.acquire(chain).await?;
            let generation = grant.generation;
            let mut lease = Lease {
                inner: Arc::clone(self),
                chain,
                grant,
                state: LeaseState::Unsent,
            };
            if self.mode == Mode::SingleUse
                && let Some(e) = self.unsaved(chain)
            {
                // Dropped unsent: the token goes back to the chain.
                drop(lease);
                return Err(e);
            }
            let request = self.prepare(req, &url, Some(&lease.grant.token))?;
            let sent_url = request.url().clone();
            lease.state = LeaseState::Sent;
            let http = self.http.clone();
            let sent = match self.mode {
                // A single-use exchange must finish even if its caller is
                // dropped mid-flight, or the successor token, and with it the
                // chain, is lost (`docs/faults.md`, F3).
                Mode::SingleUse => Detached(Some(Box::pin(exchange(lease, http, request)))).await,
                Mode::Reusable => exchange(lease, http, request).await,
            };
            let resp = match sent {
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
                    if (idempotent || !may_have_executed) && replays < self.max_replays {
                        replays += 1;
                        self.note_replay(chain, &self.stats.transport_replays, "transport error");
                        continue;
                    }
                    return Err(Error::transport(e, may_have_executed && !idempotent));
                }
            };
            let status = resp.status();
            let head_expired = self.expiry.matches_head(status, resp.headers());
            // Single-use: a reply without a successor spent the token; unless
            // it turns out to be an expiry, that is a lost successor, counted
            // however this attempt ends (an error, a replay, a cancellation).
            let mut lost = LostSuccessor(
                (self.mode == Mode::SingleUse && !head_expired && !self.carries_successor(&resp, &sent_url))
                    .then_some(&self.stats.lost_successors),
            );
            self.refuse_redirect(&resp, &sent_url, idempotent, head_expired)?;
            // Kept only for a rule that pairs a header with the body.
            let headers = self.expiry.rereads_headers().then(|| resp.headers().clone());
            let bytes = match transport::read_body(resp, self.max_response_bytes).await {
                Ok(b) => b,
                // The head alone says "expired", so not executed: a body cut
                // off or too long does not change that.
                Err(_) if head_expired => Bytes::new(),
                Err(BodyError::TooLarge) => return Err(Error::too_large(status, self.max_response_bytes)),
                Err(BodyError::Transport(e)) => {
                    if idempotent && replays < self.max_replays {
                        replays += 1;
                        self.note_replay(chain, &self.stats.transport_replays, "response body lost");
                        continue;
                    }
                    return Err(Error::transport(e, !idempotent));
                }
            };
            // Parsed only when an expiry rule or the envelope reads it;
            // otherwise the caller's type is decoded straight from the bytes.
            let json = (head_expired || self.expiry.needs_body() || self.envelope.is_some())
                .then(|| parse(&bytes))
                .flatten();
            let expired = head_expired
                || self
                    .expiry
                    .matches_body(status, headers.as_ref(), &bytes, json.as_ref());
            if expired {
                lost.0 = None;
                bump(&self.stats.expiries);
                let stale = self.mode == Mode::Reusable
                    && self.with_chain(chain, |c| c.report_expired(generation)) == Expired::Stale;
                tracing::debug!(
                    target: "seamless",
                    chain,
                    generation,
                    status = status.as_u16(),
                    stale,
                    "token expired"
                );
                // Not evidence against the token the replay will carry, so
                // not paid from `max_replays` (issue 12, item 1).
                if stale && stale_replays < MAX_STALE_REPLAYS {
                    stale_replays += 1;
                    self.note_replay(chain, &self.stats.stale_replays, "stale expiry");
                    continue;
                }
                if replays >= self.max_replays {
                    return Err(Error::expired(replays + stale_replays + 1));
                }
                replays += 1;
                self.note_replay(chain, &self.stats.expiry_replays, "expired");
                continue;
            }
            return self.open(status, bytes, json);
        }
    }

    /// Whether a reply carries the next single-use token, as `exchange`
    /// reads it (a reply from another URL carries none of ours).
    fn carries_successor(&self, resp: &reqwest::Response, sent: &reqwest::Url) -> bool {
        self.next_token.as_ref().is_some_and(|h| {
            !transport::was_redirected(resp, sent)
                && resp
                    .headers()
                    .get(h)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| !v.is_empty())
        })
    }

    /// The request as it goes on the wire; an error here sends nothing.
    fn prepare(&self, req: &Request, url: &str, token: Option<&Secret>) -> Result<reqwest::Request, Error> {
        self.build(req, url, token)?
            .build()
            .map_err(|e| Error::request(format!("cannot build the request: {}", e.without_url())))
    }

    /// A redirect is an error, never followed (see `transport::harden`),
    /// unless an expiry rule names its status. A reply from another URL
    /// means a user-supplied client followed one anyway: refused as well,
    /// since its body is not this request's answer.
    fn refuse_redirect(
        &self,
        resp: &reqwest::Response,
        sent: &reqwest::Url,
        idempotent: bool,
        head_expired: bool,
    ) -> Result<(), Error> {
        if transport::was_redirected(resp, sent) {
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
            return Err(Error::redirect(
                Some(status),
                transport::location(resp, sent),
                !idempotent,
            ));
        }
        Ok(())
    }

    fn note_replay(&self, chain: usize, counter: &AtomicU64, reason: &'static str) {
        bump(counter);
        tracing::debug!(target: "seamless", chain, reason, "replaying request");
    }

    /// Turns a final reply into the value or a typed error.
    fn open(&self, status: StatusCode, bytes: Bytes, json: Option<Value>) -> Result<Reply, Error> {
        let Some(env) = &self.envelope else {
            if !status.is_success() {
                return Err(Error::status_code(status, bytes));
            }
            return Ok(match json {
                Some(v) => Reply::Value(status, v),
                // Nothing read the body: the caller's type decodes it.
                None => Reply::Body(status, bytes),
            });
        };
        let value = match json {
            Some(v) => v,
            None if !status.is_success() => return Err(Error::status_code(status, bytes)),
            None if bytes.is_empty() => Value::Null,
            None => {
                let e = serde_json::from_slice::<Value>(&bytes).expect_err("parse failed before");
                return Err(Error::decode(status, e));
            }
        };
        match env.open(value) {
            Ok(v) if status.is_success() => Ok(Reply::Value(status, v)),
            Ok(_) => Err(Error::status_code(status, bytes)),
            Err((code, message)) => Err(Error::api(status, code, message)),
        }
    }
}

/// Counts a lost successor when dropped armed (see `Stats::lost_successors`).
struct LostSuccessor<'a>(Option<&'a AtomicU64>);

impl Drop for LostSuccessor<'_> {
    fn drop(&mut self) {
        if let Some(counter) = self.0 {
            bump(counter);
        }
    }
}

type Exchange = std::pin::Pin<Box<dyn Future<Output = Result<reqwest::Response, reqwest::Error>> + Send>>;

/// Polls an exchange in the caller's task; if the caller is dropped before
/// it completes, the rest of it is spawned, so it still settles its token.
/// (Spawning every exchange up front would cost a task and a cross-thread
/// wake-up per call.)
struct Detached(Option<Exchange>);

impl Future for Detached {
    type Output = Result<reqwest::Response, reqwest::Error>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let fut = self.0.as_mut().expect("polled after completion");
        let out = std::task::ready!(fut.as_mut().poll(cx));
        self.0 = None;
        std::task::Poll::Ready(out)
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
    mut lease: Lease,
    http: reqwest::Client,
    request: reqwest::Request,
) -> Result<reqwest::Response, reqwest::Error> {
    let sent = request.url().clone();
    match http.execute(request).await {
        Ok(resp) => {
            // A reply from elsewhere (a user-supplied client followed a
            // redirect) carries no successor of ours; the token was sent at
            // least once, so it is spent.
            let own = !transport::was_redirected(&resp, &sent);
            let next = lease.inner.next_token.as_ref().filter(|_| own).and_then(|h| {
                resp.headers()
                    .get(h)
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| !v.is_empty())
                    .map(Secret::from)
            });
            lease.finish(next, true);
            Ok(resp)
        }
        Err(e) => {
            // A request never built or connected never carried the token;
            // anything later may have reached the server, so it is spent.
            if transport::never_sent(&e) {
                lease.state = LeaseState::Unsent;
            }
            drop(lease);
            Err(e)
        }
    }
}

fn parse(bytes: &Bytes) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    serde_json::from_slice(bytes).ok()
}
