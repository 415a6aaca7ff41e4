//! Raw spec → model. Reports what only the YAML shape can tell (missing
//! keys, option combinations, type expressions, names the wire gives) and
//! puts a stand-in where a value cannot be read, marked
//! [`Origin::StandIn`] so the model checks skip it; the model-level rules
//! live in [`crate::validate`].

use std::collections::{HashMap, HashSet};

use crate::diag::{Diagnostic, DiagnosticKind};
use crate::model::{
    Api, ApiOrigins, Auth, AuthOrigins, Body, ClientAuth, Encoding, Endpoint, Envelope, EnvelopeOrigins,
    ExpiryRule, Field, HttpMethod, Lifetime, Login, LoginBackoff, LoginFlow, LoginOrigins, Origin, Param,
    ParamKind, Placement, RefreshGrant, RefreshOrigins, RuleOrigins, TokenSource, TypeDef, TypeKind, TypeRef,
    Variant,
};
use crate::naming::{did_you_mean, to_camel_case, to_snake_case};

use super::de::State;
use super::raw::{self, TypeExpr};
use super::spanned::{Either, Entries, Req, Sp};
use super::tree::Pos;
use super::type_expr;

pub(crate) fn lower(spec: &Sp<raw::Spec>, state: &State<'_>) -> Option<Api> {
    let raw = spec.get()?;
    let type_names: Vec<String> = raw
        .types
        .as_ref()
        .and_then(Sp::get)
        .map(|t| t.0.iter().filter_map(|(k, _)| k.get().cloned()).collect())
        .unwrap_or_default();
    let cx = Cx {
        state,
        known_types: type_names.iter().cloned().collect(),
        type_names,
    };
    let root = (spec.pos, "");
    let name = cx.need(&raw.name, root, "the spec", "name", "name: my_api");
    let client = raw.client.as_ref().and_then(|c| c.get().cloned());
    let auth = cx
        .need(&raw.auth, root, "the spec", "auth", "auth:")
        .map(|a| (a, cx.auth(a)));
    let types = raw
        .types
        .as_ref()
        .and_then(Sp::get)
        .map(|t| cx.types(t))
        .unwrap_or_default();
    let (endpoints, endpoints_origin, endpoints_partial) = match cx
        .need(&raw.endpoints, root, "the spec", "endpoints", "endpoints:")
        .and_then(|sp| Some((sp, sp.get()?)))
    {
        Some((sp, entries)) => {
            let (endpoints, left_out) = cx.endpoints(entries);
            (endpoints, sp.pos.origin(), sp.partial || left_out)
        }
        None => (Vec::new(), Origin::StandIn, false),
    };

    let name = name?.get()?.clone();
    let client = client.unwrap_or_else(|| match to_camel_case(&name) {
        Some(camel) => format!("{camel}Client"),
        None => format!("{name}Client"),
    });
    let auth = auth.and_then(|(_, auth)| auth).unwrap_or_else(stand_in_auth);
    Some(Api {
        name,
        client,
        doc: text(&raw.doc),
        base_url: text(&raw.base_url),
        auth,
        types,
        endpoints,
        origin: spec.pos.origin(),
        origins: ApiOrigins {
            name: req_origin(&raw.name),
            client: origin_of(&raw.client),
            base_url: origin_of(&raw.base_url),
            endpoints: endpoints_origin,
        },
        endpoints_partial,
    })
}

/// Stands in for an `auth` already reported missing or broken, so the
/// types and endpoints still get checked.
fn stand_in_auth() -> Auth {
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
        origin: Origin::StandIn,
        origins: AuthOrigins::default(),
    }
}

fn text(v: &Option<Sp<String>>) -> Option<String> {
    v.as_ref().and_then(|s| s.get().cloned())
}

fn opt<T: Clone>(v: &Option<Sp<T>>) -> Option<T> {
    v.as_ref().and_then(|s| s.get().cloned())
}

/// Where an optional key's value was written, if it was.
fn origin_of<T>(v: &Option<Sp<T>>) -> Origin {
    v.as_ref().map_or(Origin::Unknown, |s| s.pos.origin())
}

/// Where a required key's value was written, if it was.
fn req_origin<T>(r: &Req<T>) -> Origin {
    match r {
        Req::Present(sp) => sp.pos.origin(),
        Req::Missing => Origin::Unknown,
    }
}

