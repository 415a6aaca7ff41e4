//! The short-lived response cache (the seed post's §4): a `GET` declared
//! cacheable is answered from memory while fresh, identical calls in
//! flight share one request, and when a refresh fails for a reason that
//! says nothing about the data (a failed login, the network, a 5xx) the
//! last value is served for a while longer, marked stale.
//!
//! Each client has its own cache, so it is scoped to that client's session:
//! another client (another user) never sees its entries. Storage is a
//! bounded `moka` cache; this module adds freshness, single-flight refresh
//! and stale-if-error on top.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use tokio::time::Instant;

use crate::error::Error;
use crate::reply::Reply;
use crate::request::Request;

/// How long a cacheable `GET`'s value is served from memory, and how much
/// longer it may stand in when a refresh fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    ttl: Duration,
    stale_if_error: Duration,
}

impl CachePolicy {
    /// Values stay fresh for `ttl`; no stale serving.
    pub fn new(ttl: Duration) -> Self {
        CachePolicy {
            ttl,
            stale_if_error: Duration::ZERO,
        }
    }

    /// The spec's `cache: { ttl_ms, stale_if_error_ms }`.
    pub fn from_millis(ttl_ms: u64, stale_if_error_ms: u64) -> Self {
        CachePolicy::new(Duration::from_millis(ttl_ms))
            .stale_if_error(Duration::from_millis(stale_if_error_ms))
    }

    /// After `ttl`, for this long, a refresh that fails with a login
    /// failure, a transport error, a timeout or a 5xx serves the last value
    /// instead of the error (RFC 5861's `stale-if-error`).
    #[must_use]
    pub fn stale_if_error(mut self, d: Duration) -> Self {
        self.stale_if_error = d;
        self
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn stale_if_error_window(&self) -> Duration {
        self.stale_if_error
    }

    /// How long an entry is worth keeping at all.
    fn lifetime(&self) -> Duration {
        self.ttl.saturating_add(self.stale_if_error)
    }
}

/// Where a call's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheStatus {
    /// The endpoint is not cached, or the call bypassed the cache.
    Uncached,
    /// Fetched now, and stored.
    Miss,
    /// Served from memory while fresh, or shared with an identical call
    /// that was already fetching it.
    Hit,
    /// The refresh failed, so the last value was served, past its `ttl` but
    /// within `stale_if_error`.
    Stale,
}

/// The memory a client's cache may use (see
/// [`ClientBuilder::cache_limits`](crate::ClientBuilder::cache_limits)).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) entries: u64,
    pub(crate) bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            entries: 1024,
            bytes: 16 << 20,
        }
    }
}

/// A reply as the cache keeps it: decoded by reference on every hit.
pub(crate) struct Stored {
    pub(crate) reply: Reply,
    pub(crate) headers: HeaderMap,
    /// The body's length, for the byte bound.
    pub(crate) size: usize,
    at: Instant,
}

impl Stored {
    pub(crate) fn new(reply: Reply, headers: HeaderMap, size: usize) -> Self {
        Stored {
            reply,
            headers,
            size,
            at: Instant::now(),
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.reply.status()
    }
}

/// One key's entry: its last value, its last failed refresh, and the lock
/// that makes one caller at a time refresh it.
struct Slot {
    policy: CachePolicy,
    state: Mutex<SlotState>,
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct SlotState {
    value: Option<Arc<Stored>>,
    failure: Option<(Instant, Error)>,
}

impl Slot {
    /// The value, if fresh under `policy` (the caller's: the slot's own
    /// only sets how long moka keeps it).
    fn fresh(&self, now: Instant, policy: CachePolicy) -> Option<Arc<Stored>> {
        let state = self.state.lock().expect("cache slot lock");
        state
            .value
            .as_ref()
            .filter(|v| now.saturating_duration_since(v.at) < policy.ttl)
            .cloned()
    }

