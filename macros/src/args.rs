//! `#[token_client(...)]` arguments: the YAML `auth` section (and `name`,
//! `client`, `doc`, `base_url`, `spec`) as attribute arguments.

use proc_macro2::Span;
use seamless_sdk_codegen::model::{
    Auth, AuthOrigins, ClientAuth, Encoding, Envelope, EnvelopeOrigins, ExpiryRule, HttpMethod, Lifetime,
    Login, LoginBackoff, LoginFlow, LoginOrigins, Origin, Placement, RefreshGrant, Retry, RuleOrigins,
    TokenSource,
};
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::{Ident, Lit, LitStr, Token, bracketed, parenthesized};

use crate::Errors;

/// The parsed arguments, before they become a model.
#[derive(Default)]
pub(crate) struct Args {
    pub name: Option<LitStr>,
    pub client: Option<LitStr>,
    pub doc: Option<LitStr>,
    pub base_url: Option<LitStr>,
    pub spec: Option<LitStr>,
    /// With an OpenAPI `spec`: the file with the seamless `auth` section.
    pub overlay: Option<LitStr>,
    placement: Option<(Placement, Span)>,
    lifetime: Option<(bool, Span)>,
    next_token_header: Option<LitStr>,
    expiry: Vec<ExpiryRule>,
    envelope: Option<Envelope>,
    login: Option<(Option<LoginFlow>, Span)>,
    chains: Option<u32>,
    exclusive_session: bool,
    max_replays: Option<u32>,
    login_timeout_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    expiry_skew_ms: Option<u64>,
    login_backoff: Option<LoginBackoff>,
    max_response_bytes: Option<u64>,
    retry: Option<Retry>,
    /// Every auth argument given, with its key's span (so `spec` can refuse
    /// them, and the model's origins point at them).
    pub auth_spans: Vec<(String, Span)>,
}

const KEYS: &str = "name, client, doc, base_url, spec, overlay, placement, lifetime, next_token_header, expiry, envelope, login, chains, session, max_replays, login_timeout_ms, request_timeout_ms, expiry_skew_ms, login_backoff, max_response_bytes, retry";

