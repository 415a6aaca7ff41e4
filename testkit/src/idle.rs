//! Idle tracking per connection, for the `keep_alive` knob: a connection with no request in
//! the service and no bytes read or written for longer than the knob is closed by the server,
//! as a real server's keep-alive timeout would (`docs/faults.md`, F16).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::state::Shared;

/// How often a connection re-reads the knob while it is off.
const KNOB_POLL: Duration = Duration::from_millis(50);

/// What one connection is doing: requests in the service, and when bytes last moved.
#[derive(Clone)]
pub(crate) struct Activity(Arc<Inner>);

struct Inner {
    busy: AtomicUsize,
    last: Mutex<Instant>,
    /// When the request head being read now began to arrive (the connection's start for
    /// its first request); `None` while a request is in the service or the connection
    /// waits, idle, for its next one.
    head_since: Mutex<Option<Instant>>,
}

/// A request in the service; dropping it ends the request's busy time.
pub(crate) struct Busy(Activity);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.0.busy.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

impl Activity {
    pub(crate) fn new() -> Activity {
        Activity(Arc::new(Inner {
            busy: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
            head_since: Mutex::new(Some(Instant::now())),
        }))
    }

    pub(crate) fn busy(&self) -> Busy {
        self.0.busy.fetch_add(1, Ordering::SeqCst);
        self.touch();
        *self.0.head_since.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Busy(self.clone())
    }

    /// Bytes arrived: outside a request, they begin the next request head.
    fn read(&self) {
        self.touch();
        if self.0.busy.load(Ordering::SeqCst) == 0 {
            let mut since = self.0.head_since.lock().unwrap_or_else(PoisonError::into_inner);
            since.get_or_insert_with(Instant::now);
        }
    }

    /// Resolves once a request head has been arriving for longer than `limit` without
    /// reaching the service (a slowloris), or a new connection has sent no complete head
    /// within `limit`. An idle keep-alive connection between requests never resolves it
    /// (that is [`Activity::idle_past`]'s business).
    pub(crate) async fn head_overdue(&self, limit: Duration) {
        loop {
            let since = *self.0.head_since.lock().unwrap_or_else(PoisonError::into_inner);
            match since {
                Some(since) if since.elapsed() >= limit => return,
                Some(since) => tokio::time::sleep(limit - since.elapsed() + Duration::from_millis(1)).await,
                None => tokio::time::sleep(limit.min(KNOB_POLL)).await,
            }
        }
    }

    fn touch(&self) {
        *self.0.last.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    fn last(&self) -> Instant {
        *self.0.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Resolves once the connection has been idle (nothing in the service, no bytes moved)
    /// for longer than the `keep_alive` knob. Pending forever while the knob is off.
    pub(crate) async fn idle_past(&self, shared: &Shared) {
        loop {
            let Some(limit) = shared.keep_alive() else {
                tokio::time::sleep(KNOB_POLL).await;
                continue;
            };
            if self.0.busy.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(limit.min(KNOB_POLL)).await;
                continue;
            }
            let idle = self.last().elapsed();
            if idle > limit {
                return;
            }
            tokio::time::sleep(limit - idle + Duration::from_millis(1)).await;
        }
    }
}

/// A stream that records when bytes move through it.
pub(crate) struct Tracked<S> {
    inner: S,
    activity: Activity,
}

impl<S> Tracked<S> {
    pub(crate) fn new(inner: S, activity: Activity) -> Tracked<S> {
        Tracked { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
