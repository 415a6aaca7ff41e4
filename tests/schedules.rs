//! Random schedules: a proptest that interleaves calls, forced expiries,
//! login failures, dropped connections, dead login tokens, stale expiry
//! replies, redirects, oversized replies and cancelled callers, and after
//! every step checks the invariants of docs/protocol.md against the testkit's
//! counters.
//!
//! A case is a protocol (the single-use seed most often, also bearer and
//! query), a client configuration (1–3 chains, 1–2 replays, a login
//! cool-down of 0, 2 or 5 ms) and 1–20 [`Op`]s. Knob ops arm faults for the
//! next [`Op::Batch`]; a batch fires up to 6 concurrent calls (idempotent
//! `GET /api/users/{id}`, non-idempotent `POST /api/orders` with a unique
//! `order_id`), some of them cancelled after a few yields or milliseconds,
//! maybe with an `expire_all` in the middle; then it waits for every call
//! and for the client to settle, disarms whatever was not consumed and
//! checks (see [`Batch::check`]):
//!
//! - no token value presented twice (`token_reuse == 0`), and in single-use
//!   mode at most one request per session at a time;
//! - every call ends within 10 s and the client settles within 5 s: no
//!   chain left logging in, held or with parked callers (a hang fails);
//! - bounded replays: the server saw at most `calls × (max_replays + 1)`
//!   requests (over the case; per batch plus one straggler per earlier
//!   cancelled call), the client counted at most `calls × max_replays`
//!   replays in the batch;
//! - every `order_id` executed at most once; an order that returned a value
//!   executed exactly once; one that failed executed only if its error says
//!   "outcome unknown" (or it is a reply too large to read, which the
//!   server answered with a success), and "outcome unknown" only appears
//!   when a dropped connection or a redirect was armed;
//! - logins: at most one per chain that could need one when the batch
//!   starts, plus one per chain for an expiry in the middle, plus one per
//!   armed failed login / dead login token, plus (single-use) one per
//!   dropped connection or cancelled call. The number of calls never
//!   appears in the bound, so "N calls meeting one expiry cause N logins"
//!   fails. No login fails that was not forced, and the client and the
//!   server agree on the number of logins;
//! - outcomes: a call ends with its own value (its user id, its order id),
//!   unless its error is explained: a login error by an armed login failure
//!   or a cool-down left by an earlier one; an "expired" or transport error
//!   by at least `max_replays + 1` disruptions that could have hit its
//!   attempts (each armed dropped connection and dead login token; one for
//!   a token that died before the batch, since meeting it makes the call's
//!   chain log in; one for an expiry in the middle); a redirect error by an
//!   armed redirect, a too-large error by an armed oversized reply. Neither
//!   costs a login: their replies carry the single-use successor.
//!
//! Why a plain `Vec<Op>` and not `proptest-state-machine`: the reference
//! model is a handful of counters (what is armed, whether a token may be
//! dead) and every check reads the server's counters after the step, so a
//! transition system would add ceremony, not checks; a vector already
//! shrinks the way a schedule should, by dropping and simplifying ops.
//!
//! Runtime: one 2-worker tokio runtime and one HTTP connection pool for all
//! cases, a fresh backend and client per case, delays of a few
//! milliseconds: about 30 ms a case on two idle cores.
//!
//! [`one_expiry_across_several_chains_costs_a_call_one_replay`] keeps the
//! smallest schedule of the first failure these schedules found as a
//! plain, deterministic test.
//!
//! # Reproducing a failure
//!
//! proptest prints the minimal schedule (`minimal failing input: case =
//! ...`) with the step that failed and the counters, and appends its seed
//! to `tests/schedules.proptest-regressions`. Every later
//! `cargo test --test schedules` replays the seeds in that file first, so a
//! failure reproduces by running the test again; commit the file with the
//! fix. The schedule is deterministic, thread timing is not: for a race
//! that shows up only sometimes, `SCHEDULES_REPEAT=50` runs each case (the
//! persisted ones included) 50 times. `PROPTEST_CASES=N` changes the number
//! of cases (default 1,000).

