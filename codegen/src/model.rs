//! The validated API model: what both front ends (the YAML spec and the
//! `#[token_client]` trait) lower into, and the only input of the emitter.
//!
//! Names here are already Rust names (snake_case methods and fields,
//! CamelCase types and variants); wire names sit beside them where they
//! differ. Every node keeps its [`Origin`], and every value a check judges
//! has one too (beside it, or in the node's `origins`), so a check that runs
//! on the model points at the YAML line or the Rust span it came from.

mod origin;
mod reach;

use std::fmt;

pub use origin::{
    ApiOrigins, AuthOrigins, EnvelopeOrigins, LoginOrigins, Origin, RefreshOrigins, RuleOrigins,
};
pub(crate) use reach::Boxing;

/// A whole API: one generated client.
#[derive(Clone, Debug)]
pub struct Api {
    /// snake_case name (`imi_mini`): the SDK crate's name.
    pub name: String,
    /// CamelCase client type (`ImiMiniClient`).
    pub client: String,
    /// Doc text for the crate and the client.
    pub doc: Option<String>,
    /// A default base URL, if the spec gives one.
    pub base_url: Option<String>,
    /// The token protocol.
    pub auth: Auth,
    /// Named types, in spec order.
    pub types: Vec<TypeDef>,
    /// Endpoints, in spec order.
    pub endpoints: Vec<Endpoint>,
    /// Where the API was declared.
    pub origin: Origin,
    /// Where `name`, `client`, `base_url` and the endpoint list were written.
    pub origins: ApiOrigins,
    /// The front end left out endpoints, or parts of them, that it could
    /// not read (and reported): which types the endpoints use is not known.
    pub endpoints_partial: bool,
}

/// The token protocol of an API (the axes of `docs/protocol.md`).
#[derive(Clone, Debug)]
pub struct Auth {
    /// Where requests carry the token.
    pub placement: Placement,
    /// Single-use or reusable.
    pub lifetime: Lifetime,
    /// Any rule matching means "expired".
    pub expiry: Vec<ExpiryRule>,
    /// How successful bodies are wrapped, if they are.
    pub envelope: Option<Envelope>,
    /// How a session is obtained.
    pub login: Login,
    /// Independent sessions (chains); `None` keeps the runtime default (1).
    pub chains: Option<u32>,
    /// Each login revokes every earlier token (`session: exclusive`), so
    /// only one chain can work.
    pub exclusive_session: bool,
    /// Replays per call; `None` keeps the runtime default (1).
    pub max_replays: Option<u32>,
    /// Login timeout in milliseconds; `None` keeps the runtime default.
    pub login_timeout_ms: Option<u64>,
    /// Per-request timeout in milliseconds; `None` keeps the runtime default.
    pub request_timeout_ms: Option<u64>,
    /// How long before a known expiry a token is renewed, in milliseconds;
    /// `None` keeps the runtime default.
    pub expiry_skew_ms: Option<u64>,
    /// The cool-down after a failed login; `None` keeps the runtime default.
    pub login_backoff: Option<LoginBackoff>,
    /// The largest response body read, in bytes; `None` keeps the runtime
    /// default.
    pub max_response_bytes: Option<u64>,
    /// How calls retry transient failures; `None` keeps the runtime default.
    pub retry: Option<Retry>,
    /// Where the auth section was declared.
    pub origin: Origin,
    /// Where each of its settings was written.
    pub origins: AuthOrigins,
}

impl Auth {
    /// `Authorization: Bearer`, reusable tokens, HTTP 401 means expired, a
    /// hand-written login, every setting at the runtime's default: the base
    /// a front end's stand-in (and a test's model) starts from.
    pub fn bearer_defaults(origin: Origin) -> Auth {
        Auth {
            placement: Placement::Bearer,
            lifetime: Lifetime::Reusable,
            expiry: vec![ExpiryRule::Status(vec![401])],
            envelope: None,
            login: Login::Custom,
            chains: None,
            exclusive_session: false,
            max_replays: None,
            login_timeout_ms: None,
            request_timeout_ms: None,
            expiry_skew_ms: None,
            login_backoff: None,
            max_response_bytes: None,
            retry: None,
            origin,
            origins: AuthOrigins::default(),
        }
    }
}

/// How calls retry transient failures (the runtime's `RetryPolicy`); a
/// field left `None` keeps the runtime's default for it.
#[derive(Clone, Debug, Default)]
pub struct Retry {
    /// Every attempt of a call, its first included, whatever resends it.
    pub max_attempts: Option<u32>,
    /// The reply statuses retried (default 429, 502, 503, 504).
    pub statuses: Option<Vec<u16>>,
    pub initial_backoff_ms: Option<u64>,
    pub max_backoff_ms: Option<u64>,
    pub max_elapsed_ms: Option<u64>,
    pub max_retry_after_ms: Option<u64>,
    /// Where it was declared.
    pub origin: Origin,
}

