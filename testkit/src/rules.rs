//! The token protocol a server enforces, as data: where calls carry the token,
//! whether it is single-use, what an expired reply looks like, how values and
//! errors are wrapped, and the login (and refresh) endpoint. The three fixed
//! protocols of this crate are presets of it ([`Rules::seed`], [`Rules::bearer`],
//! [`Rules::query`]); `seamless mock` builds one from any spec's `auth` section.

use std::time::Duration;

use http::Method;
use serde_json::Value;

/// Everything the server needs to know to enforce one token protocol.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Rules {
    /// Where calls carry the token, tried in order (the first one present wins).
    pub placements: Vec<Placement>,
    /// `Some(header)`: tokens are single-use, and every reply to a call whose token was
    /// accepted carries the session's next token in this response header. `None`: reusable.
    pub next_token_header: Option<String>,
    /// How long an access token is valid after it is issued; `None`: until a knob, a
    /// login (exclusive sessions) or reuse revocation ends it.
    pub ttl: Option<Duration>,
    /// The reply to a call whose token expired (by time or by a knob).
    pub expired: Reply,
    /// The reply to a call whose token is unknown, spent or missing; `None`: [`Rules::expired`].
    pub unknown: Option<Reply>,
    /// The reply to an expired/unknown token when the "forbid expired" knob is on (a
    /// production OAuth2 server's bare 403); `None`: the knob changes nothing.
    pub forbid_expired: Option<Reply>,
    /// How successful values are wrapped.
    pub envelope: Envelope,
    /// How errors (bad request, not found, too large, transient, login unavailable) are shaped.
    pub errors: ErrorStyle,
    /// The API's own application error (the testkit's `GET /api/fail`).
    pub app_error: Reply,
    /// A permission error: the token was good, the caller may not do this.
    pub forbidden: Reply,
    /// The login endpoint (for a spec with a custom login, `seamless mock` serves a
    /// documented default one).
    pub login: Login,
    /// A successful login expires every access token issued before it, in every session.
    pub exclusive_session: bool,
    /// Presenting a spent token (single-use token or refresh token) also revokes its session.
    pub revoke_family_on_reuse: bool,
}

/// Where a call carries its token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placement {
    /// A request header holding the bare token (`B-T`).
    Header(String),
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A query parameter (`access_token`).
    Query(String),
    /// A dotted path in a JSON request body (`token`, `auth.token`).
    JsonBody(String),
}

/// A complete reply: status, extra headers and body.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Extra response headers (`WWW-Authenticate`, `Retry-After`).
    pub headers: Vec<(String, String)>,
    /// A JSON body, or `None` for an empty body.
    pub body: Option<Value>,
}

impl Reply {
    /// A JSON reply with no extra headers.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }
}

/// How a successful value is put on the wire.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Envelope {
    /// The body is the value.
    None,
    /// `{<code>: <ok>, <data>: value, <message>: "ok"}` (dotted paths allowed).
    Wrapped {
        /// Path of the status code.
        code: String,
        /// The success code.
        ok: Value,
        /// Path of the value.
        data: String,
        /// Path of the message, if the API has one.
        message: Option<String>,
    },
    /// The value's own fields next to `{<code>: <ok>, <message>: "ok"}` (the envelope wins
    /// over same-named fields; a value that is not an object goes under `"data"`).
    Merged {
        /// Path of the status code.
        code: String,
        /// The success code.
        ok: Value,
        /// Path of the message, if the API has one.
        message: Option<String>,
    },
}

/// How the server shapes an error body for an HTTP status and a message.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ErrorStyle {
    /// `{<code>: <status or override>, <message>: msg}`.
    Coded {
        /// Path of the code field.
        code: String,
        /// Path of the message field.
        message: String,
        /// Codes used instead of the HTTP status for some statuses (WeChat's 47001 for 400).
        overrides: Vec<(u16, Value)>,
    },
    /// RFC 6749 style `{"error": <snake_case reason>, "error_description": msg}`.
    OAuth,
}

/// An encoding a login accepts its fields in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// A JSON object body.
    Json,
    /// An `application/x-www-form-urlencoded` body.
    Form,
    /// Query parameters.
    Query,
}

/// What a login field must hold.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Accept {
    /// Exactly this value (a password or secret, so `Debug` does not show it).
    Exactly(String),
    /// Any non-empty value.
    AnyNonEmpty,
    /// A one-time code the server minted (at [`crate::CODE_PATH`] or through the
    /// backend's code provider); each is accepted once.
    OneTimeCode,
}

impl std::fmt::Debug for Accept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Accept::Exactly(_) => f.write_str("Exactly(<redacted>)"),
            Accept::AnyNonEmpty => f.write_str("AnyNonEmpty"),
            Accept::OneTimeCode => f.write_str("OneTimeCode"),
        }
    }
}