impl Args {
    /// One top-level argument; errors go to `errs` so parsing goes on.
    pub fn parse_one(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let name = key(meta)?;
        let span = meta.path.segments[0].ident.span();
        let is_auth = !matches!(
            name.as_str(),
            "name" | "client" | "doc" | "base_url" | "spec" | "overlay"
        );
        if is_auth {
            self.auth_spans.push((name.clone(), span));
        }
        match name.as_str() {
            "name" => self.name = Some(meta.value()?.parse()?),
            "client" => self.client = Some(meta.value()?.parse()?),
            "doc" => self.doc = Some(meta.value()?.parse()?),
            "base_url" => self.base_url = Some(meta.value()?.parse()?),
            "spec" => self.spec = Some(meta.value()?.parse()?),
            "overlay" => self.overlay = Some(meta.value()?.parse()?),
            "placement" => self.placement = Some((placement(meta.value()?)?, span)),
            "lifetime" => {
                let id: Ident = meta.value()?.parse()?;
                let single = match id.to_string().as_str() {
                    "single_use" => true,
                    "reusable" => false,
                    _ => {
                        return Err(syn::Error::new(
                            id.span(),
                            "unknown lifetime; use `single_use` or `reusable`",
                        ));
                    }
                };
                self.lifetime = Some((single, span));
            }
            "next_token_header" => self.next_token_header = Some(meta.value()?.parse()?),
            "expiry" => meta.parse_nested_meta(|rule| {
                self.expiry.push(expiry_rule(&rule)?);
                Ok(())
            })?,
            "envelope" => {
                let mut env = Envelope {
                    code: String::new(),
                    success: Vec::new(),
                    data: None,
                    message: None,
                    absent_is_success: false,
                };
                let mut has_code = false;
                meta.parse_nested_meta(|f| {
                    match key(&f)?.as_str() {
                        "code" => {
                            env.code = f.value()?.parse::<LitStr>()?.value();
                            has_code = true;
                        }
                        "success" => env.success = json_list(f.value()?)?,
                        "data" => env.data = Some(f.value()?.parse::<LitStr>()?.value()),
                        "message" => env.message = Some(f.value()?.parse::<LitStr>()?.value()),
                        "absent_is_success" => {
                            env.absent_is_success = f.value()?.parse::<syn::LitBool>()?.value
                        }
                        _ => return Err(f.error(
                            "unknown `envelope` key; use code, success, data, message or absent_is_success",
                        )),
                    }
                    Ok(())
                })?;
                if !has_code {
                    return Err(meta.error("`envelope` has no `code`; add `code = \"code\"`"));
                }
                self.envelope = Some(env);
            }
            "login" => {
                if meta.input.peek(Token![=]) {
                    let id: Ident = meta.value()?.parse()?;
                    if id != "custom" {
                        return Err(syn::Error::new(
                            id.span(),
                            "write `login = custom` or `login(method = \"POST\", path = \"...\", ...)`",
                        ));
                    }
                    self.login = Some((None, span));
                } else {
                    self.login = Some((Some(login(meta)?), span));
                }
            }
            "chains" => self.chains = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?),
            "session" => {
                let id: Ident = meta.value()?.parse()?;
                self.exclusive_session = match id.to_string().as_str() {
                    "exclusive" => true,
                    "shared" => false,
                    _ => {
                        return Err(syn::Error::new(
                            id.span(),
                            "write `session = exclusive` or `session = shared`",
                        ));
                    }
                };
            }
            "max_replays" => self.max_replays = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?),
            "login_timeout_ms" => {
                self.login_timeout_ms = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?)
            }
            "request_timeout_ms" => {
                self.request_timeout_ms = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?)
            }
            "max_response_bytes" => {
                self.max_response_bytes = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?)
            }
            "expiry_skew_ms" => {
                self.expiry_skew_ms = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?)
            }
            "login_backoff" => {
                let (mut initial, mut max) = (None, None);
                meta.parse_nested_meta(|f| {
                    let ms = || -> syn::Result<u64> { f.value()?.parse::<syn::LitInt>()?.base10_parse() };
                    match key(&f)?.as_str() {
                        "initial_ms" => initial = Some(ms()?),
                        "max_ms" => max = Some(ms()?),
                        _ => {
                            return Err(f.error(
                                "unknown `login_backoff` key; use `initial_ms = 500` and `max_ms = 30000`",
                            ));
                        }
                    }
                    Ok(())
                })?;
                let (Some(initial_ms), Some(max_ms)) = (initial, max) else {
                    return Err(meta.error("`login_backoff` needs both `initial_ms` and `max_ms`, like `login_backoff(initial_ms = 500, max_ms = 30000)`"));
                };
                self.login_backoff = Some(LoginBackoff { initial_ms, max_ms });
            }
            "retry" => self.retry = Some(retry(meta, span)?),
            other => {
                return Err(meta.error(format!(
                    "unknown `token_client` argument `{other}`; use one of {KEYS}"
                )));
            }
        }
        Ok(())
    }

    /// The auth model; missing required parts are reported at `at`, and
    /// stand-ins take their place.
    pub fn auth(&self, at: Span, errs: &mut Errors) -> Auth {
        let mut origins = self.origins();
        let placement = match &self.placement {
            Some((p, _)) => p.clone(),
            None => {
                errs.push(syn::Error::new(at, "`token_client` has no `placement`; add `placement = bearer` or `placement = header(\"X-Token\")`"));
                origins.placement = Origin::StandIn;
                Placement::Bearer
            }
        };
        let lifetime = match (&self.lifetime, &self.next_token_header) {
            (Some((true, _)), Some(h)) => Lifetime::SingleUse {
                next_token_header: h.value(),
            },
            (Some((true, span)), None) => {
                errs.push(syn::Error::new(*span, "a `single_use` token needs the header its successor arrives in; add `next_token_header = \"...\"`"));
                origins.next_token_header = Origin::StandIn;
                Lifetime::Reusable
            }
            (_, Some(h)) if !matches!(self.lifetime, Some((true, _))) => {
                errs.push(syn::Error::new(h.span(), "`next_token_header` only applies to single-use tokens; add `lifetime = single_use` or remove it"));
                origins.next_token_header = Origin::StandIn;
                Lifetime::Reusable
            }
            _ => Lifetime::Reusable,
        };
        let login = match &self.login {
            Some((Some(flow), _)) => Login::Flow(flow.clone()),
            Some((None, _)) => Login::Custom,
            None => {
                errs.push(syn::Error::new(at, "`token_client` has no `login`; add `login(method = \"POST\", path = \"...\", ...)` or `login = custom`"));
                origins.login.login = Origin::StandIn;
                Login::Custom
            }
        };
        Auth {
            placement,
            lifetime,
            expiry: self.expiry.clone(),
            envelope: self.envelope.clone(),
            login,
            chains: self.chains,
            exclusive_session: self.exclusive_session,
            max_replays: self.max_replays,
            login_timeout_ms: self.login_timeout_ms,
            request_timeout_ms: self.request_timeout_ms,
            expiry_skew_ms: self.expiry_skew_ms,
            login_backoff: self.login_backoff,
            max_response_bytes: self.max_response_bytes,
            retry: self.retry.clone(),
            origin: Origin::Rust(at),
            origins,
        }
    }

    /// Where each setting was written: the span of its argument's key (what
    /// is inside an argument has no span of its own in the model).
    fn origins(&self) -> AuthOrigins {
        let key = |name: &str| {
            self.auth_spans
                .iter()
                .find(|(k, _)| k == name)
                .map_or(Origin::Unknown, |(_, span)| Origin::Rust(*span))
        };
        AuthOrigins {
            placement: key("placement"),
            next_token_header: key("next_token_header"),
            expiry: key("expiry"),
            rules: self
                .expiry
                .iter()
                .map(|_| RuleOrigins {
                    rule: key("expiry"),
                    ..RuleOrigins::default()
                })
                .collect(),
            envelope: EnvelopeOrigins {
                envelope: key("envelope"),
                ..EnvelopeOrigins::default()
            },
            login: LoginOrigins {
                login: key("login"),
                ..LoginOrigins::default()
            },
            chains: key("chains"),
            max_replays: key("max_replays"),
            login_timeout_ms: key("login_timeout_ms"),
            request_timeout_ms: key("request_timeout_ms"),
            max_response_bytes: key("max_response_bytes"),
            login_backoff_max_ms: key("login_backoff"),
        }
    }
}

