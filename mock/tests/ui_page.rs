//! The storm page at `/__ui` in a real headless browser (Debian's `chromium`),
//! loaded while a generated client runs a storm against the mock: the DOM it
//! renders must show the request counter above zero and a login in the
//! timeline. Without chromium the test says so loudly and passes, except on
//! CI (`CI=true`), where a missing browser is a failure.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sdk_tests::wechat_query::WechatQueryClient;
use seamless_sdk_mock::{MockOptions, UI_PATH, start};

fn chromium() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let fallback = PathBuf::from("/usr/bin/chromium");
        fallback.is_file().then_some(fallback)
    })
}

/// The attribute `name` of the first element whose opening tag contains `marker`.
fn attribute<'a>(dom: &'a str, marker: &str, name: &str) -> Option<&'a str> {
    let at = dom.find(marker)?;
    let start = dom[..at].rfind('<')?;
    let tag = &dom[start..at + dom[at..].find('>')?];
    let key = format!("{name}=\"");
    let from = tag.find(&key)? + key.len();
    Some(&tag[from..from + tag[from..].find('"')?])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_storm_page_shows_counters_and_logins_in_a_headless_browser() {
    let Some(browser) = chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is not installed, and CI=true: the storm page cannot be tested");
        }
        eprintln!("\n*** SKIP: chromium not found on PATH or at /usr/bin/chromium; /__ui not tested ***\n");
        return;
    };
    let api = common::spec("wechat_query.yaml");
    let opts = MockOptions {
        expire_every_requests: Some(25),
        ..MockOptions::default()
    };
    let mock = start(&api, &opts).await.unwrap();
    let client = Arc::new(WechatQueryClient::new(mock.url.clone(), "A", "S").unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let storm: Vec<_> = (0..4u64)
        .map(|w| {
            let (client, stop) = (Arc::clone(&client), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut i = w;
                while !stop.load(Ordering::Relaxed) {
                    client.get_user(i).await.expect("a storm call failed");
                    i += 4;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        })
        .collect();
    while mock.backend.counters().requests < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let profile = tempfile::tempdir().unwrap();
    let url = format!("{}{UI_PATH}", mock.url);
    let started = Instant::now();
    let child = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--virtual-time-budget=3000", "--dump-dom", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let pid = child.id();
    let output = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await;
    let output = match output {
        Ok(done) => done.unwrap().unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("chromium did not finish within 90 s");
        }
    };
    eprintln!("chromium dumped the DOM in {} ms", started.elapsed().as_millis());
    stop.store(true, Ordering::Relaxed);
    for task in storm {
        task.await.unwrap();
    }

    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let requests = attribute(&dom, "id=\"stat-requests\"", "data-value")
        .unwrap_or_else(|| panic!("no #stat-requests tile with a data-value in:\n{dom}"));
    assert!(requests.parse::<u64>().unwrap() > 0, "requests {requests}");
    assert!(
        dom.contains("class=\"event kind-login\""),
        "no login in the timeline:\n{dom}"
    );
    assert!(
        dom.contains("class=\"event kind-expired\""),
        "no expiry in the timeline"
    );
    assert_eq!(
        attribute(&dom, "id=\"stat-token_reuse\"", "data-value"),
        Some("0")
    );
    assert!(
        dom.contains(">live<"),
        "the page never reached the server:\n{dom}"
    );
}
