//! Clients for each testkit protocol, configured the way a generated SDK
//! would configure them.
#![allow(dead_code)]

pub mod redis;

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use seamless_sdk::__private::http::Method;
use seamless_sdk::{Client, ClientBuilder, Envelope, Expiry, Lifetime, LoginFlow, Placement, Request};
use seamless_sdk_testkit::{BEARER_PASSWORD, BEARER_USERNAME, Backend, QUERY_APPID, QUERY_SECRET};
use serde::Deserialize;

/// The seed: single-use `B-T` header, `code == 408` expiry, `{code, data, msg}`,
/// one-time code login.
pub fn seed(backend: &Backend) -> ClientBuilder {
    let codes = backend.seed_code_provider();
    Client::builder(backend.url())
        .placement(Placement::header("B-T"))
        .lifetime(Lifetime::single_use("B-T"))
        .expiry(Expiry::body_field("code", [408]))
        .envelope(Envelope::code_data_msg())
        .login(
            LoginFlow::new(Method::POST, "/v1/api/imiMini/login")
                .code("code", move || {
                    let code = codes();
                    async move { Ok::<_, Infallible>(code) }
                })
                .token_from_header("B-T"),
        )
}

/// Reusable bearer tokens with 401 expiry, `expires_in` and a rotating refresh grant.
pub fn bearer(backend: &Backend) -> ClientBuilder {
    bearer_at(&backend.url())
}

/// [`bearer`] for a backend at `url` (in another process).
pub fn bearer_at(url: &str) -> ClientBuilder {
    Client::builder(url)
        .placement(Placement::Bearer)
        .lifetime(Lifetime::Reusable)
        .expiry(Expiry::status([401]))
        .login(
            LoginFlow::new(Method::POST, "/oauth/token")
                .field("grant_type", "password")
                .field("username", BEARER_USERNAME)
                .secret_field("password", BEARER_PASSWORD)
                .token_at("access_token")
                .expires_in_at("expires_in")
                .refresh_token_at("refresh_token")
                .refresh_grant("/oauth/token", "refresh_token", [("grant_type", "refresh_token")]),
        )
}

/// WeChat style: `?access_token=`, `errcode` in {40001, 42001} means expired.
pub fn query(backend: &Backend) -> ClientBuilder {
    query_at(&backend.url())
}

/// [`query`] for a backend at `url` (in another process).
pub fn query_at(url: &str) -> ClientBuilder {
    Client::builder(url)
        .placement(Placement::query("access_token"))
        .lifetime(Lifetime::Reusable)
        .expiry(Expiry::body_field("errcode", [40001, 42001]))
        .envelope(
            Envelope::new("errcode")
                .success([0])
                .message("errmsg")
                .absent_is_success(true),
        )
        .login(
            LoginFlow::new(Method::GET, "/cgi-bin/token")
                .field("grant_type", "client_credential")
                .field("appid", QUERY_APPID)
                .secret_field("secret", QUERY_SECRET)
                .token_at("access_token")
                .expires_in_at("expires_in"),
        )
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct User {
    pub id: u64,
    pub name: String,
}

pub fn get_user(id: u64) -> Request {
    Request::get(format!("/api/users/{id}"))
}

/// The query protocol merges fields into the envelope, so the user is the
/// whole body there; decoding ignores the extra `errcode`/`errmsg`.
pub async fn user(client: &Client, id: u64) -> Result<User, seamless_sdk::Error> {
    client.call(get_user(id)).await
}

/// Bounds a future so a hang fails the test instead of stalling CI.
pub async fn within<T>(secs: u64, what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), f).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {secs} s (a hang)"),
    }
}

/// Waits until `cond` holds, polling; panics after `secs`.
pub async fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    within(secs, what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
}

/// The protocols every cross-protocol test runs against.
pub const PROTOCOLS: [&str; 3] = ["seed", "bearer", "query"];

/// A backend speaking `name` (bearer tokens live an hour).
pub async fn start(name: &str) -> Backend {
    Backend::start(match name {
        "seed" => seamless_sdk_testkit::Protocol::Seed,
        "bearer" => seamless_sdk_testkit::Protocol::Bearer {
            ttl: Duration::from_secs(3600),
        },
        "query" => seamless_sdk_testkit::Protocol::Query,
        other => panic!("unknown protocol {other}"),
    })
    .await
}

/// The client configuration for `name`.
pub fn builder(name: &str, backend: &Backend) -> ClientBuilder {
    match name {
        "seed" => seed(backend),
        "bearer" => bearer(backend),
        "query" => query(backend),
        other => panic!("unknown protocol {other}"),
    }
}

/// A `Write` into a shared buffer, for capturing tracing output.
#[derive(Clone, Default)]
pub struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// A subscriber that writes every event, at every level, here.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish()
    }

    /// Captures every tracing event on this thread while the guard lives.
    /// Use with a current-thread runtime, so spawned tasks (the login) run
    /// on this thread too.
    pub fn capture(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.subscriber())
    }
}

/// A small xorshift: random schedules that are reproducible by case.
pub struct Rng(pub u64);

impl Rng {
    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
