//! The other side of every comparison: plain reqwest doing the same HTTP
//! requests with the same token, logged in by hand, as a careful user would
//! write it (the `Authorization` value built once, typed decoding).

use std::time::Duration;

use crate::sdk_tests::{bearer_api, imi_mini};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use seamless_sdk_testkit::{BEARER_PASSWORD, BEARER_USERNAME};
use serde::Deserialize;
use serde_json::json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The same settings as seamless's default HTTP client (no retries, no
/// redirects, no `Referer`, its 30 s request timeout on the client, a
/// connect timeout of 3/4 of that, a 30 s idle pool), so the comparison is
/// the wrapper and nothing else.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .retry(reqwest::retry::never())
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_millis(22_500))
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

/// The Bearer password grant; returns the access token.
pub(crate) async fn bearer_login(http: &reqwest::Client, base: &str) -> Result<String, BoxError> {
    let body = json!({"grant_type": "password", "username": BEARER_USERNAME, "password": BEARER_PASSWORD});
    let resp = http
        .post(format!("{base}/oauth/token"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    Ok(resp.json::<TokenResponse>().await?.access_token)
}

/// `Authorization: Bearer <token>`, built once.
pub(crate) fn bearer_header(token: &str) -> HeaderValue {
    let mut v = HeaderValue::try_from(format!("Bearer {token}")).expect("a header-safe token");
    v.set_sensitive(true);
    v
}

/// A Bearer API session by hand: `GET /api/users/{id}` with a fixed token.
pub(crate) struct RawBearer {
    pub http: reqwest::Client,
    pub base: String,
    pub auth: HeaderValue,
}

impl RawBearer {
    pub async fn login(base: &str) -> RawBearer {
        let http = http();
        let token = bearer_login(&http, base).await.expect("raw bearer login");
        RawBearer {
            http,
            base: base.to_owned(),
            auth: bearer_header(&token),
        }
    }

    pub async fn get_user(&self, id: u64) -> Result<bearer_api::User, BoxError> {
        Ok(get_user_with(&self.http, &self.base, &self.auth, id)
            .await?
            .map_err(|s| format!("HTTP {s}"))?)
    }
}

/// One `GET /api/users/{id}`: the user, or the refusing status.
pub(crate) async fn get_user_with(
    http: &reqwest::Client,
    base: &str,
    auth: &HeaderValue,
    id: u64,
) -> Result<Result<bearer_api::User, StatusCode>, BoxError> {
    let resp = http
        .get(format!("{base}/api/users/{id}"))
        .header(AUTHORIZATION, auth.clone())
        .send()
        .await?;
    if !resp.status().is_success() {
        return Ok(Err(resp.status()));
    }
    Ok(Ok(resp.json().await?))
}

/// The seed's `{code, data, msg}` envelope.
#[derive(Deserialize)]
struct Envelope<T> {
    code: i64,
    data: Option<T>,
}

/// One single-use Seed session by hand: every call sends the current `B-T`
/// and keeps the one its reply carries.
pub(crate) struct RawSeed {
    http: reqwest::Client,
    base: String,
    token: HeaderValue,
}

impl RawSeed {
    pub async fn login(http: reqwest::Client, base: &str, code: String) -> Result<RawSeed, BoxError> {
        let resp = http
            .post(format!("{base}/v1/api/imiMini/login"))
            .json(&json!({ "code": code }))
            .send()
            .await?;
        let token = resp.headers().get("B-T").cloned().ok_or("login without B-T")?;
        Ok(RawSeed {
            http,
            base: base.to_owned(),
            token,
        })
    }

    pub async fn get_user(&mut self, id: u64) -> Result<imi_mini::User, BoxError> {
        let resp = self
            .http
            .get(format!("{}/api/users/{id}", self.base))
            .header("B-T", self.token.clone())
            .send()
            .await?;
        self.token = resp.headers().get("B-T").cloned().ok_or("reply without B-T")?;
        let env: Envelope<imi_mini::User> = resp.json().await?;
        match (env.code, env.data) {
            (200, Some(user)) => Ok(user),
            (code, _) => Err(format!("code {code}").into()),
        }
    }
}
