//! The reliability knobs: stalls, truncated replies, proxy statuses, login 5xx, keep-alive
//! closes, and the counters that go with them (`max_concurrent_requests`,
//! `logins_with_token`, `idle_closes`).

use std::time::{Duration, Instant};

use reqwest::Client;
use seamless_sdk_testkit::{
    BEARER_PASSWORD, BEARER_USERNAME, Backend, Protocol, QUERY_APPID, QUERY_SECRET, StatusCode,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SEED_LOGIN: &str = "/v1/api/imiMini/login";

async fn seed_login(c: &Client, b: &Backend) -> String {
    let r = c
        .post(format!("{}{SEED_LOGIN}", b.url()))
        .json(&json!({"code": b.valid_code()}))
        .send()
        .await
        .expect("login");
    r.headers()["b-t"].to_str().expect("ascii").to_owned()
}

/// `POST /api/orders` for `order_id`, with the seed token, ready to send.
fn order(c: &Client, b: &Backend, tok: &str, order_id: &str) -> reqwest::RequestBuilder {
    c.post(format!("{}/api/orders", b.url()))
        .header("B-T", tok)
        .json(&json!({ "order_id": order_id }))
}

/// Sends `method path` with the seed token; returns (status, next token, JSON body).
async fn seed_call(
    c: &Client,
    b: &Backend,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let mut req = c
        .request(method, format!("{}{path}", b.url()))
        .header("B-T", token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.expect("response");
    let status = r.status().as_u16();
    let next = r
        .headers()
        .get("b-t")
        .map(|v| v.to_str().expect("ascii").to_owned());
    (status, next, r.json().await.unwrap_or(Value::Null))
}

async fn ping(c: &Client, b: &Backend, token: &str) -> (u16, Option<String>, Value) {
    seed_call(c, b, reqwest::Method::GET, "/api/ping", token, None).await
}

async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn stall_next_executes_and_never_answers() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let tok = seed_login(&c, &b).await;
    b.stall_next(1);
    let err = order(&c, &b, &tok, "s1")
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("a stalled request gets no response");
    assert!(err.is_timeout(), "{err:?}");
    let counters = b.counters();
    assert_eq!(counters.executions.get("s1"), Some(&1), "it executed");
    assert_eq!(counters.requests, 1);
    assert_eq!(b.current_holders(), 0, "the stall holds no token");
    // The token was consumed and no successor minted: re-presenting it is reuse.
    let (status, next, body) = ping(&c, &b, &tok).await;
    assert_eq!((status, next, body["code"].clone()), (200, None, json!(408)));
    assert_eq!(b.counters().token_reuse, 1);
    // One-shot: the next session answers normally.
    let fresh = seed_login(&c, &b).await;
    assert_eq!(ping(&c, &b, &fresh).await.0, 200);
}

#[tokio::test]
async fn stall_next_holds_the_connection_open_until_the_client_hangs_up() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let tok = seed_login(&c, &b).await;
    b.stall_next(1);
    let mut stream = tokio::net::TcpStream::connect(b.addr()).await.expect("connect");
    let request = format!(
        "GET /api/ping HTTP/1.1\r\nHost: {}\r\nB-T: {tok}\r\n\r\n",
        b.addr()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await;
    assert!(read.is_err(), "the stalled connection said something: {read:?}");
    assert_eq!(b.counters().requests, 1);
}

#[tokio::test]
async fn truncate_next_sends_headers_with_the_next_token_then_cuts_the_body() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let tok = seed_login(&c, &b).await;
    b.truncate_next(1);

    // Byte level: complete headers, a Content-Length larger than what follows, then EOF.
    let mut stream = tokio::net::TcpStream::connect(b.addr()).await.expect("connect");
    let body = r#"{"order_id":"t1"}"#;
    let request = format!(
        "POST /api/orders HTTP/1.1\r\nHost: {}\r\nB-T: {tok}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        b.addr(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection");
    let text = String::from_utf8_lossy(&received).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("complete headers arrived");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.trim().to_owned())
    };
    let announced: usize = header("content-length").expect("content-length").parse().unwrap();
    assert!(!rest.is_empty(), "part of the body was sent");
    assert!(
        rest.len() < announced,
        "{} of {announced} bytes: not truncated",
        rest.len()
    );
    let next = header("b-t").expect("the next token is in the headers");
    assert_eq!(b.counters().executions.get("t1"), Some(&1), "it executed");

    // The next token in those headers is live.
    let (status, _, body) = ping(&c, &b, &next).await;
    assert_eq!((status, body["code"].clone()), (200, json!(200)));

    // With an HTTP client: the headers arrive, reading the body fails.
    let next = ping(&c, &b, &seed_login(&c, &b).await).await.1.expect("next");
    b.truncate_next(1);
    let resp = c
        .get(format!("{}/api/ping", b.url()))
        .header("B-T", &next)
        .send()
        .await
        .expect("the headers arrive");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers().contains_key("b-t"));
    resp.bytes().await.expect_err("an incomplete body is an error");
    assert_eq!(b.counters().token_reuse, 0);
}

