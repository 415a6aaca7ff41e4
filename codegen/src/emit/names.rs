//! How the emitted code names what it does not declare: the standard
//! library, the runtime, `serde`.
//!
//! A macro expansion sits beside the user's items, which may shadow any
//! name, and must not `use` anything: every path is absolute. A generated
//! crate's file holds only generated items, so it can read like code a
//! person wrote: a `use` prelude and short names. A short name is given up
//! (the item is written with its absolute path, and not imported) when a
//! generated type has that name, so a spec's `Error` or `Result` type
//! cannot clash with the prelude, or, for a function, when an argument
//! does (a path parameter named `path_segment`).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;

/// Where the emitted tokens land, which decides how they name things.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Target {
    /// A `#[token_client]` expansion beside the user's items: absolute paths
    /// only (`::core::…`, `::seamless_sdk::…`), no `use`.
    #[default]
    Macro,
    /// The whole `lib.rs` of a generated crate: a prelude of `use`s first,
    /// then short names.
    Crate,
}

/// A name the emitted code uses without declaring it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Item {
    // The standard prelude: short without an import.
    Result,
    Ok,
    Option,
    Some,
    None,
    String,
    ToString,
    Vec,
    Box,
    Into,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Format,
    // Imported.
    BTreeMap,
    Duration,
    Client,
    ClientBuilder,
    CodeProvider,
    Encoding,
    Envelope,
    Error,
    Expiry,
    ExpiryRule,
    Lifetime,
    Login,
    LoginFlow,
    Method,
    Placement,
    RefreshGrant,
    Request,
    RetryPolicy,
    CallOptions,
    CachePolicy,
    Call,
    Secret,
    PathSegment,
    Serialize,
    Deserialize,
    Value,
}

/// The namespace a name lives in. A generated type only ever takes a name
/// in the type namespace (its structs have braces); a method's argument, a
/// local, takes one in the value namespace; nothing generated is a macro.
#[derive(PartialEq)]
enum Space {
    Type,
    Value,
    Macro,
}

impl Item {
    /// (module of the absolute path, name, module to import it from (`None`:
    /// the standard prelude has it), namespace).
    fn parts(self) -> (&'static str, &'static str, Option<&'static str>, Space) {
        use Space::{Macro, Type, Value};
        const SDK: Option<&str> = Some("seamless_sdk");
        const SERDE: &str = "seamless_sdk::__private::serde";
        match self {
            Item::Result => ("core::result", "Result", None, Type),
            Item::Ok => ("core::result::Result", "Ok", None, Value),
            Item::Option => ("core::option", "Option", None, Type),
            Item::Some => ("core::option::Option", "Some", None, Value),
            Item::None => ("core::option::Option", "None", None, Value),
            Item::String => ("std::string", "String", None, Type),
            Item::ToString => ("std::string", "ToString", None, Type),
            Item::Vec => ("std::vec", "Vec", None, Type),
            Item::Box => ("std::boxed", "Box", None, Type),
            Item::Into => ("core::convert", "Into", None, Type),
            Item::Debug => ("core::fmt", "Debug", None, Macro),
            Item::Clone => ("core::clone", "Clone", None, Macro),
            Item::Copy => ("core::marker", "Copy", None, Macro),
            Item::PartialEq => ("core::cmp", "PartialEq", None, Macro),
            Item::Eq => ("core::cmp", "Eq", None, Macro),
            Item::Hash => ("core::hash", "Hash", None, Macro),
            Item::Format => ("std", "format", None, Macro),
            Item::BTreeMap => ("std::collections", "BTreeMap", Some("std::collections"), Type),
            Item::Duration => ("core::time", "Duration", Some("std::time"), Type),
            Item::Client => ("seamless_sdk", "Client", SDK, Type),
            Item::ClientBuilder => ("seamless_sdk", "ClientBuilder", SDK, Type),
            Item::CodeProvider => ("seamless_sdk", "CodeProvider", SDK, Type),
            Item::Encoding => ("seamless_sdk", "Encoding", SDK, Type),
            Item::Envelope => ("seamless_sdk", "Envelope", SDK, Type),
            Item::Error => ("seamless_sdk", "Error", SDK, Type),
            Item::Expiry => ("seamless_sdk", "Expiry", SDK, Type),
            Item::ExpiryRule => ("seamless_sdk", "ExpiryRule", SDK, Type),
            Item::Lifetime => ("seamless_sdk", "Lifetime", SDK, Type),
            Item::Login => ("seamless_sdk", "Login", SDK, Type),
            Item::LoginFlow => ("seamless_sdk", "LoginFlow", SDK, Type),
            Item::Method => ("seamless_sdk", "Method", SDK, Type),
            Item::Placement => ("seamless_sdk", "Placement", SDK, Type),
            Item::RefreshGrant => ("seamless_sdk", "RefreshGrant", SDK, Type),
            Item::Request => ("seamless_sdk", "Request", SDK, Type),
            Item::RetryPolicy => ("seamless_sdk", "RetryPolicy", SDK, Type),
            Item::CallOptions => ("seamless_sdk", "CallOptions", SDK, Type),
            Item::CachePolicy => ("seamless_sdk", "CachePolicy", SDK, Type),
            Item::Call => ("seamless_sdk", "Call", SDK, Type),
            Item::Secret => ("seamless_sdk", "Secret", SDK, Type),
            Item::PathSegment => (
                "seamless_sdk::__private",
                "path_segment",
                Some("seamless_sdk::__private"),
                Value,
            ),
            // A derive and its trait are imported together.
            Item::Serialize => (SERDE, "Serialize", Some(SERDE), Type),
            Item::Deserialize => (SERDE, "Deserialize", Some(SERDE), Type),
            Item::Value => (
                "seamless_sdk::__private::serde_json",
                "Value",
                Some("seamless_sdk::__private::serde_json"),
                Type,
            ),
        }
    }
}

