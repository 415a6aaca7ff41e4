//! The event log behind `GET /__events`: a bounded ring of what the server did, newest
//! last. An event never carries a token, a refresh token, a code or a password: only
//! the method, the path (never the query, which may hold `access_token`), the status and
//! a fixed description.

use std::collections::VecDeque;

use serde_json::{Value, json};

/// How many events the ring keeps; older ones are dropped.
pub const EVENT_CAPACITY: usize = 1000;

/// One thing the server did.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub(crate) id: u64,
    pub(crate) at_ms: u64,
    pub(crate) kind: &'static str,
    pub(crate) method: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) status: Option<u16>,
    pub(crate) detail: String,
}

impl Event {
    /// The event as `/__events` sends it. `seq` and `t_ms` repeat `id` and `at_ms` under the
    /// names the storm page (`mock/ui`) reads.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "seq": self.id,
            "at_ms": self.at_ms,
            "t_ms": self.at_ms,
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "detail": self.detail,
        })
    }
}

/// The ring and the next id (ids start at 1 and never repeat within a server).
#[derive(Debug, Default)]
pub(crate) struct Events {
    ring: VecDeque<Event>,
    last_id: u64,
}

/// What an event is about, filled in by the caller.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub(crate) method: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) status: Option<u16>,
}

impl Events {
    pub(crate) fn push(&mut self, at_ms: u64, kind: &'static str, fields: Fields, detail: String) {
        self.last_id += 1;
        if self.ring.len() == EVENT_CAPACITY {
            self.ring.pop_front();
        }
        self.ring.push_back(Event {
            id: self.last_id,
            at_ms,
            kind,
            method: fields.method,
            path: fields.path,
            status: fields.status,
            detail,
        });
    }

    /// The events after id `after` still in the ring, and the id to ask after next time
    /// (the newest id; smaller than `after` when `after` came from an earlier server).
    pub(crate) fn after(&self, after: u64) -> (Vec<Event>, u64) {
        let start = self.ring.partition_point(|e| e.id <= after);
        (self.ring.range(start..).cloned().collect(), self.last_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_is_bounded_and_resumable() {
        let mut events = Events::default();
        for i in 0..(EVENT_CAPACITY as u64 + 5) {
            events.push(i, "request", Fields::default(), String::new());
        }
        let (all, next) = events.after(0);
        assert_eq!(all.len(), EVENT_CAPACITY);
        assert_eq!(all[0].id, 6);
        assert_eq!(next, EVENT_CAPACITY as u64 + 5);
        let (tail, _) = events.after(next - 2);
        assert_eq!(
            tail.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![next - 1, next]
        );
        assert!(events.after(next).0.is_empty());
    }
}
