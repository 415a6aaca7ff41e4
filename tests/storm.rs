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
