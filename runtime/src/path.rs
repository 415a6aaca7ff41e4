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
/// The result encodes while it is formatted into the path, so a call's path
/// costs no allocation beyond the path itself.
#[doc(hidden)]
pub fn path_segment<T: fmt::Display>(value: T) -> Result<Segment<T>, Error> {
    let mut probe = DotProbe::default();
    if fmt::write(&mut probe, format_args!("{value}")).is_err() {
        return Err(Error::request("a path parameter could not be formatted"));
    }
    let head = &probe.head[..probe.len];
    if matches!(head, b"" | b"." | b"..") {
        return Err(Error::request(format!(
            "path parameter `{}` would not stay one path segment",
            String::from_utf8_lossy(head)
        )));
    }
    Ok(Segment(value))
}

/// A checked path parameter; `Display` writes it percent-encoded.
#[doc(hidden)]
#[derive(Debug)]
pub struct Segment<T>(T);

impl<T: fmt::Display> fmt::Display for Segment<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Percent-encoding is byte by byte, so each piece the value writes
        // can be encoded on its own.
        struct Encode<'a, 'b>(&'a mut fmt::Formatter<'b>);
        impl fmt::Write for Encode<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                utf8_percent_encode(s, SEGMENT).try_for_each(|part| self.0.write_str(part))
            }
        }
        fmt::write(&mut Encode(f), format_args!("{}", self.0))
    }
}

/// Sees whether a formatted value is one of `""`, `"."` and `".."`
/// without keeping more than its first three bytes.
#[derive(Default)]
struct DotProbe {
    head: [u8; 3],
    len: usize,
}

impl fmt::Write for DotProbe {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.head.len() {
                break;
            }
            self.head[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_stays_one_segment() {
        assert_eq!(path_segment(7).unwrap().to_string(), "7");
        assert_eq!(
            path_segment("a/b?c#d%e f").unwrap().to_string(),
            "a%2Fb%3Fc%23d%25e%20f"
        );
        assert_eq!(path_segment("v1.2_x-y~z").unwrap().to_string(), "v1.2_x-y~z");
        assert_eq!(path_segment("名").unwrap().to_string(), "%E5%90%8D");
    }

    #[test]
    fn dot_segments_and_empty_values_are_refused() {
        for bad in ["", ".", ".."] {
            let err = path_segment(bad).unwrap_err();
            assert!(err.is_builder(), "{err:?}");
        }
        assert_eq!(path_segment("...").unwrap().to_string(), "...");
    }
}
