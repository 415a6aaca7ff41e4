//! The `auth` section → [`Auth`]: placement, expiry rules, envelope and the
//! runtime settings; the login it hands to `login.rs`.

use crate::diag::DiagnosticKind;
use crate::model::{
    Auth, AuthOrigins, Envelope, EnvelopeOrigins, ExpiryRule, Lifetime, Login, LoginBackoff, Origin,
    Placement, Retry, RuleOrigins,
};
use crate::yaml::raw;
use crate::yaml::spanned::Sp;

use super::{Cx, each_in, each_of, opt, origin_of, req_origin, text};

/// Stands in for an `auth` already reported missing or broken, so the
/// types and endpoints still get checked.
pub(super) fn stand_in_auth() -> Auth {
    Auth::bearer_defaults(Origin::StandIn)
}

/// Where an expiry rule and its conditions were written.
fn rule_origins(sp: &Sp<raw::ExpiryRule>) -> RuleOrigins {
    let mut o = RuleOrigins {
        rule: sp.pos.origin(),
        ..RuleOrigins::default()
    };
    let Some(rule) = sp.get() else { return o };
    o.status = origin_of(&rule.status);
    o.codes = each_of(&rule.status);
    if let Some(body) = rule.body.as_ref().and_then(Sp::get) {
        o.body_path = req_origin(&body.path);
        o.body_in = req_origin(&body.values);
        o.body_values = each_in(&body.values);
    }
    if let Some(header) = rule.header.as_ref().and_then(Sp::get) {
        o.header_name = req_origin(&header.name);
        o.header_contains = origin_of(&header.contains);
    }
    o.empty_body = origin_of(&rule.empty_body);
    o
}

/// Where an envelope and its parts were written.
fn envelope_origins(sp: &Sp<raw::Envelope>) -> EnvelopeOrigins {
    let mut o = EnvelopeOrigins {
        envelope: sp.pos.origin(),
        ..EnvelopeOrigins::default()
    };
    let Some(env) = sp.get() else { return o };
    o.code = req_origin(&env.code);
    o.success = req_origin(&env.success);
    o.success_values = each_in(&env.success);
    o.data = origin_of(&env.data);
    o.message = origin_of(&env.message);
    o
}

