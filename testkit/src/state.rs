//! Token bookkeeping. Everything a counter depends on changes under one mutex, so a
//! snapshot never sees half of an update and concurrent requests cannot race a token.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::task::JoinHandle;

use crate::Counters;
use crate::events::{Events, Fields};
use crate::routes::{Execute, Routes};
use crate::rules::{ClientAuth, Rules};

/// How long a connection may take to send a request's headers, unless a test shortens it.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// State shared by the `Backend` handle, the accept loop and every connection.
pub(crate) struct Shared {
    pub(crate) rules: Rules,
    pub(crate) routes: Box<dyn Routes>,
    pub(crate) connections: AtomicU64,
    /// When the server started; event times and `uptime_ms` count from here.
    pub(crate) started: Instant,
    state: Mutex<State>,
    /// Keys the hash that makes tokens unguessable-looking; fixed per server.
    random: RandomState,
    /// Feeds the hash so that no two minted strings collide.
    seq: AtomicU64,
    /// The `expire_every` timer, stopped when replaced and when the backend is dropped.
    timer: Mutex<Option<JoinHandle<()>>>,
    /// The runtime the server runs on, for the timer.
    runtime: tokio::runtime::Handle,
}

#[derive(Debug)]
pub(crate) struct Knobs {
    pub(crate) delay_logins: Duration,
    pub(crate) delay_responses: Duration,
    pub(crate) fail_next_logins: u32,
    pub(crate) fail_next_refreshes: u32,
    pub(crate) issue_expired: u32,
    pub(crate) abort_after_consume: u32,
    pub(crate) stall_next: u32,
    pub(crate) truncate_next: u32,
    /// The next `.0` authorized requests are answered with HTTP status `.1`, unexecuted.
    pub(crate) reply_status_next: (u32, StatusCode),
    /// The API's own transient failure: status and extra headers (`Retry-After`).
    pub(crate) fail_next: (u32, StatusCode, Vec<(String, String)>),
    /// The next `.0` logins are answered with HTTP status `.1`.
    pub(crate) fail_logins_status: (u32, StatusCode),
    pub(crate) revoke_on_reuse: bool,
    /// The next `.0` expired replies wait `.1` before they are sent.
    pub(crate) delay_expired: (u32, Duration),
    /// Connections idle for longer than this are closed by the server.
    pub(crate) keep_alive: Option<Duration>,
    /// Bearer: expired-token replies are a bare 403 (no body).
    pub(crate) forbid_expired: bool,
    /// How the token endpoint wants the client authenticated, if at all.
    pub(crate) client_auth: Option<ClientAuth>,
    /// Refresh grants leave the refresh token live and reply without a new one.
    pub(crate) keep_refresh: bool,
    /// The next this many issued access tokens carry a line break.
    pub(crate) issue_unsendable: u32,
    /// Failed logins and refresh grants repeat what was presented.
    pub(crate) echo_credentials: bool,
    /// The next `.0` authorized requests execute, then answer status `.1` with `Location: .2`.
    pub(crate) redirect_next: (u32, StatusCode, String),
    /// The next `.0` logins / refresh grants answer status `.1` with `Location: .2`.
    pub(crate) redirect_logins: (u32, StatusCode, String),
    /// The next `.0` authorized requests execute, then answer a body of `.1` bytes, with a
    /// `Content-Length` if `.2`, else chunked.
    pub(crate) oversize_next: (u32, u64, bool),
    /// The next `.0` login / refresh replies get a body of `.1` bytes (announced if `.2`).
    pub(crate) oversize_logins: (u32, u64, bool),
    /// The next n expired replies send their headers and half their body, then close.
    pub(crate) truncate_expired: u32,
    /// A successful refresh grant kills the session's earlier access tokens.
    pub(crate) revoke_on_refresh: bool,
    /// A successful login kills every earlier access token (one session per client).
    pub(crate) exclusive_session: bool,
    /// Every this many token-checked requests, every token expires first (0: off).
    pub(crate) expire_every_requests: u64,
    /// Token-checked requests since `expire_every_requests` was set.
    pub(crate) checked: u64,
    /// How long a connection accepted from now on may take to send a request's headers.
    pub(crate) header_read_timeout: Duration,
}

