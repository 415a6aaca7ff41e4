use seamless_sdk::token_client;

#[derive(serde::Deserialize, serde::Serialize)]
pub struct User {
    pub id: u64,
}

#[token_client(placement = bearer, expiry(status(401)), login(path = "/login", token_json = "token"))]
pub trait Api {
    #[get("/users/{id}")]
    async fn get_user(&self) -> Result<User, seamless_sdk::Error>;

    #[post("/users")]
    fn create(&self, #[body] user: &User) -> Result<User, seamless_sdk::Error>;

    #[delete("/users/{id}")]
    async fn remove(&self, id: u64, reason: String) -> Result<(), seamless_sdk::Error>;
}

fn main() {}
