//! Chains shared by a fleet of processes through Redis ([`RedisStore`]).
//!
//! The core still makes every decision: each one runs `core.rs` on the
//! chain's state as read from Redis (`step.rs`) and commits it with a
//! compare-and-set on the chain's version (`script.rs`). What stays in a
//! process is what cannot be shared: its parked callers and the login it
//! runs. One task per chain and process (`agent.rs`) reads, decides and
//! writes for them, and asks again when pub/sub announces a change (or,
//! if an announcement is lost, when its fallback poll comes round).
//! Reusable tokens are handed out from a local mirror of the last state
//! seen while no newer version has been announced, so a call costs no
//! round trip; a single-use token costs one to take and one to pass on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};

use super::{ChainStatus, Failure, Sessions};
use crate::core::{Acquire, Backoff, Chain, Expired, Fresh, Grant, Mode, State};
use crate::error::Error;
use crate::redis_store::RedisStore;

mod agent;
mod connection;
mod crypt;
pub(crate) mod record;
mod script;
pub(crate) mod step;

use agent::Msg;
use crypt::Cipher;
use script::{Keys, Scripts};
use step::{Absent, Party, Shared};

/// A client's share of the fleet's chains.
pub(crate) struct Fleet {
    inner: Arc<Inner>,
    agents: Box<[OnceLock<mpsc::UnboundedSender<Msg>>]>,
    listener: OnceLock<tokio::task::AbortHandle>,
}

/// What the agents and the listener share.
pub(super) struct Inner {
    con: connection::Connector,
    /// Where the announcements are followed.
    announcements: redis::Client,
    scripts: Scripts,
    cipher: Option<Cipher>,
    party: Party,
    keys: Box<[Keys]>,
    channel: String,
    /// The longest one store operation may take.
    timeout: Duration,
    poll: Duration,
    mirrors: Box<[Mirror]>,
}

/// What a process knows of one chain without asking the store.
struct Mirror {
    /// The newest version announced on the channel.
    announced: watch::Sender<u64>,
    /// Bumped when the listener (re)subscribes: what was announced before
    /// may have been missed, so nothing seen before counts as current.
    epoch: AtomicU64,
    /// The last state read or written, and its version.
    last: Mutex<Option<(u64, State<Failure>)>>,
}

/// How the fleet's chains are run: the client's settings that decide.
pub(crate) struct FleetSetup {
    pub(crate) mode: Mode,
    pub(crate) backoff: Backoff,
    pub(crate) exclusive: bool,
    pub(crate) chains: usize,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) login_timeout: Duration,
}

/// How long a lock outlives the job it guards, so a live owner is never
/// taken for dead.
const LOCK_MARGIN: Duration = Duration::from_secs(1);

