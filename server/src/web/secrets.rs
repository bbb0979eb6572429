//! `/api/v1/namespaces/{ns}/secrets…`: each handler takes the request apart,
//! calls one domain operation in [`crate::domain::secrets`] with the user's
//! Kubernetes handle (and an audit scope for reveals and changes), and
//! returns its answer. Reveals and changes can only answer with an
//! [`Audited`] value, which exists only once its record is committed.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::Deserialize;
use strongroom_app::api::{
    CreateSecretRequest, DeleteSecretRequest, RevealRequest, RevealResponse, SecretDetail,
    SecretPage, UpdateSecretRequest,
    history::{ChangePreview, KeyHistory},
};

use super::{
    AppError, AppState,
    extract::{Json, Path, Query},
};
use crate::domain::{
    audit::{Action, AuditScope, Audited, facts::RequestFacts},
    auth::CurrentUser,
    secrets::{
        SecretsError,
        change::{self, Deletion},
        create, lineage,
        list::{self, ListRequest},
        reveal::{self, Revealed},
    },
};

/// Body limits of the requests that carry no values: a reveal names keys
/// and a reason, a delete a name. Small limits keep what they can write to
/// the audit store small.
const REVEAL_BODY_LIMIT: usize = 64 * 1024;
const DELETE_BODY_LIMIT: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    use tower_http::limit::RequestBodyLimitLayer;
    Router::new()
        .route("/namespaces/{ns}/secrets", get(list).post(create))
        .route(
            "/namespaces/{ns}/secrets/{name}",
            get(detail).patch(update).merge(
                axum::routing::delete(delete).layer(RequestBodyLimitLayer::new(DELETE_BODY_LIMIT)),
            ),
        )
        .route(
            "/namespaces/{ns}/secrets/{name}/reveal",
            post(reveal).layer(RequestBodyLimitLayer::new(REVEAL_BODY_LIMIT)),
        )
        .route("/namespaces/{ns}/secrets/{name}/preview", post(preview))
        .route(
            "/namespaces/{ns}/secrets/{name}/key-history",
            get(key_history),
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size (1-500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `continue` of the previous page.
    #[serde(rename = "continue")]
    continue_token: Option<String>,
    /// Substring of the name.
    name: Option<String>,
    /// A Kubernetes label selector.
    label: Option<String>,
    /// Exact type.
    #[serde(rename = "type")]
    type_: Option<String>,
    /// Show Helm release and service-account-token secrets too.
    #[serde(default)]
    all: bool,
}

/// Runs a change to its end even when the client goes away (or the request
/// times out) mid-way: dropping the handler between the Kubernetes write
/// and its audit record would leave a change without a record.
pub(super) async fn to_completion<T: Send + 'static>(
    change: impl Future<Output = Result<T, SecretsError>> + Send + 'static,
) -> Result<T, AppError> {
    tokio::spawn(change)
        .await
        .map_err(|e| AppError::internal(format!("a change task failed: {e}")))?
        .map_err(AppError::from)
}

/// A scope for `user`'s `action` on `ns/name`.
fn scope(
    state: &AppState,
    facts: RequestFacts,
    user: &CurrentUser,
    action: Action,
    ns: &str,
    name: &str,
) -> AuditScope {
    AuditScope::new(&state.audit, facts, user, action, ns, name)
}

#[utoipa::path(get, path = "/api/v1/namespaces/{ns}/secrets", tag = "secrets",
    params(NamespacePath, ListQuery),
    responses(
        (status = 200, description = "One page of the namespace's secrets: metadata only, never values", body = SecretPage),
        (status = 409, description = "The continue token expired; start the list again", body = strongroom_app::api::ApiError),
    ))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(NamespacePath { ns }): Path<NamespacePath>,
    Query(q): Query<ListQuery>,
) -> Result<Json<SecretPage>, AppError> {
    let request = ListRequest {
        limit: q.limit,
        continue_token: q.continue_token,
        name: q.name,
        label: q.label,
        type_: q.type_,
        all: q.all,
        search_budget: Some(state.config.search_budget),
    };
    let kube = state.kube.for_user(user.identity());
    Ok(Json(list::list(&kube, state.ages(), &ns, &request).await?))
}

#[utoipa::path(get, path = "/api/v1/namespaces/{ns}/secrets/{name}", tag = "secrets",
    params(SecretPath),
    responses((status = 200, description = "The secret's metadata and key sizes, never its values", body = SecretDetail)))]
pub async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(SecretPath { ns, name }): Path<SecretPath>,
) -> Result<Json<SecretDetail>, AppError> {
    let kube = state.kube.for_user(user.identity());
    Ok(Json(list::detail(&kube, &ns, &name).await?))
}

