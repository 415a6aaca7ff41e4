//! Model checks of the sessions (`session/`) and the core (`core.rs`) with
//! [loom]: the real `Sessions`, `Lease`, `Parking` and login task, run with
//! loom's mutex in place of std's (`crate::loom`), every interleaving
//! explored within a preemption bound.
//!
//! An execution is one chain, two or three caller threads each running a
//! script of calls ([`Act`]), and a login thread that runs the login tasks
//! the sessions spawn, with a model login that succeeds or fails as the
//! scenario says. The model store and the model server record what the
//! sessions save and what the callers send.
//!
//! # What every explored execution must satisfy
//!
//! - Single-use: no token value is sent twice; at most one lease is out at
//!   any moment; sent generations strictly increase; the store never holds
//!   a token that is on the wire or spent.
//! - A login runs only while the chain is logging in, only one at a time,
//!   and a second one for a generation only after the first failed; each
//!   scenario pins how many logins it may cause.
//! - A refresh token is offered to at most one login, and the store has
//!   dropped it by then.
//! - The generation never decreases; the store holds a token when one is
//!   ready, none while it is held, and otherwise at most one past its
//!   lifetime.
//! - Every call ends with a lease or the login error. A lost wake-up leaves
//!   a thread blocked, which loom reports as a deadlock; at the end nobody
//!   is parked, no login runs and nothing is held.
//!
//! The `*_is_caught` tests break a guard of the real code on purpose
//! ([`Fault`]) and expect the checker to fail, so a checker that can no
//! longer fail does not go unnoticed.
//!
//! # Bounds
//!
//! Each scenario has two or three callers, each making one or two calls.
//! In CI (`cargo test --workspace`) scenarios with two callers are explored
//! exhaustively, with no preemption bound; those with three within
//! [`CI_PREEMPTIONS_THREE_CALLERS`] preemptions, exhaustively within it
//! (all of them together take about ten seconds in a debug build). Set
//! `SEAMLESS_MODEL_DEPTH=<n>` for a bound of `n` preemptions everywhere,
//! or `SEAMLESS_MODEL_DEPTH=full` for none (about two minutes).
//! `cargo test -p seamless-sdk-runtime model_check -- --nocapture` prints
//! how many executions each scenario explored.
//!
//! [loom]: https://docs.rs/loom

use std::mem::ManuallyDrop;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::core::Mode;
use crate::session::Fault;

mod cancel;
mod executor;
#[cfg(feature = "redis")]
mod fleet;
mod ghost;
mod reusable;
mod single_use;
mod world;

pub(crate) use executor::spawn;
use world::World;

/// Preemptions explored per execution in CI with three callers (plus the
/// login thread); with two, exploration is unbounded.
const CI_PREEMPTIONS_THREE_CALLERS: usize = 3;

/// One call of a caller's script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    /// Send. Single-use: the reply carries the successor. Reusable: the
    /// server judges the token; an expiry is reported and the call replayed.
    Use,
    /// Single-use: sent, and no reply comes (a lost or stalled reply, a
    /// transport error after sending): the token is spent.
    Spend,
    /// Cancelled before sending, whether granted (the lease is dropped
    /// unsent, as after a failed connect) or parked.
    Cancel,
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Sent,
    /// The login failed, or its cool-down had not passed.
    LoginFailed,
    OutOfReplays,
    Cancelled,
    /// The parked caller's sender was dropped undelivered: never allowed.
    Aborted,
    /// Any other error: never allowed.
    Failed,
}

