//! Proof that the emitted code compiles without a warning (rustc and clippy)
//! and works: the seed model's client, as the CLI's crate target writes it,
//! is written into a throwaway crate under the temp dir, which depends on
//! `seamless-sdk` alone and calls every generated method against the
//! testkit's seed backend. Beside it, in modules, the macro target of every
//! model, and the crate target of every model whose types take the names
//! the crate prelude would import.
//!
//! It builds a crate and its dependency tree, in `target/e2e`, which the
//! CLI's end-to-end test shares, so CI compiles the dependencies once.

mod emit_models;

use std::path::{Path, PathBuf};
use std::process::Command;

const LIB_HEADER: &str = r#"//! The seed model's client, as `seamless_sdk_codegen::emit_for` writes it.
#![deny(warnings, missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

"#;

const TEST: &str = r#"
use std::convert::Infallible;
use std::sync::Arc;

use emit_e2e::{Circle, ImiMiniClient, NewOrder, Note, Order, Shape, Square, Status, Tagged, User};
use seamless_sdk_testkit::{Backend, Protocol};

fn client(backend: &Backend) -> ImiMiniClient {
    let codes = backend.seed_code_provider();
    ImiMiniClient::new(backend.url(), move || {
        let code = codes();
        async move { Ok::<_, Infallible>(code) }
    })
    .unwrap()
}

#[tokio::test]
async fn every_generated_method_works_against_the_seed_backend() {
    let backend = Backend::start(Protocol::Seed).await;
    let client = client(&backend);
    assert_eq!(ImiMiniClient::DEFAULT_BASE_URL, "https://api.example.com");

    let user = client.get_user(7).await.unwrap();
    assert_eq!(user, User { id: 7, name: "user-7".into() });

    // One segment, percent-encoded; query and header parameters ride along.
    let found = client.find_user("a b/c", Some("name"), 5, None, 1).await.unwrap();
    assert_eq!(found["name"], "user-a%20b%2Fc");
    let err = client.find_user("..", None, 5, Some("t"), 2).await.unwrap_err();
    assert!(err.is_builder(), "{err:?}");

    let order = client.create_order(&NewOrder { order_id: "o-1".into() }).await.unwrap();
    assert_eq!(order, Order { order_id: "o-1".into(), executions: 1 });

    assert_eq!(client.ping().await.unwrap()["pong"], true);

    // Renames, optional fields, an enum, a boxed self reference, a map and JSON round-trip.
    let inner = Note {
        text: "inner".into(),
        kind: None,
        tags: None,
        scores: Default::default(),
        reply: None,
        thread: Vec::new(),
        extra: serde_json::Value::Null,
    };
    let note = Note {
        text: "hello".into(),
        kind: Some(Status::OnHold),
        tags: Some(vec!["a".into()]),
        scores: [("x".to_owned(), 1.5)].into_iter().collect(),
        reply: Some(Box::new(inner.clone())),
        thread: vec![inner.clone()],
        extra: serde_json::json!({"k": [1, 2]}),
    };
    let wire = serde_json::to_value(&note).unwrap();
    assert_eq!(wire["noteText"], "hello");
    assert_eq!(wire["type"], "on-hold");
    assert!(wire["reply"].get("type").is_none() && wire["reply"].get("tags").is_none(), "{wire}");
    assert_eq!(client.echo(&note).await.unwrap(), note);

    // `one_of`: untagged, told apart by shape; tagged by `kind`.
    let shapes = vec![
        Shape::Square(Square { side: 2.0 }),
        Shape::Circle(Circle { radius: 1.0 }),
        Shape::Label("none".into()),
    ];
    assert_eq!(client.echo_shapes(&shapes).await.unwrap(), shapes);
    let tagged = Tagged::Circle(Circle { radius: 3.0 });
    assert_eq!(serde_json::to_value(&tagged).unwrap(), serde_json::json!({"kind": "circle", "radius": 3.0}));
    assert_eq!(client.echo_tagged(&tagged).await.unwrap(), tagged);
    let square = Tagged::Square(Square { side: 1.0 });
    assert_eq!(client.echo_tagged(&square).await.unwrap(), square);

    client.record(&[NewOrder { order_id: "o-2".into() }]).await.unwrap();

    let before = backend.counters();
    assert_eq!(before.logins, 1, "{before:?}");
    let err = client.status().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404), "{err:?}");
    let after = backend.counters();
    assert_eq!((after.logins, after.requests), (before.logins, before.requests), "{after:?}");
    assert_eq!(after.token_reuse, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expiry_storm_through_typed_methods_costs_one_login() {
    let backend = Backend::start(Protocol::Seed).await;
    let client = Arc::new(client(&backend));
    client.ping().await.unwrap();
    backend.expire_all();
    let calls: Vec<_> = (0..50u64)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.get_user(i).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap().id, i as u64);
    }
    let c = backend.counters();
    assert_eq!((c.logins, c.token_reuse, c.max_concurrent_holders), (2, 0, 1), "{c:?}");
}

