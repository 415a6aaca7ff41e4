use seamless_sdk::token_client;

#[derive(serde::Deserialize, serde::Serialize)]
pub struct User {
    pub id: u64,
}

#[token_client(placement = bearer, expiry(status(401)), login(path = "/login", token_json = "token"))]
pub trait Api {
    #[get("/users/{id}")]
    async fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;

    #[get("/orders")]
    async fn orders(&self, page: u32) -> Result<Vec<User>, seamless_sdk::Error>;
}

fn main() {}

// Only the unbound argument is reported: the struct and its methods exist.
pub async fn use_it(api: Api) -> Result<u64, seamless_sdk::Error> {
    Ok(api.get_user(1).await?.id + api.orders(2).await?.len() as u64)
}
