//! Rules on the endpoints: their names, path templates, parameters, bodies
//! and responses.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::{Ctxt, hint_snake, param_section};
use crate::diag::{DiagnosticKind, Severity};
use crate::model::{Api, Body, Endpoint, HttpMethod, Origin, Param, ParamKind, TypeRef};
use crate::naming::{is_field_ident, is_keyword, is_snake_case};

/// Methods every generated client already has; an endpoint must not reuse them.
const CLIENT_METHODS: &[&str] = &["builder", "new", "from_client", "client", "with_options"];

pub(super) fn check(cx: &mut Ctxt<'_>, api: &Api) {
    check_some_endpoint(cx, api);
    let mut names = HashSet::new();
    for ep in &api.endpoints {
        let at = format!("endpoints.{}", ep.name);
        check_endpoint_name(cx, &at, ep);
        if !names.insert(ep.name.as_str()) {
            cx.error(
                DiagnosticKind::NameClash,
                &ep.origin,
                at.clone(),
                format!("endpoint `{}` is defined twice; rename or remove one", ep.name),
            );
        }
        let placeholders = check_template(cx, ep.path_origin.or(&ep.origin), &format!("{at}.path"), &ep.path);
        check_placeholders_declared(cx, &at, ep, &placeholders);
        // Sets, not scans: a path may hold tens of thousands of placeholders.
        let used: HashSet<&str> = placeholders.into_iter().collect();
        let args = check_params(cx, &at, ep, &used);
        if let Some(body) = &ep.body {
            check_body(cx, &format!("{at}.body"), ep.method, body, &args);
        }
        if let Some(resp) = &ep.response {
            cx.type_ref(ep.response_origin.or(&ep.origin), &format!("{at}.response"), resp);
        }
        super::retry::check_endpoint(cx, &at, ep);
    }
}

/// A client without endpoints has no method: likely a mistake.
fn check_some_endpoint(cx: &mut Ctxt<'_>, api: &Api) {
    if api.endpoints.is_empty() {
        cx.report(
            Severity::Warning,
            DiagnosticKind::Empty,
            api.origins.endpoints.or(&api.origin),
            "endpoints",
            "the API has no endpoint, so the client has no method; add one under `endpoints`",
        );
    }
}

/// An endpoint's name is a method name the client does not have already.
fn check_endpoint_name(cx: &mut Ctxt<'_>, at: &str, ep: &Endpoint) {
    if !is_snake_case(&ep.name) || is_keyword(&ep.name) {
        let hint = hint_snake(&ep.name);
        cx.error(
            DiagnosticKind::InvalidName,
            &ep.origin,
            at,
            format!(
                "endpoint name `{}` must be a snake_case identifier{hint}; it names the method",
                ep.name
            ),
        );
    } else if CLIENT_METHODS.contains(&ep.name.as_str()) {
        cx.error(
            DiagnosticKind::NameClash,
            &ep.origin,
            at,
            format!(
                "the client already has a method `{}`; rename the endpoint",
                ep.name
            ),
        );
    }
}

/// A path template is a request path whose `{name}` placeholders are
/// closed, named and each used once; returns the placeholders, in order.
fn check_template<'p>(cx: &mut Ctxt<'_>, o: &Origin, at: &str, path: &'p str) -> Vec<&'p str> {
    cx.request_path(o, at, path);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    // The message quotes the path: once, however many `{}` it holds.
    let mut empty_reported = false;
    let mut rest = path;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            cx.error(
                DiagnosticKind::InvalidPath,
                o,
                at,
                format!("path `{path}` has a `}}` without `{{`; remove it or complete the placeholder"),
            );
            return out;
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find(['{', '}']).filter(|&c| after.as_bytes()[c] == b'}') else {
            cx.error(
                DiagnosticKind::InvalidPath,
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
                cx.error(
                    DiagnosticKind::InvalidPath,
                    o,
                    at,
                    format!("path `{path}` has an empty placeholder `{{}}`; name it, like `{{id}}`"),
                );
            }
        } else if !seen.insert(name) {
            cx.error(
                DiagnosticKind::InvalidPath,
                o,
                at,
                format!("path parameter `{{{name}}}` appears twice in the path; use it once"),
            );
        } else {
            out.push(name);
        }
        rest = &after[close + 1..];
    }
    out
}

/// Every placeholder is declared as a path parameter.
fn check_placeholders_declared(cx: &mut Ctxt<'_>, at: &str, ep: &Endpoint, placeholders: &[&str]) {
    let declared: HashSet<&str> = ep
        .params
        .iter()
        .filter(|p| p.kind == ParamKind::Path)
        .map(|p| p.name.as_str())
        .collect();
    for name in placeholders {
        if !declared.contains(name) {
            let ty = if name.ends_with("id") { "u64" } else { "string" };
            cx.error(
                DiagnosticKind::InvalidPath,
                ep.path_origin.or(&ep.origin),
                format!("{at}.path"),
                format!("path parameter `{{{name}}}` has no declaration; add `{name}: {ty}` under `params`"),
            );
        }
    }
}

