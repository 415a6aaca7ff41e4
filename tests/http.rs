//! The runtime in the real HTTP world (issue 11): redirects, another host,
//! replies too long to read, and transport errors that must be classified
//! by whether the request could have reached the server. Every test runs
//! against loopback listeners that count what they saw: the testkit, an
//! [`Elsewhere`] standing for another host, an unreachable port, a
//! [`Blackhole`] whose connects never complete.

mod common;

use std::time::Duration;

use common::within;
use seamless_sdk::__private::reqwest;
use seamless_sdk::{Client, Expiry, Lifetime, LoginError, Placement, Request, Session, login_fn};
use seamless_sdk_testkit::{Backend, Blackhole, Elsewhere, Protocol, StatusCode, unreachable_url};
use serde_json::{Value, json};

fn order(id: &str) -> Request {
    Request::post("/api/orders").json(&json!({ "order_id": id }))
}

fn executions(backend: &Backend, id: &str) -> u64 {
    backend.counters().executions.get(id).copied().unwrap_or(0)
}

const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}

// ------------------------------------------------------------ redirects

#[tokio::test]
async fn a_single_use_redirect_is_an_error_whose_successor_token_still_reaches_the_chain() {
    // The server spends t0 and answers 3xx carrying t1. Following the
    // redirect sent t0 again (reuse) and lost t1 (a login, then `Expired`).
    for code in REDIRECTS {
        let backend = Backend::start(Protocol::Seed).await;
        let client = common::seed(&backend).build().unwrap();
        common::user(&client, 1).await.unwrap();
        backend.reset_counters();
        backend.redirect_next(1, status(code), "/api/ping");
        let err = client.call::<Value>(common::get_user(2)).await.unwrap_err();
        assert!(err.is_redirect(), "{code}: {err:?}");
        assert_eq!(err.status(), Some(status(code)), "{code}");
        assert_eq!(
            err.location(),
            Some(format!("{}/api/ping", backend.url()).as_str()),
            "{code}"
        );
        assert!(!err.is_outcome_unknown(), "a GET is idempotent: {err:?}");
        let c = backend.counters();
        assert_eq!((c.requests, c.token_reuse), (1, 0), "{code}: followed: {c:?}");
        // The successor the 3xx carried is the chain's next token.
        common::user(&client, 3).await.unwrap();
        let c = backend.counters();
        assert_eq!((c.requests, c.logins), (2, 0), "{code}: successor lost: {c:?}");
        assert_eq!((c.token_reuse, c.expired_replies), (0, 0), "{code}: {c:?}");
    }
}

#[tokio::test]
async fn a_post_answered_303_is_not_re_executed_after_a_login() {
    // Post-redirect-get: the GET carried the spent token, got `code: 408`
    // ("not executed"), and the runtime logged in and replayed the POST.
    let backend = Backend::start(Protocol::Seed).await;
    let client = common::seed(&backend).build().unwrap();
    common::user(&client, 1).await.unwrap();
    backend.reset_counters();
    backend.redirect_next(1, StatusCode::SEE_OTHER, "/api/orders/o-303");
    let err = client.call::<Value>(order("o-303")).await.unwrap_err();
    assert!(err.is_redirect() && err.is_outcome_unknown(), "{err:?}");
    assert_eq!(err.status(), Some(StatusCode::SEE_OTHER));
    assert_eq!(executions(&backend, "o-303"), 1, "{:?}", backend.counters());
    let c = backend.counters();
    assert_eq!((c.requests, c.logins, c.token_reuse), (1, 0, 0), "{c:?}");
}

#[tokio::test]
async fn a_post_that_executed_then_redirected_to_an_unreachable_host_is_not_replayed() {
    // Following it ended in a connect error, read as "never sent": the
    // token was given back and the POST replayed, executing twice.
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend).build().unwrap();
        common::user(&client, 1).await.unwrap();
        backend.reset_counters();
        backend.redirect_next(
            1,
            StatusCode::TEMPORARY_REDIRECT,
            format!("{}/x", unreachable_url()),
        );
        let err = client.call::<Value>(order("o-gone")).await.unwrap_err();
        assert!(err.is_redirect() && err.is_outcome_unknown(), "{name}: {err:?}");
        let c = backend.counters();
        assert_eq!(executions(&backend, "o-gone"), 1, "{name}: {c:?}");
        assert_eq!((c.requests, c.token_reuse), (1, 0), "{name}: {c:?}");
    }
}

