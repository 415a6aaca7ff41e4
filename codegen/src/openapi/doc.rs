//! The OpenAPI document as read: JSON or YAML into one `serde_json::Value`,
//! local `$ref`s followed under a hop limit, and the spec being written
//! kept in key order.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// The largest description read: GitHub's is 13 MB; this leaves room.
pub const MAX_OPENAPI_BYTES: usize = 64 * 1024 * 1024;

/// How many `$ref`s in a row are followed before giving up (a cycle of
/// references to references).
const MAX_HOPS: usize = 32;

/// Reads a description, JSON when it starts with `{`, YAML otherwise.
pub(crate) fn read(source: &str) -> Result<Value, String> {
    if source.len() > MAX_OPENAPI_BYTES {
        return Err(format!(
            "the description is {} bytes; at most {MAX_OPENAPI_BYTES} are read",
            source.len()
        ));
    }
    if source.trim_start().starts_with('{') {
        serde_json::from_str(source).map_err(|e| format!("not valid JSON: {e}"))
    } else {
        serde_saphyr::from_str(source).map_err(|e| format!("not valid YAML: {e}"))
    }
}

/// Whether `value` is an OpenAPI description (it has an `openapi` version).
pub(crate) fn is_openapi(value: &Value) -> bool {
    value.get("openapi").is_some_and(Value::is_string)
}

/// `value`, or what its `$ref` (a local `#/...` pointer) leads to, with the
/// pointer it was found at; `None` for a reference that leads nowhere, out
/// of the document, or around in circles.
pub(crate) fn deref<'a>(root: &'a Value, value: &'a Value, at: &str) -> Option<(&'a Value, String)> {
    let mut value = value;
    let mut at = at.to_owned();
    for _ in 0..MAX_HOPS {
        let Some(target) = value.get("$ref").and_then(Value::as_str) else {
            return Some((value, at));
        };
        let pointer = target.strip_prefix('#')?;
        value = root.pointer(pointer)?;
        at = pointer.to_owned();
    }
    None
}

/// The last segment of a `#/components/schemas/Name` reference.
pub(crate) fn ref_name(value: &Value) -> Option<&str> {
    value
        .get("$ref")?
        .as_str()?
        .strip_prefix("#/components/schemas/")
        .filter(|n| !n.contains('/'))
}

/// A JSON pointer segment (`/` and `~` escaped).
pub(crate) fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A YAML node of the spec being written: mappings keep their key order,
/// which `serde_json::Value` would not.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    pub(crate) fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    pub(crate) fn map() -> Node {
        Node::Map(Vec::new())
    }

    /// Adds `key: value` to a mapping.
    pub(crate) fn set(&mut self, key: impl Into<String>, value: Node) {
        if let Node::Map(entries) = self {
            entries.push((key.into(), value));
        }
    }

    pub(crate) fn with(mut self, key: impl Into<String>, value: Node) -> Node {
        self.set(key, value);
        self
    }

    pub(crate) fn is_empty_map(&self) -> bool {
        matches!(self, Node::Map(entries) if entries.is_empty())
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Str(v) => s.serialize_str(v),
            Node::Int(v) => s.serialize_i64(*v),
            Node::Bool(v) => s.serialize_bool(*v),
            Node::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// A JSON value (from `x-seamless` or an overlay) as a node.
pub(crate) fn node_of(value: &Value) -> Node {
    match value {
        Value::Null => Node::str("null"),
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Node::Int(i),
            None => Node::Str(n.to_string()),
        },
        Value::String(s) => Node::str(s.clone()),
        Value::Array(items) => Node::List(items.iter().map(node_of).collect()),
        Value::Object(entries) => Node::Map(entries.iter().map(|(k, v)| (k.clone(), node_of(v))).collect()),
    }
}