impl Knobs {
    fn new(rules: &Rules) -> Knobs {
        Knobs {
            delay_logins: Duration::ZERO,
            delay_responses: Duration::ZERO,
            fail_next_logins: 0,
            fail_next_refreshes: 0,
            issue_expired: 0,
            abort_after_consume: 0,
            stall_next: 0,
            truncate_next: 0,
            reply_status_next: (0, StatusCode::SERVICE_UNAVAILABLE),
            fail_next: (0, StatusCode::SERVICE_UNAVAILABLE, Vec::new()),
            fail_logins_status: (0, StatusCode::SERVICE_UNAVAILABLE),
            revoke_on_reuse: rules.revoke_family_on_reuse,
            delay_expired: (0, Duration::ZERO),
            keep_alive: None,
            forbid_expired: false,
            client_auth: rules.login.client_auth.clone(),
            keep_refresh: rules.login.refresh.as_ref().is_some_and(|r| !r.rotate),
            issue_unsendable: 0,
            echo_credentials: false,
            redirect_next: (0, StatusCode::FOUND, String::new()),
            redirect_logins: (0, StatusCode::FOUND, String::new()),
            oversize_next: (0, 0, false),
            oversize_logins: (0, 0, false),
            truncate_expired: 0,
            revoke_on_refresh: false,
            exclusive_session: rules.exclusive_session,
            expire_every_requests: 0,
            checked: 0,
            header_read_timeout: HEADER_READ_TIMEOUT,
        }
    }
}

/// The one injected fault an authorized request gets after its token was consumed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    /// Answer this HTTP status without executing and without a next token.
    Status(StatusCode),
    /// The API's own transient failure: this status and these headers, not
    /// executed, with the next token (the token layer worked).
    Transient(StatusCode, Vec<(String, String)>),
    /// Execute, then close the connection without a response.
    Abort,
    /// Execute, then never answer.
    Stall,
    /// Execute, send the headers (with the next token) and part of the body, then close.
    Truncate,
    /// Execute, then answer this 3xx status (with the next token) and this `Location`.
    Redirect(StatusCode, String),
    /// Execute, then answer success (with the next token) and a body of `bytes` bytes,
    /// announced in `Content-Length` if `announce`, else chunked.
    Oversize {
        bytes: u64,
        announce: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Live,
    /// Used up: a consumed single-use token or a used refresh token.
    Spent,
    /// Dead without being used: `expire_all`, issued expired, or family revoked.
    Expired,
}

#[derive(Debug)]
struct Token {
    session: u64,
    status: Status,
    /// Time-based expiry (reusable protocols); `None` means no time limit.
    expires_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Session {
    holders: u64,
    revoked: bool,
    /// Seed: `expire_all` ran while a request held this session's token, so the successor
    /// that request carries back is born expired, as a whole-session expiry would have it.
    expire_next: bool,
    /// How many tokens this session has minted; part of each token string.
    minted: u64,
}

/// No `Debug`: its maps are keyed by tokens, which must never be printed.
pub(crate) struct State {
    pub(crate) counters: Counters,
    pub(crate) knobs: Knobs,
    pub(crate) events: Events,
    /// Copied from [`Shared::started`], for event times.
    started: Instant,
    sessions: HashMap<u64, Session>,
    access: HashMap<String, Token>,
    refresh: HashMap<String, Token>,
    /// One-time login codes: `true` once used.
    codes: HashMap<String, bool>,
    /// What `POST /api/orders` answered per idempotency key (its executions).
    idempotent_results: HashMap<String, u64>,
    next_session: u64,
    /// Requests holding a token right now, over all sessions.
    in_flight: u64,
}

/// Why an API request was refused before execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// No such token (or none presented).
    Unknown,
    /// Expired by time, `expire_all`, `issue_expired_tokens` or revocation.
    Expired,
    /// Presented again after it was spent.
    Reused,
}

/// Outcome of a refresh grant.
#[derive(Debug)]
pub(crate) enum RefreshOutcome {
    Issued(Issued),
    /// Unknown, revoked or reused refresh token.
    InvalidGrant,
    /// Forced by `fail_next_refreshes`.
    Unavailable,
}

