//! The SDKs `seamless generate` writes for each spec in `specs/` (and for
//! each OpenAPI description in `specs/openapi/`, by the name its import
//! gives the API), committed as snapshots (see
//! `codegen-cli/tests/snapshots.rs`) so that CI compiles them and `tests/`
//! can call them against the loopback testkit.
//!
//! The modules are `rustfmt::skip`: a snapshot is the CLI's prettyplease
//! output byte for byte, and `cargo fmt` would rewrap it.
#![allow(missing_docs)]

#[rustfmt::skip]
pub mod bearer_api;
#[rustfmt::skip]
pub mod imi_mini;
#[rustfmt::skip]
pub mod imi_mini_openapi;
#[rustfmt::skip]
pub mod oauth_server;
#[rustfmt::skip]
pub mod wechat_query;
