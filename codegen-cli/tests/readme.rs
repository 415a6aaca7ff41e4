//! What README.md tells a user to do with the CLI, done as they would: the
//! README's `generate` line, then `cargo check` in the crate it wrote, both
//! outside this workspace and inside a workspace that does not list the
//! crate (as the README's own `--out imi_mini` is, run from the repository
//! root). The README's lines are asserted verbatim, so the test and the
//! README cannot drift apart.
//!
//! The checks share `target/e2e` with the other end-to-end tests, so CI
//! compiles the dependencies once; the commands are otherwise the README's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GENERATE: &str =
    "cargo run -p seamless-sdk-cli -- generate specs/imi_mini.yaml --out imi_mini --seamless-path .";
const CHECK: &str = "(cd imi_mini && cargo check)";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn readme_lines() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    readme.lines().map(|l| l.trim_end().to_owned()).collect()
}

/// The README's `generate` line, with `--out` moved to `out`: the arguments
/// after `cargo run -p seamless-sdk-cli --`, run from the repository root.
fn generate(out: &Path) -> Output {
    let args: Vec<&str> = GENERATE.split_whitespace().skip(5).collect();
    assert_eq!(
        args[..5],
        [
            "generate",
            "specs/imi_mini.yaml",
            "--out",
            "imi_mini",
            "--seamless-path"
        ]
    );
    Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(&args[..3])
        .arg(out)
        .args(&args[4..])
        .current_dir(root())
        .output()
        .unwrap()
}

fn cargo_check(dir: &Path) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(["check", "--quiet"])
        .current_dir(dir)
        // A cargo test sets these for its own package; the user's shell does not.
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PKG_NAME")
        .env("CARGO_TARGET_DIR", root().join("target/e2e"))
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_readme_shows_the_generate_and_check_lines_this_test_runs() {
    let lines = readme_lines();
    assert!(
        lines.iter().any(|l| l == GENERATE),
        "README.md no longer has the line `{GENERATE}`: update this test with it"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(CHECK)),
        "README.md no longer has a line starting `{CHECK}`: update this test with it"
    );
}

#[test]
fn a_crate_generated_outside_the_workspace_checks_as_the_readme_says() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imi_mini");
    let o = generate(&out);
    assert!(o.status.success(), "{}", text(&o));
    let manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
    assert!(
        !manifest.contains("[workspace]"),
        "no workspace above, no table:\n{manifest}"
    );
    let o = cargo_check(&out);
    assert!(o.status.success(), "cargo check failed:\n{}", text(&o));
}

#[test]
fn a_crate_generated_inside_a_workspace_that_does_not_list_it_checks_as_the_readme_says() {
    // Under this repository's root, which is a workspace that does not list
    // it: where the README's own `--out imi_mini` lands.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    assert!(dir.path().starts_with(root()));
    let out = dir.path().join("imi_mini");
    let o = generate(&out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("not one of its members") && text(&o).contains("[workspace]"),
        "generate must say what it did:\n{}",
        text(&o)
    );
    let manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
    let o = cargo_check(&out);
    assert!(o.status.success(), "cargo check failed:\n{}", text(&o));
}