mod common;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use common::User;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use seamless_sdk::__private::reqwest;
use seamless_sdk::{ChainStatus, Client, Error, Request};
use seamless_sdk_testkit::{Backend, Counters};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// How long one call may take before it counts as a hang.
const CALL_DEADLINE: Duration = Duration::from_secs(10);
/// The clients' response body limit; an armed oversized reply is 4 times it.
const MAX_BODY: u64 = 64 * 1024;
/// How long the client may take to settle after the last call ended.
const SETTLE_DEADLINE: Duration = Duration::from_secs(5);

/// One runtime for all cases: building a runtime per case would cost more
/// than most cases take. Two workers, like CI's two cores, so calls, logins
/// and the server really run in parallel.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
});

/// One HTTP client for all cases, configured like the runtime's default
/// (no retries below the auth layer, no redirects, no `Referer`, the same
/// idle timeout): building one
/// loads the TLS roots and costs more than a whole case. Every case has
/// its own backend port, so no connection is shared between cases.
static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .retry(reqwest::retry::never())
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
});

// ------------------------------------------------------------------ cases

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Seed,
    Bearer,
    Query,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Seed => "seed",
            Proto::Bearer => "bearer",
            Proto::Query => "query",
        }
    }
}

#[derive(Clone)]
struct Case {
    proto: Proto,
    chains: usize,
    max_replays: u32,
    /// Login cool-down after a failure: `backoff_ms`, doubling up to 4×.
    backoff_ms: u64,
    ops: Vec<Op>,
}

/// One step of a schedule. Knob ops arm a fault for the next batch only
/// (what the batch did not consume is disarmed after it), so each batch's
/// checks know exactly which faults could have hit it. Repeated knob ops
/// add up.
#[derive(Clone)]
enum Op {
    /// Concurrent calls; `expire_mid`: `expire_all` this many ms (0: one
    /// yield) after they start.
    Batch {
        calls: Vec<Call>,
        expire_mid: Option<u8>,
    },
    /// `expire_all` between batches.
    ExpireAll,
    /// The next n logins fail.
    FailLogins(u32),
    /// The next n requests execute, then lose their connection.
    DropConnections(u32),
    /// The next n logins issue an already expired token.
    DeadLoginTokens(u32),
    /// The next n expired replies wait this many ms (stale expiry, F5).
    StaleExpiry(u32, u8),
    /// Every API reply waits this many ms (level knob, kept).
    DelayResponses(u8),
    /// Every login waits this many ms (level knob, kept).
    DelayLogins(u8),
    /// Wait this many ms (lets a cool-down pass).
    Pause(u8),
    /// The next n requests execute, then answer this 3xx to the same
    /// backend (`false`) or to an unreachable address (`true`).
    Redirect(u32, u16, bool),
    /// The next n requests execute, then answer a body past the client's
    /// limit, announced (`true`) or chunked.
    Oversize(u32, bool),
}

#[derive(Clone, Copy)]
struct Call {
    order: bool,
    cancel: Option<Cancel>,
}

/// When a cancelled caller's task is aborted after it was spawned.
#[derive(Clone, Copy, Debug)]
enum Cancel {
    Yields(u8),
    Millis(u8),
}

/// Compact, so a shrunk schedule reads as one line per op (`{:#?}`, as
/// proptest prints the minimal input) or as one line (`{:?}`, as the
/// regressions file keeps it).
impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} chains={} max_replays={} backoff={}ms:",
            self.proto.name(),
            self.chains,
            self.max_replays,
            self.backoff_ms
        )?;
        for (i, op) in self.ops.iter().enumerate() {
            if f.alternate() {
                write!(f, "\n    {i:>2}: {op:?}")?;
            } else {
                write!(f, " {i}: {op:?};")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Batch { calls, expire_mid } => {
                write!(f, "batch {calls:?}")?;
                match expire_mid {
                    None => Ok(()),
                    Some(0) => f.write_str(" expire_all after a yield"),
                    Some(ms) => write!(f, " expire_all after {ms}ms"),
                }
            }
            Op::ExpireAll => f.write_str("expire_all"),
            Op::FailLogins(n) => write!(f, "fail_next_logins({n})"),
            Op::DropConnections(n) => write!(f, "abort_after_consume({n})"),
            Op::DeadLoginTokens(n) => write!(f, "issue_expired_tokens({n})"),
            Op::StaleExpiry(n, ms) => write!(f, "delay_next_expired_replies({n}, {ms}ms)"),
            Op::DelayResponses(ms) => write!(f, "delay_responses({ms}ms)"),
            Op::DelayLogins(ms) => write!(f, "delay_logins({ms}ms)"),
            Op::Pause(ms) => write!(f, "pause {ms}ms"),
            Op::Redirect(n, status, away) => write!(
                f,
                "redirect_next({n}, {status}, {})",
                if *away { "unreachable" } else { "/api/ping" }
            ),
            Op::Oversize(n, announce) => write!(
                f,
                "oversize_next({n}, {})",
                if *announce { "announced" } else { "chunked" }
            ),
        }
    }
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.order { "post" } else { "get" })?;
        match self.cancel {
            None => Ok(()),
            Some(Cancel::Yields(n)) => write!(f, "/cancel-after-{n}-yields"),
            Some(Cancel::Millis(n)) => write!(f, "/cancel-after-{n}ms"),
        }
    }
}

