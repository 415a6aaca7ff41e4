//! The client's constructors: `builder` applies the spec's whole auth
//! section through the runtime's builder API; `new` builds it.

use std::collections::BTreeSet;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::names::{Item, Names};
use super::rust::{doc_attrs, fresh, ident, json_values, lit, method_const, method_fn, unraw};
use crate::model::{
    Auth, ClientAuth, Encoding, ExpiryRule, HttpMethod, Lifetime, Login, Placement, RefreshGrant, TokenSource,
};

/// The arguments a client needs beyond the base URL: one per login secret,
/// a one-time code provider, or a custom `Login`.
struct Inputs {
    args: Args,
    /// The `.login(...)` argument.
    login: TokenStream,
}

/// The constructors' arguments, in order, each named apart from the others.
#[derive(Default)]
struct Args {
    /// Names given out or reserved (a set: a login may take tens of
    /// thousands of secrets).
    taken: BTreeSet<String>,
    /// `name: Type` for the signatures.
    params: Vec<TokenStream>,
    /// The same names, to forward from `new` to `builder`.
    names: Vec<Ident>,
    /// One doc line per argument.
    docs: Vec<String>,
}

impl Args {
    /// An argument named `name`, or `name_`… when that is taken.
    fn add(&mut self, name: &str, ty: TokenStream, doc: &str) -> Ident {
        let arg = ident(&fresh(&unraw(&ident(name)), &self.taken));
        self.taken.insert(arg.to_string());
        self.push(arg.clone(), ty, doc);
        arg
    }

