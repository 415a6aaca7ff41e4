//! The parsed YAML tree, and a serde `Deserializer` over it that reports
//! problems instead of stopping at the first one.
//!
//! serde-saphyr parses the text into a [`Node`] tree (every node spanned).
//! The raw types are then deserialized from that tree by [`NodeDe`], which:
//!
//! - drops unknown keys of a struct before serde sees them and reports each,
//!   with a close match (serde's `deny_unknown_fields` would stop at the first);
//! - drops a repeated key and reports it (YAML requires unique keys; serde
//!   would keep the last silently or stop);
//! - gives every [`Sp`] its line, column and spec path, and turns a value that
//!   does not fit into a reported problem plus an empty `Sp`, so one bad value
//!   costs only itself;
//! - records the position of every spec path, so checks that run later on the
//!   model can still point at the right line.
//!
//! The wrappers ([`Sp`], [`Req`], [`Either`], [`Entries`]) speak a small
//! private protocol with [`NodeDe`] through marker struct names; they are
//! only ever deserialized from a [`Node`].

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::value::{BorrowedStrDeserializer, StringDeserializer, U32Deserializer};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Unexpected, VariantAccess, Visitor,
};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_saphyr::Spanned;

use crate::diag::Diagnostic;
use crate::model::Origin;
use crate::naming::did_you_mean;

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

/// How a node reads in a message.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Int(n) => format!("the number `{n}`"),
        Value::UInt(n) => format!("the number `{n}`"),
        Value::Float(n) => format!("the number `{n}`"),
        Value::Str(s) => format!("the string `{}`", short(s)),
        Value::Seq(_) => "a list".to_owned(),
        Value::Map(_) => "a mapping".to_owned(),
    }
}

/// The longest mapping key accepted, in bytes.
const MAX_KEY_BYTES: usize = 256;

fn short(s: &str) -> Cow<'_, str> {
    if s.chars().count() > 40 {
        Cow::Owned(s.chars().take(40).collect::<String>() + "…")
    } else {
        Cow::Borrowed(s)
    }
}

/// What the loader collects while walking the tree.
#[derive(Debug, Default)]
pub(crate) struct State<'s> {
    /// The spec text, to read plain scalars back as written.
    pub source: &'s str,
    pub diags: RefCell<Vec<Diagnostic>>,
    /// Spec path → position: a scalar's own, a collection's key.
    pub positions: RefCell<HashMap<String, Pos>>,
}

impl State<'_> {
    pub(crate) fn error(&self, pos: Pos, path: &str, message: impl Into<String>) {
        self.diags
            .borrow_mut()
            .push(Diagnostic::error(pos.origin(), path, message));
    }

    fn record(&self, e: &DeError, pos: Pos, path: &str) {
        let (pos, path) = match &e.at {
            Some((p, path)) => (*p, path.as_str()),
            None => (pos, path),
        };
        self.error(pos, path, e.message(path));
    }

    /// The text of a plain scalar as written (`yes`, `2`), so a value meant
    /// as a string is taken as the user typed it, not as YAML 1.1 read it.
    fn plain_text(&self, node: &Node) -> Option<&str> {
        let span = node.defined.span();
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len()?).ok()?;
        let text = self.source.get(start..start.checked_add(len)?)?;
        let plain = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '.'));
        plain.then_some(text)
    }
}

/// The error type of [`NodeDe`]: a message, where it happened once known,
/// and whether it has been recorded already.
#[derive(Debug)]
pub(crate) struct DeError {
    msg: Msg,
    at: Option<(Pos, String)>,
    recorded: bool,
}

#[derive(Debug)]
enum Msg {
    /// A whole message.
    Full(String),
    /// A predicate (`must be a list, found …`) that gets the key as subject.
    Predicate(String),
}

impl DeError {
    fn predicate(p: impl Into<String>) -> Self {
        DeError {
            msg: Msg::Predicate(p.into()),
            at: None,
            recorded: false,
        }
    }

    fn recorded() -> Self {
        DeError {
            msg: Msg::Full(String::new()),
            at: None,
            recorded: true,
        }
    }

    fn located(mut self, pos: Pos, path: &str) -> Self {
        if self.at.is_none() && !self.recorded {
            self.at = Some((pos, path.to_owned()));
        }
        self
    }

