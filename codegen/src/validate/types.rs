//! Rules on the named types: their names, their fields and values, types
//! that contain themselves, and types nothing uses.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::{Ctxt, hint_camel};
use crate::diag::{DiagnosticKind, Severity};
use crate::model::{Api, Choice, Field, Origin, TypeDef, TypeKind, TypeRef, Variant};
use crate::naming::{is_camel_case, is_keyword};

pub(super) fn check(cx: &mut Ctxt<'_>, api: &Api) {
    let mut first: HashMap<&str, &Origin> = HashMap::new();
    for t in &api.types {
        check_type_name(cx, t);
        if first.insert(&t.name, &t.origin).is_some() {
            cx.error(
                DiagnosticKind::NameClash,
                &t.origin,
                format!("types.{}", t.name),
                format!("type `{}` is defined twice; rename or remove one", t.name),
            );
        }
        check_not_the_client(cx, t, &api.client);
        match &t.kind {
            TypeKind::Struct(fields) => check_fields(cx, t, fields),
            TypeKind::Enum(variants) => check_variants(cx, t, variants),
            TypeKind::OneOf { tag, choices } => check_choices(cx, t, tag.as_deref(), choices),
        }
    }
    check_recursion(cx, api);
    check_unused(cx, api);
}

/// A type's name is a Rust type name.
fn check_type_name(cx: &mut Ctxt<'_>, t: &TypeDef) {
    if !is_camel_case(&t.name) || is_keyword(&t.name) {
        let hint = hint_camel(&t.name);
        cx.error(
            DiagnosticKind::InvalidName,
            &t.origin,
            format!("types.{}", t.name),
            format!("type name `{}` must be a CamelCase identifier{hint}", t.name),
        );
    }
}

/// The client struct lives beside the types, under its own name.
fn check_not_the_client(cx: &mut Ctxt<'_>, t: &TypeDef, client: &str) {
    if t.name == client {
        cx.error(
            DiagnosticKind::NameClash,
            &t.origin,
            format!("types.{}", t.name),
            format!(
                "type `{}` has the client's name; rename the type or set `client`",
                t.name
            ),
        );
    }
}

/// Each field has a snake_case Rust name, no wire name or Rust name is
/// taken twice, and its type exists.
fn check_fields(cx: &mut Ctxt<'_>, t: &TypeDef, fields: &[Field]) {
    let mut rust: HashMap<&str, &str> = HashMap::new();
    let mut wire: BTreeSet<&str> = BTreeSet::new();
    for f in fields {
        let o = f.value_origin.or(&f.origin);
        let at = format!("types.{}.fields.{}", t.name, f.wire);
        cx.rust_name(o, &at, "field", &f.wire, &f.name);
        if !wire.insert(&f.wire) {
            cx.error(
                DiagnosticKind::NameClash,
                o,
                at.clone(),
                format!("field `{}` is declared twice; remove one", f.wire),
            );
        } else if let Some(other) = rust.insert(&f.name, &f.wire) {
            cx.error(
                DiagnosticKind::NameClash,
                o,
                at.clone(),
                format!(
                    "fields `{other}` and `{}` both become `{}` in Rust; give one a different `rust_name`",
                    f.wire, f.name
                ),
            );
        }
        cx.type_ref(o, &at, &f.ty);
    }
}

/// An enum has values, each with a CamelCase Rust name, and no wire value
/// or Rust name is taken twice.
fn check_variants(cx: &mut Ctxt<'_>, t: &TypeDef, variants: &[Variant]) {
    if variants.is_empty() {
        cx.error(
            DiagnosticKind::CannotWork,
            t.kind_origin.or(&t.origin),
            format!("types.{}.enum", t.name),
            format!(
                "enum `{}` has no value; list its values, like `enum: [active, banned]`",
                t.name
            ),
        );
    }
    let mut rust: HashMap<&str, &str> = HashMap::new();
    let mut wire: BTreeSet<&str> = BTreeSet::new();
    for (i, v) in variants.iter().enumerate() {
        let at = format!("types.{}.enum[{i}]", t.name);
        if !is_camel_case(&v.name) || is_keyword(&v.name) {
            cx.error(
                DiagnosticKind::InvalidName,
                &v.origin,
                at.clone(),
                format!(
                    "enum value `{}` has no valid Rust name (`{}` is not a CamelCase identifier); add `rust_name: ...`",
                    v.wire, v.name
                ),
            );
        }
        if !wire.insert(&v.wire) {
            cx.error(
                DiagnosticKind::NameClash,
                &v.origin,
                at,
                format!("enum value `{}` is listed twice; remove one", v.wire),
            );
        } else if let Some(other) = rust.insert(&v.name, &v.wire) {
            cx.error(
                DiagnosticKind::NameClash,
                &v.origin,
                at,
                format!(
                    "enum values `{other}` and `{}` both become `{}` in Rust; give one a different `rust_name`",
                    v.wire, v.name
                ),
            );
        }
    }
}

