//! The seed protocol end to end: a loopback backend with single-use `B-T`
//! tokens, 100 concurrent calls, and every token expired midway.
//!
//! Run with `cargo run --example quickstart`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use seamless::__private::http::Method;
use seamless::{Client, Envelope, Expiry, Lifetime, LoginFlow, Placement, Request};
use seamless_testkit::{Backend, Protocol};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct User {
    id: u64,
    name: String,
}

const CALLS: u64 = 100;
const EXPIRE_AFTER: u64 = 30;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = Backend::start(Protocol::Seed).await;
    // A little latency, so the calls really overlap.
    backend.delay_responses(Duration::from_millis(2));
    let codes = backend.seed_code_provider();

    let client = Client::builder(backend.url())
        .placement(Placement::header("B-T"))
        .lifetime(Lifetime::single_use("B-T"))
        .expiry(Expiry::body_field("code", [408]))
        .envelope(Envelope::code_data_msg())
        .login(
            LoginFlow::new(Method::POST, "/v1/api/imiMini/login")
                // The `wx.login()` analog: a fresh one-time code per login.
                .code("code", move || {
                    let code = codes();
                    async move { Ok::<_, Infallible>(code) }
                })
                .token_from_header("B-T"),
        )
        .build()?;

    println!("seamless quickstart: the seed protocol on {}", backend.url());
    println!("  single-use `B-T` tokens, `code: 408` means expired, one-time code login");
    let first: User = client.call(Request::get("/api/users/0")).await?;
    println!("session established (1 login); first call returned {first:?}");
    backend.reset_counters();

    let client = Arc::new(client);
    let calls: Vec<_> = (1..=CALLS)
        .map(|id| {
            let client = Arc::clone(&client);
            tokio::spawn(async move {
                client
                    .call::<User>(Request::get(format!("/api/users/{id}")))
                    .await
            })
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
    let stats = client.stats();
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
    println!("  replays         {:>5}   (client)", stats.replays);
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
