//! A loopback HTTP/1.1 backend that speaks seamless's token protocols and counts
//! what it saw, for integration tests of the token-refresh runtime.
//!
//! [`Backend::start`] binds `127.0.0.1:0` and serves one [`Protocol`] per instance.
//! Tests drive a client against [`Backend::url`], then assert on the exact
//! server-side [`Counters`] (how many logins, how many expired replies, whether a
//! token was ever presented twice, how many requests held one chain at once).
//!
//! # The engine
//!
//! Every protocol is data: a [`Rules`] value says where calls carry the token, whether it
//! is single-use, how long it lives, what an expired reply looks like, how values and
//! errors are wrapped, and what the login (and refresh grant) accepts and answers. Every
//! endpoint behind the token layer comes from a [`Routes`] implementation. The three
//! protocols below are presets ([`Protocol::rules`], [`Rules::seed`], [`Rules::bearer`],
//! [`Rules::query`]) served with the testkit's own endpoints, [`Api`]:
//! `Backend::start(p)` is `Backend::serve(p.rules(), Api)`. [`Backend::serve`] and
//! [`Backend::serve_on`] serve any other [`Rules`] and [`Routes`] (`seamless mock` serves a
//! spec's endpoints this way), with the same counters, knobs and admin endpoints.
//!
//! # Admin endpoints
//!
//! Outside the token layer, never counted as API requests, for clients in other
//! processes: [`CODE_PATH`] (`POST`, a one-time login code), [`STATS_PATH`] (`GET`, the
//! counters and a few gauges as one flat JSON object), [`EVENTS_PATH`] (`GET ?after=N`, the
//! event log: the last [`EVENT_CAPACITY`] things the server did, never with a token in
//! them), [`EXPIRE_PATH`] (`POST`, every token expires now) and [`KNOBS_PATH`] (`POST` a
//! JSON object of knobs). A [`Routes::page`] is served at its `GET` path the same way.
//!
//! # Hostile clients
//!
//! The server never panics on what a client sends and stays bounded: request heads over
//! 64 KiB get 431, malformed ones 400 (both counted in [`Counters::malformed_http`]),
//! bodies over [`MAX_BODY_BYTES`] 413, and a request head that takes longer than 10 s to
//! arrive (a slowloris, or a new connection that sends nothing) closes its connection
//! ([`Counters::header_timeouts`], [`Backend::header_read_timeout`]).
//!
//! # Protocols
//!
//! | protocol | login | token on calls | expired reply |
//! |---|---|---|---|
//! | [`Protocol::Seed`] | `POST /v1/api/imiMini/login` `{"code"}` (code from [`Backend::valid_code`]) | header `B-T` (or, without it, JSON body field `token`), single use, next one in the response's `B-T` | HTTP 200 `{"code":408,"msg":"token expired"}` |
//! | [`Protocol::Bearer`] | `POST /oauth/token` (JSON or form; password or rotating refresh grant; creds [`BEARER_USERNAME`]/[`BEARER_PASSWORD`]) | `Authorization: Bearer <t>`, reusable until `ttl` | HTTP 401 `{"error":"invalid_token"}` |
//! | [`Protocol::Query`] | `GET /cgi-bin/token?grant_type=client_credential&appid=`[`QUERY_APPID`]`&secret=`[`QUERY_SECRET`] | `?access_token=<t>`, reusable for 7200 s | HTTP 200 `{"errcode":42001}` (expired) / `{"errcode":40001}` (unknown) |
//!
//! # Endpoints (every protocol, authorized with that protocol's token)
//!
//! - `GET /api/ping` → `{"pong":true}`
//! - `GET /api/users/{id}` → `{"id":<number if it parses, else string>,"name":"user-<id>"}`
//! - `GET /api/whoami` → `{"session":<the server's number for the token's session>}`
//! - `POST /api/echo` → the JSON request body
//! - `POST /api/orders` `{"order_id":"..."}` → `{"order_id":...,"executions":n}`, counted in
//!   [`Counters::executions`]
//! - `GET /api/fail` → the protocol's application error (Seed `code 4001`, Bearer HTTP 422,
//!   Query `errcode 45009`)
//! - `GET /api/forbidden` → a permission error (Seed `code 403`, Bearer HTTP 403
//!   `{"error":"insufficient_scope"}` with `WWW-Authenticate: Bearer realm="testkit",
//!   error="insufficient_scope"`,
//!   Query `errcode 48001`)
//!
//! The values above are wrapped per protocol: Seed `{"code":200,"data":<v>,"msg":"ok"}`, Bearer
//! the bare value, Query `{"errcode":0,"errmsg":"ok", ...fields of v}` (a non-object `v` goes
//! under `"data"`). Any other path under `/api/` passes the same token check (so Seed still
//! consumes and rotates the token) and then answers HTTP 404; a bad body answers HTTP 400 the
//! same way. Paths outside `/api/` that are not this protocol's login answer a plain 404,
//! counted in [`Counters::other_requests`].
//!
//! # Knobs
//!
//! [`Backend::expire_all`], [`Backend::delay_logins`], [`Backend::fail_next_logins`],
//! [`Backend::fail_next_logins_with_status`], [`Backend::fail_next_refreshes`],
//! [`Backend::issue_expired_tokens`], [`Backend::abort_after_consume`],
//! [`Backend::stall_next`], [`Backend::truncate_next`], [`Backend::reply_status_next`],
//! [`Backend::delay_responses`], [`Backend::delay_next_expired_replies`],
//! [`Backend::revoke_family_on_reuse`], [`Backend::keep_refresh_tokens`],
//! [`Backend::revoke_previous_on_refresh`], [`Backend::exclusive_session`],
//! [`Backend::issue_unsendable_tokens`], [`Backend::echo_credentials_in_errors`],
//! [`Backend::keep_alive`], [`Backend::redirect_next`],
//! [`Backend::redirect_next_logins`], [`Backend::oversize_next`],
//! [`Backend::oversize_next_logins`],
//! [`Backend::truncate_next_expired_replies`], [`Backend::expire_every_requests`] and
//! [`Backend::expire_every`] inject the faults listed in `docs/faults.md`.
//! [`Elsewhere`] is a second listener ("another host") that records what reached it,
//! [`unreachable_url`] an address nothing listens on, and [`Blackhole`] one whose connects
//! never complete.
//! [`Backend::forbid_expired`] and [`Backend::require_client_auth`] make the Bearer server
//! behave like common OAuth2 servers.
//!
//! The per-request faults (`reply_status_next`, `abort_after_consume`, `stall_next`,
//! `truncate_next`, `redirect_next`, `oversize_next`) each pick the next authorized requests whose token was accepted: one
//! fault per request, taken in that order, so arming two knobs at once faults two requests.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() {
//! use seamless_sdk_testkit::{Backend, Protocol};
//! let backend = Backend::start(Protocol::Seed).await;
//! let code = backend.valid_code();
//! // ... log in at format!("{}/v1/api/imiMini/login", backend.url()) with `code` ...
//! assert_eq!(backend.counters().token_reuse, 0);
//! # }
//! ```

