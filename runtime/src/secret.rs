//! A token value that never prints itself.

use std::fmt;
use std::sync::{Arc, OnceLock};

use http::HeaderValue;

/// A session token, refresh token or login code.
///
/// `Debug` and `Display` print `***`; the only way to read the value is
/// [`Secret::expose`], so a stray `{:?}` in a log line cannot leak it.
#[derive(Clone)]
pub struct Secret(Arc<Inner>);

struct Inner {
    value: Box<str>,
    /// The header values a request carries, built once per token rather
    /// than once per call (`Bearer …` or the bare value).
    bearer: OnceLock<Option<HeaderValue>>,
    bare: OnceLock<Option<HeaderValue>>,
}

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<Box<str>>) -> Self {
        Secret(Arc::new(Inner {
            value: value.into(),
            bearer: OnceLock::new(),
            bare: OnceLock::new(),
        }))
    }

    /// The value itself, for putting it on the wire or in a store.
    pub fn expose(&self) -> &str {
        &self.0.value
    }

    /// The value as a sensitive header value, prefixed `Bearer ` or bare;
    /// `None` when it cannot be one.
    pub(crate) fn header_value(&self, bearer: bool) -> Option<HeaderValue> {
        let (cell, prefix) = match bearer {
            true => (&self.0.bearer, "Bearer "),
            false => (&self.0.bare, ""),
        };
        cell.get_or_init(|| {
            let mut value = HeaderValue::try_from(format!("{prefix}{}", self.expose())).ok()?;
            value.set_sensitive(true);
            Some(value)
        })
        .clone()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl std::hash::Hash for Secret {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.expose().hash(state);
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("tok-123");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "tok-123");
    }

    #[test]
    fn header_values_are_sensitive_and_built_once() {
        let s = Secret::new("tok-123");
        let bearer = s.header_value(true).unwrap();
        assert_eq!(bearer, "Bearer tok-123");
        assert!(bearer.is_sensitive());
        assert_eq!(s.header_value(false).unwrap(), "tok-123");
        assert!(std::ptr::eq(
            s.header_value(true).unwrap().as_bytes().as_ptr(),
            s.clone().header_value(true).unwrap().as_bytes().as_ptr()
        ));
        assert!(Secret::new("a\nb").header_value(false).is_none());
    }
}
