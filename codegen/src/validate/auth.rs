//! Rules on the token protocol: where the token goes, what counts as
//! expired, the success envelope, the login flow and the runtime settings.

use std::collections::{BTreeSet, HashMap};

use super::{Ctxt, nth, param_section};
use crate::diag::{DiagnosticKind, Severity};
use crate::limits::MAX_REPLAYS;
use crate::model::{
    Api, Auth, Encoding, Endpoint, Envelope, EnvelopeOrigins, ExpiryRule, HttpMethod, Lifetime, Login,
    LoginFlow, LoginOrigins, Origin, ParamKind, Placement, RefreshGrant, RefreshOrigins, RuleOrigins,
    TokenSource, TypeKind, TypeRef,
};

pub(super) fn check(cx: &mut Ctxt<'_>, api: &Api) {
    let auth = &api.auth;
    check_placement(cx, auth);
    check_next_token_header(cx, auth);
    check_expiry_present(cx, auth);
    let unknown = RuleOrigins::default();
    for (i, rule) in auth.expiry.iter().enumerate() {
        let origins = auth.origins.rules.get(i).unwrap_or(&unknown);
        let at = Rule {
            path: &format!("auth.expiry[{i}]"),
            origin: origins.rule.or(&auth.origin),
            origins,
        };
        check_expiry_rule(cx, &at, rule);
    }
    if let Some(env) = &auth.envelope {
        check_envelope(cx, &auth.origins.envelope, &auth.origin, env);
    }
    if let Login::Flow(flow) = &auth.login {
        check_login(cx, &auth.origins.login, &auth.origin, flow);
    }
    check_chains(cx, auth);
    check_max_replays(cx, auth);
    check_timeouts(cx, auth);
    check_max_response_bytes(cx, auth);
    check_login_backoff(cx, auth);
    check_token_parameters(cx, auth, &api.endpoints);
}

/// The token's header must be a header name, its query parameter must have
/// a name, and its body field must be a JSON path.
fn check_placement(cx: &mut Ctxt<'_>, auth: &Auth) {
    let o = auth.origins.placement.or(&auth.origin);
    match &auth.placement {
        Placement::Header(name) => cx.header_name(o, "auth.placement.header", name),
        Placement::Query(name) if name.trim().is_empty() => cx.error(
            DiagnosticKind::InvalidName,
            o,
            "auth.placement.query",
            "the token's query parameter has no name; write `placement: { query: access_token }`",
        ),
        Placement::JsonBody(path) => cx.json_path(o, "auth.placement.json_body", path),
        Placement::Query(_) | Placement::Bearer => {}
    }
}

/// A single-use token's successor arrives in a response header.
fn check_next_token_header(cx: &mut Ctxt<'_>, auth: &Auth) {
    if let Lifetime::SingleUse { next_token_header } = &auth.lifetime {
        let o = auth.origins.next_token_header.or(&auth.origin);
        cx.header_name(o, "auth.next_token_header", next_token_header);
    }
}

/// Without a rule no reply counts as expired, so no token is ever renewed.
fn check_expiry_present(cx: &mut Ctxt<'_>, auth: &Auth) {
    if auth.expiry.is_empty() {
        cx.error(
            DiagnosticKind::CannotWork,
            auth.origins.expiry.or(&auth.origin),
            "auth.expiry",
            "`expiry` has no rule, so no reply would ever count as expired; add one, like `- status: [401]`",
        );
    }
}

/// Where an expiry rule is: its spec path (`auth.expiry[0]`), its origin
/// and its parts' origins.
struct Rule<'a> {
    path: &'a str,
    origin: &'a Origin,
    origins: &'a RuleOrigins,
}

impl Rule<'_> {
    /// A part's origin, or the rule's.
    fn at<'o>(&'o self, part: &'o Origin) -> &'o Origin {
        part.or(self.origin)
    }
}

