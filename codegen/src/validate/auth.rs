//! Rules on the token protocol. Here: where the token goes (its placement,
//! the next token's header, parameters that would overwrite it) and the
//! success envelope; what counts as expired, the login flow and the
//! runtime settings each have a module.

mod expiry;
mod login;
mod settings;

use super::{Ctxt, not_a_code, param_section};
use crate::diag::DiagnosticKind;
use crate::model::{
    Api, Auth, Endpoint, Envelope, EnvelopeOrigins, Lifetime, Login, Origin, ParamKind, Placement, TypeKind,
    TypeRef,
};

pub(super) fn check(cx: &mut Ctxt<'_>, api: &Api) {
    let auth = &api.auth;
    check_placement(cx, auth);
    check_next_token_header(cx, auth);
    expiry::check(cx, auth);
    if let Some(env) = &auth.envelope {
        check_envelope(cx, &auth.origins.envelope, &auth.origin, env);
    }
    if let Login::Flow(flow) = &auth.login {
        login::check(cx, &auth.origins.login, &auth.origin, flow);
    }
    settings::check(cx, auth);
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

/// The envelope's paths are JSON paths, and some code means success.
fn check_envelope(cx: &mut Ctxt<'_>, origins: &EnvelopeOrigins, auth: &Origin, env: &Envelope) {
    let o = origins.envelope.or(auth);
    cx.json_path(origins.code.or(o), "auth.envelope.code", &env.code);
    cx.some_of(
        (origins.success.or(o), &origins.success_values),
        "auth.envelope.success",
        &env.success,
        "`success` lists no code, so every reply would be an error; add one, like `[200]`",
        |v| not_a_code(v).then(|| format!("success code `{v}` must be a number or a string")),
    );
    if let Some(p) = &env.data {
        cx.json_path(origins.data.or(o), "auth.envelope.data", p);
    }
    if let Some(p) = &env.message {
        cx.json_path(origins.message.or(o), "auth.envelope.message", p);
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
