//! The engine on its own: a custom protocol ([`Rules`]) and custom endpoints ([`Routes`])
//! served with `serve`/`serve_on`; the admin endpoints (`/__stats`, `/__events`,
//! `/__admin/expire`, `/__admin/knobs`); the new fault knobs; and the counters that catch
//! broken clients (`extra_logins`, `refresh_token_reuse`, `duplicate_executions`). Every
//! client here is deliberately raw (reqwest without an auth layer).

use std::time::Duration;

use http::Method;
use reqwest::Client;
use seamless_sdk_testkit::{
    Accept, Access, BEARER_PASSWORD, BEARER_USERNAME, Backend, Call, Counters, EVENTS_PATH, EXPIRE_PATH,
    Envelope, ErrorStyle, KNOBS_PATH, Login, LoginField, Outcome, Placement, Protocol, Reply, Routes, Rules,
    STATS_PATH,
};
use serde_json::{Value, json};

/// A shop with a health check (public), `GET /me` and `POST /buy` (token), and a page.
struct Shop;

impl Routes for Shop {
    fn access(&self, method: &Method, path: &str) -> Access {
        match (method, path) {
            (&Method::GET, "/health") => Access::Public,
            (&Method::GET, "/me") | (&Method::POST, "/buy") => Access::Token,
            _ => Access::Unknown,
        }
    }

    fn answer(&self, call: &Call<'_>) -> Outcome {
        match call.path {
            "/health" => Outcome::Value(json!({"up": true})),
            "/me" => Outcome::Value(json!({"session": call.session})),
            _ => match call
                .json()
                .and_then(|v| v.get("item")?.as_str().map(str::to_owned))
            {
                Some(item) => Outcome::Value(json!({"item": item, "n": call.execute(item.clone())})),
                None => Outcome::BadRequest("need an item".to_owned()),
            },
        }
    }

    fn page(&self, path: &str) -> Option<(&'static str, &'static [u8])> {
        (path == "/__ui").then_some(("text/html", b"<html>storm</html>".as_slice()))
    }
}

/// Single-use `X-Token` tokens, the next one in `X-Next`; `{"status","result"}` envelope;
/// login `POST /session {"user": <any>}` answering `{"ok":true,"session":{"token":..}}`.
fn shop_rules() -> Rules {
    let mut login = Login::new(Method::POST, "/session");
    login.fields = vec![LoginField {
        name: "user".to_owned(),
        accept: Accept::AnyNonEmpty,
        refused: Reply::json(401, json!({"status": "who"})),
    }];
    login.issued.body = json!({"ok": true, "session": {"token": null}});
    login.issued.token_path = Some("session.token".to_owned());
    let mut rules = Rules::new(login);
    rules.placements = vec![Placement::Header("X-Token".to_owned())];
    rules.next_token_header = Some("X-Next".to_owned());
    rules.expired = Reply::json(200, json!({"status": "expired"}));
    rules.envelope = Envelope::Wrapped {
        code: "status".to_owned(),
        ok: json!("ok"),
        data: "result".to_owned(),
        message: None,
    };
    rules.errors = ErrorStyle::Coded {
        code: "status".to_owned(),
        message: "reason".to_owned(),
        overrides: Vec::new(),
    };
    rules
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.expect("a JSON body")
}

