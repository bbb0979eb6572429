//! Typed verbs on one namespace's Secrets, as the handle's user: what
//! kube-rs's `Api<Secret>` offers, over the impersonating [`UserKube`]
//! transport (whose guard refuses anything not impersonated).
//!
//! `list` asks for the API server's Table rendering with metadata-only
//! objects, so a list never carries values into Strongroom. The one
//! exception is `list_with_values`, for the certificate scan, whose values
//! are parsed on the server and never sent on.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::Secret,
    apimachinery::pkg::apis::meta::v1::{OwnerReference, Time},
};
use kube::api::{DeleteParams, PostParams, Preconditions};
use serde::Deserialize;

use super::{KubeError, UserKube};

/// Secrets of one namespace, as one user.
pub struct SecretsApi<'a> {
    kube: &'a UserKube,
    namespace: String,
}

/// What one page of a metadata-only list asks for.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    /// Page size.
    pub limit: usize,
    /// The previous page's continue token.
    pub continue_token: Option<String>,
    /// A label selector.
    pub label_selector: Option<String>,
    /// Only this `type`.
    pub type_: Option<String>,
}

/// The metadata a list row shows. Read from the row's object without its
/// `managedFields`, which are most of each row's bytes and which nothing
/// here uses: a long search parses thousands of rows per answer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowMeta {
    #[serde(default)]
    pub name: String,
    pub creation_timestamp: Option<Time>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Only the annotations a list uses ([`LIST_ANNOTATIONS`]): others
    /// are skipped unread, among them `kubectl apply`'s
    /// `last-applied-configuration`, which holds the values.
    #[serde(default, deserialize_with = "list_annotations")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub owner_references: Vec<OwnerReference>,
}

/// The annotations a list row keeps: the rotation period, and what tells
/// who owns a secret (Helm, cert-manager, a ServiceAccount).
pub const LIST_ANNOTATIONS: &[&str] = &[
    "strongroom.dev/rotate-every",
    "meta.helm.sh/release-name",
    "cert-manager.io/certificate-name",
    "kubernetes.io/service-account.name",
];

fn list_annotations<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    struct Keep;
    impl<'de> serde::de::Visitor<'de> for Keep {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of annotations")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut kept = BTreeMap::new();
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if LIST_ANNOTATIONS.contains(&key.as_ref()) {
                    kept.insert(key.into_owned(), map.next_value::<String>()?);
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            Ok(kept)
        }
    }
    deserializer.deserialize_any(Keep)
}

/// One row of the Table: a secret's metadata and key count.
#[derive(Clone, Debug)]
pub struct SecretRow {
    pub metadata: RowMeta,
    /// The `type`, as the Table shows it.
    pub type_: Option<String>,
    /// How many keys it has.
    pub keys: Option<usize>,
}

/// One page of a metadata-only list.
#[derive(Clone, Debug, Default)]
pub struct SecretTable {
    pub rows: Vec<SecretRow>,
    /// The token for the next page; `None` at the end.
    pub continue_token: Option<String>,
    /// How many secrets come after this page, when the API server says
    /// (it does not for a label or field selector).
    pub remaining: Option<u64>,
}

/// One page of a list with values.
pub struct SecretList {
    pub items: Vec<Secret>,
    /// The token for the next page; `None` at the end.
    pub continue_token: Option<String>,
}

impl std::fmt::Debug for SecretList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretList")
            .field("items", &self.items.len())
            .field("continue_token", &self.continue_token.is_some())
            .finish()
    }
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
    #[serde(rename = "remainingItemCount")]
    remaining: Option<i64>,
}

#[derive(Deserialize)]
struct Row {
    cells: Vec<serde_json::Value>,
    object: Option<RowObject>,
}

#[derive(Deserialize)]
struct RowObject {
    metadata: RowMeta,
}

impl UserKube {
    /// The Secrets of `namespace`, as this handle's user.
    pub fn secrets(&self, namespace: &str) -> SecretsApi<'_> {
        SecretsApi {
            kube: self,
            namespace: namespace.to_string(),
        }
    }
}

fn config(e: impl std::fmt::Display) -> KubeError {
    KubeError::Config(e.to_string())
}

