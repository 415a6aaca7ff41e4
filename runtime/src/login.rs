//! Getting a session: the [`Login`] trait for any flow, and [`LoginFlow`],
//! the declarative one that covers code logins, credential logins and
//! rotating refresh grants.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};
use serde_json::{Map, Value};

use crate::config::{Envelope, JsonPath};
use crate::error::LoginError;
use crate::secret::Secret;
use crate::transport;

mod grant;
pub use grant::RefreshGrant;

/// A boxed, sendable future, as [`Login`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a login or refresh produced.
#[derive(Clone, Debug)]
pub struct Session {
    /// The access token.
    pub token: Secret,
    /// How long the token is accepted, if the server said.
    pub expires_in: Option<Duration>,
    /// A refresh token, if the server issued one. When a refresh's reply
    /// carries none, the server kept the old one (RFC 6749 §6) and the
    /// runtime keeps using it; one that rotated is never presented again.
    pub refresh_token: Option<Secret>,
}

impl Session {
    /// A session with just a token.
    pub fn new(token: impl Into<Secret>) -> Self {
        Session {
            token: token.into(),
            expires_in: None,
            refresh_token: None,
        }
    }
}

/// What a login flow may use. Requests sent through [`LoginContext::http`]
/// bypass the auth layer: no token is attached and no expiry is detected.
#[derive(Clone, Debug)]
pub struct LoginContext {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Arc<str>,
    pub(crate) envelope: Option<Envelope>,
    pub(crate) chain: usize,
    pub(crate) max_response_bytes: u64,
}

impl LoginContext {
    /// The plain HTTP client (shared connection pool, no auth layer).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `path` resolved against the client's base URL.
    pub fn url(&self, path: &str) -> String {
        join_url(&self.base, path)
    }

    /// Which chain (session) this login is for, counting from 0.
    pub fn chain(&self) -> usize {
        self.chain
    }

    /// The client's envelope, if it has one.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_ref()
    }

    /// Sends a login request through [`LoginContext::http`] and checks the
    /// reply's head: a redirect (3xx, or one a user-supplied client
    /// followed) is a [`LoginError::Redirected`], never followed, because it
    /// would re-send credentials or a refresh token to wherever it points.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, LoginError> {
        let request = request.build().map_err(LoginError::transport)?;
        let sent = request.url().clone();
        let resp = self.http.execute(request).await.map_err(LoginError::transport)?;
        if transport::was_redirected(&resp, &sent) {
            return Err(LoginError::Redirected {
                status: None,
                location: Some(transport::redact(resp.url())),
            });
        }
        if resp.status().is_redirection() {
            return Err(LoginError::Redirected {
                status: Some(resp.status()),
                location: transport::location(&resp, &sent),
            });
        }
        Ok(resp)
    }

    /// Reads a login reply's body under the client's response body limit
    /// ([`LoginError::TooLarge`] past it).
    pub async fn read_body(&self, resp: reqwest::Response) -> Result<bytes::Bytes, LoginError> {
        transport::read_body(resp, self.max_response_bytes)
            .await
            .map_err(|e| match e {
                transport::BodyError::TooLarge => LoginError::TooLarge(self.max_response_bytes),
                transport::BodyError::Transport(e) => LoginError::transport(e),
            })
    }
}

pub(crate) fn join_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    if path.starts_with('/') {
        format!("{base}{path}")
    } else {
        format!("{base}/{path}")
    }
}

/// Obtains a session. Implement it for flows [`LoginFlow`] does not cover.
///
/// The runtime runs a login in its own task, so it finishes (and reaches
/// every waiting caller) even when the caller that triggered it is gone, and
/// bounds it with the login timeout.
pub trait Login: Send + Sync + 'static {
    /// A full login.
    fn login(&self, cx: LoginContext) -> BoxFuture<'_, Result<Session, LoginError>>;

    /// Trades a refresh token for a new session. After an error the token
    /// counts as spent (the runtime never offers it again) and the runtime
    /// falls back to [`Login::login`]; after a success it is kept only if
    /// the returned session has no refresh token of its own. The default
    /// refuses.
    fn refresh(&self, cx: LoginContext, refresh_token: Secret) -> BoxFuture<'_, Result<Session, LoginError>> {
        let _ = (cx, refresh_token);
        Box::pin(async { Err(LoginError::rejected(None, "this login flow has no refresh grant")) })
    }
}

