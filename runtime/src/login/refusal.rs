//! What a refused login says: the most helpful message its reply offers,
//! with anything that may be a credential replaced by `***`.

use serde_json::Value;

use super::LoginContext;

/// The envelope code of a login reply, when the client has an envelope and
/// the body carries its code.
pub(super) fn envelope_code(cx: &LoginContext, body: Option<&Value>) -> Option<Value> {
    cx.envelope.as_ref()?.code.get(body?).cloned()
}

/// The most helpful message a failed login body offers.
pub(super) fn rejection_message(body: Option<&Value>, cx: &LoginContext) -> String {
    let Some(body) = body else {
        return "non-JSON error response".into();
    };
    let from_env = cx
        .envelope
        .as_ref()
        .and_then(|e| e.message.as_ref())
        .and_then(|p| p.get(body));
    let common = ["error_description", "error", "msg", "message", "errmsg"]
        .iter()
        .find_map(|k| body.get(*k));
    match from_env.or(common) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "the server refused the login".into(),
    }
}

/// A server's error text with anything that may be a credential replaced
/// by `***`: it goes to `Display` and the WARN log, and some servers echo
/// what they were sent. `secrets` are the values this login sent (secret
/// fields, the code, the refresh token); long opaque runs (token-like
/// strings the server may add of its own) go too.
pub(super) fn redact(message: &str, secrets: &[&str]) -> String {
    // Below this length a value is replaced only as a whole word, so a
    // one-letter password does not blank every such letter.
    const SUBSTRING_MIN: usize = 4;
    let mut out = message.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= SUBSTRING_MIN) {
        out = out.replace(s, "***");
    }
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    let opaque = |w: &str| {
        let n = w.chars().count();
        let digit = w.chars().any(|c| c.is_ascii_digit());
        let letter = w.chars().any(|c| c.is_ascii_alphabetic());
        // Long snake_case words are error codes, not secrets.
        let mixed_case =
            w.chars().any(|c| c.is_ascii_uppercase()) && w.chars().any(|c| c.is_ascii_lowercase());
        (n >= 20 && digit && letter) || (n >= 32 && mixed_case)
    };
    let mut redacted = String::with_capacity(out.len());
    let mut word = String::new();
    let flush = |word: &mut String, redacted: &mut String| {
        if secrets.contains(&word.as_str()) || opaque(word) {
            redacted.push_str("***");
        } else {
            redacted.push_str(word);
        }
        word.clear();
    };
    for c in out.chars() {
        if is_token_char(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut redacted);
            redacted.push(c);
        }
    }
    flush(&mut word, &mut redacted);
    redacted
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_sent_secrets_and_opaque_runs_but_keeps_plain_words() {
        let r = redact(
            "refresh token rt-1-2-abcdef refused; password p wrong (apple); \
             token 0a1b2c3d4e5f6a7b8c9d0e1f2a3b seen; access_token_expired_for_user_account \
             eyJhbGciOiJIUzI.eyJzdWIiOiJhYmMifQ.sig",
            &["rt-1-2-abcdef", "p"],
        );
        assert_eq!(
            r,
            "refresh token *** refused; password *** wrong (apple); \
             token *** seen; access_token_expired_for_user_account ***"
        );
        assert_eq!(redact("invalid_grant", &["secret"]), "invalid_grant");
        assert_eq!(redact("bad code xyz123abc!", &["xyz123abc"]), "bad code ***!");
    }
}
