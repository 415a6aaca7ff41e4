//! The coordination core: who holds a chain's token, who logs in, who waits.
//!
//! This module does no IO and knows nothing of HTTP, tokio or time sources:
//! the driver (the sessions, `session/`) calls it under one mutex per chain,
//! passes the current instant in, and acts on what it returns (hand out the
//! token, spawn the login). Keeping the decisions here makes them
//! unit-testable and model-checkable.
//!
//! A *chain* is one login session. Its *generation* numbers the token values
//! it has held: every installed token (from a login or a rotation) gets the
//! next generation, so "which token did this failure belong to" is a number
//! comparison, never a comparison of secrets.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::secret::Secret;

/// How a chain's token may be shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Each token value is sent once; the response carries the next one.
    /// One request holds the token at a time.
    SingleUse,
    /// Any number of requests share the token until the server rejects it.
    Reusable,
}

/// A token handed to one request.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub(crate) token: Secret,
    pub(crate) generation: u64,
    pub(crate) expires_at: Option<Instant>,
    pub(crate) valid_until: Option<Instant>,
}

/// What a parked caller receives: a token, or the login failure every
/// waiter of that login shares.
pub(crate) type Delivery<E> = Result<Grant, E>;

/// A parked caller. `deliver` hands the value back when the caller is gone,
/// so a token is never stranded with a cancelled waiter.
pub(crate) trait Waiter<E>: Sized {
    fn deliver(self, value: Delivery<E>) -> Result<(), Delivery<E>>;

    /// The caller went away; [`Chain::forget_departed`] drops such waiters.
    fn is_gone(&self) -> bool {
        false
    }
}

/// A freshly obtained session, as the core needs it.
#[derive(Clone, Debug)]
pub(crate) struct Fresh {
    pub(crate) token: Secret,
    /// When to renew it (its lifetime less the skew).
    pub(crate) expires_at: Option<Instant>,
    /// When the server stops accepting it. A reusable token past
    /// `expires_at` but not past this keeps serving while it is renewed.
    pub(crate) valid_until: Option<Instant>,
    pub(crate) refresh: Option<Secret>,
}

/// The driver must start a login for this chain and report back with
/// [`Chain::login_done`]. `refresh` has been taken out of the chain: it is
/// spent from this moment whatever happens, so it can never be sent twice.
#[derive(Debug)]
#[must_use]
pub(crate) struct StartLogin {
    pub(crate) refresh: Option<Secret>,
    /// The generation whose failure caused this login.
    pub(crate) after_generation: u64,
    /// This login's number in the chain: the first is 1.
    pub(crate) login: u64,
}

/// The answer to [`Chain::acquire`].
#[derive(Debug)]
pub(crate) enum Acquire<E> {
    /// Send now with this token.
    Granted(Grant),
    /// Reusable: send now with this token, which is due for renewal but
    /// still valid, and start its renewal (nobody else will).
    GrantedStartLogin(Grant, StartLogin),
    /// Parked; the waiter will receive the token or the login error.
    Parked,
    /// Parked, and the caller must start the login (nobody else will).
    ParkedStartLogin(StartLogin),
    /// The last login failed and its cool-down has not passed: fail with
    /// that login's error rather than start another one (`docs/faults.md`, F6).
    CoolingDown(E),
}

/// How long a chain waits after a failed login before it tries again:
/// `initial` after the first failure, doubling per failure in a row, at
/// most `max`. A zero `initial` turns the cool-down off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    fn after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.initial.saturating_mul(1 << doublings).min(self.max)
    }
}

/// The last login of a chain failed.
#[derive(Clone, Debug)]
pub(crate) struct Cooldown<E> {
    /// Failed logins in a row.
    pub(crate) failures: u32,
    /// No new login before this instant.
    pub(crate) until: Instant,
    /// The number of the login that failed.
    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "the shared store's (session/fleet)")
    )]
    pub(crate) login: u64,
    pub(crate) error: E,
}

/// What [`Chain::status`] reports.
#[derive(Debug)]
pub(crate) struct Status<'a, E> {
    pub(crate) generation: u64,
    pub(crate) ready: bool,
    pub(crate) held: bool,
    pub(crate) logging_in: bool,
    pub(crate) waiters: usize,
    pub(crate) failures: u32,
    pub(crate) blocked_for: Option<Duration>,
    pub(crate) last_error: Option<&'a E>,
}

