//! One named test per row of docs/faults.md (F1–F20), each against the loopback
//! testkit and asserting what the SERVER counted (logins, requests, expired
//! replies, token reuse, concurrent holders, executions), not only what the
//! client returned. Deadlines (`within`, `wait_until`) only prove that
//! something ends; nothing here asserts how fast.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{User, within};
use seamless_sdk::{Client, Error, FileStore, MemoryStore, Placement, Request, StoredSession, TokenStore};
use seamless_sdk_testkit::{Backend, Protocol, StatusCode};
use serde_json::{Value, json};

// ---------------------------------------------------------------- helpers

fn order(id: &str) -> Request {
    Request::post("/api/orders").json(&json!({ "order_id": id }))
}

/// Runs `calls` concurrently, each on its own task, and returns every result
/// in call order; a call that does not end within the deadline fails the test.
async fn concurrently<T>(
    client: &Arc<Client>,
    calls: impl IntoIterator<Item = Request>,
) -> Vec<Result<T, Error>>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    let tasks: Vec<_> = calls
        .into_iter()
        .map(|r| {
            let c = Arc::clone(client);
            tokio::spawn(async move { c.call::<T>(r).await })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(
            within(30, "a concurrent call", t)
                .await
                .expect("the call task panicked"),
        );
    }
    out
}

fn users(ids: std::ops::Range<u64>) -> impl Iterator<Item = Request> {
    ids.map(common::get_user)
}

/// Every result is a value; returns how many.
fn all_ok<T: std::fmt::Debug>(results: &[Result<T, Error>], what: &str) -> usize {
    for r in results {
        if let Err(e) = r {
            panic!("{what}: a call failed: {e:?}");
        }
    }
    results.len()
}

/// Remembers every token (access and refresh) that reached the store, in
/// order: by invariant 8 that is every token the client ever held.
#[derive(Default)]
struct Recording {
    inner: MemoryStore,
    tokens: Mutex<Vec<String>>,
    refresh: Mutex<Vec<String>>,
}

impl TokenStore for Recording {
    fn load(&self, chain: usize) -> std::io::Result<Option<StoredSession>> {
        self.inner.load(chain)
    }
    fn save(&self, chain: usize, s: &StoredSession) -> std::io::Result<()> {
        if let Some(t) = &s.token {
            let mut seen = self.tokens.lock().unwrap();
            if seen.last().map(String::as_str) != Some(t.expose()) {
                seen.push(t.expose().to_owned());
            }
        }
        if let Some(t) = &s.refresh_token {
            let mut seen = self.refresh.lock().unwrap();
            if !seen.iter().any(|x| x == t.expose()) {
                seen.push(t.expose().to_owned());
            }
        }
        self.inner.save(chain, s)
    }
}

impl Recording {
    fn all(&self) -> Vec<String> {
        let mut all = self.tokens.lock().unwrap().clone();
        all.extend(self.refresh.lock().unwrap().iter().cloned());
        all
    }
}

// ---------------------------------------------------------------- F1

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_concurrent_calls_on_single_use_chains_send_each_token_once_with_one_holder_per_chain() {
    for chains in [1, 4] {
        let backend = Backend::start(Protocol::Seed).await;
        // Slow replies keep the callers piled up on the chains.
        backend.delay_responses(Duration::from_millis(1));
        let client = Arc::new(common::seed(&backend).chains(chains).build().unwrap());
        // Cold (everyone parks behind the logins), then warm (callers race
        // for ready tokens).
        let cold = concurrently::<User>(&client, users(0..100)).await;
        let warm = concurrently::<User>(&client, users(100..200)).await;
        assert_eq!(all_ok(&cold, "cold") + all_ok(&warm, "warm"), 200);
        let c = backend.counters();
        assert_eq!(c.requests, 200, "chains={chains}: every call sent once: {c:?}");
        assert_eq!(c.token_reuse, 0, "chains={chains}: a token was sent twice: {c:?}");
        assert_eq!(c.expired_replies, 0, "chains={chains}: {c:?}");
        assert_eq!(
            c.max_concurrent_holders, 1,
            "chains={chains}: two holders on one chain: {c:?}"
        );
        assert!(
            c.max_concurrent_requests <= chains as u64,
            "chains={chains}: more requests in flight than chains: {c:?}"
        );
        assert!(
            c.logins >= 1 && c.logins <= chains as u64,
            "chains={chains}: {c:?}"
        );
        let status = client.chain_status();
        assert!(
            status.iter().all(|s| !s.in_flight && s.waiters == 0),
            "nothing left parked or held: {status:?}"
        );
    }
}

// ---------------------------------------------------------------- F2

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f2_a_lost_response_spends_the_token_and_only_idempotent_calls_are_replayed_with_a_new_token() {
    // Each way a response can be lost after the request was written.
    for fault in ["reset", "stall", "truncate"] {
        let backend = Backend::start(Protocol::Seed).await;
        let client = common::seed(&backend)
            .request_timeout(Some(Duration::from_millis(300)))
            .build()
            .unwrap();
        common::user(&client, 0).await.unwrap();
        let arm = |b: &Backend| match fault {
            "reset" => b.abort_after_consume(1),
            "stall" => b.stall_next(1),
            _ => b.truncate_next(1),
        };
        // A truncated reply still delivered the next token in its headers;
        // the other two leave the chain without one: it must log in again.
        let relogin = u64::from(fault != "truncate");

        // Idempotent GET: replayed once, with a new token.
        backend.reset_counters();
        arm(&backend);
        let user = within(10, "the GET", common::user(&client, 1)).await;
        assert_eq!(user.unwrap().id, 1, "{fault}");
        let c = backend.counters();
        assert_eq!(c.requests, 2, "{fault}: one send, one replay: {c:?}");
        assert_eq!(c.token_reuse, 0, "{fault}: the spent token was resent: {c:?}");
        assert_eq!(c.expired_replies, 0, "{fault}: {c:?}");
        assert_eq!(c.logins, relogin, "{fault}: {c:?}");

        // Non-idempotent POST: outcome unknown, executed once, never resent.
        backend.reset_counters();
        arm(&backend);
        let err = within(10, "the POST", client.call::<Value>(order(fault)))
            .await
            .unwrap_err();
        assert!(err.is_outcome_unknown(), "{fault}: {err:?}");
        let c = backend.counters();
        assert_eq!(c.executions.get(fault), Some(&1), "{fault}: {c:?}");
        assert_eq!(c.requests, 1, "{fault}: the POST was resent: {c:?}");

        // The chain goes on: without resending the spent token.
        common::user(&client, 2).await.unwrap();
        let c = backend.counters();
        assert_eq!(c.requests, 2, "{fault}: {c:?}");
        assert_eq!((c.token_reuse, c.expired_replies), (0, 0), "{fault}: {c:?}");
        assert_eq!(c.logins, relogin, "{fault}: {c:?}");
    }
}

