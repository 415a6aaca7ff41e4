//! P6: memory per parked waiter. 10,000 calls start while the one login is
//! slow; every one parks on the chain. Live heap bytes come from the
//! counting global allocator (on for this window only), on a current-thread
//! runtime so the reading is exact: nothing else runs between the spawns and
//! the reading, and the server is another process.
//!
//! Two figures: what parking itself costs (bytes that appear between
//! spawning the calls and all of them being parked: the request's parts,
//! the waiter's channel, its queue slot), and the whole parked call
//! (that plus the spawned task, which holds the call's future — the same
//! kind of cost any async HTTP call has; the raw reqwest future's size is
//! shown for scale).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sdk_tests::bearer_api::BearerApiClient;
use seamless_sdk_testkit::{BEARER_PASSWORD, BEARER_USERNAME};

use super::Sizes;
use crate::raw::RawBearer;
use crate::report::{Report, Target};
use crate::server::Server;
use crate::{allocations, live_bytes};

pub(crate) fn p6(s: &Sizes, report: &mut Report) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    rt.block_on(run(s, report));
}

async fn run(s: &Sizes, report: &mut Report) {
    let n = s.p6_waiters;
    let server = Arc::new(Server::start("bearer").await);
    let slow = if report.quick() { 300 } else { 2000 };
    server.delay_logins(Duration::from_millis(slow)).await;
    let client =
        BearerApiClient::new(server.url(), BEARER_USERNAME, BEARER_PASSWORD).expect("the generated client");
    let raw = RawBearer {
        http: crate::raw::http(),
        base: server.url().to_owned(),
        auth: crate::raw::bearer_header("unused"),
    };
    let ours = std::mem::size_of_val(&client.get_user(1));
    let theirs = std::mem::size_of_val(&raw.get_user(1));

    let mut calls = Vec::with_capacity(n);
    crate::alloc::count(true);
    let (l0, a0) = (live_bytes(), allocations());
    for i in 0..n {
        let c = client.clone();
        calls.push(tokio::spawn(async move { c.get_user(i as u64).await }));
    }
    let (l1, a1) = (live_bytes(), allocations());
    // Nothing has run yet (current thread); now every call runs to its park.
    let parked_by = Instant::now();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (l2, a2) = (live_bytes(), allocations());
    crate::alloc::count(false);
    let parked_in = parked_by.elapsed();
    let mid = server.counts().await;
    let all_parked = mid.requests == 0 && calls.iter().all(|c| !c.is_finished());

    let mut failed = 0;
    for c in calls {
        if !matches!(c.await, Ok(Ok(_))) {
            failed += 1;
        }
    }
    let end = server.counts().await;

    let per = |bytes: i64| bytes as f64 / n as f64;
    report.value(
        "P6",
        format!("{n} parked waiters: bytes per waiter for parking (request parts, channel, queue slot)"),
        per(l2 - l1),
        Target::AtMost(1024.0),
        " B",
    );
    report.text(
        "P6",
        "bytes per waiter incl. its spawned task (the call's future); allocations per waiter",
        format!("{:.0} B; {:.1}", per(l2 - l0), (a2 - a0) as f64 / n as f64),
        "",
    );
    report.text(
        "P6",
        "size of one call's future, bytes (`get_user`)",
        ours.to_string(),
        theirs.to_string(),
    );
    report.fact(
        format!(
            "P6: all {n} calls parked during the slow login (nothing sent, none finished; {} allocations at spawn)",
            a1 - a0
        ),
        all_parked && parked_in < Duration::from_millis(slow),
    );
    report.fact(
        format!("P6: exactly 1 login for {n} waiters ({} logins)", end.sessions()),
        end.sessions() == 1 && client.client().stats().full_logins == 1,
    );
    report.fact(format!("P6: 0 failed calls ({failed} failed)"), failed == 0);
}
