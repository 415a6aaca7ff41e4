//! Rules on what counts as an expired token: some rule, and each rule's
//! statuses, body field, header and combinations.

use crate::diag::DiagnosticKind;
use crate::model::{Auth, ExpiryRule, Origin, RuleOrigins};
use crate::validate::{Ctxt, not_a_code};

/// Some rule, and each rule.
pub(super) fn check(cx: &mut Ctxt<'_>, auth: &Auth) {
    check_expiry_present(cx, auth);
    let unknown = RuleOrigins::default();
    for (i, rule) in auth.expiry.iter().enumerate() {
        let origins = auth.origins.rules.get(i).unwrap_or(&unknown);
        let at = Rule {
            path: &format!("auth.expiry[{i}]"),
            origin: origins.rule.or(&auth.origin),
            origins,
        };
        check_expiry_rule(cx, &at, rule);
    }
}

/// Without a rule no reply counts as expired, so no token is ever renewed.
fn check_expiry_present(cx: &mut Ctxt<'_>, auth: &Auth) {
    if auth.expiry.is_empty() {
        cx.error(
            DiagnosticKind::CannotWork,
            auth.origins.expiry.or(&auth.origin),
            "auth.expiry",
            "`expiry` has no rule, so no reply would ever count as expired; add one, like `- status: [401]`",
        );
    }
}

/// Where an expiry rule is: its spec path (`auth.expiry[0]`), its origin
/// and its parts' origins.
struct Rule<'a> {
    path: &'a str,
    origin: &'a Origin,
    origins: &'a RuleOrigins,
}

impl Rule<'_> {
    /// A part's origin, or the rule's.
    fn at<'o>(&'o self, part: &'o Origin) -> &'o Origin {
        part.or(self.origin)
    }
}

/// One expiry rule.
fn check_expiry_rule(cx: &mut Ctxt<'_>, at: &Rule<'_>, rule: &ExpiryRule) {
    let path = at.path;
    match rule {
        ExpiryRule::Status(codes) => check_status_rule(cx, at, codes),
        ExpiryRule::BodyField { path: field, values } => check_body_rule(cx, at, field, values),
        ExpiryRule::Header { name, .. } => cx.header_name(
            at.at(&at.origins.header_name),
            &format!("{path}.header.name"),
            name,
        ),
        ExpiryRule::HeaderContains { name, text } => {
            cx.header_name(
                at.at(&at.origins.header_name),
                &format!("{path}.header.name"),
                name,
            );
            check_contains(cx, at, text);
        }
        ExpiryRule::EmptyBody => check_empty_body_alone(cx, at),
        ExpiryRule::All(parts) => check_all_rule(cx, at, parts),
    }
}

/// A status rule lists HTTP statuses, at least one.
fn check_status_rule(cx: &mut Ctxt<'_>, at: &Rule<'_>, codes: &[u16]) {
    let list = (at.at(&at.origins.status), &at.origins.codes[..]);
    cx.some_of(
        list,
        &format!("{}.status", at.path),
        codes,
        "status rule lists no status; add one, like `[401]`",
        |code| {
            (!(100..=599).contains(code))
                .then(|| format!("`{code}` is not an HTTP status; use a code from 100 to 599"))
        },
    );
}

/// A body rule names a JSON field and the values (numbers or strings) that
/// mean expired, at least one.
fn check_body_rule(cx: &mut Ctxt<'_>, at: &Rule<'_>, field: &str, values: &[serde_json::Value]) {
    cx.json_path(
        at.at(&at.origins.body_path),
        &format!("{}.body.path", at.path),
        field,
    );
    let list = (at.at(&at.origins.body_in), &at.origins.body_values[..]);
    cx.some_of(
        list,
        &format!("{}.body.in", at.path),
        values,
        "body rule lists no value; add the codes that mean expired, like `in: [408]`",
        |v| not_a_code(v).then(|| format!("expiry value `{v}` must be a number or a string")),
    );
}

/// An empty `contains` holds for any value: it says nothing.
fn check_contains(cx: &mut Ctxt<'_>, at: &Rule<'_>, text: &str) {
    if text.is_empty() {
        cx.error(
            DiagnosticKind::CannotWork,
            at.at(&at.origins.header_contains),
            format!("{}.header.contains", at.path),
            "`contains` is empty, so it holds for any value; remove it to match any value, or give the text",
        );
    }
}

/// Alone, `empty_body` would take a `204 No Content` for an expiry.
fn check_empty_body_alone(cx: &mut Ctxt<'_>, at: &Rule<'_>) {
    cx.error(
        DiagnosticKind::CannotWork,
        at.at(&at.origins.empty_body),
        format!("{}.empty_body", at.path),
        "`empty_body` alone would take every empty reply (a 204) for an expiry; pair it with a status, like `{ status: [403], empty_body: true }`",
    );
}

/// A rule of several conditions: each is a single condition (they are the
/// rule's keys, so they share its path), and `empty_body` goes with a status
/// and never with a body field.
fn check_all_rule(cx: &mut Ctxt<'_>, at: &Rule<'_>, parts: &[ExpiryRule]) {
    for part in parts {
        match part {
            ExpiryRule::EmptyBody => {}
            ExpiryRule::All(_) => cx.error(
                DiagnosticKind::Shape,
                at.origin,
                at.path,
                "an expiry rule cannot nest another; list every condition in one rule",
            ),
            part => check_expiry_rule(cx, at, part),
        }
    }
    let has = |f: fn(&ExpiryRule) -> bool| parts.iter().any(f);
    if has(|p| matches!(p, ExpiryRule::EmptyBody)) {
        if has(|p| matches!(p, ExpiryRule::BodyField { .. })) {
            cx.error(
                DiagnosticKind::CannotWork,
                at.at(&at.origins.empty_body),
                format!("{}.empty_body", at.path),
                "an empty body has no field for the `body` condition to find, so this rule never matches; keep one of the two",
            );
        } else if !has(|p| matches!(p, ExpiryRule::Status(_))) {
            cx.error(
                DiagnosticKind::CannotWork,
                at.at(&at.origins.empty_body),
                format!("{}.empty_body", at.path),
                "`empty_body` without a status would take any empty reply that has this header for an expiry; add a status, like `status: [403]`",
            );
        }
    }
}