// ---------------------------------------------------------------- F3

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f3_a_caller_dropped_while_its_request_is_in_flight_still_gets_the_next_token_recorded() {
    // Dropped while its request is in flight: the request goes on without
    // the caller, and the next token it carries back is recorded, so the
    // next call needs no login and resends nothing.
    let backend = Backend::start(Protocol::Seed).await;
    let client = Arc::new(common::seed(&backend).build().unwrap());
    common::user(&client, 0).await.unwrap();
    backend.reset_counters();
    backend.delay_responses(Duration::from_millis(300));
    let doomed = {
        let c = Arc::clone(&client);
        tokio::spawn(async move { c.call::<Value>(order("dropped")).await })
    };
    common::wait_until(10, "the doomed call to consume its token", || {
        backend.current_holders() == 1
    })
    .await;
    doomed.abort();
    backend.delay_responses(Duration::ZERO);
    within(10, "the call after the dropped one", common::user(&client, 1))
        .await
        .unwrap();
    let c = backend.counters();
    assert_eq!(c.token_reuse, 0, "{c:?}");
    assert_eq!(c.expired_replies, 0, "the spent token was resent: {c:?}");
    assert_eq!(
        c.logins, 0,
        "the dropped call's next token was lost, so the chain logged in again: {c:?}"
    );
    assert_eq!(client.stats().lost_successors, 0, "{:?}", client.stats());
    assert_eq!(
        c.executions.get("dropped"),
        Some(&1),
        "the dropped call's request did not go on: {c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f3_a_caller_dropped_while_leading_the_login_leaves_the_login_running_for_every_other_waiter() {
    // Dropped while it leads the login: the login goes on in its own task
    // and its result reaches every other waiter.
    let backend = Backend::start(Protocol::Seed).await;
    backend.delay_logins(Duration::from_millis(200));
    let client = Arc::new(common::seed(&backend).build().unwrap());
    let leader = {
        let c = Arc::clone(&client);
        tokio::spawn(async move { common::user(&c, 0).await })
    };
    common::wait_until(10, "the login to start", || backend.counters().logins >= 1).await;
    let waiters = {
        let c = Arc::clone(&client);
        tokio::spawn(async move { concurrently::<User>(&c, users(1..20)).await })
    };
    common::wait_until(10, "the waiters to park", || {
        client.chain_status()[0].waiters >= 2
    })
    .await;
    leader.abort();
    let results = within(10, "the waiters", waiters).await.unwrap();
    assert_eq!(all_ok(&results, "waiters of a dropped leader"), 19);
    let c = backend.counters();
    assert_eq!(c.logins, 1, "{c:?}");
    assert_eq!((c.token_reuse, c.expired_replies), (0, 0), "{c:?}");
    assert_eq!(c.requests, 19, "{c:?}");
    let s = &client.chain_status()[0];
    assert!(!s.logging_in && s.waiters == 0 && s.has_token, "{s:?}");
}

// ---------------------------------------------------------------- F4

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f4_a_hundred_calls_meeting_one_expiry_cause_exactly_one_login_per_protocol() {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = Arc::new(common::builder(name, &backend).build().unwrap());
        common::user(&client, 0).await.unwrap();
        backend.expire_all();
        backend.reset_counters();
        // Hold the expired replies back so that many calls meet the dead token.
        backend.delay_next_expired_replies(100, Duration::from_millis(100));
        let results = concurrently::<User>(&client, users(1..101)).await;
        assert_eq!(all_ok(&results, name), 100);
        let c = backend.counters();
        assert_eq!(
            c.logins + c.refreshes,
            1,
            "{name}: one login for one generation: {c:?}"
        );
        let s = client.stats();
        assert_eq!(
            (s.full_logins + s.refreshes, s.refresh_refusals),
            (2, 0),
            "{name}: the first login and one re-login: {s:?}"
        );
        assert_eq!(c.token_reuse, 0, "{name}: {c:?}");
        assert!(c.expired_replies >= 1, "{name}: nobody met the expiry: {c:?}");
        assert_eq!(
            c.requests,
            100 + c.expired_replies,
            "{name}: each call that met the expiry is replayed exactly once: {c:?}"
        );
        if name == "seed" {
            // Single use: only the one holder can meet the dead token.
            assert_eq!(c.expired_replies, 1, "{c:?}");
        }
        assert_eq!(c.logins_with_token, 0, "{name}: {c:?}");
    }
}

// ---------------------------------------------------------------- F5

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f5_a_stale_expiry_for_an_already_replaced_token_causes_no_login_only_a_replay() {
    // Only the reusable protocols can see a stale expiry: with single-use
    // tokens one request holds the chain, so every 408 is the current
    // generation's (F4 checks that one).
    for name in ["bearer", "query"] {
        let backend = common::start(name).await;
        let client = Arc::new(common::builder(name, &backend).build().unwrap());
        common::user(&client, 0).await.unwrap();
        backend.expire_all();
        backend.reset_counters();
        // The slow caller's expiry reply is held back until the fast caller
        // has already logged in again: it reports a replaced token.
        backend.delay_next_expired_replies(1, Duration::from_millis(300));
        let slow = {
            let c = Arc::clone(&client);
            tokio::spawn(async move { common::user(&c, 1).await })
        };
        common::wait_until(10, "the slow call to reach the server", || {
            backend.counters().requests >= 1
        })
        .await;
        common::user(&client, 2).await.unwrap();
        let c = backend.counters();
        assert_eq!(c.logins + c.refreshes, 1, "{name}: {c:?}");
        assert_eq!(within(10, "the stale caller", slow).await.unwrap().unwrap().id, 1);
        let c = backend.counters();
        assert_eq!(
            c.logins + c.refreshes,
            1,
            "{name}: the stale expiry caused a login: {c:?}"
        );
        assert_eq!(c.expired_replies, 2, "{name}: {c:?}");
        assert_eq!(c.requests, 4, "{name}: each caller replayed once: {c:?}");
        assert_eq!(c.token_reuse, 0, "{name}: {c:?}");
        // The fast caller's expiry was current (one paid replay), the slow
        // caller's stale (free).
        let stats = client.stats();
        assert_eq!(
            (stats.expiry_replays, stats.stale_replays),
            (1, 1),
            "{name}: {stats:?}"
        );
    }
}