#![warn(missing_docs)]

mod admin;
mod api;
mod elsewhere;
mod events;
mod idle;
mod login;
mod presets;
mod render;
mod routes;
mod rules;
mod server;
mod state;
mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::state::Shared;

pub use crate::admin::{CODE_PATH, EVENTS_PATH, EXPIRE_PATH, KNOBS_PATH, STATS_PATH};
pub use crate::api::Api;
pub use crate::elsewhere::{Blackhole, Elsewhere, Seen, unreachable_url};
pub use crate::events::EVENT_CAPACITY;
pub use crate::routes::{Access, Call, Outcome, Routes};
pub use crate::rules::{
    Accept, ClientAuth as ClientAuthRule, ClientAuthKind, Echo, Encoding, Envelope, ErrorStyle, Issued,
    Login, LoginField, Placement, Refresh, Reply, Rules,
};

/// The HTTP status type the status knobs take (the `http` crate's, version 1).
pub use http::StatusCode;

/// Username the [`Protocol::Bearer`] password grant accepts.
pub const BEARER_USERNAME: &str = "u";
/// Password the [`Protocol::Bearer`] password grant accepts.
pub const BEARER_PASSWORD: &str = "p";
/// `appid` the [`Protocol::Query`] login accepts.
pub const QUERY_APPID: &str = "A";
/// `secret` the [`Protocol::Query`] login accepts.
pub const QUERY_SECRET: &str = "S";
/// Lifetime of a [`Protocol::Query`] access token, as reported in `expires_in` and enforced.
pub const QUERY_TTL: Duration = Duration::from_secs(7200);
/// `client_id` the [`Protocol::Bearer`] token endpoint accepts under [`Backend::require_client_auth`].
pub const BEARER_CLIENT_ID: &str = "c";
/// `client_secret` the [`Protocol::Bearer`] token endpoint accepts under [`Backend::require_client_auth`].
pub const BEARER_CLIENT_SECRET: &str = "cs:1";
/// Largest request body the server reads; larger bodies get HTTP 413 (no token is consumed).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The token protocol a [`Backend`] instance speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Seed: login `POST /v1/api/imiMini/login` JSON `{"code": "<one-time code>"}`; token returned in response header `B-T`
    /// AND in body `{"code":200,"data":{"token":"..."},"msg":"ok"}`. Every API call sends header `B-T: <token>`.
    /// Tokens are single-use: consumed on arrival; a successful (or app-error) response carries the NEXT token in header `B-T`.
    /// Expired/unknown/spent token => HTTP 200 body `{"code":408,"msg":"token expired"}` with NO `B-T` header, request not executed.
    ///
    /// Login failures: a forced failure ([`Backend::fail_next_logins`]) is HTTP 200
    /// `{"code":500,"msg":"login failed"}`; an unknown or reused code is HTTP 200
    /// `{"code":40029,"msg":"invalid code"}`; a malformed body is HTTP 400 `{"code":400,...}`.
    Seed,
    /// Reusable bearer: login `POST /oauth/token` JSON. `{"grant_type":"password","username":"u","password":"p"}` or
    /// `{"grant_type":"refresh_token","refresh_token":"..."}` → `{"access_token","token_type":"Bearer","expires_in":<ttl secs>,"refresh_token"}`.
    /// Calls send `Authorization: Bearer <t>`. Expired/unknown => HTTP 401 `{"error":"invalid_token"}`. No envelope: body is the value.
    /// Refresh tokens rotate: each use spends it and returns a new one; a spent refresh token presented again counts as reuse and gets 400 `{"error":"invalid_grant"}`.
    /// Bad grant / bad creds => 400 `{"error":"invalid_grant"}`.
    ///
    /// The token endpoint also accepts `application/x-www-form-urlencoded` bodies (as OAuth
    /// clients send them). `expires_in` is `ttl` rounded up to whole seconds; the server
    /// enforces the exact `ttl`. A refresh keeps the session (chain) of the login it came from;
    /// access tokens issued earlier stay valid until they expire (unless
    /// [`Backend::revoke_previous_on_refresh`]).
    Bearer {
        /// How long an access token stays valid after it is issued.
        ttl: Duration,
    },
    /// WeChat-style query token: login `GET /cgi-bin/token?grant_type=client_credential&appid=A&secret=S` →
    /// `{"access_token":"...","expires_in":7200}` (errors: `{"errcode":40013,"errmsg":"invalid appid"}`).
    /// Calls send `?access_token=<t>`. Reusable. Expired => HTTP 200 `{"errcode":42001,"errmsg":"access_token expired"}`,
    /// unknown token => `{"errcode":40001,"errmsg":"invalid credential"}`. Success bodies are `{"errcode":0,"errmsg":"ok", ...fields at top level}`.
    ///
    /// Other login errors: wrong `grant_type` → `{"errcode":40002}`, wrong secret →
    /// `{"errcode":40125}`. A missing `access_token` on a call counts as unknown (40001).
    Query,
}

