//! Configuring a client: [`ClientBuilder`], its defaults, and the checks
//! `build` makes before it loads the stored sessions.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{Client, Inner};
use crate::attempt::Sender;
use crate::config::{Envelope, Expiry, Lifetime, Placement};
use crate::core::{Backoff, Chain, Mode};
use crate::error::Error;
use crate::login::{Login, LoginContext};
use crate::reply::Reader;
use crate::session::{LoginSetup, Sessions, StoreClaim, resume};
use crate::stats::Counters;
use crate::store::{MemoryStore, TokenStore};
use crate::transport;

/// The most replays a call may be configured to make.
pub const MAX_REPLAYS_LIMIT: u32 = 8;

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
    #[cfg(feature = "redis")]
    shared: Option<crate::RedisStore>,
    chains: usize,
    exclusive_session: bool,
    max_replays: u32,
    retry: crate::RetryPolicy,
    login_timeout: Duration,
    backoff: Backoff,
    request_timeout: Option<Duration>,
    expiry_skew: Duration,
    http: Option<reqwest::Client>,
    http_builder: Option<reqwest::ClientBuilder>,
    max_response_bytes: u64,
    pool_idle_timeout: Option<Duration>,
    cache_limits: crate::cache::Limits,
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
            #[cfg(feature = "redis")]
            shared: None,
            chains: 1,
            exclusive_session: false,
            max_replays: 1,
            retry: crate::RetryPolicy::default(),
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
            cache_limits: crate::cache::Limits::default(),
        }
    }
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

    /// Shares the session with every process that uses the same Redis
    /// store and prefix: one login per expiry and, for single-use tokens,
    /// one request per chain at a time, fleet-wide. Instead of
    /// [`store`](ClientBuilder::store); see [`RedisStore`](crate::RedisStore).
    #[cfg(feature = "redis")]
    pub fn shared_store(mut self, store: crate::RedisStore) -> Self {
        self.shared = Some(store);
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

    /// How calls retry transient failures (429, 502, 503, 504 by default)
    /// and the attempt budget every resend of a call is paid from; see
    /// [`RetryPolicy`](crate::RetryPolicy). `RetryPolicy::none()` turns
    /// transient retries off.
    pub fn retry(mut self, policy: crate::RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How many times one call may be sent again after an expiry (with a
    /// re-login when needed) or a replay-safe transport error. Default 1,
    /// at most [`MAX_REPLAYS_LIMIT`].
    /// Paid, like every resend, from the retry policy's attempt budget.
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
    /// token must end, or every call of that chain waits for ever. On the HTTP
    /// client the runtime builds, it bounds each HTTP request of a login as
    /// well (the login timeout bounds the whole login).
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

    /// The most the response cache holds (default 1024 entries and 16 MiB
    /// of bodies): least valuable entries are evicted first (moka's
    /// TinyLFU), and a body over `bytes` is never kept.
    pub fn cache_limits(mut self, entries: u64, bytes: u64) -> Self {
        self.cache_limits = crate::cache::Limits { entries, bytes };
        self
    }

    /// Checks the configuration, loads stored sessions and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        self.check()?;
        let (mode, next_token) = match self.lifetime {
            Lifetime::SingleUse { next_token } => (Mode::SingleUse, Some(next_token)),
            Lifetime::Reusable => (Mode::Reusable, None),
        };
        #[cfg(feature = "redis")]
        let shared = match self.shared {
            Some(store) => Some(crate::session::fleet::Fleet::new(
                store,
                crate::session::fleet::FleetSetup {
                    mode,
                    backoff: self.backoff,
                    exclusive: self.exclusive_session,
                    chains: self.chains,
                    request_timeout: self.request_timeout,
                    login_timeout: self.login_timeout,
                },
            )?),
            None => None,
        };
        #[cfg(not(feature = "redis"))]
        let shared: Option<std::convert::Infallible> = None;
        let local = match shared {
            Some(_) => None,
            None => {
                let claim = StoreClaim::new(self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())))?;
                let mut chains = Vec::with_capacity(self.chains);
                for i in 0..self.chains {
                    let mut chain = Chain::new(mode, self.backoff);
                    chain.set_exclusive(self.exclusive_session);
                    resume(&mut chain, &**claim.store(), i, &self.placement, self.expiry_skew)?;
                    chains.push(chain);
                }
                Some((chains, claim))
            }
        };
        let foreign_http = self.http.is_some();
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
        let base: Arc<str> = self.base.trim_end_matches('/').into();
        let stats = Arc::new(Counters::default());
        let login = LoginSetup {
            login: self.login.expect("checked above"),
            cx: LoginContext {
                http: http.clone(),
                base: Arc::clone(&base),
                envelope: self.envelope.clone(),
                chain: 0,
                max_response_bytes: self.max_response_bytes,
            },
            placement: self.placement.clone(),
            timeout: self.login_timeout,
            expiry_skew: self.expiry_skew,
        };
        Ok(Client {
            options: None,
            inner: Arc::new(Inner {
                sender: Arc::new(Sender {
                    http,
                    base,
                    placement: self.placement,
                    next_token,
                    per_request_timeout: self.request_timeout.filter(|_| foreign_http),
                    foreign_http,
                }),
                reader: Reader {
                    expiry: self.expiry,
                    envelope: self.envelope,
                    max_response_bytes: self.max_response_bytes,
                },
                sessions: Arc::new(match (local, shared) {
                    (Some((chains, claim)), _) => {
                        Sessions::new(mode, chains, claim, login, Arc::clone(&stats))
                    }
                    #[cfg(feature = "redis")]
                    (None, Some(fleet)) => Sessions::shared(mode, fleet, login, Arc::clone(&stats)),
                    (None, _) => unreachable!("one of the two is built above"),
                }),
                max_replays: self.max_replays,
                retry: self.retry,
                stats,
                cache_limits: self.cache_limits,
                cache: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Every configuration mistake at once, as one builder error.
    fn check(&self) -> Result<(), Error> {
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
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.shared {
            shared.problems(&mut problems);
            if self.store.is_some() {
                problems.push(
                    "`store` and `shared_store` both set: a client keeps its sessions in one place"
                        .to_owned(),
                );
            }
        }
        if self.cache_limits.entries == 0 || self.cache_limits.bytes == 0 {
            problems.push("`cache_limits` must be above zero".to_owned());
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
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::builder(problems.join("; ")))
        }
    }
}
