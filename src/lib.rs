//! # seamless
//!
//! Typed API clients that keep expiring and single-use session tokens
//! correct under concurrency: one login however many calls fail at once,
//! bounded replays, no single-use token ever sent twice, every call ending
//! with its value or a typed [`Error`].
//!
//! This crate is the one dependency users and generated SDKs need. It
//! re-exports the runtime ([`Client`], [`Request`], the protocol settings
//! and the token stores). See the README for the quickstart and
//! `ARCHITECTURE.md` for how the pieces fit.

pub use seamless_runtime::{
    BoxFuture, Client, ClientBuilder, Encoding, Envelope, Error, Expiry, ExpiryRule, FileStore, JsonPath,
    Lifetime, Login, LoginContext, LoginError, LoginFlow, LoginFn, MAX_REPLAYS_LIMIT, MemoryStore, Placement,
    Request, Secret, Session, Stats, StoredSession, TokenSource, TokenStore, login_fn,
};

/// Items generated code reaches through; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use seamless_runtime::{http, reqwest, serde_json};
}
