//! Every spec in `specs/` served by the mock, and the SDK generated from the
//! same spec (the snapshots `sdk-tests` compiles) run through an expiry storm
//! against it: many concurrent calls while every token expires every few
//! requests. The mock's counters must show one login (or refresh) per expiry
//! at most and no violation, and every call must come back with the example
//! value the mock was predicted to answer.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sdk_tests::{bearer_api, imi_mini, imi_mini_openapi, oauth_server, wechat_query};
use seamless_sdk_codegen::example::example;
use seamless_sdk_codegen::model::{Api, TypeRef};
use seamless_sdk_mock::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Mock, MockOptions};
use serde_json::Value;

const SEED: u64 = 7;
const WORKERS: u64 = 8;
const PER_WORKER: u64 = 50;
const EXPIRE_EVERY: u64 = 100;

type Reply = Pin<Box<dyn Future<Output = Result<Value, seamless_sdk::Error>> + Send>>;

/// The typed calls of one generated client, their values as JSON.
struct Calls {
    /// `get_user(id)`.
    user: Arc<dyn Fn(u64) -> Reply + Send + Sync>,
    /// `create_order(order_id)`, if the spec has it.
    order: Option<Arc<dyn Fn(String) -> Reply + Send + Sync>>,
}

fn json<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).expect("a generated type serializes")
}

async fn mock(api: &Api) -> Mock {
    let opts = MockOptions {
        seed: SEED,
        expire_every_requests: Some(EXPIRE_EVERY),
        ..MockOptions::default()
    };
    seamless_sdk_mock::start(api, &opts)
        .await
        .expect("the mock starts")
}

