//! The API a server answers once the token layer has done its part: the testkit's
//! fixed `/api/*` endpoints, or every endpoint of a spec under `seamless mock`.

use http::{HeaderMap, Method};
use serde_json::Value;

use crate::rules::Reply;

/// What a request path is to the token layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The token is checked (and, single-use, consumed) before [`Routes::answer`] runs.
    Token,
    /// No token is needed; [`Routes::answer`] runs directly.
    Public,
    /// Not an endpoint: a plain 404, counted in `other_requests`.
    Unknown,
}

/// The endpoints behind the token layer.
pub trait Routes: Send + Sync + 'static {
    /// Whether `method path` needs a token, needs none, or is not an endpoint.
    fn access(&self, method: &Method, path: &str) -> Access;

    /// Answers a request the token layer let through. Runs after any response delay knob,
    /// and before per-request faults that act after execution (drop, stall, redirect).
    fn answer(&self, call: &Call<'_>) -> Outcome;

    /// A static page served at a `GET` path outside the API (the mock's `/__ui`):
    /// `(content type, body)`.
    fn page(&self, path: &str) -> Option<(&'static str, &'static [u8])> {
        let _ = path;
        None
    }
}

/// What [`Routes::answer`] produced, before the protocol's envelope is applied.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// Success: the value, wrapped in the protocol's envelope.
    Value(Value),
    /// The protocol's application error ([`crate::Rules::app_error`]).
    AppError,
    /// The protocol's permission error ([`crate::Rules::forbidden`]).
    Forbidden,
    /// HTTP 400 in the protocol's error style, with this message.
    BadRequest(String),
    /// HTTP 404 in the protocol's error style.
    NotFound,
    /// This exact reply (the next token header is still added for single-use tokens).
    Reply(Reply),
}

/// One request as [`Routes::answer`] sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Call<'a> {
    /// The method.
    pub method: &'a Method,
    /// The path, without the query.
    pub path: &'a str,
    /// The raw query, if any.
    pub query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The request body (already bounded by `MAX_BODY_BYTES`).
    pub body: &'a [u8],
    /// The server's number of the session whose token the call presented (`None` for a
    /// public endpoint).
    pub session: Option<u64>,
    pub(crate) executions: &'a dyn Execute,
}

/// How a [`Call`] records an execution of a non-idempotent request; the engine's state.
pub(crate) trait Execute: Send + Sync {
    fn execute(&self, fingerprint: String, idempotency_key: Option<String>) -> u64;
}

impl std::fmt::Debug for dyn Execute + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Execute")
    }
}

/// Executions outside a server: nothing is recorded, every call is a first execution.
struct Unrecorded;

impl Execute for Unrecorded {
    fn execute(&self, _: String, _: Option<String>) -> u64 {
        1
    }
}

impl<'a> Call<'a> {
    /// A call outside any server, for testing a [`Routes`] on its own: no session, and
    /// [`Call::execute`] records nothing (it always answers 1).
    pub fn detached(
        method: &'a Method,
        path: &'a str,
        query: Option<&'a str>,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Call<'a> {
        Call {
            method,
            path,
            query,
            headers,
            body,
            session: None,
            executions: &Unrecorded,
        }
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(self.body).ok()
    }

    /// Records that this call executed the non-idempotent operation `fingerprint` (the
    /// testkit's `order_id`; the mock's method, path, query and body) and returns how many
    /// times it has executed now. A request with an `Idempotency-Key` header seen before is
    /// not executed again: it returns the first execution's count and counts as an
    /// idempotent replay. A second execution of one fingerprint counts as a duplicate.
    pub fn execute(&self, fingerprint: impl Into<String>) -> u64 {
        let key = self
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        self.executions.execute(fingerprint.into(), key)
    }
}
