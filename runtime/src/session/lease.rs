//! A token out for one attempt, and how it is settled when the attempt is
//! done or its caller gone.

use std::sync::Arc;

use super::Sessions;
use crate::core::{Fresh, Grant, Mode};
use crate::secret::Secret;
use crate::stats::Count;

/// A token out for one attempt. Dropping it settles the token: given back
/// if it was never sent, spent if it may have been (single-use).
pub(crate) struct Lease {
    sessions: Arc<Sessions>,
    chain: usize,
    grant: Grant,
    state: State,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Unsent,
    Sent,
    Done,
}

impl Lease {
    pub(super) fn new(sessions: Arc<Sessions>, chain: usize, grant: Grant) -> Self {
        Lease {
            sessions,
            chain,
            grant,
            state: State::Unsent,
        }
    }

    pub(crate) fn token(&self) -> &Secret {
        &self.grant.token
    }

    pub(crate) fn generation(&self) -> u64 {
        self.grant.generation
    }

    /// The token may be on the wire from now on: dropped, it counts spent.
    pub(crate) fn sending(&mut self) {
        self.state = State::Sent;
    }

    /// The request never left after all (it was never built or connected):
    /// the token goes back to the chain unspent.
    pub(crate) fn never_sent(mut self) {
        self.state = State::Unsent;
    }

    /// Single-use: the reply came, carrying the successor `next` (or none:
    /// the token is spent). The chain passes it on at once; the reply
    /// itself is classified by the caller (an expiry reply is not a lost
    /// successor).
    pub(crate) fn replied(mut self, next: Option<Secret>) {
        self.finish(next, true);
    }

    /// Single-use: store the successor (or mark the token spent) and pass
    /// the chain on. A no-op for reusable tokens. `replied`: a reply came.
    fn finish(&mut self, next: Option<Secret>, replied: bool) {
        if self.state == State::Done {
            return;
        }
        let was_sent = self.state == State::Sent;
        #[cfg(test)]
        let was_sent = was_sent && self.sessions.model.fault != super::Fault::GiveBackSent;
        self.state = State::Done;
        if self.sessions.mode != Mode::SingleUse {
            return;
        }
        if !was_sent {
            self.sessions.give_back(self.chain, self.grant.clone());
            return;
        }
        if next.is_none() {
            if !replied {
                self.sessions.stats.bump(Count::LostSuccessors);
            }
            tracing::info!(
                target: "seamless",
                chain = self.chain,
                generation = self.grant.generation,
                "single-use token spent without a successor; the chain will log in again"
            );
        }
        let generation = self.grant.generation;
        let fresh = next.map(|token| Fresh {
            token,
            expires_at: None,
            valid_until: None,
            refresh: None,
        });
        self.sessions.release(self.chain, generation, fresh);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.finish(None, false);
    }
}
