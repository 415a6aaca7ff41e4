//! The example specs in `specs/` load cleanly, lower to the model the
//! runtime expects, and a large generated spec loads fast.

use std::path::{Path, PathBuf};
use std::time::Instant;

use seamless_sdk_codegen::model::{
    Encoding, ExpiryRule, HttpMethod, Lifetime, Login, ParamKind, Placement, TokenSource, TypeKind, TypeRef,
};
use seamless_sdk_codegen::{Diagnostics, load};

fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs")
}

fn load_spec(name: &str) -> seamless_sdk_codegen::model::Api {
    let path = specs_dir().join(name);
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match load(&source, name) {
        Ok((api, warnings)) => {
            assert!(warnings.items.is_empty(), "{name} has warnings:\n{warnings}");
            api
        }
        Err(d) => panic!("{name} does not load:\n{d}"),
    }
}

#[test]
fn every_spec_loads_without_a_problem() {
    let mut names: Vec<String> = std::fs::read_dir(specs_dir())
        .expect("specs/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 3,
        "expected the three example specs, found {names:?}"
    );
    for name in names {
        load_spec(&name);
    }
}

#[test]
fn the_seed_spec_lowers_to_the_seed_protocol() {
    let api = load_spec("imi_mini.yaml");
    assert_eq!(api.name, "imi_mini");
    assert_eq!(api.client, "ImiMiniClient");
    assert_eq!(api.base_url.as_deref(), Some("https://api.example.com"));
    let auth = &api.auth;
    assert_eq!(auth.placement, Placement::Header("B-T".into()));
    assert_eq!(
        auth.lifetime,
        Lifetime::SingleUse {
            next_token_header: "B-T".into()
        }
    );
    assert_eq!(
        auth.expiry,
        vec![ExpiryRule::BodyField {
            path: "code".into(),
            values: vec![408.into()]
        }]
    );
    let env = auth.envelope.as_ref().expect("an envelope");
    assert_eq!(
        (env.code.as_str(), env.data.as_deref(), env.message.as_deref()),
        ("code", Some("data"), Some("msg"))
    );
    assert_eq!(env.success, vec![serde_json::Value::from(200)]);
    let Login::Flow(flow) = &auth.login else {
        panic!("a login flow")
    };
    assert_eq!(flow.method, HttpMethod::Post);
    assert_eq!(flow.path, "/v1/api/imiMini/login");
    assert_eq!(flow.encoding, Encoding::Json);
    assert_eq!(flow.code_field.as_deref(), Some("code"));
    assert_eq!(flow.token, TokenSource::Header("B-T".into()));

    let names: Vec<&str> = api.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        &names[..6],
        ["get_user", "ping", "whoami", "echo", "create_order", "fail"],
        "the testkit's endpoints come first, in spec order"
    );
    let cache = api.endpoints[2].cache.as_ref().expect("whoami is cached");
    assert_eq!((cache.ttl_ms, cache.stale_if_error_ms), (5000, 60000));
    assert!(api.endpoints[0].cache.is_none());
    let get_user = &api.endpoints[0];
    assert_eq!(
        (get_user.method, get_user.path.as_str()),
        (HttpMethod::Get, "/api/users/{id}")
    );
    assert_eq!(get_user.params[0].kind, ParamKind::Path);
    assert_eq!(get_user.params[0].ty, TypeRef::U64);
    assert_eq!(get_user.response, Some(TypeRef::Named("User".into())));

    // Renames: wire names that are not Rust names, and an explicit `rust_name`.
    let profile = api.types.iter().find(|t| t.name == "Profile").expect("Profile");
    let TypeKind::Struct(fields) = &profile.kind else {
        panic!("a struct")
    };
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|f| (f.wire.as_str(), f.name.as_str()))
        .collect();
    assert!(pairs.contains(&("nickName", "nick_name")));
    assert!(pairs.contains(&("status", "state")));
    assert!(pairs.contains(&("@type", "type")));
    let ty = |wire: &str| &fields.iter().find(|f| f.wire == wire).expect(wire).ty;
    assert_eq!(ty("nickName"), &TypeRef::Option(Box::new(TypeRef::String)));
    assert_eq!(ty("counters"), &TypeRef::Map(Box::new(TypeRef::U64)));
    assert_eq!(
        ty("friends"),
        &TypeRef::List(Box::new(TypeRef::Named("Friend".into())))
    );

    let status = api.types.iter().find(|t| t.name == "Status").expect("Status");
    let TypeKind::Enum(variants) = &status.kind else {
        panic!("an enum")
    };
    let variants: Vec<(&str, &str)> = variants
        .iter()
        .map(|v| (v.wire.as_str(), v.name.as_str()))
        .collect();
    assert_eq!(
        variants,
        [
            ("active", "Active"),
            ("banned", "Banned"),
            ("on-hold", "OnHold"),
            ("2fa-required", "TwoFactorRequired")
        ]
    );

    let profile_ep = api
        .endpoints
        .iter()
        .find(|e| e.name == "get_profile")
        .expect("get_profile");
    let header = profile_ep
        .params
        .iter()
        .find(|p| matches!(p.kind, ParamKind::Header { .. }))
        .expect("a header");
    assert_eq!(header.name, "x_trace_id");
    let public = api
        .endpoints
        .iter()
        .find(|e| e.name == "list_statuses")
        .expect("list_statuses");
    assert!(!public.auth);
    let update = api
        .endpoints
        .iter()
        .find(|e| e.name == "update_profile")
        .expect("update_profile");
    assert_eq!(update.body.as_ref().map(|b| b.name.as_str()), Some("patch"));
    assert_eq!(update.idempotent, Some(true));
}

