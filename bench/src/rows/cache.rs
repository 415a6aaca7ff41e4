//! P8: two features of the call path measured on P1's workload (a
//! reusable Bearer token, `GET /api/users/{id}`), against the network.
//!
//! - **P8, the response cache**: a warmed cached `GET` (every call a hit,
//!   answered from the client's memory) against the same `GET` going out,
//!   uncached through seamless and through raw reqwest; sequential, and 64
//!   callers on the one cached key.
//! - **P8b, the retry layer when nothing fails**: P1's client (the spec's
//!   retry policy, on by default) against the same client built with
//!   `RetryPolicy::none()`, and both against raw reqwest as in P1.
//!
//! As everywhere in the table, the sides alternate round by round in one
//! run; the counts (every cached call a hit, no retry, no login) are facts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::sdk_tests::bearer_api::{BearerApiClient, User};
use seamless_sdk::{CachePolicy, Error, Request, RetryPolicy};
use seamless_sdk_testkit::{BEARER_PASSWORD, BEARER_USERNAME};

use super::{Sizes, side};
use crate::measure::{Sample, Side, fan_out, interleave, med, paired_spread};
use crate::raw::RawBearer;
use crate::report::{Report, Target, num};
use crate::server::Server;

/// The one user every side fetches, so the cached side has one key and the
/// network sides send the very request it stands in for.
const ID: u64 = 7;

/// Far longer than the run, so no timed hit meets an expired entry.
const TTL: Duration = Duration::from_secs(600);

/// The request the generated `get_user` builds, declared cacheable by hand
/// (`bearer_api.yaml` gives `get_user` no cache), in the form a generated
/// cached endpoint takes: `Request::get(..).cache(..)` through `Client::call`.
async fn cached_user(c: &BearerApiClient) -> Result<User, Error> {
    let request = Request::get(format!("/api/users/{ID}")).cache(CachePolicy::new(TTL));
    c.client().call(request).await
}

pub(crate) async fn p8(s: &Sizes, report: &mut Report) {
    let server = Arc::new(Server::start("bearer").await);
    let typed = Arc::new(
        BearerApiClient::new(server.url(), BEARER_USERNAME, BEARER_PASSWORD).expect("the generated client"),
    );
    // P8b's two clients differ only in `.retry(..)`, and neither carries
    // the cache rows' history (a cache, 64 pooled connections).
    let default_retry = Arc::new(
        BearerApiClient::new(server.url(), BEARER_USERNAME, BEARER_PASSWORD).expect("the generated client"),
    );
    let no_retry = Arc::new(BearerApiClient::from_client(
        BearerApiClient::builder(server.url(), BEARER_USERNAME, BEARER_PASSWORD)
            .retry(RetryPolicy::none())
            .build()
            .expect("the generated client without retries"),
    ));
    let fetched = typed.get_user(ID).await.expect("the first typed call logs in");
    default_retry
        .get_user(ID)
        .await
        .expect("the first default-policy call logs in");
    no_retry
        .get_user(ID)
        .await
        .expect("the first no-retry call logs in");
    let raw = Arc::new(RawBearer::login(server.url()).await);
    raw.get_user(ID).await.expect("the first raw call");
    // The one miss: from here on every cached call is a hit.
    let first = cached_user(&typed).await.expect("the cache's first call");
    report.fact(
        "P8: the cached call decodes the same user as the network call",
        first == fetched,
    );
    let stats0 = typed.client().stats();
    server.reset().await;

    let hits_made = Arc::new(AtomicU64::new(0));
    cache_rows(s, &server, &typed, &raw, &hits_made, report).await;
    retry_rows(s, &server, &default_retry, &no_retry, &raw, report).await;

    let stats = typed.client().stats();
    let (hits, misses) = (
        stats.cache_hits - stats0.cache_hits,
        stats.cache_misses - stats0.cache_misses,
    );
    let made = hits_made.load(Ordering::Relaxed);
    report.fact(
        format!("P8: every cached call was a hit ({hits} hits, {misses} misses, {made} cached calls made)"),
        hits == made && misses == 0 && stats.cache_stale == 0,
    );
    let quiet = |c: &BearerApiClient| {
        let n = c.client().stats();
        n.transient_retries + n.expiry_replays + n.stale_replays + n.transport_replays
    };
    let (a, b) = (quiet(&default_retry), quiet(&no_retry));
    report.fact(
        format!(
            "P8b: nothing failed, so nothing was resent (default policy: {a}; `RetryPolicy::none()`: {b})"
        ),
        a == 0 && b == 0,
    );
    let n = server.counts().await;
    report.fact(
        format!(
            "P8/P8b: no login and no expired reply while timing ({} logins, {} expired)",
            n.sessions(),
            n.expired_replies
        ),
        n.sessions() == 0 && n.expired_replies == 0,
    );
}

