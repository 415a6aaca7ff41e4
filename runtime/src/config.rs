//! The public description of an API's token protocol: where the token goes,
//! how long it lives, how "expired" looks, and how bodies are wrapped.

use std::fmt;

use http::{HeaderName, StatusCode};
use serde_json::Value;

/// A dotted path into a JSON value: `code`, `data.token`, `items.0.id`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsonPath {
    raw: String,
    segments: Vec<String>,
}

impl JsonPath {
    /// Parses a dotted path. Empty segments (`a..b`, a leading dot) are rejected.
    pub fn parse(path: &str) -> Result<Self, String> {
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if path.is_empty() || segments.iter().any(String::is_empty) {
            return Err(format!("`{path}` is not a dotted JSON path like `data.token`"));
        }
        Ok(JsonPath {
            raw: path.to_owned(),
            segments,
        })
    }

    /// Parses a path written in the caller's code; a malformed one is a
    /// mistake there, so it panics.
    pub(crate) fn literal(path: &str) -> Self {
        JsonPath::parse(path).expect("invalid JSON path")
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The value at this path, if present. Numeric segments index arrays.
    pub fn get<'v>(&self, mut value: &'v Value) -> Option<&'v Value> {
        for seg in &self.segments {
            value = match value {
                Value::Object(map) => map.get(seg)?,
                Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(value)
    }

    /// Moves the value at this path out of `value`.
    pub fn take(&self, value: &mut Value) -> Option<Value> {
        let (last, parents) = self.segments.split_last()?;
        let mut cur = value;
        for seg in parents {
            cur = match cur {
                Value::Object(map) => map.get_mut(seg)?,
                Value::Array(items) => items.get_mut(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        match cur {
            Value::Object(map) => map.remove(last),
            Value::Array(items) => items.get_mut(last.parse::<usize>().ok()?).map(Value::take),
            _ => None,
        }
    }

    /// Sets the value at this path, creating objects on the way.
    /// Fails when a parent on the path is not an object.
    pub fn set(&self, value: &mut Value, new: Value) -> Result<(), String> {
        let (last, parents) = self.segments.split_last().expect("paths are never empty");
        let mut cur = value;
        for seg in parents {
            let Value::Object(map) = cur else {
                return Err(format!(
                    "cannot set `{}`: `{seg}`'s parent is not an object",
                    self.raw
                ));
            };
            cur = map
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Default::default()));
        }
        let Value::Object(map) = cur else {
            return Err(format!("cannot set `{}`: its parent is not an object", self.raw));
        };
        map.insert(last.clone(), new);
        Ok(())
    }
}

impl fmt::Debug for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonPath({})", self.raw)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Loose equality for codes: `408` matches `"408"`, as many servers mix them.
pub(crate) fn code_matches(actual: &Value, expected: &Value) -> bool {
    if actual == expected {
        return true;
    }
    match (actual, expected) {
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => n.to_string() == *s,
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => false,
    }
}

/// Where each request carries the token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placement {
    /// A request header holding the bare token, like the seed's `B-T`.
    Header(HeaderName),
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A query parameter, like `?access_token=`.
    Query(String),
    /// A field of the JSON request body (a dotted path; objects are created).
    /// Requests without a body get `{}` as their body.
    JsonBody(JsonPath),
}

impl Placement {
    /// A bare-token request header. Panics on an invalid header name, which
    /// is a literal in the caller's code.
    pub fn header(name: &str) -> Self {
        Placement::Header(HeaderName::try_from(name).expect("invalid header name"))
    }

    /// A query parameter.
    pub fn query(name: impl Into<String>) -> Self {
        Placement::Query(name.into())
    }

    /// A JSON body field at a dotted path. Panics on a malformed path literal.
    pub fn json_body(path: &str) -> Self {
        Placement::JsonBody(JsonPath::literal(path))
    }
}

/// How long a token lives and where the next one comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lifetime {
    /// Each token is good for one request. Every response that carries the
    /// named header (error envelopes included) brings the next token.
    SingleUse {
        /// The response header with the next token.
        next_token: HeaderName,
    },
    /// A token serves any number of requests until the server rejects it or
    /// its known `expires_in` runs out.
    Reusable,
}

impl Lifetime {
    /// Single-use tokens whose successor arrives in the response header `name`.
    pub fn single_use(name: &str) -> Self {
        Lifetime::SingleUse {
            next_token: HeaderName::try_from(name).expect("invalid header name"),
        }
    }
}

/// One way a server says "this token is no longer good".
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ExpiryRule {
    /// The HTTP status is one of these (`401`, `403`).
    Status(Vec<StatusCode>),
    /// A JSON body field has one of these values, whatever the HTTP status:
    /// `code` in {408}, `errcode` in {40001, 42001}.
    BodyField {
        /// Where the field is.
        path: JsonPath,
        /// The values that mean "expired".
        values: Vec<Value>,
    },
    /// A response header is present (with this value, if given).
    Header {
        /// The header.
        name: HeaderName,
        /// The value that means expired; `None` means any value.
        value: Option<String>,
    },
    /// A response header holds this text somewhere in its value:
    /// `error="invalid_token"` in `WWW-Authenticate: Bearer realm="api",
    /// error="invalid_token", error_description="..."`.
    HeaderContains {
        /// The header.
        name: HeaderName,
        /// The text its value must contain.
        text: String,
    },
    /// The body is empty (or only whitespace): some OAuth2 servers answer an
    /// expired token with a bare 403, while a permission error has a body.
    EmptyBody,
    /// Every one of these rules matches (a 403 *and* an empty body).
    All(Vec<ExpiryRule>),
}