/// Where each item of a list was written.
fn each<T>(items: &[Sp<T>]) -> Vec<Origin> {
    items.iter().map(|i| i.pos.origin()).collect()
}

/// Where each item of an optional list was written.
fn each_of<T>(list: &Option<Sp<Vec<Sp<T>>>>) -> Vec<Origin> {
    list.as_ref().and_then(Sp::get).map_or_else(Vec::new, |l| each(l))
}

/// Where an expiry rule and its conditions were written.
fn rule_origins(sp: &Sp<raw::ExpiryRule>) -> RuleOrigins {
    let mut o = RuleOrigins {
        rule: sp.pos.origin(),
        ..RuleOrigins::default()
    };
    let Some(rule) = sp.get() else { return o };
    o.status = origin_of(&rule.status);
    o.codes = each_of(&rule.status);
    if let Some(body) = rule.body.as_ref().and_then(Sp::get) {
        o.body_path = req_origin(&body.path);
        o.body_in = req_origin(&body.values);
        if let Req::Present(values) = &body.values {
            o.body_values = values.get().map_or_else(Vec::new, |v| each(v));
        }
    }
    if let Some(header) = rule.header.as_ref().and_then(Sp::get) {
        o.header_name = req_origin(&header.name);
        o.header_contains = origin_of(&header.contains);
    }
    o.empty_body = origin_of(&rule.empty_body);
    o
}

/// Where an envelope and its parts were written.
fn envelope_origins(sp: &Sp<raw::Envelope>) -> EnvelopeOrigins {
    let mut o = EnvelopeOrigins {
        envelope: sp.pos.origin(),
        ..EnvelopeOrigins::default()
    };
    let Some(env) = sp.get() else { return o };
    o.code = req_origin(&env.code);
    o.success = req_origin(&env.success);
    if let Req::Present(success) = &env.success {
        o.success_values = success.get().map_or_else(Vec::new, |v| each(v));
    }
    o.data = origin_of(&env.data);
    o.message = origin_of(&env.message);
    o
}

struct Cx<'a, 's> {
    state: &'a State<'s>,
    /// Declared type names, in spec order, for suggesting.
    type_names: Vec<String>,
    /// The same names, for resolving: a spec may declare tens of thousands.
    known_types: HashSet<String>,
}

impl Cx<'_, '_> {
    fn error(&self, kind: DiagnosticKind, pos: Pos, path: &str, message: impl Into<String>) {
        self.state
            .diags
            .borrow_mut()
            .push(Diagnostic::error(kind, pos.origin(), path, message));
    }

