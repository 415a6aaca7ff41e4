//! Named types: only those an endpoint reaches, in spec order.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::names::{Item, Names};
use super::rust::{doc_attrs, ident_at, lines, lit, owned, unraw};
use crate::model::{Boxing, Choice, Field, TypeDef, TypeKind, TypeRef, Variant};

/// The reachable types, in spec order.
pub(super) fn emit(used: &[&TypeDef], names: &Names) -> TokenStream {
    let boxing = Boxing::new(used.iter().copied());
    used.iter()
        .map(|t| match &t.kind {
            TypeKind::Struct(fields) => structure(t, fields, &boxing, names),
            TypeKind::Enum(variants) => enumeration(t, variants, names),
            TypeKind::OneOf { tag, choices } => one_of(t, tag.as_deref(), choices, &boxing, names),
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

/// A `one_of`: an enum of newtype variants, internally tagged by `tag`,
/// else untagged (the first choice the value fits).
fn one_of(
    def: &TypeDef,
    tag: Option<&str>,
    choices: &[Choice],
    boxing: &Boxing<'_>,
    names: &Names,
) -> TokenStream {
    let docs = doc_attrs(lines(def.doc.as_deref()));
    let name = ident_at(&def.name, &def.origin);
    let arms = choices.iter().map(|c| {
        let id = ident_at(&c.name, &c.origin);
        let ty = owned(&c.ty, &|held| boxing.needs_box(&def.name, held), names);
        let rename = tag.filter(|_| unraw(&id) != c.value).map(|_| {
            let value = lit(&c.value);
            quote!(#[serde(rename = #value)])
        });
        quote! {
            #rename
            #id(#ty),
        }
    });
    let how = match tag {
        Some(tag) => {
            let tag = lit(tag);
            quote!(#[serde(tag = #tag)])
        }
        None => quote!(#[serde(untagged)]),
    };
    let variants: Vec<String> = choices.iter().map(|c| c.name.clone()).collect();
    let mut allow = vec![quote!(clippy::large_enum_variant)];
    if shares_a_word(&def.name, &variants) {
        allow.push(quote!(clippy::enum_variant_names));
    }
    if variants.iter().chain([&def.name]).any(|n| is_acronym(n)) {
        allow.push(quote!(clippy::upper_case_acronyms));
    }
    let derives = derives(&[Item::Debug, Item::Clone, Item::PartialEq], names);
    quote! {
        #docs
        #derives
        #how
        #[allow(#(#allow),*)]
        pub enum #name {
            #(#arms)*
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
