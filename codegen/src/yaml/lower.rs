//! Raw spec → model. Reports what only the YAML shape can tell (missing
//! keys, option combinations, type expressions, names the wire gives) and
//! leaves placeholders behind so later checks do not cascade; the
//! model-level rules live in [`crate::validate`].

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap, HashSet};

use crate::model::{
    Api, Auth, Body, ClientAuth, Encoding, Endpoint, Envelope, ExpiryRule, Field, HttpMethod, Lifetime,
    Login, LoginBackoff, LoginFlow, Origin, Param, ParamKind, Placement, RefreshGrant, TokenSource, TypeDef,
    TypeKind, TypeRef, Variant,
};
use crate::naming::{did_you_mean, is_camel_case, to_camel_case, to_snake_case};

use super::de::State;
use super::raw::{self, TypeExpr};
use super::spanned::{Either, Entries, Req, Sp};
use super::tree::Pos;

/// A lowered spec.
pub(crate) struct Lowered {
    pub api: Api,
    /// Spec paths (and everything under them) whose model values stand in
    /// for problems already reported: model checks there would only guess.
    pub suppressed: Vec<String>,
    /// An endpoint was left out: "type not used" warnings would be guesses.
    pub dropped_endpoint: bool,
}

pub(crate) fn lower(spec: &Sp<raw::Spec>, state: &State<'_>) -> Option<Lowered> {
    let raw = spec.get()?;
    let type_names: Vec<String> = raw
        .types
        .as_ref()
        .and_then(Sp::get)
        .map(|t| t.0.iter().filter_map(|(k, _)| k.get().cloned()).collect())
        .unwrap_or_default();
    let cx = Cx {
        state,
        suppressed: RefCell::default(),
        dropped_endpoint: Cell::new(false),
        known_types: type_names.iter().cloned().collect(),
        type_names,
        reported: RefCell::default(),
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
    let endpoints = match cx
        .need(&raw.endpoints, root, "the spec", "endpoints", "endpoints:")
        .and_then(Sp::get)
    {
        Some(e) => cx.endpoints(e),
        None => cx.stand_in("endpoints", Vec::new()),
    };

    let name = name?.get()?.clone();
    let client = client.unwrap_or_else(|| match to_camel_case(&name) {
        Some(camel) => format!("{camel}Client"),
        None => format!("{name}Client"),
    });
    let auth = match auth {
        Some((_, Some(auth))) => auth,
        Some((sp, None)) => cx.stand_in("auth", placeholder_auth(sp.pos.origin())),
        None => cx.stand_in("auth", placeholder_auth(Origin::Unknown)),
    };
    Some(Lowered {
        api: Api {
            name,
            client,
            doc: text(&raw.doc),
            base_url: text(&raw.base_url),
            auth,
            types,
            endpoints,
            origin: spec.pos.origin(),
        },
        suppressed: cx.suppressed.take(),
        dropped_endpoint: cx.dropped_endpoint.get(),
    })
}

/// Stands in for an `auth` already reported broken, so the types and
/// endpoints still get checked.
fn placeholder_auth(origin: Origin) -> Auth {
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
        origin,
    }
}

fn text(v: &Option<Sp<String>>) -> Option<String> {
    v.as_ref().and_then(|s| s.get().cloned())
}

fn opt<T: Clone>(v: &Option<Sp<T>>) -> Option<T> {
    v.as_ref().and_then(|s| s.get().cloned())
}

struct Cx<'a, 's> {
    state: &'a State<'s>,
    /// Spec paths whose model values stand in for reported problems.
    suppressed: RefCell<Vec<String>>,
    /// An endpoint was left out, so "unused type" would be a guess.
    dropped_endpoint: Cell<bool>,
    /// Declared type names, in spec order, for suggesting.
    type_names: Vec<String>,
    /// The same names, for resolving: a spec may declare tens of thousands.
    known_types: HashSet<String>,
    /// For `reported_under`: how many diagnostics are indexed, their paths.
    reported: RefCell<(usize, BTreeSet<String>)>,
}

impl Cx<'_, '_> {
    fn error(&self, pos: Pos, path: &str, message: impl Into<String>) {
        self.state.error(pos, path, message);
    }

