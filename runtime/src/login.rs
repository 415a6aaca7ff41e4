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
    /// A refresh token, if the server issued one. It is spent by its first use.
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

    /// Trades a refresh token for a new session. The token is spent whatever
    /// the outcome: the runtime never offers it again. Any error makes the
    /// runtime fall back to [`Login::login`]. The default refuses.
    fn refresh(&self, cx: LoginContext, refresh_token: Secret) -> BoxFuture<'_, Result<Session, LoginError>> {
        let _ = (cx, refresh_token);
        Box::pin(async { Err(LoginError::rejected(None, "this login flow has no refresh grant")) })
    }
}

type CodeFn = Arc<dyn Fn() -> BoxFuture<'static, Result<String, BoxError>> + Send + Sync>;

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
/// let flow = LoginFlow::new(http::Method::POST, "/v1/api/imiMini/login")
///     .code("code", || async { Ok::<_, std::io::Error>("one-time-code".to_owned()) })
///     .token_from_header("B-T");
/// ```
#[derive(Clone)]
pub struct LoginFlow {
    method: Method,
    path: String,
    encoding: Encoding,
    fields: Vec<(String, FieldValue)>,
    code: Option<(String, CodeFn)>,
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
    pub fn code<F, Fut, E>(mut self, name: impl Into<String>, provider: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let provider: CodeFn = Arc::new(move || {
            let fut = provider();
            Box::pin(async move { fut.await.map_err(Into::into) })
        });
        self.code = Some((name.into(), provider));
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
        let resp = rb.send().await.map_err(LoginError::transport)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(LoginError::transport)?;
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !status.is_success() {
            let message = rejection_message(body.as_ref(), cx);
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
                message,
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

impl Login for LoginFlow {
    fn login(&self, cx: LoginContext) -> BoxFuture<'_, Result<Session, LoginError>> {
        Box::pin(async move {
            let mut fields = expose(&self.fields);
            if let Some((name, provider)) = &self.code {
                let code = provider().await.map_err(LoginError::CodeProvider)?;
                fields.push((name.clone(), code));
            }
            self.send(&cx, &self.method, &self.path, self.encoding, fields)
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
            self.send(&cx, &r.method, &r.path, r.encoding, fields).await
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
