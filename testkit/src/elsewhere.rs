//! Listeners beside the backend: [`Elsewhere`], "another host" a redirect can point to,
//! recording every request that reaches it; [`unreachable_url`], where a connect is refused;
//! [`Blackhole`], where a connect never completes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::MAX_BODY_BYTES;

/// One request that reached an [`Elsewhere`].
#[derive(Clone, Debug)]
pub struct Seen {
    /// Its method.
    pub method: Method,
    /// Its path and query.
    pub path_and_query: String,
    /// Every header it carried (`B-T`, `Authorization`, `Referer`, …).
    pub headers: HeaderMap,
    /// Its body (up to [`MAX_BODY_BYTES`]).
    pub body: Bytes,
}

/// A second loopback listener, standing for another host: it answers every request with
/// HTTP 200 `{}` (or what [`Elsewhere::reply_with`] set) and records it. Dropping it stops it.
pub struct Elsewhere {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    reply: Arc<Mutex<Reply>>,
    task: JoinHandle<()>,
}

/// What an [`Elsewhere`] answers: a status and maybe a `Location`.
type Reply = (StatusCode, Option<String>);

impl std::fmt::Debug for Elsewhere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elsewhere")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Elsewhere {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound, or outside a tokio runtime.
    pub async fn start() -> Elsewhere {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("seamless-sdk-testkit: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("seamless-sdk-testkit: local_addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(Mutex::new((StatusCode::OK, None)));
        let task = tokio::spawn(accept(listener, seen.clone(), reply.clone()));
        Elsewhere {
            addr,
            seen,
            reply,
            task,
        }
    }

    /// From now on every request is answered with `status` (a redirect, say, with
    /// `Location: location`) and the body `{}`.
    pub fn reply_with(&self, status: StatusCode, location: Option<String>) {
        *self.reply.lock().unwrap_or_else(PoisonError::into_inner) = (status, location);
    }

    /// Its base URL, `http://127.0.0.1:PORT`; a different port is a different origin.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request that reached it so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many requests reached it.
    pub fn requests(&self) -> usize {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Drop for Elsewhere {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, seen: Arc<Mutex<Vec<Seen>>>, reply: Arc<Mutex<Reply>>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(serve(stream, seen.clone(), reply.clone()));
                }
                // E.g. out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn serve(stream: TcpStream, seen: Arc<Mutex<Vec<Seen>>>, reply: Arc<Mutex<Reply>>) {
    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let (seen, reply) = (seen.clone(), reply.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            seen.lock().unwrap_or_else(PoisonError::into_inner).push(Seen {
                method: parts.method,
                path_and_query: parts
                    .uri
                    .path_and_query()
                    .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
                headers: parts.headers,
                body,
            });
            let (status, location) = reply.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let mut resp = Response::new(Full::new(Bytes::from_static(b"{}")));
            *resp.status_mut() = status;
            if let Some(v) = location.and_then(|l| http::HeaderValue::from_str(&l).ok()) {
                resp.headers_mut().insert(http::header::LOCATION, v);
            }
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// `http://127.0.0.1:PORT` where nothing listens (the port was bound, then released): a
/// connect there is refused. Another process could take the port meanwhile; on loopback in
/// a test that is rare enough to ignore.
pub fn unreachable_url() -> String {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("seamless-sdk-testkit: bind");
    let addr = listener.local_addr().expect("seamless-sdk-testkit: local_addr");
    drop(listener);
    format!("http://{addr}")
}

/// A loopback listener whose accept queue is full and never drained: the kernel drops new
/// SYNs, so a connect to it hangs until the client gives up (a connect timeout, or a request
/// timeout firing during the connect). Dropping it releases the port.
pub struct Blackhole {
    addr: SocketAddr,
    _listener: TcpListener,
    _filler: TcpStream,
}

impl std::fmt::Debug for Blackhole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blackhole")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Blackhole {
    /// Binds with a backlog of 0 and fills the queue with connections nobody accepts.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound, or outside a tokio runtime.
    pub async fn start() -> Blackhole {
        let socket = TcpSocket::new_v4().expect("seamless-sdk-testkit: socket");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("seamless-sdk-testkit: bind");
        let listener = socket.listen(0).expect("seamless-sdk-testkit: listen");
        let addr = listener.local_addr().expect("seamless-sdk-testkit: local_addr");
        // Linux queues backlog + 1 connections: one filler makes the queue full.
        let filler = TcpStream::connect(addr)
            .await
            .expect("seamless-sdk-testkit: fill the accept queue");
        Blackhole {
            addr,
            _listener: listener,
            _filler: filler,
        }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
