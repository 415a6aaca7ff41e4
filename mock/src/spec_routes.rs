//! Every endpoint of a spec behind the token layer: a request is matched
//! against the path templates, and answered with the deterministic example of
//! the endpoint's response type (seeded, salted with the concrete path, so a
//! test can predict it). A non-idempotent request is recorded as an execution,
//! so a client that sends one twice shows up as a duplicate.

use http::Method;
use seamless_sdk_codegen::example::Examples;
use seamless_sdk_codegen::model::{Api, HttpMethod, ParamKind, TypeRef};

use crate::method_of;
use seamless_sdk_testkit::{Access, Call, Outcome, Placement, Routes};
use serde_json::Value;

/// The storm page, served at [`UI_PATH`].
pub const UI: &str = include_str!("../ui/index.html");
/// Where the storm page is served.
pub const UI_PATH: &str = "/__ui";

/// The endpoints of one spec, as [`Routes`].
#[derive(Debug)]
pub struct SpecRoutes {
    examples: Examples,
    routes: Vec<Route>,
    seed: u64,
    placement: Option<Placement>,
}

#[derive(Debug)]
struct Route {
    method: Method,
    segments: Vec<Segment>,
    literals: usize,
    /// Index into the spec's endpoints.
    endpoint: usize,
    response: Option<TypeRef>,
    has_body: bool,
    auth: bool,
    idempotent: bool,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    /// A whole-segment `{name}` parameter of a scalar type, checked.
    Param {
        name: String,
        ty: Option<TypeRef>,
    },
    /// A segment with a parameter inside it (`{name}.json`): any non-empty text.
    Pattern,
}

impl SpecRoutes {
    /// The routes of `api`'s endpoints; `seed` picks the example values. `placement` is
    /// where calls carry the token, so it is left out of an execution's fingerprint (every
    /// replay of a request carries a new token, and is still the same request).
    pub fn new(api: &Api, seed: u64, placement: Option<Placement>) -> SpecRoutes {
        let routes = api
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let segments: Vec<Segment> = split(&e.path)
                    .map(|s| {
                        if let Some(name) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            let ty = e
                                .params
                                .iter()
                                .find(|p| p.kind == ParamKind::Path && p.name == name)
                                .map(|p| p.ty.clone());
                            Segment::Param {
                                name: name.to_owned(),
                                ty,
                            }
                        } else if s.contains('{') {
                            Segment::Pattern
                        } else {
                            Segment::Literal(s.to_owned())
                        }
                    })
                    .collect();
                let literals = segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                Route {
                    method: method_of(e.method),
                    segments,
                    literals,
                    endpoint: i,
                    response: e.response.clone(),
                    has_body: e.body.is_some(),
                    auth: e.auth,
                    idempotent: e.idempotent.unwrap_or(matches!(
                        e.method,
                        HttpMethod::Get | HttpMethod::Put | HttpMethod::Delete
                    )),
                }
            })
            .collect();
        SpecRoutes {
            examples: Examples::new(api),
            routes,
            seed,
            placement,
        }
    }

    /// The example value `method path` answers (the value inside the envelope): what a
    /// test predicts. `None` when no endpoint matches.
    pub fn example(&self, method: &Method, path: &str) -> Option<Value> {
        let route = self.route(method, path)?;
        Some(self.value_of(route, path))
    }

    fn value_of(&self, route: &Route, path: &str) -> Value {
        match &route.response {
            Some(ty) => self.examples.value(ty, self.seed, path),
            None => Value::Null,
        }
    }

    /// The most specific route for `method path`: the match with the most literal segments.
    fn route(&self, method: &Method, path: &str) -> Option<&Route> {
        let segments: Vec<&str> = split(path).collect();
        self.routes
            .iter()
            .filter(|r| r.method == method && matches(&r.segments, &segments))
            .max_by_key(|r| (r.literals, std::cmp::Reverse(r.endpoint)))
    }

    /// The request as an execution's identity: method, path, and a hash of the query and
    /// body without the token. Hashed, so a server that remembers every execution keeps a
    /// few dozen bytes per operation however large the bodies are.
    fn fingerprint(&self, call: &Call<'_>) -> String {
        let query: Vec<&str> = call
            .query
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter(|pair| match &self.placement {
                Some(Placement::Query(name)) => pair.split('=').next() != Some(name.as_str()),
                _ => true,
            })
            .collect();
        let body = match (&self.placement, call.json()) {
            (Some(Placement::JsonBody(path)), Some(mut json)) => {
                remove_path(&mut json, path);
                json.to_string()
            }
            _ => String::from_utf8_lossy(call.body).into_owned(),
        };
        let digest = fnv1a128(query.join("&").as_bytes(), body.as_bytes());
        format!("{} {} {digest:032x}", call.method, call.path)
    }
}