/// One expiry rule.
fn check_expiry_rule(cx: &mut Ctxt<'_>, at: &Rule<'_>, rule: &ExpiryRule) {
    let path = at.path;
    match rule {
        ExpiryRule::Status(codes) => check_status_rule(cx, at, codes),
        ExpiryRule::BodyField { path: field, values } => check_body_rule(cx, at, field, values),
        ExpiryRule::Header { name, .. } => cx.header_name(
            at.at(&at.origins.header_name),
            &format!("{path}.header.name"),
            name,
        ),
        ExpiryRule::HeaderContains { name, text } => {
            cx.header_name(
                at.at(&at.origins.header_name),
                &format!("{path}.header.name"),
                name,
            );
            check_contains(cx, at, text);
        }
        ExpiryRule::EmptyBody => check_empty_body_alone(cx, at),
        ExpiryRule::All(parts) => check_all_rule(cx, at, parts),
    }
}

/// A status rule lists HTTP statuses, at least one.
fn check_status_rule(cx: &mut Ctxt<'_>, at: &Rule<'_>, codes: &[u16]) {
    let list = at.at(&at.origins.status);
    if codes.is_empty() {
        cx.error(
            DiagnosticKind::CannotWork,
            list,
            format!("{}.status", at.path),
            "status rule lists no status; add one, like `[401]`",
        );
    }
    for (j, code) in codes.iter().enumerate() {
        if !(100..=599).contains(code) {
            cx.error(
                DiagnosticKind::InvalidValue,
                nth(&at.origins.codes, j, list),
                format!("{}.status[{j}]", at.path),
                format!("`{code}` is not an HTTP status; use a code from 100 to 599"),
            );
        }
    }
}

/// A body rule names a JSON field and the values (numbers or strings) that
/// mean expired, at least one.
fn check_body_rule(cx: &mut Ctxt<'_>, at: &Rule<'_>, field: &str, values: &[serde_json::Value]) {
    cx.json_path(
        at.at(&at.origins.body_path),
        &format!("{}.body.path", at.path),
        field,
    );
    let list = at.at(&at.origins.body_in);
    if values.is_empty() {
        cx.error(
            DiagnosticKind::CannotWork,
            list,
            format!("{}.body.in", at.path),
            "body rule lists no value; add the codes that mean expired, like `in: [408]`",
        );
    }
    for (j, v) in values.iter().enumerate() {
        if !(v.is_number() || v.is_string()) {
            cx.error(
                DiagnosticKind::InvalidValue,
                nth(&at.origins.body_values, j, list),
                format!("{}.body.in[{j}]", at.path),
                format!("expiry value `{v}` must be a number or a string"),
            );
        }
    }
}

/// An empty `contains` holds for any value: it says nothing.
fn check_contains(cx: &mut Ctxt<'_>, at: &Rule<'_>, text: &str) {
    if text.is_empty() {
        cx.error(
            DiagnosticKind::CannotWork,
            at.at(&at.origins.header_contains),
            format!("{}.header.contains", at.path),
            "`contains` is empty, so it holds for any value; remove it to match any value, or give the text",
        );
    }
}

/// Alone, `empty_body` would take a `204 No Content` for an expiry.
fn check_empty_body_alone(cx: &mut Ctxt<'_>, at: &Rule<'_>) {
    cx.error(
        DiagnosticKind::CannotWork,
        at.at(&at.origins.empty_body),
        format!("{}.empty_body", at.path),
        "`empty_body` alone would take every empty reply (a 204) for an expiry; pair it with a status, like `{ status: [403], empty_body: true }`",
    );
}

