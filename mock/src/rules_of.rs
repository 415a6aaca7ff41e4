//! A spec's `auth` section as the testkit's [`Rules`]: what a strict server of
//! that protocol answers to every token, login and refresh.
//!
//! [`plan_of`] is pure: it reads the model and the options and says what will
//! be served (its [`Plan`] prints as the summary `seamless mock` shows), and
//! [`rules_of`] turns the plan into the rules the server runs on. A reply is
//! chosen to be one the spec's own client reads as the spec says: the expiry
//! reply matches the first expiry rule the mock can produce, success and
//! error bodies carry the envelope's code.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use http::Method;
use seamless_sdk_codegen::model::{self, Api, ExpiryRule, TokenSource};
use seamless_sdk_testkit::{
    Accept, ClientAuthKind, ClientAuthRule, Encoding, Envelope, ErrorStyle, Issued, Login, LoginField,
    Placement, Refresh, Reply, Rules,
};
use serde_json::{Value, json};

use crate::{MockError, method_of};

/// Where the documented default login of a spec whose login is `custom` is served.
pub const DEFAULT_LOGIN_PATH: &str = "/__mock/login";
/// The `client_id` an HTTP Basic token endpoint accepts unless `--secret client_id=…` says otherwise.
pub const DEFAULT_CLIENT_ID: &str = "mock-client";
/// The `client_secret` an HTTP Basic token endpoint accepts unless `--secret client_secret=…` says otherwise.
pub const DEFAULT_CLIENT_SECRET: &str = "mock-secret";
/// The token lifetime of a spec whose login reports `expires_in`, unless the options set one.
pub const DEFAULT_TTL_WITH_EXPIRES_IN: Duration = Duration::from_secs(7200);

/// What of the protocol the command line decides.
#[derive(Clone, Debug, Default)]
pub struct SpecOptions {
    /// Values the login's secret fields must hold (`--secret NAME=VALUE`); a secret not
    /// named here accepts any non-empty value. `client_id` and `client_secret` set the
    /// client credentials of an HTTP Basic token endpoint.
    pub secrets: BTreeMap<String, String>,
    /// How long an access token is valid; `None`: [`DEFAULT_TTL_WITH_EXPIRES_IN`] when the
    /// login reports `expires_in`, else until a knob (or an exclusive login) ends it.
    pub token_ttl: Option<Duration>,
}

/// What `seamless mock` will serve for one spec: the protocol, decided and explained.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Plan {
    /// The API's name.
    pub name: String,
    /// Where calls carry the token.
    pub placement: Placement,
    /// `Some(header)`: single-use tokens, the next one in this response header.
    pub next_token_header: Option<String>,
    /// The access tokens' lifetime.
    pub ttl: Option<Duration>,
    /// The reply to an expired token (and, without [`Plan::unknown`], to an unknown or spent one).
    pub expired: Reply,
    /// The reply to an unknown or spent token, when the spec tells it apart.
    pub unknown: Option<Reply>,
    /// How values are wrapped.
    pub envelope: Envelope,
    /// How errors are shaped.
    pub errors: ErrorStyle,
    /// The application error reply.
    pub app_error: Reply,
    /// The permission error reply.
    pub forbidden: Reply,
    /// The login (and refresh) endpoint.
    pub login: LoginPlan,
    /// Each login expires every token issued before it.
    pub exclusive_session: bool,
    /// Presenting a spent refresh token revokes its session.
    pub revoke_family_on_reuse: bool,
    /// Endpoints served, and how many of them need no token.
    pub endpoints: usize,
    /// Of [`Plan::endpoints`], those without a token.
    pub public_endpoints: usize,
    /// What the mock serves differently from the spec, and why.
    pub notices: Vec<String>,
}

/// The login endpoint as planned.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoginPlan {
    /// HTTP method.
    pub method: Method,
    /// Path.
    pub path: String,
    /// Encodings accepted.
    pub encodings: Vec<Encoding>,
    /// Fields checked, in order.
    pub fields: Vec<LoginField>,
    /// The reply to a body no accepted encoding reads.
    pub malformed: Reply,
    /// The reply to a login the "fail logins" knob fails.
    pub forced_failure: Reply,
    /// Where a successful reply carries what it issued.
    pub issued: Issued,
    /// HTTP Basic client authentication, if the spec asks for it.
    pub client_auth: Option<ClientAuthRule>,
    /// The refresh grant, if any.
    pub refresh: Option<RefreshPlan>,
    /// The spec's login is `custom`: this is the documented default at [`DEFAULT_LOGIN_PATH`].
    pub default_login: bool,
    /// Secret fields whose value `--secret` pinned (never printed).
    pub pinned: Vec<String>,
}

