//! One chain's agent in one process: it owns this process's parked
//! callers of the chain and every read and write of the chain's state, so
//! the process asks the store once for all of them, in order.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Weak};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::record::Record;
use super::script::Written;
use super::step::{Local, Seen, Shared, Write, step};
use super::{Absent, Inner, lock};
use crate::core::{Acquire, Expired, Fresh, Grant, StartLogin};
use crate::error::Error;
use crate::session::{Failure, Sessions, login_task};

/// What the rest of the process asks of the agent.
pub(crate) enum Msg {
    /// Park until a token (or an error) comes.
    Acquire(oneshot::Sender<Result<Grant, Error>>),
    /// Single-use: the holder of `generation` is done (see `Chain::release`);
    /// `done` is told once that is committed.
    Release {
        generation: u64,
        next: Option<Fresh>,
        done: oneshot::Sender<()>,
    },
    /// Single-use: a token granted but never sent.
    GiveBack(Grant, oneshot::Sender<()>),
    Report {
        generation: u64,
        reply: oneshot::Sender<Result<Expired, Error>>,
    },
    /// The login this process ran has ended.
    LoginDone {
        login: u64,
        result: Result<Fresh, Failure>,
    },
}

impl Msg {
    /// Ends a message nobody will handle.
    pub(super) fn fail(self, e: Error) {
        match self {
            Msg::Acquire(tx) => drop(tx.send(Err(e))),
            Msg::Report { reply, .. } => drop(reply.send(Err(e))),
            Msg::Release { .. } | Msg::GiveBack(..) | Msg::LoginDone { .. } => {}
        }
    }
}

/// A parked caller of this process.
struct Parked {
    tx: oneshot::Sender<Result<Grant, Error>>,
    /// The login it waits for, once it has been told to wait.
    awaits: Option<u64>,
}

/// At most this many writes in a row may find the chain moved before the
/// operation gives up with a store error (each retry decides on what the
/// failed write returned, so a handful is the norm under contention).
const MAX_MOVES: usize = 100;

/// Writes that timed out remembered at once; a lease taken by one past
/// these counts as spent (a login), never as unsent.
const MAX_UNCERTAIN: usize = 8;

pub(super) struct Agent {
    fleet: Arc<Inner>,
    /// To start logins; weak, so the agent does not keep the client alive.
    sessions: Weak<Sessions>,
    chain: usize,
    rx: mpsc::UnboundedReceiver<Msg>,
    parked: VecDeque<Parked>,
    /// The last state read or written, while nothing newer was announced,
    /// and the listener's epoch it belongs to.
    seen: Option<(Seen, u64)>,
    /// The last store operation failed: what queued up behind it fails too.
    down: bool,
    /// The generation whose single-use token a caller of this process holds.
    holding: Option<u64>,
    /// The login this process runs.
    leading: Option<u64>,
    /// The states writes that timed out were decided on (see `Local`),
    /// until the store's word is in.
    uncertain: Vec<Record>,
}

/// What serving the first parked caller found.
enum Serve {
    Failed(Failure),
    Acquired(Acquire<Failure>, u64),
}

impl Agent {
    pub(super) fn new(
        fleet: Arc<Inner>,
        sessions: Weak<Sessions>,
        chain: usize,
        rx: mpsc::UnboundedReceiver<Msg>,
    ) -> Agent {
        Agent {
            fleet,
            sessions,
            chain,
            rx,
            parked: VecDeque::new(),
            seen: None,
            down: false,
            holding: None,
            leading: None,
            uncertain: Vec::new(),
        }
    }

