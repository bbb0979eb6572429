//! The metadata view of a secret that every answer about one uses: keys and
//! sizes, labels, annotations, owners; never values.

use std::collections::BTreeMap;

use strongroom_app::api::{KeyInfo, SecretDetail};

/// Annotations never shown (nor sent to the browser): kubectl apply keeps
/// the whole object, values included, in this one. Edits keep them as they
/// are, since nobody could have edited what they were not shown.
pub const HIDDEN_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];

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
    let type_ = secret.type_.unwrap_or_else(|| "Opaque".into());
    let owner_references = meta.owner_references.unwrap_or_default();
    let labels = meta.labels.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    let owner = super::owner::owner_of(&owner_references, &labels, &annotations, &type_);
    // kubectl apply keeps the whole object, values included, in this
    // annotation: never pass it on.
    annotations.retain(|k, _| !HIDDEN_ANNOTATIONS.contains(&k.as_str()));
    SecretDetail {
        namespace: ns.to_string(),
        name: meta.name.unwrap_or_default(),
        type_,
        keys: keys
            .into_iter()
            .map(|(name, size)| KeyInfo { name, size })
            .collect(),
        labels,
        annotations,
        immutable: secret.immutable.unwrap_or(false),
        owners: owner_references
            .into_iter()
            .map(|o| format!("{}/{}", o.kind, o.name))
            .collect(),
        created: meta.creation_timestamp.map(|t| t.0.to_string()),
        resource_version: meta.resource_version.unwrap_or_default(),
        uid: meta.uid,
        owner,
    }
}
