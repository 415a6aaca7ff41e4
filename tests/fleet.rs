//! One session shared by a fleet of OS processes through a real Redis
//! (`RedisStore`), against the testkit, asserting what the API server
//! counted: docs/protocol.md's invariants across processes.
//!
//! Every process here is this test binary started again as a child
//! (`fleet_process`, ignored in a normal run), given its job in the
//! `SEAMLESS_FLEET_JOB` variable; it prints one `FLEET-REPORT` line. The
//! tests run one at a time (`SERIAL`): each starts several processes, and
//! CI machines have two cores.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis::{Redis, RedisCluster};
use seamless_sdk::__private::http::Method;
use seamless_sdk::{Client, ClientBuilder, Expiry, Lifetime, LoginFlow, Placement};
use seamless_sdk_runtime::RedisStore;
use seamless_sdk_testkit::{Backend, CODE_PATH};

const JOB: &str = "SEAMLESS_FLEET_JOB";

/// The fleet tests start processes and a server each: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What one process of the fleet does.
#[derive(Clone, Debug)]
struct Job {
    backend: String,
    protocol: &'static str,
    redis: String,
    prefix: String,
    calls: u64,
    /// At most this many calls in flight at once (0: all of them).
    concurrency: u64,
    /// The first call's user id (each process gets its own range).
    first_id: u64,
    request_timeout_ms: u64,
    login_timeout_ms: u64,
    backoff_ms: u64,
    exclusive: bool,
    /// Chains per client.
    chains: u64,
    /// A Redis Cluster's nodes, `,`-separated; empty: `redis` alone.
    cluster: String,
}

impl Job {
    fn new(backend: &Backend, protocol: &'static str, redis: &Redis, prefix: &str) -> Job {
        Job {
            backend: backend.url(),
            protocol,
            redis: redis.url.clone(),
            prefix: prefix.to_owned(),
            calls: 1,
            concurrency: 0,
            first_id: 1,
            request_timeout_ms: 10_000,
            login_timeout_ms: 10_000,
            backoff_ms: 500,
            exclusive: false,
            chains: 1,
            cluster: String::new(),
        }
    }

    fn encode(&self) -> String {
        format!(
            "backend={};protocol={};redis={};prefix={};calls={};concurrency={};first_id={};request_timeout_ms={};login_timeout_ms={};backoff_ms={};exclusive={};chains={};cluster={}",
            self.backend,
            self.protocol,
            self.redis,
            self.prefix,
            self.calls,
            self.concurrency,
            self.first_id,
            self.request_timeout_ms,
            self.login_timeout_ms,
            self.backoff_ms,
            self.exclusive,
            self.chains,
            self.cluster
        )
    }

    fn decode(text: &str) -> Job {
        let map: BTreeMap<&str, &str> = text.split(';').filter_map(|kv| kv.split_once('=')).collect();
        let num = |k: &str| map[k].parse::<u64>().expect(k);
        Job {
            backend: map["backend"].to_owned(),
            protocol: match map["protocol"] {
                "seed" => "seed",
                "query" => "query",
                _ => "bearer",
            },
            redis: map["redis"].to_owned(),
            prefix: map["prefix"].to_owned(),
            calls: num("calls"),
            concurrency: num("concurrency"),
            first_id: num("first_id"),
            request_timeout_ms: num("request_timeout_ms"),
            login_timeout_ms: num("login_timeout_ms"),
            backoff_ms: num("backoff_ms"),
            exclusive: map["exclusive"] == "true",
            chains: num("chains"),
            cluster: map["cluster"].to_owned(),
        }
    }

