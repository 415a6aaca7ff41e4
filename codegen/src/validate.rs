//! Model-level checks shared by both front ends (the YAML spec and the
//! `#[token_client]` trait): they read only [`model`](crate::model), never YAML.
//!
//! One function per rule, each with a comment saying what it refuses and
//! why, grouped by what they judge: `auth` (the token protocol), `types`
//! and `endpoints`. Every rule pushes a diagnostic and goes on, so one run
//! reports every problem. Each diagnostic is at the [`Origin`] of the value
//! it judges (a YAML line and column, or a Rust span), and labelled with a
//! spec path spelled the way the YAML format spells it
//! (`endpoints.get_user.path`, `types.User.fields.nickName`,
//! `auth.expiry[0].status`). A value that stands in for one the front end
//! could not read ([`Origin::StandIn`]) gets no diagnostic: the front end
//! reported the real problem.

mod auth;
mod endpoints;
mod retry;
mod types;

use std::collections::HashMap;

use crate::diag::{Diagnostic, DiagnosticKind, Severity};
use crate::model::{Api, Origin, ParamKind, TypeDef, TypeRef};
use crate::naming::{
    did_you_mean, is_camel_case, is_field_ident, is_keyword, is_snake_case, to_camel_case, to_snake_case,
};

/// Every problem of a lowered model, in no particular order (callers sort).
/// Both front ends call it once per model.
pub fn check(api: &Api) -> Vec<Diagnostic> {
    let mut cx = Ctxt {
        out: Vec::new(),
        types: api.types.iter().map(|t| (t.name.as_str(), t)).collect(),
    };
    check_api_names(&mut cx, api);
    check_base_url(&mut cx, api);
    auth::check(&mut cx, api);
    types::check(&mut cx, api);
    endpoints::check(&mut cx, api);
    cx.out
}

/// What the rules share: the diagnostics so far (serde's `Ctxt`), and the
/// model's types by name.
struct Ctxt<'a> {
    out: Vec<Diagnostic>,
    /// Type name → first definition.
    types: HashMap<&'a str, &'a TypeDef>,
}

impl Ctxt<'_> {
    /// Reports a problem; at a stand-in, the front end has reported the
    /// problem already, so nothing.
    fn report(
        &mut self,
        severity: Severity,
        kind: DiagnosticKind,
        origin: &Origin,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        if !origin.is_stand_in() {
            self.out
                .push(Diagnostic::new(severity, kind, origin.clone(), path, message));
        }
    }

    /// Reports an error, unless at a stand-in.
    fn error(
        &mut self,
        kind: DiagnosticKind,
        origin: &Origin,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.report(Severity::Error, kind, origin, path, message);
    }

    /// Named types inside a type expression must exist.
    fn type_ref(&mut self, o: &Origin, at: &str, ty: &TypeRef) {
        match ty {
            TypeRef::Named(n) if !self.types.contains_key(n.as_str()) => {
                let candidates: Vec<&str> = self
                    .types
                    .keys()
                    .copied()
                    .chain(TypeRef::PRIMITIVES.iter().map(|(name, _)| *name))
                    .collect();
                let mut sorted = candidates;
                sorted.sort_unstable();
                let hint = did_you_mean(n, sorted);
                let fix = if hint.is_empty() {
                    format!(
                        "; declare it under `types` or use one of {}",
                        TypeRef::primitive_names()
                    )
                } else {
                    hint
                };
                self.error(
                    DiagnosticKind::UnknownType,
                    o,
                    at,
                    format!("unknown type `{n}`{fix}"),
                );
            }
            TypeRef::Option(t) | TypeRef::List(t) | TypeRef::Map(t) => self.type_ref(o, at, t),
            _ => {}
        }
    }

    /// A request path is joined to the base URL, so it starts with `/` and
    /// holds no query or fragment.
    fn request_path(&mut self, o: &Origin, at: &str, path: &str) {
        if !path.starts_with('/') {
            self.error(
                DiagnosticKind::InvalidPath,
                o,
                at,
                format!("path `{path}` must start with `/` (it is joined to the base URL)"),
            );
        } else if path.contains(['?', '#']) || path.contains(char::is_whitespace) {
            self.error(
                DiagnosticKind::InvalidPath,
                o,
                at,
                format!("path `{path}` must not contain `?`, `#` or spaces; declare query parameters under `query`"),
            );
        }
    }

    /// A field or parameter's Rust name is a snake_case identifier.
    fn rust_name(&mut self, o: &Origin, at: &str, what: &str, wire: &str, name: &str) {
        if !is_field_ident(name) {
            self.error(
                DiagnosticKind::InvalidName,
                o,
                at,
                format!("{what} `{wire}` has no valid Rust name (`{name}` is not an identifier); add `rust_name: ...`"),
            );
        } else if !is_snake_case(name.trim_start_matches('_')) {
            self.error(
                DiagnosticKind::InvalidName,
                o,
                at,
                format!(
                    "{what} `{wire}` has Rust name `{name}`, which is not snake_case; use `{}`",
                    to_snake_case(name).unwrap_or_else(|| "a snake_case name".to_owned())
                ),
            );
        }
    }

    /// A header the runtime sets or reads must be a valid HTTP header name.
    fn header_name(&mut self, o: &Origin, at: &str, name: &str) {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            self.error(
                DiagnosticKind::InvalidHeader,
                o,
                at,
                format!(
                    "`{name}` is not a valid HTTP header name; use letters, digits and `-`, like `X-Token`"
                ),
            );
        }
    }

    /// A JSON path is field names joined by `.`, none of them empty.
    /// A list that must hold something (else `empty` is the message),
    /// and each item in it: `bad` says what is wrong with one, if anything.
    /// `list` is where the list is and where each item is.
    fn some_of<T>(
        &mut self,
        list: (&Origin, &[Origin]),
        path: &str,
        items: &[T],
        empty: &str,
        bad: impl Fn(&T) -> Option<String>,
    ) {
        if items.is_empty() {
            self.error(DiagnosticKind::CannotWork, list.0, path, empty);
        }
        for (j, item) in items.iter().enumerate() {
            if let Some(message) = bad(item) {
                self.error(
                    DiagnosticKind::InvalidValue,
                    nth(list.1, j, list.0),
                    format!("{path}[{j}]"),
                    message,
                );
            }
        }
    }

    fn json_path(&mut self, o: &Origin, at: &str, path: &str) {
        if path.is_empty() || path.split('.').any(str::is_empty) {
            self.error(
                DiagnosticKind::InvalidJsonPath,
                o,
                at,
                format!(
                    "`{path}` is not a dotted JSON path; write field names joined by `.`, like `data.token`"
                ),
            );
        }
    }
}