/// The refresh grant as planned.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RefreshPlan {
    /// HTTP method.
    pub method: Method,
    /// Path (may be the login's).
    pub path: String,
    /// The constant field telling a refresh from a login.
    pub grant: Option<(String, String)>,
    /// The field carrying the refresh token.
    pub field: String,
    /// Each use spends the refresh token and issues a new one.
    pub rotate: bool,
    /// The reply to a spent, unknown or revoked refresh token.
    pub refused: Reply,
    /// The reply to a refresh the knob fails.
    pub unavailable: Reply,
}

/// Plans the server of `api`'s protocol. Fails only on options that do not fit the
/// spec (a `--secret` the login does not have).
pub fn plan_of(api: &Api, opts: &SpecOptions) -> Result<Plan, MockError> {
    let auth = &api.auth;
    let mut notices = Vec::new();
    let envelope_model = auth.envelope.as_ref();

    let placement = match &auth.placement {
        model::Placement::Header(h) => Placement::Header(h.clone()),
        model::Placement::Bearer => Placement::Bearer,
        model::Placement::Query(q) => Placement::Query(q.clone()),
        model::Placement::JsonBody(p) => Placement::JsonBody(p.clone()),
    };
    let next_token_header = match &auth.lifetime {
        model::Lifetime::SingleUse { next_token_header } => Some(next_token_header.clone()),
        model::Lifetime::Reusable => None,
    };

    let mut shapes = Shapes::new(envelope_model);
    // An error code the client would read as an expiry is not an error code.
    for rule in &auth.expiry {
        let parts = match rule {
            ExpiryRule::All(parts) => parts.as_slice(),
            one => std::slice::from_ref(one),
        };
        for part in parts {
            if let ExpiryRule::BodyField { values, .. } = part {
                shapes.taken.extend(values.iter().cloned());
            }
        }
    }
    let (expired, unknown) = expiry_replies(&auth.expiry, &shapes, &mut notices);

    let flow = match &auth.login {
        model::Login::Flow(flow) => Some(flow),
        model::Login::Custom => None,
    };
    let ttl = opts.token_ttl.or_else(|| {
        flow.and_then(|f| f.expires_in.as_ref())
            .map(|_| DEFAULT_TTL_WITH_EXPIRES_IN)
    });
    check_secrets(flow, &opts.secrets)?;
    let login = match flow {
        Some(flow) => login_plan(flow, opts, &shapes, &mut notices),
        None => {
            notices.push(format!(
                "the spec's login is `custom`: the mock serves its default login at \
                 `POST {DEFAULT_LOGIN_PATH}` (no fields; the token in the body's `access_token`)"
            ));
            default_login(&shapes, ttl.is_some())
        }
    };
    if matches!(shapes.envelope, Envelope::Merged { .. })
        && api.endpoints.iter().any(|e| {
            e.response
                .as_ref()
                .is_some_and(|t| !matches!(t, model::TypeRef::Named(_) | model::TypeRef::Json))
        })
    {
        notices.push(
            "the envelope has no `data` path: a value that is not an object is served under `data`"
                .to_owned(),
        );
    }
    let revoke_family_on_reuse = login.refresh.as_ref().is_some_and(|r| r.rotate);
    Ok(Plan {
        name: api.name.clone(),
        placement,
        next_token_header,
        ttl,
        expired,
        unknown,
        envelope: shapes.envelope.clone(),
        errors: shapes.errors.clone(),
        app_error: shapes.app_error(),
        forbidden: shapes.forbidden(),
        login,
        exclusive_session: auth.exclusive_session,
        revoke_family_on_reuse,
        endpoints: api.endpoints.len(),
        public_endpoints: api.endpoints.iter().filter(|e| !e.auth).count(),
        notices,
    })
}

/// The rules the server runs on for `plan`.
pub fn rules_of(plan: &Plan) -> Rules {
    let l = &plan.login;
    let mut login = Login::new(l.method.clone(), l.path.clone());
    login.encodings = l.encodings.clone();
    login.fields = l.fields.clone();
    login.malformed = l.malformed.clone();
    login.forced_failure = l.forced_failure.clone();
    login.issued = l.issued.clone();
    login.client_auth = l.client_auth.clone();
    login.refresh = l.refresh.as_ref().map(|r| {
        let mut refresh = Refresh::new(r.method.clone(), r.path.clone(), r.field.clone());
        refresh.grant = r.grant.clone();
        refresh.rotate = r.rotate;
        refresh.refused = r.refused.clone();
        refresh.unavailable = r.unavailable.clone();
        refresh
    });
    let mut rules = Rules::new(login);
    rules.placements = vec![plan.placement.clone()];
    rules.next_token_header = plan.next_token_header.clone();
    rules.ttl = plan.ttl;
    rules.expired = plan.expired.clone();
    rules.unknown = plan.unknown.clone();
    rules.forbid_expired = None;
    rules.envelope = plan.envelope.clone();
    rules.errors = plan.errors.clone();
    rules.app_error = plan.app_error.clone();
    rules.forbidden = plan.forbidden.clone();
    rules.exclusive_session = plan.exclusive_session;
    rules.revoke_family_on_reuse = plan.revoke_family_on_reuse;
    rules
}

