//! Arbitrary bytes through the OpenAPI importer and, when the description
//! imports, the spec loader, the validator and the emitter. The body is
//! `seamless_sdk_codegen::fuzz_openapi_one`, which
//! `codegen/tests/fuzz_corpus.rs` also runs over the committed corpus.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    seamless_sdk_codegen::fuzz_openapi_one(data);
});