impl SecretsApi<'_> {
    fn path(&self) -> String {
        format!("/api/v1/namespaces/{}/secrets", self.namespace)
    }

    fn request(&self) -> kube::core::Request {
        kube::core::Request::new(self.path())
    }

    /// Reads one secret, values included (they stay on the server).
    pub async fn get(&self, name: &str) -> Result<Secret, KubeError> {
        let request = self
            .request()
            .get(name, &Default::default())
            .map_err(config)?;
        self.kube.call(request).await
    }

    /// One page of the namespace's secrets as a metadata-only Table.
    pub async fn list(&self, params: &ListParams) -> Result<SecretTable, KubeError> {
        let mut query = vec![
            format!("limit={}", params.limit),
            "includeObject=Metadata".to_string(),
        ];
        if let Some(c) = params.continue_token.as_deref().filter(|c| !c.is_empty()) {
            query.push(format!("continue={}", urlencode(c)));
        }
        if let Some(l) = params.label_selector.as_deref().filter(|l| !l.is_empty()) {
            query.push(format!("labelSelector={}", urlencode(l)));
        }
        if let Some(t) = params.type_.as_deref().filter(|t| !t.is_empty()) {
            query.push(format!("fieldSelector={}", urlencode(&format!("type={t}"))));
        }
        let request = http::Request::get(format!("{}?{}", self.path(), query.join("&")))
            .header(
                http::header::ACCEPT,
                // No plain-JSON fallback: an answer that is not a Table (which
                // would carry values) is refused by the API server instead.
                "application/json;as=Table;v=v1;g=meta.k8s.io",
            )
            .body(Vec::new())
            .map_err(config)?;
        let table: Table = self.kube.call(request).await?;
        let col = |name: &str| {
            table
                .columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
        };
        let (type_col, data_col) = (col("Type"), col("Data"));
        let rows = table
            .rows
            .into_iter()
            .filter_map(|row| {
                let object = row.object?;
                Some(SecretRow {
                    metadata: object.metadata,
                    type_: type_col
                        .and_then(|i| row.cells.get(i))
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                    keys: data_col
                        .and_then(|i| row.cells.get(i))
                        .and_then(|v| v.as_u64())
                        .map(|n| n as usize),
                })
            })
            .collect();
        Ok(SecretTable {
            rows,
            continue_token: table.metadata.continue_token.filter(|c| !c.is_empty()),
            remaining: table.metadata.remaining.and_then(|n| u64::try_from(n).ok()),
        })
    }

    /// One page of the namespace's secrets with their values (a plain
    /// list, which the user's `list` permission allows). Only the
    /// certificate scan uses it; the values stay on the server.
    pub async fn list_with_values(
        &self,
        limit: usize,
        continue_token: Option<&str>,
    ) -> Result<SecretList, KubeError> {
        let mut query = format!("limit={limit}");
        if let Some(c) = continue_token.filter(|c| !c.is_empty()) {
            query.push_str(&format!("&continue={}", urlencode(c)));
        }
        let request = http::Request::get(format!("{}?{query}", self.path()))
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(config)?;
        let list: kube::core::ObjectList<Secret> = self.kube.call(request).await?;
        Ok(SecretList {
            continue_token: list.metadata.continue_.filter(|c| !c.is_empty()),
            items: list.items,
        })
    }

    /// Creates `secret` (its namespace is this API's).
    pub async fn create(&self, secret: &Secret) -> Result<Secret, KubeError> {
        let body = serde_json::to_vec(secret).map_err(config)?;
        let request = self
            .request()
            .create(&PostParams::default(), body)
            .map_err(config)?;
        self.kube.call(request).await
    }

    /// Replaces the secret `name` with `secret`. The resourceVersion in its
    /// metadata makes the API server refuse (409) a write over a change it
    /// has not seen.
    pub async fn replace(&self, name: &str, secret: &Secret) -> Result<Secret, KubeError> {
        let body = serde_json::to_vec(secret).map_err(config)?;
        let request = self
            .request()
            .replace(name, &PostParams::default(), body)
            .map_err(config)?;
        self.kube.call(request).await
    }

    /// Deletes the secret `name`, only if it still has `resource_version`
    /// when one is given.
    pub async fn delete(
        &self,
        name: &str,
        resource_version: Option<String>,
    ) -> Result<(), KubeError> {
        let params = DeleteParams {
            preconditions: resource_version.map(|rv| Preconditions {
                resource_version: Some(rv),
                uid: None,
            }),
            ..Default::default()
        };
        let request = self.request().delete(name, &params).map_err(config)?;
        self.kube.call_raw(request).await.map(drop)
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_row_keeps_only_the_annotations_a_list_uses() {
        let meta: RowMeta = serde_json::from_value(serde_json::json!({
            "name": "db",
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"aHVudGVyMg==\"}}",
                "strongroom.dev/rotate-every": "30d",
                "meta.helm.sh/release-name": "db",
                "team": "payments"
            },
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:data": {}}}]
        }))
        .unwrap();
        assert_eq!(
            meta.annotations,
            BTreeMap::from([
                ("meta.helm.sh/release-name".to_string(), "db".to_string()),
                ("strongroom.dev/rotate-every".to_string(), "30d".to_string()),
            ])
        );
        let none: RowMeta =
            serde_json::from_value(serde_json::json!({"name": "x", "annotations": null})).unwrap();
        assert!(none.annotations.is_empty());
    }
}
