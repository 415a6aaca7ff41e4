//! Hand-built models for the emitter tests: what a front end would lower the
//! seed spec, a bearer spec and a query-token spec into.
#![allow(dead_code)]

use seamless_sdk_codegen::model::*;
use serde_json::json;

pub fn field(name: &str, ty: TypeRef) -> Field {
    Field {
        name: name.into(),
        wire: name.into(),
        ty,
        doc: None,
        origin: Origin::Unknown,
        value_origin: Origin::Unknown,
    }
}

pub fn renamed(name: &str, wire: &str, ty: TypeRef) -> Field {
    Field {
        wire: wire.into(),
        ..field(name, ty)
    }
}

pub fn strukt(name: &str, doc: Option<&str>, fields: Vec<Field>) -> TypeDef {
    TypeDef {
        name: name.into(),
        doc: doc.map(Into::into),
        kind: TypeKind::Struct(fields),
        origin: Origin::Unknown,
        kind_origin: Origin::Unknown,
    }
}

pub fn enumeration(name: &str, variants: &[(&str, &str)]) -> TypeDef {
    TypeDef {
        name: name.into(),
        doc: None,
        kind: TypeKind::Enum(
            variants
                .iter()
                .map(|(n, w)| Variant {
                    name: (*n).into(),
                    wire: (*w).into(),
                    doc: None,
                    origin: Origin::Unknown,
                })
                .collect(),
        ),
        origin: Origin::Unknown,
        kind_origin: Origin::Unknown,
    }
}

/// A `one_of` type: `(rust name, type, tag value)` per choice.
pub fn one_of(name: &str, tag: Option<&str>, choices: &[(&str, TypeRef, &str)]) -> TypeDef {
    TypeDef {
        name: name.into(),
        doc: None,
        kind: TypeKind::OneOf {
            tag: tag.map(Into::into),
            choices: choices
                .iter()
                .map(|(n, ty, v)| Choice {
                    name: (*n).into(),
                    ty: ty.clone(),
                    value: (*v).into(),
                    origin: Origin::Unknown,
                })
                .collect(),
        },
        origin: Origin::Unknown,
        kind_origin: Origin::Unknown,
    }
}

pub fn named(n: &str) -> TypeRef {
    TypeRef::Named(n.into())
}

pub fn opt(t: TypeRef) -> TypeRef {
    TypeRef::Option(Box::new(t))
}

pub fn list(t: TypeRef) -> TypeRef {
    TypeRef::List(Box::new(t))
}

pub fn map(t: TypeRef) -> TypeRef {
    TypeRef::Map(Box::new(t))
}

pub fn param(name: &str, kind: ParamKind, ty: TypeRef) -> Param {
    Param {
        name: name.into(),
        kind,
        ty,
        doc: None,
        origin: Origin::Unknown,
        value_origin: Origin::Unknown,
    }
}

pub fn path(name: &str, ty: TypeRef) -> Param {
    param(name, ParamKind::Path, ty)
}

pub fn query(name: &str, wire: &str, ty: TypeRef) -> Param {
    param(name, ParamKind::Query { wire: wire.into() }, ty)
}

pub fn header(name: &str, wire: &str, ty: TypeRef) -> Param {
    param(name, ParamKind::Header { wire: wire.into() }, ty)
}

pub fn endpoint(name: &str, method: HttpMethod, path: &str, response: Option<TypeRef>) -> Endpoint {
    Endpoint {
        name: name.into(),
        doc: None,
        method,
        path: path.into(),
        params: Vec::new(),
        body: None,
        response,
        idempotent: None,
        idempotency_key: None,
        deprecated: false,
        retry: None,
        cache: None,
        auth: true,
        origin: Origin::Unknown,
        path_origin: Origin::Unknown,
        response_origin: Origin::Unknown,
    }
}

pub fn body(ty: TypeRef) -> Option<Body> {
    Some(Body {
        name: "body".into(),
        ty,
        origin: Origin::Unknown,
    })
}

pub fn flow(method: HttpMethod, path: &str, encoding: Encoding, token: TokenSource) -> LoginFlow {
    LoginFlow {
        method,
        path: path.into(),
        encoding,
        fields: Vec::new(),
        secrets: Vec::new(),
        code_field: None,
        token,
        expires_in: None,
        refresh_token: None,
        refresh: None,
        client_auth: None,
    }
}