    /// The client every process of the job builds: the protocol's usual
    /// configuration, on the shared store.
    fn client(&self) -> Client {
        let store = if self.cluster.is_empty() {
            RedisStore::open(&self.redis)
        } else {
            RedisStore::cluster(self.cluster.split(','))
        };
        let store = store
            .unwrap()
            .prefix(self.prefix.clone())
            .encryption_key([42; 32]);
        let builder: ClientBuilder = match self.protocol {
            "seed" => {
                let code_url = format!("{}{CODE_PATH}", self.backend);
                let http = seamless_sdk::__private::reqwest::Client::new();
                Client::builder(self.backend.clone())
                    .placement(Placement::header("B-T"))
                    .lifetime(Lifetime::single_use("B-T"))
                    .expiry(Expiry::body_field("code", [408]))
                    .envelope(seamless_sdk::Envelope::code_data_msg())
                    .login(
                        LoginFlow::new(Method::POST, "/v1/api/imiMini/login")
                            .code("code", move || {
                                // The platform (`wx.login`) hands this process a code.
                                let (http, url) = (http.clone(), code_url.clone());
                                async move {
                                    let reply: serde_json::Value =
                                        http.post(url).send().await?.json().await?;
                                    Ok::<_, seamless_sdk::__private::reqwest::Error>(
                                        reply["code"].as_str().unwrap_or_default().to_owned(),
                                    )
                                }
                            })
                            .token_from_header("B-T"),
                    )
            }
            "query" => common::query_at(&self.backend),
            _ => common::bearer_at(&self.backend),
        };
        builder
            .shared_store(store)
            .exclusive_session(self.exclusive)
            .chains(self.chains as usize)
            .request_timeout(Some(Duration::from_millis(self.request_timeout_ms)))
            .login_timeout(Duration::from_millis(self.login_timeout_ms))
            .login_backoff(
                Duration::from_millis(self.backoff_ms),
                Duration::from_millis(self.backoff_ms.max(1) * 4),
            )
            .build()
            .expect("the fleet client builds")
    }
}

/// What one process reports.
#[derive(Debug, Default, serde::Deserialize)]
struct Report {
    ok: u64,
    store: u64,
    login: u64,
    other: u64,
    wrong_user: u64,
    /// The first few errors' messages, for assertion messages.
    #[allow(dead_code, reason = "read through Debug in assertion messages")]
    errors: Vec<String>,
}

/// One process of a fleet: runs its job when started by a test of this file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a process of a fleet; the other tests of this file start it"]
async fn fleet_process() {
    let Ok(job) = std::env::var(JOB) else { return };
    let job = Job::decode(&job);
    let client = Arc::new(job.client());
    let slots = match job.concurrency {
        0 => job.calls,
        n => n,
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(slots as usize));
    let calls: Vec<_> = (job.first_id..job.first_id + job.calls)
        .map(|id| {
            let (client, slots) = (Arc::clone(&client), Arc::clone(&slots));
            tokio::spawn(async move {
                let _slot = slots.acquire().await.expect("never closed");
                (id, common::user(&client, id).await)
            })
        })
        .collect();
    let mut report =
        serde_json::json!({"ok": 0, "store": 0, "login": 0, "other": 0, "wrong_user": 0, "errors": []});
    for call in calls {
        let (id, got) = call.await.expect("a call task");
        let bucket = match &got {
            Ok(user) if user.id == id => "ok",
            Ok(_) => "wrong_user",
            Err(e) if e.is_store() => "store",
            Err(e) if e.is_login() => "login",
            Err(_) => "other",
        };
        report[bucket] = (report[bucket].as_u64().unwrap() + 1).into();
        if let Err(e) = got
            && report["errors"].as_array().unwrap().len() < 3
        {
            report["errors"]
                .as_array_mut()
                .unwrap()
                .push(e.to_string().into());
        }
    }
    // On a line of its own: libtest has already printed the test's name.
    println!("\nFLEET-REPORT {report}");
}

/// Starts one process of the fleet.
fn start(job: &Job) -> Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "fleet_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(JOB, job.encode())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("a fleet process starts")
}

/// Starts `processes` processes of `job`, each making `calls` calls with
/// ids of its own from `first_id` on.
fn start_fleet(job: &Job, processes: u64, calls: u64, first_id: u64) -> Vec<Child> {
    (0..processes)
        .map(|p| {
            start(&Job {
                calls,
                first_id: first_id + p * calls,
                ..job.clone()
            })
        })
        .collect()
}