// ---------------------------------------------------------------- F6

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f6_a_failed_login_reaches_every_waiter_once_then_cools_down_observably_and_recovers() {
    let cases = [
        ("seed", "bad credentials"),
        ("seed", "http 503"),
        ("seed", "timeout"),
        ("bearer", "http 503"),
        ("query", "http 503"),
    ];
    for (name, kind) in cases {
        let what = format!("{name}/{kind}");
        let backend = common::start(name).await;
        let client = Arc::new(
            common::builder(name, &backend)
                .login_timeout(Duration::from_millis(300))
                .login_backoff(Duration::from_millis(500), Duration::from_secs(2))
                .build()
                .unwrap(),
        );
        match kind {
            "bad credentials" => backend.fail_next_logins(1),
            "http 503" => backend.fail_next_logins_with_status(1, StatusCode::SERVICE_UNAVAILABLE),
            _ => {}
        }
        // Slow logins keep all callers parked on the one login; a timeout
        // case's login outlives the client's login timeout.
        backend.delay_logins(if kind == "timeout" {
            Duration::from_secs(3)
        } else {
            Duration::from_millis(100)
        });
        let results = concurrently::<User>(&client, users(0..20)).await;
        let errors: Vec<Error> = results.into_iter().map(|r| r.unwrap_err()).collect();
        let first = errors[0].login_error().expect("a login error");
        for e in &errors {
            assert!(e.is_login(), "{what}: {e:?}");
            assert!(
                std::ptr::eq(e.login_error().unwrap(), first),
                "{what}: waiters got different errors: {e:?}"
            );
            if kind == "timeout" {
                assert!(e.is_timeout(), "{what}: {e:?}");
            }
            if kind == "http 503" {
                assert_eq!(e.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{what}: {e:?}");
            }
        }
        let c = backend.counters();
        assert_eq!(c.logins, 1, "{what}: 20 waiters, one login: {c:?}");
        assert_eq!(c.requests, 0, "{what}: {c:?}");

        // The state is observable.
        let s = client.chain_status().remove(0);
        assert_eq!(s.failed_logins_in_a_row, 1, "{what}: {s:?}");
        assert!(s.login_blocked_for.is_some(), "{what}: {s:?}");
        assert!(!s.logging_in && !s.has_token && s.waiters == 0, "{what}: {s:?}");
        let last = s.last_login_error.as_ref().expect("the last error");
        assert!(std::ptr::eq(&**last, first), "{what}: {s:?}");

        // Inside the cool-down: the same error at once, no login.
        for i in 0..5 {
            let e = within(10, "a call in the cool-down", common::user(&client, 100 + i))
                .await
                .unwrap_err();
            assert!(std::ptr::eq(e.login_error().unwrap(), first), "{what}: {e:?}");
        }
        assert_eq!(
            backend.counters().logins,
            1,
            "{what}: a login during the cool-down"
        );

        // After it, a call recovers with one fresh login.
        backend.delay_logins(Duration::ZERO);
        common::wait_until(10, "the cool-down to pass", || {
            client.chain_status()[0].login_blocked_for.is_none()
        })
        .await;
        common::user(&client, 200)
            .await
            .expect("a fresh login after the cool-down");
        let c = backend.counters();
        assert_eq!(c.logins, 2, "{what}: {c:?}");
        assert_eq!(c.token_reuse, 0, "{what}: {c:?}");
        let s = client.chain_status().remove(0);
        assert_eq!(s.failed_logins_in_a_row, 0, "{what}: {s:?}");
        assert!(
            s.last_login_error.is_none() && s.login_blocked_for.is_none(),
            "{what}: {s:?}"
        );
    }
}

/// Issue 12, item 2: with 4 chains and one failed login, a burst of calls
/// must go to the 3 healthy chains. The cooling chain has no waiters, so it
/// looked the least busy and every call sent there failed fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f6_a_chain_cooling_down_takes_no_call_a_healthy_chain_could_serve() {
    let backend = Backend::start(Protocol::Seed).await;
    // Long enough that the failed chain cools down through the whole burst.
    let client = Arc::new(
        common::seed(&backend)
            .chains(4)
            .login_backoff(Duration::from_secs(600), Duration::from_secs(600))
            .build()
            .unwrap(),
    );
    backend.fail_next_logins(1);
    // One call per chain, in turn: the first chain's login fails.
    assert!(common::user(&client, 0).await.unwrap_err().is_login());
    for i in 1..4 {
        common::user(&client, i).await.unwrap();
    }
    let cooling: Vec<_> = client
        .chain_status()
        .iter()
        .map(|s| s.login_blocked_for.is_some())
        .collect();
    assert_eq!(cooling.iter().filter(|&&c| c).count(), 1, "{cooling:?}");
    // Chains the warm-up never needed log in lazily during the burst.
    let untouched = client
        .chain_status()
        .iter()
        .filter(|s| s.generation == 0 && s.login_blocked_for.is_none())
        .count() as u64;
    backend.reset_counters();
    let calls: Vec<_> = (100..150)
        .map(|i| {
            let c = Arc::clone(&client);
            tokio::spawn(async move { (i, common::user(&c, i).await) })
        })
        .collect();
    let mut failed = Vec::new();
    for call in calls {
        let (i, r) = within(30, "a burst call", call).await.unwrap();
        match r {
            Ok(user) => assert_eq!(user.id, i),
            Err(e) => failed.push(format!("{i}: {e}")),
        }
    }
    assert!(
        failed.is_empty(),
        "{} of 50 calls failed: {failed:?}",
        failed.len()
    );
    let c = backend.counters();
    assert_eq!(c.requests, 50, "{c:?}");
    assert_eq!(c.logins, untouched, "the cooling chain started no login: {c:?}");
    assert_eq!(c.logins_failed, 0, "{c:?}");
    assert_eq!(c.expired_replies, 0, "{c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
    // Still cooling: it took no call.
    assert!(
        client
            .chain_status()
            .iter()
            .any(|s| s.login_blocked_for.is_some())
    );
}

// ---------------------------------------------------------------- F7

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f7_a_rejected_fresh_token_gets_one_relogin_and_one_replay_then_a_typed_error_and_logins_bypass_auth()
{
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend).build().unwrap();
        common::user(&client, 0).await.unwrap();
        backend.expire_all();
        // Every login now hands out a dead token.
        backend.issue_expired_tokens(100);
        backend.reset_counters();
        let err = within(10, "a call against dead tokens", common::user(&client, 1))
            .await
            .unwrap_err();
        assert!(err.is_expired(), "{name}: {err:?}");
        let c = backend.counters();
        assert_eq!(c.requests, 2, "{name}: one send and one replay, no loop: {c:?}");
        assert_eq!(c.expired_replies, 2, "{name}: {c:?}");
        assert_eq!(c.logins + c.refreshes, 1, "{name}: one re-login: {c:?}");
        assert_eq!(c.token_reuse, 0, "{name}: {c:?}");
        // The login is not an authorized call: it carried no API token
        // although the client held one (dead) when it started.
        assert_eq!(
            c.logins_with_token, 0,
            "{name}: the login went through the auth layer: {c:?}"
        );

        // Not poisoned: with live tokens again, the next call works.
        backend.issue_expired_tokens(0);
        common::user(&client, 2).await.unwrap();
        let c = backend.counters();
        assert_eq!(c.logins + c.refreshes, 2, "{name}: {c:?}");
        assert_eq!((c.token_reuse, c.logins_with_token), (0, 0), "{name}: {c:?}");
    }
}

