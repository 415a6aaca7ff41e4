//! The login endpoint and its refresh grant, as [`Login`] describes them: fields read from
//! JSON, a form or the query; client authentication; the login knobs (delay, forced
//! failures, redirects, oversized replies, expired or unsendable tokens, echoed
//! credentials); and the issued reply.

use std::sync::Arc;

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::request::Parts;
use http::{Method, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::render::{self, set_path};
use crate::rules::{Accept, ClientAuth, ClientAuthKind, Encoding, Login, Refresh, Reply, Rules};
use crate::server::{self, Abort, BodyError, ServiceBody};
use crate::state::{Issued, LoginOutcome, RefreshOutcome, Shared};
use crate::wire::{self, Resp, parse_form};

/// Whether `method path` is this protocol's login or refresh endpoint.
pub(crate) fn is_endpoint(rules: &Rules, method: &Method, path: &str) -> bool {
    let login = &rules.login;
    (login.method == *method && login.path == path)
        || login
            .refresh
            .as_ref()
            .is_some_and(|r| r.method == *method && r.path == path)
}

/// The request's fields: every string value, in order. `None`: a body was expected and
/// could not be read as any accepted encoding.
struct Params(Option<Vec<(String, String)>>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .as_ref()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn malformed(&self) -> bool {
        self.0.is_none()
    }

    /// What a careless server echoes: every value presented.
    fn values(&self) -> String {
        let values: Vec<&str> = self.0.iter().flatten().map(|(_, v)| v.as_str()).collect();
        if values.is_empty() {
            "-".to_owned()
        } else {
            values.join(" ")
        }
    }
}

fn read_params(login: &Login, parts: &Parts, body: &[u8]) -> Params {
    let mut params = Vec::new();
    if login.encodings.contains(&Encoding::Query) {
        params.extend(parse_form(parts.uri.query().unwrap_or("")));
    }
    let wants_body = login.encodings.iter().any(|e| *e != Encoding::Query);
    if !wants_body {
        return Params(Some(params));
    }
    let is_form = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form && login.encodings.contains(&Encoding::Form) {
        params.extend(parse_form(&String::from_utf8_lossy(body)));
        return Params(Some(params));
    }
    if login.encodings.contains(&Encoding::Json)
        && let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body)
    {
        params.extend(
            map.into_iter()
                .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned()))),
        );
        return Params(Some(params));
    }
    if login.encodings.contains(&Encoding::Query) {
        // The query alone may carry the fields.
        return Params(Some(params));
    }
    Params(None)
}

/// Serves the login or refresh endpoint.
pub(crate) async fn serve(
    shared: &Arc<Shared>,
    parts: Parts,
    body: Incoming,
) -> Result<hyper::Response<ServiceBody>, Abort> {
    let rules = &shared.rules;
    let login = &rules.login;
    let body = if login.encodings.iter().any(|e| *e != Encoding::Query) {
        match server::read_body(body).await {
            Ok(body) => body,
            Err(BodyError::Broken) => return Err(Abort),
            Err(BodyError::TooLarge) => {
                // Counted as a failed login: it was a request to the login endpoint.
                let _ = shared.login_arrived(false);
                shared.login_malformed();
                let status = StatusCode::PAYLOAD_TOO_LARGE;
                return Ok(login_reply(
                    shared,
                    render::error(rules, status, "body too large"),
                ));
            }
        }
    } else {
        bytes::Bytes::new()
    };
    let params = read_params(login, &parts, &body);
    let refresh = login.refresh.as_ref().filter(|r| {
        r.method == parts.method
            && r.path == parts.uri.path()
            && match &r.grant {
                Some((field, value)) => params.get(field) == Some(value.as_str()),
                // A refresh grant at the login's own path needs a marker to tell them apart.
                None => r.path != login.path || r.method != login.method,
            }
    });
    let is_login = login.method == parts.method && login.path == parts.uri.path();
    let resp = match refresh {
        Some(refresh) => refresh_grant(shared, refresh, &parts, &params).await,
        None if is_login => log_in(shared, &parts, &params).await,
        // The refresh endpoint without its grant marker: nothing to do but refuse it.
        None => {
            shared.refresh_arrived();
            echo(shared, &params, login.malformed.clone())
        }
    };
    Ok(login_reply(shared, resp))
}

/// Whether the request authenticates the client the way `auth` wants (RFC 6749 §2.3.1).
fn client_authenticated(auth: &ClientAuth, parts: &Parts, params: &Params) -> bool {
    let basic = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let in_body = params.get("client_id").is_some() || params.get("client_secret").is_some();
    match auth.how {
        ClientAuthKind::Basic => {
            let creds = format!(
                "{}:{}",
                wire::form_encode(&auth.client_id),
                wire::form_encode(&auth.client_secret)
            );
            !in_body && basic == Some(format!("Basic {}", wire::base64(creds.as_bytes())).as_str())
        }
        ClientAuthKind::Body => {
            basic.is_none()
                && params.get("client_id") == Some(auth.client_id.as_str())
                && params.get("client_secret") == Some(auth.client_secret.as_str())
        }
    }
}

/// The client-auth refusal, if the client did not authenticate as required.
fn client_refusal(shared: &Shared, parts: &Parts, params: &Params) -> Option<Reply> {
    let auth = shared.lock().knobs.client_auth.clone()?;
    if client_authenticated(&auth, parts, params) {
        return None;
    }
    shared.lock().counters.client_auth_refusals += 1;
    Some(auth.refused)
}

