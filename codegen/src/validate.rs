//! Model-level checks shared by both front ends (the YAML spec and the
//! `#[token_client]` trait): they read only [`model`](crate::model), never YAML.
//!
//! Every check pushes a diagnostic and goes on, so one run reports every
//! problem. Each diagnostic carries the node's [`Origin`] and a spec path
//! spelled the way the YAML format spells it (`endpoints.get_user.path`,
//! `types.User.fields.nickName`, `auth.expiry[0].status`), which lets the YAML
//! front end point at the exact line of that path and the macro at its span.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::diag::Diagnostic;
use crate::model::{
    Api, Auth, Encoding, Endpoint, ExpiryRule, HttpMethod, Lifetime, Login, LoginFlow, Origin, ParamKind,
    Placement, RefreshGrant, TokenSource, TypeDef, TypeKind, TypeRef,
};
use crate::naming::{
    did_you_mean, is_camel_case, is_field_ident, is_keyword, is_snake_case, to_camel_case, to_snake_case,
};

/// The runtime's `MAX_REPLAYS_LIMIT`.
pub const MAX_REPLAYS: u32 = 8;

/// Methods every generated client already has; an endpoint must not reuse them.
const CLIENT_METHODS: &[&str] = &["builder", "new", "from_client", "client"];

/// The spellings of the primitive type expressions.
const PRIMITIVES: &[&str] = &["string", "bool", "i32", "i64", "u32", "u64", "f64", "json"];

/// Every problem of a lowered model, in no particular order (callers sort).
pub fn validate(api: &Api) -> Vec<Diagnostic> {
    let mut cx = Checker {
        out: Vec::new(),
        types: api.types.iter().map(|t| (t.name.as_str(), t)).collect(),
    };
    cx.api(api);
    cx.auth(&api.auth, &api.endpoints);
    cx.types(api);
    if api.endpoints.is_empty() {
        cx.warning(
            &api.origin,
            "endpoints",
            "the API has no endpoint, so the client has no method; add one under `endpoints`",
        );
    }
    let mut names = HashSet::new();
    for ep in &api.endpoints {
        let twice = !names.insert(ep.name.as_str());
        cx.endpoint(api, ep, twice);
    }
    cx.out
}

struct Checker<'a> {
    out: Vec<Diagnostic>,
    /// Type name → first definition.
    types: HashMap<&'a str, &'a TypeDef>,
}

