//! One decision on a shared chain, as a pure function: what a read of the
//! store returned goes in, the core decides, and the write that commits
//! the decision comes out. The store applies the write only if the chain's
//! version is still the one read (compare-and-set), so every process runs
//! `core.rs` on the latest state or runs it again. The real driver
//! (`agent.rs`, against Redis) and the model check (`model_check/fleet.rs`,
//! against a simulated store) both go through here, so they cannot drift.

use std::time::Duration;

use super::record::{Clock, Record};
use crate::core::{Backoff, Chain, Grant, Mode, Slot, Waiter};
use crate::session::Failure;

/// What one read of a chain returned.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) clock: Clock,
    /// `None`: no record yet (or it expired); the first write creates it.
    pub(crate) version: Option<u64>,
    pub(crate) record: Record,
    /// What the login lock key holds (`None`: no lock, or it expired).
    pub(crate) login_lock: Option<String>,
    /// What the single-use lease key holds.
    pub(crate) lease_lock: Option<String>,
}

/// A lock key's change, done by the write script with the state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LockOp {
    /// Delete the key if it holds this owner (a lock is released only by
    /// its owner; an expired one is already gone).
    pub(crate) release: Option<String>,
    /// Then `SET key owner NX PX ms`.
    pub(crate) take: Option<(String, u64)>,
}

impl LockOp {
    pub(crate) fn is_noop(&self) -> bool {
        self.release.is_none() && self.take.is_none()
    }
}

/// The write that commits a decision.
#[derive(Clone, Debug)]
pub(crate) struct Write {
    /// Applied only if the chain is still at this version.
    pub(crate) expected: Option<u64>,
    pub(crate) record: Record,
    pub(crate) ttl_ms: u64,
    pub(crate) login: LockOp,
    pub(crate) lease: LockOp,
}

/// How this process takes part: its owner id and the lock lifetimes.
#[derive(Clone, Debug)]
pub(crate) struct Party {
    pub(crate) me: String,
    pub(crate) mode: Mode,
    pub(crate) backoff: Backoff,
    pub(crate) exclusive: bool,
    /// A single-use lease lives this long: the request timeout and a margin.
    pub(crate) lease_ttl: Duration,
    /// A login lock lives this long: the login timeout and a margin.
    pub(crate) login_ttl: Duration,
    /// How long a record with no known token lifetime is kept unused.
    pub(crate) idle_ttl: Duration,
}

impl Party {
    pub(crate) fn leader_id(&self, login: u64) -> String {
        format!("{}/l{login}", self.me)
    }

    pub(crate) fn holder_id(&self, generation: u64) -> String {
        format!("{}/g{generation}", self.me)
    }
}

/// What this process really holds, as opposed to what the store says it
/// holds: a lock of this process's that it does not use (a write that timed
/// out but reached Redis took it) is as dead as an expired one.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Local<'a> {
    /// The generation whose single-use token this process holds (granted,
    /// not yet settled).
    pub(crate) holding: Option<u64>,
    /// The login this process runs.
    pub(crate) leading: Option<u64>,
    /// The states writes whose outcome this process never learned were
    /// decided on: if one of them granted this process the token, the
    /// token never left it and goes back to the chain.
    pub(crate) uncertain: &'a [Record],
}

/// The waiter type of a chain rebuilt from the store: nobody is parked in
/// it, because parked callers live in their own process (`agent.rs`) and
/// ask again when the state changes. `acquire` still returns `Parked`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Absent;

impl Waiter<Failure> for Absent {
    fn deliver(self, value: crate::core::Delivery<Failure>) -> Result<(), crate::core::Delivery<Failure>> {
        Err(value)
    }
}

/// The chain a decision runs on.
pub(crate) type Shared = Chain<Absent, Failure>;

