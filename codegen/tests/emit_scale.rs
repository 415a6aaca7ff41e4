//! A 1,000-endpoint model: how long emitting and formatting take, and how
//! many lines each endpoint costs. Prints its figures (run with
//! `--nocapture`); asserts only on the deterministic line count.

mod emit_models;

use std::time::{Duration, Instant};

use emit_models::*;
use seamless_sdk_codegen::emit;
use seamless_sdk_codegen::model::{Api, HttpMethod, TypeRef};

/// 250 resources, each with two types and four endpoints (get with an
/// optional query parameter, list, create with a body, delete) on the
/// bearer API's auth section.
fn thousand_endpoints() -> Api {
    let mut api = bearer();
    api.types.clear();
    api.endpoints.clear();
    for r in 0..250 {
        let (thing, new_thing) = (format!("Thing{r}"), format!("NewThing{r}"));
        let mut name = field("display_name", TypeRef::String);
        name.wire = "displayName".into();
        name.doc = Some("Shown to users.".into());
        api.types.push(strukt(
            &thing,
            Some("A thing."),
            vec![
                field("id", TypeRef::U64),
                name.clone(),
                field("tags", opt(list(TypeRef::String))),
                field("meta", map(TypeRef::Json)),
            ],
        ));
        api.types.push(strukt(
            &new_thing,
            None,
            vec![name, field("tags", opt(list(TypeRef::String)))],
        ));

        let base = format!("/v1/things{r}");
        let mut get = endpoint(
            &format!("get_thing_{r}"),
            HttpMethod::Get,
            &format!("{base}/{{id}}"),
            Some(named(&thing)),
        );
        get.doc = Some("Fetches one thing.".into());
        get.params = vec![
            path("id", TypeRef::U64),
            query("expand", "expand", opt(TypeRef::Bool)),
        ];
        let mut all = endpoint(
            &format!("list_things_{r}"),
            HttpMethod::Get,
            &base,
            Some(list(named(&thing))),
        );
        all.doc = Some("Lists things, a page at a time.".into());
        all.params = vec![
            query("page", "page", TypeRef::U32),
            query("per_page", "per_page", opt(TypeRef::U32)),
        ];
        let mut create = endpoint(
            &format!("create_thing_{r}"),
            HttpMethod::Post,
            &base,
            Some(named(&thing)),
        );
        create.doc = Some("Creates a thing.".into());
        create.body = body(named(&new_thing));
        let mut delete = endpoint(
            &format!("delete_thing_{r}"),
            HttpMethod::Delete,
            &format!("{base}/{{id}}"),
            None,
        );
        delete.doc = Some("Deletes a thing.".into());
        delete.params = vec![path("id", TypeRef::U64)];
        api.endpoints.extend([get, all, create, delete]);
    }
    api
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

#[test]
fn a_thousand_endpoints_emit_quickly_in_under_forty_lines_each() {
    let api = thousand_endpoints();
    assert_eq!(api.endpoints.len(), 1000);
    let (tokens, emit_time) = timed(|| emit(&api));
    let (file, parse_time) = timed(|| syn::parse2::<syn::File>(tokens).unwrap());
    let (src, format_time) = timed(|| prettyplease::unparse(&file));
    let total = src.lines().count();

    // Each method alone, formatted as prettyplease lays it out in the impl.
    let mut method_lines = 0;
    for item in &file.items {
        let syn::Item::Impl(imp) = item else { continue };
        let empty = syn::ItemImpl {
            items: Vec::new(),
            ..imp.clone()
        };
        for member in &imp.items {
            let syn::ImplItem::Fn(f) = member else { continue };
            if f.sig.asyncness.is_none() {
                continue;
            }
            let mut alone = empty.clone();
            alone.items = vec![member.clone()];
            let text = prettyplease::unparse(&syn::parse_quote!(#alone));
            method_lines += text.lines().count() - 2; // the `impl X {` and `}` lines
        }
    }
    let per_method = method_lines as f64 / 1000.0;
    println!(
        "1,000 endpoints, 500 types: emit {emit_time:?}, parse {parse_time:?}, prettyplease {format_time:?} \
         (emit + format {:?}); {total} lines, {:.1} per endpoint with its types, {per_method:.1} per method",
        emit_time + parse_time + format_time,
        total as f64 / 1000.0,
    );
    assert!(per_method <= 40.0, "{per_method} lines per method");
}