    /// Has a problem been reported inside `path`? The paths reported so far
    /// are indexed as they come, so asking once per type stays linear.
    fn reported_under(&self, path: &str) -> bool {
        let prefix = format!("{path}.");
        let mut index = self.reported.borrow_mut();
        let (seen, paths) = &mut *index;
        let diags = self.state.diags.borrow();
        paths.extend(diags.iter().skip(*seen).map(|d| d.path.clone()));
        *seen = diags.len();
        paths
            .range(prefix.clone()..)
            .next()
            .is_some_and(|p| p.starts_with(&prefix))
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
                self.error(parent.0, &path, format!("{what} has no `{key}`; add `{example}`"));
                None
            }
        }
    }

    /// The auth section. A broken part becomes a stand-in, and its spec
    /// path is suppressed, so the model checks still see the rest.
    fn auth(&self, sp: &Sp<raw::Auth>) -> Option<Auth> {
        let a = sp.get()?;
        let at = (sp.pos, sp.path.as_str());
        let what = "`auth`";
        let placement = self
            .need(&a.placement, at, what, "placement", "placement: bearer")
            .and_then(|p| self.placement(p))
            .unwrap_or_else(|| self.stand_in("auth.placement", Placement::Bearer));
        let lifetime = self.need(&a.lifetime, at, what, "lifetime", "lifetime: reusable");
        let next = a.next_token_header.as_ref();
        let lifetime = match (lifetime.and_then(Sp::get), next) {
            (Some(raw::Lifetime::SingleUse), Some(h)) => h.get().map(|h| Lifetime::SingleUse {
                next_token_header: h.clone(),
            }),
            (Some(raw::Lifetime::SingleUse), None) => {
                let l = lifetime.map_or(sp.pos, |l| l.pos);
                self.error(
                    l,
                    &format!("{}.lifetime", sp.path),
                    "`lifetime: single_use` needs `next_token_header`, the response header that carries the next token; add `next_token_header: B-T`",
                );
                None
            }
            (Some(raw::Lifetime::Reusable), Some(h)) => {
                self.error(
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
            self.suppress("auth.lifetime");
            self.stand_in("auth.next_token_header", Lifetime::Reusable)
        });
        let rules = self
            .need(&a.expiry, at, what, "expiry", "expiry: [{ status: [401] }]")
            .and_then(Sp::get);
        let expiry: Vec<ExpiryRule> = match rules {
            // A broken rule keeps its place (model paths count by index).
            Some(rules) => rules
                .iter()
                .map(|r| {
                    self.expiry(r)
                        .unwrap_or_else(|| self.stand_in(&r.path, ExpiryRule::Status(vec![401])))
                })
                .collect(),
            None => self.stand_in("auth.expiry", Vec::new()),
        };
        let envelope = match &a.envelope {
            None => None,
            Some(e) => e
                .get()
                .and_then(|env| self.envelope(e, env))
                .or_else(|| self.stand_in("auth.envelope", None)),
        };
        let login = self
            .need(&a.login, at, what, "login", "login: custom")
            .and_then(|l| self.login(l))
            .unwrap_or_else(|| self.stand_in("auth.login", Login::Custom));
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
        })
    }

    /// Model checks must not judge what stands in for a reported problem.
    fn suppress(&self, path: &str) {
        self.suppressed.borrow_mut().push(path.to_owned());
    }

    fn stand_in<T>(&self, path: &str, value: T) -> T {
        self.suppress(path);
        value
    }

    fn placement(&self, sp: &Sp<raw::Placement>) -> Option<Placement> {
        Some(match sp.get()? {
            raw::Placement::Header(h) => Placement::Header(h.get()?.clone()),
            raw::Placement::Bearer => Placement::Bearer,
            raw::Placement::Query(q) => Placement::Query(q.get()?.clone()),
            raw::Placement::JsonBody(p) => Placement::JsonBody(p.get()?.clone()),
        })
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
                if !self.reported_under(&sp.path) {
                    self.error(
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

    fn login(&self, sp: &Sp<Either<String, raw::LoginFlow>>) -> Option<Login> {
        match sp.get()? {
            Either::Short(s) if s == "custom" => Some(Login::Custom),
            Either::Short(s) => {
                self.error(
                    sp.pos,
                    &sp.path,
                    format!(
                        "`login` must be `custom` (you pass a `seamless_sdk::Login`) or a mapping that describes the login request, not `{s}`{}",
                        did_you_mean(s, ["custom"])
                    ),
                );
                None
            }
            Either::Long(flow) => self.login_flow(sp, flow).map(Login::Flow),
        }
    }

    fn login_flow(&self, sp: &Sp<impl Sized>, f: &raw::LoginFlow) -> Option<LoginFlow> {
        let at = (sp.pos, sp.path.as_str());
        let what = "`login`";
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
            .and_then(|t| match t {
                raw::TokenSource::Header(h) => h.get().cloned().map(TokenSource::Header),
                raw::TokenSource::Json(p) => p.get().cloned().map(TokenSource::Json),
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
            Some(RefreshGrant {
                path: path?.get()?.clone(),
                field: field?.get()?.clone(),
                fields: self.constants(&grant.fields),
                method: opt(&grant.method).map(http_method),
                encoding: opt(&grant.encoding).map(model_encoding),
                secrets: self.secrets(&grant.secrets),
            })
        });
        if f.refresh.is_some() && refresh.is_none() {
            self.suppress("auth.login.refresh");
            self.suppress("auth.login.refresh_token");
        }
        Some(LoginFlow {
            method: method.unwrap_or_else(|| {
                self.suppress("auth.login.encoding");
                HttpMethod::Post
            }),
            path: path
                .cloned()
                .unwrap_or_else(|| self.stand_in("auth.login.path", "/".to_owned())),
            encoding: model_encoding(encoding),
            fields: self.constants(&f.fields),
            secrets: self.secrets(&f.secrets),
            code_field: text(&f.code),
            token: token
                .unwrap_or_else(|| self.stand_in("auth.login.token", TokenSource::Json("token".to_owned()))),
            expires_in: text(&f.expires_in),
            refresh_token: text(&f.refresh_token),
            refresh,
            client_auth: opt(&f.client_auth).map(|c| match c {
                raw::ClientAuth::Basic => ClientAuth::Basic,
            }),
        })
    }

    fn secrets(&self, secrets: &Option<Sp<Vec<Sp<String>>>>) -> Vec<String> {
        secrets
            .as_ref()
            .and_then(Sp::get)
            .map(|s| {
                s.iter()
                    .enumerate()
                    .map(|(i, s)| {
                        s.get()
                            .cloned()
                            .unwrap_or_else(|| self.stand_in(&s.path, format!("secret{i}")))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn constants(&self, fields: &Option<Sp<Entries<String>>>) -> Vec<(String, String)> {
        fields
            .as_ref()
            .and_then(Sp::get)
            .map(|e| {
                e.0.iter()
                    .filter_map(|(k, v)| Some((k.get()?.clone(), v.get()?.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn types(&self, entries: &Entries<raw::TypeDef>) -> Vec<TypeDef> {
        let mut out = Vec::new();
        for (key, def) in &entries.0 {
            let Some(name) = key.get() else { continue };
            let origin = key.pos.origin();
            // A broken definition still declares its name: no "unknown type" cascade.
            let kind = def
                .get()
                .and_then(|d| self.type_kind(name, def, d))
                .unwrap_or(TypeKind::Struct(Vec::new()));
            out.push(TypeDef {
                name: name.clone(),
                doc: def.get().and_then(|d| text(&d.doc)),
                kind,
                origin,
            });
        }
        out
    }

    fn type_kind(&self, name: &str, sp: &Sp<raw::TypeDef>, d: &raw::TypeDef) -> Option<TypeKind> {
        match (&d.fields, &d.variants) {
            (Some(_), Some(v)) => {
                self.error(
                    v.pos,
                    &v.path,
                    format!("type `{name}` has both `fields` and `enum`; a type is a struct or a string enum, keep one"),
                );
                None
            }
            // An unknown key under the type (`feilds`) already said what is wrong.
            (None, None) if self.reported_under(&sp.path) => None,
            (None, None) => {
                self.error(
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
            let stand_in = || {
                self.suppress(&item.path);
                Variant {
                    name: format!("Variant{i}"),
                    wire: format!("${i}"),
                    doc: None,
                    origin: item.pos.origin(),
                }
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

    fn endpoints(&self, entries: &Entries<raw::Endpoint>) -> Vec<Endpoint> {
        entries
            .0
            .iter()
            .filter_map(|(key, ep)| {
                let lowered = self.endpoint(key, ep);
                if lowered.is_none() {
                    self.dropped_endpoint.set(true);
                }
                lowered
            })
            .collect()
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
            });
        }
        out
    }

    /// Parses a type expression; reports a problem and returns `placeholder`.
    fn type_expr(&self, src: &str, pos: Pos, path: &str, placeholder: TypeRef) -> TypeRef {
        let mut p = TypeParser {
            src,
            rest: src,
            names: &self.type_names,
            known: &self.known_types,
            depth: 0,
        };
        let parsed = p.ty().and_then(|t| {
            p.skip_ws();
            match p.rest.chars().next() {
                None => Ok(t),
                Some(c) => Err(format!(
                    "unexpected `{c}` in type `{src}`; a type is like `u64`, `User?`, `list<T>` or `map<T>`"
                )),
            }
        });
        match parsed {
            Ok(t) => t,
            Err(message) => {
                self.error(pos, path, message);
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

/// The type-expression grammar (docs/spec.md):
///
/// ```text
/// type  = base [ "?" ]
/// base  = "string" | "bool" | "i32" | "i64" | "u32" | "u64" | "f64" | "json"
///       | "list" "<" type ">" | "map" "<" type ">" | TypeName
/// ```
struct TypeParser<'a> {
    src: &'a str,
    rest: &'a str,
    names: &'a [String],
    known: &'a HashSet<String>,
    /// `list<`/`map<` levels open: the parser recurses once per level, and
    /// one YAML scalar can hold a million of them.
    depth: usize,
}

const PRIMITIVES: &[&str] = &["string", "bool", "i32", "i64", "u32", "u64", "f64", "json"];

impl TypeParser<'_> {
    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn word(&mut self) -> &str {
        self.skip_ws();
        let end = self
            .rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(self.rest.len());
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        word
    }

    fn ty(&mut self) -> Result<TypeRef, String> {
        let base = self.base()?;
        if self.eat('?') {
            if self.eat('?') {
                return Err(format!(
                    "type `{}` has two `?`; one `?` makes a type optional",
                    self.src
                ));
            }
            return Ok(TypeRef::Option(Box::new(base)));
        }
        Ok(base)
    }

    fn base(&mut self) -> Result<TypeRef, String> {
        let src = self.src;
        let word = self.word().to_owned();
        if word.is_empty() {
            return Err(match self.rest.chars().next() {
                None if src.trim().is_empty() => {
                    "the type is empty; write one, like `string` or `u64`".to_owned()
                }
                None => format!(
                    "type `{src}` ends too early; a type is like `u64`, `User?`, `list<T>` or `map<T>`"
                ),
                Some(c) => format!(
                    "unexpected `{c}` in type `{src}`; a type is like `u64`, `User?`, `list<T>` or `map<T>`"
                ),
            });
        }
        let generic = |this: &mut Self, wrap: fn(Box<TypeRef>) -> TypeRef| -> Result<TypeRef, String> {
            if !this.eat('<') {
                return Err(format!("`{word}` needs an element type, like `{word}<string>`"));
            }
            if this.depth == super::MAX_DEPTH {
                return Err(format!(
                    "a type nests `list<...>` and `map<...>` deeper than {} levels; a spec needs far fewer, flatten it",
                    super::MAX_DEPTH
                ));
            }
            this.depth += 1;
            let inner = this.ty()?;
            this.depth -= 1;
            if !this.eat('>') {
                return Err(format!("`{word}<` in type `{src}` is not closed; add `>`"));
            }
            Ok(wrap(Box::new(inner)))
        };
        let prim = match word.as_str() {
            "string" => Some(TypeRef::String),
            "bool" => Some(TypeRef::Bool),
            "i32" => Some(TypeRef::I32),
            "i64" => Some(TypeRef::I64),
            "u32" => Some(TypeRef::U32),
            "u64" => Some(TypeRef::U64),
            "f64" => Some(TypeRef::F64),
            "json" => Some(TypeRef::Json),
            "list" => return generic(self, TypeRef::List),
            "map" => return generic(self, TypeRef::Map),
            _ => None,
        };
        let ty = match prim {
            Some(p) => p,
            None if self.known.contains(&word) => TypeRef::Named(word.clone()),
            None => return Err(self.unknown(&word)),
        };
        self.skip_ws();
        if self.rest.starts_with('<') {
            return Err(format!("`{word}` takes no `<...>`; only `list` and `map` do"));
        }
        Ok(ty)
    }

    fn unknown(&self, word: &str) -> String {
        // Names from other languages, mapped to ours.
        let alias = match word.to_ascii_lowercase().as_str() {
            "int" | "integer" | "long" | "int64" => Some("i64"),
            "int32" => Some("i32"),
            "uint" | "uint64" | "usize" => Some("u64"),
            "uint32" => Some("u32"),
            "str" | "text" | "str_" => Some("string"),
            "boolean" => Some("bool"),
            "float" | "double" | "number" | "f32" | "float64" => Some("f64"),
            "object" | "any" | "value" => Some("json"),
            "array" | "vec" | "vector" => Some("list<...>"),
            "dict" | "hashmap" | "btreemap" | "record" => Some("map<...>"),
            "option" | "optional" => Some("T?"),
            _ => None,
        };
        if let Some(a) = alias {
            return format!("unknown type `{word}`; use `{a}`");
        }
        let candidates = self
            .names
            .iter()
            .map(String::as_str)
            .chain(PRIMITIVES.iter().copied())
            .chain(["list", "map"]);
        let hint = did_you_mean(word, candidates);
        if !hint.is_empty() {
            return format!("unknown type `{word}`{hint}");
        }
        if is_camel_case(word) {
            format!("unknown type `{word}`; declare it under `types`")
        } else {
            format!(
                "unknown type `{word}`; use a type from `types` or one of string, bool, i32, i64, u32, u64, f64, json"
            )
        }
    }
}
