//! One `#[token_client]` mistake per file under `tests/ui`, with the
//! compiler's output it must produce. `TRYBUILD=overwrite` rewrites them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
