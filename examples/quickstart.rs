//! The seed protocol end to end: a loopback backend with single-use `B-T`
//! tokens, 100 concurrent calls, and every token expired midway.
//!
//! Run with `cargo run --example quickstart`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use seamless_sdk::token_client;
use seamless_sdk_testkit::{Backend, Protocol};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct User {
    id: u64,
    name: String,
}

/// The seed protocol: single-use `B-T` tokens, `code: 408` means expired,
/// `{code, data, msg}` bodies, and a login with a one-time code.
#[token_client(
    placement = header("B-T"),
    lifetime = single_use,
    next_token_header = "B-T",
    expiry(body(path = "code", in = [408])),
    envelope(code = "code", success = [200], data = "data", message = "msg"),
    // The `wx.login()` analog: `code` is filled from a one-time code provider.
    login(method = "POST", path = "/v1/api/imiMini/login", code = "code", token_header = "B-T"),
)]
pub trait Seed {
    /// Fetch one user.
    #[get("/api/users/{id}")]
    async fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;
}

const CALLS: u64 = 100;
const EXPIRE_AFTER: u64 = 30;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = Backend::start(Protocol::Seed).await;
    // A little latency, so the calls really overlap.
    backend.delay_responses(Duration::from_millis(2));
    let codes = backend.seed_code_provider();

    let client = Seed::new(backend.url(), move || {
        let code = codes();
        async move { Ok::<_, Infallible>(code) }
    })?;

    println!("seamless quickstart: the seed protocol on {}", backend.url());
    println!("  single-use `B-T` tokens, `code: 408` means expired, one-time code login");
    let first = client.get_user(0).await?;
    println!("session established (1 login); first call returned {first:?}");
    backend.reset_counters();

    let client = Arc::new(client);
    let calls: Vec<_> = (1..=CALLS)
        .map(|id| {
            let client = Arc::clone(&client);
            tokio::spawn(async move { client.get_user(id).await })
        })
        .collect();
    while backend.counters().requests < EXPIRE_AFTER {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    backend.expire_all();

    let mut ok = 0;
    for (id, call) in (1..=CALLS).zip(calls) {
        let user = call.await??;
        assert_eq!((user.id, user.name), (id, format!("user-{id}")));
        ok += 1;
    }
    let server = backend.counters();
    let stats = client.client().stats();
    println!("{CALLS} concurrent calls; every live token expired after {EXPIRE_AFTER} requests");
    println!("  calls ok        {ok:>5} / {CALLS}");
    println!(
        "  requests        {:>5}   (server; one per call plus the replay)",
        server.requests
    );
    println!(
        "  logins          {:>5}   (server; one re-login for the whole storm)",
        server.logins
    );
    println!("  expired replies {:>5}   (server)", server.expired_replies);
    println!(
        "  replays         {:>5}   (client; {} of them stale)",
        stats.expiry_replays + stats.stale_replays + stats.transport_replays,
        stats.stale_replays
    );
    println!(
        "  token reuse     {:>5}   (server; a spent token presented again)",
        server.token_reuse
    );
    println!(
        "  max holders     {:>5}   (server; requests holding one chain's token at once)",
        server.max_concurrent_holders
    );
    if server.logins != 1 || server.token_reuse != 0 || ok != CALLS {
        return Err("an invariant did not hold".into());
    }
    Ok(())
}
