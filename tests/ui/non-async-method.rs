use seamless_sdk::token_client;

#[derive(serde::Deserialize, serde::Serialize)]
pub struct User {
    pub id: u64,
}

#[token_client(placement = bearer, expiry(status(401)), login(path = "/login", token_json = "token"))]
pub trait Api {
    #[get("/users/{id}")]
    fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;
}

fn main() {}
