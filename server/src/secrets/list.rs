//! Listing a namespace's secrets and showing one: metadata only.
//!
//! The list asks the API server for its Table rendering with metadata-only
//! objects (what `kubectl get secrets` shows: name, type, key count, age),
//! so values never even reach Strongroom for a list.

use std::collections::BTreeMap;

use axum::extract::State;

use crate::http::extract::{Json, Path, Query};
use serde::Deserialize;
use strongroom_app::api::{KeyInfo, SecretDetail, SecretPage, SecretSummary};

use super::{NamespacePath, SecretPath, check_path, get_secret, kube_error, secrets_path};
use crate::{AppState, auth::CurrentUser, http::AppError, kube::KubeError};

/// How many pages of 500 a name filter reads at most per answer.
const MAX_FILTER_FETCHES: usize = 40;

/// Types hidden unless asked for: machinery, not what people manage here.
const HIDDEN_TYPES: &[&str] = &["helm.sh/release.v1", "kubernetes.io/service-account-token"];

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

#[derive(Deserialize)]
struct Table {
    #[serde(default, rename = "columnDefinitions")]
    columns: Vec<Column>,
    #[serde(default)]
    rows: Vec<Row>,
    #[serde(default)]
    metadata: TableMeta,
}

#[derive(Deserialize)]
struct Column {
    name: String,
}

#[derive(Deserialize, Default)]
struct TableMeta {
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

#[derive(Deserialize)]
struct Row {
    cells: Vec<serde_json::Value>,
    object: Option<RowObject>,
}

#[derive(Deserialize)]
struct RowObject {
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
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
    check_path(&ns, None)?;
    let limit = match q.limit {
        None => 100,
        Some(n @ 1..=500) => n as usize,
        Some(_) => {
            return Err(AppError::invalid(
                "limit",
                "limit must be between 1 and 500",
            ));
        }
    };
    let kube = state.kube.for_user(&user);
    let needle = q.name.as_deref().unwrap_or("").to_lowercase();
    // The API server cannot filter by part of a name, so a name filter reads
    // on through the list until a page is full (or the list ends), rather
    // than answering with one mostly empty page.
    let (fetch, max_fetches) = if needle.is_empty() {
        (limit, 1)
    } else {
        (500, MAX_FILTER_FETCHES)
    };
    let mut items = Vec::new();
    let mut hidden = 0;
    let mut token = q.continue_token.clone().filter(|c| !c.is_empty());
    for _ in 0..max_fetches {
        let mut params = vec![
            format!("limit={fetch}"),
            "includeObject=Metadata".to_string(),
        ];
        if let Some(c) = &token {
            params.push(format!("continue={}", urlencode(c)));
        }
        if let Some(l) = q.label.as_deref().filter(|l| !l.is_empty()) {
            params.push(format!("labelSelector={}", urlencode(l)));
        }
        if let Some(t) = q.type_.as_deref().filter(|t| !t.is_empty()) {
            params.push(format!("fieldSelector={}", urlencode(&format!("type={t}"))));
        }
        let uri = format!("{}?{}", secrets_path(&ns), params.join("&"));
        let request = http::Request::get(uri)
            .header(
                http::header::ACCEPT,
                "application/json;as=Table;v=v1;g=meta.k8s.io, application/json",
            )
            .body(Vec::new())
            .map_err(|e| AppError::internal(e.to_string()))?;
        let table: Table = kube.call(request).await.map_err(|e| match e {
            KubeError::Api { code: 410, .. } => AppError::Conflict(
                "The list changed too much while paging; start again from the first page.".into(),
            ),
            e => kube_error(e, &user, "list", "secrets", Some(&ns)),
        })?;
        let col = |name: &str| {
            table
                .columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
        };
        let (type_col, data_col) = (col("Type"), col("Data"));
        for row in table.rows {
            let Some(object) = row.object else { continue };
            let meta = object.metadata;
            let name = meta.name.unwrap_or_default();
            let type_ = type_col
                .and_then(|i| row.cells.get(i))
                .and_then(|v| v.as_str())
                .unwrap_or("Opaque")
                .to_string();
            if !q.all && HIDDEN_TYPES.contains(&type_.as_str()) {
                hidden += 1;
                continue;
            }
            if !needle.is_empty() && !name.to_lowercase().contains(&needle) {
                continue;
            }
            items.push(SecretSummary {
                name,
                type_,
                keys: data_col
                    .and_then(|i| row.cells.get(i))
                    .and_then(|v| v.as_u64())
                    .map(|n| n as usize),
                created: meta.creation_timestamp.map(|t| t.0.to_string()),
                labels: meta.labels.unwrap_or_default(),
            });
        }
        token = table.metadata.continue_token.filter(|c| !c.is_empty());
        if token.is_none() || items.len() >= limit {
            break;
        }
    }
    Ok(Json(SecretPage {
        items,
        continue_token: token,
        hidden,
    }))
}

#[utoipa::path(get, path = "/api/v1/namespaces/{ns}/secrets/{name}", tag = "secrets",
    params(SecretPath),
    responses((status = 200, description = "The secret's metadata and key sizes, never its values", body = SecretDetail)))]
pub async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(SecretPath { ns, name }): Path<SecretPath>,
) -> Result<Json<SecretDetail>, AppError> {
    check_path(&ns, Some(&name))?;
    let kube = state.kube.for_user(&user);
    let secret = get_secret(&kube, &ns, &name)
        .await
        .map_err(|e| kube_error(e, &user, "get", &format!("secret {name}"), Some(&ns)))?;
    Ok(Json(describe(&ns, secret)))
}

/// The metadata view of a secret: keys and sizes, never values.
pub fn describe(ns: &str, secret: k8s_openapi::api::core::v1::Secret) -> SecretDetail {
    let meta = secret.metadata;
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    for (k, v) in secret.data.unwrap_or_default() {
        keys.insert(k, v.0.len());
    }
    // stringData is write-only in the API, but count it if a server returns it.
    for (k, v) in secret.string_data.unwrap_or_default() {
        keys.entry(k).or_insert(v.len());
    }
    let mut annotations = meta.annotations.unwrap_or_default();
    // kubectl apply keeps the whole object, values included, in this
    // annotation: never pass it on.
    annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    SecretDetail {
        namespace: ns.to_string(),
        name: meta.name.unwrap_or_default(),
        type_: secret.type_.unwrap_or_else(|| "Opaque".into()),
        keys: keys
            .into_iter()
            .map(|(name, size)| KeyInfo { name, size })
            .collect(),
        labels: meta.labels.unwrap_or_default(),
        annotations,
        immutable: secret.immutable.unwrap_or(false),
        owners: meta
            .owner_references
            .unwrap_or_default()
            .into_iter()
            .map(|o| format!("{}/{}", o.kind, o.name))
            .collect(),
        created: meta.creation_timestamp.map(|t| t.0.to_string()),
        resource_version: meta.resource_version.unwrap_or_default(),
        uid: meta.uid,
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
