//! Changing a secret (add, replace or remove keys; labels; annotations) and
//! deleting it. Updates are based on the resourceVersion the user saw: a
//! concurrent change is a conflict, never a silent overwrite.

use k8s_openapi::ByteString;
use strongroom_app::{
    api::{SecretDetail, UpdateSecretRequest},
    secrets::rules,
};

use super::{
    SecretsError,
    build::check_metadata,
    check_path, decode_b64, record_change, settle,
    view::{HIDDEN_ANNOTATIONS, describe},
};
use crate::{
    domain::{
        KubeFailure,
        audit::{AuditScope, Audited, Outcome},
    },
    infra::cluster::UserKube,
};

/// The most keys one change may remove.
pub const MAX_REMOVED_KEYS: usize = 1000;

/// Applies `req` to `ns/name` as the handle's user, if the secret is still
/// at the resourceVersion the person saw.
pub async fn update(
    kube: &UserKube,
    mut scope: AuditScope,
    ns: &str,
    name: &str,
    req: &UpdateSecretRequest,
) -> Result<Audited<SecretDetail>, SecretsError> {
    check_path(ns, Some(name))?;
    let mut changed_keys: Vec<String> = req
        .set
        .iter()
        .map(|e| e.key.clone())
        .chain(req.remove.iter().cloned())
        .collect();
    changed_keys.sort();
    changed_keys.dedup();
    for (i, k) in req.set.iter().map(|e| &e.key).enumerate() {
        rules::check_key(k).map_err(|m| SecretsError::invalid(format!("set.{i}.key"), m))?;
    }
    // Decoded before Kubernetes is asked: a bad value is refused without a
    // read of the secret.
    let set_values = req
        .set
        .iter()
        .enumerate()
        .map(|(i, e)| decode_b64(&format!("set.{i}.value"), &e.value))
        .collect::<Result<Vec<_>, _>>()?;
    // Keys to remove go into the record too: real key names, boundedly many.
    if req.remove.len() > MAX_REMOVED_KEYS {
        return Err(SecretsError::invalid(
            "remove",
            format!("remove at most {MAX_REMOVED_KEYS} keys at once"),
        ));
    }
    for (i, k) in req.remove.iter().enumerate() {
        rules::check_key(k).map_err(|m| SecretsError::invalid(format!("remove.{i}"), m))?;
    }
    check_metadata(
        &req.labels.clone().unwrap_or_default(),
        &req.annotations.clone().unwrap_or_default(),
    )?;
    scope
        .preflight()
        .await
        .map_err(SecretsError::AuditUnavailable)?;
    scope.set_keys(changed_keys.clone());
    let audit_id = scope.id().to_string();
    let kube = kube.with_audit_id(&audit_id);
    let user = kube.user().username.clone();
    let api = kube.secrets(ns);
    let failure = |e| KubeFailure::new(e, &user, "update", format!("secret {name}"), Some(ns));
    let mut secret = match api.get(name).await {
        Ok(s) => s,
        Err(e) => {
            let (outcome, status) = Outcome::of_error(&e);
            scope
                .record_refusal(outcome, status)
                .await
                .map_err(SecretsError::AuditUnavailable)?;
            return Err(failure(e).into());
        }
    };
    if secret.metadata.resource_version.as_deref() != Some(req.resource_version.as_str()) {
        scope
            .record_refusal(Outcome::Failed, Some(409))
            .await
            .map_err(SecretsError::AuditUnavailable)?;
        return Err(SecretsError::Conflict(format!(
            "The secret {name} was changed by someone else since you loaded it. Reload to see the current version; your input is kept."
        )));
    }
    let mut data = secret.data.take().unwrap_or_default();
    for k in &req.remove {
        data.remove(k);
    }
    for (e, value) in req.set.iter().zip(set_values) {
        data.insert(e.key.clone(), ByteString(value));
    }
    let entries: Vec<(String, Vec<u8>)> =
        data.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
    rules::check_data(&entries).map_err(|e| SecretsError::invalid(e.field, e.message))?;
    secret.data = Some(data);
    secret.string_data = None;
    if let Some(labels) = req.labels.clone() {
        secret.metadata.labels = Some(labels);
    }
    if let Some(annotations) = req.annotations.clone() {
        // The person edited the annotations they were shown; the hidden
        // ones (kubectl's last-applied-configuration) stay as they were.
        let mut kept = secret.metadata.annotations.take().unwrap_or_default();
        kept.retain(|k, _| HIDDEN_ANNOTATIONS.contains(&k.as_str()));
        kept.extend(annotations);
        secret.metadata.annotations = Some(kept);
    }
    // The resourceVersion we checked stays in metadata: the API server
    // refuses the write (409) if anything changed in between.
    let result = api.replace(name, &secret).await;
    let recorded = record_change(scope, &result, 200).await;
    let result = result.map_err(failure);
    let (receipt, updated) = settle(
        recorded,
        result,
        || format!("change to secret {name} was made"),
        &audit_id,
    )?;
    tracing::info!(audit.id = %audit_id, user.name = %user, secret.namespace = %ns, secret.name = %name, keys = ?changed_keys, "updated");
    Ok(Audited::new(receipt, describe(ns, updated)))
}

/// A deletion that happened (the edge adds its record's id).
#[derive(Debug)]
pub struct Deletion {
    /// The deleted secret's name.
    pub name: String,
}

/// Deletes `ns/name` as the handle's user, once the person has typed its
/// name (`confirm`), and only if it is still at `resource_version` when one
/// is given.
pub async fn delete(
    kube: &UserKube,
    scope: AuditScope,
    ns: &str,
    name: &str,
    confirm: &str,
    resource_version: Option<String>,
) -> Result<Audited<Deletion>, SecretsError> {
    check_path(ns, Some(name))?;
    if confirm != name {
        return Err(SecretsError::invalid(
            "confirm",
            format!("type the secret's name, {name}, to confirm"),
        ));
    }
    scope
        .preflight()
        .await
        .map_err(SecretsError::AuditUnavailable)?;
    let audit_id = scope.id().to_string();
    let kube = kube.with_audit_id(&audit_id);
    let user = kube.user().username.clone();
    let result = kube.secrets(ns).delete(name, resource_version).await;
    let recorded = record_change(scope, &result, 200).await;
    let result = result
        .map_err(|e| KubeFailure::new(e, &user, "delete", format!("secret {name}"), Some(ns)));
    let (receipt, ()) = settle(
        recorded,
        result,
        || format!("secret {name} was deleted"),
        &audit_id,
    )?;
    tracing::info!(audit.id = %audit_id, user.name = %user, secret.namespace = %ns, secret.name = %name, "deleted");
    Ok(Audited::new(
        receipt,
        Deletion {
            name: name.to_string(),
        },
    ))
}
