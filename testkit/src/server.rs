//! The HTTP side: accept loop, hand routing, and the per-protocol wire formats.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Sleep;

use crate::events::Fields;
use crate::idle::{Activity, Tracked};
use crate::render::{self, get_path};
use crate::routes::{Access, Call};
use crate::rules::{Placement, Rules};
use crate::state::{Fault, Rejection, Shared};
use crate::wire::{self, Resp, form_value};
use crate::{MAX_BODY_BYTES, admin, login};

/// The largest request head (request line and headers) a connection may send; hyper
/// answers 431 past it.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Returned from the service to make hyper drop the connection without writing a response
/// (hyper's HTTP/1 dispatcher ends the connection on a service error).
#[derive(Debug)]
pub(crate) struct Abort;

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection aborted by the testkit")
    }
}

impl std::error::Error for Abort {}

/// Accepts connections until aborted. Connection tasks live in a `JoinSet` owned here, so
/// aborting this task (on `Backend` drop) closes them too.
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    // Small request/response pairs; Nagle would only add latency.
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, shared.clone()));
                }
                Err(err) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(%err, "testkit: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            // Reap finished connections so the set does not grow for the server's lifetime.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// What the service answers: a whole body, one cut short ([`Truncated`]), or one generated
/// as it is sent ([`Padded`]).
pub(crate) type ServiceBody = Either<Full<Bytes>, Either<Truncated, Padded>>;

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let activity = Activity::new();
    let service = {
        let (shared, activity) = (shared.clone(), activity.clone());
        service_fn(move |req| {
            let (shared, busy) = (shared.clone(), activity.busy());
            async move {
                let resp = handle(shared, req).await;
                drop(busy);
                resp
            }
        })
    };
    let header_read_timeout = shared.lock().knobs.header_read_timeout;
    // hyper's own `header_read_timeout` is not used: its clock also runs while an idle
    // keep-alive connection waits for its next request, so it would close every idle pooled
    // connection, which is the `keep_alive` knob's business. `head_overdue` times only a
    // request head that is arriving (or a new connection's first one).
    let conn = http1::Builder::new()
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(Tracked::new(stream, activity.clone())), service);
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            () = activity.idle_past(&shared), if !closing => {
                // An idle keep-alive connection: hyper closes it at once (nothing in flight).
                closing = true;
                shared.idle_closed();
                conn.as_mut().graceful_shutdown();
            }
            () = activity.head_overdue(header_read_timeout) => {
                // A slowloris: dropping the connection closes the socket.
                let mut st = shared.lock();
                st.counters.header_timeouts += 1;
                st.event("fault", Fields::default(), "connection closed: request head too slow".to_owned());
                return;
            }
        }
    };
    if let Err(err) = result {
        tracing::debug!(%err, "testkit: connection ended with an error");
        let mut st = shared.lock();
        if err.is_timeout() {
            st.counters.header_timeouts += 1;
            st.event(
                "fault",
                Fields::default(),
                "connection closed: headers too slow".to_owned(),
            );
        } else if err.is_parse() || err.is_parse_too_large() {
            st.counters.malformed_http += 1;
            st.event("fault", Fields::default(), format!("connection closed: {err}"));
        }
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<ServiceBody>, Abort> {
    let (parts, body) = req.into_parts();
    let whole = |r: Resp| r.map(Either::Left);
    if login::is_endpoint(&shared.rules, &parts.method, parts.uri.path()) {
        return login::serve(&shared, parts, body).await;
    }
    if admin::is_endpoint(&parts) {
        return admin::serve(&shared, &parts, body).await.map(whole);
    }
    if parts.method == Method::GET
        && let Some((content_type, page)) = shared.routes.page(parts.uri.path())
    {
        let mut resp = Response::new(Full::new(Bytes::from_static(page)));
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        return Ok(whole(resp));
    }
    match shared.routes.access(&parts.method, parts.uri.path()) {
        Access::Token => api(&shared, parts, body).await,
        Access::Public => public(&shared, parts, body).await,
        Access::Unknown => {
            // Counted, so a test can tell that a public call went out without a token.
            shared.other_arrived(token_outside_body(&shared.rules, &parts).is_some());
            // Read, so the connection's next bytes are its next request.
            if let Err(BodyError::Broken) = read_body(body).await {
                return Err(Abort);
            }
            Ok(whole(wire::json(
                StatusCode::NOT_FOUND,
                &json!({"error": "not_found"}),
                None,
            )))
        }
    }
}

/// A response body that sends part of its bytes, lets hyper flush them (with the headers),
/// then fails, so hyper closes the connection mid-message.
pub(crate) struct Truncated {
    part: Option<Bytes>,
    pause: Pin<Box<Sleep>>,
}

/// How long a truncated body pauses before failing: long enough for hyper to flush the
/// headers and the partial body to the socket first.
const TRUNCATE_PAUSE: Duration = Duration::from_millis(20);

impl Body for Truncated {
    type Data = Bytes;
    type Error = Abort;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Abort>>> {
        if let Some(part) = self.part.take() {
            return Poll::Ready(Some(Ok(Frame::data(part))));
        }
        match self.pause.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Some(Err(Abort))),
        }
    }

    fn is_end_stream(&self) -> bool {
        false
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Turns a whole response into one that announces its full length, sends half of the body
/// and closes the connection.
pub(crate) async fn truncate(resp: Resp) -> Response<ServiceBody> {
    let (mut parts, body) = resp.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let announced = bytes.len() as u64 + 64;
    parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(announced));
    let part = bytes.slice(..bytes.len() / 2);
    Response::from_parts(
        parts,
        Either::Right(Either::Left(Truncated {
            part: (!part.is_empty()).then_some(part),
            pause: Box::pin(tokio::time::sleep(TRUNCATE_PAUSE)),
        })),
    )
}