/// A rule of several conditions: each is a single condition (they are the
/// rule's keys, so they share its path), and `empty_body` goes with a status
/// and never with a body field.
fn check_all_rule(cx: &mut Ctxt<'_>, at: &Rule<'_>, parts: &[ExpiryRule]) {
    for part in parts {
        match part {
            ExpiryRule::EmptyBody => {}
            ExpiryRule::All(_) => cx.error(
                DiagnosticKind::Shape,
                at.origin,
                at.path,
                "an expiry rule cannot nest another; list every condition in one rule",
            ),
            part => check_expiry_rule(cx, at, part),
        }
    }
    let has = |f: fn(&ExpiryRule) -> bool| parts.iter().any(f);
    if has(|p| matches!(p, ExpiryRule::EmptyBody)) {
        if has(|p| matches!(p, ExpiryRule::BodyField { .. })) {
            cx.error(
                DiagnosticKind::CannotWork,
                at.at(&at.origins.empty_body),
                format!("{}.empty_body", at.path),
                "an empty body has no field for the `body` condition to find, so this rule never matches; keep one of the two",
            );
        } else if !has(|p| matches!(p, ExpiryRule::Status(_))) {
            cx.error(
                DiagnosticKind::CannotWork,
                at.at(&at.origins.empty_body),
                format!("{}.empty_body", at.path),
                "`empty_body` without a status would take any empty reply that has this header for an expiry; add a status, like `status: [403]`",
            );
        }
    }
}

/// The envelope's paths are JSON paths, and some code means success.
fn check_envelope(cx: &mut Ctxt<'_>, origins: &EnvelopeOrigins, auth: &Origin, env: &Envelope) {
    let o = origins.envelope.or(auth);
    cx.json_path(origins.code.or(o), "auth.envelope.code", &env.code);
    let list = origins.success.or(o);
    if env.success.is_empty() {
        cx.error(
            DiagnosticKind::CannotWork,
            list,
            "auth.envelope.success",
            "`success` lists no code, so every reply would be an error; add one, like `[200]`",
        );
    }
    for (j, v) in env.success.iter().enumerate() {
        if !(v.is_number() || v.is_string()) {
            cx.error(
                DiagnosticKind::InvalidValue,
                nth(&origins.success_values, j, list),
                format!("auth.envelope.success[{j}]"),
                format!("success code `{v}` must be a number or a string"),
            );
        }
    }
    if let Some(p) = &env.data {
        cx.json_path(origins.data.or(o), "auth.envelope.data", p);
    }
    if let Some(p) = &env.message {
        cx.json_path(origins.message.or(o), "auth.envelope.message", p);
    }
}

/// A declarative login, and its refresh grant.
fn check_login(cx: &mut Ctxt<'_>, origins: &LoginOrigins, auth: &Origin, flow: &LoginFlow) {
    let o = origins.login.or(auth);
    cx.request_path(origins.path.or(o), "auth.login.path", &flow.path);
    check_login_method(cx, origins, o, flow);
    check_login_fields(cx, origins, o, flow);
    check_token_source(cx, origins.token.or(o), &flow.token);
    if let Some(p) = &flow.expires_in {
        cx.json_path(origins.expires_in.or(o), "auth.login.expires_in", p);
    }
    if let Some(p) = &flow.refresh_token {
        cx.json_path(origins.refresh_token.or(o), "auth.login.refresh_token", p);
    }
    check_refresh_pairing(cx, origins, o, flow);
    if let Some(r) = &flow.refresh {
        let ro = &origins.refresh;
        let o = ro.refresh.or(o);
        cx.request_path(ro.path.or(o), "auth.login.refresh.path", &r.path);
        check_refresh_field(cx, ro.field.or(o), r);
        check_refresh_fields(cx, ro, o, r);
        check_refresh_method(cx, ro, o, flow, r);
    }
}

/// A GET has no body, so a GET login sends its fields in the query.
fn check_login_method(cx: &mut Ctxt<'_>, origins: &LoginOrigins, o: &Origin, flow: &LoginFlow) {
    // The encoding's default follows the method: with a stand-in method,
    // there is nothing to judge.
    if origins.method.is_stand_in() {
        return;
    }
    if flow.method == HttpMethod::Get && flow.encoding != Encoding::Query {
        cx.error(
            DiagnosticKind::Conflict,
            origins.encoding.or(o),
            "auth.login.encoding",
            format!(
                "a GET login cannot send a {} body; use `encoding: query` or another method",
                body_word(flow.encoding)
            ),
        );
    }
}