// ---------------------------------------------------------------- F8

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f8_a_replay_is_stamped_with_the_new_token_at_send_time_and_keeps_the_body() {
    let body = json!({"x": 1, "nested": {"list": [1, 2, 3], "s": "ünïcode"}});
    for placement in ["header", "json body"] {
        let backend = Backend::start(Protocol::Seed).await;
        let store = Arc::new(Recording::default());
        let mut builder = common::seed(&backend).store(Arc::clone(&store));
        if placement == "json body" {
            builder = builder.placement(Placement::json_body("token"));
        }
        let client = builder.build().unwrap();
        common::user(&client, 0).await.unwrap();
        let dead = store.tokens.lock().unwrap().last().cloned().expect("a token");
        backend.expire_all();
        backend.reset_counters();
        let echoed: Value = client.call(Request::post("/api/echo").json(&body)).await.unwrap();
        let c = backend.counters();
        // The first attempt carried the dead token (refused, not executed);
        // the replay carried a new one (accepted). Resending the dead one
        // would have been refused again.
        assert_eq!(c.requests, 2, "{placement}: {c:?}");
        assert_eq!(c.expired_replies, 1, "{placement}: {c:?}");
        assert_eq!((c.logins, c.token_reuse), (1, 0), "{placement}: {c:?}");
        let mut echoed = echoed;
        if placement == "json body" {
            let sent = echoed
                .as_object_mut()
                .unwrap()
                .remove("token")
                .expect("the token in the body");
            assert_ne!(sent, json!(dead), "the replay carried the old token");
            let tokens = store.tokens.lock().unwrap();
            assert!(
                tokens.iter().any(|t| json!(t) == sent),
                "the replay's token is the fresh one"
            );
        }
        assert_eq!(
            echoed, body,
            "{placement}: the caller's body did not survive the replay"
        );
    }
}

// ---------------------------------------------------------------- F9

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f9_calls_queued_during_a_login_are_each_replayed_exactly_once_and_get_their_own_reply() {
    const N: usize = 20;
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = Arc::new(common::builder(name, &backend).build().unwrap());
        common::user(&client, 0).await.unwrap();
        backend.expire_all();
        backend.reset_counters();
        // All N non-idempotent calls go out on the dead token; their expiry
        // replies come back together while the one login runs.
        backend.delay_next_expired_replies(N as u32, Duration::from_millis(500));
        backend.delay_logins(Duration::from_millis(100));
        let ids: Vec<String> = (0..N).map(|i| format!("{name}-{i}")).collect();
        let results = concurrently::<Value>(&client, ids.iter().map(|id| order(id))).await;
        for (id, r) in ids.iter().zip(&results) {
            let v = r.as_ref().unwrap_or_else(|e| panic!("{name}: {id}: {e:?}"));
            assert_eq!(
                v["order_id"],
                json!(id),
                "{name}: a reply went to the wrong caller"
            );
            assert_eq!(v["executions"], 1, "{name}: {id}");
        }
        let c = backend.counters();
        assert_eq!(c.executions.len(), N, "{name}: {c:?}");
        assert!(c.executions.values().all(|&n| n == 1), "{name}: {c:?}");
        assert_eq!(c.logins + c.refreshes, 1, "{name}: {c:?}");
        assert_eq!(c.token_reuse, 0, "{name}: {c:?}");
        if name == "seed" {
            // Single use: only the holder met the dead token; the others
            // queued without sending and went out once each afterwards.
            assert_eq!((c.expired_replies, c.requests), (1, N as u64 + 1), "{c:?}");
        } else {
            assert_eq!(c.expired_replies, N as u64, "{name}: {c:?}");
            assert_eq!(c.requests, 2 * N as u64, "{name}: each call replayed once: {c:?}");
        }
        let s = client.stats();
        assert_eq!(
            s.expiry_replays + s.stale_replays,
            c.expired_replies,
            "{name}: {s:?}"
        );
    }
}

