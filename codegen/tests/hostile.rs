//! Hostile input ends in an error diagnostic, quickly, without a panic, a
//! hang or a stack overflow. The time bounds are hang guards, not benchmarks.

use std::time::{Duration, Instant};

use seamless_sdk_codegen::{Severity, load};

/// Linear work on the largest inputs here takes about 1 s in a debug build on
/// an idle core and up to 7 s on a shared, loaded 2-core machine; the
/// quadratic or exponential blow-ups this guards against take minutes. 30 s
/// separates the two without failing on a busy machine.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// Loads `source` and returns its first diagnostic's message, asserting it
/// is an error and arrived within the guard.
fn rejected(source: &str) -> String {
    let start = Instant::now();
    let result = load(source, "hostile.yaml");
    let elapsed = start.elapsed();
    assert!(elapsed < HANG_GUARD, "took {elapsed:?}");
    let d = match result {
        Ok(_) => panic!("hostile input loaded"),
        Err(d) => d,
    };
    assert!(d.has_errors());
    let first = d.items.first().expect("at least one diagnostic");
    assert_eq!(first.severity, Severity::Error);
    first.message.clone()
}

#[test]
fn a_billion_laughs_alias_bomb_is_refused() {
    let mut s =
        String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let mut prev = 'a';
    for c in 'b'..='m' {
        let refs = vec![format!("*{prev}"); 9].join(",");
        s.push_str(&format!("{c}: &{c} [{refs}]\n"));
        prev = c;
    }
    let msg = rejected(&s);
    assert!(msg.contains("alias"), "{msg}");
}