/// Each parameter on its own, then against the others: no wire name is
/// declared twice and no argument name is taken twice. Returns what each
/// argument name is taken by, for the body.
fn check_params<'e>(
    cx: &mut Ctxt<'_>,
    at: &str,
    ep: &'e Endpoint,
    used: &HashSet<&str>,
) -> HashMap<&'e str, String> {
    let mut args: HashMap<&str, String> = HashMap::new();
    let mut query_wires: BTreeSet<&str> = BTreeSet::new();
    let mut header_wires: BTreeSet<String> = BTreeSet::new();
    for p in &ep.params {
        let o = p.value_origin.or(&p.origin);
        let (section, wire) = param_section(&p.kind, &p.name);
        let pat = format!("{at}.{section}.{wire}");
        let what = match p.kind {
            ParamKind::Path => "path parameter",
            ParamKind::Query { .. } => "query parameter",
            ParamKind::Header { .. } => "header",
        };
        let repeated = match &p.kind {
            ParamKind::Path => {
                check_path_param(cx, &pat, p, used);
                false
            }
            ParamKind::Query { wire } => {
                check_value_param(cx, &pat, what, wire, p);
                let repeated = !query_wires.insert(wire);
                if repeated {
                    cx.error(
                        DiagnosticKind::NameClash,
                        o,
                        pat.clone(),
                        format!("query parameter `{wire}` is declared twice"),
                    );
                }
                repeated
            }
            ParamKind::Header { wire } => {
                check_value_param(cx, &pat, what, wire, p);
                cx.header_name(o, &pat, wire);
                let repeated = !header_wires.insert(wire.to_ascii_lowercase());
                if repeated {
                    cx.error(
                        DiagnosticKind::NameClash,
                        o,
                        pat.clone(),
                        format!("header `{wire}` is declared twice (header names ignore case); remove one"),
                    );
                }
                repeated
            }
        };
        cx.type_ref(o, &pat, &p.ty);
        // A repeated name was reported as such already.
        if !repeated {
            if let Some(other) = args.get(p.name.as_str()) {
                cx.error(
                    DiagnosticKind::NameClash,
                    o,
                    pat,
                    format!(
                        "argument `{}` is already taken by the {other}; give this {what} a different `rust_name`",
                        p.name
                    ),
                );
            } else {
                args.insert(&p.name, format!("{what} `{wire}`"));
            }
        }
    }
    args
}

/// A path parameter is used in the path, is named like an argument (its
/// name is not sent), and holds one value.
fn check_path_param(cx: &mut Ctxt<'_>, at: &str, p: &Param, used: &HashSet<&str>) {
    let o = p.value_origin.or(&p.origin);
    if !used.contains(p.name.as_str()) {
        cx.error(
            DiagnosticKind::InvalidPath,
            o,
            at,
            format!(
                "path parameter `{}` is not used in the path; add `{{{}}}` to `path` or remove it",
                p.name, p.name
            ),
        );
    }
    if !is_snake_case(&p.name) {
        cx.error(
            DiagnosticKind::InvalidName,
            o,
            at,
            format!(
                "path parameter `{}` must be a snake_case identifier{}; rename it in `path` and `params` (the name is not sent)",
                p.name,
                hint_snake(&p.name)
            ),
        );
    }
    if !p.ty.is_scalar() {
        cx.error(
            DiagnosticKind::WrongType,
            o,
            at,
            format!(
                "path parameter `{}` has type `{}`, but a path segment holds one value; use string, bool, an integer or f64",
                p.name, p.ty
            ),
        );
    }
}

/// A query parameter or header has a snake_case Rust name and holds one
/// value, or none.
fn check_value_param(cx: &mut Ctxt<'_>, at: &str, what: &str, wire: &str, p: &Param) {
    let o = p.value_origin.or(&p.origin);
    cx.rust_name(o, at, what, wire, &p.name);
    let inner = match &p.ty {
        TypeRef::Option(t) => t,
        t => t,
    };
    if !inner.is_scalar() {
        cx.error(
            DiagnosticKind::WrongType,
            o,
            at,
            format!(
                "{what} `{wire}` has type `{}`, but it holds one value; use string, bool, an integer or f64 (optionally with `?`)",
                p.ty
            ),
        );
    }
}

/// A body goes with a method that has one, under an argument name that is
/// an identifier no parameter takes, and its type exists.
fn check_body(cx: &mut Ctxt<'_>, at: &str, method: HttpMethod, body: &Body, args: &HashMap<&str, String>) {
    if matches!(method, HttpMethod::Get | HttpMethod::Delete) {
        cx.error(
            DiagnosticKind::Conflict,
            &body.origin,
            at,
            format!(
                "a {} request has no body; remove `body` or use POST, PUT or PATCH",
                method.as_str()
            ),
        );
    }
    if !is_field_ident(&body.name) {
        cx.error(
            DiagnosticKind::InvalidName,
            &body.origin,
            at,
            format!(
                "body argument name `{}` is not a Rust identifier; rename it",
                body.name
            ),
        );
    }
    if let Some(other) = args.get(body.name.as_str()) {
        cx.error(
            DiagnosticKind::NameClash,
            &body.origin,
            at,
            format!(
                "the body argument `{}` collides with the {other}; give that parameter a `rust_name` or name the body (`body: {{ type: ..., name: ... }}`)",
                body.name
            ),
        );
    }
    cx.type_ref(&body.origin, at, &body.ty);
}
