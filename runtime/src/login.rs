//! Getting a session: the [`Login`] trait for any flow, and [`LoginFlow`],
//! the declarative one that covers code logins, credential logins and
//! rotating refresh grants.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Envelope;
use crate::error::LoginError;
use crate::secret::Secret;
use crate::transport;

mod flow;
mod refusal;

pub use flow::{Encoding, LoginFlow, RefreshGrant, TokenSource};

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
    let mut url = String::new();
    push_joined(&mut url, base, path);
    url
}

/// `f` of the joined URL, built in a per-thread buffer: the HTTP client
/// parses the text into its own URL at once, so a call needs no string of
/// its own for it.
pub(crate) fn with_joined_url<R>(base: &str, path: &str, f: impl FnOnce(&str) -> R) -> R {
    thread_local!(static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) });
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            push_joined(&mut buf, base, path);
            f(&buf)
        }
        // Only if `f` itself joins a URL on this thread.
        Err(_) => f(&join_url(base, path)),
    })
}

fn push_joined(out: &mut String, base: &str, path: &str) {
    out.push_str(base.trim_end_matches('/'));
    if !path.starts_with('/') {
        out.push('/');
    }
    out.push_str(path);
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
