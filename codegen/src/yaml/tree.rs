//! The spec text as a tree of positioned nodes: what serde-saphyr parses
//! into (under the budget `yaml::options` sets) before any of it is read as
//! a spec, and what the tree can tell about a node by itself: where it is,
//! what it is, and how a scalar was written.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde_saphyr::Spanned;

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
