//! Replies in the protocol's shape: values in its [`Envelope`], errors in its
//! [`ErrorStyle`], fixed [`Reply`]s, and the next single-use token on every reply to a
//! call whose token was accepted.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::{Map, Value, json};

use crate::routes::Outcome;
use crate::rules::{Envelope, ErrorStyle, Reply, Rules};
use crate::wire::{self, Resp};

/// Writes `value` at the dotted `path` of `target`, making objects on the way (a non-object
/// in the way is replaced). An existing key keeps its position.
pub(crate) fn set_path(target: &mut Value, path: &str, value: Value) {
    let mut at = target;
    let mut parts = path.split('.').peekable();
    while let Some(key) = parts.next() {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        let Value::Object(map) = at else { return };
        if parts.peek().is_none() {
            map.insert(key.to_owned(), value);
            return;
        }
        at = map.entry(key.to_owned()).or_insert(Value::Null);
    }
}

/// The value at the dotted `path`, if there is one.
pub(crate) fn get_path<'a>(target: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(target, |at, key| at.get(key))
}

/// A successful value in the envelope.
pub(crate) fn envelope(envelope: &Envelope, value: Value) -> Value {
    match envelope {
        Envelope::None => value,
        Envelope::Wrapped {
            code,
            ok,
            data,
            message,
        } => {
            let mut body = Value::Object(Map::new());
            set_path(&mut body, code, ok.clone());
            set_path(&mut body, data, value);
            if let Some(message) = message {
                set_path(&mut body, message, json!("ok"));
            }
            body
        }
        Envelope::Merged { code, ok, message } => {
            let mut body = match value {
                Value::Object(map) => Value::Object(map),
                other => Value::Object(Map::from_iter([("data".to_owned(), other)])),
            };
            // The envelope wins over same-named fields: the reply must read as success.
            set_path(&mut body, code, ok.clone());
            if let Some(message) = message {
                set_path(&mut body, message, json!("ok"));
            }
            body
        }
    }
}

/// The snake_case reason an OAuth-style error names for `status`.
fn oauth_reason(status: StatusCode) -> String {
    match status.as_u16() {
        400 => "invalid_request".to_owned(),
        404 => "not_found".to_owned(),
        413 => "payload_too_large".to_owned(),
        429 => "too_many_requests".to_owned(),
        503 => "temporarily_unavailable".to_owned(),
        300..=399 => "redirected".to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("error")
            .chars()
            .filter_map(|c| match c {
                ' ' | '-' => Some('_'),
                c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
    }
}

/// An error body in the protocol's style for `status` and `msg`.
pub(crate) fn error_body(style: &ErrorStyle, status: StatusCode, msg: &str) -> Value {
    match style {
        ErrorStyle::Coded {
            code,
            message,
            overrides,
        } => {
            let value = overrides
                .iter()
                .find(|(s, _)| *s == status.as_u16())
                .map_or_else(|| json!(status.as_u16()), |(_, v)| v.clone());
            let mut body = Value::Object(Map::new());
            set_path(&mut body, code, value);
            set_path(&mut body, message, json!(msg));
            body
        }
        ErrorStyle::OAuth => json!({"error": oauth_reason(status), "error_description": msg}),
    }
}

/// An error reply in the protocol's style.
pub(crate) fn error(rules: &Rules, status: StatusCode, msg: &str) -> Resp {
    wire::json(status, &error_body(&rules.errors, status, msg), None)
}

/// [`error`] as a [`Reply`], to be changed before it is sent.
pub(crate) fn error_reply(rules: &Rules, status: StatusCode, msg: &str) -> Reply {
    Reply::json(status.as_u16(), error_body(&rules.errors, status, msg))
}

/// The response for a fixed [`Reply`].
pub(crate) fn reply(reply: &Reply) -> Resp {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match &reply.body {
        Some(body) => wire::json(status, body, None),
        None => {
            let mut resp = Response::new(Full::new(Bytes::new()));
            *resp.status_mut() = status;
            resp
        }
    };
    for (name, value) in &reply.headers {
        add_header(&mut resp, name, value);
    }
    resp
}

/// Sets a response header; a name or value HTTP cannot carry is left out.
pub(crate) fn add_header(resp: &mut Resp, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
        resp.headers_mut().insert(name, value);
    }
}

/// The single-use protocol's next token, if this reply carries one.
pub(crate) fn with_next(rules: &Rules, mut resp: Resp, next: Option<String>) -> Resp {
    if let (Some(name), Some(token)) = (&rules.next_token_header, next) {
        add_header(&mut resp, name, &token);
    }
    resp
}

/// What a call's [`Outcome`] looks like on the wire, with the next token.
pub(crate) fn outcome(rules: &Rules, outcome: Outcome, next: Option<String>) -> Resp {
    let resp = match outcome {
        Outcome::Value(value) => wire::json(StatusCode::OK, &envelope(&rules.envelope, value), None),
        Outcome::AppError => reply(&rules.app_error),
        Outcome::Forbidden => reply(&rules.forbidden),
        Outcome::BadRequest(msg) => error(rules, StatusCode::BAD_REQUEST, &msg),
        Outcome::NotFound => error(rules, StatusCode::NOT_FOUND, "not found"),
        Outcome::Reply(r) => reply(&r),
    };
    with_next(rules, resp, next)
}

/// A generic error page from something in front of the API (a proxy or gateway): a real
/// HTTP status, a non-JSON body, no token.
pub(crate) fn proxy_error(status: StatusCode) -> Resp {
    let text = format!(
        "<html><body><h1>{} {}</h1></body></html>",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest_and_keep_their_place() {
        let mut v = json!({"a": null, "b": 1});
        set_path(&mut v, "a", json!(2));
        set_path(&mut v, "c.d", json!(3));
        assert_eq!(v, json!({"a": 2, "b": 1, "c": {"d": 3}}));
        assert_eq!(get_path(&v, "c.d"), Some(&json!(3)));
        let mut s = json!("x");
        set_path(&mut s, "y", json!(1));
        assert_eq!(s, json!({"y": 1}));
    }

    #[test]
    fn error_styles() {
        let coded = ErrorStyle::Coded {
            code: "errcode".into(),
            message: "errmsg".into(),
            overrides: vec![(400, json!(47001))],
        };
        assert_eq!(
            error_body(&coded, StatusCode::BAD_REQUEST, "m"),
            json!({"errcode": 47001, "errmsg": "m"})
        );
        assert_eq!(
            error_body(&ErrorStyle::OAuth, StatusCode::IM_A_TEAPOT, "m"),
            json!({"error": "im_a_teapot", "error_description": "m"})
        );
    }
}