/// The key of a nested meta, keywords (`in`) included.
/// `retry(max_attempts = 3, statuses = [429, 503], initial_backoff_ms = 250,
/// max_backoff_ms = 8000, max_elapsed_ms = 30000, max_retry_after_ms = 60000)`,
/// every key optional: on the client, or as a method's `#[retry(...)]`.
pub(crate) fn retry(meta: &ParseNestedMeta<'_>, span: Span) -> syn::Result<Retry> {
    let mut r = Retry {
        origin: Origin::Rust(span),
        ..Retry::default()
    };
    meta.parse_nested_meta(|f| retry_key(&mut r, &f))?;
    Ok(r)
}

/// One key of a `retry(...)` list.
pub(crate) fn retry_key(r: &mut Retry, f: &ParseNestedMeta<'_>) -> syn::Result<()> {
    let int = || -> syn::Result<u64> { f.value()?.parse::<syn::LitInt>()?.base10_parse() };
    match key(f)?.as_str() {
        "max_attempts" => r.max_attempts = Some(f.value()?.parse::<syn::LitInt>()?.base10_parse()?),
        "statuses" => {
            let list: syn::ExprArray = f.value()?.parse()?;
            let mut codes = Vec::new();
            for e in &list.elems {
                let syn::Expr::Lit(syn::ExprLit { lit: Lit::Int(n), .. }) = e else {
                    return Err(syn::Error::new_spanned(e, "a status is a number, like `503`"));
                };
                codes.push(n.base10_parse::<u16>()?);
            }
            r.statuses = Some(codes);
        }
        "initial_backoff_ms" => r.initial_backoff_ms = Some(int()?),
        "max_backoff_ms" => r.max_backoff_ms = Some(int()?),
        "max_elapsed_ms" => r.max_elapsed_ms = Some(int()?),
        "max_retry_after_ms" => r.max_retry_after_ms = Some(int()?),
        _ => {
            return Err(f.error(
                "unknown `retry` key; use max_attempts, statuses, initial_backoff_ms, max_backoff_ms, \
                 max_elapsed_ms or max_retry_after_ms",
            ));
        }
    }
    Ok(())
}

/// One key of a `#[cache(...)]` list.
pub(crate) fn cache_key(
    c: &mut seamless_sdk_codegen::model::Cache,
    f: &ParseNestedMeta<'_>,
) -> syn::Result<()> {
    let int = || -> syn::Result<u64> { f.value()?.parse::<syn::LitInt>()?.base10_parse() };
    match key(f)?.as_str() {
        "ttl_ms" => c.ttl_ms = int()?,
        "stale_if_error_ms" => c.stale_if_error_ms = int()?,
        _ => return Err(f.error("unknown `cache` key; use ttl_ms or stale_if_error_ms")),
    }
    Ok(())
}

fn key(meta: &ParseNestedMeta<'_>) -> syn::Result<String> {
    match meta.path.get_ident() {
        Some(id) => Ok(id.to_string().trim_start_matches("r#").to_owned()),
        None => Err(meta.error("expected a plain key, like `placement`")),
    }
}