/// Each field the login sends (constants, secrets, the one-time code) has
/// a name, and no name is sent twice; a login that sends nothing is
/// probably missing its credentials.
fn check_login_fields(cx: &mut Ctxt<'_>, origins: &LoginOrigins, o: &Origin, flow: &LoginFlow) {
    // Every field name the login sends, with where it is declared.
    let mut sent: Vec<(&str, String, &Origin, &str)> = Vec::new();
    for (i, (k, _)) in flow.fields.iter().enumerate() {
        let at = nth(&origins.fields, i, o);
        sent.push((k, format!("auth.login.fields.{k}"), at, "a constant field"));
    }
    for (i, s) in flow.secrets.iter().enumerate() {
        let at = nth(&origins.secrets, i, o);
        sent.push((s, format!("auth.login.secrets[{i}]"), at, "a secret"));
    }
    if let Some(code) = &flow.code_field {
        let at = origins.code.or(o);
        sent.push((code, "auth.login.code".to_owned(), at, "the one-time code"));
    }
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for (name, path, at, what) in &sent {
        if name.trim().is_empty() {
            cx.error(
                DiagnosticKind::InvalidName,
                at,
                path.clone(),
                format!("{what} has an empty field name; name the field"),
            );
            continue;
        }
        if let Some(first) = seen.get(name) {
            cx.error(
                DiagnosticKind::NameClash,
                at,
                path.clone(),
                format!("login field `{name}` is already sent as {first}; keep only one of them"),
            );
        } else {
            seen.insert(name, what);
        }
    }
    if sent.is_empty() {
        cx.report(
            Severity::Warning,
            DiagnosticKind::Empty,
            o,
            "auth.login",
            "the login sends no field; add `secrets`, `code` or `fields` if the server needs credentials",
        );
    }
}

/// The token comes back in a header or at a JSON path.
fn check_token_source(cx: &mut Ctxt<'_>, o: &Origin, token: &TokenSource) {
    match token {
        TokenSource::Header(h) => cx.header_name(o, "auth.login.token.header", h),
        TokenSource::Json(p) => cx.json_path(o, "auth.login.token.json", p),
    }
}

/// A refresh token is read to be used by a refresh grant, and a refresh
/// grant needs one. A grant that could not be read may be the one that
/// uses it.
fn check_refresh_pairing(cx: &mut Ctxt<'_>, origins: &LoginOrigins, o: &Origin, flow: &LoginFlow) {
    match (&flow.refresh_token, &flow.refresh) {
        (Some(_), None) if !origins.refresh.refresh.is_stand_in() => cx.report(
            Severity::Warning,
            DiagnosticKind::Unused,
            origins.refresh_token.or(o),
            "auth.login.refresh_token",
            "the refresh token is read but never used; add a `refresh` grant or remove `refresh_token`",
        ),
        (None, Some(_)) => cx.error(
            DiagnosticKind::CannotWork,
            origins.refresh.refresh.or(o),
            "auth.login.refresh",
            "the refresh grant can never run because no refresh token is read; add `refresh_token: <path>` to `login`",
        ),
        _ => {}
    }
}

/// The grant names the field that carries the refresh token.
fn check_refresh_field(cx: &mut Ctxt<'_>, o: &Origin, r: &RefreshGrant) {
    if r.field.trim().is_empty() {
        cx.error(
            DiagnosticKind::InvalidName,
            o,
            "auth.login.refresh.field",
            "the refresh grant's field is empty; name the field that carries the refresh token",
        );
    }
}

