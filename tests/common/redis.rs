//! A real Redis server for the fleet tests: the one `.ci/run` started
//! (`SEAMLESS_TEST_REDIS_URL`), or one of our own from `redis-server` on
//! PATH, on a free loopback port, stopped when dropped. Without either the
//! test says so loudly and skips, except under `CI=true`, where it fails.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    pub url: String,
    server: Option<Server>,
}

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// The shared server if CI started one, else a private one.
    pub fn shared(test: &str) -> Option<Redis> {
        if let Ok(url) = std::env::var("SEAMLESS_TEST_REDIS_URL") {
            return Some(Redis { url, server: None });
        }
        Redis::private(test)
    }

    /// No server: for a job whose store is elsewhere (a cluster).
    pub fn none() -> Redis {
        Redis {
            url: String::new(),
            server: None,
        }
    }

    /// A server of this test's own (one it may stop and restart).
    pub fn private(test: &str) -> Option<Redis> {
        let bin = redis_server(test)?;
        let port = free_port();
        let dir = tempfile::tempdir().expect("temporary directory");
        let child = start(&bin, port, &dir);
        let redis = Redis {
            url: format!("redis://127.0.0.1:{port}/"),
            server: Some(Server {
                child,
                port,
                _dir: dir,
            }),
        };
        redis.wait_up();
        Some(redis)
    }

    /// Stops the private server (as a crash would: SIGKILL).
    pub fn stop(&mut self) {
        let server = self
            .server
            .as_mut()
            .expect("only a private server can be stopped");
        let _ = server.child.kill();
        let _ = server.child.wait();
    }

    /// Freezes the private server (SIGSTOP): it keeps its connections and
    /// answers nothing, as a Redis stuck on a slow command or a full disk.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Thaws a paused server (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let server = self
            .server
            .as_ref()
            .expect("only a private server can be signalled");
        let ok = Command::new("kill")
            .args([format!("-{name}"), server.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(ok.success(), "kill -{name} failed");
    }

    /// Starts the private server again on the same port, empty.
    pub fn restart(&mut self) {
        let bin = redis_server("restart").expect("it ran before");
        let server = self
            .server
            .as_mut()
            .expect("only a private server can be restarted");
        server.child = start(&bin, server.port, &server._dir);
        self.wait_up();
    }

    fn wait_up(&self) {
        wait_port(self.server.as_ref().map(|s| s.port).expect("private"));
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(server) = &mut self.server {
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
    }
}

/// `redis-server` from PATH; without it, says so loudly and skips the
/// test, or fails it under `CI=true`.
fn redis_server(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("redis-server"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let why = format!(
            "{test}: redis-server is not on PATH (and SEAMLESS_TEST_REDIS_URL names no server): \
             install Debian's redis-server, or see docs/fleet.md"
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{why}");
        }
        eprintln!("SKIPPED {why}");
    }
    found
}

fn start(bin: &PathBuf, port: u16, dir: &tempfile::TempDir) -> Child {
    server(bin, port, dir).spawn().expect("redis-server starts")
}

/// `redis-server` on loopback `port`, keeping nothing on disk.
fn server(bin: &PathBuf, port: u16, dir: &tempfile::TempDir) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A Redis Cluster of three masters of our own, on free loopback ports
/// (each with its cluster bus port, +10000, free too), stopped when dropped.
pub struct RedisCluster {
    pub nodes: Vec<String>,
    servers: Vec<Child>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    pub fn private(test: &str) -> Option<RedisCluster> {
        let bin = redis_server(test)?;
        let cli = bin.with_file_name("redis-cli");
        let dir = tempfile::tempdir().expect("temporary directory");
        let ports: Vec<u16> = (0..3).map(|_| free_cluster_port()).collect();
        let servers = ports
            .iter()
            .map(|port| {
                server(&bin, *port, &dir)
                    .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                    .arg("--cluster-config-file")
                    .arg(dir.path().join(format!("nodes-{port}.conf")))
                    .spawn()
                    .expect("redis-server starts")
            })
            .collect();
        let cluster = RedisCluster {
            nodes: ports.iter().map(|p| format!("redis://127.0.0.1:{p}/")).collect(),
            servers,
            _dir: dir,
        };
        for port in &ports {
            wait_port(*port);
        }
        let created = Command::new(&cli)
            .arg("--cluster")
            .arg("create")
            .args(ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli runs");
        assert!(created.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in &ports {
            loop {
                let info = Command::new(&cli)
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .output()
                    .expect("redis-cli runs");
                if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the cluster did not reach cluster_state:ok"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(cluster)
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("redis-server did not listen on port {port} within 10 s");
}

/// A free port whose cluster bus port (+10000) is free as well.
fn free_cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port <= 55535 && TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
}