/// How the [`Protocol::Bearer`] token endpoint wants the client to authenticate
/// (RFC 6749 §2.3.1), on logins and refresh grants alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `Authorization: Basic base64(client_id:client_secret)`, both form-encoded first.
    Basic,
    /// Body fields `client_id` and `client_secret`.
    Body,
}

/// A snapshot of what the server saw, from [`Backend::counters`] (and, as JSON, from
/// [`STATS_PATH`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Login requests received (success + failure), NOT counting refresh grants.
    pub logins: u64,
    /// Logins that issued a token.
    pub logins_ok: u64,
    /// Logins that failed (forced, bad code/credentials, malformed body).
    pub logins_failed: u64,
    /// Login requests that carried this protocol's API token (Seed `B-T` header, Bearer
    /// `Authorization`, Query `access_token`): a login sent through an auth layer that
    /// stamps tokens, which it must bypass. Counted within `logins`.
    pub logins_with_token: u64,
    /// `refresh_token` grants received ([`Protocol::Bearer`]), whatever the outcome.
    pub refreshes: u64,
    /// Authorized-API requests received (paths under `/api/`, not logins), whatever the outcome.
    pub requests: u64,
    /// Expired-token replies sent: Seed 408, Bearer 401, Query 42001 / 40001.
    pub expired_replies: u64,
    /// A token (access or refresh) presented again after it was spent (single-use consumed,
    /// or refresh token already used). An access token that merely expired by time or
    /// [`Backend::expire_all`] is NOT reuse.
    pub token_reuse: u64,
    /// Max, over all sessions, of requests simultaneously holding a token of that session
    /// (from consuming the token to finishing the response). In Seed mode the server itself
    /// cannot let this exceed 1 (one live token per chain); in the reusable protocols it shows
    /// how many calls shared one token at once.
    pub max_concurrent_holders: u64,
    /// Max number of authorized requests holding a token at once over ALL sessions together
    /// (from consuming the token to finishing the response): how many requests the client
    /// really had in flight. With single-use tokens it cannot exceed the number of sessions.
    pub max_concurrent_requests: u64,
    /// Connections the server closed because they were idle longer than
    /// [`Backend::keep_alive`].
    pub idle_closes: u64,
    /// Token-endpoint requests (logins and refresh grants) refused with 401
    /// `{"error":"invalid_client"}` under [`Backend::require_client_auth`]: client
    /// credentials missing, wrong, or sent the other way. Counted within `logins` or
    /// `refreshes` too.
    pub client_auth_refusals: u64,
    /// Executions of `POST /api/orders`, keyed by the body field `order_id`.
    pub executions: BTreeMap<String, u64>,
    /// Executions of `POST /api/orders` per `Idempotency-Key` header value: a request whose
    /// key was seen before is not executed but answered with the first execution's result.
    pub executions_by_key: BTreeMap<String, u64>,
    /// `POST /api/orders` requests answered from an earlier execution with the same key.
    pub idempotent_replays: u64,
    /// Requests outside `/api/` that are not this protocol's login (they answer 404), so a
    /// test can see that a public call reached the server.
    pub other_requests: u64,
    /// Of [`Counters::other_requests`], those that carried this protocol's API token.
    pub other_requests_with_token: u64,
    /// Executions of one fingerprint (`order_id`, or what [`Call::execute`] was given)
    /// beyond its first, summed over fingerprints: a non-idempotent call that ran twice.
    pub duplicate_executions: u64,
    /// Of [`Counters::token_reuse`], the spent refresh tokens presented again.
    pub refresh_token_reuse: u64,
    /// Successful logins while some session still had a usable, unexpired access token:
    /// what a client that logs in once per failure instead of once per expiry causes. (A
    /// client that keeps a pool of sessions on purpose counts one per session beyond the
    /// first too.)
    pub extra_logins: u64,
    /// Requests to endpoints that need no token ([`Access::Public`]).
    pub public_requests: u64,
    /// Times every token was expired at once by a fault: [`Backend::expire_all`],
    /// [`EXPIRE_PATH`], [`Backend::expire_every_requests`], [`Backend::expire_every`].
    pub expirations: u64,
    /// Connections whose request HTTP could not parse (malformed, or headers larger than
    /// 64 KiB); the server answered 400 or 431 and closed them.
    pub malformed_http: u64,
    /// Connections closed because their request headers did not arrive in time (10 s, or
    /// [`Backend::header_read_timeout`]): a slowloris.
    pub header_timeouts: u64,
}

