//! One fixture per mistake a user makes: `tests/bad-specs/<what-is-wrong>.yaml`
//! and, beside it, `<what-is-wrong>.expected` holding the exact diagnostics
//! `load` reports (`file:line:column: error: message (at path)`).
//!
//! `SEAMLESS_BLESS=1 cargo test -p seamless-sdk-codegen --test bad_specs`
//! rewrites the `.expected` files from the current output.

use std::path::Path;

#[test]
fn every_bad_spec_reports_exactly_its_expected_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-specs");
    let bless = std::env::var_os("SEAMLESS_BLESS").is_some_and(|v| v == "1");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/bad-specs exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".yaml").map(str::to_owned))
        .collect();
    names.sort();
    assert!(
        names.len() >= 15,
        "expected at least 15 fixtures, found {}",
        names.len()
    );

    let mut failures = Vec::new();
    for name in &names {
        let source = std::fs::read_to_string(dir.join(format!("{name}.yaml"))).expect("readable fixture");
        let file = format!("{name}.yaml");
        let actual = match seamless_sdk_codegen::load(&source, &file) {
            Ok((_, warnings)) => {
                failures.push(format!("{name}: loaded without an error (warnings: {warnings})"));
                continue;
            }
            Err(d) => d.to_string(),
        };
        let expected_path = dir.join(format!("{name}.expected"));
        if bless {
            std::fs::write(&expected_path, &actual).expect("writable .expected");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{name}: diagnostics differ\n--- expected\n{expected}--- actual\n{actual}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(run with SEAMLESS_BLESS=1 to accept the new output)",
        failures.join("\n")
    );
}
