//! What the mock's integration tests share: the repository's specs, loaded as
//! `seamless check` loads them, and a one-time code fetched as a client in
//! another process would.

#![allow(dead_code)]

use seamless_sdk_codegen::model::Api;
use seamless_sdk_mock::seamless_sdk_testkit::CODE_PATH;

/// `specs/<name>` loaded (an OpenAPI description imported first).
pub fn spec(name: &str) -> Api {
    let path = format!("{}/../specs/{name}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let source = if seamless_sdk_codegen::openapi::is_openapi(&source) {
        seamless_sdk_codegen::openapi::import(&source, &path, None)
            .unwrap_or_else(|d| panic!("{d}"))
            .spec
    } else {
        source
    };
    seamless_sdk_codegen::load(&source, &path)
        .unwrap_or_else(|d| panic!("{d}"))
        .0
}

/// A one-time login code from the mock at `url`, over HTTP.
pub async fn code(http: &reqwest::Client, url: &str) -> Result<String, reqwest::Error> {
    let body: serde_json::Value = http
        .post(format!("{url}{CODE_PATH}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(body["code"].as_str().unwrap_or_default().to_owned())
}
