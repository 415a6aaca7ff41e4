use seamless_sdk::token_client;

#[derive(serde::Deserialize, serde::Serialize)]
pub struct User {
    pub id: u64,
}

#[token_client(placement = bearer, expiry(status(401)), login(path = "/login", token_json = "token"))]
pub trait Api {
    #[gett("/users")]
    async fn users(&self) -> Result<Vec<User>, seamless_sdk::Error>;
}

fn main() {}
