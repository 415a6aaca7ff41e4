//! P7: the shared Redis store (`RedisStore`) against the in-process store,
//! same generated clients, same server, in the same run. The columns are
//! RedisStore and in-process store, and every ratio reads as throughput
//! (higher is better for the Redis side) except the storm's wall time.
//!
//! - Reusable token (Bearer): sequential and 64 concurrent callers in this
//!   process. The shared store serves the token from its local mirror, so
//!   it should cost next to nothing while nothing new is announced.
//! - One single-use chain (Seed) shared by 4 worker processes, one caller
//!   each, against one in-process chain with 4 callers: every hand-off
//!   between processes goes through Redis.
//! - A storm over 8 worker processes meeting a server-revoked token (as
//!   P3b: the session is in use, the server drops it, every call is
//!   refused and replayed): one login fleet-wide, against the same storm
//!   in one process.
//!
//! Redis is a private `redis-server` (see `redis.rs`); each row has its
//! own key prefix.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Sizes;
use crate::fleet::{Api, Fleet, Outcome, batch, shared_store};
use crate::measure::{Sample, Side, interleave, med, paired_spread, timed};
use crate::redis::Redis;
use crate::report::{Report, Target};
use crate::server::{Counts, Server};

/// Processes sharing the single-use chain, and the storm's.
const CHAIN_PROCESSES: usize = 4;
const STORM_PROCESSES: usize = 8;
const CALLERS: usize = 64;

pub(crate) async fn p7(s: &Sizes, report: &mut Report) {
    let Some(redis) = Redis::start() else {
        let why = "P7 skipped: redis-server not on PATH (install Debian's redis-server)";
        eprintln!("\n!!!!! {why} !!!!!\n");
        if std::env::var("CI").as_deref() == Ok("true") {
            report.fact("P7: redis-server on PATH (required under CI=true)", false);
        } else {
            report.note(format!("**{why}**"));
        }
        return;
    };
    let prefix = |row: &str| format!("seamless-bench:{}:{row}", std::process::id());
    reusable(s, &redis, &prefix("reusable"), report).await;
    single_use(s, &redis, &prefix("single-use"), report).await;
    storm(s, &redis, &prefix("storm"), report).await;
}

