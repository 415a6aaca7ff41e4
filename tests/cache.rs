//! The short-lived response cache against the testkit, asserting what the
//! server counted: identical reads share one request, a failed refresh
//! serves the last value stale, one session's values never reach another,
//! and nothing but a good reply is ever stored.

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use seamless_sdk::{
    CachePolicy, CacheStatus, CallOptions, Client, MemoryStore, Request, RetryPolicy, TokenStore,
};
use seamless_sdk_testkit::StatusCode;
use serde_json::{Value, json};

fn cached_user(id: u64, policy: CachePolicy) -> Request {
    common::get_user(id).cache(policy)
}

fn for_a_minute() -> CachePolicy {
    CachePolicy::new(Duration::from_secs(60))
}

/// 100 concurrent identical `GET`s make one request; 100 spread over five
/// users make five.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_identical_gets_make_one_request() {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend).build().unwrap();
        common::user(&client, 0).await.unwrap();
        backend.reset_counters();
        // Slow replies, so the calls really are in flight together.
        backend.delay_responses(Duration::from_millis(50));
        let calls = (0..100).map(|_| client.call::<common::User>(cached_user(7, for_a_minute())));
        let users = common::within(10, "the storm", join_all(calls)).await;
        for u in users {
            assert_eq!(u.unwrap_or_else(|e| panic!("{name}: {e:?}")).id, 7);
        }
        let c = backend.counters();
        assert_eq!(c.requests, 1, "{name}: {c:?}");
        let s = client.stats();
        assert_eq!((s.cache_misses, s.cache_hits), (1, 99), "{name}: {s:?}");

        backend.reset_counters();
        let calls = (0..100).map(|i| client.call::<common::User>(cached_user(10 + i % 5, for_a_minute())));
        for u in common::within(10, "the spread storm", join_all(calls)).await {
            u.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        }
        assert_eq!(backend.counters().requests, 5, "{name}: one per user");
        assert_eq!(backend.counters().token_reuse, 0, "{name}");
    }
}

/// The seed's §4: while logins fail, readers of cached data get the last
/// value, marked stale; writers get the login error. One login is tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_failure_serves_stale_values_to_readers_and_errors_to_writers() {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend).build().unwrap();
        let policy = CachePolicy::new(Duration::from_millis(20)).stale_if_error(Duration::from_secs(60));
        let first = client
            .call_with_response::<common::User>(cached_user(7, policy))
            .await
            .unwrap();
        assert_eq!(first.cache_status(), CacheStatus::Miss, "{name}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        backend.reset_counters();
        backend.expire_all();
        backend.fail_next_logins(1000);
        backend.fail_next_refreshes(1000);

        let readers = (0..50).map(|_| client.call_with_response::<common::User>(cached_user(7, policy)));
        let writers =
            (0..10).map(|i| client.call::<Value>(Request::post("/api/echo").json(&json!({ "n": i }))));
        let (read, written) = common::within(10, "the storm", async {
            tokio::join!(join_all(readers), join_all(writers))
        })
        .await;
        for r in read {
            let r = r.unwrap_or_else(|e| panic!("{name}: a reader got {e:?}"));
            assert!(r.is_stale(), "{name}: {:?}", r.cache_status());
            assert_eq!(
                r.value(),
                &common::User {
                    id: 7,
                    name: "user-7".into()
                },
                "{name}"
            );
        }
        for w in written {
            let e = w.expect_err("a write while logins fail");
            assert!(e.is_login(), "{name}: {e:?}");
        }
        let c = backend.counters();
        assert_eq!(c.logins, 1, "{name}: one login for the whole storm: {c:?}");
        assert_eq!(c.token_reuse, 0, "{name}: {c:?}");
        let s = client.stats();
        assert_eq!(s.cache_stale, 50, "{name}: {s:?}");
    }
}

/// Past `ttl + stale_if_error` the failure reaches readers too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_past_its_stale_window_is_not_served() {
    let backend = common::start("bearer").await;
    let client = common::bearer(&backend).build().unwrap();
    let policy = CachePolicy::new(Duration::from_millis(10)).stale_if_error(Duration::from_millis(40));
    client.call::<common::User>(cached_user(7, policy)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    backend.expire_all();
    backend.fail_next_logins(1000);
    backend.fail_next_refreshes(1000);
    let e = client
        .call::<common::User>(cached_user(7, policy))
        .await
        .unwrap_err();
    assert!(e.is_login(), "{e:?}");
    assert_eq!(client.stats().cache_stale, 0);
}

