//! Rules on a declarative login and its refresh grant: the method, the
//! fields sent, where the token comes back, the refresh token's pairing.

use std::collections::{BTreeSet, HashMap};

use crate::diag::{DiagnosticKind, Severity};
use crate::model::{
    Encoding, HttpMethod, LoginFlow, LoginOrigins, Origin, RefreshGrant, RefreshOrigins, TokenSource,
};
use crate::validate::{Ctxt, nth};

/// A declarative login, and its refresh grant.
pub(super) fn check(cx: &mut Ctxt<'_>, origins: &LoginOrigins, auth: &Origin, flow: &LoginFlow) {
    let o = origins.login.or(auth);
    cx.request_path(origins.path.or(o), "auth.login.path", &flow.path);
    check_login_method(cx, origins, o, flow);
    check_login_fields(cx, origins, o, flow);
    check_token_source(cx, origins.token.or(o), &flow.token);
    if let Some(p) = &flow.expires_in {
        cx.json_path(origins.expires_in.or(o), "auth.login.expires_in", p);
    }
    if let Some(p) = &flow.refresh_token {
        cx.json_path(origins.refresh_token.or(o), "auth.login.refresh_token", p);
    }
    check_refresh_pairing(cx, origins, o, flow);
    if let Some(r) = &flow.refresh {
        let ro = &origins.refresh;
        let o = ro.refresh.or(o);
        cx.request_path(ro.path.or(o), "auth.login.refresh.path", &r.path);
        check_refresh_field(cx, ro.field.or(o), r);
        check_refresh_fields(cx, ro, o, r);
        check_refresh_method(cx, ro, o, flow, r);
    }
}

/// A GET has no body, so a GET login sends its fields in the query.
fn check_login_method(cx: &mut Ctxt<'_>, origins: &LoginOrigins, o: &Origin, flow: &LoginFlow) {
    // The encoding's default follows the method: with a stand-in method,
    // there is nothing to judge.
    if origins.method.is_stand_in() {
        return;
    }
    if flow.method == HttpMethod::Get && flow.encoding != Encoding::Query {
        cx.error(
            DiagnosticKind::Conflict,
            origins.encoding.or(o),
            "auth.login.encoding",
            format!(
                "a GET login cannot send a {} body; use `encoding: query` or another method",
                body_word(flow.encoding)
            ),
        );
    }
}

/// Each field the login sends (constants, secrets, the one-time code) has
/// a name, and no name is sent twice; a login that sends nothing is
/// probably missing its credentials.
fn check_login_fields(cx: &mut Ctxt<'_>, origins: &LoginOrigins, o: &Origin, flow: &LoginFlow) {
    // Every field name the login sends, with where it is declared.
    let mut sent: Vec<(&str, String, &Origin, &str)> = Vec::new();
    for (i, (k, _)) in flow.fields.iter().enumerate() {
        let at = nth(&origins.fields, i, o);
        sent.push((k, format!("auth.login.fields.{k}"), at, "a constant field"));
    }
    for (i, s) in flow.secrets.iter().enumerate() {
        let at = nth(&origins.secrets, i, o);
        sent.push((s, format!("auth.login.secrets[{i}]"), at, "a secret"));
    }
    if let Some(code) = &flow.code_field {
        let at = origins.code.or(o);
        sent.push((code, "auth.login.code".to_owned(), at, "the one-time code"));
    }
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for (name, path, at, what) in &sent {
        if name.trim().is_empty() {
            cx.error(
                DiagnosticKind::InvalidName,
                at,
                path.clone(),
                format!("{what} has an empty field name; name the field"),
            );
            continue;
        }
        if let Some(first) = seen.get(name) {
            cx.error(
                DiagnosticKind::NameClash,
                at,
                path.clone(),
                format!("login field `{name}` is already sent as {first}; keep only one of them"),
            );
        } else {
            seen.insert(name, what);
        }
    }
    if sent.is_empty() {
        cx.report(
            Severity::Warning,
            DiagnosticKind::Empty,
            o,
            "auth.login",
            "the login sends no field; add `secrets`, `code` or `fields` if the server needs credentials",
        );
    }
}

/// The token comes back in a header or at a JSON path.
fn check_token_source(cx: &mut Ctxt<'_>, o: &Origin, token: &TokenSource) {
    match token {
        TokenSource::Header(h) => cx.header_name(o, "auth.login.token.header", h),
        TokenSource::Json(p) => cx.json_path(o, "auth.login.token.json", p),
    }
}

