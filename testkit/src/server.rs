//! The HTTP side: accept loop, hand routing, and the per-protocol wire formats.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, LOCATION, WWW_AUTHENTICATE,
};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Sleep;

use crate::idle::{Activity, Tracked};
use crate::state::{Fault, Issued, LoginOutcome, RefreshOutcome, Rejection, Shared};
use crate::wire::{self, Resp, form_value, parse_form};
use crate::{
    BEARER_CLIENT_ID, BEARER_CLIENT_SECRET, BEARER_PASSWORD, BEARER_USERNAME, ClientAuth, MAX_BODY_BYTES,
    Protocol, QUERY_APPID, QUERY_SECRET, QUERY_TTL,
};

const SEED_LOGIN: &str = "/v1/api/imiMini/login";
const BEARER_LOGIN: &str = "/oauth/token";
const QUERY_LOGIN: &str = "/cgi-bin/token";
/// Where a process that does not share the backend's memory gets a one-time code.
pub const CODE_PATH: &str = "/__testkit/code";
const B_T: HeaderName = HeaderName::from_static("b-t");

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
type ServiceBody = Either<Full<Bytes>, Either<Truncated, Padded>>;

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
    let conn =
        http1::Builder::new().serve_connection(TokioIo::new(Tracked::new(stream, activity.clone())), service);
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
        }
    };
    if let Err(err) = result {
        tracing::debug!(%err, "testkit: connection ended with an error");
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<ServiceBody>, Abort> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let whole = |r: Resp| r.map(Either::Left);
    match (shared.protocol, &parts.method, path) {
        (Protocol::Seed, &Method::POST, SEED_LOGIN) => {
            let with_token = extract_token(shared.protocol, &parts).is_some();
            let body = read_login_body(&shared, body).await?;
            Ok(login_reply(
                &shared,
                match body {
                    Ok(body) => seed_login(&shared, &body, with_token).await,
                    Err(resp) => resp,
                },
            ))
        }
        (Protocol::Bearer { ttl }, &Method::POST, BEARER_LOGIN) => {
            let body = read_login_body(&shared, body).await?;
            Ok(login_reply(
                &shared,
                match body {
                    Ok(body) => bearer_token(&shared, ttl, &parts, &body).await,
                    Err(resp) => resp,
                },
            ))
        }
        (Protocol::Query, &Method::GET, QUERY_LOGIN) => {
            Ok(login_reply(&shared, query_login(&shared, &parts).await))
        }
        _ if path.starts_with("/api/") => api(&shared, parts, body).await,
        // The platform's side of the seed login (`wx.login`), for clients
        // in other processes: a fresh one-time code. Not counted.
        (_, &Method::POST, CODE_PATH) => Ok(whole(wire::json(
            StatusCode::OK,
            &json!({"code": shared.mint_code()}),
            None,
        ))),
        _ => {
            // Counted, so a test can tell that a public call went out without a token.
            shared.other_arrived(extract_token(shared.protocol, &parts).is_some());
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
async fn truncate(resp: Resp) -> Response<ServiceBody> {
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
fn oversize(resp: Resp, bytes: u64, announce: bool) -> Response<ServiceBody> {
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
fn redirect(mut resp: Resp, status: StatusCode, location: &str) -> Resp {
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

enum BodyError {
    TooLarge,
    /// The client went away mid-body; there is nobody to answer.
    Broken,
}

async fn read_body(body: Incoming) -> Result<Bytes, BodyError> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Broken),
    }
}

/// Reads a login body. An oversized body is answered 413 and counted as a failed login
/// (it was a login request); a broken one aborts the connection uncounted.
async fn read_login_body(shared: &Shared, body: Incoming) -> Result<Result<Bytes, Resp>, Abort> {
    match read_body(body).await {
        Ok(body) => Ok(Ok(body)),
        Err(BodyError::Broken) => Err(Abort),
        Err(BodyError::TooLarge) => {
            let _ = shared.login_arrived(false);
            shared.login_malformed();
            Ok(Err(wire::json(
                StatusCode::PAYLOAD_TOO_LARGE,
                &error_body(shared.protocol, StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
                None,
            )))
        }
    }
}

async fn sleep_for(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// A login or refresh reply, its body replaced by an oversized one if that is armed.
fn login_reply(shared: &Shared, resp: Resp) -> Response<ServiceBody> {
    let armed = {
        let mut st = shared.lock();
        let (n, bytes, announce) = &mut st.knobs.oversize_logins;
        crate::state::take_one(n).then_some((*bytes, *announce))
    };
    match armed {
        Some((bytes, announce)) => oversize(resp, bytes, announce),
        None => resp.map(Either::Left),
    }
}

/// An armed login redirect, counted as a failed login (it issued no token).
fn login_redirect(shared: &Shared) -> Option<Resp> {
    let mut st = shared.lock();
    let (status, location) = st.take_login_redirect()?;
    st.counters.logins_failed += 1;
    let body = error_body(shared.protocol, status, "redirected");
    Some(redirect(wire::json(status, &body, None), status, &location))
}

fn ok_json(body: &Value) -> Resp {
    wire::json(StatusCode::OK, body, None)
}

// ---------------------------------------------------------------- logins

async fn seed_login(shared: &Shared, body: &Bytes, with_token: bool) -> Resp {
    let delay = shared.login_arrived(with_token);
    sleep_for(delay).await;
    if let Some(resp) = login_redirect(shared) {
        return resp;
    }
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("code")?.as_str().map(str::to_owned))
        .ok_or("body must be a JSON object with a string field \"code\"");
    let echo = shared.echo_credentials();
    match shared.login(|st| code.as_ref().is_ok_and(|c| st.use_code(c))) {
        LoginOutcome::Forced if echo => ok_json(&json!({
            "code": 500,
            "msg": format!("login failed for code {}", code.as_deref().unwrap_or("-")),
        })),
        LoginOutcome::Forced => ok_json(&json!({"code": 500, "msg": "login failed"})),
        LoginOutcome::Status(status) => wire::json(
            status,
            &json!({"code": status.as_u16(), "msg": "login unavailable"}),
            None,
        ),
        LoginOutcome::Rejected => match code {
            Err(msg) => wire::json(StatusCode::BAD_REQUEST, &json!({"code": 400, "msg": msg}), None),
            Ok(_) => ok_json(&json!({"code": 40029, "msg": "invalid code"})),
        },
        LoginOutcome::Issued(Issued { access, .. }) => wire::json(
            StatusCode::OK,
            &json!({"code": 200, "data": {"token": access}, "msg": "ok"}),
            Some((B_T, access)),
        ),
    }
}

/// Token-endpoint parameters from a form or JSON object body (string values only).
fn token_params(parts: &Parts, body: &Bytes) -> Result<Map<String, Value>, &'static str> {
    let is_form = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let text = String::from_utf8_lossy(body);
        return Ok(parse_form(&text)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("body must be a JSON object or a form"),
    }
}

fn param<'a>(params: &'a Result<Map<String, Value>, &'static str>, name: &str) -> Option<&'a str> {
    params.as_ref().ok()?.get(name)?.as_str()
}

/// Whether the token-endpoint request authenticates the client the way `how` wants.
fn client_authenticated(
    how: ClientAuth,
    parts: &Parts,
    params: &Result<Map<String, Value>, &'static str>,
) -> bool {
    let basic = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let in_body = param(params, "client_id").is_some() || param(params, "client_secret").is_some();
    match how {
        ClientAuth::Basic => {
            let creds = format!(
                "{}:{}",
                wire::form_encode(BEARER_CLIENT_ID),
                wire::form_encode(BEARER_CLIENT_SECRET)
            );
            !in_body && basic == Some(format!("Basic {}", wire::base64(creds.as_bytes())).as_str())
        }
        ClientAuth::Body => {
            basic.is_none()
                && param(params, "client_id") == Some(BEARER_CLIENT_ID)
                && param(params, "client_secret") == Some(BEARER_CLIENT_SECRET)
        }
    }
}

async fn bearer_token(shared: &Shared, ttl: Duration, parts: &Parts, body: &Bytes) -> Resp {
    let params = token_params(parts, body);
    let client_auth = shared.lock().knobs.client_auth;
    let client_refused = client_auth.is_some_and(|how| !client_authenticated(how, parts, &params));
    // `echo_credentials_in_errors`: every value presented, as a careless
    // server puts it in `error_description`.
    let echo = shared.echo_credentials().then(|| {
        let values = params.iter().flatten().filter_map(|(_, v)| v.as_str());
        format!("grant refused for {}", values.collect::<Vec<_>>().join(" "))
    });
    let bearer_error = |status: StatusCode, error: &str| match &echo {
        Some(d) => wire::json(status, &json!({"error": error, "error_description": d}), None),
        None => wire::json(status, &json!({"error": error}), None),
    };
    if param(&params, "grant_type") == Some("refresh_token") {
        let delay = shared.refresh_arrived();
        sleep_for(delay).await;
        if client_refused {
            // Refused before the grant is looked at: the refresh token is not spent.
            shared.lock().counters.client_auth_refusals += 1;
            return bearer_error(StatusCode::UNAUTHORIZED, "invalid_client");
        }
        let Some(refresh_token) = param(&params, "refresh_token") else {
            return bearer_error(StatusCode::BAD_REQUEST, "invalid_request");
        };
        let outcome = shared.refresh(refresh_token);
        // A server that processed the grant (the refresh token is spent) and then redirects:
        // a client that follows re-presents the spent refresh token.
        if let Some((status, location)) = shared.lock().take_login_redirect() {
            return redirect(bearer_error(status, "redirected"), status, &location);
        }
        return match outcome {
            RefreshOutcome::Issued(issued) => bearer_issued(issued, ttl),
            RefreshOutcome::InvalidGrant => bearer_error(StatusCode::BAD_REQUEST, "invalid_grant"),
            RefreshOutcome::Unavailable => {
                bearer_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
            }
        };
    }
    let delay = shared.login_arrived(extract_token(shared.protocol, parts).is_some());
    sleep_for(delay).await;
    if client_refused {
        let mut st = shared.lock();
        st.counters.client_auth_refusals += 1;
        st.counters.logins_failed += 1;
        return bearer_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if let Some(resp) = login_redirect(shared) {
        return resp;
    }
    let creds_ok = param(&params, "grant_type") == Some("password")
        && param(&params, "username") == Some(BEARER_USERNAME)
        && param(&params, "password") == Some(BEARER_PASSWORD);
    match shared.login(|_| creds_ok) {
        LoginOutcome::Issued(issued) => bearer_issued(issued, ttl),
        LoginOutcome::Status(status) => bearer_error(status, "temporarily_unavailable"),
        LoginOutcome::Rejected if params.is_err() => bearer_error(StatusCode::BAD_REQUEST, "invalid_request"),
        LoginOutcome::Forced | LoginOutcome::Rejected => {
            bearer_error(StatusCode::BAD_REQUEST, "invalid_grant")
        }
    }
}

fn bearer_issued(issued: Issued, ttl: Duration) -> Resp {
    // `expires_in` is whole seconds; round up so a sub-second ttl is not reported as 0.
    let expires_in = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    let mut body = json!({
        "access_token": issued.access,
        "token_type": "Bearer",
        "expires_in": expires_in,
    });
    // A refresh grant that does not rotate omits the field (RFC 6749 §6).
    if let Some(refresh) = issued.refresh {
        body["refresh_token"] = json!(refresh);
    }
    ok_json(&body)
}

async fn query_login(shared: &Shared, parts: &Parts) -> Resp {
    let delay = shared.login_arrived(extract_token(shared.protocol, parts).is_some());
    sleep_for(delay).await;
    if let Some(resp) = login_redirect(shared) {
        return resp;
    }
    let query = parts.uri.query().unwrap_or("");
    let check = if form_value(query, "grant_type").as_deref() != Some("client_credential") {
        Err((40002, "invalid grant_type"))
    } else if form_value(query, "appid").as_deref() != Some(QUERY_APPID) {
        Err((40013, "invalid appid"))
    } else if form_value(query, "secret").as_deref() != Some(QUERY_SECRET) {
        Err((40125, "invalid appsecret"))
    } else {
        Ok(())
    };
    match shared.login(|_| check.is_ok()) {
        LoginOutcome::Issued(issued) => ok_json(&json!({
            "access_token": issued.access,
            "expires_in": QUERY_TTL.as_secs(),
        })),
        LoginOutcome::Forced => ok_json(&json!({"errcode": 40013, "errmsg": "invalid appid"})),
        LoginOutcome::Status(status) => {
            wire::json(status, &json!({"errcode": -1, "errmsg": "system busy"}), None)
        }
        LoginOutcome::Rejected => {
            let (errcode, errmsg) = check.err().unwrap_or((40013, "invalid appid"));
            ok_json(&json!({"errcode": errcode, "errmsg": errmsg}))
        }
    }
}

// ---------------------------------------------------------------- API

/// What an executed API request produced, before the protocol's wire format is applied.
enum Outcome {
    Data(Value),
    AppError,
    /// A permission error: the token is good, the caller may not do this.
    Forbidden,
    BadRequest(&'static str),
    NotFound,
}

async fn api(shared: &Arc<Shared>, parts: Parts, body: Incoming) -> Result<Response<ServiceBody>, Abort> {
    let protocol = shared.protocol;
    shared.request_arrived();
    let token = extract_token(protocol, &parts);
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(BodyError::Broken) => return Err(Abort),
        Err(BodyError::TooLarge) => {
            // Refused before the token check, so no token is consumed.
            let status = StatusCode::PAYLOAD_TOO_LARGE;
            let body = error_body(protocol, status, "body too large");
            return Ok(wire::json(status, &body, None).map(Either::Left));
        }
    };
    // Seed also takes the token from a JSON body field `token` when the header is absent,
    // so clients that place the token in the body can be tested too.
    let token = token.or_else(|| match protocol {
        Protocol::Seed => serde_json::from_slice::<Value>(&body)
            .ok()?
            .get("token")?
            .as_str()
            .map(str::to_owned),
        _ => None,
    });
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
            let reply = if forbid && matches!(protocol, Protocol::Bearer { .. }) {
                bare_forbidden()
            } else {
                expired_reply(protocol, rejection)
            };
            return Ok(if cut {
                truncate(reply).await
            } else {
                reply.map(Either::Left)
            });
        }
    };
    if let Fault::Status(status) = holder.fault {
        // A proxy's own error: the token was consumed upstream, nothing executed, no next token.
        holder.release();
        return Ok(proxy_error(status).map(Either::Left));
    }
    if let Fault::Transient(status, headers) = holder.fault.clone() {
        let next = holder.finish();
        return Ok(transient(protocol, status, &headers, next).map(Either::Left));
    }
    sleep_for(holder.delay).await;
    let key = parts
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let outcome = match (&parts.method, parts.uri.path()) {
        // Whose token this was: one session's reply must never reach another.
        (&Method::GET, "/api/whoami") => Outcome::Data(json!({"session": holder.session()})),
        (method, path) => route(shared, method, path, &body, key),
    };
    match holder.fault.clone() {
        Fault::Abort => {
            // Executed but unanswered: the session is released, no next token.
            holder.release();
            Err(Abort)
        }
        Fault::Stall => {
            // Executed, never answered: the connection stays open until the client hangs
            // up (hyper then drops this future) or the backend is dropped.
            holder.release();
            std::future::pending::<()>().await;
            Err(Abort)
        }
        Fault::Truncate => {
            let next = holder.finish();
            Ok(truncate(render(protocol, outcome, next)).await)
        }
        Fault::Redirect(status, location) => {
            let next = holder.finish();
            Ok(redirect(render(protocol, outcome, next), status, &location).map(Either::Left))
        }
        Fault::Oversize { bytes, announce } => {
            let next = holder.finish();
            Ok(oversize(render(protocol, outcome, next), bytes, announce))
        }
        Fault::None | Fault::Status(_) | Fault::Transient(..) => {
            let next = holder.finish();
            Ok(render(protocol, outcome, next).map(Either::Left))
        }
    }
}

/// The API's own transient failure: `status`, an error body in the protocol's shape, the
/// extra headers (`Retry-After`), and the next token.
fn transient(
    protocol: Protocol,
    status: StatusCode,
    headers: &[(String, String)],
    next: Option<String>,
) -> Resp {
    let body = error_body(protocol, status, "try again later");
    let mut resp = wire::json(status, &body, next.map(|t| (B_T, t)));
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
    resp
}

/// A generic error page from something in front of the API (a proxy or gateway): a real
/// HTTP status, a non-JSON body, no token.
fn proxy_error(status: StatusCode) -> Resp {
    let text = format!(
        "<html><body><h1>{} {}</h1></body></html>",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    resp
}

fn extract_token(protocol: Protocol, parts: &Parts) -> Option<String> {
    match protocol {
        Protocol::Seed => parts
            .headers
            .get(B_T)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        Protocol::Bearer { .. } => {
            let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        }
        Protocol::Query => form_value(parts.uri.query()?, "access_token"),
    }
}

/// A production OAuth2 server's expired-token reply: 403, no body.
fn bare_forbidden() -> Resp {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::FORBIDDEN;
    resp.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(
            r#"Bearer realm="testkit", error="invalid_token", error_description="The access token expired""#,
        ),
    );
    resp
}

fn expired_reply(protocol: Protocol, rejection: Rejection) -> Resp {
    match protocol {
        Protocol::Seed => ok_json(&json!({"code": 408, "msg": "token expired"})),
        Protocol::Bearer { .. } => wire::json(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "invalid_token"}),
            Some((WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#.to_owned())),
        ),
        Protocol::Query => match rejection {
            Rejection::Expired => ok_json(&json!({"errcode": 42001, "errmsg": "access_token expired"})),
            Rejection::Unknown | Rejection::Reused => {
                ok_json(&json!({"errcode": 40001, "errmsg": "invalid credential"}))
            }
        },
    }
}

fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    body: &Bytes,
    idempotency_key: Option<String>,
) -> Outcome {
    let rest = path.strip_prefix("/api/").unwrap_or(path);
    match (method, rest) {
        (&Method::GET, "ping") => Outcome::Data(json!({"pong": true})),
        (&Method::GET, "fail") => Outcome::AppError,
        (&Method::GET, "forbidden") => Outcome::Forbidden,
        (&Method::POST, "echo") => match serde_json::from_slice::<Value>(body) {
            Ok(value) => Outcome::Data(value),
            Err(_) => Outcome::BadRequest("body must be JSON"),
        },
        (&Method::POST, "orders") => {
            let order_id = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("order_id").cloned());
            let key = match &order_id {
                Some(Value::String(s)) => s.clone(),
                Some(n @ Value::Number(_)) => n.to_string(),
                _ => return Outcome::BadRequest("body must be a JSON object with \"order_id\""),
            };
            let executions = shared.execute_order(key, idempotency_key);
            Outcome::Data(json!({"order_id": order_id, "executions": executions}))
        }
        (&Method::GET, _) => match rest.strip_prefix("users/") {
            Some(id) if !id.is_empty() && !id.contains('/') => {
                let id_value = id
                    .parse::<i64>()
                    .map_or_else(|_| Value::String(id.to_owned()), Value::from);
                Outcome::Data(json!({"id": id_value, "name": format!("user-{id}")}))
            }
            _ => Outcome::NotFound,
        },
        _ => Outcome::NotFound,
    }
}