    fn size(&self) -> usize {
        let state = self.state.lock().expect("cache slot lock");
        state.value.as_ref().map_or(0, |v| v.size)
    }
}

/// A request's identity for the cache: path, query and every header the
/// caller set (the token is stamped later, per attempt, so it is not
/// part of it; the session's scope is the cache itself).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key(Box<[u8]>);

impl Key {
    fn of(req: &Request) -> Key {
        let mut k = Vec::with_capacity(req.path.len() + 32);
        let mut part = |bytes: &[u8]| {
            // Length-prefixed, so no value can fake a boundary.
            k.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            k.extend_from_slice(bytes);
        };
        part(req.method.as_str().as_bytes());
        part(req.path.as_bytes());
        // The count, so query pairs and headers cannot pass for each other.
        part(&(req.query.len() as u32).to_le_bytes());
        for (name, value) in &req.query {
            part(name.as_bytes());
            part(value.as_bytes());
        }
        let mut headers: Vec<_> = req.headers.iter().collect();
        headers.sort_by(|a, b| (a.0.as_str(), a.1.as_bytes()).cmp(&(b.0.as_str(), b.1.as_bytes())));
        for (name, value) in headers {
            part(name.as_str().as_bytes());
            part(value.as_bytes());
        }
        Key(k.into_boxed_slice())
    }
}

/// One client's response cache.
pub(crate) struct ResponseCache {
    entries: moka::future::Cache<Key, Arc<Slot>>,
    /// The weight of the smallest entry: `bytes / entries`, so that the byte
    /// bound also bounds the number of entries.
    floor: u64,
    limit: u64,
}

struct Lifetime;

impl moka::Expiry<Key, Arc<Slot>> for Lifetime {
    fn expire_after_create(&self, _: &Key, slot: &Arc<Slot>, _: std::time::Instant) -> Option<Duration> {
        Some(slot.policy.lifetime())
    }

    fn expire_after_update(
        &self,
        _: &Key,
        slot: &Arc<Slot>,
        _: std::time::Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(slot.policy.lifetime())
    }
}

impl ResponseCache {
    pub(crate) fn new(limits: Limits) -> Self {
        let floor = (limits.bytes / limits.entries.max(1)).max(1);
        let entries = moka::future::Cache::builder()
            .max_capacity(limits.bytes)
            .weigher(move |_: &Key, slot: &Arc<Slot>| {
                u32::try_from((slot.size() as u64).max(floor)).unwrap_or(u32::MAX)
            })
            .expire_after(Lifetime)
            .build();
        ResponseCache {
            entries,
            floor,
            limit: limits.bytes,
        }
    }

    /// The value for `req`: from memory while fresh, otherwise from
    /// `fetch`, shared with every identical call that arrives meanwhile.
    /// With `bypass`, a fresh value is not used, but the fetched one is
    /// stored.
    pub(crate) async fn get_or_fetch<F>(
        &self,
        req: &Request,
        policy: CachePolicy,
        bypass: bool,
        fetch: F,
    ) -> Result<(Arc<Stored>, CacheStatus), Error>
    where
        F: Future<Output = Result<Stored, Error>>,
    {
        let arrived = Instant::now();
        let key = Key::of(req);
        let slot = self
            .entries
            .get_with_by_ref(&key, async {
                Arc::new(Slot {
                    policy,
                    state: Mutex::default(),
                    refresh: tokio::sync::Mutex::new(()),
                })
            })
            .await;
        if !bypass && let Some(v) = slot.fresh(arrived, policy) {
            return Ok((v, CacheStatus::Hit));
        }
        let _refreshing = slot.refresh.lock().await;
        // Whoever held the lock before us fetched while we waited: share
        // its outcome rather than send the same request again.
        let earlier = {
            let state = slot.state.lock().expect("cache slot lock");
            match (&state.value, &state.failure) {
                (Some(v), _)
                    if v.at >= arrived || !bypass && arrived.saturating_duration_since(v.at) < policy.ttl =>
                {
                    Some(Ok(Arc::clone(v)))
                }
                (_, Some((at, e))) if *at >= arrived => Some(Err(e.clone())),
                _ => None,
            }
        };
        let e = match earlier {
            Some(Ok(v)) => return Ok((v, CacheStatus::Hit)),
            Some(Err(e)) => e,
            None => match fetch.await {
                Ok(stored) => {
                    let stored = Arc::new(stored);
                    let keep = (stored.size as u64).max(self.floor) <= self.limit;
                    {
                        let mut state = slot.state.lock().expect("cache slot lock");
                        state.value = Some(Arc::clone(&stored));
                        state.failure = None;
                    }
                    if keep {
                        // Stored again so moka weighs the slot with its value.
                        self.entries.insert(key, Arc::clone(&slot)).await;
                    } else {
                        self.entries.invalidate(&key).await;
                    }
                    return Ok((stored, CacheStatus::Miss));
                }
                Err(e) => {
                    slot.state.lock().expect("cache slot lock").failure = Some((Instant::now(), e.clone()));
                    e
                }
            },
        };
        match stale_value(&slot, policy, &e) {
            Some(v) => {
                tracing::warn!(
                    target: "seamless",
                    path = %req.path,
                    age_ms = v.at.elapsed().as_millis() as u64,
                    error = %e,
                    "refresh failed; serving the cached value stale"
                );
                Ok((v, CacheStatus::Stale))
            }
            None => Err(e),
        }
    }

