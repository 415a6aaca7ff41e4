//! The model-level checks work on a model built by hand, as the
//! `#[token_client]` front end will build it: no YAML involved.

use seamless_sdk_codegen::model::{
    Api, ApiOrigins, Auth, Body, Endpoint, Field, HttpMethod, Origin, Param, ParamKind, TypeDef, TypeKind,
    TypeRef,
};
use seamless_sdk_codegen::validate::check;
use seamless_sdk_codegen::{DiagnosticKind, Severity, load};

fn auth() -> Auth {
    Auth::bearer_defaults(Origin::Unknown)
}

fn endpoint(name: &str, path: &str) -> Endpoint {
    Endpoint {
        name: name.into(),
        doc: None,
        method: HttpMethod::Get,
        path: path.into(),
        params: Vec::new(),
        body: None,
        response: None,
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

fn api(types: Vec<TypeDef>, endpoints: Vec<Endpoint>) -> Api {
    Api {
        name: "demo".into(),
        client: "DemoClient".into(),
        doc: None,
        base_url: None,
        auth: auth(),
        types,
        endpoints,
        origin: Origin::Unknown,
        origins: ApiOrigins::default(),
        endpoints_partial: false,
    }
}

fn messages(api: &Api) -> Vec<String> {
    let mut v: Vec<String> = check(api)
        .into_iter()
        .map(|d| format!("{}: {}", d.path, d.message))
        .collect();
    v.sort();
    v
}

#[test]
fn a_clean_model_has_no_problem() {
    let mut ep = endpoint("get_user", "/users/{id}");
    ep.params.push(Param {
        name: "id".into(),
        kind: ParamKind::Path,
        ty: TypeRef::U64,
        doc: None,
        origin: Origin::Unknown,
        value_origin: Origin::Unknown,
    });
    ep.response = Some(TypeRef::Named("User".into()));
    let user = TypeDef {
        name: "User".into(),
        doc: None,
        kind: TypeKind::Struct(vec![Field {
            name: "id".into(),
            wire: "id".into(),
            ty: TypeRef::U64,
            doc: None,
            origin: Origin::Unknown,
            value_origin: Origin::Unknown,
        }]),
        origin: Origin::Unknown,
        kind_origin: Origin::Unknown,
    };
    assert_eq!(messages(&api(vec![user], vec![ep])), Vec::<String>::new());
}

#[test]
fn every_problem_of_a_model_is_reported_at_once() {
    let mut bad = endpoint("get_user", "/users/{id}");
    bad.params.push(Param {
        name: "uid".into(),
        kind: ParamKind::Path,
        ty: TypeRef::List(Box::new(TypeRef::U64)),
        doc: None,
        origin: Origin::Unknown,
        value_origin: Origin::Unknown,
    });
    bad.body = Some(Body {
        name: "body".into(),
        ty: TypeRef::Named("Usr".into()),
        origin: Origin::Unknown,
    });
    let dup = endpoint("get_user", "/again");
    let mut model = api(
        vec![TypeDef {
            name: "User".into(),
            doc: None,
            kind: TypeKind::Struct(Vec::new()),
            origin: Origin::Unknown,
            kind_origin: Origin::Unknown,
        }],
        vec![bad, dup],
    );
    model.auth.max_replays = Some(9);
    model.auth.expiry.clear();
    let got = messages(&model);
    let expect = [
        "auth.expiry: `expiry` has no rule",
        "auth.max_replays: `max_replays: 9` is above",
        "endpoints.get_user.body: a GET request has no body",
        "endpoints.get_user.body: unknown type `Usr`; did you mean `User`?",
        "endpoints.get_user.params.uid: path parameter `uid` is not used in the path",
        "endpoints.get_user.params.uid: path parameter `uid` has type `list<u64>`",
        "endpoints.get_user.path: path parameter `{id}` has no declaration",
        "endpoints.get_user: endpoint `get_user` is defined twice",
        "types.User: type `User` is not used by any endpoint",
    ];
    for e in expect {
        assert!(
            got.iter().any(|g| g.starts_with(e)),
            "missing `{e}` in\n{}",
            got.join("\n")
        );
    }
    assert_eq!(got.len(), expect.len(), "{}", got.join("\n"));
}

/// The macro leaves type names to the compiler (a trait's types are the
/// user's own) by this kind, never by the message's words.
#[test]
fn an_unknown_type_is_told_apart_by_its_kind() {
    let mut ep = endpoint("get_user", "/users");
    ep.response = Some(TypeRef::Named("User".into()));
    let kinds: Vec<DiagnosticKind> = check(&api(Vec::new(), vec![ep])).iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DiagnosticKind::UnknownType]);

    let spec = "\
name: kinds
auth: { placement: bearer, lifetime: reusable, expiry: [{ status: [401] }], login: custom }
endpoints:
  get_user: { method: GET, path: /users, response: Usr }
";
    let diags = load(spec, "kinds.yaml").expect_err("an unknown type");
    let kinds: Vec<DiagnosticKind> = diags.items.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DiagnosticKind::UnknownType], "{diags}");
}

