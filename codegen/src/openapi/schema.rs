//! Schemas to the spec's type expressions: scalars by `type` and `format`,
//! arrays to `list<T>`, maps to `map<T>`, objects (named, inline, or merged
//! from `allOf`) to named struct types, string enums to named enums, and
//! `nullable` / `type: [.., "null"]` to `T?`, `oneOf` / `anyOf` to `one_of`
//! enums (tagged by a `discriminator` where the variants allow it). What
//! has no such form (`not`, an unknown `type`, a `$ref` in circles)
//! becomes `json`, with a warning.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Importer;
use super::doc::{Node, deref, escape, ref_name};
use crate::naming::{is_keyword, to_camel_case, to_snake_case};

/// The named types being written, and which component schemas are done.
#[derive(Default)]
pub(crate) struct Types {
    /// Type name → its spec entry, in the order they were named.
    pub(crate) entries: Vec<(String, Node)>,
    /// Names taken (also those still being built).
    taken: BTreeSet<String>,
    /// Component schema name → its type name.
    components: BTreeMap<String, String>,
    /// An inline schema's pointer → the type made for it, so a schema
    /// reached twice (through `allOf`, say) is one type.
    inline: BTreeMap<String, String>,
    /// Components being read that are not types of their own (a `$ref` to
    /// a `$ref`…): met again, they are a cycle.
    aliases: BTreeSet<String>,
    /// How deep the schema being read is nested.
    depth: usize,
    /// How deep lists and maps nest within one type expression (a named
    /// type starts afresh), which the loader bounds.
    nest: usize,
    /// (type, wire name) → the pointer of the property a field came from.
    field_at: BTreeMap<(String, String), String>,
    /// Components referred to only as variants of discriminated unions,
    /// found on the first such union.
    only_variants: Option<BTreeSet<String>>,
}

/// How deeply nested a schema is read before `json` stands in.
const MAX_DEPTH: usize = 48;

/// How deeply lists and maps nest in one type expression; the loader reads
/// 32 levels of a type expression, and `?` may add one to each.
const MAX_NEST: usize = 15;