impl ExpiryRule {
    /// The HTTP status is one of `codes`.
    pub fn status(codes: impl IntoIterator<Item = u16>) -> Self {
        ExpiryRule::Status(
            codes
                .into_iter()
                .map(|c| StatusCode::from_u16(c).expect("invalid HTTP status code"))
                .collect(),
        )
    }

    /// The body field at `path` holds one of `values`. Panics on a malformed path literal.
    pub fn body_field<V: Into<Value>>(path: &str, values: impl IntoIterator<Item = V>) -> Self {
        ExpiryRule::BodyField {
            path: JsonPath::literal(path),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// The response header `name` is present, with `value` if given.
    pub fn header(name: &str, value: Option<&str>) -> Self {
        ExpiryRule::Header {
            name: HeaderName::try_from(name).expect("invalid header name"),
            value: value.map(str::to_owned),
        }
    }

    /// The response header `name` has `text` somewhere in its value.
    pub fn header_contains(name: &str, text: &str) -> Self {
        ExpiryRule::HeaderContains {
            name: HeaderName::try_from(name).expect("invalid header name"),
            text: text.to_owned(),
        }
    }

    /// The body is empty.
    pub fn empty_body() -> Self {
        ExpiryRule::EmptyBody
    }

    /// Matches only when `self` and `other` both match:
    /// `ExpiryRule::status([403]).and(ExpiryRule::empty_body())`.
    #[must_use]
    pub fn and(self, other: ExpiryRule) -> Self {
        match self {
            ExpiryRule::All(mut rules) => {
                rules.push(other);
                ExpiryRule::All(rules)
            }
            first => ExpiryRule::All(vec![first, other]),
        }
    }

    fn reads_json(&self) -> bool {
        match self {
            ExpiryRule::BodyField { .. } => true,
            ExpiryRule::All(rules) => rules.iter().any(ExpiryRule::reads_json),
            _ => false,
        }
    }

    fn reads_body(&self) -> bool {
        match self {
            ExpiryRule::BodyField { .. } | ExpiryRule::EmptyBody => true,
            ExpiryRule::All(rules) => rules.iter().any(ExpiryRule::reads_body),
            _ => false,
        }
    }

    fn reads_headers(&self) -> bool {
        match self {
            ExpiryRule::Header { .. } | ExpiryRule::HeaderContains { .. } => true,
            ExpiryRule::All(rules) => rules.iter().any(ExpiryRule::reads_headers),
            _ => false,
        }
    }

    /// Whether the rule matches; `None` when it needs what was not given
    /// (the body, before it is read; the headers, after they were dropped).
    fn eval(
        &self,
        status: StatusCode,
        headers: Option<&http::HeaderMap>,
        body: Option<(&[u8], Option<&Value>)>,
    ) -> Option<bool> {
        match self {
            ExpiryRule::Status(codes) => Some(codes.contains(&status)),
            ExpiryRule::Header { name, value } => Some(headers?.get(name).is_some_and(|v| match value {
                Some(want) => v.as_bytes() == want.as_bytes(),
                None => true,
            })),
            ExpiryRule::BodyField { path, values } => Some(
                body?
                    .1
                    .and_then(|b| path.get(b))
                    .is_some_and(|v| values.iter().any(|e| code_matches(v, e))),
            ),
            ExpiryRule::HeaderContains { name, text } => Some(headers?.get_all(name).iter().any(|v| {
                // `windows(0)` would panic; an empty text is in every value.
                text.is_empty() || v.as_bytes().windows(text.len()).any(|w| w == text.as_bytes())
            })),
            ExpiryRule::EmptyBody => Some(body?.0.iter().all(u8::is_ascii_whitespace)),
            ExpiryRule::All(rules) => {
                // A known mismatch decides even while other parts are unknown.
                let mut all = Some(true);
                for rule in rules {
                    match rule.eval(status, headers, body) {
                        Some(false) => return Some(false),
                        Some(true) => {}
                        None => all = None,
                    }
                }
                all
            }
        }
    }
}

/// The rules that mark a reply as "token expired"; any one matching is enough
/// (a rule made with [`ExpiryRule::and`] matches when all its parts do).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expiry {
    rules: Vec<ExpiryRule>,
}

impl Expiry {
    /// No rule: nothing is ever taken for expiry.
    pub fn none() -> Self {
        Expiry::default()
    }

    /// Expired when the HTTP status is one of `codes`.
    pub fn status(codes: impl IntoIterator<Item = u16>) -> Self {
        Expiry::none().or_status(codes)
    }