#[utoipa::path(post, path = "/api/v1/namespaces/{ns}/secrets/{name}/reveal", tag = "secrets",
    params(SecretPath),
    request_body = RevealRequest,
    responses((status = 200, description = "The values, sent only after the reveal's audit record is committed", body = RevealResponse)))]
pub async fn reveal(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(SecretPath { ns, name }): Path<SecretPath>,
    Json(req): Json<RevealRequest>,
) -> Result<Audited<Revealed>, AppError> {
    let policy = state.reveal_policy(&ns, &user);
    let scope = scope(&state, facts, &user, Action::Reveal, &ns, &name);
    let kube = state.kube.for_user(user.identity());
    let request = reveal::RevealRequest {
        keys: req.keys,
        reason: req.reason,
    };
    Ok(reveal::reveal(&kube, scope, policy, &ns, &name, request).await?)
}

#[utoipa::path(post, path = "/api/v1/namespaces/{ns}/secrets", tag = "secrets",
    params(NamespacePath),
    request_body = CreateSecretRequest,
    responses((status = 201, description = "Created (and audited); the answer carries no values", body = SecretDetail)))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(NamespacePath { ns }): Path<NamespacePath>,
    Json(req): Json<CreateSecretRequest>,
) -> Result<(StatusCode, Audited<SecretDetail>), AppError> {
    let scope = scope(&state, facts, &user, Action::Create, &ns, &req.name);
    let kube = state.kube.for_user(user.identity());
    // A change made here shows in the certificate scans at once.
    state.cert_scans.forget(&ns);
    let created =
        to_completion(async move { create::create(&kube, scope, &ns, &req).await }).await?;
    Ok((StatusCode::CREATED, created))
}

#[utoipa::path(patch, path = "/api/v1/namespaces/{ns}/secrets/{name}", tag = "secrets",
    params(SecretPath),
    request_body = UpdateSecretRequest,
    responses((status = 200, description = "Changed (and audited)", body = SecretDetail)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(SecretPath { ns, name }): Path<SecretPath>,
    Json(req): Json<UpdateSecretRequest>,
) -> Result<Audited<SecretDetail>, AppError> {
    let scope = scope(&state, facts, &user, Action::Update, &ns, &name);
    let kube = state.kube.for_user(user.identity());
    state.cert_scans.forget(&ns);
    to_completion(async move { change::update(&kube, scope, &ns, &name, &req).await }).await
}

#[utoipa::path(post, path = "/api/v1/namespaces/{ns}/secrets/{name}/preview", tag = "secrets",
    params(SecretPath),
    request_body = UpdateSecretRequest,
    responses((status = 200, description = "Which keys the change would change (changed, added, removed, same), never a value; recorded as a comparison and held to the reveal rate", body = ChangePreview)))]
pub async fn preview(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(SecretPath { ns, name }): Path<SecretPath>,
    Json(req): Json<UpdateSecretRequest>,
) -> Result<Audited<ChangePreview>, AppError> {
    let scope = scope(&state, facts, &user, Action::Compare, &ns, &name);
    let kube = state.kube.for_user(user.identity());
    let policy = state.reveal_policy(&ns, &user);
    Ok(change::preview(&kube, scope, policy, &ns, &name, &req).await?)
}

#[utoipa::path(get, path = "/api/v1/namespaces/{ns}/secrets/{name}/key-history", tag = "secrets",
    params(SecretPath),
    responses((status = 200, description = "Per key: when its value last changed and by whom, whether it changed outside Strongroom, whether it is still the value you last revealed; the changes, newest first; the age of the values. From fingerprints, never values", body = KeyHistory)))]
pub async fn key_history(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(SecretPath { ns, name }): Path<SecretPath>,
) -> Result<Json<KeyHistory>, AppError> {
    let kube = state.kube.for_user(user.identity());
    Ok(Json(
        lineage::key_history(&kube, &state.audit, &state.rotation, &ns, &name).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{ns}/secrets/{name}", tag = "secrets",
    params(SecretPath),
    request_body = DeleteSecretRequest,
    responses((status = 200, description = "Deleted (and audited)", body = Deleted)))]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(SecretPath { ns, name }): Path<SecretPath>,
    Json(req): Json<DeleteSecretRequest>,
) -> Result<Audited<Deleted>, AppError> {
    let scope = scope(&state, facts, &user, Action::Delete, &ns, &name);
    let kube = state.kube.for_user(user.identity());
    state.cert_scans.forget(&ns);
    let deleted = to_completion(async move {
        change::delete(&kube, scope, &ns, &name, &req.confirm, req.resource_version).await
    })
    .await?;
    Ok(deleted.map(|Deletion { name }, receipt| Deleted {
        deleted: name,
        audit_id: receipt.id().to_string(),
    }))
}

/// The answer to a delete.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Deleted {
    /// The name of the deleted secret.
    deleted: String,
    /// The id of the delete's audit record.
    #[serde(rename = "auditId")]
    audit_id: String,
}
