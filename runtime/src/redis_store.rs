//! [`RedisStore`]: one session shared by every process that opens it.

use std::fmt;
use std::time::Duration;

use crate::error::Error;

/// A session store in Redis (or Valkey, or a Redis Cluster:
/// [`cluster`](RedisStore::cluster)) shared by every
/// process that opens it with the same URL and prefix: a fleet of
/// instances then runs one session per chain, with one login per expiry
/// fleet-wide and, for single-use tokens, one request at a time per chain
/// across all of them. Give it to [`ClientBuilder::shared_store`](crate::ClientBuilder::shared_store).
///
/// Every change to a chain is a compare-and-set in a Lua script; locks
/// (the running login, the single-use token on the wire) are keys set with
/// `NX PX` and an owner id, so a process killed mid-login or mid-request
/// strands nobody: its lock expires (after the login timeout, or the
/// request timeout, plus a second) and the token it held counts as spent.
/// Other processes learn of changes through pub/sub, and poll every
/// [`fallback_poll`](RedisStore::fallback_poll) while they wait in case a
/// notification is lost.
///
/// When Redis is unreachable or slow, calls fail with an error for which
/// [`Error::is_store`] is true within [`timeout`](RedisStore::timeout);
/// they never fall back to a login of their own, which would fork the
/// session the fleet shares.
///
/// The keys hold the tokens: anyone who can read them can use the session.
/// Restrict access to the prefix (Redis ACLs: `~<prefix>*`, `&<prefix>*`),
/// or give an [`encryption_key`](RedisStore::encryption_key).
#[derive(Clone)]
pub struct RedisStore {
    pub(crate) target: Target,
    pub(crate) prefix: String,
    pub(crate) key: Option<[u8; 32]>,
    pub(crate) timeout: Duration,
    pub(crate) poll: Duration,
    pub(crate) idle_ttl: Duration,
}

/// Where the store is.
#[derive(Clone)]
pub(crate) enum Target {
    One(redis::Client),
    /// A Redis Cluster, and one of its nodes to follow the announcements on
    /// (a `PUBLISH` in a cluster reaches the subscribers of every node).
    Cluster(Box<redis::cluster::ClusterClient>, redis::Client),
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("encrypted", &self.key.is_some())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `url` (`redis://[user:password@]host:port/db`,
    /// `rediss://` for TLS, `redis+unix:///path`), with the prefix
    /// `seamless`. Nothing connects until the first call.
    pub fn open(url: &str) -> Result<RedisStore, Error> {
        Ok(RedisStore::with_target(Target::One(client(url)?)))
    }

    /// A store in a Redis Cluster, reached through any of `nodes` (URLs as
    /// for [`open`](RedisStore::open)); the cluster's other nodes are found
    /// from them. Each chain's keys share a hash tag, so they sit in one
    /// slot.
    pub fn cluster<I, S>(nodes: I) -> Result<RedisStore, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nodes: Vec<String> = nodes.into_iter().map(|n| n.as_ref().to_owned()).collect();
        let Some(first) = nodes.first() else {
            return Err(Error::builder("`RedisStore::cluster` needs at least one node"));
        };
        let announcements = client(first)?;
        for node in &nodes[1..] {
            client(node)?;
        }
        let cluster = redis::cluster::ClusterClient::new(nodes)
            .map_err(|_| Error::builder("the Redis Cluster nodes are not valid URLs"))?;
        Ok(RedisStore::with_target(Target::Cluster(
            Box::new(cluster),
            announcements,
        )))
    }

    fn with_target(target: Target) -> RedisStore {
        RedisStore {
            target,
            prefix: "seamless".to_owned(),
            key: None,
            timeout: Duration::from_secs(2),
            poll: Duration::from_millis(250),
            idle_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }

    /// What every key starts with: one prefix per session the fleet shares
    /// (per API account, say). Processes with the same prefix share chains
    /// by number and must describe the same protocol.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Encrypts the state at rest (XChaCha20-Poly1305) with this key; every
    /// process of the fleet needs the same key, and state written without
    /// it is refused.
    pub fn encryption_key(mut self, key: [u8; 32]) -> Self {
        self.key = Some(key);
        self
    }

    /// The longest one Redis operation may take before the call fails with
    /// a store error; default 2 s, and never above the request timeout.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// How often a process with parked callers reads the chain when no
    /// notification came; default 250 ms. It also bounds how late a lock
    /// left by a killed process is noticed.
    pub fn fallback_poll(mut self, d: Duration) -> Self {
        self.poll = d;
        self
    }

    /// How long a chain whose token has no known lifetime (or that keeps a
    /// refresh token) stays in Redis unused; default 7 days. A token with a
    /// known lifetime is kept until it expires (plus a minute).
    pub fn idle_ttl(mut self, d: Duration) -> Self {
        self.idle_ttl = d;
        self
    }

    pub(crate) fn problems(&self, problems: &mut Vec<String>) {
        if self.prefix.is_empty() || self.prefix.contains(['{', '}']) {
            problems.push("`RedisStore::prefix` must be non-empty and free of `{` and `}`".to_owned());
        }
        if self.timeout.is_zero() || self.poll.is_zero() || self.idle_ttl.is_zero() {
            problems.push("`RedisStore` durations must be above zero".to_owned());
        }
    }
}

/// A client for one URL; the error leaves the URL out (it may hold a password).
fn client(url: &str) -> Result<redis::Client, Error> {
    redis::Client::open(url).map_err(|_| {
        Error::builder("the Redis URL is not valid (expected redis://, rediss:// or redis+unix://)")
    })
}