fn auth(placement: Placement, lifetime: Lifetime, expiry: Vec<ExpiryRule>, login: Login) -> Auth {
    Auth {
        placement,
        lifetime,
        expiry,
        login,
        ..Auth::bearer_defaults(Origin::Unknown)
    }
}

/// The seed's mini-program API, plus endpoints that exercise renames,
/// optional fields, enums, recursion, query and header parameters, a unit
/// response and a public endpoint. Every endpoint but `status` answers on
/// the testkit's seed backend.
pub fn seed() -> Api {
    let mut login = flow(
        HttpMethod::Post,
        "/v1/api/imiMini/login",
        Encoding::Json,
        TokenSource::Header("B-T".into()),
    );
    login.code_field = Some("code".into());
    let mut auth = auth(
        Placement::Header("B-T".into()),
        Lifetime::SingleUse {
            next_token_header: "B-T".into(),
        },
        vec![ExpiryRule::BodyField {
            path: "code".into(),
            values: vec![json!(408)],
        }],
        Login::Flow(login),
    );
    auth.envelope = Some(Envelope {
        code: "code".into(),
        success: vec![json!(200)],
        data: Some("data".into()),
        message: Some("msg".into()),
        absent_is_success: false,
    });

    let mut user_id = field("id", TypeRef::U64);
    user_id.doc = Some("The user's id.".into());
    let mut note_text = renamed("text", "noteText", TypeRef::String);
    note_text.doc = Some("What the note says.\nMay span lines.".into());
    let types = vec![
        strukt(
            "User",
            Some("A user of the mini program."),
            vec![user_id, field("name", TypeRef::String)],
        ),
        strukt("Unused", None, vec![field("x", TypeRef::String)]),
        strukt("NewOrder", None, vec![field("order_id", TypeRef::String)]),
        strukt(
            "Order",
            None,
            vec![
                field("order_id", TypeRef::String),
                field("executions", TypeRef::U64),
            ],
        ),
        enumeration("Status", &[("Active", "active"), ("OnHold", "on-hold")]),
        strukt(
            "Note",
            Some("A note; echoed back as sent."),
            vec![
                note_text,
                renamed("kind", "type", opt(named("Status"))),
                field("tags", opt(list(TypeRef::String))),
                field("scores", map(TypeRef::F64)),
                field("reply", opt(named("Note"))),
                field("thread", list(named("Note"))),
                field("extra", TypeRef::Json),
            ],
        ),
        strukt("Circle", None, vec![field("radius", TypeRef::F64)]),
        strukt("Square", None, vec![field("side", TypeRef::F64)]),
        one_of(
            "Shape",
            None,
            &[
                ("Circle", named("Circle"), "Circle"),
                ("Square", named("Square"), "Square"),
                ("Label", TypeRef::String, "String"),
            ],
        ),
        one_of(
            "Tagged",
            Some("kind"),
            &[
                ("Circle", named("Circle"), "circle"),
                ("Square", named("Square"), "Square"),
            ],
        ),
    ];

    let mut get_user = endpoint(
        "get_user",
        HttpMethod::Get,
        "/api/users/{id}",
        Some(named("User")),
    );
    get_user.doc = Some("Fetches one user.".into());
    get_user.params = vec![path("id", TypeRef::U64)];

    let mut find_user = endpoint(
        "find_user",
        HttpMethod::Get,
        "/api/users/{name}",
        Some(TypeRef::Json),
    );
    find_user.params = vec![
        path("name", TypeRef::String),
        query("fields", "fields", opt(TypeRef::String)),
        query("limit", "limit", TypeRef::U32),
        header("trace", "X-Trace", opt(TypeRef::String)),
        header("attempt", "X-Attempt", TypeRef::U32),
    ];
    find_user.params[1].doc = Some("Which fields to return.".into());

    let mut create_order = endpoint(
        "create_order",
        HttpMethod::Post,
        "/api/orders",
        Some(named("Order")),
    );
    create_order.doc = Some("Places an order; not replayed after a transport error.".into());
    create_order.body = body(named("NewOrder"));

    let mut ping = endpoint("ping", HttpMethod::Get, "/api/ping", Some(TypeRef::Json));
    ping.doc = Some("Checks the session.".into());

    let mut echo = endpoint("echo", HttpMethod::Post, "/api/echo", Some(named("Note")));
    echo.body = body(named("Note"));
    echo.idempotent = Some(true);

    let mut echo_shapes = endpoint(
        "echo_shapes",
        HttpMethod::Post,
        "/api/echo",
        Some(list(named("Shape"))),
    );
    echo_shapes.body = body(list(named("Shape")));
    let mut echo_tagged = endpoint(
        "echo_tagged",
        HttpMethod::Post,
        "/api/echo",
        Some(named("Tagged")),
    );
    echo_tagged.body = body(named("Tagged"));

    let mut record = endpoint("record", HttpMethod::Post, "/api/echo", None);
    record.body = body(list(named("NewOrder")));

    let mut status = endpoint("status", HttpMethod::Get, "/public/status", Some(TypeRef::Json));
    status.doc = Some("A public endpoint: no token.".into());
    status.auth = false;

    Api {
        name: "imi_mini".into(),
        client: "ImiMiniClient".into(),
        doc: Some("The seed's mini-program API.".into()),
        base_url: Some("https://api.example.com".into()),
        auth,
        types,
        endpoints: vec![
            get_user,
            find_user,
            create_order,
            ping,
            echo,
            echo_shapes,
            echo_tagged,
            record,
            status,
        ],
        origin: Origin::Unknown,
        origins: ApiOrigins::default(),
        endpoints_partial: false,
    }
}