/// Tokens handed out by a login or refresh.
pub(crate) struct Issued {
    pub(crate) access: String,
    pub(crate) refresh: Option<String>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Issued { .. }")
    }
}

/// Outcome of a login attempt after its input was checked.
#[derive(Debug)]
pub(crate) enum LoginOutcome {
    Issued(Issued),
    /// Forced by `fail_next_logins`.
    Forced,
    /// Forced by `fail_next_logins_with_status`: answer this HTTP status.
    Status(StatusCode),
    /// Bad code / credentials, or a malformed request: answer this.
    Rejected(crate::rules::Reply),
}

impl Shared {
    pub(crate) fn new(rules: Rules, routes: Box<dyn Routes>) -> Shared {
        let started = Instant::now();
        let state = State {
            counters: Counters::default(),
            knobs: Knobs::new(&rules),
            events: Events::default(),
            started,
            sessions: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            idempotent_results: HashMap::new(),
            next_session: 0,
            in_flight: 0,
        };
        Shared {
            rules,
            routes,
            connections: AtomicU64::new(0),
            started,
            state: Mutex::new(state),
            random: RandomState::new(),
            seq: AtomicU64::new(0),
            timer: Mutex::new(None),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Replaces the `expire_every` timer (`Duration::ZERO`: none). The timer holds the
    /// state weakly, so it never keeps a dropped server's state alive.
    pub(crate) fn expire_every(self: &Arc<Self>, every: Duration) {
        let mut timer = self.timer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = timer.take() {
            old.abort();
        }
        if every.is_zero() {
            return;
        }
        let weak = Arc::downgrade(self);
        *timer = Some(self.runtime.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                ticks.tick().await;
                let Some(shared) = weak.upgrade() else { return };
                let ms = every.as_millis();
                shared.lock().expire_everything(format!("every {ms} ms (knob)"));
            }
        }));
    }

    /// Stops the `expire_every` timer.
    pub(crate) fn stop_timer(&self) {
        if let Some(timer) = self.timer.lock().unwrap_or_else(PoisonError::into_inner).take() {
            timer.abort();
        }
    }

    /// Whether tokens are single-use (a next one on every accepted call).
    fn single_use(&self) -> bool {
        self.rules.next_token_header.is_some()
    }

    /// Whether access tokens travel in HTTP headers (login reply or next-token header).
    fn tokens_in_headers(&self) -> bool {
        self.single_use() || self.rules.login.issued.token_header.is_some()
    }

    /// Records an event.
    pub(crate) fn event(&self, kind: &'static str, fields: Fields, detail: impl Into<String>) {
        self.lock().event(kind, fields, detail.into());
    }

    /// Locks the state. A poisoned lock is taken over: nothing in the critical sections
    /// panics, and a test server must keep answering rather than cascade panics.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn random_hex(&self) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}", self.random.hash_one(n))
    }

    pub(crate) fn mint_code(&self) -> String {
        let code = format!("code-{}", self.random_hex());
        self.lock().codes.insert(code.clone(), false);
        code
    }

    fn token_string(&self, kind: &str, session: u64, n: u64) -> String {
        format!("{kind}-{session}-{n}-{}", self.random_hex())
    }

    /// Lifetime of an access token in this protocol.
    fn ttl(&self) -> Option<Duration> {
        self.rules.ttl
    }

    /// Mints an access token for `session`. `dead` issues it already expired.
    fn mint_access(&self, st: &mut State, session: u64, dead: bool) -> String {
        let sess = st.sessions.entry(session).or_default();
        sess.minted += 1;
        let dead = dead || sess.revoked;
        let mut tok = self.token_string("tok", session, sess.minted);
        // A protocol that sends tokens in headers cannot carry this one.
        if !self.tokens_in_headers() && take_one(&mut st.knobs.issue_unsendable) {
            tok.push_str("\nX");
        }
        let expires_at = self.ttl().map(|ttl| Instant::now() + ttl);
        let status = if dead { Status::Expired } else { Status::Live };
        st.access.insert(
            tok.clone(),
            Token {
                session,
                status,
                expires_at,
            },
        );
        tok
    }

    fn mint_refresh(&self, st: &mut State, session: u64) -> String {
        let sess = st.sessions.entry(session).or_default();
        sess.minted += 1;
        let tok = self.token_string("rt", session, sess.minted);
        st.refresh.insert(
            tok.clone(),
            Token {
                session,
                status: Status::Live,
                expires_at: None,
            },
        );
        tok
    }

    /// Creates a session and its first tokens; counts `logins_ok`.
    fn issue_login(&self, st: &mut State) -> Issued {
        // A client that logs in per failure rather than per expiry logs in while a token
        // it could have used is still good.
        let now = Instant::now();
        let usable = st.access.values().any(|t| t.usable(now));
        if usable {
            st.counters.extra_logins += 1;
        }
        if st.knobs.exclusive_session {
            st.expire_all();
        }
        st.next_session += 1;
        let session = st.next_session;
        st.sessions.insert(session, Session::default());
        let dead = take_one(&mut st.knobs.issue_expired);
        let access = self.mint_access(st, session, dead);
        let refresh = self
            .rules
            .login
            .issued
            .refresh_token_path
            .is_some()
            .then(|| self.mint_refresh(st, session));
        st.counters.logins_ok += 1;
        let detail = if usable {
            format!("session {session}, while a token was still usable")
        } else {
            format!("session {session}")
        };
        st.event("login", Fields::default(), detail);
        Issued { access, refresh }
    }

    /// Counts an arriving login and returns how long to delay it. `with_token`: the login
    /// request carried this protocol's API token (it went through an auth layer).
    pub(crate) fn login_arrived(&self, with_token: bool) -> Duration {
        let mut st = self.lock();
        st.counters.logins += 1;
        if with_token {
            st.counters.logins_with_token += 1;
        }
        st.knobs.delay_logins
    }

    /// Counts an arriving refresh grant and returns how long to delay it.
    pub(crate) fn refresh_arrived(&self) -> Duration {
        let mut st = self.lock();
        st.counters.refreshes += 1;
        st.knobs.delay_logins
    }

    /// Counts a login that failed on malformed input.
    pub(crate) fn login_malformed(&self) {
        self.lock().login_failed("malformed");
    }

    /// Applies `fail_next_logins`, then `accept` (the input check), then issues tokens.
    pub(crate) fn login(
        &self,
        accept: impl FnOnce(&mut State) -> Result<(), crate::rules::Reply>,
    ) -> LoginOutcome {
        let mut st = self.lock();
        let (n, status) = &mut st.knobs.fail_logins_status;
        if take_one(n) {
            let status = *status;
            st.login_failed("forced failure with a status (knob)");
            return LoginOutcome::Status(status);
        }
        if take_one(&mut st.knobs.fail_next_logins) {
            st.login_failed("forced failure (knob)");
            return LoginOutcome::Forced;
        }
        if let Err(reply) = accept(&mut st) {
            st.login_failed("refused or malformed");
            return LoginOutcome::Rejected(reply);
        }
        LoginOutcome::Issued(self.issue_login(&mut st))
    }

    /// Bearer refresh grant: spends `refresh_token` and rotates it within its session.
    pub(crate) fn refresh(&self, refresh_token: &str) -> RefreshOutcome {
        let mut st = self.lock();
        if take_one(&mut st.knobs.fail_next_refreshes) {
            st.event(
                "refresh_failed",
                Fields::default(),
                "forced failure (knob)".to_owned(),
            );
            return RefreshOutcome::Unavailable;
        }
        let keep = st.knobs.keep_refresh;
        let Some(tok) = st.refresh.get_mut(refresh_token) else {
            st.event(
                "refresh_failed",
                Fields::default(),
                "unknown refresh token".to_owned(),
            );
            return RefreshOutcome::InvalidGrant;
        };
        let session = tok.session;
        match tok.status {
            Status::Live if keep => {}
            Status::Live => tok.status = Status::Spent,
            Status::Spent => {
                st.counters.token_reuse += 1;
                st.counters.refresh_token_reuse += 1;
                let revoke = st.knobs.revoke_on_reuse;
                if revoke {
                    st.revoke(session);
                }
                let detail = format!(
                    "spent refresh token of session {session} presented again{}",
                    if revoke { "; session revoked" } else { "" }
                );
                st.event("reuse", Fields::default(), detail);
                return RefreshOutcome::InvalidGrant;
            }
            Status::Expired => {
                st.event(
                    "refresh_failed",
                    Fields::default(),
                    format!("revoked refresh token of session {session}"),
                );
                return RefreshOutcome::InvalidGrant;
            }
        }
        if st.knobs.revoke_on_refresh {
            st.expire_access_of(session);
        }
        let dead = take_one(&mut st.knobs.issue_expired);
        let access = self.mint_access(&mut st, session, dead);
        let refresh = (!keep).then(|| self.mint_refresh(&mut st, session));
        st.event("refresh", Fields::default(), format!("session {session}"));
        RefreshOutcome::Issued(Issued { access, refresh })
    }

    /// Counts an arriving request outside `/api/` that is not a login.
    pub(crate) fn other_arrived(&self, with_token: bool) {
        let mut st = self.lock();
        st.counters.other_requests += 1;
        if with_token {
            st.counters.other_requests_with_token += 1;
        }
    }

    /// Counts an arriving API request.
    pub(crate) fn request_arrived(&self) {
        self.lock().counters.requests += 1;
    }

    /// Counts an arriving request to an endpoint that needs no token.
    pub(crate) fn public_arrived(&self) {
        self.lock().counters.public_requests += 1;
    }

    /// Validates (and, in Seed mode, consumes) an access token. On success the request
    /// holds the token's session until the returned [`Holder`] is finished or dropped.
    pub(crate) fn authorize(self: &Arc<Self>, token: Option<&str>) -> Result<Holder, Rejection> {
        let mut st = self.lock();
        let every = st.knobs.expire_every_requests;
        if every > 0 {
            st.knobs.checked += 1;
            if st.knobs.checked.is_multiple_of(every) {
                st.expire_everything(format!("every {every} token-checked requests (knob)"));
            }
        }
        let now = Instant::now();
        let single_use = self.single_use();
        let verdict = match token.and_then(|t| st.access.get_mut(t)) {
            None => Err((Rejection::Unknown, None)),
            Some(tok) => match tok.status {
                Status::Spent => Err((Rejection::Reused, Some(tok.session))),
                Status::Expired => Err((Rejection::Expired, None)),
                Status::Live if tok.expires_at.is_some_and(|at| now >= at) => {
                    tok.status = Status::Expired;
                    Err((Rejection::Expired, None))
                }
                Status::Live => {
                    if single_use {
                        tok.status = Status::Spent;
                    }
                    Ok(tok.session)
                }
            },
        };
        let session = match verdict {
            Ok(session) => session,
            Err((rejection, spent_session)) => {
                st.counters.expired_replies += 1;
                if let Some(session) = spent_session {
                    st.counters.token_reuse += 1;
                    let revoke = st.knobs.revoke_on_reuse;
                    if revoke {
                        st.revoke(session);
                    }
                    let detail = format!(
                        "spent token of session {session} presented again{}",
                        if revoke { "; session revoked" } else { "" }
                    );
                    st.event("reuse", Fields::default(), detail);
                }
                return Err(rejection);
            }
        };
        let sess = st.sessions.entry(session).or_default();
        sess.holders += 1;
        let holders = sess.holders;
        let max = &mut st.counters.max_concurrent_holders;
        *max = (*max).max(holders);
        st.in_flight += 1;
        let in_flight = st.in_flight;
        let max = &mut st.counters.max_concurrent_requests;
        *max = (*max).max(in_flight);
        let fault = st.knobs.take_fault();
        if let Some(name) = fault.name() {
            st.event(
                "fault",
                Fields::default(),
                format!("{name} (knob), session {session}"),
            );
        }
        let delay = st.knobs.delay_responses;
        Ok(Holder {
            shared: self.clone(),
            session,
            armed: true,
            fault,
            delay,
        })
    }

    /// Counts one execution of `POST /api/orders` and returns the new total for `order_id`.
    /// With an idempotency key already seen, nothing executes: the first execution's
    /// total is returned again, as an API that honours `Idempotency-Key` does.
    pub(crate) fn execute_order(&self, order_id: String, key: Option<String>) -> u64 {
        let mut st = self.lock();
        if let Some(key) = &key
            && let Some(&first) = st.idempotent_results.get(key)
        {
            st.counters.idempotent_replays += 1;
            return first;
        }
        let n = st.counters.executions.entry(order_id).or_insert(0);
        *n += 1;
        let n = *n;
        if n > 1 {
            st.counters.duplicate_executions += 1;
            st.event(
                "duplicate",
                Fields::default(),
                format!("one operation executed {n} times"),
            );
        }
        if let Some(key) = key {
            *st.counters.executions_by_key.entry(key.clone()).or_insert(0) += 1;
            st.idempotent_results.insert(key, n);
        }
        n
    }
}