// ---------------------------------------------------------------- F10

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f10_a_non_idempotent_call_is_replayed_only_when_an_expiry_proves_it_did_not_run_or_it_is_marked_idempotent()
 {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend).build().unwrap();
        common::user(&client, 0).await.unwrap();

        // The expiry reply proves it did not run: replayed, runs once.
        backend.expire_all();
        backend.reset_counters();
        let v: Value = client.call(order("expired")).await.unwrap();
        assert_eq!(v["executions"], 1, "{name}");
        let c = backend.counters();
        assert_eq!((c.requests, c.expired_replies), (2, 1), "{name}: {c:?}");
        assert_eq!(c.executions.get("expired"), Some(&1), "{name}: {c:?}");

        // A dropped connection proves nothing: outcome unknown, not resent.
        backend.reset_counters();
        backend.abort_after_consume(1);
        let err = client.call::<Value>(order("dropped")).await.unwrap_err();
        assert!(err.is_outcome_unknown(), "{name}: {err:?}");
        let c = backend.counters();
        assert_eq!(
            (c.requests, c.executions.get("dropped")),
            (1, Some(&1)),
            "{name}: {c:?}"
        );

        // Marked idempotent by the caller: replayed (it runs twice, which
        // the caller declared harmless), with a new token.
        backend.reset_counters();
        backend.abort_after_consume(1);
        let v: Value = client.call(order("marked").idempotent(true)).await.unwrap();
        assert_eq!(v["executions"], 2, "{name}");
        let c = backend.counters();
        assert_eq!(c.requests, 2, "{name}: {c:?}");
        assert_eq!((c.token_reuse, c.expired_replies), (0, 0), "{name}: {c:?}");
    }
}

// ---------------------------------------------------------------- F11

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f11_one_retry_owner_caps_attempts_at_max_replays_plus_one_with_no_hidden_lower_retries() {
    for name in common::PROTOCOLS {
        for k in [0u32, 1, 3] {
            let backend = common::start(name).await;
            let client = common::builder(name, &backend).max_replays(k).build().unwrap();
            // The server drops every request after consuming its token.
            backend.abort_after_consume(100);
            let err = within(10, "a call against a dropping server", common::user(&client, 1))
                .await
                .unwrap_err();
            assert!(
                err.is_transport() && !err.is_outcome_unknown(),
                "{name} k={k}: {err:?}"
            );
            let c = backend.counters();
            assert_eq!(
                c.requests,
                u64::from(k) + 1,
                "{name} k={k}: attempts not capped: {c:?}"
            );
            assert_eq!((c.token_reuse, c.expired_replies), (0, 0), "{name} k={k}: {c:?}");
            // Single use: every dropped reply spent its token, so each
            // attempt needed its own login; reusable tokens survive.
            let logins = if name == "seed" { u64::from(k) + 1 } else { 1 };
            assert_eq!(c.logins, logins, "{name} k={k}: {c:?}");
            assert_eq!(client.stats().transport_replays, u64::from(k), "{name} k={k}");

            // Not idempotent: never resent, whatever the cap.
            backend.reset_counters();
            let err = client.call::<Value>(order("o")).await.unwrap_err();
            assert!(err.is_outcome_unknown(), "{name} k={k}: {err:?}");
            assert_eq!(backend.counters().requests, 1, "{name} k={k}");
        }
    }
}

// ---------------------------------------------------------------- F12

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f12_a_real_http_408_or_503_from_a_proxy_is_a_typed_status_error_and_never_resends_the_token() {
    for name in common::PROTOCOLS {
        for status in [StatusCode::REQUEST_TIMEOUT, StatusCode::SERVICE_UNAVAILABLE] {
            let what = format!("{name}/{}", status.as_u16());
            let backend = common::start(name).await;
            // Transient retries off: the status itself is the subject here.
            let client = common::builder(name, &backend)
                .retry(seamless_sdk::RetryPolicy::none())
                .build()
                .unwrap();
            common::user(&client, 0).await.unwrap();
            for req in [common::get_user(1), order("o")] {
                backend.reset_counters();
                backend.reply_status_next(1, status);
                let err = client.call::<Value>(req).await.unwrap_err();
                assert!(err.is_status() && !err.is_expired(), "{what}: {err:?}");
                assert_eq!(err.status(), Some(status), "{what}");
                let c = backend.counters();
                assert_eq!(c.requests, 1, "{what}: resent after a proxy status: {c:?}");
                assert_eq!(c.expired_replies, 0, "{what}: {c:?}");
                assert!(c.executions.is_empty(), "{what}: {c:?}");
                // The next call carries a usable token (seed: the consumed
                // one is never resent; a login replaces it).
                common::user(&client, 2).await.unwrap();
                let c = backend.counters();
                assert_eq!((c.token_reuse, c.expired_replies), (0, 0), "{what}: {c:?}");
                assert_eq!(c.logins, u64::from(name == "seed"), "{what}: {c:?}");
            }
        }
    }
}

/// With the default retry policy the one owner of resends retries a 503 on
/// an idempotent call, with a token of its moment (seed: a new one after
/// the login the proxy's page made necessary), and still never resends a
/// `POST` without an idempotency key, nor the spent token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f12_the_retry_policy_retries_a_503_on_a_get_with_a_fresh_token_and_never_a_keyless_post() {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend)
            .retry(seamless_sdk::RetryPolicy::default().backoff(Duration::ZERO, Duration::ZERO))
            .build()
            .unwrap();
        common::user(&client, 0).await.unwrap();
        backend.reset_counters();
        backend.reply_status_next(1, StatusCode::SERVICE_UNAVAILABLE);
        let user = common::user(&client, 1).await.unwrap();
        assert_eq!(user.id, 1, "{name}");
        let c = backend.counters();
        assert_eq!((c.requests, c.token_reuse), (2, 0), "{name}: {c:?}");
        assert_eq!(client.stats().transient_retries, 1, "{name}");

        backend.reset_counters();
        backend.reply_status_next(1, StatusCode::SERVICE_UNAVAILABLE);
        let err = client.call::<Value>(order("o")).await.unwrap_err();
        assert_eq!(
            err.status(),
            Some(StatusCode::SERVICE_UNAVAILABLE),
            "{name}: {err:?}"
        );
        assert_eq!(
            backend.counters().requests,
            1,
            "{name}: a keyless POST was resent"
        );
    }
}

