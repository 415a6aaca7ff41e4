//! A synthetic spec of any size, for the scale tests and the generator
//! benchmark: each endpoint has a path parameter, an optional query
//! parameter and its own response type, as a user might write them.

/// A spec with `n` endpoints and a type for each.
pub fn spec_with_endpoints(n: usize) -> String {
    let mut s = String::from(
        "name: big_api\nauth:\n  placement: bearer\n  lifetime: reusable\n  expiry:\n    - status: [401]\n  login: custom\ntypes:\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "  Item{i}:\n    doc: Item number {i}.\n    fields:\n      id: u64\n      itemName: string\n      tags: list<string>?\n"
        ));
    }
    s.push_str("endpoints:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  get_item_{i}:\n    doc: Fetch item {i}.\n    method: GET\n    path: /api/items{i}/{{id}}\n    params: {{ id: u64 }}\n    query: {{ verbose: bool? }}\n    response: Item{i}\n"
        ));
    }
    s
}
