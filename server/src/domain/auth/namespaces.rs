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

/// With more candidate namespaces than this (and no right to list secrets
/// in all of them at once), none is checked up front: the picker asks about
/// those a person searches for, [`FIND_CHECKS`] at most per search.
pub const EAGER_CHECKS: usize = 200;

/// A namespace search checks at most this many matching candidates.
pub const FIND_CHECKS: usize = 48;

/// Where a person may work, as `/api/v1/me` tells it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workable {
    /// Namespaces where they may list secrets, sorted.
    pub namespaces: Vec<String>,
    /// Candidate namespaces not checked up front (more than
    /// [`EAGER_CHECKS`]); [`WorkableCache::find`] checks them on demand.
    pub unchecked: usize,
}

/// What a namespace search found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Matching namespaces where the person may list secrets, sorted.
    pub namespaces: Vec<String>,
    /// Candidates whose name matches.
    pub matching: usize,
    /// How many of those were checked (at most [`FIND_CHECKS`] per search).
    pub checked: usize,
}

/// Recent answers about where people may work, per user and groups: every
/// page asks `/api/v1/me`, and within [`WorkableCache::TTL`] the API server
/// is not asked again. A namespace opened or closed to someone shows in
/// their picker within that time; what they may do there is decided by the
/// API server on each call, as always. Bounded: [`Self::CAPACITY`] people,
/// and [`Self::CHECKS`] per-namespace answers in all.
pub struct WorkableCache {
    answers: Recent<Arc<Workable>>,
    candidates: Recent<Arc<Candidates>>,
    checks: Recent<bool>,
}

/// The namespaces a person may be offered, sorted.
struct Candidates {
    names: Vec<String>,
    /// Listed by the API server for them (they may list namespaces), as
    /// opposed to configured: only then may counts of them be told.
    listed: bool,
}

impl Default for WorkableCache {
    fn default() -> Self {
        WorkableCache {
            answers: Recent::new(Self::TTL, Self::CAPACITY),
            candidates: Recent::new(Self::TTL, Self::CAPACITY),
            checks: Recent::new(Self::TTL, Self::CHECKS),
        }
    }
}

impl WorkableCache {
    pub const TTL: Duration = Duration::from_secs(30);
    /// People whose answers are kept at once.
    const CAPACITY: usize = 2_000;
    /// Per-namespace answers kept at once, all people together.
    const CHECKS: usize = 20_000;

    /// Where this person may work: every candidate when they may list
    /// secrets in all namespaces (one access review), else each candidate
    /// checked, unless there are more than [`EAGER_CHECKS`]. Recent answers
    /// are reused.
    pub async fn get(
        &self,
        kube: &UserKube,
        configured: &[String],
    ) -> Result<Arc<Workable>, KubeFailure> {
        let key = Recent::<Arc<Workable>>::key(kube, "workable-namespaces");
        if let Some(workable) = self.answers.get(&key) {
            return Ok(workable);
        }
        let candidates = self.candidates(kube, configured).await?;
        let workable = Arc::new(if self.may_list(kube, "").await? {
            Workable {
                namespaces: candidates.names.clone(),
                unchecked: 0,
            }
        } else if candidates.listed && candidates.names.len() > EAGER_CHECKS {
            // Configured namespaces are always checked (the operator
            // bounds them): their names and number are not told to people
            // who may not work there.
            Workable {
                namespaces: Vec::new(),
                unchecked: candidates.names.len(),
            }
        } else {
            Workable {
                namespaces: self.check(kube, &candidates.names, usize::MAX).await?,
                unchecked: 0,
            }
        });
        self.answers.put(key, workable.clone());
        Ok(workable)
    }