// ---------------------------------------------------------------- F13

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f13_not_applicable_request_bodies_are_buffered_json_so_a_replay_resends_the_identical_body() {
    // `Request` has no streaming body: `Request::json` serializes into a
    // buffered `serde_json::Value` kept with the request's parts, and every
    // attempt serializes that same value again. So there is no streaming
    // body to refuse; what must hold instead is that a replay sends exactly
    // the body of the first attempt, large ones included.
    let big = "x".repeat(512 * 1024);
    let body = json!({
        "big": big,
        "numbers": [0, -1, 1.5, 9007199254740993_u64],
        "text": "a\u{0}b\"c\\d ünïcode",
        "empty": {},
        "null": null,
    });
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend).build().unwrap();
        common::user(&client, 0).await.unwrap();
        backend.expire_all();
        backend.reset_counters();
        let echoed: Value = client.call(Request::post("/api/echo").json(&body)).await.unwrap();
        let c = backend.counters();
        assert_eq!(
            (c.requests, c.expired_replies),
            (2, 1),
            "{name}: not a replay: {c:?}"
        );
        let mut echoed = echoed;
        if let Some(map) = echoed.as_object_mut() {
            // The query envelope merges its fields into the value.
            map.remove("errcode");
            map.remove("errmsg");
        }
        assert_eq!(echoed, body, "{name}: the replay changed the body");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f13_a_streaming_reply_past_the_body_limit_is_a_typed_error_never_a_resend_or_a_hang() {
    // The streaming side the runtime does have: reply bodies. A chunked
    // body with no length that never ends (64 GiB) is read only up to the
    // limit, then refused with a typed error; the call is not resent (the
    // POST executed once) and the chain goes on (seed: the successor came
    // with the headers, so no login).
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend)
            .max_response_bytes(1 << 20)
            .build()
            .unwrap();
        common::user(&client, 0).await.unwrap();
        backend.reset_counters();
        backend.oversize_next(1, 64 << 30, false);
        let err = within(
            20,
            "a call with an endless reply",
            client.call::<Value>(order("f13")),
        )
        .await
        .unwrap_err();
        assert!(err.is_too_large() && !err.is_outcome_unknown(), "{name}: {err:?}");
        assert_eq!(err.status(), Some(StatusCode::OK), "{name}");
        common::user(&client, 1).await.unwrap();
        let c = backend.counters();
        assert_eq!(c.requests, 2, "{name}: resent: {c:?}");
        assert_eq!(c.executions.get("f13"), Some(&1), "{name}: {c:?}");
        assert_eq!(
            (c.logins, c.token_reuse, c.expired_replies),
            (0, 0, 0),
            "{name}: {c:?}"
        );
    }
}

// ---------------------------------------------------------------- F14

#[tokio::test]
async fn f14_a_reuse_revoked_session_family_costs_one_relogin_no_loop_and_a_refused_refresh_is_a_security_event()
 {
    let log = common::LogBuffer::default();
    let _capture = log.capture();
    let outsider = seamless_sdk::__private::reqwest::Client::new();

    // Seed: an outsider replays a spent token; the server revokes the family.
    let backend = Backend::start(Protocol::Seed).await;
    backend.revoke_family_on_reuse(true);
    let store = Arc::new(Recording::default());
    let client = common::seed(&backend).store(Arc::clone(&store)).build().unwrap();
    common::user(&client, 0).await.unwrap();
    let spent = store.tokens.lock().unwrap()[0].clone();
    backend.reset_counters();
    let stolen = outsider
        .get(format!("{}/api/ping", backend.url()))
        .header("B-T", &spent)
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.json::<Value>().await.unwrap()["code"], 408);
    assert_eq!(backend.counters().token_reuse, 1);
    // The client's live token died with the family: one re-login, one replay.
    within(10, "the call after the revocation", common::user(&client, 1))
        .await
        .unwrap();
    for i in 2..5 {
        common::user(&client, i).await.unwrap();
    }
    let c = backend.counters();
    assert_eq!(c.logins, 1, "{c:?}");
    assert_eq!(c.token_reuse, 1, "only the outsider's: {c:?}");
    assert_eq!(
        c.expired_replies, 2,
        "the outsider's and the client's dead token: {c:?}"
    );
    assert_eq!(c.requests, 1 + 2 + 3, "{c:?}");

    // Bearer: the outsider replays a spent refresh token; the client's own
    // refresh token is revoked with the family, refused once (a security
    // event), and one full login follows.
    let backend = common::start("bearer").await;
    backend.revoke_family_on_reuse(true);
    let store = Arc::new(Recording::default());
    let client = common::bearer(&backend)
        .store(Arc::clone(&store))
        .build()
        .unwrap();
    common::user(&client, 0).await.unwrap();
    backend.expire_all();
    common::user(&client, 1).await.unwrap();
    assert_eq!(backend.counters().refreshes, 1, "the refresh rotated");
    let spent = store.refresh.lock().unwrap()[0].clone();
    backend.reset_counters();
    let stolen = outsider
        .post(format!("{}/oauth/token", backend.url()))
        .json(&json!({"grant_type": "refresh_token", "refresh_token": spent}))
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status().as_u16(), 400);
    within(10, "the call after the revocation", common::user(&client, 2))
        .await
        .unwrap();
    common::user(&client, 3).await.unwrap();
    let c = backend.counters();
    assert_eq!(c.token_reuse, 1, "only the outsider's: {c:?}");
    assert_eq!(
        c.refreshes, 2,
        "the outsider's and the client's refused one: {c:?}"
    );
    assert_eq!(c.logins, 1, "one full login: {c:?}");
    assert_eq!(c.requests, 3, "{c:?}");
    assert_eq!(client.stats().refresh_refusals, 1);
    let log = log.text();
    assert!(
        log.lines().any(|l| l.contains("WARN")
            && l.contains("refresh token refused")
            && l.contains("security=true")),
        "no security event in:\n{log}"
    );
}

// ---------------------------------------------------------------- F15

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f15_a_second_owner_of_one_token_store_file_is_refused_and_resumes_once_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.json");
    let backend = Backend::start(Protocol::Seed).await;
    let first = common::seed(&backend)
        .store(FileStore::new(&path))
        .build()
        .unwrap();
    for i in 0..3 {
        common::user(&first, i).await.unwrap();
    }
    let err = common::seed(&backend)
        .store(FileStore::new(&path))
        .build()
        .expect_err("two owners of one single-use chain");
    assert!(err.is_store(), "{err:?}");
    let io = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .expect("an io error");
    assert_eq!(io.kind(), std::io::ErrorKind::WouldBlock, "{io}");
    let c = backend.counters();
    assert_eq!(
        (c.logins, c.requests),
        (1, 3),
        "the refused owner talked to the server: {c:?}"
    );

    // The first owner goes away: the second resumes its session, no login.
    drop(first);
    backend.reset_counters();
    let second = common::seed(&backend)
        .store(FileStore::new(&path))
        .build()
        .unwrap();
    for i in 0..3 {
        common::user(&second, i).await.unwrap();
    }
    let c = backend.counters();
    assert_eq!(c.logins, 0, "{c:?}");
    assert_eq!((c.token_reuse, c.expired_replies, c.requests), (0, 0, 3), "{c:?}");
}