impl Execute for Shared {
    fn execute(&self, fingerprint: String, idempotency_key: Option<String>) -> u64 {
        self.execute_order(fingerprint, idempotency_key)
    }
}

impl Fault {
    /// How the event log names this fault; `None` for no fault.
    fn name(&self) -> Option<&'static str> {
        Some(match self {
            Fault::None => return None,
            Fault::Status(_) => "proxy status",
            Fault::Transient(..) => "transient failure",
            Fault::Abort => "drop after execution",
            Fault::Stall => "stall after execution",
            Fault::Truncate => "truncated reply",
            Fault::Redirect(..) => "redirect after execution",
            Fault::Oversize { .. } => "oversized reply",
        })
    }
}

impl Token {
    /// Whether a call could still use this access token now.
    fn usable(&self, now: Instant) -> bool {
        self.status == Status::Live && self.expires_at.is_none_or(|at| now < at)
    }
}

impl Knobs {
    /// Picks this request's fault, one at most, in a fixed order (a proxy status first, as it
    /// answers before anything executes), and spends one shot of that knob only.
    fn take_fault(&mut self) -> Fault {
        let (n, status) = &mut self.reply_status_next;
        if take_one(n) {
            Fault::Status(*status)
        } else if take_one(&mut self.fail_next.0) {
            Fault::Transient(self.fail_next.1, self.fail_next.2.clone())
        } else if take_one(&mut self.abort_after_consume) {
            Fault::Abort
        } else if take_one(&mut self.stall_next) {
            Fault::Stall
        } else if take_one(&mut self.truncate_next) {
            Fault::Truncate
        } else if take_one(&mut self.redirect_next.0) {
            Fault::Redirect(self.redirect_next.1, self.redirect_next.2.clone())
        } else if take_one(&mut self.oversize_next.0) {
            Fault::Oversize {
                bytes: self.oversize_next.1,
                announce: self.oversize_next.2,
            }
        } else {
            Fault::None
        }
    }
}