/// Runs `WORKERS × PER_WORKER` calls, `WORKERS` at a time, every fifth a
/// non-idempotent order when the spec has one, and checks values and counters.
async fn storm(api: &Api, mock: &Mock, calls: Calls) {
    let user = TypeRef::Named("User".into());
    let order = TypeRef::Named("Order".into());
    let calls = Arc::new(calls);
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let calls = Arc::clone(&calls);
            tokio::spawn(async move {
                let mut got = Vec::new();
                for k in 0..PER_WORKER {
                    let i = w * PER_WORKER + k;
                    match &calls.order {
                        Some(order) if k % 5 == 4 => {
                            got.push((None, order(format!("o-{i}")).await));
                        }
                        _ => got.push((Some(i), (calls.user)(i).await)),
                    }
                }
                got
            })
        })
        .collect();
    let mut n = 0;
    for worker in workers {
        let got = tokio::time::timeout(Duration::from_secs(60), worker)
            .await
            .expect("a call hung")
            .expect("a worker panicked");
        for (id, value) in got {
            let value = match value {
                Ok(v) => v,
                Err(e) => {
                    let events: Value = reqwest::get(format!("{}/__events?after=0", mock.url))
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    for ev in events["events"].as_array().unwrap() {
                        eprintln!("{ev}");
                    }
                    panic!("call {id:?} failed: {e:?}; {:?}", mock.backend.counters())
                }
            };
            let expected = match id {
                Some(id) => example(api, &user, SEED, &format!("/api/users/{id}")),
                None => example(api, &order, SEED, "/api/orders"),
            };
            assert_eq!(value, expected, "call {id:?}");
            n += 1;
        }
    }
    assert_eq!(n, WORKERS * PER_WORKER);
    let c = mock.backend.counters();
    eprintln!("{}: {}", api.name, seamless_sdk_mock::counters_line(&c));
    assert!(c.requests >= n, "{c:?}");
    assert!(c.expirations >= 3, "the storm never expired a token: {c:?}");
    assert!(c.expired_replies >= 1, "no call saw an expiry: {c:?}");
    assert!(
        c.logins + c.refreshes <= c.expirations + 1,
        "more than one login per expiry: {c:?}"
    );
    assert_eq!(c.logins_failed, 0, "{c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
    assert_eq!(c.refresh_token_reuse, 0, "{c:?}");
    assert_eq!(c.duplicate_executions, 0, "{c:?}");
    assert_eq!(c.extra_logins, 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imi_mini_sdk_through_a_storm_of_its_mock() {
    let api = common::spec("imi_mini.yaml");
    let mock = mock(&api).await;
    let http = reqwest::Client::new();
    let url = mock.url.clone();
    let client = imi_mini::ImiMiniClient::new(mock.url.clone(), move || {
        let (http, url) = (http.clone(), url.clone());
        async move { common::code(&http, &url).await }
    })
    .unwrap();
    let c = Arc::new(client);
    let (cu, co) = (Arc::clone(&c), Arc::clone(&c));
    let calls = Calls {
        user: Arc::new(move |i| {
            let c = Arc::clone(&cu);
            Box::pin(async move { c.get_user(i).await.map(json) })
        }),
        order: Some(Arc::new(move |id| {
            let c = Arc::clone(&co);
            Box::pin(async move {
                c.create_order(&imi_mini::NewOrder { order_id: id })
                    .await
                    .map(json)
            })
        })),
    };
    storm(&api, &mock, calls).await;
    // A single-use chain: never two requests on one token.
    assert_eq!(mock.backend.counters().max_concurrent_holders, 1);
    // The public endpoint needs no token and answers its example.
    let statuses = c.list_statuses().await.unwrap();
    let expected = example(
        &api,
        &TypeRef::List(Box::new(TypeRef::Named("Status".into()))),
        SEED,
        "/api/statuses",
    );
    assert_eq!(json(statuses), expected);
    assert!(mock.backend.counters().public_requests >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imi_mini_openapi_sdk_through_a_storm_of_its_mock() {
    let api = common::spec("openapi/imi_mini.openapi.yaml");
    let mock = mock(&api).await;
    let http = reqwest::Client::new();
    let url = mock.url.clone();
    let client = imi_mini_openapi::ImiMiniOpenapiClient::new(mock.url.clone(), move || {
        let (http, url) = (http.clone(), url.clone());
        async move { common::code(&http, &url).await }
    })
    .unwrap();
    let c = Arc::new(client);
    let (cu, co) = (Arc::clone(&c), Arc::clone(&c));
    let calls = Calls {
        user: Arc::new(move |i| {
            let c = Arc::clone(&cu);
            Box::pin(async move { c.get_user(i).await.map(json) })
        }),
        order: Some(Arc::new(move |id| {
            let c = Arc::clone(&co);
            Box::pin(async move {
                c.create_order(&imi_mini_openapi::NewOrder { order_id: id })
                    .await
                    .map(json)
            })
        })),
    };
    storm(&api, &mock, calls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bearer_api_sdk_through_a_storm_of_its_mock() {
    let api = common::spec("bearer_api.yaml");
    let mock = mock(&api).await;
    let c = Arc::new(bearer_api::BearerApiClient::new(mock.url.clone(), "u", "p").unwrap());
    let (cu, co) = (Arc::clone(&c), Arc::clone(&c));
    let calls = Calls {
        user: Arc::new(move |i| {
            let c = Arc::clone(&cu);
            Box::pin(async move { c.get_user(i).await.map(json) })
        }),
        order: Some(Arc::new(move |id| {
            let c = Arc::clone(&co);
            Box::pin(async move {
                c.create_order(&bearer_api::NewOrder { order_id: id })
                    .await
                    .map(json)
            })
        })),
    };
    storm(&api, &mock, calls).await;
    // The refresh grant renews the session after the first login.
    let counters = mock.backend.counters();
    assert_eq!(counters.logins, 1, "{counters:?}");
    assert!(counters.refreshes >= 1, "{counters:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oauth_server_sdk_through_a_storm_of_its_mock() {
    let api = common::spec("oauth_server.yaml");
    let mock = mock(&api).await;
    let client = oauth_server::OauthServerClient::new(
        mock.url.clone(),
        "u",
        "p",
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
    )
    .unwrap();
    let c = Arc::new(client);
    let calls = Calls {
        user: Arc::new(move |i| {
            let c = Arc::clone(&c);
            Box::pin(async move { c.get_user(i).await.map(json) })
        }),
        order: None,
    };
    storm(&api, &mock, calls).await;
    assert_eq!(mock.backend.counters().client_auth_refusals, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wechat_query_sdk_through_a_storm_of_its_mock() {
    let api = common::spec("wechat_query.yaml");
    let mock = mock(&api).await;
    let c = Arc::new(wechat_query::WechatQueryClient::new(mock.url.clone(), "A", "S").unwrap());
    let (cu, co) = (Arc::clone(&c), Arc::clone(&c));
    let calls = Calls {
        user: Arc::new(move |i| {
            let c = Arc::clone(&cu);
            Box::pin(async move { c.get_user(i).await.map(json) })
        }),
        order: Some(Arc::new(move |id| {
            let c = Arc::clone(&co);
            Box::pin(async move {
                c.create_order(&wechat_query::NewOrder { order_id: id })
                    .await
                    .map(json)
            })
        })),
    };
    storm(&api, &mock, calls).await;
}
