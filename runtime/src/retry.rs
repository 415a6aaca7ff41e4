//! Transient failures: which replies a call retries, how long it waits
//! first, and the one attempt budget every resend of a call is paid from
//! (an expiry replay, a transport replay and a transient retry alike), so
//! layers of resends never multiply (`docs/faults.md`, F11).

use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, StatusCode};

/// How calls ride out transient failures: a reply with one of
/// [`statuses`](RetryPolicy::statuses) (429, 502, 503, 504 by default) is
/// retried after a wait, when the request is safe to send again (idempotent,
/// or carrying an [idempotency key](crate::Request::idempotency_key)); a
/// connection that could not be made is retried after the backoff whatever
/// the request, as nothing was sent.
///
/// The wait is the server's `Retry-After` (seconds or an HTTP date) or
/// `retry-after-ms` when it sends one, else exponential backoff with full
/// jitter (a random wait up to `initial × 2ⁿ`, at most `max_delay`). A call
/// stops retrying when the wait asked for is longer than `max_retry_after`,
/// or would end past `max_elapsed` since the call began.
///
/// Every attempt of a call, its first included, is paid from one budget,
/// [`max_attempts`](RetryPolicy::max_attempts): transient retries, expiry
/// replays (also capped by `ClientBuilder::max_replays`) and replays after a
/// transport error. Only the replays after a refusal of a token already
/// replaced are free (at most [`MAX_STALE_REPLAYS`](crate::MAX_STALE_REPLAYS)),
/// as they say nothing about the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(crate) max_attempts: Option<u32>,
    pub(crate) statuses: Vec<u16>,
    pub(crate) initial: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) max_elapsed: Duration,
    pub(crate) max_retry_after: Duration,
    pub(crate) connect_errors: bool,
}

impl Default for RetryPolicy {
    /// 429, 502, 503 and 504; backoff from 250 ms up to 8 s; at most 30 s
    /// spent waiting per call; a `Retry-After` up to 60 s is honoured; the
    /// budget is `max_replays + 2` attempts (3 by default).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: None,
            statuses: vec![429, 502, 503, 504],
            initial: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_elapsed: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            connect_errors: true,
        }
    }
}

impl RetryPolicy {
    /// No transient retries: no reply status is retried, and a connection
    /// that cannot be made is replayed at once within `max_replays`, as
    /// other transport errors are (expiry replays still happen too).
    pub fn none() -> Self {
        RetryPolicy {
            statuses: Vec::new(),
            connect_errors: false,
            ..RetryPolicy::default()
        }
    }

    /// Whether a connection that could not be made (refused, unreachable,
    /// DNS; the request never left) is retried after the backoff, like a
    /// transient reply (default: yes). Off, it is replayed at once within
    /// `max_replays`.
    #[must_use]
    pub fn connect_errors(mut self, retry: bool) -> Self {
        self.connect_errors = retry;
        self
    }

