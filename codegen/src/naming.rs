//! Naming rules the whole generator shares: what a Rust name may be, how a
//! wire name becomes one, and "did you mean" suggestions. Below every layer
//! (the YAML front end, validation and the emitter import it), so none of
//! them imports another's internals for a name.

/// Strict and reserved keywords of edition 2024 (`gen` included).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop",
    "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self", "Self",
    "static", "struct", "super", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers (`r#self` is an error).
pub(crate) const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// A Rust keyword (strict or reserved).
pub(crate) fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// Usable as a field or argument name: an ASCII identifier, where keywords
/// are fine (the emitter writes `r#type`) except those raw identifiers cannot spell.
pub(crate) fn is_field_ident(name: &str) -> bool {
    is_ascii_ident(name) && !NOT_RAW.contains(&name)
}

fn is_ascii_ident(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    name != "_" && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `get_user`: lowercase ASCII words joined by `_`, starting with a letter.
pub(crate) fn is_snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `CreateOrder`: ASCII letters and digits, starting upper-case.
pub(crate) fn is_camel_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase()) && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Splits a name into words at separators and case humps:
/// `nickName` → nick, Name; `HTTPCode` → HTTP, Code; `on-hold` → on, hold.
/// `None` when a character is neither ASCII alphanumeric nor a separator
/// (such names need an explicit Rust name).
fn words(name: &str) -> Option<Vec<String>> {
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii() {
            return None;
        }
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            // A hump (`nickName`), or the last capital of an acronym (`HTTPCode`).
            if prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower)
            {
                words.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    Some(words)
}

/// The snake_case Rust name for a wire name (`nickName` → `nick_name`,
/// `X-Trace-Id` → `x_trace_id`), or `None` when it has none.
pub(crate) fn to_snake_case(name: &str) -> Option<String> {
    let words = words(name)?;
    let snake = words
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    is_field_ident(&snake)
        .then_some(snake)
        .filter(|s| s.starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// The CamelCase Rust name for a wire name (`on-hold` → `OnHold`,
/// `ACTIVE` → `Active`), or `None` when it has none.
pub(crate) fn to_camel_case(name: &str) -> Option<String> {
    let words = words(name)?;
    let camel: String = words
        .iter()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect();
    (is_camel_case(&camel) && !is_keyword(&camel)).then_some(camel)
}

/// Words and candidates longer than this (in chars) are no typos of each
/// other: the edit distance takes time and memory `len × len`.
const MAX_SUGGEST_LEN: usize = 64;

/// Candidates scored per suggestion at most, so a spec with tens of
/// thousands of names and as many misspellings stays linear.
const MAX_SUGGEST_TRIES: usize = 128;

/// The candidate closest to `word`, when it is close enough to be a likely
/// typo (case is ignored: `get` suggests `GET`).
pub(crate) fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = word.chars().count();
    if len > MAX_SUGGEST_LEN {
        return None;
    }
    let lower = word.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    let mut tries = 0;
    for cand in candidates {
        if cand == word {
            continue;
        }
        // The distance is at least the difference in length: past 40% of
        // the longer one, the score cannot reach 0.6.
        let cand_len = cand.chars().take(MAX_SUGGEST_LEN + 1).count();
        if cand_len > MAX_SUGGEST_LEN || len.abs_diff(cand_len) * 5 > len.max(cand_len) * 2 {
            continue;
        }
        tries += 1;
        if tries > MAX_SUGGEST_TRIES {
            break;
        }
        let score = strsim::normalized_damerau_levenshtein(&lower, &cand.to_lowercase());
        if score >= 0.6 && !swaps_a_word(&lower, cand) && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// Do two names of as many `_`/`-` words differ in a whole word
/// (`login_backoff_ms`, `login_timeout_ms`)? Then they name different
/// things, however many letters the other words share: a typo changes a
/// word, it does not replace one.
fn swaps_a_word(word: &str, cand: &str) -> bool {
    let words = |s: &str| s.split(['_', '-']).map(str::to_lowercase).collect::<Vec<_>>();
    let (a, b) = (words(word), words(cand));
    a.len() > 1
        && a.len() == b.len()
        && a.iter()
            .zip(&b)
            .any(|(x, y)| strsim::normalized_damerau_levenshtein(x, y) < 0.5)
}

/// `; did you mean `x`?`, or nothing.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match suggest(word, candidates) {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_and_camel() {
        assert_eq!(to_snake_case("nickName").as_deref(), Some("nick_name"));
        assert_eq!(to_snake_case("HTTPCode").as_deref(), Some("http_code"));
        assert_eq!(to_snake_case("userID").as_deref(), Some("user_id"));
        assert_eq!(to_snake_case("X-Trace-Id").as_deref(), Some("x_trace_id"));
        assert_eq!(to_snake_case("order_id").as_deref(), Some("order_id"));
        assert_eq!(to_snake_case("v2Name").as_deref(), Some("v2_name"));
        assert_eq!(to_snake_case("type").as_deref(), Some("type"));
        assert_eq!(to_snake_case("1st"), None);
        assert_eq!(to_snake_case("名字"), None);
        assert_eq!(to_snake_case("--"), None);
        assert_eq!(to_snake_case("self"), None);
        assert_eq!(to_camel_case("on-hold").as_deref(), Some("OnHold"));
        assert_eq!(to_camel_case("ACTIVE").as_deref(), Some("Active"));
        assert_eq!(to_camel_case("in_review").as_deref(), Some("InReview"));
        assert_eq!(to_camel_case("404"), None);
        assert_eq!(to_camel_case("self"), None);
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("methd", ["method", "path", "doc"]), Some("method"));
        assert_eq!(suggest("Usr", ["User", "Order"]), Some("User"));
        assert_eq!(suggest("get", ["GET", "POST"]), Some("GET"));
        assert_eq!(suggest("zzz", ["method", "path"]), None);
        // A whole word swapped is another setting, not a typo of it.
        assert_eq!(
            suggest("login_backoff_ms", ["login_timeout_ms", "request_timeout_ms"]),
            None
        );
        assert_eq!(
            suggest(
                "login_backoff_ms",
                ["login_timeout_ms", "login_backoff", "expiry_skew_ms"]
            ),
            Some("login_backoff")
        );
        // A typo inside a word still is one.
        assert_eq!(
            suggest("login_timout_ms", ["login_timeout_ms"]),
            Some("login_timeout_ms")
        );
        assert_eq!(suggest("rust_nmae", ["rust_name", "doc"]), Some("rust_name"));
        assert_eq!(suggest("max_replay", ["max_replays"]), Some("max_replays"));
    }

    #[test]
    fn idents() {
        assert!(is_snake_case("get_user2"));
        assert!(!is_snake_case("getUser"));
        assert!(!is_snake_case("_x"));
        assert!(is_camel_case("User2"));
        assert!(!is_camel_case("user"));
        assert!(!is_camel_case("Create_Order"));
        assert!(is_field_ident("type"));
        assert!(!is_field_ident("self"));
        assert!(!is_field_ident("a-b"));
    }
}