fn call_strategy() -> impl Strategy<Value = Call> {
    let cancel = prop_oneof![
        (0u8..=3).prop_map(Cancel::Yields),
        (0u8..=3).prop_map(Cancel::Millis)
    ];
    (prop::bool::weighted(0.35), prop::option::weighted(0.2, cancel))
        .prop_map(|(order, cancel)| Call { order, cancel })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (
            prop::collection::vec(call_strategy(), 1..=6),
            prop::option::weighted(0.25, 0u8..=3)
        )
            .prop_map(|(calls, expire_mid)| Op::Batch { calls, expire_mid }),
        2 => Just(Op::ExpireAll),
        1 => (1u32..=2).prop_map(Op::FailLogins),
        1 => (1u32..=2).prop_map(Op::DropConnections),
        1 => (1u32..=2).prop_map(Op::DeadLoginTokens),
        1 => (1u32..=3, 1u8..=5).prop_map(|(n, ms)| Op::StaleExpiry(n, ms)),
        1 => (0u8..=2).prop_map(Op::DelayResponses),
        1 => (0u8..=3).prop_map(Op::DelayLogins),
        1 => (1u8..=6).prop_map(Op::Pause),
        1 => (1u32..=2, prop::sample::select(vec![301u16, 302, 303, 307, 308]), prop::bool::ANY)
            .prop_map(|(n, status, away)| Op::Redirect(n, status, away)),
        1 => (1u32..=2, prop::bool::ANY).prop_map(|(n, announce)| Op::Oversize(n, announce)),
    ]
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let proto = prop_oneof![3 => Just(Proto::Seed), 1 => Just(Proto::Bearer), 1 => Just(Proto::Query)];
    (
        proto,
        1usize..=3,
        1u32..=2,
        prop::sample::select(vec![0u64, 2, 5]),
        prop::collection::vec(op_strategy(), 1..=20),
    )
        .prop_map(|(proto, chains, max_replays, backoff_ms, ops)| Case {
            proto,
            chains,
            max_replays,
            backoff_ms,
            ops,
        })
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    ProptestConfig {
        cases,
        // `tests/schedules.proptest-regressions`, replayed before new cases.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        // A hang costs CALL_DEADLINE per shrink step; keep shrinking bounded.
        max_shrink_time: 180_000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_schedules_keep_the_protocol_invariants(case in case_strategy()) {
        let repeat: u32 = std::env::var("SCHEDULES_REPEAT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        // Once a case has failed, proptest shrinks it: it tries simpler
        // schedules and keeps one only if it fails too. A race that a
        // simpler schedule hits only now and then would stop the shrinking
        // early, so while shrinking each schedule gets several tries.
        let tries = if FAILED.load(Ordering::Relaxed) { repeat.max(SHRINK_TRIES) } else { repeat.max(1) };
        for _ in 0..tries {
            if let Err(e) = RUNTIME.block_on(run(&case)) {
                FAILED.store(true, Ordering::Relaxed);
                return Err(TestCaseError::fail(e));
            }
        }
    }
}

/// Set by the first failure: from then on proptest is shrinking.
static FAILED: AtomicBool = AtomicBool::new(false);
/// Tries per schedule while shrinking.
const SHRINK_TRIES: u32 = 5;

// ------------------------------------------------------------------ model

/// Faults armed for the next batch.
#[derive(Clone, Copy, Debug, Default)]
struct Armed {
    fail_logins: u32,
    drops: u32,
    dead_tokens: u32,
    stale: bool,
    redirects: u32,
    oversize: u32,
}

/// What the schedule has done so far, as far as the bounds need it.
#[derive(Debug, Default)]
struct Model {
    armed: Armed,
    /// An `expire_all` ran since the last batch.
    expired_since_batch: bool,
    /// Some chain may hold a token that is dead without the client knowing
    /// (an earlier expiry or dead login token it has not met yet).
    maybe_dead: bool,
    next_id: u64,
    /// Calls so far, and how many of them were cancelled.
    calls: u64,
    cancelled: u64,
}

async fn run(case: &Case) -> Result<(), String> {
    let backend = common::start(case.proto.name()).await;
    let backoff = Duration::from_millis(case.backoff_ms);
    let client = common::builder(case.proto.name(), &backend)
        .chains(case.chains)
        .max_replays(case.max_replays)
        .login_backoff(backoff, backoff * 4)
        .max_response_bytes(MAX_BODY)
        .http_client(HTTP.clone())
        .build()
        .map_err(|e| format!("building the client: {e}"))?;
    let client = Arc::new(client);
    let mut model = Model::default();
    for (i, op) in case.ops.iter().enumerate() {
        let before = backend.counters();
        let result = step(case, &backend, &client, &mut model, op).await;
        let result = result.and_then(|()| always(case, &backend.counters()));
        if let Err(e) = result {
            return Err(format!(
                "{} chains={} max_replays={} backoff={}ms: step {i} ({op:?}) failed: {e}\n  \
                 counters before the step: {before:?}\n  counters after: {:?}\n  client: {:?}\n  \
                 chains: {:?}",
                case.proto.name(),
                case.chains,
                case.max_replays,
                case.backoff_ms,
                backend.counters(),
                client.stats(),
                client.chain_status(),
            ));
        }
    }
    Ok(())
}

/// Checked after every step, whatever it was.
fn always(case: &Case, c: &Counters) -> Result<(), String> {
    if c.token_reuse != 0 {
        return Err(format!(
            "a token was presented twice (token_reuse = {})",
            c.token_reuse
        ));
    }
    if case.proto == Proto::Seed && c.max_concurrent_holders > 1 {
        return Err(format!(
            "{} requests held one single-use session at once",
            c.max_concurrent_holders
        ));
    }
    if let Some((id, n)) = c.executions.iter().find(|(_, n)| **n > 1) {
        return Err(format!("order {id} executed {n} times"));
    }
    Ok(())
}

async fn step(
    case: &Case,
    backend: &Backend,
    client: &Arc<Client>,
    model: &mut Model,
    op: &Op,
) -> Result<(), String> {
    let ms = |n: u8| Duration::from_millis(u64::from(n));
    match *op {
        Op::Batch {
            ref calls,
            expire_mid,
        } => batch(case, backend, client, model, calls, expire_mid).await?,
        Op::ExpireAll => {
            backend.expire_all();
            model.expired_since_batch = true;
        }
        Op::FailLogins(n) => {
            model.armed.fail_logins += n;
            backend.fail_next_logins(model.armed.fail_logins);
        }
        Op::DropConnections(n) => {
            model.armed.drops += n;
            backend.abort_after_consume(model.armed.drops);
        }
        Op::DeadLoginTokens(n) => {
            model.armed.dead_tokens += n;
            backend.issue_expired_tokens(model.armed.dead_tokens);
        }
        Op::StaleExpiry(n, d) => {
            model.armed.stale = true;
            backend.delay_next_expired_replies(n, ms(d));
        }
        Op::DelayResponses(d) => backend.delay_responses(ms(d)),
        Op::DelayLogins(d) => backend.delay_logins(ms(d)),
        Op::Pause(d) => tokio::time::sleep(ms(d)).await,
        Op::Redirect(n, status, away) => {
            model.armed.redirects += n;
            let location = if away {
                format!("{}/api/ping", seamless_sdk_testkit::unreachable_url())
            } else {
                "/api/ping".to_owned()
            };
            let status = seamless_sdk_testkit::StatusCode::from_u16(status).expect("a 3xx");
            backend.redirect_next(model.armed.redirects, status, location);
        }
        Op::Oversize(n, announce) => {
            model.armed.oversize += n;
            backend.oversize_next(model.armed.oversize, MAX_BODY * 4, announce);
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ batches

enum Reply {
    User(Result<User, Error>),
    Order(Result<Value, Error>),
}

/// One call of a batch: what was asked and how it ended.
struct Done {
    call: Call,
    /// The user id or the order id.
    id: u64,
    /// `None`: the task was cancelled before it ended.
    reply: Option<Reply>,
}

impl fmt::Debug for Done {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} #{}: ", self.call, self.id)?;
        match &self.reply {
            None => f.write_str("cancelled"),
            Some(Reply::User(Ok(u))) => write!(f, "{u:?}"),
            Some(Reply::Order(Ok(v))) => write!(f, "{v}"),
            Some(Reply::User(Err(e)) | Reply::Order(Err(e))) => write!(f, "error {e}"),
        }
    }
}

fn order_key(id: u64) -> String {
    format!("order-{id}")
}

fn spawn_call(client: &Arc<Client>, call: Call, id: u64) -> JoinHandle<Reply> {
    let client = Arc::clone(client);
    tokio::spawn(async move {
        if call.order {
            let req = Request::post("/api/orders").json(&json!({ "order_id": order_key(id) }));
            Reply::Order(client.call::<Value>(req).await)
        } else {
            Reply::User(client.call::<User>(common::get_user(id)).await)
        }
    })
}

async fn batch(
    case: &Case,
    backend: &Backend,
    client: &Arc<Client>,
    model: &mut Model,
    calls: &[Call],
    expire_mid: Option<u8>,
) -> Result<(), String> {
    let start = Batch {
        calls_before: model.calls,
        cancelled_before: model.cancelled,
        counters: backend.counters(),
        stats: client.stats(),
        chains: client.chain_status(),
        armed: model.armed,
        expire_mid: expire_mid.is_some(),
        expired_before: model.expired_since_batch,
        maybe_dead: model.maybe_dead,
    };

    let first_id = model.next_id;
    model.next_id += calls.len() as u64;
    model.calls += calls.len() as u64;
    model.cancelled += calls.iter().filter(|c| c.cancel.is_some()).count() as u64;
    let handles: Vec<_> = (first_id..)
        .zip(calls)
        .map(|(id, &call)| (call, id, spawn_call(client, call, id)))
        .collect();
    let cancellers: Vec<_> = handles
        .iter()
        .filter_map(|(call, _, h)| {
            let abort = h.abort_handle();
            call.cancel.map(|when| {
                tokio::spawn(async move {
                    match when {
                        Cancel::Yields(n) => {
                            for _ in 0..n {
                                tokio::task::yield_now().await;
                            }
                        }
                        Cancel::Millis(n) => tokio::time::sleep(Duration::from_millis(n.into())).await,
                    }
                    abort.abort();
                })
            })
        })
        .collect();
    if let Some(d) = expire_mid {
        if d == 0 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(d.into())).await;
        }
        backend.expire_all();
    }

    // Every call ends, each within its deadline.
    let mut done = Vec::with_capacity(calls.len());
    for (call, id, handle) in handles {
        let reply = match tokio::time::timeout(CALL_DEADLINE, handle).await {
            Ok(Ok(reply)) => Some(reply),
            Ok(Err(e)) if e.is_cancelled() => None,
            Ok(Err(e)) => return Err(format!("{call:?} #{id} panicked: {e}")),
            Err(_) => {
                return Err(format!(
                    "{call:?} #{id} did not end within {CALL_DEADLINE:?} (a hang)"
                ));
            }
        };
        done.push(Done { call, id, reply });
    }
    for c in cancellers {
        c.await.map_err(|e| format!("a canceller task failed: {e}"))?;
    }
    settle(backend, client).await?;

    // Disarm what the batch did not consume.
    backend.fail_next_logins(0);
    backend.abort_after_consume(0);
    backend.issue_expired_tokens(0);
    backend.delay_next_expired_replies(0, Duration::ZERO);
    backend.redirect_next(0, seamless_sdk_testkit::StatusCode::FOUND, "/");
    backend.oversize_next(0, 0, false);
    if start.armed.dead_tokens > 0 || start.expired_before || start.expire_mid {
        model.maybe_dead = true;
    }
    model.armed = Armed::default();
    model.expired_since_batch = false;

    let end = (backend.counters(), client.stats());
    start
        .check(case, &end.0, &end.1, &done)
        .map_err(|e| format!("{e}\n  calls: {done:?}"))
}

