use seamless_sdk::token_client;

#[derive(serde::Deserialize, serde::Serialize)]
pub struct User {
    pub id: u64,
}

// `empty_body` alone would take a 204 for an expiry; it needs a status
// beside it, in `all(...)`. And a backoff that shrinks is refused.
#[token_client(
    placement = bearer,
    expiry(status(401), empty_body),
    login(path = "/login", token_json = "token", fields(grant_type = "password")),
    login_backoff(initial_ms = 1000, max_ms = 10)
)]
pub trait Api {
    #[get("/users/{id}")]
    async fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;
}

fn main() {}
