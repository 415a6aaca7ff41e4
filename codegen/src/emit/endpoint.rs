//! One documented method per endpoint: build a `seamless_sdk::Request` from
//! the typed arguments and hand it to the client as a `seamless_sdk::Call`,
//! which the caller awaits (after setting its options, if any).

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::names::{Item, Names};
use super::rust::{argument, doc_attrs, fresh, ident, ident_at, lines, lit, method_fn, plain, unraw};
use crate::model::{Endpoint, ParamKind, TypeRef};

/// `api_retry`: the client's retry settings, which an endpoint's own build on.
pub(super) fn method(ep: &Endpoint, api_retry: Option<&crate::model::Retry>, names: &Names) -> TokenStream {
    let name = ident_at(&ep.name, &ep.origin);
    let docs = docs(ep);

    let mut args = Vec::new();
    for p in &ep.params {
        let id = ident(&p.name);
        let ty = argument(&p.ty, false, names);
        args.push(quote!(#id: #ty));
    }
    let body = ep.body.as_ref().map(|b| {
        let id = ident(&b.name);
        let ty = argument(&b.ty, true, names);
        args.push(quote!(#id: #ty));
        // Borrowed already, except an optional body (`Option<&T>`).
        if matches!(b.ty, TypeRef::Option(_)) {
            quote!(.json(&#id))
        } else {
            quote!(.json(#id))
        }
    });
    // Each path parameter is replaced by its encoded form under the same
    // name (it is bound to nothing else), so `format!` can capture it.
    let mut taken: BTreeSet<String> = ep
        .params
        .iter()
        .map(|p| p.name.clone())
        .chain(ep.body.as_ref().map(|b| b.name.clone()))
        .collect();
    let (path, segments) = path(ep, &mut taken, names);
    // `request` must not shadow an argument read after it is bound.
    let request = ident(&fresh("request", &taken));

    let constructor = method_fn(ep.method);
    let mut chain = Vec::new();
    let mut optional = Vec::new();
    for p in &ep.params {
        let id = ident(&p.name);
        let (wire, optional_inner) = match (&p.kind, &p.ty) {
            (ParamKind::Path, _) => continue,
            (ParamKind::Query { wire } | ParamKind::Header { wire }, TypeRef::Option(inner)) => {
                (wire, Some(&**inner))
            }
            (ParamKind::Query { wire } | ParamKind::Header { wire }, _) => (wire, None),
        };
        let wire = lit(wire);
        let ty = optional_inner.unwrap_or(&p.ty);
        let add = match p.kind {
            ParamKind::Query { .. } => quote!(.query(#wire, #id)),
            _ if *ty == TypeRef::String => quote!(.header(#wire, #id)),
            _ => {
                let to_string = names.path(Item::ToString);
                quote!(.header(#wire, &#to_string::to_string(&#id)))
            }
        };
        match optional_inner {
            // Sent only when given.
            Some(_) => optional.push({
                let some = names.path(Item::Some);
                quote! {
                if let #some(#id) = #id {
                    #request = #request #add;
                }
                }
            }),
            None => chain.push(add),
        }
    }
    chain.extend(body);
    if let Some(yes) = ep.idempotent {
        chain.push(quote!(.idempotent(#yes)));
    }
    if let Some(header) = &ep.idempotency_key {
        chain.push(quote!(.idempotency_key(#header)));
    }
    if let Some(own) = &ep.retry {
        // The endpoint's settings over the client's, whole: a request's
        // policy replaces the client's.
        let merged = match api_retry {
            Some(client) => client.under(own),
            None => own.clone(),
        };
        let policy = super::auth::retry_policy(&merged, names);
        chain.push(quote!(.retry(#policy)));
    }
    if let Some(c) = &ep.cache {
        let policy = names.path(Item::CachePolicy);
        let ttl = proc_macro2::Literal::u64_unsuffixed(c.ttl_ms);
        let stale = proc_macro2::Literal::u64_unsuffixed(c.stale_if_error_ms);
        chain.push(quote!(.cache(#policy::from_millis(#ttl, #stale))));
    }
    if !ep.auth {
        chain.push(quote!(.no_auth()));
    }
    let binding = if optional.is_empty() {
        quote!(let #request)
    } else {
        quote!(let mut #request)
    };
    let (ret, prepare) = match &ep.response {
        Some(ty) => (plain(ty, names), quote!(prepare)),
        // Whatever a unit endpoint answers is accepted and dropped.
        None => (quote!(()), quote!(prepare_unit)),
    };
    let (call, ok, request_type) = (
        names.path(Item::Call),
        names.path(Item::Ok),
        names.path(Item::Request),
    );
    // `&self` counts too; clippy warns from eight.
    let allow = (args.len() + 1 > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    // The request is built now (the arguments are borrowed only this
    // long); the `Call` is sent when awaited.
    let deprecated = ep.deprecated.then(|| quote!(#[deprecated]));
    quote! {
        #docs
        #deprecated
        #allow
        pub fn #name(&self, #(#args),*) -> #call<'_, #ret> {
            self.client.#prepare(|| {
                #(#segments)*
                #binding = #request_type::#constructor(#path) #(#chain)*;
                #(#optional)*
                #ok(#request)
            })
        }
    }
}

/// The endpoint's doc, its parameters' docs, then `METHOD /path`.
fn docs(ep: &Endpoint) -> TokenStream {
    let mut out: Vec<String> = lines(ep.doc.as_deref()).into_iter().map(str::to_owned).collect();
    let params: Vec<String> = ep
        .params
        .iter()
        .filter_map(|p| {
            let doc = lines(p.doc.as_deref()).join(" ");
            (!doc.is_empty()).then(|| format!("- `{}`: {doc}", p.name))
        })
        .collect();
    for block in [params, vec![format!("`{} {}`", ep.method.as_str(), ep.path)]] {
        if block.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(String::new());
        }
        out.extend(block);
    }
    doc_attrs(out)
}

/// The path expression, a literal or a `format!` capturing each `{param}`,
/// and the statements that percent-encode those parameters as one segment
/// each (refusing `.` and `..`, hence the `?`).
fn path(ep: &Endpoint, taken: &mut BTreeSet<String>, names: &Names) -> (TokenStream, Vec<TokenStream>) {
    let mut template = String::new();
    let mut segments = Vec::new();
    // Parameter → its local; a map, as a path may hold thousands.
    let mut bound: BTreeMap<String, Ident> = BTreeMap::new();
    let mut rest = ep.path.as_str();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        template.push_str(&escape(&rest[..open]));
        let param = ident(&rest[open + 1..close]);
        rest = &rest[close + 1..];
        if let Some(local) = bound.get(&param.to_string()) {
            // A placeholder used twice is encoded once.
            template.push_str(&format!("{{{local}}}"));
            continue;
        }
        // `format!` cannot capture a raw identifier: bind those to a fresh name.
        let local = if param.to_string().starts_with("r#") {
            let local = fresh(&format!("{}_", unraw(&param)), taken);
            taken.insert(local.clone());
            ident(&local)
        } else {
            param.clone()
        };
        template.push_str(&format!("{{{local}}}"));
        let path_segment = names.path(Item::PathSegment);
        segments.push(quote!(let #local = #path_segment(#param)?;));
        bound.insert(param.to_string(), local);
    }
    if segments.is_empty() {
        let path = lit(&ep.path);
        return (quote!(#path), segments);
    }
    template.push_str(&escape(rest));
    let template = lit(&template);
    let format = names.path(Item::Format);
    (quote!(#format!(#template)), segments)
}

/// Braces outside placeholders are literal text to `format!`.
fn escape(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}
