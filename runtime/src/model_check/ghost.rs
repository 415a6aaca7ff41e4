//! The checker's side of an execution: the ghost state it compares the
//! sessions with, the model store and login server that record into it,
//! and the check run at the end of every critical section.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Instant, SystemTime};

use crate::core::Chain;
use crate::error::LoginError;
use crate::login::{BoxFuture, Login, LoginContext, Session};
use crate::secret::Secret;
use crate::session::{Failure, Lease, Parked};
use crate::store::{StoredSession, TokenStore};

/// What the checker knows beyond the sessions: the model server, the model
/// store, and counts of grants and logins. A plain std mutex serves: it is
/// never held across a loom operation, so it adds no schedule point.
#[derive(Debug, Default)]
pub(super) struct Ghost {
    /// Single-use leases out: acquired, not yet sent or given back.
    pub(super) out: usize,
    /// Single-use token values the server has seen.
    pub(super) sent: HashSet<String>,
    pub(super) last_sent_generation: u64,
    /// The highest generation a check has seen.
    pub(super) generation: u64,
    /// The store's token, with the instant it stops being valid.
    pub(super) store_token: Option<(String, Option<SystemTime>)>,
    pub(super) store_refresh: Option<String>,
    /// Login tasks run so far.
    pub(super) logins: u32,
    /// The chain was logging in at the end of the last critical section.
    pub(super) logging_in: bool,
    /// The generation the running login replaces.
    pub(super) login_generation: u64,
    pub(super) started_after: HashMap<u64, u32>,
    pub(super) failed_after: HashMap<u64, u32>,
    pub(super) offered_refresh: HashSet<String>,
    pub(super) minted: u32,
}

impl Ghost {
    pub(super) fn mint(&mut self, prefix: &str) -> String {
        self.minted += 1;
        format!("{prefix}{}", self.minted)
    }

    /// A single-use lease went out.
    pub(super) fn lease_out(&mut self, generation: u64) {
        assert_eq!(
            self.out, 0,
            "two holders of one single-use chain (generation {generation})"
        );
        self.out += 1;
    }

    /// The server receives a single-use token.
    pub(super) fn send(&mut self, lease: &Lease) {
        let value = lease.token().expose().to_owned();
        assert_ne!(
            self.store_token.as_ref().map(|(t, _)| t.as_str()),
            Some(value.as_str()),
            "the store holds a token that is on the wire"
        );
        assert!(
            lease.generation() > self.last_sent_generation,
            "sent generations went {} then {}",
            self.last_sent_generation,
            lease.generation()
        );
        self.last_sent_generation = lease.generation();
        assert!(self.sent.insert(value), "a single-use token was sent twice");
    }
}

/// The store the real sessions save to, recording into the ghost.
pub(super) struct ModelStore {
    pub(super) ghost: Arc<StdMutex<Ghost>>,
    pub(super) single_use: bool,
}

impl TokenStore for ModelStore {
    fn load(&self, _: usize) -> io::Result<Option<StoredSession>> {
        Ok(None)
    }

    fn save(&self, _: usize, saved: &StoredSession) -> io::Result<()> {
        let mut g = self.ghost.lock().unwrap();
        g.store_token = saved
            .token
            .as_ref()
            .map(|t| (t.expose().to_owned(), saved.expires_at));
        g.store_refresh = saved.refresh_token.as_ref().map(|r| r.expose().to_owned());
        if let Some(r) = &g.store_refresh {
            assert!(
                !g.offered_refresh.contains(r),
                "the store kept an offered refresh token"
            );
        }
        if self.single_use
            && let Some((t, _)) = &g.store_token
        {
            assert!(!g.sent.contains(t), "the store holds a spent single-use token");
        }
        Ok(())
    }

    // Each execution's store is its own, and a failed execution may never
    // drop it: no process-wide claim.
    fn claim(&self) -> io::Result<()> {
        Ok(())
    }

    fn release(&self) {}
}

/// The login server: logins succeed or fail by their number, as the
/// scenario says; a refresh is judged like the full login of its task.
pub(super) struct ModelLogin {
    pub(super) ghost: Arc<StdMutex<Ghost>>,
    pub(super) failing: &'static [u32],
    pub(super) refresh: bool,
}

impl ModelLogin {
    fn answer(&self, full: bool) -> Result<Session, LoginError> {
        let mut g = self.ghost.lock().unwrap();
        let number = g.logins - 1;
        if self.failing.contains(&number) {
            // A failing task's refresh falls back to a full login, which fails too.
            if full {
                let generation = g.login_generation;
                *g.failed_after.entry(generation).or_default() += 1;
            }
            return Err(LoginError::rejected(None, format!("login {number} fails")));
        }
        Ok(Session {
            token: Secret::new(g.mint("L")),
            expires_in: None,
            // Rotating, so a kept refresh token would be a reused one.
            refresh_token: self.refresh.then(|| Secret::new(g.mint("F"))),
        })
    }
}

impl Login for ModelLogin {
    fn login(&self, _: LoginContext) -> BoxFuture<'_, Result<Session, LoginError>> {
        let answer = self.answer(true);
        Box::pin(async move { answer })
    }

    fn refresh(&self, _: LoginContext, token: Secret) -> BoxFuture<'_, Result<Session, LoginError>> {
        {
            let mut g = self.ghost.lock().unwrap();
            let value = token.expose().to_owned();
            assert_ne!(
                g.store_refresh.as_ref(),
                Some(&value),
                "the store kept an offered refresh token"
            );
            assert!(
                g.offered_refresh.insert(value),
                "a refresh token was offered to two logins"
            );
        }
        let answer = self.answer(false);
        Box::pin(async move { answer })
    }
}

/// The chain and the store agree at the end of a critical section (the
/// store changes only under the chain's lock). Run by the sessions' hook.
pub(super) fn check_chain(ghost: &StdMutex<Ghost>, single_use: bool, chain: &Chain<Parked, Failure>) {
    let status = chain.status(Instant::now());
    let mut g = ghost.lock().unwrap();
    assert!(
        status.generation >= g.generation,
        "the generation went back from {} to {}",
        g.generation,
        status.generation
    );
    g.generation = status.generation;
    if status.logging_in && !g.logging_in {
        // A login starts only for the current generation (a stale expiry
        // report starts none), and a second one for a generation only
        // after the first failed.
        let generation = status.generation;
        let started = g.started_after.get(&generation).copied().unwrap_or(0);
        let failed = g.failed_after.get(&generation).copied().unwrap_or(0);
        assert_eq!(
            started, failed,
            "a second login for generation {generation} while the first did not fail"
        );
        *g.started_after.entry(generation).or_default() += 1;
        g.login_generation = generation;
    }
    g.logging_in = status.logging_in;
    // The store holds the ready token; it may also keep one past its
    // lifetime (the core empties the slot without a journal entry when it
    // renews before sending), never anything else.
    match &g.store_token {
        None => assert!(!status.ready, "a token is ready but the store has none"),
        Some((_, at)) => assert!(
            status.ready || at.is_some_and(|at| at <= SystemTime::now()),
            "the store holds a live token while none is ready (held: {})",
            status.held
        ),
    }
    if status.held {
        assert!(
            g.store_token.is_none(),
            "the store holds a token while it is held"
        );
    }
    if !single_use {
        assert!(!status.held, "a reusable chain was held");
    }
}