/// Waits for every process and checks that each call of each succeeded.
async fn all_succeed(children: Vec<Child>, calls: u64) {
    for child in children {
        let r = finish(child, 120).await;
        assert_eq!(r.ok, calls, "every call of every process succeeds: {r:?}");
    }
}

/// Starts two more processes of `job` (20 calls each), lets them park
/// behind `victim`, kills it (SIGKILL), runs `then`, and checks that the
/// others all succeed within 8 s of the kill: the dead process's lock (its
/// timeout plus a second), a poll, and one login.
async fn kill_while_others_wait(job: &Job, mut victim: Child, then: impl FnOnce()) {
    let others = start_fleet(job, 2, 20, 100);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = Instant::now();
    victim.kill().expect("SIGKILL");
    let _ = victim.wait();
    then();
    all_succeed(others, 20).await;
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "the others took {took:?} after the kill"
    );
}

/// Waits for a process (off the runtime's threads) and reads its report.
async fn finish(child: Child, within_secs: u64) -> Report {
    let out = common::within(
        within_secs,
        "a fleet process",
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .expect("join")
    .expect("the process's output");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("FLEET-REPORT "))
        .unwrap_or_else(|| panic!("a fleet process ended without a report ({}): {text}", out.status));
    serde_json::from_str(line).expect("a report")
}

fn prefix(test: &str) -> String {
    format!("fleet-test:{test}:{}", std::process::id())
}

