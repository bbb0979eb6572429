//! `/api/v1/namespaces/{ns}/secrets/{name}/usage` and `.../restart`: who
//! uses a secret (read as the signed-in user) and restarting them after a
//! change of its values (each restart an audited change). Each handler
//! calls one operation of [`crate::domain::usage`].

use axum::{
    Router,
    extract::State,
    routing::{get, post},
};
use strongroom_app::api::usage::{RestartRequest, RestartResponse, SecretUsage};

use super::{
    AppError, AppState,
    extract::{Json, Path},
    secrets::{SecretPath, to_completion},
};
use crate::domain::{
    audit::{Action, AuditScope, facts::RequestFacts},
    auth::CurrentUser,
    usage::{restart, scan},
};

/// A restart names workloads and keys: a small body keeps what it can
/// write to the audit store small.
const RESTART_BODY_LIMIT: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    use tower_http::limit::RequestBodyLimitLayer;
    Router::new()
        .route("/namespaces/{ns}/secrets/{name}/usage", get(usage))
        .route(
            "/namespaces/{ns}/secrets/{name}/restart",
            post(restart).layer(RequestBodyLimitLayer::new(RESTART_BODY_LIMIT)),
        )
}

#[utoipa::path(get, path = "/api/v1/namespaces/{ns}/secrets/{name}/usage", tag = "usage",
    params(SecretPath),
    responses((status = 200, description = "The Pods, workloads, ServiceAccounts and Ingresses of the namespace that reference the secret, and which keys each uses, as far as the signed-in user may list them; kinds the user may not list are named in `not_visible`", body = SecretUsage)))]
pub async fn usage(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(SecretPath { ns, name }): Path<SecretPath>,
) -> Result<Json<SecretUsage>, AppError> {
    let kube = state.kube.for_user(user.identity());
    let limit = state.config.usage_scan_limit as usize;
    Ok(Json(scan::usage(&kube, &ns, &name, limit).await?))
}

#[utoipa::path(post, path = "/api/v1/namespaces/{ns}/secrets/{name}/restart", tag = "usage",
    params(SecretPath),
    request_body = RestartRequest,
    responses((status = 200, description = "One result per workload (done, forbidden, not found, conflict, failed); each restart that reached Kubernetes is audited. A workload that does not use the secret refuses the whole request (422) and nothing is restarted.", body = RestartResponse)))]
pub async fn restart(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(SecretPath { ns, name }): Path<SecretPath>,
    Json(req): Json<RestartRequest>,
) -> Result<Json<RestartResponse>, AppError> {
    let kube = state.kube.for_user(user.identity());
    let new_scope = {
        let (audit, ns, name) = (state.audit.clone(), ns.clone(), name.clone());
        move || AuditScope::new(&audit, facts.clone(), &user, Action::Restart, &ns, &name)
    };
    let report =
        to_completion(async move { restart::restart(&kube, new_scope, &ns, &name, &req).await })
            .await?;
    Ok(Json(report.into_answer()))
}
