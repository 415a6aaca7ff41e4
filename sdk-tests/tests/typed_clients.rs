//! The generated SDKs (committed snapshots of `seamless generate`) called
//! through their typed methods against the loopback testkit, across a forced
//! expiry storm: one re-login, every call served, no token reused.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sdk_tests::{bearer_api, imi_mini, imi_mini_openapi, oauth_server, wechat_query};
use seamless_sdk_testkit::{
    BEARER_CLIENT_ID, BEARER_CLIENT_SECRET, BEARER_PASSWORD, BEARER_USERNAME, Backend, ClientAuth, Protocol,
    QUERY_APPID, QUERY_SECRET,
};

const CALLS: u64 = 300;

/// Fires `CALLS` concurrent `get_user` calls, expiring every token once the
/// server has seen a third of them, and checks the server's counts.
async fn storm<C, F>(backend: &Backend, client: Arc<C>, get_user: F)
where
    C: Send + Sync + 'static,
    F: Fn(Arc<C>, u64) -> tokio::task::JoinHandle<Result<u64, seamless_sdk::Error>>,
{
    assert_eq!(get_user(Arc::clone(&client), 0).await.unwrap().unwrap(), 0);
    backend.reset_counters();
    backend.delay_responses(Duration::from_millis(1));
    let calls: Vec<_> = (1..=CALLS).map(|i| get_user(Arc::clone(&client), i)).collect();
    while backend.counters().requests < CALLS / 3 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    backend.expire_all();
    for (i, call) in (1..=CALLS).zip(calls) {
        let id = tokio::time::timeout(Duration::from_secs(30), call)
            .await
            .expect("a call hung")
            .unwrap()
            .expect("a call failed");
        assert_eq!(id, i);
    }
    backend.delay_responses(Duration::ZERO);
    let c = backend.counters();
    assert!(c.expired_replies >= 1, "the expiry never hit: {c:?}");
    assert_eq!(c.logins + c.refreshes, 1, "{c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
}

/// The seed SDK against `backend`, taking its one-time codes.
fn seed_client(backend: &Backend) -> imi_mini::ImiMiniClient {
    let codes = backend.seed_code_provider();
    imi_mini::ImiMiniClient::new(backend.url(), move || {
        let code = codes();
        async move { Ok::<_, Infallible>(code) }
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_sdk_typed_methods_through_an_expiry_storm() {
    let backend = Backend::start(Protocol::Seed).await;
    let client = seed_client(&backend);
    let client = Arc::new(client);
    storm(&backend, Arc::clone(&client), |c, i| {
        tokio::spawn(async move { c.get_user(i).await.map(|u| u.id) })
    })
    .await;

    let order = client
        .create_order(&imi_mini::NewOrder {
            order_id: "o-1".into(),
        })
        .await
        .unwrap();
    assert_eq!((order.order_id.as_str(), order.executions), ("o-1", 1));
    assert!(client.ping().await.unwrap().pong);
    let err = client.fail().await.unwrap_err();
    assert_eq!(err.api_message(), Some("insufficient balance"), "{err:?}");
    assert_eq!(backend.counters().token_reuse, 0);
}

/// The seed SDK generated from `specs/openapi/imi_mini.openapi.yaml` (the
/// same API in OpenAPI, its token protocol in `x-seamless`) against
/// `backend`, taking its one-time codes.
fn openapi_seed_client(backend: &Backend) -> imi_mini_openapi::ImiMiniOpenapiClient {
    let codes = backend.seed_code_provider();
    imi_mini_openapi::ImiMiniOpenapiClient::new(backend.url(), move || {
        let code = codes();
        async move { Ok::<_, Infallible>(code) }
    })
    .unwrap()
}

/// The seed storm again, with the client generated from the OpenAPI
/// description instead of the YAML spec: the same single-use rotation, one
/// login per expiry, no token reused, and the envelope unwrapped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_sdk_typed_methods_through_an_expiry_storm() {
    let backend = Backend::start(Protocol::Seed).await;
    let client = Arc::new(openapi_seed_client(&backend));
    storm(&backend, Arc::clone(&client), |c, i| {
        tokio::spawn(async move { c.get_user(i).await.map(|u| u.id) })
    })
    .await;

    let order = client
        .create_order(&imi_mini_openapi::NewOrder {
            order_id: "o-1".into(),
        })
        .await
        .unwrap();
    assert_eq!((order.order_id.as_str(), order.executions), ("o-1", 1));
    assert!(client.ping().await.unwrap().pong);
    // A `type: object` body and a `{}` response: any JSON, both ways.
    let sent = seamless_sdk::__private::serde_json::json!({"n": 1, "tags": ["a"]});
    assert_eq!(client.echo(&sent).await.unwrap(), sent);
    let err = client.fail().await.unwrap_err();
    assert_eq!(err.api_message(), Some("insufficient balance"), "{err:?}");
    assert_eq!(backend.counters().token_reuse, 0);
}

/// A code provider with state of its own, implemented by hand rather than
/// as a closure: it counts the codes it was asked for.
struct CountingCodes<F> {
    mint: F,
    asked: Arc<AtomicUsize>,
}

impl<F: Fn() -> String + Send + Sync + 'static> seamless_sdk::CodeProvider for CountingCodes<F> {
    fn code(
        &self,
    ) -> seamless_sdk::BoxFuture<'static, Result<String, Box<dyn std::error::Error + Send + Sync>>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let code = (self.mint)();
        Box::pin(async move { Ok(code) })
    }
}

#[tokio::test]
async fn seed_sdk_takes_a_hand_written_code_provider_asked_once_per_login() {
    let backend = Backend::start(Protocol::Seed).await;
    let asked = Arc::new(AtomicUsize::new(0));
    let codes = CountingCodes {
        mint: backend.seed_code_provider(),
        asked: Arc::clone(&asked),
    };
    let client = imi_mini::ImiMiniClient::new(backend.url(), codes).unwrap();
    assert!(client.ping().await.unwrap().pong);
    assert!(client.ping().await.unwrap().pong);
    backend.expire_all();
    assert!(client.ping().await.unwrap().pong);
    let c = backend.counters();
    assert_eq!(
        (asked.load(Ordering::SeqCst), c.logins, c.token_reuse),
        (2, 2, 0),
        "{c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_sdk_typed_methods_through_an_expiry_storm() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let client = bearer_api::BearerApiClient::new(backend.url(), BEARER_USERNAME, BEARER_PASSWORD).unwrap();
    let client = Arc::new(client);
    storm(&backend, Arc::clone(&client), |c, i| {
        tokio::spawn(async move { c.get_user(i).await.map(|u| u.id) })
    })
    .await;
    let err = client.fail().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(422), "{err:?}");
}

/// The spec's `retry` and `idempotency_key` in the generated SDK: an order
/// whose reply was lost after it executed is placed again with the same
/// key and executes once; a 503 with `Retry-After` is waited out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_sdk_retries_a_keyed_order_that_executes_once() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let client = bearer_api::BearerApiClient::new(backend.url(), BEARER_USERNAME, BEARER_PASSWORD).unwrap();
    client.ping().await.unwrap();
    backend.reset_counters();
    backend.abort_after_consume(1);
    backend.fail_next(
        1,
        seamless_sdk_testkit::StatusCode::SERVICE_UNAVAILABLE,
        &[("retry-after-ms", "20")],
    );
    let order = client
        .create_order(&bearer_api::NewOrder {
            order_id: "o-1".into(),
        })
        .await
        .unwrap();
    assert_eq!((order.order_id.as_str(), order.executions), ("o-1", 1));
    let c = backend.counters();
    assert_eq!(c.executions["o-1"], 1, "{c:?}");
    assert_eq!(c.requests, 3, "a 503, a lost reply, then the answer: {c:?}");
    assert_eq!(c.executions_by_key.len(), 1, "one key on every attempt: {c:?}");
}

