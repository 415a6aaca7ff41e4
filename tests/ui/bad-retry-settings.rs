use seamless_sdk::token_client;

#[derive(serde::Deserialize, serde::Serialize)]
pub struct User {
    pub id: u64,
}

#[token_client(
    placement = bearer,
    expiry(status(401)),
    login(path = "/login", token_json = "token"),
    retry(max_attempts = 0, statuses = [200, 700]),
)]
pub trait Api {
    #[get("/users/{id}")]
    #[retry(max_tries = 3)]
    async fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;

    #[post("/users")]
    #[idempotency_key("not a header")]
    async fn create_user(&self, #[body] user: &User) -> Result<User, seamless_sdk::Error>;
}

fn main() {}
