//! SCAFFOLD (being replaced): the emitter.

use proc_macro2::TokenStream;

use crate::model::Api;

/// Emits the client for a validated model.
pub fn emit(api: &Api) -> TokenStream {
    let _ = api;
    TokenStream::new()
}