/// The API's name names the SDK crate (a snake_case identifier); the
/// client's name is a Rust type name (CamelCase).
fn check_api_names(cx: &mut Ctxt<'_>, api: &Api) {
    let (name, client) = (api.name.as_str(), api.client.as_str());
    let bad_name = (!is_snake_case(name) || is_keyword(name)).then(|| {
        let hint = hint_snake(name);
        (
            "name",
            &api.origins.name,
            format!("API name `{name}` must be a snake_case identifier{hint}; it names the SDK crate"),
        )
    });
    let bad_client = (!is_camel_case(client) || is_keyword(client)).then(|| {
        let hint = hint_camel(client);
        (
            "client",
            &api.origins.client,
            format!("client type `{client}` must be a CamelCase identifier{hint}"),
        )
    });
    for (path, origin, message) in bad_name.into_iter().chain(bad_client) {
        cx.error(DiagnosticKind::InvalidName, origin.or(&api.origin), path, message);
    }
}

/// The runtime speaks HTTP only.
fn check_base_url(cx: &mut Ctxt<'_>, api: &Api) {
    if let Some(url) = &api.base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        cx.error(
            DiagnosticKind::InvalidValue,
            api.origins.base_url.or(&api.origin),
            "base_url",
            format!("base URL `{url}` must start with `http://` or `https://`"),
        );
    }
}

/// A status code in a body (an expiry value, a success code) is a number
/// or a string.
fn not_a_code(v: &serde_json::Value) -> bool {
    !(v.is_number() || v.is_string())
}

/// The origin of the `i`th element of a list, or of the list itself.
fn nth<'a>(origins: &'a [Origin], i: usize, list: &'a Origin) -> &'a Origin {
    origins.get(i).map_or(list, |o| o.or(list))
}

/// The YAML section a parameter is declared in, and its key there.
fn param_section<'p>(kind: &'p ParamKind, name: &'p str) -> (&'static str, &'p str) {
    match kind {
        ParamKind::Path => ("params", name),
        ParamKind::Query { wire } => ("query", wire),
        ParamKind::Header { wire } => ("headers", wire),
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
