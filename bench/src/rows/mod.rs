//! The rows of the table, in the order the issue lists them.

mod bearer;
mod cache;
mod shared_store;
mod single_use;
mod storm;
mod waiters;

use std::future::Future;
use std::sync::Arc;

use crate::measure::{Side, timed};
use crate::report::Report;
use crate::server::Server;
use crate::{Options, generator};

/// How much work each row does.
pub(crate) struct Sizes {
    pub warmup: usize,
    pub rounds: usize,
    pub p1_calls: u64,
    pub p2_callers: usize,
    pub p2_calls_per_caller: usize,
    pub p3_calls: usize,
    pub p3_rounds: usize,
    pub p4_calls: usize,
    pub p4_latency_calls: usize,
    pub p5_endpoints: usize,
    pub p5_runs: usize,
    pub p5_check: bool,
    pub p6_waiters: usize,
    pub p7_sequential: usize,
    pub p7_calls_per_caller: usize,
    /// Calls per process on the shared single-use chain.
    pub p7_chain_calls: usize,
    pub p7_latency_calls: usize,
    pub p7_storm_calls: usize,
    /// Rounds of P7's rows with worker processes.
    pub p7_rounds: usize,
    /// Network calls per side and round in P8's sequential cache row (P8b
    /// uses `p1_calls`).
    pub p8_calls: u64,
    /// Cache hits per round there.
    pub p8_hits: u64,
    pub p8_callers: usize,
    pub p8_calls_per_caller: usize,
    pub p8_hits_per_caller: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                warmup: 0,
                rounds: 2,
                p1_calls: 20,
                p2_callers: 64,
                p2_calls_per_caller: 2,
                p3_calls: 200,
                p3_rounds: 1,
                p4_calls: 16,
                p4_latency_calls: 8,
                p5_endpoints: 50,
                p5_runs: 1,
                p5_check: false,
                p6_waiters: 200,
                p7_sequential: 20,
                p7_calls_per_caller: 2,
                p7_chain_calls: 10,
                p7_latency_calls: 4,
                p7_storm_calls: 200,
                p7_rounds: 1,
                p8_calls: 20,
                p8_hits: 200,
                p8_callers: 64,
                p8_calls_per_caller: 2,
                p8_hits_per_caller: 4,
            }
        } else {
            Sizes {
                warmup: 2,
                rounds: 15,
                p1_calls: 2000,
                p2_callers: 64,
                p2_calls_per_caller: 150,
                p3_calls: 10_000,
                p3_rounds: 7,
                p4_calls: 1000,
                p4_latency_calls: 200,
                p5_endpoints: 1000,
                p5_runs: 7,
                p5_check: true,
                p6_waiters: 10_000,
                p7_sequential: 2000,
                p7_calls_per_caller: 150,
                p7_chain_calls: 500,
                p7_latency_calls: 100,
                p7_storm_calls: 10_000,
                p7_rounds: 5,
                p8_calls: 2000,
                p8_hits: 100_000,
                p8_callers: 64,
                p8_calls_per_caller: 150,
                p8_hits_per_caller: 1000,
            }
        }
    }
}

pub(crate) fn run(o: &Options, report: &mut Report) {
    let sizes = Sizes::new(o.quick);
    let wants_net = ["P1", "P2", "P3", "P4", "P8"].iter().any(|r| o.wants(r));
    if wants_net {
        clients_runtime().block_on(async {
            if o.wants("P1") || o.wants("P2") {
                bearer::p1_p2(&sizes, o, report).await;
            }
            if o.wants("P3") {
                storm::p3(&sizes, report).await;
            }
            if o.wants("P4") {
                single_use::p4(&sizes, report).await;
            }
            if o.wants("P8") {
                cache::p8(&sizes, report).await;
            }
        });
    }
    if o.wants("P5") {
        generator::p5(&sizes, report);
    }
    if o.wants("P6") {
        waiters::p6(&sizes, report);
    }
    if o.wants("P7") {
        clients_runtime().block_on(shared_store::p7(&sizes, report));
    }
}

/// Two workers, as many as the machine has cores; the server child has its own two.
fn clients_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the clients' runtime")
}

/// A side whose round runs `work(client)` (returning the operations done)
/// under [`timed`].
pub(crate) fn side<C, F, Fut>(name: &'static str, server: &Arc<Server>, client: &Arc<C>, work: F) -> Side
where
    C: Send + Sync + 'static,
    F: Fn(Arc<C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    let (server, client, work) = (Arc::clone(server), Arc::clone(client), Arc::new(work));
    Side::new(name, move || {
        let (server, client, work) = (Arc::clone(&server), Arc::clone(&client), Arc::clone(&work));
        async move { timed(&server, work(client)).await }
    })
}
