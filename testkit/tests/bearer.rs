//! The reusable bearer protocol: password and rotating refresh grants, TTL expiry.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Client;
use seamless_sdk_testkit::{BEARER_PASSWORD, BEARER_USERNAME, Backend, Counters, Protocol};
use serde_json::{Value, json};

const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug)]
struct Reply {
    status: u16,
    www_authenticate: Option<String>,
    body: Value,
}

async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request failed");
    let status = resp.status().as_u16();
    let www_authenticate = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body = resp.json().await.expect("JSON body");
    Reply {
        status,
        www_authenticate,
        body,
    }
}

async fn token_request(c: &Client, b: &Backend, body: Value) -> Reply {
    send(c.post(format!("{}/oauth/token", b.url())).json(&body)).await
}

/// Password login; returns (access, refresh).
async fn login(c: &Client, b: &Backend) -> (String, String) {
    let r = token_request(
        c,
        b,
        json!({"grant_type": "password", "username": BEARER_USERNAME, "password": BEARER_PASSWORD}),
    )
    .await;
    tokens(&r)
}

fn tokens(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    let access = r.body["access_token"].as_str().expect("access_token");
    let refresh = r.body["refresh_token"].as_str().expect("refresh_token");
    (access.to_owned(), refresh.to_owned())
}

async fn refresh(c: &Client, b: &Backend, rt: &str) -> Reply {
    token_request(c, b, json!({"grant_type": "refresh_token", "refresh_token": rt})).await
}

async fn get(c: &Client, b: &Backend, path: &str, token: &str) -> Reply {
    send(c.get(format!("{}{path}", b.url())).bearer_auth(token)).await
}

fn assert_invalid_token(r: &Reply) {
    assert_eq!(r.status, 401);
    assert_eq!(r.body, json!({"error": "invalid_token"}));
    assert_eq!(
        r.www_authenticate.as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );
}

#[tokio::test]
async fn happy_path_reuses_one_token() {
    let b = Backend::start(Protocol::Bearer { ttl: HOUR }).await;
    let c = Client::new();
    let r = token_request(
        &c,
        &b,
        json!({"grant_type": "password", "username": "u", "password": "p"}),
    )
    .await;
    assert_eq!(r.body["expires_in"], 3600);
    let (access, _) = tokens(&r);

    let ping = get(&c, &b, "/api/ping", &access).await;
    assert_eq!((ping.status, ping.body), (200, json!({"pong": true})));
    let user = get(&c, &b, "/api/users/7", &access).await;
    assert_eq!(user.body, json!({"id": 7, "name": "user-7"}));
    let echo = send(
        c.post(format!("{}/api/echo", b.url()))
            .bearer_auth(&access)
            .json(&json!([1, "two"])),
    )
    .await;
    assert_eq!(echo.body, json!([1, "two"]));
    let order = send(
        c.post(format!("{}/api/orders", b.url()))
            .bearer_auth(&access)
            .json(&json!({"order_id": "A-1"})),
    )
    .await;
    assert_eq!(order.body, json!({"order_id": "A-1", "executions": 1}));
    let fail = get(&c, &b, "/api/fail", &access).await;
    assert_eq!(
        (fail.status, fail.body),
        (422, json!({"error": "insufficient_balance"}))
    );
    assert_eq!(get(&c, &b, "/api/missing", &access).await.status, 404);
    // The scheme is case-insensitive.
    let lower = send(
        c.get(format!("{}/api/ping", b.url()))
            .header("Authorization", format!("bearer {access}")),
    )
    .await;
    assert_eq!(lower.status, 200);

    assert_eq!(
        b.counters(),
        Counters {
            logins: 1,
            logins_ok: 1,
            requests: 7,
            max_concurrent_holders: 1,
            max_concurrent_requests: 1,
            executions: BTreeMap::from([("A-1".to_owned(), 1)]),
            ..Counters::default()
        }
    );
}

#[tokio::test]
async fn form_encoded_grants_work() {
    let b = Backend::start(Protocol::Bearer { ttl: HOUR }).await;
    let c = Client::new();
    let r = send(c.post(format!("{}/oauth/token", b.url())).form(&[
        ("grant_type", "password"),
        ("username", BEARER_USERNAME),
        ("password", BEARER_PASSWORD),
    ]))
    .await;
    let (access, rt) = tokens(&r);
    assert_eq!(get(&c, &b, "/api/ping", &access).await.status, 200);
    let r = send(
        c.post(format!("{}/oauth/token", b.url()))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())]),
    )
    .await;
    tokens(&r);
}

#[tokio::test]
async fn bad_grants_and_credentials_fail() {
    let b = Backend::start(Protocol::Bearer { ttl: HOUR }).await;
    let c = Client::new();
    for body in [
        json!({"grant_type": "password", "username": "u", "password": "wrong"}),
        json!({"grant_type": "client_credentials"}),
        json!({"username": "u", "password": "p"}),
    ] {
        let r = token_request(&c, &b, body).await;
        assert_eq!((r.status, r.body), (400, json!({"error": "invalid_grant"})));
    }
    let r = send(c.post(format!("{}/oauth/token", b.url())).body("][")).await;
    assert_eq!((r.status, r.body), (400, json!({"error": "invalid_request"})));
    // An unknown refresh token is a refresh, not a login, and not reuse.
    let r = refresh(&c, &b, "rt-made-up").await;
    assert_eq!((r.status, r.body), (400, json!({"error": "invalid_grant"})));
    assert_eq!(
        b.counters(),
        Counters {
            logins: 4,
            logins_failed: 4,
            refreshes: 1,
            ..Counters::default()
        }
    );
}

