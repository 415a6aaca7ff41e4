//! The fuzz corpora as a stable-toolchain regression test: every input a
//! fuzz target kept and every crash it once found, fixed since, goes
//! through the target's own body and must end without a panic within a
//! hang guard. The `spec` target's (`fuzz/corpus/spec`, `fuzz/regressions`)
//! through [`seamless_sdk_codegen::fuzz_one`]; the `openapi` target's
//! (`fuzz/corpus/openapi`, `fuzz/regressions/openapi`) through
//! [`seamless_sdk_codegen::fuzz_openapi_one`]. See `fuzz/README.md`.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Per input, in a debug build. The inputs are at most a few KiB; a real
/// answer takes milliseconds.
const HANG_GUARD: Duration = Duration::from_secs(10);

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files directly in `dir`, sorted; an absent directory has none.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// A fuzz target's body.
type Body = fn(&[u8]);

/// Runs every file through `body` on a worker thread, one at a time, and
/// fails naming each input that panicked or did not end in time.
fn replay(files: Vec<PathBuf>, body: Body) {
    let (tx, rx) = mpsc::channel();
    let count = files.len();
    let worker = std::thread::Builder::new()
        .name("fuzz-corpus".into())
        .spawn(move || {
            for path in files {
                let bytes = std::fs::read(&path).expect("a readable corpus file");
                // Announce first, so a hang is blamed on the right input.
                if tx.send((path.clone(), None)).is_err() {
                    return;
                }
                let start = Instant::now();
                let outcome = std::panic::catch_unwind(|| body(&bytes));
                if tx.send((path, Some((outcome.is_ok(), start.elapsed())))).is_err() {
                    return;
                }
            }
        })
        .expect("a worker thread");

    let mut failures = Vec::new();
    for _ in 0..count {
        let (path, started) = rx.recv().expect("the worker announces each input");
        assert!(started.is_none(), "out of step at {}", path.display());
        match rx.recv_timeout(HANG_GUARD) {
            Ok((_, Some((true, elapsed)))) if elapsed < HANG_GUARD => {}
            Ok((_, Some((true, elapsed)))) => failures.push(format!("{}: took {elapsed:?}", path.display())),
            Ok((_, Some((false, _)))) => {
                failures.push(format!("{}: panicked (message above)", path.display()))
            }
            Ok((_, None)) => unreachable!("one announcement per input"),
            Err(_) => {
                // The worker is stuck; it is left behind and the test ends.
                failures.push(format!("{}: did not end within {HANG_GUARD:?}", path.display()));
                break;
            }
        }
    }
    if failures.is_empty() {
        worker.join().expect("the worker ends");
    }
    assert!(
        failures.is_empty(),
        "{} of {count} inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every file in `corpus/{target}` through `body`, shared out among a few
/// workers; fails when the corpus has fewer than `at_least` files, so that
/// an empty or missing one does not pass as "nothing failed".
fn replay_corpus(target: &str, at_least: usize, body: Body) {
    let dir = fuzz_dir().join("corpus").join(target);
    let files = files_in(&dir);
    assert!(
        files.len() >= at_least,
        "expected the committed fuzz corpus in {} (found {} files)",
        dir.display(),
        files.len()
    );
    // Thousands of inputs, each parsed by a debug build: share them out.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut shares = vec![Vec::new(); workers];
    for (i, file) in files.into_iter().enumerate() {
        shares[i % workers].push(file);
    }
    std::thread::scope(|scope| {
        for share in shares {
            scope.spawn(|| replay(share, body));
        }
    });
}

/// The crash reproducers in `dir`, kept once fixed; none is fine (the
/// fuzzer's uncommitted `artifacts/` is not read: see fuzz/README.md).
fn regressions(dir: &Path) -> Vec<PathBuf> {
    let mut files = files_in(dir);
    files.retain(|p| p.file_name().is_some_and(|n| n != "README.md"));
    files
}

#[test]
fn the_fuzz_corpus_loads_and_emits_without_panics_or_hangs() {
    replay_corpus("spec", 20, seamless_sdk_codegen::fuzz_one);
}

#[test]
fn fixed_fuzz_findings_stay_fixed() {
    replay(
        regressions(&fuzz_dir().join("regressions")),
        seamless_sdk_codegen::fuzz_one,
    );
}

#[test]
fn the_openapi_fuzz_corpus_imports_loads_and_emits_without_panics_or_hangs() {
    replay_corpus("openapi", 10, seamless_sdk_codegen::fuzz_openapi_one);
}

#[test]
fn fixed_openapi_fuzz_findings_stay_fixed() {
    replay(
        regressions(&fuzz_dir().join("regressions/openapi")),
        seamless_sdk_codegen::fuzz_openapi_one,
    );
}