impl State {
    pub(crate) fn current_holders(&self) -> u64 {
        self.in_flight
    }

    /// Sessions created so far.
    pub(crate) fn sessions(&self) -> u64 {
        self.next_session
    }

    /// Access tokens a call could use right now.
    pub(crate) fn usable_tokens(&self) -> u64 {
        let now = Instant::now();
        self.access.values().filter(|t| t.usable(now)).count() as u64
    }

    /// Records an event.
    pub(crate) fn event(&mut self, kind: &'static str, fields: Fields, detail: String) {
        let at_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.events.push(at_ms, kind, fields, detail);
    }

    /// Counts and logs a failed login.
    pub(crate) fn login_failed(&mut self, why: &str) {
        self.counters.logins_failed += 1;
        self.event("login_failed", Fields::default(), why.to_owned());
    }

    /// A fault expires every token at once (a knob, the admin endpoint, a timer): counted
    /// in `expirations` and logged.
    pub(crate) fn expire_everything(&mut self, why: String) {
        self.expire_all();
        self.counters.expirations += 1;
        self.event("fault", Fields::default(), format!("every token expired: {why}"));
    }

    pub(crate) fn expire_all(&mut self) {
        for tok in self.access.values_mut() {
            if tok.status == Status::Live {
                tok.status = Status::Expired;
            }
        }
        for sess in self.sessions.values_mut() {
            if sess.holders > 0 {
                sess.expire_next = true;
            }
        }
    }