#[tokio::test]
async fn unknown_or_missing_token_is_401() {
    let b = Backend::start(Protocol::Bearer { ttl: HOUR }).await;
    let c = Client::new();
    assert_invalid_token(&get(&c, &b, "/api/ping", "nope").await);
    assert_invalid_token(&send(c.get(format!("{}/api/ping", b.url()))).await);
    let counters = b.counters();
    assert_eq!(
        (counters.requests, counters.expired_replies, counters.token_reuse),
        (2, 2, 0)
    );
}

#[tokio::test]
async fn tokens_expire_after_ttl() {
    let ttl = Duration::from_millis(200);
    let b = Backend::start(Protocol::Bearer { ttl }).await;
    let c = Client::new();
    let r = token_request(
        &c,
        &b,
        json!({"grant_type": "password", "username": "u", "password": "p"}),
    )
    .await;
    assert_eq!(r.body["expires_in"], 1, "sub-second ttl rounds up");
    let (access, _) = tokens(&r);
    assert_eq!(get(&c, &b, "/api/ping", &access).await.status, 200);
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_invalid_token(&get(&c, &b, "/api/ping", &access).await);
    let counters = b.counters();
    assert_eq!((counters.expired_replies, counters.token_reuse), (1, 0));
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_is_counted() {
    let b = Backend::start(Protocol::Bearer { ttl: HOUR }).await;
    let c = Client::new();
    let (a1, r1) = login(&c, &b).await;
    let (a2, r2) = tokens(&refresh(&c, &b, &r1).await);
    assert_ne!((&a1, &r1), (&a2, &r2));
    // Earlier access tokens stay valid until they expire.
    assert_eq!(get(&c, &b, "/api/ping", &a1).await.status, 200);
    assert_eq!(get(&c, &b, "/api/ping", &a2).await.status, 200);

    let reused = refresh(&c, &b, &r1).await;
    assert_eq!(
        (reused.status, reused.body),
        (400, json!({"error": "invalid_grant"}))
    );
    let (_, r3) = tokens(&refresh(&c, &b, &r2).await);
    assert_ne!(r3, r2);

    let counters = b.counters();
    assert_eq!(
        (counters.logins, counters.refreshes, counters.token_reuse),
        (1, 3, 1)
    );
}

#[tokio::test]
async fn revoke_family_on_reuse_kills_the_session() {
    let b = Backend::start(Protocol::Bearer { ttl: HOUR }).await;
    let c = Client::new();
    b.revoke_family_on_reuse(true);
    let (_, r1) = login(&c, &b).await;
    let (a2, r2) = tokens(&refresh(&c, &b, &r1).await);
    let (other, _) = login(&c, &b).await;
    assert_eq!(refresh(&c, &b, &r1).await.status, 400);
    assert_invalid_token(&get(&c, &b, "/api/ping", &a2).await);
    assert_eq!(refresh(&c, &b, &r2).await.status, 400);
    assert_eq!(get(&c, &b, "/api/ping", &other).await.status, 200);
    assert_eq!(b.counters().token_reuse, 1, "a revoked token is not reuse");
}

#[tokio::test]
async fn expire_all_spares_refresh_tokens() {
    let b = Backend::start(Protocol::Bearer { ttl: HOUR }).await;
    let c = Client::new();
    let (access, rt) = login(&c, &b).await;
    b.expire_all();
    assert_invalid_token(&get(&c, &b, "/api/ping", &access).await);
    let (fresh, _) = tokens(&refresh(&c, &b, &rt).await);
    assert_eq!(get(&c, &b, "/api/ping", &fresh).await.status, 200);
}

#[tokio::test]
async fn login_and_refresh_fault_knobs() {
    let b = Backend::start(Protocol::Bearer { ttl: HOUR }).await;
    let c = Client::new();
    b.fail_next_logins(1);
    let r = token_request(
        &c,
        &b,
        json!({"grant_type": "password", "username": "u", "password": "p"}),
    )
    .await;
    assert_eq!((r.status, r.body), (400, json!({"error": "invalid_grant"})));
    let (_, rt) = login(&c, &b).await;

    b.fail_next_refreshes(1);
    let r = refresh(&c, &b, &rt).await;
    assert_eq!(
        (r.status, r.body),
        (503, json!({"error": "temporarily_unavailable"}))
    );
    // The refresh token survived the outage; this time it issues a dead access token.
    b.issue_expired_tokens(1);
    let (dead, rt2) = tokens(&refresh(&c, &b, &rt).await);
    assert_invalid_token(&get(&c, &b, "/api/ping", &dead).await);

    let d = Duration::from_millis(200);
    b.delay_logins(d);
    let started = Instant::now();
    tokens(&refresh(&c, &b, &rt2).await);
    assert!(started.elapsed() >= d, "delay_logins applies to refresh grants");

    let counters = b.counters();
    assert_eq!(
        (
            counters.logins,
            counters.logins_ok,
            counters.logins_failed,
            counters.refreshes,
            counters.token_reuse
        ),
        (2, 1, 1, 3, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_holders_of_one_reusable_token() {
    let b = Backend::start(Protocol::Bearer { ttl: HOUR }).await;
    let c = Client::new();
    let (access, _) = login(&c, &b).await;
    b.delay_responses(Duration::from_millis(300));
    let (x, y, z) = tokio::join!(
        get(&c, &b, "/api/ping", &access),
        get(&c, &b, "/api/ping", &access),
        get(&c, &b, "/api/ping", &access),
    );
    assert_eq!((x.status, y.status, z.status), (200, 200, 200));
    assert_eq!(b.counters().max_concurrent_holders, 3);
    assert_eq!(b.current_holders(), 0);
}
