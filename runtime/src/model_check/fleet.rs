//! The model check of the shared (fleet) protocol: processes as loom
//! threads, each deciding with the real `session/fleet/step.rs` (so the
//! real `core.rs`) on what a simulated Redis returns; the simulated store
//! runs the write script's compare-and-set and lock rules atomically (one
//! loom mutex), and a crashed process is one whose lock keys vanish, as
//! Redis expires them. Every interleaving of the store operations is
//! explored within a preemption bound.
//!
//! A process's call follows the agent (`session/fleet/agent.rs`): read,
//! decide (`failure_of` for the login it waits for, else `acquire`),
//! compare-and-set; told to wait, it reads again (the agent would on an
//! announcement or its fallback poll). What the real agent adds, a queue
//! of a process's own callers and Redis IO, is not modelled here; the
//! Lua scripts themselves run against a real Redis in `tests/fleet.rs`.
//!
//! Every explored execution must satisfy, fleet-wide:
//! - single-use: no token value is sent twice, at most one process holds
//!   the chain's token at a time;
//! - at most one login runs at a time, and each scenario pins how many
//!   logins it causes (one per expiry, plus one per crash that cost a
//!   token or a login);
//! - a refusal of a token already replaced causes no login;
//! - a login failure reaches the caller of every process that waited;
//! - the chain's generation and version never go back;
//! - every call ends (a bounded number of rounds: no livelock), also
//!   when another process died holding the token or leading the login.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use loom::sync::{Condvar, Mutex};

use crate::core::{Acquire, Backoff, Fresh, Mode};
use crate::error::LoginError;
use crate::secret::Secret;
use crate::session::fleet::record::{Clock, Record};
use crate::session::fleet::step::{Absent, Local, LockOp, Party, Seen, Shared, Write, step};

/// A call that is told to wait this many times has livelocked (each wait
/// ends only when the chain changed, so a few are the most a call sees).
const MAX_ROUNDS: usize = 32;

/// What one process does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    /// One call: acquire, send, and (single-use) pass the successor on;
    /// reusable: a refusal is reported and the call replayed once.
    Call,
    /// Dies (SIGKILL) right after it is granted the single-use token: the
    /// request was sent, no successor will come.
    CrashHolding,
    /// Dies right after it commits the start of a login; if another
    /// process leads, it makes an ordinary call.
    CrashLeading,
    /// Its write that takes the single-use token reaches the store, but the
    /// answer is lost (a timeout): it never learns it holds the token, and
    /// calls again.
    LosesGrant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Sent,
    LoginFailed,
    Crashed,
}

#[derive(Clone, Debug)]
struct Scenario {
    mode: Mode,
    processes: &'static [Act],
    logins: RangeInclusive<usize>,
    /// The chain starts with a token (generation 1) in the store.
    resumed: bool,
    /// Reusable: the server refuses tokens of this generation and older.
    reject_upto: u64,
    /// The first login fails (with a cool-down that outlasts the run).
    first_login_fails: bool,
    /// Expected outcome of every call that did not crash.
    expect: Outcome,
    /// The store ignores the compare-and-set (to show the check fails).
    broken_cas: bool,
    /// A dead process's locks never expire (to show the check fails).
    immortal_locks: bool,
}

/// The simulated Redis: the chain's three keys.
#[derive(Debug, Default)]
struct Keys {
    version: Option<u64>,
    record: Record,
    login: Option<String>,
    lease: Option<String>,
}

/// What the model's world shares: the store and the ghost state the
/// invariants are checked against.
struct World {
    sc: Scenario,
    store: Mutex<Keys>,
    /// Signalled on every write and crash: what the agent learns from an
    /// announcement, or from its fallback poll for a lock that expired.
    changed: Condvar,
    /// Outside loom: ghost bookkeeping adds no schedule point.
    ghost: StdMutex<Ghost>,
    next_token: AtomicUsize,
}

#[derive(Debug, Default)]
struct Ghost {
    sent: BTreeSet<String>,
    holders: usize,
    logins_running: usize,
    logins: usize,
    last_generation: u64,
    last_version: u64,
}

const SERVER_MS: u64 = 1_000_000_000;

impl World {
    fn new(sc: Scenario) -> World {
        let mut keys = Keys::default();
        if sc.resumed {
            keys.version = Some(1);
            keys.record = Record {
                generation: 1,
                token: Some("t0".to_owned()),
                ..Record::default()
            };
        }
        World {
            sc,
            store: Mutex::new(keys),
            changed: Condvar::new(),
            ghost: StdMutex::new(Ghost::default()),
            next_token: AtomicUsize::new(1),
        }
    }

