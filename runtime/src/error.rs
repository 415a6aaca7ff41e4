//! One error type for every way a call can end badly.

use std::fmt;
use std::sync::Arc;

use http::StatusCode;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a call failed. Ask with the `is_*` methods; the variants stay private
/// so they can grow without breaking callers.
///
/// Neither `Debug` nor `Display` ever contains a token: transport errors are
/// stored without their URL (a query-placed token lives there) and response
/// bodies are kept out of both.
///
/// Cloning is cheap (the error is shared), so one failure can reach every
/// caller that waited on it, as with a cached read's shared refresh.
#[derive(Clone)]
pub struct Error {
    inner: Arc<Kind>,
}

/// Why a login (or refresh) failed. Shared by every caller that waited on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The login endpoint answered, but not with a session.
    #[error("login rejected{}: {message}", status_suffix(*.status))]
    Rejected {
        /// HTTP status of the login response, if one arrived.
        status: Option<StatusCode>,
        /// What the server (or the declarative flow) said.
        message: String,
    },
    /// The login endpoint answered with the client's envelope, and its code
    /// is not a success (`{"code": 500, "msg": "login unavailable"}`).
    #[error("login rejected (http {}, code {}): {message}", .status.as_u16(), bare(.code))]
    Api {
        /// HTTP status of the login response.
        status: StatusCode,
        /// The envelope's code.
        code: serde_json::Value,
        /// The envelope's message, or what the flow could tell.
        message: String,
    },
    /// The login response had no token where the flow said it would be.
    #[error("login response carried no token at {0}")]
    NoToken(String),
    /// The login returned a token the configured placement cannot carry
    /// (for a header: a line break or another byte no header value may
    /// hold). It is never stored or sent; the next call logs in again.
    #[error("login returned an unusable token: {0}")]
    UnusableToken(String),
    /// The login did not finish within the login timeout.
    #[error("login timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The login request could not be sent or its response not read.
    #[error("login request failed: {0}")]
    Transport(#[source] reqwest::Error),
    /// The one-time code provider (the `wx.login` analog) failed.
    #[error("login code provider failed: {0}")]
    CodeProvider(#[source] BoxError),
    /// The login endpoint answered with a redirect (3xx), which is not
    /// followed: it would re-send the credentials or the refresh token to
    /// wherever it points. `status` is `None` when a user-supplied HTTP
    /// client followed it anyway and the runtime noticed afterwards.
    /// `location` has its query values replaced by `***`.
    #[error("login redirected{}{}; redirects are not followed", status_suffix(*.status), location_suffix(.location.as_deref()))]
    Redirected {
        /// The 3xx status, when the runtime saw it.
        status: Option<StatusCode>,
        /// Where it pointed (redacted).
        location: Option<String>,
    },
    /// The login response body was longer than the response body limit.
    #[error("login response body over the {0}-byte limit")]
    TooLarge(u64),
    /// The login task ended without an answer (it panicked, or the runtime
    /// shut down).
    #[error("login was aborted before it finished")]
    Aborted,
    /// The login ran in another process sharing this session (a fleet on
    /// one shared store) and failed there; its message, as that process saw it.
    #[error("login failed in another process sharing the session: {0}")]
    Shared(String),
    /// Anything else a custom [`Login`](crate::Login) reports.
    #[error("{0}")]
    Other(#[source] BoxError),
}

fn status_suffix(status: Option<StatusCode>) -> String {
    status
        .map(|s| format!(" (http {})", s.as_u16()))
        .unwrap_or_default()
}

/// A code as the server wrote it: `500`, `busy` (no JSON quotes).
fn bare(code: &serde_json::Value) -> String {
    match code {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn location_suffix(location: Option<&str>) -> String {
    location.map(|l| format!(" to {l}")).unwrap_or_default()
}

impl LoginError {
    /// Wraps any error from a custom login flow.
    pub fn other(e: impl Into<BoxError>) -> Self {
        LoginError::Other(e.into())
    }

    /// A rejection with a message, for custom login flows.
    pub fn rejected(status: Option<StatusCode>, message: impl Into<String>) -> Self {
        LoginError::Rejected {
            status,
            message: message.into(),
        }
    }

    /// The envelope code of a login the server refused through its envelope.
    pub fn api_code(&self) -> Option<&serde_json::Value> {
        match self {
            LoginError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The URL is dropped: a query-placed secret could be in it.
    pub(crate) fn transport(e: reqwest::Error) -> Self {
        LoginError::Transport(e.without_url())
    }
}

enum Kind {
    Expired {
        attempts: u32,
    },
    Login(Arc<LoginError>),
    Api {
        status: StatusCode,
        code: serde_json::Value,
        message: Option<String>,
    },
    Status {
        status: StatusCode,
        body: bytes::Bytes,
    },
    Transport {
        source: reqwest::Error,
        outcome_unknown: bool,
    },
    Timeout {
        outcome_unknown: bool,
    },
    Decode {
        status: StatusCode,
        source: serde_json::Error,
    },
    Redirect {
        status: Option<StatusCode>,
        location: Option<String>,
        outcome_unknown: bool,
    },
    TooLarge {
        status: StatusCode,
        limit: u64,
    },
    Builder(String),
    Request(String),
    Store(std::io::Error),
}

impl Error {
    fn new(kind: Kind) -> Self {
        Error {
            inner: Arc::new(kind),
        }
    }

    pub(crate) fn expired(attempts: u32) -> Self {
        Error::new(Kind::Expired { attempts })
    }

    pub(crate) fn login(e: Arc<LoginError>) -> Self {
        Error::new(Kind::Login(e))
    }

    pub(crate) fn api(status: StatusCode, code: serde_json::Value, message: Option<String>) -> Self {
        Error::new(Kind::Api {
            status,
            code,
            message,
        })
    }

    pub(crate) fn status_code(status: StatusCode, body: bytes::Bytes) -> Self {
        Error::new(Kind::Status { status, body })
    }

    /// `outcome_unknown`: the request may have executed and, not being
    /// idempotent, was not replayed.
    pub(crate) fn transport(source: reqwest::Error, outcome_unknown: bool) -> Self {
        let source = source.without_url();
        if source.is_timeout() {
            return Error::new(Kind::Timeout { outcome_unknown });
        }
        Error::new(Kind::Transport {
            source,
            outcome_unknown,
        })
    }

    pub(crate) fn decode(status: StatusCode, source: serde_json::Error) -> Self {
        Error::new(Kind::Decode { status, source })
    }

    /// `status` is `None` for a redirect a user-supplied client followed;
    /// `location` must already be redacted.
    pub(crate) fn redirect(
        status: Option<StatusCode>,
        location: Option<String>,
        outcome_unknown: bool,
    ) -> Self {
        Error::new(Kind::Redirect {
            status,
            location,
            outcome_unknown,
        })
    }

    pub(crate) fn too_large(status: StatusCode, limit: u64) -> Self {
        Error::new(Kind::TooLarge { status, limit })
    }

    pub(crate) fn builder(msg: impl Into<String>) -> Self {
        Error::new(Kind::Builder(msg.into()))
    }

    pub(crate) fn request(msg: impl Into<String>) -> Self {
        Error::new(Kind::Request(msg.into()))
    }

    pub(crate) fn store(e: std::io::Error) -> Self {
        Error::new(Kind::Store(e))
    }

    /// The server still said "expired" after every allowed re-login and replay.
    pub fn is_expired(&self) -> bool {
        matches!(*self.inner, Kind::Expired { .. })
    }

    /// The login (or refresh) this call needed failed; [`Error::login_error`] says how.
    pub fn is_login(&self) -> bool {
        matches!(*self.inner, Kind::Login(_))
    }

    /// The server answered with an application error (envelope code not a success).
    pub fn is_api(&self) -> bool {
        matches!(*self.inner, Kind::Api { .. })
    }

    /// The server answered with an HTTP error status that is neither expiry nor envelope.
    pub fn is_status(&self) -> bool {
        matches!(*self.inner, Kind::Status { .. })
    }

    /// The request could not be sent or its response not read.
    pub fn is_transport(&self) -> bool {
        matches!(*self.inner, Kind::Transport { .. })
    }

    /// A request or the login it waited for ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(*self.inner, Kind::Timeout { .. })
            || matches!(&*self.inner, Kind::Login(e) if matches!(**e, LoginError::Timeout(_)))
    }

    /// The response body did not have the expected shape.
    pub fn is_decode(&self) -> bool {
        matches!(*self.inner, Kind::Decode { .. })
    }

    /// The server answered with a redirect (3xx), which is not followed:
    /// following would resend the token (maybe to another host) and, for a
    /// single-use token or a non-idempotent request, resend a spent token or
    /// execute the request twice. [`Error::status`] is the 3xx status and
    /// [`Error::location`] where it pointed. Also set when a user-supplied
    /// HTTP client followed a redirect anyway (then `status()` is `None`).
    pub fn is_redirect(&self) -> bool {
        matches!(*self.inner, Kind::Redirect { .. })
    }

    /// Where a redirect pointed, resolved against the request URL, with
    /// user info dropped and query values and fragment replaced by `***`.
    pub fn location(&self) -> Option<&str> {
        match &*self.inner {
            Kind::Redirect { location, .. } => location.as_deref(),
            _ => None,
        }
    }

    /// The response body was longer than the configured limit
    /// (`ClientBuilder::max_response_bytes`); it was not read past it.
    pub fn is_too_large(&self) -> bool {
        matches!(*self.inner, Kind::TooLarge { .. })
            || matches!(&*self.inner, Kind::Login(e) if matches!(**e, LoginError::TooLarge(_)))
    }

    /// The client was configured wrongly or a request could not be built.
    pub fn is_builder(&self) -> bool {
        matches!(*self.inner, Kind::Builder(_) | Kind::Request(_))
    }

    /// The token store failed.
    pub fn is_store(&self) -> bool {
        matches!(*self.inner, Kind::Store(_))
    }

    /// The request was sent and its outcome is unknown: it may have been
    /// executed, and it was not replayed because it is not idempotent.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(
            *self.inner,
            Kind::Transport {
                outcome_unknown: true,
                ..
            } | Kind::Timeout {
                outcome_unknown: true
            } | Kind::Redirect {
                outcome_unknown: true,
                ..
            }
        )
    }

    /// The HTTP status of the response, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match &*self.inner {
            Kind::Api { status, .. }
            | Kind::Status { status, .. }
            | Kind::Decode { status, .. }
            | Kind::TooLarge { status, .. } => Some(*status),
            Kind::Redirect { status, .. } => *status,
            Kind::Login(e) => match &**e {
                LoginError::Rejected { status, .. } => *status,
                LoginError::Api { status, .. } => Some(*status),
                _ => None,
            },
            _ => None,
        }
    }

    /// The envelope code of an API error (`4001` in `{"code": 4001, ...}`).
    pub fn api_code(&self) -> Option<&serde_json::Value> {
        match &*self.inner {
            Kind::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The envelope message of an API error.
    pub fn api_message(&self) -> Option<&str> {
        match &*self.inner {
            Kind::Api { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// The login failure, shared with every caller that waited on that login.
    pub fn login_error(&self) -> Option<&LoginError> {
        match &*self.inner {
            Kind::Login(e) => Some(e),
            _ => None,
        }
    }

    /// The body of an HTTP error response (kept out of `Debug` and `Display`).
    pub fn body(&self) -> Option<&[u8]> {
        match &*self.inner {
            Kind::Status { body, .. } => Some(body),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Kind::Expired { attempts } => write!(
                f,
                "token still rejected as expired after {attempts} attempt{}",
                if *attempts == 1 { "" } else { "s" }
            ),
            Kind::Login(e) => write!(f, "login failed: {e}"),
            Kind::Api {
                code,
                message: Some(m),
                ..
            } => write!(f, "api error {code}: {m}"),
            Kind::Api { code, .. } => write!(f, "api error {code}"),
            Kind::Status { status, .. } => write!(f, "http status {status}"),
            Kind::Transport {
                source,
                outcome_unknown,
            } => {
                write!(f, "transport error: {source}")?;
                if *outcome_unknown {
                    f.write_str(" (the request may have executed; not replayed)")?;
                }
                Ok(())
            }
            Kind::Timeout { outcome_unknown } => {
                f.write_str("request timed out")?;
                if *outcome_unknown {
                    f.write_str(" (the request may have executed; not replayed)")?;
                }
                Ok(())
            }
            Kind::Decode { source, .. } => write!(f, "could not decode the response: {source}"),
            Kind::Redirect {
                status,
                location,
                outcome_unknown,
            } => {
                match status {
                    Some(s) => write!(f, "redirected (http {})", s.as_u16())?,
                    None => f.write_str("the HTTP client followed a redirect")?,
                }
                if let Some(l) = location {
                    write!(f, " to {l}")?;
                }
                f.write_str("; redirects are not followed")?;
                if *outcome_unknown {
                    f.write_str(" (the request may have executed; not replayed)")?;
                }
                Ok(())
            }
            Kind::TooLarge { status, limit } => write!(
                f,
                "response body (http {}) over the {limit}-byte limit",
                status.as_u16()
            ),
            Kind::Builder(m) => write!(f, "invalid client configuration: {m}"),
            Kind::Request(m) => write!(f, "invalid request: {m}"),
            Kind::Store(e) => write!(f, "token store failed: {e}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A status error's body shows by its length only: it may echo a token.
        let (kind, fields): (&str, &[(&str, &dyn fmt::Debug)]) = match &*self.inner {
            Kind::Expired { attempts } => ("Expired", &[("attempts", attempts)]),
            Kind::Login(e) => ("Login", &[("source", e)]),
            Kind::Api {
                status,
                code,
                message,
            } => ("Api", &[("status", status), ("code", code), ("message", message)]),
            Kind::Status { status, body } => ("Status", &[("status", status), ("body_len", &body.len())]),
            Kind::Transport {
                source,
                outcome_unknown,
            } => (
                "Transport",
                &[("source", source), ("outcome_unknown", outcome_unknown)],
            ),
            Kind::Timeout { outcome_unknown } => ("Timeout", &[("outcome_unknown", outcome_unknown)]),
            Kind::Decode { status, source } => ("Decode", &[("status", status), ("source", source)]),
            Kind::Redirect {
                status,
                location,
                outcome_unknown,
            } => (
                "Redirect",
                &[
                    ("status", status),
                    ("location", location),
                    ("outcome_unknown", outcome_unknown),
                ],
            ),
            Kind::TooLarge { status, limit } => ("TooLarge", &[("status", status), ("limit", limit)]),
            Kind::Builder(m) => ("Builder", &[("message", m)]),
            Kind::Request(m) => ("Request", &[("message", m)]),
            Kind::Store(e) => ("Store", &[("source", e)]),
        };
        let mut d = f.debug_struct("Error");
        d.field("kind", &kind);
        for (name, value) in fields {
            d.field(name, value);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.inner {
            Kind::Login(e) => Some(&**e),
            Kind::Transport { source, .. } => Some(source),
            Kind::Decode { source, .. } => Some(source),
            Kind::Store(e) => Some(e),
            _ => None,
        }
    }
}