impl Retry {
    /// `self` with every field `over` sets taken from `over`: an
    /// endpoint's policy over the client's.
    pub fn under(&self, over: &Retry) -> Retry {
        Retry {
            max_attempts: over.max_attempts.or(self.max_attempts),
            statuses: over.statuses.clone().or_else(|| self.statuses.clone()),
            initial_backoff_ms: over.initial_backoff_ms.or(self.initial_backoff_ms),
            max_backoff_ms: over.max_backoff_ms.or(self.max_backoff_ms),
            max_elapsed_ms: over.max_elapsed_ms.or(self.max_elapsed_ms),
            max_retry_after_ms: over.max_retry_after_ms.or(self.max_retry_after_ms),
            origin: over.origin.clone(),
        }
    }
}

/// A GET endpoint's response cache (the runtime's `CachePolicy`).
#[derive(Clone, Debug)]
pub struct Cache {
    /// How long a value is fresh.
    pub ttl_ms: u64,
    /// How much longer it may stand in when a refresh fails.
    pub stale_if_error_ms: u64,
    /// Where it was declared.
    pub origin: Origin,
}

/// The cool-down after a failed login: `initial_ms`, doubling per failure
/// in a row up to `max_ms` (the runtime's `login_backoff`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginBackoff {
    /// After the first failure, in milliseconds; 0 turns the cool-down off.
    pub initial_ms: u64,
    /// The longest cool-down, in milliseconds.
    pub max_ms: u64,
}

/// Where requests carry the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// A request header with the bare token (`B-T`).
    Header(String),
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A query parameter (`access_token`).
    Query(String),
    /// A dotted path in the JSON body (`token`, `auth.token`).
    JsonBody(String),
}

/// Token lifetime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// Each token is used once; the next arrives in this response header.
    SingleUse {
        /// The response header carrying the next token.
        next_token_header: String,
    },
    /// Reusable until rejected or its `expires_in` runs out.
    Reusable,
}

/// One way the server says "expired".
#[derive(Clone, Debug, PartialEq)]
pub enum ExpiryRule {
    /// The HTTP status is in this set.
    Status(Vec<u16>),
    /// The JSON body field at `path` (dotted) holds one of `values`.
    BodyField {
        /// Dotted path.
        path: String,
        /// Values meaning "expired" (numbers or strings).
        values: Vec<serde_json::Value>,
    },
    /// A response header is present (with `value`, if given).
    Header {
        /// Header name.
        name: String,
        /// Required value, or any.
        value: Option<String>,
    },
    /// A response header holds `text` somewhere in its value.
    HeaderContains {
        /// Header name.
        name: String,
        /// The text (`error="invalid_token"`).
        text: String,
    },
    /// The body is empty.
    EmptyBody,
    /// Every part matches (a YAML rule with several keys). The parts are
    /// single conditions, validated at the rule's own spec path.
    All(Vec<ExpiryRule>),
}

/// A `{code, data, msg}`-style success envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// Dotted path of the status code.
    pub code: String,
    /// Codes meaning success.
    pub success: Vec<serde_json::Value>,
    /// Dotted path of the value; `None` means the whole body.
    pub data: Option<String>,
    /// Dotted path of the error message.
    pub message: Option<String>,
    /// A body without the code field is a success.
    pub absent_is_success: bool,
}

/// How a session is obtained.
// One per API: the size difference costs nothing worth a `Box` in the shape.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Login {
    /// A declarative login request.
    Flow(LoginFlow),
    /// The user supplies a `seamless_sdk::Login` implementation when building the client.
    Custom,
}

/// How login fields are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// JSON object body.
    Json,
    /// Form body.
    Form,
    /// Query parameters.
    Query,
}

/// Where a login response carries the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// A response header.
    Header(String),
    /// A dotted JSON path in the body.
    Json(String),
}

