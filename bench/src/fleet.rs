//! A fleet of client processes sharing one session through Redis (P7):
//! this same binary started again with `--fleet-worker PROTOCOL API_URL
//! REDIS_URL PREFIX`, driven like the server child, one command per line
//! on its stdin and one reply line on its stdout. The workers live for a
//! whole row, so a round times the calls, not process start-up, and their
//! keep-alive connections are opened once.
//!
//! The client both the workers and the bench's in-process sides call is
//! here too ([`Api`]), so the two sides of a P7 line differ in the store
//! and in nothing else.

use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::sdk_tests::bearer_api::BearerApiClient;
use crate::sdk_tests::imi_mini::ImiMiniClient;
use seamless_sdk::{ClientBuilder, RedisStore};
use seamless_sdk_testkit::{BEARER_PASSWORD, BEARER_USERNAME, CODE_PATH};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

/// A generated client of either protocol, on the in-process store or a
/// shared one.
pub(crate) enum Api {
    Bearer(BearerApiClient),
    Seed(ImiMiniClient),
}

impl Api {
    /// `bearer` (reusable tokens, `bearer_api`) or `seed` (single-use, `imi_mini`).
    pub fn new(protocol: &str, url: &str, shared: Option<RedisStore>) -> Api {
        let on = |b: ClientBuilder| match shared {
            Some(store) => b.shared_store(store),
            None => b,
        };
        match protocol {
            "seed" => {
                // As `wx.login` would hand each process a code: the testkit's code endpoint.
                let (http, code_url) = (crate::raw::http(), format!("{url}{CODE_PATH}"));
                let builder = ImiMiniClient::builder(url, move || {
                    let (http, code_url) = (http.clone(), code_url.clone());
                    async move {
                        let reply: serde_json::Value = http.post(code_url).send().await?.json().await?;
                        Ok::<_, reqwest::Error>(reply["code"].as_str().unwrap_or_default().to_owned())
                    }
                });
                Api::Seed(ImiMiniClient::from_client(
                    on(builder).build().expect("the generated client"),
                ))
            }
            _ => {
                let builder = BearerApiClient::builder(url, BEARER_USERNAME, BEARER_PASSWORD);
                Api::Bearer(BearerApiClient::from_client(
                    on(builder).build().expect("the generated client"),
                ))
            }
        }
    }

    /// `GET /api/users/{id}`: the id of the user that came back.
    pub async fn get_user(&self, id: u64) -> Result<u64, seamless_sdk::Error> {
        match self {
            Api::Bearer(c) => c.get_user(id).await.map(|u| u.id),
            Api::Seed(c) => c.get_user(id).await.map(|u| u.id),
        }
    }
}

/// What a batch of calls got.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Outcome {
    pub ok: u64,
    pub failed: u64,
    /// Calls answered with another id's user (a crossed reply).
    pub wrong_user: u64,
    pub first_error: Option<String>,
}

impl Outcome {
    pub fn add(&mut self, other: Outcome) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.wrong_user += other.wrong_user;
        self.first_error = self.first_error.take().or(other.first_error);
    }

    pub fn clean(&self) -> bool {
        self.failed == 0 && self.wrong_user == 0
    }
}