/// Waits until no chain is logging in, holds a token on the wire or has
/// parked callers, and no request holds a server session: with every call
/// ended, anything else is a stranded chain or a lost waiter.
async fn settle(backend: &Backend, client: &Client) -> Result<(), String> {
    let began = Instant::now();
    loop {
        let chains = client.chain_status();
        let busy = |s: &ChainStatus| s.logging_in || s.in_flight || s.waiters > 0;
        let holders = backend.current_holders();
        if !chains.iter().any(busy) && holders == 0 {
            return Ok(());
        }
        if began.elapsed() > SETTLE_DEADLINE {
            return Err(format!(
                "every call ended, but the client did not settle within {SETTLE_DEADLINE:?}: \
                 {holders} server holders, chains {chains:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The state when a batch started, and what could have hit it.
struct Batch {
    /// Calls (and cancelled calls) in the earlier batches.
    calls_before: u64,
    cancelled_before: u64,
    counters: Counters,
    stats: seamless_sdk::Stats,
    chains: Vec<ChainStatus>,
    armed: Armed,
    expire_mid: bool,
    /// An `expire_all` ran between the previous batch and this one.
    expired_before: bool,
    /// A chain may still hold a token that died before the last batch.
    maybe_dead: bool,
}

impl Batch {
    fn check(
        &self,
        case: &Case,
        end: &Counters,
        stats: &seamless_sdk::Stats,
        done: &[Done],
    ) -> Result<(), String> {
        let c0 = &self.counters;
        let seed = case.proto == Proto::Seed;
        let chains = case.chains as u64;
        let calls = done.len() as u64;
        let cancelled = done.iter().filter(|d| d.call.cancel.is_some()).count() as u64;
        let replays = u64::from(case.max_replays);

        // Bounded replays (F7, F11): no call is sent more than
        // 1 + max_replays times, whatever happened. Counted over the whole
        // case, because a cancelled call's last request may still reach the
        // server after its batch (the client dropped it, the bytes were
        // already on the way); per batch, with those stragglers allowed.
        let attempts = replays + 1;
        let total_calls = self.calls_before + calls;
        if end.requests > total_calls * attempts {
            return Err(format!(
                "{} requests for {total_calls} calls so far with max_replays = {replays}",
                end.requests
            ));
        }
        let requests = end.requests - c0.requests;
        if requests > calls * attempts + self.cancelled_before {
            return Err(format!(
                "{requests} requests for {calls} calls with max_replays = {replays} \
                 ({} cancelled calls before may have sent one late)",
                self.cancelled_before
            ));
        }
        let client_replays = stats.replays - self.stats.replays;
        if client_replays > calls * replays {
            return Err(format!(
                "{client_replays} replays for {calls} calls with max_replays = {replays}"
            ));
        }

        // Logins. A chain needs a login at the start of the batch if it has
        // no token, or (after an expiry or a dead login token) may hold a
        // dead one. During the batch, each of these can cost one more:
        // an expiry in the middle (per chain), a forced login failure (the
        // next attempt), a dead login token; with single-use tokens also a
        // dropped connection or a cancelled call (the token is spent).
        // The number of calls is not in the bound: N calls meeting one
        // expiry must cause one login per chain, not N (invariant 1, F4).
        let possibly_dead = self.expired_before || self.maybe_dead;
        let need = self
            .chains
            .iter()
            .filter(|s| !s.has_token || possibly_dead)
            .count() as u64;
        let bound = need
            + if self.expire_mid { chains } else { 0 }
            + u64::from(self.armed.fail_logins)
            + u64::from(self.armed.dead_tokens)
            + if seed {
                u64::from(self.armed.drops) + cancelled
            } else {
                0
            };
        let logins = (end.logins + end.refreshes) - (c0.logins + c0.refreshes);
        if logins > bound {
            return Err(format!(
                "{logins} logins; at most {bound} are explained ({need} chains needing one at the \
                 start, expiry in the middle: {}, armed: {:?}, {cancelled} cancelled calls)",
                self.expire_mid, self.armed
            ));
        }
        let failed = end.logins_failed - c0.logins_failed;
        if failed > u64::from(self.armed.fail_logins) {
            return Err(format!(
                "{failed} logins failed, {} failures were forced",
                self.armed.fail_logins
            ));
        }
        let client_logins = stats.logins - self.stats.logins;
        if client_logins != logins {
            return Err(format!(
                "the client started {client_logins} logins, the server saw {logins}"
            ));
        }

        // Outcomes.
        let cooling = self.chains.iter().any(|s| s.failed_logins_in_a_row > 0);
        let login_explained = self.armed.fail_logins > 0 || cooling;
        // How many of one call's attempts could have been spoilt: a dropped
        // connection, a dead login token, a token dead before the batch
        // (one per call: after meeting it the call's chain logs in), an
        // expiry in the middle.
        let disruptions = u64::from(self.armed.drops)
            + u64::from(self.armed.dead_tokens)
            + u64::from(possibly_dead)
            + u64::from(self.expire_mid);
        let attempts_spoilt = disruptions > replays;
        for d in done {
            let what = || format!("{:?} #{}", d.call, d.id);
            let executions = end.executions.get(&order_key(d.id)).copied().unwrap_or(0);
            let err = match &d.reply {
                None => continue,
                Some(Reply::User(Ok(user))) => {
                    if user.id != d.id || user.name != format!("user-{}", d.id) {
                        return Err(format!("{} got another call's reply: {user:?}", what()));
                    }
                    continue;
                }
                Some(Reply::Order(Ok(v))) => {
                    if executions != 1 || v["executions"] != 1 || v["order_id"] != order_key(d.id) {
                        return Err(format!(
                            "{} returned {v} but the server executed it {executions} times",
                            what()
                        ));
                    }
                    continue;
                }
                Some(Reply::User(Err(e)) | Reply::Order(Err(e))) => e,
            };
            // F2/F6/F10: a failed order ran only if its error says so, and
            // only a dropped connection may leave the outcome unknown.
            if d.call.order {
                if err.is_outcome_unknown() {
                    if self.armed.drops == 0 && !(err.is_redirect() && self.armed.redirects > 0) {
                        return Err(format!(
                            "{} ended with an unknown outcome, but no connection was dropped \
                             and no redirect armed: {err:?}",
                            what()
                        ));
                    }
                    continue;
                }
                // The server executed it and answered success, but the
                // reply was too long to read: said by the error's status.
                let answered = err.is_too_large() && err.status().is_some_and(|s| s.is_success());
                if executions != 0 && !answered {
                    return Err(format!(
                        "{} executed {executions} times but failed without saying its outcome is \
                         unknown: {err:?}",
                        what()
                    ));
                }
            }
            let explained = if err.is_login() {
                login_explained
            } else if err.is_expired() || err.is_transport() {
                attempts_spoilt
            } else if err.is_redirect() {
                self.armed.redirects > 0
            } else if err.is_too_large() {
                self.armed.oversize > 0
            } else {
                false
            };
            if !explained {
                return Err(format!(
                    "{} failed and nothing armed explains it: {err:?} (login failures explain \
                     it: {login_explained}; {disruptions} disruptions for {} attempts)",
                    what(),
                    replays + 1
                ));
            }
        }
        Ok(())
    }
}

/// The smallest schedule behind the first failure the random schedules
/// found, in every protocol, as a plain test that fails every time: two
/// chains, each warmed up by one of two concurrent calls, `expire_all`, then
/// one call. That call must meet one expired reply, log in and succeed on
/// the replay (docs/protocol.md, the seed's rule 5: log in once, replay,
/// and the caller does not notice); a replay sent on the other chain, whose
/// token died in the same expiry, ends it with "expired" and no login at all.
#[test]
fn one_expiry_across_several_chains_costs_a_call_one_replay() {
    let get = Call {
        order: false,
        cancel: None,
    };
    let batch = |n| Op::Batch {
        calls: vec![get; n],
        expire_mid: None,
    };
    let failures: Vec<String> = [Proto::Seed, Proto::Bearer, Proto::Query]
        .into_iter()
        .filter_map(|proto| {
            let case = Case {
                proto,
                chains: 2,
                max_replays: 1,
                backoff_ms: 0,
                ops: vec![batch(2), Op::ExpireAll, batch(1)],
            };
            RUNTIME.block_on(run(&case)).err()
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