impl Importer<'_> {
    /// The type expression for the schema at `at`; `hint` names a type made
    /// for an inline object or enum.
    pub(crate) fn type_expr(&mut self, schema: &Value, at: &str, hint: &str) -> String {
        if self.types.depth >= MAX_DEPTH {
            self.warn(
                at,
                format!("a schema nested over {MAX_DEPTH} deep: `json` stands in"),
            );
            return "json".to_owned();
        }
        self.types.depth += 1;
        let expr = self.type_expr_at(schema, at, hint);
        self.types.depth -= 1;
        expr
    }

    fn type_expr_at(&mut self, schema: &Value, at: &str, hint: &str) -> String {
        if let Some(name) = ref_name(schema) {
            return self.component(name);
        }
        let Some((schema, at)) = deref(self.root, schema, at) else {
            self.warn(
                at,
                "a `$ref` that leads nowhere (or in circles): `json` stands in",
            );
            return "json".to_owned();
        };
        let (ty, nullable) = types_of(schema);
        let base = self.base(schema, &at, hint, ty.as_deref());
        if nullable && !base.ends_with('?') {
            format!("{base}?")
        } else {
            base
        }
    }

    fn base(&mut self, schema: &Value, at: &str, hint: &str, ty: Option<&str>) -> String {
        if schema.get("allOf").is_some() {
            return self.object(schema, at, hint);
        }
        for key in ["oneOf", "anyOf"] {
            if schema.get(key).is_some() {
                if let Some(single) = single_variant(schema, key) {
                    let i = schema[key]
                        .as_array()
                        .and_then(|l| l.iter().position(|v| std::ptr::eq(v, single)));
                    return self.type_expr(single, &format!("{at}/{key}/{}", i.unwrap_or(0)), hint);
                }
                return self.one_of(schema, at, key, hint);
            }
        }
        if schema.get("enum").is_some()
            && matches!(ty, Some("string") | None)
            && let Some(name) = self.string_enum(schema, at, hint)
        {
            return name;
        }
        match ty {
            Some("string") => "string".to_owned(),
            Some("boolean") => "bool".to_owned(),
            Some("integer") => match schema.get("format").and_then(Value::as_str) {
                Some("int32") => "i32",
                Some("uint32") => "u32",
                Some("uint64") => "u64",
                _ => "i64",
            }
            .to_owned(),
            Some("number") => "f64".to_owned(),
            Some("array") => match schema.get("items") {
                Some(items) => match self.nested(at) {
                    Some(()) => {
                        let item = self.type_expr(items, &format!("{at}/items"), &format!("{hint}Item"));
                        self.types.nest -= 1;
                        format!("list<{item}>")
                    }
                    None => "json".to_owned(),
                },
                None => "list<json>".to_owned(),
            },
            Some("object") | None if schema.get("properties").is_some() => self.object(schema, at, hint),
            Some("object") | None => match schema.get("additionalProperties") {
                Some(extra) if extra.is_object() && !extra.as_object().is_some_and(|o| o.is_empty()) => {
                    if self.nested(at).is_none() {
                        return "json".to_owned();
                    }
                    let value = self.type_expr(
                        extra,
                        &format!("{at}/additionalProperties"),
                        &format!("{hint}Value"),
                    );
                    self.types.nest -= 1;
                    format!("map<{value}>")
                }
                _ => "json".to_owned(),
            },
            Some(other) => {
                self.warn(at, format!("type `{other}` is not mapped: `json` stands in"));
                "json".to_owned()
            }
        }
    }

    /// One more list or map level, or `None` (warned: `json` stands in)
    /// past what the loader reads.
    fn nested(&mut self, at: &str) -> Option<()> {
        if self.types.nest >= MAX_NEST {
            self.warn(
                at,
                format!("lists and maps nested over {MAX_NEST} deep: `json` stands in"),
            );
            return None;
        }
        self.types.nest += 1;
        Some(())
    }

    /// The type of a component schema, imported the first time it is named.
    pub(crate) fn component(&mut self, name: &str) -> String {
        if let Some(ty) = self.types.components.get(name) {
            return ty.clone();
        }
        let at = format!("/components/schemas/{}", escape(name));
        let Some(schema) = self.root.pointer(&at) else {
            self.warn(
                &at,
                format!("no schema `{name}` in `components/schemas`: `json` stands in"),
            );
            return "json".to_owned();
        };
        // Only objects and enums become named types; a component that is a
        // scalar, a list or a map is used as what it is.
        let (ty, nullable) = types_of(schema);
        let choice = ["oneOf", "anyOf"]
            .iter()
            .any(|k| schema.get(*k).is_some() && single_variant(schema, k).is_none());
        let named = schema.get("allOf").is_some()
            || choice
            || schema.get("properties").is_some()
            || (schema.get("enum").is_some() && matches!(ty.as_deref(), Some("string") | None));
        if !named {
            if !self.types.aliases.insert(name.to_owned()) {
                self.warn(
                    &at,
                    "a `$ref` that leads nowhere (or in circles): `json` stands in",
                );
                return "json".to_owned();
            }
            let expr = self.type_expr(schema, &at, &type_name(name));
            self.types.aliases.remove(name);
            self.types.components.insert(name.to_owned(), expr.clone());
            return expr;
        }
        let ty_name = self.fresh_type(&type_name(name));
        // Registered before its fields are read, so a schema that holds
        // itself (through a list or a map) refers to its own name.
        self.types.components.insert(name.to_owned(), ty_name.clone());
        let built = self.base(schema, &at, &ty_name, ty.as_deref());
        let built = built.trim_end_matches('?').to_owned();
        if built != ty_name {
            // No struct after all (an object without fields, an enum of numbers).
            self.types.components.insert(name.to_owned(), built.clone());
            return built;
        }
        if nullable {
            // A nullable component is nullable where it is used; its type is the same.
            self.types
                .components
                .insert(name.to_owned(), format!("{ty_name}?"));
            return format!("{ty_name}?");
        }
        ty_name
    }

    /// A struct type from `properties` (and every `allOf` part's, merged).
    fn object(&mut self, schema: &Value, at: &str, hint: &str) -> String {
        self.object_of(schema, at, hint, None)
    }

    /// `object`, or with `without` (a component and a property) the
    /// component's struct without that property: a variant of a
    /// discriminated `oneOf`, whose tag serde reads and writes itself.
    fn object_of(&mut self, schema: &Value, at: &str, hint: &str, without: Option<(&str, &str)>) -> String {
        let memo = match without {
            Some((_, tag)) => format!("{at}#without/{tag}"),
            None => at.to_owned(),
        };
        if let Some(done) = self.types.inline.get(&memo) {
            return done.clone();
        }
        let name = if without.is_none()
            && self.types.taken.contains(hint)
            && !self.types.entries.iter().any(|(n, _)| n == hint)
        {
            // `component` reserved this name for this very schema.
            hint.to_owned()
        } else {
            self.fresh_type(hint)
        };
        // Registered first, so a schema that holds itself (an `allOf` of
        // its own component, a variant through its union) names this type.
        self.types.inline.insert(memo.clone(), name.clone());
        // A named type's fields are type expressions of their own.
        let nest = std::mem::take(&mut self.types.nest);
        let mut properties: Vec<(String, Value, String)> = Vec::new();
        let mut required: BTreeSet<String> = BTreeSet::new();
        self.collect(schema, at, &mut properties, &mut required, 0);
        if let Some((_, tag)) = without {
            properties.retain(|(wire, _, _)| wire != tag);
        }
        let mut fields = Node::map();
        let mut rust_names = BTreeSet::new();
        for (i, (wire, prop, prop_at)) in properties.iter().enumerate() {
            // Named after the schema that declares it (an `allOf` part's
            // own component), so it is the same name from every user; the
            // component a variant is cut from is this type itself.
            let owner = match owner_of(prop_at) {
                Some(c) if without.is_some_and(|(of, _)| of == c) => name.clone(),
                Some(c) => self.component(c).trim_end_matches('?').to_owned(),
                None => name.clone(),
            };
            let hint = format!(
                "{owner}{}",
                to_camel_case(wire).unwrap_or_else(|| format!("Field{i}"))
            );
            let mut ty = self.type_expr(prop, prop_at, &hint);
            if !required.contains(wire) && !ty.ends_with('?') {
                ty.push('?');
            }
            let rust = to_snake_case(wire)
                .filter(|r| !matches!(r.as_str(), "self" | "super" | "crate"))
                .filter(|r| !rust_names.contains(r))
                .unwrap_or_else(|| format!("field_{i}"));
            let natural = to_snake_case(wire).is_some_and(|r| r == rust);
            rust_names.insert(rust.clone());
            let doc = description(prop);
            let entry = if natural && doc.is_none() {
                Node::str(ty)
            } else {
                let mut long = Node::map().with("type", Node::str(ty));
                if let Some(doc) = doc {
                    long.set("doc", Node::str(doc));
                }
                if !natural {
                    long.set("rust_name", Node::str(rust));
                }
                long
            };
            fields.set(wire.clone(), entry);
            self.types
                .field_at
                .insert((name.clone(), wire.clone()), prop_at.clone());
        }
        self.types.nest = nest;
        let mut entry = Node::map();
        if let Some(doc) = description(schema) {
            entry.set("doc", Node::str(doc));
        }
        if fields.is_empty_map() {
            // A struct needs a field; an object with none is any JSON object.
            self.types.taken.remove(&name);
            self.types.inline.remove(&memo);
            return "map<json>".to_owned();
        }
        entry.set("fields", fields);
        self.types.entries.push((name.clone(), entry));
        self.types.inline.insert(memo, name.clone());
        name
    }

    /// Every property of `schema` and of its `allOf` parts, first wins.
    fn collect(
        &mut self,
        schema: &Value,
        at: &str,
        out: &mut Vec<(String, Value, String)>,
        required: &mut BTreeSet<String>,
        depth: usize,
    ) {
        let Some((schema, at)) = deref(self.root, schema, at).filter(|_| depth < 16) else {
            self.warn(at, "an `allOf` part that leads nowhere (or too deep): left out");
            return;
        };
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            for (i, part) in parts.iter().enumerate() {
                self.collect(part, &format!("{at}/allOf/{i}"), out, required, depth + 1);
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (wire, prop) in props {
                if !out.iter().any(|(w, _, _)| w == wire) {
                    out.push((
                        wire.clone(),
                        prop.clone(),
                        format!("{at}/properties/{}", escape(wire)),
                    ));
                }
            }
        }
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(r) = r.as_str() {
                required.insert(r.to_owned());
            }
        }
    }

    /// A `one_of` type: tagged by its `discriminator` when `discriminated`
    /// can cut the variants, else the choices' types, told apart by shape.
    fn one_of(&mut self, schema: &Value, at: &str, key: &str, hint: &str) -> String {
        if let Some(done) = self.types.inline.get(at) {
            return done.clone();
        }
        let Some(list) = schema.get(key).and_then(Value::as_array) else {
            self.warn(at, format!("`{key}` is not a list: `json` stands in"));
            return "json".to_owned();
        };
        let name = if self.types.taken.contains(hint) && !self.types.entries.iter().any(|(n, _)| n == hint) {
            hint.to_owned()
        } else {
            self.fresh_type(hint)
        };
        // Registered first, so a choice that holds this type names it.
        self.types.inline.insert(at.to_owned(), name.clone());
        let nullable = list
            .iter()
            .any(|v| v.get("type").and_then(Value::as_str) == Some("null"));
        if let Some((tag, choices)) = self.discriminated(schema, list, &name) {
            let mut entry = Node::map();
            if let Some(doc) = description(schema) {
                entry.set("doc", Node::str(doc));
            }
            entry.set("tag", Node::str(tag));
            entry.set("one_of", Node::List(choices));
            self.types.entries.push((name.clone(), entry));
            return if nullable { format!("{name}?") } else { name };
        }
        let mut exprs: Vec<String> = Vec::new();
        for (i, variant) in list.iter().enumerate() {
            if variant.get("type").and_then(Value::as_str) == Some("null") {
                continue;
            }
            let expr = self.type_expr(variant, &format!("{at}/{key}/{i}"), &format!("{name}{}", i + 1));
            let expr = expr.trim_end_matches('?').to_owned();
            if !exprs.contains(&expr) {
                exprs.push(expr);
            }
        }
        let mut used = BTreeSet::new();
        let choices = exprs
            .iter()
            .enumerate()
            .map(|(i, expr)| {
                let natural = choice_name(expr);
                if used.insert(natural) {
                    Node::str(expr.clone())
                } else {
                    let rust = format!("Choice{}", i + 1);
                    used.insert(rust.clone());
                    Node::map()
                        .with("type", Node::str(expr.clone()))
                        .with("rust_name", Node::str(rust))
                }
            })
            .collect();
        let mut entry = Node::map();
        if let Some(doc) = description(schema) {
            entry.set("doc", Node::str(doc));
        }
        entry.set("one_of", Node::List(choices));
        self.types.entries.push((name.clone(), entry));
        if nullable { format!("{name}?") } else { name }
    }

    /// The tag and the choices of a `oneOf` with a `discriminator`, when
    /// every variant is a component object that requires the tag property,
    /// declares others, and has one tag value (from `mapping`, else its
    /// name). Each variant is imported without the property, which the
    /// internally tagged enum reads and writes itself. `None` keeps the
    /// choices untagged (still told apart by shape, the property included).
    fn discriminated(&mut self, schema: &Value, list: &[Value], union: &str) -> Option<(String, Vec<Node>)> {
        let discriminator = schema.get("discriminator")?;
        let tag = discriminator.get("propertyName")?.as_str()?;
        let mapping = discriminator.get("mapping").and_then(Value::as_object);
        let mut variants: Vec<(&str, String)> = Vec::new();
        for variant in list {
            if variant.get("type").and_then(Value::as_str) == Some("null") {
                continue;
            }
            let component = ref_name(variant)?;
            let at = format!("/components/schemas/{}", escape(component));
            let (props, required) = property_names(self.root, self.root.pointer(&at)?, &at, 0)?;
            // A tag the variant may leave out could not be read back.
            if !required.iter().any(|p| p == tag) || props.iter().all(|p| p == tag) {
                return None;
            }
            let full = format!("#/components/schemas/{component}");
            let mut values = mapping.into_iter().flatten().filter_map(|(value, target)| {
                let target = target.as_str()?;
                (target == full || target == component).then_some(value.clone())
            });
            let value = match (values.next(), values.next()) {
                (Some(v), None) => v,
                (None, _) => component.to_owned(),
                (Some(_), Some(_)) => return None,
            };
            if variants.iter().any(|(c, v)| *c == component || *v == value) {
                return None;
            }
            variants.push((component, value));
        }
        if variants.is_empty() {
            return None;
        }
        let mut used = BTreeSet::new();
        let mut choices = Vec::new();
        for (i, (component, value)) in variants.into_iter().enumerate() {
            let at = format!("/components/schemas/{}", escape(component));
            let schema = self.root.pointer(&at)?;
            let natural = type_name(component);
            // The component's own name when only unions hold it, so the
            // name does not depend on which use is imported first.
            let only_variant = self
                .types
                .only_variants
                .get_or_insert_with(|| only_variants(self.root))
                .contains(component);
            let hint = if only_variant {
                natural.clone()
            } else {
                format!("{union}{natural}")
            };
            let ty = self.object_of(schema, &at, &hint, Some((component, tag)));
            let mut choice = Node::map()
                .with("type", Node::str(ty.clone()))
                .with("value", Node::str(value));
            let rust = if used.contains(&natural) {
                format!("Choice{}", i + 1)
            } else {
                natural
            };
            if rust != ty {
                choice.set("rust_name", Node::str(rust.clone()));
            }
            used.insert(rust);
            choices.push(choice);
        }
        Some((tag.to_owned(), choices))
    }

    /// A string enum type, or `None` when its values are not all strings.
    fn string_enum(&mut self, schema: &Value, at: &str, hint: &str) -> Option<String> {
        if let Some(done) = self.types.inline.get(at) {
            return Some(done.clone());
        }
        let values: Vec<&str> = schema
            .get("enum")?
            .as_array()?
            .iter()
            .filter(|v| !v.is_null())
            .map(Value::as_str)
            .collect::<Option<_>>()?;
        if values.is_empty() {
            return None;
        }
        let name = if self.types.taken.contains(hint) && !self.types.entries.iter().any(|(n, _)| n == hint) {
            hint.to_owned()
        } else {
            self.fresh_type(hint)
        };
        let mut seen = BTreeSet::new();
        let mut items = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let natural = to_camel_case(v).filter(|c| !seen.contains(c));
            match natural {
                Some(c) => {
                    seen.insert(c);
                    items.push(Node::str(*v));
                }
                None => {
                    let rust = format!("Value{i}");
                    seen.insert(rust.clone());
                    items.push(
                        Node::map()
                            .with("value", Node::str(*v))
                            .with("rust_name", Node::str(rust)),
                    );
                }
            }
        }
        let mut entry = Node::map();
        if let Some(doc) = description(schema) {
            entry.set("doc", Node::str(doc));
        }
        entry.set("enum", Node::List(items));
        self.types.entries.push((name.clone(), entry));
        self.types.inline.insert(at.to_owned(), name.clone());
        Some(name)
    }

    /// A struct that holds itself through required fields alone has no
    /// finite value (the loader refuses it): the field closing each such
    /// cycle becomes optional, with a warning.
    pub(crate) fn break_required_cycles(&mut self) {
        while let Some((ty, wire)) = required_cycle(&self.types.entries) {
            let Some(field) = self
                .types
                .entries
                .iter_mut()
                .find(|(n, _)| *n == ty)
                .and_then(|(_, entry)| field_type(entry, &wire))
            else {
                return;
            };
            field.push('?');
            let at = self
                .types
                .field_at
                .get(&(ty.clone(), wire.clone()))
                .cloned()
                .unwrap_or_default();
            self.warn(
                &at,
                format!(
                    "`{wire}` is required and leads back to `{ty}`, so no finite value has it: imported as optional"
                ),
            );
        }
    }

    /// `base`, or `base2`, `base3`… when taken.
    fn fresh_type(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut n = 2;
        while self.types.taken.contains(&name) || is_keyword(&name) || RESERVED.contains(&name.as_str()) {
            name = format!("{base}{n}");
            n += 1;
        }
        self.types.taken.insert(name.clone());
        name
    }
}

