//! Between the chains and the [`TokenStore`]: the client's claim on its
//! store, resuming a chain from what was saved, saving what a chain's
//! journal says, and the clock conversions between the two (the store
//! keeps wall-clock expiries, the chains monotonic instants).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::Failure;
use super::parking::Parked;
use crate::attempt::check_token;
use crate::config::Placement;
use crate::core::Chain;
use crate::error::Error;
use crate::store::{StoredSession, TokenStore};

/// A client's claim on its store ([`TokenStore::claim`]), released on drop,
/// also when `build` fails after claiming.
pub(crate) struct StoreClaim(Arc<dyn TokenStore>);

impl StoreClaim {
    pub(crate) fn new(store: Arc<dyn TokenStore>) -> Result<Self, Error> {
        store.claim().map_err(Error::store)?;
        Ok(StoreClaim(store))
    }

    pub(crate) fn store(&self) -> &Arc<dyn TokenStore> {
        &self.0
    }
}

impl Drop for StoreClaim {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Installs what the store saved for chain `index`, if anything.
pub(crate) fn resume(
    chain: &mut Chain<Parked, Failure>,
    store: &dyn TokenStore,
    index: usize,
    placement: &Placement,
    skew: Duration,
) -> Result<(), Error> {
    let Some(saved) = store.load(index).map_err(Error::store)? else {
        return Ok(());
    };
    let out_of_range = || {
        Error::store(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("chain {index}: the stored expiry is out of range"),
        ))
    };
    let (renew_at, valid_until) = match saved.expires_at {
        Some(at) => (
            Some(to_instant(at, skew).ok_or_else(out_of_range)?),
            Some(to_instant(at, Duration::ZERO).ok_or_else(out_of_range)?),
        ),
        None => (None, None),
    };
    // An unsendable token (stored by an older version or by hand) is
    // dropped: the chain logs in instead of wedging.
    let token = saved
        .token
        .filter(|t| check_token(placement, t).is_ok())
        .map(|t| (t, renew_at, valid_until));
    chain.resume(token, saved.refresh_token);
    Ok(())
}

/// Saves the snapshots the chain journaled since the last call, in order,
/// and tells the chain how the last one went. Called under the chain's
/// lock, so saves can never be reordered.
pub(super) fn save_journal(store: &dyn TokenStore, index: usize, chain: &mut Chain<Parked, Failure>) {
    let mut result = None;
    for snap in chain.drain_journal() {
        let (token, expires_at) = match snap.token {
            Some((t, at)) => (Some(t), at.and_then(to_system)),
            None => (None, None),
        };
        let saved = StoredSession {
            token,
            expires_at,
            refresh_token: snap.refresh,
        };
        // The last save decides: it holds the state now in force.
        result = Some(store.save(index, &saved).map_err(|e| {
            tracing::warn!(target: "seamless", chain = index, error = %e, "token store save failed");
            e.to_string()
        }));
    }
    if let Some(result) = result {
        chain.saved(result);
    }
}

/// When to renew a token that the server accepts for `lifetime`: `skew`
/// early, but never more than half the lifetime early, so a short-lived
/// token is still used rather than renewed on every call.
///
/// `None` when the instant is beyond what the clock can represent: checked,
/// because lifetimes come from servers, custom logins and stores.
pub(super) fn renew_at(now: Instant, lifetime: Duration, skew: Duration) -> Option<Instant> {
    now.checked_add(lifetime - skew.min(lifetime / 2))
}

/// A stored expiry as a renewal instant; `None` when it is out of range
/// (a corrupt or hostile store), which the caller reports as a store error.
fn to_instant(at: SystemTime, skew: Duration) -> Option<Instant> {
    let now = Instant::now();
    match at.duration_since(SystemTime::now()) {
        Ok(left) => renew_at(now, left, skew),
        // Already past: any instant not after now reads as expired.
        Err(_) => Some(now),
    }
}

fn to_system(at: Instant) -> Option<SystemTime> {
    SystemTime::now().checked_add(at.saturating_duration_since(Instant::now()))
}
