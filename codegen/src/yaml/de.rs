//! A serde `Deserializer` over the [`tree`](super::tree) that reports
//! problems instead of stopping at the first one. The raw types are
//! deserialized by [`NodeDe`], which:
//!
//! - drops unknown keys of a struct before serde sees them and reports each,
//!   with a close match (serde's `deny_unknown_fields` would stop at the first);
//! - drops a repeated key and reports it (YAML requires unique keys; serde
//!   would keep the last silently or stop);
//! - gives every `Sp` its line, column and spec path, and turns a value that
//!   does not fit into a reported problem plus an empty `Sp`, so one bad value
//!   costs only itself;
//! - records the position of every spec path, so checks that run later on the
//!   model can still point at the right line.

mod access;
mod error;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::HashMap;

use serde::de::{self, Deserializer, Visitor};
use serde::forward_to_deserialize_any;

use self::access::{MapDe, MapEnum, SeqDe, SpAccess, UnitEnum};
pub(crate) use self::error::DeError;
use self::error::{found, one_of, short};
use super::spanned::{EITHER_MARKER, SP_MARKER};
use super::tree::{Node, Pos, Value, pos_of, scalar_text};
use crate::diag::{Diagnostic, DiagnosticKind};
use crate::naming::did_you_mean;

/// The longest mapping key accepted, in bytes.
const MAX_KEY_BYTES: usize = 256;

/// What the loader collects while walking the tree.
#[derive(Debug, Default)]
pub(crate) struct State<'s> {
    /// The spec text, to read plain scalars back as written.
    pub source: &'s str,
    pub diags: RefCell<Vec<Diagnostic>>,
}

impl State<'_> {
    /// Reports a problem at `pos`: the deserializer's are all of the
    /// spec's shape, lowering's of any kind.
    pub(crate) fn error(&self, kind: DiagnosticKind, pos: Pos, path: &str, message: impl Into<String>) {
        self.diags
            .borrow_mut()
            .push(Diagnostic::error(kind, pos.origin(), path, message));
    }

    fn record(&self, e: &DeError, pos: Pos, path: &str) {
        let (pos, path) = match &e.at {
            Some((p, path)) => (*p, path.as_str()),
            None => (pos, path),
        };
        self.error(DiagnosticKind::Shape, pos, path, e.message(path));
    }
}

/// A deserializer over one [`Node`].
pub(crate) struct NodeDe<'a, 's> {
    node: &'a Node,
    state: &'a State<'s>,
    /// The node's spec path.
    path: String,
    /// Where problems with this node are reported.
    anchor: Pos,
}

impl<'a, 's> NodeDe<'a, 's> {
    pub(crate) fn root(node: &'a Node, state: &'a State<'s>) -> Self {
        Self::at(state, node, String::new(), pos_of(node))
    }

    fn at(state: &'a State<'s>, node: &'a Node, path: String, anchor: Pos) -> Self {
        NodeDe {
            node,
            state,
            path,
            anchor,
        }
    }

    fn fail(&self, predicate: String) -> DeError {
        DeError::predicate(predicate).located(self.anchor, &self.path)
    }

    fn mismatch(&self, expected: &str) -> DeError {
        self.fail(format!("must be {expected}, found {}", found(&self.node.value)))
    }

    /// "must be <what the visitor expects>, found <this node>".
    fn wrong_kind<'de, V: Visitor<'de>>(&self, visitor: &V) -> DeError {
        <DeError as de::Error>::invalid_type(self.node.value.unexpected(), visitor)
            .located(self.anchor, &self.path)
    }

    fn locate<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.located(self.anchor, &self.path))
    }

    /// Hands this node on to `f` (a visitor that takes the deserializer
    /// itself), locating here an error that `f` leaves without a place.
    fn hand_on<T>(self, f: impl FnOnce(Self) -> Result<T, DeError>) -> Result<T, DeError> {
        let (anchor, path) = (self.anchor, self.path.clone());
        f(self).map_err(|e| e.located(anchor, &path))
    }

    /// The mapping's entries minus repeated keys (each reported), and for a
    /// struct minus unknown keys (each reported with a close match).
    fn entries(&self, entries: &'a [(Node, Node)], known: Option<(&str, &[&str])>) -> Vec<&'a (Node, Node)> {
        let mut seen: HashMap<String, Pos> = HashMap::new();
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let key = &entry.0;
            let kpos = pos_of(key);
            let Some(text) = scalar_text(self.state.source, key) else {
                self.state.error(
                    DiagnosticKind::Shape,
                    kpos,
                    &self.path,
                    format!("keys must be strings, found {}; quote the key", found(&key.value)),
                );
                continue;
            };
            // Every node below carries its key in its spec path: a long key
            // over many nodes would multiply into gigabytes.
            if text.len() > MAX_KEY_BYTES {
                self.state.error(
                    DiagnosticKind::Shape,
                    kpos,
                    &self.path,
                    format!(
                        "key `{}` is {} bytes long; a key is a name, at most {MAX_KEY_BYTES} bytes",
                        short(&text),
                        text.len()
                    ),
                );
                continue;
            }
            let path = join(&self.path, &text);
            if let Some(first) = seen.get(text.as_ref()) {
                self.state.error(
                    DiagnosticKind::Shape,
                    kpos,
                    &path,
                    format!(
                        "duplicate key `{text}` (first defined at line {}); remove or rename one of them",
                        first.line
                    ),
                );
                continue;
            }
            seen.insert(text.clone().into_owned(), kpos);
            if let Some((what, fields)) = known
                && !fields.contains(&text.as_ref())
            {
                let hint = did_you_mean(&text, fields.iter().copied());
                let fix = if hint.is_empty() {
                    format!("; remove it (known keys: {})", fields.join(", "))
                } else {
                    hint
                };
                self.state.error(
                    DiagnosticKind::Shape,
                    kpos,
                    &path,
                    format!("unknown key `{}` in {what}{fix}", short(&text)),
                );
                continue;
            }
            out.push(entry);
        }
        out
    }

    fn map_access(&self, entries: Vec<&'a (Node, Node)>) -> MapDe<'a, 's> {
        MapDe {
            state: self.state,
            parent: self.path.clone(),
            entries: entries.into_iter(),
            current: None,
        }
    }

    fn seq_access(&self, items: &'a [Node]) -> SeqDe<'a, 's> {
        SeqDe {
            state: self.state,
            parent: self.path.clone(),
            items: items.iter().enumerate(),
        }
    }
}

