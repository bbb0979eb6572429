//! Access requests in approval namespaces: asking
//! (`POST …/secrets/{name}/access-requests`), listing
//! (`GET /access-requests`) and deciding
//! (`POST /access-requests/{id}/approve|deny|revoke`). Each handler calls
//! one operation of [`crate::domain::guard::requests`]; every step answers
//! only with an [`Audited`] request.

use axum::{
    Router,
    extract::State,
    routing::{get, post},
};
use strongroom_app::api::guards::{AccessRequest, AccessRequestInput, AccessRequests, Decision};

use super::{
    AppError, AppState,
    extract::{Json, Path},
    secrets::{SecretPath, to_completion},
};
use crate::domain::{
    audit::{Audited, facts::RequestFacts},
    auth::CurrentUser,
};

/// A request names keys, a reason and a duration; a decision a comment.
const BODY_LIMIT: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    use tower_http::limit::RequestBodyLimitLayer;
    Router::new()
        .route(
            "/namespaces/{ns}/secrets/{name}/access-requests",
            post(request).layer(RequestBodyLimitLayer::new(BODY_LIMIT)),
        )
        .route("/access-requests", get(list))
        .route(
            "/access-requests/{id}/approve",
            post(approve).layer(RequestBodyLimitLayer::new(BODY_LIMIT)),
        )
        .route(
            "/access-requests/{id}/deny",
            post(deny).layer(RequestBodyLimitLayer::new(BODY_LIMIT)),
        )
        .route(
            "/access-requests/{id}/revoke",
            post(revoke).layer(RequestBodyLimitLayer::new(BODY_LIMIT)),
        )
}

/// The path parameter `{id}`: an access request.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RequestPath {
    /// The request's id.
    #[param(max_length = 64)]
    pub id: String,
}

#[utoipa::path(post, path = "/api/v1/namespaces/{ns}/secrets/{name}/access-requests", tag = "guards",
    params(SecretPath),
    request_body = AccessRequestInput,
    responses(
        (status = 200, description = "The pending request, recorded (action `request`) before the answer; the approvers' webhooks hear of it", body = AccessRequest),
        (status = 409, description = "The namespace does not ask for approval", body = strongroom_app::api::ApiError),
    ))]
pub async fn request(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(SecretPath { ns, name }): Path<SecretPath>,
    Json(input): Json<AccessRequestInput>,
) -> Result<Audited<AccessRequest>, AppError> {
    let kube = state.kube.for_user(user.identity());
    to_completion(async move {
        state
            .desk()
            .request(&kube, facts, &user, &ns, &name, &input)
            .await
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/access-requests", tag = "guards",
    responses((status = 200, description = "The signed-in user's requests; for approvers, the pending requests they may decide (they may read the secret and did not ask) and those they decided", body = AccessRequests)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<AccessRequests>, AppError> {
    let kube = state.kube.for_user(user.identity());
    Ok(axum::Json(state.desk().list(&kube, &user).await?))
}

async fn decide(
    state: AppState,
    user: CurrentUser,
    facts: RequestFacts,
    id: String,
    approve: bool,
    decision: Decision,
) -> Result<Audited<AccessRequest>, AppError> {
    let kube = state.kube.for_user(user.identity());
    to_completion(async move {
        state
            .desk()
            .decide(
                &kube,
                facts,
                &user,
                user.auth_time,
                &id,
                approve,
                decision.comment.as_deref(),
            )
            .await
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/access-requests/{id}/approve", tag = "guards",
    params(RequestPath),
    request_body = Decision,
    responses(
        (status = 200, description = "Approved: recorded (action `approve`) before it takes effect; the requester may reveal the keys until `valid_until`", body = AccessRequest),
        (status = 403, description = "Not an approver, the approver's own request, or the approver may not read the secret (recorded)", body = strongroom_app::api::ApiError),
        (status = 409, description = "Decided already, or expired", body = strongroom_app::api::ApiError),
    ))]
pub async fn approve(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(RequestPath { id }): Path<RequestPath>,
    Json(decision): Json<Decision>,
) -> Result<Audited<AccessRequest>, AppError> {
    decide(state, user, facts, id, true, decision).await
}

#[utoipa::path(post, path = "/api/v1/access-requests/{id}/deny", tag = "guards",
    params(RequestPath),
    request_body = Decision,
    responses((status = 200, description = "Denied, recorded (action `deny`)", body = AccessRequest)))]
pub async fn deny(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(RequestPath { id }): Path<RequestPath>,
    Json(decision): Json<Decision>,
) -> Result<Audited<AccessRequest>, AppError> {
    decide(state, user, facts, id, false, decision).await
}

#[utoipa::path(post, path = "/api/v1/access-requests/{id}/revoke", tag = "guards",
    params(RequestPath),
    request_body = Decision,
    responses((status = 200, description = "Withdrawn by the requester, or ended early by an approver; recorded (action `revoke`)", body = AccessRequest)))]
pub async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(RequestPath { id }): Path<RequestPath>,
    Json(decision): Json<Decision>,
) -> Result<Audited<AccessRequest>, AppError> {
    let kube = state.kube.for_user(user.identity());
    to_completion(async move {
        state
            .desk()
            .revoke(&kube, facts, &user, &id, decision.comment.as_deref())
            .await
    })
    .await
}
