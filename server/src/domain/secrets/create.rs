//! Creating a secret from one of the forms. The data is built with the same
//! rules kubectl uses ([`super::build`]), written as `data` (never
//! `stringData`), and the creation is audited.

use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::api::ObjectMeta;
use strongroom_app::{
    api::{CreateSecretRequest, SecretDetail},
    secrets::rules,
};

use super::{
    SecretsError, begin_change,
    build::{build, check_metadata},
    check_path, record_change, settle,
    view::describe,
};
use crate::{
    domain::{
        KubeFailure,
        audit::{AuditScope, Audited},
    },
    infra::cluster::UserKube,
};

/// Creates the secret `req` describes in `ns`, as the handle's user.
/// Refused before anything is sent when the record could not be written.
pub async fn create(
    kube: &UserKube,
    mut scope: AuditScope,
    ns: &str,
    req: &CreateSecretRequest,
) -> Result<Audited<SecretDetail>, SecretsError> {
    check_path(ns, None)?;
    rules::check_name(&req.name).map_err(|m| SecretsError::invalid("name", m))?;
    check_metadata(&req.labels, &req.annotations)?;
    let (type_, data) = build(&req.input)?;
    scope.set_keys(data.keys().cloned().collect());
    // The created values' fingerprints: the start of each key's history.
    let created = scope.fingerprint_all(data.iter().map(|(k, v)| (k, v.as_slice())));
    // Refuse before changing anything if the change could not be audited.
    let (audit_id, kube, user) = begin_change(kube, &scope).await?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(req.name.clone()),
            namespace: Some(ns.to_string()),
            labels: (!req.labels.is_empty()).then(|| req.labels.clone()),
            annotations: (!req.annotations.is_empty()).then(|| req.annotations.clone()),
            ..Default::default()
        },
        type_: Some(type_),
        data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v))).collect()),
        immutable: req.immutable.then_some(true),
        ..Default::default()
    };
    let result = kube.secrets(ns).create(&secret).await;
    let recorded = record_change(scope, &result, 201, created).await;
    let result = result.map_err(|e| {
        KubeFailure::new(e, &user, "create", format!("secret {}", req.name), Some(ns))
    });
    let (receipt, created) = settle(
        recorded,
        result,
        || format!("secret {} was created", req.name),
        &audit_id,
    )?;
    tracing::info!(audit.id = %audit_id, user.name = %user, secret.namespace = %ns, secret.name = %req.name, "created");
    Ok(Audited::new(receipt, describe(ns, created)))
}
