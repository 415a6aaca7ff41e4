//! How [`NodeDe`] hands serde the parts of a node: a mapping's entries, a
//! list's items, an [`Sp`](crate::yaml::spanned::Sp)'s position, path,
//! value and whether a problem inside was reported, and an enum written as
//! a name or as a one-key mapping.

use std::marker::PhantomData;

use serde::de::value::{BoolDeserializer, BorrowedStrDeserializer, StringDeserializer, U32Deserializer};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

use super::{DeError, NodeDe, State, anchor_of, join};
use crate::yaml::spanned::SP_FIELDS;
use crate::yaml::tree::{Node, Pos, Value, pos_of, scalar_text};

/// The entries of a mapping, each value with its spec path.
pub(super) struct MapDe<'a, 's> {
    pub(super) state: &'a State<'s>,
    pub(super) parent: String,
    pub(super) entries: std::vec::IntoIter<&'a (Node, Node)>,
    /// The entry whose key was read, and its path, for its value.
    pub(super) current: Option<(&'a (Node, Node), String)>,
}

impl<'de> MapAccess<'de> for MapDe<'_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        let key = &entry.0;
        let text = scalar_text(self.state.source, key).unwrap_or_default();
        let path = join(&self.parent, &text);
        self.current = Some((entry, path.clone()));
        seed.deserialize(NodeDe::at(self.state, key, path, pos_of(key)))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some(((key, value), path)) = self.current.take() else {
            return Err(de::Error::custom("value requested before its key"));
        };
        let anchor = anchor_of(key, value);
        seed.deserialize(NodeDe::at(self.state, value, path, anchor))
    }
}

/// The items of a list, each with its spec path (`expiry[0]`).
pub(super) struct SeqDe<'a, 's> {
    pub(super) state: &'a State<'s>,
    pub(super) parent: String,
    pub(super) items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
}

impl<'de> SeqAccess<'de> for SeqDe<'_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let Some((i, item)) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{i}]", self.parent);
        let anchor = pos_of(item);
        seed.deserialize(NodeDe::at(self.state, item, path, anchor))
            .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Hands an `Sp` its position, its path, its value, then whether a
/// problem was recorded inside the value; a value that fails is recorded
/// here, so the `Sp` can carry on empty.
pub(super) struct SpAccess<'a, 's> {
    pub(super) de: Option<NodeDe<'a, 's>>,
    pub(super) step: usize,
    pub(super) partial: bool,
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
        if step == 4 {
            return seed.deserialize(BoolDeserializer::new(self.partial));
        }
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
                let before = state.diags.borrow().len();
                let value = seed.deserialize(de);
                // Counted before the value's own failure is recorded.
                self.partial = state.diags.borrow().len() > before;
                value.map_err(|e| {
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
pub(super) struct UnitEnum<'a, 's> {
    pub(super) de: NodeDe<'a, 's>,
}

impl<'de, 'a, 's> EnumAccess<'de> for UnitEnum<'a, 's> {
    type Error = DeError;
    type Variant = UnitOnly<'a, 's>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant), DeError> {
        let (anchor, path) = (self.de.anchor, self.de.path.clone());
        let text = scalar_text(self.de.state.source, self.de.node)
            .unwrap_or_default()
            .into_owned();
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

pub(super) struct UnitOnly<'a, 's> {
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
pub(super) struct MapEnum<'a, 's> {
    pub(super) de: NodeDe<'a, 's>,
    pub(super) entry: &'a (Node, Node),
}

impl<'de, 'a, 's> EnumAccess<'de> for MapEnum<'a, 's> {
    type Error = DeError;
    type Variant = NodeVariant<'a, 's>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant), DeError> {
        let (key, value) = self.entry;
        let state = self.de.state;
        let path = join(&self.de.path, &scalar_text(state.source, key).unwrap_or_default());
        // The variant's name is reported as the enum's own key (`placement`).
        let v = seed.deserialize(NodeDe::at(state, key, self.de.path, pos_of(key)))?;
        let anchor = anchor_of(key, value);
        Ok((
            v,
            NodeVariant {
                de: NodeDe::at(state, value, path, anchor),
            },
        ))
    }
}

pub(super) struct NodeVariant<'a, 's> {
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
