//! A non-idempotent request sent twice is counted as a duplicate execution,
//! whatever token each copy carried: the mock's fingerprint of a request is
//! its method, path, query and body with the token left out, so a client that
//! replays a `POST` that may have run is caught even when the token sits in
//! the body or the query.

mod common;

use seamless_sdk_codegen::model::{Lifetime, Placement};
use seamless_sdk_mock::{MockOptions, start};
use serde_json::{Value, json};

async fn login(http: &reqwest::Client, url: &str) -> String {
    let code = common::code(http, url).await.unwrap();
    let resp = http
        .post(format!("{url}/v1/api/imiMini/login"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    resp.headers()["b-t"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_post_sent_twice_with_the_token_in_its_body_is_a_duplicate() {
    let mut api = common::spec("imi_mini.yaml");
    api.auth.placement = Placement::JsonBody("auth.token".into());
    api.auth.lifetime = Lifetime::Reusable;
    let mock = start(&api, &MockOptions::default()).await.unwrap();
    let http = reqwest::Client::new();
    let first = login(&http, &mock.url).await;
    let second = login(&http, &mock.url).await;
    for token in [&first, &second] {
        let body: Value = http
            .post(format!("{}/api/orders", mock.url))
            .json(&json!({"auth": {"token": token}, "order_id": "o-1"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["code"], 200, "{body}");
    }
    // A different order is a first execution.
    let other: Value = http
        .post(format!("{}/api/orders", mock.url))
        .json(&json!({"auth": {"token": first}, "order_id": "o-2"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other["code"], 200, "{other}");
    // A GET is idempotent: never an execution.
    let ping: Value = http
        .get(format!("{}/api/ping", mock.url))
        .json(&json!({"auth": {"token": first}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ping["code"], 200, "{ping}");
    let c = mock.backend.counters();
    assert_eq!(c.duplicate_executions, 1, "{c:?}");
    assert_eq!(c.requests, 4, "{c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
}
