//! `example`: the mock's answers fit the model (checked by a conformance
//! checker written here, as serde reads the generated types), are
//! deterministic, vary with the seed and the salt, and end on recursive
//! types.

mod emit_models;

use std::collections::BTreeSet;
use std::path::Path;

use emit_models::{field, list, map, named, one_of, opt, renamed, strukt};
use seamless_sdk_codegen::example::{Examples, example};
use seamless_sdk_codegen::load;
use seamless_sdk_codegen::model::{Api, TypeDef, TypeKind, TypeRef};
use serde_json::{Value, json};

/// Whether `v` deserializes into the generated Rust type of `ty`, as the
/// emitter writes it: struct fields by wire name, `Option` fields may be
/// absent or `null`, other fields required, unknown fields refused (serde
/// ignores them, but an example has no reason to carry any), enums by
/// wire value, `one_of` by tag or as the first choice that fits.
fn conforms(api: &Api, ty: &TypeRef, v: &Value) -> Result<(), String> {
    let fail = |what: &str| Err(format!("{v} is not {what}"));
    match ty {
        TypeRef::String => v
            .is_string()
            .then_some(())
            .ok_or(())
            .or_else(|_| fail("a string")),
        TypeRef::Bool => v.is_boolean().then_some(()).ok_or(()).or_else(|_| fail("a bool")),
        TypeRef::I32 => match v.as_i64() {
            Some(n) if i32::try_from(n).is_ok() => Ok(()),
            _ => fail("an i32"),
        },
        TypeRef::I64 => v.as_i64().map(drop).ok_or(()).or_else(|_| fail("an i64")),
        TypeRef::U32 => match v.as_u64() {
            Some(n) if u32::try_from(n).is_ok() => Ok(()),
            _ => fail("a u32"),
        },
        TypeRef::U64 => v.as_u64().map(drop).ok_or(()).or_else(|_| fail("a u64")),
        TypeRef::F64 => match v.as_f64() {
            Some(x) if x.is_finite() => Ok(()),
            _ => fail("a finite f64"),
        },
        TypeRef::Json => Ok(()),
        TypeRef::Option(inner) => match v {
            Value::Null => Ok(()),
            _ => conforms(api, inner, v),
        },
        TypeRef::List(item) => match v {
            Value::Array(items) => items.iter().try_for_each(|i| conforms(api, item, i)),
            _ => fail("a list"),
        },
        TypeRef::Map(item) => match v {
            Value::Object(entries) => entries.values().try_for_each(|i| conforms(api, item, i)),
            _ => fail("a map"),
        },
        TypeRef::Named(name) => {
            let def = api
                .types
                .iter()
                .find(|t| &t.name == name)
                .ok_or_else(|| format!("no type {name}"))?;
            named_conforms(api, def, v, None).map_err(|e| format!("{name}: {e}"))
        }
    }
}

