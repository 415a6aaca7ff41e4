//! The seed protocol: one-time codes, single-use `B-T` tokens, and the fault knobs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::{Client, Method};
use seamless_sdk_testkit::{Backend, Counters, Protocol};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LOGIN: &str = "/v1/api/imiMini/login";

#[derive(Debug)]
struct Reply {
    status: u16,
    bt: Option<String>,
    body: Value,
}

async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request failed");
    let status = resp.status().as_u16();
    let bt = resp
        .headers()
        .get("b-t")
        .map(|v| v.to_str().expect("ascii B-T").to_owned());
    let body = resp.json().await.expect("JSON body");
    Reply { status, bt, body }
}

async fn login_with(c: &Client, b: &Backend, code: &str) -> Reply {
    send(
        c.post(format!("{}{LOGIN}", b.url()))
            .json(&json!({ "code": code })),
    )
    .await
}

/// Logs in with a fresh code and returns the session's first token.
async fn login(c: &Client, b: &Backend) -> String {
    let r = login_with(c, b, &b.valid_code()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["code"], 200, "{:?}", r.body);
    let bt = r.bt.expect("login returns B-T");
    assert_eq!(r.body["data"]["token"], bt.as_str());
    bt
}

async fn call(
    c: &Client,
    b: &Backend,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let mut req = c
        .request(method, format!("{}{path}", b.url()))
        .header("B-T", token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    send(req).await
}

async fn ping(c: &Client, b: &Backend, token: &str) -> Reply {
    call(c, b, Method::GET, "/api/ping", token, None).await
}

/// Polls `cond` until it holds; timing-based asserts stay robust on a loaded machine.
async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn assert_expired(r: &Reply) {
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"code": 408, "msg": "token expired"}));
    assert_eq!(r.bt, None, "an expired reply carries no next token");
}

#[tokio::test]
async fn happy_path_rotates_a_token_per_call() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let mut tok = login(&c, &b).await;
    let mut seen = vec![tok.clone()];

    let mut step = async |method: Method, path: &str, body: Option<Value>| {
        let r = call(&c, &b, method, path, &tok, body).await;
        tok = r.bt.clone().expect("every executed call rotates B-T");
        assert!(!seen.contains(&tok), "tokens are unique");
        seen.push(tok.clone());
        r
    };

    let r = step(Method::GET, "/api/ping", None).await;
    assert_eq!(
        (r.status, r.body),
        (200, json!({"code": 200, "data": {"pong": true}, "msg": "ok"}))
    );
    let r = step(Method::GET, "/api/users/42", None).await;
    assert_eq!(r.body["data"], json!({"id": 42, "name": "user-42"}));
    let r = step(Method::GET, "/api/users/bob", None).await;
    assert_eq!(r.body["data"], json!({"id": "bob", "name": "user-bob"}));
    let r = step(Method::POST, "/api/echo", Some(json!({"a": [1, 2]}))).await;
    assert_eq!(r.body["data"], json!({"a": [1, 2]}));
    let r = step(Method::POST, "/api/orders", Some(json!({"order_id": "o1"}))).await;
    assert_eq!(r.body["data"], json!({"order_id": "o1", "executions": 1}));
    let r = step(Method::POST, "/api/orders", Some(json!({"order_id": "o1"}))).await;
    assert_eq!(r.body["data"], json!({"order_id": "o1", "executions": 2}));
    // An application error still consumed the token, so it still rotates.
    let r = step(Method::GET, "/api/fail", None).await;
    assert_eq!(
        (r.status, r.body),
        (200, json!({"code": 4001, "msg": "insufficient balance"}))
    );
    // Unknown API paths and bad bodies pass the token check too, and rotate.
    let r = step(Method::GET, "/api/nope", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["code"], 404);
    let r = step(Method::POST, "/api/orders", Some(json!({"nope": 1}))).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], 400);

    assert_eq!(
        b.counters(),
        Counters {
            logins: 1,
            logins_ok: 1,
            requests: 9,
            max_concurrent_holders: 1,
            max_concurrent_requests: 1,
            executions: BTreeMap::from([("o1".to_owned(), 2)]),
            duplicate_executions: 1,
            ..Counters::default()
        }
    );
    assert_eq!(b.current_holders(), 0);
}