#[tokio::test]
async fn reply_status_next_answers_a_proxy_status_without_executing() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    for status in [StatusCode::REQUEST_TIMEOUT, StatusCode::SERVICE_UNAVAILABLE] {
        let tok = seed_login(&c, &b).await;
        b.reset_counters();
        b.reply_status_next(1, status);
        let r = order(&c, &b, &tok, "p").send().await.expect("a response");
        assert_eq!(r.status(), status);
        assert!(!r.headers().contains_key("b-t"), "no next token");
        assert_eq!(r.headers()["content-type"], "text/html");
        assert!(r.text().await.unwrap().contains(&status.as_u16().to_string()));
        let counters = b.counters();
        assert!(counters.executions.is_empty(), "not executed: {counters:?}");
        assert_eq!((counters.requests, counters.expired_replies), (1, 0));
        // The token was consumed in front of the proxy error.
        assert_eq!(ping(&c, &b, &tok).await.2["code"], 408);
        assert_eq!(b.counters().token_reuse, 1);
    }
}

#[tokio::test]
async fn fail_next_logins_with_status_answers_that_status_in_every_protocol() {
    let c = Client::new();
    let status = StatusCode::SERVICE_UNAVAILABLE;

    let b = Backend::start(Protocol::Seed).await;
    b.fail_next_logins_with_status(2, status);
    for _ in 0..2 {
        let r = c
            .post(format!("{}{SEED_LOGIN}", b.url()))
            .json(&json!({"code": b.valid_code()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status);
        assert!(!r.headers().contains_key("b-t"));
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"code": 503, "msg": "login unavailable"})
        );
    }
    seed_login(&c, &b).await;
    let counters = b.counters();
    assert_eq!(
        (counters.logins, counters.logins_ok, counters.logins_failed),
        (3, 1, 2)
    );

    let b = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    b.fail_next_logins_with_status(1, status);
    let creds = json!({"grant_type": "password", "username": BEARER_USERNAME, "password": BEARER_PASSWORD});
    let r = c
        .post(format!("{}/oauth/token", b.url()))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), status);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "temporarily_unavailable"})
    );
    let r = c
        .post(format!("{}/oauth/token", b.url()))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!((b.counters().logins_failed, b.counters().logins_ok), (1, 1));

    let b = Backend::start(Protocol::Query).await;
    b.fail_next_logins_with_status(1, StatusCode::BAD_GATEWAY);
    let url = format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid={QUERY_APPID}&secret={QUERY_SECRET}",
        b.url()
    );
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(r.json::<Value>().await.unwrap()["errcode"], -1);
    assert_eq!(c.get(&url).send().await.unwrap().status().as_u16(), 200);
    assert_eq!((b.counters().logins_failed, b.counters().logins_ok), (1, 1));
}

