//! Parse the arguments and the trait, lower, validate, emit; on any error,
//! `compile_error!`s at their spans beside a skeleton client that compiles.

use std::path::PathBuf;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use seamless_sdk_codegen::model::{Api, ApiOrigins, Origin};
use seamless_sdk_codegen::{DiagnosticKind, Severity, validate};
use syn::ItemTrait;
use syn::spanned::Spanned;

use crate::Errors;
use crate::args::Args;
use crate::lower;

pub(crate) fn token_client(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: ItemTrait = match syn::parse2(input) {
        Ok(item) => item,
        Err(e) => {
            let e = syn::Error::new(
                e.span(),
                "`#[token_client]` goes on a trait; write `pub trait MyApi { ... }`",
            );
            return e.to_compile_error();
        }
    };
    let (api, spec_include, struct_name, errs) = model(args, &item);
    match api {
        Some(api) if errs.is_empty() => {
            let code = seamless_sdk_codegen::emit(&api);
            quote! { #spec_include #code }
        }
        _ => {
            let compile_errors = errs.iter().map(syn::Error::to_compile_error);
            let skeleton = skeleton(&item, &struct_name);
            quote! { #(#compile_errors)* #spec_include #skeleton }
        }
    }
}

/// Parse, lower (trait or spec) and check: the model, the spec's
/// `include_str!`, the struct's name and span, and every error.
type Lowered = (Option<Api>, Option<TokenStream>, (String, Span), Errors);

fn model(args: TokenStream, item: &ItemTrait) -> Lowered {
    let mut errs: Errors = Vec::new();
    let mut a = Args::default();
    let parser = syn::meta::parser(|meta| {
        if let Err(e) = a.parse_one(&meta) {
            errs.push(e);
            // Skip to the next argument so every mistake is reported.
            while !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                let _: proc_macro2::TokenTree = meta.input.parse()?;
            }
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errs.push(e);
    }
    let struct_name = a
        .client
        .as_ref()
        .map(|c| (c.value(), c.span()))
        .unwrap_or_else(|| (item.ident.to_string(), item.ident.span()));
    let (api, spec_include) = match &a.spec {
        // `load_with` checks the spec's model.
        Some(spec) => from_spec(&a, item, spec, &struct_name, &mut errs),
        None => {
            if let Some(o) = &a.overlay {
                errs.push(syn::Error::new(
                    o.span(),
                    "`overlay` goes with an OpenAPI `spec = \"api.yaml\"`; a trait gives its own auth arguments",
                ));
            }
            let api = from_trait(&a, item, &struct_name, &mut errs);
            for d in validate::check(&api) {
                // The trait front end has no `types`: a type name is the user's
                // own type beside the trait, which the compiler checks.
                if d.severity != Severity::Error || d.kind == DiagnosticKind::UnknownType {
                    continue;
                }
                let span = match d.origin {
                    Origin::Rust(span) => span,
                    _ => item.ident.span(),
                };
                errs.push(syn::Error::new(span, d.message));
            }
            (Some(api), None)
        }
    };
    (api, spec_include, struct_name, errs)
}

fn from_trait(a: &Args, item: &ItemTrait, client: &(String, Span), errs: &mut Errors) -> Api {
    let at = item.ident.span();
    if !item.generics.params.is_empty() {
        errs.push(syn::Error::new_spanned(
            &item.generics,
            "a `token_client` trait cannot be generic; remove the parameters",
        ));
    }
    let auth = a.auth(at, errs);
    let reported = errs.len();
    let endpoints = lower::endpoints(&item.items, errs);
    // An endpoint with a front-end error is left out.
    let endpoints_partial = errs.len() > reported;
    Api {
        name: a
            .name
            .as_ref()
            .map(|n| n.value())
            .unwrap_or_else(|| snake(&item.ident.to_string())),
        client: client.0.clone(),
        doc: a
            .doc
            .as_ref()
            .map(|d| d.value())
            .or_else(|| lower::doc(&item.attrs)),
        base_url: a.base_url.as_ref().map(|u| u.value()),
        auth,
        types: Vec::new(),
        endpoints,
        origin: Origin::Rust(client.1),
        origins: ApiOrigins::default(),
        endpoints_partial,
    }
}

fn from_spec(
    a: &Args,
    item: &ItemTrait,
    spec: &syn::LitStr,
    client: &(String, Span),
    errs: &mut Errors,
) -> (Option<Api>, Option<TokenStream>) {
    for (_, span) in &a.auth_spans {
        errs.push(syn::Error::new(
            *span,
            "with `spec`, the auth section comes from the spec; remove this argument",
        ));
    }
    if let Some(first) = item.items.first() {
        errs.push(syn::Error::new(
            first.span(),
            "with `spec`, the endpoints come from the spec; remove the trait's items",
        ));
    }
    let rel = spec.value();
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let full = root.join(&rel);
    let source = match std::fs::read_to_string(&full) {
        Ok(s) => s,
        Err(e) => {
            errs.push(syn::Error::new(
                spec.span(),
                format!("cannot read spec `{rel}` ({e}); the path is relative to the crate root (the directory of Cargo.toml)"),
            ));
            return (None, None);
        }
    };
    let full_str = full.to_string_lossy().into_owned();
    let mut include = quote! { const _: &str = ::core::include_str!(#full_str); };
    // An OpenAPI description is imported into a spec first (with its
    // overlay's `auth`), then loaded like one.
    let mut import = None;
    let source = if seamless_sdk_codegen::openapi::is_openapi(&source) {
        let overlay = match &a.overlay {
            Some(o) => {
                let path = root.join(o.value());
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        let path_str = path.to_string_lossy().into_owned();
                        include.extend(quote! { const _: &str = ::core::include_str!(#path_str); });
                        Some((text, o.value()))
                    }
                    Err(e) => {
                        errs.push(syn::Error::new(
                            o.span(),
                            format!("cannot read overlay `{}` ({e})", o.value()),
                        ));
                        return (None, Some(include));
                    }
                }
            }
            None => None,
        };
        let overlay = overlay.as_ref().map(|(t, n)| (t.as_str(), n.as_str()));
        match seamless_sdk_codegen::openapi::import(&source, &rel, overlay) {
            Ok(imported) => {
                let spec = imported.spec.clone();
                import = Some(imported);
                spec
            }
            Err(diags) => {
                for d in &diags.items {
                    errs.push(syn::Error::new(
                        spec.span(),
                        format!("{}: {}", diags.file, d.message),
                    ));
                }
                return (None, Some(include));
            }
        }
    } else {
        if let Some(o) = &a.overlay {
            errs.push(syn::Error::new(
                o.span(),
                "`overlay` is for an OpenAPI `spec`; a seamless spec has its own `auth`",
            ));
        }
        source
    };
    // What the attribute gives overrides the spec, and problems with it
    // point at the attribute.
    let from_attribute = |api: &mut Api| {
        let at = Origin::Rust(client.1);
        api.client = client.0.clone();
        api.origins.client = at.clone();
        if let Some(n) = &a.name {
            api.name = n.value();
            api.origins.name = at.clone();
        }
        if let Some(d) = &a.doc {
            api.doc = Some(d.value());
        }
        if let Some(u) = &a.base_url {
            api.base_url = Some(u.value());
            api.origins.base_url = at.clone();
        }
        api.origin = at;
    };
    let name = match &import {
        Some(_) => format!("{rel} (imported)"),
        None => rel.clone(),
    };
    match seamless_sdk_codegen::load_with(&source, &name, from_attribute) {
        Ok((api, _warnings)) => (Some(api), Some(include)),
        Err(diags) => {
            // An imported description's mistakes in `x-seamless` or the
            // overlay are named where the user wrote them.
            let groups = match &import {
                Some(imported) => imported.relocate(diags),
                None => vec![diags],
            };
            for group in &groups {
                let file = &group.file;
                for d in group.items.iter().filter(|d| d.severity == Severity::Error) {
                    if let Origin::Rust(span) = d.origin {
                        errs.push(syn::Error::new(span, &d.message));
                        continue;
                    }
                    let at = match d.line_column() {
                        Some((line, column)) => format!("{file}:{line}:{column}: "),
                        None => format!("{file}: "),
                    };
                    let path = if d.path.is_empty() {
                        String::new()
                    } else {
                        format!(" (at `{}`)", d.path)
                    };
                    errs.push(syn::Error::new(spec.span(), format!("{at}{}{path}", d.message)));
                }
            }
            (None, Some(include))
        }
    }
}

/// The client struct and its methods with the user's signatures, bodies
/// unreachable: calls to it still type-check while the errors are fixed.
fn skeleton(item: &ItemTrait, client: &(String, Span)) -> TokenStream {
    let name = format_ident!("{}", client.0, span = client.1);
    let mut seen = Vec::new();
    let methods = item.items.iter().filter_map(|i| match i {
        // A name defined twice is reported once, not again by the compiler.
        syn::TraitItem::Fn(f) if !seen.contains(&f.sig.ident) => {
            seen.push(f.sig.ident.clone());
            let mut sig = f.sig.clone();
            sig.asyncness = Some(Default::default());
            for arg in sig.inputs.iter_mut() {
                if let syn::FnArg::Typed(pt) = arg {
                    pt.attrs.clear();
                }
            }
            Some(quote! {
                #[allow(unused_variables)]
                pub #sig { ::core::unreachable!("only emitted beside compile_error!, so never compiled into a program") }
            })
        }
        _ => None,
    });
    let vis = &item.vis;
    quote! {
        #[derive(::core::clone::Clone, ::core::fmt::Debug)]
        #vis struct #name {
            client: ::seamless_sdk::Client,
        }
        impl #name {
            /// Wraps a client.
            pub fn from_client(client: ::seamless_sdk::Client) -> Self {
                Self { client }
            }
            /// The underlying client.
            pub fn client(&self) -> &::seamless_sdk::Client {
                &self.client
            }
            #(#methods)*
        }
    }
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use quote::quote;

    /// The trait `item` with the attribute `args` lowers to a model the
    /// emitter turns into the client `spec` gives the same trait left empty,
    /// the spec's types aside (a trait's types are the user's own).
    fn assert_emits_like_spec(spec: &str, args: proc_macro2::TokenStream, item: &syn::ItemTrait) {
        let empty = syn::ItemTrait {
            attrs: Vec::new(),
            items: Vec::new(),
            ..item.clone()
        };
        let (yaml, _, _, errs) = super::model(quote!(spec = #spec), &empty);
        assert!(errs.is_empty(), "{errs:?}");
        let mut yaml = yaml.unwrap();
        yaml.types.clear();
        let (rust, _, _, errs) = super::model(args, item);
        assert!(errs.is_empty(), "{errs:?}");
        let rust = rust.unwrap();
        assert_eq!(
            seamless_sdk_codegen::emit(&rust).to_string(),
            seamless_sdk_codegen::emit(&yaml).to_string()
        );
    }

    /// The trait and `specs/imi_mini.yaml` lower to models the one emitter
    /// turns into the same client (the spec's types aside: a trait's types
    /// are the user's own).
    #[test]
    fn trait_and_spec_emit_the_same_client() {
        let rust: syn::ItemTrait = syn::parse_quote! {
            /// Mini-program API of the seed post.
            pub trait ImiMiniClient {
                /// Fetch one user.
                #[get("/api/users/{id}")]
                async fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;
                /// Check that the session works.
                #[get("/api/ping")]
                async fn ping(&self) -> Result<Pong, seamless_sdk::Error>;
                /// The session this client's token belongs to. Read often, so each answer is served from memory for 5 s, and for a minute more while a failed login keeps the session down.
                #[get("/api/whoami")]
                #[cache(ttl_ms = 5000, stale_if_error_ms = 60000)]
                async fn whoami(&self) -> Result<Whoami, seamless_sdk::Error>;
                /// Send any JSON and get it back.
                #[post("/api/echo")]
                async fn echo(&self, #[body] body: &serde_json::Value) -> Result<serde_json::Value, seamless_sdk::Error>;
                /// Place an order. Not idempotent, so it is never replayed after a transport error.
                #[post("/api/orders")]
                async fn create_order(&self, #[body] body: &NewOrder) -> Result<Order, seamless_sdk::Error>;
                /// Always answers with an application error.
                #[get("/api/fail")]
                async fn fail(&self) -> Result<serde_json::Value, seamless_sdk::Error>;
                /// A user's profile.
                #[get("/api/users/{user_id}/profile")]
                async fn get_profile(
                    &self,
                    user_id: u64,
                    #[query] verbose: Option<bool>,
                    /// Comma-separated field names
                    #[query] fields: Option<String>,
                    #[header("X-Trace-Id")] x_trace_id: Option<String>,
                ) -> Result<Profile, seamless_sdk::Error>;
                /// Change the caller's profile.
                #[patch("/api/profile")]
                #[idempotent]
                async fn update_profile(&self, #[body] patch: &ProfilePatch) -> Result<Profile, seamless_sdk::Error>;
                /// Every account state, a public endpoint.
                #[get("/api/statuses")]
                #[no_auth]
                async fn list_statuses(&self) -> Result<Vec<Status>, seamless_sdk::Error>;
            }
        };
        let args = quote! {
            name = "imi_mini",
            base_url = "https://api.example.com",
            placement = header("B-T"),
            lifetime = single_use,
            next_token_header = "B-T",
            expiry(body(path = "code", in = [408])),
            envelope(code = "code", success = [200], data = "data", message = "msg"),
            login(method = "POST", path = "/v1/api/imiMini/login", encoding = "json", code = "code", token_header = "B-T"),
        };
        assert_emits_like_spec("../specs/imi_mini.yaml", args, &rust);
    }

    #[test]
    fn the_new_auth_arguments_match_their_spec_keys() {
        let rust: syn::ItemTrait = syn::parse_quote! {
            /// An OAuth 2.0 API whose token endpoint wants HTTP Basic client authentication.
            pub trait OauthServerClient {
                /// Fetch one user.
                #[get("/api/users/{id}")]
                async fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;
                /// Always answers 403 with a body, a permission error.
                #[get("/api/forbidden")]
                async fn forbidden(&self) -> Result<serde_json::Value, seamless_sdk::Error>;
            }
        };
        let args = quote! {
            name = "oauth_server",
            placement = bearer,
            expiry(status(401), all(status(403), empty_body)),
            login(
                method = "POST", path = "/oauth/token", encoding = "form", client_auth = "basic",
                fields(grant_type = "password"), secrets = ["username", "password"],
                token_json = "access_token", expires_in = "expires_in", refresh_token = "refresh_token",
                refresh(method = "POST", path = "/oauth/token", encoding = "form", field = "refresh_token",
                        fields(grant_type = "refresh_token")),
            ),
            expiry_skew_ms = 5000,
            login_backoff(initial_ms = 250, max_ms = 10000),
            max_response_bytes = 1048576,
        };
        assert_emits_like_spec("../specs/oauth_server.yaml", args, &rust);
    }

    /// A spec's model is checked once, with what the attribute sets: a bad
    /// name from the attribute is reported there, once.
    #[test]
    fn a_spec_model_is_checked_once_with_the_attribute_values() {
        let item: syn::ItemTrait = syn::parse_quote!(
            pub trait ImiMiniClient {}
        );
        let (api, _, _, errs) =
            super::model(quote!(spec = "../specs/imi_mini.yaml", name = "Bad-Name"), &item);
        assert!(api.is_none());
        let messages: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            ["API name `Bad-Name` must be a snake_case identifier, like `bad_name`; it names the SDK crate"]
        );
    }

    #[test]
    fn a_header_rule_may_match_part_of_the_value() {
        use seamless_sdk_codegen::model::ExpiryRule;
        let rust: syn::ItemTrait = syn::parse_quote! {
            pub trait Api {
                #[get("/api/ping")]
                async fn ping(&self) -> Result<serde_json::Value, seamless_sdk::Error>;
            }
        };
        let args = quote! {
            placement = bearer,
            expiry(all(status(403), header(name = "WWW-Authenticate", contains = "error=\"invalid_token\""))),
            login = custom,
        };
        let (rust, _, _, errs) = super::model(args, &rust);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            rust.unwrap().auth.expiry,
            vec![ExpiryRule::All(vec![
                ExpiryRule::Status(vec![403]),
                ExpiryRule::HeaderContains {
                    name: "WWW-Authenticate".into(),
                    text: r#"error="invalid_token""#.into(),
                },
            ])]
        );
    }
}
