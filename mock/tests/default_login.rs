//! A spec whose login is `custom` (the user's own `Login` implementation) has
//! no login the mock could serve as declared: it gets the documented default,
//! `POST /__mock/login`, and the summary says so.

mod common;

use seamless_sdk_codegen::model::Login;
use seamless_sdk_mock::{DEFAULT_LOGIN_PATH, MockOptions, start};
use serde_json::Value;

#[tokio::test]
async fn a_custom_login_is_served_at_the_default_path() {
    let mut api = common::spec("bearer_api.yaml");
    api.auth.login = Login::Custom;
    let mock = start(&api, &MockOptions::default()).await.unwrap();
    assert!(mock.summary.contains("default login"), "{}", mock.summary);
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{}{DEFAULT_LOGIN_PATH}", mock.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["token_type"], "Bearer", "{login}");
    let token = login["access_token"].as_str().unwrap();
    let ping = http
        .get(format!("{}/api/ping", mock.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), 200);
    let body: Value = ping.json().await.unwrap();
    assert!(body["pong"].is_boolean(), "{body}");
    // The spec's own login path is not served.
    let declared = http
        .post(format!("{}/oauth/token", mock.url))
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), 404);
    let c = mock.backend.counters();
    assert_eq!((c.logins_ok, c.requests, c.token_reuse), (1, 1, 0), "{c:?}");
}
