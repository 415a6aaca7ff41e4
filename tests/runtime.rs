//! The runtime's axes beyond the eight invariants: token placement, known
//! lifetimes, refresh grants, envelopes and typed errors, timeouts, custom
//! logins and public endpoints, each against the loopback testkit.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::within;
use seamless_sdk::__private::http::{Method, StatusCode};
use seamless_sdk::{
    Encoding, Expiry, ExpiryRule, LoginError, LoginFlow, Placement, RefreshGrant, Request, Session, login_fn,
};
use seamless_sdk_testkit::{
    BEARER_CLIENT_ID, BEARER_CLIENT_SECRET, BEARER_PASSWORD, BEARER_USERNAME, Backend, ClientAuth, Protocol,
};
use serde_json::{Value, json};

#[tokio::test]
async fn json_body_placement_carries_the_token_in_the_body() {
    let backend = Backend::start(Protocol::Seed).await;
    let client = common::seed(&backend)
        .placement(Placement::json_body("token"))
        .build()
        .unwrap();
    let echoed: Value = client
        .call(Request::post("/api/echo").json(&json!({"x": 1})))
        .await
        .unwrap();
    assert_eq!(echoed["x"], 1, "the caller's body survives token placement");
    common::user(&client, 7)
        .await
        .expect("a body-less request gets `{}` with the token");
    let c = backend.counters();
    assert_eq!(
        (c.requests, c.logins, c.token_reuse, c.expired_replies),
        (2, 1, 0, 0)
    );
}

#[tokio::test]
async fn known_lifetime_is_renewed_before_sending_not_after_a_rejection() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(2),
    })
    .await;
    // The skew is capped at half the lifetime: this token is renewed after 1 s.
    let client = common::bearer(&backend).build().unwrap();
    common::user(&client, 1).await.unwrap();
    common::user(&client, 2).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // Due for renewal but still valid: it serves this call while the
    // renewal runs beside it.
    common::user(&client, 3).await.unwrap();
    common::wait_until(10, "the renewal", || {
        let c = backend.counters();
        c.logins + c.refreshes == 2
    })
    .await;
    let c = backend.counters();
    assert_eq!(c.logins + c.refreshes, 2, "{c:?}");
    assert_eq!(c.expired_replies, 0, "the old token was sent to fail: {c:?}");
    assert_eq!(c.requests, 3);
}

#[tokio::test]
async fn refresh_grant_rotates_and_falls_back_to_a_full_login_when_refused() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let client = common::bearer(&backend).build().unwrap();
    common::user(&client, 1).await.unwrap();
    assert_eq!(backend.counters().logins, 1);

    // Expired: the refresh grant renews the session, no full login.
    backend.expire_all();
    common::user(&client, 2).await.unwrap();
    let c = backend.counters();
    assert_eq!((c.logins, c.refreshes), (1, 1), "{c:?}");

    // Again: the rotated refresh token (not the spent one) is used.
    backend.expire_all();
    common::user(&client, 3).await.unwrap();
    let c = backend.counters();
    assert_eq!((c.logins, c.refreshes, c.token_reuse), (1, 2, 0), "{c:?}");

    // The refresh is refused: one full login, and the refused refresh token
    // is never offered again.
    backend.fail_next_refreshes(1);
    backend.expire_all();
    common::user(&client, 4).await.unwrap();
    backend.expire_all();
    common::user(&client, 5).await.unwrap();
    let c = backend.counters();
    assert_eq!((c.logins, c.refreshes, c.token_reuse), (2, 4, 0), "{c:?}");
}

