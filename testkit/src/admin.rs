//! Admin endpoints, for a client in another process (`seamless mock`'s users, a browser):
//! counters, the event log, faults and knobs over HTTP. They need no token and are not
//! counted as API requests.

use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use http::{Method, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::{self, Abort, BodyError};
use crate::state::Shared;
use crate::wire::{self, Resp, form_value};

/// `POST`: a fresh one-time login code, `{"code": "..."}` (the platform's side of the seed
/// login, `wx.login`, for clients in other processes).
pub const CODE_PATH: &str = "/__testkit/code";
/// `GET`: every [`crate::Counters`] field plus the gauges `uptime_ms`, `connections`,
/// `current_holders`, `sessions` and `usable_tokens`, as one flat JSON object; the maps
/// `executions` and `executions_by_key` are given as their sizes,
/// `executions_distinct` and `executions_by_key_distinct`.
pub const STATS_PATH: &str = "/__stats";
/// `GET ?after=N`: `{"events": [...], "next": M}`, the events with an id above `N` still in
/// the ring of the last [`crate::EVENT_CAPACITY`]; ask with `after=M` next time. Each event
/// is `{"id", "at_ms", "kind", "method", "path", "status", "detail"}` (`seq` and `t_ms`
/// repeat `id` and `at_ms`); kinds: `request`, `public`, `expired`, `reuse`, `duplicate`,
/// `login`, `login_failed`, `refresh`, `refresh_failed`, `fault`, `admin`. No event holds a
/// token, a code or a password.
pub const EVENTS_PATH: &str = "/__events";
/// `POST`: every token expires now, as [`crate::Backend::expire_all`].
pub const EXPIRE_PATH: &str = "/__admin/expire";
/// `POST` a JSON object setting knobs, every key optional (a count of 0 disarms):
///
/// | key | value | knob |
/// |---|---|---|
/// | `expire_every_requests` | n | [`crate::Backend::expire_every_requests`] |
/// | `expire_every_ms` | ms (0: off) | [`crate::Backend::expire_every`] |
/// | `delay_logins_ms` | ms | [`crate::Backend::delay_logins`] |
/// | `delay_responses_ms` | ms | [`crate::Backend::delay_responses`] |
/// | `fail_logins` | count | [`crate::Backend::fail_next_logins`] |
/// | `fail_next` | `{"count", "status"?: 400..=599 (503), "retry_after"?: seconds}` | [`crate::Backend::fail_next`] |
/// | `drop_next` | count | [`crate::Backend::abort_after_consume`] (execute, then drop the connection) |
/// | `stall_next` | count | [`crate::Backend::stall_next`] |
/// | `redirect_next` | `{"count", "status"?: 300..=399 (302), "location"}` | [`crate::Backend::redirect_next`] |
///
/// Answers `{"set": [keys]}`; 400 with `{"error": "..."}` on an unknown key or a bad value,
/// and then nothing is changed.
pub const KNOBS_PATH: &str = "/__admin/knobs";

/// Serves an admin endpoint ([`is_endpoint`]).
pub(crate) async fn serve(shared: &Arc<Shared>, parts: &Parts, body: Incoming) -> Result<Resp, Abort> {
    let path = parts.uri.path();
    let resp = match (&parts.method, path) {
        (&Method::POST, CODE_PATH) => ok(&json!({"code": shared.mint_code()})),
        (&Method::GET, STATS_PATH) => ok(&stats(shared)),
        (&Method::GET, EVENTS_PATH) => events(shared, parts),
        (&Method::POST, EXPIRE_PATH) => {
            shared.lock().expire_everything(format!("{EXPIRE_PATH} (admin)"));
            ok(&json!({"expired": true}))
        }
        (&Method::POST, KNOBS_PATH) => match server::read_body(body).await {
            Ok(body) => knobs(shared, &body),
            Err(BodyError::Broken) => return Err(Abort),
            Err(BodyError::TooLarge) => bad("body too large"),
        },
        _ => wire::json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": format!("{} is not served at {path}", parts.method)}),
            None,
        ),
    };
    Ok(resp)
}

fn ok(body: &Value) -> Resp {
    wire::json(StatusCode::OK, body, None)
}

fn bad(msg: &str) -> Resp {
    wire::json(StatusCode::BAD_REQUEST, &json!({"error": msg}), None)
}

