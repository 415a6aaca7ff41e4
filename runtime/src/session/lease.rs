//! A token out for one attempt, and how it is settled when the attempt is
//! done or its caller gone.

use std::sync::Arc;

use super::{Sessions, Settled};
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
    pub(crate) async fn never_sent(mut self) {
        self.state = State::Unsent;
        settled(self.finish(None, false)).await;
    }

    /// The request may have reached the server, and no reply came: the
    /// token is spent.
    pub(crate) async fn spent(mut self) {
        settled(self.finish(None, false)).await;
    }

    /// Single-use: the reply came, carrying the successor `next` (or none:
    /// the token is spent). The chain passes it on at once; the reply
    /// itself is classified by the caller (an expiry reply is not a lost
    /// successor).
    pub(crate) async fn replied(mut self, next: Option<Secret>) {
        settled(self.finish(next, true)).await;
    }

    /// Single-use: store the successor (or mark the token spent) and pass
    /// the chain on. A no-op for reusable tokens. `replied`: a reply came.
    /// A shared chain settles in its agent; the receiver says when it is
    /// done, so a call that returns has passed its token on (a process
    /// that exits after its last call strands no token).
    fn finish(&mut self, next: Option<Secret>, replied: bool) -> Option<Settled> {
        if self.state == State::Done {
            return None;
        }
        let was_sent = self.state == State::Sent;
        #[cfg(test)]
        let was_sent = was_sent && self.sessions.model.fault != super::Fault::GiveBackSent;
        self.state = State::Done;
        if self.sessions.mode != Mode::SingleUse {
            return None;
        }
        if !was_sent {
            return self.sessions.give_back(self.chain, self.grant.clone());
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
        self.sessions.release(self.chain, generation, fresh)
    }
}

/// Waits for a shared chain's agent to commit a settlement (an agent
/// that is gone has nothing left to wait for).
async fn settled(done: Option<Settled>) {
    if let Some(done) = done {
        let _ = done.await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // A cancelled caller cannot wait: the settlement goes on its own.
        drop(self.finish(None, false));
    }
}
