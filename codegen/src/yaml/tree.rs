//! The spec text as a tree of positioned nodes: the parse into it (by
//! serde-saphyr, under a budget, on a thread of its own) before any of it
//! is read as a spec, with the parser's errors in the spec's words; and
//! what the tree can tell about a node by itself: where it is, what it is,
//! and how a scalar was written.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Error as YamlError, MessageFormatter, Spanned, UserMessageFormatter};

use super::{MAX_DEPTH, MAX_SPEC_BYTES};
use crate::diag::{Diagnostic, DiagnosticKind};
use crate::model::Origin;

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub(crate) fn origin(self) -> Origin {
        Origin::Yaml {
            line: self.line,
            column: self.column,
        }
    }
}

/// A YAML node with its position.
pub(crate) type Node = Spanned<Value>;

/// A YAML value. Mappings keep their entries in source order, duplicates included.
#[derive(Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                Value::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(Value::UInt(v))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
                Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
                Ok(u64::try_from(v).map_or(Value::Float(v as f64), Value::UInt))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Value, E> {
                Ok(Value::Str(v))
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Value, E> {
                Err(E::custom("binary values are not supported in a spec; write text"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(Value::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = a.next_entry()? {
                    entries.push(entry);
                }
                Ok(Value::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// Where a node is: where it is used (the alias, for an alias).
pub(crate) fn pos_of(node: &Node) -> Pos {
    let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX).max(1);
    Pos {
        line: clamp(node.referenced.line()),
        column: clamp(node.referenced.column()),
    }
}

impl Value {
    /// The node as serde's error messages name what they found.
    pub(super) fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Int(n) => Unexpected::Signed(*n),
            Value::UInt(n) => Unexpected::Unsigned(*n),
            Value::Float(n) => Unexpected::Float(*n),
            Value::Str(s) => Unexpected::Str(s),
            Value::Seq(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
        }
    }
}

/// A scalar as text: a string as it is, any other scalar as written (`yes`,
/// `2`, `1.0`), so a value meant as text is taken as the user typed it, not
/// as YAML read it. `None` for nothing, a list or a mapping.
pub(super) fn scalar_text<'a>(source: &'a str, node: &'a Node) -> Option<Cow<'a, str>> {
    let shown = match &node.value {
        Value::Str(s) => return Some(Cow::Borrowed(s)),
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        Value::Float(n) => n.to_string(),
        Value::Null | Value::Seq(_) | Value::Map(_) => return None,
    };
    Some(plain_text(source, node).map_or(Cow::Owned(shown), Cow::Borrowed))
}

/// The text of a plain scalar as it stands in `source`.
fn plain_text<'a>(source: &'a str, node: &Node) -> Option<&'a str> {
    let span = node.defined.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    let text = source.get(start..start.checked_add(len)?)?;
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '.'));
    plain.then_some(text)
}

/// The parser recurses once per nesting level, with frames of tens of KiB in
/// debug builds; it runs on its own thread with this much stack, so the
/// caller's stack size (a test thread has 2 MiB) does not matter.
const PARSE_STACK: usize = 32 * 1024 * 1024;

/// The budget and the policies every parse runs under.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            flow_nesting_limit: MAX_DEPTH,
            max_documents: 1,
            max_nodes: 250_000,
            max_events: 1_000_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_merge_keys: 1_000,
            max_total_scalar_bytes: MAX_SPEC_BYTES,
            max_recorded_anchor_bytes: MAX_SPEC_BYTES,
            max_recorded_anchor_events: 100_000,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 16,
        },
        // Repeated keys reach the tree; `de` reports each one.
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        // YAML 1.2 booleans: `on`, `yes`, `no` stay strings.
        strict_booleans: true,
        with_snippet: false,
    }
}

/// Text → tree, or the one diagnostic that says why not.
pub(crate) fn parse(source: &str) -> Result<Node, Diagnostic> {
    let parsed = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("seamless-yaml".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || parse_here(source));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(Failure {
                    kind: DiagnosticKind::Internal,
                    at: None,
                    message: "the YAML parser failed on this input; please report it with the spec"
                        .to_owned(),
                })
            }),
            // No thread to be had: the depth budget still bounds the recursion.
            Err(_) => parse_here(source),
        }
    });
    parsed.map_err(|f| {
        let origin = match f.at {
            Some((line, column)) => Origin::Yaml { line, column },
            None => Origin::Unknown,
        };
        Diagnostic::error(f.kind, origin, "", f.message)
    })
}

/// Why the text did not parse, as plain data so it can cross threads.
struct Failure {
    kind: DiagnosticKind,
    /// Line and column, when the parser knows them.
    at: Option<(u32, u32)>,
    message: String,
}

/// Parses on the current thread.
fn parse_here(source: &str) -> Result<Node, Failure> {
    serde_saphyr::from_str_with_options::<Node>(source, options()).map_err(|e| {
        let at = e.location().filter(|l| l.line() > 0).map(|l| {
            (
                u32::try_from(l.line()).unwrap_or(u32::MAX),
                u32::try_from(l.column()).unwrap_or(u32::MAX).max(1),
            )
        });
        Failure {
            kind: DiagnosticKind::Unreadable,
            at,
            message: yaml_message(&e),
        }
    })
}

fn depth_message() -> String {
    format!("the spec nests deeper than {MAX_DEPTH} levels; a spec needs far fewer, flatten it")
}

/// A parse error in the spec's words.
fn yaml_message(e: &YamlError) -> String {
    let mut root = e.without_snippet();
    while let YamlError::AliasError { error, .. } = root {
        root = error.without_snippet();
    }
    let limit = match root {
        YamlError::Budget { breach, .. } => Some(match breach {
            BudgetBreach::Depth { .. } => depth_message(),
            BudgetBreach::Documents { .. } => {
                "the file holds more than one YAML document; keep one spec per file and remove `---`".to_owned()
            }
            BudgetBreach::Aliases { .. } | BudgetBreach::Anchors { .. } => {
                "the spec uses more than 1000 aliases or anchors; write the values out".to_owned()
            }
            _ => "the spec expands to more content than a spec may have (an alias bomb?); write the values out or split the spec".to_owned(),
        }),
        YamlError::AliasReplayLimitExceeded { .. }
        | YamlError::AliasExpansionLimitExceeded { .. }
        | YamlError::AliasReplayStackDepthExceeded { .. } => Some(
            "aliases in the spec expand to too much content (an alias bomb?); write the values out".to_owned(),
        ),
        YamlError::MultipleDocuments { .. } => {
            Some("the file holds more than one YAML document; keep one spec per file and remove `---`".to_owned())
        }
        _ => None,
    };
    if let Some(m) = limit {
        return m;
    }
    let text = UserMessageFormatter.format_message(root);
    // The scanner's own limit on flow nesting (`[[[…`) says it this way.
    if text.contains("recursion limit exceeded") {
        return depth_message();
    }
    // The parser's text may quote the input: keep it on one line.
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut chars = text.chars();
    let text = match chars.next() {
        Some(first) => first.to_lowercase().collect::<String>() + chars.as_str(),
        None => "unreadable YAML".to_owned(),
    };
    format!(
        "invalid YAML: {}; fix the syntax here",
        text.trim_end_matches('.')
    )
}