// ---------------------------------------------------------------- F16

/// Calls `GET /api/users/{i}` `n` times, each after the previous one's
/// connection has been idle for about `keep_alive` (swept from 1 ms before it
/// to 3 ms after, busy-waiting because tokio's timer is too coarse), so a
/// request meets the server closing its pooled connection; stops early once
/// `races` calls have met one (seen as a replay). Every call must succeed.
async fn around_keep_alive(client: &Client, keep_alive: Duration, n: u64, races: u64) {
    for i in 0..n {
        common::user(client, i).await.unwrap();
        if client.stats().transport_replays >= races {
            return;
        }
        let offset = Duration::from_micros((i % 80) * 50);
        let until = std::time::Instant::now() + keep_alive - Duration::from_millis(1) + offset;
        while std::time::Instant::now() < until {
            std::hint::spin_loop();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f16_a_keep_alive_close_racing_a_request_reuses_no_token_and_a_short_pool_idle_timeout_avoids_it() {
    // The hazard, with the runtime's own client: its pool keeps idle
    // connections 30 s, the server only 100 ms, and requests go out just as
    // the server closes. The request was written (so the single-use token
    // counts as spent: one login) but never read by the server; the GET is
    // replayed. No token is presented twice, no call fails.
    // 100 ms rather than less: the second half must not race, and it races
    // only when the client stalls for the gap between the pool's idle
    // timeout and the server's keep-alive, which a loaded 2-core CI machine
    // did for 25 ms but not for 95.
    let keep_alive = Duration::from_millis(100);
    let backend = Backend::start(Protocol::Seed).await;
    backend.keep_alive(keep_alive);
    let client = common::seed(&backend).build().unwrap();
    around_keep_alive(&client, keep_alive, 400, 3).await;
    let s = client.stats();
    let c = backend.counters();
    assert!(
        s.transport_replays >= 1,
        "no request met a closing connection: {s:?} {c:?}"
    );
    assert!(c.idle_closes >= s.transport_replays, "{s:?} {c:?}");
    assert_eq!((c.token_reuse, c.expired_replies), (0, 0), "{c:?}");
    assert_eq!(
        s.lost_successors, s.transport_replays,
        "each race spends one token: {s:?}"
    );
    assert_eq!(
        c.logins,
        1 + s.lost_successors,
        "one login per spent token: {s:?} {c:?}"
    );
    assert_eq!(c.max_concurrent_holders, 1, "{c:?}");

    // The advice, through the runtime's builder: a pool idle timeout below
    // the server's keep-alive, so the client never sends on a connection
    // the server may be closing. The same schedule meets no race.
    let backend = Backend::start(Protocol::Seed).await;
    backend.keep_alive(keep_alive);
    let client = common::seed(&backend)
        .pool_idle_timeout(Duration::from_millis(5))
        .build()
        .unwrap();
    around_keep_alive(&client, keep_alive, 60, 1).await;
    let s = client.stats();
    let c = backend.counters();
    assert_eq!((s.transport_replays, s.lost_successors), (0, 0), "{s:?} {c:?}");
    assert_eq!((c.requests, c.logins, c.token_reuse), (60, 1, 0), "{c:?}");
    assert!(backend.connections() >= 40, "the pool kept idle connections");
}

#[test]
fn f16_a_client_used_from_a_second_runtime_after_the_first_was_dropped_resends_no_token() {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let backend = server_rt.block_on(Backend::start(Protocol::Seed));
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };

    let first = runtime();
    let client = first.block_on(async {
        let client = common::seed(&backend).build().unwrap();
        common::user(&client, 0).await.unwrap();
        client
    });
    // The pooled connection's task dies with the runtime.
    drop(first);

    let second = runtime();
    second.block_on(async {
        for i in 1..4 {
            within(10, "a call on the second runtime", common::user(&client, i))
                .await
                .unwrap();
        }
    });
    let c = backend.counters();
    assert_eq!(c.requests, 4, "{c:?}");
    assert_eq!((c.token_reuse, c.expired_replies), (0, 0), "{c:?}");
    assert_eq!(c.logins, 1, "the session survived the runtime: {c:?}");
    assert!(
        backend.connections() >= 2,
        "the connection pooled on the dropped runtime was not abandoned"
    );
    drop(second);
    drop(backend);
}

// ---------------------------------------------------------------- F17

#[tokio::test]
async fn f17_chain_status_and_failed_or_cooling_down_login_errors_print_no_token() {
    let log = common::LogBuffer::default();
    let _capture = log.capture();
    let mut printed = String::new();
    let mut secrets = Vec::new();
    for name in ["seed", "bearer"] {
        let backend = common::start(name).await;
        let store = Arc::new(Recording::default());
        let client = common::builder(name, &backend)
            .store(Arc::clone(&store))
            .login_backoff(Duration::from_secs(5), Duration::from_secs(5))
            .build()
            .unwrap();
        for i in 0..3 {
            common::user(&client, i).await.unwrap();
        }
        printed.push_str(&format!(
            "{:?}\n{:#?}\n",
            client.chain_status(),
            client.chain_status()
        ));
        // A failed login (bearer: its refresh refused first), then a call in
        // the cool-down.
        backend.expire_all();
        backend.fail_next_refreshes(1);
        backend.fail_next_logins_with_status(1, StatusCode::SERVICE_UNAVAILABLE);
        let failed = common::user(&client, 10).await.unwrap_err();
        let cooling = common::user(&client, 11).await.unwrap_err();
        assert!(failed.is_login() && cooling.is_login(), "{failed:?} {cooling:?}");
        let status = client.chain_status();
        assert!(status[0].login_blocked_for.is_some(), "{status:?}");
        printed.push_str(&format!("{status:?}\n{status:#?}\n{client:?}\n"));
        for e in [&failed, &cooling] {
            printed.push_str(&format!("{e}\n{e:?}\n{e:#?}\n"));
            let le = e.login_error().unwrap();
            printed.push_str(&format!("{le}\n{le:?}\n"));
        }
        secrets.extend(store.all());
    }
    secrets.sort();
    secrets.dedup();
    assert!(
        secrets.len() >= 5,
        "too few tokens seen to prove anything: {}",
        secrets.len()
    );
    assert!(printed.contains("last_login_error"), "{printed}");
    let log = log.text();
    assert!(log.contains("login failed"), "tracing was not captured");
    for t in &secrets {
        assert!(
            !printed.contains(t.as_str()),
            "a token leaked into Debug/Display:\n{printed}"
        );
        assert!(!log.contains(t.as_str()), "a token leaked into tracing output");
    }
}

// ---------------------------------------------------------------- F18

/// Loads `spec` on a helper thread; returns its first error message, or
/// panics when the load panics, succeeds, or does not end in time.
fn hostile(spec: String) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let result = seamless_sdk_codegen::yaml::load(&spec, "hostile.yaml");
        let _ = tx.send(result.map(|_| ()).map_err(|d| {
            assert!(d.has_errors(), "an Err without an error:\n{d}");
            d.items[0].message.clone()
        }));
    });
    let result = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the load panicked or did not end (a hang)");
    worker.join().expect("the loader thread panicked");
    result.expect_err("hostile input loaded")
}