/// The reply, repeating every value presented under the "echo credentials" knob.
fn echo(shared: &Shared, params: &Params, mut reply: Reply) -> Resp {
    if let Some(echo) = &shared.rules.login.echo
        && let Some(body @ Value::Object(_)) = &mut reply.body
        && shared.echo_credentials()
    {
        set_path(
            body,
            &echo.path,
            json!(format!("{} {}", echo.prefix, params.values())),
        );
    }
    render::reply(&reply)
}

/// A redirect armed for the login or refresh grant arriving now.
fn take_redirect(shared: &Shared, params: &Params) -> Option<Resp> {
    let (status, location) = shared.lock().take_login_redirect()?;
    let resp = echo(
        shared,
        params,
        render::error_reply(&shared.rules, status, "redirected"),
    );
    Some(server::redirect(resp, status, &location))
}

async fn log_in(shared: &Arc<Shared>, parts: &Parts, params: &Params) -> Resp {
    let rules = &shared.rules;
    let login = &rules.login;
    let with_token = server::token_outside_body(rules, parts).is_some();
    let delay = shared.login_arrived(with_token);
    server::sleep_for(delay).await;
    if let Some(refused) = client_refusal(shared, parts, params) {
        shared.lock().login_failed("client authentication refused");
        return echo(shared, params, refused);
    }
    if let Some(resp) = take_redirect(shared, params) {
        shared.lock().login_failed("redirected (knob)");
        return resp;
    }
    let outcome = shared.login(|st| {
        if params.malformed() {
            return Err(login.malformed.clone());
        }
        for field in &login.fields {
            let Some(value) = params.get(&field.name) else {
                return Err(if login.absent_is_malformed {
                    login.malformed.clone()
                } else {
                    field.refused.clone()
                });
            };
            let ok = match &field.accept {
                Accept::Exactly(want) => value == want,
                Accept::AnyNonEmpty => !value.is_empty(),
                Accept::OneTimeCode => st.use_code(value),
            };
            if !ok {
                return Err(field.refused.clone());
            }
        }
        Ok(())
    });
    let reply = match outcome {
        LoginOutcome::Issued(issued) => return issued_reply(rules, issued),
        LoginOutcome::Forced => login.forced_failure.clone(),
        LoginOutcome::Status(status) => match &login.unavailable {
            Some(reply) => Reply {
                status: status.as_u16(),
                ..reply.clone()
            },
            None => render::error_reply(rules, status, "login unavailable"),
        },
        LoginOutcome::Rejected(reply) => reply,
    };
    echo(shared, params, reply)
}

async fn refresh_grant(shared: &Arc<Shared>, refresh: &Refresh, parts: &Parts, params: &Params) -> Resp {
    let rules = &shared.rules;
    let delay = shared.refresh_arrived();
    server::sleep_for(delay).await;
    if let Some(refused) = client_refusal(shared, parts, params) {
        // Refused before the grant is looked at: the refresh token is not spent.
        return echo(shared, params, refused);
    }
    let Some(refresh_token) = params.get(&refresh.field) else {
        return echo(shared, params, rules.login.malformed.clone());
    };
    let outcome = shared.refresh(refresh_token);
    // A server that processed the grant (the refresh token is spent) and then redirects:
    // a client that follows re-presents the spent refresh token.
    if let Some(resp) = take_redirect(shared, params) {
        return resp;
    }
    let reply = match outcome {
        RefreshOutcome::Issued(issued) => return issued_reply(rules, issued),
        RefreshOutcome::InvalidGrant => refresh.refused.clone(),
        RefreshOutcome::Unavailable => refresh.unavailable.clone(),
    };
    echo(shared, params, reply)
}

/// The successful login or refresh reply.
fn issued_reply(rules: &Rules, issued: Issued) -> Resp {
    let spec = &rules.login.issued;
    let mut body = spec.body.clone();
    if let Some(path) = &spec.token_path {
        set_path(&mut body, path, json!(issued.access));
    }
    if let (Some(path), Some(ttl)) = (&spec.expires_in_path, rules.ttl) {
        // Whole seconds, rounded up so a sub-second ttl is not reported as 0.
        let expires_in = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        set_path(&mut body, path, json!(expires_in));
    }
    // A refresh grant that does not rotate leaves the field out (RFC 6749 §6).
    if let (Some(path), Some(refresh)) = (&spec.refresh_token_path, issued.refresh) {
        set_path(&mut body, path, json!(refresh));
    }
    let mut resp = wire::json(StatusCode::OK, &body, None);
    if let Some(name) = &spec.token_header {
        render::add_header(&mut resp, name, &issued.access);
    }
    resp
}

/// A login or refresh reply, its body replaced by an oversized one if that is armed.
fn login_reply(shared: &Shared, resp: Resp) -> hyper::Response<ServiceBody> {
    let armed = {
        let mut st = shared.lock();
        let (n, bytes, announce) = &mut st.knobs.oversize_logins;
        crate::state::take_one(n).then_some((*bytes, *announce))
    };
    match armed {
        Some((bytes, announce)) => server::oversize(resp, bytes, announce),
        None => resp.map(http_body_util::Either::Left),
    }
}
