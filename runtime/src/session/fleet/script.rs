//! The store's side of the protocol: the keys of a chain, the two Lua
//! scripts Redis runs atomically (read the state with the server's clock
//! and the locks; compare-and-set it with the locks and announce it), and
//! decoding their replies. Nothing here decides anything (`step.rs` does).

use std::io;
use std::time::Instant;

use redis::Value;

use super::crypt::Cipher;
use super::record::{Clock, Record};
use super::step::{LockOp, Seen, Write};

/// The keys of one chain. The hash tag (`{…}`) puts all of them in one
/// Redis Cluster slot, so one script may touch them together.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    pub(crate) state: String,
    pub(crate) login: String,
    pub(crate) lease: String,
    /// Where every committed change is announced: `<chain>:<version>`.
    pub(crate) channel: String,
    pub(crate) chain: usize,
}

impl Keys {
    pub(crate) fn new(prefix: &str, chain: usize) -> Keys {
        let tag = format!("{{{prefix}:{chain}}}");
        Keys {
            state: format!("{tag}:state"),
            login: format!("{tag}:login"),
            lease: format!("{tag}:lease"),
            channel: channel(prefix),
            chain,
        }
    }
}

/// The channel a prefix's changes are announced on.
pub(crate) fn channel(prefix: &str) -> String {
    format!("{prefix}:changed")
}

/// Reads a chain: `{server ms, version, state, login lock, lease lock}`.
const READ: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'v', 's')
return {now, s[1], s[2], redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3])}
";

/// Compare-and-set. ARGV: expected version ('' for none), state, TTL ms,
/// then for the login lock and the lease: owner to release ('' none),
/// owner to take ('' none), its PX; then the chain number for the
/// announcement. A lock is taken with NX and released only by its owner.
/// Returns `{1, new version}`, or `{0}` followed by what READ returns when
/// the version moved (the caller decides again on that).
const WRITE: &str = r"
local cur = redis.call('HGET', KEYS[1], 'v')
if (cur or '') ~= ARGV[1] then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local s = redis.call('HMGET', KEYS[1], 'v', 's')
  return {0, now, s[1], s[2], redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3])}
end
for i, k in ipairs({KEYS[2], KEYS[3]}) do
  local take = ARGV[2 + i * 3]
  if take ~= '' then
    local held = redis.call('GET', k)
    if held and held ~= ARGV[1 + i * 3] then
      return redis.error_reply('seamless: lock ' .. k .. ' is held by another owner')
    end
  end
end
if not cur then
  -- A new record (or one that expired) starts above every version it
  -- could have had before, so a stale writer can never match it.
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[1], 'v', t[1] .. string.format('%06d', tonumber(t[2])))
end
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 's', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
for i, k in ipairs({KEYS[2], KEYS[3]}) do
  local release, take, px = ARGV[1 + i * 3], ARGV[2 + i * 3], ARGV[3 + i * 3]
  if release ~= '' and redis.call('GET', k) == release then
    redis.call('DEL', k)
  end
  if take ~= '' then
    redis.call('SET', k, take, 'NX', 'PX', px)
  end
end
-- The version as stored: Lua would print the number as a float (1.8e+15).
redis.call('PUBLISH', ARGV[10], ARGV[11] .. ':' .. redis.call('HGET', KEYS[1], 'v'))
return {1, v}
";

/// The two scripts, hashed once (`EVALSHA`, falling back to `EVAL`).
#[derive(Debug)]
pub(crate) struct Scripts {
    read: redis::Script,
    write: redis::Script,
}

/// A write's result.
#[derive(Debug)]
pub(crate) enum Written {
    Committed(u64),
    /// The version moved: what the chain holds now.
    Moved(Box<Seen>),
}

impl Scripts {
    pub(crate) fn new() -> Scripts {
        Scripts {
            read: redis::Script::new(READ),
            write: redis::Script::new(WRITE),
        }
    }