async fn shop_login(c: &Client, b: &Backend) -> String {
    let r = c
        .post(format!("{}/session", b.url()))
        .json(&json!({"user": "ann"}))
        .send()
        .await
        .expect("login");
    json_of(r).await["session"]["token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

#[tokio::test]
async fn custom_rules_and_routes_are_served() {
    let b = Backend::serve(shop_rules(), Shop).await;
    assert_eq!(b.rules().login.path, "/session");
    assert_eq!(b.protocol(), None);
    let c = Client::new();
    let t1 = shop_login(&c, &b).await;

    let r = c
        .get(format!("{}/me", b.url()))
        .header("X-Token", &t1)
        .send()
        .await
        .expect("me");
    let t2 = r.headers()["x-next"].to_str().expect("ascii").to_owned();
    assert_eq!(
        json_of(r).await,
        json!({"status": "ok", "result": {"session": 1}})
    );

    // The spent token is refused with this API's expired reply, and counted as reuse.
    let r = c
        .get(format!("{}/me", b.url()))
        .header("X-Token", &t1)
        .send()
        .await
        .expect("reuse");
    assert!(r.headers().get("x-next").is_none());
    assert_eq!(json_of(r).await, json!({"status": "expired"}));

    // One non-idempotent call executed twice (the second with the next token).
    let r = c
        .post(format!("{}/buy", b.url()))
        .header("X-Token", &t2)
        .json(&json!({"item": "tea"}))
        .send()
        .await
        .expect("buy");
    let t3 = r.headers()["x-next"].to_str().expect("ascii").to_owned();
    assert_eq!(json_of(r).await["result"]["n"], 1);
    let r = c
        .post(format!("{}/buy", b.url()))
        .header("X-Token", &t3)
        .json(&json!({"item": "tea"}))
        .send()
        .await
        .expect("buy again");
    assert_eq!(json_of(r).await["result"]["n"], 2);
    // A bad request in this API's error style.
    let r = c
        .post(format!("{}/buy", b.url()))
        .header("X-Token", &shop_login(&c, &b).await)
        .json(&json!({}))
        .send()
        .await
        .expect("bad buy");
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(r).await, json!({"status": 400, "reason": "need an item"}));

    // Public, page, unknown.
    let r = c.get(format!("{}/health", b.url())).send().await.expect("health");
    assert_eq!(json_of(r).await, json!({"status": "ok", "result": {"up": true}}));
    let r = c.get(format!("{}/__ui", b.url())).send().await.expect("page");
    assert_eq!(r.headers()["content-type"], "text/html");
    assert_eq!(r.text().await.expect("text"), "<html>storm</html>");
    let r = c.get(format!("{}/nope", b.url())).send().await.expect("unknown");
    assert_eq!(r.status(), 404);
    // A login the field check refuses.
    let r = c
        .post(format!("{}/session", b.url()))
        .json(&json!({"user": ""}))
        .send()
        .await
        .expect("refused login");
    assert_eq!(r.status(), 401);

    let n = b.counters();
    assert_eq!(n.logins, 3);
    assert_eq!(n.logins_ok, 2);
    assert_eq!(n.logins_failed, 1);
    assert_eq!(n.requests, 5);
    assert_eq!(n.expired_replies, 1);
    assert_eq!(n.token_reuse, 1);
    assert_eq!(n.duplicate_executions, 1);
    assert_eq!(n.public_requests, 1);
    assert_eq!(n.other_requests, 1);
    // The second login came while the first session's token was still good.
    assert_eq!(n.extra_logins, 1);
}

#[tokio::test]
async fn serve_on_uses_the_callers_listener() {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let b = Backend::serve_on(listener, Protocol::Query.rules(), seamless_sdk_testkit::Api).await;
    assert_eq!(b.addr(), addr);
    let r = Client::new()
        .get(format!("{}/api/ping?access_token=nope", b.url()))
        .send()
        .await
        .expect("ping");
    assert_eq!(json_of(r).await["errcode"], 40001);
    assert_eq!(b.counters().expired_replies, 1);
}

async fn bearer_login(c: &Client, b: &Backend) -> (String, String) {
    let r = c
        .post(format!("{}/oauth/token", b.url()))
        .json(&json!({"grant_type": "password", "username": BEARER_USERNAME, "password": BEARER_PASSWORD}))
        .send()
        .await
        .expect("login");
    let v = json_of(r).await;
    (
        v["access_token"].as_str().expect("access").to_owned(),
        v["refresh_token"].as_str().expect("refresh").to_owned(),
    )
}

async fn bearer_ping(c: &Client, b: &Backend, token: &str) -> reqwest::Response {
    c.get(format!("{}/api/ping", b.url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("ping")
}

async fn knobs(c: &Client, b: &Backend, body: Value) -> (u16, Value) {
    let r = c
        .post(format!("{}{KNOBS_PATH}", b.url()))
        .json(&body)
        .send()
        .await
        .expect("knobs");
    (r.status().as_u16(), json_of(r).await)
}

#[tokio::test]
async fn expire_every_requests_over_http_expires_every_nth_request() {
    let b = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let c = Client::new();
    assert_eq!(knobs(&c, &b, json!({"expire_every_requests": 3})).await.0, 200);
    let (mut token, _) = bearer_login(&c, &b).await;
    let mut expired = Vec::new();
    for i in 1..=7 {
        let r = bearer_ping(&c, &b, &token).await;
        if r.status() == 401 {
            expired.push(i);
            token = bearer_login(&c, &b).await.0;
        }
    }
    assert_eq!(expired, vec![3, 6]);
    let n = b.counters();
    assert_eq!(
        (n.requests, n.expired_replies, n.expirations, n.logins),
        (7, 2, 2, 3)
    );
    // Each re-login came after the expiry: none was extra.
    assert_eq!(n.extra_logins, 0);

    // Off again.
    b.expire_every_requests(0);
    for _ in 0..4 {
        assert_eq!(bearer_ping(&c, &b, &token).await.status(), 200);
    }
    assert_eq!(b.counters().expirations, 2);
}

#[tokio::test]
async fn expire_every_requests_on_a_single_use_chain() {
    let b = Backend::start(Protocol::Seed).await;
    b.expire_every_requests(2);
    let c = Client::new();
    let login = |code: String| {
        c.post(format!("{}/v1/api/imiMini/login", b.url()))
            .json(&json!({ "code": code }))
            .send()
    };
    let mut token = login(b.valid_code()).await.expect("login").headers()["b-t"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let mut codes = Vec::new();
    for _ in 0..4 {
        let r = c
            .get(format!("{}/api/ping", b.url()))
            .header("B-T", &token)
            .send()
            .await
            .expect("ping");
        match r.headers().get("b-t") {
            Some(next) => token = next.to_str().expect("ascii").to_owned(),
            None => {
                codes.push(json_of(r).await["code"].clone());
                token = login(b.valid_code()).await.expect("login").headers()["b-t"]
                    .to_str()
                    .expect("ascii")
                    .to_owned();
            }
        }
    }
    assert_eq!(codes, vec![json!(408), json!(408)]);
    let n = b.counters();
    assert_eq!((n.expired_replies, n.expirations, n.token_reuse), (2, 2, 0));
}

#[tokio::test]
async fn a_client_that_logs_in_per_failure_counts_extra_logins() {
    let b = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let c = Client::new();
    let (token, _) = bearer_login(&c, &b).await;
    b.expire_all();
    // Three calls fail at once; the broken client logs in once per failure.
    let (r1, r2, r3) = tokio::join!(
        bearer_ping(&c, &b, &token),
        bearer_ping(&c, &b, &token),
        bearer_ping(&c, &b, &token)
    );
    assert!([r1, r2, r3].iter().all(|r| r.status() == 401));
    for _ in 0..3 {
        bearer_login(&c, &b).await;
    }
    let n = b.counters();
    assert_eq!(n.logins_ok, 4);
    // The first re-login was needed; the two after it came while its token was good.
    assert_eq!(n.extra_logins, 2);
    assert_eq!(n.expirations, 1);
}

#[tokio::test]
async fn a_spent_refresh_token_presented_again_is_counted() {
    let b = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let c = Client::new();
    let (_, rt1) = bearer_login(&c, &b).await;
    let refresh = |rt: String| {
        c.post(format!("{}/oauth/token", b.url()))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())])
            .send()
    };
    let r = refresh(rt1.clone()).await.expect("refresh");
    assert_eq!(r.status(), 200);
    // A broken client that did not store the rotated refresh token.
    let r = refresh(rt1).await.expect("refresh again");
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(r).await, json!({"error": "invalid_grant"}));
    let n = b.counters();
    assert_eq!(
        n,
        Counters {
            logins: 1,
            logins_ok: 1,
            refreshes: 2,
            token_reuse: 1,
            refresh_token_reuse: 1,
            ..Counters::default()
        }
    );
}

