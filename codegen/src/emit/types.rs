//! Named types: only those an endpoint reaches, in spec order.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::quote;

use super::names::{Item, Names};
use super::rust::{doc_attrs, ident_at, lines, lit, owned, unraw};
use crate::model::{Api, Field, TypeDef, TypeKind, TypeRef, Variant};

/// The named type a field holds inline (through `Option`s only), if any.
fn inline_named(ty: &TypeRef) -> Option<&str> {
    match ty {
        TypeRef::Named(n) => Some(n),
        TypeRef::Option(t) => inline_named(t),
        _ => None,
    }
}

/// Which struct fields must be boxed: those whose inline type leads back to
/// the struct itself (`Node { parent: Option<Node> }` has no finite size).
/// Two structs need a box between them exactly when they hold each other
/// inline, directly or through others: when they share a strongly connected
/// component of the "holds inline" graph. The validator's recursion check
/// uses the same definition.
pub(crate) struct Boxing<'a> {
    component: BTreeMap<&'a str, usize>,
    self_loops: BTreeSet<&'a str>,
}

impl<'a> Boxing<'a> {
    pub(crate) fn new(structs: &[(&'a str, &'a [Field])]) -> Self {
        let index: BTreeMap<&str, usize> = structs.iter().enumerate().map(|(i, (n, _))| (*n, i)).collect();
        let edges: Vec<Vec<usize>> = structs
            .iter()
            .map(|(_, fields)| {
                fields
                    .iter()
                    .filter_map(|f| inline_named(&f.ty).and_then(|n| index.get(n).copied()))
                    .collect()
            })
            .collect();
        let component = tarjan(&edges);
        let mut self_loops = BTreeSet::new();
        for (i, out) in edges.iter().enumerate() {
            if out.contains(&i) {
                self_loops.insert(structs[i].0);
            }
        }
        Boxing {
            component: structs.iter().map(|(n, _)| *n).zip(component).collect(),
            self_loops,
        }
    }

    pub(crate) fn needs_box(&self, holder: &str, held: &str) -> bool {
        if holder == held {
            return self.self_loops.contains(holder);
        }
        matches!(
            (self.component.get(holder), self.component.get(held)),
            (Some(a), Some(b)) if a == b
        )
    }
}

/// Strongly connected components (Tarjan), iterative so a long chain of
/// types cannot overflow the stack. Returns each node's component id.
fn tarjan(edges: &[Vec<usize>]) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let (mut index, mut low, mut comp) = (vec![UNSEEN; n], vec![0; n], vec![UNSEEN; n]);
    let mut on_stack = vec![false; n];
    let (mut stack, mut next_index, mut next_comp) = (Vec::new(), 0, 0);
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // (node, next edge to look at)
        let mut work = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut e)) = work.last_mut() {
            if let Some(&w) = edges[v].get(*e) {
                *e += 1;
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp[w] = next_comp;
                    if w == v {
                        break;
                    }
                }
                next_comp += 1;
            }
        }
    }
    comp
}

/// The reachable types, in spec order.
pub(super) fn emit(api: &Api, reachable: &BTreeSet<&str>, names: &Names) -> TokenStream {
    let used: Vec<&TypeDef> = api
        .types
        .iter()
        .filter(|t| reachable.contains(t.name.as_str()))
        .collect();
    let structs: Vec<(&str, &[Field])> = used
        .iter()
        .filter_map(|t| match &t.kind {
            TypeKind::Struct(fields) => Some((t.name.as_str(), fields.as_slice())),
            TypeKind::Enum(_) => None,
        })
        .collect();
    let boxing = Boxing::new(&structs);
    used.iter()
        .map(|t| match &t.kind {
            TypeKind::Struct(fields) => structure(t, fields, &boxing, names),
            TypeKind::Enum(variants) => enumeration(t, variants, names),
        })
        .collect()
}

/// `#[derive(…)]` and `#[serde(crate = …)]`: serde is reached through the
/// facade, as the user's crate may not depend on it.
fn derives(items: &[Item], names: &Names) -> TokenStream {
    let paths = items
        .iter()
        .chain(&[Item::Serialize, Item::Deserialize])
        .map(|&item| names.path(item));
    quote! {
        #[derive(#(#paths),*)]
        #[serde(crate = "::seamless_sdk::__private::serde")]
    }
}

