//! Transient retries and idempotency keys against the testkit, asserting
//! what the server counted: one owner of every resend, one attempt budget.

mod common;

use std::time::Duration;

use seamless_sdk::{Request, RetryPolicy};
use seamless_sdk_testkit::StatusCode;
use serde_json::{Value, json};

fn order(id: &str) -> Request {
    Request::post("/api/orders").json(&json!({ "order_id": id }))
}

/// A `POST` with an idempotency key whose reply is lost after it executed
/// is sent again with the same key; the server executes it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_post_retried_after_a_dropped_reply_executes_once() {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend).build().unwrap();
        common::user(&client, 0).await.unwrap();
        backend.reset_counters();
        backend.abort_after_consume(1);
        let reply: Value = client
            .call(order("o-1").idempotency_key("Idempotency-Key"))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(reply["executions"], 1, "{name}: {reply}");
        let c = backend.counters();
        assert_eq!(c.requests, 2, "{name}: {c:?}");
        assert_eq!(c.executions["o-1"], 1, "{name}: executed twice: {c:?}");
        assert_eq!(c.idempotent_replays, 1, "{name}: {c:?}");
        assert_eq!(
            c.executions_by_key.values().copied().collect::<Vec<_>>(),
            [1],
            "{name}: one key"
        );
        assert_eq!(c.token_reuse, 0, "{name}: {c:?}");
    }
}

/// Without a key the same lost reply is not resent: the outcome is unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_a_key_is_not_retried_and_its_outcome_is_unknown() {
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let client = common::builder(name, &backend).build().unwrap();
        common::user(&client, 0).await.unwrap();
        backend.reset_counters();
        backend.abort_after_consume(1);
        let e = client.call::<Value>(order("o-2")).await.unwrap_err();
        assert!(e.is_outcome_unknown(), "{name}: {e:?}");
        assert_eq!(backend.counters().requests, 1, "{name}");
        backend.reset_counters();
        backend.fail_next(1, StatusCode::SERVICE_UNAVAILABLE, &[("Retry-After", "0")]);
        let e = client.call::<Value>(order("o-3")).await.unwrap_err();
        assert_eq!(e.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{name}: {e:?}");
        assert_eq!(
            backend.counters().requests,
            1,
            "{name}: a keyless POST was retried"
        );
    }
}

/// Each attempt of a keyed call carries the same key; two calls, two keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_per_call_the_same_on_every_attempt() {
    let backend = common::start("bearer").await;
    let client = common::bearer(&backend).build().unwrap();
    backend.fail_next(2, StatusCode::SERVICE_UNAVAILABLE, &[("retry-after-ms", "1")]);
    let _: Value = client
        .call(order("a").idempotency_key("Idempotency-Key"))
        .await
        .unwrap();
    let _: Value = client
        .call(order("b").idempotency_key("Idempotency-Key"))
        .await
        .unwrap();
    let c = backend.counters();
    assert_eq!(c.executions_by_key.len(), 2, "{c:?}");
    assert!(c.executions_by_key.values().all(|&n| n == 1), "{c:?}");
    assert_eq!(client.stats().transient_retries, 2);
}

/// The API's own 503 in single-use mode carries the successor: the retry
/// sends it, with no login and no token sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_use_503_hands_its_successor_to_the_chain_before_the_retry() {
    let backend = common::start("seed").await;
    let client = common::seed(&backend).build().unwrap();
    common::user(&client, 0).await.unwrap();
    backend.reset_counters();
    backend.fail_next(1, StatusCode::SERVICE_UNAVAILABLE, &[("Retry-After", "0")]);
    assert_eq!(common::user(&client, 1).await.unwrap().id, 1);
    let c = backend.counters();
    assert_eq!((c.requests, c.logins, c.token_reuse), (2, 0, 0), "{c:?}");
    assert_eq!(client.stats().lost_successors, 0);
}

