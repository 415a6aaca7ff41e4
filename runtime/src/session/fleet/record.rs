//! A chain's shared state as the store keeps it: the core's [`State`] with
//! instants as the store server's clock (milliseconds since the Unix
//! epoch, read with `TIME` in the same script as the state), so processes
//! on hosts whose clocks disagree still agree on every deadline; and the
//! owners of the running login and of the single-use token out on the wire.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::core::{Cooldown, Slot, State};
use crate::error::LoginError;
use crate::secret::Secret;
use crate::session::Failure;

/// The serialized state. Short keys: it is read on every single-use hand-off.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    #[serde(rename = "g")]
    pub(crate) generation: u64,
    /// The ready token (absent while held or empty).
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<String>,
    /// When to renew it, server ms.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub(crate) renew_at: Option<u64>,
    /// When the server stops accepting it, server ms.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub(crate) valid_until: Option<u64>,
    /// Single-use: a request holds the token of `generation`.
    #[serde(rename = "h", default)]
    pub(crate) held: bool,
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub(crate) refresh: Option<String>,
    #[serde(rename = "l", default)]
    pub(crate) logging_in: bool,
    #[serde(rename = "w", default)]
    pub(crate) renewing: bool,
    #[serde(rename = "n", default)]
    pub(crate) logins: u64,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub(crate) cooldown: Option<WireCooldown>,
    /// Who runs the login: the value its lock key must hold while it lives.
    #[serde(rename = "L", default, skip_serializing_if = "Option::is_none")]
    pub(crate) leader: Option<String>,
    /// Who holds the single-use token: the value of the lease key.
    #[serde(rename = "H", default, skip_serializing_if = "Option::is_none")]
    pub(crate) holder: Option<String>,
}

/// Tokens are secrets: a record prints without them.
impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |s: &Option<String>| s.as_ref().map(|_| "***");
        f.debug_struct("Record")
            .field("generation", &self.generation)
            .field("token", &secret(&self.token))
            .field("renew_at", &self.renew_at)
            .field("valid_until", &self.valid_until)
            .field("held", &self.held)
            .field("refresh", &secret(&self.refresh))
            .field("logging_in", &self.logging_in)
            .field("renewing", &self.renewing)
            .field("logins", &self.logins)
            .field("cooldown", &self.cooldown)
            .field("leader", &self.leader)
            .field("holder", &self.holder)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireCooldown {
    #[serde(rename = "n")]
    failures: u32,
    #[serde(rename = "u")]
    until: u64,
    #[serde(rename = "l")]
    login: u64,
    /// The error's message: already free of credentials (`login/refusal.rs`).
    #[serde(rename = "e")]
    error: String,
}

/// One reading of the server's clock beside the local monotonic one, to
/// convert between the two.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    pub(crate) server_ms: u64,
    pub(crate) local: Instant,
}

impl Clock {
    /// The server's time now, from this reading and the time since.
    pub(crate) fn now(&self) -> Clock {
        let now = Instant::now();
        let passed = now.saturating_duration_since(self.local).as_millis() as u64;
        Clock {
            server_ms: self.server_ms.saturating_add(passed),
            local: now,
        }
    }

    fn to_ms(self, at: Instant) -> u64 {
        match at.checked_duration_since(self.local) {
            Some(ahead) => self.server_ms.saturating_add(ahead.as_millis() as u64),
            None => self
                .server_ms
                .saturating_sub(self.local.duration_since(at).as_millis() as u64),
        }
    }

    /// `None` beyond what the monotonic clock can represent, which the
    /// caller treats as "no expiry worth tracking".
    fn to_instant(self, ms: u64) -> Option<Instant> {
        if ms >= self.server_ms {
            self.local.checked_add(Duration::from_millis(ms - self.server_ms))
        } else {
            // Past: any instant not after now reads as expired.
            Some(
                self.local
                    .checked_sub(Duration::from_millis(self.server_ms - ms))
                    .unwrap_or(self.local),
            )
        }
    }
}

