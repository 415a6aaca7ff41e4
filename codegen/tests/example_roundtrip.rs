//! Proof that `example` values deserialize into the real generated types:
//! the types the emitter writes for the seed model, the seed spec and the
//! OpenAPI mappings fixture go into a throwaway crate (serde and
//! serde_json only; `seamless_sdk::__private` is played by the crate
//! itself), whose binary reads every value, writes it back, and compares.
//!
//! Builds in its own target dir under `CARGO_TARGET_TMPDIR`.

mod emit_models;

use std::path::Path;
use std::process::Command;

use seamless_sdk_codegen::example::Examples;
use seamless_sdk_codegen::model::{Api, TypeRef};
use seamless_sdk_codegen::{emit, load};

const MAIN: &str = r#"
use std::io::Read;

use serde_json::Value;

/// Nulls in objects are `None` fields, which are left out when sent.
fn strip(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(o.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(strip).collect()),
        v => v,
    }
}

fn check<T: serde::de::DeserializeOwned + serde::Serialize>(what: &str, v: Value) -> usize {
    let t: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{what}: {e}: {v}"));
    let back = serde_json::to_value(&t).unwrap();
    assert_eq!(strip(back), strip(v.clone()), "{what} does not round-trip: {v}");
    1
}

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let samples: Vec<(String, String, Value)> = serde_json::from_str(&input).unwrap();
    let mut checked = 0;
    for (module, name, v) in samples {
        let what = format!("{module}::{name}");
        checked += match (module.as_str(), name.as_str()) {
            DISPATCH
            _ => panic!("no type {what}"),
        };
    }
    println!("checked {checked}");
}
"#;

fn load_file(path: &Path) -> Api {
    let source = std::fs::read_to_string(path).unwrap();
    load(&source, "spec.yaml")
        .unwrap_or_else(|d| panic!("{}: {d}", path.display()))
        .0
}

fn run(dir: &Path, target: &Path, args: &[&str], stdin: Option<String>) -> String {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cargo runs");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "`cargo {}` failed in {}",
        args.join(" "),
        dir.display()
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn examples_deserialize_into_the_generated_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let apis = [
        emit_models::seed(),
        load_file(&root.join("../specs/imi_mini.yaml")),
        load_file(&root.join("tests/openapi/mappings.expected.yaml")),
    ];
    let mut lib = String::from(
        "//! Generated types of `example_roundtrip`.\n#![allow(dead_code, clippy::all)]\n\
         extern crate self as seamless_sdk;\n\
         pub mod __private { pub use serde; pub use serde_json; }\n",
    );
    let mut dispatch = String::new();
    let mut samples = Vec::new();
    for (i, api) in apis.iter().enumerate() {
        // The generated types, without the client (it needs the runtime).
        let file: syn::File = syn::parse2(emit(api)).unwrap();
        let types: Vec<syn::Item> = file
            .items
            .into_iter()
            .filter(|item| {
                let attrs = match item {
                    syn::Item::Struct(s) => &s.attrs,
                    syn::Item::Enum(e) => &e.attrs,
                    _ => return false,
                };
                attrs.iter().any(|a| a.path().is_ident("serde"))
            })
            .collect();
        let names: Vec<String> = types
            .iter()
            .map(|item| match item {
                syn::Item::Struct(s) => s.ident.to_string(),
                syn::Item::Enum(e) => e.ident.to_string(),
                _ => unreachable!(),
            })
            .collect();
        assert!(!names.is_empty());
        let module: syn::File = syn::parse2(quote::quote!(#(#types)*)).unwrap();
        lib += &format!("pub mod m{i} {{\n{}\n}}\n", prettyplease::unparse(&module));
        let examples = Examples::new(api);
        for name in &names {
            dispatch += &format!("(\"m{i}\", \"{name}\") => check::<emit_rt::m{i}::{name}>(&what, v),\n");
            let ty = TypeRef::Named(name.trim_start_matches("r#").to_owned());
            for seed in 0..24 {
                for salt in ["/a/7", "/a/8"] {
                    samples.push((format!("m{i}"), name.clone(), examples.value(&ty, seed, salt)));
                }
            }
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("emit-rt");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = r#"[package]
name = "emit-rt"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"

[workspace]
"#;
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    // The workspace's lock file pins what is already downloaded.
    std::fs::copy(root.join("../Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN.replace("DISPATCH", &dispatch)).unwrap();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("example-roundtrip");
    let input = serde_json::to_string(&samples).unwrap();
    let out = run(&dir, &target, &["run", "--quiet"], Some(input));
    assert_eq!(out.trim(), format!("checked {}", samples.len()));
}