    fn party(&self, process: usize) -> Party {
        Party {
            me: format!("p{process}"),
            mode: self.sc.mode,
            backoff: Backoff {
                initial: Duration::from_secs(3600),
                max: Duration::from_secs(3600),
            },
            exclusive: false,
            lease_ttl: Duration::from_secs(5),
            login_ttl: Duration::from_secs(5),
            idle_ttl: Duration::from_secs(60),
        }
    }

    fn ghost(&self) -> std::sync::MutexGuard<'_, Ghost> {
        self.ghost.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// READ, atomically.
    fn read(&self) -> Seen {
        let keys = self.store.lock().unwrap();
        seen(&keys)
    }

    /// WRITE, atomically: compare-and-set, then the lock rules.
    fn write(&self, w: &Write) -> Result<u64, Box<Seen>> {
        let mut keys = self.store.lock().unwrap();
        if keys.version != w.expected && !self.sc.broken_cas {
            return Err(Box::new(seen(&keys)));
        }
        for (held, op) in [(&keys.login, &w.login), (&keys.lease, &w.lease)] {
            if op.take.is_some() && held.is_some() && *held != op.release {
                panic!("a lock held by a live owner ({held:?}) was taken: {op:?}");
            }
        }
        let version = keys.version.map_or(1000, |v| v + 1);
        let mut g = self.ghost();
        assert!(version > g.last_version, "the version went back");
        assert!(
            w.record.generation >= g.last_generation,
            "the generation went back"
        );
        g.last_version = version;
        g.last_generation = w.record.generation;
        drop(g);
        keys.version = Some(version);
        keys.record = w.record.clone();
        apply(&mut keys.login, &w.login);
        apply(&mut keys.lease, &w.lease);
        self.changed.notify_all();
        Ok(version)
    }

    /// Blocks until the chain differs from `seen` (a parked caller waiting
    /// for news). A wake-up that never comes leaves every thread blocked,
    /// which loom reports as a deadlock.
    fn wait_change(&self, seen: &Seen) {
        let mut keys = self.store.lock().unwrap();
        while keys.version == seen.version && keys.login == seen.login_lock && keys.lease == seen.lease_lock {
            keys = self.changed.wait(keys).unwrap();
        }
    }

    /// The process died: its locks expire.
    fn crash(&self, process: usize) {
        if self.sc.immortal_locks {
            return;
        }
        let mut keys = self.store.lock().unwrap();
        let mine = |v: &Option<String>| {
            v.as_deref()
                .is_some_and(|o| o.starts_with(&format!("p{process}/")))
        };
        if mine(&keys.login) {
            keys.login = None;
        }
        if mine(&keys.lease) {
            keys.lease = None;
        }
        self.changed.notify_all();
    }

    /// Runs `op` until its write commits (the agent's `commit`); returns
    /// its answer, the chain as it left it (to wait on) and the state the
    /// decision was made on (what the agent keeps when a write times out).
    fn decide<R>(
        &self,
        party: &Party,
        local: Local<'_>,
        op: &mut dyn FnMut(&mut Shared) -> R,
    ) -> (R, Seen, Record) {
        let mut seen = self.read();
        loop {
            let (answer, write) = step(&seen, party, local, op);
            let decided_on = seen.record.clone();
            let Some(w) = write else {
                return (answer, seen, decided_on);
            };
            match self.write(&w) {
                Ok(version) => {
                    apply(&mut seen.login_lock, &w.login);
                    apply(&mut seen.lease_lock, &w.lease);
                    seen.version = Some(version);
                    seen.record = w.record;
                    return (answer, seen, decided_on);
                }
                Err(now) => seen = *now,
            }
        }
    }

    fn commit<R>(&self, party: &Party, local: Local<'_>, op: &mut dyn FnMut(&mut Shared) -> R) -> R {
        self.decide(party, local, op).0
    }

    fn token(&self) -> Secret {
        Secret::new(format!("t{}", self.next_token.fetch_add(1, Ordering::Relaxed)))
    }

