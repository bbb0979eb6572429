//! The "Used by" answer: every object of the secret's namespace that
//! references it, read as the signed-in user.
//!
//! Work is bounded: each kind is listed in pages of [`PAGE_SIZE`] up to a
//! scan limit per kind (the answer says "first N scanned" when it stops),
//! at most [`CONCURRENT_LISTS`] lists run at once, and an object that does
//! not decode is counted and skipped. A kind the user may not list (403) is
//! named in `not_visible`; any other failure of a kind in `failed`.

use std::collections::{BTreeMap, BTreeSet};

use futures::{FutureExt, StreamExt, future::BoxFuture};
use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::{DaemonSet, Deployment, StatefulSet},
        batch::v1::{CronJob, Job},
        core::v1::{Pod, ServiceAccount},
        networking::v1::Ingress,
    },
};
use kube::Resource;
use serde::de::DeserializeOwned;
use strongroom_app::api::usage::{
    Consumer, KindFailure, SecretUsage, Truncated, WorkloadKind, WorkloadRef,
};

use super::analysis::{self, Referrer};
use crate::{
    domain::{KubeFailure, secrets::SecretsError},
    infra::cluster::{KubeError, UserKube, workloads::WorkloadsApi},
};

/// Objects per list page.
pub const PAGE_SIZE: usize = 500;

/// The default of the most objects scanned per kind.
pub const DEFAULT_SCAN_LIMIT: usize = 2000;

/// Lists that run at the same time.
pub const CONCURRENT_LISTS: usize = 3;

/// What scanning one kind found.
#[derive(Debug, Default)]
struct KindScan {
    /// The consumers and, for Pods and Jobs, their controllers.
    found: Vec<(Consumer, Option<WorkloadRef>)>,
    scanned: usize,
    /// Whether objects were left unscanned.
    truncated: bool,
    malformed: usize,
}

/// Lists objects of kind `K` page by page, up to `limit`, keeping those
/// that reference `secret`.
async fn scan_kind<K>(
    api: &WorkloadsApi<'_>,
    secret: &str,
    limit: usize,
) -> Result<KindScan, KubeError>
where
    K: Referrer + Resource<DynamicType = (), Scope = NamespaceResourceScope> + DeserializeOwned,
{
    let mut out = KindScan::default();
    let mut token: Option<String> = None;
    loop {
        let want = PAGE_SIZE.min(limit - out.scanned).max(1);
        let page = match api.list::<K>(want as u32, token.as_deref()).await {
            Ok(page) => page,
            // The continue token expired (410) after the first page: what
            // was scanned stands, the rest is reported as not scanned.
            Err(e) if e.status() == Some(410) && token.is_some() => {
                out.truncated = true;
                return Ok(out);
            }
            Err(e) => return Err(e),
        };
        out.scanned += page.items.len() + page.malformed;
        out.malformed += page.malformed;
        for object in &page.items {
            if let Some(consumer) = analysis::consumer(object, secret) {
                let owner = matches!(K::KIND, WorkloadKind::Pod | WorkloadKind::Job)
                    .then(|| analysis::controller(object.meta()))
                    .flatten();
                out.found.push((consumer, owner));
            }
        }
        token = page.continue_token;
        match token {
            None => return Ok(out),
            Some(_) if out.scanned >= limit => {
                out.truncated = true;
                return Ok(out);
            }
            Some(_) => {}
        }
    }
}

/// The key names of the secret, when the user may read it (its values are
/// dropped at once); `None` when Kubernetes does not let them.
async fn key_names(
    kube: &UserKube,
    ns: &str,
    secret: &str,
) -> Result<Option<BTreeSet<String>>, SecretsError> {
    match kube.secrets(ns).get(secret).await {
        Ok(s) => Ok(Some(
            s.data
                .unwrap_or_default()
                .into_keys()
                .chain(s.string_data.unwrap_or_default().into_keys())
                .collect(),
        )),
        Err(e) if e.status() == Some(403) => Ok(None),
        Err(e) => Err(KubeFailure::new(
            e,
            &kube.user().username,
            "get",
            format!("secret {secret}"),
            Some(ns),
        )
        .into()),
    }
}

