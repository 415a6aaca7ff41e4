//! The trait → [`model::Api`]: one endpoint per method, one parameter per
//! argument. Problems only the Rust syntax can show (an argument bound
//! twice, a non-async method) are found here; everything the model can show
//! is left to `seamless_sdk_codegen::validate`.

use seamless_sdk_codegen::model::{Body, Endpoint, HttpMethod, Origin, Param, ParamKind, TypeRef};
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, FnArg, GenericArgument, Lit, LitStr, Meta, Pat, PathArguments, ReturnType, TraitItem,
    TraitItemFn, Type,
};

use crate::Errors;

const METHOD_ATTRS: &str = "`#[get(\"/path\")]`, `#[post]`, `#[put]`, `#[patch]`, `#[delete]`, `#[idempotent]`, `#[idempotency_key]`, `#[retry(...)]`, `#[cache(ttl_ms = ...)]`, `#[deprecated]`, `#[no_auth]` or a doc comment";

/// Endpoints of the trait; an endpoint with a front-end error is left out,
/// so the model checks do not report it a second time.
pub(crate) fn endpoints(items: &[TraitItem], errs: &mut Errors) -> Vec<Endpoint> {
    let mut out = Vec::new();
    for item in items {
        match item {
            TraitItem::Fn(f) => {
                let before = errs.len();
                let ep = endpoint(f, errs);
                if errs.len() == before {
                    out.extend(ep);
                }
            }
            other => errs.push(syn::Error::new_spanned(
                other,
                "`token_client` traits hold only `async fn` endpoints; remove this item",
            )),
        }
    }
    out
}