/// Per-call options keep the methods' simple form: each method returns a
/// `Call` to await, which first takes options of its own or is asked for
/// the reply's status and headers (without the single-use token); a
/// `with_options` view gives options to every call made through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_call_options_and_the_raw_response() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let client = bearer_api::BearerApiClient::new(backend.url(), BEARER_USERNAME, BEARER_PASSWORD).unwrap();
    let response = client.get_user(7).with_response().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers().contains_key("content-type"), "{response:?}");
    assert_eq!(response.cache_status(), seamless_sdk::CacheStatus::Uncached);
    assert_eq!(response.into_value().id, 7);
    let by_hand = client
        .client()
        .call_with_response::<bearer_api::User>(seamless_sdk::Request::get("/api/users/7"))
        .await
        .unwrap();
    assert_eq!(by_hand.value().id, 7);

    backend.delay_responses(Duration::from_millis(300));
    let hurried = client.with_options(seamless_sdk::CallOptions::new().timeout(Duration::from_millis(50)));
    let e = hurried.get_user(8).await.unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    let e = client
        .get_user(8)
        .timeout(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "one call's own timeout: {e:?}");
    assert_eq!(
        client.get_user(8).await.unwrap().id,
        8,
        "the client itself keeps its timeout"
    );
    backend.delay_responses(Duration::ZERO);

    backend.reset_counters();
    backend.fail_next(
        1,
        seamless_sdk_testkit::StatusCode::SERVICE_UNAVAILABLE,
        &[("retry-after-ms", "1")],
    );
    let no_retry =
        client.with_options(seamless_sdk::CallOptions::new().retry(seamless_sdk::RetryPolicy::none()));
    let e = no_retry.get_user(9).await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503), "{e:?}");
    assert_eq!(backend.counters().requests, 1);
    backend.fail_next(
        1,
        seamless_sdk_testkit::StatusCode::SERVICE_UNAVAILABLE,
        &[("retry-after-ms", "1")],
    );
    let e = client
        .get_user(9)
        .retry(seamless_sdk::RetryPolicy::none())
        .await
        .unwrap_err();
    assert_eq!(
        e.status().map(|s| s.as_u16()),
        Some(503),
        "one call's own policy: {e:?}"
    );
    assert_eq!(backend.counters().requests, 2);
    // A path parameter that cannot be one segment fails the call, sending nothing.
    let e = client
        .client()
        .prepare::<bearer_api::User>(|| {
            let id = seamless_sdk::__private::path_segment("..")?;
            Ok(seamless_sdk::Request::get(format!("/api/users/{id}")))
        })
        .timeout(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(e.is_builder(), "{e:?}");
    assert_eq!(backend.counters().requests, 2);

    let seed = Backend::start(Protocol::Seed).await;
    let imi = seed_client(&seed);
    let response = imi
        .get_user(1)
        .header("X-Trace-Id", "t-1")
        .with_response()
        .await
        .unwrap();
    assert!(
        !response.headers().contains_key("b-t"),
        "the successor is a secret: {response:?}"
    );
    assert_eq!(response.value().id, 1);
    let (first, second) = tokio::join!(imi.whoami().with_response(), imi.whoami().with_response());
    let mut statuses = [first.unwrap().cache_status(), second.unwrap().cache_status()];
    statuses.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(
        statuses,
        [seamless_sdk::CacheStatus::Hit, seamless_sdk::CacheStatus::Miss],
        "a cached endpoint says where its value came from"
    );
    let bypassed = imi.whoami().bypass_cache().with_response().await.unwrap();
    assert_eq!(bypassed.cache_status(), seamless_sdk::CacheStatus::Miss);
    assert_eq!(seed.counters().token_reuse, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_sdk_typed_methods_through_an_expiry_storm() {
    let backend = Backend::start(Protocol::Query).await;
    let client = wechat_query::WechatQueryClient::new(backend.url(), QUERY_APPID, QUERY_SECRET).unwrap();
    let client = Arc::new(client);
    storm(&backend, Arc::clone(&client), |c, i| {
        tokio::spawn(async move { c.get_user(i).await.map(|u| u.id) })
    })
    .await;
    let err = client.fail().await.unwrap_err();
    assert_eq!(err.api_code(), Some(&serde_json_value(45009)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_sdk_authenticates_the_client_and_tells_an_expired_403_from_a_permission_403() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    backend.forbid_expired(true);
    backend.require_client_auth(Some(ClientAuth::Basic));
    let client = oauth_server::OauthServerClient::new(
        backend.url(),
        BEARER_USERNAME,
        BEARER_PASSWORD,
        BEARER_CLIENT_ID,
        BEARER_CLIENT_SECRET,
    )
    .unwrap();
    let client = Arc::new(client);
    storm(&backend, Arc::clone(&client), |c, i| {
        tokio::spawn(async move { c.get_user(i).await.map(|u| u.id) })
    })
    .await;
    let c = backend.counters();
    // The bare 403s were renewed by one refresh grant, which Basic authenticated.
    assert_eq!(
        (c.logins, c.refreshes, c.client_auth_refusals),
        (0, 1, 0),
        "{c:?}"
    );
    backend.reset_counters();
    let err = client.forbidden().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403), "{err:?}");
    assert!(!err.is_expired(), "{err:?}");
    let c = backend.counters();
    assert_eq!((c.requests, c.logins, c.refreshes), (1, 0, 0), "{c:?}");
}

fn serde_json_value(n: u64) -> seamless_sdk::__private::serde_json::Value {
    n.into()
}

/// The seed spec's `whoami` is cached (`cache: { ttl_ms: 5000,
/// stale_if_error_ms: 60000 }`): a storm of reads is one request, and while
/// logins fail it still answers, from memory, marked stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_sdk_serves_a_cached_read_through_a_storm_and_a_failed_login() {
    let backend = Backend::start(Protocol::Seed).await;
    let client = seed_client(&backend);
    let client = Arc::new(client);
    backend.delay_responses(Duration::from_millis(30));
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let c = Arc::clone(&client);
            tokio::spawn(async move { c.whoami().await })
        })
        .collect();
    let mut sessions = Vec::new();
    for call in calls {
        sessions.push(call.await.unwrap().unwrap().session);
    }
    sessions.dedup();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(backend.counters().requests, 1);
    backend.delay_responses(Duration::ZERO);

    // Past its 5 s a value would be fetched again; a bypassing view does
    // that now, and the refresh fails because logins do.
    backend.expire_all();
    backend.fail_next_logins(100);
    let refresh = client.with_options(seamless_sdk::CallOptions::new().bypass_cache());
    assert_eq!(refresh.whoami().await.unwrap().session, sessions[0]);
    let stats = client.client().stats();
    assert_eq!((stats.cache_misses, stats.cache_stale), (1, 1), "{stats:?}");
    let e = client
        .create_order(&imi_mini::NewOrder {
            order_id: "o-2".into(),
        })
        .await
        .unwrap_err();
    assert!(e.is_login(), "a write gets the login error: {e:?}");
}