/// How a scenario differs from a chain that starts without a token and
/// whose logins all succeed.
#[derive(Clone, Copy, Debug)]
enum Setup {
    /// The chain resumes a stored token (generation 1).
    Resumed,
    /// The resumed token is past its lifetime.
    Stale,
    /// The resumed token is past its renewal time but still valid.
    Due,
    /// Logins return a refresh token, and a resumed chain has one.
    Refresh,
    /// Reusable: the server rejects tokens of this generation and older.
    RejectUpTo(u64),
    /// These logins fail, by number from 0; the others succeed.
    Failing(&'static [u32]),
    /// A failed login starts a cool-down that outlasts the execution.
    CoolDown,
    /// A guard of the real code is broken.
    Broken(Fault),
}

#[derive(Clone, Debug)]
struct Scenario {
    mode: Mode,
    callers: &'static [&'static [Act]],
    /// How many logins the scenario may cause, in every execution.
    logins: RangeInclusive<u32>,
    resumed: bool,
    stale: bool,
    due: bool,
    refresh: bool,
    reject_upto: u64,
    failing: &'static [u32],
    cooldown: bool,
    fault: Fault,
}

impl Scenario {
    fn new(
        mode: Mode,
        callers: &'static [&'static [Act]],
        logins: RangeInclusive<u32>,
        setup: &[Setup],
    ) -> Self {
        let mut sc = Scenario {
            mode,
            callers,
            logins,
            resumed: false,
            stale: false,
            due: false,
            refresh: false,
            reject_upto: 0,
            failing: &[],
            cooldown: false,
            fault: Fault::None,
        };
        for s in setup {
            match *s {
                Setup::Resumed => sc.resumed = true,
                Setup::Stale => (sc.resumed, sc.stale) = (true, true),
                Setup::Due => (sc.resumed, sc.due) = (true, true),
                Setup::Refresh => sc.refresh = true,
                Setup::RejectUpTo(generation) => sc.reject_upto = generation,
                Setup::Failing(logins) => sc.failing = logins,
                Setup::CoolDown => sc.cooldown = true,
                Setup::Broken(fault) => sc.fault = fault,
            }
        }
        sc
    }
}

/// The preemption bound: `SEAMLESS_MODEL_DEPTH` (`full` for none), else
/// CI's for this many callers.
fn preemption_bound(callers: usize) -> Option<usize> {
    match std::env::var("SEAMLESS_MODEL_DEPTH") {
        Ok(v) if v == "full" => None,
        Ok(v) => Some(v.parse().expect("SEAMLESS_MODEL_DEPTH is a number or `full`")),
        Err(_) if callers <= 2 => None,
        Err(_) => Some(CI_PREEMPTIONS_THREE_CALLERS),
    }
}

/// Explores every execution of the scenario within the bounds.
fn check(mode: Mode, callers: &'static [&'static [Act]], logins: RangeInclusive<u32>, setup: &[Setup]) {
    let scenario = Scenario::new(mode, callers, logins, setup);
    assert!(scenario.callers.len() <= 3, "loom runs at most 5 threads");
    let mut builder = loom::model::Builder::new();
    let bound = preemption_bound(scenario.callers.len());
    builder.preemption_bound = bound;
    // Login contexts carry an HTTP client the model never uses; one for all.
    let http = reqwest::Client::new();
    let executions = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&executions);
    builder.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        let world = Arc::new(World::new(scenario.clone(), http.clone()));
        // Dropped only if the execution passes: dropping the sessions wakes
        // their parked callers, which a failing execution's teardown must
        // not reach into loom for.
        let keep = ManuallyDrop::new(Arc::clone(&world));
        let login = {
            let world = Arc::clone(&world);
            loom::thread::spawn(move || world.login_thread())
        };
        let callers: Vec<_> = scenario
            .callers
            .iter()
            .map(|&script| {
                let world = Arc::clone(&world);
                loom::thread::spawn(move || world.caller(script))
            })
            .collect();
        let outcomes: Vec<_> = callers.into_iter().map(|h| h.join().unwrap()).collect();
        executor::close();
        login.join().unwrap();
        world.check_end(&outcomes);
        drop(ManuallyDrop::into_inner(keep));
    });
    // Shown with `--nocapture`.
    println!(
        "explored {} executions (preemption bound {:?})",
        executions.load(Ordering::Relaxed),
        bound
    );
}