    pub(super) async fn run(mut self) {
        let mut announced = self.fleet.mirrors[self.chain].announced.subscribe();
        loop {
            let waiting = !self.parked.is_empty();
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some(msg) => {
                        self.handle(msg).await;
                        if self.down {
                            self.shed();
                        }
                    }
                    None => return,
                },
                _ = announced.changed() => {
                    if waiting {
                        self.serve().await;
                    }
                }
                () = tokio::time::sleep(self.fleet.poll), if waiting => {
                    // A lost announcement, or a lock whose owner died
                    // (an expiry announces nothing): read afresh.
                    self.seen = None;
                    self.serve().await;
                }
            }
        }
    }

    async fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Acquire(tx) => self.parked.push_back(Parked { tx, awaits: None }),
            Msg::Report { generation, reply } => {
                let r = self.commit(&mut |c| c.report_expired(generation)).await;
                let _ = reply.send(r.map_err(Error::store));
            }
            Msg::Release {
                generation,
                next,
                done,
            } => {
                let r = self.commit(&mut |c| c.release(generation, next.clone())).await;
                self.let_go(generation);
                self.settled(
                    r.map(|start| debug_assert!(start.is_none())),
                    "pass on a single-use token",
                );
                let _ = done.send(());
            }
            Msg::GiveBack(grant, done) => {
                let generation = grant.generation;
                let r = self.commit(&mut |c| c.give_back(grant.clone())).await;
                self.let_go(generation);
                self.settled(r, "give back an unsent single-use token");
                let _ = done.send(());
            }
            Msg::LoginDone { login, result } => {
                let now = Instant::now();
                let r = self
                    .commit(&mut |c| {
                        // Another process gave this login up for dead and
                        // started its own: this result is no longer asked for.
                        if c.is_logging_in() && c.logins() == login {
                            c.login_done(result.clone(), now);
                        }
                    })
                    .await;
                if self.leading == Some(login) {
                    self.leading = None;
                }
                self.settled(r, "record a login's result");
            }
        }
        if !self.parked.is_empty() {
            self.serve().await;
        }
    }

    /// The store failed an operation after waiting out its timeout: what
    /// queued up meanwhile fails at once rather than wait that long again,
    /// each in turn.
    fn shed(&mut self) {
        self.down = false;
        let store_down = || {
            Error::store(io::Error::new(
                io::ErrorKind::TimedOut,
                "the shared store is not answering",
            ))
        };
        for p in self.parked.drain(..) {
            let _ = p.tx.send(Err(store_down()));
        }
        while let Ok(msg) = self.rx.try_recv() {
            if matches!(
                msg,
                Msg::Release { .. } | Msg::GiveBack(..) | Msg::LoginDone { .. }
            ) {
                tracing::warn!(target: "seamless", chain = self.chain, "shared store down: a settlement is dropped; its lock will expire");
            }
            msg.fail(store_down());
        }
    }

    /// A settling write that failed: the lock it would have released
    /// expires instead, and the chain recovers as from a dead process.
    fn settled(&self, r: io::Result<()>, what: &str) {
        if let Err(e) = r {
            tracing::warn!(target: "seamless", chain = self.chain, error = %e, "shared store: could not {what}");
        }
    }

    /// Serves the parked callers, first come first served, until one must
    /// wait: single-use hands the token to one, reusable to all.
    async fn serve(&mut self) {
        loop {
            while self.parked.front().is_some_and(|p| p.tx.is_closed()) {
                self.parked.pop_front();
            }
            let Some(first) = self.parked.front() else { return };
            let awaits = first.awaits;
            let got = self
                .commit(&mut |c| {
                    if let Some(login) = awaits
                        && let Some(e) = c.failure_of(login)
                    {
                        return Serve::Failed(e.clone());
                    }
                    let awaited = c.awaited_login();
                    Serve::Acquired(c.acquire(Instant::now(), || Absent), awaited)
                })
                .await;
            match got {
                Err(e) => {
                    self.seen = None;
                    for p in self.parked.drain(..) {
                        let _ =
                            p.tx.send(Err(Error::store(io::Error::new(e.kind(), e.to_string()))));
                    }
                    return;
                }
                Ok(Serve::Failed(e)) => {
                    if let Some(p) = self.parked.pop_front() {
                        let _ = p.tx.send(Err(Error::login(e)));
                    }
                }
                Ok(Serve::Acquired(acquired, awaited)) => match acquired {
                    Acquire::Granted(grant) => {
                        if self.fleet.party.mode == crate::core::Mode::SingleUse {
                            self.hand_one(grant).await;
                        } else {
                            self.hand_all(&grant);
                            return;
                        }
                    }
                    Acquire::GrantedStartLogin(grant, start) => {
                        self.start_login(start);
                        self.hand_all(&grant);
                        return;
                    }
                    Acquire::Parked => {
                        self.parked_for(awaited);
                        return;
                    }
                    Acquire::ParkedStartLogin(start) => {
                        self.start_login(start);
                        self.parked_for(awaited);
                        return;
                    }
                    Acquire::CoolingDown(e) => {
                        for p in self.parked.drain(..) {
                            let _ = p.tx.send(Err(Error::login(Arc::clone(&e))));
                        }
                        return;
                    }
                },
            }
        }
    }

    /// Single-use: the first parked caller takes the token; if it is gone
    /// already, the token goes back.
    async fn hand_one(&mut self, grant: Grant) {
        self.holding = Some(grant.generation);
        let Some(p) = self.parked.pop_front() else { return };
        if let Err(Ok(grant)) = p.tx.send(Ok(grant)) {
            let generation = grant.generation;
            let r = self.commit(&mut |c| c.give_back(grant.clone())).await;
            self.let_go(generation);
            self.settled(r, "give back a token its caller left");
        }
    }

    /// This process no longer holds the token of `generation`.
    fn let_go(&mut self, generation: u64) {
        if self.holding == Some(generation) {
            self.holding = None;
        }
    }

    fn hand_all(&mut self, grant: &Grant) {
        for p in self.parked.drain(..) {
            let _ = p.tx.send(Ok(grant.clone()));
        }
    }

    fn parked_for(&mut self, login: u64) {
        for p in &mut self.parked {
            p.awaits.get_or_insert(login);
        }
    }

    fn start_login(&mut self, start: StartLogin) {
        if let Some(sessions) = self.sessions.upgrade() {
            self.leading = Some(start.login);
            login_task::spawn(sessions, self.chain, start);
        }
    }

    /// Runs `op` on the chain's latest state and commits what it changed:
    /// read (or reuse the last state seen, when nothing newer was
    /// announced), decide, compare-and-set; on a moved version, decide
    /// again on what the store returned.
    async fn commit<R>(&mut self, op: &mut (dyn FnMut(&mut Shared) -> R + Send)) -> io::Result<R> {
        let mirror = &self.fleet.mirrors[self.chain];
        let announced = *mirror.announced.borrow();
        let epoch = mirror.epoch.load(std::sync::atomic::Ordering::Acquire);
        let cached = self
            .seen
            .take()
            .filter(|(s, e)| *e == epoch && s.version.is_some_and(|v| v >= announced));
        let mut fresh = cached.is_none();
        let mut seen = match cached {
            Some((s, _)) => s,
            None => match self.read().await {
                Ok(s) => s,
                Err(e) => {
                    self.down = true;
                    return Err(e);
                }
            },
        };
        for _ in 0..MAX_MOVES {
            let local = Local {
                holding: self.holding,
                leading: self.leading,
                uncertain: &self.uncertain,
            };
            let (answer, write) = step(&seen, &self.fleet.party, local, op);
            let Some(write) = write else {
                if fresh {
                    // Decided on the store's own word: what writes that
                    // timed out did is known now.
                    self.uncertain.clear();
                }
                self.remember(seen, epoch);
                return Ok(answer);
            };
            let written = self.write(&write).await;
            if written.is_err() {
                // It may have reached Redis all the same.
                self.down = true;
                if self.uncertain.len() < MAX_UNCERTAIN {
                    self.uncertain.push(seen.record.clone());
                }
            }
            fresh = true;
            match written? {
                Written::Committed(version) => {
                    self.uncertain.clear();
                    self.remember(after(seen, write, version), epoch);
                    return Ok(answer);
                }
                Written::Moved(now) => seen = *now,
            }
        }
        Err(io::Error::other(
            "the shared chain changed under every attempt to update it",
        ))
    }

    async fn read(&mut self) -> io::Result<Seen> {
        let f = &*self.fleet;
        let keys = &f.keys[self.chain];
        bounded(f.timeout, async {
            let mut con = f.con.get().await?;
            f.scripts.read(&mut con, keys, f.cipher.as_ref()).await
        })
        .await
    }

    async fn write(&mut self, write: &Write) -> io::Result<Written> {
        let f = &*self.fleet;
        let keys = &f.keys[self.chain];
        bounded(f.timeout, async {
            let mut con = f.con.get().await?;
            f.scripts.write(&mut con, keys, f.cipher.as_ref(), write).await
        })
        .await
    }

    /// Keeps `seen` for the next decision and as the mirror reusable grants
    /// are served from.
    fn remember(&mut self, seen: Seen, epoch: u64) {
        let mirror = &self.fleet.mirrors[self.chain];
        if let Some(version) = seen.version
            && mirror.epoch.load(std::sync::atomic::Ordering::Acquire) == epoch
        {
            let state = seen.record.to_state(seen.clock.now());
            *lock(&mirror.last) = Some((version, state));
        }
        self.seen = Some((seen, epoch));
    }
}

/// What the chain holds after `write` committed as `version`.
fn after(seen: Seen, write: Write, version: u64) -> Seen {
    let lock_after = |held: Option<String>, op: &super::step::LockOp| match &op.take {
        Some((owner, _)) => Some(owner.clone()),
        None if held.is_some() && held == op.release => None,
        None => held,
    };
    Seen {
        clock: seen.clock,
        version: Some(version),
        login_lock: lock_after(seen.login_lock, &write.login),
        lease_lock: lock_after(seen.lease_lock, &write.lease),
        record: write.record,
    }
}

async fn bounded<T>(limit: std::time::Duration, op: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    match tokio::time::timeout(limit, op).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the shared store did not answer within {limit:?}"),
        )),
    }
}
