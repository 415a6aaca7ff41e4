//! Model checking of the coordination core (`core.rs`) with [loom].
//!
//! # Why loom
//!
//! The core has no synchronisation of its own: the driver calls it under one
//! mutex per chain, so the interleavings that matter are those of whole
//! critical sections, of waiter deliveries (a one-shot per parked caller)
//! and of cancellations (a caller closing its one-shot, or handing back an
//! unsent grant). That is four or five threads with a handful of
//! synchronisation points each, which loom explores *exhaustively* (dynamic
//! partial-order reduction under a preemption bound): within the bounds
//! below a passing run covers every schedule, it is not a sample. shuttle
//! (randomised and PCT schedules with an iteration budget) scales to bigger
//! programs but only gives a probability, and nothing here needs the scale:
//! the largest model below has about 30,000 executions in CI.
//! loom is the tokio project's checker (tokio-rs/loom, started by Carl
//! Lerche, released by the tokio maintainers; 0.7.3 is from November 2026)
//! and checks tokio's own synchronisation code. It adds only `generator`
//! (its coroutines) and `scoped-tls` to this workspace's test builds.
//!
//! The crate is not compiled with `--cfg loom` (tokio would swap in loom's
//! types everywhere); the model calls `loom::model::Builder` directly and
//! uses `loom::sync` and `loom::thread` only here, around the unchanged core.
//!
//! # The model
//!
//! One chain (chains are independent). Up to three *caller* threads and one
//! *login* thread, plus the main thread that joins them and checks the end
//! state. Every core call happens under one loom mutex, as `with_chain` does
//! in the driver, and the journal is drained under it into a model store.
//!
//! - A caller runs a script of calls ([`Act`]): acquire (or park on its
//!   one-shot, waiting on a loom condvar), then send and release with a
//!   successor, send and lose the successor (`release(None)`: the token is
//!   spent), report an expiry and replay (reusable), or be cancelled: a
//!   granted caller gives its unsent grant back (`Lease` dropped unsent), a
//!   parked caller closes its one-shot and gives back a token that already
//!   arrived (`Parking` dropped), so a later delivery fails and the core
//!   must pass the token on.
//! - A caller that gets a `StartLogin` queues it for the login thread (the
//!   driver's `spawn_login`); the login thread serves it outside the lock,
//!   succeeding or failing as the scenario says, and calls `login_done`.
//! - A model server judges what is sent: single-use token values are
//!   recorded as spent; reusable tokens up to a generation are rejected.
//!
//! # What every explored execution must satisfy
//!
//! - Single-use: no token value is sent twice; at most one grant is out at
//!   any moment (counted at `Granted` and at every accepted delivery, down
//!   at `release` and `give_back`); sent generations strictly increase; the
//!   store never holds a token that is on the wire or spent.
//! - At most one login in flight; a login starts only for the chain's
//!   current generation, and only once per generation unless the earlier
//!   login for it failed (a stale `report_expired` starts none); each
//!   scenario also pins the exact number of logins it may cause.
//! - A refresh token is offered to at most one login, and the store drops
//!   it as soon as it is offered.
//! - The generation never decreases; after every critical section the store
//!   (the journal replayed) holds a token when the slot is `Ready`, none
//!   while it is `Held`, and otherwise at most one past its renewal time.
//! - Every call ends with a grant or the login error; no waiter is ever
//!   dropped undelivered. A lost wakeup leaves a caller blocked on its
//!   condvar, which loom reports as a deadlock; at the end no waiter is left
//!   parked, no login runs and nothing is held.
//!
//! # Bounds
//!
//! Each scenario has two or three callers, each making one or two calls.
//! In CI (`cargo test --workspace`, two cores, debug build) the preemption
//! bound is [`CI_PREEMPTIONS_TWO_CALLERS`] with two callers and
//! [`CI_PREEMPTIONS_THREE_CALLERS`] with three; exploration is exhaustive
//! within it. All scenarios together explore about 200,000 executions in
//! about a minute of one core. Set `SEAMLESS_MODEL_DEPTH=<n>` for a bound of
//! `n` preemptions everywhere (3 takes about ten minutes), or
//! `SEAMLESS_MODEL_DEPTH=full` for none (only practical for two callers).
//! `cargo test -p seamless-sdk-runtime model_check -- --nocapture` prints how
//! many executions each scenario explored.
//!
//! The `*_is_caught` tests run a deliberately broken driver and expect loom
//! to fail, so a checker that can no longer fail does not go unnoticed.
//!
//! [loom]: https://docs.rs/loom

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use loom::sync::{Condvar, Mutex, MutexGuard};
use loom::thread;

