//! The `endpoints` section → [`Endpoint`]s: method, path, parameters in
//! path order, body and response.

use std::collections::HashMap;

use crate::diag::DiagnosticKind;
use crate::model::{Body, Cache, Endpoint, Param, ParamKind, TypeRef};
use crate::yaml::raw::{self, TypeExpr};
use crate::yaml::spanned::{Either, Entries, Sp};

use super::{Cx, http_method, opt, origin_of, req_origin, text};

impl Cx<'_, '_> {
    /// The endpoints, and whether lowering left any out or in part (an
    /// endpoint without a method, a parameter whose type does not parse):
    /// it reported a problem then.
    pub(super) fn endpoints(&self, entries: &Entries<raw::Endpoint>) -> (Vec<Endpoint>, bool) {
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
            idempotency_key: opt(&e.idempotency_key),
            deprecated: opt(&e.deprecated).unwrap_or(false),
            retry: e.retry.as_ref().and_then(super::auth::retry),
            cache: e.cache.as_ref().and_then(|sp| {
                let c = sp.get()?;
                let ttl = self.need(&c.ttl_ms, (sp.pos, &sp.path), "`cache`", "ttl_ms", "ttl_ms: 5000")?;
                Some(Cache {
                    ttl_ms: *ttl.get()?,
                    stale_if_error_ms: opt(&c.stale_if_error_ms).unwrap_or(0),
                    origin: sp.pos.origin(),
                })
            }),
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
}
