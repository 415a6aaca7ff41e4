//! The spec as written: serde types that mirror the YAML key for key. They
//! are a boundary: only the lowering reads them, never the emitter.
//!
//! Every value sits in an [`Sp`] (or a [`Req`], for required keys) so that
//! each problem has a position and one bad value costs only itself. The doc
//! comments are the JSON Schema's descriptions (`seamless schema`).
//! `deny_unknown_fields` only shapes the schema (`additionalProperties:
//! false`); unknown keys are reported by the deserializer, all of them.
//! Two leaf values read by hand: [`Scalar`] (a number or a string) and
//! [`TypeExpr`] (a type expression, parsed when lowered).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, Unexpected, Visitor};

use super::spanned::{Either, Entries, Req, Sp};

type Opt<T> = Option<Sp<T>>;

/// A seamless API spec: one typed client for one API and its token protocol.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "seamless API spec")]
pub(crate) struct Spec {
    /// snake_case API name; names the SDK crate (`imi_mini`).
    pub name: Req<String>,
    /// The client type's name; default: the CamelCase name plus `Client` (`ImiMiniClient`).
    pub client: Opt<String>,
    /// Doc text for the crate and the client.
    pub doc: Opt<String>,
    /// A default base URL (`https://api.example.com`).
    pub base_url: Opt<String>,
    /// The token protocol.
    pub auth: Req<Auth>,
    /// Named types (CamelCase), used by endpoints.
    pub types: Opt<Entries<TypeDef>>,
    /// Endpoints by snake_case method name.
    pub endpoints: Req<Entries<Endpoint>>,
}

/// The token protocol: where the token goes, how long it lives, how expiry
/// looks, how bodies are wrapped and how a session is obtained.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Auth {
    /// Where requests carry the token.
    pub placement: Req<Placement>,
    /// `single_use` (rotated on every response) or `reusable`.
    pub lifetime: Req<Lifetime>,
    /// The response header with the next token; required with `single_use`, forbidden with `reusable`.
    pub next_token_header: Opt<String>,
    /// Any matching rule means "token expired": re-login and replay.
    pub expiry: Req<Vec<Sp<ExpiryRule>>>,
    /// How successful bodies are wrapped (`{code, data, msg}`), if they are.
    pub envelope: Opt<Envelope>,
    /// How a session is obtained: a login request, or `custom` (you pass a `seamless_sdk::Login`).
    pub login: Req<Either<String, LoginFlow>>,
    /// Independent sessions (default 1).
    #[schemars(range(min = 1))]
    pub chains: Opt<u32>,
    /// `exclusive` when each login revokes every token before it (one session per client; then
    /// `chains` must be 1), `shared` (the default) when sessions are independent.
    pub session: Opt<Session>,
    /// Replays per call after an expiry (0 to 8, default 1).
    #[schemars(range(max = crate::limits::MAX_REPLAYS))]
    pub max_replays: Opt<u32>,
    /// Login timeout in milliseconds.
    pub login_timeout_ms: Opt<u64>,
    /// Per-request timeout in milliseconds.
    pub request_timeout_ms: Opt<u64>,
    /// Renew a token this many milliseconds before its known expiry (default 10000; never more than half its lifetime).
    pub expiry_skew_ms: Opt<u64>,
    /// The cool-down after a failed login (default 500 ms, doubling to 30000 ms).
    pub login_backoff: Opt<LoginBackoff>,
    /// The largest response body (API or login reply) read, in bytes (default 16 MiB).
    #[schemars(range(min = 1))]
    pub max_response_bytes: Opt<u64>,
    /// How calls retry transient failures (default: 429, 502, 503 and 504, up to
    /// `max_replays + 2` attempts per call, backoff from 250 ms to 8 s).
    pub retry: Opt<Retry>,
}

/// `login_backoff: { initial_ms: 500, max_ms: 30000 }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBackoff {
    /// Cool-down after the first failed login, in milliseconds; 0 turns it off.
    pub initial_ms: Req<u64>,
    /// The longest cool-down, in milliseconds; at least `initial_ms`.
    pub max_ms: Req<u64>,
}

/// How calls retry transient failures; every field is optional.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Retry {
    /// Every attempt of a call, its first included, whatever resends it (expiry replays
    /// too); default `max_replays + 2`.
    #[schemars(range(min = 1, max = 20))]
    pub max_attempts: Opt<u32>,
    /// The HTTP statuses retried (default `[429, 502, 503, 504]`; `[]` turns retries off).
    pub statuses: Opt<Vec<Sp<u16>>>,
    /// The first backoff's ceiling in milliseconds (default 250); each next one doubles.
    pub initial_backoff_ms: Opt<u64>,
    /// The largest backoff in milliseconds (default 8000).
    pub max_backoff_ms: Opt<u64>,
    /// The most time one call spends waiting to retry, in milliseconds (default 30000).
    pub max_elapsed_ms: Opt<u64>,
    /// The longest `Retry-After` honoured, in milliseconds (default 60000).
    pub max_retry_after_ms: Opt<u64>,
}