/// Warms the shared session up from this process (one login), then has
/// `processes` processes fire `calls` calls each at once and expires every
/// token in the middle: one login on the server, no token presented twice,
/// every call succeeds.
async fn storm(protocol: &'static str, test: &str) {
    let _serial = SERIAL.lock().await;
    let Some(redis) = Redis::shared(test) else { return };
    let backend = common::start(protocol).await;
    let job = Job::new(&backend, protocol, &redis, &prefix(test));
    let here = job.client();
    common::user(&here, 0).await.expect("warm-up call");
    backend.reset_counters();

    const PROCESSES: u64 = 4;
    const CALLS: u64 = 250;
    let children: Vec<_> = start_fleet(&job, PROCESSES, CALLS, 1);
    common::wait_until(60, "the storm reaching its middle", || {
        backend.counters().requests >= PROCESSES * CALLS / 2
    })
    .await;
    backend.expire_all();
    let mut ok = 0;
    for child in children {
        let r = finish(child, 120).await;
        assert_eq!(r.ok, CALLS, "every call of every process succeeds: {r:?}");
        ok += r.ok;
    }
    let c = backend.counters();
    assert_eq!(ok, PROCESSES * CALLS);
    assert!(c.expired_replies >= 1, "the expiry never hit a request: {c:?}");
    assert_eq!(c.logins + c.refreshes, 1, "one login for the whole fleet: {c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
    if protocol == "seed" {
        assert_eq!(
            c.max_concurrent_holders, 1,
            "one request at a time fleet-wide: {c:?}"
        );
    }
    // A process that joins now finds the session: no login.
    backend.reset_counters();
    common::user(&job.client(), 7)
        .await
        .expect("a new process's call");
    assert_eq!(backend.counters().logins + backend.counters().refreshes, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_storm_single_use_4_processes_one_login_no_reuse() {
    storm("seed", "storm-seed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_storm_reusable_4_processes_one_login_no_reuse() {
    storm("bearer", "storm-bearer").await;
}

/// A WeChat-style API that keeps one session (each login revokes every
/// token before it): four processes, three expiries, as many logins as
/// expiries and no call fails. With a login per process they would revoke
/// each other's tokens in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_exclusive_session_logins_equal_expiries() {
    let _serial = SERIAL.lock().await;
    let Some(redis) = Redis::shared("exclusive") else {
        return;
    };
    let backend = common::start("query").await;
    backend.exclusive_session(true);
    let job = Job {
        exclusive: true,
        ..Job::new(&backend, "query", &redis, &prefix("exclusive"))
    };
    let here = job.client();
    common::user(&here, 0).await.expect("warm-up call");
    backend.reset_counters();
    const PROCESSES: u64 = 4;
    const CALLS: u64 = 400;
    // A few calls at a time, so each call meets at most one expiry.
    let children: Vec<_> = start_fleet(
        &Job {
            concurrency: 4,
            ..job.clone()
        },
        PROCESSES,
        CALLS,
        1,
    );
    const EXPIRIES: u64 = 3;
    for e in 1..=EXPIRIES {
        let before = backend.counters().requests;
        common::wait_until(60, "the storm's next expiry point", || {
            backend.counters().requests >= before + 200
        })
        .await;
        backend.expire_all();
        common::wait_until(30, "the renewal", || backend.counters().logins >= e).await;
    }
    all_succeed(children, CALLS).await;
    let c = backend.counters();
    assert_eq!(c.logins, EXPIRIES, "logins equal expiries: {c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
}

/// The process leading the login is killed (SIGKILL) mid-login: the others
/// take over once its lock expires and finish within the lock's life plus
/// one login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_kill_9_of_the_login_leader_strands_nobody() {
    let _serial = SERIAL.lock().await;
    let Some(redis) = Redis::shared("kill-leader") else {
        return;
    };
    let backend = common::start("seed").await;
    let job = Job {
        login_timeout_ms: 2_000,
        request_timeout_ms: 2_000,
        ..Job::new(&backend, "seed", &redis, &prefix("kill-leader"))
    };
    backend.delay_logins(Duration::from_secs(30));
    let leader = start(&job);
    common::wait_until(30, "the leader's login reaching the server", || {
        backend.counters().logins >= 1
    })
    .await;
    // The lock lives the login timeout plus a second; then one poll and one login.
    kill_while_others_wait(&job, leader, || backend.delay_logins(Duration::ZERO)).await;
    let c = backend.counters();
    assert_eq!(c.logins, 2, "the dead leader's login and one more: {c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
}

/// The process holding the single-use token is killed while its request
/// hangs at the server: its lease expires, the token counts as spent (it
/// is never sent again) and the others log in once and finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_kill_9_of_the_lease_holder_spends_its_token() {
    let _serial = SERIAL.lock().await;
    let Some(redis) = Redis::shared("kill-holder") else {
        return;
    };
    let backend = common::start("seed").await;
    let job = Job {
        request_timeout_ms: 2_000,
        ..Job::new(&backend, "seed", &redis, &prefix("kill-holder"))
    };
    let here = job.client();
    common::user(&here, 0).await.expect("warm-up call");
    backend.reset_counters();
    backend.stall_next(1);
    let holder = start(&job);
    common::wait_until(30, "the holder's request reaching the server", || {
        backend.counters().requests >= 1
    })
    .await;
    kill_while_others_wait(&job, holder, || ()).await;
    let c = backend.counters();
    assert_eq!(c.logins, 1, "the spent token's chain logs in once: {c:?}");
    assert_eq!(
        c.token_reuse, 0,
        "the dead holder's token is never sent again: {c:?}"
    );
    assert_eq!(c.max_concurrent_holders, 1, "{c:?}");
}

/// A login failure reaches every parked caller in every process, and the
/// shared cool-down keeps the fleet from trying again at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_login_failure_reaches_every_process() {
    let _serial = SERIAL.lock().await;
    let Some(redis) = Redis::shared("login-failure") else {
        return;
    };
    let backend = common::start("seed").await;
    let job = Job {
        backoff_ms: 10_000,
        ..Job::new(&backend, "seed", &redis, &prefix("login-failure"))
    };
    backend.delay_logins(Duration::from_millis(1500));
    backend.fail_next_logins(1);
    let children: Vec<_> = start_fleet(&job, 3, 30, 1);
    for child in children {
        let r = finish(child, 60).await;
        assert_eq!(r.login, 30, "every call gets the login's error: {r:?}");
    }
    let c = backend.counters();
    assert_eq!(
        c.logins, 1,
        "one login, and no second one during the cool-down: {c:?}"
    );
}

/// Redis is killed in the middle of a storm and started again, empty:
/// every call ends (with its value or a typed store error), calls succeed
/// once it is back, and no token is ever sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_redis_restart_mid_storm_every_call_ends_no_reuse() {
    let _serial = SERIAL.lock().await;
    let Some(mut redis) = Redis::private("redis-restart") else {
        return;
    };
    let backend = common::start("seed").await;
    let job = Job {
        request_timeout_ms: 2_000,
        ..Job::new(&backend, "seed", &redis, &prefix("redis-restart"))
    };
    let here = job.client();
    common::user(&here, 0).await.expect("warm-up call");
    backend.delay_responses(Duration::from_millis(2));
    let children: Vec<_> = start_fleet(&job, 3, 150, 1);
    common::wait_until(60, "the storm under way", || backend.counters().requests >= 50).await;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(700)).await;
    redis.restart();
    let mut ended = 0;
    let mut failed = 0;
    for child in children {
        let r = finish(child, 120).await;
        assert_eq!(
            r.other + r.wrong_user,
            0,
            "only typed store (or login) errors: {r:?}"
        );
        ended += r.ok + r.store + r.login;
        failed += r.store + r.login;
    }
    assert_eq!(ended, 450, "every call ends");
    assert!(failed > 0, "the outage failed no call: was Redis really down?");
    backend.delay_responses(Duration::ZERO);
    let after = job.client();
    for id in 1..=5 {
        common::user(&after, id)
            .await
            .expect("calls succeed once Redis is back");
    }
    let c = backend.counters();
    assert_eq!(c.token_reuse, 0, "{c:?}");
    assert_eq!(c.max_concurrent_holders, 1, "{c:?}");
}

