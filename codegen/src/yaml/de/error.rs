//! The deserializer's error, and serde's words for what it expected and
//! what it found put in the spec's words ("must be a list, found a mapping").

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Unexpected};

use crate::naming::did_you_mean;
use crate::yaml::tree::{Pos, Value};

/// The error type of [`NodeDe`](super::NodeDe): a message, where it
/// happened once known, and whether it has been recorded already.
#[derive(Debug)]
pub(crate) struct DeError {
    msg: Msg,
    pub(super) at: Option<(Pos, String)>,
    pub(super) recorded: bool,
}

#[derive(Debug)]
enum Msg {
    /// A whole message.
    Full(String),
    /// A predicate (`must be a list, found …`) that gets the key as subject.
    Predicate(String),
}

impl DeError {
    pub(super) fn predicate(p: impl Into<String>) -> Self {
        DeError {
            msg: Msg::Predicate(p.into()),
            at: None,
            recorded: false,
        }
    }

    pub(super) fn recorded() -> Self {
        DeError {
            msg: Msg::Full(String::new()),
            at: None,
            recorded: true,
        }
    }

    pub(super) fn located(mut self, pos: Pos, path: &str) -> Self {
        if self.at.is_none() && !self.recorded {
            self.at = Some((pos, path.to_owned()));
        }
        self
    }

    pub(super) fn message(&self, path: &str) -> String {
        match &self.msg {
            Msg::Full(m) => m.clone(),
            Msg::Predicate(p) => format!("{} {p}", subject(path)),
        }
    }
}

/// `` `status` ``, `` `expiry[0]` ``, or "the spec" for the root.
fn subject(path: &str) -> String {
    match path.rsplit('.').next() {
        Some(last) if !last.is_empty() => format!("`{last}`"),
        _ => "the spec".to_owned(),
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.msg {
            Msg::Full(m) | Msg::Predicate(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DeError {}

/// serde's expectation strings, in the spec's words.
fn expected_words(exp: &dyn de::Expected) -> String {
    let e = exp.to_string();
    match e.as_str() {
        "u8" => format!("a whole number from 0 to {}", u8::MAX),
        "u16" => format!("a whole number from 0 to {}", u16::MAX),
        "u32" => format!("a whole number from 0 to {}", u32::MAX),
        "u64" | "usize" => "a whole number, 0 or more".to_owned(),
        "i32" | "i64" => "a whole number".to_owned(),
        "a boolean" => "`true` or `false`".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "a mapping".to_owned(),
        s if s.starts_with("struct ") => "a mapping".to_owned(),
        _ => e,
    }
}

/// How a node reads in a message.
pub(super) fn found(v: &Value) -> String {
    unexpected_words(&v.unexpected())
}

fn unexpected_words(u: &Unexpected<'_>) -> String {
    match u {
        Unexpected::Bool(b) => format!("`{b}`"),
        Unexpected::Signed(n) => format!("the number `{n}`"),
        Unexpected::Unsigned(n) => format!("the number `{n}`"),
        Unexpected::Float(n) => format!("the number `{n}`"),
        Unexpected::Str(s) => format!("the string `{}`", short(s)),
        Unexpected::Unit => "nothing".to_owned(),
        Unexpected::Seq => "a list".to_owned(),
        Unexpected::Map => "a mapping".to_owned(),
        other => other.to_string(),
    }
}

/// `` `a`, `b` or `c` ``.
pub(super) fn one_of(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            msg: Msg::Full(msg.to_string()),
            at: None,
            recorded: false,
        }
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::predicate(format!(
            "must be {}, found {}",
            expected_words(exp),
            unexpected_words(&unexp)
        ))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::invalid_type(unexp, exp)
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::predicate(format!(
            "must be {}{}, not `{}`{}",
            if expected.len() > 1 { "one of " } else { "" },
            one_of(expected),
            short(variant),
            did_you_mean(variant, expected.iter().copied())
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::custom(format_args!("missing key `{field}`; add it"))
    }
}

/// A value cut to 40 characters for a message.
pub(super) fn short(s: &str) -> Cow<'_, str> {
    if s.chars().count() > 40 {
        Cow::Owned(s.chars().take(40).collect::<String>() + "…")
    } else {
        Cow::Borrowed(s)
    }
}
