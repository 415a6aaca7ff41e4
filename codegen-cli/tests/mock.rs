//! `seamless mock` as a user runs it: a child process that prints its URL on
//! stdout within a second, serves the spec's login and endpoints over HTTP,
//! refuses a bad spec with `check`'s diagnostics, and exits 0 on SIGINT and
//! SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use seamless_sdk_codegen::example::example;
use seamless_sdk_codegen::model::TypeRef;
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn spec(name: &str) -> String {
    root().join("specs").join(name).display().to_string()
}

/// A running `seamless mock`, killed if the test fails before it stops it.
struct Mock {
    child: Child,
    url: String,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `seamless mock ARGS` and waits for its one stdout line.
fn start(args: &[&str]) -> Mock {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .arg("mock")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("no listening line within 10 s");
    let elapsed = started.elapsed();
    eprintln!(
        "seamless mock printed its URL {} ms after it was started",
        elapsed.as_millis()
    );
    let url = line
        .trim_end()
        .strip_prefix("seamless mock: listening on ")
        .unwrap_or_else(|| panic!("unexpected stdout line: {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    Mock { child, url }
}

/// Sends `signal` (`INT`, `TERM`) and returns the exit code and stderr.
fn stop(mut mock: Mock, signal: &str) -> (Option<i32>, String) {
    let pid = mock.child.id().to_string();
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = mock.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "SIG{signal} did not stop the mock"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    mock.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stderr)
}

/// Sends `request` and reads its JSON body.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_bearer_spec_is_served_with_its_login_and_stops_on_sigint() {
    let mock = start(&[
        &spec("bearer_api.yaml"),
        "--seed",
        "3",
        "--secret",
        "username=alice",
        "--secret",
        "password=pw-123",
        "--stats-every-ms",
        "100",
    ]);
    let url = mock.url.clone();
    let token = runtime().block_on(async {
        let http = reqwest::Client::new();
        let refused = http
            .post(format!("{url}/oauth/token"))
            .json(&json!({"grant_type": "password", "username": "alice", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "a wrong secret is refused");
        let login: Value = json_of(
            http.post(format!("{url}/oauth/token"))
                .json(&json!({"grant_type": "password", "username": "alice", "password": "pw-123"})),
        )
        .await;
        let token = login["access_token"].as_str().unwrap().to_owned();
        assert!(login["expires_in"].as_u64().is_some(), "{login}");
        let user: Value = json_of(http.get(format!("{url}/api/users/7")).bearer_auth(&token)).await;
        let source = std::fs::read_to_string(spec("bearer_api.yaml")).unwrap();
        let (api, _) = seamless_sdk_codegen::load(&source, "bearer_api.yaml").unwrap();
        assert_eq!(
            user,
            example(&api, &TypeRef::Named("User".into()), 3, "/api/users/7")
        );
        let unknown = http
            .get(format!("{url}/api/users/7"))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), 401);
        std::thread::sleep(Duration::from_millis(300));
        token
    });
    let (code, stderr) = stop(mock, "INT");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("bearer_api: 5 endpoints"), "{stderr}");
    assert!(
        stderr.contains("field `password`: the value given by --secret"),
        "{stderr}"
    );
    assert!(
        stderr.contains("seamless mock: requests"),
        "a counters line: {stderr}"
    );
    assert!(stderr.contains("SIGINT, stopping; requests 2"), "{stderr}");
    assert!(!stderr.contains(&token), "a token in the log: {stderr}");
    assert!(!stderr.contains("pw-123"), "a secret in the log: {stderr}");
}

#[test]
fn the_seed_spec_logs_in_with_a_one_time_code_and_stops_on_sigterm() {
    let mock = start(&[
        &spec("imi_mini.yaml"),
        "--expire-every",
        "2",
        "--stats-every-ms",
        "0",
    ]);
    let url = mock.url.clone();
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let code: Value = json_of(http.post(format!("{url}/__testkit/code"))).await;
        let login = http
            .post(format!("{url}/v1/api/imiMini/login"))
            .json(&json!({"code": code["code"]}))
            .send()
            .await
            .unwrap();
        let mut token = login.headers()["b-t"].to_str().unwrap().to_owned();
        let ping = http
            .get(format!("{url}/api/ping"))
            .header("B-T", &token)
            .send()
            .await
            .unwrap();
        token = ping.headers()["b-t"].to_str().unwrap().to_owned();
        let body: Value = ping.json().await.unwrap();
        assert_eq!(body["code"], 200, "{body}");
        assert!(body["data"]["pong"].is_boolean(), "{body}");
        // The second token-checked request expires every token first (--expire-every 2).
        let expired: Value = json_of(http.get(format!("{url}/api/ping")).header("B-T", &token)).await;
        assert_eq!(expired["code"], 408, "{expired}");
        let stats: Value = json_of(http.get(format!("{url}/__stats"))).await;
        assert_eq!(
            (stats["expirations"].as_u64(), stats["token_reuse"].as_u64()),
            (Some(1), Some(0)),
            "{stats}"
        );
    });
    let (code, stderr) = stop(mock, "TERM");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("a one-time code from POST /__testkit/code"),
        "{stderr}"
    );
    assert!(stderr.contains("SIGTERM, stopping"), "{stderr}");
}