/// Stale-if-error covers failures that say nothing about the data; the
/// server's own answer (an API error, a 4xx) reaches the caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_error_on_refresh_is_not_covered_by_a_stale_value() {
    let backend = common::start("bearer").await;
    let client = common::bearer(&backend).build().unwrap();
    let policy = CachePolicy::new(Duration::from_millis(10)).stale_if_error(Duration::from_secs(60));
    let users = || {
        Request::get("/api/users/7")
            .cache(policy)
            .retry(RetryPolicy::none())
    };
    client.call::<common::User>(users()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    backend.fail_next(1, StatusCode::SERVICE_UNAVAILABLE, &[]);
    let r = client.call_with_response::<common::User>(users()).await.unwrap();
    assert!(r.is_stale(), "a 503 is covered: {:?}", r.cache_status());
    backend.redirect_next(1, StatusCode::FOUND, "/api/users/8");
    let e = client.call::<common::User>(users()).await.unwrap_err();
    assert!(e.is_redirect(), "a redirect is the server's answer: {e:?}");
}

/// Each client is its own session, with its own cache: another session
/// never sees a value this one cached, even for the very same request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_session_never_sees_this_sessions_cached_value() {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let alice = common::builder(name, &backend).build().unwrap();
        let bob = common::builder(name, &backend).build().unwrap();
        let whoami = || Request::get("/api/whoami").cache(for_a_minute());
        let session = |v: Value| v["session"].as_u64().expect("a session number");
        let a = session(alice.call(whoami()).await.unwrap());
        let b = session(bob.call(whoami()).await.unwrap());
        assert_ne!(a, b, "{name}: two logins, two sessions");
        assert_eq!(
            backend.counters().requests,
            2,
            "{name}: bob's call reached the server"
        );
        // Each sees its own value again, from its own cache.
        assert_eq!(session(alice.clone().call(whoami()).await.unwrap()), a, "{name}");
        assert_eq!(session(bob.call(whoami()).await.unwrap()), b, "{name}");
        assert_eq!(backend.counters().requests, 2, "{name}");
    }
}

/// Only a good reply is stored: not an expiry (the call replays after the
/// login and stores what the replay got), not an API error, a 4xx or a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_or_an_error_reply_is_never_cached() {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend).build().unwrap();
        common::user(&client, 0).await.unwrap();
        backend.expire_all();
        backend.reset_counters();
        let r = client
            .call_with_response::<common::User>(cached_user(7, for_a_minute()))
            .await;
        assert_eq!(r.unwrap().value().id, 7, "{name}");
        let c = backend.counters();
        assert_eq!((c.expired_replies, c.requests), (1, 2), "{name}: {c:?}");
        let again = client
            .call_with_response::<common::User>(cached_user(7, for_a_minute()))
            .await
            .unwrap();
        assert_eq!(again.cache_status(), CacheStatus::Hit, "{name}");
        assert_eq!(backend.counters().requests, 2, "{name}");

        for (path, what) in [
            ("/api/fail", "an API error"),
            ("/api/forbidden", "a permission error"),
        ] {
            let call = || client.call::<Value>(Request::get(path).cache(for_a_minute()));
            let before = backend.counters().requests;
            assert!(call().await.is_err(), "{name}: {what}");
            assert!(call().await.is_err(), "{name}: {what}");
            assert_eq!(
                backend.counters().requests - before,
                2,
                "{name}: {what} was cached"
            );
        }

        let call = || client.call::<common::User>(cached_user(8, for_a_minute()).retry(RetryPolicy::none()));
        backend.fail_next(1, StatusCode::SERVICE_UNAVAILABLE, &[]);
        let before = backend.counters().requests;
        let e = call().await.unwrap_err();
        assert_eq!(e.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{name}: {e:?}");
        assert_eq!(call().await.unwrap().id, 8, "{name}: the 503 was cached");
        assert_eq!(backend.counters().requests - before, 2, "{name}");
    }
}