/// A `--secret` that names no secret of the spec is a typo the user wants to hear about.
fn check_secrets(flow: Option<&model::LoginFlow>, given: &BTreeMap<String, String>) -> Result<(), MockError> {
    let mut known: Vec<&str> = Vec::new();
    if let Some(flow) = flow {
        known.extend(flow.secrets.iter().map(String::as_str));
        if let Some(r) = &flow.refresh {
            known.extend(r.secrets.iter().map(String::as_str));
        }
        if flow.client_auth.is_some() {
            known.extend(["client_id", "client_secret"]);
        }
    }
    for name in given.keys() {
        if !known.contains(&name.as_str()) {
            let has = if known.is_empty() {
                "the login has no secret fields".to_owned()
            } else {
                format!("its secrets are {}", known.join(", "))
            };
            return Err(MockError::UnknownSecret {
                name: name.clone(),
                has,
            });
        }
    }
    Ok(())
}

/// The bodies the mock writes, shaped by the envelope (or its absence).
struct Shapes {
    envelope: Envelope,
    errors: ErrorStyle,
    /// The envelope's code path, success code and message path.
    coded: Option<(String, Value, String)>,
    /// Codes the client reads as something else (success, expiry).
    taken: Vec<Value>,
}

impl Shapes {
    fn new(envelope: Option<&model::Envelope>) -> Shapes {
        let Some(env) = envelope else {
            return Shapes {
                envelope: Envelope::None,
                errors: ErrorStyle::OAuth,
                coded: None,
                taken: Vec::new(),
            };
        };
        let ok = env.success.first().cloned().unwrap_or(json!(0));
        let wrapped = match &env.data {
            Some(data) => Envelope::Wrapped {
                code: env.code.clone(),
                ok: ok.clone(),
                data: data.clone(),
                message: env.message.clone(),
            },
            None => Envelope::Merged {
                code: env.code.clone(),
                ok: ok.clone(),
                message: env.message.clone(),
            },
        };
        let message = env.message.clone().unwrap_or_else(|| "message".to_owned());
        Shapes {
            envelope: wrapped,
            errors: ErrorStyle::Coded {
                code: env.code.clone(),
                message: message.clone(),
                overrides: Vec::new(),
            },
            coded: Some((env.code.clone(), ok, message)),
            taken: env.success.clone(),
        }
    }

    /// A code of the envelope's kind (string or number) that is neither a success nor
    /// an expiry, near `wanted`.
    fn free_code(&self, wanted: u64) -> Value {
        let strings = self.taken.iter().any(Value::is_string);
        (wanted..)
            .map(|n| if strings { json!(n.to_string()) } else { json!(n) })
            .find(|v| !self.taken.iter().any(|t| same_code(t, v)))
            .unwrap_or(json!(wanted))
    }

    /// An error body: the envelope's code and message, or RFC 6749's `error`.
    fn error(&self, status: u16, code: u64, reason: &str, message: &str) -> Reply {
        let body = match &self.coded {
            Some((code_path, _, message_path)) => {
                let mut body = json!({});
                set_path(&mut body, code_path, self.free_code(code));
                set_path(&mut body, message_path, json!(message));
                body
            }
            None => json!({"error": reason, "error_description": message}),
        };
        Reply::json(status, body)
    }

    fn app_error(&self) -> Reply {
        match &self.coded {
            Some(_) => self.error(200, 4001, "app_error", "application error"),
            None => self.error(422, 422, "app_error", "application error"),
        }
    }

    fn forbidden(&self) -> Reply {
        match &self.coded {
            Some(_) => self.error(200, 4003, "insufficient_scope", "forbidden"),
            None => self.error(403, 403, "insufficient_scope", "forbidden"),
        }
    }

    /// The constant part of a successful login reply: the envelope's success code.
    fn issued_body(&self, bearer: bool) -> Value {
        match &self.coded {
            Some((code_path, ok, message_path)) => {
                let mut body = json!({});
                set_path(&mut body, code_path, ok.clone());
                set_path(&mut body, message_path, json!("ok"));
                body
            }
            None if bearer => json!({"token_type": "Bearer"}),
            None => json!({}),
        }
    }
}

/// Whether two envelope codes are the same code (`408` is `"408"`, as the runtime reads them).
fn same_code(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text(a) == text(b)
}