    pub(crate) async fn read(
        &self,
        con: &mut (impl redis::aio::ConnectionLike + Send),
        keys: &Keys,
        cipher: Option<&Cipher>,
    ) -> io::Result<Seen> {
        let local = Instant::now();
        let reply: Vec<Value> = self
            .read
            .key(&keys.state)
            .key(&keys.login)
            .key(&keys.lease)
            .invoke_async(con)
            .await
            .map_err(redis_error)?;
        decode_seen(&reply, local, keys, cipher)
    }

    pub(crate) async fn write(
        &self,
        con: &mut (impl redis::aio::ConnectionLike + Send),
        keys: &Keys,
        cipher: Option<&Cipher>,
        write: &Write,
    ) -> io::Result<Written> {
        let json = serde_json::to_vec(&write.record).map_err(io::Error::other)?;
        let blob = match cipher {
            Some(c) => c.seal(&json, keys.state.as_bytes())?,
            None => json,
        };
        let local = Instant::now();
        let mut call = self.write.key(&keys.state);
        call.key(&keys.login).key(&keys.lease);
        call.arg(write.expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(blob)
            .arg(write.ttl_ms.max(1));
        for op in [&write.login, &write.lease] {
            lock_args(&mut call, op);
        }
        call.arg(&keys.channel).arg(keys.chain);
        let reply: Vec<Value> = call.invoke_async(con).await.map_err(redis_error)?;
        match reply.first() {
            Some(Value::Int(1)) => match reply.get(1) {
                Some(Value::Int(v)) if *v > 0 => Ok(Written::Committed(*v as u64)),
                _ => Err(invalid("the store's write answer has no version")),
            },
            Some(Value::Int(0)) => Ok(Written::Moved(Box::new(decode_seen(
                &reply[1..],
                local,
                keys,
                cipher,
            )?))),
            _ => Err(invalid("the store's write answer is malformed")),
        }
    }
}

fn lock_args(call: &mut redis::ScriptInvocation<'_>, op: &LockOp) {
    let (take, px) = match &op.take {
        Some((owner, px)) => (owner.as_str(), (*px).max(1)),
        None => ("", 1),
    };
    call.arg(op.release.as_deref().unwrap_or("")).arg(take).arg(px);
}

fn decode_seen(reply: &[Value], local: Instant, keys: &Keys, cipher: Option<&Cipher>) -> io::Result<Seen> {
    let [now, version, state, login, lease] = reply else {
        return Err(invalid("the store's read answer is malformed"));
    };
    let Value::Int(now) = now else {
        return Err(invalid("the store's clock is not a number"));
    };
    let version = match text(version)? {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| invalid("the chain's version is not a number"))?,
        ),
    };
    let record = match bytes(state) {
        None => Record::default(),
        Some(blob) => {
            let json = match cipher {
                Some(c) => c.open(blob, keys.state.as_bytes())?,
                None => super::crypt::plain(blob)?.to_vec(),
            };
            serde_json::from_slice(&json).map_err(|e| {
                invalid(&format!(
                    "chain {}: the stored state is unreadable: {e}",
                    keys.chain
                ))
            })?
        }
    };
    Ok(Seen {
        clock: Clock {
            server_ms: (*now).max(0) as u64,
            local,
        },
        // A state without a version is not one this protocol wrote.
        version: version.filter(|_| bytes(state).is_some()),
        record,
        login_lock: text(login)?,
        lease_lock: text(lease)?,
    })
}

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        _ => None,
    }
}

fn text(v: &Value) -> io::Result<Option<String>> {
    match v {
        Value::Nil => Ok(None),
        Value::BulkString(b) => String::from_utf8(b.clone())
            .map(Some)
            .map_err(|_| invalid("a store value is not UTF-8")),
        Value::Int(i) => Ok(Some(i.to_string())),
        _ => Err(invalid("a store value has an unexpected type")),
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

/// A Redis error as an IO error of the matching kind; its text names no
/// key's value (tokens are values, never in errors).
pub(crate) fn redis_error(e: redis::RedisError) -> io::Error {
    let kind = if e.is_timeout() {
        io::ErrorKind::TimedOut
    } else if e.is_connection_refusal() || e.is_connection_dropped() || e.is_io_error() {
        io::ErrorKind::ConnectionRefused
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(kind, format!("redis: {e}"))
}