/// The component whose own `properties` hold the schema at `at`, when
/// `at` is `/components/schemas/{name}/properties/{field}`.
fn owner_of(at: &str) -> Option<&str> {
    let rest = at.strip_prefix("/components/schemas/")?;
    let (name, rest) = rest.split_once('/')?;
    let field = rest.strip_prefix("properties/")?;
    (!field.contains('/') && !name.contains('~')).then_some(name)
}

/// The components every `$ref` to which is a variant of a `oneOf` or
/// `anyOf` with a `discriminator`.
fn only_variants(root: &Value) -> BTreeSet<String> {
    let (mut variant, mut other) = (BTreeSet::new(), BTreeSet::new());
    // Iterative: a hostile document may nest deeply.
    let mut stack = vec![root];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                let unions: Vec<&Value> = if map.contains_key("discriminator") {
                    ["oneOf", "anyOf"].iter().filter_map(|k| map.get(*k)).collect()
                } else {
                    Vec::new()
                };
                for (k, child) in map {
                    if k == "$ref" {
                        if let Some(name) = ref_name(v) {
                            other.insert(name.to_owned());
                        }
                    } else if unions.iter().any(|u| std::ptr::eq(*u, child)) {
                        for item in child.as_array().into_iter().flatten() {
                            match ref_name(item) {
                                Some(name) => {
                                    variant.insert(name.to_owned());
                                }
                                None => stack.push(item),
                            }
                        }
                    } else {
                        stack.push(child);
                    }
                }
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    variant.difference(&other).cloned().collect()
}