    /// A required key's value; reports it missing at its parent.
    fn need<'r, T>(
        &self,
        r: &'r Req<T>,
        parent: (Pos, &str),
        what: &str,
        key: &str,
        example: &str,
    ) -> Option<&'r Sp<T>> {
        match r {
            Req::Present(sp) => sp.value.is_some().then_some(sp),
            Req::Missing => {
                let path = if parent.1.is_empty() {
                    key.to_owned()
                } else {
                    format!("{}.{key}", parent.1)
                };
                self.error(
                    DiagnosticKind::Shape,
                    parent.0,
                    &path,
                    format!("{what} has no `{key}`; add `{example}`"),
                );
                None
            }
        }
    }

    /// The auth section. A part that cannot be read becomes a stand-in,
    /// so the model checks still see the rest.
    fn auth(&self, sp: &Sp<raw::Auth>) -> Option<Auth> {
        let a = sp.get()?;
        let at = (sp.pos, sp.path.as_str());
        let what = "`auth`";
        let mut origins = AuthOrigins {
            next_token_header: origin_of(&a.next_token_header),
            expiry: req_origin(&a.expiry),
            chains: origin_of(&a.chains),
            max_replays: origin_of(&a.max_replays),
            login_timeout_ms: origin_of(&a.login_timeout_ms),
            request_timeout_ms: origin_of(&a.request_timeout_ms),
            max_response_bytes: origin_of(&a.max_response_bytes),
            login_backoff_max_ms: a
                .login_backoff
                .as_ref()
                .and_then(Sp::get)
                .map_or(Origin::Unknown, |b| req_origin(&b.max_ms)),
            ..AuthOrigins::default()
        };
        let (placement, placement_origin) = self
            .need(&a.placement, at, what, "placement", "placement: bearer")
            .and_then(|p| self.placement(p))
            .unwrap_or((Placement::Bearer, Origin::StandIn));
        origins.placement = placement_origin;
        let lifetime = self.need(&a.lifetime, at, what, "lifetime", "lifetime: reusable");
        let next = a.next_token_header.as_ref();
        let lifetime = match (lifetime.and_then(Sp::get), next) {
            (Some(raw::Lifetime::SingleUse), Some(h)) => h.get().map(|h| Lifetime::SingleUse {
                next_token_header: h.clone(),
            }),
            (Some(raw::Lifetime::SingleUse), None) => {
                let l = lifetime.map_or(sp.pos, |l| l.pos);
                self.error(
                    DiagnosticKind::Conflict,
                    l,
                    &format!("{}.lifetime", sp.path),
                    "`lifetime: single_use` needs `next_token_header`, the response header that carries the next token; add `next_token_header: B-T`",
                );
                None
            }
            (Some(raw::Lifetime::Reusable), Some(h)) => {
                self.error(
                    DiagnosticKind::Conflict,
                    h.pos,
                    &h.path,
                    "`next_token_header` only applies to `lifetime: single_use`; remove it or make the lifetime single_use",
                );
                None
            }
            (Some(raw::Lifetime::Reusable), None) => Some(Lifetime::Reusable),
            (None, _) => None,
        }
        .unwrap_or_else(|| {
            origins.next_token_header = Origin::StandIn;
            Lifetime::Reusable
        });
        let rules = self
            .need(&a.expiry, at, what, "expiry", "expiry: [{ status: [401] }]")
            .and_then(Sp::get);
        let mut expiry = Vec::new();
        match rules {
            Some(rules) => {
                for r in rules {
                    // A broken rule keeps its place (model paths count by index).
                    match self.expiry(r) {
                        Some(rule) => {
                            expiry.push(rule);
                            origins.rules.push(rule_origins(r));
                        }
                        None => {
                            expiry.push(ExpiryRule::Status(vec![401]));
                            origins.rules.push(RuleOrigins {
                                rule: Origin::StandIn,
                                ..RuleOrigins::default()
                            });
                        }
                    }
                }
            }
            None => origins.expiry = Origin::StandIn,
        }
        let envelope = a.envelope.as_ref().and_then(|e| {
            let envelope = self.envelope(e, e.get()?)?;
            origins.envelope = envelope_origins(e);
            Some(envelope)
        });
        let login = match self
            .need(&a.login, at, what, "login", "login: custom")
            .and_then(|l| self.login(l))
        {
            Some((login, login_origins)) => {
                origins.login = login_origins;
                login
            }
            None => {
                origins.login.login = Origin::StandIn;
                Login::Custom
            }
        };
        Some(Auth {
            placement,
            lifetime,
            expiry,
            envelope,
            login,
            chains: opt(&a.chains),
            exclusive_session: opt(&a.session) == Some(raw::Session::Exclusive),
            max_replays: opt(&a.max_replays),
            login_timeout_ms: opt(&a.login_timeout_ms),
            request_timeout_ms: opt(&a.request_timeout_ms),
            expiry_skew_ms: opt(&a.expiry_skew_ms),
            login_backoff: a.login_backoff.as_ref().and_then(|b| self.login_backoff(b)),
            max_response_bytes: opt(&a.max_response_bytes),
            origin: sp.pos.origin(),
            origins,
        })
    }

    /// The placement, and where its value (a header, parameter or field) is.
    fn placement(&self, sp: &Sp<raw::Placement>) -> Option<(Placement, Origin)> {
        let (wrap, value): (fn(String) -> Placement, _) = match sp.get()? {
            raw::Placement::Bearer => return Some((Placement::Bearer, sp.pos.origin())),
            raw::Placement::Header(v) => (Placement::Header, v),
            raw::Placement::Query(v) => (Placement::Query, v),
            raw::Placement::JsonBody(v) => (Placement::JsonBody, v),
        };
        Some((wrap(value.get()?.clone()), value.pos.origin()))
    }

    /// One rule: a single condition, or `All` of several keys.
    fn expiry(&self, sp: &Sp<raw::ExpiryRule>) -> Option<ExpiryRule> {
        let rule = sp.get()?;
        // Each key is lowered even after a broken one, so each reports.
        let parts = [
            rule.status.as_ref().map(|codes| {
                Some(ExpiryRule::Status(
                    codes
                        .get()?
                        .iter()
                        .map(|c| c.get().copied())
                        .collect::<Option<_>>()?,
                ))
            }),
            rule.header.as_ref().map(|h| {
                let header = h.get()?;
                let name = self.need(
                    &header.name,
                    (h.pos, &h.path),
                    "the header rule",
                    "name",
                    "name: X-Token-Expired",
                );
                let name = name?.get()?.clone();
                match (&header.value, text(&header.contains)) {
                    (Some(_), Some(_)) => {
                        let c = header.contains.as_ref()?;
                        self.error(
                            DiagnosticKind::Conflict,
                            c.pos,
                            &c.path,
                            "a header rule takes `value` (the whole value) or `contains` (a part of it), not both; keep one",
                        );
                        None
                    }
                    (_, Some(text)) => Some(ExpiryRule::HeaderContains { name, text }),
                    (_, None) => Some(ExpiryRule::Header {
                        name,
                        value: text(&header.value),
                    }),
                }
            }),
            rule.body.as_ref().map(|b| {
                let body = b.get()?;
                let at = (b.pos, b.path.as_str());
                let what = "the body rule";
                let path = self.need(&body.path, at, what, "path", "path: code");
                let values = self.need(&body.values, at, what, "in", "in: [408]");
                Some(ExpiryRule::BodyField {
                    path: path?.get()?.clone(),
                    values: values?
                        .get()?
                        .iter()
                        .map(|v| v.get().map(|s| s.0.clone()))
                        .collect::<Option<_>>()?,
                })
            }),
            rule.empty_body.as_ref().map(|e| match e.get()? {
                true => Some(ExpiryRule::EmptyBody),
                false => {
                    self.error(
                        DiagnosticKind::InvalidValue,
                        e.pos,
                        &e.path,
                        "`empty_body: false` adds no condition; write `empty_body: true` or remove it",
                    );
                    None
                }
            }),
        ];
        let mut conditions = Vec::new();
        for part in parts.into_iter().flatten() {
            conditions.push(part?);
        }
        match conditions.len() {
            0 => {
                // An unknown key already said what is wrong with this rule.
                if !sp.partial {
                    self.error(
                        DiagnosticKind::Shape,
                        sp.pos,
                        &sp.path,
                        "the expiry rule has no condition; give `status`, `header`, `body` or `empty_body`, like `status: [401]`",
                    );
                }
                None
            }
            1 => conditions.pop(),
            _ => Some(ExpiryRule::All(conditions)),
        }
    }

    fn login_backoff(&self, sp: &Sp<raw::LoginBackoff>) -> Option<LoginBackoff> {
        let b = sp.get()?;
        let at = (sp.pos, sp.path.as_str());
        let what = "`login_backoff`";
        let initial = self.need(&b.initial_ms, at, what, "initial_ms", "initial_ms: 500");
        let max = self.need(&b.max_ms, at, what, "max_ms", "max_ms: 30000");
        Some(LoginBackoff {
            initial_ms: *initial?.get()?,
            max_ms: *max?.get()?,
        })
    }

    fn envelope(&self, sp: &Sp<raw::Envelope>, env: &raw::Envelope) -> Option<Envelope> {
        let at = (sp.pos, sp.path.as_str());
        let what = "`envelope`";
        let code = self.need(&env.code, at, what, "code", "code: code");
        let success = self.need(&env.success, at, what, "success", "success: [200]");
        Some(Envelope {
            code: code?.get()?.clone(),
            success: success?
                .get()?
                .iter()
                .map(|v| v.get().map(|s| s.0.clone()))
                .collect::<Option<_>>()?,
            data: text(&env.data),
            message: text(&env.message),
            absent_is_success: opt(&env.absent_is_success).unwrap_or(false),
        })
    }

    fn login(&self, sp: &Sp<Either<String, raw::LoginFlow>>) -> Option<(Login, LoginOrigins)> {
        match sp.get()? {
            Either::Short(s) if s == "custom" => Some((
                Login::Custom,
                LoginOrigins {
                    login: sp.pos.origin(),
                    ..LoginOrigins::default()
                },
            )),
            Either::Short(s) => {
                self.error(
                    DiagnosticKind::Shape,
                    sp.pos,
                    &sp.path,
                    format!(
                        "`login` must be `custom` (you pass a `seamless_sdk::Login`) or a mapping that describes the login request, not `{s}`{}",
                        did_you_mean(s, ["custom"])
                    ),
                );
                None
            }
            Either::Long(flow) => Some(self.login_flow(sp, flow)),
        }
    }

    /// A declarative login; a part that cannot be read becomes a stand-in.
    fn login_flow(&self, sp: &Sp<impl Sized>, f: &raw::LoginFlow) -> (Login, LoginOrigins) {
        let at = (sp.pos, sp.path.as_str());
        let what = "`login`";
        let mut origins = LoginOrigins {
            login: sp.pos.origin(),
            method: req_origin(&f.method),
            path: req_origin(&f.path),
            encoding: origin_of(&f.encoding),
            code: origin_of(&f.code),
            expires_in: origin_of(&f.expires_in),
            refresh_token: origin_of(&f.refresh_token),
            ..LoginOrigins::default()
        };
        let method = self
            .need(&f.method, at, what, "method", "method: POST")
            .and_then(Sp::get)
            .copied()
            .map(http_method);
        let path = self
            .need(&f.path, at, what, "path", "path: /login")
            .and_then(Sp::get);
        let token = self
            .need(&f.token, at, what, "token", "token: { json: access_token }")
            .and_then(Sp::get)
            .and_then(|t| {
                let (wrap, value): (fn(String) -> TokenSource, _) = match t {
                    raw::TokenSource::Header(v) => (TokenSource::Header, v),
                    raw::TokenSource::Json(v) => (TokenSource::Json, v),
                };
                Some((wrap(value.get()?.clone()), value.pos.origin()))
            });
        let encoding = match (opt(&f.encoding), method) {
            (Some(e), _) => e,
            (None, Some(HttpMethod::Get)) => raw::Encoding::Query,
            (None, _) => raw::Encoding::Json,
        };
        let refresh = f.refresh.as_ref().and_then(|r| {
            let grant = r.get()?;
            let at = (r.pos, r.path.as_str());
            let path = self.need(&grant.path, at, "`refresh`", "path", "path: /oauth/token");
            let field = self.need(&grant.field, at, "`refresh`", "field", "field: refresh_token");
            let (fields, field_origins) = self.constants(&grant.fields);
            let (secrets, secret_origins) = self.secrets(&grant.secrets);
            origins.refresh = RefreshOrigins {
                refresh: r.pos.origin(),
                path: req_origin(&grant.path),
                field: req_origin(&grant.field),
                fields: field_origins,
                secrets: secret_origins,
                method: origin_of(&grant.method),
                encoding: origin_of(&grant.encoding),
            };
            Some(RefreshGrant {
                path: path?.get()?.clone(),
                field: field?.get()?.clone(),
                fields,
                method: opt(&grant.method).map(http_method),
                encoding: opt(&grant.encoding).map(model_encoding),
                secrets,
            })
        });
        if f.refresh.is_some() && refresh.is_none() {
            origins.refresh = RefreshOrigins {
                refresh: Origin::StandIn,
                ..RefreshOrigins::default()
            };
        }
        let (fields, field_origins) = self.constants(&f.fields);
        let (secrets, secret_origins) = self.secrets(&f.secrets);
        origins.fields = field_origins;
        origins.secrets = secret_origins;
        let flow = LoginFlow {
            method: method.unwrap_or_else(|| {
                origins.method = Origin::StandIn;
                HttpMethod::Post
            }),
            path: path.cloned().unwrap_or_else(|| {
                origins.path = Origin::StandIn;
                "/".to_owned()
            }),
            encoding: model_encoding(encoding),
            fields,
            secrets,
            code_field: text(&f.code),
            token: match token {
                Some((token, origin)) => {
                    origins.token = origin;
                    token
                }
                None => {
                    origins.token = Origin::StandIn;
                    TokenSource::Json("token".to_owned())
                }
            },
            expires_in: text(&f.expires_in),
            refresh_token: text(&f.refresh_token),
            refresh,
            client_auth: opt(&f.client_auth).map(|c| match c {
                raw::ClientAuth::Basic => ClientAuth::Basic,
            }),
        };
        (Login::Flow(flow), origins)
    }

    /// Secret field names, and where each is; one that cannot be read
    /// keeps its place as a stand-in.
    fn secrets(&self, secrets: &Option<Sp<Vec<Sp<String>>>>) -> (Vec<String>, Vec<Origin>) {
        let Some(secrets) = secrets.as_ref().and_then(Sp::get) else {
            return (Vec::new(), Vec::new());
        };
        secrets
            .iter()
            .enumerate()
            .map(|(i, s)| match s.get() {
                Some(name) => (name.clone(), s.pos.origin()),
                None => (format!("secret{i}"), Origin::StandIn),
            })
            .unzip()
    }

    /// Constant fields, and where each value is; one that cannot be read
    /// is left out.
    fn constants(&self, fields: &Option<Sp<Entries<String>>>) -> (Vec<(String, String)>, Vec<Origin>) {
        let Some(entries) = fields.as_ref().and_then(Sp::get) else {
            return (Vec::new(), Vec::new());
        };
        entries
            .0
            .iter()
            .filter_map(|(k, v)| Some(((k.get()?.clone(), v.get()?.clone()), v.pos.origin())))
            .unzip()
    }

    fn types(&self, entries: &Entries<raw::TypeDef>) -> Vec<TypeDef> {
        let mut out = Vec::new();
        for (key, def) in &entries.0 {
            let Some(name) = key.get() else { continue };
            let (kind, kind_origin) = match def.get().and_then(|d| Some((d, self.type_kind(name, def, d)?))) {
                Some((d, kind)) => (
                    kind,
                    d.variants
                        .as_ref()
                        .map_or_else(|| origin_of(&d.fields), |v| v.pos.origin()),
                ),
                // A broken definition still declares its name: no "unknown type" cascade.
                None => (TypeKind::Struct(Vec::new()), Origin::StandIn),
            };
            out.push(TypeDef {
                name: name.clone(),
                doc: def.get().and_then(|d| text(&d.doc)),
                kind,
                // The value's position: a broken definition's own, its key's otherwise.
                origin: def.pos.origin(),
                kind_origin,
            });
        }
        out
    }

    fn type_kind(&self, name: &str, sp: &Sp<raw::TypeDef>, d: &raw::TypeDef) -> Option<TypeKind> {
        match (&d.fields, &d.variants) {
            (Some(_), Some(v)) => {
                self.error(
                    DiagnosticKind::Conflict,
                    v.pos,
                    &v.path,
                    format!("type `{name}` has both `fields` and `enum`; a type is a struct or a string enum, keep one"),
                );
                None
            }
            // An unknown key under the type (`feilds`) already said what is wrong.
            (None, None) if sp.partial => None,
            (None, None) => {
                self.error(
                    DiagnosticKind::Shape,
                    sp.pos,
                    &sp.path,
                    format!("type `{name}` has neither `fields` nor `enum`; add `fields:` for a struct or `enum:` for a string enum"),
                );
                None
            }
            (Some(fields), None) => Some(TypeKind::Struct(self.fields(fields.get()?))),
            (None, Some(variants)) => Some(TypeKind::Enum(self.variants(variants.get()?))),
        }
    }

    fn fields(&self, entries: &Entries<Either<TypeExpr, raw::TypedLong>>) -> Vec<Field> {
        let mut out = Vec::new();
        for (i, (key, value)) in entries.0.iter().enumerate() {
            let Some(wire) = key.get() else { continue };
            let Some((ty, doc, rust_name)) = self.long_or_short(value, "field", wire, TypeRef::Json) else {
                continue;
            };
            let name = self.rust_field_name(key, wire, rust_name, "field", || format!("field_{i}"));
            out.push(Field {
                name,
                wire: wire.clone(),
                ty,
                doc,
                origin: key.pos.origin(),
                value_origin: value.pos.origin(),
            });
        }
        out
    }

    /// The type, doc and `rust_name` of a field or parameter, short or long.
    fn long_or_short(
        &self,
        value: &Sp<Either<TypeExpr, raw::TypedLong>>,
        what: &str,
        wire: &str,
        placeholder: TypeRef,
    ) -> Option<(TypeRef, Option<String>, Option<Sp<String>>)> {
        match value.get()? {
            Either::Short(t) => Some((
                self.type_expr(&t.0, value.pos, &value.path, placeholder),
                None,
                None,
            )),
            Either::Long(long) => {
                let raw::TypedLong { ty, doc, rust_name } = long;
                let ty = self.need(
                    ty,
                    (value.pos, &value.path),
                    &format!("{what} `{wire}`"),
                    "type",
                    "type: string",
                );
                let ty = ty.and_then(|t| Some(self.type_expr(&t.get()?.0, t.pos, &t.path, placeholder)))?;
                Some((ty, text(doc), rust_name.clone()))
            }
        }
    }

    /// `rust_name`, or the snake_cased wire name; reports a wire name that
    /// has none and returns a placeholder instead.
    fn rust_field_name(
        &self,
        key: &Sp<String>,
        wire: &str,
        rust_name: Option<Sp<String>>,
        what: &str,
        placeholder: impl FnOnce() -> String,
    ) -> String {
        if let Some(name) = rust_name.as_ref().and_then(|r| r.get()) {
            return name.clone();
        }
        match to_snake_case(wire) {
            Some(name) => name,
            None => {
                self.error(
                    DiagnosticKind::InvalidName,
                    key.pos,
                    &key.path,
                    format!(
                        "{what} `{wire}` has no Rust name (it cannot be snake_cased into an identifier); use the long form `{{ type: ..., rust_name: ... }}`"
                    ),
                );
                placeholder()
            }
        }
    }

    fn variants(&self, items: &[Sp<Either<String, raw::VariantLong>>]) -> Vec<Variant> {
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            // A broken value keeps its place (model paths count by index).
            let stand_in = || Variant {
                name: format!("Variant{i}"),
                wire: format!("${i}"),
                doc: None,
                origin: Origin::StandIn,
            };
            let Some(v) = item.get() else {
                out.push(stand_in());
                continue;
            };
            let (wire, rust_name, doc) = match v {
                Either::Short(s) => (s.clone(), None, None),
                Either::Long(l) => {
                    let Some(value) = self
                        .need(
                            &l.value,
                            (item.pos, &item.path),
                            "an enum value",
                            "value",
                            "value: on-hold",
                        )
                        .and_then(Sp::get)
                    else {
                        out.push(stand_in());
                        continue;
                    };
                    (value.clone(), opt(&l.rust_name), text(&l.doc))
                }
            };
            let name = match rust_name.or_else(|| to_camel_case(&wire)) {
                Some(n) => n,
                None => {
                    self.error(
                        DiagnosticKind::InvalidName,
                        item.pos,
                        &item.path,
                        format!(
                            "enum value `{wire}` has no Rust name (it cannot be CamelCased into an identifier); write `{{ value: \"{wire}\", rust_name: ... }}`"
                        ),
                    );
                    format!("Variant{i}")
                }
            };
            out.push(Variant {
                name,
                wire,
                doc,
                origin: item.pos.origin(),
            });
        }
        out
    }

    /// The endpoints, and whether lowering left any out or in part (an
    /// endpoint without a method, a parameter whose type does not parse):
    /// it reported a problem then.
    fn endpoints(&self, entries: &Entries<raw::Endpoint>) -> (Vec<Endpoint>, bool) {
        let reported = self.state.diags.borrow().len();
        let endpoints = entries
            .0
            .iter()
            .filter_map(|(key, ep)| self.endpoint(key, ep))
            .collect();
        (endpoints, self.state.diags.borrow().len() > reported)
    }

    fn endpoint(&self, key: &Sp<String>, sp: &Sp<raw::Endpoint>) -> Option<Endpoint> {
        let name = key.get()?;
        let e = sp.get()?;
        let at = (key.pos, key.path.as_str());
        let what = format!("endpoint `{name}`");
        let method = self
            .need(&e.method, at, &what, "method", "method: GET")
            .and_then(Sp::get);
        let path = self
            .need(&e.path, at, &what, "path", "path: /...")
            .and_then(Sp::get);

        // Path parameters in the order the path names them, then the rest.
        let mut path_params = self.params(&e.params, "path parameter", |_| ParamKind::Path);
        if let Some(path) = path {
            // Where each `{name}` first appears, in one pass (searching the
            // path once per parameter is quadratic in a long path).
            let mut first_at: HashMap<&str, usize> = HashMap::new();
            let mut close = None;
            for (i, b) in path.bytes().enumerate().rev() {
                match (b, close) {
                    (b'}', _) => close = Some(i),
                    (b'{', Some(j)) => {
                        first_at.insert(&path[i + 1..j], i);
                    }
                    _ => {}
                }
            }
            path_params.sort_by_key(|p| first_at.get(p.name.as_str()).copied().unwrap_or(usize::MAX));
        }
        let query = self.params(&e.query, "query parameter", |wire| ParamKind::Query {
            wire: wire.to_owned(),
        });
        let headers = self.params(&e.headers, "header", |wire| ParamKind::Header {
            wire: wire.to_owned(),
        });
        let body = e.body.as_ref().and_then(|b| {
            let (ty, name) = match b.get()? {
                Either::Short(t) => (self.type_expr(&t.0, b.pos, &b.path, TypeRef::Json), None),
                Either::Long(long) => {
                    let ty = self.need(&long.ty, (b.pos, &b.path), "`body`", "type", "type: MyType")?;
                    (
                        self.type_expr(&ty.get()?.0, ty.pos, &ty.path, TypeRef::Json),
                        text(&long.name),
                    )
                }
            };
            Some(Body {
                name: name.unwrap_or_else(|| "body".to_owned()),
                ty,
                origin: b.pos.origin(),
            })
        });
        let response = e
            .response
            .as_ref()
            .and_then(|r| Some(self.type_expr(&r.get()?.0, r.pos, &r.path, TypeRef::Json)));
        let auth = !matches!(opt(&e.auth), Some(raw::EndpointAuth::None));
        Some(Endpoint {
            name: name.clone(),
            doc: text(&e.doc),
            method: http_method(*method?),
            path: path?.clone(),
            params: path_params.into_iter().chain(query).chain(headers).collect(),
            body,
            response,
            idempotent: opt(&e.idempotent),
            auth,
            origin: key.pos.origin(),
            path_origin: req_origin(&e.path),
            response_origin: origin_of(&e.response),
        })
    }

    fn params(
        &self,
        entries: &Option<Sp<Entries<Either<TypeExpr, raw::TypedLong>>>>,
        what: &str,
        kind: impl Fn(&str) -> ParamKind,
    ) -> Vec<Param> {
        let Some(entries) = entries.as_ref().and_then(Sp::get) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, (key, value)) in entries.0.iter().enumerate() {
            let Some(wire) = key.get() else { continue };
            // A placeholder that fits any parameter, so one bad type is one error.
            let Some((ty, doc, rust_name)) = self.long_or_short(value, what, wire, TypeRef::String) else {
                continue;
            };
            let kind = kind(wire);
            let name = if kind == ParamKind::Path {
                // The placeholder's name is the argument's name and is never sent.
                if let Some(r) = &rust_name {
                    self.error(
                        DiagnosticKind::Shape,
                        r.pos,
                        &r.path,
                        format!("a path parameter is named by its placeholder; rename `{{{wire}}}` in `path` and here instead of setting `rust_name`"),
                    );
                }
                wire.clone()
            } else {
                let prefix = if what == "header" { "header" } else { "query" };
                self.rust_field_name(key, wire, rust_name, what, || format!("{prefix}_{i}"))
            };
            out.push(Param {
                name,
                kind,
                ty,
                doc,
                origin: key.pos.origin(),
                value_origin: value.pos.origin(),
            });
        }
        out
    }

    /// Parses a type expression; reports a problem and returns `placeholder`.
    fn type_expr(&self, src: &str, pos: Pos, path: &str, placeholder: TypeRef) -> TypeRef {
        match type_expr::parse(src, &self.type_names, &self.known_types) {
            Ok(t) => t,
            Err((kind, message)) => {
                self.error(kind, pos, path, message);
                placeholder
            }
        }
    }
}

fn model_encoding(e: raw::Encoding) -> Encoding {
    match e {
        raw::Encoding::Json => Encoding::Json,
        raw::Encoding::Form => Encoding::Form,
        raw::Encoding::Query => Encoding::Query,
    }
}

fn http_method(m: raw::Method) -> HttpMethod {
    match m {
        raw::Method::Get => HttpMethod::Get,
        raw::Method::Post => HttpMethod::Post,
        raw::Method::Put => HttpMethod::Put,
        raw::Method::Patch => HttpMethod::Patch,
        raw::Method::Delete => HttpMethod::Delete,
    }
}
