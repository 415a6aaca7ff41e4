//! The runtime every seamless client calls through.
//!
//! A [`Client`] sends [`Request`]s built from their parts and keeps the
//! session token valid without the caller noticing: it stamps the token on
//! each attempt, recognises "expired" replies ([`Expiry`]), runs exactly one
//! login per token generation however many calls fail at once ([`Login`],
//! [`LoginFlow`]), replays the failed calls a bounded number of times, and,
//! for single-use tokens ([`Lifetime::SingleUse`]), lets exactly one request
//! hold a chain's token from sending it to storing its successor.
//!
//! ```no_run
//! use seamless_sdk_runtime::{Client, Envelope, Expiry, Lifetime, LoginFlow, Placement, Request};
//!
//! # async fn demo() -> Result<(), seamless_sdk_runtime::Error> {
//! let client = Client::builder("https://api.example.com")
//!     .placement(Placement::header("B-T"))
//!     .lifetime(Lifetime::single_use("B-T"))
//!     .expiry(Expiry::body_field("code", [408]))
//!     .envelope(Envelope::code_data_msg())
//!     .login(
//!         LoginFlow::post("/v1/api/imiMini/login")
//!             .code("code", || async { Ok::<_, std::io::Error>("code-from-platform".to_owned()) })
//!             .token_from_header("B-T"),
//!     )
//!     .build()?;
//! let me: serde_json::Value = client.call(Request::get("/api/users/7")).await?;
//! # Ok(()) }
//! ```
//!
//! Tracing events (target `seamless`) mark expiries, logins (with their
//! duration), replays and chain recoveries; none carries a token value.

mod attempt;
mod cache;
mod client;
mod config;
mod core;
mod error;
mod login;
mod loom;
#[cfg(test)]
mod model_check;
mod options;
mod path;
#[cfg(feature = "redis")]
mod redis_store;
mod reply;
mod request;
mod retry;
mod secret;
mod session;
mod stats;
mod store;
mod transport;

pub use cache::{CachePolicy, CacheStatus};
pub use client::{Call, Client, ClientBuilder, MAX_REPLAYS_LIMIT, MAX_STALE_REPLAYS};
pub use config::{Envelope, Expiry, ExpiryRule, JsonPath, Lifetime, Placement};
pub use error::{Error, LoginError};
pub use login::{
    BoxFuture, CodeProvider, Encoding, Login, LoginContext, LoginFlow, LoginFn, RefreshGrant, Session,
    TokenSource, login_fn,
};
pub use options::{CallOptions, Response};
pub use path::path_segment;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
pub use request::Request;
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use session::ChainStatus;
pub use stats::Stats;
pub use store::{FileStore, MemoryStore, StoredSession, TokenStore};

/// Re-exported so users and generated code name one version of each.
pub use http;
/// The HTTP method of a [`LoginFlow::new`] that is neither `GET` nor `POST`.
pub use http::Method;
pub use reqwest;
pub use serde_json;