    /// The most attempts one call makes, its first included, whatever made
    /// it resend (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = Some(n.max(1));
        self
    }

    /// The reply statuses that are retried, by number: `[429, 503]`.
    #[must_use]
    pub fn statuses(mut self, statuses: impl IntoIterator<Item = u16>) -> Self {
        self.statuses = statuses.into_iter().collect();
        self
    }

    /// The backoff: the first wait is up to `initial`, each next one up to
    /// twice the one before, none above `max_delay`.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max_delay: Duration) -> Self {
        self.initial = initial;
        self.max_delay = max_delay.max(initial);
        self
    }

    /// The most time one call spends waiting to retry.
    #[must_use]
    pub fn max_elapsed(mut self, d: Duration) -> Self {
        self.max_elapsed = d;
        self
    }

    /// The longest `Retry-After` honoured; a longer one ends the call with
    /// the reply's error.
    #[must_use]
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// The attempt budget: as set, else `max_replays + 2`.
    pub(crate) fn attempts(&self, max_replays: u32) -> u32 {
        self.max_attempts.unwrap_or(max_replays + 2)
    }

    pub(crate) fn retries(&self, status: StatusCode) -> bool {
        self.statuses.contains(&status.as_u16())
    }

    /// How long to wait before retry number `retry` (1 for the first) of a
    /// call that began at `began`, after a reply with `headers`; `None`
    /// when the call must not wait that long.
    pub(crate) fn wait(&self, retry: u32, headers: &HeaderMap, began: Instant) -> Option<Duration> {
        let wait = match asked(headers) {
            Some(asked) if asked > self.max_retry_after => return None,
            Some(asked) => asked,
            None => self.backoff_for(retry),
        };
        (began.elapsed() + wait <= self.max_elapsed).then_some(wait)
    }

    /// Full jitter: uniform in `[0, min(max_delay, initial × 2^(retry-1))]`.
    fn backoff_for(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        let ceiling = self.initial.saturating_mul(1 << doublings).min(self.max_delay);
        ceiling.mul_f64(jitter())
    }
}

/// The wait a reply asks for: `retry-after-ms` (a de-facto header some
/// APIs send), else `Retry-After` as seconds or as an HTTP date.
pub(crate) fn asked(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1e3));
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// A uniform number in `[0, 1)`. Jitter needs no cryptographic randomness:
/// std's per-process random hash keys, mixed with a counter and the clock.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_in_seconds_in_milliseconds_and_as_a_date() {
        assert_eq!(
            asked(&headers(&[("retry-after", "2")])),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            asked(&headers(&[("retry-after-ms", "150"), ("retry-after", "9")])),
            Some(Duration::from_millis(150))
        );
        let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(61));
        let d = asked(&headers(&[("retry-after", &in_a_minute)])).unwrap();
        assert!(
            (Duration::from_secs(59)..=Duration::from_secs(61)).contains(&d),
            "{d:?}"
        );
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
        assert_eq!(asked(&headers(&[("retry-after", &past)])), Some(Duration::ZERO));
        assert_eq!(asked(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(asked(&headers(&[("retry-after-ms", "-5")])), None);
        assert_eq!(asked(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_ceiling() {
        let p = RetryPolicy::default().backoff(Duration::from_millis(100), Duration::from_millis(350));
        for retry in 1..=6 {
            let ceiling = Duration::from_millis((100u64 << (retry - 1)).min(350));
            for _ in 0..200 {
                let d = p.backoff_for(retry);
                assert!(d <= ceiling, "retry {retry}: {d:?} over {ceiling:?}");
            }
        }
        let spread: std::collections::BTreeSet<_> = (0..50).map(|_| p.backoff_for(3)).collect();
        assert!(spread.len() > 40, "jitter spreads the waits");
    }

    #[test]
    fn a_wait_too_long_or_past_the_deadline_is_refused() {
        let p = RetryPolicy::default()
            .max_retry_after(Duration::from_secs(5))
            .max_elapsed(Duration::from_secs(10));
        let now = Instant::now();
        assert_eq!(p.wait(1, &headers(&[("retry-after", "6")]), now), None);
        assert_eq!(
            p.wait(1, &headers(&[("retry-after", "5")]), now),
            Some(Duration::from_secs(5))
        );
        let long_ago = now.checked_sub(Duration::from_secs(8)).unwrap();
        assert_eq!(p.wait(1, &headers(&[("retry-after", "3")]), long_ago), None);
    }

    /// The wait really is the time asked for, on tokio's paused clock.
    #[tokio::test(start_paused = true)]
    async fn the_wait_is_slept_on_the_runtime_clock() {
        let p = RetryPolicy::default();
        let began = tokio::time::Instant::now();
        let wait = p
            .wait(1, &headers(&[("retry-after", "2")]), Instant::now())
            .unwrap();
        tokio::time::sleep(wait).await;
        assert_eq!(began.elapsed(), Duration::from_secs(2));
    }
}
