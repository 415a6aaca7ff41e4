//! A 1,000-endpoint spec through the whole pipeline (read, parse, validate,
//! emit, format). The time is printed, never asserted (shared machines are
//! noisy); the output size per endpoint is deterministic and is asserted.
//! For the release figure: `cargo test --release -p seamless-sdk-cli --test scale -- --nocapture`.

use std::process::Command;
use std::time::Instant;

#[test]
fn a_thousand_endpoints_generate_lean_code() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("big.yaml");
    std::fs::write(&spec, seamless_sdk_codegen::scale::spec_with_endpoints(1000)).unwrap();
    let start = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(["generate", "--stdout"])
        .arg(&spec)
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = o.stdout.iter().filter(|&&b| b == b'\n').count();
    let per_endpoint = lines as f64 / 1000.0;
    println!(
        "1,000 endpoints (and their 1,000 types): {lines} lines of formatted Rust, \
         {per_endpoint:.1} lines per endpoint, generated in {elapsed:?} (whole process)"
    );
    assert!(per_endpoint <= 40.0, "{per_endpoint:.1} lines per endpoint");
}
