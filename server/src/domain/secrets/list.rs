//! Listing a namespace's secrets and showing one: metadata only.
//!
//! The list asks the API server for its Table rendering with metadata-only
//! objects (what `kubectl get secrets` shows: name, type, key count, age),
//! so values never even reach Strongroom for a list.

use strongroom_app::api::{SecretDetail, SecretPage, SecretSummary};

use super::{SecretsError, age::Ages, check_path, view::describe};
use crate::{
    domain::KubeFailure,
    infra::cluster::{
        KubeError, UserKube,
        secrets::{ListParams, SecretTable},
    },
};

/// How many pages of 500 a name filter reads at most per answer.
const MAX_FILTER_FETCHES: usize = 40;

/// Types hidden unless asked for: machinery, not what people manage here.
const HIDDEN_TYPES: &[&str] = &["helm.sh/release.v1", "kubernetes.io/service-account-token"];

/// What a person asks the list for.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    /// Page size (1-500; 100 when not given).
    pub limit: Option<u32>,
    /// The `continue` of the previous page.
    pub continue_token: Option<String>,
    /// Substring of the name.
    pub name: Option<String>,
    /// A Kubernetes label selector.
    pub label: Option<String>,
    /// Exact type.
    pub type_: Option<String>,
    /// Show Helm release and service-account-token secrets too.
    pub all: bool,
}

/// One page of `ns`'s secrets, as the user may see them.
/// Each row carries the age of its values (see [`super::age`]).
pub async fn list(
    kube: &UserKube,
    ages: Ages<'_>,
    ns: &str,
    q: &ListRequest,
) -> Result<SecretPage, SecretsError> {
    check_path(ns, None)?;
    let limit = match q.limit {
        None => 100,
        Some(n @ 1..=500) => n as usize,
        Some(_) => {
            return Err(SecretsError::invalid(
                "limit",
                "limit must be between 1 and 500",
            ));
        }
    };
    let needle = q.name.as_deref().unwrap_or("").to_lowercase();
    // The API server cannot filter by part of a name, so a name filter reads
    // on through the list until a page is full (or the list ends), rather
    // than answering with one mostly empty page.
    let (fetch, max_fetches) = if needle.is_empty() {
        (limit, 1)
    } else {
        (500, MAX_FILTER_FETCHES)
    };
    let api = kube.secrets(ns);
    let mut items = Vec::new();
    let mut hidden = 0;
    let mut token = q.continue_token.clone().filter(|c| !c.is_empty());
    for _ in 0..max_fetches {
        let params = ListParams {
            limit: fetch,
            continue_token: token.clone(),
            label_selector: q.label.clone(),
            type_: q.type_.clone(),
        };
        let table: SecretTable = api.list(&params).await.map_err(|e| match e {
            KubeError::Api { code: 410, .. } => SecretsError::ListExpired,
            e => KubeFailure::new(e, &kube.user().username, "list", "secrets", Some(ns)).into(),
        })?;
        for row in table.rows {
            let meta = row.metadata;
            let name = meta.name.unwrap_or_default();
            let type_ = row.type_.unwrap_or_else(|| "Opaque".to_string());
            if !q.all && HIDDEN_TYPES.contains(&type_.as_str()) {
                hidden += 1;
                continue;
            }
            if !needle.is_empty() && !name.to_lowercase().contains(&needle) {
                continue;
            }
            let labels = meta.labels.unwrap_or_default();
            let annotations = meta.annotations.unwrap_or_default();
            let owner = super::owner::owner_of(
                meta.owner_references.as_deref().unwrap_or_default(),
                &labels,
                &annotations,
                &type_,
            );
            items.push((
                SecretSummary {
                    name,
                    type_,
                    keys: row.keys,
                    created: meta.creation_timestamp.map(|t| t.0.to_string()),
                    labels,
                    age: Default::default(),
                    owner,
                },
                annotations,
            ));
        }
        token = table.continue_token;
        if token.is_none() || items.len() >= limit {
            break;
        }
    }
    ages.fill(kube, ns, &mut items).await;
    Ok(SecretPage {
        items: items.into_iter().map(|(summary, _)| summary).collect(),
        continue_token: token,
        hidden,
    })
}

/// One secret's metadata and key sizes, never its values.
pub async fn detail(kube: &UserKube, ns: &str, name: &str) -> Result<SecretDetail, SecretsError> {
    check_path(ns, Some(name))?;
    let secret = kube.secrets(ns).get(name).await.map_err(|e| {
        KubeFailure::new(
            e,
            &kube.user().username,
            "get",
            format!("secret {name}"),
            Some(ns),
        )
    })?;
    Ok(describe(ns, secret))
}