#[tokio::test]
async fn spent_token_is_refused_and_counted_as_reuse() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let t1 = login(&c, &b).await;
    let t2 = ping(&c, &b, &t1).await.bt.expect("next token");

    let r = call(
        &c,
        &b,
        Method::POST,
        "/api/orders",
        &t1,
        Some(json!({"order_id": "x"})),
    )
    .await;
    assert_expired(&r);

    let counters = b.counters();
    assert_eq!(counters.token_reuse, 1);
    assert_eq!(counters.expired_replies, 1);
    assert_eq!(counters.requests, 2);
    assert!(
        counters.executions.is_empty(),
        "a refused request is not executed"
    );

    // Reuse does not kill the chain unless `revoke_family_on_reuse` is on.
    assert_eq!(ping(&c, &b, &t2).await.status, 200);
}

#[tokio::test]
async fn unknown_or_missing_token_is_expired_not_reuse() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    assert_expired(&ping(&c, &b, "tok-made-up").await);
    let r = send(c.get(format!("{}/api/ping", b.url()))).await;
    assert_expired(&r);
    let counters = b.counters();
    assert_eq!(
        (counters.requests, counters.expired_replies, counters.token_reuse),
        (2, 2, 0)
    );
}

#[tokio::test]
async fn login_codes_are_single_use() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let code = b.valid_code();
    assert_eq!(login_with(&c, &b, &code).await.body["code"], 200);

    let reused = login_with(&c, &b, &code).await;
    assert_eq!(reused.body, json!({"code": 40029, "msg": "invalid code"}));
    assert_eq!(reused.bt, None);
    let unknown = login_with(&c, &b, "code-made-up").await;
    assert_eq!(unknown.body["code"], 40029);
    let malformed = send(c.post(format!("{}{LOGIN}", b.url())).body("{not json")).await;
    assert_eq!(
        (malformed.status, malformed.body["code"].clone()),
        (400, json!(400))
    );

    assert_eq!(
        b.counters(),
        Counters {
            logins: 4,
            logins_ok: 1,
            logins_failed: 3,
            ..Counters::default()
        }
    );
}

#[tokio::test]
async fn code_provider_is_cloneable_and_static() {
    let b = Backend::start(Protocol::Seed).await;
    let provider = b.seed_code_provider();
    let code = tokio::spawn({
        let provider = provider.clone();
        async move { provider() }
    })
    .await
    .expect("task");
    let c = Client::new();
    assert_eq!(login_with(&c, &b, &code).await.body["code"], 200);
    assert_eq!(login_with(&c, &b, &provider()).await.body["code"], 200);
    assert_ne!(provider(), provider());
}

#[tokio::test]
async fn expire_all_kills_every_chain_without_counting_reuse() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let a = login(&c, &b).await;
    let z = login(&c, &b).await;
    b.expire_all();
    assert_expired(&ping(&c, &b, &a).await);
    assert_expired(&ping(&c, &b, &z).await);
    let counters = b.counters();
    assert_eq!((counters.expired_replies, counters.token_reuse), (2, 0));

    // Tokens issued afterwards are live.
    let fresh = login(&c, &b).await;
    assert_eq!(ping(&c, &b, &fresh).await.status, 200);
}

#[tokio::test]
async fn fail_next_logins_fails_exactly_n() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    b.fail_next_logins(2);
    for _ in 0..2 {
        let r = login_with(&c, &b, &b.valid_code()).await;
        assert_eq!(
            (r.status, r.body, r.bt),
            (200, json!({"code": 500, "msg": "login failed"}), None)
        );
    }
    login(&c, &b).await;
    let counters = b.counters();
    assert_eq!(
        (counters.logins, counters.logins_ok, counters.logins_failed),
        (3, 1, 2)
    );
}