#[tokio::test]
async fn api_errors_are_typed_with_code_and_message_and_keep_the_chain() {
    let backend = Backend::start(Protocol::Seed).await;
    let client = common::seed(&backend).build().unwrap();
    let err = client.call::<Value>(Request::get("/api/fail")).await.unwrap_err();
    assert!(err.is_api(), "{err:?}");
    assert_eq!(err.api_code(), Some(&json!(4001)));
    assert_eq!(err.api_message(), Some("insufficient balance"));
    assert_eq!(err.to_string(), "api error 4001: insufficient balance");
    // The error envelope carried the next token: no login to continue.
    common::user(&client, 1).await.unwrap();
    assert_eq!(backend.counters().logins, 1);

    let backend = Backend::start(Protocol::Query).await;
    let client = common::query(&backend).build().unwrap();
    let err = client.call::<Value>(Request::get("/api/fail")).await.unwrap_err();
    assert_eq!(err.api_code(), Some(&json!(45009)), "{err:?}");

    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let client = common::bearer(&backend).build().unwrap();
    let err = client.call::<Value>(Request::get("/api/fail")).await.unwrap_err();
    assert!(err.is_status() && !err.is_api(), "{err:?}");
    assert_eq!(err.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
}

#[tokio::test]
async fn a_reply_of_the_wrong_shape_is_a_decode_error() {
    let backend = Backend::start(Protocol::Seed).await;
    let client = common::seed(&backend).build().unwrap();
    let err = client
        .call::<Vec<u8>>(Request::get("/api/ping"))
        .await
        .unwrap_err();
    assert!(err.is_decode(), "{err:?}");
    assert_eq!(err.status(), Some(StatusCode::OK));
}

#[tokio::test]
async fn request_timeout_ends_a_call_with_a_typed_timeout() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    let client = common::bearer(&backend)
        .request_timeout(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    common::user(&client, 1).await.unwrap();
    backend.delay_responses(Duration::from_secs(5));
    let order = Request::post("/api/orders").json(&json!({"order_id": "slow"}));
    let err = within(5, "a timed-out call", client.call::<Value>(order))
        .await
        .unwrap_err();
    assert!(err.is_timeout() && err.is_outcome_unknown(), "{err:?}");
    // A GET may be replayed once, then it times out too.
    let err = within(5, "a timed-out GET", common::user(&client, 2))
        .await
        .unwrap_err();
    assert!(err.is_timeout() && !err.is_outcome_unknown(), "{err:?}");
    assert_eq!(backend.counters().requests, 1 + 1 + 2);
}

#[tokio::test]
async fn a_custom_login_trait_implementation_is_used_and_bypasses_the_auth_layer() {
    let backend = Backend::start(Protocol::Seed).await;
    let codes = backend.seed_code_provider();
    let login = login_fn(move |cx| {
        let code = codes();
        async move {
            let resp = cx
                .http()
                .post(cx.url("/v1/api/imiMini/login"))
                .json(&json!({ "code": code }))
                .send()
                .await
                .map_err(LoginError::other)?;
            let token = resp
                .headers()
                .get("B-T")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| LoginError::rejected(Some(resp.status()), "no B-T header"))?
                .to_owned();
            Ok(Session::new(token))
        }
    });
    let client = Arc::new(common::seed(&backend).login(login).build().unwrap());
    backend.delay_responses(Duration::from_millis(2));
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let c = Arc::clone(&client);
            tokio::spawn(async move { common::user(&c, i).await })
        })
        .collect();
    for call in calls {
        within(10, "a call", call).await.unwrap().unwrap();
    }
    let c = backend.counters();
    // The login request itself carried no token and was not an API request.
    assert_eq!((c.logins, c.requests, c.token_reuse), (1, 20, 0), "{c:?}");
}

#[tokio::test]
async fn a_public_endpoint_sends_no_token_and_starts_no_login() {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend).build().unwrap();
        // The client holds a token, so there is one it could wrongly send.
        common::user(&client, 1).await.unwrap();
        let err = client
            .call::<Value>(Request::new(Method::GET, "/public/status").no_auth())
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::NOT_FOUND), "{name}: {err:?}");
        let c = backend.counters();
        assert_eq!(
            c.other_requests, 1,
            "{name}: the public call did not arrive: {c:?}"
        );
        assert_eq!(
            c.other_requests_with_token, 0,
            "{name}: it carried the token: {c:?}"
        );
        assert_eq!((c.logins, c.requests), (1, 1), "{name}: {c:?}");
        assert_eq!(client.stats().full_logins, 1, "{name}");
        // The token is still the chain's (seed: not spent by the public call).
        common::user(&client, 2).await.unwrap();
        let c = backend.counters();
        assert_eq!(
            (c.logins, c.token_reuse, c.expired_replies),
            (1, 0, 0),
            "{name}: {c:?}"
        );
    }
}

