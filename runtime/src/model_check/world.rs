//! One execution: the real sessions around one chain, and the callers and
//! the login thread that drive them.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdMutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant, SystemTime};

use super::ghost::{Ghost, ModelLogin, ModelStore, check_chain};
use super::{Act, Outcome, Scenario, executor};
use crate::config::Placement;
use crate::core::{Backoff, Chain, Mode};
use crate::error::{Error, LoginError};
use crate::login::LoginContext;
use crate::secret::Secret;
use crate::session::{ChainStatus, Lease, LoginSetup, Model, Sessions, StoreClaim};
use crate::stats::Counters;

/// How often a reusable call replays after an expiry (the driver's default).
const MAX_REPLAYS: u32 = 1;

pub(super) struct World {
    sessions: Arc<Sessions>,
    ghost: Arc<StdMutex<Ghost>>,
    scenario: Scenario,
}

impl World {
    pub(super) fn new(scenario: Scenario, http: reqwest::Client) -> Self {
        // Long enough to outlast any execution: time stands still for the model.
        let cooldown = if scenario.cooldown {
            Duration::from_secs(3600)
        } else {
            Duration::ZERO
        };
        let mut chain = Chain::new(
            scenario.mode,
            Backoff {
                initial: cooldown,
                max: cooldown,
            },
        );
        let mut ghost = Ghost::default();
        if scenario.resumed {
            let now = Instant::now();
            let refresh = scenario.refresh.then(|| "F0".to_owned());
            let renew_at = (scenario.stale || scenario.due).then_some(now);
            // A due token stays valid for the whole execution.
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
            let expires_at = valid_until.map(|at| SystemTime::now() + at.saturating_duration_since(now));
            ghost.store_token = Some(("T0".to_owned(), expires_at));
            ghost.store_refresh = refresh;
        }
        let ghost = Arc::new(StdMutex::new(ghost));
        let store = ModelStore {
            ghost: Arc::clone(&ghost),
            single_use: scenario.mode == Mode::SingleUse,
        };
        let login = LoginSetup {
            login: Arc::new(ModelLogin {
                ghost: Arc::clone(&ghost),
                failing: scenario.failing,
                refresh: scenario.refresh,
            }),
            cx: LoginContext {
                http,
                base: "http://model.invalid".into(),
                envelope: None,
                chain: 0,
                max_response_bytes: 1024,
            },
            placement: Placement::header("b-t"),
            timeout: Duration::from_secs(30),
            expiry_skew: Duration::ZERO,
        };
        let claim = StoreClaim::new(Arc::new(store)).expect("the model store takes any claim");
        let mut sessions = Sessions::new(
            scenario.mode,
            vec![chain],
            claim,
            login,
            Arc::new(Counters::default()),
        );
        let single_use = scenario.mode == Mode::SingleUse;
        let checked = Arc::clone(&ghost);
        sessions.model = Model {
            fault: scenario.fault,
            after_section: Some(Box::new(move |chain| check_chain(&checked, single_use, chain))),
        };
        World {
            sessions: Arc::new(sessions),
            ghost,
            scenario,
        }
    }