#[tokio::test]
async fn issue_expired_tokens_hands_out_dead_tokens() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    b.issue_expired_tokens(1);
    let dead = login(&c, &b).await;
    assert_expired(&ping(&c, &b, &dead).await);
    // Presenting it again is still "expired", never reuse: it was never consumed.
    assert_expired(&ping(&c, &b, &dead).await);
    let live = login(&c, &b).await;
    assert_eq!(ping(&c, &b, &live).await.status, 200);
    let counters = b.counters();
    assert_eq!(
        (counters.logins_ok, counters.expired_replies, counters.token_reuse),
        (2, 2, 0)
    );
}

#[tokio::test]
async fn abort_after_consume_executes_then_drops_the_connection() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let tok = login(&c, &b).await;
    b.abort_after_consume(1);

    let err = c
        .post(format!("{}/api/orders", b.url()))
        .header("B-T", &tok)
        .json(&json!({"order_id": "o1"}))
        .send()
        .await
        .expect_err("no response may arrive");
    assert!(!err.is_status(), "{err:?}");

    let counters = b.counters();
    assert_eq!(counters.executions, BTreeMap::from([("o1".to_owned(), 1)]));
    assert_eq!(counters.requests, 1);
    assert_eq!(b.current_holders(), 0, "the abort path releases the holder");

    // The token was spent; resending it is reuse. The knob was one-shot.
    assert_expired(
        &call(
            &c,
            &b,
            Method::POST,
            "/api/orders",
            &tok,
            Some(json!({"order_id": "o1"})),
        )
        .await,
    );
    assert_eq!(b.counters().token_reuse, 1);
    let fresh = login(&c, &b).await;
    assert_eq!(ping(&c, &b, &fresh).await.status, 200);
    assert_eq!(b.counters().executions["o1"], 1);
}

/// Proves at the byte level that an aborted request gets no response at all: the server
/// closes the socket without writing a single byte.
#[tokio::test]
async fn aborted_connection_carries_no_bytes() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let tok = login(&c, &b).await;
    b.abort_after_consume(1);

    let mut stream = tokio::net::TcpStream::connect(b.addr()).await.expect("connect");
    let request = format!(
        "GET /api/ping HTTP/1.1\r\nHost: {}\r\nB-T: {tok}\r\n\r\n",
        b.addr()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection promptly");
    // hyper had read the whole request, so the close is a clean EOF with nothing before it.
    let n = read.expect("clean close, not a reset");
    assert_eq!(n, 0, "got {:?}", String::from_utf8_lossy(&received));
    assert_eq!(b.counters().requests, 1);
}

#[tokio::test]
async fn delay_logins_counts_first_then_waits() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let d = Duration::from_millis(500);
    b.delay_logins(d);
    let started = Instant::now();
    let pending = tokio::spawn({
        let (c, url, code) = (c.clone(), b.url(), b.valid_code());
        async move {
            c.post(format!("{url}{LOGIN}"))
                .json(&json!({"code": code}))
                .send()
                .await
                .map(|r| r.status())
        }
    });
    wait_until("the login is counted", || b.counters().logins == 1).await;
    assert_eq!(
        b.counters().logins_ok,
        0,
        "counted before the delay, answered after"
    );
    assert_eq!(pending.await.expect("task").expect("login").as_u16(), 200);
    assert!(started.elapsed() >= d);

    b.delay_logins(Duration::ZERO);
    let started = Instant::now();
    login(&c, &b).await;
    assert!(started.elapsed() < d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delay_responses_holds_each_chain_concurrently() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let a = login(&c, &b).await;
    let z = login(&c, &b).await;
    let d = Duration::from_millis(400);
    b.delay_responses(d);

    let started = Instant::now();
    let both = async { tokio::join!(ping(&c, &b, &a), ping(&c, &b, &z)) };
    let watch = wait_until("both chains held at once", || b.current_holders() == 2);
    let ((ra, rz), ()) = tokio::join!(both, watch);
    let elapsed = started.elapsed();
    assert_eq!((ra.status, rz.status), (200, 200));
    assert!(elapsed >= d, "{elapsed:?}");
    assert!(elapsed < 2 * d, "the two chains ran concurrently: {elapsed:?}");
    assert_eq!(b.counters().max_concurrent_holders, 1, "one holder per chain");

    // Two concurrent requests on one chain: only one can hold it, the other presents a
    // spent token and is refused without ever holding.
    let next = ra.bt.expect("next");
    let (r1, r2) = tokio::join!(ping(&c, &b, &next), ping(&c, &b, &next));
    let mut codes = [r1.body["code"].clone(), r2.body["code"].clone()];
    codes.sort_by_key(Value::to_string);
    assert_eq!(codes, [json!(200), json!(408)]);
    let counters = b.counters();
    assert_eq!((counters.max_concurrent_holders, counters.token_reuse), (1, 1));
    assert_eq!(b.current_holders(), 0);
}