/// A declarative login (the runtime's `LoginFlow`).
#[derive(Clone, Debug)]
pub struct LoginFlow {
    /// HTTP method.
    pub method: HttpMethod,
    /// Login path, relative to the base URL.
    pub path: String,
    /// How the fields are sent.
    pub encoding: Encoding,
    /// Constant fields (`grant_type: client_credential`), in order.
    pub fields: Vec<(String, String)>,
    /// Secret fields whose values the user passes when building the client
    /// (`appid`, `secret`, `password`), in order.
    pub secrets: Vec<String>,
    /// The field filled from the user's async one-time code provider.
    pub code_field: Option<String>,
    /// Where the token comes back.
    pub token: TokenSource,
    /// Dotted path of `expires_in` (seconds), if the response has one.
    pub expires_in: Option<String>,
    /// Dotted path of a refresh token, if the response has one.
    pub refresh_token: Option<String>,
    /// A refresh grant, tried before a full re-login.
    pub refresh: Option<RefreshGrant>,
    /// How the client authenticates at the token endpoint, if it must.
    pub client_auth: Option<ClientAuth>,
}

/// Client authentication at the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` with a client id and a secret the user passes
    /// when building the client.
    Basic,
}

/// A refresh grant: `POST path` with the refresh token in `field`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshGrant {
    /// Path of the grant.
    pub path: String,
    /// Field carrying the refresh token.
    pub field: String,
    /// Constant fields (`grant_type: refresh_token`).
    pub fields: Vec<(String, String)>,
    /// HTTP method; `None` keeps the runtime's (`POST`).
    pub method: Option<HttpMethod>,
    /// How the fields are sent; `None`: like the login (JSON for a query login).
    pub encoding: Option<Encoding>,
    /// Secret fields, in order. A name the login also lists as a secret
    /// reuses its value; others are passed when building the client.
    pub secrets: Vec<String>,
}

/// A named type.
#[derive(Clone, Debug)]
pub struct TypeDef {
    /// CamelCase name.
    pub name: String,
    /// Doc text.
    pub doc: Option<String>,
    /// Struct or enum.
    pub kind: TypeKind,
    /// Where it was declared.
    pub origin: Origin,
    /// Where its field or value list was written.
    pub kind_origin: Origin,
}

/// The shape of a named type.
#[derive(Clone, Debug)]
pub enum TypeKind {
    /// A struct with named fields.
    Struct(Vec<Field>),
    /// A string enum.
    Enum(Vec<Variant>),
    /// One of several types: told apart by shape (untagged), or by the
    /// string in field `tag` of an object.
    OneOf {
        /// The field naming the variant, if the wire has one.
        tag: Option<String>,
        /// The types, in order (an untagged value is the first that fits).
        choices: Vec<Choice>,
    },
}

/// One type a `one_of` type may be.
#[derive(Clone, Debug)]
pub struct Choice {
    /// CamelCase Rust variant name.
    pub name: String,
    /// Its type.
    pub ty: TypeRef,
    /// With a `tag`: the tag's value for this choice.
    pub value: String,
    /// Where it was declared.
    pub origin: Origin,
}

impl TypeKind {
    /// Every type this one holds: its fields' or its choices'.
    pub fn held_types(&self) -> Vec<&TypeRef> {
        match self {
            TypeKind::Struct(fields) => fields.iter().map(|f| &f.ty).collect(),
            TypeKind::Enum(_) => Vec::new(),
            TypeKind::OneOf { choices, .. } => choices.iter().map(|c| &c.ty).collect(),
        }
    }
}

/// A struct field.
#[derive(Clone, Debug)]
pub struct Field {
    /// snake_case Rust name.
    pub name: String,
    /// Name on the wire (equal to `name` when no rename is needed).
    pub wire: String,
    /// Its type.
    pub ty: TypeRef,
    /// Doc text.
    pub doc: Option<String>,
    /// Where it was declared.
    pub origin: Origin,
    /// Where its declaration's value was written, which problems with the
    /// field are reported at: the type of `id: u64`, the key of the long
    /// form (a block mapping starts on the next line).
    pub value_origin: Origin,
}

/// A string enum variant.
#[derive(Clone, Debug)]
pub struct Variant {
    /// CamelCase Rust name.
    pub name: String,
    /// The string on the wire.
    pub wire: String,
    /// Doc text.
    pub doc: Option<String>,
    /// Where it was declared.
    pub origin: Origin,
}

/// A type expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TypeRef {
    /// `string` → `String`.
    String,
    /// `bool`.
    Bool,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `f64`.
    F64,
    /// `json` → `serde_json::Value`: any JSON.
    Json,
    /// A named type from `types`.
    Named(String),
    /// `T?` → `Option<T>`.
    Option(Box<TypeRef>),
    /// `list<T>` → `Vec<T>`.
    List(Box<TypeRef>),
    /// `map<T>` → `BTreeMap<String, T>`.
    Map(Box<TypeRef>),
}

