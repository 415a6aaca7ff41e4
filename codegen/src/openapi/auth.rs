//! The token protocol: what `securitySchemes` can say (where the token
//! goes), under what only seamless can say (rotation, expiry signals,
//! envelopes, the login), given as the `x-seamless` extension's `auth` or
//! an overlay file's; keys given there win.

use serde_json::Value;

use super::Importer;
use super::doc::{Node, node_of};

impl Importer<'_> {
    /// The spec's `auth` section.
    pub(crate) fn auth(&mut self, overlay: Option<&Value>) -> Node {
        let given = overlay
            .and_then(|o| o.get("auth"))
            .or_else(|| self.root.get("x-seamless").and_then(|x| x.get("auth")));
        let mut auth = Node::map();
        let given_keys: Vec<&str> = given
            .and_then(Value::as_object)
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        if !given_keys.contains(&"placement") {
            auth.set("placement", self.placement());
        }
        if !given_keys.contains(&"lifetime") {
            auth.set("lifetime", Node::str("reusable"));
        }
        if !given_keys.contains(&"expiry") {
            auth.set(
                "expiry",
                Node::List(vec![Node::map().with("status", Node::List(vec![Node::Int(401)]))]),
            );
        }
        if !given_keys.contains(&"login") {
            if let Some(login) = self.oauth2_login() {
                auth.set("login", login);
            } else if given.is_none() {
                self.warn(
                    "",
                    "no `x-seamless` or overlay `auth`: the client takes a custom login (`login: custom`), \
                     tokens are reusable and a 401 means expired; give an overlay to declare the login flow",
                );
            }
            if !matches!(&auth, Node::Map(e) if e.iter().any(|(k, _)| k == "login")) {
                auth.set("login", Node::str("custom"));
            }
        }
        if let Some(Value::Object(entries)) = given {
            for (k, v) in entries {
                auth.set(k.clone(), node_of(v));
            }
        }
        auth
    }

    /// An OAuth 2.0 scheme's client-credentials or password flow, as a
    /// login request to its token URL (RFC 6749 §4.4, §4.3): the secrets
    /// are the user's, given when the client is built. The token URL must
    /// be a path, or on the API's own server, since logins go to the base URL.
    fn oauth2_login(&mut self) -> Option<Node> {
        let schemes = self.root.pointer("/components/securitySchemes")?.as_object()?;
        let base = self
            .root
            .pointer("/servers/0/url")
            .and_then(Value::as_str)
            .unwrap_or("");
        for (name, scheme) in schemes {
            if scheme.get("type").and_then(Value::as_str) != Some("oauth2") {
                continue;
            }
            let flows = scheme.get("flows")?;
            let (flow, grant, secrets) = if let Some(f) = flows.get("clientCredentials") {
                (f, "client_credentials", ["client_id", "client_secret"])
            } else if let Some(f) = flows.get("password") {
                (f, "password", ["username", "password"])
            } else {
                continue;
            };
            let url = flow.get("tokenUrl").and_then(Value::as_str)?;
            let path = if url.starts_with('/') {
                url.to_owned()
            } else if !base.is_empty() && url.starts_with(base.trim_end_matches('/')) {
                let rest = &url[base.trim_end_matches('/').len()..];
                if rest.starts_with('/') {
                    rest.to_owned()
                } else {
                    format!("/{rest}")
                }
            } else {
                self.warn(
                    &format!("/components/securitySchemes/{}/flows", super::doc::escape(name)),
                    format!("the token URL `{url}` is not on the API's server: the login is custom"),
                );
                continue;
            };
            let login = Node::map()
                .with("method", Node::str("POST"))
                .with("path", Node::str(path))
                .with("encoding", Node::str("form"))
                .with("fields", Node::map().with("grant_type", Node::str(grant)))
                .with(
                    "secrets",
                    Node::List(secrets.iter().map(|s| Node::str(*s)).collect()),
                )
                .with("token", Node::map().with("json", Node::str("access_token")))
                .with("expires_in", Node::str("expires_in"));
            return Some(login);
        }
        None
    }

    /// Where the first usable security scheme puts the token.
    fn placement(&mut self) -> Node {
        let schemes = self
            .root
            .pointer("/components/securitySchemes")
            .and_then(Value::as_object);
        for (name, scheme) in schemes.into_iter().flatten() {
            let Some((scheme, _)) = super::doc::deref(self.root, scheme, "") else {
                continue;
            };
            let kind = scheme.get("type").and_then(Value::as_str).unwrap_or("");
            let place = scheme.get("in").and_then(Value::as_str);
            let key = scheme.get("name").and_then(Value::as_str);
            match (kind, place, key) {
                ("http", _, _)
                    if scheme
                        .get("scheme")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.eq_ignore_ascii_case("bearer")) =>
                {
                    return Node::str("bearer");
                }
                ("oauth2" | "openIdConnect", _, _) => return Node::str("bearer"),
                ("apiKey", Some("header"), Some(h)) if h.eq_ignore_ascii_case("authorization") => {
                    return Node::str("bearer");
                }
                ("apiKey", Some("header"), Some(h)) => return Node::map().with("header", Node::str(h)),
                ("apiKey", Some("query"), Some(q)) => return Node::map().with("query", Node::str(q)),
                _ => self.warn(
                    &format!("/components/securitySchemes/{}", super::doc::escape(name)),
                    format!("security scheme `{name}` ({kind}) carries no token seamless can place: ignored"),
                ),
            }
        }
        Node::str("bearer")
    }
}
