//! The sessions: a client's chains and everything that hands their tokens
//! out. Picking a chain, acquiring its token or parking until one arrives,
//! running its logins, settling tokens when callers are done or gone, and
//! saving every change to the store.
//!
//! The decisions are the core's (`core.rs`); this module runs them under one
//! lock per chain and acts on them. It knows nothing of the client that
//! calls it: the call path sees [`Sessions::pick`], [`Sessions::acquire`]
//! (a [`Lease`] on a token), [`Sessions::report_expired`] and
//! [`Sessions::status`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::core::{Acquire, Chain, Expired, Fresh, Grant, Mode, StartLogin, Status};
use crate::error::{Error, LoginError};
use crate::loom::{Mutex, MutexGuard};
use crate::stats::Counters;

#[cfg(feature = "redis")]
pub(crate) mod fleet;
mod lease;
mod login_task;
mod parking;
mod persist;

pub(crate) use lease::Lease;
pub(crate) use login_task::LoginSetup;
pub(crate) use parking::Parked;
use parking::Parking;
pub(crate) use persist::{StoreClaim, resume};

/// The login error every waiter of one login shares.
pub(crate) type Failure = Arc<LoginError>;

/// Resolves when a shared chain's agent has committed a settlement.
pub(crate) type Settled = tokio::sync::oneshot::Receiver<()>;

/// A client's chains, the store they save to and how they log in.
pub(crate) struct Sessions {
    chains: Chains,
    next_chain: AtomicUsize,
    mode: Mode,
    login: LoginSetup,
    stats: Arc<Counters>,
    #[cfg(test)]
    pub(crate) model: Model,
}

/// Where the chains live.
enum Chains {
    /// In this process, each behind its own mutex, saved to a store the
    /// client owns; the claim on it ends the client's ownership when the
    /// last user of the sessions is gone: the client, a detached exchange,
    /// a login task.
    Local {
        cells: Box<[Mutex<Chain<Parked, Failure>>]>,
        claim: StoreClaim,
    },
    /// In a store shared by a fleet of processes (`fleet.rs`).
    #[cfg(feature = "redis")]
    Fleet(fleet::Fleet),
}

/// What the model check adds to the real sessions (unit-test build only).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Model {
    pub(crate) fault: Fault,
    /// Checks a chain at the end of every critical section, under its lock,
    /// so checking adds no schedule point of its own.
    pub(crate) after_section: Option<ChainCheck>,
}

/// A check of a chain's state, by the model check.
#[cfg(test)]
pub(crate) type ChainCheck = Box<dyn Fn(&Chain<Parked, Failure>) + Send + Sync>;

/// Guards the model check breaks on purpose, to show that it catches the
/// bug (its `*_is_caught` tests).
#[cfg(test)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Fault {
    #[default]
    None,
    /// A cancelled parked caller drops a token that had already reached
    /// it, instead of handing it back: the token is stranded.
    StrandArrived,
    /// A lease dropped after sending gives its token back as unsent.
    GiveBackSent,
}

impl Sessions {
    pub(crate) fn new(
        mode: Mode,
        chains: Vec<Chain<Parked, Failure>>,
        claim: StoreClaim,
        login: LoginSetup,
        stats: Arc<Counters>,
    ) -> Self {
        let cells = chains.into_iter().map(Mutex::new).collect();
        Sessions::with(Chains::Local { cells, claim }, mode, login, stats)
    }

    /// Sessions whose chains a fleet of processes shares.
    #[cfg(feature = "redis")]
    pub(crate) fn shared(mode: Mode, fleet: fleet::Fleet, login: LoginSetup, stats: Arc<Counters>) -> Self {
        Sessions::with(Chains::Fleet(fleet), mode, login, stats)
    }

