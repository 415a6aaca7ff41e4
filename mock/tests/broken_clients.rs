//! Deliberately broken clients, written as raw reqwest loops the way the seed
//! post's wrapper behaves, against the mock: the counters must catch what they
//! do wrong. A correct client (tests/storm.rs) leaves these counters at zero.

mod common;

use std::sync::Arc;
use std::time::Duration;

use seamless_sdk_mock::seamless_sdk_testkit::{EXPIRE_PATH, STATS_PATH};
use seamless_sdk_mock::{MockOptions, start};
use serde_json::{Value, json};
use tokio::sync::{Barrier, Mutex};

/// The counters as an HTTP client in another process reads them.
async fn stats(http: &reqwest::Client, url: &str) -> Value {
    http.get(format!("{url}{STATS_PATH}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Logs in to the imi_mini mock with a fresh one-time code; the token from `B-T`.
async fn seed_login(http: &reqwest::Client, url: &str) -> String {
    let code = common::code(http, url).await.unwrap();
    let resp = http
        .post(format!("{url}/v1/api/imiMini/login"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.headers()["b-t"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_client_that_sends_a_single_use_token_twice_is_caught() {
    let api = common::spec("imi_mini.yaml");
    let mock = start(&api, &MockOptions::default()).await.unwrap();
    let http = reqwest::Client::new();
    let token = seed_login(&http, &mock.url).await;

    let first = http
        .get(format!("{}/api/ping", mock.url))
        .header("B-T", &token)
        .send()
        .await
        .unwrap();
    assert!(first.headers().contains_key("b-t"), "a successor rotates in");
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["code"], 200, "{body}");

    // The bug: the same token again, instead of the successor.
    let again = http
        .get(format!("{}/api/ping", mock.url))
        .header("B-T", &token)
        .send()
        .await
        .unwrap();
    assert!(!again.headers().contains_key("b-t"));
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["code"], 408, "a spent token is answered as expired: {body}");

    let s = stats(&http, &mock.url).await;
    assert_eq!(s["token_reuse"], 1, "{s}");
    assert_eq!(s["expired_replies"], 1, "{s}");
    assert_eq!(mock.backend.counters().token_reuse, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_logs_in_after_every_failure_is_caught() {
    const TASKS: usize = 6;
    const ROUNDS: usize = 3;
    let api = common::spec("bearer_api.yaml");
    let mock = start(&api, &MockOptions::default()).await.unwrap();
    let url = mock.url.clone();
    let http = reqwest::Client::new();
    let login = {
        let (http, url) = (http.clone(), url.clone());
        move || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let body: Value = http
                    .post(format!("{url}/oauth/token"))
                    .json(&json!({"grant_type": "password", "username": "u", "password": "p"}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                body["access_token"].as_str().unwrap().to_owned()
            }
        }
    };
    let token = Arc::new(Mutex::new(login().await));
    let barrier = Arc::new(Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (http, url, token, barrier, login) = (
                http.clone(),
                url.clone(),
                Arc::clone(&token),
                Arc::clone(&barrier),
                login.clone(),
            );
            tokio::spawn(async move {
                for round in 0..ROUNDS {
                    if t == 0 {
                        http.post(format!("{url}{EXPIRE_PATH}")).send().await.unwrap();
                    }
                    barrier.wait().await;
                    // Every task holds the token of the moment before any of them fails.
                    let current = token.lock().await.clone();
                    barrier.wait().await;
                    let resp = http
                        .get(format!("{url}/api/users/{round}"))
                        .bearer_auth(&current)
                        .send()
                        .await
                        .unwrap();
                    if resp.status() == 401 {
                        // The bug: every failed call logs in on its own, no single flight.
                        let fresh = login().await;
                        *token.lock().await = fresh;
                    }
                    barrier.wait().await;
                }
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the broken client hung")
            .unwrap();
    }
    let s = stats(&http, &url).await;
    let c = mock.backend.counters();
    assert_eq!(c.expirations, ROUNDS as u64, "{s}");
    assert_eq!(c.expired_replies, (TASKS * ROUNDS) as u64, "{s}");
    assert!(c.logins > c.expirations + 1, "one login per failure: {s}");
    assert!(c.extra_logins > 0, "{s}");
    assert_eq!(s["extra_logins"], c.extra_logins, "{s}");
    assert_eq!(c.token_reuse, 0, "{s}");
}