#[test]
fn an_alias_bomb_inside_a_real_spec_is_refused() {
    let mut s = String::from("name: bomb\ndoc: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut prev = "a".to_owned();
    for i in 0..8 {
        let name = format!("l{i}");
        let refs = vec![format!("*{prev}"); 10].join(", ");
        s.push_str(&format!("{name}: &{name} [{refs}]\n"));
        prev = name;
    }
    rejected(&s);
}

#[test]
fn a_hundred_thousand_nested_flow_lists_are_refused() {
    let s = "[".repeat(100_000) + &"]".repeat(100_000);
    let msg = rejected(&s);
    assert!(msg.contains("deeper than 32 levels"), "{msg}");
}

#[test]
fn three_thousand_nested_block_mappings_are_refused() {
    // Indentation grows by one space per level, so 3,000 levels are 4.5 MB:
    // block nesting cannot go much deeper within the size limit.
    let mut s = String::new();
    for depth in 0..3_000 {
        s.push_str(&" ".repeat(depth));
        s.push_str("k:\n");
    }
    let msg = rejected(&s);
    assert!(msg.contains("deeper than 32 levels"), "{msg}");
}

#[test]
fn a_hundred_thousand_nested_block_lists_are_refused() {
    let s = "- ".repeat(100_000) + "x\n";
    let msg = rejected(&s);
    assert!(msg.contains("deeper than 32 levels"), "{msg}");
}

#[test]
fn a_ten_megabyte_spec_is_refused_before_parsing() {
    let mut s = String::from("name: huge\ndoc: \"");
    s.push_str(&"a".repeat(10 * 1024 * 1024));
    s.push_str("\"\n");
    let msg = rejected(&s);
    assert!(msg.contains("larger than 8 MiB"), "{msg}");
}

#[test]
fn a_spec_just_under_the_size_limit_still_ends_quickly() {
    // 7.5 MiB of endpoints-shaped noise: within the size limit, the node
    // budget or the checks end it; either way it ends with errors.
    let mut s = String::from("name: big\nendpoints:\n");
    let mut i = 0;
    while s.len() < 7 * 1024 * 1024 + 512 * 1024 {
        s.push_str(&format!("  e{i}: {{ method: GET, path: /x, bogus: 1 }}\n"));
        i += 1;
    }
    let start = Instant::now();
    let result = load(&s, "big.yaml");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    assert!(result.is_err());
}

#[test]
fn many_documents_and_garbage_are_refused() {
    rejected("a: 1\n---\nb: 2\n");
    rejected("\u{0}\u{1}\u{2}");
    rejected("{{{{{{");
    rejected(": : : :");
    rejected("name: [\n");
    rejected("\"unterminated");
    rejected("- 1\n- 2\n");
    rejected("just a string");
    rejected("name: x\nauth: *nowhere\n");
}

#[test]
fn arbitrary_byte_soup_never_panics() {
    // A tiny deterministic generator: no panic and an answer for each.
    let alphabet: Vec<char> = "ab:- \n\t[]{}&*!|>'\"#%@`,?0123456789.~\\".chars().collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2_000 {
        let mut s = String::new();
        for _ in 0..(seed % 64) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let _ = load(&s, "soup.yaml");
    }
}

/// A minimal valid spec whose one endpoint answers `response`.
fn spec_with_response(response: &str) -> String {
    format!(
        "name: deep\nauth:\n  placement: bearer\n  lifetime: reusable\n  expiry: [{{ status: [401] }}]\n  login: custom\nendpoints:\n  get:\n    method: GET\n    path: /x\n    response: \"{response}\"\n"
    )
}

#[test]
fn a_million_nested_list_type_expressions_are_refused() {
    // One YAML scalar, so the YAML depth budget never sees the nesting.
    let levels = 1_000_000;
    let ty = "list<".repeat(levels) + "string" + &">".repeat(levels);
    let msg = rejected(&spec_with_response(&ty));
    assert!(msg.contains("deeper than 32 levels"), "{msg}");
}

#[test]
fn a_million_nested_map_type_expressions_without_their_ends_are_refused() {
    let msg = rejected(&spec_with_response(&"map<".repeat(1_000_000)));
    assert!(msg.contains("deeper than 32 levels"), "{msg}");
}

#[test]
fn type_expressions_nested_thirty_two_deep_still_load() {
    let ty = "list<".repeat(32) + "string" + &">".repeat(32);
    assert!(load(&spec_with_response(&ty), "deep.yaml").is_ok());
}

/// The spec of `spec_with_response("T0")` with `n` struct types `T0`… in a
/// chain, each holding the next inline.
fn chain_of_types(n: usize) -> String {
    let mut s = spec_with_response("T0");
    s.push_str("types:\n");
    for i in 0..n {
        s.push_str(&format!("  T{i}: {{ fields: {{ a: T{} }} }}\n", i + 1));
    }
    s.push_str(&format!("  T{n}: {{ fields: {{ a: string }} }}\n"));
    s
}

#[test]
fn a_chain_of_five_thousand_types_loads_quickly() {
    // The recursion check searched from every field (cubic: minutes).
    let s = chain_of_types(5_000);
    let start = Instant::now();
    let result = load(&s, "chain.yaml");
    assert!(start.elapsed() < HANG_GUARD, "took {:?}", start.elapsed());
    let (api, _) = result.expect("a chain of types is a valid spec");
    let start = Instant::now();
    let _ = seamless_sdk_codegen::emit(&api);
    assert!(
        start.elapsed() < HANG_GUARD,
        "emitting took {:?}",
        start.elapsed()
    );
}

/// Loads `source` within the hang guard; when it loads, emits it within
/// the guard too. Returns the diagnostics as printed.
fn ends_quickly(source: &str) -> Result<String, String> {
    let start = Instant::now();
    let result = load(source, "big.yaml");
    assert!(start.elapsed() < HANG_GUARD, "loading took {:?}", start.elapsed());
    match result {
        Ok((api, d)) => {
            let start = Instant::now();
            let _ = seamless_sdk_codegen::emit(&api);
            assert!(
                start.elapsed() < HANG_GUARD,
                "emitting took {:?}",
                start.elapsed()
            );
            Ok(d.to_string())
        }
        Err(d) => Err(d.to_string()),
    }
}

const HEAD: &str = "name: big\nauth:\n  placement: bearer\n  lifetime: reusable\n  expiry: [{ status: [401] }]\n  login: custom\n";

#[test]
fn a_ring_of_five_thousand_types_is_refused_quickly() {
    // Searching the whole ring from every field was quadratic.
    let n = 5_000;
    let mut s = String::from(HEAD);
    s.push_str("endpoints:\n  get: { method: GET, path: /x, response: T0 }\ntypes:\n");
    for i in 0..n {
        s.push_str(&format!("  T{i}: {{ fields: {{ a: T{} }} }}\n", (i + 1) % n));
    }
    let out = ends_quickly(&s).expect_err("a ring of inline types has no finite size");
    assert_eq!(out.matches("contains itself").count(), n, "{}", &out[..500]);
    assert!(out.contains("(through other types)"), "{}", &out[..500]);
}

#[test]
fn two_thousand_misspelled_type_names_are_refused_quickly() {
    // Each misspelling was compared with every declared name.
    let mut s = String::from(HEAD);
    s.push_str("endpoints:\n  get: { method: GET, path: /x, response: Type0 }\ntypes:\n");
    for i in 0..2_000 {
        s.push_str(&format!("  Type{i}: {{ fields: {{ a: Typo{i} }} }}\n"));
    }
    let out = ends_quickly(&s).expect_err("unknown types");
    assert_eq!(out.matches("unknown type").count(), 2_000);
}

#[test]
fn a_misspelled_type_name_of_a_hundred_kilobytes_is_refused_quickly() {
    // The edit distance of two such names took 10^10 steps and 80 GB.
    let long = "A".repeat(100_000);
    let mut s = String::from(HEAD);
    s.push_str(&format!(
        "endpoints:\n  get: {{ method: GET, path: /x, response: {long}b }}\ntypes:\n  ? {long}c\n  : {{ fields: {{ a: string }} }}\n"
    ));
    let out = ends_quickly(&s).expect_err("an unknown type");
    assert!(out.contains("unknown type"), "{}", &out[..200]);
}

#[test]
fn an_endpoint_with_fifteen_thousand_path_parameters_loads_quickly() {
    // Ordering them searched the whole path once per parameter.
    let n = 15_000;
    let mut s = String::from(HEAD);
    s.push_str("endpoints:\n  get:\n    method: GET\n    path: /");
    for i in (0..n).rev() {
        s.push_str(&format!("{{p{i}}}/"));
    }
    s.push_str("\n    params:\n");
    for i in 0..n {
        s.push_str(&format!("      p{i}: u64\n"));
    }
    ends_quickly(&s).expect("a long path is a valid spec");
}

#[test]
fn five_thousand_endpoints_load_and_emit_quickly() {
    let mut s = String::from(HEAD);
    s.push_str("endpoints:\n");
    for i in 0..5_000 {
        s.push_str(&format!(
            "  e{i}: {{ method: GET, path: /x/{i}, response: string }}\n"
        ));
    }
    ends_quickly(&s).expect("many endpoints are a valid spec");
}

#[test]
fn a_path_of_a_million_empty_placeholders_gets_one_error() {
    // Each `{}` was reported with the whole (2 MB) path quoted: terabytes.
    let mut s = String::from(HEAD);
    s.push_str(&format!(
        "endpoints:\n  get:\n    method: GET\n    path: /{}\n",
        "{}".repeat(1_000_000)
    ));
    let out = ends_quickly(&s).expect_err("empty placeholders");
    assert_eq!(out.matches("empty placeholder").count(), 1);
}

#[test]
fn ten_thousand_expiry_rules_emit_quickly() {
    // The `Expiry` expression was rebuilt, copied whole, once per rule.
    let mut s = String::from("name: big\nauth:\n  placement: bearer\n  lifetime: reusable\n  expiry:\n");
    s.push_str(&"    - status: [401]\n".repeat(10_000));
    s.push_str("  login: custom\nendpoints:\n  get: { method: GET, path: /x }\n");
    ends_quickly(&s).expect("many rules are a valid spec");
}

#[test]
fn twenty_thousand_login_secrets_emit_quickly() {
    // Each argument name was checked against every one before it.
    let secrets: Vec<String> = (0..20_000).map(|i| format!("s{i}")).collect();
    let s = format!(
        "name: big\nauth:\n  placement: bearer\n  lifetime: reusable\n  expiry: [{{ status: [401] }}]\n  login:\n    method: POST\n    path: /login\n    token: {{ json: token }}\n    secrets: [{}]\nendpoints:\n  get: {{ method: GET, path: /x }}\n",
        secrets.join(", ")
    );
    ends_quickly(&s).expect("many secrets are a valid spec");
}

#[test]
fn twenty_thousand_types_with_a_misspelled_key_are_refused_quickly() {
    // Each type without `fields` or `enum` scanned every problem so far.
    let mut s = String::from(HEAD);
    s.push_str("endpoints:\n  get: { method: GET, path: /x }\ntypes:\n");
    for i in 0..20_000 {
        s.push_str(&format!("  T{i}: {{ feilds: 1 }}\n"));
    }
    let out = ends_quickly(&s).expect_err("unknown keys");
    assert_eq!(out.matches("did you mean `fields`").count(), 20_000);
}

#[test]
fn a_hundred_kilobyte_key_over_five_thousand_fields_is_refused() {
    // Every node below a key carries it in its spec path: this 200 KB spec
    // took 1.5 GB (a 4 MB key over 40,000 fields would take 160 GB).
    let mut s = String::from(HEAD);
    s.push_str(&format!(
        "endpoints:\n  get: {{ method: GET, path: /x }}\ntypes:\n  ? {}\n  :\n    fields:\n",
        "K".repeat(100_000)
    ));
    for i in 0..5_000 {
        s.push_str(&format!("      f{i}: string\n"));
    }
    let msg = rejected(&s);
    assert!(msg.contains("100000 bytes long"), "{msg}");
}