use crate::core::{Acquire, Backoff, Chain, Delivery, Fresh, Grant, Mode, StartLogin, Waiter};
use crate::secret::Secret;

/// Preemptions explored per execution in CI, with two callers (plus the
/// login thread).
const CI_PREEMPTIONS_TWO_CALLERS: usize = 3;
/// With three callers, whose state space grows about twentyfold per
/// extra preemption.
const CI_PREEMPTIONS_THREE_CALLERS: usize = 2;

/// How often a reusable call replays after an expiry (the driver's default).
const MAX_REPLAYS: u32 = 1;

/// The login error: the number of the login that failed.
type Failure = u32;

/// One call of a caller's script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    /// Send. Single-use: the reply carries the successor. Reusable: the
    /// server judges the token; an expiry is reported and the call replayed.
    Use,
    /// Single-use: sent, but no successor comes back (a lost or stalled
    /// reply, a transport error after sending, a 408 without a token): the
    /// token is spent.
    Spend,
    /// Cancelled before sending, whether granted (the lease is dropped
    /// unsent, as after a failed connect) or parked.
    Cancel,
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Sent,
    LoginFailed,
    CoolingDown,
    OutOfReplays,
    Cancelled,
    /// The one-shot's sender was dropped undelivered: never allowed.
    Aborted,
}

/// A broken driver, to show the checker fails when it should.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// The one-shot accepts a delivery after its caller went away, so the
    /// token is stranded with nobody.
    DeliverToTheGone,
    /// A cancelled holder sends its token anyway and still gives it back.
    SendThenGiveBack,
}

#[derive(Clone, Debug)]
struct Scenario {
    mode: Mode,
    /// The chain resumes a stored token (generation 1) instead of starting empty.
    resumed: bool,
    /// The resumed token is past its renewal time.
    stale: bool,
    /// The resumed token is past its renewal time but still valid.
    due: bool,
    /// Logins return a refresh token, and a resumed chain has one.
    refresh: bool,
    /// Reusable: the server rejects tokens of this generation and older.
    reject_upto: u64,
    /// Logins that fail, by number from 0; the others succeed.
    failing: &'static [u32],
    /// A cool-down after a failed login; time stands still in the model, so
    /// it lasts for the rest of the execution.
    cooldown: bool,
    callers: &'static [&'static [Act]],
    /// How many logins the scenario may cause, in every execution.
    logins: RangeInclusive<u32>,
    fault: Fault,
}

impl Scenario {
    fn new(mode: Mode, callers: &'static [&'static [Act]], logins: RangeInclusive<u32>) -> Self {
        Scenario {
            mode,
            resumed: false,
            stale: false,
            due: false,
            refresh: false,
            reject_upto: 0,
            failing: &[],
            cooldown: false,
            callers,
            logins,
            fault: Fault::None,
        }
    }

    fn resumed(mut self) -> Self {
        self.resumed = true;
        self
    }

    fn stale(mut self) -> Self {
        self.resumed = true;
        self.stale = true;
        self
    }

    fn due(mut self) -> Self {
        self.resumed = true;
        self.due = true;
        self
    }

    fn refresh(mut self) -> Self {
        self.refresh = true;
        self
    }

    fn failing(mut self, failing: &'static [u32]) -> Self {
        self.failing = failing;
        self
    }

    fn cooldown(mut self) -> Self {
        self.cooldown = true;
        self
    }

    fn reject_upto(mut self, generation: u64) -> Self {
        self.reject_upto = generation;
        self
    }

    fn fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }
}

/// What the checker knows beyond the core: the model server, the model
/// store, and counts of grants and logins. Touched only while the world
/// lock is held (also from `Parked::deliver`, which the core calls under
/// it), so a plain std mutex serves and adds no schedule points.
#[derive(Debug, Default)]
struct Ghost {
    /// Single-use grants out: granted or delivered, not yet released or given back.
    out: usize,
    /// Single-use token values the server has seen.
    sent: HashSet<String>,
    last_sent_generation: u64,
    generation: u64,
    /// The store's token, with the instant it must be renewed at.
    store_token: Option<(String, Option<Instant>)>,
    store_refresh: Option<String>,
    login_running: bool,
    logins: u32,
    started_after: HashMap<u64, u32>,
    failed_after: HashMap<u64, u32>,
    offered_refresh: HashSet<String>,
    minted: u32,
}