/// The grant's constants and secrets each have a name, none of them the
/// refresh token's field, and no name is sent twice.
fn check_refresh_fields(cx: &mut Ctxt<'_>, origins: &RefreshOrigins, o: &Origin, r: &RefreshGrant) {
    let mut seen = BTreeSet::new();
    for (i, (k, _)) in r.fields.iter().enumerate() {
        let o = nth(&origins.fields, i, o);
        let path = format!("auth.login.refresh.fields.{k}");
        if *k == r.field {
            cx.error(
                DiagnosticKind::NameClash,
                o,
                path,
                format!("`{k}` already carries the refresh token (`field`); remove this constant"),
            );
        } else if !seen.insert(k) {
            cx.error(
                DiagnosticKind::NameClash,
                o,
                path,
                format!("refresh field `{k}` is sent twice; keep one"),
            );
        }
    }
    for (i, k) in r.secrets.iter().enumerate() {
        let o = nth(&origins.secrets, i, o);
        let path = format!("auth.login.refresh.secrets[{i}]");
        if k.trim().is_empty() {
            cx.error(
                DiagnosticKind::InvalidName,
                o,
                path,
                "a refresh secret has an empty field name; name the field",
            );
        } else if *k == r.field {
            cx.error(
                DiagnosticKind::NameClash,
                o,
                path,
                format!("`{k}` already carries the refresh token (`field`); remove this secret"),
            );
        } else if !seen.insert(k) {
            cx.error(
                DiagnosticKind::NameClash,
                o,
                path,
                format!("refresh field `{k}` is sent twice; keep one"),
            );
        }
    }
}

/// A GET grant has no body, so it sends its fields in the query.
fn check_refresh_method(
    cx: &mut Ctxt<'_>,
    origins: &RefreshOrigins,
    o: &Origin,
    flow: &LoginFlow,
    r: &RefreshGrant,
) {
    // The runtime's default: like the login, but never a query.
    let encoding = r.encoding.unwrap_or(match flow.encoding {
        Encoding::Query => Encoding::Json,
        other => other,
    });
    if r.method == Some(HttpMethod::Get) && encoding != Encoding::Query {
        let (at, path, fix) = match r.encoding {
            Some(_) => (
                &origins.encoding,
                "auth.login.refresh.encoding",
                "use `encoding: query` or another method",
            ),
            None => (
                &origins.method,
                "auth.login.refresh.method",
                "add `encoding: query` to the grant",
            ),
        };
        cx.error(
            DiagnosticKind::Conflict,
            at.or(o),
            path,
            format!(
                "a GET refresh grant cannot send a {} body; {fix}",
                body_word(encoding)
            ),
        );
    }
}

/// How a body encoding reads in a message.
fn body_word(encoding: Encoding) -> &'static str {
    if encoding == Encoding::Json {
        "json"
    } else {
        "form"
    }
}

/// No chain leaves nothing to call with; with `session: exclusive`, each
/// login revokes the session before it, so chains would revoke each other.
fn check_chains(cx: &mut Ctxt<'_>, auth: &Auth) {
    let o = auth.origins.chains.or(&auth.origin);
    if auth.chains == Some(0) {
        cx.error(
            DiagnosticKind::CannotWork,
            o,
            "auth.chains",
            "`chains: 0` leaves no session to call with; use 1 or more",
        );
    }
    if auth.exclusive_session
        && let Some(n) = auth.chains
        && n > 1
    {
        cx.error(
            DiagnosticKind::Conflict,
            o,
            "auth.chains",
            format!(
                "`chains: {n}` with `session: exclusive`: each login revokes the session \
                 before it, so the chains would revoke each other's tokens; use `chains: 1`"
            ),
        );
    }
}

/// The runtime refuses more replays than its limit.
fn check_max_replays(cx: &mut Ctxt<'_>, auth: &Auth) {
    if let Some(n) = auth.max_replays
        && n > MAX_REPLAYS
    {
        cx.error(
            DiagnosticKind::InvalidValue,
            auth.origins.max_replays.or(&auth.origin),
            "auth.max_replays",
            format!("`max_replays: {n}` is above the runtime's limit; use 0 to {MAX_REPLAYS}"),
        );
    }
}