/// One expiry rule; `all(...)` holds rules that must all match.
fn expiry_rule(rule: &ParseNestedMeta<'_>) -> syn::Result<ExpiryRule> {
    let k = key(rule)?;
    Ok(match k.as_str() {
        "status" => {
            let content;
            parenthesized!(content in rule.input);
            let codes = content.parse_terminated(<syn::LitInt as syn::parse::Parse>::parse, Token![,])?;
            let codes = codes.iter().map(|c| c.base10_parse::<u16>()).collect::<syn::Result<_>>()?;
            ExpiryRule::Status(codes)
        }
        "body" => {
            let (mut path, mut values) = (None, Vec::new());
            rule.parse_nested_meta(|f| {
                match key(&f)?.as_str() {
                    "path" => path = Some(f.value()?.parse::<LitStr>()?.value()),
                    "in" => values = json_list(f.value()?)?,
                    _ => return Err(f.error("unknown `body` rule key; use `path = \"...\"` and `in = [...]`")),
                }
                Ok(())
            })?;
            let Some(path) = path else {
                return Err(rule.error("`body` rule has no `path`; add `path = \"code\"`"));
            };
            ExpiryRule::BodyField { path, values }
        }
        "header" => {
            let (mut name, mut value, mut contains) = (None, None, None);
            rule.parse_nested_meta(|f| {
                match key(&f)?.as_str() {
                    "name" => name = Some(f.value()?.parse::<LitStr>()?.value()),
                    "value" => value = Some(f.value()?.parse::<LitStr>()?.value()),
                    "contains" => contains = Some(f.value()?.parse::<LitStr>()?),
                    _ => return Err(f.error("unknown `header` rule key; use `name = \"...\"` and `value = \"...\"` or `contains = \"...\"`")),
                }
                Ok(())
            })?;
            let Some(name) = name else {
                return Err(rule.error("`header` rule has no `name`; add `name = \"X-Expired\"`"));
            };
            match (value, contains) {
                (Some(_), Some(c)) => {
                    return Err(syn::Error::new(c.span(), "a `header` rule takes `value` or `contains`, not both; keep one"));
                }
                (_, Some(c)) => ExpiryRule::HeaderContains { name, text: c.value() },
                (value, None) => ExpiryRule::Header { name, value },
            }
        }
        "empty_body" => ExpiryRule::EmptyBody,
        "all" => {
            let mut parts = Vec::new();
            rule.parse_nested_meta(|part| {
                parts.push(expiry_rule(&part)?);
                Ok(())
            })?;
            if parts.len() < 2 {
                return Err(rule.error("`all(...)` needs at least two conditions, like `all(status(403), empty_body)`"));
            }
            ExpiryRule::All(parts)
        }
        _ => return Err(rule.error("unknown expiry rule; use `status(401)`, `body(path = \"code\", in = [408])`, `header(name = \"...\")`, `empty_body` or `all(status(403), empty_body)`")),
    })
}

fn placement(input: ParseStream<'_>) -> syn::Result<Placement> {
    let id: Ident = input.parse()?;
    let arg = |input: ParseStream<'_>| -> syn::Result<String> {
        let content;
        parenthesized!(content in input);
        Ok(content.parse::<LitStr>()?.value())
    };
    Ok(match id.to_string().as_str() {
        "bearer" => Placement::Bearer,
        "header" => Placement::Header(arg(input)?),
        "query" => Placement::Query(arg(input)?),
        "json_body" => Placement::JsonBody(arg(input)?),
        _ => {
            return Err(syn::Error::new(
                id.span(),
                "unknown placement; use `bearer`, `header(\"X-Token\")`, `query(\"access_token\")` or `json_body(\"token\")`",
            ));
        }
    })
}

/// `[200, "OK"]` as JSON values.
fn json_list(input: ParseStream<'_>) -> syn::Result<Vec<serde_json::Value>> {
    let content;
    bracketed!(content in input);
    let lits = content.parse_terminated(<Lit as syn::parse::Parse>::parse, Token![,])?;
    lits.into_iter()
        .map(|lit| match lit {
            Lit::Int(i) => Ok(serde_json::Value::from(i.base10_parse::<i64>()?)),
            Lit::Str(s) => Ok(serde_json::Value::from(s.value())),
            other => Err(syn::Error::new(other.span(), "expected a number or a string")),
        })
        .collect()
}

