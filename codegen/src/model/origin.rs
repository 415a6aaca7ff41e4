//! Where model values came from: a YAML position or a Rust span, for the
//! nodes themselves and, in the `origins` of a node, for the values inside
//! it that checks judge.

/// Where a model node came from.
#[derive(Clone, Debug, Default)]
pub enum Origin {
    /// Built in code (tests, defaults).
    #[default]
    Unknown,
    /// A position in a YAML spec (1-based).
    Yaml {
        /// Line, from 1.
        line: u32,
        /// Column, from 1.
        column: u32,
    },
    /// A span in Rust source (the macro front end).
    Rust(proc_macro2::Span),
    /// Nowhere: the value stands in for one the front end could not read
    /// and has reported. Checks say nothing about it, so one mistake is
    /// reported once, not again by every rule its stand-in would break.
    StandIn,
}

impl Origin {
    /// Does the value stand in for one the front end could not read?
    pub fn is_stand_in(&self) -> bool {
        matches!(self, Origin::StandIn)
    }

    /// This origin, or `fallback` when it is unknown: a part without an
    /// origin of its own is reported at its node's.
    pub fn or<'a>(&'a self, fallback: &'a Origin) -> &'a Origin {
        match self {
            Origin::Unknown => fallback,
            known => known,
        }
    }
}

/// Where the API's own values were written; unknown ones fall back to the
/// API's origin.
#[derive(Clone, Debug, Default)]
pub struct ApiOrigins {
    /// `name`.
    pub name: Origin,
    /// `client`.
    pub client: Origin,
    /// `base_url`.
    pub base_url: Origin,
    /// The endpoint list.
    pub endpoints: Origin,
}

/// Where the settings of an [`Auth`](super::Auth) were written. An unknown
/// origin falls back to the enclosing one (a rule's part to the rule, the
/// rule to the auth section), which is all a front end may know: the macro
/// knows the span of each argument, not of what is inside it.
#[derive(Clone, Debug, Default)]
pub struct AuthOrigins {
    /// The placement's value (the header, query parameter or body field).
    pub placement: Origin,
    /// `next_token_header`.
    pub next_token_header: Origin,
    /// The expiry rule list.
    pub expiry: Origin,
    /// One per expiry rule, in order.
    pub rules: Vec<RuleOrigins>,
    /// The envelope's parts.
    pub envelope: EnvelopeOrigins,
    /// The login flow's parts.
    pub login: LoginOrigins,
    /// `chains`.
    pub chains: Origin,
    /// `max_replays`.
    pub max_replays: Origin,
    /// `login_timeout_ms`.
    pub login_timeout_ms: Origin,
    /// `request_timeout_ms`.
    pub request_timeout_ms: Origin,
    /// `max_response_bytes`.
    pub max_response_bytes: Origin,
    /// `login_backoff`'s `max_ms`.
    pub login_backoff_max_ms: Origin,
}

/// Where an expiry rule and its conditions were written. The parts of
/// [`ExpiryRule::All`](super::ExpiryRule::All) are the rule's own keys, so
/// they share these.
#[derive(Clone, Debug, Default)]
pub struct RuleOrigins {
    /// The rule.
    pub rule: Origin,
    /// The status list.
    pub status: Origin,
    /// Each status, in order.
    pub codes: Vec<Origin>,
    /// The body rule's path.
    pub body_path: Origin,
    /// The body rule's value list.
    pub body_in: Origin,
    /// Each of those values, in order.
    pub body_values: Vec<Origin>,
    /// The header rule's name.
    pub header_name: Origin,
    /// The header rule's `contains`.
    pub header_contains: Origin,
    /// `empty_body`.
    pub empty_body: Origin,
}

/// Where an [`Envelope`](super::Envelope) and its parts were written.
#[derive(Clone, Debug, Default)]
pub struct EnvelopeOrigins {
    /// The envelope.
    pub envelope: Origin,
    /// `code`.
    pub code: Origin,
    /// The success list.
    pub success: Origin,
    /// Each success code, in order.
    pub success_values: Vec<Origin>,
    /// `data`.
    pub data: Origin,
    /// `message`.
    pub message: Origin,
}

/// Where a [`LoginFlow`](super::LoginFlow) and its parts were written.
#[derive(Clone, Debug, Default)]
pub struct LoginOrigins {
    /// The login.
    pub login: Origin,
    /// `method`.
    pub method: Origin,
    /// `path`.
    pub path: Origin,
    /// `encoding`.
    pub encoding: Origin,
    /// Each constant field's value, in order.
    pub fields: Vec<Origin>,
    /// Each secret, in order.
    pub secrets: Vec<Origin>,
    /// `code`.
    pub code: Origin,
    /// The token's header or JSON path.
    pub token: Origin,
    /// `expires_in`.
    pub expires_in: Origin,
    /// `refresh_token`.
    pub refresh_token: Origin,
    /// The refresh grant's parts.
    pub refresh: RefreshOrigins,
}

/// Where a [`RefreshGrant`](super::RefreshGrant) and its parts were written.
#[derive(Clone, Debug, Default)]
pub struct RefreshOrigins {
    /// The grant.
    pub refresh: Origin,
    /// `path`.
    pub path: Origin,
    /// `field`.
    pub field: Origin,
    /// Each constant field's value, in order.
    pub fields: Vec<Origin>,
    /// Each secret, in order.
    pub secrets: Vec<Origin>,
    /// `method`.
    pub method: Origin,
    /// `encoding`.
    pub encoding: Origin,
}