#[test]
fn the_bearer_and_query_specs_lower_to_their_protocols() {
    let bearer = load_spec("bearer_api.yaml");
    assert_eq!(bearer.auth.placement, Placement::Bearer);
    assert_eq!(bearer.auth.lifetime, Lifetime::Reusable);
    assert_eq!(bearer.auth.expiry, vec![ExpiryRule::Status(vec![401])]);
    assert!(bearer.auth.envelope.is_none());
    let Login::Flow(flow) = &bearer.auth.login else {
        panic!("a login flow")
    };
    assert_eq!(flow.secrets, ["username", "password"]);
    assert_eq!(flow.fields, [("grant_type".to_owned(), "password".to_owned())]);
    assert_eq!(flow.token, TokenSource::Json("access_token".into()));
    assert_eq!(flow.expires_in.as_deref(), Some("expires_in"));
    assert_eq!(flow.refresh_token.as_deref(), Some("refresh_token"));
    let refresh = flow.refresh.as_ref().expect("a refresh grant");
    assert_eq!(
        (refresh.path.as_str(), refresh.field.as_str()),
        ("/oauth/token", "refresh_token")
    );

    let wx = load_spec("wechat_query.yaml");
    assert_eq!(wx.auth.placement, Placement::Query("access_token".into()));
    assert_eq!(
        wx.auth.expiry,
        vec![ExpiryRule::BodyField {
            path: "errcode".into(),
            values: vec![40001.into(), 42001.into()]
        }]
    );
    let env = wx.auth.envelope.as_ref().expect("an envelope");
    assert!(env.absent_is_success);
    assert_eq!(env.data, None);
    let Login::Flow(flow) = &wx.auth.login else {
        panic!("a login flow")
    };
    // A GET login sends its fields in the query unless told otherwise.
    assert_eq!((flow.method, flow.encoding), (HttpMethod::Get, Encoding::Query));
    assert_eq!(flow.secrets, ["appid", "secret"]);
}

