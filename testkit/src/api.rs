//! The testkit's own endpoints, every one under `/api/` and behind the token layer (the
//! list is in the crate docs).

use http::Method;
use serde_json::{Value, json};

use crate::routes::{Access, Call, Outcome, Routes};

/// The fixed `/api/*` endpoints [`crate::Backend::start`] serves: `ping`, `users/{id}`,
/// `whoami`, `echo`, `orders` (executions counted through [`Call::execute`]), `fail` and
/// `forbidden`. Any other path under `/api/` needs a token and answers 404.
#[derive(Clone, Copy, Debug, Default)]
pub struct Api;

impl Routes for Api {
    fn access(&self, _method: &Method, path: &str) -> Access {
        if path.starts_with("/api/") {
            Access::Token
        } else {
            Access::Unknown
        }
    }

    fn answer(&self, call: &Call<'_>) -> Outcome {
        let rest = call.path.strip_prefix("/api/").unwrap_or(call.path);
        match (call.method, rest) {
            (&Method::GET, "ping") => Outcome::Value(json!({"pong": true})),
            // Whose token this was: one session's reply must never reach another.
            (&Method::GET, "whoami") => Outcome::Value(json!({"session": call.session})),
            (&Method::GET, "fail") => Outcome::AppError,
            (&Method::GET, "forbidden") => Outcome::Forbidden,
            (&Method::POST, "echo") => match call.json() {
                Some(value) => Outcome::Value(value),
                None => Outcome::BadRequest("body must be JSON".to_owned()),
            },
            (&Method::POST, "orders") => {
                let order_id = call.json().and_then(|v| v.get("order_id").cloned());
                let fingerprint = match &order_id {
                    Some(Value::String(s)) => s.clone(),
                    Some(n @ Value::Number(_)) => n.to_string(),
                    _ => {
                        return Outcome::BadRequest(
                            "body must be a JSON object with \"order_id\"".to_owned(),
                        );
                    }
                };
                let executions = call.execute(fingerprint);
                Outcome::Value(json!({"order_id": order_id, "executions": executions}))
            }
            (&Method::GET, _) => match rest.strip_prefix("users/") {
                Some(id) if !id.is_empty() && !id.contains('/') => {
                    let id_value = id
                        .parse::<i64>()
                        .map_or_else(|_| Value::String(id.to_owned()), Value::from);
                    Outcome::Value(json!({"id": id_value, "name": format!("user-{id}")}))
                }
                _ => Outcome::NotFound,
            },
            _ => Outcome::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;

    #[test]
    fn answers_without_a_server() {
        let headers = HeaderMap::new();
        let post = Method::POST;
        let call = Call::detached(&post, "/api/orders", None, &headers, br#"{"order_id":7}"#);
        assert_eq!(
            Api.answer(&call),
            Outcome::Value(json!({"order_id": 7, "executions": 1}))
        );
        let get = Method::GET;
        let call = Call::detached(&get, "/api/users/x", None, &headers, b"");
        assert_eq!(
            Api.answer(&call),
            Outcome::Value(json!({"id": "x", "name": "user-x"}))
        );
        assert_eq!(Api.access(&get, "/other"), Access::Unknown);
    }
}
