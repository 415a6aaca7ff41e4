//! Snapshot tests: the code `seamless generate --stdout` prints for each
//! spec in `specs/`, and for each OpenAPI description in `specs/openapi/`
//! (imported first, as `generate` does), must equal the committed file in
//! `sdk-tests/src/`, which CI compiles and calls against the testkit. Run
//! with `SEAMLESS_BLESS=1` to accept a change on purpose.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `seamless ARGS`, run at the repository root so that paths (and the
/// header naming the source) do not depend on where the repo lives.
fn seamless(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seamless"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap()
}

/// The files in `specs/{dir}` whose names end with `suffix`, as paths
/// relative to the root, sorted.
fn sources(dir: &str, suffix: &str) -> Vec<String> {
    let mut found: Vec<_> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(suffix))
        .map(|name| format!("{dir}/{name}"))
        .collect();
    found.sort();
    found
}

/// The API name `seamless import` gives the OpenAPI description at `doc`
/// (from its `info.title`): the name of its snapshot and module.
fn imported_name(doc: &str) -> String {
    let o = seamless(&["import", doc]);
    assert!(
        o.status.success(),
        "{doc}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let spec = String::from_utf8(o.stdout).unwrap();
    spec.lines()
        .find_map(|l| l.strip_prefix("name: "))
        .unwrap_or_else(|| panic!("{doc}: the imported spec has no `name`:\n{spec}"))
        .trim()
        .to_owned()
}

#[test]
fn generated_code_matches_the_committed_snapshots() {
    let bless = std::env::var_os("SEAMLESS_BLESS").is_some();
    // (source, snapshot and module name): a YAML spec by its file stem, an
    // OpenAPI description by the name its import gives the API.
    let mut snapshots: Vec<(String, String)> = sources("specs", ".yaml")
        .into_iter()
        .map(|spec| {
            let stem = Path::new(&spec)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (spec, stem)
        })
        .collect();
    assert!(!snapshots.is_empty());
    let openapi = sources("specs/openapi", ".openapi.yaml");
    assert!(!openapi.is_empty(), "no specs/openapi/*.openapi.yaml");
    for doc in openapi {
        let name = imported_name(&doc);
        assert!(
            !snapshots.iter().any(|(_, n)| *n == name),
            "{doc} imports as `{name}`, which another spec's snapshot has: give it another info.title"
        );
        snapshots.push((doc, name));
    }
    let mut stale = Vec::new();
    for (source, name) in &snapshots {
        let o = seamless(&["generate", source, "--stdout"]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{source}: {stderr}");
        // A warning means part of the source was left out or stood in for.
        assert!(!stderr.contains("warning"), "{source}: {stderr}");
        let snapshot = root().join("sdk-tests/src").join(format!("{name}.rs"));
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
    for (source, name) in &snapshots {
        assert!(
            lib.contains(&format!("pub mod {name};")),
            "sdk-tests/src/lib.rs lacks `pub mod {name};` (for {source})"
        );
    }
}