fn string_list(input: ParseStream<'_>) -> syn::Result<Vec<String>> {
    let content;
    bracketed!(content in input);
    let lits = content.parse_terminated(<LitStr as syn::parse::Parse>::parse, Token![,])?;
    Ok(lits.into_iter().map(|s| s.value()).collect())
}

fn fields(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    meta.parse_nested_meta(|f| {
        let k = key(&f)?;
        out.push((k, f.value()?.parse::<LitStr>()?.value()));
        Ok(())
    })?;
    Ok(out)
}

fn login(meta: &ParseNestedMeta<'_>) -> syn::Result<LoginFlow> {
    let mut flow = LoginFlow {
        method: HttpMethod::Post,
        path: String::new(),
        encoding: Encoding::Json,
        fields: Vec::new(),
        secrets: Vec::new(),
        code_field: None,
        token: TokenSource::Header(String::new()),
        expires_in: None,
        refresh_token: None,
        refresh: None,
        client_auth: None,
    };
    let (mut has_path, mut has_token) = (false, false);
    meta.parse_nested_meta(|f| {
        match key(&f)?.as_str() {
            "method" => flow.method = method(&f.value()?.parse()?)?,
            "path" => {
                flow.path = f.value()?.parse::<LitStr>()?.value();
                has_path = true;
            }
            "encoding" => flow.encoding = encoding(&f.value()?.parse()?)?,
            "client_auth" => {
                let c: LitStr = f.value()?.parse()?;
                if c.value() != "basic" {
                    return Err(syn::Error::new(c.span(), "unknown client authentication; use \"basic\""));
                }
                flow.client_auth = Some(ClientAuth::Basic);
            }
            "code" => flow.code_field = Some(f.value()?.parse::<LitStr>()?.value()),
            "token_header" => {
                flow.token = TokenSource::Header(f.value()?.parse::<LitStr>()?.value());
                has_token = true;
            }
            "token_json" => {
                flow.token = TokenSource::Json(f.value()?.parse::<LitStr>()?.value());
                has_token = true;
            }
            "secrets" => flow.secrets = string_list(f.value()?)?,
            "fields" => flow.fields = fields(&f)?,
            "expires_in" => flow.expires_in = Some(f.value()?.parse::<LitStr>()?.value()),
            "refresh_token" => flow.refresh_token = Some(f.value()?.parse::<LitStr>()?.value()),
            "refresh" => {
                let mut grant = RefreshGrant {
                    path: String::new(),
                    field: "refresh_token".to_owned(),
                    fields: Vec::new(),
                    method: None,
                    encoding: None,
                    secrets: Vec::new(),
                };
                f.parse_nested_meta(|g| {
                    match key(&g)?.as_str() {
                        "path" => grant.path = g.value()?.parse::<LitStr>()?.value(),
                        "field" => grant.field = g.value()?.parse::<LitStr>()?.value(),
                        "fields" => grant.fields = fields(&g)?,
                        "method" => grant.method = Some(method(&g.value()?.parse()?)?),
                        "encoding" => grant.encoding = Some(encoding(&g.value()?.parse()?)?),
                        "secrets" => grant.secrets = string_list(g.value()?)?,
                        _ => return Err(g.error("unknown `refresh` key; use path, field, fields(...), method, encoding or secrets")),
                    }
                    Ok(())
                })?;
                flow.refresh = Some(grant);
            }
            _ => return Err(f.error("unknown `login` key; use method, path, encoding, code, token_header, token_json, secrets, fields(...), expires_in, refresh_token, refresh(...) or client_auth")),
        }
        Ok(())
    })?;
    if !has_path {
        return Err(meta.error("`login` has no `path`; add `path = \"/login\"`"));
    }
    if !has_token {
        return Err(meta.error("`login` does not say where the token comes back; add `token_header = \"...\"` or `token_json = \"...\"`"));
    }
    Ok(flow)
}

fn method(m: &LitStr) -> syn::Result<HttpMethod> {
    Ok(match m.value().to_ascii_uppercase().as_str() {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        _ => {
            return Err(syn::Error::new(
                m.span(),
                "unknown login method; use \"GET\", \"POST\", \"PUT\", \"PATCH\" or \"DELETE\"",
            ));
        }
    })
}

fn encoding(e: &LitStr) -> syn::Result<Encoding> {
    Ok(match e.value().as_str() {
        "json" => Encoding::Json,
        "form" => Encoding::Form,
        "query" => Encoding::Query,
        _ => {
            return Err(syn::Error::new(
                e.span(),
                "unknown encoding; use \"json\", \"form\" or \"query\"",
            ));
        }
    })
}