/// Redis unreachable: a call ends with a typed store error within the
/// store's timeout, and no login is made behind the fleet's back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_redis_unreachable_is_a_store_error_without_a_private_login() {
    let backend = common::start("seed").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = RedisStore::open(&format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .timeout(Duration::from_millis(500));
    let client = common::seed(&backend).shared_store(store).build().unwrap();
    let began = Instant::now();
    let e = common::within(10, "a call with Redis down", common::user(&client, 1))
        .await
        .expect_err("no store, no call");
    assert!(e.is_store(), "{e}");
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "took {:?}",
        began.elapsed()
    );
    assert_eq!(backend.counters().logins, 0, "no private login");
    assert_eq!(backend.counters().requests, 0);
}

/// Redis frozen (SIGSTOP) mid-session: calls end with a typed store error
/// within the store's timeout, parked callers too, and nothing hangs; once
/// it thaws, calls succeed with no login of their own in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_redis_frozen_is_a_store_error_within_the_timeout() {
    let _serial = SERIAL.lock().await;
    let Some(redis) = Redis::private("redis-frozen") else {
        return;
    };
    let backend = common::start("seed").await;
    let store = RedisStore::open(&redis.url)
        .unwrap()
        .prefix(prefix("frozen"))
        .timeout(Duration::from_millis(500));
    let client = common::seed(&backend).shared_store(store).build().unwrap();
    common::user(&client, 0).await.expect("a call before the freeze");
    redis.pause();
    let began = Instant::now();
    let calls: Vec<_> = (1..=20)
        .map(|id| {
            let client = client.clone();
            tokio::spawn(async move { common::user(&client, id).await })
        })
        .collect();
    for call in calls {
        let e = common::within(10, "a call while Redis is frozen", call)
            .await
            .unwrap()
            .expect_err("no store, no call");
        assert!(e.is_store(), "{e}");
    }
    let took = began.elapsed();
    redis.resume();
    // Each call waits for at most a read and a write behind the ones before.
    assert!(took < Duration::from_secs(5), "the calls took {took:?}");
    for id in 21..=25 {
        common::user(&client, id)
            .await
            .expect("calls succeed after the thaw");
    }
    let c = backend.counters();
    assert_eq!(c.logins, 1, "no login while the store was away: {c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
}