/// The type expression of a struct entry's field `wire`, to change.
fn field_type<'a>(entry: &'a mut Node, wire: &str) -> Option<&'a mut String> {
    let Node::Map(keys) = entry else { return None };
    let (_, Node::Map(fields)) = keys.iter_mut().find(|(k, _)| k == "fields")? else {
        return None;
    };
    match &mut fields.iter_mut().find(|(w, _)| w == wire)?.1 {
        Node::Str(ty) => Some(ty),
        Node::Map(long) => match &mut long.iter_mut().find(|(k, _)| k == "type")?.1 {
            Node::Str(ty) => Some(ty),
            _ => None,
        },
        _ => None,
    }
}

/// A field closing a cycle of structs held through required fields (a
/// bare type name), as (type, wire name): a depth-first search's back edge.
fn required_cycle(entries: &[(String, Node)]) -> Option<(String, String)> {
    let index: BTreeMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.as_str(), i))
        .collect();
    let edges: Vec<Vec<(usize, String)>> = entries
        .iter()
        .map(|(_, entry)| {
            let Node::Map(keys) = entry else { return Vec::new() };
            let Some((_, Node::Map(fields))) = keys.iter().find(|(k, _)| k == "fields") else {
                return Vec::new();
            };
            fields
                .iter()
                .filter_map(|(wire, f)| {
                    let ty = match f {
                        Node::Str(ty) => ty,
                        Node::Map(long) => match long.iter().find(|(k, _)| k == "type") {
                            Some((_, Node::Str(ty))) => ty,
                            _ => return None,
                        },
                        _ => return None,
                    };
                    Some((*index.get(ty.as_str())?, wire.clone()))
                })
                .collect()
        })
        .collect();
    // 0: unseen, 1: on the path, 2: done. Iterative, so a long chain of
    // types cannot overflow the stack.
    let mut state = vec![0u8; entries.len()];
    for root in 0..entries.len() {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            match edges[node].get(*next) {
                Some((to, wire)) => {
                    *next += 1;
                    match state[*to] {
                        0 => {
                            state[*to] = 1;
                            stack.push((*to, 0));
                        }
                        1 => return Some((entries[node].0.clone(), wire.clone())),
                        _ => {}
                    }
                }
                None => {
                    state[node] = 2;
                    stack.pop();
                }
            }
        }
    }
    None
}