impl Ghost {
    fn mint(&mut self, prefix: &str) -> String {
        self.minted += 1;
        format!("{prefix}{}", self.minted)
    }

    /// A single-use grant went out, directly or through a delivery.
    fn grant_out(&mut self, grant: &Grant) {
        assert_eq!(
            self.out, 0,
            "two holders of one single-use chain (generation {})",
            grant.generation
        );
        self.out += 1;
    }

    /// The server receives a single-use token.
    fn send(&mut self, grant: &Grant) {
        let value = grant.token.expose().to_owned();
        assert_ne!(
            self.store_token.as_ref().map(|(t, _)| t.as_str()),
            Some(value.as_str()),
            "the store holds a token that is on the wire"
        );
        assert!(
            grant.generation > self.last_sent_generation,
            "sent generations went {} then {}",
            self.last_sent_generation,
            grant.generation
        );
        self.last_sent_generation = grant.generation;
        assert!(self.sent.insert(value), "a single-use token was sent twice");
    }
}

/// A parked caller's one-shot (the driver's tokio oneshot). Its state is
/// only touched under the world lock: deliveries happen inside core calls,
/// and the caller checks, waits (on `ready`, with the world lock) and
/// closes under it, so the std mutex never blocks and adds no schedule
/// point; ordering closes and deliveries by the world lock loses nothing,
/// as each is atomic on the real oneshot and concerns only its own caller.
#[derive(Debug, Default)]
struct Shot {
    state: StdMutex<ShotState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct ShotState {
    value: Option<Delivery<Failure>>,
    /// The receiver is gone (the caller was cancelled).
    closed: bool,
    /// The sender was dropped undelivered.
    dropped: bool,
}

/// The core's view of a parked caller.
#[derive(Debug)]
struct Parked {
    shot: Option<Arc<Shot>>,
    ghost: Arc<StdMutex<Ghost>>,
    mode: Mode,
    fault: Fault,
}

impl Waiter<Failure> for Parked {
    fn deliver(mut self, value: Delivery<Failure>) -> Result<(), Delivery<Failure>> {
        let shot = self.shot.take().expect("delivered once");
        let mut s = shot.state.lock().unwrap();
        if s.closed && self.fault != Fault::DeliverToTheGone {
            return Err(value);
        }
        if let (Mode::SingleUse, Ok(grant)) = (self.mode, &value) {
            self.ghost.lock().unwrap().grant_out(grant);
        }
        s.value = Some(value);
        drop(s);
        shot.ready.notify_one();
        Ok(())
    }

    fn is_gone(&self) -> bool {
        // The faulty waiter claims to be alive, as its delivery does.
        self.fault != Fault::DeliverToTheGone
            && self.shot.as_ref().is_some_and(|s| s.state.lock().unwrap().closed)
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Some(shot) = self.shot.take() {
            shot.state.lock().unwrap().dropped = true;
            shot.ready.notify_one();
        }
    }
}

#[derive(Debug)]
struct World {
    chain: Chain<Parked, Failure>,
    /// Logins to run: the driver's `spawn_login`.
    logins: VecDeque<StartLogin>,
    /// Every caller has ended: the login thread may stop.
    done: bool,
}

#[derive(Debug)]
struct Shared {
    world: Mutex<World>,
    /// Wakes the login thread.
    work: Condvar,
    ghost: Arc<StdMutex<Ghost>>,
    scenario: Scenario,
    now: Instant,
}

impl Shared {
    fn new(scenario: Scenario) -> Self {
        let backoff = if scenario.cooldown {
            Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(1),
            }
        } else {
            Backoff {
                initial: Duration::ZERO,
                max: Duration::ZERO,
            }
        };
        let now = Instant::now();
        let mut chain = Chain::new(scenario.mode, backoff);
        let mut ghost = Ghost::default();
        if scenario.resumed {
            let refresh = scenario.refresh.then(|| "F0".to_owned());
            let renew_at = (scenario.stale || scenario.due).then_some(now);
            // Time stands still in the model: a due token stays valid.
            let valid_until = if scenario.due {
                Some(now + Duration::from_secs(3600))
            } else {
                renew_at
            };
            chain.resume(
                Some((Secret::new("T0"), renew_at, valid_until)),
                refresh.clone().map(Secret::from),
            );
            ghost.generation = 1;
            ghost.store_token = Some(("T0".to_owned(), renew_at));
            ghost.store_refresh = refresh;
        }
        Shared {
            world: Mutex::new(World {
                chain,
                logins: VecDeque::new(),
                done: false,
            }),
            work: Condvar::new(),
            ghost: Arc::new(StdMutex::new(ghost)),
            scenario,
            now,
        }
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }

    fn ghost(&self) -> std::sync::MutexGuard<'_, Ghost> {
        self.ghost.lock().unwrap()
    }

    fn single_use(&self) -> bool {
        self.scenario.mode == Mode::SingleUse
    }

    /// A core call returned a login to start: check it may start, and
    /// queue it for the login thread.
    fn start(&self, w: &mut World, start: StartLogin) {
        let generation = w.chain.status(self.now).generation;
        let mut g = self.ghost();
        assert!(!g.login_running, "a second login started while one runs");
        assert_eq!(
            start.after_generation, generation,
            "a login started for a generation that is not the current one"
        );
        let started = g.started_after.get(&generation).copied().unwrap_or(0);
        let failed = g.failed_after.get(&generation).copied().unwrap_or(0);
        assert_eq!(
            started, failed,
            "a second login for generation {generation} while the first did not fail"
        );
        *g.started_after.entry(generation).or_default() += 1;
        if let Some(r) = &start.refresh {
            assert!(
                g.offered_refresh.insert(r.expose().to_owned()),
                "a refresh token was offered to two logins"
            );
        }
        g.login_running = true;
        g.logins += 1;
        drop(g);
        w.logins.push_back(start);
        self.work.notify_one();
    }

    /// After every critical section: replay the journal into the store and
    /// check the state.
    fn settle(&self, w: &mut World) {
        let snaps: Vec<_> = w.chain.drain_journal().collect();
        let status = w.chain.status(self.now);
        let mut g = self.ghost();
        for snap in snaps {
            g.store_token = snap.token.map(|(t, at)| (t.expose().to_owned(), at));
            g.store_refresh = snap.refresh.map(|r| r.expose().to_owned());
        }
        assert!(
            status.generation >= g.generation,
            "the generation went back from {} to {}",
            g.generation,
            status.generation
        );
        g.generation = status.generation;
        // The store holds the ready token; it may also keep one past its
        // renewal time (the core empties the slot without a journal entry
        // when it renews before sending), never anything else.
        match &g.store_token {
            None => assert!(!status.ready, "a token is ready but the store has none"),
            Some((_, at)) => assert!(
                status.ready || at.is_some_and(|at| at <= self.now),
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
        if let Some(r) = &g.store_refresh {
            assert!(
                !g.offered_refresh.contains(r),
                "the store kept an offered refresh token"
            );
        }
        assert_eq!(
            status.logging_in, g.login_running,
            "login in flight, core vs model"
        );
        if self.single_use() {
            if let Some((t, _)) = &g.store_token {
                assert!(!g.sent.contains(t), "the store holds a spent single-use token");
            }
            assert_eq!(
                g.out,
                usize::from(status.held),
                "grants out vs the slot being held"
            );
        } else {
            assert!(!status.held, "a reusable chain was held");
        }
    }

    fn parked(&self, shot: &Arc<Shot>) -> Parked {
        Parked {
            shot: Some(Arc::clone(shot)),
            ghost: Arc::clone(&self.ghost),
            mode: self.scenario.mode,
            fault: self.scenario.fault,
        }
    }

    /// `Inner::acquire`: a grant, or how the call ended.
    fn acquire(&self, cancel: bool) -> Result<Grant, Outcome> {
        let shot = Arc::new(Shot::default());
        let mut w = self.lock();
        let got = w.chain.acquire(self.now, || self.parked(&shot));
        match got {
            Acquire::Granted(grant) => {
                if self.single_use() {
                    self.ghost().grant_out(&grant);
                }
                self.settle(&mut w);
                return Ok(grant);
            }
            Acquire::GrantedStartLogin(grant, start) => {
                self.start(&mut w, start);
                self.settle(&mut w);
                return Ok(grant);
            }
            Acquire::Parked => self.settle(&mut w),
            Acquire::ParkedStartLogin(start) => {
                self.start(&mut w, start);
                self.settle(&mut w);
            }
            Acquire::CoolingDown(_) => {
                self.settle(&mut w);
                return Err(Outcome::CoolingDown);
            }
        }
        if cancel {
            // `Parking` dropped, later: close, and give back what already arrived.
            drop(w);
            let mut w = self.lock();
            let arrived = {
                let mut s = shot.state.lock().unwrap();
                s.closed = true;
                s.value.take()
            };
            if let Some(Ok(grant)) = arrived {
                self.give_back_locked(&mut w, grant);
            }
            w.chain.forget_departed();
            return Err(Outcome::Cancelled);
        }
        // Waiting releases the world lock, as the driver awaits unlocked.
        loop {
            let mut s = shot.state.lock().unwrap();
            match s.value.take() {
                Some(Ok(grant)) => return Ok(grant),
                Some(Err(_)) => return Err(Outcome::LoginFailed),
                None if s.dropped => return Err(Outcome::Aborted),
                None => {
                    drop(s);
                    w = shot.ready.wait(w).unwrap();
                }
            }
        }
    }

    fn give_back(&self, grant: Grant) {
        let mut w = self.lock();
        self.give_back_locked(&mut w, grant);
    }

    fn give_back_locked(&self, w: &mut World, grant: Grant) {
        if self.single_use() {
            self.ghost().out -= 1;
        }
        w.chain.give_back(grant);
        self.settle(w);
    }

    /// Single-use: the token went out; `next` is what the reply carried.
    fn send_and_release(&self, grant: Grant, rotate: bool) {
        let mut w = self.lock();
        let next = {
            let mut g = self.ghost();
            g.send(&grant);
            g.out -= 1;
            rotate.then(|| g.mint("R"))
        };
        let fresh = next.map(|t| Fresh {
            token: Secret::new(t),
            expires_at: None,
            valid_until: None,
            refresh: None,
        });
        if let Some(start) = w.chain.release(grant.generation, fresh) {
            self.start(&mut w, start);
        }
        self.settle(&mut w);
    }

    /// `Inner::run` for one call of the script.
    fn call(&self, act: Act) -> Outcome {
        let mut replays = 0;
        loop {
            let grant = match self.acquire(act == Act::Cancel) {
                Ok(grant) => grant,
                Err(outcome) => return outcome,
            };
            match (self.scenario.mode, act) {
                (Mode::SingleUse, Act::Cancel) => {
                    if self.scenario.fault == Fault::SendThenGiveBack {
                        self.ghost().send(&grant);
                    }
                    self.give_back(grant);
                    return Outcome::Cancelled;
                }
                (Mode::SingleUse, Act::Use | Act::Spend) => {
                    self.send_and_release(grant, act == Act::Use);
                    return Outcome::Sent;
                }
                // A reusable lease dropped unsent settles nothing.
                (Mode::Reusable, Act::Cancel) => return Outcome::Cancelled,
                (Mode::Reusable, Act::Spend) => unreachable!("single-use scripts only"),
                (Mode::Reusable, Act::Use) => {
                    if grant.generation > self.scenario.reject_upto {
                        return Outcome::Sent;
                    }
                    let mut w = self.lock();
                    w.chain.report_expired(grant.generation);
                    self.settle(&mut w);
                    drop(w);
                    if replays >= MAX_REPLAYS {
                        return Outcome::OutOfReplays;
                    }
                    replays += 1;
                }
            }
        }
    }

    fn caller(&self, script: &[Act]) -> Vec<Outcome> {
        script.iter().map(|&act| self.call(act)).collect()
    }

    /// `LoginTask`: serves queued logins until every caller has ended.
    fn login_thread(&self) {
        loop {
            let start = {
                let mut w = self.lock();
                loop {
                    if let Some(start) = w.logins.pop_front() {
                        break start;
                    }
                    if w.done {
                        return;
                    }
                    w = self.work.wait(w).unwrap();
                }
            };
            // The login runs here, outside the lock.
            let mut w = self.lock();
            let result = {
                let mut g = self.ghost();
                let number = g.logins - 1;
                g.login_running = false;
                if self.scenario.failing.contains(&number) {
                    *g.failed_after.entry(start.after_generation).or_default() += 1;
                    Err(number)
                } else {
                    let token = g.mint("L");
                    let refresh = self.scenario.refresh.then(|| Secret::new(g.mint("F")));
                    Ok(Fresh {
                        token: Secret::new(token),
                        expires_at: None,
                        valid_until: None,
                        refresh,
                    })
                }
            };
            w.chain.login_done(result, self.now);
            self.settle(&mut w);
        }
    }

    /// The end of an execution: every call ended and nothing is stranded.
    fn check_end(&self, outcomes: &[Vec<Outcome>]) {
        let mut w = self.lock();
        self.settle(&mut w);
        let status = w.chain.status(self.now);
        assert!(!status.logging_in, "a login still runs at the end");
        assert!(!status.held, "a token is still held at the end");
        assert_eq!(status.waiters, 0, "waiters left parked at the end");
        assert!(w.logins.is_empty());
        let g = self.ghost();
        assert!(
            self.scenario.logins.contains(&g.logins),
            "{} logins, expected {:?}",
            g.logins,
            self.scenario.logins
        );
        let sc = &self.scenario;
        // A call fails only with a failed login (or its cool-down), or out
        // of replays when even a login's token is rejected.
        // A due token stays valid (time stands still): it is served even
        // when its renewal fails.
        let may_fail_login = !sc.failing.is_empty() && !sc.due;
        let may_run_out = sc.reject_upto > u64::from(sc.resumed);
        for (script, got) in sc.callers.iter().zip(outcomes) {
            assert_eq!(script.len(), got.len());
            for (act, outcome) in script.iter().zip(got) {
                let allowed = match (act, outcome) {
                    (Act::Cancel, Outcome::Cancelled) => true,
                    (Act::Use | Act::Spend, Outcome::Sent) => true,
                    (Act::Use | Act::Spend, Outcome::LoginFailed | Outcome::CoolingDown) => may_fail_login,
                    (Act::Use, Outcome::OutOfReplays) => may_run_out,
                    _ => false,
                };
                assert!(allowed, "{act:?} ended {outcome:?}");
            }
        }
    }
}

/// The preemption bound: `SEAMLESS_MODEL_DEPTH` (`full` for none), else
/// CI's for this many callers.
fn preemption_bound(callers: usize) -> Option<usize> {
    match std::env::var("SEAMLESS_MODEL_DEPTH") {
        Ok(v) if v == "full" => None,
        Ok(v) => Some(v.parse().expect("SEAMLESS_MODEL_DEPTH is a number or `full`")),
        Err(_) if callers <= 2 => Some(CI_PREEMPTIONS_TWO_CALLERS),
        Err(_) => Some(CI_PREEMPTIONS_THREE_CALLERS),
    }
}

/// Explores every execution of `scenario` within the bounds.
fn check(scenario: Scenario) {
    assert!(scenario.callers.len() <= 3, "loom runs at most 5 threads");
    let mut builder = loom::model::Builder::new();
    let bound = preemption_bound(scenario.callers.len());
    builder.preemption_bound = bound;
    let executions = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&executions);
    builder.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared::new(scenario.clone()));
        let login = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || shared.login_thread())
        };
        let callers: Vec<_> = scenario
            .callers
            .iter()
            .map(|&script| {
                let shared = Arc::clone(&shared);
                thread::spawn(move || shared.caller(script))
            })
            .collect();
        let outcomes: Vec<_> = callers.into_iter().map(|h| h.join().unwrap()).collect();
        {
            let mut w = shared.lock();
            w.done = true;
            shared.work.notify_one();
        }
        login.join().unwrap();
        shared.check_end(&outcomes);
    });
    // Shown with `--nocapture`.
    println!(
        "explored {} executions (preemption bound {:?})",
        executions.load(Ordering::Relaxed),
        bound
    );
}