    /// Expired when the body field at `path` holds one of `values`.
    pub fn body_field<V: Into<Value>>(path: &str, values: impl IntoIterator<Item = V>) -> Self {
        Expiry::none().or_body_field(path, values)
    }

    /// Adds a status rule.
    #[must_use]
    pub fn or_status(mut self, codes: impl IntoIterator<Item = u16>) -> Self {
        let codes = codes
            .into_iter()
            .map(|c| StatusCode::from_u16(c).expect("invalid HTTP status code"))
            .collect();
        self.rules.push(ExpiryRule::Status(codes));
        self
    }

    /// Adds a body-field rule. Panics on a malformed path literal.
    #[must_use]
    pub fn or_body_field<V: Into<Value>>(mut self, path: &str, values: impl IntoIterator<Item = V>) -> Self {
        self.rules.push(ExpiryRule::BodyField {
            path: JsonPath::literal(path),
            values: values.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Adds a header rule.
    #[must_use]
    pub fn or_header(mut self, name: &str, value: Option<&str>) -> Self {
        self.rules.push(ExpiryRule::Header {
            name: HeaderName::try_from(name).expect("invalid header name"),
            value: value.map(str::to_owned),
        });
        self
    }

    /// Adds any rule.
    #[must_use]
    pub fn or(mut self, rule: ExpiryRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The rules, in the order they were added.
    pub fn rules(&self) -> &[ExpiryRule] {
        &self.rules
    }

    /// Does some rule read the parsed JSON body?
    pub(crate) fn needs_body(&self) -> bool {
        self.rules.iter().any(ExpiryRule::reads_json)
    }

    /// Does some rule need the headers once the body is read (a header
    /// condition combined with a body condition)?
    pub(crate) fn rereads_headers(&self) -> bool {
        self.rules.iter().any(|r| r.reads_headers() && r.reads_body())
    }

    /// Do the status line and headers alone mean "expired"?
    pub(crate) fn matches_head(&self, status: StatusCode, headers: &http::HeaderMap) -> bool {
        self.rules
            .iter()
            .any(|rule| rule.eval(status, Some(headers), None) == Some(true))
    }

    /// Does the reply, body included, mean "expired"? `headers` is needed
    /// only when [`Expiry::rereads_headers`]; rules decided by the head alone
    /// were already asked by [`Expiry::matches_head`].
    pub(crate) fn matches_body(
        &self,
        status: StatusCode,
        headers: Option<&http::HeaderMap>,
        bytes: &[u8],
        body: Option<&Value>,
    ) -> bool {
        self.rules
            .iter()
            .any(|rule| rule.eval(status, headers, Some((bytes, body))) == Some(true))
    }
}

/// How successful bodies are wrapped: `{"code": 200, "data": ..., "msg": ...}`
/// or `{"errcode": 0, ...fields}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub(crate) code: JsonPath,
    pub(crate) success: Vec<Value>,
    pub(crate) data: Option<JsonPath>,
    pub(crate) message: Option<JsonPath>,
    pub(crate) absent_is_success: bool,
}

impl Envelope {
    /// An envelope whose status code is at `code_path`. Until configured
    /// further, `200` is success, the whole body is the value and there is
    /// no message field.
    pub fn new(code_path: &str) -> Self {
        Envelope {
            code: JsonPath::literal(code_path),
            success: vec![Value::from(200)],
            data: None,
            message: None,
            absent_is_success: false,
        }
    }

    /// The seed's `{code, data, msg}` envelope: `code == 200` is success.
    pub fn code_data_msg() -> Self {
        Envelope::new("code").success([200]).data("data").message("msg")
    }

    /// The codes that mean success (replaces the default `200`).
    #[must_use]
    pub fn success<V: Into<Value>>(mut self, codes: impl IntoIterator<Item = V>) -> Self {
        self.success = codes.into_iter().map(Into::into).collect();
        self
    }

    /// Where the value is on success; without it the whole body is the value.
    #[must_use]
    pub fn data(mut self, path: &str) -> Self {
        self.data = Some(JsonPath::literal(path));
        self
    }

    /// Where the error message is.
    #[must_use]
    pub fn message(mut self, path: &str) -> Self {
        self.message = Some(JsonPath::literal(path));
        self
    }

    /// Treat a body without the code field as a success (WeChat omits
    /// `errcode` on many successful replies).
    #[must_use]
    pub fn absent_is_success(mut self, yes: bool) -> Self {
        self.absent_is_success = yes;
        self
    }

    /// Splits a parsed body into the value or the API error's (code, message).
    pub(crate) fn open(&self, mut body: Value) -> Result<Value, (Value, Option<String>)> {
        let ok = match self.code.get(&body) {
            Some(code) => self.success.iter().any(|s| code_matches(code, s)),
            None => self.absent_is_success,
        };
        if !ok {
            let code = self.code.get(&body).cloned().unwrap_or(Value::Null);
            let message = self.message.as_ref().and_then(|p| p.get(&body)).map(|m| match m {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            return Err((code, message));
        }
        Ok(match &self.data {
            Some(path) => path.take(&mut body).unwrap_or(Value::Null),
            None => body,
        })
    }
}

#[cfg(test)]
mod tests;