/// The answer to [`Chain::report_expired`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Expired {
    /// The failure belongs to a token already replaced, or whose early
    /// renewal was already running when the refusal came back (a server
    /// that revokes the old token on refresh refuses every request in
    /// flight then): replay, no login, and the replay does not count as
    /// evidence against the new token.
    Stale,
    /// The failure belongs to the current token, now discarded.
    Current,
}

#[derive(Clone, Debug)]
pub(crate) enum Slot {
    /// Nobody holds it (single-use) or anybody may use it (reusable).
    Ready {
        token: Secret,
        expires_at: Option<Instant>,
        valid_until: Option<Instant>,
    },
    /// Single-use: one request is between sending it and storing the next.
    Held,
    /// No usable token: spent, rejected, or never obtained.
    Empty,
}

/// What the token store should hold after a change: the ready token (none
/// while a single-use token is out on the wire) and the unspent refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// The token and when the server stops accepting it.
    pub(crate) token: Option<(Secret, Option<Instant>)>,
    pub(crate) refresh: Option<Secret>,
}

/// A chain's state without its parked callers and its journal: what a store
/// shared by several processes keeps (`session/fleet`), so every process
/// runs the same decisions on the same state.
#[derive(Clone, Debug)]
#[cfg_attr(
    not(feature = "redis"),
    allow(dead_code, reason = "the shared store's (session/fleet)")
)]
pub(crate) struct State<E> {
    pub(crate) generation: u64,
    pub(crate) slot: Slot,
    pub(crate) refresh: Option<Secret>,
    pub(crate) logging_in: bool,
    /// The running login is an early renewal: it started while the token
    /// was still valid, not because the server refused it.
    pub(crate) renewing: bool,
    /// Logins started so far; the running (or last) one has this number.
    pub(crate) logins: u64,
    pub(crate) cooldown: Option<Cooldown<E>>,
}

/// One chain's state. All methods are called with the chain's lock held.
/// `W` is a parked caller, `E` the login error every waiter shares.
#[derive(Debug)]
pub(crate) struct Chain<W, E> {
    mode: Mode,
    backoff: Backoff,
    generation: u64,
    slot: Slot,
    refresh: Option<Secret>,
    logging_in: bool,
    /// See [`State::renewing`].
    renewing: bool,
    logins: u64,
    /// The server keeps one session: each login revokes the token before it.
    exclusive: bool,
    cooldown: Option<Cooldown<E>>,
    waiters: VecDeque<W>,
    /// Every state the store must see, in order; the driver drains it
    /// under the same lock, so saves can never be reordered.
    journal: Vec<Snapshot>,
    /// Why the driver's last save failed; `None` once one succeeds.
    save_failure: Option<String>,
}