#[test]
fn a_bad_spec_gets_checks_diagnostics_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let seed = std::fs::read_to_string(spec("imi_mini.yaml")).unwrap();
    std::fs::write(&bad, seed.replacen("response: User", "response: Usr", 1)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(["mock", bad.to_str().unwrap(), "--color", "never"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        o.stdout.is_empty(),
        "nothing listens: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let at = format!("{}:", bad.display());
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&at) && l.contains("Usr"))
        .unwrap_or_else(|| panic!("no file:line:column diagnostic: {stderr}"));
    let mut parts = line[at.len()..].splitn(3, ':');
    assert!(parts.next().unwrap().parse::<u32>().is_ok(), "{line}");
    assert!(parts.next().unwrap().parse::<u32>().is_ok(), "{line}");
    let check = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(["check", bad.to_str().unwrap(), "--color", "never"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stderr),
        stderr,
        "the same diagnostics as check"
    );
}

#[test]
fn a_secret_the_spec_does_not_have_is_refused() {
    let o = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(["mock", &spec("bearer_api.yaml"), "--secret", "pasword=x"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--secret pasword"), "{stderr}");
}

#[test]
fn an_openapi_description_is_served_through_its_import() {
    let mock = start(&[&spec("openapi/imi_mini.openapi.yaml"), "--stats-every-ms", "0"]);
    let url = mock.url.clone();
    runtime().block_on(async {
        let stats = reqwest::get(format!("{url}/__stats")).await.unwrap();
        assert_eq!(stats.status(), 200);
        let unknown: Value = reqwest::get(format!("{url}/api/ping"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(unknown["code"], 408, "no token is an unknown token: {unknown}");
    });
    let (code, stderr) = stop(mock, "TERM");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("imported 6 of 6 operations"), "{stderr}");
    assert!(stderr.contains("imi_mini_openapi: 6 endpoints"), "{stderr}");
}

#[test]
fn the_fault_flags_answer_the_next_requests_as_asked() {
    let mock = start(&[
        &spec("wechat_query.yaml"),
        "--fail-next",
        "1",
        "--fail-status",
        "429",
        "--retry-after",
        "3",
        "--redirect-next",
        "1",
        "--redirect-to",
        "/api/ping",
        "--stats-every-ms",
        "0",
    ]);
    let url = mock.url.clone();
    runtime().block_on(async {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login: Value = json_of(http.get(format!(
            "{url}/cgi-bin/token?grant_type=client_credential&appid=a&secret=s"
        )))
        .await;
        let token = login["access_token"].as_str().unwrap().to_owned();
        let ping = format!("{url}/api/ping?access_token={token}");
        // --fail-next comes first, then --redirect-next, then the API itself.
        let failed = http.get(&ping).send().await.unwrap();
        assert_eq!(failed.status(), 429);
        assert_eq!(failed.headers()["retry-after"], "3");
        let redirected = http.get(&ping).send().await.unwrap();
        assert_eq!(redirected.status(), 302);
        assert_eq!(redirected.headers()["location"], "/api/ping");
        let ok: Value = json_of(http.get(&ping)).await;
        assert_eq!(ok["errcode"], 0, "{ok}");
        let stats: Value = json_of(http.get(format!("{url}/__stats"))).await;
        assert_eq!(
            (stats["requests"].as_u64(), stats["logins"].as_u64()),
            (Some(3), Some(1)),
            "{stats}"
        );
    });
    let (code, stderr) = stop(mock, "INT");
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_fault_flag_out_of_range_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args([
            "mock",
            &spec("wechat_query.yaml"),
            "--fail-next",
            "1",
            "--fail-status",
            "200",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("400..=599"), "{stderr}");
}

/// A script that stops the mock as soon as it read the URL must get a clean
/// exit, so the handlers are in place before the line is printed. The signal
/// goes straight from this process (a `kill` child would give the mock time).
#[cfg(unix)]
#[test]
fn a_signal_right_after_the_listening_line_still_stops_it_cleanly() {
    use rustix::process::{Pid, Signal, kill_process};
    for signal in [Signal::INT, Signal::TERM].repeat(5) {
        let mut mock = start(&[&spec("imi_mini.yaml"), "--stats-every-ms", "0"]);
        let pid = Pid::from_raw(i32::try_from(mock.child.id()).unwrap()).unwrap();
        kill_process(pid, signal).unwrap();
        let status = mock.child.wait().unwrap();
        let mut stderr = String::new();
        mock.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(0), "{signal:?}: {status:?} {stderr}");
        assert!(stderr.contains(", stopping; requests 0"), "{stderr}");
    }
}
