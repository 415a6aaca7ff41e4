//! The `login` key → [`Login`]: `custom`, or a flow with its fields,
//! secrets, token source and refresh grant.

use crate::diag::DiagnosticKind;
use crate::model::{
    ClientAuth, Encoding, HttpMethod, Login, LoginFlow, LoginOrigins, Origin, RefreshGrant, RefreshOrigins,
    TokenSource,
};
use crate::naming::did_you_mean;
use crate::yaml::raw;
use crate::yaml::spanned::{Either, Entries, Sp};

use super::{Cx, http_method, opt, origin_of, req_origin, text};

impl Cx<'_, '_> {
    pub(super) fn login(&self, sp: &Sp<Either<String, raw::LoginFlow>>) -> Option<(Login, LoginOrigins)> {
        match sp.get()? {
            Either::Short(s) if s == "custom" => Some((
                Login::Custom,
                LoginOrigins {
                    login: sp.pos.origin(),
                    ..LoginOrigins::default()
                },
            )),
            Either::Short(s) => {
                self.error(
                    DiagnosticKind::Shape,
                    sp.pos,
                    &sp.path,
                    format!(
                        "`login` must be `custom` (you pass a `seamless_sdk::Login`) or a mapping that describes the login request, not `{s}`{}",
                        did_you_mean(s, ["custom"])
                    ),
                );
                None
            }
            Either::Long(flow) => Some(self.login_flow(sp, flow)),
        }
    }

    /// A declarative login; a part that cannot be read becomes a stand-in.
    fn login_flow(&self, sp: &Sp<impl Sized>, f: &raw::LoginFlow) -> (Login, LoginOrigins) {
        let at = (sp.pos, sp.path.as_str());
        let what = "`login`";
        let mut origins = LoginOrigins {
            login: sp.pos.origin(),
            method: req_origin(&f.method),
            path: req_origin(&f.path),
            encoding: origin_of(&f.encoding),
            code: origin_of(&f.code),
            expires_in: origin_of(&f.expires_in),
            refresh_token: origin_of(&f.refresh_token),
            ..LoginOrigins::default()
        };
        let method = self
            .need(&f.method, at, what, "method", "method: POST")
            .and_then(Sp::get)
            .copied()
            .map(http_method);
        let path = self
            .need(&f.path, at, what, "path", "path: /login")
            .and_then(Sp::get);
        let token = self
            .need(&f.token, at, what, "token", "token: { json: access_token }")
            .and_then(Sp::get)
            .and_then(|t| {
                let (wrap, value): (fn(String) -> TokenSource, _) = match t {
                    raw::TokenSource::Header(v) => (TokenSource::Header, v),
                    raw::TokenSource::Json(v) => (TokenSource::Json, v),
                };
                Some((wrap(value.get()?.clone()), value.pos.origin()))
            });
        let encoding = match (opt(&f.encoding), method) {
            (Some(e), _) => e,
            (None, Some(HttpMethod::Get)) => raw::Encoding::Query,
            (None, _) => raw::Encoding::Json,
        };
        let refresh = f.refresh.as_ref().and_then(|r| {
            let grant = r.get()?;
            let at = (r.pos, r.path.as_str());
            let path = self.need(&grant.path, at, "`refresh`", "path", "path: /oauth/token");
            let field = self.need(&grant.field, at, "`refresh`", "field", "field: refresh_token");
            let (fields, field_origins) = self.constants(&grant.fields);
            let (secrets, secret_origins) = self.secrets(&grant.secrets);
            origins.refresh = RefreshOrigins {
                refresh: r.pos.origin(),
                path: req_origin(&grant.path),
                field: req_origin(&grant.field),
                fields: field_origins,
                secrets: secret_origins,
                method: origin_of(&grant.method),
                encoding: origin_of(&grant.encoding),
            };
            Some(RefreshGrant {
                path: path?.get()?.clone(),
                field: field?.get()?.clone(),
                fields,
                method: opt(&grant.method).map(http_method),
                encoding: opt(&grant.encoding).map(model_encoding),
                secrets,
            })
        });
        if f.refresh.is_some() && refresh.is_none() {
            origins.refresh = RefreshOrigins {
                refresh: Origin::StandIn,
                ..RefreshOrigins::default()
            };
        }
        let (fields, field_origins) = self.constants(&f.fields);
        let (secrets, secret_origins) = self.secrets(&f.secrets);
        origins.fields = field_origins;
        origins.secrets = secret_origins;
        let flow = LoginFlow {
            method: method.unwrap_or_else(|| {
                origins.method = Origin::StandIn;
                HttpMethod::Post
            }),
            path: path.cloned().unwrap_or_else(|| {
                origins.path = Origin::StandIn;
                "/".to_owned()
            }),
            encoding: model_encoding(encoding),
            fields,
            secrets,
            code_field: text(&f.code),
            token: match token {
                Some((token, origin)) => {
                    origins.token = origin;
                    token
                }
                None => {
                    origins.token = Origin::StandIn;
                    TokenSource::Json("token".to_owned())
                }
            },
            expires_in: text(&f.expires_in),
            refresh_token: text(&f.refresh_token),
            refresh,
            client_auth: opt(&f.client_auth).map(|c| match c {
                raw::ClientAuth::Basic => ClientAuth::Basic,
            }),
        };
        (Login::Flow(flow), origins)
    }

    /// Secret field names, and where each is; one that cannot be read
    /// keeps its place as a stand-in.
    fn secrets(&self, secrets: &Option<Sp<Vec<Sp<String>>>>) -> (Vec<String>, Vec<Origin>) {
        let Some(secrets) = secrets.as_ref().and_then(Sp::get) else {
            return (Vec::new(), Vec::new());
        };
        secrets
            .iter()
            .enumerate()
            .map(|(i, s)| match s.get() {
                Some(name) => (name.clone(), s.pos.origin()),
                None => (format!("secret{i}"), Origin::StandIn),
            })
            .unzip()
    }

    /// Constant fields, and where each value is; one that cannot be read
    /// is left out.
    fn constants(&self, fields: &Option<Sp<Entries<String>>>) -> (Vec<(String, String)>, Vec<Origin>) {
        let Some(entries) = fields.as_ref().and_then(Sp::get) else {
            return (Vec::new(), Vec::new());
        };
        entries
            .0
            .iter()
            .filter_map(|(k, v)| Some(((k.get()?.clone(), v.get()?.clone()), v.pos.origin())))
            .unzip()
    }
}

fn model_encoding(e: raw::Encoding) -> Encoding {
    match e {
        raw::Encoding::Json => Encoding::Json,
        raw::Encoding::Form => Encoding::Form,
        raw::Encoding::Query => Encoding::Query,
    }
}