/// Where a one-time login code comes from (the `wx.login()` analog): asked
/// afresh for every login.
///
/// Any async closure is one: `|| async { Ok::<_, E>(code) }`, for any error
/// `E` that converts into a boxed error. Implement it by hand for a provider
/// that keeps state of its own.
pub trait CodeProvider: Send + Sync + 'static {
    /// Fetches one fresh code.
    fn code(&self) -> BoxFuture<'static, Result<String, Box<dyn std::error::Error + Send + Sync>>>;
}

impl<F, Fut, E> CodeProvider for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, E>> + Send + 'static,
    E: Into<BoxError>,
{
    fn code(&self) -> BoxFuture<'static, Result<String, BoxError>> {
        let fut = self();
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

/// How a login request carries its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// A JSON object body (`POST`).
    Json,
    /// An `application/x-www-form-urlencoded` body (`POST`).
    Form,
    /// Query parameters (usually `GET`).
    Query,
}

/// Where the login response puts the token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// A response header (the seed's `B-T`).
    Header(HeaderName),
    /// A dotted JSON path in the body (`access_token`, `data.token`).
    Json(JsonPath),
}

#[derive(Clone)]
enum FieldValue {
    Plain(String),
    Secret(Secret),
}

#[derive(Clone)]
struct Refresh {
    method: Method,
    path: String,
    encoding: Encoding,
    field: String,
    fields: Vec<(String, FieldValue)>,
}

/// A declarative login: one request, fields from constants, secrets and an
/// async one-time code provider, and a response read for token,
/// `expires_in` and refresh token. Optionally a refresh grant.
///
/// The seed's flow (`wx.login()` code POSTed as JSON, token in header `B-T`):
///
/// ```
/// use seamless_sdk_runtime::LoginFlow;
/// let flow = LoginFlow::post("/v1/api/imiMini/login")
///     .code("code", || async { Ok::<_, std::io::Error>("one-time-code".to_owned()) })
///     .token_from_header("B-T");
/// ```
#[derive(Clone)]
pub struct LoginFlow {
    method: Method,
    path: String,
    encoding: Encoding,
    fields: Vec<(String, FieldValue)>,
    code: Option<(String, Arc<dyn CodeProvider>)>,
    token: TokenSource,
    expires_in: Option<JsonPath>,
    refresh_token: Option<JsonPath>,
    refresh: Option<Refresh>,
    client_auth: Option<grant::BasicClient>,
}

impl fmt::Debug for LoginFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginFlow")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("encoding", &self.encoding)
            .field("fields", &self.fields.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("code", &self.code.as_ref().map(|(k, _)| k))
            .field("token", &self.token)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token)
            .field("refresh", &self.refresh.as_ref().map(|r| &r.path))
            .field("client_auth", &self.client_auth)
            .finish()
    }
}