/// `Retry-After: 2` makes the call wait two seconds of the runtime's clock:
/// here tokio's paused clock, which jumps to the retry's timer, so the test
/// takes no wall time and the wait is exact.
#[test]
fn retry_after_two_seconds_waits_two_seconds_of_the_runtime_clock() {
    // The server runs on a runtime of its own, whose clock is real.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let backend = server_rt.block_on(common::start("bearer"));
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        // No request timeout and no pool timer, so while the retried call
        // waits on the network the paused clock has no timer but the
        // retry's to jump to.
        let client = common::bearer(&backend)
            .request_timeout(None)
            .http_client_builder(seamless_sdk::__private::reqwest::Client::builder().pool_idle_timeout(None))
            .build()
            .unwrap();
        // The login (and its timeout's timer) on the real clock.
        common::user(&client, 0).await.unwrap();
        backend.fail_next(1, StatusCode::TOO_MANY_REQUESTS, &[("Retry-After", "2")]);
        tokio::time::pause();
        let wall = std::time::Instant::now();
        let began = tokio::time::Instant::now();
        assert_eq!(common::user(&client, 1).await.unwrap().id, 1);
        let waited = began.elapsed();
        tokio::time::resume();
        assert!(
            (Duration::from_secs(2)..Duration::from_millis(2100)).contains(&waited),
            "the runtime clock moved {waited:?}"
        );
        assert_eq!(client.stats().retry_wait_ms, 2000);
        assert!(
            wall.elapsed() < Duration::from_secs(2),
            "it slept on the wall clock"
        );
    });
    drop(backend);
}

/// A wait longer than the policy allows is not waited for: the call ends
/// with the reply's status at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_beyond_the_cap_ends_the_call_at_once() {
    let backend = common::start("bearer").await;
    let client = common::bearer(&backend)
        .retry(RetryPolicy::default().max_retry_after(Duration::from_secs(5)))
        .build()
        .unwrap();
    backend.fail_next(1, StatusCode::SERVICE_UNAVAILABLE, &[("Retry-After", "3600")]);
    let began = std::time::Instant::now();
    let e = common::user(&client, 1).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{e:?}");
    assert!(began.elapsed() < Duration::from_secs(5));
    assert_eq!(backend.counters().requests, 1);
}

