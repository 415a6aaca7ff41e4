//! What a client has done so far: the public [`Stats`] and the counters
//! the call path and the sessions bump.

use std::sync::atomic::{AtomicU64, Ordering};

/// What a client has done so far, for dashboards and tests. Each counter
/// counts one thing; `docs/protocol.md` ("Stats") says when each moves.
///
/// A login runs as one task: a refresh grant first when the chain holds a
/// refresh token, and a full login when there is none or it failed. So
/// `refreshes - refresh_refusals` logins were refreshes that worked, and
/// every refused one is followed by a full login in the same task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Full logins run ([`Login::login`](crate::Login::login)): the first, one after a token was
    /// refused or spent without a successor, and the fallback after a
    /// refused refresh. However many callers wait on one, it counts once.
    pub full_logins: u64,
    /// Refresh grants tried ([`Login::refresh`](crate::Login::refresh) with the chain's refresh
    /// token), whatever their outcome.
    pub refreshes: u64,
    /// Refresh grants that failed (refused, unreachable, a 5xx); with
    /// rotating refresh tokens a refusal may mean the server detected reuse
    /// and revoked the session family. A full login follows each.
    pub refresh_refusals: u64,
    /// Login tasks that ended in an error (their refresh and full login both
    /// failed, or the login timed out or died); each starts a cool-down.
    pub login_failures: u64,
    /// Replies recognised as "token expired", stale or not.
    pub expiries: u64,
    /// Requests sent again after an expiry of the chain's current token,
    /// paid from the call's `max_replays`.
    pub expiry_replays: u64,
    /// Requests sent again after an expiry of a token the chain had already
    /// replaced, or was already renewing (or, with an exclusive session,
    /// was logging in again): not paid from `max_replays`, at most
    /// [`MAX_STALE_REPLAYS`](crate::MAX_STALE_REPLAYS) per call.
    pub stale_replays: u64,
    /// Requests sent again after a transport error or a response body lost
    /// after its headers, paid from `max_replays`.
    pub transport_replays: u64,
    /// Single-use tokens spent without their successor for a reason other
    /// than an expiry reply (counted in `expiries`): no reply (a transport
    /// error or timeout after sending, the caller cancelled and then the
    /// request failed), or a reply without the next-token header that is
    /// not an expiry (a proxy's error page, a redirect). The chain then
    /// recovers with a login. A reply that arrives after its caller was
    /// cancelled is not classified, so a missing successor there is not
    /// counted (a transport error there is).
    pub lost_successors: u64,
    /// Requests sent again after a transient failure (a reply with one of
    /// the retry policy's statuses, or a connection that could not be
    /// made), paid from the call's attempt budget.
    pub transient_retries: u64,
    /// Milliseconds waited before those retries, all calls together (what
    /// `Retry-After` asked for, or the backoff chose).
    pub retry_wait_ms: u64,
    /// Cached calls answered from memory: a fresh value, or one an
    /// identical call in flight fetched.
    pub cache_hits: u64,
    /// Cached calls that fetched (and stored) the value.
    pub cache_misses: u64,
    /// Cached calls answered with a stale value because the refresh failed
    /// (`stale_if_error`).
    pub cache_stale: u64,
}

/// One thing a client counts, as [`Stats`] names it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Count {
    FullLogins,
    Refreshes,
    RefreshRefusals,
    LoginFailures,
    Expiries,
    ExpiryReplays,
    StaleReplays,
    TransportReplays,
    LostSuccessors,
    TransientRetries,
    RetryWaitMs,
    CacheHits,
    CacheMisses,
    CacheStale,
}

/// The live counters behind [`Stats`], shared by a client's call path and
/// its sessions; indexed by [`Count`].
#[derive(Debug, Default)]
pub(crate) struct Counters([AtomicU64; 14]);

impl Counters {
    pub(crate) fn bump(&self, count: Count) {
        self.0[count as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_retry_wait(&self, wait: std::time::Duration) {
        self.0[Count::RetryWaitMs as usize].fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |count: Count| self.0[count as usize].load(Ordering::Relaxed);
        Stats {
            full_logins: get(Count::FullLogins),
            refreshes: get(Count::Refreshes),
            refresh_refusals: get(Count::RefreshRefusals),
            login_failures: get(Count::LoginFailures),
            expiries: get(Count::Expiries),
            expiry_replays: get(Count::ExpiryReplays),
            stale_replays: get(Count::StaleReplays),
            transport_replays: get(Count::TransportReplays),
            lost_successors: get(Count::LostSuccessors),
            transient_retries: get(Count::TransientRetries),
            retry_wait_ms: get(Count::RetryWaitMs),
            cache_hits: get(Count::CacheHits),
            cache_misses: get(Count::CacheMisses),
            cache_stale: get(Count::CacheStale),
        }
    }
}