    #[cfg(test)]
    async fn settle(&self) -> (u64, u64) {
        self.entries.run_pending_tasks().await;
        (self.entries.entry_count(), self.entries.weighted_size())
    }
}

/// The last value, if `e` is a failure stale-if-error covers and the value
/// is still within its window.
fn stale_value(slot: &Slot, policy: CachePolicy, e: &Error) -> Option<Arc<Stored>> {
    if !serves_stale(e) {
        return None;
    }
    let state = slot.state.lock().expect("cache slot lock");
    state
        .value
        .as_ref()
        .filter(|v| v.at.elapsed() < policy.lifetime())
        .cloned()
}

/// Failures that say nothing about the data: the session could not be
/// renewed, the server or the network is in trouble. An API error, a 4xx
/// or an undecodable body is the server's answer, and reaches the caller.
fn serves_stale(e: &Error) -> bool {
    e.is_login()
        || e.is_expired()
        || e.is_transport()
        || e.is_timeout()
        || e.is_store()
        || e.status().is_some_and(|s| s.is_server_error()) && !e.is_api()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(bytes: usize) -> Stored {
        Stored::new(
            Reply::Body(StatusCode::OK, bytes::Bytes::from(vec![b'1'; bytes])),
            HeaderMap::new(),
            bytes,
        )
    }

    #[tokio::test]
    async fn the_entry_bound_holds() {
        let cache = ResponseCache::new(Limits {
            entries: 10,
            bytes: 10_000,
        });
        let policy = CachePolicy::new(Duration::from_secs(60));
        for i in 0..200 {
            let req = Request::get(format!("/items/{i}"));
            cache
                .get_or_fetch(&req, policy, false, async { Ok(stored(10)) })
                .await
                .unwrap();
        }
        let (entries, bytes) = cache.settle().await;
        assert!(entries <= 10, "{entries} entries");
        assert!(bytes <= 10_000, "{bytes} bytes");
    }

    #[tokio::test]
    async fn the_byte_bound_holds_and_an_oversized_value_is_not_kept() {
        let cache = ResponseCache::new(Limits {
            entries: 1000,
            bytes: 50_000,
        });
        let policy = CachePolicy::new(Duration::from_secs(60));
        for i in 0..100 {
            let req = Request::get(format!("/big/{i}"));
            cache
                .get_or_fetch(&req, policy, false, async { Ok(stored(5_000)) })
                .await
                .unwrap();
        }
        let (_, bytes) = cache.settle().await;
        assert!(bytes <= 50_000, "{bytes} bytes");

        let huge = Request::get("/huge");
        let (_, status) = cache
            .get_or_fetch(&huge, policy, false, async { Ok(stored(60_000)) })
            .await
            .unwrap();
        assert_eq!(status, CacheStatus::Miss);
        let (_, status) = cache
            .get_or_fetch(&huge, policy, false, async { Ok(stored(60_000)) })
            .await
            .unwrap();
        assert_eq!(
            status,
            CacheStatus::Miss,
            "a value over the whole bound is never kept"
        );
    }

    #[test]
    fn keys_tell_apart_queries_and_headers_but_not_header_order() {
        let a = Key::of(
            &Request::get("/x")
                .query("a", 1)
                .header("X-A", "1")
                .header("X-B", "2"),
        );
        let b = Key::of(
            &Request::get("/x")
                .query("a", 1)
                .header("X-B", "2")
                .header("X-A", "1"),
        );
        let c = Key::of(
            &Request::get("/x")
                .query("a", 2)
                .header("X-A", "1")
                .header("X-B", "2"),
        );
        let d = Key::of(&Request::get("/x").query("a", 1).header("X-A", "1"));
        assert!(a == b);
        assert!(a != c);
        assert!(a != d);
        // A query value with the separator in it cannot fake another key.
        let e = Key::of(&Request::get("/x").query("a", "1\0b=2"));
        let f = Key::of(&Request::get("/x").query("a", 1).query("b", 2));
        assert!(e != f);
    }
}
