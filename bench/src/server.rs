//! The testkit server in a child process, and the line protocol that drives
//! it: one command per line on its stdin, one reply line on its stdout.

use std::process::{ExitCode, Stdio};
use std::time::Duration;

use seamless_sdk_testkit::{Backend, Protocol};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

/// What the server counted, from its `counters` command.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counts {
    pub logins: u64,
    pub refreshes: u64,
    pub requests: u64,
    pub expired_replies: u64,
    pub token_reuse: u64,
    pub max_concurrent_holders: u64,
}

impl Counts {
    /// Password logins and refresh grants: each is one "login" for the rows.
    pub fn sessions(&self) -> u64 {
        self.logins + self.refreshes
    }
}

/// A running server child. Dropping it kills the child.
pub(crate) struct Server {
    ctl: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
    url: String,
    pid: Option<u32>,
    _child: Child,
}

impl Server {
    /// Starts `protocol` (`bearer` with hour-long tokens, or `seed`) in a child process.
    pub async fn start(protocol: &str) -> Server {
        let exe = std::env::current_exe().expect("the benchmark's own path");
        let mut child = Command::new(exe)
            .args(["--serve", protocol])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the server child");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut url = String::new();
        stdout.read_line(&mut url).await.expect("the server's URL");
        assert!(url.starts_with("http://"), "the server child said {url:?}");
        Server {
            ctl: Mutex::new((stdin, stdout)),
            url: url.trim_end().to_owned(),
            pid: child.id(),
            _child: child,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The server process's CPU time so far.
    pub fn cpu(&self) -> Duration {
        match self.pid {
            Some(pid) => crate::cpu::process(Some(pid)),
            None => Duration::ZERO,
        }
    }

    async fn cmd(&self, line: &str) -> String {
        let mut ctl = self.ctl.lock().await;
        let (stdin, stdout) = &mut *ctl;
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write to the server child");
        stdin.flush().await.expect("flush to the server child");
        let mut reply = String::new();
        stdout
            .read_line(&mut reply)
            .await
            .expect("read from the server child");
        reply.trim_end().to_owned()
    }

    /// A one-time Seed login code.
    pub async fn code(&self) -> String {
        self.cmd("code").await
    }

    pub async fn expire_all(&self) {
        self.cmd("expire_all").await;
    }

    pub async fn delay_logins(&self, d: Duration) {
        self.cmd(&format!("delay_logins {}", d.as_millis())).await;
    }

    pub async fn delay_responses(&self, d: Duration) {
        self.cmd(&format!("delay_responses {}", d.as_millis())).await;
    }

    pub async fn reset(&self) {
        self.cmd("reset").await;
    }

    pub async fn counts(&self) -> Counts {
        let reply = self.cmd("counters").await;
        let v: serde_json::Value = serde_json::from_str(&reply).expect("counters as JSON");
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        Counts {
            logins: n("logins"),
            refreshes: n("refreshes"),
            requests: n("requests"),
            expired_replies: n("expired_replies"),
            token_reuse: n("token_reuse"),
            max_concurrent_holders: n("max_concurrent_holders"),
        }
    }
}

/// The child's side: serve `protocol` until stdin closes.
pub(crate) fn serve(protocol: &str) -> ExitCode {
    let protocol = match protocol {
        "seed" => Protocol::Seed,
        "bearer" => Protocol::Bearer {
            ttl: Duration::from_secs(3600),
        },
        other => {
            eprintln!("--serve takes `seed` or `bearer`, not {other:?}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the server's runtime");
    rt.block_on(async {
        let backend = Backend::start(protocol).await;
        println!("{}", backend.url());
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut words = line.split_whitespace();
            let ms = |w: Option<&str>| Duration::from_millis(w.and_then(|w| w.parse().ok()).unwrap_or(0));
            let reply = match words.next() {
                Some("code") => backend.valid_code(),
                Some("expire_all") => {
                    backend.expire_all();
                    "ok".to_owned()
                }
                Some("delay_logins") => {
                    backend.delay_logins(ms(words.next()));
                    "ok".to_owned()
                }
                Some("delay_responses") => {
                    backend.delay_responses(ms(words.next()));
                    "ok".to_owned()
                }
                Some("reset") => {
                    backend.reset_counters();
                    "ok".to_owned()
                }
                Some("counters") => {
                    let c = backend.counters();
                    json!({
                        "logins": c.logins,
                        "refreshes": c.refreshes,
                        "requests": c.requests,
                        "expired_replies": c.expired_replies,
                        "token_reuse": c.token_reuse,
                        "max_concurrent_holders": c.max_concurrent_holders,
                    })
                    .to_string()
                }
                _ => format!("error: unknown command {line:?}"),
            };
            // Line-buffered: each reply reaches the parent at its newline.
            println!("{reply}");
        }
    });
    ExitCode::SUCCESS
}