/// A timeout of zero fails every call.
fn check_timeouts(cx: &mut Ctxt<'_>, auth: &Auth) {
    for (key, v, at) in [
        (
            "login_timeout_ms",
            auth.login_timeout_ms,
            &auth.origins.login_timeout_ms,
        ),
        (
            "request_timeout_ms",
            auth.request_timeout_ms,
            &auth.origins.request_timeout_ms,
        ),
    ] {
        if v == Some(0) {
            cx.error(
                DiagnosticKind::CannotWork,
                at.or(&auth.origin),
                format!("auth.{key}"),
                format!("`{key}: 0` would fail every call; give a positive number of milliseconds"),
            );
        }
    }
}

/// A body limit of zero refuses every reply.
fn check_max_response_bytes(cx: &mut Ctxt<'_>, auth: &Auth) {
    if auth.max_response_bytes == Some(0) {
        cx.error(
            DiagnosticKind::CannotWork,
            auth.origins.max_response_bytes.or(&auth.origin),
            "auth.max_response_bytes",
            "`max_response_bytes: 0` would refuse every reply; give the largest body to read, in bytes",
        );
    }
}

/// The login cool-down doubles up to its maximum, so the maximum is at
/// least the first one.
fn check_login_backoff(cx: &mut Ctxt<'_>, auth: &Auth) {
    if let Some(b) = auth.login_backoff
        && b.max_ms < b.initial_ms
    {
        cx.error(
            DiagnosticKind::InvalidValue,
            auth.origins.login_backoff_max_ms.or(&auth.origin),
            "auth.login_backoff.max_ms",
            format!(
                "`max_ms: {}` is below `initial_ms: {}`; the cool-down only grows, so give at least {}",
                b.max_ms, b.initial_ms, b.initial_ms
            ),
        );
    }
}

/// A parameter must not overwrite the token the runtime stamps on, and a
/// token placed in the body needs a body that is an object.
fn check_token_parameters(cx: &mut Ctxt<'_>, auth: &Auth, endpoints: &[Endpoint]) {
    for ep in endpoints.iter().filter(|e| e.auth) {
        for p in &ep.params {
            let clash = match (&auth.placement, &p.kind) {
                (Placement::Header(h), ParamKind::Header { wire }) => h.eq_ignore_ascii_case(wire),
                (Placement::Bearer, ParamKind::Header { wire }) => wire.eq_ignore_ascii_case("authorization"),
                (Placement::Query(q), ParamKind::Query { wire }) => q == wire,
                _ => false,
            };
            if clash {
                let (section, wire) = param_section(&p.kind, &p.name);
                cx.error(
                    DiagnosticKind::NameClash,
                    p.value_origin.or(&p.origin),
                    format!("endpoints.{}.{section}.{wire}", ep.name),
                    format!("`{wire}` carries the session token, which the client sets itself; remove this parameter"),
                );
            }
        }
        if let (Placement::JsonBody(path), Some(body)) = (&auth.placement, &ep.body)
            && !is_object(cx, &body.ty)
        {
            cx.error(
                DiagnosticKind::WrongType,
                &body.origin,
                format!("endpoints.{}.body", ep.name),
                format!(
                    "the token goes in the body field `{path}`, but a `{}` body is not an object; use a struct, `map<...>` or `json` body",
                    body.ty
                ),
            );
        }
    }
}

/// Can a JSON body of this type carry an extra field? A type the model
/// does not declare is the user's own, so it gets the benefit of the doubt.
fn is_object(cx: &Ctxt<'_>, ty: &TypeRef) -> bool {
    match ty {
        TypeRef::Json | TypeRef::Map(_) => true,
        TypeRef::Option(t) => is_object(cx, t),
        TypeRef::Named(n) => match cx.types.get(n.as_str()) {
            Some(t) => matches!(t.kind, TypeKind::Struct(_)),
            None => true,
        },
        _ => false,
    }
}