/// One field a login checks, in the order checked.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginField {
    /// The field's name.
    pub name: String,
    /// What it must hold.
    pub accept: Accept,
    /// The reply when it is missing or wrong (counted as a failed login).
    pub refused: Reply,
}

/// The login endpoint and its replies.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Login {
    /// HTTP method of the login.
    pub method: Method,
    /// Path of the login.
    pub path: String,
    /// Encodings the fields are accepted in (a body's `Content-Type` picks form or JSON).
    pub encodings: Vec<Encoding>,
    /// The fields checked, in order.
    pub fields: Vec<LoginField>,
    /// The reply to a body that cannot be read as any accepted encoding.
    pub malformed: Reply,
    /// A field that is missing (or not a string) makes the request malformed
    /// ([`Login::malformed`]) rather than refused by that field's [`LoginField::refused`].
    pub absent_is_malformed: bool,
    /// The reply to a login failed by the "fail next logins" knob.
    pub forced_failure: Reply,
    /// The reply to a login failed by the "fail next logins with status" knob, its status
    /// replaced by the knob's; `None`: the error style's body for that status and the
    /// message `login unavailable`.
    pub unavailable: Option<Reply>,
    /// What the "echo credentials in errors" knob writes into every error reply of the
    /// login and refresh endpoint (a careless server's habit); `None`: the knob changes
    /// nothing.
    pub echo: Option<Echo>,
    /// The successful reply: a JSON object the issued values are written into.
    pub issued: Issued,
    /// Client authentication the endpoint requires, if any (logins and refresh grants alike).
    pub client_auth: Option<ClientAuth>,
    /// A refresh grant, if the protocol has one.
    pub refresh: Option<Refresh>,
}

/// How a careless server repeats the presented credentials in its login errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Echo {
    /// Dotted path in the error body that gets the text (replacing what is there).
    pub path: String,
    /// The text before the presented values (every string field of the request, space
    /// separated, `-` when there are none).
    pub prefix: String,
}

/// Where a successful login (or refresh) reply carries what it issued.
#[derive(Clone, Debug, PartialEq)]
pub struct Issued {
    /// The body's constant part (`{"code":200,"msg":"ok"}`, `{"token_type":"Bearer"}`).
    /// Fields the issued values go to may already be there (as `null`) to fix their
    /// position in the serialized body; the refresh token is added last, or left out when
    /// a refresh grant does not rotate.
    pub body: Value,
    /// Dotted path of the access token in the body, if it goes there.
    pub token_path: Option<String>,
    /// Response header carrying the access token, if any.
    pub token_header: Option<String>,
    /// Dotted path of `expires_in` (whole seconds, rounded up from [`Rules::ttl`]), if any.
    pub expires_in_path: Option<String>,
    /// Dotted path of the refresh token, if the login issues one.
    pub refresh_token_path: Option<String>,
}

/// Client authentication at the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, PartialEq)]
pub struct ClientAuth {
    /// How the credentials must arrive.
    pub how: ClientAuthKind,
    /// The accepted client id.
    pub client_id: String,
    /// The accepted client secret.
    pub client_secret: String,
    /// The reply to missing or wrong client credentials (counted in `client_auth_refusals`).
    pub refused: Reply,
}

// Credentials stay out of Debug output (and so out of test failure messages).
impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("how", &self.how)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("refused", &self.refused)
            .finish()
    }
}

/// How client credentials arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthKind {
    /// `Authorization: Basic base64(id:secret)`, both form-encoded first.
    Basic,
    /// Body fields `client_id` and `client_secret`.
    Body,
}

/// A refresh grant.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Refresh {
    /// HTTP method.
    pub method: Method,
    /// Path; it may be the login's own path, in which case `grant` tells the two apart.
    pub path: String,
    /// A constant field and value that marks a refresh grant (`grant_type=refresh_token`).
    pub grant: Option<(String, String)>,
    /// The field carrying the refresh token.
    pub field: String,
    /// Whether each use spends the refresh token and issues a new one (rotation).
    pub rotate: bool,
    /// The reply to a spent, unknown or revoked refresh token.
    pub refused: Reply,
    /// The reply when the "fail next refreshes" knob fires (the token is not spent).
    pub unavailable: Reply,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_password_or_client_secret() {
        let mut rules = Rules::bearer(Duration::from_secs(60));
        rules.login.client_auth = Some(ClientAuth {
            how: ClientAuthKind::Basic,
            client_id: "c".into(),
            client_secret: "client-secret-value".into(),
            refused: Reply::json(401, serde_json::json!({"error": "invalid_client"})),
        });
        let shown = format!("{rules:?}");
        for secret in ["client-secret-value", "\"p\""] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
