#![doc = include_str!("../README.md")]
//!
//! ---
//!
//! This crate is the one dependency users and generated SDKs need. It
//! re-exports the runtime ([`Client`], [`Request`], the protocol settings
//! and the token stores).

pub use seamless_sdk_runtime::{
    BoxFuture, CachePolicy, CacheStatus, Call, CallOptions, ChainStatus, Client, ClientBuilder, CodeProvider,
    Encoding, Envelope, Error, Expiry, ExpiryRule, FileStore, JsonPath, Lifetime, Login, LoginContext,
    LoginError, LoginFlow, LoginFn, MAX_REPLAYS_LIMIT, MAX_STALE_REPLAYS, MemoryStore, Method, Placement,
    RefreshGrant, Request, Response, RetryPolicy, Secret, Session, Stats, StoredSession, TokenSource,
    TokenStore, login_fn,
};

/// A session shared by a fleet of processes through Redis (feature `redis`).
#[cfg(feature = "redis")]
pub use seamless_sdk_runtime::RedisStore;

pub use seamless_sdk_macros::token_client;

/// Items generated code reaches through; not a public API.
///
/// Generated SDKs and `#[token_client]` expansions name everything through
/// here, so they need `seamless-sdk` as their only dependency and always agree
/// with it on the versions of `serde`, `serde_json` and `http`.
#[doc(hidden)]
pub mod __private {
    pub use seamless_sdk_runtime::{http, path_segment, reqwest, serde_json};
    /// With `derive`: generated types use `#[serde(crate = "::seamless_sdk::__private::serde")]`.
    pub use serde;
}
