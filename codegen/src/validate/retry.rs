//! Rules on the settings that shape an endpoint's attempts: retries
//! (`auth.retry`, an endpoint's `retry`), its idempotency key and its
//! response cache.

use crate::diag::DiagnosticKind;
use crate::model::{Endpoint, HttpMethod, Retry};
use crate::validate::Ctxt;

/// The most attempts one call may be given.
pub(crate) const MAX_ATTEMPTS: u32 = 20;

/// Statuses are HTTP statuses, the budget allows a first attempt and no
/// runaway, and the backoff's ceiling is not below its start.
pub(crate) fn check_retry(cx: &mut Ctxt<'_>, at: &str, r: &Retry) {
    let o = &r.origin;
    for &s in r.statuses.iter().flatten() {
        if !(100..=599).contains(&s) {
            cx.error(
                DiagnosticKind::InvalidValue,
                o,
                format!("{at}.statuses"),
                format!("`{s}` is not an HTTP status; use codes such as 429, 502, 503, 504"),
            );
        } else if (200..300).contains(&s) {
            cx.error(
                DiagnosticKind::CannotWork,
                o,
                format!("{at}.statuses"),
                format!("`{s}` is a success; retrying it would repeat calls that worked"),
            );
        }
    }
    if let Some(n) = r.max_attempts
        && !(1..=MAX_ATTEMPTS).contains(&n)
    {
        cx.error(
            DiagnosticKind::InvalidValue,
            o,
            format!("{at}.max_attempts"),
            format!("`max_attempts: {n}`: use 1 (no resend at all) to {MAX_ATTEMPTS}"),
        );
    }
    if let (Some(initial), Some(max)) = (r.initial_backoff_ms, r.max_backoff_ms)
        && max < initial
    {
        cx.error(
            DiagnosticKind::Conflict,
            o,
            format!("{at}.max_backoff_ms"),
            format!("`max_backoff_ms: {max}` is below `initial_backoff_ms: {initial}`"),
        );
    }
}

/// An idempotency key goes in a header, so it needs a header name.
pub(super) fn check_endpoint(cx: &mut Ctxt<'_>, at: &str, ep: &Endpoint) {
    if let Some(header) = &ep.idempotency_key {
        cx.header_name(&ep.origin, &format!("{at}.idempotency_key"), header);
    }
    if let Some(r) = &ep.retry {
        check_retry(cx, &format!("{at}.retry"), r);
    }
    if let Some(c) = &ep.cache {
        if ep.method != HttpMethod::Get {
            cx.error(
                DiagnosticKind::Conflict,
                &c.origin,
                format!("{at}.cache"),
                format!(
                    "only GET endpoints can be cached, and this one is {}; a cached write would \
                     not reach the server",
                    ep.method.as_str()
                ),
            );
        }
        if c.ttl_ms == 0 {
            cx.error(
                DiagnosticKind::InvalidValue,
                &c.origin,
                format!("{at}.cache.ttl_ms"),
                "`ttl_ms: 0` caches nothing; give the milliseconds a value stays fresh, or remove `cache`",
            );
        }
    }
}
