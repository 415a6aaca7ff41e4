//! The two front ends of `#[token_client]` agree: a trait and
//! `specs/imi_mini.yaml` describing the same API give clients with the same
//! methods (one generic body below calls both) and the same behaviour
//! against the seed testkit backend.

use std::convert::Infallible;

use seamless_sdk_testkit::{Backend, Protocol};

mod from_yaml {
    /// From the YAML front end; the struct takes the trait's name.
    #[seamless_sdk::token_client(spec = "specs/imi_mini.yaml")]
    pub trait ImiMiniClient {}
}

mod from_trait {
    use seamless_sdk::token_client;

    // The YAML spec declares its types; the trait uses the same ones.
    pub use super::from_yaml::{NewOrder, Order, Pong, Profile, ProfilePatch, Status, User};

    /// Mini-program API of the seed post.
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
    pub trait ImiMiniClient {
        /// Fetch one user.
        #[get("/api/users/{id}")]
        async fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;

        /// Check that the session works.
        #[get("/api/ping")]
        async fn ping(&self) -> Result<Pong, seamless_sdk::Error>;

        /// Send any JSON and get it back.
        #[post("/api/echo")]
        async fn echo(
            &self,
            #[body] body: &serde_json::Value,
        ) -> Result<serde_json::Value, seamless_sdk::Error>;

        /// Place an order. Not idempotent, so it is never replayed after a transport error.
        #[post("/api/orders")]
        async fn create_order(&self, #[body] body: &NewOrder) -> Result<Order, seamless_sdk::Error>;

        /// Always answers with an application error.
        #[get("/api/fail")]
        async fn fail(&self) -> Result<serde_json::Value, seamless_sdk::Error>;

        /// A user's profile.
        #[get("/api/users/{user_id}/profile")]
        async fn get_profile(
            &self,
            user_id: u64,
            #[query] verbose: Option<bool>,
            /// Comma-separated field names
            #[query]
            fields: Option<String>,
            #[header("X-Trace-Id")] x_trace_id: Option<String>,
        ) -> Result<Profile, seamless_sdk::Error>;

        /// Change the caller's profile.
        #[patch("/api/profile")]
        #[idempotent]
        async fn update_profile(&self, #[body] patch: &ProfilePatch) -> Result<Profile, seamless_sdk::Error>;

        /// Every account state, a public endpoint.
        #[get("/api/statuses")]
        #[no_auth]
        async fn list_statuses(&self) -> Result<Vec<Status>, seamless_sdk::Error>;
    }
}

/// The same calls through either client; it only compiles if both have the
/// same constructors and method signatures.
macro_rules! exercise {
    ($client:ty) => {{
        let backend = Backend::start(Protocol::Seed).await;
        let codes = backend.seed_code_provider();
        let client = <$client>::new(backend.url(), move || {
            let code = codes();
            async move { Ok::<_, Infallible>(code) }
        })
        .unwrap();
        assert_eq!(<$client>::DEFAULT_BASE_URL, "https://api.example.com");
        let user = client.get_user(7).await.unwrap();
        assert_eq!((user.id, user.name.as_str()), (7, "user-7"));
        assert!(client.ping().await.unwrap().pong);
        let echoed = client.echo(&serde_json::json!({"a": 1})).await.unwrap();
        assert_eq!(echoed, serde_json::json!({"a": 1}));
        let order = client
            .create_order(&from_yaml::NewOrder { order_id: "o-1".into() })
            .await
            .unwrap();
        assert_eq!((order.order_id.as_str(), order.executions), ("o-1", 1));
        let err = client.fail().await.unwrap_err();
        assert_eq!(err.api_message(), Some("insufficient balance"), "{err:?}");
        backend.expire_all();
        let user = client.get_user(8).await.unwrap();
        assert_eq!(user.id, 8);
        let c = backend.counters();
        (c.logins, c.token_reuse, c.expired_replies)
    }};
}

#[tokio::test]
async fn trait_and_yaml_spec_give_the_same_client() {
    let yaml = exercise!(from_yaml::ImiMiniClient);
    let rust = exercise!(from_trait::ImiMiniClient);
    assert_eq!(yaml, rust);
    assert_eq!(yaml.1, 0, "a token was reused");
}