/// A running test server. Dropping it stops the accept loop and closes every open connection.
pub struct Backend {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: JoinHandle<()>,
    protocol: Option<Protocol>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("login", &self.shared.rules.login.path)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// Serves `protocol` (its [`Protocol::rules`]) with the testkit's [`Api`] on
    /// `127.0.0.1:0`, on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound (test setup cannot go on without one), or if called
    /// outside a tokio runtime.
    pub async fn start(protocol: Protocol) -> Backend {
        let mut backend = Backend::serve(protocol.rules(), Api).await;
        backend.protocol = Some(protocol);
        backend
    }

    /// Serves any protocol and any endpoints on `127.0.0.1:0`, on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound, or if called outside a tokio runtime.
    pub async fn serve(rules: Rules, routes: impl Routes) -> Backend {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("seamless-sdk-testkit: bind 127.0.0.1:0");
        Backend::serve_on(listener, rules, routes).await
    }

    /// Serves any protocol and any endpoints on a listener the caller bound (a chosen port).
    ///
    /// # Panics
    ///
    /// If the listener has no local address, or if called outside a tokio runtime.
    pub async fn serve_on(listener: TcpListener, rules: Rules, routes: impl Routes) -> Backend {
        let addr = listener
            .local_addr()
            .expect("seamless-sdk-testkit: local_addr of a bound listener");
        let shared = Arc::new(Shared::new(rules, Box::new(routes)));
        let task = tokio::spawn(server::accept_loop(listener, shared.clone()));
        Backend {
            shared,
            addr,
            task,
            protocol: None,
        }
    }