    fn with(chains: Chains, mode: Mode, login: LoginSetup, stats: Arc<Counters>) -> Self {
        Sessions {
            chains,
            next_chain: AtomicUsize::new(0),
            mode,
            login,
            stats,
            #[cfg(test)]
            model: Model::default(),
        }
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// How many chains there are.
    pub(crate) fn len(&self) -> usize {
        match &self.chains {
            Chains::Local { cells, .. } => cells.len(),
            #[cfg(feature = "redis")]
            Chains::Fleet(fleet) => fleet.len(),
        }
    }

    /// The chain for the next attempt: an idle one if any, else round robin
    /// among those that would not fail fast in a login cool-down (a cooling
    /// chain has no waiters, so it would otherwise look the least busy and
    /// take calls a healthy chain could serve); a cooling one only when all
    /// are.
    pub(crate) fn pick(&self) -> usize {
        let n = self.len();
        if n == 1 {
            return 0;
        }
        let start = self.next_chain.fetch_add(1, Ordering::Relaxed) % n;
        let cells = match &self.chains {
            Chains::Local { cells, .. } => cells,
            // Another process may be using any chain: the last state seen
            // says which would grant at once, else round robin.
            #[cfg(feature = "redis")]
            Chains::Fleet(fleet) => {
                return (0..n)
                    .map(|i| (start + i) % n)
                    .find(|&i| fleet.is_idle(i))
                    .unwrap_or(start);
            }
        };
        let now = Instant::now();
        for i in 0..n {
            let index = (start + i) % n;
            if let Ok(chain) = cells[index].try_lock()
                && chain.is_idle(now)
            {
                return index;
            }
        }
        (0..n)
            .map(|i| (start + i) % n)
            .min_by_key(|&i| {
                let c = lock(&cells[i]);
                (c.fails_fast(now), c.is_logging_in(), c.waiters())
            })
            .unwrap_or(start)
    }

    /// A lease on `chain`'s token: at once, or after parking until a login
    /// or the holder before it hands one over.
    pub(crate) async fn acquire(self: &Arc<Self>, chain: usize) -> Result<Lease, Error> {
        let grant = self.grant(chain).await?;
        let lease = Lease::new(Arc::clone(self), chain, grant);
        if self.mode == Mode::SingleUse
            && let Some(e) = self.unsaved(chain)
        {
            // Dropped unsent: the token goes back to the chain.
            drop(lease);
            return Err(e);
        }
        Ok(lease)
    }

    async fn grant(self: &Arc<Self>, chain: usize) -> Result<Grant, Error> {
        #[cfg(feature = "redis")]
        if let Chains::Fleet(fleet) = &self.chains {
            return fleet.grant(self, chain).await;
        }
        let mut rx = None;
        let got = self.with_chain(chain, |c| {
            c.acquire(Instant::now(), || {
                let (waiter, r) = Parked::channel();
                rx = Some(r);
                waiter
            })
        });
        match got {
            Acquire::Granted(grant) => return Ok(grant),
            Acquire::GrantedStartLogin(grant, start) => {
                self.spawn_login(chain, start);
                return Ok(grant);
            }
            Acquire::Parked => {}
            Acquire::ParkedStartLogin(start) => self.spawn_login(chain, start),
            Acquire::CoolingDown(e) => {
                tracing::debug!(target: "seamless", chain, "login cooling down after a failure; failing fast");
                return Err(Error::login(e));
            }
        }
        let Some(rx) = rx else {
            unreachable!("the core parks only through the closure")
        };
        Parking::new(self, chain, rx).wait().await
    }

    /// Reusable mode: the server refused the token of `generation`.
    pub(crate) async fn report_expired(
        self: &Arc<Self>,
        chain: usize,
        generation: u64,
    ) -> Result<Expired, Error> {
        #[cfg(feature = "redis")]
        if let Chains::Fleet(fleet) = &self.chains {
            return fleet.report_expired(self, chain, generation).await;
        }
        Ok(self.with_chain(chain, |c| c.report_expired(generation)))
    }

    /// Single-use: the holder of `generation` is done with it (see
    /// `Chain::release`).
    fn release(self: &Arc<Self>, chain: usize, generation: u64, next: Option<Fresh>) -> Option<Settled> {
        #[cfg(feature = "redis")]
        if let Chains::Fleet(fleet) = &self.chains {
            return Some(fleet.release(self, chain, generation, next));
        }
        if let Some(start) = self.with_chain(chain, |c| c.release(generation, next)) {
            self.spawn_login(chain, start);
        }
        None
    }

    /// Single-use: a token granted but never sent goes back to its chain.
    fn give_back(self: &Arc<Self>, chain: usize, grant: Grant) -> Option<Settled> {
        #[cfg(feature = "redis")]
        if let Chains::Fleet(fleet) = &self.chains {
            return Some(fleet.give_back(self, chain, grant));
        }
        self.with_chain(chain, |c| c.give_back(grant));
        None
    }

    /// The login numbered `login` ended.
    fn login_done(self: &Arc<Self>, chain: usize, login: u64, result: Result<Fresh, Failure>, now: Instant) {
        #[cfg(feature = "redis")]
        if let Chains::Fleet(fleet) = &self.chains {
            return fleet.login_done(self, chain, login, result);
        }
        let _ = login;
        self.with_chain(chain, |c| c.login_done(result, now));
    }

    /// The state of each chain, for [`crate::Client::chain_status`].
    pub(crate) fn status(&self) -> Vec<ChainStatus> {
        let cells = match &self.chains {
            Chains::Local { cells, .. } => cells,
            #[cfg(feature = "redis")]
            Chains::Fleet(fleet) => return fleet.status(),
        };
        let now = Instant::now();
        cells.iter().map(|c| chain_status(&lock(c).status(now))).collect()
    }

    /// Runs `f` on a chain of this process under its lock, then writes
    /// whatever the store must see, still under the lock so saves keep
    /// their order. A shared chain has no such section: `fleet` decides
    /// on what the shared store holds.
    fn with_chain<R>(&self, index: usize, f: impl FnOnce(&mut Chain<Parked, Failure>) -> R) -> R {
        #[allow(irrefutable_let_patterns, reason = "refutable with the `redis` feature")]
        let Chains::Local { cells, claim } = &self.chains else {
            unreachable!("only chains of this process have a section")
        };
        let mut chain = lock(&cells[index]);
        let r = f(&mut chain);
        persist::save_journal(&**claim.store(), index, &mut chain);
        #[cfg(test)]
        if let Some(check) = &self.model.after_section {
            check(&chain);
        }
        r
    }

    /// True when the store may not hold the chain's latest state (its last
    /// save failed). Shared chains are saved with every decision, so they
    /// never are in that state.
    fn save_failed(&self, chain: usize) -> bool {
        match &self.chains {
            Chains::Local { .. } => self.with_chain(chain, |c| c.save_failure().is_some()),
            #[cfg(feature = "redis")]
            Chains::Fleet(_) => false,
        }
    }

    /// Single-use: the error to fail a call with instead of sending its
    /// token, when the store could not record that the token is on the wire
    /// (it may still hold it, and a crash would resume it spent). Taking the
    /// lock also waits for the save of a hand-off still in progress.
    fn unsaved(&self, chain: usize) -> Option<Error> {
        if !matches!(self.chains, Chains::Local { .. }) {
            return None;
        }
        let why = self.with_chain(chain, |c| c.save_failure().map(str::to_owned))?;
        Some(Error::store(std::io::Error::other(format!(
            "the token store could not record that the token is in use, so it was not sent: {why}"
        ))))
    }

    fn spawn_login(self: &Arc<Self>, chain: usize, start: StartLogin) {
        login_task::spawn(Arc::clone(self), chain, start);
    }
}

fn chain_status(s: &Status<'_, Failure>) -> ChainStatus {
    ChainStatus {
        generation: s.generation,
        has_token: s.ready,
        in_flight: s.held,
        logging_in: s.logging_in,
        waiters: s.waiters,
        failed_logins_in_a_row: s.failures,
        login_blocked_for: s.blocked_for,
        last_login_error: s.last_error.cloned(),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The core never panics mid-update, so a poisoned lock holds consistent state.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One chain's state, from [`Client::chain_status`](crate::Client::chain_status).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChainStatus {
    /// How many tokens this chain has held (logins and rotations).
    pub generation: u64,
    /// A token is ready to send.
    pub has_token: bool,
    /// A single-use token is out with a request whose reply will carry the next.
    pub in_flight: bool,
    /// A login is running.
    pub logging_in: bool,
    /// Callers parked until a token arrives.
    pub waiters: usize,
    /// Logins that failed in a row (0 once one succeeds).
    pub failed_logins_in_a_row: u32,
    /// How long calls keep failing fast with `last_login_error` before the
    /// next login may start; `None` when a call may start one now.
    pub login_blocked_for: Option<Duration>,
    /// The error of the last login, while it is the latest word.
    pub last_login_error: Option<Arc<LoginError>>,
}