    /// The candidate namespaces whose name contains `part` where this
    /// person may list secrets: at most `limit`, checking at most
    /// [`FIND_CHECKS`] candidates, in name order.
    pub async fn find(
        &self,
        kube: &UserKube,
        configured: &[String],
        part: &str,
        limit: usize,
    ) -> Result<Found, KubeFailure> {
        let part = part.to_lowercase();
        let candidates = self.candidates(kube, configured).await?;
        if !candidates.listed {
            // Configured: the namespaces they may work in, all checked.
            let workable = self.get(kube, configured).await?;
            let namespaces: Vec<String> = workable
                .namespaces
                .iter()
                .filter(|ns| ns.contains(&part))
                .cloned()
                .collect();
            let n = namespaces.len();
            return Ok(Found {
                namespaces: namespaces.into_iter().take(limit).collect(),
                matching: n,
                checked: n,
            });
        }
        let matching: Vec<String> = candidates
            .names
            .iter()
            .filter(|ns| ns.contains(&part))
            .cloned()
            .collect();
        if self.may_list(kube, "").await? {
            let namespaces: Vec<String> = matching.iter().take(limit).cloned().collect();
            return Ok(Found {
                checked: namespaces.len(),
                matching: matching.len(),
                namespaces,
            });
        }
        let to_check = &matching[..matching.len().min(FIND_CHECKS)];
        let namespaces = self.check(kube, to_check, limit).await?;
        Ok(Found {
            namespaces,
            matching: matching.len(),
            checked: to_check.len(),
        })
    }

    /// The namespaces the person may see, sorted: the configured ones, or
    /// those the API server lists for them (none when it refuses).
    async fn candidates(
        &self,
        kube: &UserKube,
        configured: &[String],
    ) -> Result<Arc<Candidates>, KubeFailure> {
        let key = Recent::<Arc<Candidates>>::key(kube, "namespace-candidates");
        if let Some(candidates) = self.candidates.get(&key) {
            return Ok(candidates);
        }
        let user = &kube.user().username;
        // An empty setting (`STRONGROOM_NAMESPACES=""`) configures none.
        let configured: Vec<String> = configured
            .iter()
            .map(|ns| ns.trim())
            .filter(|ns| !ns.is_empty())
            .map(str::to_string)
            .collect();
        let listed = configured.is_empty();
        let mut names = if listed {
            match kube.namespace_names().await {
                Ok(names) => names,
                Err(KubeError::Api { code: 403, .. }) => Vec::new(),
                Err(e) => return Err(KubeFailure::new(e, user, "list", "namespaces", None)),
            }
        } else {
            configured
        };
        names.sort();
        names.dedup();
        let candidates = Arc::new(Candidates { names, listed });
        self.candidates.put(key, candidates.clone());
        Ok(candidates)
    }

    /// Whether the person may list secrets in `ns` (all namespaces for
    /// ""), remembered.
    async fn may_list(&self, kube: &UserKube, ns: &str) -> Result<bool, KubeFailure> {
        let key = Recent::<bool>::key(kube, &format!("list-secrets\n{ns}"));
        if let Some(answer) = self.checks.get(&key) {
            return Ok(answer);
        }
        let answer = kube.can_i("list", "secrets", ns).await.map_err(|e| {
            KubeFailure::new(
                e,
                &kube.user().username,
                "create",
                "selfsubjectaccessreviews",
                None,
            )
        })?;
        self.checks.put(key, answer);
        Ok(answer)
    }

    /// Those of `namespaces` (sorted) where the person may list secrets,
    /// the first `limit` of them, asking [`REVIEWS_IN_FLIGHT`] at a time.
    async fn check(
        &self,
        kube: &UserKube,
        namespaces: &[String],
        limit: usize,
    ) -> Result<Vec<String>, KubeFailure> {
        // Owned names: a closure over `&String` trips the compiler's
        // higher-ranked lifetime check when the handler future must be Send.
        let reviews = namespaces.iter().cloned().map(|ns| async move {
            let allowed = self.may_list(kube, &ns).await;
            (ns, allowed)
        });
        let mut answers = stream::iter(reviews).buffered(REVIEWS_IN_FLIGHT);
        let mut found = Vec::new();
        while let Some((ns, allowed)) = answers.next().await {
            if allowed? {
                found.push(ns);
                if found.len() >= limit {
                    break;
                }
            }
        }
        Ok(found)
    }
}
