//! Where a user may work: the namespaces where they may list secrets.

use futures::future::join_all;

use crate::{
    domain::KubeFailure,
    infra::cluster::{KubeError, UserKube},
};

/// The namespaces among `configured` (or, when none are configured, among
/// all the user may see) where the user may list secrets, sorted. Each
/// candidate is checked with a SelfSubjectAccessReview made as the user.
pub async fn workable_namespaces(
    kube: &UserKube,
    configured: &[String],
) -> Result<Vec<String>, KubeFailure> {
    let user = &kube.user().username;
    let candidates = if configured.is_empty() {
        match kube.namespace_names().await {
            Ok(names) => names,
            Err(KubeError::Api { code: 403, .. }) => Vec::new(),
            Err(e) => return Err(KubeFailure::new(e, user, "list", "namespaces", None)),
        }
    } else {
        configured.to_vec()
    };
    let checks = candidates
        .iter()
        .map(|ns| kube.can_i("list", "secrets", ns));
    let mut namespaces = Vec::new();
    for (ns, allowed) in candidates.iter().zip(join_all(checks).await) {
        match allowed {
            Ok(true) => namespaces.push(ns.clone()),
            Ok(false) => {}
            Err(e) => {
                return Err(KubeFailure::new(
                    e,
                    user,
                    "create",
                    "selfsubjectaccessreviews",
                    None,
                ));
            }
        }
    }
    namespaces.sort();
    Ok(namespaces)
}