/// The property names of an object schema and of its `allOf` parts, and
/// the required ones, or `None` when a part leads nowhere.
fn property_names(
    root: &Value,
    schema: &Value,
    at: &str,
    depth: usize,
) -> Option<(Vec<String>, Vec<String>)> {
    let (schema, at) = deref(root, schema, at).filter(|_| depth < 16)?;
    let (mut names, mut required) = (Vec::new(), Vec::new());
    for (i, part) in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let (n, r) = property_names(root, part, &format!("{at}/allOf/{i}"), depth + 1)?;
        names.extend(n);
        required.extend(r);
    }
    names.extend(
        schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|p| p.keys().cloned()),
    );
    required.extend(
        schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned)),
    );
    Some((names, required))
}

/// Names generated code already uses for its own items.
const RESERVED: &[&str] = &[
    "Result", "Option", "Some", "None", "Ok", "Err", "Vec", "String", "Box", "Value",
];

/// The schema's type (the non-null one of a 3.1 list), and whether null is
/// allowed (3.0 `nullable`, or `"null"` in a 3.1 list).
fn types_of(schema: &Value) -> (Option<String>, bool) {
    let nullable = schema.get("nullable").and_then(Value::as_bool).unwrap_or(false);
    match schema.get("type") {
        Some(Value::String(t)) => (Some(t.clone()), nullable || t == "null"),
        Some(Value::Array(list)) => {
            let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            let null = names.contains(&"null");
            let rest: Vec<&str> = names.into_iter().filter(|t| *t != "null").collect();
            let ty = if rest.len() == 1 {
                Some(rest[0].to_owned())
            } else {
                None
            };
            (ty, nullable || null)
        }
        _ => (None, nullable),
    }
}

