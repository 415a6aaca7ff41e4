//! The `#[token_client]` attribute of [seamless](https://docs.rs/seamless-sdk):
//! a typed client from an annotated trait. A thin front end: the trait (or a
//! YAML spec) is lowered into `seamless_sdk_codegen::model::Api`, checked by
//! `seamless_sdk_codegen::validate` and expanded by `seamless_sdk_codegen::emit`,
//! the same model, checks and emitter as the `seamless` CLI.

mod args;
mod expand;
mod lower;

use proc_macro::TokenStream;

/// Every error found, reported together.
pub(crate) type Errors = Vec<syn::Error>;

/// Turns a trait into a typed client for a token-protected API.
///
/// The trait is replaced by a struct of the same name (or `client = "..."`)
/// with `builder`, `new`, `from_client`, `client` and one method per trait
/// method, exactly as `seamless generate` would write it from the
/// equivalent YAML spec. Each returns a `seamless_sdk::Call<'_, T>`: await
/// it for the `Result<T, seamless_sdk::Error>` the trait declares, or first
/// give it options (`.timeout(d)`, `.header(..)`, `.retry(..)`,
/// `.bypass_cache()`) or ask `.with_response()` for the status and headers. User types (`User` below) are declared beside the
/// trait and must implement `serde::Deserialize` (responses) or
/// `serde::Serialize` (bodies).
///
/// # Grammar
///
/// ```text
/// #[token_client(ARG, ...)]          on a trait
///
/// ARG := name = "snake_name"         the API's name (default: the trait's, snake_cased)
///      | client = "TypeName"         the struct's name (default: the trait's)
///      | doc = "..."                 client doc (default: the trait's doc comment)
///      | base_url = "https://..."    emits `DEFAULT_BASE_URL`
///      | spec = "specs/x.yaml"       the whole API from a YAML spec, relative to the
///                                    crate root; the trait must then be empty and no
///                                    auth argument may be given. An OpenAPI 3.0/3.1
///                                    description (JSON or YAML) is imported first; its
///                                    seamless `auth` comes from its `x-seamless` or
///      | overlay = "auth.yaml"       a file with a top-level `auth` (OpenAPI `spec` only)
///      | placement = bearer | header("B-T") | query("access_token") | json_body("token")
///      | lifetime = single_use | reusable          (default: reusable)
///      | next_token_header = "B-T"                 required with `single_use`
///      | expiry(RULE, ...)           RULE := status(401, ...)
///                                         | body(path = "code", in = [408, "expired"])
///                                         | header(name = "X-Expired", value = "1")
///                                         | header(name = "WWW-Authenticate", contains = "error=\"invalid_token\"")
///                                         | empty_body          (only within `all`)
///                                         | all(status(403), empty_body)   every part must match
///      | envelope(code = "code", success = [200], data = "data", message = "msg",
///                 absent_is_success = false)
///      | login = custom              the caller passes a `seamless_sdk::Login`
///      | login(method = "POST", path = "/login", encoding = "json" | "form" | "query",
///              code = "code",                      field filled by a one-time code provider
///              token_header = "B-T" | token_json = "data.token",
///              secrets = ["appid", "secret"], fields(grant_type = "client_credential"),
///              expires_in = "expires_in", refresh_token = "refresh_token",
///              refresh(path = "/oauth/token", field = "refresh_token", fields(...),
///                      method = "POST", encoding = "form", secrets = ["client_secret"]),
///              client_auth = "basic")          HTTP Basic at the token endpoint: the client
///                                               takes `client_id` and `client_secret`
///      | chains = 1 | max_replays = 1 | login_timeout_ms = 10000 | request_timeout_ms = 30000
///      | session = shared | exclusive              exclusive: each login revokes every
///                                                  earlier token; `chains` must be 1
///      | expiry_skew_ms = 10000 | login_backoff(initial_ms = 500, max_ms = 30000)
///      | max_response_bytes = 16777216
///      | retry(max_attempts = 3, statuses = [429, 502, 503, 504], initial_backoff_ms = 250,
///              max_backoff_ms = 8000, max_elapsed_ms = 30000, max_retry_after_ms = 60000)
///                                                  every key optional; see docs/spec.md
///
/// METHOD := /// doc
///           #[get("/users/{id}")] | #[post("...")] | #[put("...")] | #[patch("...")] | #[delete("...")]
///           [#[idempotent]] [#[no_auth]] [#[deprecated]]
///           [#[idempotency_key]]            a fresh key per call in `Idempotency-Key`
///                                           (or #[idempotency_key("X-Request-Key")])
///           [#[retry(statuses = [503], ...)]]  this method's retry settings, over the client's
///           [#[cache(ttl_ms = 5000, stale_if_error_ms = 60000)]]
///                                           GET only: served from the client's response
///                                           cache while fresh, stale when a refresh fails
///           async fn name(&self, ARGUMENT, ...) -> Result<T, seamless_sdk::Error>;
///
/// ARGUMENT := id: u64                       bound to `{id}` in the path by name
///           | #[query] verbose: Option<bool> (or #[query("wireName")])
///           | #[header("X-Trace-Id")] trace: Option<String>
///           | #[body] order: &NewOrder      one per method, not on GET
/// ```
///
/// Types: `String`, `bool`, `i32`, `i64`, `u32`, `u64`, `f64`,
/// `serde_json::Value`, `Option<T>`, `Vec<T>`, `BTreeMap<String, T>`, a type
/// name, and `()` for a response that is ignored.
///
/// Errors point at the offending item and all are reported at once; the
/// client struct is still generated, so they do not cascade.
///
/// # Example
///
/// ```no_run
/// use seamless_sdk::token_client;
///
/// #[derive(Debug, serde::Deserialize)]
/// pub struct User {
///     pub id: u64,
///     pub name: String,
/// }
///
/// #[derive(Debug, serde::Serialize)]
/// pub struct NewOrder {
///     pub order_id: String,
/// }
///
/// /// The mini-program API.
/// #[token_client(
///     placement = header("B-T"),
///     lifetime = single_use,
///     next_token_header = "B-T",
///     expiry(body(path = "code", in = [408])),
///     envelope(code = "code", success = [200], data = "data", message = "msg"),
///     login(method = "POST", path = "/v1/api/imiMini/login", code = "code", token_header = "B-T"),
/// )]
/// pub trait ImiMini {
///     /// Fetch one user.
///     #[get("/api/users/{id}")]
///     async fn get_user(&self, id: u64) -> Result<User, seamless_sdk::Error>;
///
///     /// Place an order.
///     #[post("/api/orders")]
///     async fn create_order(&self, #[body] order: &NewOrder) -> Result<serde_json::Value, seamless_sdk::Error>;
///
///     /// Every account state, a public endpoint.
///     #[get("/api/statuses")]
///     #[no_auth]
///     async fn list_statuses(&self, #[query] verbose: Option<bool>) -> Result<Vec<String>, seamless_sdk::Error>;
/// }
///
/// # async fn run() -> Result<(), seamless_sdk::Error> {
/// let api = ImiMini::new("https://api.example.com", || async {
///     Ok::<_, std::convert::Infallible>("one-time-code".to_owned())
/// })?;
/// let user = api.get_user(7).await?;
/// println!("{}", user.name);
/// # Ok(())
/// # }
/// ```
#[proc_macro_attribute]
pub fn token_client(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::token_client(args.into(), input.into()).into()
}
