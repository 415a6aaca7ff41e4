//! Clients that do not speak HTTP properly, on raw TCP: the server answers or closes them,
//! never panics, stays bounded, and serves everyone else meanwhile. Assertions are on the
//! server's counters; waits are bounded polls, not timings.

use std::time::Duration;

use seamless_sdk_testkit::{Backend, Protocol};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Everything the server sends until it closes the connection (or 10 s pass).
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open"),
        }
    }
}

/// Polls `check` every 10 ms for up to 5 s.
async fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server never counted it");
}

/// A normal client still gets its answer.
async fn still_serves(b: &Backend) {
    let r = reqwest::Client::new()
        .get(format!("{}/api/ping", b.url()))
        .header("B-T", "nope")
        .send()
        .await
        .expect("a normal request");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["code"], 408);
}

#[tokio::test]
async fn malformed_http_gets_400_and_is_closed() {
    let b = Backend::start(Protocol::Seed).await;
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /api/ping HTTP/1.1\r\nHost x\r\n\r\n",
        b"GET /api/ping HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"\x00\x01\x02\xff\xfe\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(b.addr()).await.expect("connect");
        s.write_all(garbage).await.expect("write");
        let reply = read_until_closed(&mut s).await;
        assert!(
            reply.starts_with(b"HTTP/1.1 400"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
    }
    eventually(|| b.counters().malformed_http == 4).await;
    still_serves(&b).await;
    assert_eq!(b.counters().requests, 1);
}

#[tokio::test]
async fn a_one_mebibyte_header_is_refused() {
    let b = Backend::start(Protocol::Seed).await;
    let mut s = TcpStream::connect(b.addr()).await.expect("connect");
    let mut req = b"GET /api/ping HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 1 << 20));
    req.extend_from_slice(b"\r\n\r\n");
    // The server may close before it has read everything: a failed write is expected.
    let _ = s.write_all(&req).await;
    let reply = read_until_closed(&mut s).await;
    assert!(
        reply.is_empty() || reply.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&reply[..reply.len().min(200)])
    );
    eventually(|| b.counters().malformed_http == 1).await;
    still_serves(&b).await;
    assert_eq!(b.counters().requests, 1);
}

#[tokio::test]
async fn a_slowloris_is_closed_while_others_are_served() {
    let b = Backend::start(Protocol::Seed).await;
    // Long enough that the normal client's fresh connection is never mistaken for one.
    b.header_read_timeout(Duration::from_secs(1));
    let mut slow = TcpStream::connect(b.addr()).await.expect("connect");
    slow.write_all(b"GET /api/ping HTTP/1.1\r\n")
        .await
        .expect("write");
    let trickle = async {
        // One header line at a time, never the blank line that ends the head. Bounded:
        // at most 500 lines (10 s).
        for i in 0..500 {
            if slow.write_all(format!("X-{i}: y\r\n").as_bytes()).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut buf = [0u8; 64];
            if let Ok(Ok(0) | Err(_)) =
                tokio::time::timeout(Duration::from_millis(1), slow.read(&mut buf)).await
            {
                return true;
            }
        }
        false
    };
    let (closed, ()) = tokio::join!(trickle, still_serves(&b));
    assert!(closed, "the server never closed the slowloris");
    assert_eq!(b.counters().header_timeouts, 1);

    // A connection that never sends a byte is closed too.
    let mut silent = TcpStream::connect(b.addr()).await.expect("connect");
    assert!(read_until_closed(&mut silent).await.is_empty());
    assert_eq!(b.counters().header_timeouts, 2);
    assert_eq!(b.counters().requests, 1);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_not_a_slowloris() {
    let b = Backend::start(Protocol::Seed).await;
    b.header_read_timeout(Duration::from_millis(400));
    let mut s = TcpStream::connect(b.addr()).await.expect("connect");
    let req = b"GET /api/ping HTTP/1.1\r\nHost: x\r\nB-T: nope\r\n\r\n";
    s.write_all(req).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Idle between requests for longer than the head timeout: still open.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    s.write_all(req).await.expect("write again");
    let n = s.read(&mut buf).await.expect("read again");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    assert_eq!(b.counters().header_timeouts, 0);
    assert_eq!(b.counters().requests, 2);
}
