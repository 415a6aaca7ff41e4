//! The three fixed protocols as [`Rules`] (what [`Protocol::rules`] returns), and the
//! plain constructors a [`Rules`] of another API starts from. The wire formats are the ones
//! documented on [`Protocol`]; `tests/{seed,bearer,query}.rs` hold them to it.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use crate::rules::{
    Accept, Echo, Encoding, Envelope, ErrorStyle, Issued, Login, LoginField, Placement, Refresh, Reply, Rules,
};
use crate::{BEARER_PASSWORD, BEARER_USERNAME, Protocol, QUERY_APPID, QUERY_SECRET, QUERY_TTL};

impl Protocol {
    /// This protocol as data: the [`Rules`] [`crate::Backend::start`] serves it with.
    pub fn rules(&self) -> Rules {
        match *self {
            Protocol::Seed => Rules::seed(),
            Protocol::Bearer { ttl } => Rules::bearer(ttl),
            Protocol::Query => Rules::query(),
        }
    }
}

fn reply_with_header(status: u16, body: Option<Value>, name: &str, value: &str) -> Reply {
    Reply {
        status,
        headers: vec![(name.to_owned(), value.to_owned())],
        body,
    }
}

impl Rules {
    /// Rules with this login and otherwise the plainest choices: `Authorization: Bearer`,
    /// reusable tokens without a time limit, 401 `{"error":"invalid_token"}` when expired,
    /// no envelope, OAuth-style errors, 422 `{"error":"app_error"}` and 403
    /// `{"error":"forbidden"}`. Change the fields that differ.
    pub fn new(login: Login) -> Rules {
        Rules {
            placements: vec![Placement::Bearer],
            next_token_header: None,
            ttl: None,
            expired: Reply::json(401, json!({"error": "invalid_token"})),
            unknown: None,
            forbid_expired: None,
            envelope: Envelope::None,
            errors: ErrorStyle::OAuth,
            app_error: Reply::json(422, json!({"error": "app_error"})),
            forbidden: Reply::json(403, json!({"error": "forbidden"})),
            login,
            exclusive_session: false,
            revoke_family_on_reuse: false,
        }
    }

    /// [`Protocol::Seed`]: single-use `B-T` tokens (header, or the JSON body field `token`),
    /// the `{"code","data","msg"}` envelope, 408 in the body when expired, a one-time-code
    /// login.
    pub fn seed() -> Rules {
        let coded = |code: u16, msg: &str| Reply::json(200, json!({"code": code, "msg": msg}));
        let mut login = Login::new(Method::POST, "/v1/api/imiMini/login");
        login.fields = vec![LoginField {
            name: "code".to_owned(),
            accept: Accept::OneTimeCode,
            refused: Reply::json(200, json!({"code": 40029, "msg": "invalid code"})),
        }];
        login.absent_is_malformed = true;
        login.malformed = Reply::json(
            400,
            json!({"code": 400, "msg": "body must be a JSON object with a string field \"code\""}),
        );
        login.forced_failure = coded(500, "login failed");
        login.unavailable = None;
        login.echo = Some(Echo {
            path: "msg".to_owned(),
            prefix: "login failed for code".to_owned(),
        });
        login.issued = Issued {
            body: json!({"code": 200, "data": {"token": null}, "msg": "ok"}),
            token_path: Some("data.token".to_owned()),
            token_header: Some("B-T".to_owned()),
            expires_in_path: None,
            refresh_token_path: None,
        };
        Rules {
            placements: vec![
                Placement::Header("B-T".to_owned()),
                Placement::JsonBody("token".to_owned()),
            ],
            next_token_header: Some("B-T".to_owned()),
            ttl: None,
            expired: coded(408, "token expired"),
            unknown: None,
            forbid_expired: None,
            envelope: Envelope::Wrapped {
                code: "code".to_owned(),
                ok: json!(200),
                data: "data".to_owned(),
                message: Some("msg".to_owned()),
            },
            errors: ErrorStyle::Coded {
                code: "code".to_owned(),
                message: "msg".to_owned(),
                overrides: Vec::new(),
            },
            app_error: coded(4001, "insufficient balance"),
            forbidden: coded(403, "forbidden"),
            ..Rules::new(login)
        }
    }

