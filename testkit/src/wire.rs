//! Small wire helpers: `application/x-www-form-urlencoded` parsing (query strings and
//! OAuth form bodies) and JSON responses. Hand-rolled to keep the dependency list short.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;

/// The response type every handler produces.
pub(crate) type Resp = Response<Full<Bytes>>;

/// Parses `a=1&b=x%20y` pairs; `+` is a space. Malformed escapes are kept literally and
/// invalid UTF-8 is replaced, so hostile input never fails or panics.
pub(crate) fn parse_form(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The first value of `name` in a form-encoded string.
pub(crate) fn form_value(input: &str, name: &str) -> Option<String> {
    parse_form(input)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = hex {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON response with an optional extra header.
pub(crate) fn json(status: StatusCode, body: &Value, header: Option<(HeaderName, String)>) -> Resp {
    // Serializing a `Value` cannot fail (string keys only); fall back to `null` regardless.
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec());
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some((name, value)) = header
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        resp.headers_mut().insert(name, value);
    }
    resp
}

/// Standard base64 with padding, for `Authorization: Basic`.
pub(crate) fn base64(input: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Form encoding of one value, as RFC 6749 §2.3.1 wants it before base64.
pub(crate) fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(char::from(b)),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_form() {
        assert_eq!(
            parse_form("a=1&b=x%20y+z&c&&d=%zz%4"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), "".into()),
                ("d".into(), "%zz%4".into()),
            ]
        );
        assert_eq!(
            form_value("x=1&access_token=t%2B1", "access_token").as_deref(),
            Some("t+1")
        );
        assert_eq!(form_value("", "x"), None);
        // Invalid UTF-8 after decoding is replaced, not an error.
        assert_eq!(decode("%ff"), "\u{fffd}");
        // A multi-byte char right after '%' must not split a char boundary.
        assert_eq!(decode("%é"), "%é");
    }

    #[test]
    fn encodes_basic_credentials() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(form_encode("cs:1 x"), "cs%3A1+x");
    }
}