impl Checker<'_> {
    fn error(&mut self, origin: &Origin, path: impl Into<String>, message: impl Into<String>) {
        self.out.push(Diagnostic::error(origin.clone(), path, message));
    }

    fn warning(&mut self, origin: &Origin, path: impl Into<String>, message: impl Into<String>) {
        self.out.push(Diagnostic::warning(origin.clone(), path, message));
    }

    fn api(&mut self, api: &Api) {
        if !is_snake_case(&api.name) || is_keyword(&api.name) {
            let hint = hint_snake(&api.name);
            self.error(
                &api.origin,
                "name",
                format!(
                    "API name `{}` must be a snake_case identifier{hint}; it names the SDK crate",
                    api.name
                ),
            );
        }
        if !is_camel_case(&api.client) || is_keyword(&api.client) {
            let hint = hint_camel(&api.client);
            self.error(
                &api.origin,
                "client",
                format!(
                    "client type `{}` must be a CamelCase identifier{hint}",
                    api.client
                ),
            );
        }
        if let Some(url) = &api.base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            self.error(
                &api.origin,
                "base_url",
                format!("base URL `{url}` must start with `http://` or `https://`"),
            );
        }
    }

    fn auth(&mut self, auth: &Auth, endpoints: &[Endpoint]) {
        let o = &auth.origin;
        match &auth.placement {
            Placement::Header(name) => self.header_name(o, "auth.placement.header", name),
            Placement::Query(name) if name.trim().is_empty() => self.error(
                o,
                "auth.placement.query",
                "the token's query parameter has no name; write `placement: { query: access_token }`",
            ),
            Placement::JsonBody(path) => self.json_path(o, "auth.placement.json_body", path),
            Placement::Query(_) | Placement::Bearer => {}
        }
        if let Lifetime::SingleUse { next_token_header } = &auth.lifetime {
            self.header_name(o, "auth.next_token_header", next_token_header);
        }

        if auth.expiry.is_empty() {
            self.error(
                o,
                "auth.expiry",
                "`expiry` has no rule, so no reply would ever count as expired; add one, like `- status: [401]`",
            );
        }
        for (i, rule) in auth.expiry.iter().enumerate() {
            self.expiry_rule(o, &format!("auth.expiry[{i}]"), rule);
        }

        if let Some(env) = &auth.envelope {
            self.json_path(o, "auth.envelope.code", &env.code);
            if env.success.is_empty() {
                self.error(
                    o,
                    "auth.envelope.success",
                    "`success` lists no code, so every reply would be an error; add one, like `[200]`",
                );
            }
            for (j, v) in env.success.iter().enumerate() {
                if !(v.is_number() || v.is_string()) {
                    self.error(
                        o,
                        format!("auth.envelope.success[{j}]"),
                        format!("success code `{v}` must be a number or a string"),
                    );
                }
            }
            if let Some(p) = &env.data {
                self.json_path(o, "auth.envelope.data", p);
            }
            if let Some(p) = &env.message {
                self.json_path(o, "auth.envelope.message", p);
            }
        }

        if let Login::Flow(flow) = &auth.login {
            self.login(o, flow);
        }

        if auth.chains == Some(0) {
            self.error(
                o,
                "auth.chains",
                "`chains: 0` leaves no session to call with; use 1 or more",
            );
        }
        if auth.exclusive_session
            && let Some(n) = auth.chains
            && n > 1
        {
            self.error(
                o,
                "auth.chains",
                format!(
                    "`chains: {n}` with `session: exclusive`: each login revokes the session \
                     before it, so the chains would revoke each other's tokens; use `chains: 1`"
                ),
            );
        }
        if let Some(n) = auth.max_replays
            && n > MAX_REPLAYS
        {
            self.error(
                o,
                "auth.max_replays",
                format!("`max_replays: {n}` is above the runtime's limit; use 0 to {MAX_REPLAYS}"),
            );
        }
        for (key, v) in [
            ("login_timeout_ms", auth.login_timeout_ms),
            ("request_timeout_ms", auth.request_timeout_ms),
        ] {
            if v == Some(0) {
                self.error(
                    o,
                    format!("auth.{key}"),
                    format!("`{key}: 0` would fail every call; give a positive number of milliseconds"),
                );
            }
        }

        if auth.max_response_bytes == Some(0) {
            self.error(
                o,
                "auth.max_response_bytes",
                "`max_response_bytes: 0` would refuse every reply; give the largest body to read, in bytes",
            );
        }

        if let Some(b) = auth.login_backoff
            && b.max_ms < b.initial_ms
        {
            self.error(
                o,
                "auth.login_backoff.max_ms",
                format!(
                    "`max_ms: {}` is below `initial_ms: {}`; the cool-down only grows, so give at least {}",
                    b.max_ms, b.initial_ms, b.initial_ms
                ),
            );
        }

        // A parameter must not overwrite the token the runtime stamps on.
        for ep in endpoints.iter().filter(|e| e.auth) {
            for p in &ep.params {
                let clash = match (&auth.placement, &p.kind) {
                    (Placement::Header(h), ParamKind::Header { wire }) => h.eq_ignore_ascii_case(wire),
                    (Placement::Bearer, ParamKind::Header { wire }) => {
                        wire.eq_ignore_ascii_case("authorization")
                    }
                    (Placement::Query(q), ParamKind::Query { wire }) => q == wire,
                    _ => false,
                };
                if clash {
                    let (section, wire) = param_section(&p.kind, &p.name);
                    self.error(
                        &p.origin,
                        format!("endpoints.{}.{section}.{wire}", ep.name),
                        format!("`{wire}` carries the session token, which the client sets itself; remove this parameter"),
                    );
                }
            }
            if let (Placement::JsonBody(path), Some(body)) = (&auth.placement, &ep.body)
                && !self.is_object(&body.ty)
            {
                self.error(
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

    /// One expiry rule at `at` (`auth.expiry[0]`).
    fn expiry_rule(&mut self, o: &Origin, at: &str, rule: &ExpiryRule) {
        match rule {
            ExpiryRule::Status(codes) => {
                if codes.is_empty() {
                    self.error(
                        o,
                        format!("{at}.status"),
                        "status rule lists no status; add one, like `[401]`",
                    );
                }
                for (j, code) in codes.iter().enumerate() {
                    if !(100..=599).contains(code) {
                        self.error(
                            o,
                            format!("{at}.status[{j}]"),
                            format!("`{code}` is not an HTTP status; use a code from 100 to 599"),
                        );
                    }
                }
            }
            ExpiryRule::BodyField { path, values } => {
                self.json_path(o, &format!("{at}.body.path"), path);
                if values.is_empty() {
                    self.error(
                        o,
                        format!("{at}.body.in"),
                        "body rule lists no value; add the codes that mean expired, like `in: [408]`",
                    );
                }
                for (j, v) in values.iter().enumerate() {
                    if !(v.is_number() || v.is_string()) {
                        self.error(
                            o,
                            format!("{at}.body.in[{j}]"),
                            format!("expiry value `{v}` must be a number or a string"),
                        );
                    }
                }
            }
            ExpiryRule::Header { name, .. } => self.header_name(o, &format!("{at}.header.name"), name),
            ExpiryRule::HeaderContains { name, text } => {
                self.header_name(o, &format!("{at}.header.name"), name);
                if text.is_empty() {
                    self.error(
                        o,
                        format!("{at}.header.contains"),
                        "`contains` is empty, so it holds for any value; remove it to match any value, or give the text",
                    );
                }
            }
            ExpiryRule::EmptyBody => self.error(
                o,
                format!("{at}.empty_body"),
                "`empty_body` alone would take every empty reply (a 204) for an expiry; pair it with a status, like `{ status: [403], empty_body: true }`",
            ),
            ExpiryRule::All(parts) => {
                // The parts are the rule's keys: they share its path.
                for part in parts {
                    match part {
                        ExpiryRule::EmptyBody => {}
                        ExpiryRule::All(_) => self.error(
                            o,
                            at,
                            "an expiry rule cannot nest another; list every condition in one rule",
                        ),
                        part => self.expiry_rule(o, at, part),
                    }
                }
                let has = |f: fn(&ExpiryRule) -> bool| parts.iter().any(f);
                if has(|p| matches!(p, ExpiryRule::EmptyBody)) {
                    if has(|p| matches!(p, ExpiryRule::BodyField { .. })) {
                        self.error(
                            o,
                            format!("{at}.empty_body"),
                            "an empty body has no field for the `body` condition to find, so this rule never matches; keep one of the two",
                        );
                    } else if !has(|p| matches!(p, ExpiryRule::Status(_))) {
                        self.error(
                            o,
                            format!("{at}.empty_body"),
                            "`empty_body` without a status would take any empty reply that has this header for an expiry; add a status, like `status: [403]`",
                        );
                    }
                }
            }
        }
    }

    fn login(&mut self, o: &Origin, flow: &LoginFlow) {
        self.request_path(o, "auth.login.path", &flow.path);
        if flow.method == HttpMethod::Get && flow.encoding != Encoding::Query {
            let enc = if flow.encoding == Encoding::Json {
                "json"
            } else {
                "form"
            };
            self.error(
                o,
                "auth.login.encoding",
                format!("a GET login cannot send a {enc} body; use `encoding: query` or another method"),
            );
        }
        // Every field name the login sends, with where it is declared.
        let mut sent: Vec<(String, String, &str)> = Vec::new();
        for (k, _) in &flow.fields {
            sent.push((k.clone(), format!("auth.login.fields.{k}"), "a constant field"));
        }
        for (i, s) in flow.secrets.iter().enumerate() {
            sent.push((s.clone(), format!("auth.login.secrets[{i}]"), "a secret"));
        }
        if let Some(code) = &flow.code_field {
            sent.push((code.clone(), "auth.login.code".to_owned(), "the one-time code"));
        }
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for (name, path, what) in &sent {
            if name.trim().is_empty() {
                self.error(
                    o,
                    path.clone(),
                    format!("{what} has an empty field name; name the field"),
                );
                continue;
            }
            if let Some(first) = seen.get(name.as_str()) {
                self.error(
                    o,
                    path.clone(),
                    format!("login field `{name}` is already sent as {first}; keep only one of them"),
                );
            } else {
                seen.insert(name, what);
            }
        }
        if sent.is_empty() {
            self.warning(
                o,
                "auth.login",
                "the login sends no field; add `secrets`, `code` or `fields` if the server needs credentials",
            );
        }
        match &flow.token {
            TokenSource::Header(h) => self.header_name(o, "auth.login.token.header", h),
            TokenSource::Json(p) => self.json_path(o, "auth.login.token.json", p),
        }
        if let Some(p) = &flow.expires_in {
            self.json_path(o, "auth.login.expires_in", p);
        }
        if let Some(p) = &flow.refresh_token {
            self.json_path(o, "auth.login.refresh_token", p);
        }
        match (&flow.refresh_token, &flow.refresh) {
            (Some(_), None) => self.warning(
                o,
                "auth.login.refresh_token",
                "the refresh token is read but never used; add a `refresh` grant or remove `refresh_token`",
            ),
            (None, Some(_)) => self.error(
                o,
                "auth.login.refresh",
                "the refresh grant can never run because no refresh token is read; add `refresh_token: <path>` to `login`",
            ),
            _ => {}
        }
        if let Some(r) = &flow.refresh {
            self.request_path(o, "auth.login.refresh.path", &r.path);
            if r.field.trim().is_empty() {
                self.error(
                    o,
                    "auth.login.refresh.field",
                    "the refresh grant's field is empty; name the field that carries the refresh token",
                );
            }
            let mut seen = BTreeSet::new();
            for (k, _) in &r.fields {
                let path = format!("auth.login.refresh.fields.{k}");
                if *k == r.field {
                    self.error(
                        o,
                        path,
                        format!("`{k}` already carries the refresh token (`field`); remove this constant"),
                    );
                } else if !seen.insert(k) {
                    self.error(o, path, format!("refresh field `{k}` is sent twice; keep one"));
                }
            }
            self.refresh_grant(o, flow, r, seen);
        }
    }

    /// What the refresh grant sends beyond its constants: secrets, and the
    /// method and encoding they go with. `seen`: the constants' names.
    fn refresh_grant<'r>(
        &mut self,
        o: &Origin,
        flow: &LoginFlow,
        r: &'r RefreshGrant,
        mut seen: BTreeSet<&'r String>,
    ) {
        for (i, k) in r.secrets.iter().enumerate() {
            let path = format!("auth.login.refresh.secrets[{i}]");
            if k.trim().is_empty() {
                self.error(
                    o,
                    path,
                    "a refresh secret has an empty field name; name the field",
                );
            } else if *k == r.field {
                self.error(
                    o,
                    path,
                    format!("`{k}` already carries the refresh token (`field`); remove this secret"),
                );
            } else if !seen.insert(k) {
                self.error(o, path, format!("refresh field `{k}` is sent twice; keep one"));
            }
        }
        // The runtime's default: like the login, but never a query.
        let encoding = r.encoding.unwrap_or(match flow.encoding {
            Encoding::Query => Encoding::Json,
            other => other,
        });
        if r.method == Some(HttpMethod::Get) && encoding != Encoding::Query {
            let (path, fix) = match r.encoding {
                Some(_) => (
                    "auth.login.refresh.encoding",
                    "use `encoding: query` or another method",
                ),
                None => ("auth.login.refresh.method", "add `encoding: query` to the grant"),
            };
            let enc = if encoding == Encoding::Json {
                "json"
            } else {
                "form"
            };
            self.error(
                o,
                path,
                format!("a GET refresh grant cannot send a {enc} body; {fix}"),
            );
        }
    }

    fn types(&mut self, api: &Api) {
        let mut first: HashMap<&str, &Origin> = HashMap::new();
        for t in &api.types {
            let at = format!("types.{}", t.name);
            if !is_camel_case(&t.name) || is_keyword(&t.name) {
                let hint = hint_camel(&t.name);
                self.error(
                    &t.origin,
                    at.clone(),
                    format!("type name `{}` must be a CamelCase identifier{hint}", t.name),
                );
            }
            if first.insert(&t.name, &t.origin).is_some() {
                self.error(
                    &t.origin,
                    at.clone(),
                    format!("type `{}` is defined twice; rename or remove one", t.name),
                );
            }
            if t.name == api.client {
                self.error(
                    &t.origin,
                    at.clone(),
                    format!(
                        "type `{}` has the client's name; rename the type or set `client`",
                        t.name
                    ),
                );
            }
            match &t.kind {
                TypeKind::Struct(fields) => {
                    let mut rust: HashMap<&str, &str> = HashMap::new();
                    let mut wire: BTreeSet<&str> = BTreeSet::new();
                    for f in fields {
                        let fat = format!("{at}.fields.{}", f.wire);
                        self.rust_name(&f.origin, &fat, "field", &f.wire, &f.name);
                        if !wire.insert(&f.wire) {
                            self.error(
                                &f.origin,
                                fat.clone(),
                                format!("field `{}` is declared twice; remove one", f.wire),
                            );
                        } else if let Some(other) = rust.insert(&f.name, &f.wire) {
                            self.error(
                                &f.origin,
                                fat.clone(),
                                format!(
                                    "fields `{other}` and `{}` both become `{}` in Rust; give one a different `rust_name`",
                                    f.wire, f.name
                                ),
                            );
                        }
                        self.type_ref(&f.origin, &fat, &f.ty);
                    }
                }
                TypeKind::Enum(variants) => {
                    if variants.is_empty() {
                        self.error(
                            &t.origin,
                            format!("{at}.enum"),
                            format!(
                                "enum `{}` has no value; list its values, like `enum: [active, banned]`",
                                t.name
                            ),
                        );
                    }
                    let mut rust: HashMap<&str, &str> = HashMap::new();
                    let mut wire: BTreeSet<&str> = BTreeSet::new();
                    for (i, v) in variants.iter().enumerate() {
                        let vat = format!("{at}.enum[{i}]");
                        if !is_camel_case(&v.name) || is_keyword(&v.name) {
                            self.error(
                                &v.origin,
                                vat.clone(),
                                format!(
                                    "enum value `{}` has no valid Rust name (`{}` is not a CamelCase identifier); add `rust_name: ...`",
                                    v.wire, v.name
                                ),
                            );
                        }
                        if !wire.insert(&v.wire) {
                            self.error(
                                &v.origin,
                                vat,
                                format!("enum value `{}` is listed twice; remove one", v.wire),
                            );
                        } else if let Some(other) = rust.insert(&v.name, &v.wire) {
                            self.error(
                                &v.origin,
                                vat,
                                format!(
                                    "enum values `{other}` and `{}` both become `{}` in Rust; give one a different `rust_name`",
                                    v.wire, v.name
                                ),
                            );
                        }
                    }
                }
            }
        }
        self.recursion(api);
        self.unused(api);
    }

    /// A struct that holds itself by value (directly, through `?`, or via
    /// other structs) has no finite size; `list<>` and `map<>` add the heap
    /// indirection that breaks the cycle. Every field on such a cycle is
    /// reported: wrapping any one of them fixes it.
    fn recursion(&mut self, api: &Api) {
        // Which fields close a cycle is decided once, in linear time (the
        // model's `Boxing`, which the emitter boxes by); the search below only
        // spells the cycle out, within a budget, for the message.
        let boxing = crate::model::Boxing::new(&api.types);
        for t in &api.types {
            for (field, first) in held(t) {
                if !boxing.needs_box(&t.name, first) {
                    continue;
                }
                let chain = if first == t.name {
                    String::new()
                } else {
                    match Self::cycle_chain(&self.types, &t.name, first) {
                        Some(names) => format!(" ({})", names.join(" → ")),
                        None => " (through other types)".to_owned(),
                    }
                };
                self.error(
                    &field.origin,
                    format!("types.{}.fields.{}", t.name, field.wire),
                    format!(
                        "type `{}` contains itself through `{}`{chain} without indirection, so it has no finite size; wrap the field's type in `list<...>` or `map<...>`",
                        t.name, field.wire
                    ),
                );
            }
        }
    }

    /// The shortest chain `t → first → … → t` of types held inline, found
    /// breadth-first; `None` when the search examines more than a few
    /// dozen fields first, so a huge cycle costs linear time, not quadratic.
    fn cycle_chain<'n>(
        types: &HashMap<&'n str, &'n TypeDef>,
        t: &'n str,
        first: &'n str,
    ) -> Option<Vec<&'n str>> {
        const BUDGET: usize = 64;
        let mut examined = 0;
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([first]);
        let mut found = false;
        'search: while let Some(node) = queue.pop_front() {
            let Some(def) = types.get(node) else { continue };
            let TypeKind::Struct(fields) = &def.kind else {
                continue;
            };
            for next in fields.iter().filter_map(|f| held_by_value(&f.ty)) {
                examined += 1;
                if examined > BUDGET {
                    return None;
                }
                if next == t {
                    parent.insert(next, node);
                    found = true;
                    break 'search;
                }
                if next != first && !parent.contains_key(next) {
                    parent.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        if !found {
            return None;
        }
        let mut names = vec![t];
        let mut cur = t;
        while let Some(&p) = parent.get(cur) {
            names.push(p);
            if p == first {
                break;
            }
            cur = p;
        }
        names.push(t);
        // Collected backwards from `t`; the first and last are `t`.
        let last = names.len() - 1;
        names[1..last].reverse();
        Some(names)
    }

    /// Types no endpoint reaches are not generated.
    fn unused(&mut self, api: &Api) {
        let seen = api.reachable_types();
        for t in &api.types {
            if !seen.contains(t.name.as_str()) {
                self.warning(
                    &t.origin,
                    format!("types.{}", t.name),
                    format!(
                        "type `{}` is not used by any endpoint, so it is not generated; use it or remove it",
                        t.name
                    ),
                );
            }
        }
    }

    fn endpoint(&mut self, api: &Api, ep: &Endpoint, defined_before: bool) {
        let at = format!("endpoints.{}", ep.name);
        let o = &ep.origin;
        if !is_snake_case(&ep.name) || is_keyword(&ep.name) {
            let hint = hint_snake(&ep.name);
            self.error(
                o,
                at.clone(),
                format!(
                    "endpoint name `{}` must be a snake_case identifier{hint}; it names the method",
                    ep.name
                ),
            );
        } else if CLIENT_METHODS.contains(&ep.name.as_str()) {
            self.error(
                o,
                at.clone(),
                format!(
                    "the client already has a method `{}`; rename the endpoint",
                    ep.name
                ),
            );
        }
        if defined_before {
            self.error(
                o,
                at.clone(),
                format!("endpoint `{}` is defined twice; rename or remove one", ep.name),
            );
        }

        // The path template and its placeholders.
        let placeholders = self.template(o, &format!("{at}.path"), &ep.path);
        // Sets, not scans: a path may hold tens of thousands of placeholders.
        let declared: HashSet<&str> = ep
            .params
            .iter()
            .filter(|p| p.kind == ParamKind::Path)
            .map(|p| p.name.as_str())
            .collect();
        let used: HashSet<&str> = placeholders.iter().map(|(n, _)| *n).collect();
        for (name, _) in &placeholders {
            if !declared.contains(name) {
                let ty = if name.ends_with("id") { "u64" } else { "string" };
                self.error(
                    o,
                    format!("{at}.path"),
                    format!(
                        "path parameter `{{{name}}}` has no declaration; add `{name}: {ty}` under `params`"
                    ),
                );
            }
        }

        let mut args: HashMap<&str, String> = HashMap::new();
        let mut query_wires: BTreeSet<&str> = BTreeSet::new();
        let mut header_wires: BTreeSet<String> = BTreeSet::new();
        for p in &ep.params {
            let (section, wire) = param_section(&p.kind, &p.name);
            let pat = format!("{at}.{section}.{wire}");
            let mut repeated = false;
            let what = match p.kind {
                ParamKind::Path => "path parameter",
                ParamKind::Query { .. } => "query parameter",
                ParamKind::Header { .. } => "header",
            };
            match &p.kind {
                ParamKind::Path => {
                    if !used.contains(p.name.as_str()) {
                        self.error(
                            &p.origin,
                            pat.clone(),
                            format!(
                                "path parameter `{}` is not used in the path; add `{{{}}}` to `path` or remove it",
                                p.name, p.name
                            ),
                        );
                    }
                    if !is_snake_case(&p.name) {
                        self.error(
                            &p.origin,
                            pat.clone(),
                            format!(
                                "path parameter `{}` must be a snake_case identifier{}; rename it in `path` and `params` (the name is not sent)",
                                p.name,
                                hint_snake(&p.name)
                            ),
                        );
                    }
                    if !p.ty.is_scalar() {
                        self.error(
                            &p.origin,
                            pat.clone(),
                            format!(
                                "path parameter `{}` has type `{}`, but a path segment holds one value; use string, bool, an integer or f64",
                                p.name, p.ty
                            ),
                        );
                    }
                }
                ParamKind::Query { wire } | ParamKind::Header { wire } => {
                    self.rust_name(&p.origin, &pat, what, wire, &p.name);
                    let inner = match &p.ty {
                        TypeRef::Option(t) => t,
                        t => t,
                    };
                    if !inner.is_scalar() {
                        self.error(
                            &p.origin,
                            pat.clone(),
                            format!(
                                "{what} `{wire}` has type `{}`, but it holds one value; use string, bool, an integer or f64 (optionally with `?`)",
                                p.ty
                            ),
                        );
                    }
                    if let ParamKind::Header { .. } = p.kind {
                        self.header_name(&p.origin, &pat, wire);
                        if !header_wires.insert(wire.to_ascii_lowercase()) {
                            repeated = true;
                            self.error(
                                &p.origin,
                                pat.clone(),
                                format!(
                                    "header `{wire}` is declared twice (header names ignore case); remove one"
                                ),
                            );
                        }
                    } else if !query_wires.insert(wire) {
                        repeated = true;
                        self.error(
                            &p.origin,
                            pat.clone(),
                            format!("query parameter `{wire}` is declared twice"),
                        );
                    }
                }
            }
            self.type_ref(&p.origin, &pat, &p.ty);
            if repeated {
                // Already reported as a repeated name.
            } else if let Some(other) = args.get(p.name.as_str()) {
                self.error(
                    &p.origin,
                    pat.clone(),
                    format!(
                        "argument `{}` is already taken by the {other}; give this {what} a different `rust_name`",
                        p.name
                    ),
                );
            } else {
                args.insert(&p.name, format!("{what} `{wire}`"));
            }
        }

        if let Some(body) = &ep.body {
            let bat = format!("{at}.body");
            if matches!(ep.method, HttpMethod::Get | HttpMethod::Delete) {
                self.error(
                    &body.origin,
                    bat.clone(),
                    format!(
                        "a {} request has no body; remove `body` or use POST, PUT or PATCH",
                        ep.method.as_str()
                    ),
                );
            }
            if !is_field_ident(&body.name) {
                self.error(
                    &body.origin,
                    bat.clone(),
                    format!(
                        "body argument name `{}` is not a Rust identifier; rename it",
                        body.name
                    ),
                );
            }
            if let Some(other) = args.get(body.name.as_str()) {
                self.error(
                    &body.origin,
                    bat.clone(),
                    format!(
                        "the body argument `{}` collides with the {other}; give that parameter a `rust_name` or name the body (`body: {{ type: ..., name: ... }}`)",
                        body.name
                    ),
                );
            }
            self.type_ref(&body.origin, &bat, &body.ty);
        }
        if let Some(resp) = &ep.response {
            self.type_ref(o, &format!("{at}.response"), resp);
        }
        let _ = api;
    }

    /// Placeholders of a path template, checked for shape.
    fn template<'p>(&mut self, o: &Origin, at: &str, path: &'p str) -> Vec<(&'p str, usize)> {
        self.request_path(o, at, path);
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        // The message quotes the path: once, however many `{}` it holds.
        let mut empty_reported = false;
        let mut rest = path;
        let mut offset = 0;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                self.error(
                    o,
                    at,
                    format!("path `{path}` has a `}}` without `{{`; remove it or complete the placeholder"),
                );
                return out;
            }
            let after = &rest[open + 1..];
            let Some(close) = after.find(['{', '}']).filter(|&c| after.as_bytes()[c] == b'}') else {
                self.error(
                    o,
                    at,
                    format!("path `{path}` has a `{{` that is not closed; write placeholders as `{{name}}`"),
                );
                return out;
            };
            let name = &after[..close];
            if name.is_empty() {
                if !empty_reported {
                    empty_reported = true;
                    self.error(
                        o,
                        at,
                        format!("path `{path}` has an empty placeholder `{{}}`; name it, like `{{id}}`"),
                    );
                }
            } else if !seen.insert(name) {
                self.error(
                    o,
                    at,
                    format!("path parameter `{{{name}}}` appears twice in the path; use it once"),
                );
            } else {
                out.push((name, offset + open));
            }
            offset += open + close + 2;
            rest = &after[close + 1..];
        }
        out
    }

    fn request_path(&mut self, o: &Origin, at: &str, path: &str) {
        if !path.starts_with('/') {
            self.error(
                o,
                at,
                format!("path `{path}` must start with `/` (it is joined to the base URL)"),
            );
        } else if path.contains(['?', '#']) || path.contains(char::is_whitespace) {
            self.error(
                o,
                at,
                format!("path `{path}` must not contain `?`, `#` or spaces; declare query parameters under `query`"),
            );
        }
    }

    /// A field or parameter's Rust name.
    fn rust_name(&mut self, o: &Origin, at: &str, what: &str, wire: &str, name: &str) {
        if !is_field_ident(name) {
            self.error(
                o,
                at,
                format!("{what} `{wire}` has no valid Rust name (`{name}` is not an identifier); add `rust_name: ...`"),
            );
        } else if !is_snake_case(name.trim_start_matches('_')) {
            self.error(
                o,
                at,
                format!(
                    "{what} `{wire}` has Rust name `{name}`, which is not snake_case; use `{}`",
                    to_snake_case(name).unwrap_or_else(|| "a snake_case name".to_owned())
                ),
            );
        }
    }

    /// Named types inside a type expression must exist.
    fn type_ref(&mut self, o: &Origin, at: &str, ty: &TypeRef) {
        match ty {
            TypeRef::Named(n) if !self.types.contains_key(n.as_str()) => {
                let candidates: Vec<&str> = self
                    .types
                    .keys()
                    .copied()
                    .chain(PRIMITIVES.iter().copied())
                    .collect();
                let mut sorted = candidates;
                sorted.sort_unstable();
                let hint = did_you_mean(n, sorted);
                let fix = if hint.is_empty() {
                    format!(
                        "; declare it under `types` or use one of {}",
                        PRIMITIVES.join(", ")
                    )
                } else {
                    hint
                };
                self.error(o, at, format!("unknown type `{n}`{fix}"));
            }
            TypeRef::Option(t) | TypeRef::List(t) | TypeRef::Map(t) => self.type_ref(o, at, t),
            _ => {}
        }
    }

    fn header_name(&mut self, o: &Origin, at: &str, name: &str) {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            self.error(
                o,
                at,
                format!(
                    "`{name}` is not a valid HTTP header name; use letters, digits and `-`, like `X-Token`"
                ),
            );
        }
    }

    fn json_path(&mut self, o: &Origin, at: &str, path: &str) {
        if path.is_empty() || path.split('.').any(str::is_empty) {
            self.error(
                o,
                at,
                format!(
                    "`{path}` is not a dotted JSON path; write field names joined by `.`, like `data.token`"
                ),
            );
        }
    }

    /// Can a JSON body of this type carry an extra field?
    fn is_object(&self, ty: &TypeRef) -> bool {
        match ty {
            TypeRef::Json | TypeRef::Map(_) => true,
            TypeRef::Option(t) => self.is_object(t),
            TypeRef::Named(n) => match self.types.get(n.as_str()) {
                Some(t) => matches!(t.kind, TypeKind::Struct(_)),
                None => true,
            },
            _ => false,
        }
    }
}