/// A JSON body of exactly `left` bytes (`{"pad":"xxx…"}`, or as much of it as fits),
/// generated chunk by chunk as hyper sends it, so a body of gigabytes costs the server no
/// memory and a client that stops reading stops it.
pub(crate) struct Padded {
    sent: u64,
    total: u64,
    announce: bool,
}

const PAD_CHUNK: u64 = 64 * 1024;

impl Padded {
    fn byte_at(&self, pos: u64) -> u8 {
        const HEAD: &[u8] = br#"{"pad":""#;
        match pos {
            p if p < HEAD.len() as u64 => HEAD[p as usize],
            p if p + 2 == self.total => b'"',
            p if p + 1 == self.total => b'}',
            _ => b'x',
        }
    }
}

impl Body for Padded {
    type Data = Bytes;
    type Error = Abort;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Abort>>> {
        if self.sent >= self.total {
            return Poll::Ready(None);
        }
        let end = self.total.min(self.sent + PAD_CHUNK);
        let chunk: Vec<u8> = (self.sent..end).map(|p| self.byte_at(p)).collect();
        self.sent = end;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent >= self.total
    }

    fn size_hint(&self) -> SizeHint {
        if self.announce {
            SizeHint::with_exact(self.total - self.sent)
        } else {
            SizeHint::default()
        }
    }
}

/// Turns a success response into one whose body is `bytes` long (announced or chunked);
/// its status and headers (the next token) stay.
pub(crate) fn oversize(resp: Resp, bytes: u64, announce: bool) -> Response<ServiceBody> {
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(
        parts,
        Either::Right(Either::Right(Padded {
            sent: 0,
            total: bytes,
            announce,
        })),
    )
}

/// Turns a response into a redirect: `status`, `Location`, the same headers (the next token)
/// and body.
pub(crate) fn redirect(mut resp: Resp, status: StatusCode, location: &str) -> Resp {
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

pub(crate) enum BodyError {
    TooLarge,
    /// The client went away mid-body; there is nobody to answer.
    Broken,
}

pub(crate) async fn read_body(body: Incoming) -> Result<Bytes, BodyError> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Broken),
    }
}

