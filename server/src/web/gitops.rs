//! Secrets that belong in Git: `/api/v1/sealing/certificate`, sealing
//! (`…/sealed-secrets`, `…/secrets/{name}/seal`), SOPS exports (`…/sops`,
//! `…/secrets/{name}/sops`) and a controller-owned secret's source
//! (`…/secrets/{name}/source`). Each handler calls one operation of
//! [`crate::domain::gitops`]; seals and exports answer only with an
//! [`Audited`] value.

use axum::{
    Router,
    extract::State,
    routing::{get, post},
};
use strongroom_app::api::gitops::{
    Exported, SealNewRequest, SealRequest, Sealed, SealingCertificate, SopsNewRequest, SopsRequest,
    SourceObject,
};

use super::{
    AppError, AppState,
    extract::{Json, Path},
    secrets::{NamespacePath, SecretPath, to_completion},
};
use crate::domain::{
    audit::{Action, AuditScope, Audited, facts::RequestFacts},
    auth::CurrentUser,
    gitops,
};

/// A seal or export of an existing secret names options and a reason: a
/// small body keeps what it can write to the audit store small. One from
/// the form carries values, like a create (at most `MAX_FORM_KEYS` keys).
const EXISTING_BODY_LIMIT: usize = 96 * 1024;

pub fn router() -> Router<AppState> {
    use tower_http::limit::RequestBodyLimitLayer;
    Router::new()
        .route("/sealing/certificate", get(certificate))
        .route("/namespaces/{ns}/sealed-secrets", post(seal_new))
        .route(
            "/namespaces/{ns}/secrets/{name}/seal",
            post(seal_existing).layer(RequestBodyLimitLayer::new(EXISTING_BODY_LIMIT)),
        )
        .route("/namespaces/{ns}/sops", post(export_new))
        .route(
            "/namespaces/{ns}/secrets/{name}/sops",
            post(export_existing).layer(RequestBodyLimitLayer::new(EXISTING_BODY_LIMIT)),
        )
        .route("/namespaces/{ns}/secrets/{name}/source", get(source))
}

#[utoipa::path(get, path = "/api/v1/sealing/certificate", tag = "gitops",
    responses(
        (status = 200, description = "The sealed-secrets controller's certificate, fetched as the signed-in user through the API server's service proxy: fingerprint, subject, validity", body = SealingCertificate),
        (status = 503, description = "The controller cannot be reached; paste its certificate instead", body = strongroom_app::api::ApiError),
    ))]
pub async fn certificate(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<SealingCertificate>, AppError> {
    let kube = state.kube.for_user(user.identity());
    Ok(Json(
        gitops::certificate(&kube, &state.sealing.controller).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/namespaces/{ns}/sealed-secrets", tag = "gitops",
    params(NamespacePath),
    request_body = SealNewRequest,
    responses((status = 200, description = "A SealedSecret of the form's secret (audited as a seal); with `create`, also created in the cluster as the signed-in user", body = Sealed)))]
pub async fn seal_new(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(NamespacePath { ns }): Path<NamespacePath>,
    Json(req): Json<SealNewRequest>,
) -> Result<Audited<Sealed>, AppError> {
    let scope = AuditScope::new(
        &state.audit,
        facts,
        &user,
        Action::Seal,
        &ns,
        &req.secret.name,
    );
    let kube = state.kube.for_user(user.identity());
    let state = state.clone();
    to_completion(async move {
        let policy = state.reveal_policy(&ns, &user);
        gitops::seal_new(&kube, scope, policy, &state.sealing, &ns, &req).await
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/namespaces/{ns}/secrets/{name}/seal", tag = "gitops",
    params(SecretPath),
    request_body = SealRequest,
    responses((status = 200, description = "A SealedSecret of the secret's current values, read with the signed-in user's `get` under the reveal rules and recorded like a reveal before the answer", body = Sealed)))]
pub async fn seal_existing(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(SecretPath { ns, name }): Path<SecretPath>,
    Json(req): Json<SealRequest>,
) -> Result<Audited<Sealed>, AppError> {
    let scope = AuditScope::new(&state.audit, facts, &user, Action::Seal, &ns, &name);
    let kube = state.kube.for_user(user.identity());
    let policy = state.reveal_policy(&ns, &user);
    Ok(gitops::seal_existing(&kube, scope, policy, &state.sealing, &ns, &name, &req).await?)
}

#[utoipa::path(post, path = "/api/v1/namespaces/{ns}/sops", tag = "gitops",
    params(NamespacePath),
    request_body = SopsNewRequest,
    responses((status = 200, description = "A SOPS-encrypted Secret manifest of the form's secret for the age recipients (audited as an export); nothing is written to the cluster", body = Exported)))]
pub async fn export_new(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(NamespacePath { ns }): Path<NamespacePath>,
    Json(req): Json<SopsNewRequest>,
) -> Result<Audited<Exported>, AppError> {
    let scope = AuditScope::new(
        &state.audit,
        facts,
        &user,
        Action::Export,
        &ns,
        &req.secret.name,
    );
    let kube = state.kube.for_user(user.identity());
    let policy = state.reveal_policy(&ns, &user);
    Ok(gitops::export_new(&kube, scope, policy, &ns, &req).await?)
}

#[utoipa::path(post, path = "/api/v1/namespaces/{ns}/secrets/{name}/sops", tag = "gitops",
    params(SecretPath),
    request_body = SopsRequest,
    responses((status = 200, description = "A SOPS-encrypted manifest of the secret's current values, read with the signed-in user's `get` under the reveal rules and recorded like a reveal before the answer", body = Exported)))]
pub async fn export_existing(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(SecretPath { ns, name }): Path<SecretPath>,
    Json(req): Json<SopsRequest>,
) -> Result<Audited<Exported>, AppError> {
    let scope = AuditScope::new(&state.audit, facts, &user, Action::Export, &ns, &name);
    let kube = state.kube.for_user(user.identity());
    let policy = state.reveal_policy(&ns, &user);
    Ok(gitops::export_existing(&kube, scope, policy, &ns, &name, &req).await?)
}

#[utoipa::path(get, path = "/api/v1/namespaces/{ns}/secrets/{name}/source", tag = "gitops",
    params(SecretPath),
    responses((status = 200, description = "The object a controller-owned secret comes from (a SealedSecret, an ExternalSecret…), read as the signed-in user: its conditions and public facts, or why it cannot be read", body = SourceObject)))]
pub async fn source(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(SecretPath { ns, name }): Path<SecretPath>,
) -> Result<Json<SourceObject>, AppError> {
    let kube = state.kube.for_user(user.identity());
    Ok(Json(gitops::source(&kube, &ns, &name).await?))
}