#[tokio::test]
async fn no_token_header_query_token_or_referer_reaches_another_host() {
    // A cross-host redirect carried `B-T` (any custom header; reqwest drops
    // only `Authorization`), the query token, and a `Referer` with
    // `?access_token=…` to the other host.
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let other = Elsewhere::start().await;
        let client = common::builder(name, &backend).build().unwrap();
        common::user(&client, 1).await.unwrap();
        backend.redirect_next(1, StatusCode::FOUND, format!("{}/landing", other.url()));
        let result = client.call::<Value>(common::get_user(2)).await;
        let leaked: Vec<String> = other
            .seen()
            .iter()
            .map(|s| {
                let mut what: Vec<&str> = ["b-t", "authorization", "referer"]
                    .into_iter()
                    .filter(|h| s.headers.contains_key(*h))
                    .collect();
                if s.path_and_query.contains("access_token") {
                    what.push("query token");
                }
                format!("{} {}: {what:?}", s.method, s.path_and_query)
            })
            .collect();
        assert!(leaked.is_empty(), "{name}: the other host saw {leaked:?}");
        let err = result.unwrap_err();
        assert!(err.is_redirect(), "{name}: {err:?}");
        // The chain is fine afterwards.
        common::user(&client, 3).await.unwrap();
        assert_eq!(backend.counters().token_reuse, 0, "{name}");
    }
}

#[tokio::test]
async fn a_redirect_error_shows_where_it_pointed_but_no_token() {
    let backend = Backend::start(Protocol::Query).await;
    let client = common::query(&backend).build().unwrap();
    common::user(&client, 1).await.unwrap();
    backend.redirect_next(
        1,
        StatusCode::FOUND,
        "https://u:pw@elsewhere.example/cb?access_token=SECRET-T0&next=SECRET-N#SECRET-F",
    );
    let err = client.call::<Value>(common::get_user(2)).await.unwrap_err();
    assert_eq!(
        err.location(),
        Some("https://elsewhere.example/cb?access_token=***&next=***#***")
    );
    let printed = format!("{err} {err:?}");
    assert!(
        !printed.contains("SECRET") && !printed.contains("pw@"),
        "{printed}"
    );
    assert!(printed.contains("elsewhere.example/cb"), "{printed}");
}

#[tokio::test]
async fn a_307_on_the_refresh_grant_does_not_re_post_the_spent_refresh_token() {
    // The server spent the refresh token, then answered 307 to itself:
    // following re-POSTed the spent token (reuse, which revokes the family
    // on servers that detect it).
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let client = common::bearer(&backend).build().unwrap();
    common::user(&client, 1).await.unwrap();
    backend.expire_all();
    backend.reset_counters();
    backend.redirect_next_logins(1, StatusCode::TEMPORARY_REDIRECT, "/oauth/token");
    // The refused refresh falls back to one full login; the call succeeds.
    common::user(&client, 2).await.unwrap();
    let c = backend.counters();
    assert_eq!((c.refreshes, c.logins, c.token_reuse), (1, 1, 0), "{c:?}");
}

#[tokio::test]
async fn a_redirected_password_login_is_not_re_posted_to_another_host() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let other = Elsewhere::start().await;
    let client = common::bearer(&backend).build().unwrap();
    backend.redirect_next_logins(
        1,
        StatusCode::PERMANENT_REDIRECT,
        format!("{}/steal", other.url()),
    );
    let err = client.call::<Value>(common::get_user(1)).await.unwrap_err();
    assert!(err.is_login(), "{err:?}");
    assert!(
        matches!(
            err.login_error(),
            Some(LoginError::Redirected {
                status: Some(StatusCode::PERMANENT_REDIRECT),
                location: Some(_)
            })
        ),
        "{err:?}"
    );
    assert_eq!(other.requests(), 0, "the password went to {:?}", other.seen());
    let c = backend.counters();
    assert_eq!((c.logins, c.requests), (1, 0), "{c:?}");
}

#[tokio::test]
async fn a_user_http_client_builder_gets_redirects_turned_off() {
    // reqwest's own default follows redirects; `http_client_builder` takes
    // the user's builder and applies the runtime's settings on top.
    let backend = Backend::start(Protocol::Seed).await;
    let client = common::seed(&backend)
        .http_client_builder(reqwest::Client::builder())
        .build()
        .unwrap();
    common::user(&client, 1).await.unwrap();
    backend.redirect_next(1, StatusCode::FOUND, "/api/ping");
    let err = client.call::<Value>(common::get_user(2)).await.unwrap_err();
    assert!(
        err.is_redirect() && err.status() == Some(StatusCode::FOUND),
        "{err:?}"
    );
    common::user(&client, 3).await.unwrap();
    let c = backend.counters();
    assert_eq!((c.requests, c.logins, c.token_reuse), (3, 1, 0), "{c:?}");
}