    /// Whether the expired reply being sent now is cut short (`truncate_next_expired_replies`).
    pub(crate) fn take_truncate_expired(&mut self) -> bool {
        take_one(&mut self.knobs.truncate_expired)
    }

    /// The redirect the login or refresh grant arriving now answers, if one is armed.
    pub(crate) fn take_login_redirect(&mut self) -> Option<(StatusCode, String)> {
        let (n, status, location) = &mut self.knobs.redirect_logins;
        take_one(n).then(|| (*status, location.clone()))
    }

    /// How long the expired reply being sent now must wait (`delay_next_expired_replies`).
    pub(crate) fn expired_reply_delay(&mut self) -> Duration {
        let (n, d) = &mut self.knobs.delay_expired;
        if take_one(n) { *d } else { Duration::ZERO }
    }

    /// Every live access token of `session` expires now (its refresh tokens
    /// stay), as a server that deletes the old access token on refresh does.
    fn expire_access_of(&mut self, session: u64) {
        for tok in self.access.values_mut() {
            if tok.session == session && tok.status == Status::Live {
                tok.status = Status::Expired;
            }
        }
    }

    /// Kills every live token of `session` and stops it minting live ones.
    fn revoke(&mut self, session: u64) {
        self.sessions.entry(session).or_default().revoked = true;
        for tok in self.access.values_mut().chain(self.refresh.values_mut()) {
            if tok.session == session && tok.status == Status::Live {
                tok.status = Status::Expired;
            }
        }
    }

