use seamless_sdk::token_client;

#[token_client(spec = "../../../../specs/imi_mini.yaml", overlay = "codegen/tests/openapi/petstore.overlay.yaml")]
pub trait NotOpenApi {}

#[token_client(placement = bearer, expiry(status(401)), login(path = "/login", token_json = "token"), overlay = "auth.yaml")]
pub trait Handwritten {}

#[token_client(spec = "../../../../codegen/tests/openapi/petstore-3.0.yaml", overlay = "../../../../codegen/tests/openapi/missing.yaml")]
pub trait MissingOverlay {}

// A mistake in the overlay is named at its line in the overlay.
#[token_client(spec = "../../../../codegen/tests/openapi/petstore-3.0.yaml", overlay = "../../../../codegen/tests/openapi/bad.overlay.yaml")]
pub trait BadOverlay {}

fn main() {}