/// The replies to an expired and to an unknown token, from the first expiry rule the
/// mock can produce.
fn expiry_replies(
    rules: &[ExpiryRule],
    shapes: &Shapes,
    notices: &mut Vec<String>,
) -> (Reply, Option<Reply>) {
    for rule in rules {
        if let Some(replies) = expiry_reply(rule, shapes) {
            return replies;
        }
    }
    notices.push("no expiry rule of the spec can be produced: expired tokens get HTTP 401".to_owned());
    (shapes.error(401, 401, "invalid_token", "token expired"), None)
}

fn expiry_reply(rule: &ExpiryRule, shapes: &Shapes) -> Option<(Reply, Option<Reply>)> {
    let parts: Vec<&ExpiryRule> = match rule {
        ExpiryRule::All(parts) => parts.iter().collect(),
        one => vec![one],
    };
    let mut status = None;
    let mut headers = Vec::new();
    let mut field: Option<(&str, &[Value])> = None;
    let mut empty = false;
    for part in parts {
        match part {
            ExpiryRule::Status(codes) => status = Some(*codes.first()?),
            ExpiryRule::BodyField { path, values } if !values.is_empty() => field = Some((path, values)),
            ExpiryRule::Header { name, value } => {
                headers.push((name.clone(), value.clone().unwrap_or_else(|| "1".to_owned())));
            }
            ExpiryRule::HeaderContains { name, text } => headers.push((name.clone(), text.clone())),
            ExpiryRule::EmptyBody => empty = true,
            _ => return None,
        }
    }
    if empty && field.is_some() {
        return None;
    }
    let body_with = |value: Option<&Value>| -> Option<Value> {
        if empty {
            return None;
        }
        let mut body = shapes.error(401, 401, "invalid_token", "token expired").body?;
        if let Some(((path, _), value)) = field.zip(value) {
            set_path(&mut body, path, value.clone());
        }
        Some(body)
    };
    // A body rule needs no particular status; a header or empty-body one is served as 401.
    let status = status.unwrap_or(if field.is_some() { 200 } else { 401 });
    let reply = |value: Option<&Value>| Reply {
        status,
        headers: headers.clone(),
        body: body_with(value),
    };
    match field {
        // Several values: the first for an unknown token, the last for an expired one
        // (WeChat's 40001 and 42001).
        Some((_, values)) if values.len() > 1 => Some((reply(values.last()), Some(reply(values.first())))),
        Some((_, values)) => Some((reply(values.first()), None)),
        None => Some((reply(None), None)),
    }
}

fn encoding_of(e: model::Encoding) -> Encoding {
    match e {
        model::Encoding::Json => Encoding::Json,
        model::Encoding::Form => Encoding::Form,
        model::Encoding::Query => Encoding::Query,
    }
}

fn login_plan(
    flow: &model::LoginFlow,
    opts: &SpecOptions,
    shapes: &Shapes,
    notices: &mut Vec<String>,
) -> LoginPlan {
    let refused = |field: &str| shapes.error(400, 40029, "invalid_grant", &format!("invalid {field}"));
    let mut fields = Vec::new();
    for (name, value) in &flow.fields {
        fields.push(LoginField {
            name: name.clone(),
            accept: Accept::Exactly(value.clone()),
            refused: refused(name),
        });
    }
    for name in &flow.secrets {
        let accept = match opts.secrets.get(name) {
            Some(value) => Accept::Exactly(value.clone()),
            None => Accept::AnyNonEmpty,
        };
        fields.push(LoginField {
            name: name.clone(),
            accept,
            refused: refused(name),
        });
    }
    if let Some(code) = &flow.code_field {
        fields.push(LoginField {
            name: code.clone(),
            accept: Accept::OneTimeCode,
            refused: refused(code),
        });
    }
    let login_encoding = encoding_of(flow.encoding);
    let mut encodings = vec![login_encoding];
    let refresh = flow.refresh.as_ref().map(|grant| {
        let encoding = grant.encoding.map(encoding_of).unwrap_or(match login_encoding {
            Encoding::Query => Encoding::Json,
            other => other,
        });
        if !encodings.contains(&encoding) {
            encodings.push(encoding);
        }
        if grant.fields.len() > 1 || !grant.secrets.is_empty() {
            notices.push(format!(
                "the refresh grant is told apart by its first constant field; its other fields{} are not checked",
                if grant.secrets.is_empty() { "" } else { " and secrets" }
            ));
        }
        RefreshPlan {
            method: grant.method.map_or(Method::POST, method_of),
            path: grant.path.clone(),
            grant: grant.fields.first().cloned(),
            field: grant.field.clone(),
            rotate: true,
            refused: shapes.error(400, 40030, "invalid_grant", "invalid refresh token"),
            unavailable: shapes.error(503, 503, "temporarily_unavailable", "refresh unavailable"),
        }
    });
    let (token_path, token_header) = match &flow.token {
        TokenSource::Header(h) => (None, Some(h.clone())),
        TokenSource::Json(p) => (Some(p.clone()), None),
    };
    let client_auth = flow.client_auth.map(|model::ClientAuth::Basic| ClientAuthRule {
        how: ClientAuthKind::Basic,
        client_id: opts
            .secrets
            .get("client_id")
            .cloned()
            .unwrap_or_else(|| DEFAULT_CLIENT_ID.to_owned()),
        client_secret: opts
            .secrets
            .get("client_secret")
            .cloned()
            .unwrap_or_else(|| DEFAULT_CLIENT_SECRET.to_owned()),
        refused: Reply::json(
            401,
            json!({"error": "invalid_client", "error_description": "client authentication failed"}),
        ),
    });
    LoginPlan {
        method: method_of(flow.method),
        path: flow.path.clone(),
        encodings,
        fields,
        malformed: shapes.error(400, 400, "invalid_request", "malformed login"),
        forced_failure: shapes.error(503, 503, "temporarily_unavailable", "login unavailable"),
        issued: Issued {
            body: shapes.issued_body(false),
            token_path,
            token_header,
            expires_in_path: flow.expires_in.clone(),
            refresh_token_path: flow.refresh_token.clone(),
        },
        client_auth,
        refresh,
        default_login: false,
        pinned: flow
            .secrets
            .iter()
            .filter(|s| opts.secrets.contains_key(*s))
            .cloned()
            .collect(),
    }
}

