//! The SDKs `seamless generate` writes for each spec in `specs/`, committed
//! as snapshots (see `codegen-cli/tests/snapshots.rs`) so that CI compiles
//! them and `tests/` can call them against the loopback testkit.
#![allow(missing_docs)]

pub mod bearer_api;
pub mod imi_mini;
pub mod wechat_query;