    /// [`Protocol::Bearer`]: `Authorization: Bearer` tokens valid for `ttl`, an OAuth2
    /// token endpoint (password grant, rotating refresh grant; JSON or form), 401 when
    /// expired, no envelope.
    pub fn bearer(ttl: Duration) -> Rules {
        let invalid_grant = Reply::json(400, json!({"error": "invalid_grant"}));
        let exactly = |name: &str, value: &str| LoginField {
            name: name.to_owned(),
            accept: Accept::Exactly(value.to_owned()),
            refused: invalid_grant.clone(),
        };
        let mut login = Login::new(Method::POST, "/oauth/token");
        login.encodings = vec![Encoding::Json, Encoding::Form];
        login.fields = vec![
            exactly("grant_type", "password"),
            exactly("username", BEARER_USERNAME),
            exactly("password", BEARER_PASSWORD),
        ];
        login.malformed = Reply::json(400, json!({"error": "invalid_request"}));
        login.forced_failure = invalid_grant.clone();
        login.unavailable = Some(Reply::json(503, json!({"error": "temporarily_unavailable"})));
        login.echo = Some(Echo {
            path: "error_description".to_owned(),
            prefix: "grant refused for".to_owned(),
        });
        login.issued = Issued {
            body: json!({"access_token": null, "token_type": "Bearer", "expires_in": null}),
            token_path: Some("access_token".to_owned()),
            token_header: None,
            expires_in_path: Some("expires_in".to_owned()),
            refresh_token_path: Some("refresh_token".to_owned()),
        };
        let mut refresh = Refresh::new(Method::POST, "/oauth/token", "refresh_token");
        refresh.grant = Some(("grant_type".to_owned(), "refresh_token".to_owned()));
        refresh.refused = invalid_grant;
        refresh.unavailable = Reply::json(503, json!({"error": "temporarily_unavailable"}));
        login.refresh = Some(refresh);
        Rules {
            ttl: Some(ttl),
            expired: reply_with_header(
                401,
                Some(json!({"error": "invalid_token"})),
                "www-authenticate",
                r#"Bearer error="invalid_token""#,
            ),
            forbid_expired: Some(reply_with_header(
                403,
                None,
                "www-authenticate",
                r#"Bearer realm="testkit", error="invalid_token", error_description="The access token expired""#,
            )),
            app_error: Reply::json(422, json!({"error": "insufficient_balance"})),
            forbidden: reply_with_header(
                403,
                Some(json!({"error": "insufficient_scope"})),
                "www-authenticate",
                r#"Bearer realm="testkit", error="insufficient_scope""#,
            ),
            ..Rules::new(login)
        }
    }

    /// [`Protocol::Query`]: `?access_token=` tokens valid for [`QUERY_TTL`], a
    /// `GET /cgi-bin/token` login, `errcode` bodies (42001 expired, 40001 unknown) and the
    /// `{"errcode":0,"errmsg":"ok",...}` envelope.
    pub fn query() -> Rules {
        let err =
            |errcode: i64, errmsg: &str| Reply::json(200, json!({"errcode": errcode, "errmsg": errmsg}));
        let exactly = |name: &str, value: &str, refused: Reply| LoginField {
            name: name.to_owned(),
            accept: Accept::Exactly(value.to_owned()),
            refused,
        };
        let mut login = Login::new(Method::GET, "/cgi-bin/token");
        login.encodings = vec![Encoding::Query];
        login.fields = vec![
            exactly(
                "grant_type",
                "client_credential",
                err(40002, "invalid grant_type"),
            ),
            exactly("appid", QUERY_APPID, err(40013, "invalid appid")),
            exactly("secret", QUERY_SECRET, err(40125, "invalid appsecret")),
        ];
        login.malformed = err(40013, "invalid appid");
        login.forced_failure = err(40013, "invalid appid");
        login.unavailable = Some(Reply::json(503, json!({"errcode": -1, "errmsg": "system busy"})));
        login.issued = Issued {
            body: json!({"access_token": null, "expires_in": null}),
            token_path: Some("access_token".to_owned()),
            token_header: None,
            expires_in_path: Some("expires_in".to_owned()),
            refresh_token_path: None,
        };
        Rules {
            placements: vec![Placement::Query("access_token".to_owned())],
            ttl: Some(QUERY_TTL),
            expired: err(42001, "access_token expired"),
            unknown: Some(err(40001, "invalid credential")),
            envelope: Envelope::Merged {
                code: "errcode".to_owned(),
                ok: json!(0),
                message: Some("errmsg".to_owned()),
            },
            errors: ErrorStyle::Coded {
                code: "errcode".to_owned(),
                message: "errmsg".to_owned(),
                // 47001 is WeChat's "data format error".
                overrides: vec![(400, json!(47001))],
            },
            app_error: err(45009, "api limit"),
            forbidden: err(48001, "api unauthorized"),
            ..Rules::new(login)
        }
    }
}

impl Login {
    /// A login at `method path` taking JSON fields, with no fields checked yet, OAuth-style
    /// replies (400 `invalid_request` when malformed, 400 `invalid_grant` when refused or
    /// forced to fail) and `{"access_token": <token>}` when it succeeds.
    pub fn new(method: Method, path: impl Into<String>) -> Login {
        Login {
            method,
            path: path.into(),
            encodings: vec![Encoding::Json],
            fields: Vec::new(),
            malformed: Reply::json(400, json!({"error": "invalid_request"})),
            absent_is_malformed: false,
            forced_failure: Reply::json(400, json!({"error": "invalid_grant"})),
            unavailable: None,
            echo: None,
            issued: Issued {
                body: json!({"access_token": null}),
                token_path: Some("access_token".to_owned()),
                token_header: None,
                expires_in_path: None,
                refresh_token_path: None,
            },
            client_auth: None,
            refresh: None,
        }
    }
}

impl Refresh {
    /// A rotating refresh grant at `method path` carrying the refresh token in `field`,
    /// refused with 400 `invalid_grant` and unavailable with 503 `temporarily_unavailable`.
    pub fn new(method: Method, path: impl Into<String>, field: impl Into<String>) -> Refresh {
        Refresh {
            method,
            path: path.into(),
            grant: None,
            field: field.into(),
            rotate: true,
            refused: Reply::json(400, json!({"error": "invalid_grant"})),
            unavailable: Reply::json(503, json!({"error": "temporarily_unavailable"})),
        }
    }
}