    /// Seed login input check: the code must have been minted and not used yet.
    pub(crate) fn use_code(&mut self, code: &str) -> bool {
        match self.codes.get_mut(code) {
            Some(used @ false) => {
                *used = true;
                true
            }
            _ => false,
        }
    }
}

/// Decrements a "next n" knob; true if it was armed.
pub(crate) fn take_one(n: &mut u32) -> bool {
    if *n > 0 {
        *n -= 1;
        true
    } else {
        false
    }
}

/// A request's hold on its session, from consuming the token to finishing the response.
/// Dropping it (abort path, connection future dropped) releases the hold.
pub(crate) struct Holder {
    shared: Arc<Shared>,
    session: u64,
    armed: bool,
    /// The fault injected into this request, if any.
    pub(crate) fault: Fault,
    /// `delay_responses` as it was when the token was consumed.
    pub(crate) delay: Duration,
}

impl Holder {
    /// The server's number for the session this request's token belongs to.
    pub(crate) fn session(&self) -> u64 {
        self.session
    }

    /// Releases the hold without minting a next token: the request's token is spent and its
    /// session gets no successor from it.
    pub(crate) fn release(mut self) {
        self.armed = false;
        release(&mut self.shared.lock(), self.session);
    }

    /// Releases the hold and, in Seed mode, mints the session's next token, in one critical
    /// section, so the next token can never be used while this request still counts as a holder.
    pub(crate) fn finish(mut self) -> Option<String> {
        self.armed = false;
        let mut st = self.shared.lock();
        release(&mut st, self.session);
        if !self.shared.single_use() {
            return None;
        }
        let expired = st
            .sessions
            .get_mut(&self.session)
            .is_some_and(|s| std::mem::take(&mut s.expire_next));
        Some(self.shared.mint_access(&mut st, self.session, expired))
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if self.armed {
            release(&mut self.shared.lock(), self.session);
        }
    }
}

fn release(st: &mut State, session: u64) {
    if let Some(sess) = st.sessions.get_mut(&session) {
        sess.holders = sess.holders.saturating_sub(1);
    }
    st.in_flight = st.in_flight.saturating_sub(1);
}

impl Shared {
    /// A connection was closed by the server for being idle longer than `keep_alive`.
    pub(crate) fn idle_closed(&self) {
        self.lock().counters.idle_closes += 1;
    }

    /// The `echo_credentials_in_errors` knob as it is now.
    pub(crate) fn echo_credentials(&self) -> bool {
        self.lock().knobs.echo_credentials
    }

    /// The `keep_alive` knob as it is now.
    pub(crate) fn keep_alive(&self) -> Option<Duration> {
        self.lock().knobs.keep_alive
    }
}