#[test]
fn f18_hostile_specs_alias_bombs_and_deep_nesting_end_in_an_error_not_a_panic_hang_or_overflow() {
    // A billion laughs: 9^12 strings from a few hundred bytes.
    let mut bomb = String::from(
        "name: bomb\nl0: &l0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..12 {
        let refs = vec![format!("*l{}", i - 1); 9].join(",");
        bomb.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    let msg = hostile(bomb);
    assert!(msg.contains("alias"), "{msg}");

    for (what, spec) in [
        ("flow lists", "[".repeat(200_000) + &"]".repeat(200_000)),
        ("flow maps", "{a: ".repeat(100_000) + &"}".repeat(100_000)),
        ("block lists", "- ".repeat(100_000) + "x\n"),
    ] {
        let msg = hostile(spec);
        assert!(msg.contains("deeper than"), "{what}: {msg}");
    }
}

// ---------------------------------------------------------------- F19

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f19_no_grace_window_is_assumed_storms_across_expiries_with_rotation_never_reuse_a_token() {
    // The testkit has no grace window: a spent token presented again, even
    // at once, counts as reuse. So a zero below proves the client never
    // relied on one.
    let backend = Backend::start(Protocol::Seed).await;
    let raw = seamless_sdk::__private::reqwest::Client::new();
    let login = raw
        .post(format!("{}/v1/api/imiMini/login", backend.url()))
        .json(&json!({"code": backend.valid_code()}))
        .send()
        .await
        .unwrap();
    let t1 = login.headers()["b-t"].to_str().unwrap().to_owned();
    for _ in 0..2 {
        raw.get(format!("{}/api/ping", backend.url()))
            .header("B-T", &t1)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        backend.counters().token_reuse,
        1,
        "the testkit allowed a grace window"
    );

    for (name, chains) in [("seed", 2), ("bearer", 1)] {
        let backend = common::start(name).await;
        backend.revoke_family_on_reuse(true);
        let store = Arc::new(Recording::default());
        let client = Arc::new(
            common::builder(name, &backend)
                .chains(chains)
                .store(Arc::clone(&store))
                // A call may meet both expiries of a wave: two replays.
                .max_replays(2)
                .build()
                .unwrap(),
        );
        common::user(&client, 1_000).await.unwrap();
        for wave in 0..3u64 {
            // Expiry between the waves (every call of a wave meets it) and
            // in the middle of one (some calls are in flight when it hits).
            let before = backend.counters().requests;
            backend.expire_all();
            let calls = {
                let c = Arc::clone(&client);
                tokio::spawn(
                    async move { concurrently::<User>(&c, users(wave * 100..wave * 100 + 100)).await },
                )
            };
            common::wait_until(10, "the wave to start", || {
                backend.counters().requests >= before + 30
            })
            .await;
            backend.expire_all();
            let results = within(30, "a wave", calls).await.unwrap();
            assert_eq!(all_ok(&results, name), 100);
        }
        let c = backend.counters();
        assert_eq!(c.token_reuse, 0, "{name}: {c:?}");
        assert!(c.expired_replies >= 3, "{name}: the waves met no expiry: {c:?}");
        if name == "bearer" {
            // One refresh per wave at least, each rotating the refresh token.
            assert!(c.refreshes >= 3, "{name}: {c:?}");
            assert_eq!(c.logins, 1, "{name}: {c:?}");
            let rotated: BTreeSet<_> = store.refresh.lock().unwrap().iter().cloned().collect();
            assert_eq!(
                rotated.len() as u64,
                c.refreshes + 1,
                "{name}: a refresh did not rotate: {c:?}"
            );
        } else {
            assert_eq!(c.max_concurrent_holders, 1, "{c:?}");
        }
    }
}

// ---------------------------------------------------------------- F20

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f20_a_pool_of_chains_carries_one_request_per_chain_at_once_and_one_chain_serializes() {
    for chains in [4usize, 1] {
        let backend = Backend::start(Protocol::Seed).await;
        backend.delay_responses(Duration::from_millis(20));
        let client = Arc::new(common::seed(&backend).chains(chains).build().unwrap());
        let results = concurrently::<User>(&client, users(0..32)).await;
        assert_eq!(all_ok(&results, "32 callers"), 32);
        let c = backend.counters();
        assert_eq!(c.requests, 32, "chains={chains}: {c:?}");
        assert_eq!(
            c.max_concurrent_requests, chains as u64,
            "chains={chains}: requests in flight at once: {c:?}"
        );
        assert_eq!(c.max_concurrent_holders, 1, "chains={chains}: {c:?}");
        assert_eq!(
            c.logins, chains as u64,
            "chains={chains}: one session per chain: {c:?}"
        );
        assert_eq!(
            (c.token_reuse, c.expired_replies),
            (0, 0),
            "chains={chains}: {c:?}"
        );
    }
}
