//! A request kept as parts, so every attempt can be rebuilt with the token
//! of that moment.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;
use serde_json::Value;

/// One API call, described by its parts. The client stamps the token on
/// each attempt (the first and any replay) at send time.
#[derive(Clone, Debug)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Value>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) auth: bool,
    pub(crate) error: Option<String>,
    /// The header that carries this call's idempotency key, if it has one.
    pub(crate) idempotency_key: Option<HeaderName>,
    /// This call's own retry policy, over the client's.
    pub(crate) retry: Option<Box<crate::RetryPolicy>>,
    /// Each attempt's timeout, over the client's request timeout.
    pub(crate) timeout: Option<std::time::Duration>,
    /// Served from the client's response cache under this policy.
    pub(crate) cache: Option<crate::CachePolicy>,
    /// Fetched even when a fresh value is cached (and stored).
    pub(crate) bypass_cache: bool,
}

impl Request {
    /// A request for `path` (relative to the client's base URL; path
    /// parameters already filled in).
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            idempotent: None,
            auth: true,
            error: None,
            idempotency_key: None,
            retry: None,
            timeout: None,
            cache: None,
            bypass_cache: false,
        }
    }

    /// `GET path`.
    pub fn get(path: impl Into<String>) -> Self {
        Request::new(Method::GET, path)
    }

    /// `POST path`.
    pub fn post(path: impl Into<String>) -> Self {
        Request::new(Method::POST, path)
    }

    /// `PUT path`.
    pub fn put(path: impl Into<String>) -> Self {
        Request::new(Method::PUT, path)
    }

    /// `PATCH path`.
    pub fn patch(path: impl Into<String>) -> Self {
        Request::new(Method::PATCH, path)
    }

    /// `DELETE path`.
    pub fn delete(path: impl Into<String>) -> Self {
        Request::new(Method::DELETE, path)
    }

    /// Adds a query parameter.
    #[must_use]
    pub fn query(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((name.into(), value.to_string()));
        self
    }

    /// Adds a header. An invalid name or value is reported when the call is made.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Err(e) = append_header(&mut self.headers, name, value) {
            self.fail(e);
        }
        self
    }

    /// Sets a JSON body. A value that does not serialize is reported when
    /// the call is made.
    #[must_use]
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_value(body) {
            Ok(v) => self.body = Some(v),
            Err(e) => self.fail(format!("the body does not serialize: {e}")),
        }
        self
    }

    /// Declares whether running this request twice is harmless. By default
    /// `GET`, `HEAD`, `PUT`, `DELETE` and `OPTIONS` are, others are not. Only
    /// idempotent requests are replayed after a transport error that may have
    /// reached the server.
    #[must_use]
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = Some(yes);
        self
    }

    /// A public endpoint: no token, no expiry handling.
    #[must_use]
    pub fn no_auth(mut self) -> Self {
        self.auth = false;
        self
    }

    /// Sends an idempotency key in header `name` (commonly
    /// `Idempotency-Key`): a fresh UUID v4 for each call, the same on every
    /// attempt of it, so a server that honours it executes the call once
    /// however often it is retried. A request with a key is retried like an
    /// idempotent one.
    #[must_use]
    pub fn idempotency_key(mut self, name: &str) -> Self {
        match HeaderName::try_from(name) {
            Ok(n) => self.idempotency_key = Some(n),
            Err(_) => self.fail(format!("invalid idempotency key header `{name}`")),
        }
        self
    }

    /// Each attempt's timeout, instead of the client's request timeout.
    #[must_use]
    pub fn timeout(mut self, d: std::time::Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// This call's retry policy, instead of the client's.
    #[must_use]
    pub fn retry(mut self, policy: crate::RetryPolicy) -> Self {
        self.retry = Some(Box::new(policy));
        self
    }

    /// Serves this `GET` from the client's response cache under `policy`
    /// (see [`CachePolicy`](crate::CachePolicy)). Other methods are never
    /// cached: the call fails with [`Error::is_builder`](crate::Error::is_builder).
    #[must_use]
    pub fn cache(mut self, policy: crate::CachePolicy) -> Self {
        if self.method != Method::GET {
            self.fail(format!("only GET requests can be cached, not {}", self.method));
        }
        self.cache = Some(policy);
        self
    }

    /// Fetches even if a fresh value is cached, and stores what comes back
    /// (a pull-to-refresh). Identical calls in flight still share one request.
    #[must_use]
    pub fn bypass_cache(mut self) -> Self {
        self.bypass_cache = true;
        self
    }

    /// Safe to send again after it may have executed.
    pub(crate) fn is_repeatable(&self) -> bool {
        self.is_idempotent() || self.idempotency_key.is_some()
    }

    pub(crate) fn is_idempotent(&self) -> bool {
        let by_method = matches!(
            self.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        self.idempotent.unwrap_or(by_method)
    }

    fn fail(&mut self, msg: String) {
        self.error.get_or_insert(msg);
    }
}

/// Appends `name: value`, or says why it cannot be a header (without the
/// value, which may be a credential).
pub(crate) fn append_header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), String> {
    match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
        (Ok(n), Ok(v)) => {
            headers.append(n, v);
            Ok(())
        }
        _ => Err(format!("invalid header `{name}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_defaults_follow_rfc_9110() {
        assert!(Request::get("/x").is_idempotent());
        assert!(Request::put("/x").is_idempotent());
        assert!(Request::delete("/x").is_idempotent());
        assert!(!Request::post("/x").is_idempotent());
        assert!(!Request::patch("/x").is_idempotent());
        assert!(Request::post("/x").idempotent(true).is_idempotent());
    }

    #[test]
    fn bad_header_is_kept_for_the_call() {
        let r = Request::get("/x").header("bad header", "v");
        assert!(r.error.is_some());
    }
}