/// Reusable bearer tokens: password login with a secret, `expires_in`, a
/// rotating refresh grant, and every tuning knob set.
pub fn bearer() -> Api {
    let mut login = flow(
        HttpMethod::Post,
        "/oauth/token",
        Encoding::Form,
        TokenSource::Json("access_token".into()),
    );
    login.fields = vec![
        ("grant_type".into(), "password".into()),
        ("username".into(), "u".into()),
    ];
    login.secrets = vec!["password".into()];
    login.expires_in = Some("expires_in".into());
    login.refresh_token = Some("refresh_token".into());
    login.refresh = Some(RefreshGrant {
        path: "/oauth/token".into(),
        field: "refresh_token".into(),
        fields: vec![("grant_type".into(), "refresh_token".into())],
        method: None,
        encoding: None,
        secrets: Vec::new(),
    });
    let mut auth = auth(
        Placement::Bearer,
        Lifetime::Reusable,
        vec![ExpiryRule::Status(vec![401])],
        Login::Flow(login),
    );
    auth.chains = Some(2);
    auth.max_replays = Some(3);
    auth.login_timeout_ms = Some(5_000);
    auth.request_timeout_ms = Some(10_500);

    let types = vec![
        strukt(
            "User",
            None,
            vec![field("id", TypeRef::U64), field("name", TypeRef::String)],
        ),
        strukt("Patch", None, vec![field("name", opt(TypeRef::String))]),
    ];
    let mut get_user = endpoint(
        "get_user",
        HttpMethod::Get,
        "/api/users/{id}",
        Some(named("User")),
    );
    get_user.params = vec![path("id", TypeRef::U64)];
    let mut delete_user = endpoint("delete_user", HttpMethod::Delete, "/api/users/{id}", None);
    delete_user.params = vec![path("id", TypeRef::U64)];
    let mut update = endpoint(
        "update_user",
        HttpMethod::Patch,
        "/api/orgs/{org}/users/{id}",
        Some(named("User")),
    );
    update.params = vec![
        path("org", TypeRef::String),
        path("id", TypeRef::U64),
        query("a", "a", TypeRef::Bool),
        query("b", "b", TypeRef::I64),
        query("c", "c", opt(TypeRef::F64)),
        header("d", "X-D", TypeRef::I32),
    ];
    update.body = body(named("Patch"));
    update.idempotent = Some(true);

    Api {
        name: "bearer".into(),
        client: "BearerClient".into(),
        doc: None,
        base_url: None,
        auth,
        types,
        endpoints: vec![get_user, delete_user, update],
        origin: Origin::Unknown,
        origins: ApiOrigins::default(),
        endpoints_partial: false,
    }
}

