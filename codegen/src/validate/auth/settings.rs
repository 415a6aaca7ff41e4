//! Rules on the runtime settings: chains and sessions, replays, timeouts,
//! the body limit and the login back-off.

use crate::diag::DiagnosticKind;
use crate::limits::MAX_REPLAYS;
use crate::model::Auth;
use crate::validate::Ctxt;

/// Each setting the runtime reads.
pub(super) fn check(cx: &mut Ctxt<'_>, auth: &Auth) {
    check_chains(cx, auth);
    check_max_replays(cx, auth);
    check_timeouts(cx, auth);
    check_max_response_bytes(cx, auth);
    check_login_backoff(cx, auth);
    if let Some(r) = &auth.retry {
        crate::validate::retry::check_retry(cx, "auth.retry", r);
    }
}

/// No chain leaves nothing to call with; with `session: exclusive`, each
/// login revokes the session before it, so chains would revoke each other.
fn check_chains(cx: &mut Ctxt<'_>, auth: &Auth) {
    let o = auth.origins.chains.or(&auth.origin);
    if auth.chains == Some(0) {
        cx.error(
            DiagnosticKind::CannotWork,
            o,
            "auth.chains",
            "`chains: 0` leaves no session to call with; use 1 or more",
        );
    }
    if auth.exclusive_session
        && let Some(n) = auth.chains
        && n > 1
    {
        cx.error(
            DiagnosticKind::Conflict,
            o,
            "auth.chains",
            format!(
                "`chains: {n}` with `session: exclusive`: each login revokes the session \
                 before it, so the chains would revoke each other's tokens; use `chains: 1`"
            ),
        );
    }
}

/// The runtime refuses more replays than its limit.
fn check_max_replays(cx: &mut Ctxt<'_>, auth: &Auth) {
    if let Some(n) = auth.max_replays
        && n > MAX_REPLAYS
    {
        cx.error(
            DiagnosticKind::InvalidValue,
            auth.origins.max_replays.or(&auth.origin),
            "auth.max_replays",
            format!("`max_replays: {n}` is above the runtime's limit; use 0 to {MAX_REPLAYS}"),
        );
    }
}

/// A timeout of zero fails every call.
fn check_timeouts(cx: &mut Ctxt<'_>, auth: &Auth) {
    for (key, v, at) in [
        (
            "login_timeout_ms",
            auth.login_timeout_ms,
            &auth.origins.login_timeout_ms,
        ),
        (
            "request_timeout_ms",
            auth.request_timeout_ms,
            &auth.origins.request_timeout_ms,
        ),
    ] {
        if v == Some(0) {
            cx.error(
                DiagnosticKind::CannotWork,
                at.or(&auth.origin),
                format!("auth.{key}"),
                format!("`{key}: 0` would fail every call; give a positive number of milliseconds"),
            );
        }
    }
}

/// A body limit of zero refuses every reply.
fn check_max_response_bytes(cx: &mut Ctxt<'_>, auth: &Auth) {
    if auth.max_response_bytes == Some(0) {
        cx.error(
            DiagnosticKind::CannotWork,
            auth.origins.max_response_bytes.or(&auth.origin),
            "auth.max_response_bytes",
            "`max_response_bytes: 0` would refuse every reply; give the largest body to read, in bytes",
        );
    }
}

/// The login cool-down doubles up to its maximum, so the maximum is at
/// least the first one.
fn check_login_backoff(cx: &mut Ctxt<'_>, auth: &Auth) {
    if let Some(b) = auth.login_backoff
        && b.max_ms < b.initial_ms
    {
        cx.error(
            DiagnosticKind::InvalidValue,
            auth.origins.login_backoff_max_ms.or(&auth.origin),
            "auth.login_backoff.max_ms",
            format!(
                "`max_ms: {}` is below `initial_ms: {}`; the cool-down only grows, so give at least {}",
                b.max_ms, b.initial_ms, b.initial_ms
            ),
        );
    }
}
