//! What a login flow sends beyond its fields: a refresh grant described in
//! full (method, encoding, constant and secret fields) and HTTP Basic client
//! authentication at the token endpoint (RFC 6749 §2.3.1).

use std::fmt;

use http::Method;

use super::{Encoding, FieldValue, LoginFlow, Refresh};
use crate::secret::Secret;

/// A refresh grant: the request that trades a refresh token for a new
/// session, for [`LoginFlow::refresh_with`]. Like the login it takes a
/// method, an encoding, constant fields and secret fields, so a client
/// secret never has to be a constant.
///
/// ```
/// use seamless_sdk_runtime::{Encoding, LoginFlow, RefreshGrant};
/// let flow = LoginFlow::new(http::Method::POST, "/oauth/token")
///     .encoding(Encoding::Form)
///     .field("grant_type", "password")
///     .refresh_token_at("refresh_token")
///     .refresh_with(
///         RefreshGrant::new("/oauth/token", "refresh_token")
///             .field("grant_type", "refresh_token")
///             .field("client_id", "app")
///             .secret_field("client_secret", "from-the-environment"),
///     );
/// ```
#[derive(Clone)]
pub struct RefreshGrant {
    method: Method,
    path: String,
    encoding: Option<Encoding>,
    field: String,
    /// `None`: the login's secret field of that name, found by `refresh_with`.
    fields: Vec<(String, Option<FieldValue>)>,
}

impl fmt::Debug for RefreshGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshGrant")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("encoding", &self.encoding)
            .field("field", &self.field)
            .field("fields", &self.fields.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish()
    }
}

impl RefreshGrant {
    /// `POST path` with the refresh token in field `field`, encoded like the
    /// login (JSON when the login sends a query).
    pub fn new(path: impl Into<String>, field: impl Into<String>) -> Self {
        RefreshGrant {
            method: Method::POST,
            path: path.into(),
            encoding: None,
            field: field.into(),
            fields: Vec::new(),
        }
    }

    /// The grant's HTTP method (default `POST`).
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// How the grant's fields are sent.
    #[must_use]
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = Some(encoding);
        self
    }

    /// A constant field (`grant_type=refresh_token`).
    #[must_use]
    pub fn field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields
            .push((name.into(), Some(FieldValue::Plain(value.into()))));
        self
    }

    /// A secret field (`client_secret`), never printed.
    #[must_use]
    pub fn secret_field(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.fields
            .push((name.into(), Some(FieldValue::Secret(value.into()))));
        self
    }

    /// Sends the login's secret field `name` here too (a `client_secret`
    /// both grants need), so the secret is given once. [`LoginFlow::refresh_with`]
    /// looks it up, so the login's `secret_field` must come first.
    #[must_use]
    pub fn login_secret(mut self, name: impl Into<String>) -> Self {
        self.fields.push((name.into(), None));
        self
    }
}

/// The client's credentials for `Authorization: Basic`.
#[derive(Clone)]
pub(super) struct BasicClient {
    id: String,
    secret: Secret,
}

impl fmt::Debug for BasicClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicClient")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl BasicClient {
    /// Stamps the credentials on a token-endpoint request. RFC 6749 §2.3.1
    /// form-encodes both before base64, so a `:` in the secret survives.
    pub(super) fn apply(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        rb.basic_auth(form_encode(&self.id), Some(form_encode(self.secret.expose())))
    }
}

/// `application/x-www-form-urlencoded` for one value.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(char::from(b)),
            b' ' => out.push('+'),
            b => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
    out
}

impl LoginFlow {
    /// A refresh grant described in full, tried before a full login. Its
    /// response is read like the login's.
    ///
    /// Panics when the grant names a [`RefreshGrant::login_secret`] that is
    /// not (yet) a secret field of this login: a mistake in the caller's code.
    #[must_use]
    pub fn refresh_with(mut self, grant: RefreshGrant) -> Self {
        let fields = grant
            .fields
            .into_iter()
            .map(|(name, value)| {
                let value = value.unwrap_or_else(|| {
                    self.fields
                        .iter()
                        .find(|(k, v)| *k == name && matches!(v, FieldValue::Secret(_)))
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| panic!("`login_secret({name:?})`: the login has no secret field `{name}`; add it with `secret_field` before `refresh_with`"))
                });
                (name, value)
            })
            .collect();
        let encoding = grant.encoding.unwrap_or_else(|| self.refresh_encoding());
        self.refresh = Some(Refresh {
            method: grant.method,
            path: grant.path,
            encoding,
            field: grant.field,
            fields,
        });
        self
    }

    /// Authenticates the client at the token endpoint with HTTP Basic
    /// (RFC 6749 §2.3.1), on the login and the refresh grant alike. The
    /// secret is never printed.
    #[must_use]
    pub fn client_basic_auth(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        self.client_auth = Some(BasicClient {
            id: client_id.into(),
            secret: client_secret.into(),
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encodes_like_a_form() {
        assert_eq!(form_encode("a-Z_0.*"), "a-Z_0.*");
        assert_eq!(form_encode("cs:1 x/é"), "cs%3A1+x%2F%C3%A9");
    }

    #[test]
    fn a_login_secret_is_reused_by_the_grant() {
        let flow = LoginFlow::new(Method::POST, "/t")
            .secret_field("client_secret", "s1")
            .refresh_with(RefreshGrant::new("/t", "rt").login_secret("client_secret"));
        let r = flow.refresh.as_ref().unwrap();
        let sent = super::super::expose(&r.fields);
        assert_eq!(sent, vec![("client_secret".to_owned(), "s1".to_owned())]);
    }

    #[test]
    #[should_panic(expected = "the login has no secret field `client_secret`")]
    fn a_login_secret_the_login_lacks_is_a_programming_error() {
        let _ = LoginFlow::new(Method::POST, "/t")
            .field("client_secret", "a constant is not a secret")
            .refresh_with(RefreshGrant::new("/t", "rt").login_secret("client_secret"));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let flow = LoginFlow::new(Method::POST, "/oauth/token")
            .client_basic_auth("app", "hunter2")
            .refresh_with(
                RefreshGrant::new("/oauth/token", "refresh_token").secret_field("client_secret", "hunter3"),
            );
        let grant = RefreshGrant::new("/t", "rt").secret_field("client_secret", "hunter4");
        let printed = format!("{flow:?} {grant:?}");
        assert!(printed.contains("app"), "{printed}");
        assert!(printed.contains("client_secret"), "{printed}");
        for secret in ["hunter2", "hunter3", "hunter4"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