/// FNV-1a, 128 bits, over the query, a separator no query contains, and the body:
/// collisions between a run's operations are out of reach, and no dependency is needed.
fn fnv1a128(query: &[u8], body: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    query
        .iter()
        .chain(b"\n")
        .chain(body)
        .fold(OFFSET, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

impl Routes for SpecRoutes {
    fn access(&self, method: &Method, path: &str) -> Access {
        match self.route(method, path) {
            Some(r) if r.auth => Access::Token,
            Some(_) => Access::Public,
            None => Access::Unknown,
        }
    }

    fn answer(&self, call: &Call<'_>) -> Outcome {
        let Some(route) = self.route(call.method, call.path) else {
            return Outcome::NotFound;
        };
        let segments: Vec<&str> = split(call.path).collect();
        for (segment, text) in route.segments.iter().zip(&segments) {
            if let Segment::Param { name, ty: Some(ty) } = segment
                && !fits(ty, text)
            {
                return Outcome::BadRequest(format!("path parameter `{name}` is not a {ty}"));
            }
        }
        if route.has_body && call.json().is_none() {
            return Outcome::BadRequest("the body is not JSON".to_owned());
        }
        if !route.idempotent {
            call.execute(self.fingerprint(call));
        }
        Outcome::Value(self.value_of(route, call.path))
    }

    fn page(&self, path: &str) -> Option<(&'static str, &'static [u8])> {
        (path == UI_PATH).then_some(("text/html; charset=utf-8", UI.as_bytes()))
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn matches(template: &[Segment], path: &[&str]) -> bool {
    template.len() == path.len()
        && template.iter().zip(path).all(|(t, p)| match t {
            Segment::Literal(l) => l == p,
            Segment::Param { .. } | Segment::Pattern => !p.is_empty(),
        })
}

/// Whether the path segment `text` reads as a `ty`.
fn fits(ty: &TypeRef, text: &str) -> bool {
    let text = percent_decode(text);
    match ty {
        TypeRef::U64 => text.parse::<u64>().is_ok(),
        TypeRef::U32 => text.parse::<u32>().is_ok(),
        TypeRef::I64 => text.parse::<i64>().is_ok(),
        TypeRef::I32 => text.parse::<i32>().is_ok(),
        TypeRef::F64 => text.parse::<f64>().is_ok(),
        TypeRef::Bool => text == "true" || text == "false",
        _ => true,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn remove_path(body: &mut Value, path: &str) {
    let mut at = body;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Value::Object(map) = at else { return };
        if parts.peek().is_none() {
            map.remove(part);
            return;
        }
        match map.get_mut(part) {
            Some(next) => at = next,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec;
    use http::HeaderMap;
    use seamless_sdk_codegen::example::example;

    fn answer(routes: &SpecRoutes, method: Method, path: &str, query: Option<&str>, body: &[u8]) -> Outcome {
        let headers = HeaderMap::new();
        routes.answer(&Call::detached(&method, path, query, &headers, body))
    }

    #[test]
    fn templates_are_matched_and_public_endpoints_need_no_token() {
        let routes = SpecRoutes::new(&spec("imi_mini.yaml"), 1, None);
        assert_eq!(routes.access(&Method::GET, "/api/users/7"), Access::Token);
        assert_eq!(routes.access(&Method::GET, "/api/users/7/profile"), Access::Token);
        assert_eq!(routes.access(&Method::PATCH, "/api/profile"), Access::Token);
        assert_eq!(routes.access(&Method::GET, "/api/statuses"), Access::Public);
        assert_eq!(routes.access(&Method::POST, "/api/users/7"), Access::Unknown);
        assert_eq!(routes.access(&Method::GET, "/api/users"), Access::Unknown);
        assert_eq!(routes.access(&Method::GET, "/nope"), Access::Unknown);
        assert_eq!(routes.access(&Method::GET, "/"), Access::Unknown);
    }

    #[test]
    fn answers_are_the_examples_of_the_response_type_salted_with_the_path() {
        let api = spec("imi_mini.yaml");
        let routes = SpecRoutes::new(&api, 42, None);
        let user = TypeRef::Named("User".into());
        let Outcome::Value(v) = answer(&routes, Method::GET, "/api/users/7", None, b"") else {
            panic!()
        };
        assert_eq!(v, example(&api, &user, 42, "/api/users/7"));
        assert_ne!(v, example(&api, &user, 42, "/api/users/8"));
        assert_ne!(v, example(&api, &user, 43, "/api/users/7"));
        assert_eq!(routes.example(&Method::GET, "/api/users/7"), Some(v));
        let Outcome::Value(p) = answer(
            &routes,
            Method::GET,
            "/api/users/7/profile",
            Some("verbose=true"),
            b"",
        ) else {
            panic!()
        };
        assert!(p.get("userId").is_some(), "{p}");
        let Outcome::Value(s) = answer(&routes, Method::GET, "/api/statuses", None, b"") else {
            panic!()
        };
        assert!(s.is_array(), "{s}");
    }

    #[test]
    fn bad_path_parameters_and_bodies_are_bad_requests() {
        let routes = SpecRoutes::new(&spec("imi_mini.yaml"), 1, None);
        assert!(matches!(
            answer(&routes, Method::GET, "/api/users/x", None, b""),
            Outcome::BadRequest(m) if m.contains("`id`")
        ));
        assert!(matches!(
            answer(&routes, Method::POST, "/api/orders", None, b"not json"),
            Outcome::BadRequest(_)
        ));
        assert!(matches!(
            answer(&routes, Method::POST, "/api/orders", None, br#"{"order_id":"o"}"#),
            Outcome::Value(_)
        ));
        assert_eq!(
            answer(&routes, Method::GET, "/nope", None, b""),
            Outcome::NotFound
        );
    }

    #[test]
    fn the_fingerprint_leaves_the_token_out() {
        let routes = SpecRoutes::new(
            &spec("wechat_query.yaml"),
            1,
            Some(Placement::Query("access_token".into())),
        );
        let headers = HeaderMap::new();
        let print = |query| {
            routes.fingerprint(&Call::detached(
                &Method::POST,
                "/api/orders",
                Some(query),
                &headers,
                b"{}",
            ))
        };
        assert_eq!(print("access_token=a&x=1"), print("x=1&access_token=b"));
        assert_ne!(print("access_token=a&x=1"), print("access_token=a&x=2"));
        let huge = format!("x={}", "y".repeat(1 << 20));
        assert!(print(&huge).len() < 64, "the fingerprint keeps no body");
        let routes = SpecRoutes::new(
            &spec("bearer_api.yaml"),
            1,
            Some(Placement::JsonBody("auth.token".into())),
        );
        let print = |body: &[u8]| {
            routes.fingerprint(&Call::detached(
                &Method::POST,
                "/api/orders",
                None,
                &headers,
                body,
            ))
        };
        assert_eq!(
            print(br#"{"auth":{"token":"a"},"order_id":"o"}"#),
            print(br#"{"auth":{"token":"b"},"order_id":"o"}"#)
        );
    }

    #[test]
    fn the_storm_page_is_served_at_ui() {
        let routes = SpecRoutes::new(&spec("bearer_api.yaml"), 1, None);
        let (kind, body) = routes.page(UI_PATH).unwrap();
        assert!(kind.starts_with("text/html"));
        assert!(std::str::from_utf8(body).unwrap().contains("/__stats"));
        assert!(routes.page("/__uix").is_none());
    }
}