#[tokio::test]
async fn stats_and_events_over_http_never_show_a_token() {
    let b = Backend::start(Protocol::Query).await;
    let c = Client::new();
    let r = c
        .get(format!(
            "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            b.url(),
            seamless_sdk_testkit::QUERY_APPID,
            seamless_sdk_testkit::QUERY_SECRET
        ))
        .send()
        .await
        .expect("login");
    let token = json_of(r).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let ping = |t: String| c.get(format!("{}/api/ping?access_token={t}", b.url())).send();
    assert_eq!(
        json_of(ping(token.clone()).await.expect("ping")).await["errcode"],
        0
    );
    let r = c
        .post(format!("{}{EXPIRE_PATH}", b.url()))
        .send()
        .await
        .expect("expire");
    assert_eq!(r.status(), 200);
    assert_eq!(
        json_of(ping(token.clone()).await.expect("ping")).await["errcode"],
        42001
    );

    let stats = json_of(
        c.get(format!("{}{STATS_PATH}", b.url()))
            .send()
            .await
            .expect("stats"),
    )
    .await;
    assert_eq!(stats["logins_ok"], 1);
    assert_eq!(stats["requests"], 2);
    assert_eq!(stats["expired_replies"], 1);
    assert_eq!(stats["expirations"], 1);
    assert_eq!(stats["extra_logins"], 0);
    assert!(stats["uptime_ms"].is_u64());
    assert_eq!(stats["current_holders"], 0);
    assert_eq!(stats["sessions"], 1);
    // The per-operation maps are given as sizes, so polling stays small.
    assert_eq!(stats["executions_distinct"], 0);
    assert!(stats.get("executions").is_none(), "{stats}");
    // Admin requests are not API requests.
    assert_eq!(b.counters().requests, 2);
    assert_eq!(b.counters().other_requests, 0);

    let url = format!("{}{EVENTS_PATH}?after=0", b.url());
    let text = c
        .get(&url)
        .send()
        .await
        .expect("events")
        .text()
        .await
        .expect("text");
    assert!(!text.contains(&token), "a token leaked into the events: {text}");
    assert!(
        !text.contains("access_token"),
        "a query leaked into the events: {text}"
    );
    let events: Value = serde_json::from_str(&text).expect("json");
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, vec!["login", "request", "fault", "expired"]);
    assert_eq!(events["events"][1]["path"], "/api/ping");
    assert_eq!(events["events"][3]["status"], 200);
    let next = events["next"].as_u64().expect("next");
    assert_eq!(next, 4);
    let later = json_of(
        c.get(format!("{}{EVENTS_PATH}?after={next}", b.url()))
            .send()
            .await
            .expect("events"),
    )
    .await;
    assert_eq!(later, json!({"events": [], "next": 4}));
    let r = c
        .get(format!("{}{EVENTS_PATH}?after=x", b.url()))
        .send()
        .await
        .expect("events");
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn knobs_over_http_are_checked_then_applied() {
    let b = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let c = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    // Unknown keys and bad values are refused whole.
    let (status, body) = knobs(&c, &b, json!({"stall_next": 1, "explode": true})).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("unknown field `explode`"),
        "{body}"
    );
    let (status, body) = knobs(&c, &b, json!({"fail_next": {"count": 1, "status": 200}})).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("fail_next.status"),
        "{body}"
    );
    let (status, _) = knobs(
        &c,
        &b,
        json!({"redirect_next": {"count": 1, "status": 404, "location": "/"}}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = knobs(&c, &b, json!({"fail_logins": -1})).await;
    assert_eq!(status, 400);
    let r = c
        .get(format!("{}{KNOBS_PATH}", b.url()))
        .send()
        .await
        .expect("get knobs");
    assert_eq!(r.status(), 405);

    let (token, _) = bearer_login(&c, &b).await;
    // Nothing was armed by the refused requests.
    assert_eq!(bearer_ping(&c, &b, &token).await.status(), 200);

    let (status, body) = knobs(
        &c,
        &b,
        json!({
            "fail_next": {"count": 1, "status": 429, "retry_after": 2},
            "redirect_next": {"count": 1, "status": 307, "location": "/api/ping"},
            "drop_next": 1,
            "fail_logins": 1,
            "delay_logins_ms": 0,
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Faults are taken one per request, in a fixed order: transient, drop, redirect.
    let r = bearer_ping(&c, &b, &token).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(
        json_of(r).await,
        json!({"error": "too_many_requests", "error_description": "try again later"})
    );
    let dropped = c
        .post(format!("{}/api/orders", b.url()))
        .bearer_auth(&token)
        .json(&json!({"order_id": "o1"}))
        .send()
        .await;
    assert!(dropped.is_err(), "the connection was to be dropped");
    let r = bearer_ping(&c, &b, &token).await;
    assert_eq!(r.status(), 307);
    assert_eq!(r.headers()["location"], "/api/ping");
    let r = c
        .post(format!("{}/oauth/token", b.url()))
        .json(&json!({"grant_type": "password", "username": BEARER_USERNAME, "password": BEARER_PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 400);

    let n = b.counters();
    assert_eq!(n.executions.get("o1"), Some(&1));
    assert_eq!(n.logins_failed, 1);
    assert_eq!(n.requests, 4);

    // The timer: on, then off.
    assert_eq!(knobs(&c, &b, json!({"expire_every_ms": 20})).await.0, 200);
    let mut waited = 0;
    while b.counters().expirations < 2 {
        assert!(waited < 250, "the timer never fired");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    assert_eq!(bearer_ping(&c, &b, &token).await.status(), 401);
    assert_eq!(knobs(&c, &b, json!({"expire_every_ms": 0})).await.0, 200);
    let settled = b.counters().expirations;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(b.counters().expirations, settled);
}