impl Fleet {
    pub(crate) fn new(store: RedisStore, setup: FleetSetup) -> Result<Fleet, Error> {
        let timeout = match setup.request_timeout {
            Some(t) => store.timeout.min(t),
            None => store.timeout,
        };
        let con = connection::Connector::new(&store.target, timeout)?;
        let announcements = match &store.target {
            crate::redis_store::Target::One(client) | crate::redis_store::Target::Cluster(_, client) => {
                client.clone()
            }
        };
        // Reusable tokens need no lease; the value only bounds the record's TTL.
        let lease_ttl = setup.request_timeout.unwrap_or(Duration::from_secs(30)) + LOCK_MARGIN;
        let party = Party {
            me: owner_id(),
            mode: setup.mode,
            backoff: setup.backoff,
            exclusive: setup.exclusive,
            lease_ttl,
            login_ttl: setup.login_timeout + LOCK_MARGIN,
            idle_ttl: store.idle_ttl,
        };
        let inner = Inner {
            con,
            announcements,
            scripts: Scripts::new(),
            cipher: store.key.as_ref().map(Cipher::new),
            party,
            keys: (0..setup.chains).map(|i| Keys::new(&store.prefix, i)).collect(),
            channel: script::channel(&store.prefix),
            timeout,
            poll: store.poll,
            mirrors: (0..setup.chains)
                .map(|_| Mirror {
                    announced: watch::Sender::new(0),
                    epoch: AtomicU64::new(0),
                    last: Mutex::new(None),
                })
                .collect(),
        };
        Ok(Fleet {
            inner: Arc::new(inner),
            agents: (0..setup.chains).map(|_| OnceLock::new()).collect(),
            listener: OnceLock::new(),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.agents.len()
    }

    /// A token for `chain`: from the mirror when a reusable token there is
    /// current, else from the chain's agent.
    pub(crate) async fn grant(&self, sessions: &Arc<Sessions>, chain: usize) -> Result<Grant, Error> {
        if let Some(grant) = self.mirror_grant(chain) {
            return Ok(grant);
        }
        let (tx, rx) = oneshot::channel();
        self.send(sessions, chain, Msg::Acquire(tx));
        Waiting {
            fleet: self,
            sessions,
            chain,
            rx: Some(rx),
        }
        .wait()
        .await
    }

    /// What `acquire` grants on the last state seen, when that is a
    /// reusable token and nothing newer has been announced: the core's
    /// decision, without a round trip.
    fn mirror_grant(&self, chain: usize) -> Option<Grant> {
        if self.inner.party.mode != Mode::Reusable {
            return None;
        }
        let mirror = &self.inner.mirrors[chain];
        let last = lock(&mirror.last);
        let (version, state) = last.as_ref()?;
        if *version < *mirror.announced.borrow() {
            return None;
        }
        let p = &self.inner.party;
        let mut probe: Shared = Chain::from_state(p.mode, p.backoff, p.exclusive, state.clone());
        match probe.acquire(Instant::now(), || Absent) {
            Acquire::Granted(grant) => Some(grant),
            _ => None,
        }
    }

    pub(crate) async fn report_expired(
        &self,
        sessions: &Arc<Sessions>,
        chain: usize,
        generation: u64,
    ) -> Result<Expired, Error> {
        let (tx, rx) = oneshot::channel();
        self.send(
            sessions,
            chain,
            Msg::Report {
                generation,
                reply: tx,
            },
        );
        rx.await.unwrap_or_else(|_| Err(agent_gone()))
    }

    pub(crate) fn release(
        &self,
        sessions: &Arc<Sessions>,
        chain: usize,
        generation: u64,
        next: Option<Fresh>,
    ) -> super::Settled {
        let (done, settled) = oneshot::channel();
        self.send(
            sessions,
            chain,
            Msg::Release {
                generation,
                next,
                done,
            },
        );
        settled
    }

    pub(crate) fn give_back(&self, sessions: &Arc<Sessions>, chain: usize, grant: Grant) -> super::Settled {
        let (done, settled) = oneshot::channel();
        self.send(sessions, chain, Msg::GiveBack(grant, done));
        settled
    }

    pub(crate) fn login_done(
        &self,
        sessions: &Arc<Sessions>,
        chain: usize,
        login: u64,
        result: Result<Fresh, Failure>,
    ) {
        self.send(sessions, chain, Msg::LoginDone { login, result });
    }

    /// The chains as last seen by this process.
    pub(crate) fn status(&self) -> Vec<ChainStatus> {
        let now = Instant::now();
        let p = &self.inner.party;
        self.inner
            .mirrors
            .iter()
            .map(|m| {
                let state = lock(&m.last).as_ref().map(|(_, s)| s.clone());
                let chain: Shared = match state {
                    Some(s) => Chain::from_state(p.mode, p.backoff, p.exclusive, s),
                    None => Chain::new(p.mode, p.backoff),
                };
                super::chain_status(&chain.status(now))
            })
            .collect()
    }

    /// True when the last state seen of `chain` would grant a token at once.
    pub(crate) fn is_idle(&self, chain: usize) -> bool {
        let p = &self.inner.party;
        lock(&self.inner.mirrors[chain].last)
            .as_ref()
            .is_some_and(|(_, s)| {
                let c: Shared = Chain::from_state(p.mode, p.backoff, p.exclusive, s.clone());
                c.is_idle(Instant::now())
            })
    }

    /// Sends to the chain's agent, starting it (and the listener) on first
    /// use; callers are in a tokio runtime by then.
    fn send(&self, sessions: &Arc<Sessions>, chain: usize, msg: Msg) {
        let tx = match self.agents[chain].get() {
            Some(tx) => tx,
            // The first message comes from a call, so inside a runtime; a
            // settlement outside one (at shutdown) has no agent to reach.
            None => match tokio::runtime::Handle::try_current() {
                Ok(runtime) => self.agents[chain].get_or_init(|| {
                    self.listener
                        .get_or_init(|| runtime.spawn(listen(Arc::downgrade(&self.inner))).abort_handle());
                    let (tx, rx) = mpsc::unbounded_channel();
                    let agent =
                        agent::Agent::new(Arc::clone(&self.inner), Arc::downgrade(sessions), chain, rx);
                    runtime.spawn(agent.run());
                    tx
                }),
                Err(_) => return msg.fail(agent_gone()),
            },
        };
        if let Err(mpsc::error::SendError(msg)) = tx.send(msg) {
            msg.fail(agent_gone());
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.get() {
            listener.abort();
        }
    }
}

/// A caller parked on the agent. Dropped with a token already delivered
/// (the caller was cancelled), it hands the token back.
struct Waiting<'a> {
    fleet: &'a Fleet,
    sessions: &'a Arc<Sessions>,
    chain: usize,
    rx: Option<oneshot::Receiver<Result<Grant, Error>>>,
}

impl Waiting<'_> {
    async fn wait(mut self) -> Result<Grant, Error> {
        let got = self.rx.as_mut().expect("set until awaited").await;
        self.rx = None;
        got.unwrap_or_else(|_| Err(agent_gone()))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(Ok(grant)) = rx.try_recv() {
                // Cancelled: nobody waits for the settlement.
                drop(self.fleet.give_back(self.sessions, self.chain, grant));
            }
        }
    }
}

