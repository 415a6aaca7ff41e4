//! A private `redis-server` for the shared-store rows (P7): started from
//! PATH on a free loopback port, with nothing saved to disk, and killed
//! when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Redis {
    pub url: String,
    child: Child,
    /// Redis's working directory; it writes nothing there (`--save ""`,
    /// no AOF), but one of our own keeps it out of the bench's directory.
    dir: PathBuf,
}

impl Redis {
    /// Starts one, or `None` when `redis-server` is not on PATH.
    pub fn start() -> Option<Redis> {
        let bin = on_path("redis-server")?;
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("seamless-bench-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for redis-server");
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let redis = Redis {
            url: format!("redis://127.0.0.1:{port}/"),
            child,
            dir,
        };
        redis.wait_up(port);
        Some(redis)
    }

    fn wait_up(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not listen on port {port} within 10 s");
    }

    /// The server's process id, to read its CPU time.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A port free now; redis-server binds it a moment later (the same small
/// race the tests' helper accepts).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