    fn message(&self, path: &str) -> String {
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
pub(crate) fn one_of(items: &[&str]) -> String {
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
        DeError::predicate(format!(
            "must be {}, found {}",
            expected_words(exp),
            unexpected_words(&unexp)
        ))
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

/// Names of the private protocol between the wrappers and [`NodeDe`].
const SP_MARKER: &str = "$seamless_sdk::Sp";
const EITHER_MARKER: &str = "$seamless_sdk::Either";
const SP_FIELDS: &[&str] = &["line", "column", "path", "value"];

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
        NodeDe {
            node,
            state,
            path: String::new(),
            anchor: pos_of(node),
        }
    }

    fn child(&self, node: &'a Node, path: String, anchor: Pos) -> Self {
        NodeDe {
            node,
            state: self.state,
            path,
            anchor,
        }
    }

    fn fail(&self, predicate: String) -> DeError {
        DeError::predicate(predicate).located(self.anchor, &self.path)
    }

    fn mismatch(&self, expected: &str) -> DeError {
        self.fail(format!(
            "must be {expected}, found {}",
            describe(&self.node.value)
        ))
    }

    /// "must be <what the visitor expects>, found <this node>".
    fn wrong_kind<'de, V: Visitor<'de>>(&self, visitor: &V) -> DeError {
        let found = match &self.node.value {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Int(n) => Unexpected::Signed(*n),
            Value::UInt(n) => Unexpected::Unsigned(*n),
            Value::Float(n) => Unexpected::Float(*n),
            Value::Str(s) => Unexpected::Str(s),
            Value::Seq(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
        };
        <DeError as de::Error>::invalid_type(found, visitor).located(self.anchor, &self.path)
    }

    fn locate<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.located(self.anchor, &self.path))
    }