/// The one non-null variant of a `oneOf`/`anyOf` that only adds `null`.
fn single_variant<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    let variants = schema.get(key)?.as_array()?;
    let mut rest = variants
        .iter()
        .filter(|v| v.get("type").and_then(Value::as_str) != Some("null"));
    let one = rest.next()?;
    rest.next().is_none().then_some(one)
}

/// A CamelCase type name for a schema name (`repo-search-result-item` →
/// `RepoSearchResultItem`).
pub(crate) fn type_name(name: &str) -> String {
    to_camel_case(name).unwrap_or_else(|| {
        let cleaned: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        to_camel_case(&format!("T{cleaned}")).unwrap_or_else(|| "Type".to_owned())
    })
}

/// A description or title, as doc text.
pub(crate) fn description(v: &Value) -> Option<String> {
    let text = v
        .get("description")
        .or_else(|| v.get("title"))
        .and_then(Value::as_str)?
        .trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The Rust variant name the spec gives a choice of this type expression
/// (as the loader does: the type's name, or the kind of value).
fn choice_name(expr: &str) -> String {
    let expr = expr.trim().trim_end_matches('?');
    if let Some(inner) = expr.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
        return format!("List{}", choice_name(inner));
    }
    if let Some(inner) = expr.strip_prefix("map<").and_then(|r| r.strip_suffix('>')) {
        return format!("Map{}", choice_name(inner));
    }
    match expr {
        "string" => "String".to_owned(),
        "bool" => "Bool".to_owned(),
        "json" => "Json".to_owned(),
        "i32" | "i64" | "u32" | "u64" | "f64" => expr.to_ascii_uppercase(),
        named => named.to_owned(),
    }
}