/// A parked caller in one member wakes when another member passes the
/// single-use token on: by the announcement, not by the fallback poll
/// (set to a minute here, so a lost or unreadable announcement hangs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_waiters_wake_on_announcements_not_on_the_fallback_poll() {
    let _serial = SERIAL.lock().await;
    let Some(redis) = Redis::shared("announcements") else {
        return;
    };
    let backend = common::start("seed").await;
    let member = || {
        let store = RedisStore::open(&redis.url)
            .unwrap()
            .prefix(prefix("announcements"))
            .fallback_poll(Duration::from_secs(60));
        common::seed(&backend).shared_store(store).build().unwrap()
    };
    let (a, b) = (member(), member());
    common::user(&a, 0).await.expect("warm-up");
    let calls: Vec<_> = (1..=50)
        .map(|id| {
            let client = if id % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { common::user(&client, id).await })
        })
        .collect();
    for call in calls {
        common::within(15, "a call handed the token by the other member", call)
            .await
            .unwrap()
            .expect("call");
    }
    let c = backend.counters();
    assert_eq!((c.logins, c.token_reuse), (1, 0), "{c:?}");
}

/// Random schedules across processes, in the style of tests/schedules.rs:
/// per case, a protocol, 2–3 processes with 5–60 calls each started at
/// random moments, and random expiries, slow replies and a failed login
/// meanwhile. After each case: no token presented twice, one request at a
/// time for single-use, every call ended with its value or an error the
/// armed faults explain, and logins bounded by the disruptions (never by
/// the number of calls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_random_schedules_keep_the_invariants() {
    let _serial = SERIAL.lock().await;
    let Some(redis) = Redis::shared("schedules") else {
        return;
    };
    let cases: u64 = std::env::var("SEAMLESS_FLEET_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    for case in 0..cases {
        let mut rng = common::Rng(0x9E37_79B9_7F4A_7C15 ^ (case + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let protocol = if rng.below(3) == 0 { "bearer" } else { "seed" };
        let backend = common::start(protocol).await;
        let job = Job {
            backoff_ms: 0,
            ..Job::new(&backend, protocol, &redis, &prefix(&format!("schedules-{case}")))
        };
        let failed_login = rng.below(3) == 0;
        if failed_login {
            backend.fail_next_logins(1);
        }
        if rng.below(2) == 0 {
            backend.delay_responses(Duration::from_millis(rng.below(3)));
        }
        let processes = 2 + rng.below(2);
        let mut children = Vec::new();
        let mut calls = 0;
        let mut expiries = 0;
        for p in 0..processes {
            let n = 5 + rng.below(56);
            calls += n;
            children.push(start(&Job {
                calls: n,
                first_id: 1 + p * 100,
                ..job.clone()
            }));
            tokio::time::sleep(Duration::from_millis(rng.below(150))).await;
            if rng.below(2) == 0 {
                backend.expire_all();
                expiries += 1;
            }
        }
        let mut ended = 0;
        for child in children {
            let r = finish(child, 60).await;
            assert_eq!(
                r.other + r.wrong_user + r.store,
                0,
                "case {case}: unexplained errors: {r:?}"
            );
            if !failed_login {
                assert_eq!(
                    r.login, 0,
                    "case {case}: a login error with no failed login armed: {r:?}"
                );
            }
            ended += r.ok + r.login;
        }
        let c = backend.counters();
        assert_eq!(ended, calls, "case {case}: every call ends");
        assert_eq!(c.token_reuse, 0, "case {case}: {c:?}");
        if protocol == "seed" {
            assert!(c.max_concurrent_holders <= 1, "case {case}: {c:?}");
        }
        let bound = 1 + expiries + u64::from(failed_login);
        assert!(
            c.logins + c.refreshes <= bound,
            "case {case}: {} logins for {expiries} expiries and {} failed logins: {c:?}",
            c.logins + c.refreshes,
            u64::from(failed_login)
        );
    }
}

/// The typed clients: one from the YAML spec (the code `seamless generate`
/// writes) and one from an annotated trait, on the same shared store, as
/// two members of a fleet: one login for both, no token sent twice.
mod typed {
    /// From `specs/imi_mini.yaml`, which also generates `User`.
    #[seamless_sdk::token_client(spec = "specs/imi_mini.yaml")]
    pub trait FromSpec {}

    use seamless_sdk::token_client;

    #[token_client(
        name = "imi_mini",
        base_url = "https://api.example.com",
        placement = header("B-T"),
        lifetime = single_use,
        next_token_header = "B-T",
        expiry(body(path = "code", in = [408])),
        envelope(code = "code", success = [200], data = "data", message = "msg"),
        login(method = "POST", path = "/v1/api/imiMini/login", encoding = "json", code = "code", token_header = "B-T"),
    )]
    pub trait FromTrait {
        #[get("/api/users/{id}")]
        async fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_generated_and_macro_clients_share_one_session() {
    let _serial = SERIAL.lock().await;
    let Some(redis) = Redis::shared("typed") else {
        return;
    };
    let backend = common::start("seed").await;
    let store = || RedisStore::open(&redis.url).unwrap().prefix(prefix("typed"));
    let codes = backend.seed_code_provider();
    let code = move || {
        let code = codes();
        async move { Ok::<_, std::convert::Infallible>(code) }
    };
    let spec = typed::FromSpec::from_client(
        typed::FromSpec::builder(backend.url(), code.clone())
            .shared_store(store())
            .build()
            .unwrap(),
    );
    let from_trait = typed::FromTrait::from_client(
        typed::FromTrait::builder(backend.url(), code)
            .shared_store(store())
            .build()
            .unwrap(),
    );
    for id in 1..=5 {
        assert_eq!(spec.get_user(id).await.unwrap().id, id);
        assert_eq!(from_trait.get_user(100 + id).await.unwrap().id, 100 + id);
    }
    let c = backend.counters();
    assert_eq!((c.logins, c.token_reuse, c.requests), (1, 0, 10), "{c:?}");
}

/// Tokens at rest are secrets: with a key they are sealed in Redis; without
/// one they are the only secret-bearing field, and the key's TTL follows
/// the token's lifetime. No log line at any level carries a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_tokens_at_rest_are_sealed_ttl_bound_and_never_logged() {
    let _serial = SERIAL.lock().await;
    let Some(redis) = Redis::shared("at-rest") else {
        return;
    };
    let log = common::LogBuffer::default();
    let _ = tracing::subscriber::set_global_default(log.subscriber());
    // WeChat style: a 7200 s `expires_in`, no refresh token.
    let backend = common::start("query").await;
    let plain_prefix = prefix("at-rest-plain");
    let sealed_prefix = prefix("at-rest-sealed");
    let plain = common::query(&backend)
        .shared_store(RedisStore::open(&redis.url).unwrap().prefix(plain_prefix.clone()))
        .build()
        .unwrap();
    let sealed = common::query(&backend)
        .shared_store(
            RedisStore::open(&redis.url)
                .unwrap()
                .prefix(sealed_prefix.clone())
                .encryption_key([7; 32]),
        )
        .build()
        .unwrap();
    for id in 1..=3 {
        common::user(&plain, id).await.unwrap();
        common::user(&sealed, id).await.unwrap();
    }
    let mut con = redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let blob = |prefix: &str| -> redis::Cmd {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(format!("{{{prefix}:0}}:state")).arg("s");
        cmd
    };
    let plain_blob: Vec<u8> = blob(&plain_prefix).query_async(&mut con).await.unwrap();
    let record: serde_json::Value = serde_json::from_slice(&plain_blob).expect("a plain record is JSON");
    let token = record["t"].as_str().expect("the ready token").to_owned();
    let sealed_blob: Vec<u8> = blob(&sealed_prefix).query_async(&mut con).await.unwrap();
    assert_eq!(sealed_blob.first(), Some(&1), "a sealed record is not JSON");
    assert!(serde_json::from_slice::<serde_json::Value>(&sealed_blob).is_err());
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{{{plain_prefix}:0}}:state"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(
        (7_000_000..=7_260_000).contains(&ttl),
        "the record lives as long as its 7200 s token (plus a minute): {ttl} ms"
    );
    let logs = log.text();
    assert!(logs.contains("seamless"), "the capture saw the runtime's events");
    assert!(!logs.contains(&token), "a token reached the logs");
}

