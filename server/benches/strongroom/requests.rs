//! Strongroom's own API as a signed-in session (`common::ApiSession`):
//! reveals of the benchmark's secret and the paged list.

use serde_json::{Value, json};

use crate::{
    LIST_NS, LIST_PAGE, REVEAL_NS, REVEAL_SECRET,
    common::{self, ApiSession, CSRF, b64},
};

/// POSTs a single-key reveal of the benchmark's secret.
async fn post_reveal(s: &ApiSession) -> Result<reqwest::Response, String> {
    s.c.post(format!(
        "{}/api/v1/namespaces/{REVEAL_NS}/secrets/{REVEAL_SECRET}/reveal",
        s.url
    ))
    .header(CSRF.0, CSRF.1)
    .json(&json!({ "keys": ["token"] }))
    .send()
    .await
    .map_err(|e| e.to_string())
}

/// A reveal whose answer may be a refusal (403 is RBAC speaking).
pub(crate) async fn reveal_status(s: &ApiSession) -> Result<(), String> {
    let r = post_reveal(s).await?;
    let status = r.status();
    let _ = r.bytes().await;
    if status.is_server_error() || status == 401 {
        return Err(format!("reveal: {status}"));
    }
    Ok(())
}

/// One single-key reveal that must succeed and return the value.
pub(crate) async fn reveal_value(s: &ApiSession) -> Result<(), String> {
    let r = post_reveal(s).await?;
    if r.status() != 200 {
        return Err(format!("reveal: {}", r.status()));
    }
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    if body.to_string().contains(&b64(b"bench-value")) {
        Ok(())
    } else {
        Err("reveal answered without the value".into())
    }
}

/// Strongroom's list API, page by page; returns the number of secrets.
pub(crate) async fn list_via_strongroom(s: &ApiSession) -> usize {
    let mut n = 0;
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/namespaces/{LIST_NS}/secrets?limit={LIST_PAGE}");
        if let Some(t) = &token {
            path.push_str(&format!("&continue={}", common::urlencode(t)));
        }
        let page = s.get_json(&path).await;
        n += page["items"].as_array().map_or(0, |i| i.len());
        token = page["continue"].as_str().map(str::to_string);
        if token.is_none() {
            return n;
        }
    }
}