/// `skip` is a tagged `one_of`'s tag field, which belongs to the enum.
fn named_conforms(api: &Api, def: &TypeDef, v: &Value, skip: Option<&str>) -> Result<(), String> {
    match &def.kind {
        TypeKind::Struct(fields) => {
            let Value::Object(object) = v else {
                return Err(format!("{v} is not an object"));
            };
            for key in object.keys() {
                if Some(key.as_str()) != skip && !fields.iter().any(|f| &f.wire == key) {
                    return Err(format!("unknown field {key:?} in {v}"));
                }
            }
            for f in fields {
                match (object.get(&f.wire), &f.ty) {
                    (None, TypeRef::Option(_)) => {}
                    (None, _) => return Err(format!("field {:?} missing in {v}", f.wire)),
                    (Some(x), ty) => conforms(api, ty, x).map_err(|e| format!(".{}: {e}", f.wire))?,
                }
            }
            Ok(())
        }
        TypeKind::Enum(variants) => match v.as_str() {
            Some(s) if variants.iter().any(|var| var.wire == s) => Ok(()),
            _ => Err(format!("{v} is not one of the enum's values")),
        },
        TypeKind::OneOf {
            tag: Some(tag),
            choices,
        } => {
            let value = v
                .get(tag)
                .and_then(Value::as_str)
                .ok_or(format!("no tag {tag:?} in {v}"))?;
            let choice = choices
                .iter()
                .find(|c| c.value == value)
                .ok_or(format!("tag {value:?} names no choice"))?;
            let TypeRef::Named(n) = &choice.ty else {
                return Err(format!("choice {} is not a struct", choice.name));
            };
            let def = api
                .types
                .iter()
                .find(|t| &t.name == n)
                .ok_or(format!("no type {n}"))?;
            named_conforms(api, def, v, Some(tag))
        }
        TypeKind::OneOf { tag: None, choices } => {
            let errors: Vec<String> = choices
                .iter()
                .map_while(|c| conforms(api, &c.ty, v).err())
                .collect();
            if errors.len() < choices.len() {
                Ok(())
            } else {
                Err(format!("fits no choice: {}", errors.join("; ")))
            }
        }
    }
}

fn load_file(path: &Path) -> Api {
    let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match load(&source, &path.display().to_string()) {
        Ok((api, _)) => api,
        Err(d) => panic!("{} does not load:\n{d}", path.display()),
    }
}

/// Every spec in `specs/`, and the imported OpenAPI fixtures.
fn every_api() -> Vec<(String, Api)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<_> = std::fs::read_dir(root.join("../specs"))
        .expect("specs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 4, "{paths:?}");
    paths.push(root.join("tests/openapi/petstore.expected.yaml"));
    paths.push(root.join("tests/openapi/mappings.expected.yaml"));
    let mut apis: Vec<_> = paths
        .iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                load_file(p),
            )
        })
        .collect();
    apis.push(("emit_models::seed".into(), emit_models::seed()));
    apis.push(("emit_models::bearer".into(), emit_models::bearer()));
    apis
}

/// The endpoint's path with each `{param}` filled in, as a request names it.
fn concrete(path: &str, n: u32) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str(&rest[..open]);
        out.push_str(&n.to_string());
        rest = &rest[close..];
    }
    out + rest
}

