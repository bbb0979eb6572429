//! Certificates in secrets: one secret's, and a namespace's expiring ones.
//! Public data only (subjects, names, dates, fingerprints); the values they
//! are read from and any private key stay on the server.
//!
//! Both are `GET`s that write an audit record. The record logs a read that
//! happened, as the API server's own audit log does for its GETs: the
//! client asks for no change of state, and a cross-site navigation that
//! made one would only record data shown to the user's own browser (the
//! `SameSite=Lax` cookie keeps cross-site subresource requests out).

use axum::{Router, extract::State, routing::get};
use serde::Deserialize;
use strongroom_app::api::certs::{NamespaceCertificates, SecretCertificates};

use super::{
    AppError, AppState,
    extract::{Json, Path, Query},
    secrets::{NamespacePath, SecretPath},
};
use crate::domain::{
    audit::{Action, AuditScope, Audited, facts::RequestFacts},
    auth::CurrentUser,
    secrets::certs::{
        inspect::{self, Inspected},
        scan,
    },
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/namespaces/{ns}/secrets/{name}/certificates",
            get(secret_certificates),
        )
        .route("/namespaces/{ns}/certificates", get(namespace_certificates))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithinQuery {
    /// List certificates that expire within this many days (1-3650; the
    /// server's `STRONGROOM_CERT_EXPIRY_WARNING` when not given).
    #[param(minimum = 1, maximum = 3650)]
    within: Option<u32>,
}

/// One secret's certificates, read as the user (their `get` on the secret
/// decides). The answer is sent after an `inspect` audit record with
/// fingerprints of all the secret's values is committed; a refusal is
/// recorded too.
#[utoipa::path(get, path = "/api/v1/namespaces/{ns}/secrets/{name}/certificates", tag = "certificates",
    params(SecretPath),
    responses((status = 200, description = "The secret's certificates (public data only), sent after the inspection's audit record is committed", body = SecretCertificates)))]
pub async fn secret_certificates(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(SecretPath { ns, name }): Path<SecretPath>,
) -> Result<Audited<Inspected>, AppError> {
    let scope = AuditScope::new(&state.audit, facts, &user, Action::Inspect, &ns, &name);
    let kube = state.kube.for_user(user.identity());
    let warning = state.config.cert_expiry_warning_days();
    Ok(inspect::inspect(&kube, scope, warning, &ns, &name).await?)
}

/// The namespace's expired and expiring certificates, soonest first, for a
/// user who may `get` its secrets (403 otherwise, even with `list`). A scan
/// reads at most 5,000 secrets and is cached for 60 seconds per user and
/// namespace. Each scan is one audit record with action `inspect` and an
/// empty secret name (the namespace as a whole; the counts are its reason);
/// cached answers carry that record's id and are not recorded again.
#[utoipa::path(get, path = "/api/v1/namespaces/{ns}/certificates", tag = "certificates",
    params(NamespacePath, WithinQuery),
    responses((status = 200, description = "Expired and expiring certificates of the namespace's secrets (public data only)", body = NamespaceCertificates)))]
pub async fn namespace_certificates(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(NamespacePath { ns }): Path<NamespacePath>,
    Query(q): Query<WithinQuery>,
) -> Result<Json<NamespaceCertificates>, AppError> {
    let scope = AuditScope::new(&state.audit, facts, &user, Action::Inspect, &ns, "");
    let kube = state.kube.for_user(user.identity());
    let within = q
        .within
        .unwrap_or_else(|| state.config.cert_expiry_warning_days());
    Ok(Json(
        scan::expiring(&kube, scope, &state.cert_scans, &ns, within).await?,
    ))
}