    /// The mapping's entries minus repeated keys (each reported), and for a
    /// struct minus unknown keys (each reported with a close match).
    fn entries(&self, entries: &'a [(Node, Node)], known: Option<(&str, &[&str])>) -> Vec<&'a (Node, Node)> {
        let mut seen: HashMap<String, Pos> = HashMap::new();
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let key = &entry.0;
            let kpos = pos_of(key);
            let Some(text) = self.key_text(key) else {
                self.state.error(
                    kpos,
                    &self.path,
                    format!(
                        "keys must be strings, found {}; quote the key",
                        describe(&key.value)
                    ),
                );
                continue;
            };
            // Every node below carries its key in its spec path: a long key
            // over many nodes would multiply into gigabytes.
            if text.len() > MAX_KEY_BYTES {
                self.state.error(
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
            if let Some(first) = seen.get(&text) {
                self.state.error(
                    kpos,
                    &path,
                    format!(
                        "duplicate key `{text}` (first defined at line {}); remove or rename one of them",
                        first.line
                    ),
                );
                continue;
            }
            seen.insert(text.clone(), kpos);
            if let Some((what, fields)) = known
                && !fields.contains(&text.as_str())
            {
                let hint = did_you_mean(&text, fields.iter().copied());
                let fix = if hint.is_empty() {
                    format!("; remove it (known keys: {})", fields.join(", "))
                } else {
                    hint
                };
                self.state.error(
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

    /// A key as text: strings as they are, plain scalars as written.
    fn key_text(&self, key: &Node) -> Option<String> {
        match &key.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(_) | Value::Int(_) | Value::UInt(_) | Value::Float(_) => Some(
                self.state
                    .plain_text(key)
                    .map_or_else(|| scalar_string(&key.value), str::to_owned),
            ),
            _ => None,
        }
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

fn scalar_string(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        Value::Float(n) => n.to_string(),
        Value::Str(s) => s.clone(),
        _ => String::new(),
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

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_number(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_number(visitor)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_number(visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_number(visitor)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_number(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) => self.locate(visitor.visit_str(s)),
            v @ (Value::Bool(_) | Value::Int(_) | Value::UInt(_) | Value::Float(_)) => {
                // A plain `yes` or `2` where text is expected means that text.
                let text = self
                    .state
                    .plain_text(self.node)
                    .map_or_else(|| scalar_string(v), str::to_owned);
                self.locate(visitor.visit_string(text))
            }
            _ => Err(self.wrong_kind(&visitor)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => self.locate(visitor.visit_none()),
            _ => {
                let (anchor, path) = (self.anchor, self.path.clone());
                visitor.visit_some(self).map_err(|e| e.located(anchor, &path))
            }
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let (anchor, path) = (self.anchor, self.path.clone());
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.located(anchor, &path))
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
            SP_MARKER => {
                let access = SpAccess {
                    de: Some(self),
                    step: 0,
                };
                visitor.visit_map(access)
            }
            EITHER_MARKER => match &self.node.value {
                // The long form: hand this node on, as a struct.
                Value::Map(_) => {
                    let (anchor, path) = (self.anchor, self.path.clone());
                    visitor
                        .visit_newtype_struct(self)
                        .map_err(|e| e.located(anchor, &path))
                }
                Value::Seq(_) => Err(self.mismatch("a string or a mapping")),
                // The short form.
                _ => {
                    let (anchor, path) = (self.anchor, self.path.clone());
                    visitor.visit_some(self).map_err(|e| e.located(anchor, &path))
                }
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
                let (anchor, path) = (self.anchor, self.path.clone());
                visitor
                    .visit_enum(UnitEnum { de: self })
                    .map_err(|e| e.located(anchor, &path))
            }
            Value::Map(entries) if entries.len() == 1 => {
                let (anchor, path) = (self.anchor, self.path.clone());
                let entry = &entries[0];
                visitor
                    .visit_enum(MapEnum { de: self, entry })
                    .map_err(|e| e.located(anchor, &path))
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

/// The entries of a mapping, each value with its spec path.
struct MapDe<'a, 's> {
    state: &'a State<'s>,
    parent: String,
    entries: std::vec::IntoIter<&'a (Node, Node)>,
    current: Option<&'a (Node, Node)>,
}

impl<'de> MapAccess<'de> for MapDe<'_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some(entry);
        let key = &entry.0;
        let de = NodeDe {
            node: key,
            state: self.state,
            path: String::new(),
            anchor: pos_of(key),
        };
        let text = de.key_text(key).unwrap_or_default();
        let path = join(&self.parent, &text);
        let de = NodeDe { path, ..de };
        seed.deserialize(de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.current.take() else {
            return Err(de::Error::custom("value requested before its key"));
        };
        let text = match &key.value {
            Value::Str(s) => s.clone(),
            v => self
                .state
                .plain_text(key)
                .map_or_else(|| scalar_string(v), str::to_owned),
        };
        let path = join(&self.parent, &text);
        let anchor = anchor_of(key, value);
        self.state
            .positions
            .borrow_mut()
            .entry(path.clone())
            .or_insert(anchor);
        seed.deserialize(NodeDe {
            node: value,
            state: self.state,
            path,
            anchor,
        })
    }
}

/// The items of a list, each with its spec path (`expiry[0]`).
struct SeqDe<'a, 's> {
    state: &'a State<'s>,
    parent: String,
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
}

impl<'de> SeqAccess<'de> for SeqDe<'_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let Some((i, item)) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{i}]", self.parent);
        let anchor = pos_of(item);
        self.state
            .positions
            .borrow_mut()
            .entry(path.clone())
            .or_insert(anchor);
        seed.deserialize(NodeDe {
            node: item,
            state: self.state,
            path,
            anchor,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Hands an [`Sp`] its position, its path, then its value; a value that
/// fails is recorded here, so the `Sp` can carry on empty.
struct SpAccess<'a, 's> {
    de: Option<NodeDe<'a, 's>>,
    step: usize,
}

impl<'de> MapAccess<'de> for SpAccess<'_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match SP_FIELDS.get(self.step) {
            Some(key) => seed.deserialize(BorrowedStrDeserializer::new(key)).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let step = self.step;
        self.step += 1;
        let Some(de) = self.de.as_ref() else {
            return Err(DeError::recorded());
        };
        match step {
            0 => seed.deserialize(U32Deserializer::new(de.anchor.line)),
            1 => seed.deserialize(U32Deserializer::new(de.anchor.column)),
            2 => seed.deserialize(StringDeserializer::new(de.path.clone())),
            _ => {
                let Some(de) = self.de.take() else {
                    return Err(DeError::recorded());
                };
                let (state, anchor, path) = (de.state, de.anchor, de.path.clone());
                seed.deserialize(de).map_err(|e| {
                    if !e.recorded {
                        state.record(&e, anchor, &path);
                    }
                    DeError::recorded()
                })
            }
        }
    }
}

/// A unit variant written as a plain string (`bearer`, `GET`).
struct UnitEnum<'a, 's> {
    de: NodeDe<'a, 's>,
}

impl<'de, 'a, 's> EnumAccess<'de> for UnitEnum<'a, 's> {
    type Error = DeError;
    type Variant = UnitOnly<'a, 's>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant), DeError> {
        let (anchor, path) = (self.de.anchor, self.de.path.clone());
        let text = match &self.de.node.value {
            Value::Str(s) => s.clone(),
            v => scalar_string(v),
        };
        let v = seed.deserialize(self.de)?;
        Ok((
            v,
            UnitOnly {
                anchor,
                path,
                text,
                _p: PhantomData,
            },
        ))
    }
}

struct UnitOnly<'a, 's> {
    anchor: Pos,
    path: String,
    /// The variant as written.
    text: String,
    _p: PhantomData<&'a State<'s>>,
}

impl UnitOnly<'_, '_> {
    fn needs_value(&self) -> DeError {
        DeError::predicate(format!(
            "needs a value: write `{{ {}: ... }}`, not `{}` alone",
            self.text, self.text
        ))
        .located(self.anchor, &self.path)
    }
}

impl<'de> VariantAccess<'de> for UnitOnly<'_, '_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, DeError> {
        Err(self.needs_value())
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, DeError> {
        Err(self.needs_value())
    }

    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], _: V) -> Result<V::Value, DeError> {
        Err(self.needs_value())
    }
}

/// A variant written as a one-key mapping (`{ header: B-T }`).
struct MapEnum<'a, 's> {
    de: NodeDe<'a, 's>,
    entry: &'a (Node, Node),
}

impl<'de, 'a, 's> EnumAccess<'de> for MapEnum<'a, 's> {
    type Error = DeError;
    type Variant = NodeVariant<'a, 's>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant), DeError> {
        let (key, value) = self.entry;
        let text = self.de.key_text(key).unwrap_or_default();
        // The variant's name is reported as the enum's own key (`placement`).
        let key_de = self.de.child(key, self.de.path.clone(), pos_of(key));
        let v = seed.deserialize(key_de)?;
        let path = join(&self.de.path, &text);
        let anchor = anchor_of(key, value);
        self.de
            .state
            .positions
            .borrow_mut()
            .entry(path.clone())
            .or_insert(anchor);
        let value_de = self.de.child(value, path, anchor);
        Ok((v, NodeVariant { de: value_de }))
    }
}

struct NodeVariant<'a, 's> {
    de: NodeDe<'a, 's>,
}

impl<'de> VariantAccess<'de> for NodeVariant<'_, '_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.de.node.value {
            Value::Null => Ok(()),
            _ => Err(self.de.fail("takes no value; write its name alone".to_owned())),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, DeError> {
        self.de.deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.de.deserialize_struct("variant", fields, visitor)
    }
}

// ---------------------------------------------------------------------------
// The wrappers the raw types are made of.

/// A value with its position and spec path. `value` is `None` when the
/// value did not fit; that problem has been reported already.
#[derive(Clone, Debug)]
pub(crate) struct Sp<T> {
    pub pos: Pos,
    pub path: String,
    pub value: Option<T>,
}

impl<T> Sp<T> {
    pub(crate) fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Sp<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a spanned value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Sp<T>, A::Error> {
                let mut sp = Sp {
                    pos: Pos::default(),
                    path: String::new(),
                    value: None,
                };
                while let Some(key) = map.next_key::<&str>()? {
                    match key {
                        "line" => sp.pos.line = map.next_value()?,
                        "column" => sp.pos.column = map.next_value()?,
                        "path" => sp.path = map.next_value()?,
                        // Already reported by the deserializer; carry on empty.
                        _ => sp.value = map.next_value::<T>().ok(),
                    }
                }
                Ok(sp)
            }
        }
        d.deserialize_struct(SP_MARKER, SP_FIELDS, V(PhantomData))
    }
}

/// Position and presence wrappers are invisible in the schema: each is
/// described exactly as the value it wraps.
macro_rules! schema_of_inner {
    ($($wrapper:ident),*) => {$(
        impl<T: JsonSchema> JsonSchema for $wrapper<T> {
            fn inline_schema() -> bool {
                T::inline_schema()
            }
            fn schema_name() -> Cow<'static, str> {
                T::schema_name()
            }
            fn schema_id() -> Cow<'static, str> {
                T::schema_id()
            }
            fn json_schema(g: &mut SchemaGenerator) -> Schema {
                T::json_schema(g)
            }
        }
    )*};
}

schema_of_inner!(Sp, Req);

/// A required key: missing (or empty), or present.
#[derive(Clone, Debug)]
pub(crate) enum Req<T> {
    Missing,
    Present(Sp<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Req<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Req<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_none<E>(self) -> Result<Req<T>, E> {
                Ok(Req::Missing)
            }
            fn visit_unit<E>(self) -> Result<Req<T>, E> {
                Ok(Req::Missing)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Req<T>, D::Error> {
                Sp::deserialize(d).map(Req::Present)
            }
        }
        // serde hands a missing field to `deserialize_option` as `None`,
        // so a missing key is a value here, not an error that ends the struct.
        d.deserialize_option(V(PhantomData))
    }
}

/// A short form (a scalar) or a long form (a mapping).
#[derive(Clone, Debug)]
pub(crate) enum Either<S, L> {
    Short(S),
    Long(L),
}

impl<'de, S: Deserialize<'de>, L: Deserialize<'de>> Deserialize<'de> for Either<S, L> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<S, L>(PhantomData<(S, L)>);
        impl<'de, S: Deserialize<'de>, L: Deserialize<'de>> Visitor<'de> for V<S, L> {
            type Value = Either<S, L>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a mapping")
            }
            // NodeDe routes a mapping here …
            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                L::deserialize(d).map(Either::Long)
            }
            // … and a scalar here.
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                S::deserialize(d).map(Either::Short)
            }
        }
        d.deserialize_struct(EITHER_MARKER, &[], V(PhantomData))
    }
}

