//! The runtime against broken stores and servers that answer in ways the
//! protocols allow but the happy path never meets: unsendable tokens,
//! corrupt store files, refresh grants that do not rotate, stores shared by
//! two clients, failing saves, stalled holders, failing early renewals.
//! Each test counts on the server what the client did.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::within;
use seamless_sdk::{FileStore, LoginError, MemoryStore, StoredSession, TokenStore};
use seamless_sdk_testkit::{Backend, Protocol};

// ------------------------------------------------ unsendable login tokens

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_token_that_is_no_header_value_is_refused_at_login_never_stored_and_the_next_call_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.json");
    let backend = common::start("bearer").await;
    backend.issue_unsendable_tokens(1);
    let client = common::bearer(&backend)
        .store(FileStore::new(&path))
        .login_backoff(Duration::ZERO, Duration::ZERO)
        .build()
        .unwrap();
    let err = within(10, "the first call", common::user(&client, 1))
        .await
        .expect_err("the login's token cannot be sent");
    assert!(
        matches!(err.login_error(), Some(LoginError::UnusableToken(_))),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains('\n'), "{err:?}");
    let c = backend.counters();
    assert_eq!((c.logins, c.requests), (1, 0), "{c:?}");
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(!stored.contains("\\n"), "the bad token was stored: {stored}");

    // Not wedged: the next calls log in once and go through.
    for i in 2..7 {
        within(10, "a later call", common::user(&client, i))
            .await
            .unwrap();
    }
    let c = backend.counters();
    assert_eq!((c.logins, c.requests, c.token_reuse), (2, 5, 0), "{c:?}");
    drop(client);

    // A restarted client resumes the good token, not the refused one.
    backend.reset_counters();
    let resumed = common::bearer(&backend)
        .store(FileStore::new(&path))
        .build()
        .unwrap();
    common::user(&resumed, 9).await.unwrap();
    let c = backend.counters();
    assert_eq!((c.logins, c.refreshes, c.expired_replies), (0, 0, 0), "{c:?}");
}

#[tokio::test]
async fn a_token_with_a_line_break_is_fine_in_a_query_where_it_is_percent_encoded() {
    let backend = common::start("query").await;
    backend.issue_unsendable_tokens(1);
    let client = common::query(&backend).build().unwrap();
    for i in 0..3 {
        common::user(&client, i).await.unwrap();
    }
    let c = backend.counters();
    assert_eq!((c.logins, c.requests, c.expired_replies), (1, 3, 0), "{c:?}");
}

// ---------------------------------------------------- corrupt store input

#[tokio::test]
async fn a_store_file_with_an_out_of_range_expiry_is_a_store_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"version":1,"chains":{{"0":{{"token":"t","expires_at":{}}}}}}}"#,
            u64::MAX
        ),
    )
    .unwrap();
    let backend = common::start("bearer").await;
    let err = common::bearer(&backend)
        .store(FileStore::new(&path))
        .build()
        .expect_err("a corrupt store");
    assert!(err.is_store(), "{err:?}");
    assert_eq!(backend.counters(), Default::default());
}

#[tokio::test]
async fn a_custom_login_with_an_endless_lifetime_neither_panics_nor_expires() {
    let backend = common::start("bearer").await;
    let client = common::bearer(&backend)
        .login(seamless_sdk::login_fn({
            let url = backend.url();
            move |_| {
                let url = url.clone();
                async move {
                    let body: serde_json::Value = seamless_sdk::__private::reqwest::Client::new()
                        .post(format!("{url}/oauth/token"))
                        .json(&serde_json::json!({
                            "grant_type": "password",
                            "username": seamless_sdk_testkit::BEARER_USERNAME,
                            "password": seamless_sdk_testkit::BEARER_PASSWORD,
                        }))
                        .send()
                        .await
                        .map_err(LoginError::other)?
                        .json()
                        .await
                        .map_err(LoginError::other)?;
                    let mut s = seamless_sdk::Session::new(body["access_token"].as_str().unwrap());
                    s.expires_in = Some(Duration::MAX);
                    Ok(s)
                }
            }
        }))
        .store(MemoryStore::new())
        .build()
        .unwrap();
    for i in 0..3 {
        within(10, "a call", common::user(&client, i)).await.unwrap();
    }
    let c = backend.counters();
    assert_eq!((c.logins, c.requests), (1, 3), "{c:?}");
}

// ------------------------------------------------ non-rotating refresh

#[tokio::test]
async fn a_refresh_token_the_server_does_not_rotate_is_kept_for_every_later_renewal() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    backend.keep_refresh_tokens(true);
    let client = common::bearer(&backend).build().unwrap();
    common::user(&client, 0).await.unwrap();
    for i in 1..4 {
        backend.expire_all();
        common::user(&client, i).await.unwrap();
    }
    let c = backend.counters();
    assert_eq!(c.logins, 1, "a renewal fell back to a full login: {c:?}");
    assert_eq!(c.refreshes, 3, "{c:?}");
    assert_eq!((c.token_reuse, c.expired_replies), (0, 3), "{c:?}");
}

