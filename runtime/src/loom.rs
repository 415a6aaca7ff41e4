//! What the sessions take from outside to coordinate: a mutex, a one-shot
//! channel, spawning a task and a timeout. Normal builds get std's and
//! tokio's. The runtime's own unit-test build, where the model check lives,
//! gets loom's mutex and a spawner whose tasks the model's login thread
//! runs, so `model_check` explores the real session code under loom, as
//! tokio does for its own loom tests. So in that build every unit test that
//! reaches the sessions must run inside a loom model.

use std::future::Future;
use std::time::Duration;

#[cfg(test)]
pub(crate) use ::loom::sync::{Mutex, MutexGuard};
#[cfg(not(test))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// tokio's, in both builds: its own loom tests check it, and under the
/// model a delivery or a close is one step between the model's mutex
/// operations.
pub(crate) use tokio::sync::oneshot;

#[cfg(test)]
pub(crate) use crate::model_check::spawn;

/// Runs `task` on its own, on the current tokio runtime; without one the
/// task is dropped unpolled, so its drop guards settle what it holds.
#[cfg(not(test))]
pub(crate) fn spawn(task: impl Future<Output = ()> + Send + 'static) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(task);
    }
}

/// `future`'s output, or `None` once `limit` has passed (never under the
/// model check, which has no clock).
pub(crate) async fn timeout<T>(limit: Duration, future: impl Future<Output = T>) -> Option<T> {
    #[cfg(test)]
    {
        let _ = limit;
        Some(future.await)
    }
    #[cfg(not(test))]
    tokio::time::timeout(limit, future).await.ok()
}
