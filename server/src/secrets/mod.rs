//! Secrets as the signed-in user: list, detail, reveal, create, change,
//! delete. Each handler authenticates, calls one domain function, and maps
//! errors; values leave only in the answer to a reveal, after its audit
//! record is committed.

pub(crate) mod change;
pub(crate) mod create;
pub(crate) mod list;
pub(crate) mod reveal;
pub mod tls;

use axum::{
    Router,
    routing::{get, post},
};
use base64::Engine;
use k8s_openapi::api::core::v1::Secret;

use crate::{
    AppState,
    auth::CurrentUser,
    http::AppError,
    kube::{KubeError, UserKube},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/namespaces/{ns}/secrets",
            get(list::list).post(create::create),
        )
        .route(
            "/namespaces/{ns}/secrets/{name}",
            get(list::detail)
                .patch(change::update)
                .delete(change::delete),
        )
        .route(
            "/namespaces/{ns}/secrets/{name}/reveal",
            post(reveal::reveal),
        )
}

/// The path parameters `{ns}`: a namespace.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NamespacePath {
    /// The namespace.
    #[param(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length = 63,
        example = "team-a"
    )]
    pub ns: String,
}

/// The path parameters `{ns}/secrets/{name}`: one secret.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SecretPath {
    /// The namespace.
    #[param(
        pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length = 63,
        example = "team-a"
    )]
    pub ns: String,
    /// The secret's name.
    #[param(
        pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        max_length = 253,
        example = "api-credentials"
    )]
    pub name: String,
}

/// The API path of a namespace's secrets.
fn secrets_path(ns: &str) -> String {
    format!("/api/v1/namespaces/{ns}/secrets")
}

/// Reads one secret as the user (values stay on the server).
async fn get_secret(kube: &UserKube, ns: &str, name: &str) -> Result<Secret, KubeError> {
    let request = kube::core::Request::new(secrets_path(ns))
        .get(name, &Default::default())
        .map_err(|e| KubeError::Config(e.to_string()))?;
    kube.call(request).await
}

/// Checks path parameters before they reach a URL.
pub(crate) fn check_path(ns: &str, name: Option<&str>) -> Result<(), AppError> {
    strongroom_app::secrets::rules::check_name(ns)
        .map_err(|m| AppError::invalid("namespace", m))?;
    if let Some(name) = name {
        strongroom_app::secrets::rules::check_name(name)
            .map_err(|m| AppError::invalid("name", m))?;
    }
    Ok(())
}

fn decode_b64(field: &str, value: &str) -> Result<Vec<u8>, AppError> {
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| AppError::invalid(field, "the value is not valid base64"))
}

/// Turns a Kubernetes error into a message that says who was refused what,
/// without internals.
pub fn kube_error(
    e: KubeError,
    user: &CurrentUser,
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
) -> AppError {
    let place = namespace
        .map(|ns| format!(" in namespace {ns}"))
        .unwrap_or_default();
    match e {
        KubeError::Api { code: 403, .. } => AppError::Forbidden(format!(
            "Kubernetes does not allow {} to {verb} {resource}{place}.",
            user.username
        )),
        KubeError::Api { code: 404, .. } => {
            AppError::NotFound(format!("The {resource}{place} was not found."))
        }
        KubeError::Api {
            code: 409, reason, ..
        } if reason == "AlreadyExists" => {
            AppError::Conflict(format!("The {resource} already exists{place}."))
        }
        KubeError::Api { code: 409, .. } => AppError::Conflict(format!(
            "The {resource}{place} was changed by someone else since you loaded it. Reload to see the current version; your input is kept."
        )),
        KubeError::Api {
            code: 400 | 422,
            message,
            ..
        } => AppError::Invalid {
            field: None,
            message: format!("Kubernetes rejected the {resource}: {message}"),
        },
        KubeError::Api {
            code: 429,
            retry_after,
            ..
        } => {
            let seconds = retry_after.unwrap_or(1).max(1);
            AppError::TooManyRequests {
                message: format!(
                    "The Kubernetes API is busy; nothing was changed. Please try again in {seconds} seconds."
                ),
                retry_after: seconds,
            }
        }
        KubeError::Api { code, reason, .. } => {
            tracing::error!(code, %reason, verb, resource, "Kubernetes API error");
            AppError::Unavailable(format!(
                "The Kubernetes API answered with an error ({code}); please try again shortly."
            ))
        }
        KubeError::Unreachable(cause) => AppError::unavailable("The Kubernetes API", cause),
        KubeError::Decode(detail) | KubeError::Config(detail) => AppError::internal(detail),
    }
}