/// The documented login of a spec whose own login is `custom`: `POST /__mock/login`,
/// no fields, any encoding; the token at `access_token` (and `expires_in` with a ttl).
fn default_login(shapes: &Shapes, ttl: bool) -> LoginPlan {
    LoginPlan {
        method: Method::POST,
        path: DEFAULT_LOGIN_PATH.to_owned(),
        encodings: vec![Encoding::Json, Encoding::Form, Encoding::Query],
        fields: Vec::new(),
        malformed: shapes.error(400, 400, "invalid_request", "malformed login"),
        forced_failure: shapes.error(503, 503, "temporarily_unavailable", "login unavailable"),
        issued: Issued {
            body: shapes.issued_body(true),
            token_path: Some("access_token".to_owned()),
            token_header: None,
            expires_in_path: ttl.then(|| "expires_in".to_owned()),
            refresh_token_path: None,
        },
        client_auth: None,
        refresh: None,
        default_login: true,
        pinned: Vec::new(),
    }
}

/// Writes `value` at the dotted `path` of `body`, making objects on the way.
pub(crate) fn set_path(body: &mut Value, path: &str, value: Value) {
    let mut at = body;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if !at.is_object() {
            *at = json!({});
        }
        let Value::Object(map) = at else { return };
        if parts.peek().is_none() {
            map.insert(part.to_owned(), value);
            return;
        }
        at = map.entry(part.to_owned()).or_insert_with(|| json!({}));
    }
}