/// The doc text of `///` comments.
pub(crate) fn doc(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(l) => match &l.lit {
                    Lit::Str(s) => Some(
                        s.value()
                            .strip_prefix(' ')
                            .map(str::to_owned)
                            .unwrap_or(s.value()),
                    ),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

fn endpoint(f: &TraitItemFn, errs: &mut Errors) -> Option<Endpoint> {
    let sig = &f.sig;
    let name = sig.ident.to_string();
    let mut route: Option<(HttpMethod, LitStr)> = None;
    let mut idempotent = None;
    let mut idempotency_key = None;
    let mut cache = None;
    let mut deprecated = false;
    let mut retry = None;
    let mut auth = true;
    for attr in &f.attrs {
        let Some(id) = attr.path().get_ident().map(|i| i.to_string()) else {
            errs.push(syn::Error::new_spanned(
                attr,
                format!("unknown method attribute; use {METHOD_ATTRS}"),
            ));
            continue;
        };
        let method = match id.as_str() {
            "doc" => continue,
            "get" => HttpMethod::Get,
            "post" => HttpMethod::Post,
            "put" => HttpMethod::Put,
            "patch" => HttpMethod::Patch,
            "delete" => HttpMethod::Delete,
            "idempotent" => {
                idempotent = Some(true);
                continue;
            }
            "deprecated" => {
                deprecated = true;
                continue;
            }
            "idempotency_key" => {
                // `#[idempotency_key]`, or `#[idempotency_key("X-Request-Key")]`.
                idempotency_key = Some(match &attr.meta {
                    syn::Meta::Path(_) => "Idempotency-Key".to_owned(),
                    _ => match attr.parse_args::<LitStr>() {
                        Ok(header) => header.value(),
                        Err(e) => {
                            errs.push(e);
                            continue;
                        }
                    },
                });
                continue;
            }
            "retry" => {
                let mut r = seamless_sdk_codegen::model::Retry {
                    origin: Origin::Rust(attr.path().segments[0].ident.span()),
                    ..Default::default()
                };
                if let Err(e) = attr.parse_nested_meta(|f| crate::args::retry_key(&mut r, &f)) {
                    errs.push(e);
                }
                retry = Some(r);
                continue;
            }
            "cache" => {
                let mut c = seamless_sdk_codegen::model::Cache {
                    ttl_ms: 0,
                    stale_if_error_ms: 0,
                    origin: Origin::Rust(attr.path().segments[0].ident.span()),
                };
                let mut ttl = false;
                let parsed = attr.parse_nested_meta(|f| {
                    ttl |= f.path.is_ident("ttl_ms");
                    crate::args::cache_key(&mut c, &f)
                });
                match parsed {
                    Err(e) => errs.push(e),
                    Ok(()) if !ttl => errs.push(syn::Error::new_spanned(
                        attr,
                        "`#[cache]` needs `ttl_ms`; write `#[cache(ttl_ms = 5000)]`",
                    )),
                    Ok(()) => cache = Some(c),
                }
                continue;
            }
            "no_auth" => {
                auth = false;
                continue;
            }
            other => {
                errs.push(syn::Error::new_spanned(
                    attr,
                    format!("unknown method attribute `#[{other}]`; use {METHOD_ATTRS}"),
                ));
                continue;
            }
        };
        match attr.parse_args::<LitStr>() {
            Ok(path) if route.is_none() => route = Some((method, path)),
            Ok(_) => errs.push(syn::Error::new_spanned(
                attr,
                "a method has one HTTP method attribute; remove this one",
            )),
            Err(_) => errs.push(syn::Error::new_spanned(
                attr,
                format!("`#[{id}]` needs the path; write `#[{id}(\"/users/{{id}}\")]`"),
            )),
        }
    }
    if sig.asyncness.is_none() {
        errs.push(syn::Error::new(
            sig.fn_token.span(),
            format!("endpoint `{name}` must be an `async fn`; add `async`"),
        ));
    }
    if f.default.is_some() {
        errs.push(syn::Error::new_spanned(
            &f.default,
            "endpoints have no body; end the signature with `;`",
        ));
    }
    if !sig.generics.params.is_empty() {
        errs.push(syn::Error::new_spanned(
            &sig.generics,
            "endpoints cannot be generic; use concrete types",
        ));
    }
    match sig.receiver() {
        Some(r) if matches!(r.kind, syn::ReceiverKind::Reference(_, _, None)) => {}
        _ => errs.push(syn::Error::new(
            sig.ident.span(),
            format!("endpoint `{name}` must take `&self` first; write `async fn {name}(&self, ...)`"),
        )),
    }
    let response = response(sig, errs);
    let Some((method, path_lit)) = route else {
        errs.push(syn::Error::new(
            sig.ident.span(),
            format!(
                "endpoint `{name}` has no HTTP method; add `#[get(\"/path\")]` (or post, put, patch, delete)"
            ),
        ));
        return None;
    };
    let path = path_lit.value();
    let placeholders: Vec<String> = placeholders(&path);

    let mut params = Vec::new();
    let mut body: Option<Body> = None;
    let mut bound_paths = Vec::new();
    for arg in sig.inputs.iter() {
        let FnArg::Typed(pt) = arg else { continue };
        let Pat::Ident(pid) = &*pt.pat else {
            errs.push(syn::Error::new_spanned(
                &pt.pat,
                "endpoint arguments must be plain names, like `id: u64`",
            ));
            continue;
        };
        let arg_name = pid.ident.to_string();
        let origin = Origin::Rust(pid.ident.span());
        let mut kinds: Vec<(&Attribute, Option<ParamKind>)> = Vec::new();
        for a in &pt.attrs {
            let Some(id) = a.path().get_ident().map(|i| i.to_string()) else {
                continue;
            };
            match id.as_str() {
                "query" => {
                    let wire = match &a.meta {
                        Meta::Path(_) => arg_name.clone(),
                        _ => match a.parse_args::<LitStr>() {
                            Ok(w) => w.value(),
                            Err(e) => {
                                errs.push(e);
                                continue;
                            }
                        },
                    };
                    kinds.push((a, Some(ParamKind::Query { wire })));
                }
                "header" => match a.parse_args::<LitStr>() {
                    Ok(w) => kinds.push((a, Some(ParamKind::Header { wire: w.value() }))),
                    Err(_) => errs.push(syn::Error::new_spanned(a, "`#[header]` needs the header name; write `#[header(\"X-Name\")]`")),
                },
                "body" => kinds.push((a, None)),
                "path" => kinds.push((a, Some(ParamKind::Path))),
                "doc" => {}
                other => errs.push(syn::Error::new_spanned(
                    a,
                    format!("unknown argument attribute `#[{other}]`; use `#[query]`, `#[body]` or `#[header(\"X-Name\")]`"),
                )),
            }
        }
        if kinds.len() > 1 {
            errs.push(syn::Error::new_spanned(
                kinds[1].0,
                format!("argument `{arg_name}` is bound twice; keep one of its binding attributes"),
            ));
            continue;
        }
        let in_path = placeholders.contains(&arg_name);
        let kind = match kinds.pop() {
            Some((_, k)) => k,
            None if in_path => Some(ParamKind::Path),
            None => {
                errs.push(syn::Error::new(
                    pid.ident.span(),
                    format!(
                        "argument `{arg_name}` is bound to nothing; add `{{{arg_name}}}` to the path, or mark it `#[query]`, `#[header(\"X-Name\")]` or `#[body]`"
                    ),
                ));
                continue;
            }
        };
        if in_path && !matches!(kind, Some(ParamKind::Path)) {
            // Reported here, so not again as an unbound `{name}`.
            bound_paths.push(arg_name.clone());
            errs.push(syn::Error::new(
                pid.ident.span(),
                format!("argument `{arg_name}` is bound twice: to the path parameter `{{{arg_name}}}` and by its attribute; remove the attribute or rename one"),
            ));
            continue;
        }
        let by_ref = matches!(&*pt.ty, Type::Reference(_));
        let inner = match &*pt.ty {
            Type::Reference(r) => &*r.elem,
            t => t,
        };
        let Some(ty) = type_ref(inner, errs) else { continue };
        match kind {
            None => {
                if matches!(method, HttpMethod::Get) {
                    errs.push(syn::Error::new_spanned(
                        pt,
                        "a GET request has no body; use `#[post]`, `#[put]` or `#[patch]`, or send it with `#[query]`",
                    ));
                    continue;
                }
                if body.is_some() {
                    errs.push(syn::Error::new_spanned(
                        pt,
                        "a request has one `#[body]`; remove this one",
                    ));
                    continue;
                }
                if !by_ref {
                    errs.push(syn::Error::new_spanned(
                        &pt.ty,
                        "the body is borrowed; write `&T`",
                    ));
                    continue;
                }
                body = Some(Body {
                    name: arg_name,
                    ty,
                    origin,
                });
            }
            Some(kind) => {
                if matches!(kind, ParamKind::Path) {
                    if !in_path {
                        errs.push(syn::Error::new(
                            pid.ident.span(),
                            format!(
                                "argument `{arg_name}` is bound to nothing; add `{{{arg_name}}}` to the path"
                            ),
                        ));
                        continue;
                    }
                    bound_paths.push(arg_name.clone());
                }
                if by_ref {
                    errs.push(syn::Error::new_spanned(
                        &pt.ty,
                        "path, query and header arguments are taken by value; remove the `&`",
                    ));
                    continue;
                }
                params.push(Param {
                    name: arg_name,
                    kind,
                    ty,
                    doc: doc(&pt.attrs),
                    origin,
                    value_origin: Origin::Unknown,
                });
            }
        }
    }
    for p in &placeholders {
        if !bound_paths.contains(p) {
            errs.push(syn::Error::new(
                path_lit.span(),
                format!(
                    "`#[{}]` path parameter `{{{p}}}` has no matching argument; add `{p}: ...` to the method",
                    method.as_str().to_ascii_lowercase()
                ),
            ));
        }
    }
    Some(Endpoint {
        name,
        doc: doc(&f.attrs),
        method,
        path,
        params,
        body,
        response: response?,
        idempotent,
        idempotency_key,
        deprecated,
        retry,
        cache,
        auth,
        origin: Origin::Rust(sig.ident.span()),
        path_origin: Origin::Unknown,
        response_origin: Origin::Unknown,
    })
}

fn placeholders(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(rest[open + 1..open + close].to_owned());
        rest = &rest[open + close + 1..];
    }
    out
}

const RETURN_FIX: &str = "endpoints return `Result<T, seamless_sdk::Error>` where `T: DeserializeOwned`; write `-> Result<T, seamless_sdk::Error>`";

/// `Result<T, seamless_sdk::Error>` → `Some(T)` (`None` for `()`); the outer
/// `None` is an error.
fn response(sig: &syn::Signature, errs: &mut Errors) -> Option<Option<TypeRef>> {
    let ReturnType::Type(_, ty) = &sig.output else {
        let at = sig.paren_token.span.close();
        errs.push(syn::Error::new(at, format!("missing return type; {RETURN_FIX}")));
        return None;
    };
    let ok = (|| {
        let Type::Path(p) = &**ty else { return None };
        let last = p.path.segments.last()?;
        if last.ident != "Result" {
            return None;
        }
        let PathArguments::AngleBracketed(a) = &last.arguments else {
            return None;
        };
        let mut args = a.args.iter();
        let (Some(GenericArgument::Type(ok)), Some(GenericArgument::Type(Type::Path(err))), None) =
            (args.next(), args.next(), args.next())
        else {
            return None;
        };
        (err.path.segments.last()?.ident == "Error").then_some(ok)
    })();
    let Some(ok) = ok else {
        errs.push(syn::Error::new_spanned(
            ty,
            format!("wrong return type; {RETURN_FIX}"),
        ));
        return None;
    };
    if let Type::Tuple(t) = ok
        && t.elems.is_empty()
    {
        return Some(None);
    }
    type_ref(ok, errs).map(Some)
}

/// A Rust type as a model type expression. Types the model has no word for
/// (`User`) become named types the user declares beside the trait.
fn type_ref(ty: &Type, errs: &mut Errors) -> Option<TypeRef> {
    let unsupported = |errs: &mut Errors| {
        errs.push(syn::Error::new_spanned(
            ty,
            "unsupported type; use String, bool, an integer, f64, serde_json::Value, Option<T>, Vec<T>, BTreeMap<String, T> or a type name",
        ));
        None
    };
    let Type::Path(p) = ty else {
        return unsupported(errs);
    };
    if p.qself.is_some() {
        return unsupported(errs);
    }
    let last = p.path.segments.last()?;
    let id = last.ident.to_string();
    let generic = |n: usize| -> Option<Vec<&Type>> {
        let PathArguments::AngleBracketed(a) = &last.arguments else {
            return None;
        };
        let tys: Vec<&Type> = a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect();
        (tys.len() == n).then_some(tys)
    };
    let plain = matches!(last.arguments, PathArguments::None);
    Some(match id.as_str() {
        "String" if plain => TypeRef::String,
        "bool" if plain => TypeRef::Bool,
        "i32" if plain => TypeRef::I32,
        "i64" if plain => TypeRef::I64,
        "u32" if plain => TypeRef::U32,
        "u64" if plain => TypeRef::U64,
        "f64" if plain => TypeRef::F64,
        "Value" if plain => TypeRef::Json,
        "Option" => match generic(1) {
            Some(t) => TypeRef::Option(Box::new(type_ref(t[0], errs)?)),
            None => return unsupported(errs),
        },
        "Vec" => match generic(1) {
            Some(t) => TypeRef::List(Box::new(type_ref(t[0], errs)?)),
            None => return unsupported(errs),
        },
        "BTreeMap" => match generic(2) {
            Some(t) if matches!(type_ref(t[0], &mut Vec::new()), Some(TypeRef::String)) => {
                TypeRef::Map(Box::new(type_ref(t[1], errs)?))
            }
            _ => return unsupported(errs),
        },
        _ if plain && p.path.segments.len() == 1 => TypeRef::Named(id),
        _ => return unsupported(errs),
    })
}
