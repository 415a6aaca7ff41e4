//! The spec model shared by seamless's two front ends, the YAML loader and
//! validator, and the emitter that turns a validated model into Rust tokens.
//!
//! ```text
//! YAML spec ──(yaml: serde types, a boundary)──┐
//!                                              ├──► model::Api ──(validate)──► emit ──► TokenStream
//! #[token_client] trait ──(macros crate)───────┘
//! ```
//!
//! Formatting (prettyplease) is the caller's business: the CLI formats, the
//! macro hands tokens to the compiler.

pub mod diag;
pub mod emit;
pub mod model;
#[doc(hidden)]
pub mod scale;
pub mod validate;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use emit::emit;
pub use yaml::{load, schema};
