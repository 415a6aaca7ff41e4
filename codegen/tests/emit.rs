//! The emitter on hand-built models: the output parses, is deterministic,
//! holds only reachable types, and carries the attributes and calls the
//! spec asks for.

mod emit_models;

use emit_models::{PRELUDE_NAMES, bearer, query_custom, seed, shadowing};
use seamless_sdk_codegen::emit;
use seamless_sdk_codegen::emit::{Target, emit_for, reachable_types};
use seamless_sdk_codegen::model::Api;

fn format(api: &Api) -> String {
    let file: syn::File = syn::parse2(emit(api)).expect("the output parses as a Rust file");
    prettyplease::unparse(&file)
}

/// The formatted text of one item or method: from the line that starts it
/// to its closing brace at the same indentation.
fn item<'a>(src: &'a str, start: &str) -> &'a str {
    let at = src
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` not in:\n{src}"));
    let line_start = src[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent = &src[line_start..at];
    let close = format!("\n{indent}}}\n");
    let end = src[at..].find(&close).map_or(src.len(), |e| at + e + close.len());
    &src[at..end]
}

/// Does `haystack` contain `needle`, ignoring whitespace and the trailing
/// commas wrapping adds? Keeps the assertions about what is emitted, not how
/// prettyplease lays it out.
fn has(haystack: &str, needle: &str) -> bool {
    let flat = |s: &str| {
        let mut s = s.split_whitespace().collect::<String>();
        for close in [")", "]", "}", ">"] {
            s = s.replace(&format!(",{close}"), close);
        }
        s
    };
    let needle = flat(needle);
    flat(haystack).contains(needle.strip_suffix(',').unwrap_or(&needle))
}

#[test]
fn every_model_emits_a_parseable_file() {
    for api in [seed(), bearer(), query_custom()] {
        let src = format(&api);
        syn::parse_file(&src).expect("the formatted output parses again");
        assert!(has(&src, &format!("pub struct {} {{", api.client)), "{src}");
    }
}

#[test]
fn output_is_byte_identical_across_runs() {
    for api in [seed(), bearer(), query_custom()] {
        let first = format(&api);
        let again = format(&api.clone());
        assert_eq!(first, again);
        assert_eq!(emit(&api).to_string(), emit(&api).to_string());
    }
}

#[test]
fn only_reachable_types_are_emitted_in_spec_order() {
    let api = seed();
    let src = format(&api);
    assert!(!has(&src, "Unused"), "{src}");
    let names: Vec<&str> = reachable_types(&api).iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "User", "NewOrder", "Order", "Status", "Note", "Circle", "Square", "Shape", "Tagged"
        ]
    );
    let positions: Vec<usize> = [
        "struct User ",
        "struct NewOrder ",
        "struct Order ",
        "enum Status ",
        "struct Note ",
        "struct Circle ",
        "struct Square ",
        "enum Shape ",
        "enum Tagged ",
    ]
    .iter()
    .map(|n| src.find(n).unwrap_or_else(|| panic!("{n} missing")))
    .collect();
    assert!(positions.is_sorted(), "{positions:?}");
    // Reached only through `Note`'s fields: still emitted.
    assert!(reachable_types(&bearer()).iter().any(|t| t.name == "Patch"));
}

#[test]
fn fields_carry_renames_options_docs_and_serde_crate() {
    let src = format(&seed());
    let note = item(&src, "pub struct Note");
    for want in [
        "/// What the note says.\n    /// May span lines.\n    #[serde(rename = \"noteText\")]\n    pub text: ::std::string::String,",
        "#[serde(\n        rename = \"type\",\n        default,\n        skip_serializing_if = \"::core::option::Option::is_none\"\n    )]\n    pub kind: ::core::option::Option<Status>,",
        "#[serde(default, skip_serializing_if = \"::core::option::Option::is_none\")]\n    pub tags: ::core::option::Option<::std::vec::Vec<::std::string::String>>,",
        "pub scores: ::std::collections::BTreeMap<::std::string::String, f64>,",
        "pub extra: ::seamless_sdk::__private::serde_json::Value,",
    ] {
        assert!(has(note, want), "missing {want:?} in\n{note}");
    }
    let user = item(&src, "pub struct User");
    assert!(!has(user, "rename"), "{user}");
    assert!(has(&src, "/// A user of the mini program.\n#[derive("), "{src}");
    assert_eq!(
        src.matches("#[serde(crate = \"::seamless_sdk::__private::serde\")]")
            .count(),
        9
    );
    // `one_of`: untagged, or internally tagged with each choice's value.
    let shape = item(&src, "pub enum Shape");
    assert!(has(&src, "#[serde(untagged)]"), "{src}");
    assert!(
        has(shape, "Circle(Circle),") && has(shape, "Label(::std::string::String),"),
        "{shape}"
    );
    let tagged = item(&src, "pub enum Tagged");
    assert!(has(&src, "#[serde(tag = \"kind\")]"), "{src}");
    assert!(
        has(tagged, "#[serde(rename = \"circle\")]\n    Circle(Circle),"),
        "{tagged}"
    );
    assert!(has(tagged, "    Square(Square),"), "{tagged}");
    let status = item(&src, "pub enum Status");
    assert!(
        has(status, "#[serde(rename = \"active\")]\n    Active,"),
        "{status}"
    );
    assert!(
        has(status, "#[serde(rename = \"on-hold\")]\n    OnHold,"),
        "{status}"
    );
    let derive = &src[src[..src.find("pub enum Status").unwrap()]
        .rfind("#[derive(")
        .unwrap()..];
    for d in ["Copy", "Eq", "Hash", "Serialize", "Deserialize"] {
        assert!(
            derive[..derive.find("pub enum").unwrap()].contains(d),
            "{d}: {derive}"
        );
    }
}

#[test]
fn a_type_that_holds_itself_inline_is_boxed_and_lists_are_not() {
    let src = format(&seed());
    let note = item(&src, "pub struct Note");
    assert!(
        has(
            note,
            "pub reply: ::core::option::Option<::std::boxed::Box<Note>>,"
        ),
        "{note}"
    );
    assert!(has(note, "pub thread: ::std::vec::Vec<Note>,"), "{note}");
}

#[test]
fn public_endpoints_call_no_auth_and_others_do_not() {
    let src = format(&seed());
    let status = item(&src, "pub fn status");
    assert!(has(status, ".no_auth()"), "{status}");
    for name in ["get_user", "find_user", "create_order", "ping", "echo", "record"] {
        let m = item(&src, &format!("pub fn {name}("));
        assert!(!has(m, "no_auth"), "{m}");
    }
}

#[test]
fn methods_build_the_request_from_their_arguments() {
    let src = format(&seed());
    let get_user = item(&src, "pub fn get_user(");
    assert!(
        has(
            &src,
            "/// Fetches one user.\n    ///\n    /// `GET /api/users/{id}`\n    pub fn get_user(&self, id: u64)"
        ),
        "{get_user}"
    );
    assert!(
        has(get_user, "let id = ::seamless_sdk::__private::path_segment(id)?;"),
        "{get_user}"
    );
    assert!(
        has(
            get_user,
            "::seamless_sdk::Request::get(::std::format!(\"/api/users/{id}\"))"
        ),
        "{get_user}"
    );
    assert!(has(get_user, "-> ::seamless_sdk::Call<'_, User>"), "{get_user}");

    assert!(has(
        &src,
        "/// - `fields`: Which fields to return.\n///\n/// `GET /api/users/{name}`\npub fn find_user("
    ));
    let find = item(&src, "pub fn find_user(");
    for want in [
        "name: &str,",
        "fields: ::core::option::Option<&str>,",
        "limit: u32,",
        "trace: ::core::option::Option<&str>,",
        ".query(\"limit\", limit)",
        ".header(\"X-Attempt\", &::std::string::ToString::to_string(&attempt))",
        "let mut request = ",
        "if let ::core::option::Option::Some(fields) = fields {\n            request = request.query(\"fields\", fields);",
        "if let ::core::option::Option::Some(trace) = trace {\n            request = request.header(\"X-Trace\", trace);",
    ] {
        assert!(has(find, want), "missing {want:?} in\n{find}");
    }

    let echo = item(&src, "pub fn echo(");
    for want in ["body: &Note", ".json(body)", ".idempotent(true)"] {
        assert!(has(echo, want), "missing {want:?} in\n{echo}");
    }
    let create = item(&src, "pub fn create_order(");
    assert!(!has(create, "idempotent"), "{create}");

    let record = item(&src, "pub fn record(");
    assert!(has(record, "body: &[NewOrder]"), "{record}");
    assert!(has(record, "-> ::seamless_sdk::Call<'_, ()>"), "{record}");
    assert!(has(record, "self.client.prepare_unit(||"), "{record}");
    assert!(has(get_user, "self.client.prepare(||"), "{get_user}");

    let ping = item(&src, "pub fn ping(");
    assert!(has(ping, "::seamless_sdk::Request::get(\"/api/ping\")"), "{ping}");
}

#[test]
fn a_local_never_shadows_an_argument() {
    let mut api = seed();
    let find = api.endpoints.iter_mut().find(|e| e.name == "find_user").unwrap();
    find.params[1].name = "request".into();
    let src = format(&api);
    let find = item(&src, "pub fn find_user(");
    assert!(has(find, "let mut request_ = "), "{find}");
    assert!(
        has(
            find,
            "if let ::core::option::Option::Some(request) = request { request_ = request_.query(\"fields\", request);"
        ),
        "{find}"
    );
}

#[test]
fn the_seed_builder_applies_the_whole_auth_section() {
    let src = format(&seed());
    let builder = item(&src, "pub fn builder");
    for want in [
        "pub fn builder(base_url: impl ::core::convert::Into<::std::string::String>, code: impl ::seamless_sdk::CodeProvider) -> ::seamless_sdk::ClientBuilder {",
        ".placement(::seamless_sdk::Placement::header(\"B-T\"))",
        ".lifetime(::seamless_sdk::Lifetime::single_use(\"B-T\"))",
        ".expiry(::seamless_sdk::Expiry::none().or_body_field(\"code\", [408]))",
        "::seamless_sdk::Envelope::new(\"code\").success([200]).data(\"data\").message(\"msg\")",
        "::seamless_sdk::LoginFlow::post(\"/v1/api/imiMini/login\")",
        ".encoding(::seamless_sdk::Encoding::Json)",
        ".code(\"code\", code)",
        ".token_from_header(\"B-T\")",
    ] {
        assert!(has(builder, want), "missing {want:?} in\n{builder}");
    }
    let new = item(&src, "pub fn new");
    assert!(has(new, "code: impl ::seamless_sdk::CodeProvider"), "{new}");
    assert!(has(new, "Self::builder(base_url, code).build()?"), "{new}");
    assert!(has(
        &src,
        "pub const DEFAULT_BASE_URL: &'static str = \"https://api.example.com\";"
    ));
}

#[test]
fn the_bearer_builder_takes_secrets_and_sets_every_knob() {
    let src = format(&bearer());
    let builder = item(&src, "pub fn builder");
    for want in [
        "password: impl ::core::convert::Into<::seamless_sdk::Secret>,",
        ".placement(::seamless_sdk::Placement::Bearer)",
        ".lifetime(::seamless_sdk::Lifetime::Reusable)",
        ".expiry(::seamless_sdk::Expiry::none().or_status([401]))",
        ".chains(2)",
        ".max_replays(3)",
        ".login_timeout(::core::time::Duration::from_secs(5))",
        ".request_timeout(::core::option::Option::Some(::core::time::Duration::from_millis(10500)))",
        ".encoding(::seamless_sdk::Encoding::Form)",
        ".field(\"grant_type\", \"password\")",
        ".field(\"username\", \"u\")",
        ".secret_field(\"password\", password)",
        ".token_at(\"access_token\")",
        ".expires_in_at(\"expires_in\")",
        ".refresh_token_at(\"refresh_token\")",
        ".refresh_grant(\"/oauth/token\", \"refresh_token\", [(\"grant_type\", \"refresh_token\")])",
    ] {
        assert!(has(builder, want), "missing {want:?} in\n{builder}");
    }
    // The encoding is set before the refresh grant, which copies it.
    assert!(builder.find(".encoding(").unwrap() < builder.find(".refresh_grant(").unwrap());
    assert!(!has(builder, "<F, Fut, E>"), "{builder}");
    assert!(!has(&src, "DEFAULT_BASE_URL"));
    assert!(
        has(&src, "#[allow(clippy::too_many_arguments)] pub fn update_user("),
        "{src}"
    );
    let update = item(&src, "pub fn update_user(");
    assert!(
        has(update, "::std::format!(\"/api/orgs/{org}/users/{id}\")"),
        "{update}"
    );
    assert!(!has(item(&src, "pub fn get_user("), "allow"));
}

#[test]
fn the_query_builder_takes_a_custom_login_and_every_expiry_rule() {
    let src = format(&query_custom());
    let builder = item(&src, "pub fn builder");
    for want in [
        "login: impl ::seamless_sdk::Login,",
        ".login(login)",
        ".placement(::seamless_sdk::Placement::query(\"access_token\"))",
        ".or_body_field(\"errcode\", [40001, 42001])",
        ".or_body_field(\n",
        "::seamless_sdk::__private::serde_json::Value::from(\"expired\")",
        "::seamless_sdk::__private::serde_json::Value::from(1i64)",
        ".or_header(\"X-Token-Expired\", ::core::option::Option::None)",
        ".or_header(\"X-Auth\", ::core::option::Option::Some(\"stale\"))",
        ".or_status([401, 403])",
        ".message(\"errmsg\")",
        ".absent_is_success(true)",
    ] {
        assert!(has(builder, want), "missing {want:?} in\n{builder}");
    }
    assert!(!has(builder, ".data("), "{builder}");
}

#[test]
fn keywords_become_raw_identifiers_and_lint_prone_names_are_allowed() {
    let src = format(&query_custom());
    let item_ty = item(&src, "pub struct Item");
    assert!(has(item_ty, "pub r#type: ::std::string::String,"), "{item_ty}");
    assert!(!has(item_ty, "rename = \"type\""), "{item_ty}");
    // `self` cannot be raw: it gets a suffix and a rename.
    assert!(
        has(item_ty, "#[serde(rename = \"self\")]\n    pub self_: bool,"),
        "{item_ty}"
    );
    assert!(
        has(
            &src,
            "pub fn r#move(&self, id: &str, body: ::core::option::Option<&[Item]>)"
        ),
        "{src}"
    );
    assert!(has(&src, ".json(&body)"), "{src}");
    assert!(has(&src, "r#type: ::core::option::Option<&str>"), "{src}");
    let phase = item(&src, "pub enum Phase");
    assert!(
        has(&src, "#[allow(clippy::enum_variant_names)]\npub enum Phase"),
        "{phase}"
    );
    assert!(!has(&src, "#[allow(clippy::enum_variant_names)] pub enum Status"));
}

#[test]
fn a_full_refresh_grant_reuses_login_secrets_and_takes_the_others_as_arguments() {
    use seamless_sdk_codegen::model::{ClientAuth, Encoding, HttpMethod, Login};
    let mut api = bearer();
    let Login::Flow(flow) = &mut api.auth.login else {
        panic!("bearer has a login flow")
    };
    flow.secrets.push("client_secret".into());
    flow.client_auth = Some(ClientAuth::Basic);
    let grant = flow.refresh.as_mut().expect("bearer has a refresh grant");
    grant.method = Some(HttpMethod::Put);
    grant.encoding = Some(Encoding::Form);
    grant.secrets = vec!["client_secret".into(), "device_key".into()];
    let src = format(&api);
    let builder = item(&src, "pub fn builder");
    assert!(
        has(
            builder,
            r#".refresh_with(::seamless_sdk::RefreshGrant::new("/oauth/token", "refresh_token")
                .method(::seamless_sdk::Method::PUT)
                .encoding(::seamless_sdk::Encoding::Form)
                .field("grant_type", "refresh_token")
                .login_secret("client_secret")
                .secret_field("device_key", device_key))"#
        ),
        "{builder}"
    );
    // The login's secret is one argument; the grant's own is another, and
    // Basic's id and secret do not collide with `client_secret`.
    assert!(
        has(
            builder,
            "client_secret: impl ::core::convert::Into<::seamless_sdk::Secret>"
        ),
        "{builder}"
    );
    assert!(
        has(
            builder,
            "device_key: impl ::core::convert::Into<::seamless_sdk::Secret>"
        ),
        "{builder}"
    );
    assert!(
        has(builder, ".client_basic_auth(client_id, client_secret_)"),
        "{builder}"
    );
    assert_eq!(builder.matches("client_secret:").count(), 1, "{builder}");
}

#[test]
fn a_rule_of_several_conditions_is_emitted_as_one_and_rule() {
    use seamless_sdk_codegen::model::ExpiryRule;
    let mut api = bearer();
    api.auth.expiry.push(ExpiryRule::All(vec![
        ExpiryRule::Status(vec![403]),
        ExpiryRule::Header {
            name: "WWW-Authenticate".into(),
            value: Some(r#"Bearer error="invalid_token""#.into()),
        },
    ]));
    api.auth.expiry.push(ExpiryRule::HeaderContains {
        name: "WWW-Authenticate".into(),
        text: "invalid_token".into(),
    });
    api.auth.expiry_skew_ms = Some(1500);
    api.auth.login_backoff = Some(seamless_sdk_codegen::model::LoginBackoff {
        initial_ms: 0,
        max_ms: 0,
    });
    let src = format(&api);
    let builder = item(&src, "pub fn builder");
    assert!(
        has(
            builder,
            r#".or(::seamless_sdk::ExpiryRule::status([403]).and(::seamless_sdk::ExpiryRule::header("WWW-Authenticate", ::core::option::Option::Some("Bearer error=\"invalid_token\""))))"#
        ),
        "{builder}"
    );
    assert!(
        has(
            builder,
            r#".or(::seamless_sdk::ExpiryRule::header_contains("WWW-Authenticate", "invalid_token"))"#
        ),
        "{builder}"
    );
    assert!(
        has(builder, ".expiry_skew(::core::time::Duration::from_millis(1500))"),
        "{builder}"
    );
    assert!(
        has(
            builder,
            ".login_backoff(::core::time::Duration::from_secs(0), ::core::time::Duration::from_secs(0))"
        ),
        "{builder}"
    );
}

fn format_crate(api: &Api) -> String {
    let tokens = emit_for(api, Target::Crate);
    let file: syn::File = syn::parse2(tokens).expect("the output parses as a Rust file");
    prettyplease::unparse(&file)
}

/// The names a file's `use` declarations import.
fn imported(src: &str) -> Vec<String> {
    let file = syn::parse_file(src).unwrap();
    let mut out = Vec::new();
    fn walk(tree: &syn::UseTree, out: &mut Vec<String>) {
        match tree {
            syn::UseTree::Path(p) => walk(&p.tree, out),
            syn::UseTree::Name(n) => out.push(n.ident.to_string()),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| walk(t, out)),
            _ => panic!("a glob or rename in the prelude"),
        }
    }
    for item in &file.items {
        if let syn::Item::Use(u) = item {
            walk(&u.tree, &mut out);
        }
    }
    out
}

#[test]
fn the_macro_target_uses_nothing() {
    for api in [seed(), bearer(), query_custom(), shadowing(seed())] {
        assert!(imported(&format(&api)).is_empty());
        assert_eq!(emit(&api).to_string(), emit_for(&api, Target::Macro).to_string());
    }
}

#[test]
fn the_crate_target_writes_a_prelude_and_short_names() {
    let src = format_crate(&seed());
    assert!(
        src.starts_with("use std::collections::BTreeMap;\nuse seamless_sdk::{\n"),
        "{src}"
    );
    for want in [
        "use seamless_sdk::__private::serde::{Serialize, Deserialize};",
        "#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\n#[serde(crate = \"::seamless_sdk::__private::serde\")]\npub struct User {",
        "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]",
        "#[serde(rename = \"type\", default, skip_serializing_if = \"Option::is_none\")]\n    pub kind: Option<Status>,",
        "pub reply: Option<Box<Note>>,",
        "pub scores: BTreeMap<String, f64>,",
        "pub fn builder(base_url: impl Into<String>, code: impl CodeProvider) -> ClientBuilder {",
        "Client::builder(base_url)",
        ".placement(Placement::header(\"B-T\"))",
        "LoginFlow::post(\"/v1/api/imiMini/login\")",
        "pub fn new(base_url: impl Into<String>, code: impl CodeProvider) -> Result<Self, Error> {",
        "Ok(Self::from_client(Self::builder(base_url, code).build()?))",
        "pub fn get_user(&self, id: u64) -> Call<'_, User> {\n        self.client\n            .prepare(|| {\n                let id = path_segment(id)?;\n                let request = Request::get(format!(\"/api/users/{id}\"));",
        "if let Some(trace) = trace {",
        ".header(\"X-Attempt\", &ToString::to_string(&attempt))",
        "pub fn ping(&self) -> Call<'_, Value> {",
        ".prepare_unit(||",
    ] {
        assert!(has(&src, want), "missing {want:?} in\n{src}");
    }
    // Every path is short: nothing is spelled from the crate root.
    let code: String = src.lines().filter(|l| !l.contains("serde(crate")).collect();
    assert!(!code.contains("::core::") && !code.contains("::std::"), "{src}");
    assert!(!code.contains("::seamless_sdk::"), "{src}");

    let src = format_crate(&bearer());
    for want in [
        "password: impl Into<Secret>,",
        ".login_timeout(Duration::from_secs(5))",
        ".request_timeout(Some(Duration::from_millis(10500)))",
    ] {
        assert!(has(&src, want), "missing {want:?} in\n{src}");
    }
    assert!(imported(&src).contains(&"Duration".to_owned()), "{src}");
    let src = format_crate(&query_custom());
    assert!(has(&src, "login: impl Login,"), "{src}");
    assert!(has(&src, ".or_header(\"X-Token-Expired\", None)"), "{src}");
}

#[test]
fn the_crate_target_spells_out_what_a_generated_type_names() {
    for api in [seed(), bearer(), query_custom()] {
        let src = format_crate(&shadowing(api));
        let imported = imported(&src);
        for name in PRELUDE_NAMES {
            assert!(!imported.contains(&name.to_string()), "{name} imported in\n{src}");
        }
        // What the types do not take stays short.
        assert!(
            has(
                &src,
                "#[derive(Debug, Clone, PartialEq, ::seamless_sdk::__private::serde::Serialize,"
            ),
            "{src}"
        );
    }
    let src = format_crate(&shadowing(seed()));
    for want in [
        "pub struct Client {\n    client: ::seamless_sdk::Client,\n}",
        "impl Client {",
        "code: impl ::seamless_sdk::CodeProvider,",
        "::seamless_sdk::LoginFlow::new(::seamless_sdk::Method::PUT, \"/v1/api/imiMini/login\")",
        "-> ::core::result::Result<Self, ::seamless_sdk::Error>",
        "Ok(Self::from_client(",
        "pub fn get_user(&self, id: u64) -> Call<'_, User> {",
        "let id = ::seamless_sdk::__private::path_segment(id)?;",
        "let path_segment = ::seamless_sdk::__private::path_segment(path_segment)?;",
        "skip_serializing_if = \"::core::option::Option::is_none\"",
        "pub reply: ::core::option::Option<::std::boxed::Box<Note>>,",
        "pub f_result: Result,",
        "if let Some(trace) = trace {",
        "&::std::string::ToString::to_string(&attempt)",
    ] {
        assert!(has(&src, want), "missing {want:?} in\n{src}");
    }
}

#[test]
fn an_exclusive_session_reaches_the_builder() {
    let mut api = bearer();
    api.auth.chains = None;
    api.auth.exclusive_session = true;
    let src = format(&api);
    let builder = item(&src, "pub fn builder");
    assert!(has(builder, ".exclusive_session(true)"), "{builder}");
    let src = format(&bearer());
    assert!(!has(&src, "exclusive_session"), "a shared session is the default");
}