#[tokio::test]
async fn the_builder_can_be_customised_and_wrapped() {
    let backend = Backend::start(Protocol::Seed).await;
    let codes = backend.seed_code_provider();
    let builder = ImiMiniClient::builder(backend.url(), move || {
        let code = codes();
        async move { Ok::<_, std::io::Error>(code) }
    });
    let client = ImiMiniClient::from_client(builder.max_replays(2).build().unwrap());
    assert_eq!(client.get_user(1).await.unwrap().name, "user-1");
    assert_eq!(client.client().stats().full_logins, 1);
}
"#;

fn run(dir: &Path, target: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "`cargo {}` failed in {}",
        args.join(" "),
        dir.display()
    );
}

#[test]
fn the_seed_client_compiles_cleanly_and_works_against_the_testkit() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().join("emit-e2e");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    let manifest = format!(
        r#"[package]
name = "emit-e2e"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
seamless-sdk = {{ path = "{ws}" }}

[dev-dependencies]
seamless-sdk-testkit = {{ path = "{ws}/testkit" }}
serde_json = "1"
tokio = {{ version = "1", features = ["macros", "rt-multi-thread"] }}

[workspace]
"#,
        ws = workspace.display()
    );
    use emit_models::shadowing;
    use seamless_sdk_codegen::emit::{Target, emit_for};
    let (seed, seed_macro, bearer, query) = (
        emit_for(&emit_models::seed(), Target::Crate),
        emit_for(&emit_models::seed(), Target::Macro),
        emit_for(&emit_models::bearer(), Target::Macro),
        emit_for(&emit_models::query_custom(), Target::Macro),
    );
    let [seed_shadowing, bearer_shadowing, query_shadowing] = [
        emit_models::seed(),
        emit_models::bearer(),
        emit_models::query_custom(),
    ]
    .map(|api| emit_for(&shadowing(api), Target::Crate));
    // The other models only need to compile: the bearer one beside items
    // that shadow every prelude name it could lean on, as a macro expansion
    // may sit beside user items.
    let file = syn::parse2(quote::quote! {
        #seed

        /// The seed model as a macro expands it.
        pub mod seed_macro {
            #seed_macro
        }

        /// The bearer model.
        pub mod bearer {
            /// Shadows a prelude name.
            #[derive(Debug)]
            pub struct Result;
            /// Shadows a prelude name.
            #[derive(Debug)]
            pub struct Option;
            /// Shadows a prelude name.
            #[derive(Debug)]
            pub struct Some;
            /// Shadows a prelude name.
            #[derive(Debug)]
            pub struct Ok;
            /// Shadows a prelude name.
            #[derive(Debug)]
            pub struct String;
            /// Shadows a prelude name.
            #[derive(Debug)]
            pub struct Vec;
            /// Shadows a prelude name.
            #[derive(Debug)]
            pub struct Box;
            /// Shadows a prelude name.
            pub trait ToString {}
            /// Shadows a prelude name.
            pub trait Into {}
            /// Shadows a prelude name.
            pub trait Send {}
            /// Shadows a prelude name.
            pub trait Fn {}
            /// Shadows a name the runtime uses.
            #[derive(Debug)]
            pub struct Client;

            #bearer
        }

        /// The query model.
        pub mod query {
            #query
        }

        /// Crates whose types take every name the prelude could import.
        pub mod shadowing {
            /// The seed model.
            pub mod seed {
                #seed_shadowing
            }
            /// The bearer model.
            pub mod bearer {
                #bearer_shadowing
            }
            /// The query model.
            pub mod query {
                #query_shadowing
            }
        }
    })
    .unwrap();
    let lib = format!("{LIB_HEADER}{}", prettyplease::unparse(&file));
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    // The workspace's lock file pins what is already downloaded.
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    std::fs::write(dir.join("tests/seed.rs"), TEST).unwrap();
    // Its own target dir: the outer cargo holds the workspace's lock.
    let target = workspace.join("target/e2e");
    run(
        &dir,
        &target,
        &["clippy", "--quiet", "--all-targets", "--", "-D", "warnings"],
    );
    run(&dir, &target, &["test", "--quiet"]);
    println!("compiled cleanly and passed: {}", dir.display());
}