// ------------------------------------------------ one owner per store

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_on_one_store_instance_are_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["memory", "file"] {
        let backend = Backend::start(Protocol::Seed).await;
        let store: Arc<dyn TokenStore> = match kind {
            "memory" => Arc::new(MemoryStore::new()),
            _ => Arc::new(FileStore::new(dir.path().join("session.json"))),
        };
        let first = common::seed(&backend).store(Arc::clone(&store)).build().unwrap();
        common::user(&first, 0).await.unwrap();
        let err = common::seed(&backend)
            .store(Arc::clone(&store))
            .build()
            .expect_err("two owners of one single-use chain");
        assert!(err.is_store(), "{kind}: {err:?}");
        let io = std::error::Error::source(&err)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .expect("an io error");
        assert_eq!(io.kind(), std::io::ErrorKind::WouldBlock, "{kind}: {io}");
        for i in 1..4 {
            common::user(&first, i).await.unwrap();
        }
        // Once the first client is gone, the store has a new owner, which
        // resumes the session.
        drop(first);
        let second = common::seed(&backend).store(store).build().unwrap();
        common::user(&second, 9).await.unwrap();
        let c = backend.counters();
        assert_eq!(
            (c.logins, c.requests, c.token_reuse, c.expired_replies),
            (1, 5, 0, 0),
            "{kind}: {c:?}"
        );
    }
}

/// A store that opts into sharing by overriding `claim`: with reusable
/// tokens, two clients on one session are harmless, and it says so.
#[derive(Default)]
struct Shared {
    next: std::sync::atomic::AtomicUsize,
    inner: MemoryStore,
}