/// What the front end could not read is reported once: the stand-in that
/// takes its place (an expiry rule without its key, the missing expiry
/// list, an unreadable refresh grant) draws no diagnostic of its own.
#[test]
fn a_stand_in_draws_no_diagnostic() {
    let long_key = "k".repeat(300);
    let spec = format!(
        "\
name: stand_ins
auth:
  placement: bearer
  lifetime: reusable
  expiry: [{{ {long_key}: 401 }}]
  login:
    method: POST
    path: /login
    secrets: [password]
    token: {{ json: token }}
    refresh_token: refresh_token
    refresh: [not, a, grant]
endpoints:
  ping: {{ method: GET, path: /ping }}
"
    );
    let diags = load(&spec, "stand_ins.yaml").expect_err("two mistakes");
    let got: Vec<(DiagnosticKind, &str)> = diags.items.iter().map(|d| (d.kind, d.path.as_str())).collect();
    assert_eq!(
        got,
        [
            (DiagnosticKind::Shape, "auth.expiry[0]"),
            (DiagnosticKind::Shape, "auth.login.refresh"),
        ],
        "{diags}"
    );

    let no_expiry = spec.replace(&format!("  expiry: [{{ {long_key}: 401 }}]\n"), "");
    let diags = load(&no_expiry, "stand_ins.yaml").expect_err("two mistakes");
    let got: Vec<&str> = diags.items.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(got, ["auth.expiry", "auth.login.refresh"], "{diags}");
}

#[test]
fn warnings_alone_still_load_and_come_back_with_the_model() {
    let spec = "\
name: warn
auth:
  placement: bearer
  lifetime: reusable
  expiry: [{ status: [401] }]
  login: custom
types:
  Unused:
    fields: { id: u64 }
endpoints:
  ping:
    method: GET
    path: /ping
";
    let (api, warnings) = load(spec, "warn.yaml").unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(api.endpoints.len(), 1);
    assert_eq!(warnings.items.len(), 1);
    assert_eq!(warnings.items[0].severity, Severity::Warning);
    assert_eq!(
        warnings.to_string(),
        "warn.yaml:8:3: warning: type `Unused` is not used by any endpoint, so it is not generated; use it or remove it (at `types.Unused`)\n"
    );
}

#[test]
fn model_nodes_remember_their_yaml_position() {
    let spec = "\
name: pos
auth:
  placement: bearer
  lifetime: reusable
  expiry: [{ status: [401] }]
  login: custom
types:
  User:
    fields:
      nickName: string
endpoints:
  get_user:
    method: POST
    path: /users
    body: User
";
    let (api, _) = load(spec, "pos.yaml").unwrap_or_else(|d| panic!("{d}"));
    let at = |o: &Origin| match o {
        Origin::Yaml { line, column } => (*line, *column),
        other => panic!("not a YAML origin: {other:?}"),
    };
    assert_eq!(at(&api.auth.origin), (2, 1));
    assert_eq!(at(&api.types[0].origin), (8, 3));
    let TypeKind::Struct(fields) = &api.types[0].kind else {
        panic!("a struct")
    };
    assert_eq!(at(&fields[0].origin), (10, 7));
    assert_eq!(at(&api.endpoints[0].origin), (12, 3));
    assert_eq!(
        at(&api.endpoints[0].body.as_ref().expect("a body").origin),
        (15, 11)
    );
    // The values checks judge: a setting, a rule's part, a field's type,
    // an endpoint's path.
    assert_eq!(at(&api.auth.origins.expiry), (5, 3));
    assert_eq!(at(&api.auth.origins.rules[0].codes[0]), (5, 23));
    assert_eq!(at(&fields[0].value_origin), (10, 17));
    assert_eq!(at(&api.endpoints[0].path_origin), (14, 11));
}

#[test]
fn output_is_the_same_on_every_run() {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/bad-specs/unknown-types.yaml"
    ))
    .expect("fixture");
    let first = load(&source, "x.yaml").err().map(|d| d.to_string());
    for _ in 0..20 {
        assert_eq!(load(&source, "x.yaml").err().map(|d| d.to_string()), first);
    }
}