impl TypeRef {
    /// The primitive types by their spec spelling: the one list the YAML
    /// parser, the suggestions for an unknown type and `Display` share.
    pub const PRIMITIVES: &'static [(&'static str, TypeRef)] = &[
        ("string", TypeRef::String),
        ("bool", TypeRef::Bool),
        ("i32", TypeRef::I32),
        ("i64", TypeRef::I64),
        ("u32", TypeRef::U32),
        ("u64", TypeRef::U64),
        ("f64", TypeRef::F64),
        ("json", TypeRef::Json),
    ];

    /// The primitive spelled `name`, if one is.
    pub fn primitive(name: &str) -> Option<TypeRef> {
        TypeRef::PRIMITIVES
            .iter()
            .find(|(spelling, _)| *spelling == name)
            .map(|(_, ty)| ty.clone())
    }

    /// The primitives' spellings, for a message: `string, bool, …, json`.
    pub fn primitive_names() -> String {
        let names: Vec<&str> = TypeRef::PRIMITIVES.iter().map(|(name, _)| *name).collect();
        names.join(", ")
    }

    /// Pushes the named types this expression mentions.
    pub fn named_into<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            TypeRef::Named(n) => out.push(n),
            TypeRef::Option(t) | TypeRef::List(t) | TypeRef::Map(t) => t.named_into(out),
            _ => {}
        }
    }

    /// A primitive that can go in a path segment, query value or header.
    pub fn is_scalar(&self) -> bool {
        matches!(
            self,
            TypeRef::String
                | TypeRef::Bool
                | TypeRef::I32
                | TypeRef::I64
                | TypeRef::U32
                | TypeRef::U64
                | TypeRef::F64
        )
    }
}

impl fmt::Display for TypeRef {
    /// The spec syntax: `string`, `User?`, `list<map<u64>>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Named(n) => f.write_str(n),
            TypeRef::Option(t) => write!(f, "{t}?"),
            TypeRef::List(t) => write!(f, "list<{t}>"),
            TypeRef::Map(t) => write!(f, "map<{t}>"),
            // Every other variant is a primitive, spelled as the list says.
            primitive => {
                let (name, _) = TypeRef::PRIMITIVES
                    .iter()
                    .find(|(_, ty)| ty == primitive)
                    .ok_or(fmt::Error)?;
                f.write_str(name)
            }
        }
    }
}

/// HTTP methods an endpoint may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpMethod {
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

impl HttpMethod {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// One endpoint: one generated method.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// snake_case method name.
    pub name: String,
    /// Doc text.
    pub doc: Option<String>,
    /// HTTP method.
    pub method: HttpMethod,
    /// Path template with `{param}` placeholders, relative to the base URL.
    pub path: String,
    /// The method's arguments, in order (path, query and header parameters).
    pub params: Vec<Param>,
    /// The JSON body argument, if any (always the last argument).
    pub body: Option<Body>,
    /// The success value; `None` means `()`.
    pub response: Option<TypeRef>,
    /// Explicit idempotency; `None` follows the method (GET/PUT/DELETE are).
    pub idempotent: Option<bool>,
    /// The header each call sends a fresh idempotency key in, if any.
    pub idempotency_key: Option<String>,
    /// Marked `#[deprecated]`.
    pub deprecated: bool,
    /// This endpoint's retry settings, over the client's.
    pub retry: Option<Retry>,
    /// Its short-lived response cache (GET only).
    pub cache: Option<Cache>,
    /// `false` for public endpoints: no token, no expiry handling.
    pub auth: bool,
    /// Where it was declared.
    pub origin: Origin,
    /// Where its path was written.
    pub path_origin: Origin,
    /// Where its response type was written.
    pub response_origin: Origin,
}

/// A method argument bound to part of the request.
#[derive(Clone, Debug)]
pub struct Param {
    /// snake_case argument name.
    pub name: String,
    /// What it binds to.
    pub kind: ParamKind,
    /// Its type: a scalar, or an optional scalar for query parameters.
    pub ty: TypeRef,
    /// Doc text.
    pub doc: Option<String>,
    /// Where it was declared.
    pub origin: Origin,
    /// Where its declaration's value was written, as [`Field::value_origin`].
    pub value_origin: Origin,
}

/// What a parameter binds to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// The `{name}` placeholder in the path.
    Path,
    /// A query parameter with this wire name.
    Query {
        /// Name on the wire.
        wire: String,
    },
    /// A request header with this name.
    Header {
        /// Header name.
        wire: String,
    },
}

/// The JSON body argument.
#[derive(Clone, Debug)]
pub struct Body {
    /// Argument name (`body` unless the front end names it).
    pub name: String,
    /// Its type.
    pub ty: TypeRef,
    /// Where it was declared.
    pub origin: Origin,
}