use Act::{Cancel, Spend, Use};
use Mode::{Reusable, SingleUse};

#[test]
fn single_use_rotation_has_one_holder_and_sends_each_token_once() {
    check(Scenario::new(SingleUse, &[&[Use, Use], &[Use]], 0..=0).resumed());
}

#[test]
fn single_use_rotation_three_callers() {
    check(Scenario::new(SingleUse, &[&[Use], &[Use], &[Use]], 0..=0).resumed());
}

#[test]
fn single_use_spent_token_recovers_with_one_login_and_one_refresh() {
    check(
        Scenario::new(SingleUse, &[&[Spend, Use], &[Use]], 1..=1)
            .resumed()
            .refresh(),
    );
}

#[test]
fn single_use_two_spent_tokens_three_callers() {
    check(Scenario::new(SingleUse, &[&[Spend], &[Spend], &[Use]], 1..=2).resumed());
}

#[test]
fn single_use_cancelled_callers_pass_the_token_on() {
    check(Scenario::new(SingleUse, &[&[Cancel, Use], &[Use]], 0..=0).resumed());
}

#[test]
fn single_use_cancelled_waiter_while_the_token_is_spent() {
    check(Scenario::new(SingleUse, &[&[Cancel], &[Spend, Use]], 1..=1).resumed());
}