/// A refresh token is read to be used by a refresh grant, and a refresh
/// grant needs one. A grant that could not be read may be the one that
/// uses it.
fn check_refresh_pairing(cx: &mut Ctxt<'_>, origins: &LoginOrigins, o: &Origin, flow: &LoginFlow) {
    match (&flow.refresh_token, &flow.refresh) {
        (Some(_), None) if !origins.refresh.refresh.is_stand_in() => cx.report(
            Severity::Warning,
            DiagnosticKind::Unused,
            origins.refresh_token.or(o),
            "auth.login.refresh_token",
            "the refresh token is read but never used; add a `refresh` grant or remove `refresh_token`",
        ),
        (None, Some(_)) => cx.error(
            DiagnosticKind::CannotWork,
            origins.refresh.refresh.or(o),
            "auth.login.refresh",
            "the refresh grant can never run because no refresh token is read; add `refresh_token: <path>` to `login`",
        ),
        _ => {}
    }
}

/// The grant names the field that carries the refresh token.
fn check_refresh_field(cx: &mut Ctxt<'_>, o: &Origin, r: &RefreshGrant) {
    if r.field.trim().is_empty() {
        cx.error(
            DiagnosticKind::InvalidName,
            o,
            "auth.login.refresh.field",
            "the refresh grant's field is empty; name the field that carries the refresh token",
        );
    }
}

/// The grant's constants and secrets each have a name, none of them the
/// refresh token's field, and no name is sent twice.
fn check_refresh_fields(cx: &mut Ctxt<'_>, origins: &RefreshOrigins, o: &Origin, r: &RefreshGrant) {
    let mut seen = BTreeSet::new();
    for (i, (k, _)) in r.fields.iter().enumerate() {
        let o = nth(&origins.fields, i, o);
        let path = format!("auth.login.refresh.fields.{k}");
        if *k == r.field {
            cx.error(
                DiagnosticKind::NameClash,
                o,
                path,
                format!("`{k}` already carries the refresh token (`field`); remove this constant"),
            );
        } else if !seen.insert(k) {
            cx.error(
                DiagnosticKind::NameClash,
                o,
                path,
                format!("refresh field `{k}` is sent twice; keep one"),
            );
        }
    }
    for (i, k) in r.secrets.iter().enumerate() {
        let o = nth(&origins.secrets, i, o);
        let path = format!("auth.login.refresh.secrets[{i}]");
        if k.trim().is_empty() {
            cx.error(
                DiagnosticKind::InvalidName,
                o,
                path,
                "a refresh secret has an empty field name; name the field",
            );
        } else if *k == r.field {
            cx.error(
                DiagnosticKind::NameClash,
                o,
                path,
                format!("`{k}` already carries the refresh token (`field`); remove this secret"),
            );
        } else if !seen.insert(k) {
            cx.error(
                DiagnosticKind::NameClash,
                o,
                path,
                format!("refresh field `{k}` is sent twice; keep one"),
            );
        }
    }
}

/// A GET grant has no body, so it sends its fields in the query.
fn check_refresh_method(
    cx: &mut Ctxt<'_>,
    origins: &RefreshOrigins,
    o: &Origin,
    flow: &LoginFlow,
    r: &RefreshGrant,
) {
    // The runtime's default: like the login, but never a query.
    let encoding = r.encoding.unwrap_or(match flow.encoding {
        Encoding::Query => Encoding::Json,
        other => other,
    });
    if r.method == Some(HttpMethod::Get) && encoding != Encoding::Query {
        let (at, path, fix) = match r.encoding {
            Some(_) => (
                &origins.encoding,
                "auth.login.refresh.encoding",
                "use `encoding: query` or another method",
            ),
            None => (
                &origins.method,
                "auth.login.refresh.method",
                "add `encoding: query` to the grant",
            ),
        };
        cx.error(
            DiagnosticKind::Conflict,
            at.or(o),
            path,
            format!(
                "a GET refresh grant cannot send a {} body; {fix}",
                body_word(encoding)
            ),
        );
    }
}

/// How a body encoding reads in a message.
fn body_word(encoding: Encoding) -> &'static str {
    if encoding == Encoding::Json {
        "json"
    } else {
        "form"
    }
}
