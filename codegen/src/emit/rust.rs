//! Small pieces of Rust syntax the emitter's parts share: identifiers, doc
//! attributes, type expressions and JSON literals.
//!
//! Names of things the emitter does not declare come from [`Names`], which
//! writes them absolute for a macro and short for a crate.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{ToTokens, quote};
use serde_json::Value;

use super::names::{Item, Names};
use crate::model::{HttpMethod, Origin, TypeRef};
use crate::naming::{NOT_RAW, is_keyword};

/// The identifier for a model name. The model's names are already Rust
/// names; this only guards the cases a raw identifier or a suffix fixes, and
/// never panics (the macro must not), whatever the input.
pub(super) fn ident(name: &str) -> Ident {
    let span = Span::call_site();
    // A front end may hand over a raw identifier as written (`r#type`).
    let name = name.strip_prefix("r#").unwrap_or(name);
    if NOT_RAW.contains(&name) {
        return Ident::new(&format!("{name}_"), span);
    }
    if is_keyword(name) {
        return Ident::new_raw(name, span);
    }
    if syn::parse_str::<Ident>(name).is_ok() {
        return Ident::new(name, span);
    }
    let mut fixed: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !fixed.starts_with(|c: char| c.is_ascii_alphabetic()) {
        fixed.insert(0, '_');
    }
    if fixed == "_" {
        fixed.push('_');
    }
    Ident::new(&fixed, span)
}

/// The identifier of an item the user declared (a type, field, variant or
/// method). From the macro front end it carries the user's span, so the
/// compiler's and the IDE's references lead back to the trait.
pub(super) fn ident_at(name: &str, origin: &Origin) -> Ident {
    let mut id = ident(name);
    if let Origin::Rust(span) = origin {
        id.set_span(*span);
    }
    id
}

/// `GET`: the method's constant on `Method`.
pub(super) fn method_const(m: HttpMethod) -> Ident {
    Ident::new(m.as_str(), Span::call_site())
}

/// `get`: the shorthand constructor `Request` (and, for some, `LoginFlow`)
/// has for the method.
pub(super) fn method_fn(m: HttpMethod) -> Ident {
    Ident::new(&m.as_str().to_ascii_lowercase(), Span::call_site())
}

/// The name serde sees for a field or variant (`r#type` is `type`).
pub(super) fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
}

/// `name`, or `name_`, `name__`… whichever is not in `taken`.
pub(super) fn fresh(name: &str, taken: &BTreeSet<String>) -> String {
    let mut candidate = name.to_owned();
    while taken.contains(&candidate) {
        candidate.push('_');
    }
    candidate
}