impl Record {
    /// The core's view of this record.
    pub(crate) fn to_state(&self, clock: Clock) -> State<Failure> {
        let slot = match (&self.token, self.held) {
            (_, true) => Slot::Held,
            (Some(token), false) => Slot::Ready {
                token: Secret::new(token.as_str()),
                expires_at: self.renew_at.and_then(|ms| clock.to_instant(ms)),
                valid_until: self.valid_until.and_then(|ms| clock.to_instant(ms)),
            },
            (None, false) => Slot::Empty,
        };
        State {
            generation: self.generation,
            slot,
            refresh: self.refresh.as_deref().map(Secret::new),
            logging_in: self.logging_in,
            renewing: self.renewing,
            logins: self.logins,
            cooldown: self.cooldown.as_ref().map(|c| Cooldown {
                failures: c.failures,
                until: clock.to_instant(c.until).unwrap_or(clock.local),
                login: c.login,
                error: std::sync::Arc::new(LoginError::Shared(c.error.clone())),
            }),
        }
    }

    /// The record of `state`, keeping the owners given.
    pub(crate) fn from_state(
        state: &State<Failure>,
        clock: Clock,
        leader: Option<String>,
        holder: Option<String>,
    ) -> Record {
        let (token, renew_at, valid_until, held) = match &state.slot {
            Slot::Ready {
                token,
                expires_at,
                valid_until,
            } => (
                Some(token.expose().to_owned()),
                expires_at.map(|at| clock.to_ms(at)),
                valid_until.map(|at| clock.to_ms(at)),
                false,
            ),
            Slot::Held => (None, None, None, true),
            Slot::Empty => (None, None, None, false),
        };
        Record {
            generation: state.generation,
            token,
            renew_at,
            valid_until,
            held,
            refresh: state.refresh.as_ref().map(|s| s.expose().to_owned()),
            logging_in: state.logging_in,
            renewing: state.renewing,
            logins: state.logins,
            cooldown: state.cooldown.as_ref().map(|c| WireCooldown {
                failures: c.failures,
                until: clock.to_ms(c.until),
                login: c.login,
                error: shared_message(&c.error),
            }),
            leader,
            holder,
        }
    }

    /// How long the store should keep the record: while its token is valid
    /// when the token's lifetime is known and nothing outlives it, else
    /// `idle`; at least as long as a cool-down or a lock it records.
    pub(crate) fn ttl_ms(&self, now_ms: u64, idle: Duration, locks_ms: u64) -> u64 {
        let idle = idle.as_millis() as u64;
        let base = match (self.valid_until, &self.refresh) {
            (Some(until), None) if self.token.is_some() => until.saturating_sub(now_ms),
            _ => idle,
        };
        let cooldown = self
            .cooldown
            .as_ref()
            .map_or(0, |c| c.until.saturating_sub(now_ms));
        // A record kept a little past its token's end still says "expired";
        // the minute keeps it from vanishing between a read and a write.
        base.max(cooldown).max(locks_ms).saturating_add(60_000)
    }
}

/// A login error as other processes will see it: a shared failure keeps
/// its own words, any other is its display (free of credentials).
fn shared_message(e: &LoginError) -> String {
    match e {
        LoginError::Shared(m) => m.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_survive_a_round_trip_through_server_time() {
        let clock = Clock {
            server_ms: 1_700_000_000_000,
            local: Instant::now(),
        };
        let later = clock.local + Duration::from_millis(1500);
        let earlier = clock.local.checked_sub(Duration::from_millis(200)).unwrap();
        assert_eq!(clock.to_ms(later), 1_700_000_001_500);
        assert_eq!(clock.to_ms(earlier), 1_699_999_999_800);
        assert_eq!(clock.to_instant(1_700_000_001_500), Some(later));
    }

    #[test]
    fn a_record_keeps_what_the_core_needs() {
        let clock = Clock {
            server_ms: 1_000_000,
            local: Instant::now(),
        };
        let state = State::<Failure> {
            generation: 7,
            slot: Slot::Ready {
                token: Secret::new("s3cr3t"),
                expires_at: Some(clock.local + Duration::from_secs(5)),
                valid_until: Some(clock.local + Duration::from_secs(10)),
            },
            refresh: Some(Secret::new("r3fr3sh")),
            logging_in: true,
            renewing: true,
            logins: 3,
            cooldown: None,
        };
        let record = Record::from_state(&state, clock, Some("me/3".into()), None);
        let json = serde_json::to_string(&record).unwrap();
        let shown = format!("{record:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("r3fr3sh"), "{shown}");
        let back: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
        let again = Record::from_state(&back.to_state(clock), clock, Some("me/3".into()), None);
        assert_eq!(again, record);
        assert_eq!(back.valid_until, Some(1_010_000));
    }
}
