//! Where a user may work: the namespaces where they may list secrets.

use futures::{StreamExt, stream};

use std::{sync::Arc, time::Duration};

use crate::{
    domain::{KubeFailure, recent::Recent},
    infra::cluster::{KubeError, UserKube},
};

/// At most this many of one request's access reviews are in flight at once:
/// a cluster with thousands of namespaces gets a steady trickle from
/// Strongroom, not a burst its flow control answers with 429.
const REVIEWS_IN_FLIGHT: usize = 16;

/// Recent answers of [`workable_namespaces`], per user and groups: every
/// page asks `/api/v1/me`, and within [`WorkableCache::TTL`] the API server
/// is not asked again. A namespace opened or closed to someone shows in
/// their picker within that time; what they may do there is decided by the
/// API server on each call, as always.
pub struct WorkableCache {
    answers: Recent<Arc<Vec<String>>>,
}

impl Default for WorkableCache {
    fn default() -> Self {
        WorkableCache {
            answers: Recent::new(Self::TTL, Self::CAPACITY),
        }
    }
}

impl WorkableCache {
    pub const TTL: Duration = Duration::from_secs(30);
    /// People whose answers are kept at once (each a list of names).
    const CAPACITY: usize = 2_000;

    /// [`workable_namespaces`], or its recent answer for this person.
    pub async fn get(
        &self,
        kube: &UserKube,
        configured: &[String],
    ) -> Result<Arc<Vec<String>>, KubeFailure> {
        let key = Recent::<Arc<Vec<String>>>::key(kube, "workable-namespaces");
        if let Some(namespaces) = self.answers.get(&key) {
            return Ok(namespaces);
        }
        let namespaces = Arc::new(workable_namespaces(kube, configured).await?);
        self.answers.put(key, namespaces.clone());
        Ok(namespaces)
    }
}

/// The namespaces among `configured` (or, when none are configured, among
/// all the user may see) where the user may list secrets, sorted. One
/// SelfSubjectAccessReview made as the user asks about every namespace at
/// once (a ClusterRole binding answers for all); only when that is refused
/// is each candidate checked, [`REVIEWS_IN_FLIGHT`] at a time.
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
    let refused = |e| KubeFailure::new(e, user, "create", "selfsubjectaccessreviews", None);
    // An empty namespace asks about all of them.
    if kube.can_i("list", "secrets", "").await.map_err(refused)? {
        let mut namespaces = candidates;
        namespaces.sort();
        return Ok(namespaces);
    }
    // Owned names: a closure over `&String` trips the compiler's
    // higher-ranked lifetime check when the handler future must be Send.
    let reviews = candidates
        .iter()
        .cloned()
        .map(|ns| async move { kube.can_i("list", "secrets", &ns).await });
    let answers: Vec<_> = stream::iter(reviews)
        .buffered(REVIEWS_IN_FLIGHT)
        .collect()
        .await;
    let mut namespaces = Vec::new();
    for (ns, allowed) in candidates.iter().zip(answers) {
        if allowed.map_err(refused)? {
            namespaces.push(ns.clone());
        }
    }
    namespaces.sort();
    Ok(namespaces)
}
