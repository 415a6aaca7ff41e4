//! The WeChat-style query-token protocol: `GET /cgi-bin/token`, `?access_token=`, `errcode`.

use std::collections::BTreeMap;

use reqwest::Client;
use seamless_sdk_testkit::{Backend, Counters, Protocol, QUERY_APPID, QUERY_SECRET};
use serde_json::{Value, json};

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.expect("request failed");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

async fn login_with(c: &Client, b: &Backend, params: &[(&str, &str)]) -> (u16, Value) {
    send(c.get(format!("{}/cgi-bin/token", b.url())).query(params)).await
}

async fn login(c: &Client, b: &Backend) -> String {
    let (status, body) = login_with(
        c,
        b,
        &[
            ("grant_type", "client_credential"),
            ("appid", QUERY_APPID),
            ("secret", QUERY_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], 7200);
    body["access_token"].as_str().expect("access_token").to_owned()
}

async fn get(c: &Client, b: &Backend, path: &str, token: &str) -> (u16, Value) {
    send(
        c.get(format!("{}{path}", b.url()))
            .query(&[("access_token", token)]),
    )
    .await
}

async fn post(c: &Client, b: &Backend, path: &str, token: &str, body: Value) -> (u16, Value) {
    send(
        c.post(format!("{}{path}", b.url()))
            .query(&[("access_token", token)])
            .json(&body),
    )
    .await
}

#[tokio::test]
async fn happy_path_merges_fields_into_the_envelope() {
    let b = Backend::start(Protocol::Query).await;
    let c = Client::new();
    let t = login(&c, &b).await;

    assert_eq!(
        get(&c, &b, "/api/ping", &t).await,
        (200, json!({"errcode": 0, "errmsg": "ok", "pong": true}))
    );
    assert_eq!(
        get(&c, &b, "/api/users/u1", &t).await.1,
        json!({"errcode": 0, "errmsg": "ok", "id": "u1", "name": "user-u1"})
    );
    assert_eq!(
        post(&c, &b, "/api/echo", &t, json!({"k": "v"})).await.1,
        json!({"errcode": 0, "errmsg": "ok", "k": "v"})
    );
    assert_eq!(
        post(&c, &b, "/api/echo", &t, json!([1])).await.1,
        json!({"errcode": 0, "errmsg": "ok", "data": [1]})
    );
    assert_eq!(
        post(&c, &b, "/api/orders", &t, json!({"order_id": 9})).await.1,
        json!({"errcode": 0, "errmsg": "ok", "order_id": 9, "executions": 1})
    );
    assert_eq!(
        get(&c, &b, "/api/fail", &t).await,
        (200, json!({"errcode": 45009, "errmsg": "api limit"}))
    );
    // Extra query parameters next to the token are fine.
    let (status, _) = send(c.get(format!("{}/api/ping?x=1&access_token={t}&y=2", b.url()))).await;
    assert_eq!(status, 200);

    assert_eq!(
        b.counters(),
        Counters {
            logins: 1,
            logins_ok: 1,
            requests: 7,
            max_concurrent_holders: 1,
            max_concurrent_requests: 1,
            executions: BTreeMap::from([("9".to_owned(), 1)]),
            ..Counters::default()
        }
    );
}

#[tokio::test]
async fn login_errors() {
    let b = Backend::start(Protocol::Query).await;
    let c = Client::new();
    let cases: [(&[(&str, &str)], Value); 3] = [
        (
            &[
                ("grant_type", "client_credential"),
                ("appid", "B"),
                ("secret", "S"),
            ],
            json!({"errcode": 40013, "errmsg": "invalid appid"}),
        ),
        (
            &[
                ("grant_type", "client_credential"),
                ("appid", "A"),
                ("secret", "x"),
            ],
            json!({"errcode": 40125, "errmsg": "invalid appsecret"}),
        ),
        (
            &[("appid", "A"), ("secret", "S")],
            json!({"errcode": 40002, "errmsg": "invalid grant_type"}),
        ),
    ];
    for (params, expected) in cases {
        assert_eq!(login_with(&c, &b, params).await, (200, expected));
    }
    b.fail_next_logins(1);
    let (_, body) = login_with(
        &c,
        &b,
        &[
            ("grant_type", "client_credential"),
            ("appid", "A"),
            ("secret", "S"),
        ],
    )
    .await;
    assert_eq!(body["errcode"], 40013);
    login(&c, &b).await;
    let counters = b.counters();
    assert_eq!(
        (counters.logins, counters.logins_ok, counters.logins_failed),
        (5, 1, 4)
    );
}

#[tokio::test]
async fn expired_and_unknown_tokens_have_distinct_errcodes() {
    let b = Backend::start(Protocol::Query).await;
    let c = Client::new();
    let t = login(&c, &b).await;
    // Reusable: many calls, no reuse.
    for _ in 0..3 {
        assert_eq!(get(&c, &b, "/api/ping", &t).await.1["errcode"], 0);
    }
    b.expire_all();
    assert_eq!(
        get(&c, &b, "/api/ping", &t).await,
        (200, json!({"errcode": 42001, "errmsg": "access_token expired"}))
    );
    let unknown = json!({"errcode": 40001, "errmsg": "invalid credential"});
    assert_eq!(get(&c, &b, "/api/ping", "made-up").await, (200, unknown.clone()));
    assert_eq!(send(c.get(format!("{}/api/ping", b.url()))).await, (200, unknown));

    b.issue_expired_tokens(1);
    let dead = login(&c, &b).await;
    assert_eq!(get(&c, &b, "/api/ping", &dead).await.1["errcode"], 42001);

    let counters = b.counters();
    assert_eq!(
        (counters.requests, counters.expired_replies, counters.token_reuse),
        (7, 4, 0)
    );
}
