//! The wrappers the raw types are built from: [`Sp`] gives a value its
//! position and spec path, [`Req`] marks a required key, [`Either`] a short
//! or long form, [`Entries`] a mapping of names the user chooses. Each is
//! invisible in the JSON Schema (described as what it wraps).
//!
//! They are only ever deserialized by `de::NodeDe`, and speak a small
//! private protocol with it: they ask for a struct by a marker name below,
//! which it answers in its own way (the position, then the path, then the
//! value; or the long form as a newtype and the short one as `Some`).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use super::tree::Pos;

/// Names of the private protocol between the wrappers and `de::NodeDe`.
pub(super) const SP_MARKER: &str = "$seamless_sdk::Sp";
pub(super) const EITHER_MARKER: &str = "$seamless_sdk::Either";
pub(super) const SP_FIELDS: &[&str] = &["line", "column", "path", "value", "partial"];

/// A value with its position and spec path. `value` is `None` when the
/// value did not fit; that problem has been reported already.
#[derive(Clone, Debug)]
pub(crate) struct Sp<T> {
    pub pos: Pos,
    pub path: String,
    pub value: Option<T>,
    /// A problem inside the value was reported (an unknown or repeated
    /// key, a part of the wrong kind): `value` holds only what was read.
    pub partial: bool,
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
                    partial: false,
                };
                while let Some(key) = map.next_key::<&str>()? {
                    match key {
                        "line" => sp.pos.line = map.next_value()?,
                        "column" => sp.pos.column = map.next_value()?,
                        "path" => sp.path = map.next_value()?,
                        "partial" => sp.partial = map.next_value()?,
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
