//! Tokens are secrets: after storms with expiries, failed logins, API and
//! transport errors, no token value appears in any tracing event (of any
//! crate, at any level) or in the Debug/Display of clients and errors.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use seamless_sdk::{Encoding, LoginFlow, MemoryStore, RefreshGrant, Request, StoredSession, TokenStore};
use seamless_sdk_testkit::{BEARER_CLIENT_ID, BEARER_CLIENT_SECRET, Backend, ClientAuth, Protocol};
use serde_json::{Value, json};

/// Remembers every token that reached the store: by invariant 8 that is
/// every token the client ever held.
#[derive(Default)]
struct Collect {
    inner: MemoryStore,
    seen: Mutex<Vec<String>>,
}

impl TokenStore for Collect {
    fn load(&self, chain: usize) -> std::io::Result<Option<StoredSession>> {
        self.inner.load(chain)
    }
    fn save(&self, chain: usize, s: &StoredSession) -> std::io::Result<()> {
        let mut seen = self.seen.lock().unwrap();
        seen.extend(s.token.iter().map(|t| t.expose().to_owned()));
        seen.extend(s.refresh_token.iter().map(|t| t.expose().to_owned()));
        self.inner.save(chain, s)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_in_tracing_debug_or_display_across_storms() {
    let log = common::LogBuffer::default();
    tracing::subscriber::set_global_default(log.subscriber()).unwrap();

    let mut printed = String::new();
    let mut tokens = Vec::new();
    for name in common::PROTOCOLS {
        let backend = common::start(name).await;
        let store = Arc::new(Collect::default());
        let client = Arc::new(
            common::builder(name, &backend)
                .store(Arc::clone(&store))
                .request_timeout(Some(Duration::from_millis(300)))
                .build()
                .unwrap(),
        );
        common::user(&client, 0).await.unwrap();
        let calls: Vec<_> = (1..=200)
            .map(|i| {
                let c = Arc::clone(&client);
                tokio::spawn(async move { common::user(&c, i).await })
            })
            .collect();
        common::wait_until(10, "the storm", || backend.counters().requests >= 50).await;
        backend.expire_all();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        // Every kind of error, printed both ways.
        let mut errors = Vec::new();
        errors.push(client.call::<Value>(Request::get("/api/fail")).await.unwrap_err());
        errors.push(
            client
                .call::<Vec<u8>>(Request::get("/api/ping"))
                .await
                .unwrap_err(),
        );
        backend.abort_after_consume(1);
        let order = Request::post("/api/orders").json(&json!({"order_id": "x"}));
        errors.push(client.call::<Value>(order).await.unwrap_err());
        backend.delay_responses(Duration::from_secs(2));
        errors.push(common::user(&client, 1).await.unwrap_err());
        backend.delay_responses(Duration::ZERO);
        backend.expire_all();
        backend.fail_next_logins(1);
        backend.fail_next_refreshes(1);
        errors.push(common::user(&client, 2).await.unwrap_err());
        for e in &errors {
            printed.push_str(&format!("{e}\n{e:?}\n{e:#?}\n"));
        }
        printed.push_str(&format!("{client:?}\n"));
        tokens.extend(store.seen.lock().unwrap().iter().cloned());
    }
    // Client secrets, sent with HTTP Basic or in a refresh grant's body,
    // right and wrong, are secrets too.
    const WRONG: &str = "wrong-client-secret-7f3a";
    for how in [ClientAuth::Basic, ClientAuth::Body] {
        let backend = Backend::start(Protocol::Bearer {
            ttl: Duration::from_secs(3600),
        })
        .await;
        backend.require_client_auth(Some(how));
        let flow = |secret: &str| {
            let flow = LoginFlow::new(seamless_sdk::__private::http::Method::POST, "/oauth/token")
                .encoding(Encoding::Form)
                .field("grant_type", "password")
                .field("username", seamless_sdk_testkit::BEARER_USERNAME)
                .secret_field("password", seamless_sdk_testkit::BEARER_PASSWORD)
                .token_at("access_token")
                .refresh_token_at("refresh_token");
            let grant =
                RefreshGrant::new("/oauth/token", "refresh_token").field("grant_type", "refresh_token");
            match how {
                ClientAuth::Basic => flow
                    .client_basic_auth(BEARER_CLIENT_ID, secret)
                    .refresh_with(grant),
                _ => flow
                    .field("client_id", BEARER_CLIENT_ID)
                    .secret_field("client_secret", secret)
                    .refresh_with(
                        grant
                            .field("client_id", BEARER_CLIENT_ID)
                            .login_secret("client_secret"),
                    ),
            }
        };
        let store = Arc::new(Collect::default());
        let client = common::bearer(&backend)
            .store(Arc::clone(&store))
            .login(flow(BEARER_CLIENT_SECRET))
            .build()
            .unwrap();
        common::user(&client, 1).await.unwrap();
        backend.expire_all();
        common::user(&client, 2).await.unwrap();
        assert_eq!(backend.counters().refreshes, 1, "{:?}", backend.counters());
        let wrong = common::bearer(&backend)
            .login(flow(WRONG))
            .login_backoff(Duration::ZERO, Duration::ZERO)
            .build()
            .unwrap();
        let e = common::user(&wrong, 3).await.unwrap_err();
        assert!(e.is_login(), "{e:?}");
        assert_eq!(backend.counters().client_auth_refusals, 1);
        printed.push_str(&format!(
            "{e}\n{e:?}\n{e:#?}\n{client:?}\n{wrong:?}\n{:?}\n",
            flow(WRONG)
        ));
        tokens.extend(store.seen.lock().unwrap().iter().cloned());
    }
    let log_text = log.text();
    for secret in [BEARER_CLIENT_SECRET, WRONG] {
        assert!(
            !log_text.contains(secret),
            "a client secret leaked into tracing output"
        );
        assert!(
            !printed.contains(secret),
            "a client secret leaked into Debug/Display:\n{printed}"
        );
    }

    tokens.sort();
    tokens.dedup();
    assert!(
        tokens.len() > 100,
        "too few tokens seen to prove anything: {}",
        tokens.len()
    );
    let log = log.text();
    assert!(log.contains("login started"), "tracing was not captured");
    for t in &tokens {
        assert!(!log.contains(t.as_str()), "a token leaked into tracing output");
        assert!(
            !printed.contains(t.as_str()),
            "a token leaked into Debug/Display:\n{printed}"
        );
    }
}

/// Servers that echo what they were sent in their error text must not make
/// the login error (printed, and logged at WARN) a carrier of credentials.
#[tokio::test]
async fn a_login_error_never_repeats_the_credentials_the_server_echoed() {
    use seamless_sdk::__private::http::Method;
    use seamless_sdk::LoginFlow;
    use seamless_sdk_testkit::{Backend, Protocol};

    let log = common::LogBuffer::default();
    let _capture = log.capture();
    let mut printed = String::new();
    let mut secrets = Vec::new();

    // A password the server refuses and echoes.
    let backend = common::start("bearer").await;
    backend.echo_credentials_in_errors(true);
    let password = "wrong-horse-battery-staple";
    let client = seamless_sdk::Client::builder(backend.url())
        .login(
            LoginFlow::new(Method::POST, "/oauth/token")
                .field("grant_type", "password")
                .field("username", seamless_sdk_testkit::BEARER_USERNAME)
                .secret_field("password", password)
                .token_at("access_token"),
        )
        .build()
        .unwrap();
    let e = common::user(&client, 1).await.unwrap_err();
    assert!(e.is_login(), "{e:?}");
    printed.push_str(&format!("{e}\n{e:?}\n"));
    secrets.push(password.to_owned());

    // A refresh token the server refuses and echoes; the full login after
    // it fails too, so the refusal reaches the caller and the WARN log.
    let store = Arc::new(Collect::default());
    let client = common::bearer(&backend)
        .store(Arc::clone(&store))
        .build()
        .unwrap();
    common::user(&client, 1).await.unwrap();
    backend.expire_all();
    backend.fail_next_refreshes(1);
    backend.fail_next_logins(1);
    let e = common::user(&client, 2).await.unwrap_err();
    assert!(e.is_login(), "{e:?}");
    printed.push_str(&format!("{e}\n{e:?}\n"));
    secrets.extend(store.seen.lock().unwrap().iter().cloned());

    // A one-time code the seed server echoes in its envelope message.
    let backend = Backend::start(Protocol::Seed).await;
    backend.echo_credentials_in_errors(true);
    backend.fail_next_logins(1);
    let codes = Arc::new(Mutex::new(Vec::new()));
    let client = common::seed(&backend)
        .login(
            LoginFlow::new(Method::POST, "/v1/api/imiMini/login")
                .code("code", {
                    let (provider, codes) = (backend.seed_code_provider(), Arc::clone(&codes));
                    move || {
                        let code = provider();
                        codes.lock().unwrap().push(code.clone());
                        async move { Ok::<_, std::convert::Infallible>(code) }
                    }
                })
                .token_from_header("B-T"),
        )
        .build()
        .unwrap();
    let e = common::user(&client, 1).await.unwrap_err();
    assert!(e.is_login(), "{e:?}");
    printed.push_str(&format!("{e}\n{e:?}\n"));
    secrets.extend(codes.lock().unwrap().iter().cloned());

    let log = log.text();
    assert!(
        log.contains("refresh token refused"),
        "the refusal was not logged:\n{log}"
    );
    assert!(secrets.len() >= 4, "{}", secrets.len());
    for s in &secrets {
        assert!(
            !log.contains(s.as_str()),
            "a credential leaked into the log:\n{log}"
        );
        assert!(
            !printed.contains(s.as_str()),
            "a credential leaked into an error:\n{printed}"
        );
    }
    // The errors still say what happened.
    assert!(printed.contains("grant refused for"), "{printed}");
    assert!(printed.contains("login failed for code ***"), "{printed}");
}