    /// The rules this backend was started with. Knobs that change a rule
    /// ([`Backend::exclusive_session`], [`Backend::revoke_family_on_reuse`],
    /// [`Backend::require_client_auth`], [`Backend::keep_refresh_tokens`]) do not show here.
    pub fn rules(&self) -> &Rules {
        &self.shared.rules
    }

    /// The base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The protocol this instance speaks, if it was started with [`Backend::start`]
    /// (`None` for [`Backend::serve`] and [`Backend::serve_on`]; see [`Backend::rules`]).
    pub fn protocol(&self) -> Option<Protocol> {
        self.protocol
    }

    /// A consistent snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.shared.lock().counters.clone()
    }

    /// Zeroes every counter; tokens, sessions, codes and knobs are kept.
    pub fn reset_counters(&self) {
        self.shared.lock().counters = Counters::default();
    }

    /// TCP connections accepted so far (not reset by [`Backend::reset_counters`]); shows
    /// whether a client reused a keep-alive connection or opened a new one.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Requests holding a token right now, over all sessions (0 when nothing is in flight).
    pub fn current_holders(&self) -> u64 {
        self.shared.lock().current_holders()
    }

    /// Every live access token becomes expired now. Seed: the current token of every session,
    /// and, for a session whose token is held by a request in flight, the successor that
    /// request carries back (the whole session expired, not just an idle token). Refresh
    /// tokens are unaffected. Tokens issued by later logins are live.
    pub fn expire_all(&self) {
        self.shared.lock().expire_everything("expire_all".to_owned());
    }

    /// From now on, every `n`th token-checked request finds every token expired, its own
    /// included: all tokens expire just before it is checked, as [`Backend::expire_all`]
    /// does (counted in [`Counters::expirations`]). `0` turns it off; setting it starts the
    /// count over.
    pub fn expire_every_requests(&self, n: u64) {
        let mut st = self.shared.lock();
        st.knobs.expire_every_requests = n;
        st.knobs.checked = 0;
    }

    /// From now on, a timer expires every token every `d`, as [`Backend::expire_all`] does
    /// (counted in [`Counters::expirations`]). `Duration::ZERO` stops it; so does dropping
    /// the backend. Setting it again replaces the timer.
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime with a non-zero `d`.
    pub fn expire_every(&self, d: Duration) {
        self.shared.expire_every(d);
    }

    /// How long a connection accepted from now on may take to send a request's headers
    /// before the server closes it (counted in [`Counters::header_timeouts`]); 10 s unless
    /// changed. `Duration::ZERO` restores 10 s.
    pub fn header_read_timeout(&self, d: Duration) {
        self.shared.lock().knobs.header_read_timeout = if d.is_zero() {
            state::HEADER_READ_TIMEOUT
        } else {
            d
        };
    }

    /// Every login (and Bearer refresh grant) waits `d` before answering; `Duration::ZERO`
    /// clears it. The request is counted before the wait.
    pub fn delay_logins(&self, d: Duration) {
        self.shared.lock().knobs.delay_logins = d;
    }

    /// The next `n` logins fail (Seed: HTTP 200 `{"code":500,"msg":"login failed"}`; Bearer:
    /// 400 `invalid_grant`; Query: `errcode` 40013) and count as `logins_failed`. Bearer
    /// refresh grants are not logins; see [`Backend::fail_next_refreshes`].
    pub fn fail_next_logins(&self, n: u32) {
        self.shared.lock().knobs.fail_next_logins = n;
    }

    /// Protocols with a refresh grant (Bearer): the next `n` refresh grants fail with HTTP 503
    /// `{"error":"temporarily_unavailable"}` ([`Refresh::unavailable`]: a server-side
    /// outage), counted in `refreshes`.
    /// The presented refresh token is not spent, so it may be retried.
    pub fn fail_next_refreshes(&self, n: u32) {
        self.shared.lock().knobs.fail_next_refreshes = n;
    }

    /// The next `n` successful logins (and Bearer refresh grants) issue an access token that is
    /// already expired; the response looks normal.
    pub fn issue_expired_tokens(&self, n: u32) {
        self.shared.lock().knobs.issue_expired = n;
    }

    /// The next `n` authorized API requests consume the token, execute (and count) the request,
    /// then close the connection without any response. Seed mints no next token for them, so
    /// their chain is dead.
    pub fn abort_after_consume(&self, n: u32) {
        self.shared.lock().knobs.abort_after_consume = n;
    }

    /// The next `n` authorized API requests consume the token, execute (and count) the request,
    /// then never answer: the connection stays open, silent, until the client gives up and
    /// closes it (a request timeout). Seed mints no next token for them, so their chain is
    /// dead. The request stops counting as a holder once it has executed.
    pub fn stall_next(&self, n: u32) {
        self.shared.lock().knobs.stall_next = n;
    }

    /// The next `n` authorized API requests consume the token, execute (and count) the request,
    /// then send the complete response headers (Seed: including the next token in `B-T`, which
    /// is live) with a `Content-Length` larger than the body, send half of the body and close
    /// the connection: an incomplete message after the headers arrived.
    pub fn truncate_next(&self, n: u32) {
        self.shared.lock().knobs.truncate_next = n;
    }

    /// The next `n` authorized API requests consume the token and are answered with the real
    /// HTTP `status` (for example 408 or 503) and a small `text/html` body, the way a proxy or
    /// gateway in front of the API answers: not executed, and no next token (Seed: the chain
    /// is dead). Not an expired-token reply, and not counted in `expired_replies`.
    pub fn reply_status_next(&self, n: u32, status: StatusCode) {
        self.shared.lock().knobs.reply_status_next = (n, status);
    }

    /// The next `n` authorized API requests are answered by the API itself with `status`
    /// (429, 503, …), an error body in the protocol's shape and `headers` (for example
    /// `("Retry-After", "2")` or `("retry-after-ms", "150")`): not executed, and the token
    /// layer did its part (Seed: the reply carries the live next token). A transient
    /// failure a client may retry, unlike [`Backend::reply_status_next`]'s proxy page.
    pub fn fail_next(&self, n: u32, status: StatusCode, headers: &[(&str, &str)]) {
        let headers = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.shared.lock().knobs.fail_next = (n, status, headers);
    }

    /// The next `n` logins are answered with HTTP `status` (for example 503) and count as
    /// `logins_failed`. Bodies: Seed `{"code":<status>,"msg":"login unavailable"}`, Bearer
    /// `{"error":"temporarily_unavailable"}`, Query `{"errcode":-1,"errmsg":"system busy"}`.
    /// Checked before [`Backend::fail_next_logins`]; Bearer refresh grants are not logins.
    pub fn fail_next_logins_with_status(&self, n: u32, status: StatusCode) {
        self.shared.lock().knobs.fail_logins_status = (n, status);
    }

    /// The server closes any connection that has been idle (no request being served, no bytes
    /// moving) for longer than `d`, like a server's keep-alive timeout; each close counts in
    /// [`Counters::idle_closes`]. `Duration::ZERO` (the default) keeps idle connections open.
    pub fn keep_alive(&self, d: Duration) {
        self.shared.lock().knobs.keep_alive = (!d.is_zero()).then_some(d);
    }

    /// The next `n` expired-token replies wait `d` before they are sent: a stale expiry
    /// signal that arrives after the client has already replaced the token (`docs/faults.md`, F5).
    pub fn delay_next_expired_replies(&self, n: u32, d: Duration) {
        self.shared.lock().knobs.delay_expired = (n, d);
    }

    /// Every authorized API response waits `d` after consuming the token and before executing
    /// and answering; `Duration::ZERO` clears it.
    pub fn delay_responses(&self, d: Duration) {
        self.shared.lock().knobs.delay_responses = d;
    }

    /// The next `n` authorized API requests consume the token, execute (and count) the
    /// request, then answer HTTP `status` (any 3xx) with `Location: location` and otherwise the
    /// normal reply: its body and (Seed) the next token, which is live. `location` may be a
    /// path on this backend (`/api/ping`), an [`Elsewhere`] URL (another host), or
    /// [`unreachable_url`]. Taken after the other per-request faults.
    pub fn redirect_next(&self, n: u32, status: StatusCode, location: impl Into<String>) {
        self.shared.lock().knobs.redirect_next = (n, status, location.into());
    }

    /// The next `n` logins and Bearer refresh grants are answered HTTP `status` (any 3xx) with
    /// `Location: location`. A login issues nothing and counts as failed; a refresh grant is
    /// processed first (its refresh token is spent, the tokens it minted are never sent), as
    /// a server that redirects after acting would.
    pub fn redirect_next_logins(&self, n: u32, status: StatusCode, location: impl Into<String>) {
        self.shared.lock().knobs.redirect_logins = (n, status, location.into());
    }

    /// The next `n` authorized API requests consume the token, execute (and count) the
    /// request, then answer success (Seed: with the next token, which is live) with a JSON body
    /// `{"pad":"xx…"}` of exactly `bytes` bytes, generated as it is sent (so any size costs the
    /// server no memory). `announce`: with a `Content-Length`; otherwise chunked, so the size
    /// is known only by reading. Taken after the other per-request faults.
    pub fn oversize_next(&self, n: u32, bytes: u64, announce: bool) {
        self.shared.lock().knobs.oversize_next = (n, bytes, announce);
    }

    /// The next `n` login and refresh-grant replies keep their status and headers (a Seed
    /// login's `B-T` token too) but get the body [`Backend::oversize_next`] describes.
    pub fn oversize_next_logins(&self, n: u32, bytes: u64, announce: bool) {
        self.shared.lock().knobs.oversize_logins = (n, bytes, announce);
    }

    /// The next `n` expired-token replies send their headers and half of their body, then
    /// close the connection (an expiry whose body cannot be read).
    pub fn truncate_next_expired_replies(&self, n: u32) {
        self.shared.lock().knobs.truncate_expired = n;
    }

    /// When on, presenting a spent token (a consumed Seed token or a used Bearer refresh token)
    /// also revokes that token's whole session (family): its live access and refresh tokens
    /// stop working and Seed mints no live next token for requests still in flight. Off by
    /// default. Reuse is counted either way.
    pub fn revoke_family_on_reuse(&self, on: bool) {
        self.shared.lock().knobs.revoke_on_reuse = on;
    }

    /// Protocols with a refresh grant (Bearer): when on, a successful refresh grant expires every access token its session
    /// issued before (as a production OAuth2 server deletes the old access token the moment a
    /// refresh succeeds), so requests still in flight with it get the expired reply. Off by
    /// default (earlier access tokens live until their `ttl`).
    pub fn revoke_previous_on_refresh(&self, on: bool) {
        self.shared.lock().knobs.revoke_on_refresh = on;
    }

    /// When on, the API keeps one session per client, as WeChat-style APIs do: every successful
    /// login expires every access token issued before it, in every session, as
    /// [`Backend::expire_all`] does (Seed: a successor still in flight is born expired). Refresh
    /// grants are not logins. Off by default (sessions are independent).
    pub fn exclusive_session(&self, on: bool) {
        self.shared.lock().knobs.exclusive_session = on;
    }

    /// Protocols whose [`Rules::forbid_expired`] is set (Bearer): an expired, unknown or spent
    /// access token is answered HTTP 403 with an empty body and `WWW-Authenticate: Bearer realm="testkit", error="invalid_token",
    /// error_description=…` (more than the error alone), as a production OAuth2 server does,
    /// instead of 401 with a JSON body. `GET /api/forbidden` (a permission error)
    /// is a 403 too, but with a body, so only a rule that needs both tells them apart.
    pub fn forbid_expired(&self, on: bool) {
        self.shared.lock().knobs.forbid_expired = on;
    }

    /// The token endpoint (logins and refresh grants; meant for Bearer) requires client
    /// authentication with [`BEARER_CLIENT_ID`] and [`BEARER_CLIENT_SECRET`], sent `how`;
    /// anything else is refused with 401 `{"error":"invalid_client"}` and counted in
    /// [`Counters::client_auth_refusals`]. `None` (the default) requires nothing.
    pub fn require_client_auth(&self, how: Option<ClientAuth>) {
        let rule = how.map(|how| ClientAuthRule {
            how: match how {
                ClientAuth::Basic => ClientAuthKind::Basic,
                ClientAuth::Body => ClientAuthKind::Body,
            },
            client_id: BEARER_CLIENT_ID.to_owned(),
            client_secret: BEARER_CLIENT_SECRET.to_owned(),
            refused: Reply::json(401, serde_json::json!({"error": "invalid_client"})),
        });
        self.shared.lock().knobs.client_auth = rule;
    }

    /// Protocols with a refresh grant (Bearer): when on, a refresh grant does not rotate: it leaves the presented refresh
    /// token live (usable again) and its reply carries no `refresh_token`, as RFC 6749 §6
    /// allows. Off by default (refresh tokens rotate).
    pub fn keep_refresh_tokens(&self, on: bool) {
        self.shared.lock().knobs.keep_refresh = on;
    }

    /// Protocols whose tokens travel in no header (Bearer and Query): the next `n` successful logins (and Bearer refresh grants) issue
    /// an access token with a line break in it, which no HTTP header can carry (the JSON body
    /// of the login reply can). The server accepts it wherever it arrives intact (a query).
    pub fn issue_unsendable_tokens(&self, n: u32) {
        self.shared.lock().knobs.issue_unsendable = n;
    }

    /// When on, failed logins repeat what the client presented, as careless servers do
    /// ([`Login::echo`]): Bearer token-endpoint errors carry every presented value (password,
    /// refresh token) in `error_description`; Seed login errors name the code in `msg`
    /// (`login failed for code …`). Query's login echoes nothing.
    pub fn echo_credentials_in_errors(&self, on: bool) {
        self.shared.lock().knobs.echo_credentials = on;
    }

    /// Mints a fresh one-time login code the Seed login accepts once (a reused or unknown code
    /// fails, counted in `logins_failed`). Harmless in the other protocols.
    pub fn valid_code(&self) -> String {
        self.shared.mint_code()
    }

    /// A cloneable `'static` closure that mints valid login codes, for a client's code
    /// provider; it shares the server state and does not borrow the `Backend`. Codes minted
    /// after the `Backend` is dropped are never accepted (the server is gone).
    pub fn seed_code_provider(&self) -> impl Fn() -> String + Send + Sync + Clone + 'static {
        let shared = self.shared.clone();
        move || shared.mint_code()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        // The accept task owns the per-connection tasks (a JoinSet), so aborting it also
        // closes keep-alive connections instead of leaving them serving.
        self.task.abort();
        self.shared.stop_timer();
    }
}