#[tokio::test]
async fn a_bad_configuration_is_reported_when_building() {
    let backend = Backend::start(Protocol::Seed).await;
    let err = common::seed(&backend)
        .chains(0)
        .max_replays(100)
        .build()
        .unwrap_err();
    assert!(err.is_builder(), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("chains") && msg.contains("max_replays"), "{msg}");
    let err = seamless_sdk::Client::builder("not a url").build().unwrap_err();
    assert!(err.to_string().contains("no login configured"), "{err}");
}

/// Issue 12, item 3: on a one-session API (each login revokes every token
/// before it) two chains would revoke each other's tokens, so the builder
/// refuses `chains > 1` with `exclusive_session(true)`.
#[tokio::test]
async fn exclusive_session_refuses_more_than_one_chain() {
    let backend = common::start("query").await;
    let err = common::query(&backend)
        .exclusive_session(true)
        .chains(2)
        .build()
        .unwrap_err();
    assert!(err.is_builder(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("exclusive_session") && text.contains("chains(2)"),
        "{text}"
    );
    common::query(&backend)
        .exclusive_session(true)
        .build()
        .expect("one chain is fine");
    assert_eq!(backend.counters().logins, 0);
}

/// Issue 12, item 3: with the server's exclusive session on and one chain,
/// a storm across an expiry fails no call. Requests sent with the old token
/// and refused while the chain's own (slow) login runs are stale replays:
/// that login is what revokes the old token on such an API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_session_storm_on_one_chain_fails_no_call() {
    let backend = common::start("query").await;
    backend.exclusive_session(true);
    let client = Arc::new(common::query(&backend).exclusive_session(true).build().unwrap());
    common::user(&client, 0).await.unwrap();
    backend.reset_counters();
    backend.delay_logins(Duration::from_millis(100));
    backend.delay_responses(Duration::from_millis(5));
    let calls: Vec<_> = (1..=200)
        .map(|i| {
            let c = Arc::clone(&client);
            tokio::spawn(async move { (i, common::user(&c, i).await) })
        })
        .collect();
    common::wait_until(30, "the storm", || backend.counters().requests >= 50).await;
    backend.expire_all();
    for call in calls {
        let (i, r) = within(30, "a storm call", call).await.unwrap();
        assert_eq!(r.unwrap_or_else(|e| panic!("call {i}: {e}")).id, i);
    }
    let c = backend.counters();
    let s = client.stats();
    assert_eq!((c.logins, c.logins_failed), (1, 0), "{c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
    assert!(c.expired_replies >= 1, "{c:?}");
    assert_eq!(
        s.expiry_replays + s.stale_replays,
        c.expired_replies,
        "{s:?} {c:?}"
    );
}

/// Issue 12, item 9: each `Stats` counter counts one thing. `logins` mixed
/// refresh grants and full logins, and `recoveries` counted every
/// single-use expiry reply as a lost reply.
#[tokio::test]
async fn stats_count_full_logins_refreshes_replays_and_lost_successors_apart() {
    // Seed: an expiry reply has no successor, but is an expiry, not a loss.
    let backend = common::start("seed").await;
    let client = common::seed(&backend).max_replays(2).build().unwrap();
    common::user(&client, 1).await.unwrap();
    backend.expire_all();
    common::user(&client, 2).await.unwrap();
    let s = client.stats();
    assert_eq!((s.full_logins, s.refreshes), (2, 0), "{s:?}");
    assert_eq!(
        (s.expiries, s.expiry_replays, s.lost_successors),
        (1, 1, 0),
        "{s:?}"
    );
    // A reply lost after the token was consumed: a loss and a transport replay.
    backend.abort_after_consume(1);
    common::user(&client, 3).await.unwrap();
    let s = client.stats();
    assert_eq!((s.lost_successors, s.transport_replays), (1, 1), "{s:?}");
    assert_eq!((s.full_logins, s.stale_replays), (3, 0), "{s:?}");
    assert_eq!(backend.counters().logins, s.full_logins);

    // Bearer: a refresh is not a full login; a refused one is followed by one.
    let backend = common::start("bearer").await;
    let client = common::bearer(&backend).build().unwrap();
    common::user(&client, 1).await.unwrap();
    backend.expire_all();
    common::user(&client, 2).await.unwrap();
    let s = client.stats();
    assert_eq!(
        (s.full_logins, s.refreshes, s.refresh_refusals),
        (1, 1, 0),
        "{s:?}"
    );
    backend.expire_all();
    backend.fail_next_refreshes(1);
    common::user(&client, 3).await.unwrap();
    let s = client.stats();
    assert_eq!(
        (s.full_logins, s.refreshes, s.refresh_refusals),
        (2, 2, 1),
        "{s:?}"
    );
    assert_eq!(
        (s.login_failures, s.expiries, s.expiry_replays),
        (0, 2, 2),
        "{s:?}"
    );
    let c = backend.counters();
    assert_eq!((c.logins, c.refreshes), (s.full_logins, s.refreshes), "{c:?}");
}

/// A bearer client whose expiry is a bare 403 (the production OAuth2 server
/// of issue 12), described by `rule`.
fn forbidding(backend: &Backend, rule: ExpiryRule) -> seamless_sdk::ClientBuilder {
    common::bearer(backend).expiry(Expiry::status([401]).or(rule))
}

#[tokio::test]
async fn a_permission_403_is_a_status_error_while_an_empty_403_renews_and_replays() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    backend.forbid_expired(true);
    let rule = ExpiryRule::status([403]).and(ExpiryRule::empty_body());
    let client = forbidding(&backend, rule).build().unwrap();
    common::user(&client, 1).await.unwrap();

    // A 403 with a body is a permission error: no login, no refresh, no replay.
    let err = client
        .call::<Value>(Request::get("/api/forbidden"))
        .await
        .unwrap_err();
    assert!(err.is_status() && !err.is_expired(), "{err:?}");
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
    let c = backend.counters();
    assert_eq!(
        (c.logins, c.refreshes, c.expired_replies, c.requests),
        (1, 0, 0, 2),
        "{c:?}"
    );

    // A bare 403 is the expired token: one refresh, one replay, success.
    backend.expire_all();
    common::user(&client, 2).await.unwrap();
    let c = backend.counters();
    assert_eq!(
        (c.logins, c.refreshes, c.expired_replies, c.requests),
        (1, 1, 1, 4),
        "{c:?}"
    );

    // The OR-only rule this replaces takes the permission error for an
    // expiry: a refresh, a replay, and `is_expired` at the end.
    let or_only = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    or_only.forbid_expired(true);
    let client = forbidding(&or_only, ExpiryRule::status([403])).build().unwrap();
    let err = client
        .call::<Value>(Request::get("/api/forbidden"))
        .await
        .unwrap_err();
    assert!(err.is_expired(), "{err:?}");
    assert_eq!(or_only.counters().logins + or_only.counters().refreshes, 2);
}