pub(crate) async fn sleep_for(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// The token a request carries in a header or the query (the placements that need no body).
pub(crate) fn token_outside_body(rules: &Rules, parts: &Parts) -> Option<String> {
    rules
        .placements
        .iter()
        .find_map(|placement| token_at(placement, parts, None))
}

/// The token a request carries, the first placement present winning.
fn token_in(rules: &Rules, parts: &Parts, body: &[u8]) -> Option<String> {
    rules
        .placements
        .iter()
        .find_map(|placement| token_at(placement, parts, Some(body)))
}

fn token_at(placement: &Placement, parts: &Parts, body: Option<&[u8]>) -> Option<String> {
    match placement {
        Placement::Header(name) => parts
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        Placement::Bearer => {
            let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        }
        Placement::Query(name) => form_value(parts.uri.query()?, name),
        Placement::JsonBody(path) => {
            let body = serde_json::from_slice::<Value>(body?).ok()?;
            get_path(&body, path)?.as_str().map(str::to_owned)
        }
    }
}

/// What the event log says about a request: its method, its path (never its query, which
/// may hold a token) and the status it got.
fn fields(parts: &Parts, status: StatusCode) -> Fields {
    Fields {
        method: Some(parts.method.to_string()),
        path: Some(parts.uri.path().chars().take(200).collect()),
        status: Some(status.as_u16()),
    }
}

/// The body of an endpoint's request, or the 413 that refuses it (logged as an event of
/// `kind`); `Err(Abort)` when the client broke the connection.
async fn api_body(
    shared: &Arc<Shared>,
    parts: &Parts,
    body: Incoming,
    kind: &'static str,
) -> Result<Result<Bytes, Response<ServiceBody>>, Abort> {
    match read_body(body).await {
        Ok(body) => Ok(Ok(body)),
        Err(BodyError::Broken) => Err(Abort),
        Err(BodyError::TooLarge) => {
            let status = StatusCode::PAYLOAD_TOO_LARGE;
            shared.event(kind, fields(parts, status), "body too large");
            Ok(Err(
                render::error(&shared.rules, status, "body too large").map(Either::Left)
            ))
        }
    }
}

/// A request the token layer checks (and, single-use, consumes the token of) before the
/// routes answer it.
async fn api(shared: &Arc<Shared>, parts: Parts, body: Incoming) -> Result<Response<ServiceBody>, Abort> {
    let rules = &shared.rules;
    shared.request_arrived();
    // Refused before the token check, so no token is consumed.
    let body = match api_body(shared, &parts, body, "request").await? {
        Ok(body) => body,
        Err(refused) => return Ok(refused),
    };
    let token = token_in(rules, &parts, &body);
    let holder = match shared.authorize(token.as_deref()) {
        Ok(holder) => holder,
        Err(rejection) => {
            let (delay, cut, forbid) = {
                let mut st = shared.lock();
                (
                    st.expired_reply_delay(),
                    st.take_truncate_expired(),
                    st.knobs.forbid_expired,
                )
            };
            sleep_for(delay).await;
            let reply = match (&rules.forbid_expired, &rules.unknown, rejection) {
                (Some(forbidden), _, _) if forbid => forbidden,
                (_, Some(unknown), Rejection::Unknown | Rejection::Reused) => unknown,
                _ => &rules.expired,
            };
            let detail = match rejection {
                Rejection::Unknown if token.is_none() => "no token",
                Rejection::Unknown => "unknown token",
                Rejection::Expired => "expired token",
                Rejection::Reused => "spent token",
            };
            let reply = render::reply(reply);
            shared.event("expired", fields(&parts, reply.status()), detail);
            return Ok(if cut {
                truncate(reply).await
            } else {
                reply.map(Either::Left)
            });
        }
    };
    let session = holder.session();
    let detail = format!("session {session}");
    if let Fault::Status(status) = holder.fault {
        // A proxy's own error: the token was consumed upstream, nothing executed, no next token.
        holder.release();
        shared.event("request", fields(&parts, status), detail);
        return Ok(render::proxy_error(status).map(Either::Left));
    }
    if let Fault::Transient(status, headers) = holder.fault.clone() {
        let next = holder.finish();
        let mut resp = render::with_next(rules, render::error(rules, status, "try again later"), next);
        for (name, value) in &headers {
            render::add_header(&mut resp, name, value);
        }
        shared.event("request", fields(&parts, status), detail);
        return Ok(resp.map(Either::Left));
    }
    sleep_for(holder.delay).await;
    let outcome = {
        let call = Call {
            method: &parts.method,
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            body: &body,
            session: Some(session),
            executions: &**shared,
        };
        shared.routes.answer(&call)
    };
    let fault = holder.fault.clone();
    match fault {
        Fault::Abort => {
            // Executed but unanswered: the session is released, no next token.
            holder.release();
            shared.event(
                "request",
                Fields {
                    status: None,
                    ..fields(&parts, StatusCode::OK)
                },
                detail + ", dropped",
            );
            Err(Abort)
        }
        Fault::Stall => {
            // Executed, never answered: the connection stays open until the client hangs
            // up (hyper then drops this future) or the backend is dropped.
            holder.release();
            shared.event(
                "request",
                Fields {
                    status: None,
                    ..fields(&parts, StatusCode::OK)
                },
                detail + ", stalled",
            );
            std::future::pending::<()>().await;
            Err(Abort)
        }
        Fault::Truncate => {
            let resp = render::outcome(rules, outcome, holder.finish());
            shared.event("request", fields(&parts, resp.status()), detail + ", truncated");
            Ok(truncate(resp).await)
        }
        Fault::Redirect(status, location) => {
            let resp = redirect(
                render::outcome(rules, outcome, holder.finish()),
                status,
                &location,
            );
            shared.event("request", fields(&parts, status), detail + ", redirected");
            Ok(resp.map(Either::Left))
        }
        Fault::Oversize { bytes, announce } => {
            let resp = render::outcome(rules, outcome, holder.finish());
            shared.event("request", fields(&parts, resp.status()), detail + ", oversized");
            Ok(oversize(resp, bytes, announce))
        }
        Fault::None | Fault::Status(_) | Fault::Transient(..) => {
            let resp = render::outcome(rules, outcome, holder.finish());
            shared.event("request", fields(&parts, resp.status()), detail);
            Ok(resp.map(Either::Left))
        }
    }
}

/// A request to an endpoint that needs no token: answered directly, no faults.
async fn public(shared: &Arc<Shared>, parts: Parts, body: Incoming) -> Result<Response<ServiceBody>, Abort> {
    let rules = &shared.rules;
    shared.public_arrived();
    let body = match api_body(shared, &parts, body, "public").await? {
        Ok(body) => body,
        Err(refused) => return Ok(refused),
    };
    let outcome = {
        let call = Call {
            method: &parts.method,
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            body: &body,
            session: None,
            executions: &**shared,
        };
        shared.routes.answer(&call)
    };
    let resp = render::outcome(rules, outcome, None);
    shared.event("public", fields(&parts, resp.status()), "no token needed");
    Ok(resp.map(Either::Left))
}
