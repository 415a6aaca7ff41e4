//! One named test per invariant of docs/protocol.md, each against the loopback
//! testkit and asserting what the server counted.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{User, within};
use seamless_sdk::{Client, FileStore, Request, StoredSession, TokenStore};
use seamless_sdk_testkit::{Backend, Protocol};
use serde_json::{Value, json};

async fn all_ok(client: &Arc<Client>, ids: std::ops::Range<u64>) -> usize {
    let tasks: Vec<_> = ids
        .map(|i| {
            let c = Arc::clone(client);
            tokio::spawn(async move { c.call::<User>(common::get_user(i)).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        within(30, "a concurrent call", t)
            .await
            .unwrap()
            .expect("call failed");
        ok += 1;
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inv1_concurrent_failures_of_one_token_cause_exactly_one_login() {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = Arc::new(common::builder(name, &backend).build().unwrap());
        common::user(&client, 1).await.unwrap();
        backend.expire_all();
        backend.reset_counters();
        // Slow replies keep all 50 calls on the one dead token at once.
        backend.delay_responses(Duration::from_millis(5));
        assert_eq!(all_ok(&client, 0..50).await, 50);
        let c = backend.counters();
        assert_eq!(c.logins + c.refreshes, 1, "{name}: {c:?}");
        assert_eq!(c.token_reuse, 0, "{name}: {c:?}");
        assert!(c.expired_replies >= 1, "{name}: {c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inv2_failure_for_an_already_replaced_token_triggers_no_login() {
    let backend = common::start("bearer").await;
    let client = Arc::new(common::bearer(&backend).build().unwrap());
    common::user(&client, 1).await.unwrap();
    backend.expire_all();
    backend.reset_counters();
    // The first expired reply is held back until the second caller has
    // already logged in again: it reports a token that is no longer current.
    backend.delay_next_expired_replies(1, Duration::from_millis(300));
    let slow = {
        let c = Arc::clone(&client);
        tokio::spawn(async move { common::user(&c, 2).await })
    };
    common::wait_until(10, "the first call to reach the server", || {
        backend.counters().requests >= 1
    })
    .await;
    common::user(&client, 3).await.unwrap();
    assert_eq!(backend.counters().logins + backend.counters().refreshes, 1);
    within(10, "the stale caller", slow).await.unwrap().unwrap();
    let c = backend.counters();
    assert_eq!(
        c.logins + c.refreshes,
        1,
        "the stale failure caused a login: {c:?}"
    );
    assert_eq!(client.stats().replays, 2, "both callers replay exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inv3_single_use_token_never_sent_twice_and_one_holder_per_chain() {
    for chains in [1, 4] {
        let backend = Backend::start(Protocol::Seed).await;
        backend.delay_responses(Duration::from_millis(1));
        let client = Arc::new(common::seed(&backend).chains(chains).build().unwrap());
        // Cold (everyone parks behind the first logins) and warm (tokens are
        // ready, callers race for them) both go through the chain's lock.
        assert_eq!(all_ok(&client, 0..100).await, 100);
        assert_eq!(all_ok(&client, 100..200).await, 100);
        let c = backend.counters();
        assert_eq!(c.token_reuse, 0, "chains={chains}: {c:?}");
        assert_eq!(c.max_concurrent_holders, 1, "chains={chains}: {c:?}");
        assert_eq!(c.expired_replies, 0, "chains={chains}: {c:?}");
        assert_eq!(c.requests, 200, "chains={chains}: {c:?}");
        assert!(c.logins <= chains as u64, "one login per chain at most: {c:?}");
        if chains > 1 {
            assert!(c.logins > 1, "several callers should spread over chains: {c:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inv4_every_call_ends_when_login_fails_hangs_or_its_starter_is_cancelled() {
    // Login fails: every waiter gets the error.
    let backend = Backend::start(Protocol::Seed).await;
    backend.fail_next_logins(1);
    backend.delay_logins(Duration::from_millis(100));
    let client = Arc::new(common::seed(&backend).build().unwrap());
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let c = Arc::clone(&client);
            tokio::spawn(async move { common::user(&c, i).await })
        })
        .collect();
    for t in tasks {
        let err = within(10, "a waiter of a failed login", t)
            .await
            .unwrap()
            .unwrap_err();
        assert!(err.is_login(), "{err:?}");
    }
    assert_eq!(backend.counters().logins, 1);

    // Login hangs: the login timeout ends every waiter with a typed timeout,
    // and the 20 waiters were waiting on one login, not a login each.
    backend.delay_logins(Duration::from_secs(30));
    backend.reset_counters();
    let client = Arc::new(
        common::seed(&backend)
            .login_timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    );
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let c = Arc::clone(&client);
            tokio::spawn(async move { common::user(&c, i).await })
        })
        .collect();
    for t in tasks {
        let err = within(10, "a waiter of a hung login", t)
            .await
            .unwrap()
            .unwrap_err();
        assert!(err.is_timeout() && err.is_login(), "{err:?}");
    }
    // The hung login is counted when it arrives; nothing else started since.
    let c = backend.counters();
    assert_eq!((c.logins, c.logins_ok, c.requests), (1, 0, 0), "{c:?}");

    // The caller that started the login is cancelled: the login goes on
    // and the other callers get their values.
    backend.delay_logins(Duration::from_millis(200));
    backend.reset_counters();
    let client = Arc::new(common::seed(&backend).build().unwrap());
    let starter = {
        let c = Arc::clone(&client);
        tokio::spawn(async move { common::user(&c, 0).await })
    };
    common::wait_until(10, "the login to start", || backend.counters().logins >= 1).await;
    starter.abort();
    assert_eq!(all_ok(&client, 1..10).await, 9);
    let c = backend.counters();
    assert_eq!(c.logins, 1, "{c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inv5_replays_are_bounded_and_a_failed_login_is_not_sticky() {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let builder = |b: &Backend| common::builder(name, b);
        // Every login hands out a dead token: one re-login, one replay, then a typed error.
        let client = builder(&backend).build().unwrap();
        common::user(&client, 1).await.unwrap();
        backend.expire_all();
        backend.issue_expired_tokens(100);
        backend.reset_counters();
        let err = within(10, "a call against dead tokens", common::user(&client, 2))
            .await
            .unwrap_err();
        assert!(err.is_expired(), "{name}: {err:?}");
        let c = backend.counters();
        assert_eq!(c.requests, 2, "{name}: one send and one replay: {c:?}");
        assert_eq!(c.logins + c.refreshes, 1, "{name}: one re-login: {c:?}");
        backend.issue_expired_tokens(0);

        // A failed login reaches the caller; during the cool-down the next
        // call fails fast with the same error and no login; after it, the
        // next call logs in afresh.
        let client = builder(&backend)
            .login_backoff(Duration::from_millis(200), Duration::from_secs(1))
            .build()
            .unwrap();
        backend.fail_next_logins(1);
        backend.reset_counters();
        assert!(common::user(&client, 3).await.unwrap_err().is_login());
        assert!(common::user(&client, 4).await.unwrap_err().is_login());
        assert_eq!(
            backend.counters().logins,
            1,
            "{name}: no login during the cool-down"
        );
        common::wait_until(10, "the cool-down to pass", || {
            client.chain_status()[0].login_blocked_for.is_none()
        })
        .await;
        common::user(&client, 5)
            .await
            .expect("a fresh login after a failed one");
        assert_eq!(backend.counters().logins, 2, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inv6_request_that_may_have_executed_is_replayed_only_when_idempotent() {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend).build().unwrap();
        common::user(&client, 1).await.unwrap();

        backend.abort_after_consume(1);
        let order = |id: &str| Request::post("/api/orders").json(&json!({ "order_id": id }));
        let err = client.call::<Value>(order("once")).await.unwrap_err();
        assert!(err.is_outcome_unknown(), "{name}: {err:?}");
        assert_eq!(backend.counters().executions.get("once"), Some(&1), "{name}");

        backend.abort_after_consume(1);
        let v: Value = client.call(order("twice").idempotent(true)).await.unwrap();
        assert_eq!(v["executions"], 2, "{name}");
        assert_eq!(backend.counters().executions.get("twice"), Some(&2), "{name}");
        assert_eq!(backend.counters().token_reuse, 0, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inv7_cancelled_single_use_request_does_not_strand_the_chain() {
    let backend = Backend::start(Protocol::Seed).await;
    let client = Arc::new(
        common::seed(&backend)
            .request_timeout(Some(Duration::from_millis(400)))
            .build()
            .unwrap(),
    );
    common::user(&client, 1).await.unwrap();

    // The caller goes away while its request is in flight, and the server
    // answers: the exchange finishes without the caller, its token counts
    // as spent and the successor it carries home is the chain's next token.
    backend.delay_responses(Duration::from_millis(200));
    cancel_in_flight(&backend, &client, 2).await;
    backend.delay_responses(Duration::ZERO);
    let logins = logins_of_the_next_call(&backend, &client, 3).await;
    assert_eq!(logins, 0, "the successor was recorded");
    assert_eq!(client.stats().recoveries, 0);

    // The caller goes away and the server never answers: the token is
    // spent with no successor, and the next call recovers with one login.
    backend.stall_next(1);
    cancel_in_flight(&backend, &client, 4).await;
    let logins = logins_of_the_next_call(&backend, &client, 5).await;
    assert_eq!(logins, 1, "the chain recovers with one login");
    assert_eq!(client.stats().recoveries, 1);
}

/// Makes the call after a cancelled one, asserts that no token was sent
/// twice and the spent one was not resent, and returns the logins it cost.
async fn logins_of_the_next_call(backend: &Backend, client: &Client, id: u64) -> u64 {
    let before = backend.counters();
    within(10, "the call after the cancelled one", common::user(client, id))
        .await
        .unwrap();
    let c = backend.counters();
    assert_eq!(c.token_reuse, 0, "{c:?}");
    assert_eq!(
        c.expired_replies, before.expired_replies,
        "the spent token was sent again: {c:?}"
    );
    c.logins - before.logins
}

/// Starts `GET /api/users/{id}` and cancels its caller once the server has
/// received the request (and so consumed the token).
async fn cancel_in_flight(backend: &Backend, client: &Arc<Client>, id: u64) {
    let before = backend.counters().requests;
    let doomed = {
        let c = Arc::clone(client);
        tokio::spawn(async move { common::user(&c, id).await })
    };
    common::wait_until(10, "the doomed call to reach the server", || {
        backend.counters().requests > before
    })
    .await;
    doomed.abort();
}

/// Wraps a store and counts what reached it.
struct Recording<S> {
    inner: S,
    saves: AtomicUsize,
    tokens: std::sync::Mutex<Vec<String>>,
}

impl<S: TokenStore> TokenStore for Recording<S> {
    fn load(&self, chain: usize) -> std::io::Result<Option<StoredSession>> {
        self.inner.load(chain)
    }
    fn save(&self, chain: usize, session: &StoredSession) -> std::io::Result<()> {
        self.saves.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = &session.token {
            self.tokens.lock().unwrap().push(t.expose().to_owned());
        }
        self.inner.save(chain, session)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inv8_every_token_reaches_the_store_and_a_new_client_resumes_without_login() {
    for name in common::PROTOCOLS {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.json");
        let backend = common::start(name).await;
        let builder = |b: &Backend| common::builder(name, b);
        let store = Arc::new(Recording {
            inner: FileStore::new(&path),
            saves: AtomicUsize::new(0),
            tokens: Default::default(),
        });
        {
            let client = builder(&backend).store(Arc::clone(&store)).build().unwrap();
            for i in 0..5 {
                common::user(&client, i).await.unwrap();
            }
        }
        let tokens = store.tokens.lock().unwrap().clone();
        // The first client's process is gone: its store releases the file.
        drop(store);
        let distinct: std::collections::BTreeSet<_> = tokens.iter().collect();
        let expected = if name == "seed" { 6 } else { 1 };
        assert_eq!(
            distinct.len(),
            expected,
            "{name}: the login token and every rotated one"
        );

        backend.reset_counters();
        let resumed = builder(&backend).store(FileStore::new(&path)).build().unwrap();
        for i in 0..3 {
            common::user(&resumed, i).await.unwrap();
        }
        let c = backend.counters();
        assert_eq!(
            c.logins + c.refreshes,
            0,
            "{name}: resumed without a login: {c:?}"
        );
        assert_eq!(c.token_reuse, 0, "{name}: {c:?}");
        assert_eq!(c.expired_replies, 0, "{name}: {c:?}");
    }
}