#[tokio::test]
async fn a_rule_pairing_a_status_with_a_header_tells_the_two_403s_apart() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    backend.forbid_expired(true);
    // Real servers put more in the header than the error: match a part of it.
    let rule = ExpiryRule::status([403]).and(ExpiryRule::header_contains(
        "WWW-Authenticate",
        r#"error="invalid_token""#,
    ));
    let client = forbidding(&backend, rule).build().unwrap();
    common::user(&client, 1).await.unwrap();
    let err = client
        .call::<Value>(Request::get("/api/forbidden"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN), "{err:?}");
    backend.expire_all();
    common::user(&client, 2).await.unwrap();
    let c = backend.counters();
    assert_eq!((c.logins, c.refreshes, c.expired_replies), (1, 1, 1), "{c:?}");
}

/// Bearer's password login with its form body, without client authentication.
fn password_flow() -> LoginFlow {
    LoginFlow::new(Method::POST, "/oauth/token")
        .encoding(Encoding::Form)
        .field("grant_type", "password")
        .field("username", BEARER_USERNAME)
        .secret_field("password", BEARER_PASSWORD)
        .token_at("access_token")
        .expires_in_at("expires_in")
        .refresh_token_at("refresh_token")
}

#[tokio::test]
async fn basic_client_authentication_reaches_the_token_endpoint_on_login_and_refresh() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    backend.require_client_auth(Some(ClientAuth::Basic));
    let flow = password_flow()
        .refresh_grant("/oauth/token", "refresh_token", [("grant_type", "refresh_token")])
        .client_basic_auth(BEARER_CLIENT_ID, BEARER_CLIENT_SECRET);
    assert!(!format!("{flow:?}").contains(BEARER_CLIENT_SECRET), "{flow:?}");
    let c = login_then_renew(&backend, flow).await;
    assert_eq!(
        (c.logins, c.refreshes, c.client_auth_refusals),
        (1, 1, 0),
        "{c:?}"
    );

    // Without it the server refuses the client, and says so.
    let client = common::bearer(&backend).login(password_flow()).build().unwrap();
    let err = common::user(&client, 3).await.unwrap_err();
    assert!(err.is_login(), "{err:?}");
    assert_eq!(backend.counters().client_auth_refusals, 1);
    // A wrong secret is refused as well, and never printed.
    let flow = password_flow().client_basic_auth(BEARER_CLIENT_ID, "wrong-secret-value");
    let client = common::bearer(&backend).login(flow).build().unwrap();
    let err = common::user(&client, 4).await.unwrap_err();
    assert!(err.is_login(), "{err:?}");
    assert_eq!(backend.counters().client_auth_refusals, 2);
    let printed = format!("{err} {err:?}");
    assert!(!printed.contains("wrong-secret-value"), "{printed}");
}