#[tokio::test]
async fn dropped_client_releases_the_holder() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let tok = login(&c, &b).await;
    b.delay_responses(Duration::from_millis(300));
    let in_flight = tokio::spawn({
        let (c, url) = (c.clone(), b.url());
        async move { c.get(format!("{url}/api/ping")).header("B-T", tok).send().await }
    });
    wait_until("the request holds its chain", || b.current_holders() == 1).await;
    // The client gives up mid-flight.
    in_flight.abort();
    // Whether hyper notices the hang-up or finishes the response, the hold ends.
    wait_until("the hold is released", || b.current_holders() == 0).await;
}

#[tokio::test]
async fn revoke_family_on_reuse_kills_the_chain() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    b.revoke_family_on_reuse(true);
    let t1 = login(&c, &b).await;
    let t2 = ping(&c, &b, &t1).await.bt.expect("next");
    assert_expired(&ping(&c, &b, &t1).await);
    assert_expired(&ping(&c, &b, &t2).await);
    let counters = b.counters();
    assert_eq!((counters.token_reuse, counters.expired_replies), (1, 2));
    // Other chains are unaffected.
    let other = login(&c, &b).await;
    assert_eq!(ping(&c, &b, &other).await.status, 200);
}

#[tokio::test]
async fn reset_counters_keeps_sessions() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let tok = login(&c, &b).await;
    b.reset_counters();
    assert_eq!(b.counters(), Counters::default());
    assert_eq!(ping(&c, &b, &tok).await.status, 200);
    assert_eq!(b.counters().requests, 1);
}

#[tokio::test]
async fn oversized_body_is_refused_without_consuming_the_token() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let tok = login(&c, &b).await;
    let huge = vec![b'x'; seamless_sdk_testkit::MAX_BODY_BYTES + 1];
    let r = send(
        c.post(format!("{}/api/echo", b.url()))
            .header("B-T", &tok)
            .body(huge),
    )
    .await;
    assert_eq!((r.status, r.bt), (413, None));
    assert_eq!(ping(&c, &b, &tok).await.status, 200);
}

#[tokio::test]
async fn other_paths_are_plain_404_counted_apart() {
    let b = Backend::start(Protocol::Seed).await;
    let c = Client::new();
    let r = c
        .get(format!("{}/oauth/token", b.url()))
        .send()
        .await
        .expect("response");
    assert_eq!(r.status().as_u16(), 404);
    let r = c
        .get(format!("{}/public/status", b.url()))
        .header("B-T", "any")
        .send()
        .await
        .expect("response");
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        b.counters(),
        Counters {
            other_requests: 2,
            other_requests_with_token: 1,
            ..Counters::default()
        }
    );
}

#[tokio::test]
async fn drop_shuts_the_server_down() {
    let b = Backend::start(Protocol::Seed).await;
    let addr = b.addr();
    let c = Client::new();
    login(&c, &b).await;
    assert!(b.connections() >= 1);
    drop(b);
    // Abort takes effect at the accept task's next poll.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    // The pooled keep-alive connection was closed too.
    assert!(c.get(format!("http://{addr}/api/ping")).send().await.is_err());
}
