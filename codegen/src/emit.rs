//! The emitter: a validated [`Api`] in, Rust tokens out, never formatted.
//!
//! The output is a list of items: the named types some endpoint reaches (in
//! spec order), then the client struct with its constructors and one
//! documented `async fn` per endpoint (in spec order). The same tokens serve
//! the CLI (which formats them into a crate) and the `#[token_client]` macro
//! (which hands them to the compiler beside the user's items), so:
//!
//! - every path is absolute, and the runtime, `serde` and `serde_json` are
//!   reached through `::seamless_sdk` (`Client`, `Request`…) and its hidden
//!   `__private` module: a generated SDK needs one dependency, and no `use`
//!   can clash with the user's items;
//! - locals never shadow an argument; generic parameters are only used
//!   where no user type is named;
//! - nothing iterates a hash map, so equal models give identical tokens.
//!
//! The emitter assumes a validated model. On a model that is not, it still
//! returns tokens without panicking; the compiler reports the rest.

mod auth;
mod endpoint;
mod rust;
pub(crate) mod types;

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::{Api, TypeDef};

/// Emits the named types the endpoints use and the client for a validated model.
pub fn emit(api: &Api) -> TokenStream {
    let reachable = api.reachable_types();
    let types = types::emit(api, &reachable);
    let client = client(api);
    quote! {
        #types
        #client
    }
}

/// The named types some endpoint uses (through parameters, bodies and
/// responses, transitively), in spec order: exactly the types [`emit`] writes.
pub fn reachable_types(api: &Api) -> Vec<&TypeDef> {
    let reachable = api.reachable_types();
    api.types
        .iter()
        .filter(|t| reachable.contains(t.name.as_str()))
        .collect()
}

fn client(api: &Api) -> TokenStream {
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
    let constructors = auth::constructors(&api.auth);
    let methods = api.endpoints.iter().map(endpoint::method);
    quote! {
        #doc
        #[derive(::core::clone::Clone, ::core::fmt::Debug)]
        pub struct #name {
            client: ::seamless_sdk::Client,
        }

        impl #name {
            #base_url

            #constructors

            /// Wraps a client configured by hand; it must speak this API's token protocol.
            #[must_use]
            pub fn from_client(client: ::seamless_sdk::Client) -> Self {
                Self { client }
            }

            /// The underlying client (its stats, its base URL).
            #[must_use]
            pub fn client(&self) -> &::seamless_sdk::Client {
                &self.client
            }

            #(#methods)*
        }
    }
}