#[tokio::test]
async fn a_refresh_grant_sends_secret_fields_with_its_own_encoding() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    backend.require_client_auth(Some(ClientAuth::Body));
    let with_client = |grant: RefreshGrant| {
        password_flow()
            .field("client_id", BEARER_CLIENT_ID)
            .secret_field("client_secret", BEARER_CLIENT_SECRET)
            .refresh_with(grant)
    };
    let grant = RefreshGrant::new("/oauth/token", "refresh_token")
        .method(Method::POST)
        .encoding(Encoding::Form)
        .field("grant_type", "refresh_token")
        .field("client_id", BEARER_CLIENT_ID)
        .secret_field("client_secret", BEARER_CLIENT_SECRET);
    assert!(!format!("{grant:?}").contains(BEARER_CLIENT_SECRET), "{grant:?}");
    let c = login_then_renew(&backend, with_client(grant)).await;
    assert_eq!(
        (c.logins, c.refreshes, c.client_auth_refusals),
        (1, 1, 0),
        "{c:?}"
    );

    // A grant of constants only cannot carry the secret: the server refuses
    // it and the runtime falls back to a full login.
    backend.reset_counters();
    let grant = RefreshGrant::new("/oauth/token", "refresh_token").field("grant_type", "refresh_token");
    let c = login_then_renew(&backend, with_client(grant)).await;
    assert_eq!(
        (c.logins, c.refreshes, c.client_auth_refusals),
        (2, 1, 1),
        "{c:?}"
    );
}

/// A bearer client with `login` makes one call, the server expires every
/// token, and a second call renews: what the server counted.
async fn login_then_renew(backend: &Backend, login: LoginFlow) -> seamless_sdk_testkit::Counters {
    let client = common::bearer(backend).login(login).build().unwrap();
    common::user(&client, 1).await.unwrap();
    backend.expire_all();
    common::user(&client, 2).await.unwrap();
    backend.counters()
}

#[tokio::test]
async fn a_login_refused_through_the_envelope_carries_its_code() {
    let backend = Backend::start(Protocol::Seed).await;
    backend.fail_next_logins(1);
    let client = common::seed(&backend)
        .login_backoff(Duration::ZERO, Duration::ZERO)
        .build()
        .unwrap();
    let err = common::user(&client, 1).await.unwrap_err();
    let login = err.login_error().expect("a login error");
    assert_eq!(login.api_code(), Some(&json!(500)), "{login:?}");
    assert_eq!(err.status(), Some(StatusCode::OK));
    assert!(
        err.to_string()
            .contains("login rejected (http 200, code 500): login failed"),
        "{err}"
    );
    // An error status with an envelope body carries both.
    backend.fail_next_logins_with_status(1, StatusCode::SERVICE_UNAVAILABLE);
    let err = common::user(&client, 2).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("login rejected (http 503, code 503): login unavailable"),
        "{err}"
    );
    common::user(&client, 3).await.unwrap();
}
