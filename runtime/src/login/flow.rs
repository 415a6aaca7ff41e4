//! [`LoginFlow`], the declarative login: one request whose fields come
//! from constants, secrets and a one-time code provider, and whose reply is
//! read for the token, `expires_in` and a refresh token; optionally a
//! refresh grant tried first.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};
use serde_json::{Map, Value};

use super::refusal::{envelope_code, redact, rejection_message};
use super::{BoxFuture, CodeProvider, Login, LoginContext, Session};
use crate::config::JsonPath;
use crate::error::LoginError;
use crate::secret::Secret;

mod grant;

pub use grant::RefreshGrant;

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
            token: TokenSource::Json(JsonPath::literal("token")),
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
        self.token = TokenSource::Json(JsonPath::literal(path));
        self
    }

    /// Read `expires_in` (seconds) from this path when present.
    #[must_use]
    pub fn expires_in_at(mut self, path: &str) -> Self {
        self.expires_in = Some(JsonPath::literal(path));
        self
    }

    /// Read a refresh token from this path when present.
    #[must_use]
    pub fn refresh_token_at(mut self, path: &str) -> Self {
        self.refresh_token = Some(JsonPath::literal(path));
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
            encoding: self.refresh_encoding(),
            field: field.into(),
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.into(), FieldValue::Plain(v.into())))
                .collect(),
        });
        self
    }

    /// How a refresh grant is encoded unless it says: like the login, except
    /// that a query login (a `GET`) gets a JSON body for its `POST` grant.
    fn refresh_encoding(&self) -> Encoding {
        if self.encoding == Encoding::Query {
            Encoding::Json
        } else {
            self.encoding
        }
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