/// A `one_of` has choices, each a known type with its own Rust name; with
/// a `tag`, each choice is a struct (the tag is a field of the object) with
/// its own tag value.
fn check_choices(cx: &mut Ctxt<'_>, t: &TypeDef, tag: Option<&str>, choices: &[Choice]) {
    let at = format!("types.{}.one_of", t.name);
    if choices.is_empty() {
        cx.error(
            DiagnosticKind::Empty,
            t.kind_origin.or(&t.origin),
            &at,
            format!(
                "type `{}` has an empty `one_of`; list the types it may be",
                t.name
            ),
        );
    }
    let mut names = BTreeSet::new();
    let mut values = BTreeSet::new();
    for c in choices {
        cx.type_ref(&c.origin, &at, &c.ty);
        if !is_camel_case(&c.name) || is_keyword(&c.name) {
            cx.error(
                DiagnosticKind::InvalidName,
                &c.origin,
                &at,
                format!(
                    "`{}` is no Rust variant name; give the choice a CamelCase `rust_name`",
                    c.name
                ),
            );
        } else if !names.insert(c.name.as_str()) {
            cx.error(
                DiagnosticKind::NameClash,
                &c.origin,
                &at,
                format!("two choices are both named `{}`; give one a `rust_name`", c.name),
            );
        }
        if tag.is_some() {
            let is_struct = matches!(&c.ty, TypeRef::Named(n)
                if cx.types.get(n.as_str()).is_none_or(|d| matches!(d.kind, TypeKind::Struct(_))));
            if !is_struct {
                cx.error(
                    DiagnosticKind::WrongType,
                    &c.origin,
                    &at,
                    format!(
                        "with a `tag`, each choice is an object type, and `{}` is not one",
                        c.name
                    ),
                );
            }
            if !values.insert(c.value.as_str()) {
                cx.error(
                    DiagnosticKind::NameClash,
                    &c.origin,
                    &at,
                    format!(
                        "two choices have the tag value `{}`; give one its own `value`",
                        c.value
                    ),
                );
            }
        }
    }
}

/// A struct whose every value holds itself (through required fields,
/// directly or via other structs) has no finite value; `?`, `list<>` and
/// `map<>` break the cycle (the emitter boxes an optional one). Every
/// field on such a cycle is reported: wrapping any one of them fixes it.
fn check_recursion(cx: &mut Ctxt<'_>, api: &Api) {
    // Which fields close a cycle is decided once, in linear time (the
    // model's `Boxing`, which the emitter boxes by); the search below only
    // spells the cycle out, within a budget, for the message.
    let boxing = crate::model::Boxing::always(&api.types);
    for t in &api.types {
        for (field, first) in held(t) {
            if !boxing.needs_box(&t.name, first) {
                continue;
            }
            let chain = if first == t.name {
                String::new()
            } else {
                match cycle_chain(&cx.types, &t.name, first) {
                    Some(names) => format!(" ({})", names.join(" → ")),
                    None => " (through other types)".to_owned(),
                }
            };
            cx.error(
                DiagnosticKind::RecursiveType,
                field.value_origin.or(&field.origin),
                format!("types.{}.fields.{}", t.name, field.wire),
                format!(
                    "type `{}` contains itself through `{}`{chain} in every value, so no finite value exists; make the field optional (`?`) or wrap it in `list<...>` or `map<...>`",
                    t.name, field.wire
                ),
            );
        }
    }
}

/// The shortest chain `t → first → … → t` of types held inline, found
/// breadth-first; `None` when the search examines more than a few
/// dozen fields first, so a huge cycle costs linear time, not quadratic.
fn cycle_chain<'n>(
    types: &HashMap<&'n str, &'n TypeDef>,
    t: &'n str,
    first: &'n str,
) -> Option<Vec<&'n str>> {
    const BUDGET: usize = 64;
    let mut examined = 0;
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([first]);
    let mut found = false;
    'search: while let Some(node) = queue.pop_front() {
        let Some(def) = types.get(node) else { continue };
        let TypeKind::Struct(fields) = &def.kind else {
            continue;
        };
        for next in fields.iter().filter_map(|f| f.ty.held_always()) {
            examined += 1;
            if examined > BUDGET {
                return None;
            }
            if next == t {
                parent.insert(next, node);
                found = true;
                break 'search;
            }
            if next != first && !parent.contains_key(next) {
                parent.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    if !found {
        return None;
    }
    let mut names = vec![t];
    let mut cur = t;
    while let Some(&p) = parent.get(cur) {
        names.push(p);
        if p == first {
            break;
        }
        cur = p;
    }
    names.push(t);
    // Collected backwards from `t`; the first and last are `t`.
    let last = names.len() - 1;
    names[1..last].reverse();
    Some(names)
}

/// The fields of a struct that hold a named type in every value, with that type.
fn held(t: &TypeDef) -> Vec<(&Field, &str)> {
    match &t.kind {
        TypeKind::Struct(fields) => fields
            .iter()
            .filter_map(|f| f.ty.held_always().map(|h| (f, h)))
            .collect(),
        TypeKind::Enum(_) | TypeKind::OneOf { .. } => Vec::new(),
    }
}

/// Types no endpoint reaches are not generated. When endpoints were left
/// out, one of them may be what uses a type: no guess then.
fn check_unused(cx: &mut Ctxt<'_>, api: &Api) {
    if api.endpoints_partial {
        return;
    }
    let seen = api.reachable_types();
    for t in &api.types {
        if !seen.contains(t.name.as_str()) {
            cx.report(
                Severity::Warning,
                DiagnosticKind::Unused,
                &t.origin,
                format!("types.{}", t.name),
                format!(
                    "type `{}` is not used by any endpoint, so it is not generated; use it or remove it",
                    t.name
                ),
            );
        }
    }
}
