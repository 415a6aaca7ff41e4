//! Parked callers: the waiter the core queues, and the guard that settles
//! a parked caller that is cancelled.

use std::sync::Arc;

use super::{Failure, Sessions};
use crate::core::{Delivery, Grant, Waiter};
use crate::error::{Error, LoginError};
use crate::loom::oneshot;

/// A caller parked on a chain, as the core queues it.
pub(crate) struct Parked(oneshot::Sender<Delivery<Failure>>);

impl Parked {
    /// A waiter for the core's queue and the receiving end its caller awaits.
    pub(super) fn channel() -> (Parked, oneshot::Receiver<Delivery<Failure>>) {
        let (tx, rx) = oneshot::channel();
        (Parked(tx), rx)
    }
}

impl Waiter<Failure> for Parked {
    fn deliver(self, value: Delivery<Failure>) -> Result<(), Delivery<Failure>> {
        self.0.send(value)
    }

    fn is_gone(&self) -> bool {
        self.0.is_closed()
    }
}

/// A parked caller's receiving end. Dropping it (the caller was cancelled)
/// hands a token that already arrived back to the chain.
pub(super) struct Parking<'a> {
    sessions: &'a Sessions,
    chain: usize,
    rx: Option<oneshot::Receiver<Delivery<Failure>>>,
}

impl<'a> Parking<'a> {
    pub(super) fn new(
        sessions: &'a Sessions,
        chain: usize,
        rx: oneshot::Receiver<Delivery<Failure>>,
    ) -> Self {
        Parking {
            sessions,
            chain,
            rx: Some(rx),
        }
    }

    /// Waits for the token or the login's error.
    pub(super) async fn wait(mut self) -> Result<Grant, Error> {
        let delivery = self.rx.as_mut().expect("set until awaited").await;
        self.rx = None;
        match delivery {
            Ok(Ok(grant)) => Ok(grant),
            Ok(Err(e)) => Err(Error::login(e)),
            // The sender went away undelivered: the chain itself is gone.
            Err(_) => Err(Error::login(Arc::new(LoginError::Aborted))),
        }
    }
}

impl Drop for Parking<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            let arrived = rx.try_recv().ok();
            #[cfg(test)]
            let arrived = arrived.filter(|_| self.sessions.model.fault != super::Fault::StrandArrived);
            self.sessions.with_chain(self.chain, |c| {
                if let Some(Ok(grant)) = arrived {
                    c.give_back(grant);
                }
                // Leave the queue too, or cancelled callers pile up behind
                // a slow holder (found with a stalled server).
                c.forget_departed();
            });
        }
    }
}
