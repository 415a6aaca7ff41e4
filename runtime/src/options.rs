//! Per-call settings and the raw response: [`CallOptions`] for the calls
//! made through one view of a client, [`Response`] for a value with the
//! status and headers it came with.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

use crate::cache::CacheStatus;
use crate::request::Request;
use crate::retry::RetryPolicy;

/// Settings for the calls made through a view of a client
/// ([`Client::with_options`](crate::Client::with_options)): each call keeps
/// its simple form, and the view applies these on top.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) headers: HeaderMap,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) bypass_cache: bool,
    pub(crate) error: Option<String>,
}

impl CallOptions {
    pub fn new() -> Self {
        CallOptions::default()
    }

    /// Each attempt's timeout, instead of the client's request timeout.
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// A header sent with every call (a trace id, say); the token's header
    /// is the runtime's and cannot be replaced this way.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Err(e) = crate::request::append_header(&mut self.headers, name, value) {
            self.error.get_or_insert(e);
        }
        self
    }

    /// The retry policy for these calls, over the client's and the
    /// endpoint's.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Cached endpoints fetch anew (and store the result) instead of using
    /// a fresh cached value.
    #[must_use]
    pub fn bypass_cache(mut self) -> Self {
        self.bypass_cache = true;
        self
    }

    /// `req` with these options applied.
    pub(crate) fn apply(&self, mut req: Request) -> Request {
        if let Some(e) = &self.error {
            req.error.get_or_insert_with(|| e.clone());
        }
        if let Some(d) = self.timeout {
            req.timeout = Some(d);
        }
        for (name, value) in &self.headers {
            req.headers.append(name.clone(), value.clone());
        }
        if let Some(policy) = &self.retry {
            req.retry = Some(Box::new(policy.clone()));
        }
        req.bypass_cache |= self.bypass_cache;
        req
    }
}

/// A call's value with the status and headers of the reply it came from
/// (rate-limit headers, a request id): from
/// [`Client::call_with_response`](crate::Client::call_with_response).
#[derive(Clone, Debug)]
pub struct Response<T> {
    pub(crate) value: T,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) cache: CacheStatus,
}

impl<T> Response<T> {
    pub fn value(&self) -> &T {
        &self.value
    }

    pub fn into_value(self) -> T {
        self.value
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reply's headers. The single-use token's header is removed: a
    /// token is a secret, and the runtime has already passed it on.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Whether the value came from the network or the response cache.
    /// Status and headers are those of the reply the value came from.
    pub fn cache_status(&self) -> CacheStatus {
        self.cache
    }

    /// The value was served stale: its refresh failed, and it is past its
    /// `ttl` but within `stale_if_error`.
    pub fn is_stale(&self) -> bool {
        self.cache == CacheStatus::Stale
    }

    pub fn into_parts(self) -> (T, StatusCode, HeaderMap) {
        (self.value, self.status, self.headers)
    }

    /// The same response with its value changed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            value: f(self.value),
            status: self.status,
            headers: self.headers,
            cache: self.cache,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_apply_their_headers_timeout_and_policy_to_a_request() {
        let opts = CallOptions::new()
            .header("X-Trace-Id", "t-1")
            .timeout(Duration::from_millis(250))
            .retry(RetryPolicy::none())
            .bypass_cache();
        let req = opts.apply(Request::get("/x").header("X-Own", "1"));
        assert!(req.bypass_cache);
        assert_eq!(req.headers.get("x-trace-id").unwrap(), "t-1");
        assert_eq!(req.headers.get("x-own").unwrap(), "1");
        assert_eq!(req.timeout, Some(Duration::from_millis(250)));
        assert_eq!(req.retry.as_deref(), Some(&RetryPolicy::none()));
        assert!(req.error.is_none());
    }

    #[test]
    fn a_bad_header_fails_the_call_not_the_process() {
        let req = CallOptions::new()
            .header("bad header", "v")
            .apply(Request::get("/x"));
        assert!(
            req.error.as_deref().is_some_and(|e| e.contains("bad header")),
            "{:?}",
            req.error
        );
    }
}