/// WeChat style: a query token, several expiry rules, an `errcode`
/// envelope, and a custom login the user supplies.
pub fn query_custom() -> Api {
    let mut auth = auth(
        Placement::Query("access_token".into()),
        Lifetime::Reusable,
        vec![
            ExpiryRule::BodyField {
                path: "errcode".into(),
                values: vec![json!(40001), json!(42001)],
            },
            ExpiryRule::BodyField {
                path: "error.kind".into(),
                values: vec![json!("expired"), json!(1)],
            },
            ExpiryRule::Header {
                name: "X-Token-Expired".into(),
                value: None,
            },
            ExpiryRule::Header {
                name: "X-Auth".into(),
                value: Some("stale".into()),
            },
            ExpiryRule::Status(vec![401, 403]),
        ],
        Login::Custom,
    );
    auth.envelope = Some(Envelope {
        code: "errcode".into(),
        success: vec![json!(0)],
        data: None,
        message: Some("errmsg".into()),
        absent_is_success: true,
    });
    let types = vec![
        enumeration(
            "Phase",
            &[
                ("InProgress", "in_progress"),
                ("InReview", "in_review"),
                ("InTransit", "in_transit"),
            ],
        ),
        strukt(
            "Item",
            None,
            vec![
                field("phase", named("Phase")),
                field("type", TypeRef::String),
                field("self", TypeRef::Bool),
            ],
        ),
    ];
    let mut items = endpoint("items", HttpMethod::Get, "/api/items", Some(list(named("Item"))));
    items.params = vec![query("type", "type", opt(TypeRef::String))];
    let mut put = endpoint(
        "r#move",
        HttpMethod::Put,
        "/api/items/{id}",
        Some(map(named("Item"))),
    );
    put.params = vec![path("id", TypeRef::String)];
    put.body = body(opt(list(named("Item"))));
    Api {
        name: "query".into(),
        client: "QueryClient".into(),
        doc: Some("A WeChat-style API.\n\nTokens go in the query.".into()),
        base_url: None,
        auth,
        types,
        endpoints: vec![items, put],
        origin: Origin::Unknown,
        origins: ApiOrigins::default(),
        endpoints_partial: false,
    }
}

/// Every name of the type namespace a generated crate's prelude may import
/// or lean on (the standard prelude's, the runtime's, serde's).
pub const PRELUDE_NAMES: &[&str] = &[
    "Result",
    "Option",
    "String",
    "ToString",
    "Vec",
    "Box",
    "Into",
    "BTreeMap",
    "Duration",
    "Client",
    "ClientBuilder",
    "CodeProvider",
    "Encoding",
    "Envelope",
    "Error",
    "Expiry",
    "Lifetime",
    "Login",
    "LoginFlow",
    "Method",
    "Placement",
    "Request",
    "Secret",
    "Serialize",
    "Deserialize",
    "IgnoredAny",
    "Value",
];

/// `api` with its client named `Client`, a type named after each other
/// name of [`PRELUDE_NAMES`] (all reached through one more endpoint, whose
/// path parameter is named `path_segment`), and a login sent with `PUT` (so
/// the runtime's `Method` is named): a generated crate must not import a
/// name its own items or arguments take.
pub fn shadowing(mut api: Api) -> Api {
    let names = PRELUDE_NAMES.iter().filter(|n| **n != "Client");
    let fields = names
        .clone()
        .map(|n| field(&format!("f_{}", n.to_lowercase()), named(n)))
        .collect();
    api.types
        .extend(names.map(|n| strukt(n, None, vec![field("x", TypeRef::U32)])));
    api.types.push(strukt("Shadows", None, fields));
    let mut shadows = endpoint(
        "shadows",
        HttpMethod::Post,
        "/api/shadows/{path_segment}",
        Some(named("Shadows")),
    );
    shadows.params = vec![path("path_segment", TypeRef::String)];
    shadows.body = body(named("Shadows"));
    api.endpoints.push(shadows);
    api.client = "Client".into();
    if let Login::Flow(flow) = &mut api.auth.login {
        flow.method = HttpMethod::Put;
    }
    api
}
