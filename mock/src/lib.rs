//! `seamless mock`: any seamless spec served as a strict, fault-injecting server
//! of its own token protocol.
//!
//! The spec's `auth` section becomes the testkit's [`Rules`](seamless_sdk_testkit::Rules)
//! ([`rules_of`]); its endpoints become [`SpecRoutes`], answering deterministic
//! example values of their response types; the testkit's server enforces the
//! rules and counts what a protocol reviewer needs (logins per expiry, token
//! values presented twice, duplicate executions), at `GET /__stats` and on
//! [`Mock::backend`]. See `docs/mock.md` for every option, knob and counter.

#![warn(missing_docs)]

mod rules_of;
mod spec_routes;

use http::Method;
use seamless_sdk_codegen::model::HttpMethod;

pub use crate::rules_of::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_LOGIN_PATH, DEFAULT_TTL_WITH_EXPIRES_IN, LoginPlan,
    Plan, RefreshPlan, SpecOptions, plan_of,
};
pub use crate::spec_routes::{SpecRoutes, UI, UI_PATH};

/// Why a mock could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// A `--secret` names no secret field of the spec's login.
    #[error("--secret {name}: the spec has no secret of that name; {has}")]
    UnknownSecret {
        /// The name given.
        name: String,
        /// What the spec has instead.
        has: String,
    },
    /// The port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
}

pub(crate) fn method_of(m: HttpMethod) -> Method {
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Delete => Method::DELETE,
    }
}

/// The example specs of the repository, loaded as `seamless check` loads them.
#[cfg(test)]
pub(crate) fn spec(name: &str) -> seamless_sdk_codegen::model::Api {
    let path = format!("{}/../specs/{name}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let source = if seamless_sdk_codegen::openapi::is_openapi(&source) {
        seamless_sdk_codegen::openapi::import(&source, &path, None)
            .unwrap_or_else(|d| panic!("{d}"))
            .spec
    } else {
        source
    };
    let (api, _) = seamless_sdk_codegen::load(&source, &path).unwrap_or_else(|d| panic!("{d}"));
    api
}
