//! 1,000 concurrent calls across a forced expiry: exactly one login, every
//! call succeeds, no token is ever presented twice.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{User, within};
use seamless_sdk::Client;
use seamless_sdk_testkit::{Backend, Protocol};

const CALLS: u64 = 1_000;

/// Warms the session up, then fires `CALLS` calls at once and expires every
/// live token once the server has seen `expire_after` of them.
async fn storm(backend: &Backend, client: Client, expire_after: u64) {
    client
        .call::<User>(common::get_user(0))
        .await
        .expect("warm-up call");
    backend.reset_counters();

    let client = Arc::new(client);
    let calls: Vec<_> = (1..=CALLS)
        .map(|i| {
            let client = Arc::clone(&client);
            tokio::spawn(async move { client.call::<User>(common::get_user(i)).await })
        })
        .collect();
    common::wait_until(30, "the storm reaching the expiry point", || {
        backend.counters().requests >= expire_after
    })
    .await;
    backend.expire_all();

    let mut ok = 0;
    for (i, call) in (1..=CALLS).zip(calls) {
        let user = within(60, "a storm call", call)
            .await
            .expect("task")
            .expect("call");
        assert_eq!(user.id, i, "a reply reached the wrong caller");
        ok += 1;
    }
    let c = backend.counters();
    assert_eq!(ok, CALLS);
    assert!(
        c.expired_replies >= 1,
        "the forced expiry never hit a request: {c:?}"
    );
    // The re-login may be a refresh grant (bearer) or a full login (seed).
    assert_eq!(c.logins + c.refreshes, 1, "{c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_single_use_1000_calls_one_login_no_reuse() {
    let backend = Backend::start(Protocol::Seed).await;
    let client = common::seed(&backend).build().unwrap();
    storm(&backend, client, 300).await;
    assert_eq!(backend.counters().max_concurrent_holders, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_reusable_1000_calls_one_login_no_reuse() {
    let backend = Backend::start(Protocol::Bearer {
        ttl: Duration::from_secs(3600),
    })
    .await;
    // A slow server keeps hundreds of calls in flight when the token dies.
    backend.delay_responses(Duration::from_millis(20));
    let client = common::bearer(&backend).build().unwrap();
    storm(&backend, client, 300).await;
}

/// Issue 12, item 1: a server that deletes the old access token the moment
/// a refresh succeeds refuses every request in flight then, although the
/// client already holds (or is fetching) the new token. Those refusals are
/// stale: replayed without spending `max_replays` (0 here, so a single paid
/// replay would fail a call), bounded by `MAX_STALE_REPLAYS`. 32 callers
/// for 4 s across refreshes every half lifetime: no call fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_that_revoke_the_old_token_fail_no_call_in_flight() {
    const LIFETIME: Duration = Duration::from_secs(1);
    const CALLERS: u64 = 32;
    let backend = Backend::start(Protocol::Bearer { ttl: LIFETIME }).await;
    backend.revoke_previous_on_refresh(true);
    // Keeps requests on the wire when a refresh lands.
    backend.delay_responses(Duration::from_millis(5));
    let client = Arc::new(common::bearer(&backend).max_replays(0).build().unwrap());
    let began = std::time::Instant::now();
    let run_for = Duration::from_secs(4);
    let callers: Vec<_> = (0..CALLERS)
        .map(|k| {
            let client = Arc::clone(&client);
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u64, Vec::new());
                let mut i = k;
                while began.elapsed() < run_for {
                    match client.call::<User>(common::get_user(i)).await {
                        Ok(u) if u.id == i => ok += 1,
                        Ok(u) => failed.push(format!("call {i} got user {}", u.id)),
                        Err(e) => failed.push(format!("call {i}: {e}")),
                    }
                    i += CALLERS;
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, Vec::new());
    for c in callers {
        let (o, f) = within(60, "a caller", c).await.expect("task");
        ok += o;
        failed.extend(f);
    }
    let elapsed = began.elapsed();
    let c = backend.counters();
    let stats = client.stats();
    assert!(
        failed.is_empty(),
        "{} of {} calls failed, e.g. {:?}\n{c:?}\n{stats:?}",
        failed.len(),
        ok + failed.len() as u64,
        &failed[..failed.len().min(5)]
    );
    assert!(c.refreshes >= 2, "the storm saw no refreshes: {c:?}");
    assert!(
        c.expired_replies >= 1,
        "no refresh caught a request in flight: {c:?}"
    );
    assert_eq!(stats.stale_replays, c.expired_replies, "{stats:?} {c:?}");
    // One refresh per renewal period (half the lifetime), plus slack for
    // the first and the last; refused refreshes would show as logins.
    let periods = elapsed.as_secs_f64() / (LIFETIME.as_secs_f64() / 2.0);
    assert!(
        (c.refreshes as f64) <= periods.ceil() + 2.0,
        "{} refreshes in {elapsed:?}: {c:?}",
        c.refreshes
    );
    assert_eq!(c.logins, 1, "{c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
}
