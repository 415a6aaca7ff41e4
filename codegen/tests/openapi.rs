//! The OpenAPI front end: the Petstore in 3.0 (YAML) and 3.1 (JSON) imports
//! to the committed spec and loads cleanly, the two versions import alike,
//! what cannot be mapped is a warning at its JSON pointer with the rest
//! imported, and no document makes the importer panic or loop.

use std::path::Path;

use seamless_sdk_codegen::model::TypeKind;
use seamless_sdk_codegen::openapi::{Imported, import};
use seamless_sdk_codegen::{DiagnosticKind, load};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/openapi")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn imported(name: &str, overlay: Option<&str>) -> Imported {
    let overlay_text = overlay.map(fixture);
    let overlay = overlay_text.as_deref().zip(overlay);
    import(&fixture(name), name, overlay).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

/// The spec without its first line (which names the file it came from).
fn body(spec: &str) -> &str {
    spec.split_once('\n').map_or(spec, |(_, rest)| rest)
}

/// Compares with (or, under `SEAMLESS_BLESS=1`, rewrites) `tests/openapi/<name>`.
fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/openapi")
        .join(name);
    if std::env::var_os("SEAMLESS_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        expected,
        actual,
        "{} differs; SEAMLESS_BLESS=1 rewrites it",
        path.display()
    );
}