impl LoginFlow {
    /// A `POST` login request to `path`: [`Self::new`] with [`Method::POST`].
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    /// A `GET` login request to `path`: [`Self::new`] with [`Method::GET`].
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    /// A login request to `path`. Fields go in a JSON body for `POST`/`PUT`,
    /// in the query for `GET`; the token is read from `token` in the body
    /// until told otherwise.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        let encoding = if method == Method::GET {
            Encoding::Query
        } else {
            Encoding::Json
        };
        LoginFlow {
            method,
            path: path.into(),
            encoding,
            fields: Vec::new(),
            code: None,
            token: TokenSource::Json(JsonPath::parse("token").expect("valid")),
            expires_in: None,
            refresh_token: None,
            refresh: None,
            client_auth: None,
        }
    }

    /// How the fields are sent.
    #[must_use]
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// A constant field (`grant_type=client_credential`).
    #[must_use]
    pub fn field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push((name.into(), FieldValue::Plain(value.into())));
        self
    }

    /// A secret field (`secret`, `password`), never printed.
    #[must_use]
    pub fn secret_field(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.fields.push((name.into(), FieldValue::Secret(value.into())));
        self
    }

    /// A one-time code from an async provider (the `wx.login()` analog),
    /// fetched afresh for every login and sent as field `name`.
    #[must_use]
    pub fn code(mut self, name: impl Into<String>, provider: impl CodeProvider) -> Self {
        self.code = Some((name.into(), Arc::new(provider)));
        self
    }

    /// Read the token from a response header.
    #[must_use]
    pub fn token_from_header(mut self, name: &str) -> Self {
        self.token = TokenSource::Header(HeaderName::try_from(name).expect("invalid header name"));
        self
    }

    /// Read the token from a dotted JSON path of the body.
    #[must_use]
    pub fn token_at(mut self, path: &str) -> Self {
        self.token = TokenSource::Json(JsonPath::parse(path).expect("invalid JSON path"));
        self
    }

    /// Read `expires_in` (seconds) from this path when present.
    #[must_use]
    pub fn expires_in_at(mut self, path: &str) -> Self {
        self.expires_in = Some(JsonPath::parse(path).expect("invalid JSON path"));
        self
    }

    /// Read a refresh token from this path when present.
    #[must_use]
    pub fn refresh_token_at(mut self, path: &str) -> Self {
        self.refresh_token = Some(JsonPath::parse(path).expect("invalid JSON path"));
        self
    }

    /// A refresh grant: `POST path` with the refresh token in field `field`,
    /// plus the constant `fields` (`grant_type=refresh_token`), encoded like
    /// the login. Its response is read like the login's.
    #[must_use]
    pub fn refresh_grant<K: Into<String>, V: Into<String>>(
        mut self,
        path: impl Into<String>,
        field: impl Into<String>,
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.refresh = Some(Refresh {
            method: Method::POST,
            path: path.into(),
            encoding: if self.encoding == Encoding::Query {
                Encoding::Json
            } else {
                self.encoding
            },
            field: field.into(),
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.into(), FieldValue::Plain(v.into())))
                .collect(),
        });
        self
    }

    async fn send(
        &self,
        cx: &LoginContext,
        method: &Method,
        path: &str,
        encoding: Encoding,
        fields: Vec<(String, String)>,
        secrets: &[&str],
    ) -> Result<Session, LoginError> {
        let mut rb = cx.http.request(method.clone(), cx.url(path));
        if let Some(client) = &self.client_auth {
            rb = client.apply(rb);
        }
        let rb = match encoding {
            Encoding::Json => {
                let map: Map<String, Value> =
                    fields.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
                rb.json(&map)
            }
            Encoding::Form => rb.form(&fields),
            Encoding::Query => rb.query(&fields),
        };
        let resp = cx.send(rb).await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = cx.read_body(resp).await?;
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !status.is_success() {
            let message = redact(&rejection_message(body.as_ref(), cx), secrets);
            // An error status with an envelope code says both what failed and how.
            return Err(match envelope_code(cx, body.as_ref()) {
                Some(code) => LoginError::Api {
                    status,
                    code,
                    message,
                },
                None => LoginError::rejected(Some(status), message),
            });
        }
        if let (Some(env), Some(b)) = (&cx.envelope, &body)
            && let Err((code, message)) = env.open(b.clone())
        {
            let message = message.unwrap_or_else(|| "the server refused the login".to_owned());
            return Err(LoginError::Api {
                status,
                code,
                message: redact(&message, secrets),
            });
        }
        let token = match &self.token {
            TokenSource::Header(name) => headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(Secret::from)
                .ok_or_else(|| LoginError::NoToken(format!("response header `{name}`")))?,
            TokenSource::Json(path) => body
                .as_ref()
                .and_then(|b| path.get(b))
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(Secret::from)
                .ok_or_else(|| LoginError::NoToken(format!("body field `{path}`")))?,
        };
        let read = |p: &Option<JsonPath>| p.as_ref().zip(body.as_ref()).and_then(|(p, b)| p.get(b));
        let expires_in = read(&self.expires_in).and_then(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        });
        let expires_in = expires_in
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(1e9)));
        let refresh_token = read(&self.refresh_token)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(Secret::from);
        Ok(Session {
            token,
            expires_in,
            refresh_token,
        })
    }
}

/// The envelope code of a login reply, when the client has an envelope and
/// the body carries its code.
fn envelope_code(cx: &LoginContext, body: Option<&Value>) -> Option<Value> {
    cx.envelope.as_ref()?.code.get(body?).cloned()
}

/// The most helpful message a failed login body offers.
fn rejection_message(body: Option<&Value>, cx: &LoginContext) -> String {
    let Some(body) = body else {
        return "non-JSON error response".into();
    };
    let from_env = cx
        .envelope
        .as_ref()
        .and_then(|e| e.message.as_ref())
        .and_then(|p| p.get(body));
    let common = ["error_description", "error", "msg", "message", "errmsg"]
        .iter()
        .find_map(|k| body.get(*k));
    match from_env.or(common) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "the server refused the login".into(),
    }
}

