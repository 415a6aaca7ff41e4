//! The server's ceiling: the leanest client that still speaks HTTP/1.1 —
//! keep-alive TCP connections, one prebuilt request each, a response read
//! by its `content-length` — so nearly all CPU goes to the server. If it
//! gets more requests per second out of the server than reqwest or seamless
//! do, the server was not what limited them.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Keep-alive connections to one server, reused across rounds.
pub(crate) struct Lean {
    conns: tokio::sync::Mutex<Vec<TcpStream>>,
    request: Arc<[u8]>,
}

impl Lean {
    /// `connections` connections sending `GET path` with `Authorization: auth`.
    pub async fn connect(addr: &str, connections: usize, path: &str, auth: &str) -> io::Result<Lean> {
        let mut conns = Vec::with_capacity(connections);
        for _ in 0..connections {
            let s = TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            conns.push(s);
        }
        let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: {auth}\r\n\r\n");
        Ok(Lean {
            conns: tokio::sync::Mutex::new(conns),
            request: request.into_bytes().into(),
        })
    }

    /// Every connection sends `per_connection` requests, one at a time.
    /// Returns the requests answered 200.
    pub async fn round(&self, per_connection: usize) -> u64 {
        let mut conns = self.conns.lock().await;
        let tasks: Vec<_> = conns
            .drain(..)
            .map(|mut s| {
                let request = Arc::clone(&self.request);
                tokio::spawn(async move {
                    let mut buf = Vec::with_capacity(1024);
                    let mut ok = 0;
                    for _ in 0..per_connection {
                        match exchange(&mut s, &request, &mut buf).await {
                            Ok(200) => ok += 1,
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                    (s, ok)
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            let (s, ok) = t.await.expect("a lean connection task");
            total += ok;
            conns.push(s);
        }
        total
    }
}

/// Writes one request and reads its response; returns the status code.
async fn exchange(s: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) -> io::Result<u16> {
    s.write_all(request).await?;
    buf.clear();
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        read_more(s, buf).await?;
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("non-UTF-8 head"))?;
    let status = head
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or_else(|| bad("no content-length"))?;
    while buf.len() < head_end + length {
        read_more(s, buf).await?;
    }
    Ok(status)
}

async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    let n = s.read(&mut chunk).await?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}