    /// An argument under a name reserved for it in `taken`.
    fn push(&mut self, arg: Ident, ty: TokenStream, doc: &str) {
        self.docs.push(format!("- `{}`: {doc}", unraw(&arg)));
        self.params.push(quote!(#arg: #ty));
        self.names.push(arg);
    }
}

/// `builder` and `new`, for the client's `impl` block.
pub(super) fn constructors(auth: &Auth, n: &Names) -> TokenStream {
    let Inputs { args, login } = inputs(auth, n);
    let Args {
        params, names, docs, ..
    } = args;
    let settings = settings(auth, n);
    let mut builder_doc =
        vec!["Configures a client for the API at `base_url` with this API's token protocol.".to_owned()];
    if !docs.is_empty() {
        builder_doc.push(String::new());
        builder_doc.extend(docs);
    }
    builder_doc.extend([
        String::new(),
        "Customise the returned builder (token store, HTTP client, timeouts) before `build()`.".to_owned(),
    ]);
    let builder_doc = doc_attrs(builder_doc);
    // `base_url` plus the inputs; clippy counts from seven.
    let allow = (params.len() + 1 > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    let (into, string) = (n.path(Item::Into), n.path(Item::String));
    let (client, builder) = (n.path(Item::Client), n.path(Item::ClientBuilder));
    let (result, ok, error) = (n.path(Item::Result), n.path(Item::Ok), n.path(Item::Error));
    quote! {
        #builder_doc
        #allow
        pub fn builder(base_url: impl #into<#string>, #(#params),*) -> #builder {
            #client::builder(base_url)
                #settings
                .login(#login)
        }

        /// Builds a client for the API at `base_url`; [`Self::builder`] describes the arguments.
        #allow
        pub fn new(base_url: impl #into<#string>, #(#params),*) -> #result<Self, #error> {
            #ok(Self::from_client(Self::builder(base_url, #(#names),*).build()?))
        }
    }
}

fn inputs(auth: &Auth, n: &Names) -> Inputs {
    let flow = match &auth.login {
        Login::Custom => {
            let login = n.path(Item::Login);
            let mut args = Args::default();
            args.push(ident("login"), quote!(impl #login), "how a session is obtained");
            return Inputs {
                args,
                login: quote!(login),
            };
        }
        Login::Flow(flow) => flow,
    };
    let mut args = Args::default();
    args.taken.insert("base_url".to_owned());
    // The code provider keeps its name; a secret called `code` gives way.
    if flow.code_field.is_some() {
        args.taken.insert("code".to_owned());
    }
    let mut chain = Vec::new();

    let path = lit(&flow.path);
    let flow_type = n.path(Item::LoginFlow);
    let new_flow = match flow.method {
        // `LoginFlow` has a shorthand for these.
        HttpMethod::Get | HttpMethod::Post => {
            let constructor = method_fn(flow.method);
            quote!(#flow_type::#constructor(#path))
        }
        other => {
            let (method, other) = (n.path(Item::Method), method_const(other));
            quote!(#flow_type::new(#method::#other, #path))
        }
    };
    // Before `refresh_grant`, which takes the encoding in force when it is added.
    let encoding = encoding_ident(flow.encoding);
    let encoding_type = n.path(Item::Encoding);
    chain.push(quote!(.encoding(#encoding_type::#encoding)));
    for (name, value) in &flow.fields {
        let (name, value) = (lit(name), lit(value));
        chain.push(quote!(.field(#name, #value)));
    }
    for secret in &flow.secrets {
        let arg = secret_arg(
            &mut args,
            secret,
            &format!("the login's `{secret}` field (kept secret, never printed)"),
            n,
        );
        let wire = lit(secret);
        chain.push(quote!(.secret_field(#wire, #arg)));
    }
    if let Some(field) = &flow.code_field {
        let provider = n.path(Item::CodeProvider);
        args.push(
            ident("code"),
            quote!(impl #provider),
            &format!("fetches a fresh one-time login code (sent as `{field}`) for every login"),
        );
        let field = lit(field);
        chain.push(quote!(.code(#field, code)));
    }
    chain.push(match &flow.token {
        TokenSource::Header(h) => {
            let h = lit(h);
            quote!(.token_from_header(#h))
        }
        TokenSource::Json(p) => {
            let p = lit(p);
            quote!(.token_at(#p))
        }
    });
    if let Some(p) = &flow.expires_in {
        let p = lit(p);
        chain.push(quote!(.expires_in_at(#p)));
    }
    if let Some(p) = &flow.refresh_token {
        let p = lit(p);
        chain.push(quote!(.refresh_token_at(#p)));
    }
    if let Some(r) = flow.refresh.as_ref().filter(|r| needs_full_grant(r)) {
        chain.push(full_grant(r, &flow.secrets, &mut args, n));
    } else if let Some(r) = &flow.refresh {
        let (path, field) = (lit(&r.path), lit(&r.field));
        let fields = if r.fields.is_empty() {
            quote!(::core::iter::empty::<(&str, &str)>())
        } else {
            let pairs = r.fields.iter().map(|(k, v)| {
                let (k, v) = (lit(k), lit(v));
                quote!((#k, #v))
            });
            quote!([#(#pairs),*])
        };
        chain.push(quote!(.refresh_grant(#path, #field, #fields)));
    }
    if let Some(ClientAuth::Basic) = flow.client_auth {
        let (into, string) = (n.path(Item::Into), n.path(Item::String));
        let id = args.add(
            "client_id",
            quote!(impl #into<#string>),
            "the client id, sent with HTTP Basic to the token endpoint",
        );
        let secret = secret_arg(
            &mut args,
            "client_secret",
            "the client secret, sent with HTTP Basic to the token endpoint (kept secret, never printed)",
            n,
        );
        chain.push(quote!(.client_basic_auth(#id, #secret)));
    }
    Inputs {
        args,
        login: quote! {
            #new_flow
                #(#chain)*
        },
    }
}

fn encoding_ident(e: Encoding) -> TokenStream {
    match e {
        Encoding::Json => quote!(Json),
        Encoding::Form => quote!(Form),
        Encoding::Query => quote!(Query),
    }
}

/// A grant of constants only keeps the short `refresh_grant` form.
fn needs_full_grant(r: &RefreshGrant) -> bool {
    r.method.is_some() || r.encoding.is_some() || !r.secrets.is_empty()
}

/// An `impl Into<Secret>` argument.
fn secret_arg(args: &mut Args, name: &str, doc: &str, n: &Names) -> Ident {
    let (into, secret) = (n.path(Item::Into), n.path(Item::Secret));
    args.add(name, quote!(impl #into<#secret>), doc)
}

/// `.refresh_with(RefreshGrant::new(..)...)`. A secret the login also sends
/// is reused from it; any other becomes an argument of its own.
fn full_grant(r: &RefreshGrant, login_secrets: &[String], args: &mut Args, n: &Names) -> TokenStream {
    let (path, field) = (lit(&r.path), lit(&r.field));
    let grant_type = n.path(Item::RefreshGrant);
    let mut grant = quote!(#grant_type::new(#path, #field));
    if let Some(m) = r.method {
        let (m, method) = (method_const(m), n.path(Item::Method));
        grant.extend(quote!(.method(#method::#m)));
    }
    if let Some(e) = r.encoding {
        let (e, encoding) = (encoding_ident(e), n.path(Item::Encoding));
        grant.extend(quote!(.encoding(#encoding::#e)));
    }
    for (k, v) in &r.fields {
        let (k, v) = (lit(k), lit(v));
        grant.extend(quote!(.field(#k, #v)));
    }
    for secret in &r.secrets {
        let wire = lit(secret);
        if login_secrets.contains(secret) {
            grant.extend(quote!(.login_secret(#wire)));
            continue;
        }
        let arg = secret_arg(
            args,
            secret,
            &format!("the refresh grant's `{secret}` field (kept secret, never printed)"),
            n,
        );
        grant.extend(quote!(.secret_field(#wire, #arg)));
    }
    quote!(.refresh_with(#grant))
}

/// Everything but the login, as builder method calls.
fn settings(auth: &Auth, n: &Names) -> TokenStream {
    let placement_type = n.path(Item::Placement);
    let placement = match &auth.placement {
        Placement::Header(h) => {
            let h = lit(h);
            quote!(#placement_type::header(#h))
        }
        Placement::Bearer => quote!(#placement_type::Bearer),
        Placement::Query(q) => {
            let q = lit(q);
            quote!(#placement_type::query(#q))
        }
        Placement::JsonBody(p) => {
            let p = lit(p);
            quote!(#placement_type::json_body(#p))
        }
    };
    let lifetime_type = n.path(Item::Lifetime);
    let lifetime = match &auth.lifetime {
        Lifetime::SingleUse { next_token_header } => {
            let h = lit(next_token_header);
            quote!(#lifetime_type::single_use(#h))
        }
        Lifetime::Reusable => quote!(#lifetime_type::Reusable),
    };
    let expiry = expiry(&auth.expiry, n);
    let mut out = quote! {
        .placement(#placement)
        .lifetime(#lifetime)
        .expiry(#expiry)
    };
    if let Some(env) = &auth.envelope {
        let code = lit(&env.code);
        let success = json_values(&env.success, n);
        let data = env.data.as_deref().map(|d| {
            let d = lit(d);
            quote!(.data(#d))
        });
        let message = env.message.as_deref().map(|m| {
            let m = lit(m);
            quote!(.message(#m))
        });
        let absent = env.absent_is_success.then(|| quote!(.absent_is_success(true)));
        let envelope = n.path(Item::Envelope);
        out.extend(quote! {
            .envelope(#envelope::new(#code).success(#success) #data #message #absent)
        });
    }
    if let Some(n) = auth.chains {
        let n = proc_macro2::Literal::u32_unsuffixed(n);
        out.extend(quote!(.chains(#n)));
    }
    if auth.exclusive_session {
        out.extend(quote!(.exclusive_session(true)));
    }
    if let Some(n) = auth.max_replays {
        let n = proc_macro2::Literal::u32_unsuffixed(n);
        out.extend(quote!(.max_replays(#n)));
    }
    if let Some(ms) = auth.login_timeout_ms {
        let d = duration(ms, n);
        out.extend(quote!(.login_timeout(#d)));
    }
    if let Some(ms) = auth.request_timeout_ms {
        let (d, some) = (duration(ms, n), n.path(Item::Some));
        out.extend(quote!(.request_timeout(#some(#d))));
    }
    if let Some(ms) = auth.expiry_skew_ms {
        let d = duration(ms, n);
        out.extend(quote!(.expiry_skew(#d)));
    }
    if let Some(b) = auth.login_backoff {
        let (initial, max) = (duration(b.initial_ms, n), duration(b.max_ms, n));
        out.extend(quote!(.login_backoff(#initial, #max)));
    }
    if let Some(r) = &auth.retry {
        let policy = retry_policy(r, n);
        out.extend(quote!(.retry(#policy)));
    }
    if let Some(limit) = auth.max_response_bytes {
        let limit = proc_macro2::Literal::u64_unsuffixed(limit);
        out.extend(quote!(.max_response_bytes(#limit)));
    }
    out
}

/// A `Duration` in whole seconds when it is, milliseconds otherwise.
/// A `RetryPolicy` expression: the runtime's default with each setting given.
pub(super) fn retry_policy(r: &crate::model::Retry, n: &Names) -> TokenStream {
    let path = n.path(Item::RetryPolicy);
    let mut out = quote!(#path::default());
    if let Some(k) = r.max_attempts {
        let k = proc_macro2::Literal::u32_unsuffixed(k);
        out.extend(quote!(.max_attempts(#k)));
    }
    if let Some(statuses) = &r.statuses {
        let statuses = statuses.iter().map(|s| proc_macro2::Literal::u16_unsuffixed(*s));
        out.extend(quote!(.statuses([#(#statuses),*])));
    }
    if r.initial_backoff_ms.is_some() || r.max_backoff_ms.is_some() {
        let initial = duration(r.initial_backoff_ms.unwrap_or(250), n);
        let max = duration(r.max_backoff_ms.unwrap_or(8000), n);
        out.extend(quote!(.backoff(#initial, #max)));
    }
    if let Some(ms) = r.max_elapsed_ms {
        let d = duration(ms, n);
        out.extend(quote!(.max_elapsed(#d)));
    }
    if let Some(ms) = r.max_retry_after_ms {
        let d = duration(ms, n);
        out.extend(quote!(.max_retry_after(#d)));
    }
    out
}

fn duration(ms: u64, n: &Names) -> TokenStream {
    let duration = n.path(Item::Duration);
    if ms.is_multiple_of(1000) {
        let s = proc_macro2::Literal::u64_unsuffixed(ms / 1000);
        quote!(#duration::from_secs(#s))
    } else {
        let ms = proc_macro2::Literal::u64_unsuffixed(ms);
        quote!(#duration::from_millis(#ms))
    }
}

/// The rules as one `Expiry` expression, in spec order.
fn expiry(rules: &[ExpiryRule], n: &Names) -> TokenStream {
    // Extended in place: `out = quote!(#out ...)` copies it per rule.
    let expiry = n.path(Item::Expiry);
    let mut out = quote!(#expiry::none());
    for rule in rules {
        out.extend(match simple_rule(rule, n) {
            // `Expiry` has a shorthand for each one-condition rule.
            Some((name, args)) => {
                let or = format_ident!("or_{name}");
                quote!(.#or(#args))
            }
            None => {
                let rule = expiry_rule(rule, n);
                quote!(.or(#rule))
            }
        });
    }
    out
}

/// The constructor name and arguments of a rule `Expiry` has a shorthand
/// for (`status`, `body_field`, `header`), shared by `.or_status(…)` and
/// `ExpiryRule::status(…)` so the two spellings cannot drift apart.
fn simple_rule(rule: &ExpiryRule, n: &Names) -> Option<(&'static str, TokenStream)> {
    Some(match rule {
        ExpiryRule::Status(codes) => {
            let codes = codes.iter().map(|c| proc_macro2::Literal::u16_unsuffixed(*c));
            ("status", quote!([#(#codes),*]))
        }
        ExpiryRule::BodyField { path, values } => {
            let (path, values) = (lit(path), json_values(values, n));
            ("body_field", quote!(#path, #values))
        }
        ExpiryRule::Header { name, value } => {
            let name = lit(name);
            let value = match value {
                Some(v) => {
                    let (v, some) = (lit(v), n.path(Item::Some));
                    quote!(#some(#v))
                }
                None => n.path(Item::None),
            };
            ("header", quote!(#name, #value))
        }
        ExpiryRule::HeaderContains { .. } | ExpiryRule::EmptyBody | ExpiryRule::All(_) => return None,
    })
}

/// One rule as an `ExpiryRule` value; the parts of `All` joined with `and`.
fn expiry_rule(rule: &ExpiryRule, n: &Names) -> TokenStream {
    let rule_type = n.path(Item::ExpiryRule);
    if let Some((name, args)) = simple_rule(rule, n) {
        let name = format_ident!("{name}");
        return quote!(#rule_type::#name(#args));
    }
    match rule {
        ExpiryRule::HeaderContains { name, text } => {
            let (name, text) = (lit(name), lit(text));
            quote!(#rule_type::header_contains(#name, #text))
        }
        ExpiryRule::EmptyBody => quote!(#rule_type::empty_body()),
        ExpiryRule::All(parts) => {
            let mut parts = parts.iter().map(|p| expiry_rule(p, n));
            let mut out = parts.next().unwrap_or_else(|| {
                let vec = n.path(Item::Vec);
                quote!(#rule_type::All(#vec::new()))
            });
            for part in parts {
                out.extend(quote!(.and(#part)));
            }
            out
        }
        ExpiryRule::Status(_) | ExpiryRule::BodyField { .. } | ExpiryRule::Header { .. } => {
            unreachable!("simple_rule spells these")
        }
    }
}
