//! Path parameters for generated clients.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::Error;

/// Everything but RFC 3986's unreserved characters: a value must stay one
/// segment, so `/`, `?`, `#` and `%` are escaped, and so are the sub-delims
/// some servers split on.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Formats `value` and percent-encodes it as exactly one path segment.
///
/// Empty, `.` and `..` are refused: URL parsers resolve `.`, `..` and even
/// `%2e%2e` as dot segments, so such a value would address another resource.
#[doc(hidden)]
pub fn path_segment(value: impl fmt::Display) -> Result<String, Error> {
    let raw = value.to_string();
    if matches!(raw.as_str(), "" | "." | "..") {
        return Err(Error::request(format!(
            "path parameter `{raw}` would not stay one path segment"
        )));
    }
    Ok(utf8_percent_encode(&raw, SEGMENT).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_stays_one_segment() {
        assert_eq!(path_segment(7).unwrap(), "7");
        assert_eq!(path_segment("a/b?c#d%e f").unwrap(), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(path_segment("v1.2_x-y~z").unwrap(), "v1.2_x-y~z");
        assert_eq!(path_segment("名").unwrap(), "%E5%90%8D");
    }

    #[test]
    fn dot_segments_and_empty_values_are_refused() {
        for bad in ["", ".", ".."] {
            let err = path_segment(bad).unwrap_err();
            assert!(err.is_builder(), "{err:?}");
        }
        assert_eq!(path_segment("...").unwrap(), "...");
    }
}
