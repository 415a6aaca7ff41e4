//! Tests of what the deserializer reports, through `yaml::load`.

#[test]
fn the_one_long_form_is_a_field_in_a_type_and_a_parameter_in_an_endpoint() {
    let spec = "name: t
auth: { placement: bearer, lifetime: reusable, expiry: [{ status: [401] }], login: custom }
types:
  User: { fields: { id: { type: u64, dcs: x } } }
endpoints:
  get_user:
    method: GET
    path: /users
    query: { q: { type: string, dcs: x } }
    response: User
";
    let diagnostics = crate::yaml::load(spec, "t.yaml").expect_err("two unknown keys");
    let messages: Vec<&str> = diagnostics.items.iter().map(|d| d.message.as_str()).collect();
    let known = "remove it (known keys: type, doc, rust_name)";
    assert_eq!(
        messages,
        [
            format!("unknown key `dcs` in a field; {known}"),
            format!("unknown key `dcs` in a parameter; {known}"),
        ]
    );
}
