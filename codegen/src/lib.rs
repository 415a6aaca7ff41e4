//! The spec model shared by seamless's two front ends, the YAML loader and
//! validator, and the emitter that turns a validated model into Rust tokens.
//!
//! ```text
//! YAML spec ──(yaml: serde types, a boundary)──┐
//!                                              ├──► model::Api ──(validate)──► emit ──► TokenStream
//! #[token_client] trait ──(macros crate)───────┘
//! ```
//!
//! Formatting (prettyplease) is the caller's business: the CLI formats, the
//! macro hands tokens to the compiler.

pub mod diag;
pub mod emit;
pub mod example;
pub mod limits;
pub mod model;
mod naming;
pub mod openapi;
#[doc(hidden)]
pub mod scale;
pub mod validate;
pub mod yaml;

pub use diag::{Diagnostic, DiagnosticKind, Diagnostics, Severity};
pub use emit::emit;
pub use yaml::{load, load_with, schema};

/// The fuzz target's body, shared with `tests/fuzz_corpus.rs` so the corpus
/// is replayed on the stable toolchain by `cargo test`.
///
/// The bytes are read as UTF-8 with each invalid sequence replaced by U+FFFD
/// (both front ends refuse a file that is not UTF-8 before [`load`], so the
/// replacement keeps every mutation useful, and the text it yields is itself
/// a spec a user could write). A spec that loads is emitted, and the tokens
/// must parse as a Rust file, as `seamless generate` requires of them.
///
/// Panics when a contract breaks: an `Err` without an error in it or with
/// an internal error (a panic in the parser thread), an `Ok` that carries
/// an error, or an emitted client that does not parse.
#[doc(hidden)]
pub fn fuzz_one(bytes: &[u8]) {
    let source = String::from_utf8_lossy(bytes);
    loaded_keeps_its_contract(load(&source, "fuzz.yaml"));
}

/// `load`'s contract on one outcome: a loaded spec has no error and emits
/// a client that parses; a refused one has an error and no internal one.
/// Returns the refusal, for a caller with more to check.
fn loaded_keeps_its_contract(loaded: Result<(model::Api, Diagnostics), Diagnostics>) -> Option<Diagnostics> {
    match loaded {
        Ok((api, diagnostics)) => {
            assert!(
                !diagnostics.has_errors(),
                "a spec loaded with errors:\n{diagnostics}"
            );
            let tokens = emit(&api);
            if let Err(e) = syn::parse2::<syn::File>(tokens) {
                panic!("the client emitted for a loaded spec does not parse: {e}");
            }
            None
        }
        Err(diagnostics) => {
            assert!(
                diagnostics.has_errors(),
                "a refused spec has no error:\n{diagnostics}"
            );
            // `load` turns a panic of its parser thread into this diagnostic.
            assert!(
                !diagnostics
                    .items
                    .iter()
                    .any(|d| d.kind == DiagnosticKind::Internal),
                "an internal error:\n{diagnostics}"
            );
            // Rendering is part of the path a user sees.
            let _ = diagnostics.to_string();
            Some(diagnostics)
        }
    }
}

/// The `openapi` fuzz target's body, shared with `tests/fuzz_corpus.rs`
/// like [`fuzz_one`].
///
/// The bytes are read as UTF-8 as [`fuzz_one`] reads them, asked
/// [`openapi::is_openapi`] (as `seamless generate` and `check` ask of every
/// file) and imported with [`openapi::import`], without an overlay (the
/// document's `x-seamless` stands in for one). A description that imports
/// is loaded under [`fuzz_one`]'s contract, and more: the importer writes
/// only specs the loader accepts, so an error may only be about what the
/// document's own `x-seamless` says (relocated there by
/// [`openapi::Imported::relocate`]).
///
/// Panics when a contract breaks: a panic anywhere on that path, an `Err`
/// without an error in it or with an internal error, warnings that carry
/// an error, an imported spec refused for what the importer wrote, or
/// anything [`fuzz_one`] panics for.
#[doc(hidden)]
pub fn fuzz_openapi_one(bytes: &[u8]) {
    let source = String::from_utf8_lossy(bytes);
    let _ = openapi::is_openapi(&source);
    match openapi::import(&source, "fuzz.openapi.yaml", None) {
        Ok(imported) => {
            assert!(
                !imported.warnings.has_errors(),
                "a description imported with errors:\n{}",
                imported.warnings
            );
            assert!(
                imported.generated <= imported.operations,
                "{} of {} operations generated",
                imported.generated,
                imported.operations
            );
            let _ = imported.warnings.to_string();
            if let Some(refused) = loaded_keeps_its_contract(load(&imported.spec, "imported")) {
                for group in imported.relocate(refused) {
                    assert!(
                        group.file != "imported" || !group.has_errors(),
                        "the importer wrote a spec the loader refuses:\n{group}\n{}",
                        imported.spec
                    );
                }
            }
        }
        Err(diagnostics) => {
            assert!(
                diagnostics.has_errors(),
                "a refused description has no error:\n{diagnostics}"
            );
            assert!(
                !diagnostics
                    .items
                    .iter()
                    .any(|d| d.kind == DiagnosticKind::Internal),
                "an internal error:\n{diagnostics}"
            );
            let _ = diagnostics.to_string();
        }
    }
}