/// `a.b`, or `b` at the root.
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Where problems with a mapping value are reported: a scalar's own
/// position, a collection's key (a block collection starts on the next line).
fn anchor_of(key: &Node, value: &Node) -> Pos {
    match value.value {
        Value::Seq(_) | Value::Map(_) | Value::Null => pos_of(key),
        _ => pos_of(value),
    }
}

/// The noun for a raw struct in "unknown key … in <noun>", at `path`.
fn noun<'a>(name: &'a str, path: &str) -> &'a str {
    match name {
        "Spec" => "the spec",
        "Auth" => "`auth`",
        "Envelope" => "`envelope`",
        "LoginFlow" => "`login`",
        "Refresh" => "`refresh`",
        "BodyRule" => "a body expiry rule",
        "HeaderRule" => "a header expiry rule",
        "ExpiryRule" => "an expiry rule",
        "LoginBackoff" => "`login_backoff`",
        "Retry" => "`retry`",
        "Cache" => "`cache`",
        "TypeDef" => "a type",
        // One long form serves both: types hold fields, endpoints parameters.
        "TypedLong" if path.starts_with("types.") => "a field",
        "TypedLong" => "a parameter",
        "VariantLong" => "an enum value",
        "Endpoint" => "an endpoint",
        "BodyLong" => "`body`",
        other => other,
    }
}

/// Number types all read the same node kinds; serde's visitor checks the range.
macro_rules! numbers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.deserialize_number(visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for NodeDe<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(n) => visitor.visit_i64(*n),
            Value::UInt(n) => visitor.visit_u64(*n),
            Value::Float(n) => visitor.visit_f64(*n),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(self.seq_access(items)),
            Value::Map(entries) => {
                let entries = self.entries(entries, None);
                visitor.visit_map(self.map_access(entries))
            }
        };
        self.locate(r)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Bool(b) => self.locate(visitor.visit_bool(b)),
            _ => Err(self.wrong_kind(&visitor)),
        }
    }

    numbers! { deserialize_u16 deserialize_u32 deserialize_u64 deserialize_i64 deserialize_f64 }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // A plain `yes` or `2` where text is expected means that text.
        match scalar_text(self.state.source, self.node) {
            Some(text) => self.locate(visitor.visit_str(&text)),
            None => Err(self.wrong_kind(&visitor)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => self.locate(visitor.visit_none()),
            _ => self.hand_on(|de| visitor.visit_some(de)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.hand_on(|de| visitor.visit_newtype_struct(de))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Seq(items) => self.locate(visitor.visit_seq(self.seq_access(items))),
            _ => Err(self.wrong_kind(&visitor)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.mapping(visitor, None)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match name {
            SP_MARKER => visitor.visit_map(SpAccess {
                de: Some(self),
                step: 0,
                partial: false,
            }),
            EITHER_MARKER => match &self.node.value {
                // The long form: hand this node on, as a struct.
                Value::Map(_) => self.hand_on(|de| visitor.visit_newtype_struct(de)),
                Value::Seq(_) => Err(self.mismatch("a string or a mapping")),
                // The short form.
                _ => self.hand_on(|de| visitor.visit_some(de)),
            },
            _ => {
                let noun = noun(name, &self.path);
                self.mapping(visitor, Some((noun, fields)))
            }
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(_) | Value::Bool(_) | Value::Int(_) | Value::UInt(_) | Value::Float(_) => {
                self.hand_on(|de| visitor.visit_enum(UnitEnum { de }))
            }
            Value::Map(entries) if entries.len() == 1 => {
                let entry = &entries[0];
                self.hand_on(|de| visitor.visit_enum(MapEnum { de, entry }))
            }
            Value::Map(_) => {
                Err(self.fail(format!("must have exactly one key, one of {}", one_of(variants))))
            }
            _ => Err(self.mismatch(&format!("one of {}", one_of(variants)))),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u128 f32 char bytes byte_buf unit unit_struct tuple tuple_struct
    }
}

impl<'de> NodeDe<'_, '_> {
    fn deserialize_number<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Int(n) => self.locate(visitor.visit_i64(n)),
            Value::UInt(n) => self.locate(visitor.visit_u64(n)),
            Value::Float(n) => self.locate(visitor.visit_f64(n)),
            _ => Err(self.wrong_kind(&visitor)),
        }
    }

    /// A mapping for a map (`known` is `None`) or a struct (its noun and
    /// field names, so unknown keys are reported).
    fn mapping<V: Visitor<'de>>(
        self,
        visitor: V,
        known: Option<(&str, &[&str])>,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Map(entries) => {
                let entries = self.entries(entries, known);
                self.locate(visitor.visit_map(self.map_access(entries)))
            }
            _ => Err(self.wrong_kind(&visitor)),
        }
    }
}
