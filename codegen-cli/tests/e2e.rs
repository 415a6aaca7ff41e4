//! End to end: `seamless generate` writes the seed spec's SDK crate, the
//! crate builds on its own (depending only on `seamless-sdk`), and its typed
//! methods survive an expiry storm against the loopback testkit with one
//! login and no token reuse.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

const STORM_TEST: &str = r#"
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use imi_mini::ImiMiniClient;
use seamless_sdk_testkit::{Backend, Protocol};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_methods_through_an_expiry_storm() {
    let backend = Backend::start(Protocol::Seed).await;
    let codes = backend.seed_code_provider();
    let client = ImiMiniClient::new(backend.url(), move || {
        let code = codes();
        async move { Ok::<_, Infallible>(code) }
    })
    .unwrap();
    let client = Arc::new(client);
    assert_eq!(client.get_user(0).await.unwrap().name, "user-0");
    backend.reset_counters();
    backend.delay_responses(Duration::from_millis(1));
    let calls: Vec<_> = (1..=200u64)
        .map(|i| {
            let c = Arc::clone(&client);
            tokio::spawn(async move { c.get_user(i).await })
        })
        .collect();
    while backend.counters().requests < 50 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    backend.expire_all();
    for (i, call) in (1..=200u64).zip(calls) {
        assert_eq!(call.await.unwrap().unwrap().id, i);
    }
    let c = backend.counters();
    assert!(c.expired_replies >= 1, "{c:?}");
    assert_eq!(c.logins, 1, "{c:?}");
    assert_eq!(c.token_reuse, 0, "{c:?}");
    println!("e2e storm: {} requests, {} login, {} token reuse", c.requests, c.logins, c.token_reuse);
}
"#;

#[test]
fn generated_seed_crate_builds_alone_and_survives_an_expiry_storm() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imi_mini");
    let root = root();
    let o = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(["generate", "specs/imi_mini.yaml", "--out"])
        .arg(&out)
        .arg("--seamless-path")
        .arg(&root)
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // What a user adds to test their SDK: the testkit and tokio.
    let mut manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
    manifest.push_str(&format!(
        "\n[dev-dependencies]\nseamless-sdk-testkit = {{ path = {:?} }}\ntokio = {{ version = \"1\", features = [\"rt-multi-thread\", \"macros\"] }}\n",
        root.join("testkit")
    ));
    std::fs::write(out.join("Cargo.toml"), manifest).unwrap();
    std::fs::create_dir_all(out.join("tests")).unwrap();
    std::fs::write(out.join("tests/storm.rs"), STORM_TEST).unwrap();
    // The workspace's lock file pins the same dependency versions, so the
    // build reuses what the shared target directory already holds.
    std::fs::copy(root.join("Cargo.lock"), out.join("Cargo.lock")).unwrap();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new(cargo)
        .args(["test", "--quiet", "--manifest-path"])
        .arg(out.join("Cargo.toml"))
        .args(["--", "--nocapture"])
        // Shared with codegen's emit_compiles test, so dependencies build once.
        .env("CARGO_TARGET_DIR", root.join("target/e2e"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "the generated crate failed to build or test:\n{stdout}\n{stderr}"
    );
    assert!(
        !stderr.contains("warning"),
        "the generated crate compiles with warnings:\n{stderr}"
    );
    assert!(stdout.contains("e2e storm:"), "{stdout}");
}
