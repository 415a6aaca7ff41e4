use seamless_sdk::token_client;

#[derive(serde::Deserialize, serde::Serialize)]
pub struct User {
    pub id: u64,
}

#[token_client(placement = bearer, expiry(status(401)), login(path = "/login", token_json = "token"))]
pub trait Api {
    #[post("/users")]
    #[cache(ttl_ms = 5000)]
    async fn create_user(&self, #[body] user: &User) -> Result<User, seamless_sdk::Error>;

    #[get("/users/{id}")]
    #[cache(ttl_ms = 0)]
    async fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;

    #[get("/users")]
    #[cache(stale_if_error_ms = 60000)]
    async fn list_users(&self) -> Result<Vec<User>, seamless_sdk::Error>;

    #[get("/me")]
    #[cache(ttl_ms = 5000, stale = 10)]
    async fn me(&self) -> Result<User, seamless_sdk::Error>;
}

fn main() {}