impl<S: JsonSchema, L: JsonSchema> JsonSchema for Either<S, L> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("{}Or{}", S::schema_name(), L::schema_name()).into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let (s, l) = (g.subschema_for::<S>(), g.subschema_for::<L>());
        json_schema!({ "anyOf": [s, l] })
    }
}

/// A mapping whose keys are names the user chooses, in source order.
#[derive(Clone, Debug)]
pub(crate) struct Entries<V>(pub Vec<(Sp<String>, Sp<V>)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Entries<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<Sp<String>>()? {
                    out.push((key, map.next_value()?));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for Entries<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("EntriesOf{}", T::schema_name()).into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let v = g.subschema_for::<T>();
        json_schema!({ "type": "object", "additionalProperties": v })
    }
}

/// A number or a string (status codes in bodies: `408`, `"40001"`).
#[derive(Clone, Debug)]
pub(crate) struct Scalar(pub serde_json::Value);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                serde_json::Number::from_f64(v)
                    .map(|n| Scalar(serde_json::Value::Number(n)))
                    .ok_or_else(|| E::invalid_value(Unexpected::Float(v), &self))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.into()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Scalar {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "NumberOrString".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["number", "string"] })
    }
}

/// A type expression (`u64`, `User?`, `list<map<string>>`), parsed later.
#[derive(Clone, Debug)]
pub(crate) struct TypeExpr(pub String);

impl<'de> Deserialize<'de> for TypeExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(TypeExpr)
    }
}

impl JsonSchema for TypeExpr {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "TypeExpr".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A type expression: string, bool, i32, i64, u32, u64, f64, json, a type from `types`, `T?` (optional), `list<T>` or `map<T>` (string keys).",
            "examples": ["u64", "string?", "list<User>", "map<json>"]
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_one_long_form_is_a_field_in_a_type_and_a_parameter_in_an_endpoint() {
        let spec = "name: t
auth: { placement: bearer, lifetime: reusable, expiry: [{ status: [401] }], login: custom }
types:
  User: { fields: { id: { type: u64, dcs: x } } }
endpoints:
  get_user:
    method: GET
    path: /users
    query: { q: { type: string, dcs: x } }
    response: User
";
        let diagnostics = crate::yaml::load(spec, "t.yaml").expect_err("two unknown keys");
        let messages: Vec<&str> = diagnostics.items.iter().map(|d| d.message.as_str()).collect();
        let known = "remove it (known keys: type, doc, rust_name)";
        assert_eq!(
            messages,
            [
                format!("unknown key `dcs` in a field; {known}"),
                format!("unknown key `dcs` in a parameter; {known}"),
            ]
        );
    }
}
