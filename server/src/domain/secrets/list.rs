//! Listing a namespace's secrets and showing one: metadata only.
//!
//! The list asks the API server for its Table rendering with metadata-only
//! objects (what `kubectl get secrets` shows: name, type, key count, age),
//! so values never even reach Strongroom for a list.

use std::time::{Duration, Instant};

use strongroom_app::api::{Searched, SecretDetail, SecretPage, SecretSummary};

use super::{SecretsError, age::Ages, check_path, view::describe};
use crate::{
    domain::KubeFailure,
    infra::cluster::{
        KubeError, UserKube,
        secrets::{ListParams, SecretTable},
    },
};

/// A name search reads the list in pages this large.
const SEARCH_PAGE: usize = 2_000;

/// How long a name search reads on before answering, unless configured.
pub const SEARCH_BUDGET: Duration = Duration::from_millis(800);

/// The `continue` of a search answer that stopped inside one of the API
/// server's pages: this prefix, the last name it answered with, a colon,
/// and the API server's token for that page (empty for the first). The
/// next answer reads that page again and starts after the name: rows come
/// in name order, so a secret created or deleted meanwhile shifts nothing.
const SEARCH_TOKEN: &str = "strongroom-search.v2:";

/// Name searches running at once, server-wide: each holds a page of up to
/// 2,000 rows' metadata; the others wait their turn.
static SEARCHES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

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
    /// How long a name search reads before answering ([`SEARCH_BUDGET`]
    /// when not given). It always reads at least one page.
    pub search_budget: Option<Duration>,
}

/// Where a list answer starts: the API server's token, and for a search
/// answer that stopped inside a page, the last name it answered with.
fn resume(
    token: Option<&str>,
    searching: bool,
) -> Result<(Option<String>, Option<String>), SecretsError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok((None, None));
    };
    let Some(rest) = token.strip_prefix(SEARCH_TOKEN) else {
        return Ok((Some(token.to_string()), None));
    };
    let bad =
        || SecretsError::invalid("continue", "this continue token is not one Strongroom gave");
    if !searching {
        return Err(SecretsError::invalid(
            "continue",
            "this continue token continues a name search: pass the same name",
        ));
    }
    let (after, api) = rest.split_once(':').ok_or_else(bad)?;
    let name_chars = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    if after.is_empty() || after.len() > 253 || !after.chars().all(name_chars) {
        return Err(bad());
    }
    Ok((
        (!api.is_empty()).then(|| api.to_string()),
        Some(after.to_string()),
    ))
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
    let searching = !needle.is_empty();
    // The API server cannot match part of a name, so a search reads on
    // through the list until the page is full, the list ends or its time is
    // up, and says how far it got; `continue` reads on from there.
    let fetch = if searching { SEARCH_PAGE } else { limit };
    let budget = q.search_budget.unwrap_or(SEARCH_BUDGET);
    let (mut token, mut after) = resume(q.continue_token.as_deref(), searching)?;
    // The semaphore is never closed: a permit always comes.
    let _turn = match searching {
        true => SEARCHES.acquire().await.ok(),
        false => None,
    };
    let started = Instant::now();
    let api = kube.secrets(ns);
    let mut items = Vec::new();
    let mut hidden = 0;
    let mut read = 0u64;
    let mut remaining;
    let next = loop {
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
        let rows = table.rows.len();
        let mut stopped = None;
        for (i, row) in table.rows.into_iter().enumerate() {
            let meta = row.metadata;
            if after
                .as_deref()
                .is_some_and(|after| meta.name.as_str() <= after)
            {
                continue;
            }
            read += 1;
            let type_ = row.type_.unwrap_or_else(|| "Opaque".to_string());
            if !q.all && HIDDEN_TYPES.contains(&type_.as_str()) {
                hidden += 1;
                continue;
            }
            if searching && !meta.name.contains(&needle) {
                continue;
            }
            let owner = super::owner::owner_of(
                &meta.owner_references,
                &meta.labels,
                &meta.annotations,
                &type_,
            );
            items.push((
                SecretSummary {
                    name: meta.name,
                    type_,
                    keys: row.keys,
                    created: meta.creation_timestamp.map(|t| t.0.to_string()),
                    labels: meta.labels,
                    age: Default::default(),
                    owner,
                },
                meta.annotations,
            ));
            if searching && items.len() >= limit {
                stopped = Some(i + 1);
                break;
            }
        }
        after = None;
        if let Some(at) = stopped.filter(|&at| at < rows) {
            // The page is full inside the API server's page: the next
            // answer reads that page again, after the last name here.
            let unread = (rows - at) as u64;
            remaining = match &table.continue_token {
                None => Some(unread),
                Some(_) => table.remaining.map(|r| r + unread),
            };
            let last = &items.last().expect("a full page").0.name;
            break Some(format!(
                "{SEARCH_TOKEN}{last}:{}",
                token.unwrap_or_default()
            ));
        }
        remaining = match &table.continue_token {
            None => Some(0),
            Some(_) => table.remaining,
        };
        if table.continue_token.is_none()
            || !searching
            || items.len() >= limit
            || started.elapsed() >= budget
        {
            break table.continue_token;
        }
        token = table.continue_token;
    };
    ages.fill(kube, ns, &mut items).await;
    Ok(SecretPage {
        items: items.into_iter().map(|(summary, _)| summary).collect(),
        continue_token: next,
        hidden,
        searched: searching.then_some(Searched { read, remaining }),
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