#[tokio::test]
async fn logins_with_token_counts_logins_that_carried_an_api_token() {
    let c = Client::new();
    let b = Backend::start(Protocol::Seed).await;
    let tok = seed_login(&c, &b).await;
    let r = c
        .post(format!("{}{SEED_LOGIN}", b.url()))
        .header("B-T", &tok)
        .json(&json!({"code": b.valid_code()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let counters = b.counters();
    assert_eq!((counters.logins, counters.logins_with_token), (2, 1));

    let b = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let creds = json!({"grant_type": "password", "username": BEARER_USERNAME, "password": BEARER_PASSWORD});
    c.post(format!("{}/oauth/token", b.url()))
        .json(&creds)
        .send()
        .await
        .unwrap();
    c.post(format!("{}/oauth/token", b.url()))
        .bearer_auth("whatever")
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!((b.counters().logins, b.counters().logins_with_token), (2, 1));

    let b = Backend::start(Protocol::Query).await;
    let url = format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid={QUERY_APPID}&secret={QUERY_SECRET}",
        b.url()
    );
    c.get(&url).send().await.unwrap();
    c.get(format!("{url}&access_token=x")).send().await.unwrap();
    assert_eq!((b.counters().logins, b.counters().logins_with_token), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_concurrent_requests_counts_holders_over_all_sessions() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let tokens = [
        seed_login(&c, &b).await,
        seed_login(&c, &b).await,
        seed_login(&c, &b).await,
    ];
    // One after the other: never more than one at once.
    let mut next = Vec::new();
    for t in &tokens {
        next.push(ping(&c, &b, t).await.1.expect("next"));
    }
    assert_eq!(b.counters().max_concurrent_requests, 1);
    b.delay_responses(Duration::from_millis(200));
    let all = async {
        tokio::join!(
            ping(&c, &b, &next[0]),
            ping(&c, &b, &next[1]),
            ping(&c, &b, &next[2])
        )
    };
    let watch = wait_until("three sessions held at once", || b.current_holders() == 3);
    let ((r0, r1, r2), ()) = tokio::join!(all, watch);
    assert_eq!((r0.0, r1.0, r2.0), (200, 200, 200));
    let counters = b.counters();
    assert_eq!(
        (counters.max_concurrent_requests, counters.max_concurrent_holders),
        (3, 1),
        "{counters:?}"
    );
    assert_eq!(b.current_holders(), 0);
}

#[tokio::test]
async fn keep_alive_closes_idle_connections_but_not_busy_ones() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let mut tok = seed_login(&c, &b).await;
    tok = ping(&c, &b, &tok).await.1.expect("next");
    // Off by default: spaced calls share one pooled connection.
    tokio::time::sleep(Duration::from_millis(150)).await;
    tok = ping(&c, &b, &tok).await.1.expect("next");
    assert_eq!(b.connections(), 1);
    assert_eq!(b.counters().idle_closes, 0);

    b.keep_alive(Duration::from_millis(50));
    // A request slower than the keep-alive is not cut: the connection is busy, not idle.
    b.delay_responses(Duration::from_millis(200));
    tok = ping(&c, &b, &tok).await.1.expect("a slow reply still arrives");
    b.delay_responses(Duration::ZERO);
    wait_until("the idle connection to be closed", || {
        b.counters().idle_closes >= 1
    })
    .await;
    // The pool notices the close and opens a new connection.
    tokio::time::sleep(Duration::from_millis(20)).await;
    tok = ping(&c, &b, &tok).await.1.expect("next");
    assert_eq!(b.connections(), 2);

    // Byte level: an idle connection gets EOF.
    let mut stream = tokio::net::TcpStream::connect(b.addr()).await.expect("connect");
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .expect("the idle connection is closed")
        .expect("a clean close");
    assert_eq!(n, 0);
    assert_eq!(ping(&c, &b, &tok).await.0, 200);
    assert_eq!(b.counters().token_reuse, 0);
}

fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

#[tokio::test]
async fn redirect_next_executes_then_answers_the_status_location_and_next_token() {
    let b = Backend::start(Protocol::Seed).await;
    let other = seamless_sdk_testkit::Elsewhere::start().await;
    let c = no_redirects();
    let tok = seed_login(&c, &b).await;
    let location = format!("{}/landing", other.url());
    b.redirect_next(1, StatusCode::SEE_OTHER, location.clone());
    let r = order(&c, &b, &tok, "r1").send().await.expect("response");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"].to_str().unwrap(), location);
    let next = r.headers()["b-t"].to_str().unwrap().to_owned();
    assert_eq!(b.counters().executions["r1"], 1);
    // The next token is live; the other host saw nothing (nobody followed).
    assert_eq!(ping(&c, &b, &next).await.0, 200);
    assert_eq!(other.requests(), 0);

    // A client that follows: the other host records what it was sent.
    let follow = Client::new();
    let tok = seed_login(&follow, &b).await;
    b.redirect_next(1, StatusCode::FOUND, location);
    let r = follow
        .get(format!("{}/api/ping", b.url()))
        .header("B-T", &tok)
        .send()
        .await
        .expect("response");
    assert_eq!(r.status(), StatusCode::OK);
    let seen = other.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path_and_query, "/landing");
    assert_eq!(seen[0].headers["b-t"].to_str().unwrap(), tok);
}

#[tokio::test]
async fn redirect_next_logins_spends_a_refresh_token_before_redirecting() {
    let b = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(60),
    })
    .await;
    let c = no_redirects();
    let token_url = format!("{}/oauth/token", b.url());
    let login: Value = c
        .post(&token_url)
        .json(&json!({"grant_type": "password", "username": BEARER_USERNAME, "password": BEARER_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let rt = login["refresh_token"].as_str().expect("refresh token");
    b.redirect_next_logins(1, StatusCode::TEMPORARY_REDIRECT, "/oauth/token");
    let grant = json!({"grant_type": "refresh_token", "refresh_token": rt});
    let r = c.post(&token_url).json(&grant).send().await.expect("response");
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(r.headers()["location"], "/oauth/token");
    // Presenting it again is reuse.
    let r = c.post(&token_url).json(&grant).send().await.expect("response");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let counters = b.counters();
    assert_eq!((counters.refreshes, counters.token_reuse), (2, 1));
}

#[tokio::test]
async fn oversize_next_sends_a_padded_body_announced_or_chunked() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let mut tok = seed_login(&c, &b).await;
    for announce in [true, false] {
        b.oversize_next(1, 100_000, announce);
        let r = c
            .get(format!("{}/api/ping", b.url()))
            .header("B-T", &tok)
            .send()
            .await
            .expect("response");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.content_length(), announce.then_some(100_000));
        tok = r.headers()["b-t"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.expect("the padding is JSON");
        assert_eq!(body["pad"].as_str().map(str::len), Some(100_000 - 10));
    }
    assert_eq!(ping(&c, &b, &tok).await.0, 200);
}

#[tokio::test]
async fn truncate_next_expired_replies_cuts_an_expiry_body() {
    let b = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(60),
    })
    .await;
    b.truncate_next_expired_replies(1);
    let r = Client::new()
        .get(format!("{}/api/ping", b.url()))
        .bearer_auth("nope")
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.bytes().await.is_err(), "the body was cut");
    assert_eq!(b.counters().expired_replies, 1);
}

#[tokio::test]
async fn unreachable_refuses_and_blackhole_never_connects() {
    let err = Client::new()
        .get(seamless_sdk_testkit::unreachable_url())
        .send()
        .await
        .expect_err("nothing listens");
    assert!(err.is_connect(), "{err:?}");
    let hole = seamless_sdk_testkit::Blackhole::start().await;
    let err = Client::builder()
        .connect_timeout(Duration::from_millis(200))
        .build()
        .expect("a client")
        .get(hole.url())
        .send()
        .await
        .expect_err("the connect hangs");
    assert!(err.is_connect() && err.is_timeout(), "{err:?}");
}