#[tokio::test]
async fn a_user_http_client_that_follows_a_redirect_is_refused_and_its_reply_not_trusted() {
    // What the runtime cannot prevent with a finished client (it was sent
    // twice), it refuses: the reply of the followed request is not this
    // call's answer, and its `B-T` is no successor of this chain.
    let backend = Backend::start(Protocol::Seed).await;
    let other = Elsewhere::start().await;
    let client = common::seed(&backend)
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();
    common::user(&client, 1).await.unwrap();
    backend.redirect_next(1, StatusCode::FOUND, format!("{}/landing?x=SECRET", other.url()));
    let err = client.call::<Value>(common::get_user(2)).await.unwrap_err();
    assert!(err.is_redirect() && err.status().is_none(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("SECRET"), "{err:?}");
    assert_eq!(other.requests(), 1);
    // The token counts as spent: the next call logs in, reusing nothing.
    common::user(&client, 3).await.unwrap();
    let c = backend.counters();
    assert_eq!((c.logins, c.token_reuse, c.expired_replies), (2, 0, 0), "{c:?}");
}

#[tokio::test]
async fn a_public_call_is_not_redirected_either() {
    // Public endpoints carry no token, but a followed redirect would still
    // re-execute a POST or send its body elsewhere.
    let backend = Backend::start(Protocol::Seed).await;
    let api = Elsewhere::start().await;
    let other = Elsewhere::start().await;
    api.reply_with(
        StatusCode::TEMPORARY_REDIRECT,
        Some(format!("{}/x?k=SECRET", other.url())),
    );
    let client = seed_at(api.url(), &backend).build().unwrap();
    let result = client
        .call::<Value>(Request::post("/signup").json(&json!({"name": "n"})).no_auth())
        .await;
    assert_eq!(other.requests(), 0, "followed to {:?}", other.seen());
    assert_eq!(api.requests(), 1);
    let err = result.unwrap_err();
    assert!(err.is_redirect() && err.is_outcome_unknown(), "{err:?}");
    assert_eq!(err.location(), Some(format!("{}/x?k=***", other.url()).as_str()));
    assert_eq!(backend.counters().logins, 0);
}

// ------------------------------------------------------- classification

/// A seed-style client whose API calls go to `base` and whose login goes to
/// the testkit, which counts it.
fn seed_at(base: String, backend: &Backend) -> seamless_sdk::ClientBuilder {
    let login_url = format!("{}/v1/api/imiMini/login", backend.url());
    let codes = backend.seed_code_provider();
    Client::builder(base)
        .placement(Placement::header("B-T"))
        .lifetime(Lifetime::single_use("B-T"))
        .expiry(Expiry::body_field("code", [408]))
        .login(login_fn(move |cx| {
            let (url, code) = (login_url.clone(), codes());
            async move {
                let resp = cx
                    .send(cx.http().post(url).json(&json!({ "code": code })))
                    .await?;
                let token = resp
                    .headers()
                    .get("b-t")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .ok_or_else(|| LoginError::NoToken("B-T".into()))?;
                Ok::<_, LoginError>(Session::new(token))
            }
        }))
}

#[tokio::test]
async fn a_request_timeout_during_connect_spends_no_token_and_is_not_outcome_unknown() {
    // The request timeout fired before the connection existed: nothing was
    // sent, yet the token was counted spent (a new login per call) and the
    // POST reported "may have executed".
    let backend = Backend::start(Protocol::Seed).await;
    let hole = Blackhole::start().await;
    let client = seed_at(hole.url(), &backend)
        .request_timeout(Some(Duration::from_millis(400)))
        .build()
        .unwrap();
    for i in 0..2 {
        let err = within(
            10,
            "a call to a blackhole",
            client.call::<Value>(order(&format!("o{i}"))),
        )
        .await
        .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert!(!err.is_outcome_unknown(), "nothing was sent: {err:?}");
    }
    assert_eq!(backend.counters().logins, 1, "the unsent token was spent");
    assert_eq!(client.stats().recoveries, 0);
}

#[tokio::test]
async fn a_request_that_cannot_be_sent_spends_no_token_and_is_not_outcome_unknown() {
    // reqwest refuses a non-HTTP URL at send time with a builder error,
    // which counted as "may have executed".
    let backend = Backend::start(Protocol::Seed).await;
    let base = format!("ftp://{}", backend.addr());
    let client = seed_at(base, &backend).build().unwrap();
    for i in 0..2 {
        let err = client.call::<Value>(order(&format!("o{i}"))).await.unwrap_err();
        assert!(err.is_builder(), "{err:?}");
        assert!(!err.is_outcome_unknown(), "nothing was sent: {err:?}");
    }
    let c = backend.counters();
    assert_eq!(
        (c.logins, c.requests),
        (1, 0),
        "the unsent token was spent: {c:?}"
    );
    assert_eq!(client.stats().recoveries, 0);
}

#[tokio::test]
async fn a_401_whose_body_is_cut_off_is_an_expiry_not_a_transport_error() {
    // The head says "expired" (not executed), so the body does not matter;
    // it used to end the POST as "outcome unknown" and a GET as `Expired`.
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let client = common::bearer(&backend).build().unwrap();
    common::user(&client, 1).await.unwrap();
    for (i, req) in [order("o-401"), common::get_user(2)].into_iter().enumerate() {
        backend.expire_all();
        backend.reset_counters();
        backend.truncate_next_expired_replies(1);
        client.call::<Value>(req).await.unwrap();
        let c = backend.counters();
        assert_eq!((c.requests, c.expired_replies), (2, 1), "call {i}: {c:?}");
        assert_eq!(c.refreshes + c.logins, 1, "call {i}: {c:?}");
        assert_eq!(
            c.executions.values().sum::<u64>(),
            u64::from(i == 0),
            "call {i}: {c:?}"
        );
    }
}

// ---------------------------------------------------------- body limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_past_the_body_limit_is_a_typed_error_and_never_read_whole() {
    // 64 GiB would exhaust memory (and time) if read whole; the deadline
    // shows it was not.
    const HUGE: u64 = 64 << 30;
    for announce in [true, false] {
        let backend = Backend::start(Protocol::Seed).await;
        let client = common::seed(&backend).build().unwrap();
        common::user(&client, 1).await.unwrap();
        backend.oversize_next(1, HUGE, announce);
        let err = within(20, "an endless reply", client.call::<Value>(common::get_user(2)))
            .await
            .unwrap_err();
        assert!(err.is_too_large(), "announce={announce}: {err:?}");
        assert_eq!(err.status(), Some(StatusCode::OK));
        // The headers carried the successor: no login, no reuse.
        common::user(&client, 3).await.unwrap();
        let c = backend.counters();
        assert_eq!((c.logins, c.requests, c.token_reuse), (1, 3, 0), "{c:?}");
    }
}