    fn ghost(&self) -> StdMutexGuard<'_, Ghost> {
        self.ghost.lock().unwrap()
    }

    fn single_use(&self) -> bool {
        self.scenario.mode == Mode::SingleUse
    }

    fn status(&self) -> ChainStatus {
        self.sessions.status().remove(0)
    }

    /// A lease, or how the call ended. A cancelled call is polled once and
    /// dropped later: granted, its lease goes unsent; parked, its `Parking`
    /// goes.
    fn acquire(&self, cancel: bool) -> Result<Lease, Outcome> {
        let got = if cancel {
            let mut acquire = ManuallyDrop::new(Box::pin(self.sessions.acquire(0)));
            match acquire.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(got) => got,
                Poll::Pending => {
                    // Cancelled some time after parking.
                    loom::thread::yield_now();
                    drop(ManuallyDrop::into_inner(acquire));
                    return Err(Outcome::Cancelled);
                }
            }
        } else {
            run(self.sessions.acquire(0))
        };
        let lease = got.map_err(|e| outcome_of(&e))?;
        if self.single_use() {
            self.ghost().lease_out(lease.generation());
        }
        Ok(lease)
    }

    /// One call of the script, as `Client::call` drives the sessions.
    fn call(&self, act: Act) -> Outcome {
        let mut replays = 0;
        loop {
            let mut lease = match self.acquire(act == Act::Cancel) {
                Ok(lease) => lease,
                Err(outcome) => return outcome,
            };
            let outcome = match (self.scenario.mode, act) {
                // Dropped unsent: the token goes back to the chain.
                (Mode::SingleUse, Act::Cancel) => {
                    self.ghost().out -= 1;
                    drop(lease);
                    Outcome::Cancelled
                }
                (Mode::SingleUse, Act::Use) => {
                    let next = {
                        let mut g = self.ghost();
                        g.send(&lease);
                        g.out -= 1;
                        g.mint("R")
                    };
                    lease.sending();
                    run(lease.replied(Some(Secret::new(next))));
                    Outcome::Sent
                }
                // Sent, and no reply: spent.
                (Mode::SingleUse, Act::Spend) => {
                    {
                        let mut g = self.ghost();
                        g.send(&lease);
                        g.out -= 1;
                    }
                    lease.sending();
                    drop(lease);
                    Outcome::Sent
                }
                (Mode::Reusable, Act::Cancel) => Outcome::Cancelled,
                (Mode::Reusable, Act::Spend) => unreachable!("single-use scripts only"),
                (Mode::Reusable, Act::Use) => {
                    let generation = lease.generation();
                    lease.sending();
                    drop(lease);
                    if generation > self.scenario.reject_upto {
                        Outcome::Sent
                    } else {
                        let _ = run(self.sessions.report_expired(0, generation));
                        if replays >= MAX_REPLAYS {
                            Outcome::OutOfReplays
                        } else {
                            replays += 1;
                            continue;
                        }
                    }
                }
            };
            return outcome;
        }
    }

    pub(super) fn caller(&self, script: &[Act]) -> Vec<Outcome> {
        script.iter().map(|&act| self.call(act)).collect()
    }

    /// Runs the login tasks the sessions spawn (the real login task, with
    /// the model's login) until every caller has ended.
    pub(super) fn login_thread(&self) {
        while let Some(task) = executor::next() {
            let mut g = self.ghost();
            assert!(
                g.logging_in,
                "a login task runs while the chain is not logging in"
            );
            g.logins += 1;
            drop(g);
            run(task);
        }
    }

    /// The end of an execution: every call ended and nothing is stranded.
    pub(super) fn check_end(&self, outcomes: &[Vec<Outcome>]) {
        let status = self.status();
        assert!(!status.logging_in, "a login still runs at the end");
        assert!(!status.in_flight, "a token is still held at the end");
        assert_eq!(status.waiters, 0, "waiters left parked at the end");
        let g = self.ghost();
        assert_eq!(g.out, 0, "a lease is still out at the end");
        let sc = &self.scenario;
        assert!(
            sc.logins.contains(&g.logins),
            "{} logins, expected {:?}",
            g.logins,
            sc.logins
        );
        // A call fails only with a failed login (or its cool-down), or out
        // of replays when even a login's token is rejected. A due token
        // stays valid (time stands still): it is served even when its
        // renewal fails.
        let may_fail_login = !sc.failing.is_empty() && !sc.due;
        let may_run_out = sc.reject_upto > u64::from(sc.resumed);
        for (script, got) in sc.callers.iter().zip(outcomes) {
            assert_eq!(script.len(), got.len());
            for (act, outcome) in script.iter().zip(got) {
                let allowed = match (act, outcome) {
                    (Act::Cancel, Outcome::Cancelled) => true,
                    (Act::Use | Act::Spend, Outcome::Sent) => true,
                    (Act::Use | Act::Spend, Outcome::LoginFailed) => may_fail_login,
                    (Act::Use, Outcome::OutOfReplays) => may_run_out,
                    _ => false,
                };
                assert!(allowed, "{act:?} ended {outcome:?}");
            }
        }
    }
}

/// How a call that got no lease ended.
fn outcome_of(e: &Error) -> Outcome {
    match e.login_error() {
        Some(LoginError::Aborted) => Outcome::Aborted,
        Some(_) => Outcome::LoginFailed,
        None => Outcome::Failed,
    }
}

/// Runs `future` to its end on this loom thread, as `loom::future::block_on`
/// does, but safe to unwind: when an execution fails, loom unwinds every
/// thread, and anything that calls into loom from its drop then aborts the
/// test (`block_on`'s own loom `Arc` does). So the waker is a std `Arc`,
/// and the future, whose real guards would call into loom, is leaked. It
/// sleeps with loom's park rather than its `Notify`, which may wake
/// spuriously and so multiplies the executions to explore.
fn run<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(loom::thread::current())));
    let mut future = ManuallyDrop::new(Box::pin(future));
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            drop(ManuallyDrop::into_inner(future));
            return out;
        }
        loom::thread::park();
    }
}

struct Unpark(loom::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}