/// Runs one extra, untimed round per side with the allocator counting:
/// exact allocations per call, without taxing the timed rounds.
async fn counted_allocations(sides: &[Side]) -> Vec<f64> {
    let mut counted = Vec::new();
    for side in sides {
        crate::alloc::count(true);
        let sample = (side.round)().await;
        crate::alloc::count(false);
        counted.push(sample.allocs_per_op());
    }
    counted
}

async fn cache_rows(
    s: &Sizes,
    server: &Arc<Server>,
    typed: &Arc<BearerApiClient>,
    raw: &Arc<RawBearer>,
    hits_made: &Arc<AtomicU64>,
    report: &mut Report,
) {
    let (calls, hits) = (s.p8_calls, s.p8_hits);
    let made = Arc::clone(hits_made);
    // A hit costs about a µs against tens for a round trip, so the hit
    // side makes more calls per round to time a comparable stretch.
    let sides = [
        side("seamless cached", server, typed, move |c| {
            let made = Arc::clone(&made);
            async move {
                for _ in 0..hits {
                    cached_user(&c).await.expect("P8: a cached call failed");
                }
                made.fetch_add(hits, Ordering::Relaxed);
                hits
            }
        }),
        side("seamless uncached", server, typed, move |c| async move {
            for _ in 0..calls {
                c.get_user(ID)
                    .await
                    .expect("P8: an uncached seamless call failed");
            }
            calls
        }),
        side("raw", server, raw, move |c| async move {
            for _ in 0..calls {
                c.get_user(ID).await.expect("P8: a raw call failed");
            }
            calls
        }),
    ];
    let r = interleave(s.warmup, s.rounds, &sides).await;
    let (hit, net, raw_s) = (&r[0], &r[1], &r[2]);
    let allocs = counted_allocations(&sides).await;
    let (h, n, w) = (
        med(hit, Sample::us_per_op),
        med(net, Sample::us_per_op),
        med(raw_s, Sample::us_per_op),
    );
    // The columns here are the hit and a network call; the ratio is the
    // speed-up, network µs ÷ hit µs, which the ≥ 20 goal is about.
    report.compare_with(
        "P8",
        format!(
            "cache hit vs network, sequential `GET /api/users/{ID}` ({hits} hits; {calls} calls per network side): \
             µs per call, hit and seamless uncached; ratio uncached ÷ hit"
        ),
        h,
        n,
        n / h,
        Target::AtLeast(20.0),
        Some(paired_spread(net, hit, Sample::us_per_op)),
    );
    report.compare_with(
        "P8",
        "µs per call, hit and raw reqwest; ratio raw ÷ hit",
        h,
        w,
        w / h,
        Target::AtLeast(20.0),
        Some(paired_spread(raw_s, hit, Sample::us_per_op)),
    );
    // No CPU line: a hit runs on the caller's thread without I/O, so its
    // CPU is its wall time.
    report.text(
        "P8",
        "heap allocations per call (exact, counted in one extra round): hit, then seamless uncached; raw reqwest",
        num(allocs[0]),
        format!("{}; {}", num(allocs[1]), num(allocs[2])),
    );

    // The same key under 64 callers: the hits share one moka entry and
    // one slot lock; the network sides are P2's workload on one path.
    let (callers, per, hits_per) = (s.p8_callers, s.p8_calls_per_caller, s.p8_hits_per_caller);
    let (total, hit_total) = ((callers * per) as u64, (callers * hits_per) as u64);
    let made = Arc::clone(hits_made);
    let sides = [
        side("seamless cached", server, typed, move |c| {
            let made = Arc::clone(&made);
            async move {
                let failed =
                    fan_out(&c, callers, hits_per, |c, _| async move { cached_user(&c).await }).await;
                assert_eq!(failed, 0, "P8: concurrent cached calls failed");
                made.fetch_add(hit_total, Ordering::Relaxed);
                hit_total
            }
        }),
        side("seamless uncached", server, typed, move |c| async move {
            let failed = fan_out(&c, callers, per, |c, _| async move { c.get_user(ID).await }).await;
            assert_eq!(failed, 0, "P8: concurrent uncached seamless calls failed");
            total
        }),
        side("raw", server, raw, move |c| async move {
            let failed = fan_out(&c, callers, per, |c, _| async move { c.get_user(ID).await }).await;
            assert_eq!(failed, 0, "P8: concurrent raw calls failed");
            total
        }),
    ];
    let r = interleave(s.warmup, s.rounds, &sides).await;
    let (hit, net, raw_s) = (&r[0], &r[1], &r[2]);
    let (h, n, w) = (
        med(hit, Sample::per_sec),
        med(net, Sample::per_sec),
        med(raw_s, Sample::per_sec),
    );
    report.compare_with(
        "P8",
        format!(
            "{callers} concurrent callers on the cached key ({hit_total} hits; {total} calls per network side): \
             calls/s, hit and seamless uncached; ratio hit ÷ uncached"
        ),
        h,
        n,
        h / n,
        Target::None,
        Some(paired_spread(hit, net, Sample::per_sec)),
    );
    report.compare_with(
        "P8",
        "calls/s, hit and raw reqwest; ratio hit ÷ raw",
        h,
        w,
        h / w,
        Target::None,
        Some(paired_spread(hit, raw_s, Sample::per_sec)),
    );
}