/// A GET endpoint's short-lived response cache, scoped to the client's session.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cache {
    /// How long a value is served from memory, in milliseconds.
    #[schemars(range(min = 1))]
    pub ttl_ms: Req<u64>,
    /// After `ttl_ms`, how long the last value may still be served when its refresh fails
    /// (a failed login, a transport error, a 5xx), in milliseconds (default 0).
    pub stale_if_error_ms: Opt<u64>,
}

/// Where requests carry the token: `bearer`, `{header: B-T}`, `{query: access_token}` or `{json_body: token}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Placement {
    /// A request header holding the bare token.
    Header(Sp<String>),
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A query parameter.
    Query(Sp<String>),
    /// A dotted path in the JSON request body.
    JsonBody(Sp<String>),
}

/// Token lifetime.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Lifetime {
    /// Each token is used once; the next one arrives in `next_token_header`.
    SingleUse,
    /// Reusable until rejected or its `expires_in` runs out.
    Reusable,
}

/// Whether the server keeps several sessions per client.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Session {
    /// Sessions are independent: a login leaves earlier tokens valid.
    Shared,
    /// Each login revokes every token before it.
    Exclusive,
}

/// One way the server says "expired": one condition, or several that must
/// all hold (`{status: [403], empty_body: true}`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub(crate) struct ExpiryRule {
    /// The HTTP status is one of these (`[401]`).
    pub status: Opt<Vec<Sp<u16>>>,
    /// A response header is present (with `value`, if given).
    pub header: Opt<HeaderRule>,
    /// A JSON body field holds one of the values (`{path: code, in: [408]}`).
    pub body: Opt<BodyRule>,
    /// `true`: the body is empty (a bare 403, unlike a permission error with a body).
    pub empty_body: Opt<bool>,
}

/// `body: {path: code, in: [408]}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BodyRule {
    /// Dotted path of the field (`code`, `error.code`).
    pub path: Req<String>,
    /// Values meaning "expired": numbers or strings.
    #[serde(rename = "in")]
    pub values: Req<Vec<Sp<Scalar>>>,
}

/// `header: {name: X-Token-Expired, value: "1"}` or `{name: WWW-Authenticate, contains: 'error="invalid_token"'}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeaderRule {
    /// Header name.
    pub name: Req<String>,
    /// The whole value meaning expired; any value when absent (and no `contains`).
    pub value: Opt<String>,
    /// Text the value holds somewhere (`error="invalid_token"`); instead of `value`.
    pub contains: Opt<String>,
}

/// A success envelope like `{"code": 200, "data": ..., "msg": ...}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Envelope {
    /// Dotted path of the status code.
    pub code: Req<String>,
    /// Codes meaning success.
    pub success: Req<Vec<Sp<Scalar>>>,
    /// Dotted path of the value; the whole body when absent.
    pub data: Opt<String>,
    /// Dotted path of the error message.
    pub message: Opt<String>,
    /// A body without the code field counts as success (default false).
    pub absent_is_success: Opt<bool>,
}

/// A declarative login request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginFlow {
    /// HTTP method.
    pub method: Req<Method>,
    /// Path relative to the base URL.
    pub path: Req<String>,
    /// How fields are sent; default `query` for GET, `json` otherwise.
    pub encoding: Opt<Encoding>,
    /// Constant fields (`grant_type: client_credential`).
    pub fields: Opt<Entries<String>>,
    /// Fields whose values the user passes when building the client (`[appid, secret]`).
    pub secrets: Opt<Vec<Sp<String>>>,
    /// The field filled by the async one-time code provider (the `wx.login()` analog).
    pub code: Opt<String>,
    /// Where the response carries the token.
    pub token: Req<TokenSource>,
    /// Dotted path of `expires_in` (seconds).
    pub expires_in: Opt<String>,
    /// Dotted path of a refresh token.
    pub refresh_token: Opt<String>,
    /// A refresh grant, tried before a full login.
    pub refresh: Opt<Refresh>,
    /// `basic`: authenticate the client at the token endpoint with HTTP Basic (the client id and secret are passed when building the client).
    pub client_auth: Opt<ClientAuth>,
}

/// Client authentication at the token endpoint.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ClientAuth {
    /// `Authorization: Basic` (RFC 6749 §2.3.1) on the login and the refresh grant.
    Basic,
}

/// HTTP method.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

/// How login fields are sent.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Encoding {
    /// A JSON object body.
    Json,
    /// A form body.
    Form,
    /// Query parameters.
    Query,
}

/// Where the login response carries the token: `{header: B-T}` or `{json: data.token}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum TokenSource {
    /// A response header.
    Header(Sp<String>),
    /// A dotted JSON path in the body.
    Json(Sp<String>),
}

/// A refresh grant: `POST path` with the refresh token in `field`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Refresh {
    /// HTTP method (default POST).
    pub method: Opt<Method>,
    /// Path of the grant.
    pub path: Req<String>,
    /// How fields are sent; default: like the login (`json` when the login sends a query).
    pub encoding: Opt<Encoding>,
    /// Field carrying the refresh token.
    pub field: Req<String>,
    /// Constant fields (`grant_type: refresh_token`).
    pub fields: Opt<Entries<String>>,
    /// Secret fields (`[client_secret]`): a login secret of the same name is reused, others are passed when building the client.
    pub secrets: Opt<Vec<Sp<String>>>,
}