impl<W: Waiter<E>, E: Clone> Chain<W, E> {
    pub(crate) fn new(mode: Mode, backoff: Backoff) -> Self {
        Chain {
            mode,
            backoff,
            generation: 0,
            slot: Slot::Empty,
            refresh: None,
            logging_in: false,
            renewing: false,
            logins: 0,
            exclusive: false,
            cooldown: None,
            waiters: VecDeque::new(),
            journal: Vec::new(),
            save_failure: None,
        }
    }

    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "the shared store's (session/fleet)")
    )]
    /// A chain in `state`, with no parked caller: how a process sharing the
    /// chain with others (`session/fleet`) runs one decision on it.
    pub(crate) fn from_state(mode: Mode, backoff: Backoff, exclusive: bool, state: State<E>) -> Self {
        let mut chain = Chain::new(mode, backoff);
        chain.exclusive = exclusive;
        chain.generation = state.generation;
        chain.slot = state.slot;
        chain.refresh = state.refresh;
        chain.logging_in = state.logging_in;
        chain.renewing = state.renewing;
        chain.logins = state.logins;
        chain.cooldown = state.cooldown;
        chain
    }

    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "the shared store's (session/fleet)")
    )]
    /// The chain's state, without its parked callers.
    pub(crate) fn state(&self) -> State<E> {
        State {
            generation: self.generation,
            slot: self.slot.clone(),
            refresh: self.refresh.clone(),
            logging_in: self.logging_in,
            renewing: self.renewing,
            logins: self.logins,
            cooldown: self.cooldown.clone(),
        }
    }

    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "the shared store's (session/fleet)")
    )]
    /// The login a caller parking now waits for: the running one, or else
    /// the next one to start.
    pub(crate) fn awaited_login(&self) -> u64 {
        if self.logging_in {
            self.logins
        } else {
            self.logins + 1
        }
    }

    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "the shared store's (session/fleet)")
    )]
    /// The error a caller that waits for login `login` (see
    /// [`Chain::awaited_login`]) receives, once that login (or a later one)
    /// has failed and no token has come since. In one process the core
    /// delivers it to its waiters; processes sharing a chain ask for it.
    pub(crate) fn failure_of(&self, login: u64) -> Option<&E> {
        self.cooldown
            .as_ref()
            .filter(|c| c.login >= login)
            .map(|c| &c.error)
    }

    /// The server keeps one session per client (`exclusive_session`): any
    /// login this chain runs revokes its current token, so a refusal of
    /// that token while the login runs is the login's doing, not news.
    pub(crate) fn set_exclusive(&mut self, exclusive: bool) {
        self.exclusive = exclusive;
    }

    /// The driver reports how saving the last drained snapshots went.
    pub(crate) fn saved(&mut self, result: Result<(), String>) {
        self.save_failure = result.err();
    }

    /// Set while the store may not hold the chain's latest state. A
    /// single-use holder must not send then: the store may still hold the
    /// token, and a crash would resume it spent.
    pub(crate) fn save_failure(&self) -> Option<&str> {
        self.save_failure.as_deref()
    }

    /// The snapshots recorded since the last drain.
    pub(crate) fn drain_journal(&mut self) -> std::vec::Drain<'_, Snapshot> {
        self.journal.drain(..)
    }

    fn note(&mut self) {
        let token = match &self.slot {
            Slot::Ready {
                token, valid_until, ..
            } => Some((token.clone(), *valid_until)),
            Slot::Held | Slot::Empty => None,
        };
        self.journal.push(Snapshot {
            token,
            refresh: self.refresh.clone(),
        });
    }

    /// Installs what a store held, before any call is made: the token, when
    /// to renew it and when it stops being valid.
    pub(crate) fn resume(
        &mut self,
        token: Option<(Secret, Option<Instant>, Option<Instant>)>,
        refresh: Option<Secret>,
    ) {
        self.refresh = refresh;
        if let Some((token, expires_at, valid_until)) = token {
            self.generation += 1;
            self.slot = Slot::Ready {
                token,
                expires_at,
                valid_until,
            };
        }
    }

    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "the shared store's (session/fleet)")
    )]
    /// Logins started so far; the running (or last) one has this number.
    pub(crate) fn logins(&self) -> u64 {
        self.logins
    }

    pub(crate) fn is_logging_in(&self) -> bool {
        self.logging_in
    }

    pub(crate) fn waiters(&self) -> usize {
        self.waiters.len()
    }

    /// The chain's state, for [`crate::Client::chain_status`].
    pub(crate) fn status(&self, now: Instant) -> Status<'_, E> {
        Status {
            generation: self.generation,
            ready: matches!(self.slot, Slot::Ready { .. }),
            held: matches!(self.slot, Slot::Held),
            logging_in: self.logging_in,
            waiters: self.waiters.len(),
            failures: self.cooldown.as_ref().map_or(0, |c| c.failures),
            blocked_for: self
                .cooldown
                .as_ref()
                .map(|c| c.until.saturating_duration_since(now))
                .filter(|d| !d.is_zero()),
            last_error: self.cooldown.as_ref().map(|c| &c.error),
        }
    }

    /// True when a caller could be granted a token without waiting.
    pub(crate) fn is_idle(&self, now: Instant) -> bool {
        !self.logging_in
            && matches!(&self.slot, Slot::Ready { expires_at, .. } if self.fresh_at(*expires_at, now))
    }

    /// True when [`Chain::acquire`] would answer `CoolingDown` now: the last
    /// login failed, its cool-down runs, and no token could serve instead.
    pub(crate) fn fails_fast(&self, now: Instant) -> bool {
        if self.logging_in || self.cooldown.as_ref().is_none_or(|c| now >= c.until) {
            return false;
        }
        match &self.slot {
            Slot::Ready {
                expires_at,
                valid_until,
                ..
            } => {
                !(self.fresh_at(*expires_at, now)
                    || (self.mode == Mode::Reusable && valid_until.is_some_and(|v| now < v)))
            }
            Slot::Held => false,
            Slot::Empty => true,
        }
    }

    /// `expires_at` is when to renew (the driver has already taken the skew
    /// off the server's lifetime), so the comparison is plain.
    fn fresh_at(&self, expires_at: Option<Instant>, now: Instant) -> bool {
        expires_at.is_none_or(|at| now < at)
    }

    /// Asks for the token. `park` is called only when the caller must wait.
    pub(crate) fn acquire(&mut self, now: Instant, park: impl FnOnce() -> W) -> Acquire<E> {
        // Reusable: a token due for renewal but still valid keeps serving
        // while its renewal runs and after one failed, so an early renewal
        // that fails costs no call until the token really expires.
        if self.mode == Mode::Reusable
            && let Slot::Ready {
                token,
                expires_at,
                valid_until,
            } = &self.slot
            && !self.fresh_at(*expires_at, now)
            && valid_until.is_some_and(|v| now < v)
        {
            let grant = Grant {
                token: token.clone(),
                generation: self.generation,
                expires_at: *expires_at,
                valid_until: *valid_until,
            };
            let cooling = self.cooldown.as_ref().is_some_and(|c| now < c.until);
            if self.logging_in || cooling {
                return Acquire::Granted(grant);
            }
            let start = self.start_login();
            self.renewing = true;
            return Acquire::GrantedStartLogin(grant, start);
        }
        if self.logging_in {
            self.waiters.push_back(park());
            return Acquire::Parked;
        }
        match &self.slot {
            Slot::Ready {
                token,
                expires_at,
                valid_until,
            } if self.fresh_at(*expires_at, now) => {
                let grant = Grant {
                    token: token.clone(),
                    generation: self.generation,
                    expires_at: *expires_at,
                    valid_until: *valid_until,
                };
                if self.mode == Mode::SingleUse {
                    self.slot = Slot::Held;
                    self.note();
                }
                Acquire::Granted(grant)
            }
            Slot::Held => {
                self.waiters.push_back(park());
                Acquire::Parked
            }
            // Empty, or Ready but past its known lifetime: renew before
            // sending rather than send a token bound to fail.
            Slot::Ready { .. } | Slot::Empty => {
                if let Some(c) = &self.cooldown
                    && now < c.until
                {
                    return Acquire::CoolingDown(c.error.clone());
                }
                self.slot = Slot::Empty;
                self.waiters.push_back(park());
                Acquire::ParkedStartLogin(self.start_login())
            }
        }
    }

    fn start_login(&mut self) -> StartLogin {
        debug_assert!(!self.logging_in);
        self.logging_in = true;
        self.logins += 1;
        let refresh = self.refresh.take();
        if refresh.is_some() {
            self.note();
        }
        StartLogin {
            refresh,
            after_generation: self.generation,
            login: self.logins,
        }
    }

    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "the shared store's (session/fleet)")
    )]
    /// The login running for this chain will never report: the process
    /// that ran it is gone (its lock in a shared store expired). It ends
    /// without a result and without a cool-down (nothing says the next one
    /// would fail); a refresh token it took counts as spent. Returns a
    /// login to start when waiters need one.
    pub(crate) fn login_abandoned(&mut self) -> Option<StartLogin> {
        if !self.logging_in {
            return None;
        }
        self.logging_in = false;
        self.renewing = false;
        if !(self.mode == Mode::Reusable && matches!(self.slot, Slot::Ready { .. })) {
            self.slot = Slot::Empty;
        }
        if self.waiters.is_empty() {
            None
        } else {
            Some(self.start_login())
        }
    }

    /// Reusable mode: the server rejected the token of `generation`.
    pub(crate) fn report_expired(&mut self, generation: u64) -> Expired {
        if generation != self.generation {
            return Expired::Stale;
        }
        // Dropped even when its renewal runs: a token the server refuses
        // must not be granted again meanwhile; callers park for the new one.
        if matches!(self.slot, Slot::Ready { .. }) {
            self.slot = Slot::Empty;
            self.note();
        }
        if self.logging_in && (self.renewing || self.exclusive) {
            // The replacement was asked for before this refusal arrived,
            // which the refresh itself may have caused (RFC 6749 lets a
            // server revoke the old access token on refresh).
            return Expired::Stale;
        }
        Expired::Current
    }

    /// Records the end of the login started by [`StartLogin`] and hands its
    /// result to the waiters. A failure starts (or lengthens) the cool-down.
    pub(crate) fn login_done(&mut self, result: Result<Fresh, E>, now: Instant) {
        debug_assert!(self.logging_in);
        self.logging_in = false;
        self.renewing = false;
        match result {
            Ok(fresh) => {
                self.cooldown = None;
                self.generation += 1;
                // Keep a refresh token from an earlier login if this one
                // brought none: the server has not spent it.
                if fresh.refresh.is_some() {
                    self.refresh = fresh.refresh;
                }
                self.make_ready(fresh.token, fresh.expires_at, fresh.valid_until);
            }
            Err(error) => {
                // A reusable token whose early renewal failed stays: `acquire`
                // serves it while it is valid. Anything else is gone.
                if !(self.mode == Mode::Reusable && matches!(self.slot, Slot::Ready { .. })) {
                    self.slot = Slot::Empty;
                }
                for w in self.waiters.drain(..) {
                    let _ = w.deliver(Err(error.clone()));
                }
                let failures = self.cooldown.as_ref().map_or(0, |c| c.failures) + 1;
                self.cooldown = Some(Cooldown {
                    failures,
                    until: now + self.backoff.after(failures),
                    login: self.logins,
                    error,
                });
            }
        }
    }

    /// Single-use: the holder of `generation` is done with it. `next` is the
    /// token the response carried; `None` means the token is spent and the
    /// chain needs a login. Returns a login to start when waiters need one.
    pub(crate) fn release(&mut self, generation: u64, next: Option<Fresh>) -> Option<StartLogin> {
        if generation != self.generation || !matches!(self.slot, Slot::Held) {
            // Not the holder (cannot happen through the driver); changing
            // anything here could hand out a token twice.
            return None;
        }
        match next {
            Some(fresh) => {
                self.generation += 1;
                self.make_ready(fresh.token, fresh.expires_at, fresh.valid_until);
                None
            }
            None => {
                // A token existed, so the last login succeeded: no cool-down.
                debug_assert!(self.cooldown.is_none());
                self.slot = Slot::Empty;
                self.note();
                if self.waiters.is_empty() || self.logging_in {
                    None
                } else {
                    Some(self.start_login())
                }
            }
        }
    }

    /// Single-use: a granted token was never sent (its caller went away
    /// first), so it is still good; pass it on.
    pub(crate) fn give_back(&mut self, grant: Grant) {
        if grant.generation == self.generation && matches!(self.slot, Slot::Held) {
            self.make_ready(grant.token, grant.expires_at, grant.valid_until);
        }
    }

    /// Makes `token` the chain's ready token, journals it and hands it on.
    fn make_ready(&mut self, token: Secret, expires_at: Option<Instant>, valid_until: Option<Instant>) {
        self.slot = Slot::Ready {
            token,
            expires_at,
            valid_until,
        };
        self.note();
        self.hand_off();
    }

    /// Drops the waiters whose callers went away, so cancelled callers do
    /// not pile up behind a holder that takes long (or a login).
    pub(crate) fn forget_departed(&mut self) {
        self.waiters.retain(|w| !w.is_gone());
    }

    /// Hands a ready token to waiters: all of them when reusable, the first
    /// live one when single-use. Waiters that went away are skipped.
    fn hand_off(&mut self) {
        let generation = self.generation;
        while let Some(w) = self.waiters.pop_front() {
            let Slot::Ready {
                token,
                expires_at,
                valid_until,
            } = &self.slot
            else {
                self.waiters.push_front(w);
                return;
            };
            let grant = Grant {
                token: token.clone(),
                generation,
                expires_at: *expires_at,
                valid_until: *valid_until,
            };
            match self.mode {
                Mode::Reusable => {
                    let _ = w.deliver(Ok(grant));
                }
                Mode::SingleUse => {
                    if w.deliver(Ok(grant)).is_ok() {
                        self.slot = Slot::Held;
                        self.note();
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