    /// Runs a login this process leads and records its end.
    fn login(&self, party: &Party, login: u64) {
        let fails = {
            let mut g = self.ghost();
            g.logins += 1;
            g.logins_running += 1;
            assert_eq!(g.logins_running, 1, "two logins ran at once");
            self.sc.first_login_fails && g.logins == 1
        };
        let result = if fails {
            Err(Arc::new(LoginError::Rejected {
                status: None,
                message: "model".into(),
            }))
        } else {
            Ok(Fresh {
                token: self.token(),
                expires_at: None,
                valid_until: None,
                refresh: None,
            })
        };
        self.ghost().logins_running -= 1;
        let now = Instant::now();
        let local = Local {
            leading: Some(login),
            ..Local::default()
        };
        self.commit(party, local, &mut |c| {
            if c.is_logging_in() && c.logins() == login {
                c.login_done(result.clone(), now);
            }
        });
    }

    /// One process.
    fn process(&self, index: usize, act: Act) -> Outcome {
        let party = self.party(index);
        let mut awaits = None;
        let mut replayed = false;
        // What writes whose answer was lost were decided on (`LosesGrant`).
        let mut uncertain = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let local = Local {
                uncertain: &uncertain,
                ..Local::default()
            };
            let ((failed, acquired), decided_on, before) = self.decide(&party, local, &mut |c| {
                if let Some(login) = awaits
                    && c.failure_of(login).is_some()
                {
                    return (true, None);
                }
                let awaited = c.awaited_login();
                (false, Some((c.acquire(Instant::now(), || Absent), awaited)))
            });
            if failed {
                return Outcome::LoginFailed;
            }
            uncertain.clear();
            let (acquired, awaited) = acquired.expect("decided");
            let grant = match acquired {
                Acquire::Granted(grant) => grant,
                Acquire::GrantedStartLogin(grant, start) => {
                    self.login(&party, start.login);
                    grant
                }
                Acquire::Parked => {
                    awaits.get_or_insert(awaited);
                    self.wait_change(&decided_on);
                    continue;
                }
                Acquire::ParkedStartLogin(start) => {
                    awaits.get_or_insert(awaited);
                    if act == Act::CrashLeading {
                        self.ghost().logins += 1;
                        self.crash(index);
                        return Outcome::Crashed;
                    }
                    self.login(&party, start.login);
                    continue;
                }
                Acquire::CoolingDown(_) => return Outcome::LoginFailed,
            };
            if act == Act::LosesGrant && uncertain.is_empty() && self.sc.mode == Mode::SingleUse && !replayed
            {
                // The write took the lease, the answer never came.
                uncertain.push(before);
                replayed = true;
                continue;
            }
            // Sent.
            let token = grant.token.expose().to_owned();
            if self.sc.mode == Mode::SingleUse {
                let mut g = self.ghost();
                assert!(g.sent.insert(token.clone()), "token {token} was sent twice");
                g.holders += 1;
                assert_eq!(g.holders, 1, "two processes held the single-use token");
                drop(g);
                if act == Act::CrashHolding {
                    self.ghost().holders -= 1;
                    self.crash(index);
                    return Outcome::Crashed;
                }
                let next = Fresh {
                    token: self.token(),
                    expires_at: None,
                    valid_until: None,
                    refresh: None,
                };
                self.ghost().holders -= 1;
                let generation = grant.generation;
                let local = Local {
                    holding: Some(generation),
                    ..Local::default()
                };
                let start = self.commit(&party, local, &mut |c| c.release(generation, Some(next.clone())));
                assert!(start.is_none(), "a shared chain has no parked callers");
                return Outcome::Sent;
            }
            if grant.generation <= self.sc.reject_upto && !replayed {
                replayed = true;
                let generation = grant.generation;
                self.commit(&party, Local::default(), &mut |c| c.report_expired(generation));
                continue;
            }
            assert!(
                grant.generation > self.sc.reject_upto,
                "a refused token was sent again"
            );
            return Outcome::Sent;
        }
        panic!("process {index}'s call never ended (told to wait {MAX_ROUNDS} times)");
    }
}

fn seen(keys: &Keys) -> Seen {
    Seen {
        clock: Clock {
            server_ms: SERVER_MS,
            local: Instant::now(),
        },
        version: keys.version,
        record: keys.record.clone(),
        login_lock: keys.login.clone(),
        lease_lock: keys.lease.clone(),
    }
}

fn apply(lock: &mut Option<String>, op: &LockOp) {
    if op.release.is_some() && *lock == op.release {
        *lock = None;
    }
    if let Some((owner, _)) = &op.take
        && lock.is_none()
    {
        *lock = Some(owner.clone());
    }
}

