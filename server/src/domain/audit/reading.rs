//! Reading the trail: the whole trail for the auditors group, and one
//! secret's access history for those Kubernetes lets read the secret.

use super::{AuditError, AuditRecord, AuditStore, store::AuditQuery};
use crate::{
    domain::{KubeFailure, auth::CurrentUser},
    infra::cluster::UserKube,
};

/// Why the trail cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The person may not read it; the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// Checking access failed.
    #[error(transparent)]
    Kube(#[from] KubeFailure),
    /// The store failed, or the query is out of range.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// A page of the whole trail for `user`, who must be in `auditors_group`.
pub async fn trail(
    store: &AuditStore,
    user: &CurrentUser,
    auditors_group: &str,
    query: &AuditQuery,
) -> Result<Vec<AuditRecord>, ReadError> {
    if !user.groups.iter().any(|g| g == auditors_group) {
        return Err(ReadError::Forbidden(format!(
            "Only members of {auditors_group} may read the audit trail."
        )));
    }
    query.page_size()?;
    Ok(store.query(query).await?)
}

/// A page of `ns/name`'s history, for a user Kubernetes lets get secrets
/// in `ns` (asked as the user, with a SelfSubjectAccessReview).
pub async fn history(
    store: &AuditStore,
    kube: &UserKube,
    ns: &str,
    name: &str,
    query: AuditQuery,
) -> Result<Vec<AuditRecord>, ReadError> {
    let user = &kube.user().username;
    let allowed = kube
        .can_i("get", "secrets", ns)
        .await
        .map_err(|e| KubeFailure::new(e, user, "check access to", "secrets", Some(ns)))?;
    if !allowed {
        return Err(ReadError::Forbidden(format!(
            "Kubernetes does not allow {user} to get secrets in namespace {ns}, so its access history is hidden too."
        )));
    }
    let query = AuditQuery {
        namespace: Some(ns.to_string()),
        secret: Some(name.to_string()),
        ..query
    };
    query.page_size()?;
    Ok(store.query(&query).await?)
}