/// An error body in the protocol's style.
fn error_body(protocol: Protocol, status: StatusCode, msg: &str) -> Value {
    match protocol {
        Protocol::Seed => json!({"code": status.as_u16(), "msg": msg}),
        Protocol::Bearer { .. } => {
            let error = match status {
                StatusCode::BAD_REQUEST => "invalid_request",
                StatusCode::NOT_FOUND => "not_found",
                _ => "payload_too_large",
            };
            json!({"error": error, "error_description": msg})
        }
        Protocol::Query => {
            // 47001 is WeChat's "data format error"; other statuses reuse the HTTP code.
            let errcode = match status {
                StatusCode::BAD_REQUEST => 47001,
                other => other.as_u16(),
            };
            json!({"errcode": errcode, "errmsg": msg})
        }
    }
}

fn render(protocol: Protocol, outcome: Outcome, next: Option<String>) -> Resp {
    let header = next.map(|t| (B_T, t));
    let (status, body) = match (protocol, outcome) {
        (_, Outcome::BadRequest(msg)) => (
            StatusCode::BAD_REQUEST,
            error_body(protocol, StatusCode::BAD_REQUEST, msg),
        ),
        (_, Outcome::NotFound) => (
            StatusCode::NOT_FOUND,
            error_body(protocol, StatusCode::NOT_FOUND, "not found"),
        ),
        (Protocol::Seed, Outcome::Data(data)) => {
            (StatusCode::OK, json!({"code": 200, "data": data, "msg": "ok"}))
        }
        (Protocol::Seed, Outcome::AppError) => (
            StatusCode::OK,
            json!({"code": 4001, "msg": "insufficient balance"}),
        ),
        (Protocol::Seed, Outcome::Forbidden) => (StatusCode::OK, json!({"code": 403, "msg": "forbidden"})),
        (Protocol::Bearer { .. }, Outcome::Forbidden) => {
            return wire::json(
                StatusCode::FORBIDDEN,
                &json!({"error": "insufficient_scope"}),
                Some((
                    WWW_AUTHENTICATE,
                    r#"Bearer realm="testkit", error="insufficient_scope""#.to_owned(),
                )),
            );
        }
        (Protocol::Query, Outcome::Forbidden) => (
            StatusCode::OK,
            json!({"errcode": 48001, "errmsg": "api unauthorized"}),
        ),
        (Protocol::Bearer { .. }, Outcome::Data(data)) => (StatusCode::OK, data),
        (Protocol::Bearer { .. }, Outcome::AppError) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": "insufficient_balance"}),
        ),
        (Protocol::Query, Outcome::Data(data)) => {
            let mut map = match data {
                Value::Object(map) => map,
                other => Map::from_iter([("data".to_owned(), other)]),
            };
            // The envelope wins over same-named data fields: the reply must read as success.
            map.insert("errcode".to_owned(), json!(0));
            map.insert("errmsg".to_owned(), json!("ok"));
            (StatusCode::OK, Value::Object(map))
        }
        (Protocol::Query, Outcome::AppError) => {
            (StatusCode::OK, json!({"errcode": 45009, "errmsg": "api limit"}))
        }
    };
    wire::json(status, &body, header)
}