/// Runs `op` on the chain `seen` describes and returns its answer with the
/// write that commits it (`None` when nothing changed).
///
/// Before `op`, a dead lock is applied as the core's own transition for it:
/// a single-use token whose lease expired counts as spent (`release` with
/// no successor), or goes back (`give_back`) if this process knows it was
/// never sent; a login whose lock expired is abandoned. A lock is dead when
/// its key is gone, or when it names this process and `local` says the
/// process does not hold it.
pub(crate) fn step<R>(
    seen: &Seen,
    party: &Party,
    local: Local<'_>,
    op: &mut dyn FnMut(&mut Shared) -> R,
) -> (R, Option<Write>) {
    let clock = seen.clock.now();
    let before = &seen.record;
    let mut chain = Chain::from_state(party.mode, party.backoff, party.exclusive, before.to_state(clock));
    let mut leader = before.leader.clone();
    let mut holder = before.holder.clone();

    let my_lease = holder.as_deref() == Some(party.holder_id(before.generation).as_str());
    let lease_dead = if my_lease {
        local.holding != Some(before.generation)
    } else {
        seen.lease_lock != holder
    };
    if before.held && lease_dead {
        match unsent_grant(my_lease, local.uncertain, before.generation, clock) {
            Some(grant) => chain.give_back(grant),
            None => {
                let start = chain.release(before.generation, None);
                debug_assert!(start.is_none(), "a shared chain has no parked callers");
            }
        }
        holder = None;
    }
    let my_login = leader.as_deref() == Some(party.leader_id(before.logins).as_str());
    let login_dead = if my_login {
        local.leading != Some(before.logins)
    } else {
        seen.login_lock != leader
    };
    if before.logging_in && login_dead {
        let start = chain.login_abandoned();
        debug_assert!(start.is_none(), "a shared chain has no parked callers");
        leader = None;
    }

    let answer = op(&mut chain);
    let after = chain.state();

    let mut login = LockOp::default();
    if after.logins != before.logins || !after.logging_in {
        // The login `leader` names has ended (or been abandoned).
        if let Some(old) = before.leader.clone() {
            login.release = Some(old);
        }
        leader = None;
    }
    if after.logging_in && leader.is_none() {
        let id = party.leader_id(after.logins);
        login.take = Some((id.clone(), party.login_ttl.as_millis() as u64));
        leader = Some(id);
    }
    let held = matches!(after.slot, Slot::Held);
    let mut lease = LockOp::default();
    // A dead lease is released even when the token is taken again at once
    // (given back, then granted): the new lease gets a key of its own.
    let lease_was_dead = before.holder.is_some() && holder.is_none();
    if !held || after.generation != before.generation || lease_was_dead {
        if let Some(old) = before.holder.clone() {
            lease.release = Some(old);
        }
        holder = None;
    }
    if held && holder.is_none() {
        let id = party.holder_id(after.generation);
        lease.take = Some((id.clone(), party.lease_ttl.as_millis() as u64));
        holder = Some(id);
    }
    let record = Record::from_state(&after, clock, leader, holder);
    if record == *before && login.is_noop() && lease.is_noop() {
        return (answer, None);
    }
    let locks_ms = party.lease_ttl.max(party.login_ttl).as_millis() as u64;
    let ttl_ms = record.ttl_ms(clock.server_ms, party.idle_ttl, locks_ms);
    let write = Write {
        expected: seen.version,
        record,
        ttl_ms,
        login,
        lease,
    };
    (answer, Some(write))
}

/// The grant a write this process never heard back from made to it, when
/// that write's state had the token ready at `generation`: that token was
/// never handed to a caller, so never sent.
fn unsent_grant(mine: bool, uncertain: &[Record], generation: u64, clock: Clock) -> Option<Grant> {
    let before = uncertain
        .iter()
        .find(|r| mine && r.generation == generation && !r.held)?;
    match before.to_state(clock).slot {
        Slot::Ready {
            token,
            expires_at,
            valid_until,
        } => Some(Grant {
            token,
            generation,
            expires_at,
            valid_until,
        }),
        Slot::Held | Slot::Empty => None,
    }
}