/// A named type: a struct (`fields`) or a string enum (`enum`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TypeDef {
    /// Doc text.
    pub doc: Opt<String>,
    /// Struct fields by wire name: a type expression or `{type, doc, rust_name}`.
    pub fields: Opt<Entries<Either<TypeExpr, TypedLong>>>,
    /// String enum values: a string or `{value, rust_name, doc}`.
    #[serde(rename = "enum")]
    pub variants: Opt<Vec<Sp<Either<String, VariantLong>>>>,
    /// One of several types: a type expression or `{type, value, rust_name}`.
    pub one_of: Opt<Vec<Sp<Either<TypeExpr, ChoiceLong>>>>,
    /// With `one_of`: the object field whose string says which type it is.
    pub tag: Opt<String>,
}

/// A `one_of` choice's long form.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChoiceLong {
    /// Its type expression.
    #[serde(rename = "type")]
    pub ty: Req<TypeExpr>,
    /// With `tag`: the tag's value for this choice (default: the type's name).
    pub value: Opt<String>,
    /// The Rust variant name (default: from the type).
    pub rust_name: Opt<String>,
}

/// The long form of a struct field or an endpoint parameter.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TypedLong {
    /// Its type expression.
    #[serde(rename = "type")]
    pub ty: Req<TypeExpr>,
    /// Doc text.
    pub doc: Opt<String>,
    /// The Rust field or argument name, when the snake_cased wire name will not do.
    pub rust_name: Opt<String>,
}

/// An enum value's long form.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VariantLong {
    /// The string on the wire.
    pub value: Req<String>,
    /// The Rust variant name, when the CamelCased value will not do.
    pub rust_name: Opt<String>,
    /// Doc text.
    pub doc: Opt<String>,
}

/// One endpoint: one client method.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Endpoint {
    /// Doc text.
    pub doc: Opt<String>,
    /// HTTP method.
    pub method: Req<Method>,
    /// Path with `{name}` placeholders, relative to the base URL.
    pub path: Req<String>,
    /// Path parameters: one per `{name}` in `path`.
    pub params: Opt<Entries<Either<TypeExpr, TypedLong>>>,
    /// Query parameters by wire name (optional ones end in `?`).
    pub query: Opt<Entries<Either<TypeExpr, TypedLong>>>,
    /// Request headers by name.
    pub headers: Opt<Entries<Either<TypeExpr, TypedLong>>>,
    /// The JSON body: a type expression or `{type, name}`. Not on GET or DELETE.
    pub body: Opt<Either<TypeExpr, BodyLong>>,
    /// The success value; nothing (`()`) when absent.
    pub response: Opt<TypeExpr>,
    /// Safe to replay after a transport error; default: GET, PUT and DELETE are.
    pub idempotent: Opt<bool>,
    /// The header (usually `Idempotency-Key`) each call sends a fresh key in, the same on
    /// every attempt of the call; such a call is retried like an idempotent one.
    pub idempotency_key: Opt<String>,
    /// This endpoint's retry settings, over `auth.retry`.
    pub retry: Opt<Retry>,
    /// Serve this GET from the client's short-lived response cache.
    pub cache: Opt<Cache>,
    /// Mark the method `#[deprecated]`.
    pub deprecated: Opt<bool>,
    /// `none` for a public endpoint (no token); default `token`.
    pub auth: Opt<EndpointAuth>,
}

/// The body's long form.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BodyLong {
    /// Its type expression.
    #[serde(rename = "type")]
    pub ty: Req<TypeExpr>,
    /// The argument name (default `body`).
    pub name: Opt<String>,
}

/// Whether an endpoint sends the session token.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EndpointAuth {
    /// A public endpoint: no token, no expiry handling.
    None,
    /// The default: the session token.
    Token,
}

/// A number or a string (status codes in bodies: `408`, `"40001"`).
#[derive(Clone, Debug)]
pub(crate) struct Scalar(pub serde_json::Value);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                serde_json::Number::from_f64(v)
                    .map(|n| Scalar(serde_json::Value::Number(n)))
                    .ok_or_else(|| E::invalid_value(Unexpected::Float(v), &self))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.into()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Scalar {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "NumberOrString".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["number", "string"] })
    }
}

/// A type expression (`u64`, `User?`, `list<map<string>>`), parsed later.
#[derive(Clone, Debug)]
pub(crate) struct TypeExpr(pub String);

impl<'de> Deserialize<'de> for TypeExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(TypeExpr)
    }
}

impl JsonSchema for TypeExpr {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "TypeExpr".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A type expression: string, bool, i32, i64, u32, u64, f64, json, a type from `types`, `T?` (optional), `list<T>` or `map<T>` (string keys).",
            "examples": ["u64", "string?", "list<User>", "map<json>"]
        })
    }
}