/// The same fleet on a Redis Cluster of three masters: each chain's keys
/// share a hash tag, so each chain's scripts run on the node owning its
/// slot. Three chains, three processes: at most one login per chain, no
/// token sent twice, one request at a time per chain, every call succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_on_a_redis_cluster_one_login_per_chain_no_reuse() {
    let _serial = SERIAL.lock().await;
    let Some(cluster) = RedisCluster::private("cluster") else {
        return;
    };
    let backend = common::start("seed").await;
    let job = Job {
        chains: 3,
        cluster: cluster.nodes.join(","),
        ..Job {
            redis: cluster.nodes[0].clone(),
            ..Job::new(&backend, "seed", &Redis::none(), &prefix("cluster"))
        }
    };
    const CALLS: u64 = 60;
    let children: Vec<_> = start_fleet(&job, 3, CALLS, 1);
    all_succeed(children, CALLS).await;
    let c = backend.counters();
    assert!((1..=3).contains(&c.logins), "at most one login per chain: {c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
    assert_eq!(c.max_concurrent_holders, 1, "{c:?}");
    assert!(
        c.max_concurrent_requests <= 3,
        "one request per chain at a time: {c:?}"
    );
}

/// Whatever Redis holds under the prefix (written by hand, by an older
/// version, by someone without the key), a call gets a typed store error,
/// never a panic, a hang or a login behind the fleet's back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_corrupt_state_in_redis_is_a_store_error() {
    let _serial = SERIAL.lock().await;
    let Some(redis) = Redis::shared("corrupt") else {
        return;
    };
    let backend = common::start("seed").await;
    let mut con = redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let cases: [(&str, &[u8]); 5] = [
        ("1", b"not json"),
        ("1", b"{\"g\": \"seven\"}"),
        ("x", b"{\"g\": 1}"),
        ("1", b"\x01short"),
        ("1", &[0xff; 64]),
    ];
    for (i, (version, state)) in cases.iter().enumerate() {
        let prefix = prefix(&format!("corrupt-{i}"));
        let _: () = redis::cmd("HSET")
            .arg(format!("{{{prefix}:0}}:state"))
            .arg("v")
            .arg(*version)
            .arg("s")
            .arg(*state)
            .query_async(&mut con)
            .await
            .unwrap();
        let store = RedisStore::open(&redis.url).unwrap().prefix(prefix);
        let client = common::seed(&backend).shared_store(store).build().unwrap();
        let e = common::within(10, "a call on a corrupt state", common::user(&client, 1))
            .await
            .expect_err("a state nobody can read serves no call");
        assert!(e.is_store(), "case {i}: {e}");
    }
    // Sealed state read without the key, and plain state read with one.
    let sealed = prefix("corrupt-sealed");
    let with_key = |prefix: &str| {
        RedisStore::open(&redis.url)
            .unwrap()
            .prefix(prefix.to_owned())
            .encryption_key([1; 32])
    };
    let writer = common::seed(&backend)
        .shared_store(with_key(&sealed))
        .build()
        .unwrap();
    common::user(&writer, 1).await.expect("a sealed session");
    let keyless = RedisStore::open(&redis.url).unwrap().prefix(sealed.clone());
    let reader = common::seed(&backend).shared_store(keyless).build().unwrap();
    let e = common::user(&reader, 2).await.expect_err("sealed, and no key");
    assert!(e.is_store() && e.to_string().contains("encrypted"), "{e}");
    let plain = prefix("corrupt-plain");
    let writer = common::seed(&backend)
        .shared_store(RedisStore::open(&redis.url).unwrap().prefix(plain.clone()))
        .build()
        .unwrap();
    common::user(&writer, 1).await.expect("a plain session");
    let reader = common::seed(&backend)
        .shared_store(with_key(&plain))
        .build()
        .unwrap();
    let e = common::user(&reader, 2).await.expect_err("plain, and a key");
    assert!(e.is_store() && e.to_string().contains("not encrypted"), "{e}");
    assert_eq!(backend.counters().logins, 2, "only the two writers logged in");
}