#[test]
fn the_petstore_imports_to_its_spec_and_loads_cleanly() {
    let spec = imported("petstore-3.0.yaml", Some("petstore.overlay.yaml"));
    assert_eq!((spec.generated, spec.operations), (5, 5));
    assert!(spec.warnings.items.is_empty(), "{:?}", spec.warnings);
    snapshot("petstore.expected.yaml", &spec.spec);
    let (api, warnings) = load(&spec.spec, "petstore").unwrap_or_else(|e| panic!("{e:?}\n{}", spec.spec));
    assert!(warnings.items.is_empty(), "{warnings:?}");
    let names: Vec<&str> = api.endpoints.iter().map(|e| e.name.as_str()).collect();
    for want in [
        "list_pets",
        "create_pet",
        "show_pet_by_id",
        "delete_pet",
        "get_inventory",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    let pet = api.endpoints.iter().find(|e| e.name == "show_pet_by_id").unwrap();
    assert_eq!(
        pet.path, "/pets/{pet_id}",
        "placeholders are named after their argument"
    );
    let delete = api.endpoints.iter().find(|e| e.name == "delete_pet").unwrap();
    assert!(delete.response.is_none(), "a 204 has no value");
    assert!(delete.deprecated, "`deprecated: true` reaches the model");
}

#[test]
fn openapi_3_0_and_3_1_describe_the_same_client() {
    let a = imported("petstore-3.0.yaml", Some("petstore.overlay.yaml"));
    let b = imported("petstore-3.1.json", Some("petstore.overlay.yaml"));
    assert_eq!(
        body(&a.spec),
        body(&b.spec),
        "`nullable: true` and `type: [.., null]` alike"
    );
}

#[test]
fn without_an_overlay_the_security_scheme_places_the_token_and_the_login_is_custom() {
    let spec = imported("petstore-3.0.yaml", None);
    assert!(spec.spec.contains("placement: bearer"), "{}", spec.spec);
    assert!(spec.spec.contains("login: custom"), "{}", spec.spec);
    assert_eq!(spec.warnings.items.len(), 1, "{:?}", spec.warnings);
    assert!(load(&spec.spec, "petstore").is_ok());
}

#[test]
fn what_cannot_be_mapped_is_a_warning_at_its_pointer_and_the_rest_imports() {
    let spec = imported("unsupported.yaml", None);
    let at = |pointer: &str| {
        spec.warnings
            .items
            .iter()
            .find(|d| d.path == pointer)
            .unwrap_or_else(|| panic!("no warning at {pointer}: {:#?}", spec.warnings.items))
    };
    assert!(at("#/paths/~1things~1{ids}/get").message.contains("not a scalar"));
    assert!(at("#/paths/~1upload/post").message.contains("not JSON"));
    assert!(at("#/paths/~1session/get").message.contains("cookie"));
    assert!(at("#/paths/~1session/head").message.contains("left out"));
    // At the line and column of the description itself, too.
    assert_eq!(at("#/paths/~1session/head").line_column(), Some((23, 7)));
    assert_eq!(at("#/components/schemas/A").line_column(), Some((55, 8)));

    assert!(
        at("#/paths/~1shapes/get/parameters/0")
            .message
            .contains("left out")
    );
    assert!(at("#/components/schemas/A").message.contains("circles"));
    assert!(
        at("#/paths/~1shapes~1v2/get")
            .message
            .contains("named `get_shapes_2`")
    );
    assert!(
        spec.warnings
            .items
            .iter()
            .all(|d| d.kind == DiagnosticKind::Unsupported)
    );
    // What is left: the shapes (`oneOf` as an enum), the loop (as JSON) and the renamed one.
    assert_eq!((spec.generated, spec.operations), (3, 6), "{}", spec.spec);
    let (api, _) = load(&spec.spec, "unsupported").unwrap_or_else(|e| panic!("{e:?}\n{}", spec.spec));
    assert_eq!(api.endpoints.len(), 3);
    let shape = api
        .types
        .iter()
        .find(|t| t.name == "Shape")
        .expect("the oneOf is a type");
    let TypeKind::OneOf { tag: None, choices } = &shape.kind else {
        panic!("{:?}", shape.kind)
    };
    let names: Vec<&str> = choices.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Shape1", "Shape2"]);
}

#[test]
fn hostile_documents_are_errors_or_warnings_never_panics() {
    let documents = [
        "",
        "openapi: 2.0\n",
        "swagger: '2.0'\n",
        "{\"openapi\": \"3.0.0\"}",
        "{\"openapi\": \"3.1.0\", \"paths\": 7}",
        "openapi: 3.0.0\npaths: { /x: { get: { responses: { '200': { $ref: '#/nowhere' } } } } }\n",
        "openapi: 3.0.0\npaths: { /x: { $ref: '#/paths/~1x' } }\n",
        "openapi: 3.0.0\npaths: { /x: { get: { parameters: [ { $ref: '#/a' } ] } } }\n",
        "openapi: 3.1.0\ncomponents: { schemas: { S: { type: object, properties: { s: { $ref: '#/components/schemas/S' } } } } }\npaths: { /s: { get: { responses: { '200': { content: { application/json: { schema: { $ref: '#/components/schemas/S' } } } } } } } }\n",
        "openapi: 3.1.0\npaths: { '/{a}/{a}': { get: { parameters: [ { name: a, in: path, schema: { type: string } }, { name: A, in: query, schema: { type: string } } ] } } }\n",
        "openapi: 3.0.0\npaths: { /x: { post: { requestBody: { content: { application/json: { schema: { allOf: [ { $ref: '#/components/schemas/Z' } ] } } } } } } }\ncomponents: { schemas: { Z: { allOf: [ { $ref: '#/components/schemas/Z' } ] } } }\n",
        "openapi: [3]\n",
        "{\"openapi\": \"3.0.0\", \"paths\": {\"/x\": {\"get\": {\"operationId\": \"\\u540d\"}}}}",
    ];
    // A multi-byte character across the 4 KiB that `is_openapi` reads.
    let long = format!("openapi: 3.0.0\n#{}é\n", "a".repeat(4079));
    assert!(seamless_sdk_codegen::openapi::is_openapi(&long));
    for doc in documents {
        // Either result is fine; the imported spec then loads or reports errors.
        if let Ok(spec) = import(doc, "hostile", None) {
            let _ = load(&spec.spec, "hostile");
        }
    }
}

/// One of each mapping the Petstore does not show (3.1): `oneOf` and
/// `anyOf` as choices, an inline object as a named type, a map of lists,
/// `type: [.., "null"]`, an unnamable property, enum and scalar-choice
/// parameters as strings, `security: []`, and an OAuth 2.0
/// client-credentials flow as the login.
#[test]
fn every_mapping_imports_to_its_spec() {
    let spec = imported("mappings.yaml", None);
    assert!(spec.warnings.items.is_empty(), "{:?}", spec.warnings);
    snapshot("mappings.expected.yaml", &spec.spec);
    let (api, warnings) = load(&spec.spec, "mappings").unwrap_or_else(|e| panic!("{e:?}\n{}", spec.spec));
    assert!(warnings.items.is_empty(), "{warnings:?}");
    let kinds: Vec<(&str, bool)> = api
        .types
        .iter()
        .map(|t| (t.name.as_str(), matches!(t.kind, TypeKind::OneOf { .. })))
        .collect();
    assert!(
        kinds.contains(&("Shape", true)) && kinds.contains(&("DrawingLabel", true)),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("DrawingCanvas", false)), "{kinds:?}");
    // The discriminator is the tag; the variants are cut without it (the
    // whole `Cat`, used on its own too, keeps it).
    let ty = |name: &str| api.types.iter().find(|t| t.name == name).unwrap();
    let TypeKind::OneOf { tag, choices } = &ty("Pet").kind else {
        panic!()
    };
    assert_eq!(tag.as_deref(), Some("petType"));
    let choices: Vec<_> = choices
        .iter()
        .map(|c| (c.name.as_str(), c.value.as_str()))
        .collect();
    assert_eq!(choices, [("Cat", "kitty"), ("Dog", "Dog")]);
    let fields = |name: &str| match &ty(name).kind {
        TypeKind::Struct(fields) => fields.iter().map(|f| f.wire.clone()).collect::<Vec<_>>(),
        _ => panic!("{name} is no struct"),
    };
    assert_eq!(fields("PetCat"), ["name", "lives"]);
    assert_eq!(fields("Dog"), ["bark"]);
    assert!(fields("Cat").contains(&"petType".to_owned()));
    let health = api.endpoints.iter().find(|e| e.name == "health").unwrap();
    assert!(!health.auth, "`security: []` is a public endpoint");
    assert!(
        spec.spec.contains("grant_type: client_credentials"),
        "{}",
        spec.spec
    );
}
