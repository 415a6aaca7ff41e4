//! The emitter: a validated [`Api`] in, Rust tokens out, never formatted.
//!
//! The output is a list of items: the named types some endpoint reaches (in
//! spec order), then the client struct with its constructors and one
//! documented `async fn` per endpoint (in spec order). One emitter serves
//! the CLI (which formats the tokens into a crate) and the `#[token_client]`
//! macro (which hands them to the compiler beside the user's items); a
//! [`Target`] says which, and decides only how things are named:
//!
//! - the runtime, `serde` and `serde_json` are reached through
//!   `seamless_sdk` (`Client`, `Request`…) and its hidden `__private`
//!   module, so a generated SDK needs one dependency;
//! - [`Target::Macro`]: every path is absolute and nothing is `use`d, so no
//!   user item can change what the expansion means;
//! - [`Target::Crate`]: a `use` prelude and short names, except a name a
//!   generated type takes, which is written in full (see `names`);
//! - locals never shadow an argument; generic parameters are only used
//!   where no user type is named;
//! - nothing iterates a hash map, so equal models give identical tokens.
//!
//! The emitter assumes a validated model. On a model that is not, it still
//! returns tokens without panicking; the compiler reports the rest.

mod auth;
mod endpoint;
mod names;
mod rust;
mod types;

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;

pub use self::names::Target;
use self::names::{Item, Names};
use crate::model::{Api, TypeDef};

/// Emits the named types the endpoints use and the client for a validated
/// model, as a macro expansion: [`emit_for`] with [`Target::Macro`].
pub fn emit(api: &Api) -> TokenStream {
    emit_for(api, Target::Macro)
}

/// Emits the named types the endpoints use and the client for a validated
/// model, named as `target` needs.
pub fn emit_for(api: &Api, target: Target) -> TokenStream {
    let reachable = api.reachable_types();
    let types = reachable
        .iter()
        .map(|name| rust::ident(name).to_string())
        .chain([rust::ident(&api.client).to_string()])
        .collect();
    let locals = api
        .endpoints
        .iter()
        .flat_map(|ep| {
            ep.params
                .iter()
                .map(|p| &p.name)
                .chain(ep.body.iter().map(|b| &b.name))
        })
        .map(|name| rust::ident(name).to_string())
        .collect();
    let names = Names::new(target, types, locals);
    let types = types::emit(&defined(api, &reachable), &names);
    let client = client(api, &names);
    // Last: it imports what the items above used.
    let prelude = names.prelude();
    quote! {
        #prelude
        #types
        #client
    }
}

/// The named types some endpoint uses (through parameters, bodies and
/// responses, transitively), in spec order: exactly the types [`emit`] writes.
pub fn reachable_types(api: &Api) -> Vec<&TypeDef> {
    defined(api, &api.reachable_types())
}

/// The definitions of `reachable`, in spec order. (A trait's endpoints name
/// the user's own types, which `reachable` holds and the model does not.)
fn defined<'a>(api: &'a Api, reachable: &BTreeSet<&str>) -> Vec<&'a TypeDef> {
    api.types
        .iter()
        .filter(|t| reachable.contains(t.name.as_str()))
        .collect()
}

fn client(api: &Api, names: &Names) -> TokenStream {
    let name = rust::ident_at(&api.client, &api.origin);
    let doc = match api.doc.as_deref() {
        Some(doc) => rust::lines(Some(doc)).into_iter().map(str::to_owned).collect(),
        None => vec![format!("A client for the `{}` API.", api.name)],
    };
    let doc =
        rust::doc_attrs(
            doc.into_iter().chain([
                String::new(),
                "Every call goes through a [`seamless_sdk::Client`], which keeps the session token valid:"
                    .to_owned(),
                "it logs in once however many calls find the token expired, and replays them.".to_owned(),
            ]),
        );
    let base_url = api.base_url.as_deref().map(|url| {
        let url = rust::lit(url);
        quote! {
            /// The base URL the spec names.
            pub const DEFAULT_BASE_URL: &'static str = #url;
        }
    });
    let constructors = auth::constructors(&api.auth, names);
    let methods: Vec<_> = api
        .endpoints
        .iter()
        .map(|ep| endpoint::method(ep, api.auth.retry.as_ref(), names))
        .collect();
    let (clone, debug, client, options) = (
        names.path(Item::Clone),
        names.path(Item::Debug),
        names.path(Item::Client),
        names.path(Item::CallOptions),
    );
    quote! {
        #doc
        #[derive(#clone, #debug)]
        pub struct #name {
            client: #client,
        }

        impl #name {
            #base_url

            #constructors

            /// Wraps a client configured by hand; it must speak this API's token protocol.
            #[must_use]
            pub fn from_client(client: #client) -> Self {
                Self { client }
            }

            /// The underlying client (its stats, its base URL).
            #[must_use]
            pub fn client(&self) -> &#client {
                &self.client
            }

            /// A view of this client whose calls all carry `options` (a
            /// timeout, headers, a retry policy); it shares the sessions.
            #[must_use]
            pub fn with_options(&self, options: #options) -> Self {
                Self { client: self.client.with_options(options) }
            }

            #(#methods)*
        }
    }
}
