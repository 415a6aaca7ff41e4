//! A chain's login, run in a task of its own so it outlives the caller
//! that started it, and reported to the chain even when the task dies.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Sessions, persist};
use crate::attempt::check_token;
use crate::config::Placement;
use crate::core::{Fresh, StartLogin};
use crate::error::LoginError;
use crate::login::{Login, LoginContext, Session};
use crate::stats::Count;

/// What a chain's logins need besides the chain.
pub(crate) struct LoginSetup {
    pub(crate) login: Arc<dyn Login>,
    /// The context every login gets; `chain` is set per login.
    pub(crate) cx: LoginContext,
    /// Where the token will go: a token it cannot carry is refused.
    pub(crate) placement: Placement,
    pub(crate) timeout: Duration,
    pub(crate) expiry_skew: Duration,
}

/// Starts the login in its own task: a cancelled caller must not take the
/// login with it. Without a runtime the task is dropped, which ends the
/// login as aborted.
pub(crate) fn spawn(sessions: Arc<Sessions>, chain: usize, start: StartLogin) {
    let task = LoginTask {
        sessions,
        chain,
        login: start.login,
        armed: true,
    };
    crate::loom::spawn(task.run(start));
}

/// Runs a login to the end and reports it; if the task dies first (a panic
/// in a custom login, runtime shutdown), dropping it still ends the waiters.
struct LoginTask {
    sessions: Arc<Sessions>,
    chain: usize,
    /// The login's number in its chain.
    login: u64,
    armed: bool,
}

impl LoginTask {
    async fn run(mut self, start: StartLogin) {
        let sessions = Arc::clone(&self.sessions);
        let setup = &sessions.login;
        let stats = &sessions.stats;
        let began = Instant::now();
        tracing::info!(
            target: "seamless",
            chain = self.chain,
            after_generation = start.after_generation,
            refresh = start.refresh.is_some(),
            "login started"
        );
        let cx = LoginContext {
            chain: self.chain,
            ..setup.cx.clone()
        };
        // A refresh token the store could not record as taken may still be
        // there for the next process: presenting it now could make that a
        // reuse (and revoke the family), so a full login is safer.
        let refresh = start.refresh.filter(|_| !sessions.save_failed(self.chain));
        let attempt = async {
            if let Some(refresh) = refresh {
                stats.bump(Count::Refreshes);
                match setup.login.refresh(cx.clone(), refresh.clone()).await {
                    // A reply without a new refresh token means the server
                    // keeps the old one (RFC 6749 §6): keep using it. One
                    // that rotated replaces it, so a spent one is never kept.
                    Ok(mut session) => {
                        session.refresh_token.get_or_insert(refresh);
                        return Ok(session);
                    }
                    Err(e) => {
                        // With rotating refresh tokens a refusal can mean the
                        // server saw reuse and revoked the family (RFC 9700
                        // §4.14.2): worth an operator's eye.
                        stats.bump(Count::RefreshRefusals);
                        tracing::warn!(
                            target: "seamless",
                            chain = self.chain,
                            error = %e,
                            security = true,
                            "refresh token refused (expired, or revoked after reuse); falling back to one full login"
                        )
                    }
                }
            }
            stats.bump(Count::FullLogins);
            setup.login.login(cx).await
        };
        let result = match crate::loom::timeout(setup.timeout, attempt).await {
            Some(r) => r,
            None => Err(LoginError::Timeout(setup.timeout)),
        }
        .and_then(|s| check_token(&setup.placement, &s.token).map(|()| s));
        let elapsed_ms = began.elapsed().as_secs_f64() * 1e3;
        match &result {
            Ok(_) => {
                tracing::info!(target: "seamless", chain = self.chain, elapsed_ms, "login succeeded")
            }
            Err(e) => {
                tracing::warn!(target: "seamless", chain = self.chain, elapsed_ms, error = %e, "login failed")
            }
        }
        self.complete(result);
    }

    fn complete(&mut self, result: Result<Session, LoginError>) {
        self.armed = false;
        if result.is_err() {
            self.sessions.stats.bump(Count::LoginFailures);
        }
        let now = Instant::now();
        let skew = self.sessions.login.expiry_skew;
        let result = result
            .map(|s| Fresh {
                token: s.token,
                // Beyond the clock's range means no expiry worth tracking.
                expires_at: s.expires_in.and_then(|d| persist::renew_at(now, d, skew)),
                valid_until: s.expires_in.and_then(|d| now.checked_add(d)),
                refresh: s.refresh_token,
            })
            .map_err(Arc::new);
        self.sessions.login_done(self.chain, self.login, result, now);
    }
}

impl Drop for LoginTask {
    fn drop(&mut self) {
        if self.armed {
            self.complete(Err(LoginError::Aborted));
        }
    }
}