/// Names items for one target, remembering which short names were used so
/// the prelude imports exactly those (an unused import is a warning).
pub(super) struct Names {
    target: Target,
    /// The names of the items the file declares (types, client).
    types: BTreeSet<String>,
    /// The names of every method's arguments.
    locals: BTreeSet<String>,
    used: RefCell<BTreeSet<Item>>,
}

impl Names {
    pub(super) fn new(target: Target, types: BTreeSet<String>, locals: BTreeSet<String>) -> Self {
        Names {
            target,
            types,
            locals,
            used: RefCell::default(),
        }
    }

    /// Whether `item` is written by its short name.
    fn short(&self, item: Item) -> bool {
        let (_, name, import, space) = item.parts();
        // An import's first segment is resolved in the file's scope too.
        let root = import.and_then(|m| m.split("::").next());
        let taken = match space {
            Space::Type => self.types.contains(name),
            Space::Value => self.locals.contains(name),
            Space::Macro => false,
        };
        self.target == Target::Crate && !taken && root.is_none_or(|r| !self.types.contains(r))
    }

    /// The path of `item` as source text (for attributes that take a string).
    pub(super) fn text(&self, item: Item) -> String {
        let (module, name, _, _) = item.parts();
        if self.short(item) {
            self.used.borrow_mut().insert(item);
            name.to_owned()
        } else {
            format!("::{module}::{name}")
        }
    }

    /// The path of `item`.
    pub(super) fn path(&self, item: Item) -> TokenStream {
        self.text(item).parse().expect("an item's path is Rust tokens")
    }

    /// The `use`s for the short names used so far: the standard library's
    /// first, then the runtime's, one per module. Empty for a macro.
    pub(super) fn prelude(&self) -> TokenStream {
        let mut modules: BTreeMap<(bool, &str), Vec<&str>> = BTreeMap::new();
        for item in self.used.borrow().iter() {
            let (_, name, import, _) = item.parts();
            if let Some(module) = import {
                let key = (module.starts_with("seamless_sdk"), module);
                modules.entry(key).or_default().push(name);
            }
        }
        modules
            .into_iter()
            .map(|((_, module), names)| {
                let text = match names.as_slice() {
                    [one] => format!("use {module}::{one};"),
                    many => format!("use {module}::{{{}}};", many.join(", ")),
                };
                text.parse::<TokenStream>()
                    .expect("a use declaration is Rust tokens")
            })
            .collect()
    }
}

impl Default for Names {
    /// Absolute paths, as a macro expansion needs.
    fn default() -> Self {
        Names::new(Target::Macro, BTreeSet::new(), BTreeSet::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(target: Target, types: &[&str]) -> Names {
        let set = |names: &[&str]| names.iter().map(|d| d.to_string()).collect();
        Names::new(target, set(types), set(&["path_segment"]))
    }

    #[test]
    fn a_macro_gets_absolute_paths_and_no_prelude() {
        let n = names(Target::Macro, &[]);
        assert_eq!(n.text(Item::Result), "::core::result::Result");
        assert_eq!(
            n.text(Item::Value),
            "::seamless_sdk::__private::serde_json::Value"
        );
        assert!(n.prelude().is_empty());
    }

    #[test]
    fn a_crate_imports_exactly_the_short_names_it_used() {
        let n = names(Target::Crate, &[]);
        for item in [
            Item::Client,
            Item::Error,
            Item::Duration,
            Item::Result,
            Item::Some,
        ] {
            n.path(item);
        }
        assert_eq!(
            n.prelude().to_string(),
            "use std :: time :: Duration ; use seamless_sdk :: { Client , Error } ;"
        );
    }

    #[test]
    fn a_declared_name_or_import_root_is_spelled_out() {
        let n = names(Target::Crate, &["Error", "Option", "std"]);
        assert_eq!(n.text(Item::Error), "::seamless_sdk::Error");
        assert_eq!(n.text(Item::Option), "::core::option::Option");
        // `std::collections::BTreeMap` would start at the local `std`.
        assert_eq!(n.text(Item::BTreeMap), "::std::collections::BTreeMap");
        // Values and macros live in other namespaces than a type.
        assert_eq!(n.text(Item::Some), "Some");
        // But an argument shadows a function.
        assert_eq!(
            n.text(Item::PathSegment),
            "::seamless_sdk::__private::path_segment"
        );
        assert_eq!(n.text(Item::Client), "Client");
        assert_eq!(n.prelude().to_string(), "use seamless_sdk :: Client ;");
    }
}
