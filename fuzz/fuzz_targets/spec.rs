//! Arbitrary bytes through the YAML spec loader, the validator and, when the
//! spec loads, the emitter. The body is `seamless_sdk_codegen::fuzz_one`, which
//! `codegen/tests/fuzz_corpus.rs` also runs over the committed corpus.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    seamless_sdk_codegen::fuzz_one(data);
});
