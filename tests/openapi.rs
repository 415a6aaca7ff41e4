//! `#[token_client(spec = "…")]` on an OpenAPI description: the seed API's
//! (`specs/openapi/imi_mini.openapi.yaml`, its token protocol in
//! `x-seamless`) gives a client that rides out an expiry storm like the
//! YAML spec's, counted by the testkit.

mod common;

use std::sync::Arc;

use seamless_sdk::token_client;
use seamless_sdk_testkit::{Backend, Protocol};

#[token_client(spec = "specs/openapi/imi_mini.openapi.yaml")]
pub trait FromOpenApi {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_from_an_openapi_description_rides_out_an_expiry_storm() {
    let backend = Backend::start(Protocol::Seed).await;
    let codes = backend.seed_code_provider();
    let client = Arc::new(
        FromOpenApi::new(backend.url(), move || {
            let code = codes();
            async move { Ok::<_, std::convert::Infallible>(code) }
        })
        .unwrap(),
    );
    assert_eq!(client.get_user(1).await.unwrap().id, 1);
    // Single-use tokens serialize the calls; slow replies keep them in flight.
    backend.delay_responses(std::time::Duration::from_millis(5));
    let calls: Vec<_> = (0..100)
        .map(|i| {
            let c = Arc::clone(&client);
            tokio::spawn(async move { c.get_user(i).await })
        })
        .collect();
    common::wait_until(10, "the first calls", || backend.counters().requests >= 20).await;
    backend.expire_all();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap().id, i as u64);
    }
    let c = backend.counters();
    assert_eq!(c.token_reuse, 0, "{c:?}");
    assert!(c.expired_replies >= 1, "the expiry hit the storm: {c:?}");
    assert_eq!(c.logins, 2, "one login at first, one for the expiry: {c:?}");
    let e = client.fail().await.unwrap_err();
    assert_eq!(e.api_message(), Some("insufficient balance"), "{e:?}");
}