impl Cx<'_, '_> {
    /// The auth section. A part that cannot be read becomes a stand-in,
    /// so the model checks still see the rest.
    pub(super) fn auth(&self, sp: &Sp<raw::Auth>) -> Option<Auth> {
        let a = sp.get()?;
        let at = (sp.pos, sp.path.as_str());
        let what = "`auth`";
        let mut origins = AuthOrigins {
            next_token_header: origin_of(&a.next_token_header),
            expiry: req_origin(&a.expiry),
            chains: origin_of(&a.chains),
            max_replays: origin_of(&a.max_replays),
            login_timeout_ms: origin_of(&a.login_timeout_ms),
            request_timeout_ms: origin_of(&a.request_timeout_ms),
            max_response_bytes: origin_of(&a.max_response_bytes),
            login_backoff_max_ms: a
                .login_backoff
                .as_ref()
                .and_then(Sp::get)
                .map_or(Origin::Unknown, |b| req_origin(&b.max_ms)),
            ..AuthOrigins::default()
        };
        let (placement, placement_origin) = self
            .need(&a.placement, at, what, "placement", "placement: bearer")
            .and_then(|p| self.placement(p))
            .unwrap_or((Placement::Bearer, Origin::StandIn));
        origins.placement = placement_origin;
        let lifetime = self.need(&a.lifetime, at, what, "lifetime", "lifetime: reusable");
        let next = a.next_token_header.as_ref();
        let lifetime = match (lifetime.and_then(Sp::get), next) {
            (Some(raw::Lifetime::SingleUse), Some(h)) => h.get().map(|h| Lifetime::SingleUse {
                next_token_header: h.clone(),
            }),
            (Some(raw::Lifetime::SingleUse), None) => {
                let l = lifetime.map_or(sp.pos, |l| l.pos);
                self.error(
                    DiagnosticKind::Conflict,
                    l,
                    &format!("{}.lifetime", sp.path),
                    "`lifetime: single_use` needs `next_token_header`, the response header that carries the next token; add `next_token_header: B-T`",
                );
                None
            }
            (Some(raw::Lifetime::Reusable), Some(h)) => {
                self.error(
                    DiagnosticKind::Conflict,
                    h.pos,
                    &h.path,
                    "`next_token_header` only applies to `lifetime: single_use`; remove it or make the lifetime single_use",
                );
                None
            }
            (Some(raw::Lifetime::Reusable), None) => Some(Lifetime::Reusable),
            (None, _) => None,
        }
        .unwrap_or_else(|| {
            origins.next_token_header = Origin::StandIn;
            Lifetime::Reusable
        });
        let rules = self
            .need(&a.expiry, at, what, "expiry", "expiry: [{ status: [401] }]")
            .and_then(Sp::get);
        let mut expiry = Vec::new();
        match rules {
            Some(rules) => {
                for r in rules {
                    // A broken rule keeps its place (model paths count by index).
                    match self.expiry(r) {
                        Some(rule) => {
                            expiry.push(rule);
                            origins.rules.push(rule_origins(r));
                        }
                        None => {
                            expiry.push(ExpiryRule::Status(vec![401]));
                            origins.rules.push(RuleOrigins {
                                rule: Origin::StandIn,
                                ..RuleOrigins::default()
                            });
                        }
                    }
                }
            }
            None => origins.expiry = Origin::StandIn,
        }
        let envelope = a.envelope.as_ref().and_then(|e| {
            let envelope = self.envelope(e, e.get()?)?;
            origins.envelope = envelope_origins(e);
            Some(envelope)
        });
        let login = match self
            .need(&a.login, at, what, "login", "login: custom")
            .and_then(|l| self.login(l))
        {
            Some((login, login_origins)) => {
                origins.login = login_origins;
                login
            }
            None => {
                origins.login.login = Origin::StandIn;
                Login::Custom
            }
        };
        Some(Auth {
            placement,
            lifetime,
            expiry,
            envelope,
            login,
            chains: opt(&a.chains),
            exclusive_session: opt(&a.session) == Some(raw::Session::Exclusive),
            max_replays: opt(&a.max_replays),
            login_timeout_ms: opt(&a.login_timeout_ms),
            request_timeout_ms: opt(&a.request_timeout_ms),
            expiry_skew_ms: opt(&a.expiry_skew_ms),
            login_backoff: a.login_backoff.as_ref().and_then(|b| self.login_backoff(b)),
            max_response_bytes: opt(&a.max_response_bytes),
            retry: a.retry.as_ref().and_then(retry),
            origin: sp.pos.origin(),
            origins,
        })
    }

    /// The placement, and where its value (a header, parameter or field) is.
    fn placement(&self, sp: &Sp<raw::Placement>) -> Option<(Placement, Origin)> {
        let (wrap, value): (fn(String) -> Placement, _) = match sp.get()? {
            raw::Placement::Bearer => return Some((Placement::Bearer, sp.pos.origin())),
            raw::Placement::Header(v) => (Placement::Header, v),
            raw::Placement::Query(v) => (Placement::Query, v),
            raw::Placement::JsonBody(v) => (Placement::JsonBody, v),
        };
        Some((wrap(value.get()?.clone()), value.pos.origin()))
    }