impl TokenStore for Shared {
    fn load(&self, chain: usize) -> std::io::Result<Option<StoredSession>> {
        self.inner.load(chain)
    }
    fn save(&self, chain: usize, session: &StoredSession) -> std::io::Result<()> {
        self.inner.save(chain, session)
    }
    fn claim(&self) -> std::io::Result<()> {
        self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
    fn release(&self) {}
}

#[tokio::test]
async fn a_store_that_overrides_claim_may_be_shared_on_its_own_terms() {
    let backend = common::start("bearer").await;
    let store = Arc::new(Shared::default());
    let a = common::bearer(&backend)
        .store(Arc::clone(&store))
        .build()
        .unwrap();
    let b = common::bearer(&backend)
        .store(Arc::clone(&store))
        .build()
        .unwrap();
    common::user(&a, 1).await.unwrap();
    common::user(&b, 2).await.unwrap();
    assert_eq!(store.next.load(std::sync::atomic::Ordering::Relaxed), 2);
}

// ------------------------------------------------ failing store saves

/// A memory store whose saves fail while `broken` is set.
#[derive(Default)]
struct Flaky {
    inner: MemoryStore,
    broken: std::sync::atomic::AtomicBool,
}

impl TokenStore for Flaky {
    fn load(&self, chain: usize) -> std::io::Result<Option<StoredSession>> {
        self.inner.load(chain)
    }
    fn save(&self, chain: usize, session: &StoredSession) -> std::io::Result<()> {
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(std::io::Error::other("disk full"));
        }
        self.inner.save(chain, session)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_use_token_the_store_cannot_record_as_in_use_is_not_sent() {
    use std::sync::atomic::Ordering::SeqCst;
    let backend = Backend::start(Protocol::Seed).await;
    let store = Arc::new(Flaky::default());
    let client = common::seed(&backend).store(Arc::clone(&store)).build().unwrap();
    common::user(&client, 0).await.unwrap();
    let held = store.inner.load(0).unwrap().unwrap().token.unwrap();

    store.broken.store(true, SeqCst);
    for i in 1..4 {
        let err = within(10, "a call on a broken store", common::user(&client, i))
            .await
            .expect_err("the save before the send failed");
        assert!(err.is_store(), "{err:?}");
    }
    let c = backend.counters();
    assert_eq!((c.logins, c.requests), (1, 1), "a token was sent: {c:?}");
    // What a crash now would resume: the unsent token, still good.
    let crashed = store.inner.load(0).unwrap().unwrap().token.unwrap();
    assert_eq!(crashed, held);
    assert!(client.chain_status()[0].has_token);

    store.broken.store(false, SeqCst);
    for i in 4..7 {
        common::user(&client, i).await.unwrap();
    }
    let c = backend.counters();
    assert_eq!(
        (c.logins, c.requests, c.token_reuse, c.expired_replies),
        (1, 4, 0, 0),
        "{c:?}"
    );
}

#[tokio::test]
async fn a_refresh_token_the_store_cannot_record_as_taken_is_not_presented() {
    use std::sync::atomic::Ordering::SeqCst;
    let backend = common::start("bearer").await;
    let store = Arc::new(Flaky::default());
    let client = common::bearer(&backend)
        .store(Arc::clone(&store))
        .build()
        .unwrap();
    common::user(&client, 0).await.unwrap();
    assert!(store.inner.load(0).unwrap().unwrap().refresh_token.is_some());
    store.broken.store(true, SeqCst);
    backend.expire_all();
    // Reusable tokens are not held back by a broken store: only logged.
    common::user(&client, 1).await.unwrap();
    let c = backend.counters();
    assert_eq!(
        (c.refreshes, c.logins),
        (0, 2),
        "the stored refresh token was presented: {c:?}"
    );
}

// ------------------------------------------------ stalled holders

#[tokio::test]
async fn single_use_without_a_request_timeout_is_refused_at_build() {
    let backend = Backend::start(Protocol::Seed).await;
    let err = common::seed(&backend)
        .request_timeout(None)
        .build()
        .expect_err("a chain whose holder may never end");
    assert!(err.is_builder(), "{err:?}");
    assert!(err.to_string().contains("request_timeout"), "{err}");
    // Reusable tokens hold no chain: no limit stays allowed there.
    let bearer = common::start("bearer").await;
    common::bearer(&bearer).request_timeout(None).build().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_cancelled_behind_a_stalled_holder_leave_the_queue_and_the_chain_recovers() {
    let backend = Backend::start(Protocol::Seed).await;
    let client = Arc::new(
        common::seed(&backend)
            .request_timeout(Some(Duration::from_secs(2)))
            .build()
            .unwrap(),
    );
    common::user(&client, 0).await.unwrap();
    backend.stall_next(1);
    let stalled = {
        let c = Arc::clone(&client);
        tokio::spawn(async move { common::user(&c, 1).await })
    };
    common::wait_until(10, "the stalled request to hold the chain", || {
        client.chain_status()[0].in_flight
    })
    .await;
    // Callers that give up while parked behind it.
    let impatient: Vec<_> = (0..50)
        .map(|i| {
            let c = Arc::clone(&client);
            tokio::spawn(async move {
                tokio::time::timeout(Duration::from_millis(50), common::user(&c, 100 + i)).await
            })
        })
        .collect();
    for t in impatient {
        assert!(t.await.unwrap().is_err(), "a parked caller got through");
    }
    let waiting = client.chain_status()[0].waiters;
    assert_eq!(waiting, 0, "cancelled callers are still queued");
    // The stalled holder ends with the request timeout, its token spent;
    // the chain recovers with one login and the (idempotent) call replays.
    within(10, "the stalled call", stalled).await.unwrap().unwrap();
    assert_eq!(client.stats().recoveries, 1);
    within(10, "the next call", common::user(&client, 2))
        .await
        .unwrap();
    let c = backend.counters();
    assert_eq!((c.token_reuse, c.logins), (0, 2), "{c:?}");
}

// ------------------------------------------------ failing early renewal

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_early_renewal_keeps_the_still_valid_token_serving() {
    // Renewed 2 s early (half the lifetime), valid for 4 s.
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(4),
    })
    .await;
    let client = common::bearer(&backend)
        .login_backoff(Duration::from_secs(10), Duration::from_secs(10))
        .build()
        .unwrap();
    common::user(&client, 0).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    backend.fail_next_refreshes(1);
    backend.fail_next_logins(1);
    for i in 1..4 {
        within(10, "a call while the token is due", common::user(&client, i))
            .await
            .expect("the old token is still valid");
    }
    common::wait_until(10, "the renewal to fail", || {
        backend.counters().logins_failed == 1
    })
    .await;
    // In the renewal's cool-down: still served, no new login.
    for i in 4..7 {
        common::user(&client, i)
            .await
            .expect("the old token is still valid");
    }
    let c = backend.counters();
    assert_eq!(c.expired_replies, 0, "{c:?}");
    assert_eq!(c.requests, 7, "{c:?}");
    assert_eq!((c.logins, c.refreshes), (2, 1), "one renewal attempt: {c:?}");
    assert_eq!(client.stats().login_failures, 1);
}

#[tokio::test]
async fn the_store_keeps_the_servers_expiry_not_the_earlier_renewal_time() {
    // A resumed client takes the skew off what the store holds: a stored
    // renewal time would be skewed twice.
    let backend = common::start("bearer").await;
    let store = Arc::new(MemoryStore::new());
    let client = common::bearer(&backend)
        .store(Arc::clone(&store))
        .expiry_skew(Duration::from_secs(600))
        .build()
        .unwrap();
    let before = std::time::SystemTime::now();
    common::user(&client, 0).await.unwrap();
    let at = store.load(0).unwrap().unwrap().expires_at.expect("an expiry");
    let lifetime = at.duration_since(before).unwrap();
    // The testkit's bearer tokens live an hour.
    assert!(
        lifetime > Duration::from_secs(3590) && lifetime <= Duration::from_secs(3602),
        "stored {lifetime:?} ahead"
    );
}
