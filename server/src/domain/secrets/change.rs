//! Changing a secret (add, replace or remove keys; labels; annotations) and
//! deleting it. Updates are based on the resourceVersion the user saw: a
//! concurrent change is a conflict, never a silent overwrite.

use k8s_openapi::ByteString;
use strongroom_app::{
    api::{
        SecretDetail, UpdateSecretRequest,
        history::{ChangePreview, KeyDiff, KeyDiffKind},
    },
    secrets::rules,
};

use super::{
    SecretsError, begin_change,
    build::check_metadata,
    check_path, decode_b64, get_or_record, record_change,
    reveal::RevealPolicy,
    settle,
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

/// A change request that passed its checks: the keys it sets or removes
/// (sorted, once each) and the decoded values it sets, in `req.set` order.
struct Checked {
    changed_keys: Vec<String>,
    set_values: Vec<Vec<u8>>,
}

/// Checks `req` before Kubernetes is asked: names, keys, values, metadata.
fn check(ns: &str, name: &str, req: &UpdateSecretRequest) -> Result<Checked, SecretsError> {
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
    Ok(Checked {
        changed_keys,
        set_values,
    })
}

/// Applies `req` to `ns/name` as the handle's user, if the secret is still
/// at the resourceVersion the person saw.
pub async fn update(
    kube: &UserKube,
    mut scope: AuditScope,
    ns: &str,
    name: &str,
    req: &UpdateSecretRequest,
) -> Result<Audited<SecretDetail>, SecretsError> {
    let Checked {
        changed_keys,
        set_values,
    } = check(ns, name, req)?;
    let (audit_id, kube, user) = begin_change(kube, &scope).await?;
    scope.set_keys(changed_keys.clone());
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
    // The values before and after, as fingerprints: which keys really
    // changed, and whether someone changed them outside Strongroom since
    // the last record.
    let fingerprints = |data: &std::collections::BTreeMap<String, ByteString>| {
        scope.fingerprint_all(data.iter().map(|(k, v)| (k, v.0.as_slice())))
    };
    let before = fingerprints(&data);
    for k in &req.remove {
        data.remove(k);
    }
    for (e, value) in req.set.iter().zip(set_values) {
        data.insert(e.key.clone(), ByteString(value));
    }
    let entries: Vec<(String, Vec<u8>)> =
        data.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
    rules::check_data(&entries).map_err(|e| SecretsError::invalid(e.field, e.message))?;
    let after = fingerprints(&data);
    scope.set_before(before);
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
    let recorded = record_change(scope, &result, 200, after).await;
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

/// Which keys `req` would change in `ns/name` (changed, added, removed,
/// same), compared as the handle's user with the current values, which
/// never leave the server. It tells whether a value is a given one, so it
/// is held to the reveal rate (one per value compared) and recorded like a
/// reveal, with the fingerprints of the current values it compared; the
/// answer exists only once that record is committed.
///
/// In a namespace that asks for a reason before values are revealed
/// (`policy.reason_required`), a comparison is refused: it would answer
/// for a value without one. The change itself can still be made.
pub async fn preview(
    kube: &UserKube,
    mut scope: AuditScope,
    policy: RevealPolicy<'_>,
    ns: &str,
    name: &str,
    req: &UpdateSecretRequest,
) -> Result<Audited<ChangePreview>, SecretsError> {
    let Checked {
        changed_keys,
        set_values,
    } = check(ns, name, req)?;
    if policy.reason_required || policy.gate.is_some() {
        return Err(SecretsError::invalid(
            "reason",
            format!(
                "Namespace {ns} guards its values (a reason, a fresh sign-in or an approval before a reveal), so Strongroom does not compare values there; save the change without a review."
            ),
        ));
    }
    let limit = policy.limit;
    scope.set_keys(changed_keys);
    let user = kube.user().username.clone();
    if let Some(limit) = limit {
        let asked = u32::try_from(req.set.len()).unwrap_or(u32::MAX).max(1);
        if let Err(over) = limit.take(&user, asked).await {
            return Err(super::reveal::rate_limited(scope, limit, over).await);
        }
    }
    let kube = kube.with_audit_id(scope.id());
    let (secret, scope) = get_or_record(&kube, scope, ns, name).await?;
    let resource_version = secret.metadata.resource_version.clone().unwrap_or_default();
    let data = secret.data.unwrap_or_default();
    let proposed: std::collections::BTreeMap<&str, &[u8]> = req
        .set
        .iter()
        .zip(&set_values)
        .map(|(e, v)| (e.key.as_str(), v.as_slice()))
        .collect();
    let mut keys: Vec<KeyDiff> = Vec::new();
    let mut compared = Vec::new();
    let all: std::collections::BTreeSet<&str> = data
        .keys()
        .map(String::as_str)
        .chain(proposed.keys().copied())
        .collect();
    for key in all {
        let current = data.get(key).map(|v| v.0.as_slice());
        let change = match (current, proposed.get(key)) {
            (Some(_), _) if req.remove.iter().any(|r| r == key) && !proposed.contains_key(key) => {
                KeyDiffKind::Removed
            }
            (None, Some(_)) => KeyDiffKind::Added,
            (Some(now), Some(new)) => {
                compared.push(scope.fingerprint(key, now));
                if now == *new {
                    KeyDiffKind::Same
                } else {
                    KeyDiffKind::Changed
                }
            }
            (Some(_), None) => KeyDiffKind::Same,
            (None, None) => continue,
        };
        keys.push(KeyDiff {
            key: key.to_string(),
            change,
        });
    }
    let receipt = scope
        .record(Outcome::Allowed, Some(200), compared)
        .await
        .map_err(SecretsError::AuditUnavailable)?;
    let audit_id = receipt.id().to_string();
    Ok(Audited::new(
        receipt,
        ChangePreview {
            keys,
            resource_version,
            audit_id,
        },
    ))
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
    let (audit_id, kube, user) = begin_change(kube, &scope).await?;
    let result = kube.secrets(ns).delete(name, resource_version).await;
    let recorded = record_change(scope, &result, 200, vec![]).await;
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