#[test]
fn single_use_cancelled_login_starter() {
    check(Scenario::new(SingleUse, &[&[Cancel], &[Use]], 1..=1));
}

#[test]
fn single_use_cancel_spend_send_three_callers() {
    check(Scenario::new(SingleUse, &[&[Cancel], &[Spend], &[Use]], 0..=1).resumed());
}

#[test]
fn single_use_failed_login_reaches_every_waiter_and_is_not_sticky() {
    check(Scenario::new(SingleUse, &[&[Use], &[Use, Use]], 1..=2).failing(&[0]));
}

#[test]
fn single_use_cool_down_starts_no_second_login() {
    check(
        Scenario::new(SingleUse, &[&[Use], &[Use, Use]], 1..=1)
            .failing(&[0])
            .cooldown(),
    );
}

#[test]
fn reusable_concurrent_expiry_causes_one_login_and_stale_reports_none() {
    check(
        Scenario::new(Reusable, &[&[Use], &[Use]], 1..=1)
            .resumed()
            .reject_upto(1)
            .refresh(),
    );
}

#[test]
fn reusable_concurrent_expiry_three_callers() {
    check(
        Scenario::new(Reusable, &[&[Use], &[Use], &[Use]], 1..=1)
            .resumed()
            .reject_upto(1),
    );
}