/// A server's error text with anything that may be a credential replaced
/// by `***`: it goes to `Display` and the WARN log, and some servers echo
/// what they were sent. `secrets` are the values this login sent (secret
/// fields, the code, the refresh token); long opaque runs (token-like
/// strings the server may add of its own) go too.
fn redact(message: &str, secrets: &[&str]) -> String {
    // Below this length a value is replaced only as a whole word, so a
    // one-letter password does not blank every such letter.
    const SUBSTRING_MIN: usize = 4;
    let mut out = message.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= SUBSTRING_MIN) {
        out = out.replace(s, "***");
    }
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    let opaque = |w: &str| {
        let n = w.chars().count();
        let digit = w.chars().any(|c| c.is_ascii_digit());
        let letter = w.chars().any(|c| c.is_ascii_alphabetic());
        // Long snake_case words are error codes, not secrets.
        let mixed_case =
            w.chars().any(|c| c.is_ascii_uppercase()) && w.chars().any(|c| c.is_ascii_lowercase());
        (n >= 20 && digit && letter) || (n >= 32 && mixed_case)
    };
    let mut redacted = String::with_capacity(out.len());
    let mut word = String::new();
    let flush = |word: &mut String, redacted: &mut String| {
        if secrets.contains(&word.as_str()) || opaque(word) {
            redacted.push_str("***");
        } else {
            redacted.push_str(word);
        }
        word.clear();
    };
    for c in out.chars() {
        if is_token_char(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut redacted);
            redacted.push(c);
        }
    }
    flush(&mut word, &mut redacted);
    redacted
}

fn expose(fields: &[(String, FieldValue)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| {
            let v = match v {
                FieldValue::Plain(s) => s.clone(),
                FieldValue::Secret(s) => s.expose().to_owned(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// The secret fields' values, for [`redact`].
fn secret_values(fields: &[(String, FieldValue)]) -> Vec<&str> {
    fields
        .iter()
        .filter_map(|(_, v)| match v {
            FieldValue::Secret(s) => Some(s.expose()),
            FieldValue::Plain(_) => None,
        })
        .collect()
}

impl Login for LoginFlow {
    fn login(&self, cx: LoginContext) -> BoxFuture<'_, Result<Session, LoginError>> {
        Box::pin(async move {
            let mut fields = expose(&self.fields);
            let mut secrets = secret_values(&self.fields);
            let code = match &self.code {
                Some((name, provider)) => {
                    let code = provider.code().await.map_err(LoginError::CodeProvider)?;
                    fields.push((name.clone(), code.clone()));
                    Some(code)
                }
                None => None,
            };
            secrets.extend(code.as_deref());
            self.send(&cx, &self.method, &self.path, self.encoding, fields, &secrets)
                .await
        })
    }

    fn refresh(&self, cx: LoginContext, refresh_token: Secret) -> BoxFuture<'_, Result<Session, LoginError>> {
        Box::pin(async move {
            let Some(r) = &self.refresh else {
                return Err(LoginError::rejected(None, "this login flow has no refresh grant"));
            };
            let mut fields = expose(&r.fields);
            fields.push((r.field.clone(), refresh_token.expose().to_owned()));
            let mut secrets = secret_values(&self.fields);
            secrets.push(refresh_token.expose());
            self.send(&cx, &r.method, &r.path, r.encoding, fields, &secrets)
                .await
        })
    }
}

/// A [`Login`] from an async closure, for flows that need code.
pub struct LoginFn<F>(F);

impl<F> fmt::Debug for LoginFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginFn")
    }
}

/// Wraps an async closure as a [`Login`].
pub fn login_fn<F, Fut>(f: F) -> LoginFn<F>
where
    F: Fn(LoginContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Session, LoginError>> + Send + 'static,
{
    LoginFn(f)
}

impl<F, Fut> Login for LoginFn<F>
where
    F: Fn(LoginContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Session, LoginError>> + Send + 'static,
{
    fn login(&self, cx: LoginContext) -> BoxFuture<'_, Result<Session, LoginError>> {
        Box::pin((self.0)(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_sent_secrets_and_opaque_runs_but_keeps_plain_words() {
        let r = redact(
            "refresh token rt-1-2-abcdef refused; password p wrong (apple); \
             token 0a1b2c3d4e5f6a7b8c9d0e1f2a3b seen; access_token_expired_for_user_account \
             eyJhbGciOiJIUzI.eyJzdWIiOiJhYmMifQ.sig",
            &["rt-1-2-abcdef", "p"],
        );
        assert_eq!(
            r,
            "refresh token *** refused; password *** wrong (apple); \
             token *** seen; access_token_expired_for_user_account ***"
        );
        assert_eq!(redact("invalid_grant", &["secret"]), "invalid_grant");
        assert_eq!(redact("bad code xyz123abc!", &["xyz123abc"]), "bad code ***!");
    }
}