/// `#[doc = " line"]` per line, as `///` comments lower to.
pub(super) fn doc_attrs<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> TokenStream {
    lines
        .into_iter()
        .map(|line| {
            let line = line.as_ref().trim_end();
            let text = if line.is_empty() {
                String::new()
            } else {
                format!(" {line}")
            };
            quote! { #[doc = #text] }
        })
        .collect()
}

/// The lines of a model doc text (none for `None`).
pub(super) fn lines(doc: Option<&str>) -> Vec<&str> {
    doc.map(|d| d.trim_matches('\n').lines().collect())
        .unwrap_or_default()
}

/// A string literal.
pub(super) fn lit(s: &str) -> Literal {
    Literal::string(s)
}

/// The owned Rust type of a type expression. `boxed` wraps a named type
/// reached without a `Vec` or map in between (see `model::Boxing`).
pub(super) fn owned(ty: &TypeRef, boxed: &dyn Fn(&str) -> bool, n: &Names) -> TokenStream {
    match ty {
        TypeRef::String => n.path(Item::String),
        TypeRef::Bool => quote!(bool),
        TypeRef::I32 => quote!(i32),
        TypeRef::I64 => quote!(i64),
        TypeRef::U32 => quote!(u32),
        TypeRef::U64 => quote!(u64),
        TypeRef::F64 => quote!(f64),
        TypeRef::Json => n.path(Item::Value),
        TypeRef::Named(name) => {
            let id = ident(name);
            if boxed(name) {
                let b = n.path(Item::Box);
                quote!(#b<#id>)
            } else {
                id.into_token_stream()
            }
        }
        TypeRef::Option(inner) => {
            let (o, inner) = (n.path(Item::Option), owned(inner, boxed, n));
            quote!(#o<#inner>)
        }
        // A Vec or a map is already indirection: no box inside it.
        TypeRef::List(inner) => {
            let (v, inner) = (n.path(Item::Vec), owned(inner, &|_| false, n));
            quote!(#v<#inner>)
        }
        TypeRef::Map(inner) => {
            let (m, s) = (n.path(Item::BTreeMap), n.path(Item::String));
            let inner = owned(inner, &|_| false, n);
            quote!(#m<#s, #inner>)
        }
    }
}

/// The owned type, never boxed (responses, parameters).
pub(super) fn plain(ty: &TypeRef, n: &Names) -> TokenStream {
    owned(ty, &|_| false, n)
}

/// The type an argument takes: strings and lists borrowed as `&str` and
/// `&[T]`, other scalars by value, anything else by reference. `by_ref`
/// says whether values that are not scalars are borrowed.
pub(super) fn argument(ty: &TypeRef, by_ref: bool, n: &Names) -> TokenStream {
    match ty {
        TypeRef::String => quote!(&str),
        t if t.is_scalar() => plain(t, n),
        TypeRef::Option(inner) => {
            let (o, inner) = (n.path(Item::Option), argument(inner, by_ref, n));
            quote!(#o<#inner>)
        }
        TypeRef::List(inner) if by_ref => {
            let inner = plain(inner, n);
            quote!(&[#inner])
        }
        t if by_ref => {
            let t = plain(t, n);
            quote!(&#t)
        }
        t => plain(t, n),
    }
}

/// An integer literal with an optional suffix. The sign is a separate
/// token, as a negative literal may not survive a token round trip; the
/// magnitude is spelled out so even `i64::MIN` (`-9223372036854775808i64`)
/// is written as Rust accepts it.
fn int(n: i128, suffix: &str) -> TokenStream {
    let lit: Literal = format!("{}{suffix}", n.unsigned_abs())
        .parse()
        .expect("digits and an integer suffix are a literal");
    if n < 0 { quote!(-#lit) } else { quote!(#lit) }
}

/// An expression for `values` that fits `impl IntoIterator<Item = V>` with
/// `V: Into<serde_json::Value>`: a plain array of literals when they share a
/// type (`[408]`, `["expired"]`), `Value`s otherwise.
pub(super) fn json_values(values: &[Value], n: &Names) -> TokenStream {
    if values.is_empty() {
        let value = n.path(Item::Value);
        return quote!(::core::iter::empty::<#value>());
    }
    let all = |f: fn(&Value) -> bool| values.iter().all(f);
    // Literals of one type, or `Value`s when they mix.
    let item: &dyn Fn(&Value) -> TokenStream =
        if all(|v| v.as_i64().is_some_and(|n| i32::try_from(n).is_ok())) {
            &|v| int(v.as_i64().unwrap_or_default().into(), "")
        } else if all(|v| v.as_i64().is_some()) {
            &|v| int(v.as_i64().unwrap_or_default().into(), "i64")
        } else if all(|v| v.as_u64().is_some()) {
            &|v| int(v.as_u64().unwrap_or_default().into(), "u64")
        } else if all(Value::is_string) {
            &|v| lit(v.as_str().unwrap_or_default()).into_token_stream()
        } else if all(Value::is_boolean) {
            &|v| v.as_bool().unwrap_or_default().into_token_stream()
        } else {
            &|v| json_value(v, n)
        };
    let items = values.iter().map(item);
    quote!([#(#items),*])
}

/// An expression of type `serde_json::Value` equal to `v`.
pub(super) fn json_value(v: &Value, n: &Names) -> TokenStream {
    let value = n.path(Item::Value);
    match v {
        Value::Null => quote!(#value::Null),
        Value::Bool(b) => quote!(#value::Bool(#b)),
        Value::Number(n) => {
            let n = if let Some(i) = n.as_i64() {
                int(i.into(), "i64")
            } else if let Some(u) = n.as_u64() {
                int(u.into(), "u64")
            } else {
                Literal::f64_suffixed(n.as_f64().unwrap_or_default()).into_token_stream()
            };
            quote!(#value::from(#n))
        }
        Value::String(s) => {
            let s = lit(s);
            quote!(#value::from(#s))
        }
        Value::Array(items) => {
            let items = items.iter().map(|v| json_value(v, n));
            quote!(#value::Array(::std::vec![#(#items),*]))
        }
        Value::Object(map) => {
            let keys = map.keys().map(|k| lit(k));
            let values = map.values().map(|v| json_value(v, n));
            quote!(::seamless_sdk::__private::serde_json::json!({ #(#keys: #values),* }))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn identifiers_never_panic_and_stay_valid() {
        for (name, want) in [
            ("id", "id"),
            ("type", "r#type"),
            ("r#type", "r#type"),
            ("gen", "r#gen"),
            ("self", "self_"),
            ("Self", "Self_"),
            ("_", "__"),
            ("", "__"),
            ("2fa", "_2fa"),
            ("a-b c", "a_b_c"),
            ("名前", "名前"),
        ] {
            assert_eq!(ident(name).to_string(), want, "{name:?}");
        }
        assert_eq!(unraw(&ident("type")), "type");
        assert_eq!(
            fresh("request", &BTreeSet::from(["request".into(), "request_".into()])),
            "request__"
        );
    }

    #[test]
    fn json_values_are_literals_of_one_type_or_values() {
        let s = |v: &[Value]| json_values(v, &Names::default()).to_string();
        assert_eq!(s(&[json!(408)]), "[408]");
        assert_eq!(
            s(&[json!(-1), json!(5_000_000_000i64)]),
            "[- 1i64 , 5000000000i64]"
        );
        assert_eq!(s(&[json!(u64::MAX)]), "[18446744073709551615u64]");
        assert_eq!(s(&[json!(i64::MIN)]), "[- 9223372036854775808i64]");
        assert_eq!(s(&[json!("a"), json!("b")]), r#"["a" , "b"]"#);
        assert_eq!(s(&[json!(true)]), "[true]");
        assert!(s(&[json!(1), json!("1")]).contains("Value :: from (\"1\")"));
        assert!(s(&[json!(null), json!({"k": [1.5]})]).contains("json !"));
        assert!(s(&[]).contains("empty"));
    }
}