async fn retry_rows(
    s: &Sizes,
    server: &Arc<Server>,
    default_retry: &Arc<BearerApiClient>,
    no_retry: &Arc<BearerApiClient>,
    raw: &Arc<RawBearer>,
    report: &mut Report,
) {
    // P1's workload and size, so the default side is P1's seamless side.
    let calls = s.p1_calls;
    let sides = [
        side(
            "seamless default retry",
            server,
            default_retry,
            move |c| async move {
                for i in 0..calls {
                    c.get_user(i).await.expect("P8b: a default-policy call failed");
                }
                calls
            },
        ),
        side("seamless no retry", server, no_retry, move |c| async move {
            for i in 0..calls {
                c.get_user(i).await.expect("P8b: a no-retry call failed");
            }
            calls
        }),
        side("raw", server, raw, move |c| async move {
            for i in 0..calls {
                c.get_user(i).await.expect("P8b: a raw call failed");
            }
            calls
        }),
    ];
    let r = interleave(s.warmup, s.rounds, &sides).await;
    let (d, n, w) = (&r[0], &r[1], &r[2]);
    let allocs = counted_allocations(&sides).await;
    // Columns: the default policy and `none()` (the raw column is raw
    // reqwest only on the two lines that say so).
    report.compare(
        "P8b",
        format!(
            "retry layer when nothing fails, P1's sequential `get_user`, {calls} calls: µs per call (wall), \
             default policy and `RetryPolicy::none()`; ratio default ÷ none"
        ),
        med(d, Sample::us_per_op),
        med(n, Sample::us_per_op),
        Target::AtMost(1.02),
        Some(paired_spread(d, n, Sample::us_per_op)),
    );
    report.compare(
        "P8b",
        "client CPU µs per call, default and none",
        med(d, Sample::client_cpu_us),
        med(n, Sample::client_cpu_us),
        Target::None,
        Some(paired_spread(d, n, Sample::client_cpu_us)),
    );
    report.compare(
        "P8b",
        format!(
            "heap allocations per call, default and none (exact, counted in one extra round; raw reqwest: {})",
            num(allocs[2])
        ),
        allocs[0],
        allocs[1],
        Target::None,
        None,
    );
    report.compare(
        "P8b",
        "default policy vs raw reqwest (as P1): µs per call (wall)",
        med(d, Sample::us_per_op),
        med(w, Sample::us_per_op),
        Target::None,
        Some(paired_spread(d, w, Sample::us_per_op)),
    );
    report.compare(
        "P8b",
        "`RetryPolicy::none()` vs raw reqwest: µs per call (wall)",
        med(n, Sample::us_per_op),
        med(w, Sample::us_per_op),
        Target::None,
        Some(paired_spread(n, w, Sample::us_per_op)),
    );
}