fn structure(def: &TypeDef, fields: &[Field], boxing: &Boxing<'_>, names: &Names) -> TokenStream {
    let docs = doc_attrs(lines(def.doc.as_deref()));
    let name = ident_at(&def.name, &def.origin);
    let fields = fields.iter().map(|f| {
        let docs = doc_attrs(lines(f.doc.as_deref()));
        let id = ident_at(&f.name, &f.origin);
        let ty = owned(&f.ty, &|held| boxing.needs_box(&def.name, held), names);
        let mut serde = Vec::new();
        if unraw(&id) != f.wire {
            let wire = lit(&f.wire);
            serde.push(quote!(rename = #wire));
        }
        if matches!(f.ty, TypeRef::Option(_)) {
            // Absent and null both read as `None`; `None` is left out when sending.
            let is_none = format!("{}::is_none", names.text(Item::Option));
            serde.push(quote!(default, skip_serializing_if = #is_none));
        }
        let serde = (!serde.is_empty()).then(|| quote!(#[serde(#(#serde),*)]));
        quote! {
            #docs
            #serde
            pub #id: #ty,
        }
    });
    let allow = is_acronym(&def.name).then(|| quote!(#[allow(clippy::upper_case_acronyms)]));
    let derives = derives(&[Item::Debug, Item::Clone, Item::PartialEq], names);
    quote! {
        #docs
        #derives
        #allow
        pub struct #name {
            #(#fields)*
        }
    }
}

fn enumeration(def: &TypeDef, variants: &[Variant], n: &Names) -> TokenStream {
    let docs = doc_attrs(lines(def.doc.as_deref()));
    let name = ident_at(&def.name, &def.origin);
    let idents: Vec<_> = variants.iter().map(|v| ident_at(&v.name, &v.origin)).collect();
    let arms = variants.iter().zip(&idents).map(|(v, id)| {
        let docs = doc_attrs(lines(v.doc.as_deref()));
        let rename = (unraw(id) != v.wire).then(|| {
            let wire = lit(&v.wire);
            quote!(#[serde(rename = #wire)])
        });
        quote! {
            #docs
            #rename
            #id,
        }
    });
    let names: Vec<String> = idents.iter().map(unraw).collect();
    // Variant names follow the wire strings, which the user cannot rename to
    // please these style lints.
    let mut allow = Vec::new();
    if shares_a_word(&def.name, &names) {
        allow.push(quote!(clippy::enum_variant_names));
    }
    if names.iter().chain([&def.name]).any(|n| is_acronym(n)) {
        allow.push(quote!(clippy::upper_case_acronyms));
    }
    let allow = (!allow.is_empty()).then(|| quote!(#[allow(#(#allow),*)]));
    let derives = derives(
        &[
            Item::Debug,
            Item::Clone,
            Item::Copy,
            Item::PartialEq,
            Item::Eq,
            Item::Hash,
        ],
        n,
    );
    quote! {
        #docs
        #derives
        #allow
        pub enum #name {
            #(#arms)*
        }
    }
}

/// Would `clippy::enum_variant_names` fire? It looks at enums of three or
/// more variants that all share a first or last CamelCase word, or whose
/// variants start or end with the enum's name. This errs towards `true`.
fn shares_a_word(enum_name: &str, variants: &[String]) -> bool {
    if variants.len() < 3 {
        return false;
    }
    let words: Vec<Vec<&str>> = variants.iter().map(|v| camel_words(v)).collect();
    let firsts: BTreeSet<&str> = words.iter().map(|w| w[0]).collect();
    let lasts: BTreeSet<&str> = words.iter().map(|w| w[w.len() - 1]).collect();
    firsts.len() == 1
        || lasts.len() == 1
        || variants
            .iter()
            .any(|v| v != enum_name && (v.starts_with(enum_name) || v.ends_with(enum_name)))
}

fn camel_words(name: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    for (i, c) in name.char_indices().skip(1) {
        if c.is_uppercase() {
            words.push(&name[start..i]);
            start = i;
        }
    }
    words.push(&name[start..]);
    words
}

/// Would `clippy::upper_case_acronyms` fire? By default it takes all-caps
/// names of three or more letters (`HTTP`, not `OK`).
fn is_acronym(name: &str) -> bool {
    name.len() > 2 && name.chars().all(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarjan_groups_cycles() {
        // 0 -> 1 -> 2 -> 0, 3 -> 0, 4 alone
        let comp = tarjan(&[vec![1], vec![2], vec![0], vec![0], vec![]]);
        assert!(comp[0] == comp[1] && comp[1] == comp[2]);
        assert!(comp[3] != comp[0] && comp[4] != comp[0] && comp[3] != comp[4]);
    }

    #[test]
    fn variant_name_lint_is_predicted() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(shares_a_word(
            "Status",
            &v(&["InProgress", "InReview", "InTransit"])
        ));
        assert!(shares_a_word("Status", &v(&["StatusA", "B", "C"])));
        assert!(!shares_a_word("Status", &v(&["Active", "Banned", "Pending"])));
        assert!(!shares_a_word("Status", &v(&["InA", "InB"])));
        assert!(is_acronym("HTTP") && !is_acronym("OK") && !is_acronym("Http") && !is_acronym("V2X"));
    }
}