#[tokio::test]
async fn the_body_limit_is_configurable_and_exact() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let client = common::bearer(&backend).max_response_bytes(1000).build().unwrap();
    for (bytes, announce, fits) in [
        (1000, true, true),
        (1000, false, true),
        (1001, true, false),
        (1001, false, false),
    ] {
        backend.oversize_next(1, bytes, announce);
        let got = client.call::<Value>(common::get_user(1)).await;
        match got {
            Ok(v) => assert!(
                fits && v["pad"].as_str().is_some_and(|p| p.len() == 990),
                "{bytes}"
            ),
            Err(e) => assert!(!fits && e.is_too_large(), "{bytes} {announce}: {e:?}"),
        }
    }
    let err = common::bearer(&backend)
        .max_response_bytes(0)
        .build()
        .unwrap_err();
    assert!(err.is_builder(), "{err:?}");
}

#[tokio::test]
async fn a_login_reply_past_the_body_limit_is_a_typed_login_error() {
    for announce in [true, false] {
        let backend = Backend::start(Protocol::Bearer {
            ttl: Duration::from_secs(3600),
        })
        .await;
        let client = common::bearer(&backend).max_response_bytes(4096).build().unwrap();
        backend.oversize_next_logins(1, 1 << 30, announce);
        let err = within(
            10,
            "an endless login reply",
            client.call::<Value>(common::get_user(1)),
        )
        .await
        .unwrap_err();
        assert!(err.is_login() && err.is_too_large(), "{err:?}");
        assert!(
            matches!(err.login_error(), Some(LoginError::TooLarge(4096))),
            "{err:?}"
        );
        assert_eq!(backend.counters().logins, 1);
    }
}