fn check(sc: Scenario) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = match std::env::var("SEAMLESS_MODEL_DEPTH") {
        Ok(v) if v == "full" => None,
        Ok(v) => Some(v.parse().expect("SEAMLESS_MODEL_DEPTH is a number or `full`")),
        Err(_) => Some(3),
    };
    let executions = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&executions);
    builder.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        let world = Arc::new(World::new(sc.clone()));
        let threads: Vec<_> = sc
            .processes
            .iter()
            .enumerate()
            .map(|(i, &act)| {
                let world = Arc::clone(&world);
                loom::thread::spawn(move || world.process(i, act))
            })
            .collect();
        let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        for (act, outcome) in sc.processes.iter().zip(&outcomes) {
            if *outcome != Outcome::Crashed {
                assert_eq!(
                    *outcome, sc.expect,
                    "{act:?} ended {outcome:?}; all: {outcomes:?}"
                );
            }
        }
        let g = world.ghost();
        assert!(
            sc.logins.contains(&g.logins),
            "{} logins, expected {:?}; outcomes {outcomes:?}",
            g.logins,
            sc.logins
        );
    });
    println!("explored {} executions", executions.load(Ordering::Relaxed));
}

fn scenario(mode: Mode, processes: &'static [Act], logins: RangeInclusive<usize>) -> Scenario {
    Scenario {
        mode,
        processes,
        logins,
        resumed: false,
        reject_upto: 0,
        first_login_fails: false,
        expect: Outcome::Sent,
        broken_cas: false,
        immortal_locks: false,
    }
}

use Act::*;
use Mode::*;

/// Invariant 1: concurrent first calls in several processes, one login.
#[test]
fn fleet_single_use_first_calls_share_one_login() {
    check(scenario(SingleUse, &[Call, Call, Call], 1..=1));
}

/// Invariant 3: a resumed single-use token goes to one process at a time
/// and no value twice; invariant 8: joining costs no login.
#[test]
fn fleet_single_use_resumed_token_is_passed_along_without_a_login() {
    check(Scenario {
        resumed: true,
        ..scenario(SingleUse, &[Call, Call, Call], 0..=0)
    });
}

/// Invariant 4: the process holding the token dies; the token counts as
/// spent and the others finish after one login.
#[test]
fn fleet_single_use_dead_holder_costs_one_login_and_no_reuse() {
    check(Scenario {
        resumed: true,
        ..scenario(SingleUse, &[CrashHolding, Call], 0..=1)
    });
}

/// Invariant 4: the process leading the login dies; another leads.
#[test]
fn fleet_dead_login_leader_is_replaced_by_one_login() {
    check(scenario(SingleUse, &[CrashLeading, Call], 1..=2));
}

/// Invariants 1 and 2, reusable: both processes' tokens are refused; one
/// login, and the later refusal (of a replaced token) only replays.
#[test]
fn fleet_reusable_refusals_of_one_generation_cause_one_login() {
    check(Scenario {
        resumed: true,
        reject_upto: 1,
        ..scenario(Reusable, &[Call, Call], 1..=1)
    });
}

/// Invariant 5: the login fails; every process's caller gets the failure,
/// and the cool-down stops a second login.
#[test]
fn fleet_login_failure_reaches_every_process() {
    check(Scenario {
        first_login_fails: true,
        expect: Outcome::LoginFailed,
        ..scenario(SingleUse, &[Call, Call], 1..=1)
    });
}

/// The checker can fail: a store that ignores the compare-and-set lets
/// two processes decide on the same version.
#[test]
#[should_panic]
fn fleet_a_store_without_compare_and_set_is_caught() {
    check(Scenario {
        broken_cas: true,
        ..scenario(SingleUse, &[Call, Call], 1..=1)
    });
}

/// The checker can fail: if a dead holder's lease never expired, the other
/// process would wait forever (loom reports the deadlock).
#[test]
#[should_panic]
fn fleet_a_lease_that_never_expires_is_caught() {
    check(Scenario {
        resumed: true,
        immortal_locks: true,
        ..scenario(SingleUse, &[CrashHolding, Call], 0..=1)
    });
}

/// A write that took the single-use token reached the store but its answer
/// was lost: the process, knowing the token never left it, gives it back
/// on its next decision; no login, no token sent twice, nobody stranded.
#[test]
fn fleet_a_lost_answer_to_a_grant_gives_the_token_back() {
    check(Scenario {
        resumed: true,
        ..scenario(SingleUse, &[LosesGrant, Call], 0..=0)
    });
}