#[test]
fn reusable_first_calls_share_one_login() {
    check(Scenario::new(Reusable, &[&[Use], &[Use], &[Cancel]], 1..=1));
}

#[test]
fn reusable_failed_login_reaches_every_waiter_and_is_not_sticky() {
    check(Scenario::new(Reusable, &[&[Use], &[Use, Use]], 1..=2).failing(&[0]));
}

#[test]
fn reusable_expiry_then_failed_login() {
    check(
        Scenario::new(Reusable, &[&[Use], &[Use]], 1..=2)
            .resumed()
            .reject_upto(1)
            .refresh()
            .failing(&[0]),
    );
}

#[test]
fn reusable_login_token_rejected_too_runs_out_of_replays() {
    check(
        Scenario::new(Reusable, &[&[Use], &[Use]], 1..=2)
            .resumed()
            .reject_upto(2),
    );
}

#[test]
fn reusable_token_past_its_lifetime_is_renewed_once_before_sending() {
    check(Scenario::new(Reusable, &[&[Use], &[Use]], 1..=1).stale());
}

#[test]
fn reusable_token_due_for_renewal_serves_while_one_renewal_runs() {
    check(Scenario::new(Reusable, &[&[Use], &[Use, Use]], 1..=1).due());
}

#[test]
fn reusable_token_due_for_renewal_outlives_a_failed_renewal() {
    check(
        Scenario::new(Reusable, &[&[Use], &[Use, Use]], 1..=1)
            .due()
            .failing(&[0])
            .cooldown(),
    );
}

#[test]
fn single_use_token_past_its_lifetime_is_renewed_once_before_sending() {
    check(
        Scenario::new(SingleUse, &[&[Use], &[Use]], 1..=1)
            .stale()
            .refresh(),
    );
}

#[test]
#[should_panic]
fn a_token_delivered_to_a_gone_caller_is_caught() {
    check(
        Scenario::new(SingleUse, &[&[Cancel, Use], &[Use]], 0..=0)
            .resumed()
            .fault(Fault::DeliverToTheGone),
    );
}

#[test]
#[should_panic(expected = "spent single-use token")]
fn a_sent_token_given_back_is_caught() {
    check(
        Scenario::new(SingleUse, &[&[Cancel], &[Use]], 0..=0)
            .resumed()
            .fault(Fault::SendThenGiveBack),
    );
}