#[test]
fn every_response_of_every_spec_conforms_and_is_deterministic() {
    let mut checked = 0;
    for (file, api) in every_api() {
        let examples = Examples::new(&api);
        for ep in &api.endpoints {
            let Some(ty) = &ep.response else { continue };
            for seed in 0..12 {
                for n in [7, 8] {
                    let salt = concrete(&ep.path, n);
                    let v = examples.value(ty, seed, &salt);
                    if let Err(e) = conforms(&api, ty, &v) {
                        panic!("{file} {} {salt} seed {seed}: {ty}: {e}", ep.name);
                    }
                    assert_eq!(v, example(&api, ty, seed, &salt), "{file} {}", ep.name);
                    assert_eq!(
                        v,
                        Examples::new(&api).value(ty, seed, &salt),
                        "{file} {}",
                        ep.name
                    );
                    checked += 1;
                }
            }
        }
        // The named types no endpoint returns, too (bodies, fields).
        for t in &api.types {
            let ty = TypeRef::Named(t.name.clone());
            for seed in 0..4 {
                let v = examples.value(&ty, seed, "/");
                conforms(&api, &ty, &v).unwrap_or_else(|e| panic!("{file} {}: {e}", t.name));
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked}");
}

fn imi_mini() -> Api {
    load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/imi_mini.yaml"))
}

#[test]
fn the_values_are_pinned() {
    // Across runs, platforms and releases: a change here changes what every
    // mock answers, so it must be deliberate.
    let api = imi_mini();
    let user = example(&api, &named("User"), 0, "/api/users/7");
    assert_eq!(
        user,
        json!({"id": 3_139_988_200_u64, "name": "name-3504"}),
        "{user}"
    );
}

#[test]
fn seeds_and_salts_vary_the_values() {
    let api = imi_mini();
    let ty = named("Profile");
    let by_seed: BTreeSet<String> = (0..16)
        .map(|seed| example(&api, &ty, seed, "/api/profile").to_string())
        .collect();
    assert_eq!(by_seed.len(), 16);
    let by_salt: BTreeSet<String> = (0..16)
        .map(|n| example(&api, &ty, 1, &format!("/api/users/{n}")).to_string())
        .collect();
    assert_eq!(by_salt.len(), 16);
    // Even a small type: the user's id differs between two paths.
    let id = |salt: &str| example(&api, &named("User"), 0, salt)["id"].clone();
    assert_ne!(id("/api/users/7"), id("/api/users/8"));
    // Fields of one value are drawn apart.
    let friend = example(&api, &named("Friend"), 3, "/");
    assert_ne!(friend["id"], friend["mutual"], "{friend}");
}

#[test]
fn every_shape_of_a_type_shows_up_across_seeds() {
    let api = imi_mini();
    let ty = named("Profile");
    let values: Vec<Value> = (0..200).map(|seed| example(&api, &ty, seed, "/p")).collect();
    let seen = |f: &dyn Fn(&Value) -> bool| values.iter().filter(|v| f(v)).count();
    // Optional fields: mostly present, sometimes absent.
    let present = seen(&|v| !v["nickName"].is_null());
    assert!((150..200).contains(&present), "{present}");
    // Every enum value.
    let statuses: BTreeSet<&str> = values.iter().map(|v| v["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["active", "banned", "on-hold", "2fa-required"])
    );
    // Lists of 0 to 3 items, maps of 1 or 2 entries.
    let lens: BTreeSet<usize> = values
        .iter()
        .map(|v| v["tags"].as_array().unwrap().len())
        .collect();
    assert_eq!(lens, BTreeSet::from([0, 1, 2, 3]));
    let sizes: BTreeSet<usize> = values
        .iter()
        .map(|v| v["counters"].as_object().unwrap().len())
        .collect();
    assert_eq!(sizes, BTreeSet::from([1, 2]));
    // Readable strings, named after their field; both booleans; signs.
    let v = &values[0];
    assert!(v["@type"].as_str().unwrap().starts_with("@type-"), "{v}");
    assert!(seen(&|v| v["level"].as_i64().unwrap() < 0) > 0);
    assert!(seen(&|v| v["level"].as_i64().unwrap() > 0) > 0);
    let pong: BTreeSet<bool> = (0..20)
        .map(|seed| {
            example(&api, &named("Pong"), seed, "/ping")["pong"]
                .as_bool()
                .unwrap()
        })
        .collect();
    assert_eq!(pong.len(), 2);
}

#[test]
fn one_of_picks_every_choice_and_sets_the_tag() {
    let api = emit_models::seed();
    let tagged: BTreeSet<String> = (0..40)
        .map(|seed| {
            let v = example(&api, &named("Tagged"), seed, "/t");
            assert!(v.get("radius").is_some() || v.get("side").is_some(), "{v}");
            v["kind"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(tagged, BTreeSet::from(["circle".into(), "Square".into()]));
    let shapes: BTreeSet<&str> = (0..40)
        .map(|seed| match example(&api, &named("Shape"), seed, "/s") {
            Value::String(_) => "label",
            v if v.get("radius").is_some() => "circle",
            _ => "square",
        })
        .collect();
    assert_eq!(shapes.len(), 3);
}

#[test]
fn strings_take_the_shape_their_field_names() {
    let mut api = emit_models::seed();
    api.types.push(strukt(
        "Stamped",
        None,
        vec![
            renamed("created_at", "createdAt", TypeRef::String),
            field("updated_at", TypeRef::String),
            field("email", TypeRef::String),
            renamed("avatar_url", "avatarUrl", TypeRef::String),
            field("uuid", TypeRef::String),
            renamed("birth_date", "birthDate", TypeRef::String),
            field("chat", TypeRef::String),
        ],
    ));
    for seed in 0..20 {
        let v = example(&api, &named("Stamped"), seed, "/");
        let s = |k: &str| v[k].as_str().unwrap().to_owned();
        for k in ["createdAt", "updated_at"] {
            let t = s(k);
            assert!(
                t.len() == 20 && t.as_bytes()[10] == b'T' && t.ends_with('Z'),
                "{t}"
            );
        }
        assert!(s("email").ends_with("@example.com"), "{v}");
        assert!(s("avatarUrl").starts_with("https://example.com/"), "{v}");
        assert_eq!(s("uuid").len(), 36, "{v}");
        assert_eq!(s("birthDate").len(), 10, "{v}");
        assert!(s("chat").starts_with("chat-"), "{v}");
    }
}

/// The nesting depth of a JSON value.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(entries) => 1 + entries.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn recursive_types_end() {
    // `Note` holds itself through an option and a list.
    let api = emit_models::seed();
    let mut nested = 0;
    for seed in 0..50 {
        let v = example(&api, &named("Note"), seed, "/n");
        conforms(&api, &named("Note"), &v).unwrap();
        assert!(depth(&v) <= 5, "{v}");
        if v["reply"].is_object() || v["thread"].as_array().is_some_and(|t| !t.is_empty()) {
            nested += 1;
            // One level down, the recursion stops.
            for inner in v["thread"].as_array().unwrap().iter().chain([&v["reply"]]) {
                if inner.is_object() {
                    assert!(inner["reply"].is_null() && inner["thread"] == json!([]), "{v}");
                }
            }
        }
    }
    assert!(nested > 0, "the recursion never shows");

    // Mutual recursion through maps and lists, and a type so wide that
    // its values would be huge without the budget.
    let mut api = emit_models::seed();
    api.types
        .push(strukt("Tree", None, vec![field("kids", map(named("Forest")))]));
    api.types
        .push(strukt("Forest", None, vec![field("trees", list(named("Tree")))]));
    let wide: Vec<_> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|n| field(n, list(named("Wide"))))
        .chain([field("deep", map(list(opt(named("Tree")))))])
        .collect();
    api.types.push(strukt("Wide", None, wide));
    for seed in 0..20 {
        for ty in [named("Tree"), named("Forest"), named("Wide"), list(named("Wide"))] {
            let v = example(&api, &ty, seed, "/w");
            conforms(&api, &ty, &v).unwrap();
            assert!(
                v.to_string().len() < 2_000_000,
                "{ty}: {} bytes",
                v.to_string().len()
            );
        }
    }

    // Models the validator refuses still end: a struct holding itself by
    // value, a `one_of` that is only itself, an unknown name.
    let mut api = emit_models::seed();
    api.types
        .push(strukt("Chain", None, vec![field("next", named("Chain"))]));
    api.types
        .push(one_of("Loop", None, &[("Loop", named("Loop"), "Loop")]));
    for ty in [named("Chain"), named("Loop"), named("Nowhere")] {
        let v = example(&api, &ty, 1, "/");
        assert!(depth(&v) <= 64, "{ty}");
    }
    assert_eq!(example(&api, &named("Nowhere"), 1, "/"), Value::Null);
}

#[test]
fn a_missing_type_name_gives_null_and_primitives_stay_in_range() {
    let api = emit_models::seed();
    for seed in 0..200 {
        for ty in [
            TypeRef::I32,
            TypeRef::I64,
            TypeRef::U32,
            TypeRef::U64,
            TypeRef::F64,
        ] {
            let v = example(&api, &ty, seed, "/n");
            conforms(&api, &ty, &v).unwrap_or_else(|e| panic!("{ty}: {e}"));
        }
        assert!(example(&api, &TypeRef::Json, seed, "/j").is_object());
    }
}
