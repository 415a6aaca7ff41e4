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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use http::Method;
use seamless_sdk_codegen::model::{Api, HttpMethod};
use seamless_sdk_testkit::Backend;
use tokio::net::TcpListener;

pub use crate::rules_of::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_LOGIN_PATH, DEFAULT_TTL_WITH_EXPIRES_IN, LoginPlan,
    Plan, RefreshPlan, SpecOptions, plan_of, rules_of,
};
pub use crate::spec_routes::{SpecRoutes, UI, UI_PATH};
/// The testkit server a [`Mock`] runs on, for its knobs and counters.
pub use seamless_sdk_testkit;

/// How to serve a spec: the protocol's free choices and the faults armed from the start.
#[derive(Clone, Debug, Default)]
pub struct MockOptions {
    /// Picks the example values (`--seed`); the same seed answers the same values.
    pub seed: u64,
    /// Values the login's secret fields must hold (`--secret NAME=VALUE`); see [`SpecOptions::secrets`].
    pub secrets: BTreeMap<String, String>,
    /// Access-token lifetime (`--token-ttl-ms`); see [`SpecOptions::token_ttl`].
    pub token_ttl: Option<Duration>,
    /// The loopback port (`--port`); 0 picks a free one.
    pub port: u16,
    /// Expire every token after this many token-checked requests (`--expire-every`).
    pub expire_every_requests: Option<u64>,
    /// Expire every token every this many milliseconds (`--expire-every-ms`).
    pub expire_every_ms: Option<u64>,
    /// Delay every login (and refresh) by this many milliseconds (`--delay-logins-ms`).
    pub delay_logins_ms: Option<u64>,
    /// Fail the next this many logins (`--fail-logins`).
    pub fail_logins: Option<u32>,
}

impl MockOptions {
    fn spec(&self) -> SpecOptions {
        SpecOptions {
            secrets: self.secrets.clone(),
            token_ttl: self.token_ttl,
        }
    }
}

/// A running mock of one spec. Dropping it stops the server.
#[derive(Debug)]
#[non_exhaustive]
pub struct Mock {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    /// The server: its counters, knobs and rules.
    pub backend: Backend,
    /// What is served, in lines for a person (no token or secret in it).
    pub summary: String,
    /// The protocol as planned.
    pub plan: Plan,
}

/// Serves `api` on `127.0.0.1:opts.port` until the returned [`Mock`] is dropped.
pub async fn start(api: &Api, opts: &MockOptions) -> Result<Mock, MockError> {
    let plan = plan_of(api, &opts.spec())?;
    let listener = TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .map_err(|source| MockError::Bind {
            port: opts.port,
            source,
        })?;
    let routes = SpecRoutes::new(api, opts.seed, Some(plan.placement.clone()));
    let backend = Backend::serve_on(listener, rules_of(&plan), routes).await;
    let mut summary = plan.to_string();
    if let Some(n) = opts.expire_every_requests.filter(|n| *n > 0) {
        backend.expire_every_requests(n);
        let _ = writeln!(summary, "  fault: every token expires every {n} requests");
    }
    if let Some(ms) = opts.expire_every_ms.filter(|ms| *ms > 0) {
        backend.expire_every(Duration::from_millis(ms));
        let _ = writeln!(summary, "  fault: every token expires every {ms} ms");
    }
    if let Some(ms) = opts.delay_logins_ms.filter(|ms| *ms > 0) {
        backend.delay_logins(Duration::from_millis(ms));
        let _ = writeln!(summary, "  fault: logins take {ms} ms more");
    }
    if let Some(n) = opts.fail_logins.filter(|n| *n > 0) {
        backend.fail_next_logins(n);
        let _ = writeln!(summary, "  fault: the next {n} logins fail");
    }
    let _ = writeln!(
        summary,
        "  counters: GET {}; events: GET {}; knobs: POST {}; storm page: GET {UI_PATH}",
        seamless_sdk_testkit::STATS_PATH,
        seamless_sdk_testkit::EVENTS_PATH,
        seamless_sdk_testkit::KNOBS_PATH
    );
    Ok(Mock {
        url: backend.url(),
        backend,
        summary,
        plan,
    })
}

/// One line of the counters a protocol reviewer reads, for a log: never a token.
pub fn counters_line(c: &seamless_sdk_testkit::Counters) -> String {
    format!(
        "requests {} (public {}), logins {} (failed {}), refreshes {}, expirations {}, \
         expired replies {}, token reuse {}, refresh-token reuse {}, extra logins {}, \
         duplicate executions {}, max holders {}",
        c.requests,
        c.public_requests,
        c.logins,
        c.logins_failed,
        c.refreshes,
        c.expirations,
        c.expired_replies,
        c.token_reuse,
        c.refresh_token_reuse,
        c.extra_logins,
        c.duplicate_executions,
        c.max_concurrent_holders
    )
}

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
