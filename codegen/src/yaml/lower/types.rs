//! The `types` section → [`TypeDef`]s: structs with their fields, string
//! enums with their values, and the Rust names the wire names give.

use crate::diag::DiagnosticKind;
use crate::model::{Choice, Field, Origin, TypeDef, TypeKind, TypeRef, Variant};
use crate::naming::{to_camel_case, to_snake_case};
use crate::yaml::raw::{self, TypeExpr};
use crate::yaml::spanned::{Either, Entries, Sp};

use super::{Cx, opt, origin_of, text};

impl Cx<'_, '_> {
    pub(super) fn types(&self, entries: &Entries<raw::TypeDef>) -> Vec<TypeDef> {
        let mut out = Vec::new();
        for (key, def) in &entries.0 {
            let Some(name) = key.get() else { continue };
            let (kind, kind_origin) = match def.get().and_then(|d| Some((d, self.type_kind(name, def, d)?))) {
                Some((d, kind)) => (
                    kind,
                    match (&d.variants, &d.one_of) {
                        (Some(v), _) => v.pos.origin(),
                        (None, Some(c)) => c.pos.origin(),
                        (None, None) => origin_of(&d.fields),
                    },
                ),
                // A broken definition still declares its name: no "unknown type" cascade.
                None => (TypeKind::Struct(Vec::new()), Origin::StandIn),
            };
            out.push(TypeDef {
                name: name.clone(),
                doc: def.get().and_then(|d| text(&d.doc)),
                kind,
                // The value's position: a broken definition's own, its key's otherwise.
                origin: def.pos.origin(),
                kind_origin,
            });
        }
        out
    }

    fn type_kind(&self, name: &str, sp: &Sp<raw::TypeDef>, d: &raw::TypeDef) -> Option<TypeKind> {
        if let Some(choices) = &d.one_of {
            if d.fields.is_some() || d.variants.is_some() {
                self.error(
                    DiagnosticKind::Conflict,
                    choices.pos,
                    &choices.path,
                    format!("type `{name}` has `one_of` beside `fields` or `enum`; a type is one of the three, keep one"),
                );
                return None;
            }
            return Some(TypeKind::OneOf {
                tag: opt(&d.tag),
                choices: self.choices(choices.get()?),
            });
        }
        if let Some(tag) = &d.tag {
            self.error(
                DiagnosticKind::Conflict,
                tag.pos,
                &tag.path,
                format!("type `{name}` has a `tag` but no `one_of`; a tag tells the `one_of` choices apart"),
            );
        }
        match (&d.fields, &d.variants) {
            (Some(_), Some(v)) => {
                self.error(
                    DiagnosticKind::Conflict,
                    v.pos,
                    &v.path,
                    format!("type `{name}` has both `fields` and `enum`; a type is a struct or a string enum, keep one"),
                );
                None
            }
            // An unknown key under the type (`feilds`) already said what is wrong.
            (None, None) if sp.partial => None,
            (None, None) => {
                self.error(
                    DiagnosticKind::Shape,
                    sp.pos,
                    &sp.path,
                    format!("type `{name}` has neither `fields`, `enum` nor `one_of`; add `fields:` for a struct, `enum:` for a string enum or `one_of:` for a choice of types"),
                );
                None
            }
            (Some(fields), None) => Some(TypeKind::Struct(self.fields(fields.get()?))),
            (None, Some(variants)) => Some(TypeKind::Enum(self.variants(variants.get()?))),
        }
    }

    fn fields(&self, entries: &Entries<Either<TypeExpr, raw::TypedLong>>) -> Vec<Field> {
        let mut out = Vec::new();
        for (i, (key, value)) in entries.0.iter().enumerate() {
            let Some(wire) = key.get() else { continue };
            let Some((ty, doc, rust_name)) = self.long_or_short(value, "field", wire, TypeRef::Json) else {
                continue;
            };
            let name = self.rust_field_name(key, wire, rust_name, "field", || format!("field_{i}"));
            out.push(Field {
                name,
                wire: wire.clone(),
                ty,
                doc,
                origin: key.pos.origin(),
                value_origin: value.pos.origin(),
            });
        }
        out
    }

    /// The type, doc and `rust_name` of a field or parameter, short or long.
    pub(super) fn long_or_short(
        &self,
        value: &Sp<Either<TypeExpr, raw::TypedLong>>,
        what: &str,
        wire: &str,
        placeholder: TypeRef,
    ) -> Option<(TypeRef, Option<String>, Option<Sp<String>>)> {
        match value.get()? {
            Either::Short(t) => Some((
                self.type_expr(&t.0, value.pos, &value.path, placeholder),
                None,
                None,
            )),
            Either::Long(long) => {
                let raw::TypedLong { ty, doc, rust_name } = long;
                let ty = self.need(
                    ty,
                    (value.pos, &value.path),
                    &format!("{what} `{wire}`"),
                    "type",
                    "type: string",
                );
                let ty = ty.and_then(|t| Some(self.type_expr(&t.get()?.0, t.pos, &t.path, placeholder)))?;
                Some((ty, text(doc), rust_name.clone()))
            }
        }
    }