fn agent_gone() -> Error {
    Error::store(std::io::Error::other(
        "the shared chain's coordinating task has ended",
    ))
}

/// Follows the announcements of every chain of this prefix, and
/// resubscribes (after a pause) when the connection drops; the agents'
/// fallback poll covers what is missed meanwhile.
async fn listen(inner: Weak<Inner>) {
    loop {
        let Some(strong) = inner.upgrade() else { return };
        let client = strong.announcements.clone();
        let channel = strong.channel.clone();
        let timeout = strong.timeout;
        drop(strong);
        let subscribed = tokio::time::timeout(timeout, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        if let Ok(Ok(pubsub)) = subscribed {
            // Anything announced before the subscription was missed.
            if let Some(strong) = inner.upgrade() {
                for m in strong.mirrors.iter() {
                    m.epoch.fetch_add(1, Ordering::AcqRel);
                    *lock(&m.last) = None;
                    m.announced.send_modify(|_| ());
                }
            }
            let mut messages = pubsub.into_on_message();
            while let Some(msg) = messages.next().await {
                let Some(strong) = inner.upgrade() else { return };
                if let Some((chain, version)) = parse_announcement(msg.get_payload_bytes())
                    && let Some(m) = strong.mirrors.get(chain)
                {
                    m.announced.send_if_modified(|v| {
                        let newer = version > *v;
                        if newer {
                            *v = version;
                        }
                        newer
                    });
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn parse_announcement(payload: &[u8]) -> Option<(usize, u64)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (chain, version) = text.split_once(':')?;
    Some((chain.parse().ok()?, version.parse().ok()?))
}

/// An owner id unique to this process and client: the pid, the time and a
/// randomly keyed hash (std's per-process random keys), so two processes
/// never take each other's locks for their own.
fn owner_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    format!("{}-{:016x}", std::process::id(), h.finish())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