/// A value is fetched again after its `ttl`; a bypassing call fetches now
/// and stores what it got for the calls after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_is_fetched_again_after_its_ttl_or_when_bypassed() {
    let backend = common::start("seed").await;
    let client = common::seed(&backend).build().unwrap();
    let short = CachePolicy::new(Duration::from_millis(20));
    assert_eq!(status(&client, 7, short).await, CacheStatus::Miss);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(status(&client, 7, short).await, CacheStatus::Miss);
    assert_eq!(backend.counters().requests, 2);

    assert_eq!(status(&client, 8, for_a_minute()).await, CacheStatus::Miss);
    assert_eq!(status(&client, 8, for_a_minute()).await, CacheStatus::Hit);
    let bypass = client.with_options(CallOptions::new().bypass_cache());
    assert_eq!(status(&bypass, 8, for_a_minute()).await, CacheStatus::Miss);
    assert_eq!(status(&client, 8, for_a_minute()).await, CacheStatus::Hit);
    assert_eq!(backend.counters().requests, 4);
    assert_eq!(backend.counters().token_reuse, 0);
}

async fn status(client: &Client, id: u64, policy: CachePolicy) -> CacheStatus {
    let r = client
        .call_with_response::<common::User>(cached_user(id, policy))
        .await;
    r.unwrap().cache_status()
}

/// Only `GET`s can be cached: any other method is a request error, and
/// nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_gets_can_be_cached() {
    let backend = common::start("bearer").await;
    let client = common::bearer(&backend).build().unwrap();
    let e = client
        .call::<Value>(Request::post("/api/echo").json(&json!({})).cache(for_a_minute()))
        .await
        .unwrap_err();
    assert!(e.is_builder() && e.to_string().contains("only GET"), "{e}");
    assert_eq!(backend.counters().requests, 0);
}

/// Serving a stale value is said in a tracing event, without the token.
#[tokio::test]
async fn a_stale_value_is_announced_without_the_token() {
    let backend = common::start("query").await;
    let store = Arc::new(MemoryStore::new());
    let client = common::query(&backend).store(Arc::clone(&store)).build().unwrap();
    let logs = common::LogBuffer::default();
    let _guard = logs.capture();
    let policy = CachePolicy::new(Duration::from_millis(10)).stale_if_error(Duration::from_secs(60));
    client.call::<common::User>(cached_user(7, policy)).await.unwrap();
    let token = store.load(0).unwrap().expect("a session").token.expect("a token");
    tokio::time::sleep(Duration::from_millis(100)).await;
    backend.expire_all();
    backend.fail_next_logins(10);
    client.call::<common::User>(cached_user(7, policy)).await.unwrap();
    let text = logs.text();
    assert!(text.contains("serving the cached value stale"), "{text}");
    assert!(text.contains("/api/users/7"), "{text}");
    assert!(!text.contains(token.expose()), "a token in the logs: {text}");
}

/// `#[token_client]`'s `#[cache(...)]`.
mod from_trait {
    use seamless_sdk::token_client;

    #[derive(Debug, serde::Deserialize)]
    pub struct User {
        pub id: u64,
    }

    #[token_client(
        placement = bearer,
        expiry(status(401)),
        login(method = "POST", path = "/oauth/token", encoding = "json",
              fields(grant_type = "password", username = "u", password = "p"),
              token_json = "access_token"),
    )]
    pub trait Users {
        #[get("/api/users/{id}")]
        #[cache(ttl_ms = 60000, stale_if_error_ms = 60000)]
        async fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;

        #[get("/api/users/{id}")]
        async fn get_user_uncached(&self, id: u64) -> Result<User, seamless_sdk::Error>;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trait_front_end_declares_a_cache() {
    let backend = common::start("bearer").await;
    let users = from_trait::Users::new(backend.url()).unwrap();
    let calls = (0..20).map(|_| users.get_user(3));
    for u in join_all(calls).await {
        assert_eq!(u.unwrap().id, 3);
    }
    assert_eq!(backend.counters().requests, 1);
    users.get_user_uncached(3).await.unwrap();
    users.get_user_uncached(3).await.unwrap();
    assert_eq!(
        backend.counters().requests,
        3,
        "an endpoint without `#[cache]` is not cached"
    );
}
