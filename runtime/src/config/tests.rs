use super::*;
use serde_json::json;

#[test]
fn paths_get_take_and_set() {
    let p = JsonPath::parse("data.items.1").unwrap();
    let mut v = json!({"data": {"items": [1, 2]}});
    assert_eq!(p.get(&v), Some(&json!(2)));
    assert_eq!(p.take(&mut v), Some(json!(2)));
    let q = JsonPath::parse("auth.token").unwrap();
    let mut body = json!({"a": 1});
    q.set(&mut body, json!("t")).unwrap();
    assert_eq!(body, json!({"a": 1, "auth": {"token": "t"}}));
    assert!(JsonPath::parse("a..b").is_err());
    assert!(JsonPath::parse("").is_err());
}

#[test]
fn expiry_rules_combine() {
    let e = Expiry::status([401]).or_body_field("errcode", [40001, 42001]);
    let h = http::HeaderMap::new();
    assert!(e.matches_head(StatusCode::UNAUTHORIZED, &h));
    assert!(!e.matches_head(StatusCode::OK, &h));
    let body = |v: serde_json::Value| e.matches_body(StatusCode::OK, None, b"{}", Some(&v));
    assert!(body(json!({"errcode": 42001})));
    assert!(body(json!({"errcode": "40001"})));
    assert!(!body(json!({"errcode": 0})));
}

#[test]
fn all_rules_need_every_part() {
    let forbidden = StatusCode::FORBIDDEN;
    let e = Expiry::status([401])
        .or(ExpiryRule::status([403]).and(ExpiryRule::empty_body()))
        .or(ExpiryRule::status([403]).and(ExpiryRule::body_field("error", ["invalid_token"])));
    let h = http::HeaderMap::new();
    // A 403 alone is not enough to decide, nor to call it expired.
    assert!(!e.matches_head(forbidden, &h));
    assert!(e.matches_body(forbidden, None, b"", None));
    assert!(e.matches_body(forbidden, None, b" \n", None));
    let denied = json!({"error": "insufficient_scope"});
    assert!(!e.matches_body(
        forbidden,
        None,
        br#"{"error":"insufficient_scope"}"#,
        Some(&denied)
    ));
    let invalid = json!({"error": "invalid_token"});
    assert!(e.matches_body(forbidden, None, br#"{"error":"invalid_token"}"#, Some(&invalid)));
    // An empty 200 is not a 403.
    assert!(!e.matches_body(StatusCode::OK, None, b"", None));
    assert!(e.needs_body());
    assert!(!e.rereads_headers());

    let www = ExpiryRule::status([403]).and(ExpiryRule::header(
        "www-authenticate",
        Some(r#"Bearer error="invalid_token""#),
    ));
    let e = Expiry::none().or(www);
    let mut h = http::HeaderMap::new();
    assert!(!e.matches_head(forbidden, &h));
    h.insert(
        "www-authenticate",
        r#"Bearer error="invalid_token""#.parse().unwrap(),
    );
    assert!(e.matches_head(forbidden, &h));
    assert!(!e.matches_head(StatusCode::UNAUTHORIZED, &h));

    let e = Expiry::none().or(ExpiryRule::status([403]).and(ExpiryRule::header_contains(
        "www-authenticate",
        r#"error="invalid_token""#,
    )));
    let mut h = http::HeaderMap::new();
    h.insert(
        "www-authenticate",
        r#"Bearer realm="api", error="invalid_token", error_description="expired""#
            .parse()
            .unwrap(),
    );
    assert!(e.matches_head(forbidden, &h));
    h.insert(
        "www-authenticate",
        r#"Bearer realm="api", error="insufficient_scope""#.parse().unwrap(),
    );
    assert!(!e.matches_head(forbidden, &h));

    // Header and body together: decided after the body, with the headers kept.
    let e = Expiry::none().or(ExpiryRule::header("x-expired", None).and(ExpiryRule::empty_body()));
    assert!(e.rereads_headers());
    let mut h = http::HeaderMap::new();
    h.insert("x-expired", "1".parse().unwrap());
    assert!(!e.matches_head(StatusCode::OK, &h));
    assert!(e.matches_body(StatusCode::OK, Some(&h), b"", None));
    assert!(!e.matches_body(StatusCode::OK, Some(&h), b"{}", None));
    assert!(!e.matches_body(StatusCode::OK, Some(&http::HeaderMap::new()), b"", None));
}

#[test]
fn envelope_unwraps_or_reports_code_and_message() {
    let env = Envelope::code_data_msg();
    assert_eq!(
        env.open(json!({"code": 200, "data": {"x": 1}})),
        Ok(json!({"x": 1}))
    );
    assert_eq!(
        env.open(json!({"code": 4001, "msg": "no"})),
        Err((json!(4001), Some("no".into())))
    );
    let wx = Envelope::new("errcode")
        .success([0])
        .message("errmsg")
        .absent_is_success(true);
    assert_eq!(wx.open(json!({"a": 1})), Ok(json!({"a": 1})));
}
