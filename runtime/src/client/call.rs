//! [`Call`]: what a generated method returns. Awaiting it makes the call;
//! before that, the caller may set this call's options or ask for the
//! reply's status and headers beside the value.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::Client;
use crate::error::Error;
use crate::login::BoxFuture;
use crate::options::{CallOptions, Response};
use crate::reply::Reply;
use crate::request::Request;
use crate::retry::RetryPolicy;

/// One prepared call of a typed client's method: `.await` it for the
/// value, or first give it options of its own
/// (`client.get_user(7).timeout(d).await`), or get the status and headers
/// too (`client.get_user(7).with_response().await`).
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<'a, T> {
    client: &'a Client,
    /// Taken by the first poll.
    request: Option<Result<Request, Error>>,
    decode: Decode<T>,
    /// The call in flight, from the first poll on. A future itself (not
    /// only `IntoFuture`), so `join_all`, `select!` and `spawn` take it.
    running: Option<BoxFuture<'a, Result<T, Error>>>,
}

impl<T> std::fmt::Debug for Call<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Call");
        match &self.request {
            Some(Ok(r)) => d.field("method", &r.method).field("path", &r.path),
            Some(Err(e)) => d.field("error", e),
            None => d.field("running", &true),
        };
        d.finish_non_exhaustive()
    }
}

/// How a reply becomes the method's value: decoded as `T`, or (a method
/// returning `()`) read and dropped whatever it holds.
pub(crate) struct Decode<T> {
    pub(crate) owned: fn(Reply) -> Result<T, Error>,
    pub(crate) shared: fn(&Reply) -> Result<T, Error>,
}

impl<T> Clone for Decode<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Decode<T> {}

impl<T: DeserializeOwned> Decode<T> {
    pub(crate) fn value() -> Self {
        Decode {
            owned: Reply::decode::<T>,
            shared: Reply::decode_ref::<T>,
        }
    }
}

impl Decode<()> {
    fn ignored() -> Self {
        Decode {
            owned: |r| r.decode::<serde::de::IgnoredAny>().map(drop),
            shared: |r| r.decode_ref::<serde::de::IgnoredAny>().map(drop),
        }
    }
}

impl Client {
    /// A call of a typed method: `build` makes its request (failing, say,
    /// on a path parameter that cannot be one segment), and the value is
    /// decoded as `T`. This is what generated methods return.
    pub fn prepare<T: DeserializeOwned>(
        &self,
        build: impl FnOnce() -> Result<Request, Error>,
    ) -> Call<'_, T> {
        Call {
            client: self,
            request: Some(build()),
            decode: Decode::value(),
            running: None,
        }
    }

    /// Like [`prepare`](Client::prepare), for a method whose reply is
    /// read and dropped, whatever it holds.
    pub fn prepare_unit(&self, build: impl FnOnce() -> Result<Request, Error>) -> Call<'_, ()> {
        Call {
            client: self,
            request: Some(build()),
            decode: Decode::ignored(),
            running: None,
        }
    }
}

impl<'a, T: Send + 'a> Call<'a, T> {
    /// This call's timeout for each attempt, instead of the client's.
    pub fn timeout(self, d: Duration) -> Self {
        self.map(|r| r.timeout(d))
    }

    /// A header for this call (a trace id, say).
    pub fn header(self, name: &str, value: &str) -> Self {
        self.map(|r| r.header(name, value))
    }

    /// This call's retry policy, instead of the client's and the endpoint's.
    pub fn retry(self, policy: RetryPolicy) -> Self {
        self.map(|r| r.retry(policy))
    }

    /// For a cached endpoint: fetch now, even if a fresh value is cached,
    /// and store what comes back.
    pub fn bypass_cache(self) -> Self {
        self.map(Request::bypass_cache)
    }

    /// Every option in `options`, on top of this call's.
    pub fn options(self, options: &CallOptions) -> Self {
        self.map(|r| options.apply(r))
    }

    /// Makes the call; the value comes with the reply's status and headers
    /// (the single-use token's header removed) and where it came from
    /// ([`Response::cache_status`]).
    pub async fn with_response(self) -> Result<Response<T>, Error> {
        let request = self.request.expect("a call not yet polled holds its request");
        self.client.response(request?, &self.decode).await
    }

    fn map(mut self, f: impl FnOnce(Request) -> Request) -> Self {
        self.request = self.request.map(|r| r.map(f));
        self
    }
}

impl<'a, T: Send + 'a> Future for Call<'a, T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.running.is_none() {
            let (client, decode) = (this.client, this.decode);
            let request = this.request.take().expect("taken only here, once");
            this.running = Some(Box::pin(async move { client.value(request?, &decode).await }));
        }
        this.running.as_mut().expect("set above").as_mut().poll(cx)
    }
}