    /// `rust_name`, or the snake_cased wire name; reports a wire name that
    /// has none and returns a placeholder instead.
    pub(super) fn rust_field_name(
        &self,
        key: &Sp<String>,
        wire: &str,
        rust_name: Option<Sp<String>>,
        what: &str,
        placeholder: impl FnOnce() -> String,
    ) -> String {
        if let Some(name) = rust_name.as_ref().and_then(|r| r.get()) {
            return name.clone();
        }
        match to_snake_case(wire) {
            Some(name) => name,
            None => {
                self.error(
                    DiagnosticKind::InvalidName,
                    key.pos,
                    &key.path,
                    format!(
                        "{what} `{wire}` has no Rust name (it cannot be snake_cased into an identifier); use the long form `{{ type: ..., rust_name: ... }}`"
                    ),
                );
                placeholder()
            }
        }
    }

    fn choices(&self, items: &[Sp<Either<TypeExpr, raw::ChoiceLong>>]) -> Vec<Choice> {
        let mut out = Vec::new();
        for item in items {
            let Some(c) = item.get() else { continue };
            let (ty, value, rust_name) = match c {
                Either::Short(t) => (
                    self.type_expr(&t.0, item.pos, &item.path, TypeRef::Json),
                    None,
                    None,
                ),
                Either::Long(l) => {
                    let Some(ty) = self.need(
                        &l.ty,
                        (item.pos, &item.path),
                        "a `one_of` choice",
                        "type",
                        "type: Circle",
                    ) else {
                        continue;
                    };
                    let Some(t) = ty.get() else { continue };
                    (
                        self.type_expr(&t.0, ty.pos, &ty.path, TypeRef::Json),
                        opt(&l.value),
                        opt(&l.rust_name),
                    )
                }
            };
            let natural = choice_name(&ty);
            out.push(Choice {
                name: rust_name.unwrap_or_else(|| natural.clone()),
                value: value.unwrap_or(natural),
                ty,
                origin: item.pos.origin(),
            });
        }
        out
    }

    fn variants(&self, items: &[Sp<Either<String, raw::VariantLong>>]) -> Vec<Variant> {
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            // A broken value keeps its place (model paths count by index).
            let stand_in = || Variant {
                name: format!("Variant{i}"),
                wire: format!("${i}"),
                doc: None,
                origin: Origin::StandIn,
            };
            let Some(v) = item.get() else {
                out.push(stand_in());
                continue;
            };
            let (wire, rust_name, doc) = match v {
                Either::Short(s) => (s.clone(), None, None),
                Either::Long(l) => {
                    let Some(value) = self
                        .need(
                            &l.value,
                            (item.pos, &item.path),
                            "an enum value",
                            "value",
                            "value: on-hold",
                        )
                        .and_then(Sp::get)
                    else {
                        out.push(stand_in());
                        continue;
                    };
                    (value.clone(), opt(&l.rust_name), text(&l.doc))
                }
            };
            let name = match rust_name.or_else(|| to_camel_case(&wire)) {
                Some(n) => n,
                None => {
                    self.error(
                        DiagnosticKind::InvalidName,
                        item.pos,
                        &item.path,
                        format!(
                            "enum value `{wire}` has no Rust name (it cannot be CamelCased into an identifier); write `{{ value: \"{wire}\", rust_name: ... }}`"
                        ),
                    );
                    format!("Variant{i}")
                }
            };
            out.push(Variant {
                name,
                wire,
                doc,
                origin: item.pos.origin(),
            });
        }
        out
    }
}

/// A choice's Rust variant name from its type: the type's own name, or the
/// kind of value (`String`, `I64`, `ListUser`).
fn choice_name(ty: &TypeRef) -> String {
    match ty {
        TypeRef::Named(n) => n.clone(),
        TypeRef::String => "String".to_owned(),
        TypeRef::Bool => "Bool".to_owned(),
        TypeRef::I32 => "I32".to_owned(),
        TypeRef::I64 => "I64".to_owned(),
        TypeRef::U32 => "U32".to_owned(),
        TypeRef::U64 => "U64".to_owned(),
        TypeRef::F64 => "F64".to_owned(),
        TypeRef::Json => "Json".to_owned(),
        TypeRef::Option(t) => choice_name(t),
        TypeRef::List(t) => format!("List{}", choice_name(t)),
        TypeRef::Map(t) => format!("Map{}", choice_name(t)),
    }
}