    /// One rule: a single condition, or `All` of several keys.
    fn expiry(&self, sp: &Sp<raw::ExpiryRule>) -> Option<ExpiryRule> {
        let rule = sp.get()?;
        // Each key is lowered even after a broken one, so each reports.
        let parts = [
            rule.status.as_ref().map(|codes| {
                Some(ExpiryRule::Status(
                    codes
                        .get()?
                        .iter()
                        .map(|c| c.get().copied())
                        .collect::<Option<_>>()?,
                ))
            }),
            rule.header.as_ref().map(|h| {
                let header = h.get()?;
                let name = self.need(
                    &header.name,
                    (h.pos, &h.path),
                    "the header rule",
                    "name",
                    "name: X-Token-Expired",
                );
                let name = name?.get()?.clone();
                match (&header.value, text(&header.contains)) {
                    (Some(_), Some(_)) => {
                        let c = header.contains.as_ref()?;
                        self.error(
                            DiagnosticKind::Conflict,
                            c.pos,
                            &c.path,
                            "a header rule takes `value` (the whole value) or `contains` (a part of it), not both; keep one",
                        );
                        None
                    }
                    (_, Some(text)) => Some(ExpiryRule::HeaderContains { name, text }),
                    (_, None) => Some(ExpiryRule::Header {
                        name,
                        value: text(&header.value),
                    }),
                }
            }),
            rule.body.as_ref().map(|b| {
                let body = b.get()?;
                let at = (b.pos, b.path.as_str());
                let what = "the body rule";
                let path = self.need(&body.path, at, what, "path", "path: code");
                let values = self.need(&body.values, at, what, "in", "in: [408]");
                Some(ExpiryRule::BodyField {
                    path: path?.get()?.clone(),
                    values: values?
                        .get()?
                        .iter()
                        .map(|v| v.get().map(|s| s.0.clone()))
                        .collect::<Option<_>>()?,
                })
            }),
            rule.empty_body.as_ref().map(|e| match e.get()? {
                true => Some(ExpiryRule::EmptyBody),
                false => {
                    self.error(
                        DiagnosticKind::InvalidValue,
                        e.pos,
                        &e.path,
                        "`empty_body: false` adds no condition; write `empty_body: true` or remove it",
                    );
                    None
                }
            }),
        ];
        let mut conditions = Vec::new();
        for part in parts.into_iter().flatten() {
            conditions.push(part?);
        }
        match conditions.len() {
            0 => {
                // An unknown key already said what is wrong with this rule.
                if !sp.partial {
                    self.error(
                        DiagnosticKind::Shape,
                        sp.pos,
                        &sp.path,
                        "the expiry rule has no condition; give `status`, `header`, `body` or `empty_body`, like `status: [401]`",
                    );
                }
                None
            }
            1 => conditions.pop(),
            _ => Some(ExpiryRule::All(conditions)),
        }
    }

    fn login_backoff(&self, sp: &Sp<raw::LoginBackoff>) -> Option<LoginBackoff> {
        let b = sp.get()?;
        let at = (sp.pos, sp.path.as_str());
        let what = "`login_backoff`";
        let initial = self.need(&b.initial_ms, at, what, "initial_ms", "initial_ms: 500");
        let max = self.need(&b.max_ms, at, what, "max_ms", "max_ms: 30000");
        Some(LoginBackoff {
            initial_ms: *initial?.get()?,
            max_ms: *max?.get()?,
        })
    }

    fn envelope(&self, sp: &Sp<raw::Envelope>, env: &raw::Envelope) -> Option<Envelope> {
        let at = (sp.pos, sp.path.as_str());
        let what = "`envelope`";
        let code = self.need(&env.code, at, what, "code", "code: code");
        let success = self.need(&env.success, at, what, "success", "success: [200]");
        Some(Envelope {
            code: code?.get()?.clone(),
            success: success?
                .get()?
                .iter()
                .map(|v| v.get().map(|s| s.0.clone()))
                .collect::<Option<_>>()?,
            data: text(&env.data),
            message: text(&env.message),
            absent_is_success: opt(&env.absent_is_success).unwrap_or(false),
        })
    }
}

/// A `retry` block, in `auth` or on an endpoint.
pub(super) fn retry(sp: &Sp<raw::Retry>) -> Option<Retry> {
    let r = sp.get()?;
    Some(Retry {
        max_attempts: opt(&r.max_attempts),
        statuses: r
            .statuses
            .as_ref()
            .and_then(Sp::get)
            .map(|list| list.iter().filter_map(|s| s.get().copied()).collect()),
        initial_backoff_ms: opt(&r.initial_backoff_ms),
        max_backoff_ms: opt(&r.max_backoff_ms),
        max_elapsed_ms: opt(&r.max_elapsed_ms),
        max_retry_after_ms: opt(&r.max_retry_after_ms),
        origin: sp.pos.origin(),
    })
}
