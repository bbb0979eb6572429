//! The typed browser client for the JSON API.
//!
//! Only the browser build talks HTTP; pages call these functions from
//! `LocalResource`s and actions, which never run during server rendering.

use serde::{Serialize, de::DeserializeOwned};

use crate::api::{API_BASE, ApiError, AuditPage, Me};

/// Percent-encodes one path segment or query value (the client's one URL
/// encoder).
pub fn urlencode(s: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        String::from(js_sys::encode_uri_component(s))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        s.to_string()
    }
}

/// What the app does when the API says the session is gone (401): set once
/// by the app's root, so the client knows nothing of pages or drafts.
static ON_UNAUTHORIZED: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets what happens when an API call answers 401 (the first call wins).
pub fn on_unauthorized(hook: fn()) {
    let _ = ON_UNAUTHORIZED.set(hook);
}

/// A failed API call: the HTTP status (0 when the request never got an
/// answer) and the server's error body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientError {
    pub status: u16,
    pub error: ApiError,
}

impl ClientError {
    fn network(message: impl Into<String>) -> Self {
        Self {
            status: 0,
            error: ApiError {
                code: "network".into(),
                message: message.into(),
                field: None,
            },
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error.message)
    }
}

/// `GET /api/v1/me`.
pub async fn me() -> Result<Me, ClientError> {
    get("/me").await
}

/// `GET` an API path (relative to `/api/v1`) and decode the JSON answer.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ClientError> {
    send::<(), T>("GET", path, None).await
}

/// `POST` a JSON body to an API path and decode the JSON answer.
pub async fn post<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, ClientError> {
    send("POST", path, Some(body)).await
}

/// `PUT` a JSON body to an API path and decode the JSON answer.
pub async fn put<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, ClientError> {
    send("PUT", path, Some(body)).await
}

/// `DELETE` an API path with an optional JSON body.
pub async fn delete<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: Option<&B>,
) -> Result<T, ClientError> {
    send("DELETE", path, body).await
}

#[cfg(feature = "hydrate")]
async fn send<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Result<T, ClientError> {
    use gloo_net::http::{Method, RequestBuilder};

    let url = format!("{API_BASE}{path}");
    let method = match method {
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "DELETE" => Method::DELETE,
        "PATCH" => Method::PATCH,
        _ => Method::GET,
    };
    let builder = RequestBuilder::new(&url)
        .method(method)
        .header("accept", "application/json")
        .header(crate::api::CSRF_HEADER, "1");
    let request = match body {
        Some(body) => builder.json(body),
        None => builder.build(),
    }
    .map_err(|e| ClientError::network(format!("could not build the request: {e}")))?;
    let response = request.send().await.map_err(|_| {
        ClientError::network(
            "The server could not be reached. Check your connection and try again.",
        )
    })?;
    let status = response.status();
    if (200..300).contains(&status) {
        return response
            .json::<T>()
            .await
            .map_err(|e| ClientError::network(format!("unexpected answer from the server: {e}")));
    }
    if status == 401
        && let Some(hook) = ON_UNAUTHORIZED.get()
    {
        hook();
    }
    let error = response
        .json::<ApiError>()
        .await
        .unwrap_or_else(|_| ApiError {
            code: "http".into(),
            message: format!("The server answered with HTTP {status}."),
            field: None,
        });
    Err(ClientError { status, error })
}

/// The server never calls its own API over HTTP: data is fetched after
/// hydration. This keeps the signature for server-side compilation.
#[cfg(not(feature = "hydrate"))]
async fn send<B: Serialize, T: DeserializeOwned>(
    _method: &str,
    path: &str,
    _body: Option<&B>,
) -> Result<T, ClientError> {
    Err(ClientError::network(format!(
        "{API_BASE}{path} is only fetched from the browser"
    )))
}

/// Secrets API calls.
pub mod secrets {
    use super::ClientError;
    use crate::api::{
        CreateSecretRequest, DeleteSecretRequest, RevealRequest, RevealResponse, SecretDetail,
        SecretPage, UpdateSecretRequest,
    };

    use super::urlencode as enc;

    pub async fn list(ns: &str, query: &str) -> Result<SecretPage, ClientError> {
        super::get(&format!("/namespaces/{}/secrets?{query}", enc(ns))).await
    }

    pub async fn detail(ns: &str, name: &str) -> Result<SecretDetail, ClientError> {
        super::get(&format!("/namespaces/{}/secrets/{}", enc(ns), enc(name))).await
    }

    pub async fn reveal(
        ns: &str,
        name: &str,
        req: &RevealRequest,
    ) -> Result<RevealResponse, ClientError> {
        super::post(
            &format!("/namespaces/{}/secrets/{}/reveal", enc(ns), enc(name)),
            req,
        )
        .await
    }

    pub async fn create(ns: &str, req: &CreateSecretRequest) -> Result<SecretDetail, ClientError> {
        super::post(&format!("/namespaces/{}/secrets", enc(ns)), req).await
    }

    pub async fn update(
        ns: &str,
        name: &str,
        req: &UpdateSecretRequest,
    ) -> Result<SecretDetail, ClientError> {
        super::send(
            "PATCH",
            &format!("/namespaces/{}/secrets/{}", enc(ns), enc(name)),
            Some(req),
        )
        .await
    }

    pub async fn delete(
        ns: &str,
        name: &str,
        req: &DeleteSecretRequest,
    ) -> Result<serde_json::Value, ClientError> {
        super::delete(
            &format!("/namespaces/{}/secrets/{}", enc(ns), enc(name)),
            Some(req),
        )
        .await
    }
}

/// Audit trail calls.
pub mod audit {
    use super::{AuditPage, ClientError, urlencode as enc};

    /// `GET /audit?QUERY`: a page of the whole trail (auditors only).
    /// `query` is already encoded, e.g. `limit=50&user=oidc%3Aalice`.
    pub async fn trail(query: &str) -> Result<AuditPage, ClientError> {
        super::get(&format!("/audit?{query}")).await
    }

    /// The newest `limit` records of one secret's access history.
    pub async fn history(ns: &str, name: &str, limit: u32) -> Result<AuditPage, ClientError> {
        super::get(&format!(
            "/namespaces/{}/secrets/{}/history?limit={limit}",
            enc(ns),
            enc(name)
        ))
        .await
    }
}