/// Whatever mix of transient failures, expiries and lost replies meets a
/// call, it makes at most `max_attempts` attempts (plus the free stale
/// replays, which the client counts), and the token layer stays sound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_never_exceed_the_budget_under_random_schedules() {
    for case in 0..60u64 {
        let mut rng = common::Rng(0x2545_F491_4F6C_DD1D ^ (case + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let name = common::PROTOCOLS[rng.below(3) as usize];
        let max_attempts = 1 + rng.below(4) as u32;
        let max_replays = rng.below(3) as u32;
        let backend = common::start(name).await;
        let client = common::builder(name, &backend)
            .max_replays(max_replays)
            .retry(
                RetryPolicy::default()
                    .max_attempts(max_attempts)
                    .backoff(Duration::ZERO, Duration::from_millis(2)),
            )
            .build()
            .unwrap();
        common::user(&client, 0).await.unwrap();
        backend.reset_counters();
        let statuses = [
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::BAD_GATEWAY,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::GATEWAY_TIMEOUT,
        ];
        backend.fail_next(
            rng.below(9) as u32,
            statuses[rng.below(4) as usize],
            &[("retry-after-ms", "1")],
        );
        if rng.below(2) == 0 {
            backend.expire_all();
        }
        if rng.below(3) == 0 {
            backend.abort_after_consume(1 + rng.below(2) as u32);
        }
        let keyed = rng.below(2) == 0;
        let req = if rng.below(2) == 0 {
            common::get_user(1)
        } else if keyed {
            order("x").idempotency_key("Idempotency-Key")
        } else {
            order("x")
        };
        let got = client.call::<Value>(req).await;
        let c = backend.counters();
        let stats = client.stats();
        // Stale replays are free, and counted apart.
        let bound = u64::from(max_attempts) + stats.stale_replays;
        assert!(
            c.requests <= bound,
            "case {case} ({name}, {max_attempts} attempts, {max_replays} replays): {} requests; {got:?}; {c:?}",
            c.requests
        );
        assert!(
            stats.expiry_replays <= u64::from(max_replays),
            "case {case}: {stats:?}"
        );
        assert_eq!(c.token_reuse, 0, "case {case}: {c:?}");
        assert!(
            c.executions.values().all(|&n| n <= 1),
            "case {case}: executed twice: {c:?}"
        );
    }
}

/// `#[token_client]`'s `retry(...)`, `#[idempotency_key]` and `#[retry]`.
mod from_trait {
    use seamless_sdk::token_client;

    #[derive(Debug, serde::Serialize)]
    pub struct NewOrder {
        pub order_id: String,
    }

    #[derive(Debug, serde::Deserialize)]
    pub struct Order {
        pub executions: u64,
    }

    #[token_client(
        placement = bearer,
        expiry(status(401)),
        login(method = "POST", path = "/oauth/token", encoding = "json",
              fields(grant_type = "password", username = "u", password = "p"),
              token_json = "access_token"),
        retry(max_attempts = 4, statuses = [503], initial_backoff_ms = 1, max_backoff_ms = 5),
    )]
    pub trait Shop {
        #[post("/api/orders")]
        #[idempotency_key]
        #[retry(statuses = [429, 503])]
        async fn create_order(&self, #[body] order: &NewOrder) -> Result<Order, seamless_sdk::Error>;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trait_front_end_declares_retries_and_idempotency_keys() {
    let backend = common::start("bearer").await;
    let shop = from_trait::Shop::new(backend.url()).unwrap();
    backend.fail_next(1, StatusCode::TOO_MANY_REQUESTS, &[("retry-after-ms", "1")]);
    backend.abort_after_consume(1);
    let order = shop
        .create_order(&from_trait::NewOrder {
            order_id: "t-1".into(),
        })
        .await
        .unwrap();
    assert_eq!(order.executions, 1);
    let c = backend.counters();
    assert_eq!(
        (c.requests, c.executions["t-1"], c.executions_by_key.len()),
        (3, 1, 1),
        "{c:?}"
    );
}

/// A loopback port that forwards to `to` while it is up: a server that goes
/// away and comes back on the same address.
struct Flaky {
    port: u16,
    to: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Flaky {
    async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.port = listener.local_addr().unwrap().port();
        let to = self.to;
        self.task = Some(tokio::spawn(async move {
            let mut open = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                open.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Stops listening and cuts every forwarded connection (the task owns them).
    fn down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A refused connection never left, so any call (a `POST` too) is retried
/// after the backoff until the server is back, within the budget; the
/// server sees the call once. With `RetryPolicy::none()` it is not waited out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_retried_with_backoff_until_the_server_is_back() {
    let backend = common::start("bearer").await;
    let mut flaky = Flaky {
        port: 0,
        to: backend.addr(),
        task: None,
    };
    flaky.up().await;
    let client = common::bearer_at(&format!("http://127.0.0.1:{}", flaky.port))
        // A connection per request, so every call connects anew.
        .http_client_builder(seamless_sdk::__private::reqwest::Client::builder().pool_max_idle_per_host(0))
        .retry(
            RetryPolicy::default()
                .max_attempts(20)
                .backoff(Duration::from_millis(200), Duration::from_millis(200)),
        )
        .build()
        .unwrap();
    common::user(&client, 1).await.unwrap();

    flaky.down();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let e = client
        .call::<Value>(order("o-refused").retry(RetryPolicy::none()))
        .await
        .unwrap_err();
    assert!(e.is_transport() && !e.is_outcome_unknown(), "{e:?}");
    assert_eq!(client.stats().transient_retries, 0);

    backend.reset_counters();
    let comes_back = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        flaky.up().await;
    };
    let (reply, ()) = common::within(20, "the call across the outage", async {
        tokio::join!(client.call::<Value>(order("o-back")), comes_back)
    })
    .await;
    assert_eq!(reply.unwrap()["executions"], 1);
    let s = client.stats();
    assert!(s.transient_retries >= 1 && s.retry_wait_ms > 0, "{s:?}");
    let c = backend.counters();
    assert_eq!((c.requests, c.logins, c.executions["o-back"]), (1, 0, 1), "{c:?}");
    flaky.down();
}