impl fmt::Display for Plan {
    /// The summary `seamless mock` prints: never a secret's or a token's value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} endpoint{} ({} public)",
            self.name,
            self.endpoints,
            if self.endpoints == 1 { "" } else { "s" },
            self.public_endpoints
        )?;
        let placement = match &self.placement {
            Placement::Header(h) => format!("header `{h}`"),
            Placement::Bearer => "`Authorization: Bearer`".to_owned(),
            Placement::Query(q) => format!("query parameter `{q}`"),
            Placement::JsonBody(p) => format!("JSON body field `{p}`"),
            other => format!("{other:?}"),
        };
        let lifetime = match &self.next_token_header {
            Some(h) => format!("single-use, the next token in response header `{h}`"),
            None => "reusable".to_owned(),
        };
        let ttl = match self.ttl {
            Some(t) if t.subsec_millis() == 0 => format!(", valid {} s", t.as_secs()),
            Some(t) => format!(", valid {} ms", t.as_millis()),
            None => String::new(),
        };
        writeln!(f, "  token: {placement}, {lifetime}{ttl}")?;
        writeln!(f, "  expired token: {}", describe(&self.expired))?;
        if let Some(unknown) = &self.unknown {
            writeln!(f, "  unknown or spent token: {}", describe(unknown))?;
        }
        let login = &self.login;
        let encodings: Vec<&str> = login
            .encodings
            .iter()
            .map(|e| match e {
                Encoding::Json => "json",
                Encoding::Form => "form",
                Encoding::Query => "query",
            })
            .collect();
        write!(
            f,
            "  login: {} {} ({})",
            login.method,
            login.path,
            encodings.join(", ")
        )?;
        if login.default_login {
            write!(f, " [default login: the spec's is custom]")?;
        }
        writeln!(f)?;
        for field in &login.fields {
            let accept = match &field.accept {
                Accept::Exactly(_) if login.pinned.contains(&field.name) => {
                    "the value given by --secret".to_owned()
                }
                Accept::Exactly(v) => format!("`{v}`"),
                Accept::AnyNonEmpty => "any non-empty value".to_owned(),
                Accept::OneTimeCode => {
                    format!("a one-time code from POST {}", seamless_sdk_testkit::CODE_PATH)
                }
                _ => "a value".to_owned(),
            };
            writeln!(f, "    field `{}`: {accept}", field.name)?;
        }
        if let Some(auth) = &login.client_auth {
            if auth.client_id == DEFAULT_CLIENT_ID && auth.client_secret == DEFAULT_CLIENT_SECRET {
                writeln!(
                    f,
                    "    HTTP Basic client authentication: `{DEFAULT_CLIENT_ID}` / `{DEFAULT_CLIENT_SECRET}` \
                     (--secret client_id=… --secret client_secret=… to change)"
                )?;
            } else {
                writeln!(f, "    HTTP Basic client authentication, as given by --secret")?;
            }
        }
        let issued = &login.issued;
        match (&issued.token_header, &issued.token_path) {
            (Some(h), _) => writeln!(f, "    token in response header `{h}`")?,
            (None, Some(p)) => writeln!(f, "    token at body `{p}`")?,
            (None, None) => {}
        }
        if let Some(p) = &issued.expires_in_path {
            writeln!(f, "    `expires_in` at body `{p}`")?;
        }
        if let Some(p) = &issued.refresh_token_path {
            writeln!(f, "    refresh token at body `{p}`")?;
        }
        if let Some(r) = &login.refresh {
            let grant = r
                .grant
                .as_ref()
                .map(|(k, v)| format!(" with {k}={v}"))
                .unwrap_or_default();
            writeln!(
                f,
                "  refresh: {} {}{grant}, `{}` {}",
                r.method,
                r.path,
                r.field,
                if r.rotate {
                    "rotates; a spent one revokes its session"
                } else {
                    "is kept"
                }
            )?;
        }
        if self.exclusive_session {
            writeln!(f, "  exclusive session: a login expires every earlier token")?;
        }
        for notice in &self.notices {
            writeln!(f, "  note: {notice}")?;
        }
        Ok(())
    }
}