/// `callers` tasks at once, each making `calls` calls in turn, user ids
/// from `first_id` on.
pub(crate) async fn batch(api: &Arc<Api>, callers: usize, calls: usize, first_id: u64) -> Outcome {
    let tasks: Vec<_> = (0..callers)
        .map(|t| {
            let api = Arc::clone(api);
            tokio::spawn(async move {
                let mut out = Outcome::default();
                for i in 0..calls {
                    let id = first_id + (t * calls + i) as u64;
                    match api.get_user(id).await {
                        Ok(got) if got == id => out.ok += 1,
                        Ok(_) => out.wrong_user += 1,
                        Err(e) => {
                            out.failed += 1;
                            out.first_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                out
            })
        })
        .collect();
    let mut all = Outcome::default();
    for t in tasks {
        all.add(t.await.unwrap_or_else(|e| Outcome {
            failed: calls as u64,
            first_error: Some(format!("a caller task ended: {e}")),
            ..Outcome::default()
        }));
    }
    all
}

/// A store on `redis_url` under `prefix`.
pub(crate) fn shared_store(redis_url: &str, prefix: &str) -> RedisStore {
    RedisStore::open(redis_url).expect("a Redis URL").prefix(prefix)
}

/// The running worker processes. Dropping it kills them.
pub(crate) struct Fleet {
    workers: Mutex<Vec<Worker>>,
    pids: Vec<u32>,
}

struct Worker {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    _child: Child,
}

impl Fleet {
    /// Starts `n` workers calling `api_url` over `protocol`, each with a
    /// client on the store at `redis_url` under `prefix`, and waits until
    /// every one has built it.
    pub async fn start(n: usize, protocol: &str, api_url: &str, redis_url: &str, prefix: &str) -> Fleet {
        let exe = std::env::current_exe().expect("the benchmark's own path");
        let mut workers = Vec::with_capacity(n);
        let mut pids = Vec::with_capacity(n);
        for _ in 0..n {
            let mut child = Command::new(&exe)
                .args(["--fleet-worker", protocol, api_url, redis_url, prefix])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("start a fleet worker");
            pids.extend(child.id());
            workers.push(Worker {
                stdin: child.stdin.take().expect("piped stdin"),
                stdout: BufReader::new(child.stdout.take().expect("piped stdout")),
                _child: child,
            });
        }
        for w in &mut workers {
            let mut line = String::new();
            w.stdout
                .read_line(&mut line)
                .await
                .expect("a worker's first line");
            assert_eq!(line.trim_end(), "ready", "a fleet worker said {line:?}");
        }
        Fleet {
            workers: Mutex::new(workers),
            pids,
        }
    }

    pub fn pids(&self) -> &[u32] {
        &self.pids
    }

    /// Every worker runs a [`batch`] of `callers` × `calls` at the same time, each
    /// on its own range of user ids from `first_id`; their outcomes summed.
    pub async fn run(&self, callers: usize, calls: usize, first_id: u64) -> Outcome {
        let mut workers = self.workers.lock().await;
        let per_worker = (callers * calls) as u64;
        // Every command is out before any reply is awaited: the processes run together.
        for (p, w) in workers.iter_mut().enumerate() {
            let line = format!("run {callers} {calls} {}\n", first_id + p as u64 * per_worker);
            w.stdin
                .write_all(line.as_bytes())
                .await
                .expect("write to a fleet worker");
            w.stdin.flush().await.expect("flush to a fleet worker");
        }
        let mut all = Outcome::default();
        for w in workers.iter_mut() {
            let mut reply = String::new();
            w.stdout
                .read_line(&mut reply)
                .await
                .expect("read from a fleet worker");
            let got: Outcome = serde_json::from_str(&reply)
                .unwrap_or_else(|e| panic!("a fleet worker replied {reply:?}: {e}"));
            all.add(got);
        }
        all
    }
}

/// The worker's side: `--fleet-worker PROTOCOL API_URL REDIS_URL PREFIX`,
/// then `run CALLERS CALLS FIRST_ID` lines until stdin closes.
pub(crate) fn work(args: &[String]) -> ExitCode {
    let [protocol, api_url, redis_url, prefix] = args else {
        eprintln!("--fleet-worker takes PROTOCOL API_URL REDIS_URL PREFIX");
        return ExitCode::from(2);
    };
    // Two workers, as the bench's own client runtime has.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a fleet worker's runtime");
    rt.block_on(async {
        let api = Arc::new(Api::new(protocol, api_url, Some(shared_store(redis_url, prefix))));
        println!("ready");
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let n: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|w| w.parse().ok())
                .collect();
            let outcome = match (line.split_whitespace().next(), n.as_slice()) {
                (Some("run"), &[callers, per, first]) => {
                    batch(&api, callers as usize, per as usize, first).await
                }
                _ => Outcome {
                    failed: 1,
                    first_error: Some(format!("unknown command {line:?}")),
                    ..Outcome::default()
                },
            };
            // Line-buffered: the reply reaches the parent at its newline.
            println!("{}", serde_json::to_string(&outcome).expect("an outcome as JSON"));
        }
    });
    // Let the client's background tasks (the Redis listener) go quietly.
    rt.shutdown_timeout(Duration::from_millis(100));
    ExitCode::SUCCESS
}
