//! Snapshot tests: the code `seamless generate --stdout` prints for each
//! spec in `specs/` must equal the committed file in `sdk-tests/src/`,
//! which CI compiles and calls against the testkit. Run with
//! `SEAMLESS_BLESS=1` to accept a change on purpose.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn generated_code_matches_the_committed_snapshots() {
    let bless = std::env::var_os("SEAMLESS_BLESS").is_some();
    let mut specs: Vec<_> = std::fs::read_dir(root().join("specs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    specs.sort();
    assert!(!specs.is_empty());
    let mut stale = Vec::new();
    for spec in &specs {
        let stem = spec.file_stem().unwrap().to_string_lossy().into_owned();
        // Relative, so the header does not depend on where the repo lives.
        let o = Command::new(env!("CARGO_BIN_EXE_seamless"))
            .current_dir(root())
            .args(["generate", &format!("specs/{stem}.yaml"), "--stdout"])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{stem}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let snapshot = root().join("sdk-tests/src").join(format!("{stem}.rs"));
        let current = std::fs::read(&snapshot).unwrap_or_default();
        if current != o.stdout {
            if bless {
                std::fs::write(&snapshot, &o.stdout).unwrap();
            } else {
                stale.push(snapshot.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated code differs from the snapshots (review, then rerun with SEAMLESS_BLESS=1): {stale:?}"
    );
    // Every snapshot is compiled: sdk-tests/src/lib.rs declares one module per spec.
    let lib = std::fs::read_to_string(root().join("sdk-tests/src/lib.rs")).unwrap();
    for spec in &specs {
        let stem = spec.file_stem().unwrap().to_string_lossy();
        assert!(
            lib.contains(&format!("pub mod {stem};")),
            "sdk-tests/src/lib.rs lacks `pub mod {stem};`"
        );
    }
}