/// A side whose round runs `work`, with the CPU time of `others` (Redis,
/// the workers) counted as the client's.
fn side<C, F, Fut>(name: &'static str, server: &Arc<Server>, others: Vec<u32>, c: &Arc<C>, work: F) -> Side
where
    C: Send + Sync + 'static,
    F: Fn(Arc<C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    let (server, c, work, others) = (
        Arc::clone(server),
        Arc::clone(c),
        Arc::new(work),
        Arc::new(others),
    );
    Side::new(name, move || {
        let (server, c, work, others) = (
            Arc::clone(&server),
            Arc::clone(&c),
            Arc::clone(&work),
            Arc::clone(&others),
        );
        async move { timed_with(&server, &others, work(c)).await }
    })
}

async fn timed_with(server: &Server, others: &[u32], work: impl Future<Output = u64>) -> Sample {
    let cpu = || -> Duration { others.iter().map(|p| crate::cpu::process(Some(*p))).sum() };
    let before = cpu();
    let mut sample = timed(server, work).await;
    sample.client_cpu += cpu().saturating_sub(before);
    sample
}

/// Failures seen by a row's timed rounds, for its fact.
#[derive(Default)]
struct Tally(Mutex<Outcome>);

impl Tally {
    /// Keeps `o` and returns its successful calls, a round's operations.
    fn keep(&self, o: Outcome) -> u64 {
        let ok = o.ok;
        self.0.lock().unwrap().add(o);
        ok
    }

    fn get(&self) -> Outcome {
        self.0.lock().unwrap().clone()
    }
}

async fn reusable(s: &Sizes, redis: &Redis, prefix: &str, report: &mut Report) {
    let server = Arc::new(Server::start("bearer").await);
    let shared = Arc::new(Api::new(
        "bearer",
        server.url(),
        Some(shared_store(&redis.url, prefix)),
    ));
    let local = Arc::new(Api::new("bearer", server.url(), None));
    shared
        .get_user(0)
        .await
        .expect("the first shared-store call logs in");
    local
        .get_user(0)
        .await
        .expect("the first in-process call logs in");
    server.reset().await;
    let tally = Arc::new(Tally::default());
    let redis_pid = vec![redis.pid()];

    let n = s.p7_sequential;
    let sequential = |name, api: &Arc<Api>| {
        let tally = Arc::clone(&tally);
        side(name, &server, redis_pid.clone(), api, move |api| {
            let tally = Arc::clone(&tally);
            async move { tally.keep(batch(&api, 1, n, 1).await) }
        })
    };
    let sides = [
        sequential("redis store", &shared),
        sequential("in-process store", &local),
    ];
    let r = interleave(s.warmup, s.rounds, &sides).await;
    let (a, b) = (&r[0], &r[1]);
    let (us_a, us_b) = (med(a, Sample::us_per_op), med(b, Sample::us_per_op));
    report.compare_with(
        "P7",
        format!(
            "reusable token, sequential `get_user`, {n} calls: µs per call (RedisStore, in-process store); \
             ratio: throughput, in-process µs ÷ Redis µs"
        ),
        us_a,
        us_b,
        us_b / us_a,
        Target::AtLeast(0.9),
        Some(paired_spread(a, b, Sample::per_sec)),
    );
    report.compare(
        "P7",
        "client CPU µs per call, redis-server's included",
        med(a, Sample::client_cpu_us),
        med(b, Sample::client_cpu_us),
        Target::None,
        Some(paired_spread(a, b, Sample::client_cpu_us)),
    );

    let per = s.p7_calls_per_caller;
    let total = CALLERS * per;
    let concurrent = |name, api: &Arc<Api>| {
        let tally = Arc::clone(&tally);
        side(name, &server, redis_pid.clone(), api, move |api| {
            let tally = Arc::clone(&tally);
            async move { tally.keep(batch(&api, CALLERS, per, 1).await) }
        })
    };
    let sides = [
        concurrent("redis store", &shared),
        concurrent("in-process store", &local),
    ];
    let r = interleave(s.warmup, s.rounds, &sides).await;
    let (a, b) = (&r[0], &r[1]);
    report.compare(
        "P7",
        format!("reusable token, {CALLERS} concurrent callers, {total} calls: calls/s (RedisStore, in-process store)"),
        med(a, Sample::per_sec),
        med(b, Sample::per_sec),
        Target::AtLeast(0.9),
        Some(paired_spread(a, b, Sample::per_sec)),
    );

    let (c, o) = (server.counts().await, tally.get());
    report.fact(
        format!(
            "P7 reusable: no login, no expired reply, no failed call while timing ({} logins, {} expired, {} failed)",
            c.sessions(),
            c.expired_replies,
            o.failed + o.wrong_user
        ),
        c.sessions() == 0 && c.expired_replies == 0 && o.clean(),
    );
    if let Some(e) = o.first_error {
        eprintln!("  P7 reusable: first error: {e}");
    }
}

async fn single_use(s: &Sizes, redis: &Redis, prefix: &str, report: &mut Report) {
    let server = Arc::new(Server::start("seed").await);
    let fleet = Arc::new(Fleet::start(CHAIN_PROCESSES, "seed", server.url(), &redis.url, prefix).await);
    let local = Arc::new(Api::new("seed", server.url(), None));
    // The same shared chain driven from this one process: the Lua round
    // trips of a hand-off without any process waking another.
    let alone = Arc::new(Api::new(
        "seed",
        server.url(),
        Some(shared_store(&redis.url, prefix)),
    ));
    // The logins: one for the fleet (the other processes wait for it), one here.
    let warm = fleet.run(1, 1, 1).await;
    assert!(warm.clean(), "P7: the fleet's first calls failed: {warm:?}");
    local
        .get_user(0)
        .await
        .expect("the first in-process call logs in");
    alone.get_user(0).await.expect("a call on the fleet's chain");
    server.reset().await;

    let n = s.p7_chain_calls;
    let total = CHAIN_PROCESSES * n;
    let tally = Arc::new(Tally::default());
    let mut others = fleet.pids().to_vec();
    others.push(redis.pid());
    let fleet_others = others.clone();
    let in_one = |name, api: &Arc<Api>, others: Vec<u32>| {
        let tally = Arc::clone(&tally);
        side(name, &server, others, api, move |api| {
            let tally = Arc::clone(&tally);
            async move { tally.keep(batch(&api, CHAIN_PROCESSES, n, 1).await) }
        })
    };
    let sides = [
        {
            let tally = Arc::clone(&tally);
            side("redis store, 4 processes", &server, others, &fleet, move |f| {
                let tally = Arc::clone(&tally);
                async move { tally.keep(f.run(1, n, 1).await) }
            })
        },
        in_one("in-process store, 4 callers", &local, Vec::new()),
        in_one("redis store, 1 process, 4 callers", &alone, vec![redis.pid()]),
    ];
    let r = interleave(s.warmup.min(1), s.p7_rounds, &sides).await;
    let (a, b, c) = (&r[0], &r[1], &r[2]);
    report.compare(
        "P7",
        format!(
            "single-use token, 1 chain: {CHAIN_PROCESSES} processes × 1 caller (RedisStore) vs 1 process × \
             {CHAIN_PROCESSES} callers (in-process), {total} calls: calls/s"
        ),
        med(a, Sample::per_sec),
        med(b, Sample::per_sec),
        Target::AtLeast(0.8),
        Some(paired_spread(a, b, Sample::per_sec)),
    );
    report.compare(
        "P7",
        "client CPU µs per call (RedisStore: the 4 processes and redis-server)",
        med(a, Sample::client_cpu_us),
        med(b, Sample::client_cpu_us),
        Target::None,
        None,
    );
    report.compare(
        "P7",
        format!(
            "the same chain on RedisStore from 1 process × {CHAIN_PROCESSES} callers (no cross-process \
             wake-up): calls/s"
        ),
        med(c, Sample::per_sec),
        med(b, Sample::per_sec),
        Target::None,
        Some(paired_spread(c, b, Sample::per_sec)),
    );

    // The same two sides with 1 ms of API latency, as a real API adds:
    // what the Redis round trips cost next to a network call.
    server.delay_responses(Duration::from_millis(1)).await;
    let n = s.p7_latency_calls;
    let total = CHAIN_PROCESSES * n;
    let sides = [
        {
            let tally = Arc::clone(&tally);
            side(
                "redis store, 4 processes, +1 ms",
                &server,
                fleet_others,
                &fleet,
                move |f| {
                    let tally = Arc::clone(&tally);
                    async move { tally.keep(f.run(1, n, 1).await) }
                },
            )
        },
        in_one("in-process store, 4 callers, +1 ms", &local, Vec::new()),
    ];
    let r = interleave(s.warmup.min(1), s.p7_rounds, &sides).await;
    server.delay_responses(Duration::ZERO).await;
    let (a, b) = (&r[0], &r[1]);
    report.compare(
        "P7",
        format!(
            "+1 ms API latency: the same chain, {CHAIN_PROCESSES} processes × 1 caller vs 1 process × \
             {CHAIN_PROCESSES} callers, {total} calls: calls/s"
        ),
        med(a, Sample::per_sec),
        med(b, Sample::per_sec),
        Target::AtLeast(0.8),
        Some(paired_spread(a, b, Sample::per_sec)),
    );

    let counts = server.counts().await;
    let o = tally.get();
    report.fact(
        format!(
            "P7 single-use: no token sent twice, at most 1 holder, no failed call ({} reused, {} max holders, \
             {} failed)",
            counts.token_reuse,
            counts.max_concurrent_holders,
            o.failed + o.wrong_user,
        ),
        counts.token_reuse == 0 && counts.max_concurrent_holders <= 1 && o.clean(),
    );
    if let Some(e) = o.first_error {
        eprintln!("  P7 single-use: first error: {e}");
    }
}

/// What one storm round saw, besides its time.
#[derive(Clone, Copy, Debug)]
struct Seen {
    logins: u64,
    failed: u64,
    requests: u64,
    reused: u64,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// One storm: the server revokes every token, then `storm` runs timed;
/// logs what the server counted around it.
async fn storm_round(
    server: &Server,
    others: &[u32],
    log: &Log,
    storm: impl Future<Output = Outcome>,
) -> Sample {
    server.expire_all().await;
    let before: Counts = server.counts().await;
    let mut got = Outcome::default();
    let sample = timed_with(server, others, async {
        got = storm.await;
        got.ok
    })
    .await;
    let after = server.counts().await;
    if let Some(e) = &got.first_error {
        eprintln!("  P7 storm: first error: {e}");
    }
    log.lock().unwrap().push(Seen {
        logins: after.sessions() - before.sessions(),
        failed: got.failed + got.wrong_user,
        requests: after.requests - before.requests,
        reused: after.token_reuse - before.token_reuse,
    });
    sample
}

async fn storm(s: &Sizes, redis: &Redis, prefix: &str, report: &mut Report) {
    // A server each: every side keeps one keep-alive connection per caller
    // open between rounds, and 2 × 10,000 is more descriptors than one
    // process may open here.
    let (fleet_server, local_server) = (
        Arc::new(Server::start("bearer").await),
        Arc::new(Server::start("bearer").await),
    );
    let fleet =
        Arc::new(Fleet::start(STORM_PROCESSES, "bearer", fleet_server.url(), &redis.url, prefix).await);
    let local = Arc::new(Api::new("bearer", local_server.url(), None));
    let warm = fleet.run(1, 1, 1).await;
    assert!(warm.clean(), "P7: the fleet's first calls failed: {warm:?}");
    local
        .get_user(0)
        .await
        .expect("the first in-process call logs in");

    let n = s.p7_storm_calls;
    let per = n / STORM_PROCESSES;
    let logs: [Log; 2] = Default::default();
    let mut others = fleet.pids().to_vec();
    others.push(redis.pid());
    let fleet_side = {
        let (server, fleet, log, others) = (Arc::clone(&fleet_server), fleet, Arc::clone(&logs[0]), others);
        Side::new("redis store, 8 processes", move || {
            let (server, fleet, log, others) = (
                Arc::clone(&server),
                Arc::clone(&fleet),
                Arc::clone(&log),
                others.clone(),
            );
            async move { storm_round(&server, &others, &log, fleet.run(per, 1, 1)).await }
        })
    };
    let local_side = {
        let (server, local, log) = (Arc::clone(&local_server), local, Arc::clone(&logs[1]));
        Side::new("in-process store", move || {
            let (server, local, log) = (Arc::clone(&server), Arc::clone(&local), Arc::clone(&log));
            async move { storm_round(&server, &[], &log, batch(&local, n, 1, 1)).await }
        })
    };
    // The warm-up round (full mode) opens the connections both sides keep.
    let r = interleave(s.warmup.min(1), s.p7_rounds, &[fleet_side, local_side]).await;
    let (a, b) = (&r[0], &r[1]);
    report.compare(
        "P7",
        format!(
            "storm: {n} calls meet a server-revoked token, {STORM_PROCESSES} processes × {per} (RedisStore) vs \
             1 process × {n} (in-process): wall ms; ratio Redis ÷ in-process"
        ),
        med(a, Sample::ms),
        med(b, Sample::ms),
        Target::None,
        Some(paired_spread(a, b, Sample::ms)),
    );
    let (fleet_seen, local_seen) = (logs[0].lock().unwrap().clone(), logs[1].lock().unwrap().clone());
    report.text(
        "P7",
        "storm: logins (server); failed calls; requests — per round",
        summary(&fleet_seen),
        summary(&local_seen),
    );
    report.fact(
        format!("P7 storm ({STORM_PROCESSES} processes, {n} calls): exactly 1 login per round"),
        fleet_seen.iter().all(|x| x.logins == 1),
    );
    report.fact(
        "P7 storm: 0 failed calls and 0 tokens reused, every round",
        fleet_seen.iter().all(|x| x.failed == 0 && x.reused == 0),
    );
    report.fact(
        "P7 storm, in-process side: 1 login and 0 failed calls per round",
        local_seen.iter().all(|x| x.logins == 1 && x.failed == 0),
    );
}

fn summary(rounds: &[Seen]) -> String {
    let mut parts: Vec<String> = rounds
        .iter()
        .map(|x| format!("{}; {}; {}", x.logins, x.failed, x.requests))
        .collect();
    parts.dedup();
    parts.join(" / ")
}