fn stats(shared: &Shared) -> Value {
    let st = shared.lock();
    let mut stats = serde_json::to_value(&st.counters).unwrap_or_else(|_| json!({}));
    // The per-operation maps grow with every distinct execution and idempotency key; a
    // page polling this endpoint gets their sizes (the maps stay in `Backend::counters`).
    if let Value::Object(map) = &mut stats {
        for (key, size) in [
            ("executions", st.counters.executions.len()),
            ("executions_by_key", st.counters.executions_by_key.len()),
        ] {
            map.remove(key);
            map.insert(format!("{key}_distinct"), json!(size));
        }
    }
    let uptime_ms = u64::try_from(shared.started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let gauges = [
        ("uptime_ms", uptime_ms),
        (
            "connections",
            shared.connections.load(std::sync::atomic::Ordering::Relaxed),
        ),
        ("current_holders", st.current_holders()),
        ("sessions", st.sessions()),
        ("usable_tokens", st.usable_tokens()),
    ];
    if let Value::Object(map) = &mut stats {
        for (name, value) in gauges {
            map.insert(name.to_owned(), json!(value));
        }
    }
    stats
}

fn events(shared: &Shared, parts: &Parts) -> Resp {
    let after = match form_value(parts.uri.query().unwrap_or(""), "after") {
        None => 0,
        Some(n) => match n.parse::<u64>() {
            Ok(n) => n,
            Err(_) => return bad("`after` must be a whole number (an event id)"),
        },
    };
    let (events, next) = shared.lock().events.after(after);
    let events: Vec<Value> = events.iter().map(|e| e.to_json()).collect();
    ok(&json!({"events": events, "next": next}))
}

/// The body of `POST /__admin/knobs`. Every key is optional; counts of 0 disarm.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KnobPatch {
    /// [`crate::Backend::expire_every_requests`].
    expire_every_requests: Option<u64>,
    /// [`crate::Backend::expire_every`], in milliseconds.
    expire_every_ms: Option<u64>,
    /// [`crate::Backend::delay_logins`], in milliseconds.
    delay_logins_ms: Option<u64>,
    /// [`crate::Backend::delay_responses`], in milliseconds.
    delay_responses_ms: Option<u64>,
    /// [`crate::Backend::fail_next_logins`].
    fail_logins: Option<u32>,
    /// [`crate::Backend::fail_next`].
    fail_next: Option<FailNext>,
    /// [`crate::Backend::abort_after_consume`]: execute, then drop the connection.
    drop_next: Option<u32>,
    /// [`crate::Backend::stall_next`].
    stall_next: Option<u32>,
    /// [`crate::Backend::redirect_next`].
    redirect_next: Option<RedirectNext>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailNext {
    count: u32,
    #[serde(default = "service_unavailable")]
    status: u16,
    /// Seconds, sent as `Retry-After`.
    retry_after: Option<u64>,
}

fn service_unavailable() -> u16 {
    503
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedirectNext {
    count: u32,
    #[serde(default = "found")]
    status: u16,
    location: String,
}

fn found() -> u16 {
    302
}

/// Checks every value first, then applies them all, so a bad request changes nothing.
fn knobs(shared: &Arc<Shared>, body: &[u8]) -> Resp {
    let patch: KnobPatch = match serde_json::from_slice(body) {
        Ok(patch) => patch,
        Err(err) => return bad(&format!("bad knobs: {err}")),
    };
    let fail_next = match &patch.fail_next {
        Some(f) => match StatusCode::from_u16(f.status) {
            Ok(s) if s.is_client_error() || s.is_server_error() => Some((f.count, s, f.retry_after)),
            _ => return bad("bad knobs: `fail_next.status` must be 400..=599"),
        },
        None => None,
    };
    let redirect_next = match &patch.redirect_next {
        Some(r) => match StatusCode::from_u16(r.status) {
            Ok(s) if s.is_redirection() => {
                if r.location.is_empty() || http::HeaderValue::from_str(&r.location).is_err() {
                    return bad("bad knobs: `redirect_next.location` must be a non-empty header value");
                }
                Some((r.count, s, r.location.clone()))
            }
            _ => return bad("bad knobs: `redirect_next.status` must be 300..=399"),
        },
        None => None,
    };
    let mut set = Vec::new();
    {
        let mut st = shared.lock();
        let knobs = &mut st.knobs;
        if let Some(n) = patch.expire_every_requests {
            knobs.expire_every_requests = n;
            knobs.checked = 0;
            set.push("expire_every_requests");
        }
        if let Some(ms) = patch.delay_logins_ms {
            knobs.delay_logins = Duration::from_millis(ms);
            set.push("delay_logins_ms");
        }
        if let Some(ms) = patch.delay_responses_ms {
            knobs.delay_responses = Duration::from_millis(ms);
            set.push("delay_responses_ms");
        }
        if let Some(n) = patch.fail_logins {
            knobs.fail_next_logins = n;
            set.push("fail_logins");
        }
        if let Some((n, status, retry_after)) = fail_next {
            let headers = retry_after
                .map(|s| vec![("Retry-After".to_owned(), s.to_string())])
                .unwrap_or_default();
            knobs.fail_next = (n, status, headers);
            set.push("fail_next");
        }
        if let Some(n) = patch.drop_next {
            knobs.abort_after_consume = n;
            set.push("drop_next");
        }
        if let Some(n) = patch.stall_next {
            knobs.stall_next = n;
            set.push("stall_next");
        }
        if let Some(redirect) = redirect_next {
            knobs.redirect_next = redirect;
            set.push("redirect_next");
        }
        if patch.expire_every_ms.is_some() {
            set.push("expire_every_ms");
        }
        let detail = format!("knobs set: {}", set.join(", "));
        st.event("admin", crate::events::Fields::default(), detail);
    }
    if let Some(ms) = patch.expire_every_ms {
        shared.expire_every(Duration::from_millis(ms));
    }
    ok(&json!({"set": set}))
}

/// Whether `parts` asks for an admin endpoint (any method: a wrong one gets 405, except at
/// [`CODE_PATH`], where it is an ordinary unknown path).
pub(crate) fn is_endpoint(parts: &Parts) -> bool {
    matches!(
        (&parts.method, parts.uri.path()),
        (&Method::POST, CODE_PATH) | (_, STATS_PATH | EVENTS_PATH | EXPIRE_PATH | KNOBS_PATH)
    )
}
