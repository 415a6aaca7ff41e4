//! Raw spec → model. Reports what only the YAML shape can tell (missing
//! keys, option combinations, type expressions, names the wire gives) and
//! puts a stand-in where a value cannot be read, marked
//! [`Origin::StandIn`] so the model checks skip it; the model-level rules
//! live in [`crate::validate`].
//!
//! Here: the entry point, what every section shares (`Cx`: reporting,
//! required keys, type expressions) and the small readers of optional
//! values; each section lowers in its own module.

mod auth;
mod endpoints;
mod login;
mod types;

use std::collections::HashSet;

use crate::diag::DiagnosticKind;
use crate::model::{Api, ApiOrigins, HttpMethod, Origin, TypeRef};
use crate::naming::to_camel_case;

use super::de::State;
use super::raw;
use super::spanned::{Req, Sp};
use super::tree::Pos;
use super::type_expr;
use auth::stand_in_auth;

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

/// Where each item of a required list was written.
fn each_in<T>(list: &Req<Vec<Sp<T>>>) -> Vec<Origin> {
    match list {
        Req::Present(sp) => sp.get().map_or_else(Vec::new, |l| each(l)),
        Req::Missing => Vec::new(),
    }
}

/// What lowering every section needs: where to report, and the declared
/// type names to resolve type expressions against.
struct Cx<'a, 's> {
    state: &'a State<'s>,
    /// Declared type names, in spec order, for suggesting.
    type_names: Vec<String>,
    /// The same names, for resolving: a spec may declare tens of thousands.
    known_types: HashSet<String>,
}

impl Cx<'_, '_> {
    fn error(&self, kind: DiagnosticKind, pos: Pos, path: &str, message: impl Into<String>) {
        self.state.error(kind, pos, path, message);
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

/// A spec method: an endpoint's, or a login or refresh request's.
fn http_method(m: raw::Method) -> HttpMethod {
    match m {
        raw::Method::Get => HttpMethod::Get,
        raw::Method::Post => HttpMethod::Post,
        raw::Method::Put => HttpMethod::Put,
        raw::Method::Patch => HttpMethod::Patch,
        raw::Method::Delete => HttpMethod::Delete,
    }
}
