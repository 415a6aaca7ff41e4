use seamless_sdk::token_client;

#[derive(serde::Deserialize, serde::Serialize)]
pub struct User {
    pub id: u64,
}

#[token_client(placement = query("access_token"), lifetime = reusable, expiry(status(401)), session = exclusive, chains = 2, login = custom)]
pub trait Api {
    #[get("/users/{id}")]
    async fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;
}

fn main() {}