/// A sentence for a kind that could not be listed for another reason than
/// RBAC. It carries the API server's reason, never a body.
fn failure_message(kind: WorkloadKind, e: &KubeError) -> String {
    match e {
        KubeError::Api { code: 404, .. } => {
            format!("{} are not served by this cluster.", kind.plural())
        }
        KubeError::Api { code, reason, .. } => format!(
            "The Kubernetes API answered the list of {} with {code} {reason}.",
            kind.plural()
        ),
        KubeError::Unreachable(_) => format!(
            "The Kubernetes API did not answer the list of {} in time.",
            kind.plural()
        ),
        KubeError::Decode(_) | KubeError::Config(_) => {
            format!("The list of {} could not be read.", kind.plural())
        }
    }
}

/// The objects of `ns` that reference the secret `secret`, as the handle's
/// user, scanning at most `scan_limit` objects of each kind.
pub async fn usage(
    kube: &UserKube,
    ns: &str,
    secret: &str,
    scan_limit: usize,
) -> Result<SecretUsage, SecretsError> {
    super::check_secret_path(ns, secret)?;
    let scan_limit = scan_limit.max(1);
    let keys = key_names(kube, ns, secret).await?;
    let api = kube.workloads(ns);
    let api = &api;
    let scans: Vec<BoxFuture<'_, (WorkloadKind, Result<KindScan, KubeError>)>> = vec![
        scan_kind::<Deployment>(api, secret, scan_limit)
            .map(|r| (WorkloadKind::Deployment, r))
            .boxed(),
        scan_kind::<StatefulSet>(api, secret, scan_limit)
            .map(|r| (WorkloadKind::StatefulSet, r))
            .boxed(),
        scan_kind::<DaemonSet>(api, secret, scan_limit)
            .map(|r| (WorkloadKind::DaemonSet, r))
            .boxed(),
        scan_kind::<CronJob>(api, secret, scan_limit)
            .map(|r| (WorkloadKind::CronJob, r))
            .boxed(),
        scan_kind::<Job>(api, secret, scan_limit)
            .map(|r| (WorkloadKind::Job, r))
            .boxed(),
        scan_kind::<Pod>(api, secret, scan_limit)
            .map(|r| (WorkloadKind::Pod, r))
            .boxed(),
        scan_kind::<ServiceAccount>(api, secret, scan_limit)
            .map(|r| (WorkloadKind::ServiceAccount, r))
            .boxed(),
        scan_kind::<Ingress>(api, secret, scan_limit)
            .map(|r| (WorkloadKind::Ingress, r))
            .boxed(),
    ];
    let mut results: Vec<(WorkloadKind, Result<KindScan, KubeError>)> =
        futures::stream::iter(scans)
            .buffer_unordered(CONCURRENT_LISTS)
            .collect()
            .await;
    results.sort_by_key(|(kind, _)| WorkloadKind::ALL.iter().position(|k| k == kind));

    let mut answer = SecretUsage {
        consumers: vec![],
        not_visible: vec![],
        truncated: vec![],
        failed: vec![],
        skipped_malformed: 0,
        keys_checked: keys.is_some(),
        scan_limit,
    };
    let mut consumers = Vec::new();
    let mut owners = BTreeMap::new();
    for (kind, result) in results {
        match result {
            Ok(scan) => {
                if scan.truncated {
                    answer.truncated.push(Truncated {
                        kind,
                        scanned: scan.scanned,
                    });
                }
                answer.skipped_malformed += scan.malformed;
                for (mut consumer, owner) in scan.found {
                    if let Some(keys) = &keys {
                        analysis::flag_missing(&mut consumer.uses, keys);
                    }
                    if let Some(owner) = owner {
                        owners.insert(
                            WorkloadRef {
                                kind,
                                name: consumer.name.clone(),
                            },
                            owner,
                        );
                    }
                    consumers.push(consumer);
                }
            }
            Err(e) if super::refused_impersonation(&e) => {
                tracing::warn!(error = %e, kind = kind.as_str(), "usage: Strongroom may not impersonate for this kind");
                answer.failed.push(KindFailure {
                    kind,
                    message: format!(
                        "Strongroom's own permissions do not let it list {} on your behalf (its impersonation is limited); ask your platform team.",
                        kind.plural()
                    ),
                });
            }
            Err(e) if e.status() == Some(403) => answer.not_visible.push(kind),
            Err(e) => {
                tracing::warn!(error = %e, kind = kind.as_str(), namespace = %ns, "usage: a kind could not be listed");
                answer.failed.push(KindFailure {
                    kind,
                    message: failure_message(kind, &e),
                });
            }
        }
    }
    answer.consumers = analysis::assemble(consumers, &owners);
    Ok(answer)
}
