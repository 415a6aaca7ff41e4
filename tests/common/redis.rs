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

    /// A server of this test's own (one it may stop and restart).
    pub fn private(test: &str) -> Option<Redis> {
        let Some(bin) = redis_server() else {
            let why = format!(
                "{test}: redis-server is not on PATH and SEAMLESS_TEST_REDIS_URL is not set \
                 (install Debian's redis-server, or see README \"A fleet on one Redis\")"
            );
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why}");
            }
            eprintln!("SKIPPED {why}");
            return None;
        };
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

    /// Starts the private server again on the same port, empty.
    pub fn restart(&mut self) {
        let bin = redis_server().expect("it ran before");
        let server = self
            .server
            .as_mut()
            .expect("only a private server can be restarted");
        server.child = start(&bin, server.port, &server._dir);
        self.wait_up();
    }

    fn wait_up(&self) {
        let port: u16 = self.server.as_ref().map(|s| s.port).expect("private");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not listen on port {port} within 10 s");
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

fn redis_server() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
}

fn start(bin: &PathBuf, port: u16, dir: &tempfile::TempDir) -> Child {
    Command::new(bin)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
