//! Reading a reply: whether it says "expired" (from its head alone, or once
//! its body is read), opening the envelope, and decoding the value.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::{Envelope, Expiry};
use crate::error::Error;
use crate::transport::{self, BodyError};

/// How a client reads replies.
#[derive(Debug)]
pub(crate) struct Reader {
    pub(crate) expiry: Expiry,
    pub(crate) envelope: Option<Envelope>,
    pub(crate) max_response_bytes: u64,
}

/// What a reply's status line and headers say before its body is read.
pub(crate) struct Head {
    pub(crate) status: StatusCode,
    /// The head alone says "expired".
    pub(crate) expired: bool,
    /// Kept only for a rule that pairs a header with the body.
    headers: Option<HeaderMap>,
}

/// A successful reply: a JSON value already parsed (to open an envelope or
/// check a body expiry rule), or, when nothing needed it, the body itself,
/// which [`Reply::decode`] decodes straight into `T` without a `Value` in
/// between.
pub(crate) enum Reply {
    Value(StatusCode, Value),
    Body(StatusCode, Bytes),
}

impl Reply {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Reply::Value(status, _) | Reply::Body(status, _) => *status,
        }
    }

    pub(crate) fn decode<T: DeserializeOwned>(self) -> Result<T, Error> {
        match self {
            Reply::Value(status, value) => {
                serde_json::from_value(value).map_err(|e| Error::decode(status, e))
            }
            Reply::Body(status, bytes) if bytes.is_empty() => {
                serde_json::from_value(Value::Null).map_err(|e| Error::decode(status, e))
            }
            Reply::Body(status, bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| Error::decode(status, e))
            }
        }
    }
}

impl Reply {
    /// Decodes a copy of the value, leaving the reply as it was (a cached one).
    pub(crate) fn decode_ref<T: DeserializeOwned>(&self) -> Result<T, Error> {
        match self {
            Reply::Value(status, value) => T::deserialize(value).map_err(|e| Error::decode(*status, e)),
            Reply::Body(status, bytes) if bytes.is_empty() => {
                serde_json::from_value(Value::Null).map_err(|e| Error::decode(*status, e))
            }
            Reply::Body(status, bytes) => {
                serde_json::from_slice(bytes).map_err(|e| Error::decode(*status, e))
            }
        }
    }
}

impl Reader {
    pub(crate) fn head(&self, resp: &reqwest::Response) -> Head {
        let status = resp.status();
        Head {
            status,
            expired: self.expiry.matches_head(status, resp.headers()),
            headers: self.expiry.rereads_headers().then(|| resp.headers().clone()),
        }
    }

    /// The body, read under the response body limit.
    pub(crate) async fn body(&self, resp: reqwest::Response) -> Result<Bytes, BodyError> {
        transport::read_body(resp, self.max_response_bytes).await
    }

    pub(crate) fn too_large(&self, status: StatusCode) -> Error {
        Error::too_large(status, self.max_response_bytes)
    }

    /// Whether the whole reply says "expired", and its body parsed when an
    /// expiry rule or the envelope reads it (otherwise the caller's type is
    /// decoded straight from the bytes).
    pub(crate) fn judge(&self, head: &Head, bytes: &Bytes) -> (bool, Option<Value>) {
        let json = (head.expired || self.expiry.needs_body() || self.envelope.is_some())
            .then(|| parse(bytes))
            .flatten();
        let expired = head.expired
            || self
                .expiry
                .matches_body(head.status, head.headers.as_ref(), bytes, json.as_ref());
        (expired, json)
    }

    /// A reply to a public request (no token, so no expiry to detect).
    pub(crate) fn open_public(&self, status: StatusCode, bytes: Bytes) -> Result<Reply, Error> {
        let json = self.envelope.as_ref().and_then(|_| parse(&bytes));
        self.open(status, bytes, json)
    }

    /// Turns a final reply into the value or a typed error.
    pub(crate) fn open(&self, status: StatusCode, bytes: Bytes, json: Option<Value>) -> Result<Reply, Error> {
        let Some(env) = &self.envelope else {
            if !status.is_success() {
                return Err(Error::status_code(status, bytes));
            }
            return Ok(match json {
                Some(v) => Reply::Value(status, v),
                // Nothing read the body: the caller's type decodes it.
                None => Reply::Body(status, bytes),
            });
        };
        let value = match json {
            Some(v) => v,
            None if !status.is_success() => return Err(Error::status_code(status, bytes)),
            None if bytes.is_empty() => Value::Null,
            None => {
                let e = serde_json::from_slice::<Value>(&bytes).expect_err("parse failed before");
                return Err(Error::decode(status, e));
            }
        };
        match env.open(value) {
            Ok(v) if status.is_success() => Ok(Reply::Value(status, v)),
            Ok(_) => Err(Error::status_code(status, bytes)),
            Err((code, message)) => Err(Error::api(status, code, message)),
        }
    }
}

fn parse(bytes: &Bytes) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    serde_json::from_slice(bytes).ok()
}