#[test]
fn the_schema_describes_the_format() {
    let schema = seamless_sdk_codegen::schema();
    assert_eq!(schema["title"], "seamless API spec");
    let required = schema["required"].as_array().expect("required keys");
    for key in ["name", "auth", "endpoints"] {
        assert!(required.iter().any(|r| r == key), "`{key}` is required");
    }
    assert_eq!(schema["additionalProperties"], false);
    let text = serde_json::to_string(&schema).expect("serializable");
    for word in [
        "next_token_header",
        "absent_is_success",
        "rust_name",
        "json_body",
        "single_use",
    ] {
        assert!(text.contains(word), "the schema mentions `{word}`");
    }
}

#[test]
fn a_thousand_endpoint_spec_loads() {
    let source = seamless_sdk_codegen::scale::spec_with_endpoints(1000);
    let start = Instant::now();
    let result = load(&source, "big.yaml");
    let elapsed = start.elapsed();
    let (api, warnings): (_, Diagnostics) = result.unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(api.endpoints.len(), 1000);
    assert!(warnings.items.is_empty(), "{warnings}");
    println!(
        "loaded a 1,000-endpoint spec ({} bytes, {} lines) in {elapsed:?}",
        source.len(),
        source.lines().count()
    );
}

#[test]
fn the_example_in_docs_spec_md_loads() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/spec.md"))
        .expect("docs/spec.md exists");
    let start = doc.find("```yaml\n").expect("a yaml example") + "```yaml\n".len();
    let len = doc[start..].find("```").expect("the example ends");
    let example = &doc[start..start + len];
    let (api, warnings) = load(example, "spec.md").unwrap_or_else(|d| panic!("{d}"));
    assert!(warnings.items.is_empty(), "{warnings}");
    assert_eq!(api.client, "ImiMini");
}

#[test]
fn the_oauth_spec_lowers_its_two_condition_rule_client_auth_and_settings() {
    use seamless_sdk_codegen::model::{ClientAuth, LoginBackoff};
    let api = load_spec("oauth_server.yaml");
    assert_eq!(
        api.auth.expiry,
        vec![
            ExpiryRule::Status(vec![401]),
            ExpiryRule::All(vec![ExpiryRule::Status(vec![403]), ExpiryRule::EmptyBody]),
        ]
    );
    assert_eq!(api.auth.expiry_skew_ms, Some(5000));
    assert_eq!(api.auth.max_response_bytes, Some(1 << 20));
    assert_eq!(
        api.auth.login_backoff,
        Some(LoginBackoff {
            initial_ms: 250,
            max_ms: 10000
        })
    );
    let Login::Flow(flow) = &api.auth.login else {
        panic!("a login flow")
    };
    assert_eq!(flow.client_auth, Some(ClientAuth::Basic));
    let refresh = flow.refresh.as_ref().expect("a refresh grant");
    assert_eq!(
        (refresh.method, refresh.encoding),
        (Some(HttpMethod::Post), Some(Encoding::Form))
    );
    assert!(refresh.secrets.is_empty());
}

#[test]
fn the_schema_describes_the_new_auth_keys() {
    let schema = seamless_sdk_codegen::yaml::schema();
    let defs = &schema["$defs"];
    let props = |def: &str| defs[def]["properties"].as_object().cloned().unwrap_or_default();
    let auth = props("Auth");
    for key in ["expiry_skew_ms", "login_backoff", "max_response_bytes"] {
        assert!(auth.contains_key(key), "Auth lacks {key}: {auth:?}");
    }
    assert_eq!(defs["ExpiryRule"]["minProperties"], 1, "a rule needs a condition");
    let rule = props("ExpiryRule");
    for key in ["status", "header", "body", "empty_body"] {
        assert!(rule.contains_key(key), "ExpiryRule lacks {key}: {rule:?}");
    }
    assert!(props("LoginFlow").contains_key("client_auth"));
    let refresh = props("Refresh");
    for key in ["method", "encoding", "secrets"] {
        assert!(refresh.contains_key(key), "Refresh lacks {key}: {refresh:?}");
    }
}