/// The YAML section a parameter is declared in, and its key there.
fn param_section<'p>(kind: &'p ParamKind, name: &'p str) -> (&'static str, &'p str) {
    match kind {
        ParamKind::Path => ("params", name),
        ParamKind::Query { wire } => ("query", wire),
        ParamKind::Header { wire } => ("headers", wire),
    }
}

/// The fields of a struct that hold a named type by value, with that type.
fn held(t: &TypeDef) -> Vec<(&crate::model::Field, &str)> {
    match &t.kind {
        TypeKind::Struct(fields) => fields
            .iter()
            .filter_map(|f| held_by_value(&f.ty).map(|h| (f, h)))
            .collect(),
        TypeKind::Enum(_) => Vec::new(),
    }
}

/// The named type a field holds without indirection.
fn held_by_value(ty: &TypeRef) -> Option<&str> {
    match ty {
        TypeRef::Named(n) => Some(n),
        TypeRef::Option(t) => held_by_value(t),
        _ => None,
    }
}

fn hint_snake(name: &str) -> String {
    match to_snake_case(name) {
        Some(s) if s != name && !is_keyword(&s) => format!(", like `{s}`"),
        _ if is_keyword(name) => " and not a Rust keyword".to_owned(),
        _ => String::new(),
    }
}

fn hint_camel(name: &str) -> String {
    match to_camel_case(name) {
        Some(s) if s != name => format!(", like `{s}`"),
        _ if is_keyword(name) => " and not a Rust keyword".to_owned(),
        _ => String::new(),
    }
}
