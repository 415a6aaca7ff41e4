use seamless_sdk::token_client;

#[derive(serde::Deserialize, serde::Serialize)]
pub struct User {
    pub id: u64,
}

#[token_client(spec = "specs/does-not-exist.yaml")]
pub trait Api {

}

fn main() {}