/// `HTTP 200 {"code":408,…}` without the message.
fn describe(reply: &Reply) -> String {
    let mut out = format!("HTTP {}", reply.status);
    for (name, value) in &reply.headers {
        out.push_str(&format!(", header {name}: {value}"));
    }
    match &reply.body {
        Some(body) => out.push_str(&format!(", body {body}")),
        None => out.push_str(", empty body"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec;

    fn plan(name: &str) -> Plan {
        plan_of(&spec(name), &SpecOptions::default()).unwrap()
    }

    fn names(fields: &[LoginField]) -> Vec<(&str, &Accept)> {
        fields.iter().map(|f| (f.name.as_str(), &f.accept)).collect()
    }

    fn seed_shape(p: &Plan) {
        assert_eq!(p.placement, Placement::Header("B-T".into()));
        assert_eq!(p.next_token_header.as_deref(), Some("B-T"));
        assert_eq!(p.ttl, None);
        assert_eq!(
            p.expired,
            Reply::json(200, json!({"code": 408, "msg": "token expired"}))
        );
        assert_eq!(p.unknown, None);
        assert_eq!(
            p.envelope,
            Envelope::Wrapped {
                code: "code".into(),
                ok: json!(200),
                data: "data".into(),
                message: Some("msg".into())
            }
        );
        assert_eq!(p.app_error.status, 200);
        assert_eq!(
            p.app_error.body,
            Some(json!({"code": 4001, "msg": "application error"}))
        );
        let l = &p.login;
        assert_eq!(
            (l.method.as_str(), l.path.as_str()),
            ("POST", "/v1/api/imiMini/login")
        );
        assert_eq!(l.encodings, [Encoding::Json]);
        assert_eq!(names(&l.fields), [("code", &Accept::OneTimeCode)]);
        assert_eq!(l.issued.token_header.as_deref(), Some("B-T"));
        assert_eq!(l.issued.token_path, None);
        assert_eq!(l.issued.body, json!({"code": 200, "msg": "ok"}));
        assert!(l.refresh.is_none() && l.client_auth.is_none() && !l.default_login);
        assert!(!p.exclusive_session && !p.revoke_family_on_reuse);
        assert!(p.notices.is_empty(), "{:?}", p.notices);
    }

    #[test]
    fn imi_mini_is_single_use_b_t_with_a_one_time_code_login() {
        let p = plan("imi_mini.yaml");
        seed_shape(&p);
        assert_eq!((p.endpoints, p.public_endpoints), (9, 1));
    }

    #[test]
    fn the_openapi_imi_mini_is_served_like_the_yaml_one() {
        let p = plan("openapi/imi_mini.openapi.yaml");
        seed_shape(&p);
        assert_eq!((p.endpoints, p.public_endpoints), (6, 0));
    }

    #[test]
    fn bearer_api_has_a_password_login_and_a_rotating_refresh_grant() {
        let p = plan("bearer_api.yaml");
        assert_eq!(p.placement, Placement::Bearer);
        assert_eq!(p.next_token_header, None);
        assert_eq!(p.ttl, Some(DEFAULT_TTL_WITH_EXPIRES_IN));
        assert_eq!(p.expired.status, 401);
        assert_eq!(p.expired.body.as_ref().unwrap()["error"], "invalid_token");
        assert_eq!(p.envelope, Envelope::None);
        assert_eq!(p.errors, ErrorStyle::OAuth);
        let l = &p.login;
        assert_eq!((l.method.as_str(), l.path.as_str()), ("POST", "/oauth/token"));
        assert_eq!(l.encodings, [Encoding::Json]);
        assert_eq!(
            names(&l.fields),
            [
                ("grant_type", &Accept::Exactly("password".into())),
                ("username", &Accept::AnyNonEmpty),
                ("password", &Accept::AnyNonEmpty),
            ]
        );
        assert_eq!(l.issued.token_path.as_deref(), Some("access_token"));
        assert_eq!(l.issued.expires_in_path.as_deref(), Some("expires_in"));
        assert_eq!(l.issued.refresh_token_path.as_deref(), Some("refresh_token"));
        let r = l.refresh.as_ref().unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/oauth/token"));
        assert_eq!(r.grant, Some(("grant_type".into(), "refresh_token".into())));
        assert_eq!(r.field, "refresh_token");
        assert!(r.rotate);
        assert!(p.revoke_family_on_reuse);
    }

    #[test]
    fn secrets_given_are_required_and_never_printed() {
        let opts = SpecOptions {
            secrets: [("password".to_owned(), "hunter2".to_owned())].into(),
            token_ttl: Some(Duration::from_millis(1500)),
        };
        let p = plan_of(&spec("bearer_api.yaml"), &opts).unwrap();
        assert_eq!(p.ttl, Some(Duration::from_millis(1500)));
        assert_eq!(p.login.fields[2].accept, Accept::Exactly("hunter2".into()));
        let summary = p.to_string();
        assert!(!summary.contains("hunter2"), "{summary}");
        assert!(
            summary.contains("field `password`: the value given by --secret"),
            "{summary}"
        );
    }

    #[test]
    fn a_secret_the_spec_does_not_have_is_an_error_naming_the_ones_it_has() {
        let opts = SpecOptions {
            secrets: [("pasword".to_owned(), "x".to_owned())].into(),
            token_ttl: None,
        };
        let err = plan_of(&spec("bearer_api.yaml"), &opts).unwrap_err().to_string();
        assert!(
            err.contains("pasword") && err.contains("username, password"),
            "{err}"
        );
    }

    #[test]
    fn oauth_server_wants_form_grants_and_http_basic() {
        let p = plan("oauth_server.yaml");
        assert_eq!(p.expired.status, 401);
        let l = &p.login;
        assert_eq!(l.encodings, [Encoding::Form]);
        let auth = l.client_auth.as_ref().unwrap();
        assert_eq!(auth.how, ClientAuthKind::Basic);
        assert_eq!(
            (auth.client_id.as_str(), auth.client_secret.as_str()),
            (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        );
        assert_eq!(auth.refused.status, 401);
        let opts = SpecOptions {
            secrets: [("client_id".to_owned(), "me".to_owned())].into(),
            token_ttl: None,
        };
        let p = plan_of(&spec("oauth_server.yaml"), &opts).unwrap();
        assert_eq!(p.login.client_auth.unwrap().client_id, "me");
    }

    #[test]
    fn wechat_query_tells_unknown_from_expired_and_is_exclusive() {
        let p = plan("wechat_query.yaml");
        assert_eq!(p.placement, Placement::Query("access_token".into()));
        assert_eq!(
            p.expired,
            Reply::json(200, json!({"errcode": 42001, "errmsg": "token expired"}))
        );
        assert_eq!(
            p.unknown,
            Some(Reply::json(
                200,
                json!({"errcode": 40001, "errmsg": "token expired"})
            ))
        );
        assert_eq!(
            p.envelope,
            Envelope::Merged {
                code: "errcode".into(),
                ok: json!(0),
                message: Some("errmsg".into())
            }
        );
        // Neither a success nor an expiry code.
        assert_eq!(p.app_error.body.as_ref().unwrap()["errcode"], 4001);
        let l = &p.login;
        assert_eq!((l.method.as_str(), l.path.as_str()), ("GET", "/cgi-bin/token"));
        assert_eq!(l.encodings, [Encoding::Query]);
        assert_eq!(
            names(&l.fields),
            [
                ("grant_type", &Accept::Exactly("client_credential".into())),
                ("appid", &Accept::AnyNonEmpty),
                ("secret", &Accept::AnyNonEmpty),
            ]
        );
        assert_eq!(l.issued.body, json!({"errcode": 0, "errmsg": "ok"}));
        assert!(p.exclusive_session);
        assert_eq!(p.ttl, Some(DEFAULT_TTL_WITH_EXPIRES_IN));
    }

    #[test]
    fn a_custom_login_gets_the_default_login_and_a_notice() {
        let mut api = spec("bearer_api.yaml");
        api.auth.login = model::Login::Custom;
        let p = plan_of(&api, &SpecOptions::default()).unwrap();
        let l = &p.login;
        assert!(l.default_login);
        assert_eq!((l.method.as_str(), l.path.as_str()), ("POST", DEFAULT_LOGIN_PATH));
        assert!(l.fields.is_empty());
        assert_eq!(l.issued.token_path.as_deref(), Some("access_token"));
        assert_eq!(p.ttl, None);
        assert!(
            p.notices.iter().any(|n| n.contains(DEFAULT_LOGIN_PATH)),
            "{:?}",
            p.notices
        );
        assert!(p.to_string().contains("default login"), "{p}");
    }

    #[test]
    fn header_and_empty_body_rules_are_served_as_declared() {
        let mut api = spec("bearer_api.yaml");
        api.auth.expiry = vec![ExpiryRule::All(vec![
            ExpiryRule::Status(vec![403]),
            ExpiryRule::EmptyBody,
        ])];
        let p = plan_of(&api, &SpecOptions::default()).unwrap();
        assert_eq!(
            p.expired,
            Reply {
                status: 403,
                headers: vec![],
                body: None
            }
        );
        api.auth.expiry = vec![ExpiryRule::HeaderContains {
            name: "WWW-Authenticate".into(),
            text: "error=\"invalid_token\"".into(),
        }];
        let p = plan_of(&api, &SpecOptions::default()).unwrap();
        assert_eq!(p.expired.status, 401);
        assert_eq!(
            p.expired.headers,
            [(
                "WWW-Authenticate".to_owned(),
                "error=\"invalid_token\"".to_owned()
            )]
        );
    }

    #[test]
    fn the_rules_are_the_plan() {
        for name in [
            "imi_mini.yaml",
            "bearer_api.yaml",
            "oauth_server.yaml",
            "wechat_query.yaml",
            "openapi/imi_mini.openapi.yaml",
        ] {
            let p = plan(name);
            let r = rules_of(&p);
            assert_eq!(r.placements, std::slice::from_ref(&p.placement), "{name}");
            assert_eq!(r.next_token_header, p.next_token_header, "{name}");
            assert_eq!(
                (r.ttl, &r.expired, &r.unknown),
                (p.ttl, &p.expired, &p.unknown),
                "{name}"
            );
            assert_eq!((&r.envelope, &r.errors), (&p.envelope, &p.errors), "{name}");
            assert_eq!(
                (&r.app_error, &r.forbidden),
                (&p.app_error, &p.forbidden),
                "{name}"
            );
            assert_eq!(r.forbid_expired, None, "{name}");
            assert_eq!(
                (r.exclusive_session, r.revoke_family_on_reuse),
                (p.exclusive_session, p.revoke_family_on_reuse),
                "{name}"
            );
            let (rl, pl) = (&r.login, &p.login);
            assert_eq!(
                (&rl.method, &rl.path, &rl.encodings),
                (&pl.method, &pl.path, &pl.encodings),
                "{name}"
            );
            assert_eq!((&rl.fields, &rl.issued), (&pl.fields, &pl.issued), "{name}");
            assert_eq!(rl.client_auth, pl.client_auth, "{name}");
            assert_eq!(rl.refresh.is_some(), pl.refresh.is_some(), "{name}");
            if let (Some(rr), Some(pr)) = (&rl.refresh, &pl.refresh) {
                assert_eq!(
                    (&rr.path, &rr.field, &rr.grant, rr.rotate),
                    (&pr.path, &pr.field, &pr.grant, pr.rotate)
                );
            }
        }
    }

    #[test]
    fn set_path_makes_objects_on_the_way() {
        let mut v = json!({"a": 1});
        set_path(&mut v, "data.token", json!("t"));
        set_path(&mut v, "a.b", json!(2));
        assert_eq!(v, json!({"a": {"b": 2}, "data": {"token": "t"}}));
    }
}
